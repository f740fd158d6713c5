//! `bench store`: acknowledged-durable small writes. Ours is `storectl bench` (`libos::store`,
//! group commit); the baselines, in the same run, are fio writing 128-byte blocks with
//! `fdatasync=1` to files on ext4 in a Linux microVM ([`crate::linuxvm`]) on the same disk
//! options, and the same fio job on the host.
//!
//! Flushes are counted by QEMU, not by the guests: QMP `query-blockstats`
//! (`flush_operations`) is read at the marks storectl prints around each phase and at the
//! barriers around each fio job ([`super::baseline`]), and a phase's flushes are the
//! difference. Both disks are raw files in `target/bench/`, fully written first, attached
//! with the unikernel's own `-drive`/`-device` words (`cache=none,aio=native`). TCG only:
//! Linux does not boot under this host's `kvm_pvm`.

use super::baseline::{self, drive, load_average, make_ext4, prepare_disk, shared_words, with_qmp};
use super::fields::Fields;
use super::session::{self, BlockStats, Json, Step};
use crate::image::{self, Profile};
use crate::linuxvm::{Contents, LinuxVm};
use crate::qemu::{self, Accel, CacheMode, DiskSpec, RunConfig};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

type Failure = String;

/// fio pulls in about 84 MB of shared libraries, and 64 jobs are 64 processes.
const LINUX_MEM_MIB: u32 = 512;
/// The unikernel's guest memory (storectl's index limit defaults to 32 MiB).
const OURS_MEM_MIB: u32 = 128;
/// Concurrent writers (storectl) and jobs (fio) in the many-writer rows.
const WRITERS: u32 = 64;
/// storectl's value size (keys are about 10 bytes more, plus the record header).
const VALUE_SIZE: u32 = 100;
/// fio's block size.
const FIO_BLOCK: u32 = 128;
/// How long storectl sleeps at each mark so that the host reads QEMU's counts.
const PAUSE_MS: u64 = 700;
/// fio's files, per job.
const FIO_FILE_SIZE: &str = "1M";
/// fio's job counts, one row each.
const FIO_JOBS: [u32; 2] = [1, WRITERS];
/// The targets: printed beside the numbers, never asserted.
const TARGET_SPEEDUP: f64 = 5.0;
const TARGET_PUTS_PER_FLUSH: f64 = 16.0;
const TARGET_COMPACTION_P999_MS: f64 = 50.0;

/// What `bench store` was asked for.
#[derive(Clone, Copy, Debug)]
pub(super) struct Options {
    /// fio's run time per row.
    pub seconds: u64,
    /// storectl's `--puts` and `--gets`.
    pub puts: u64,
    /// Size of each disk file.
    pub disk_mib: u64,
}

/// Which of storectl's phases a result line is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PhaseKind {
    PutOne,
    PutMany,
    Get,
    PutDuringCompaction,
}

impl PhaseKind {
    /// From the guest's phase name and writer count: the contract names the phases (put
    /// with 1 writer, with W writers, get, put with W writers while a compaction runs) but
    /// not their spelling.
    fn of(name: &str, writers: u64) -> Self {
        let name = name.to_ascii_lowercase();
        if name.contains("compact") {
            Self::PutDuringCompaction
        } else if name.contains("get") {
            Self::Get
        } else if writers == 1 {
            Self::PutOne
        } else {
            Self::PutMany
        }
    }

    fn label(self) -> String {
        match self {
            Self::PutOne => "put, 1 writer".into(),
            Self::PutMany => format!("put, {WRITERS} writers"),
            Self::Get => format!("get, {WRITERS} readers"),
            Self::PutDuringCompaction => format!("put, {WRITERS} writers, compacting"),
        }
    }
}

