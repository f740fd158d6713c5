//! `storectl`: work in progress.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

libos::main!(main);

fn main() -> Result<(), &'static str> {
    Err("storectl: not built yet")
}
