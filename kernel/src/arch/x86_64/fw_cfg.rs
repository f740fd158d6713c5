//! QEMU's firmware configuration device (`-fw_cfg name=...`), read through its I/O ports:
//! how a disk image gets a command line at run time.

use super::cpu::{inb, outw};

const SELECTOR_PORT: u16 = 0x510;
const DATA_PORT: u16 = 0x511;
const KEY_SIGNATURE: u16 = 0x0000;
const KEY_FILE_DIR: u16 = 0x0019;

fn select(key: u16) {
    // SAFETY: the fw_cfg selector port; on a machine without fw_cfg the write goes nowhere.
    unsafe { outw(SELECTOR_PORT, key) };
}

fn read(buffer: &mut [u8]) {
    for byte in buffer {
        // SAFETY: reading the fw_cfg data port only advances its read offset.
        *byte = unsafe { inb(DATA_PORT) };
    }
}

/// Reads fw_cfg file `name` into `out`; returns the file's full size (which may exceed
/// `out.len()`), or `None` if there is no fw_cfg device or no such file.
pub(crate) fn read_file(name: &str, out: &mut [u8]) -> Option<usize> {
    select(KEY_SIGNATURE);
    let mut signature = [0; 4];
    read(&mut signature);
    if &signature != b"QEMU" {
        return None;
    }
    select(KEY_FILE_DIR);
    let mut count = [0; 4];
    read(&mut count);
    for _ in 0..u32::from_be_bytes(count) {
        // struct FWCfgFile { be32 size; be16 select; be16 reserved; char name[56]; }
        let mut entry = [0u8; 64];
        read(&mut entry);
        let size = u32::from_be_bytes([entry[0], entry[1], entry[2], entry[3]]) as usize;
        let key = u16::from_be_bytes([entry[4], entry[5]]);
        let entry_name = &entry[8..];
        let len = entry_name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(entry_name.len());
        if &entry_name[..len] == name.as_bytes() {
            select(key);
            let n = size.min(out.len());
            read(&mut out[..n]);
            return Some(size);
        }
    }
    None
}