/// One row of the table: what a system did in one phase or fio job.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    /// What ran, e.g. `put, 64 writers` or `write+fdatasync, 64 jobs`.
    what: String,
    /// The durability of each acknowledged operation, as the system states it.
    mode: String,
    /// The guest's name for the phase (storectl) or the job (fio).
    name: String,
    ops: u64,
    seconds: f64,
    rate: f64,
    /// Latency percentiles p50, p99, p99.9 in µs, and of what (`put`, `fdatasync`).
    latency: Option<([f64; 3], &'static str)>,
    /// fio only: the write calls' own completion latency (clat), µs.
    write_clat: Option<[f64; 3]>,
    /// QEMU's counts for the drive over the phase or job (VMs only).
    host: Option<BlockStats>,
    /// Flushes as the guest counted them (storectl only).
    guest_flushes: Option<u64>,
    /// storectl's phase kind (ours only).
    kind: Option<PhaseKind>,
}

impl Row {
    /// Operations per flush that QEMU counted.
    fn ops_per_host_flush(&self) -> Option<f64> {
        let flushes = self.host?.flush_operations;
        (flushes > 0).then(|| self.ops as f64 / flushes as f64)
    }
}

/// One system's rows, or why there are none.
type Column = Result<Vec<Row>, String>;

/// Entry from `bench store [--seconds N] [--puts N] [--disk-mib N]`.
pub(super) fn store(options: Options) -> Result<u8, Failure> {
    let Options {
        seconds,
        puts,
        disk_mib,
    } = options;
    let bench_dir = image::workspace_root().join("target/bench");
    let ours_disk = bench_dir.join("store-disk.img");
    let linux_disk = bench_dir.join("store-ext4.img");
    let native_dir = bench_dir.join("store-native");
    prepare_disk(&ours_disk, disk_mib)?;
    prepare_disk(&linux_disk, disk_mib)?;
    make_ext4(&linux_disk)?;
    println!(
        "store benchmark: acknowledged-durable small writes, TCG, 1 vCPU each; disks: \
         {disk_mib} MiB raw files in {} (fully written first), cache=none,aio=native for both VMs",
        qemu::display_path(&bench_dir)
    );
    println!(
        "ours: storectl bench --puts {puts} --gets {puts} (the ops column says what each phase \
         did), {VALUE_SIZE}-byte values, unique keys; linux: fio on ext4 (mke2fs on the host, default mount: data=ordered), \
         {FIO_BLOCK}-byte writes, fdatasync after each, {seconds} s per row; native: the same \
         fio job in {}",
        qemu::display_path(&native_dir)
    );
    println!(
        "flushes: QEMU's flush_operations (QMP query-blockstats) read at storectl's marks and \
         around each fio job; per-phase counts are the differences"
    );
    let vm = LinuxVm::build_with(&Contents {
        binaries: vec!["fio".into()],
        modules: vec!["crc32c_generic".into(), "ext4".into()],
        ..Contents::default()
    })?;
    let load_start = load_average();
    // Without the app (a broken build, or not written yet), the baselines still run.
    let storectl = image::build("storectl", Profile::Release)
        .map(|image| image.path)
        .map_err(|e| format!("apps/storectl did not build: {e}"));
    let kernel = storectl
        .clone()
        .unwrap_or_else(|_| image::guest_target_dir().join("storectl (not built)"));
    let config = |disk: &Path| {
        let mut config = RunConfig::new(&kernel);
        config.accel = Accel::Tcg;
        config.mem_mib = OURS_MEM_MIB;
        config.disks = vec![DiskSpec {
            path: disk.to_path_buf(),
            read_only: false,
            cache: CacheMode::None,
        }];
        config
    };
    let ours_config = config(&ours_disk);
    let ours_socket = session::qmp_socket_path("ours-store");
    // The Linux VM gets the unikernel's own -cpu, -global, -drive and -device words, with
    // its ext4 file in the -drive.
    let linux_words = shared_words(&config(&linux_disk).command());
    let script = linux_script(seconds);
    println!("ours (TCG; a format run first, then):");
    println!(
        "  {}",
        qemu::shell_words(&ours_command(&ours_config, puts, &ours_socket))
    );
    let linux_socket = session::qmp_socket_path("linux");
    let linux_cmd = vm.command(
        LINUX_MEM_MIB,
        &script,
        &with_qmp(&linux_words, &linux_socket),
    )?;
    println!(
        "linux ({}; TCG):\n  {}",
        vm.kernel_package,
        qemu::shell_words(&linux_cmd)
    );
    println!("linux script (base64 in linuxvm.script=):");
    for line in script.lines() {
        println!("  | {line}");
    }
    println!(
        "native: fio {} --output-format=json (per row)",
        fio_args(&native_dir.to_string_lossy(), seconds, WRITERS).join(" ")
    );

    let (ours, ours_notes) = match &storectl {
        Ok(_) => run_ours(&ours_config, puts, &ours_socket),
        Err(why) => (Err(why.clone()), Vec::new()),
    };
    let linux = run_linux(&vm, &script, &linux_words, seconds);
    let native = run_native(&native_dir, seconds);
    print!("{}", table(&ours, &linux, &native));
    if !ours_notes.is_empty() {
        println!("storectl also said:");
        for note in &ours_notes {
            println!("  {note}");
        }
    }
    print!("{}", summary(&ours, &linux));
    println!(
        "host load average at start: {load_start}; at end: {}",
        load_average()
    );
    let failed = [&ours, &linux, &native].iter().any(|c| c.is_err());
    for (name, column) in [("ours", &ours), ("linux", &linux), ("native", &native)] {
        if let Err(e) = column {
            println!("\nfailed: {name}: {e}");
        }
    }
    Ok(u8::from(failed))
}

