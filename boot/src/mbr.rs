//! Trims the BIOS disk images the `bootloader` crate writes.
//!
//! Its FAT partition is sized "needed, rounded up to a MiB, plus a spare MiB", so even a
//! 90 KB kernel gets a 2 MiB partition that is mostly zeros. [`shrink_fat12_tail`] cuts the
//! partition after the last cluster in use and rewrites the two places that record its
//! size (the MBR entry and the FAT boot sector), so the file system stays consistent. It
//! leaves the image alone unless the cut-off part is all zeros and the file system is
//! FAT12 (which it stays: fewer clusters never change the FAT type).
//!
//! [`LOADER_READ_SLACK`] bytes stay after the last cluster: the BIOS stage 2 reads files
//! through a 16 KiB buffer and so reads up to that far past a file's end (measured: cut
//! closer and the boot hangs).

const SECTOR: usize = 512;
/// Bytes kept after the last cluster in use (twice the stage-2 read buffer).
pub const LOADER_READ_SLACK: u64 = 32 * 1024;
const FAT12_MAX_CLUSTERS: u64 = 4084;
const FAT_TYPES: [u8; 6] = [0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e];

fn u16_at(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn u32_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
}

/// Shrinks the image in place; returns the bytes saved (0 when it leaves it alone).
pub fn shrink_fat12_tail(image: &mut Vec<u8>) -> Result<u64, String> {
    if image.len() < SECTOR || image[510..512] != [0x55, 0xaa] {
        return Err("not an MBR disk image".into());
    }
    // The FAT partition that ends at the end of the file.
    let entry_at = (0..4)
        .map(|i| 446 + 16 * i)
        .find(|&at| {
            let end = (u32_at(image, at + 8) + u32_at(image, at + 12)) as usize * SECTOR;
            FAT_TYPES.contains(&image[at + 4]) && end == image.len()
        })
        .ok_or("no FAT partition at the end of the image")?;
    let start = u32_at(image, entry_at + 8) as usize * SECTOR;
    let bpb = image
        .get(start..start + SECTOR)
        .ok_or("partition outside the image")?;
    let (bytes_per_sector, per_cluster) = (u16_at(bpb, 11), u64::from(bpb[13]));
    let (reserved, fats, root_entries) = (u16_at(bpb, 14), u64::from(bpb[16]), u16_at(bpb, 17));
    let (total16, fat_sectors, total32) = (u16_at(bpb, 19), u16_at(bpb, 22), u32_at(bpb, 32));
    if bytes_per_sector != SECTOR as u64 || per_cluster == 0 || fat_sectors == 0 {
        return Ok(0);
    }
    let total = if total16 != 0 { total16 } else { total32 };
    let root_sectors = (root_entries * 32).div_ceil(SECTOR as u64);
    let first_data = reserved + fats * fat_sectors + root_sectors;
    let clusters = total.saturating_sub(first_data) / per_cluster;
    if clusters > FAT12_MAX_CLUSTERS || clusters == 0 {
        return Ok(0);
    }
    // Highest cluster with a non-zero FAT12 entry (entries 0 and 1 are reserved).
    let fat_start = start + reserved as usize * SECTOR;
    let Some(fat) = image.get(fat_start..fat_start + fat_sectors as usize * SECTOR) else {
        return Ok(0);
    };
    let entry = |n: u64| {
        let at = (n + n / 2) as usize;
        let pair = u16::from_le_bytes([fat[at], fat[at + 1]]);
        if n % 2 == 1 { pair >> 4 } else { pair & 0xfff }
    };
    let last_used = (2..clusters + 2)
        .rev()
        .find(|&n| entry(n) != 0)
        .unwrap_or(2);
    let slack = LOADER_READ_SLACK.div_ceil(SECTOR as u64 * per_cluster) * per_cluster;
    let new_total = first_data + (last_used - 1) * per_cluster + slack;
    if new_total >= total {
        return Ok(0);
    }
    let cut = start + new_total as usize * SECTOR;
    if image[cut..].iter().any(|&b| b != 0) {
        return Ok(0); // data past the last cluster in use: not ours to judge, leave it
    }
    if total16 != 0 {
        image[start + 19..start + 21].copy_from_slice(&(new_total as u16).to_le_bytes());
    } else {
        image[start + 32..start + 36].copy_from_slice(&(new_total as u32).to_le_bytes());
    }
    image[entry_at + 12..entry_at + 16].copy_from_slice(&(new_total as u32).to_le_bytes());
    let saved = (image.len() - cut) as u64;
    image.truncate(cut);
    Ok(saved)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MBR image with one FAT12 partition of `total` sectors at LBA 1: 1 reserved sector,
    /// 2 FATs of 1 sector, 16 root entries (1 sector), 1 sector per cluster; clusters
    /// 2..=`last` in use, each holding its number.
    fn image(total: u16, last: u64) -> Vec<u8> {
        let mut img = vec![0u8; (1 + total as usize) * SECTOR];
        img[510] = 0x55;
        img[511] = 0xaa;
        img[446 + 4] = 0x0c;
        img[446 + 8..446 + 12].copy_from_slice(&1u32.to_le_bytes());
        img[446 + 12..446 + 16].copy_from_slice(&u32::from(total).to_le_bytes());
        let bpb = SECTOR;
        img[bpb + 11..bpb + 13].copy_from_slice(&512u16.to_le_bytes());
        img[bpb + 13] = 1;
        img[bpb + 14..bpb + 16].copy_from_slice(&1u16.to_le_bytes());
        img[bpb + 16] = 2;
        img[bpb + 17..bpb + 19].copy_from_slice(&16u16.to_le_bytes());
        img[bpb + 19..bpb + 21].copy_from_slice(&total.to_le_bytes());
        img[bpb + 22..bpb + 24].copy_from_slice(&1u16.to_le_bytes());
        let fat = 2 * SECTOR;
        for n in 2..=last {
            let value: u16 = if n == last { 0xfff } else { n as u16 + 1 };
            let at = fat + (n + n / 2) as usize;
            let pair = u16::from_le_bytes([img[at], img[at + 1]]);
            let pair = if n % 2 == 1 {
                (pair & 0x000f) | (value << 4)
            } else {
                (pair & 0xf000) | value
            };
            img[at..at + 2].copy_from_slice(&pair.to_le_bytes());
            let data = (1 + 4 + (n as usize - 2)) * SECTOR;
            img[data] = n as u8;
        }
        img
    }

    #[test]
    fn trims_to_the_last_cluster_in_use() {
        let mut img = image(200, 7);
        let saved = shrink_fat12_tail(&mut img).unwrap();
        // 4 system sectors + clusters 2..=7 (6 sectors) + the slack, after the MBR sector.
        let slack = LOADER_READ_SLACK as usize / SECTOR;
        assert_eq!(img.len(), (1 + 4 + 6 + slack) * SECTOR);
        assert_eq!(saved as usize, (200 - 10 - slack) * SECTOR);
        assert_eq!(u16_at(&img, SECTOR + 19) as usize, 10 + slack);
        assert_eq!(u32_at(&img, 446 + 12) as usize, 10 + slack);
        assert_eq!(img[(1 + 4 + 5) * SECTOR], 7);
        assert_eq!(
            shrink_fat12_tail(&mut img).unwrap(),
            0,
            "a second pass changes nothing"
        );
    }

    #[test]
    fn small_partitions_stay() {
        let mut img = image(70, 7);
        let len = img.len();
        assert_eq!(shrink_fat12_tail(&mut img).unwrap(), 0);
        assert_eq!(img.len(), len);
    }

    #[test]
    fn refuses_to_cut_data() {
        let mut img = image(200, 7);
        let len = img.len();
        img[len - 1] = 1;
        assert_eq!(shrink_fat12_tail(&mut img).unwrap(), 0);
        assert_eq!(img.len(), len);
    }

    #[test]
    fn leaves_other_images_alone() {
        assert!(shrink_fat12_tail(&mut vec![0u8; 4096]).is_err());
        let mut img = image(200, 7);
        img[SECTOR + 12] = 1; // 256-byte sectors: not ours to touch
        let len = img.len();
        assert_eq!(shrink_fat12_tail(&mut img).unwrap(), 0);
        assert_eq!(img.len(), len);
    }
}
