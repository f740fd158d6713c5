//! Host side of the unikernel: builds app images and runs them under QEMU.
//!
//! [`image`] turns an app crate into a bootable, stripped ELF with a symbol table;
//! [`qemu`] holds the only QEMU command line, shared by `scripts/qemu-run.sh` (through
//! `src/main.rs`), the integration tests in `tests/` and the benchmarks in [`bench`].

pub mod bench;
pub mod diskfrom;
pub mod elf;
pub mod image;
pub mod linuxvm;
pub mod mbr;
pub mod nbd;
pub mod netns;
pub mod qemu;
#[cfg(test)]
mod testutil;