/// The storectl bench run: the runner's command with a QMP socket. (isa-debug-exit stays:
/// the counts are read at the marks, while the guest sleeps.)
fn ours_command(config: &RunConfig, puts: u64, socket: &Path) -> Command {
    let mut config = config.clone();
    config.app_args = [
        "bench".to_string(),
        "--writers".into(),
        WRITERS.to_string(),
        "--puts".into(),
        puts.to_string(),
        "--value-size".into(),
        VALUE_SIZE.to_string(),
        "--gets".into(),
        puts.to_string(),
        "--pause-ms".into(),
        PAUSE_MS.to_string(),
    ]
    .into();
    config.extra_args.extend(session::qmp_args(socket));
    config.command()
}

/// Formats the store, then runs `storectl bench` with QEMU's counts read at every mark.
/// Also returns storectl's other summary lines (its store and compaction counts).
fn run_ours(config: &RunConfig, puts: u64, socket: &Path) -> (Column, Vec<String>) {
    let mut notes = Vec::new();
    let column = run_ours_column(config, puts, socket, &mut notes);
    (column, notes)
}

fn run_ours_column(
    config: &RunConfig,
    puts: u64,
    socket: &Path,
    notes: &mut Vec<String>,
) -> Column {
    config.check()?;
    let mut format = config.clone();
    format.app_args = vec!["format".into(), "--force".into()];
    format.timeout = Some(Duration::from_secs(60));
    let out = format.run_captured().map_err(|e| e.to_string())?;
    if out.status != 0 {
        return Err(format!(
            "storectl format --force ended with status {}:\n{}",
            out.status, out.console
        ));
    }
    let mut marks: Vec<(String, BlockStats)> = Vec::new();
    let mut results: Vec<Result<Row, String>> = Vec::new();
    let mut done = false;
    // Generous: a slow phase is a result too, but a hang must end.
    let limits = session::Limits {
        total: Duration::from_secs(120 + puts / 100),
        ready: Some(("bench: mark ", Duration::from_secs(60))),
    };
    let transcript = session::run(
        ours_command(config, puts, socket),
        socket,
        limits,
        |line, qmp| {
            if let Some(name) = line.strip_prefix("bench: mark ") {
                marks.push((name.trim().to_string(), qmp.block_stats(&drive())?));
            } else if line.starts_with("bench: result ") {
                results.push(parse_result(line));
            } else if line.trim() == "bench: done" {
                done = true;
                return Ok(Step::Stop);
            } else if line.starts_with("bench: ") || line.starts_with("compaction ") {
                notes.push(line.to_string());
            }
            Ok(Step::Continue)
        },
    )?;
    let console = || transcript.console();
    if !done {
        return Err(format!(
            "storectl bench {} before `bench: done` (QEMU {:?}):\n{}",
            if transcript.timed_out {
                "timed out"
            } else {
                "ended"
            },
            transcript.status,
            console()
        ));
    }
    let mut rows = results
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{e}\n{}", console()))?;
    attach_marks(&mut rows, &marks).map_err(|e| format!("{e}\n{}", console()))?;
    Ok(rows)
}

