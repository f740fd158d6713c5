//! Benchmarks that print numbers, each beside a baseline measured in the same run.
//!
//! `boot`: image size, guest time from the PVH entry to `main`, and the median wall time
//! of a whole `hello` run next to QEMU's floor (the same command booting a kernel whose
//! first instruction exits), under KVM (where usable) and TCG.
//!
//! `clock`: the guest clock against the host's. `sched`: scheduler operations against std
//! threads. `blk` ([`blk`]): virtio-blk IOPS and MB/s beside fio in a Linux microVM and on
//! the host. `http` ([`http`]): httpd under wrk beside nginx in a Linux microVM and on the
//! host, and the least memory httpd serves in. `tcp` ([`tcp`]): TCP throughput both ways
//! beside socat in a Linux microVM (both through [`net`]). `store` ([`store`]): durable
//! puts of `libos::store` (storectl) beside fio with fdatasync on ext4 in a Linux microVM
//! and on the host, flushes counted by QEMU. `kv` ([`kv`]): apps/kv under redis-benchmark
//! beside Debian's redis-server in a Linux microVM and on the host, without persistence and
//! durable, flushes counted by QEMU.

use crate::image::{self, Format, Profile};
use crate::qemu::{self, Accel, Ending, RunConfig};
use std::time::Duration;

mod baseline;
mod blk;
mod fields;
mod http;
mod kv;
mod net;
mod session;
mod store;
mod tcp;

type Failure = String;

/// Entry from the CLI: `bench boot|clock|sched|blk|http|tcp|store|kv [--runs N] [--slow]
/// [--seconds N] [--disk-mib N] [--mib N] [--puts N] [--requests N]`. Returns the exit
/// status. (`bench tcp-client ...` is `bench tcp`'s host-side tool, which it runs inside its
/// network namespace.)
pub fn main(args: &[String]) -> Result<u8, BenchError> {
    if args.first().map(String::as_str) == Some("tcp-client") {
        return tcp::client(&args[1..]).map_err(BenchError::Failed);
    }
    let mut runs = None;
    let mut seconds = None;
    let mut disk_mib = 256u64;
    let mut mib = 256u64;
    let mut puts = 20_000u64;
    let mut requests = 100_000u64;
    let mut slow = false;
    let mut which = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => {
                runs = Some(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| BenchError::Usage("--runs needs a number >= 1".into()))?,
                );
            }
            "--seconds" | "--disk-mib" | "--mib" | "--puts" | "--requests" => {
                let value = it
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| BenchError::Usage(format!("{arg} needs a number >= 1")))?;
                match arg.as_str() {
                    "--seconds" => seconds = Some(value),
                    "--disk-mib" => disk_mib = value,
                    "--puts" => puts = value,
                    "--requests" => requests = value,
                    _ => mib = value,
                }
            }
            "boot" => which = Some("boot"),
            "blk" => which = Some("blk"),
            "http" => which = Some("http"),
            "tcp" => which = Some("tcp"),
            "store" => which = Some("store"),
            "kv" => which = Some("kv"),
            "--slow" => slow = true, // full run count for slow rows too
            "clock" => which = Some("clock"),
            "sched" => which = Some("sched"),
            other => {
                return Err(BenchError::Usage(format!(
                    "unknown benchmark or option {other}"
                )));
            }
        }
    }
    match which {
        Some("boot") => boot(runs.unwrap_or(15), slow).map_err(BenchError::Failed),
        Some("clock") => clock().map_err(BenchError::Failed),
        Some("sched") => sched().map_err(BenchError::Failed),
        Some("blk") => blk::blk(seconds.unwrap_or(5), disk_mib).map_err(BenchError::Failed),
        Some("http") => {
            http::http(runs.unwrap_or(3), seconds.unwrap_or(10)).map_err(BenchError::Failed)
        }
        Some("tcp") => tcp::tcp(runs.unwrap_or(3), mib).map_err(BenchError::Failed),
        Some("store") => store::store(store::Options {
            seconds: seconds.unwrap_or(10),
            puts,
            disk_mib,
        })
        .map_err(BenchError::Failed),
        Some("kv") => kv::kv(requests).map_err(BenchError::Failed),
        _ => Err(BenchError::Usage(
            "expected a benchmark: boot, clock, sched, blk, http, tcp, store or kv".into(),
        )),
    }
}

