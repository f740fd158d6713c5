//! The kernel half of a unikernel image: boot, memory, traps, clock and console.
//!
//! An image is one ELF: the app crate (through `libos`) links this crate, and the kernel
//! calls the app's `main` as a plain function. Everything that touches x86_64 hardware
//! lives under [`arch`]; the rest is plain Rust that also builds and is unit-tested on the
//! host (`cargo test -p kernel`): [`cmdline`], [`logfilter`], [`mm::frame`], [`mm::paging`],
//! [`symbols`] and [`bootinfo`].
//!
//! Boot flow: `arch` entry (PVH today, `bootloader_api` next) fills a [`bootinfo::BootInfo`]
//! and calls [`start::kernel_main`], which parses the command line, sets up traps, page
//! tables, the heap and the clock, then runs the app on its own guarded stack.

#![cfg_attr(not(test), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod block;
pub mod bootinfo;
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
pub(crate) mod calendar;
pub mod cmdline;
pub mod drivers;
pub mod exit_status;
pub mod logfilter;
pub mod mm;
pub mod net;
pub mod sched;
pub mod symbols;

#[cfg(target_os = "none")]
mod arch;
#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
mod klog;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
pub mod runtime;
#[cfg(target_os = "none")]
pub mod selftest;
#[cfg(target_os = "none")]
mod start;
#[cfg(target_os = "none")]
pub mod sync;
#[cfg(target_os = "none")]
pub mod time;

#[cfg(all(target_os = "none", not(target_arch = "x86_64")))]
compile_error!("the kernel supports only x86_64");