/// storectl's `bench: result phase=NAME mode=M writers=W ops=N seconds=S rate=X p50_us=A
/// p99_us=B p999_us=C guest_flushes=F`.
fn parse_result(line: &str) -> Result<Row, String> {
    let f = Fields::parse(line, "bench: result ", "storectl bench result")?;
    let real = |key: &str| {
        let value = f.get(key)?;
        value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| format!("storectl bench result: {key}={value} is not a number: {line}"))
    };
    let name = f.get("phase")?.to_string();
    let writers = f.number("writers")?;
    let kind = PhaseKind::of(&name, writers);
    let latency_of = if kind == PhaseKind::Get { "get" } else { "put" };
    Ok(Row {
        what: kind.label(),
        mode: f.get("mode")?.to_string(),
        name,
        ops: f.number("ops")?,
        seconds: real("seconds")?,
        rate: real("rate")?,
        latency: Some((
            [real("p50_us")?, real("p99_us")?, real("p999_us")?],
            latency_of,
        )),
        write_clat: None,
        host: None,
        guest_flushes: Some(f.number("guest_flushes")?),
        kind: Some(kind),
    })
}

/// QEMU's counts for each phase: storectl marks before and after each phase, so phase `k`
/// (in the order of its result lines) lies between marks `2k` and `2k+1`.
fn attach_marks(rows: &mut [Row], marks: &[(String, BlockStats)]) -> Result<(), String> {
    if marks.len() != 2 * rows.len() {
        let names: Vec<&str> = marks.iter().map(|(n, _)| n.as_str()).collect();
        return Err(format!(
            "storectl printed {} marks for {} phases (expected a mark before and after each): {}",
            marks.len(),
            rows.len(),
            names.join(", ")
        ));
    }
    for (row, pair) in rows.iter_mut().zip(marks.chunks_exact(2)) {
        let (before, after) = (pair[0].1, pair[1].1);
        if after.flush_operations < before.flush_operations
            || after.wr_operations < before.wr_operations
        {
            return Err(format!(
                "QEMU's counts went backwards between marks {} and {}",
                pair[0].0, pair[1].0
            ));
        }
        row.host = Some(after.since(before));
    }
    Ok(())
}

/// fio's job on `directory` with `jobs` jobs: each writes its own 1 MiB file (laid out
/// by fio with fallocate) in 128-byte blocks, fdatasync after each write, for `seconds`.
fn fio_args(directory: &str, seconds: u64, jobs: u32) -> Vec<String> {
    vec![
        "--name=store".to_string(),
        format!("--directory={directory}"),
        "--rw=write".into(),
        format!("--bs={FIO_BLOCK}"),
        format!("--size={FIO_FILE_SIZE}"),
        "--ioengine=sync".into(),
        "--fdatasync=1".into(),
        "--time_based".into(),
        format!("--runtime={seconds}"),
        format!("--numjobs={jobs}"),
        "--group_reporting".into(),
        "--percentile_list=50:99:99.9".into(),
    ]
}

