//! `bench blk`: virtio-blk throughput of the unikernel (`apps/blkcheck`) beside fio in a
//! Linux microVM ([`crate::linuxvm`]) under the same QEMU, and fio on the host, on one disk
//! file, in one run.
//!
//! Fair by construction: one raw file, fully written with random data first (not sparse);
//! offsets uniform over the whole disk; O_DIRECT everywhere (`cache=none,aio=native` for
//! both VMs, fio `--direct=1` with libaio in Linux and on the host); only successful
//! completions counted; QEMU's own counts (QMP `query-blockstats`) printed beside each
//! guest's. The Linux VM gets the unikernel's own `-cpu`, `-global` and `-drive`/`-device`
//! words, lifted from its QEMU command. Linux does not boot under this host's `kvm_pvm`,
//! so the KVM column is the unikernel's alone.

use super::baseline::{self, drive, load_average, prepare_disk, shared_words, with_qmp};
use super::session::{self, BlockStats, Step};
use crate::image::{self, Profile};
use crate::linuxvm::LinuxVm;
use crate::qemu::{self, Accel, CacheMode, DiskSpec, RunConfig};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

type Failure = String;

/// What the Linux VM gets: fio pulls in about 84 MB of shared libraries.
const LINUX_MEM_MIB: u32 = 512;
/// The unikernel's guest memory.
const OURS_MEM_MIB: u32 = 64;

/// One access pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    RandRead,
    SeqRead,
    SeqWrite,
}

impl Op {
    /// The name in blkcheck's command and its result line.
    fn name(self) -> &'static str {
        match self {
            Self::RandRead => "randread",
            Self::SeqRead => "seqread",
            Self::SeqWrite => "seqwrite",
        }
    }

    /// fio's `--rw`.
    fn fio_rw(self) -> &'static str {
        match self {
            Self::RandRead => "randread",
            Self::SeqRead => "read",
            Self::SeqWrite => "write",
        }
    }
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Workload {
    op: Op,
    block: u32,
    depth: u32,
}

const WORKLOADS: [Workload; 6] = [
    Workload {
        op: Op::RandRead,
        block: 4096,
        depth: 1,
    },
    Workload {
        op: Op::RandRead,
        block: 4096,
        depth: 32,
    },
    Workload {
        op: Op::SeqRead,
        block: 131_072,
        depth: 1,
    },
    Workload {
        op: Op::SeqRead,
        block: 131_072,
        depth: 32,
    },
    Workload {
        op: Op::SeqWrite,
        block: 131_072,
        depth: 1,
    },
    Workload {
        op: Op::SeqWrite,
        block: 131_072,
        depth: 32,
    },
];

impl Workload {
    fn label(self) -> String {
        format!("{} {}k qd{}", self.op.name(), self.block / 1024, self.depth)
    }

    /// Random reads are reported in IOPS, sequential transfers in MB/s (10^6 bytes).
    fn unit(self) -> &'static str {
        match self.op {
            Op::RandRead => "IOPS",
            Op::SeqRead | Op::SeqWrite => "MB/s",
        }
    }

    fn value(self, m: &Measure) -> f64 {
        let secs = m.elapsed.as_secs_f64().max(1e-9);
        match self.op {
            Op::RandRead => m.ops as f64 / secs,
            Op::SeqRead | Op::SeqWrite => m.bytes as f64 / secs / 1e6,
        }
    }

    /// The fio job for this workload on `target`.
    fn fio_args(self, target: &str, seconds: u64) -> Vec<String> {
        let mut args = fio_common_args(target, seconds);
        args.extend(self.fio_job_args());
        args
    }

    /// What differs between the workloads' fio jobs.
    fn fio_job_args(self) -> Vec<String> {
        let mut args = vec![
            format!("--rw={}", self.op.fio_rw()),
            format!("--bs={}", self.block),
            format!("--iodepth={}", self.depth),
        ];
        if self.op == Op::RandRead {
            // Uniform offsets, each drawn afresh (no "every block once" map), like blkcheck.
            args.extend(["--norandommap".into(), "--randrepeat=0".into()]);
        }
        args
    }
}

