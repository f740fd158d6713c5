//! Guest image for the integration tests: `testkernel SCENARIO` runs one behaviour,
//! mostly a failure path, so that one image serves every test.
//!
//! Unlike an app, this crate uses `unsafe` (to fault on purpose).

#![no_std]
#![no_main]

use core::hint::black_box;
use core::time::Duration;
use libos::prelude::*;
use libos::{env, println, process, time};

libos::main!(main);

fn main() -> Result<(), String> {
    let args: Vec<String> = env::args().collect();
    let scenario = args.get(1).map(String::as_str).unwrap_or("");
    match scenario {
        "args" => {
            for (i, arg) in args.iter().enumerate() {
                println!("arg[{i}] = {arg:?}");
            }
        }
        "exit" => {
            let status = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
            process::exit(status);
        }
        "err" => return Err(String::from("deliberate failure")),
        "panic" => panic!("deliberate panic with value {}", black_box(42)),
        "page-fault" => {
            let value = read_unmapped_memory(0x0000_4000_0000_0000);
            println!("read {value} from unmapped memory?!");
        }
        "null" => {
            let value = read_unmapped_memory(0);
            println!("read {value} from address 0?!");
        }
        "stack-overflow" => println!("result {}", recurse(0)),
        "oom" => {
            let big: Vec<u8> = vec![1u8; 256 << 20];
            println!("allocated {} bytes?!", black_box(big).len());
        }
        "sleep" => {
            let ms: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(200);
            let start = time::Instant::now();
            time::sleep(Duration::from_millis(ms));
            println!("slept {} us", start.elapsed().as_micros());
        }
        "hang" => loop {
            time::sleep(Duration::from_secs(3600));
        },
        "heap" => {
            // Many small allocations and frees: the heap must give memory back.
            for round in 0..64 {
                let blocks: Vec<Vec<u8>> = (0..256).map(|i| vec![round as u8; 64 + i]).collect();
                black_box(&blocks);
            }
            let big: Vec<u64> = (0..1_000_000).collect();
            println!("heap ok, sum {}", big.iter().sum::<u64>());
        }
        other => return Err(format!("unknown scenario {other:?}")),
    }
    Ok(())
}

#[inline(never)]
fn read_unmapped_memory(addr: usize) -> u64 {
    // SAFETY: deliberately unsound: this address is not mapped, the kernel must report
    // the page fault and end the run.
    unsafe { core::ptr::read_volatile(addr as *const u64) }
}

#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = [depth; 64];
    black_box(&frame);
    recurse(depth + 1) + frame[depth as usize % 64]
}