/// The Linux VM's script: mount the ext4 disk; per row, lay the files out (`create_only`,
/// then `sync`) before the first barrier, so that the counts between the barriers are the
/// timed run's; fio's JSON is printed on one line.
fn linux_script(seconds: u64) -> String {
    // The job count is the last word: `job I --numjobs=J`. A function keeps the script
    // short: it travels base64-encoded on the kernel command line (2 KiB at most).
    let common = fio_args("/mnt", seconds, 1);
    let common: Vec<&String> = common
        .iter()
        .filter(|a| !a.starts_with("--numjobs="))
        .collect();
    let mut script = format!(
        "echo none > /sys/block/vda/queue/scheduler\n\
         mkdir -p /mnt && mount -t ext4 /dev/vda /mnt || exit 9\n\
         job() {{ i=$1; shift; set -- {} \"$@\"; \
         fio \"$@\" --create_only=1 >/dev/null || exit 8; sync; barrier start-$i; \
         fio \"$@\" --output-format=json | tr -d '\\n'; echo; barrier end-$i; }}\n",
        common
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    );
    for (i, jobs) in FIO_JOBS.iter().enumerate() {
        let _ = writeln!(script, "job {i} --numjobs={jobs}");
    }
    script.push_str("umount /mnt\n");
    script
}

/// Both fio rows in one Linux boot.
fn run_linux(vm: &LinuxVm, script: &str, words: &[String], seconds: u64) -> Column {
    let job_limit = Duration::from_secs(seconds + 90);
    let jobs =
        baseline::run_linux_jobs(vm, LINUX_MEM_MIB, script, FIO_JOBS.len(), words, job_limit);
    jobs.into_iter()
        .zip(FIO_JOBS)
        .map(|(job, n)| {
            let job = job?;
            let json = job
                .lines
                .iter()
                .find(|l| l.contains("\"fio version\""))
                .ok_or_else(|| format!("fio printed no JSON:\n{}", job.lines.join("\n")))?;
            let mut row = parse_fio_json(json, n, "fdatasync=1, ext4")?;
            row.host = Some(job.host);
            Ok(row)
        })
        .collect()
}

/// The same fio rows on the host, in a fresh directory under `target/`.
fn run_native(dir: &Path, seconds: u64) -> Column {
    FIO_JOBS
        .iter()
        .map(|&jobs| {
            let _ = std::fs::remove_dir_all(dir);
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let args = fio_args(&dir.to_string_lossy(), seconds, jobs);
            let fio = |extra: &str| {
                Command::new("timeout")
                    .arg((seconds + 60).to_string())
                    .arg("fio")
                    .args(&args)
                    .arg(extra)
                    .output()
                    .map_err(|e| format!("cannot run fio: {e}"))
            };
            let layout = fio("--create_only=1")?;
            if !layout.status.success() {
                return Err(format!(
                    "fio --create_only=1 failed ({}): {}",
                    layout.status,
                    String::from_utf8_lossy(&layout.stderr)
                ));
            }
            let out = fio("--output-format=json")?;
            let text = String::from_utf8_lossy(&out.stdout);
            let result = parse_fio_json(&text, jobs, "fdatasync=1, host fs");
            let _ = std::fs::remove_dir_all(dir);
            result.map_err(|e| {
                format!(
                    "{e} ({}; {})",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )
            })
        })
        .collect()
}

