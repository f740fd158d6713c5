//! Scenarios for devices and the interrupt wake path.

use libos::block::Disk;
use libos::prelude::*;
use libos::sync::{Arc, Mutex};
use libos::{println, thread};

pub fn main(args: &[String]) -> Result<(), String> {
    match args.get(1).map(String::as_str).unwrap_or("") {
        // An interrupt injected between a task's decision to block and its block.
        "wake-race" => {
            let rounds = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
            let report = kernel::selftest::wake_race(rounds);
            println!(
                "wake race: {} rounds completed, {} woken inside the window",
                report.rounds, report.in_window
            );
        }
        // The only task waits for a disk read, with no timer pending: the CPU halts for
        // the device, no deadlock report.
        "blk-idle" => {
            let disk = Disk::open("vda").map_err(|e| e.to_string())?;
            let mut sector = vec![0u8; 512];
            for i in 0..20 {
                disk.read_at(&mut sector, i * 512)
                    .map_err(|e| e.to_string())?;
            }
            println!("blk-idle: 20 reads done");
        }
        // Two threads deadlock on two mutexes while a disk (and its idle driver task)
        // is attached: still a deadlock.
        "blk-deadlock" => {
            let disk = Disk::open("vda").map_err(|e| e.to_string())?;
            let mut sector = vec![0u8; 512];
            disk.read_at(&mut sector, 0).map_err(|e| e.to_string())?;
            let a = Arc::new(Mutex::new(0));
            let b = Arc::new(Mutex::new(0));
            let (a2, b2) = (a.clone(), b.clone());
            let _guard = a.lock().unwrap();
            let other = thread::Builder::new()
                .name("other".into())
                .spawn(move || {
                    let _b = b2.lock().unwrap();
                    thread::yield_now();
                    let _a = a2.lock().unwrap();
                })
                .map_err(|e| format!("{e:?}"))?;
            thread::yield_now();
            let _b = b.lock().unwrap();
            other.join().unwrap();
        }
        // Two disks: each holds a first sector the host wrote; print them in order.
        "blk-order" => {
            for d in libos::block::disks() {
                let disk = Disk::open(&d.name).map_err(|e| e.to_string())?;
                let mut sector = vec![0u8; 512];
                disk.read_at(&mut sector, 0).map_err(|e| e.to_string())?;
                let text: String = sector
                    .iter()
                    .take_while(|&&b| b != 0)
                    .map(|&b| b as char)
                    .collect();
                println!("{}: {text}", d.name);
            }
        }
        // A write to a read-only disk, an out-of-range read, a misaligned read: each a
        // distinct error to the caller.
        "blk-errors" => {
            let disk = Disk::open("vda").map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 512];
            println!("read-only: {}", disk.is_read_only());
            println!("write: {:?}", disk.write_at(&buf, 0).map_err(|e| e.kind()));
            println!("flush: {:?}", disk.flush().map_err(|e| e.kind()));
            println!(
                "past end: {:?}",
                disk.read_at(&mut buf, disk.len()).map_err(|e| e.kind())
            );
            println!(
                "misaligned: {:?}",
                disk.read_at(&mut buf[..100], 0).map_err(|e| e.kind())
            );
            match disk.read_at(&mut buf, 0) {
                Ok(()) => println!("read: ok"),
                Err(e) => println!("read: error: {e}"),
            }
            match Disk::open("vdz") {
                Ok(_) => println!("vdz opened?!"),
                Err(e) => println!("open vdz: {e}"),
            }
        }
        // Reads through the async form with several futures in flight from one task.
        "blk-async" => {
            let disk = Disk::open("vda").map_err(|e| e.to_string())?;
            let (buf, r) = libos::task::block_on(disk.write_owned(vec![7u8; 4096], 8192));
            r.map_err(|e| e.to_string())?;
            drop(buf);
            libos::task::block_on(disk.flush_async()).map_err(|e| e.to_string())?;
            let (buf, r) = libos::task::block_on(disk.read_owned(vec![0u8; 4096], 8192));
            r.map_err(|e| e.to_string())?;
            println!(
                "async: read back {} bytes, all 7: {}",
                buf.len(),
                buf.iter().all(|&b| b == 7)
            );
        }
        // Seeks in a file and reads at the new positions: 16 bytes in hex after each of
        // Start(N), Current(-8), End(-16).
        "fs-seek" => {
            use libos::fs::File;
            use libos::io::{Read, Seek, SeekFrom};
            let path = args.get(2).ok_or("fs-seek PATH OFFSET")?;
            let offset: u64 = args
                .get(3)
                .and_then(|s| s.parse().ok())
                .ok_or("fs-seek PATH OFFSET")?;
            let mut file = File::open(path.as_str()).map_err(|e| e.to_string())?;
            for pos in [
                SeekFrom::Start(offset),
                SeekFrom::Current(-8),
                SeekFrom::End(-16),
            ] {
                let at = file.seek(pos).map_err(|e| e.to_string())?;
                let mut buf = [0u8; 16];
                file.read_exact(&mut buf).map_err(|e| e.to_string())?;
                let hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
                println!("at {at}: {hex}");
            }
            println!(
                "seek past start: {:?}",
                file.seek(SeekFrom::Current(-(1 << 40)))
                    .map_err(|e| e.kind())
            );
        }
        // `Display` code that prints: the console must not be held across it.
        "display-prints" => {
            struct Loud;
            impl core::fmt::Display for Loud {
                fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    println!("inner line from Display");
                    f.write_str("outer")
                }
            }
            println!("value: {}", Loud);
        }
        other => return Err(format!("unknown device scenario {other}")),
    }
    Ok(())
}
