//! Guest image for the integration tests: `testkernel SCENARIO` runs one behaviour,
//! mostly a failure path, so that one image serves every test.
//!
//! Unlike an app, this crate uses `unsafe` (to fault on purpose).

#![no_std]
#![no_main]

use alloc::sync::Arc;
use core::hint::black_box;
use core::time::Duration;
use libos::prelude::*;
use libos::{env, println, process, sync, thread, time};
use spin::Mutex;

extern crate alloc;

mod devices;
mod pci;
mod pvm;

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
        "heap" => return heap_gives_memory_back(),
        "costs" => measure_costs(),
        "threads" => {
            let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    thread::Builder::new()
                        .name(format!("t{i}"))
                        .stack_size(16 * 1024)
                        .spawn(move || i * 2)
                        .map_err(|e| format!("spawn {i}: {e}"))
                })
                .collect::<Result<_, _>>()?;
            let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
            println!("joined {n} threads, sum {sum}");
        }
        "pingpong" => {
            let rounds: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
            let log = Arc::new(Mutex::new(Vec::new()));
            let spawn_player = |who: char| {
                let log = log.clone();
                thread::spawn(move || {
                    for _ in 0..rounds {
                        log.lock().push(who);
                        thread::yield_now();
                    }
                })
            };
            let (a, b) = (spawn_player('a'), spawn_player('b'));
            a.join().unwrap();
            b.join().unwrap();
            let log = log.lock();
            let alternating = log.chunks(2).all(|pair| pair == ['a', 'b']);
            println!("pingpong {} moves, alternating {alternating}", log.len());
        }
        "sleep-order" => {
            let woke = Arc::new(Mutex::new(Vec::new()));
            // Deadlines from one start, far enough ahead that spawning the threads (slow
            // where KVM emulates this kernel) cannot reorder them.
            let start = time::Instant::now() + Duration::from_millis(200);
            let handles: Vec<_> = [50u64, 10, 40, 20, 30]
                .into_iter()
                .map(|ms| {
                    let woke = woke.clone();
                    thread::spawn(move || {
                        time::sleep_until(start + Duration::from_millis(ms));
                        woke.lock().push(ms);
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
            println!("woke in order {:?}", woke.lock());
        }
        "deadlock" => {
            let waiter = thread::Builder::new()
                .name(String::from("waiter"))
                .spawn(thread::park)
                .map_err(|e| e.to_string())?;
            waiter.join().unwrap();
        }
        "thread-overflow" => {
            let deep = thread::Builder::new()
                .name(String::from("deep"))
                .spawn(|| recurse(0))
                .map_err(|e| e.to_string())?;
            println!("result {}", deep.join().unwrap());
        }
        "thread-panic" => {
            let worker = thread::Builder::new()
                .name(String::from("worker"))
                .spawn(|| {
                    if black_box(true) {
                        panic!("worker gave up");
                    }
                    0u32
                })
                .map_err(|e| e.to_string())?;
            worker.join().unwrap();
        }
        "mutex-counter" => {
            let counter = Arc::new(sync::Mutex::new(0u64));
            let handles: Vec<_> = (0..10)
                .map(|_| {
                    let counter = counter.clone();
                    thread::spawn(move || {
                        for _ in 0..100 {
                            let mut value = counter.lock().unwrap();
                            let seen = *value;
                            thread::yield_now(); // others run while the lock is held
                            *value = seen + 1;
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.join().unwrap();
            }
            println!("counter {}", *counter.lock().unwrap());
        }
        "channel-pingpong" => {
            let rounds: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
            let (to_pong, from_ping) = sync::mpsc::channel::<u64>();
            let (to_ping, from_pong) = sync::mpsc::sync_channel::<u64>(1);
            let pong = thread::spawn(move || {
                for value in from_ping.iter() {
                    to_ping.send(value + 1).unwrap();
                }
            });
            let mut value = 0;
            for _ in 0..rounds {
                to_pong.send(value).unwrap();
                value = from_pong.recv().unwrap();
            }
            drop(to_pong);
            pong.join().unwrap();
            println!("channel pingpong {rounds} rounds, value {value}");
        }
        "condvar" => {
            let state = Arc::new((sync::Mutex::new(Vec::new()), sync::Condvar::new()));
            let consumer = {
                let state = state.clone();
                thread::spawn(move || {
                    let (items, ready) = &*state;
                    let items = ready
                        .wait_while(items.lock().unwrap(), |v| v.len() < 5)
                        .unwrap();
                    items.iter().sum::<u32>()
                })
            };
            for i in 1..=5 {
                thread::sleep(Duration::from_millis(2));
                state.0.lock().unwrap().push(i);
                state.1.notify_one();
            }
            println!("condvar sum {}", consumer.join().unwrap());
        }
        "threads-sequential" => {
            // Default 64 KiB stacks, one at a time: 1000 of them only fit in a 64 MiB guest
            // if every joined thread's stack is freed.
            let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
            let mut sum = 0;
            for i in 0..n {
                sum += thread::spawn(move || i).join().unwrap();
            }
            println!("sequential {n} threads, sum {sum}");
        }
        "detached" => {
            let done = Arc::new(sync::Semaphore::new(0));
            for _ in 0..100 {
                let done = done.clone();
                drop(thread::spawn(move || done.release())); // detached
            }
            for _ in 0..100 {
                done.acquire();
            }
            println!(
                "detached threads all ran; try_acquire now {}",
                done.try_acquire()
            );
        }
        "channels" => {
            bounded_channel_blocks_its_sender();
            // Sending to a dropped receiver fails and returns the value.
            let (tx, rx) = sync::mpsc::channel::<&str>();
            drop(rx);
            println!(
                "send after receiver drop: {:?}",
                tx.send("lost").map_err(|e| e.0)
            );
            // A receiver sees the end when every sender is gone.
            let (tx, rx) = sync::mpsc::channel::<u8>();
            let tx2 = tx.clone();
            thread::spawn(move || tx2.send(7).unwrap()).join().unwrap();
            drop(tx);
            println!(
                "recv after senders dropped: {:?}, then {:?}",
                rx.recv(),
                rx.recv()
            );
        }
        "pvm-probe" => return pvm::main(&args[2..]),
        "pci" => pci::main(&args),
        "wake-race" | "blk-idle" | "blk-deadlock" | "blk-order" | "blk-errors" | "blk-async"
        | "display-prints" | "fs-seek" => return devices::main(&args),
        "spawn-oom" => {
            let result = thread::Builder::new().stack_size(1 << 30).spawn(|| 0u8);
            return Err(format!("spawn with a 1 GiB stack: {}", result.unwrap_err()));
        }
        "busy" => {
            let ms: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(300);
            let spinner = thread::Builder::new()
                .name(String::from("spinner"))
                .spawn(move || {
                    let start = time::Instant::now();
                    let mut spins = 0u64;
                    while start.elapsed() < Duration::from_millis(ms) {
                        spins = black_box(spins + 1);
                    }
                    spins
                })
                .map_err(|e| e.to_string())?;
            black_box(spinner.join().unwrap());
            thread::sleep(Duration::from_millis(20));
            println!("busy done");
        }
        "sched-bench" => sched_bench(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10_000)),
        "write-text" => {
            let target = main as *const () as *mut u8;
            // SAFETY: deliberately unsound: code is mapped read-only and must fault.
            unsafe { target.write_volatile(0xcc) };
        }
        "write-rodata" => {
            static MESSAGE: &str = "read-only data";
            // SAFETY: deliberately unsound: rodata is mapped read-only and must fault.
            unsafe { (MESSAGE.as_ptr() as *mut u8).write_volatile(b'X') };
        }
        "exec-heap" => {
            let code: Vec<u8> = vec![0xc3]; // ret
            // SAFETY: deliberately unsound: the heap is mapped no-execute and must fault.
            let f: extern "C" fn() = unsafe { core::mem::transmute(code.as_ptr()) };
            f();
        }
        "exec-stack" => {
            let code = [0xc3u8; 16];
            // SAFETY: deliberately unsound: the stack is mapped no-execute and must fault.
            let f: extern "C" fn() = unsafe { core::mem::transmute(black_box(&code).as_ptr()) };
            f();
        }
        "registers" => fault_with_known_registers(),
        "ticks" => {
            // One line every `period` ms of guest time, on absolute deadlines (no drift).
            let count: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(20);
            let period =
                Duration::from_millis(args.get(3).and_then(|s| s.parse().ok()).unwrap_or(100));
            let start = time::Instant::now();
            for i in 0..=count {
                time::sleep_until(start + period * i as u32);
                println!("tick {i} {}", start.elapsed().as_micros());
            }
        }
        other => return Err(format!("unknown scenario {other:?}")),
    }
    Ok(())
}

/// Allocates and frees four times the heap's size in all (a `dealloc` that keeps memory
/// runs out), then checks that usage is back where it started.
fn heap_gives_memory_back() -> Result<(), String> {
    let before = kernel::mm::heap_stats();
    let block = before.size / 8;
    if block == 0 {
        return Err(String::from("no heap statistics"));
    }
    let rounds = 33;
    for round in 0..rounds {
        let memory = vec![round as u8 | 1; block];
        black_box(&memory);
    }
    // Many small allocations and frees.
    for round in 0..64 {
        let blocks: Vec<Vec<u8>> = (0..256).map(|i| vec![round as u8; 64 + i]).collect();
        black_box(&blocks);
    }
    let big: Vec<u64> = (0..1_000_000).collect();
    let sum = big.iter().sum::<u64>();
    drop(big);
    let after = kernel::mm::heap_stats();
    if after.used != before.used {
        return Err(format!(
            "heap: {} bytes used before, {} after everything was freed",
            before.used, after.used
        ));
    }
    println!(
        "heap ok, sum {sum}; {} MiB allocated and freed in a {} MiB heap, {} bytes in use before and after",
        (rounds * block) >> 20,
        before.size >> 20,
        after.used
    );
    Ok(())
}

/// A `sync_channel(2)` blocks its sender while it holds 2 values. Seen from the receiver:
/// how many sends completed before it took anything (2, not all 10), and after it took one.
fn bounded_channel_blocks_its_sender() {
    use core::sync::atomic::{AtomicU32, Ordering};
    let (tx, rx) = sync::mpsc::sync_channel::<u32>(2);
    let sent = Arc::new(AtomicU32::new(0));
    let producer = {
        let sent = sent.clone();
        thread::spawn(move || {
            for i in 0..10 {
                tx.send(i).unwrap();
                sent.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    // Let the producer run until it blocks (more yields than it needs: it never yields).
    let settle = || (0..10).for_each(|_| thread::yield_now());
    settle();
    let before = sent.load(Ordering::Relaxed);
    let first = rx.try_recv();
    settle();
    let after_one = sent.load(Ordering::Relaxed);
    let rest: Vec<u32> = rx.iter().collect();
    producer.join().unwrap();
    println!(
        "bounded(2): {before} sends done before the receiver took any, {after_one} after it took \
         one; received {first:?} then {rest:?}"
    );
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

/// Prints what basic operations cost on this accelerator, in ns: the numbers that explain
/// boot time (each privileged instruction or first touch of a page can be an exit).
fn measure_costs() {
    fn per_op(n: u64, f: impl FnOnce()) -> u64 {
        let start = time::Instant::now();
        f();
        start.elapsed().as_nanos() as u64 / n
    }
    let loop_ns = per_op(1_000_000, || {
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        black_box(x);
    });
    let cpuid_ns = per_op(100, || {
        for leaf in 0..100u32 {
            black_box(core::arch::x86_64::__cpuid(black_box(leaf % 2)));
        }
    });
    let pages = 64;
    let mut memory: Vec<u8> = Vec::with_capacity(pages * 4096);
    let touch_ns = per_op(pages as u64, || {
        // SAFETY: writes stay within the capacity; u8 has no invalid values.
        unsafe {
            for page in 0..pages {
                memory.as_mut_ptr().add(page * 4096).write_volatile(1);
            }
        }
    });
    let retouch_ns = per_op(pages as u64, || {
        // SAFETY: as above.
        unsafe {
            for page in 0..pages {
                memory.as_mut_ptr().add(page * 4096).write_volatile(2);
            }
        }
    });
    println!("cost loop-iteration {loop_ns} ns");
    println!("cost cpuid {cpuid_ns} ns");
    println!("cost first-touch-page {touch_ns} ns");
    println!("cost touched-page {retouch_ns} ns");
}

/// Loads a distinct value into every general register, then executes `ud2`: the fault
/// report must show each value next to the right register name.
#[inline(never)]
fn fault_with_known_registers() -> ! {
    // SAFETY: never returns (ud2 ends the run), so clobbering every register is harmless.
    unsafe {
        core::arch::asm!(
            "mov rax, 0x0a0a0a0a0a0a0a0a",
            "mov rbx, 0x0b0b0b0b0b0b0b0b",
            "mov rcx, 0x0c0c0c0c0c0c0c0c",
            "mov rdx, 0x0d0d0d0d0d0d0d0d",
            "mov rsi, 0x5151515151515151",
            "mov rdi, 0xd1d1d1d1d1d1d1d1",
            "mov rbp, 0xbbbbbbbbbbbbbbbb",
            "mov r8, 0x0808080808080808",
            "mov r9, 0x0909090909090909",
            "mov r10, 0x1010101010101010",
            "mov r11, 0x1111111111111111",
            "mov r12, 0x1212121212121212",
            "mov r13, 0x1313131313131313",
            "mov r14, 0x1414141414141414",
            "mov r15, 0x1515151515151515",
            "ud2",
            options(noreturn)
        )
    }
}

/// Scheduler costs, in ns per operation (median of 5 batches): yield round trip between
/// two threads, spawn+join of a thread with a 16 KiB stack.
fn sched_bench(n: u32) {
    fn median(mut v: Vec<u64>) -> u64 {
        v.sort_unstable();
        v[v.len() / 2]
    }
    let mut yields = Vec::new();
    let mut spawns = Vec::new();
    for _ in 0..5 {
        let start = time::Instant::now();
        let other = thread::spawn(move || {
            for _ in 0..n {
                thread::yield_now();
            }
        });
        for _ in 0..n {
            thread::yield_now();
        }
        other.join().unwrap();
        // Each round trip is two switches: here -> other -> here.
        yields.push(start.elapsed().as_nanos() as u64 / u64::from(n));

        let start = time::Instant::now();
        for _ in 0..n / 10 {
            let h = thread::Builder::new()
                .stack_size(16 * 1024)
                .spawn(|| 1u32)
                .unwrap();
            black_box(h.join().unwrap());
        }
        spawns.push(start.elapsed().as_nanos() as u64 / u64::from(n / 10));
    }
    let mut pingpongs = Vec::new();
    let mut locks = Vec::new();
    for _ in 0..5 {
        let (to_pong, from_ping) = sync::mpsc::channel::<u32>();
        let (to_ping, from_pong) = sync::mpsc::channel::<u32>();
        let pong = thread::spawn(move || {
            for value in from_ping.iter() {
                to_ping.send(value).unwrap();
            }
        });
        let start = time::Instant::now();
        for i in 0..n {
            to_pong.send(i).unwrap();
            black_box(from_pong.recv().unwrap());
        }
        pingpongs.push(start.elapsed().as_nanos() as u64 / u64::from(n));
        drop(to_pong);
        pong.join().unwrap();

        let mutex = sync::Mutex::new(0u32);
        let start = time::Instant::now();
        for _ in 0..n {
            *mutex.lock().unwrap() += 1;
        }
        black_box(*mutex.lock().unwrap());
        locks.push(start.elapsed().as_nanos() as u64 / u64::from(n));
    }
    println!("sched yield-round-trip {} ns", median(yields));
    println!("sched spawn-join {} ns", median(spawns));
    println!("sched channel-round-trip {} ns", median(pingpongs));
    println!("sched mutex-lock-unlock {} ns", median(locks));
}