/// What every fio job has: one job on `target`, O_DIRECT through libaio, a fixed time, and
/// one terse (v3) result line.
fn fio_common_args(target: &str, seconds: u64) -> Vec<String> {
    vec![
        "--name=bench".to_string(),
        format!("--filename={target}"),
        "--direct=1".into(),
        "--ioengine=libaio".into(),
        "--time_based".into(),
        format!("--runtime={seconds}"),
        "--output-format=terse".into(),
        "--terse-version=3".into(),
    ]
}

/// What one system did for one workload.
#[derive(Clone, Debug, Default)]
struct Measure {
    /// Successful operations and their bytes, as the guest (or fio) counted them.
    ops: u64,
    bytes: u64,
    errors: u64,
    elapsed: Duration,
    /// QEMU's counts for the drive over the same run (VMs only).
    host: Option<BlockStats>,
}

/// One column: a measure per workload, or why there is none.
type Column = Vec<Result<Measure, String>>;

/// Entry from `bench blk [--seconds N] [--disk-mib N]`.
pub(super) fn blk(seconds: u64, disk_mib: u64) -> Result<u8, Failure> {
    let disk = image::workspace_root().join("target/bench/blk-disk.img");
    prepare_disk(&disk, disk_mib)?;
    println!(
        "blk benchmark: {} ({disk_mib} MiB raw file, fully written with random data), \
         {seconds} s per point, O_DIRECT everywhere; MB = 10^6 bytes",
        qemu::display_path(&disk)
    );
    let vm = LinuxVm::build(&["fio"])?;
    // Other work on the host (2 cores here) moves every column: say how busy it was.
    let load_start = load_average();
    // Without the app (a broken build), the baselines still run and say why ours did not.
    let (blkcheck, ours_missing) = match image::build("blkcheck", Profile::Release) {
        Ok(image) => (image.path, None),
        Err(e) => (
            image::guest_target_dir().join("blkcheck (not built)"),
            Some(format!("apps/blkcheck did not build: {e}")),
        ),
    };
    let config = |accel| {
        let mut config = RunConfig::new(&blkcheck);
        config.accel = accel;
        config.mem_mib = OURS_MEM_MIB;
        config.disks = vec![DiskSpec {
            path: disk.clone(),
            read_only: false,
            cache: CacheMode::None,
        }];
        config
    };
    let kvm = qemu::kvm_usable();
    if kvm && qemu::kvm_is_pvm() {
        println!(
            "kvm: kvm_pvm here: it emulates this guest's ring-0 code instruction by \
             instruction (the KVM column is far below TCG); Linux does not boot under it"
        );
    }

    // Both command lines, as they run (the app's arguments and the script vary per row).
    let socket = |name| session::qmp_socket_path(name);
    let ours_tcg = ours_command(
        &config(Accel::Tcg),
        WORKLOADS[0],
        seconds,
        &socket("ours-tcg"),
    );
    let shared = shared_words(&ours_tcg);
    let script = linux_script(seconds, &WORKLOADS[..1]);
    let linux_cmd = vm.command(LINUX_MEM_MIB, &script, &with_qmp(&shared, &socket("linux")))?;
    println!("ours (TCG; isa-debug-exit left out so that the guest halts and QEMU stays for QMP):");
    println!("  {}", qemu::shell_words(&ours_tcg));
    if kvm {
        let ours_kvm = ours_command(
            &config(Accel::Kvm),
            WORKLOADS[0],
            seconds,
            &socket("ours-kvm"),
        );
        println!("ours (KVM):\n  {}", qemu::shell_words(&ours_kvm));
    }
    println!(
        "linux ({}; TCG):\n  {}",
        vm.kernel_package,
        qemu::shell_words(&linux_cmd)
    );
    println!(
        "linux script of the first row (base64 in linuxvm.script=; one boot per row, \
         each with its own job line):"
    );
    for line in script.lines() {
        println!("  | {line}");
    }
    println!(
        "native: fio {} (per row)",
        WORKLOADS[0]
            .fio_args(&disk.to_string_lossy(), seconds)
            .join(" ")
    );

    let mut linux = Column::new();
    let mut ours_tcg = Column::new();
    let mut ours_kvm = Column::new();
    let mut native = Column::new();
    let ours = |accel, w| match &ours_missing {
        Some(why) => Err(why.clone()),
        None => run_ours(&config(accel), w, seconds),
    };
    // Row by row, so that drift in the host's load (other work on a shared machine) hits
    // every column alike; one Linux boot per row.
    for w in WORKLOADS {
        linux.extend(run_linux(&vm, &[w], &shared, seconds));
        ours_tcg.push(ours(Accel::Tcg, w));
        ours_kvm.push(if kvm {
            ours(Accel::Kvm, w)
        } else {
            Err("/dev/kvm not usable".into())
        });
        native.push(run_native(&disk, w, seconds));
    }
    print!("{}", table(&ours_tcg, &linux, &ours_kvm, &native));
    let idle = match &ours_missing {
        Some(why) => Err(why.clone()),
        None => waiting_cost(&blkcheck, &disk, seconds.max(10)),
    };
    match &idle {
        Ok(line) => println!("{line}"),
        Err(e) => println!("waiting cost: failed: {e}"),
    }
    println!(
        "host load average at start: {load_start}; at end: {}",
        load_average()
    );
    let failed = idle.is_err()
        || [&ours_tcg, &linux, &native]
            .iter()
            .chain(kvm.then_some(&&ours_kvm))
            .any(|column| column.iter().any(Result::is_err));
    Ok(u8::from(failed))
}

