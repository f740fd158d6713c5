//! The read-only file tree (`libos::fs`) through `apps/cat`: an ext4 image built from a
//! folder the test makes, attached as `vda`. Also the host tests of the byte-range to
//! block translation the guest reads the disk with.

extern crate alloc;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tests::{Run, assert_console, assert_status, in_every_format};

/// The translation of `ext4-view`'s byte ranges into whole-block disk reads, run on the
/// host with its own unit tests.
#[path = "../../libos/src/fs/unaligned.rs"]
mod unaligned;

/// Size of the big file: over 1 MiB and not a multiple of any block size.
const BIG_LEN: usize = (1 << 20) + 300_001;

/// The test tree: nested folders, UTF-8 text, a symlink and a big pseudo-random file.
fn tree() -> &'static Path {
    static TREE: OnceLock<PathBuf> = OnceLock::new();
    TREE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fs-tree");
        let _ = fs::remove_dir_all(&dir);
        let write = |path: &str, data: &[u8]| {
            let path = dir.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, data).unwrap();
        };
        write("index.html", b"hi\n");
        write("a/b/c/deep.txt", b"deep in the tree\n");
        write("a/b/sibling.txt", b"a sibling of c\n");
        write(
            "docs/utf8.txt",
            "h\u{e9}llo w\u{f6}rld \u{2014} \u{2713}\n".as_bytes(),
        );
        fs::create_dir_all(dir.join("empty")).unwrap();
        std::os::unix::fs::symlink("a/b/c/deep.txt", dir.join("shortcut")).unwrap();
        write("data/big.bin", &pseudo_random(BIG_LEN, 0x5eed));
        dir
    })
}

/// `len` bytes from xorshift64 (the same bytes every run, so the image cache holds).
fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The ext4 image of [`tree`], built (or found in the cache) once per test binary.
fn image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        boot::diskfrom::ext4_image_from_dir(tree()).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// A copy of the image with `damage` applied to its bytes.
fn damaged_image(name: &str, damage: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = fs::read(image()).unwrap();
    damage(&mut bytes);
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fs-{name}.img"));
    fs::write(&path, bytes).unwrap();
    path
}

/// `cat` with `disks` attached read-only (`vda` first).
fn cat(disks: &[&Path], args: &[&str]) -> Run {
    disks
        .iter()
        .fold(Run::new("cat").args(args), |run, disk| run.disk_ro(disk))
}

/// Asserts a failure is reported, not a panic (101) or a hang (124).
#[track_caller]
fn assert_clean_failure(out: &boot::qemu::Outcome, line: &str) {
    assert_status(out, 1);
    assert_console(out, line);
    assert!(!out.console.contains("panic"), "{}", out.console);
}

#[test]
fn nested_folders_read_back() {
    in_every_format(|format| {
        let out = Run::with_format("cat", format)
            .args(&[
                "/index.html",
                "/a/b/c/deep.txt",
                "a/b/sibling.txt",
                "/docs/utf8.txt",
                "/shortcut",
            ])
            .disk_ro(image())
            .go();
        assert_status(&out, 0);
        assert_console(
            &out,
            "hi\ndeep in the tree\na sibling of c\nh\u{e9}llo w\u{f6}rld \u{2014} \u{2713}\ndeep in the tree\n",
        );
    });
}

#[test]
fn ls_lists_a_folder_sorted() {
    let out = cat(&[image()], &["--ls", "/a/b", "/", "/empty"]).go();
    assert_status(&out, 0);
    // Sizes right-aligned in 10 columns; a folder is one 4 KiB block, a symlink its target.
    let line = |len: u64, name: &str| format!("{len:>10} {name}\n");
    assert_console(&out, &(line(4096, "c/") + &line(15, "sibling.txt")));
    assert_console(&out, &line(3, "index.html"));
    assert_console(&out, &line(14, "shortcut@"));
}

#[test]
fn big_file_hash_matches_the_host() {
    let path = tree().join("data/big.bin");
    assert!(fs::metadata(&path).unwrap().len() > 1 << 20);
    let host = Command::new("sha256sum").arg(&path).output().unwrap();
    assert!(host.status.success(), "sha256sum failed");
    let host = String::from_utf8(host.stdout).unwrap();
    let hash = host.split_whitespace().next().unwrap();
    let out = cat(&[image()], &["--sha256", "/data/big.bin", "/index.html"]).go();
    assert_status(&out, 0);
    assert_console(&out, &format!("{hash}  /data/big.bin\n"));
    // sha256("hi\n")
    assert_console(
        &out,
        "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4  /index.html\n",
    );
}