/// fio's JSON output (one group, `group_reporting`): writes done, their rate, the write
/// calls' completion latency and the fdatasync latency percentiles. Text before the first
/// `{` (a warning) is skipped.
fn parse_fio_json(text: &str, jobs: u32, mode: &str) -> Result<Row, String> {
    let start = text
        .find('{')
        .ok_or_else(|| format!("no fio JSON in: {text}"))?;
    let json = Json::parse(text[start..].trim_end())?;
    let job = json
        .get("jobs")
        .and_then(|j| j.items().first())
        .ok_or("fio JSON without jobs")?;
    let number = |value: Option<&Json>, what: &str| match value {
        Some(Json::Number(n)) => Ok(*n),
        _ => Err(format!("fio JSON without {what}")),
    };
    let error = number(job.get("error"), "error")?;
    if error != 0.0 {
        return Err(format!("fio reported error {error}"));
    }
    let write = job.get("write").ok_or("fio JSON without write")?;
    let ops = number(write.get("total_ios"), "write.total_ios")? as u64;
    let runtime_ms = number(write.get("runtime"), "write.runtime")?;
    let rate = number(write.get("iops"), "write.iops")?;
    // ns -> µs.
    let percentiles = |lat: Option<&Json>| -> Option<[f64; 3]> {
        let p = lat?.get("percentile")?;
        let at = |key: &str| match p.get(key) {
            Some(Json::Number(ns)) => Some(ns / 1e3),
            _ => None,
        };
        Some([at("50.000000")?, at("99.000000")?, at("99.900000")?])
    };
    let sync = percentiles(job.get("sync").and_then(|s| s.get("lat_ns")));
    Ok(Row {
        what: format!(
            "write+fdatasync, {jobs} job{}",
            if jobs == 1 { "" } else { "s" }
        ),
        mode: mode.to_string(),
        name: "fio".into(),
        ops,
        seconds: runtime_ms / 1e3,
        rate,
        latency: sync.map(|l| (l, "fdatasync")),
        write_clat: percentiles(write.get("clat_ns")),
        host: None,
        guest_flushes: None,
        kind: None,
    })
}

/// The results table, then what it rests on.
fn table(ours: &Column, linux: &Column, native: &Column) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<7} {:<33} {:<20} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9} {:<9} {:>7} {:>9} {:>7}",
        "system",
        "workload",
        "mode",
        "ops",
        "s",
        "ops/s",
        "p50 us",
        "p99 us",
        "p99.9 us",
        "lat of",
        "flushes",
        "ops/flush",
        "guest"
    );
    for (system, column) in [("ours", ours), ("linux", linux), ("native", native)] {
        let rows = match column {
            Ok(rows) => rows,
            Err(e) => {
                let _ = writeln!(
                    out,
                    "{system:<7} no result: {}",
                    e.lines().next().unwrap_or("")
                );
                continue;
            }
        };
        for row in rows {
            let (lat, of) = match row.latency {
                Some((l, of)) => (l.map(|v| format!("{v:.0}")), of),
                None => (["-".to_string(), "-".into(), "-".into()], "-"),
            };
            let flushes = row
                .host
                .map_or("-".into(), |h| h.flush_operations.to_string());
            let per_flush = match (row.kind, row.ops_per_host_flush()) {
                (Some(PhaseKind::Get), _) | (_, None) => "-".into(),
                (_, Some(v)) => format!("{v:.1}"),
            };
            let guest = row.guest_flushes.map_or("-".into(), |g| g.to_string());
            let _ = writeln!(
                out,
                "{system:<7} {:<33} {:<20} {:>7} {:>6.2} {:>9.0} {:>9} {:>9} {:>9} {:<9} {:>7} {:>9} {:>7}",
                row.what,
                row.mode,
                row.ops,
                row.seconds,
                row.rate,
                lat[0],
                lat[1],
                lat[2],
                of,
                flushes,
                per_flush,
                guest
            );
        }
    }
    let _ = writeln!(
        out,
        "\nflushes: QEMU's flush_operations for the drive over the phase (native: not counted); \
         guest: flushes storectl counted itself. ops/s: storectl's rate, fio's write IOPS \
         (each write followed by fdatasync)."
    );
    let _ = writeln!(
        out,
        "details: QEMU write requests and bytes per phase; guest phase names; fio write clat"
    );
    for (system, column) in [("ours", ours), ("linux", linux), ("native", native)] {
        let Ok(rows) = column else { continue };
        for row in rows {
            let host = row.host.map_or("-".to_string(), |h| {
                format!(
                    "wr {} ({} failed), {} bytes, rd {}, flush {}",
                    h.wr_operations,
                    h.failed_wr_operations,
                    h.wr_bytes,
                    h.rd_operations,
                    h.flush_operations
                )
            });
            let clat = row.write_clat.map_or(String::new(), |c| {
                format!(
                    "; write clat p50/p99/p99.9 {:.0}/{:.0}/{:.0} us",
                    c[0], c[1], c[2]
                )
            });
            let _ = writeln!(
                out,
                "  {system:<7} {:<33} phase {:<18} qemu: {host}{clat}",
                row.what, row.name
            );
        }
    }
    out
}