/// Throttled disk (200 IOPS): blkcheck spends nearly all its time waiting for the device,
/// and QEMU's CPU time over the run's wall time shows what waiting costs (the CPU should
/// halt, not spin).
fn waiting_cost(blkcheck: &Path, disk: &Path, seconds: u64) -> Result<String, String> {
    const IOPS: u32 = 200;
    let mut config = RunConfig::new(blkcheck);
    config.accel = Accel::Tcg;
    config.mem_mib = OURS_MEM_MIB;
    config.timeout = Some(Duration::from_secs(seconds + 60));
    let drive = format!(
        "file={},format=raw,if=none,id=slow,werror=report,rerror=report,cache=none,aio=native,throttling.iops-total={IOPS}",
        disk.display()
    );
    config.extra_args = vec![
        "-drive".into(),
        drive,
        "-device".into(),
        "virtio-blk-device,drive=slow".into(),
    ];
    config.app_args = ["bench", "randread", "4096", "4", &seconds.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let before = children_cpu()?;
    let outcome = config.run_captured().map_err(|e| e.to_string())?;
    let cpu = children_cpu()?.saturating_sub(before);
    if outcome.status != 0 {
        return Err(format!(
            "blkcheck ended with status {}:\n{}",
            outcome.status, outcome.console
        ));
    }
    let ops = outcome
        .console
        .lines()
        .find_map(|l| l.split(" ops=").nth(1))
        .and_then(|s| s.split(' ').next())
        .unwrap_or("?");
    let wall = outcome.wall.as_secs_f64();
    Ok(format!(
        "waiting cost (ours, TCG, disk throttled to {IOPS} IOPS, randread 4k qd4 for {seconds} s, \
         {ops} reads): QEMU used {:.2} s of CPU in {wall:.2} s of wall time = {:.1}% (whole run, boot included)",
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / wall.max(1e-9)
    ))
}

/// CPU time (user + system) of this process's waited-for children, from /proc/self/stat.
fn children_cpu() -> Result<Duration, String> {
    let stat =
        std::fs::read_to_string("/proc/self/stat").map_err(|e| format!("/proc/self/stat: {e}"))?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // Fields 16 and 17 (cutime, cstime), counted from 3 after the command name.
    let ticks: u64 = [13, 14]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<u64>().ok()))
        .sum();
    // USER_HZ is 100 on Linux x86_64.
    Ok(Duration::from_millis(ticks * 10))
}