/// Why a benchmark did not run.
#[derive(Debug)]
pub enum BenchError {
    Usage(String),
    Failed(String),
}

/// One captured run that must end with status 0.
fn run_ok(
    kernel: &std::path::Path,
    target: &Target,
    format: Format,
    args: &[&str],
) -> Result<qemu::Outcome, Failure> {
    let mut config = RunConfig::new(kernel);
    config.accel = target.accel;
    config.kernel_options = target.options.into();
    config.format = format;
    config.timeout = Some(Duration::from_secs(300));
    config.app_args = args.iter().map(|s| s.to_string()).collect();
    let out = config.run_captured().map_err(|e| e.to_string())?;
    if out.meaning != Ending::Guest || out.status != 0 {
        return Err(format!(
            "{} failed (status {}):\n{}",
            kernel.display(),
            out.status,
            out.console
        ));
    }
    Ok(out)
}

/// One way to run a guest: an accelerator and kernel options.
struct Target {
    /// Column or row name.
    label: &'static str,
    accel: Accel,
    options: &'static str,
}

/// KVM (where usable) and TCG, saying what is special about KVM here. Under `kvm_pvm`, KVM
/// twice: as the kernel chooses there (tasks at ring 3: `docs/pvm.md`) and with `pvm=off`
/// (everything at ring 0, emulated), so that before and after come from the same run.
fn targets() -> Vec<Target> {
    let tcg = Target {
        label: "tcg",
        accel: Accel::Tcg,
        options: "",
    };
    if !qemu::kvm_usable() {
        println!("kvm: /dev/kvm not usable here, TCG only");
        return vec![tcg];
    }
    let kvm = Target {
        label: "kvm",
        accel: Accel::Kvm,
        options: "",
    };
    if qemu::kvm_is_pvm() {
        println!(
            "kvm: kvm_pvm here; it emulates ring-0 code instruction by instruction: 'kvm' runs the kernel's tasks at ring 3 (natively), 'kvm-ring0' is pvm=off"
        );
        let ring0 = Target {
            label: "kvm-ring0",
            accel: Accel::Kvm,
            options: "pvm=off",
        };
        return vec![kvm, ring0, tcg];
    }
    vec![kvm, tcg]
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn boot(runs: usize, slow: bool) -> Result<u8, Failure> {
    let hello = image::build("hello", Profile::Release).map_err(|e| e.to_string())?;
    let floor_path = image::guest_target_dir().join("images").join("floor.elf");
    std::fs::write(&floor_path, crate::elf::floor_kernel()).map_err(|e| e.to_string())?;
    println!(
        "boot benchmark: medians; floor = the same QEMU command booting a kernel whose first instruction exits"
    );
    println!(
        "hello.elf (stripped): {} symbols; floor kernel {} bytes",
        hello.symbols,
        crate::elf::floor_kernel().len()
    );
    let targets = targets();
    println!(
        "{:<5} {:<9} {:>5} {:>12} {:>15} {:>13} {:>13} {:>14}",
        "image",
        "accel",
        "runs",
        "image bytes",
        "entry->main us",
        "wall ms",
        "floor ms",
        "wall-floor ms"
    );
    for format in [Format::Pvh, Format::Bios, Format::Uefi] {
        let (_, path) = image::build_format("hello", Profile::Release, format, "")
            .map_err(|e| e.to_string())?;
        let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
        for target in &targets {
            let accel = target.accel;
            let runs = match (format, accel) {
                (Format::Pvh, _) => runs,
                // Disk images keep the kernel at ring 0 under kvm_pvm (their loader's
                // upper-half mappings are out of ring 3's reach there): one KVM row.
                (_, Accel::Kvm) if !target.options.is_empty() => continue,
                (Format::Uefi, Accel::Kvm) if qemu::kvm_is_pvm() => {
                    println!(
                        "{:<5} {:<9} skipped: OVMF fails under kvm_pvm (KVM emulation failure)",
                        format.name(),
                        target.label
                    );
                    continue;
                }
                // kvm_pvm emulates real mode: about 11 s a boot, so once (or `runs` with --slow).
                (Format::Bios, Accel::Kvm) if qemu::kvm_is_pvm() && !slow => 1,
                _ => runs.min(5),
            };
            let mut wall = Vec::new();
            let mut floor = Vec::new();
            let mut to_main = Vec::new();
            for _ in 0..runs {
                // Interleave so that drift in machine load hits both sides alike.
                let out = run_ok(&path, target, format, &[])?;
                wall.push(out.wall);
                let us: u64 = out
                    .console
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("boot took ")?
                            .strip_suffix(" us")?
                            .parse()
                            .ok()
                    })
                    .ok_or_else(|| format!("no 'boot took N us' line in:\n{}", out.console))?;
                to_main.push(Duration::from_micros(us));
                if format == Format::Pvh {
                    floor.push(run_ok(&floor_path, target, Format::Pvh, &[])?.wall);
                }
            }
            let (w, m) = (median(wall), median(to_main));
            let (floor_ms, over) = if floor.is_empty() {
                ("-".to_string(), "-".to_string())
            } else {
                let f = median(floor);
                (
                    format!("{:.1}", f.as_secs_f64() * 1e3),
                    format!("{:.1}", (w.as_secs_f64() - f.as_secs_f64()) * 1e3),
                )
            };
            println!(
                "{:<5} {:<9} {:>5} {:>12} {:>15} {:>13.1} {:>13} {:>14}",
                format.name(),
                target.label,
                runs,
                size,
                m.as_micros(),
                w.as_secs_f64() * 1e3,
                floor_ms,
                over
            );
        }
    }
    // What single operations cost under each accelerator: explains the rows above.
    let testkernel = image::build("testkernel", Profile::Release).map_err(|e| e.to_string())?;
    println!("per-operation cost (testkernel costs), ns:");
    for target in &targets {
        let out = run_ok(&testkernel.path, target, Format::Pvh, &["costs"])?;
        let costs: Vec<String> = out
            .console
            .lines()
            .filter_map(|l| l.strip_prefix("cost "))
            .map(|l| l.replace(" ns", ""))
            .collect();
        println!("{:<9} {}", target.label, costs.join(", "));
    }
    Ok(0)
}

