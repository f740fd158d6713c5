//! The default app: greets, echoes its arguments and says how long the boot took.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libos::prelude::*;
use libos::{env, println, time};

libos::main!(main);

fn main() -> Result<(), String> {
    let args: Vec<String> = env::args().skip(1).collect();
    println!("Hello from a Rust unikernel!");
    println!("args: {args:?}");
    println!("boot took {} us", time::boot_time().as_micros());
    Ok(())
}