/// The unikernel's QEMU command for one workload: the runner's own line with a QMP socket,
/// and without `isa-debug-exit`: the guest then halts at its end instead of ending QEMU
/// (it prints `exit: no isa-debug-exit device ... status N; halting`), so QEMU's counts can
/// be read after the guest's last request and before QEMU goes away.
fn ours_command(config: &RunConfig, w: Workload, seconds: u64, socket: &Path) -> Command {
    let mut config = config.clone();
    config.app_args = [
        "bench",
        w.op.name(),
        &w.block.to_string(),
        &w.depth.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([seconds.to_string()])
    .collect();
    config.extra_args.extend(session::qmp_args(socket));
    let full = config.command();
    let mut cmd = Command::new(full.get_program());
    let args: Vec<&std::ffi::OsStr> = full.get_args().collect();
    let mut i = 0;
    while i < args.len() {
        let debug_exit = args[i] == "-device"
            && args
                .get(i + 1)
                .is_some_and(|a| a.to_string_lossy().starts_with("isa-debug-exit"));
        if debug_exit {
            i += 2;
        } else {
            cmd.arg(args[i]);
            i += 1;
        }
    }
    cmd
}

/// One unikernel run: boot, let blkcheck run the workload, read QEMU's counts once the
/// guest has halted, quit. A run that fails before blkcheck starts measuring (seen: the
/// TSC calibration against the PIT giving up under TCG on a busy host) is tried once more,
/// and says so.
fn run_ours(config: &RunConfig, w: Workload, seconds: u64) -> Result<Measure, String> {
    config.check()?;
    match run_ours_once(config, w, seconds) {
        Err((e, false)) => {
            let first = e
                .lines()
                .find(|l| l.starts_with("fatal") || l.starts_with("panic"));
            eprintln!(
                "ours ({}, {}): failed before measuring ({}); trying once more",
                config.accel.name(),
                w.label(),
                first.unwrap_or_else(|| e.lines().next().unwrap_or(""))
            );
            run_ours_once(config, w, seconds).map_err(|(e, _)| e)
        }
        result => result.map_err(|(e, _)| e),
    }
}

/// One attempt; an error says whether blkcheck had printed its result line.
fn run_ours_once(config: &RunConfig, w: Workload, seconds: u64) -> Result<Measure, (String, bool)> {
    let socket = session::qmp_socket_path(&format!("ours-{}", config.accel.name()));
    let cmd = ours_command(config, w, seconds, &socket);
    let mut measure: Option<Result<Measure, String>> = None;
    let mut host = None;
    let mut status = None;
    let limits = session::Limits {
        total: Duration::from_secs(seconds + 60),
        ready: None,
    };
    let transcript = session::run(cmd, &socket, limits, |line, qmp| {
        if line.starts_with("bench: ") {
            measure = Some(parse_bench_line(line, w));
        }
        if let Some(rest) = line.split("exit: no isa-debug-exit device").nth(1) {
            status = rest
                .split("report status ")
                .nth(1)
                .and_then(|s| s.split(';').next())
                .and_then(|s| s.trim().parse::<u8>().ok());
            host = Some(qmp.block_stats(&drive())?);
            return Ok(Step::Stop);
        }
        Ok(Step::Continue)
    })
    .map_err(|e| (e, false))?;
    let measured = measure.is_some();
    let console = || transcript.console();
    if transcript.timed_out {
        let e = format!("timed out after {} s:\n{}", seconds + 60, console());
        return Err((e, measured));
    }
    if status != Some(0) {
        let e = format!("blkcheck ended with status {status:?}:\n{}", console());
        return Err((e, measured));
    }
    let mut measure = measure
        .ok_or_else(|| (format!("no 'bench:' line:\n{}", console()), false))?
        .map_err(|e| (e, true))?;
    measure.host = host;
    Ok(measure)
}

/// The Linux VM's script: each workload between two barriers (the host reads QEMU's counts
/// at each), with the I/O scheduler off (`none`, Linux's fastest for this device).
fn linux_script(seconds: u64, workloads: &[Workload]) -> String {
    // A function keeps the script short: it travels base64-encoded on the kernel command
    // line (2 KiB at most).
    let mut script = format!(
        "echo none > /sys/block/vda/queue/scheduler\n\
         job() {{ i=$1; shift; barrier start-$i; fio {} \"$@\"; barrier end-$i; }}\n",
        fio_common_args("/dev/vda", seconds).join(" ")
    );
    for (i, w) in workloads.iter().enumerate() {
        let _ = writeln!(script, "job {i} {}", w.fio_job_args().join(" "));
    }
    script
}

/// All workloads in one Linux boot; QEMU's counts are read at the barriers around each.
fn run_linux(vm: &LinuxVm, workloads: &[Workload], shared: &[String], seconds: u64) -> Column {
    let script = linux_script(seconds, workloads);
    let job_limit = Duration::from_secs(seconds + 30);
    baseline::run_linux_jobs(
        vm,
        LINUX_MEM_MIB,
        &script,
        workloads.len(),
        shared,
        job_limit,
    )
    .into_iter()
    .zip(workloads)
    .map(|(job, &w)| {
        let job = job?;
        let line = job
            .lines
            .iter()
            .find(|l| l.starts_with("3;fio-"))
            .ok_or_else(|| format!("fio printed no result:\n{}", job.lines.join("\n")))?;
        let mut measure = parse_fio_terse(line, w)?;
        measure.host = Some(job.host);
        Ok(measure)
    })
    .collect()
}

/// fio on the host, on the same file.
fn run_native(disk: &Path, w: Workload, seconds: u64) -> Result<Measure, String> {
    let mut cmd = Command::new("timeout");
    cmd.arg((seconds + 60).to_string())
        .arg("fio")
        .args(w.fio_args(&disk.to_string_lossy(), seconds));
    let out = cmd.output().map_err(|e| format!("cannot run fio: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("3;fio-"))
        .ok_or_else(|| {
            format!(
                "fio printed no result ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    parse_fio_terse(line, w)
}

/// blkcheck's result: `bench: op=randread bs=4096 qd=32 ops=N bytes=B errors=E
/// elapsed_ns=T`, checked against the workload it was asked for.
fn parse_bench_line(line: &str, w: Workload) -> Result<Measure, String> {
    let f = super::fields::Fields::parse(line, "bench: ", "bench")?;
    let get = |key: &str| f.get(key);
    let number = |key: &str| f.number(key);
    if get("op")? != w.op.name()
        || number("bs")? != u64::from(w.block)
        || number("qd")? != u64::from(w.depth)
    {
        return Err(format!(
            "bench line for another workload than {}: {line}",
            w.label()
        ));
    }
    Ok(Measure {
        ops: number("ops")?,
        bytes: number("bytes")?,
        errors: number("errors")?,
        elapsed: Duration::from_nanos(number("elapsed_ns")?),
        host: None,
    })
}

/// fio's terse (version 3) line: the read or write group's KiB and runtime (ms), and the
/// error field. fio stops a job at its first error, so its counts are successes.
fn parse_fio_terse(line: &str, w: Workload) -> Result<Measure, String> {
    let fields: Vec<&str> = line.split(';').collect();
    // 0-based: 4 error; read KiB, bw, iops, runtime ms at 5..=8; write at 46..=49.
    let base = if w.op == Op::SeqWrite { 46 } else { 5 };
    let number = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .ok_or_else(|| format!("fio terse line: no number in field {i}: {line}"))
    };
    if fields.first() != Some(&"3") {
        return Err(format!("not a fio terse v3 line: {line}"));
    }
    let bytes = number(base)? * 1024;
    Ok(Measure {
        ops: bytes / u64::from(w.block),
        bytes,
        errors: number(4)?,
        elapsed: Duration::from_millis(number(base + 3)?),
        host: None,
    })
}

/// The results table, then the counts behind it.
fn table(ours_tcg: &Column, linux: &Column, ours_kvm: &Column, native: &Column) -> String {
    let mut out = String::new();
    let cell = |m: &Result<Measure, String>, w: Workload| match m {
        Ok(m) => format!("{:.0}", w.value(m)),
        Err(_) => "-".into(),
    };
    let _ = writeln!(
        out,
        "\n{:<24} {:>10} {:>10} {:>11} {:>10} {:>10}",
        "workload", "ours-tcg", "linux-tcg", "ours/linux", "ours-kvm", "native"
    );
    for (i, w) in WORKLOADS.into_iter().enumerate() {
        let ratio = match (&ours_tcg[i], &linux[i]) {
            (Ok(a), Ok(b)) if w.value(b) > 0.0 => format!("{:.2}x", w.value(a) / w.value(b)),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "{:<24} {:>10} {:>10} {:>11} {:>10} {:>10}",
            format!("{} ({})", w.label(), w.unit()),
            cell(&ours_tcg[i], w),
            cell(&linux[i], w),
            ratio,
            cell(&ours_kvm[i], w),
            cell(&native[i], w),
        );
    }
    let _ = writeln!(
        out,
        "\ncounts: guest ops/errors (blkcheck or fio) | QEMU query-blockstats ops \
         (failed), flushes; ours: whole run, linux: between the barriers around the job"
    );
    for (name, column) in [
        ("ours-tcg", ours_tcg),
        ("linux-tcg", linux),
        ("ours-kvm", ours_kvm),
    ] {
        if let [Err(first), rest @ ..] = column.as_slice()
            && rest.iter().all(|m| m.as_ref().err() == Some(first))
        {
            let why = first.lines().next().unwrap_or("");
            let _ = writeln!(out, "{name:<10} no result: {why}");
            continue;
        }
        for (i, w) in WORKLOADS.into_iter().enumerate() {
            let text = match &column[i] {
                Ok(m) => {
                    let host = m.host.map_or("-".to_string(), |h| {
                        format!(
                            "rd {} ({}) wr {} ({}) flush {}",
                            h.rd_operations,
                            h.failed_rd_operations,
                            h.wr_operations,
                            h.failed_wr_operations,
                            h.flush_operations
                        )
                    });
                    format!(
                        "{} ops/{} err in {:.2} s | {host}",
                        m.ops,
                        m.errors,
                        m.elapsed.as_secs_f64()
                    )
                }
                Err(e) => format!("no result: {}", e.lines().next().unwrap_or("")),
            };
            let _ = writeln!(out, "{name:<10} {:<18} {text}", w.label());
        }
    }
    let failures: Vec<String> = [
        ("ours-tcg", ours_tcg),
        ("linux-tcg", linux),
        ("ours-kvm", ours_kvm),
        ("native", native),
    ]
    .iter()
    .flat_map(|(name, column)| {
        column.iter().zip(WORKLOADS).filter_map(move |(m, w)| {
            m.as_ref()
                .err()
                .map(|e| format!("{name} {}: {e}", w.label()))
        })
    })
    .collect();
    // One full report per distinct failure (a failed Linux boot fails every row alike).
    let mut seen = std::collections::BTreeSet::new();
    for failure in failures {
        let body = failure
            .split_once(": ")
            .map_or(failure.as_str(), |(_, b)| b)
            .to_string();
        if seen.insert(body) {
            let _ = writeln!(out, "\nfailed: {failure}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDREAD32: Workload = Workload {
        op: Op::RandRead,
        block: 4096,
        depth: 32,
    };

    #[test]
    fn parses_blkcheck_result_line() {
        let m = parse_bench_line(
            "bench: op=randread bs=4096 qd=32 ops=50000 bytes=204800000 errors=0 elapsed_ns=5000000000",
            RANDREAD32,
        )
        .unwrap();
        assert_eq!((m.ops, m.bytes, m.errors), (50_000, 204_800_000, 0));
        assert_eq!(m.elapsed, Duration::from_secs(5));
        assert_eq!(RANDREAD32.value(&m), 10_000.0);
        // Another workload's line, a missing field, garbage.
        assert!(
            parse_bench_line(
                "bench: op=seqread bs=4096 qd=32 ops=1 bytes=1 errors=0 elapsed_ns=1",
                RANDREAD32
            )
            .is_err()
        );
        assert!(
            parse_bench_line(
                "bench: op=randread bs=4096 qd=32 ops=1 errors=0 elapsed_ns=1",
                RANDREAD32
            )
            .is_err()
        );
        assert!(
            parse_bench_line(
                "bench: op=randread bs=4096 qd=32 ops=x bytes=1 errors=0 elapsed_ns=1",
                RANDREAD32
            )
            .is_err()
        );
        assert!(parse_bench_line("hello", RANDREAD32).is_err());
    }

    #[test]
    fn parses_fio_terse_lines() {
        let read = "3;fio-3.33;bench;0;0;464732;232249;58062;2001;3;20141";
        let m = parse_fio_terse(read, RANDREAD32).unwrap();
        assert_eq!((m.bytes, m.ops, m.errors), (464_732 * 1024, 116_183, 0));
        assert_eq!(m.elapsed, Duration::from_millis(2001));
        let mut fields = vec!["0"; 60];
        fields[0] = "3";
        fields[4] = "5";
        fields[46] = "1024";
        fields[49] = "2000";
        let write = fields.join(";");
        let w = Workload {
            op: Op::SeqWrite,
            block: 131_072,
            depth: 1,
        };
        let m = parse_fio_terse(&write, w).unwrap();
        assert_eq!((m.bytes, m.ops, m.errors), (1 << 20, 8, 5));
        assert!((w.value(&m) - 0.524_288).abs() < 1e-9);
        assert!(parse_fio_terse("2;fio", w).is_err());
    }

    #[test]
    fn ours_runs_without_debug_exit_and_with_qmp() {
        let mut config = RunConfig::new("k.elf");
        config.disks = vec![DiskSpec {
            path: "d.img".into(),
            read_only: false,
            cache: CacheMode::None,
        }];
        let words = qemu::shell_words(&ours_command(&config, RANDREAD32, 5, Path::new("/tmp/q")));
        assert!(!words.contains("isa-debug-exit"), "{words}");
        assert!(
            words.contains("-qmp unix:/tmp/q,server=on,wait=off"),
            "{words}"
        );
        assert!(words.contains("cache=none,aio=native"), "{words}");
        assert!(words.contains("-- bench randread 4096 32 5"), "{words}");
    }

    #[test]
    fn linux_script_has_a_barrier_pair_per_job() {
        let script = linux_script(5, &WORKLOADS);
        assert_eq!(script.matches("\njob ").count(), WORKLOADS.len());
        assert!(
            script.contains("barrier start-$i; fio --name=bench --filename=/dev/vda --direct=1")
        );
        assert!(script.contains("\njob 1 --rw=randread --bs=4096 --iodepth=32 --norandommap"));
        // Fits the kernel command line with room to spare.
        assert!(script.len() < 900, "{}", script.len());
    }
}