/// Guest clock against the host's: the guest prints a line every 100 ms of its time for
/// 3 s; the host notes when each line arrives. The rate difference is the calibration
/// error plus drift (serial latency is a constant offset and cancels).
fn clock() -> Result<u8, Failure> {
    let kernel = image::build("testkernel", Profile::Release).map_err(|e| e.to_string())?;
    println!("clock benchmark: guest ticks every 100 ms for 3 s; host timestamps each line");
    println!(
        "{:<9} {:>12} {:>12} {:>10} {:>14}",
        "accel", "guest ms", "host ms", "ppm", "tsc source"
    );
    for target in targets() {
        let mut config = RunConfig::new(&kernel.path);
        config.accel = target.accel;
        config.kernel_options = format!("log=info {}", target.options);
        config.app_args = vec!["ticks".into(), "30".into(), "100".into()];
        config.timeout = Some(Duration::from_secs(60));
        let out = config.run_captured().map_err(|e| e.to_string())?;
        if out.status != 0 {
            return Err(format!(
                "ticks run failed (status {}):\n{}",
                out.status, out.console
            ));
        }
        let ticks: Vec<(Duration, u64)> = out
            .lines
            .iter()
            .filter_map(|(at, line)| {
                let mut words = line.strip_prefix("tick ")?.split(' ');
                let _index = words.next()?;
                Some((*at, words.next()?.parse().ok()?))
            })
            .collect();
        // Tick 0 also carries the first clock use (calibration, timer setup): skip it.
        let (Some(first), Some(last)) = (ticks.get(1), ticks.last()) else {
            return Err(format!("no tick lines:\n{}", out.console));
        };
        let guest = Duration::from_micros(last.1 - first.1);
        let host = last.0 - first.0;
        let ppm = (guest.as_secs_f64() / host.as_secs_f64() - 1.0) * 1e6;
        let source = out
            .console
            .lines()
            .find_map(|l| {
                l.split(" from ")
                    .nth(1)
                    .filter(|_| l.contains("kernel::time: tsc"))
            })
            .unwrap_or("?");
        println!(
            "{:<9} {:>12.3} {:>12.3} {:>10.0} {:>14}",
            target.label,
            guest.as_secs_f64() * 1e3,
            host.as_secs_f64() * 1e3,
            ppm,
            source
        );
    }
    Ok(0)
}