#[test]
fn missing_path_is_not_found_and_others_still_print() {
    let out = cat(
        &[image()],
        &["/nope.txt", "/index.html", "/a/nothing/here", "/a"],
    )
    .go();
    assert_clean_failure(
        &out,
        "cat: /nope.txt: no such file or directory (entity not found)\n",
    );
    assert_console(&out, "\nhi\n");
    assert_console(
        &out,
        "cat: /a/nothing/here: no such file or directory (entity not found)\n",
    );
    assert_console(&out, "cat: /a: is a directory\n");
}

#[test]
fn corrupted_superblock_is_an_error_not_a_panic() {
    let img = damaged_image("bad-superblock", |bytes| {
        bytes[1024..2048].copy_from_slice(&pseudo_random(1024, 7));
    });
    let out = cat(&[&img], &["/index.html"]).go();
    assert_clean_failure(
        &out,
        "cat: /index.html: cannot mount vda: corrupt filesystem: ",
    );
    assert_console(&out, "(invalid data)\n");
}

#[test]
fn corrupted_inode_table_is_an_error_not_a_panic() {
    let img = damaged_image("bad-inodes", |bytes| {
        let (start, len) = first_inode_table_block(bytes);
        bytes[start..start + len].copy_from_slice(&pseudo_random(len, 11));
    });
    let out = cat(&[&img], &["/index.html"]).go();
    assert_clean_failure(&out, "cat: /index.html: vda: corrupt filesystem");
    assert_console(&out, "(invalid data)\n");
}

/// Byte offset and length of the first block of group 0's inode table (it holds the root
/// directory's inode), read from the superblock and the first group descriptor.
fn first_inode_table_block(image: &[u8]) -> (usize, usize) {
    let u32_at = |at: usize| u32::from_le_bytes(image[at..at + 4].try_into().unwrap()) as usize;
    let superblock = 1024;
    let block_size = 1024 << u32_at(superblock + 24);
    let first_data_block = u32_at(superblock + 20);
    let descriptors = (first_data_block + 1) * block_size;
    let inode_table = u32_at(descriptors + 8);
    (inode_table * block_size, block_size)
}

#[test]
fn no_disk_is_a_clear_error() {
    let out = cat(&[], &["/index.html"]).go();
    assert_clean_failure(
        &out,
        "cat: /index.html: no disk to mount (attach one with --disk-from DIR) (entity not found)\n",
    );
}

#[test]
fn root_option_picks_the_disk() {
    let other_tree = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fs-other-tree");
    let _ = fs::remove_dir_all(&other_tree);
    fs::create_dir_all(&other_tree).unwrap();
    fs::write(other_tree.join("which.txt"), "the second disk\n").unwrap();
    let other = boot::diskfrom::ext4_image_from_dir(&other_tree).unwrap();

    let out = cat(&[image(), &other], &["/which.txt"])
        .options("root=vdb")
        .go();
    assert_status(&out, 0);
    assert_console(&out, "the second disk\n");

    let out = cat(&[image(), &other], &["/index.html"]).go();
    assert_status(&out, 0);
    assert_console(&out, "hi\n");

    let out = cat(&[image()], &["/index.html"]).options("root=vdc").go();
    assert_clean_failure(&out, "cat: /index.html: no disk 'vdc' (disks: vda)");

    let out = cat(&[image()], &["/index.html"]).options("root=sda").go();
    assert_status(&out, 2);
    assert_console(
        &out,
        "error: kernel command line: root=sda: invalid value 'sda' (expected a disk name like vda or vdb)",
    );
}

#[test]
fn file_seeks_and_reads_at_the_new_position() {
    let bytes = fs::read(tree().join("data/big.bin")).unwrap();
    let offset = 1_000_003usize;
    let hex = |at: usize| -> String {
        bytes[at..at + 16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let out = Run::new("testkernel")
        .disk_ro(image())
        .args(&["fs-seek", "/data/big.bin", &offset.to_string()])
        .go();
    assert_status(&out, 0);
    assert_console(&out, &format!("at {offset}: {}", hex(offset)));
    // After reading 16 bytes at `offset`, Current(-8) lands at offset + 8.
    assert_console(&out, &format!("at {}: {}", offset + 8, hex(offset + 8)));
    let end = bytes.len() - 16;
    assert_console(&out, &format!("at {end}: {}", hex(end)));
    assert_console(&out, "seek past start: Err(InvalidInput)");
}