/// The ratios the issue asks for, each beside its target (a target, not a test).
fn summary(ours: &Column, linux: &Column) -> String {
    let mut out = String::from("\nratios (targets from issue 9; informational, not asserted):\n");
    let find = |column: &Column, pick: &dyn Fn(&Row) -> bool| -> Option<Row> {
        column.as_ref().ok()?.iter().find(|r| pick(r)).cloned()
    };
    let ours_many = find(ours, &|r| r.kind == Some(PhaseKind::PutMany));
    let ours_compacting = find(ours, &|r| r.kind == Some(PhaseKind::PutDuringCompaction));
    let linux_many = find(linux, &|r| r.what.ends_with(&format!("{WRITERS} jobs")));
    let verdict = |met: bool| if met { "met" } else { "missed" };
    match (&ours_many, &linux_many) {
        (Some(o), Some(l)) if l.rate > 0.0 => {
            let ratio = o.rate / l.rate;
            let _ = writeln!(
                out,
                "  ours {WRITERS}-writer {} puts/s / linux {WRITERS}-job fdatasync writes/s: \
                 {:.0} / {:.0} = {ratio:.2}x   (target >= {TARGET_SPEEDUP}x: {})",
                o.mode,
                o.rate,
                l.rate,
                verdict(ratio >= TARGET_SPEEDUP)
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "  ours/linux {WRITERS}-writer durable rate: - (a side has no result)"
            );
        }
    }
    match ours_many
        .as_ref()
        .and_then(|o| Some((o, o.ops_per_host_flush()?)))
    {
        Some((o, per)) => {
            let _ = writeln!(
                out,
                "  ours {WRITERS}-writer puts per QEMU-counted flush: {} / {} = {per:.1}   \
                 (target >= {TARGET_PUTS_PER_FLUSH}: {}); guest counted {} flushes",
                o.ops,
                o.host.map_or(0, |h| h.flush_operations),
                verdict(per >= TARGET_PUTS_PER_FLUSH),
                o.guest_flushes.unwrap_or(0)
            );
        }
        None => {
            let _ = writeln!(out, "  ours puts per QEMU-counted flush: -");
        }
    }
    if let Some(per) = linux_many.as_ref().and_then(Row::ops_per_host_flush) {
        let _ = writeln!(
            out,
            "  linux {WRITERS}-job writes per QEMU-counted flush: {per:.2} (for comparison)"
        );
    }
    match ours_compacting.as_ref().and_then(|o| o.latency) {
        Some((lat, _)) => {
            let ms = lat[2] / 1e3;
            let _ = writeln!(
                out,
                "  ours p99.9 put latency during compaction ({WRITERS} writers): {ms:.1} ms   \
                 (target < {TARGET_COMPACTION_P999_MS} ms under TCG: {})",
                verdict(ms < TARGET_COMPACTION_P999_MS)
            );
        }
        None => {
            let _ = writeln!(out, "  ours p99.9 put latency during compaction: -");
        }
    }
    out
}

#[cfg(test)]
mod tests;