/// Scheduler operations in the guest (testkernel `sched-bench`) beside the same operations
/// with std threads on this host, in one run.
fn sched() -> Result<u8, Failure> {
    const N: u32 = 10_000;
    let host = host_thread_costs(N);
    let kernel = image::build("testkernel", Profile::Release).map_err(|e| e.to_string())?;
    let mut rows: Vec<(&'static str, Vec<(String, u64)>)> = Vec::new();
    for target in targets() {
        // kvm_pvm emulates every ring-0 instruction: fewer iterations keep the run short.
        let n = if target.options == "pvm=off" {
            N / 20
        } else {
            N
        };
        let out = run_ok(
            &kernel.path,
            &target,
            Format::Pvh,
            &["sched-bench", &n.to_string()],
        )?;
        let values = out
            .console
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("sched ")?.strip_suffix(" ns")?;
                let (name, ns) = rest.split_once(' ')?;
                Some((name.to_string(), ns.parse().ok()?))
            })
            .collect();
        rows.push((target.label, values));
    }
    println!("sched benchmark: ns per operation, median of 5 batches; host = std threads on Linux");
    print!("{:<20} {:>10}", "operation", "host std");
    for (label, _) in &rows {
        print!(" {:>15} {:>9}", format!("{label} guest"), "speedup");
    }
    println!();
    for (name, host_ns) in &host {
        print!("{name:<20} {host_ns:>10}");
        for (_, values) in &rows {
            match values.iter().find(|(n, _)| n == name) {
                Some((_, ns)) => {
                    print!(" {ns:>15} {:>8.1}x", *host_ns as f64 / (*ns).max(1) as f64)
                }
                None => print!(" {:>15} {:>9}", "-", "-"),
            }
        }
        println!();
    }
    Ok(0)
}

/// The host baseline: std::thread and std::sync on Linux.
fn host_thread_costs(n: u32) -> Vec<(String, u64)> {
    use std::sync::mpsc;
    use std::time::Instant;
    let per_op = |n: u32, f: &mut dyn FnMut()| {
        let mut samples: Vec<u64> = (0..5)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed().as_nanos() as u64 / u64::from(n)
            })
            .collect();
        samples.sort_unstable();
        samples[2]
    };
    let yield_ns = per_op(n, &mut || {
        // Two threads yielding to each other, as in the guest.
        let other = std::thread::spawn(move || {
            for _ in 0..n {
                std::thread::yield_now();
            }
        });
        for _ in 0..n {
            std::thread::yield_now();
        }
        other.join().expect("thread");
    });
    let spawn_ns = per_op(n / 10, &mut || {
        for _ in 0..n / 10 {
            std::hint::black_box(std::thread::spawn(|| 1u32).join().expect("thread"));
        }
    });
    let channel_ns = per_op(n, &mut || {
        let (to_pong, from_ping) = mpsc::channel::<u32>();
        let (to_ping, from_pong) = mpsc::channel::<u32>();
        let pong = std::thread::spawn(move || {
            for value in from_ping.iter() {
                to_ping.send(value).expect("send");
            }
        });
        for i in 0..n {
            to_pong.send(i).expect("send");
            std::hint::black_box(from_pong.recv().expect("recv"));
        }
        drop(to_pong);
        pong.join().expect("thread");
    });
    let mutex_ns = per_op(n, &mut || {
        let mutex = std::sync::Mutex::new(0u32);
        for _ in 0..n {
            *mutex.lock().expect("lock") += 1;
        }
        std::hint::black_box(*mutex.lock().expect("lock"));
    });
    vec![
        ("yield-round-trip".to_string(), yield_ns),
        ("spawn-join".to_string(), spawn_ns),
        ("channel-round-trip".to_string(), channel_ns),
        ("mutex-lock-unlock".to_string(), mutex_ns),
    ]
}
