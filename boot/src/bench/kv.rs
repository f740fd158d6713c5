//! `bench kv`: `apps/kv` under `redis-benchmark -t set,get,incr,lpush,lpop -c 50`, at `-P 1`
//! and `-P 16`, beside Debian's redis-server 7.0 in a Linux microVM under the same QEMU and
//! natively on 127.0.0.1, in one run; each guest both without persistence and durable.
//!
//! Fair by construction: both guests run under TCG (Linux does not boot under this host's
//! `kvm_pvm`) with the same `-m`, `-cpu`, virtio-mmio version and NIC on one tap device in a
//! network namespace ([`super::net`]), and redis-benchmark runs inside that namespace. The
//! Linux VM takes those words from kv's own QEMU command. Without persistence kv has no
//! disk and Redis runs with `--save '' --appendonly no`. Durable: kv gets a disk
//! (`--persistence durable`) and Redis `--appendonly yes --appendfsync always` on ext4 on a
//! disk of its own, attached with kv's `-drive` and `-device` words (`cache=none,aio=native`);
//! each disk is a raw file in `target/bench/`, fully written first. QEMU counts the flushes
//! (QMP `query-blockstats`, read before and after each redis-benchmark run, as `bench store`
//! does). One boot per system and mode serves both pipeline depths.
//!
//! redis-server is redis-tools' `redis-check-rdb` called `redis-server`: Debian's
//! redis-server package is only that symlink (and a service, which is why the package is not
//! installed). A row that fails (a boot, a refused command line) says why and the others
//! still run. [`redis_benchmark`] runs the load and reads its output.

use super::baseline::{load_average, make_ext4, option_pairs, prepare_disk};
use super::net;
use super::session::{self, BlockStats};
use crate::image::{self, Profile};
use crate::linuxvm::{Contents, LinuxVm};
use crate::netns;
use crate::qemu::{self, Accel, CacheMode, DiskSpec, NetSpec, RunConfig};
use guest::{kv_command, linux_command, run_kv, run_linux};
use redis_benchmark::{Output, TESTS};
use report::{details, ratios, row_summary, table};
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod guest;
mod native;
mod redis_benchmark;
mod report;
#[cfg(test)]
mod tests;

type Failure = String;

/// The port every server listens on (native: a free one).
const PORT: u16 = 6379;
/// Guest memory of both VMs.
const MEM_MIB: u32 = 256;
/// Size of each disk file.
const DISK_MIB: u64 = 256;
/// redis-benchmark's `-P` values, one row each.
const PIPELINES: [u32; 2] = [1, 16];
/// How long a boot may take to serve (a Linux boot that hangs, seen now and then under
/// TCG, is tried once more).
const BOOT_LIMIT: Duration = Duration::from_secs(90);
/// How long a server that says it serves may take to answer PING.
const PING_LIMIT: Duration = Duration::from_secs(30);
/// kv's line once it listens: `kv: serving on redis://IP:PORT ...`.
const KV_SERVING: &str = "kv: serving";
/// Redis's persistence options per mode (also natively).
const REDIS_NONE: &str = "--save '' --appendonly no";
const REDIS_DURABLE: &str = "--save '' --appendonly yes --appendfsync always";

/// Who serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum System {
    Kv,
    Linux,
    Native,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            Self::Kv => "kv",
            Self::Linux => "linux",
            Self::Native => "native",
        }
    }
}

/// What an acknowledged write means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Persistence {
    /// In memory only.
    None,
    /// On disk and flushed before the reply.
    Durable,
}

impl Persistence {
    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Durable => "durable",
        }
    }
}

/// The mode column: the persistence mode and how each system gets it.
fn mode_text(system: System, persistence: Persistence) -> &'static str {
    match (system, persistence) {
        (System::Kv, Persistence::None) => "none (no disk)",
        (System::Kv, Persistence::Durable) => "durable (--persistence durable)",
        (_, Persistence::None) => "none (--save '' --appendonly no)",
        (_, Persistence::Durable) => "durable (AOF, fsync always, ext4)",
    }
}

/// One row of the table: one redis-benchmark run.
#[derive(Clone, Debug)]
struct Row {
    system: System,
    persistence: Persistence,
    pipeline: u32,
    /// redis-benchmark's results, or why there are none.
    result: Result<Output, String>,
    /// QEMU's counts for the disk over the run (a VM with a disk).
    host: Option<BlockStats>,
    /// The guest console's tail, when the run has a problem.
    console_tail: String,
}

impl Row {
    /// Requests the run completed (every finished test's count) per flush QEMU counted.
    fn requests_per_flush(&self, requests: u64) -> Option<f64> {
        let flushes = self.host?.flush_operations;
        let done = self.result.as_ref().ok()?.rates.len() as u64 * requests;
        (flushes > 0).then(|| done as f64 / flushes as f64)
    }
}

/// What one boot (or the native server) gave: a row per pipeline depth, and what the
/// server said about its mode.
struct Served {
    rows: Vec<Row>,
    said: String,
}

/// Entry from `bench kv [--requests N]`.
pub(super) fn kv(requests: u64) -> Result<u8, Failure> {
    let started = Instant::now();
    let bench_dir = image::workspace_root().join("target/bench");
    let kv_disk = bench_dir.join("kv-disk.img");
    let linux_disk = bench_dir.join("kv-ext4.img");
    prepare_disk(&kv_disk, DISK_MIB)?;
    blank_head(&kv_disk)?;
    prepare_disk(&linux_disk, DISK_MIB)?;
    make_ext4(&linux_disk)?;
    let redis = native::RedisServer::find(&bench_dir.join("kv-native"))?;
    let netns = net::bench_netns()?;
    let vm = LinuxVm::build_with(&Contents {
        placed: vec![(redis.binary.clone(), "/usr/bin/redis-server".into())],
        modules: vec!["crc32c_generic".into(), "ext4".into()],
        ..Contents::default()
    });
    let load_start = load_average();
    // Without kv (a broken build), the baselines still run.
    let kv = image::build("kv", Profile::Release)
        .map(|i| i.path)
        .map_err(|e| format!("apps/kv did not build: {e}"));
    let kernel = kv
        .clone()
        .unwrap_or_else(|_| image::guest_target_dir().join("kv (not built)"));
    let kv_none = kv_config(&kernel, netns.name(), None);
    let kv_durable = kv_config(&kernel, netns.name(), Some(&kv_disk));
    let linux_words = |persistence| {
        let disk = (persistence == Persistence::Durable).then_some(linux_disk.as_path());
        linux_words(&kv_config(&kernel, netns.name(), disk).command())
    };

    print_header(requests, &redis);
    let socket = session::qmp_socket_path("kv");
    println!(
        "kv, none (TCG; QEMU starts paused, resumed over QMP once the host is connected):\n  {}",
        qemu::shell_words(&kv_command(&kv_none, &socket))
    );
    println!(
        "kv, durable (TCG; {} fully written, its first MiB zeroed: a blank disk):\n  {}",
        qemu::display_path(&kv_disk),
        qemu::shell_words(&kv_command(&kv_durable, &socket))
    );
    match &vm {
        Ok(vm) => {
            for persistence in [Persistence::None, Persistence::Durable] {
                let script = linux_script(persistence);
                let cmd = linux_command(vm, &netns, &linux_words(persistence), &script, "linux-1")?;
                println!(
                    "linux, {} ({}; TCG):\n  {}",
                    persistence.name(),
                    vm.kernel_package,
                    qemu::shell_words(&cmd)
                );
                println!("  script (base64 in linuxvm.script=):");
                for line in script.lines() {
                    println!("  | {line}");
                }
            }
        }
        Err(e) => println!("linux: no VM: {e}"),
    }
    println!(
        "native: {} --port PORT --bind 127.0.0.1 {REDIS_NONE} (a free port, a folder in {})",
        qemu::display_path(&redis.link),
        qemu::display_path(&bench_dir)
    );
    println!(
        "load: {} (inside the namespace; natively against 127.0.0.1)",
        qemu::shell_words(&netns.wrap(&redis_benchmark::command(
            &netns::TAP_GUEST.addr.to_string(),
            PORT,
            requests,
            PIPELINES[0]
        )))
    );

    let mut rows = Vec::new();
    let mut said = Vec::new();
    for persistence in [Persistence::None, Persistence::Durable] {
        let config = match persistence {
            Persistence::None => &kv_none,
            Persistence::Durable => &kv_durable,
        };
        let served = kv
            .clone()
            .and_then(|_| run_kv(config, &netns, persistence, requests));
        collect(System::Kv, persistence, served, &mut rows, &mut said);
        let served = vm.clone().and_then(|vm| {
            run_linux(
                &vm,
                &netns,
                &linux_words(persistence),
                persistence,
                requests,
            )
        });
        collect(System::Linux, persistence, served, &mut rows, &mut said);
    }
    let served = redis.serve(requests);
    collect(
        System::Native,
        Persistence::None,
        served,
        &mut rows,
        &mut said,
    );

    print!("{}", table(&rows, requests));
    print!("{}", ratios(&rows));
    print!("{}", details(&rows, &said));
    println!(
        "host load average at start: {load_start}; at end: {}; the run took {:.0} s",
        load_average(),
        started.elapsed().as_secs_f64()
    );
    let whole = rows
        .iter()
        .all(|r| r.result.as_ref().is_ok_and(|o| o.problem.is_none()));
    Ok(u8::from(!whole))
}

fn print_header(requests: u64, redis: &native::RedisServer) {
    let kvm_note = if qemu::kvm_usable() && qemu::kvm_is_pvm() {
        "; /dev/kvm here is kvm_pvm, under which Linux does not boot"
    } else {
        ""
    };
    println!(
        "kv benchmark: redis-benchmark -t {} -n {requests} -c {} at -P {}, one boot per \
         system and persistence mode",
        TESTS.join(",").to_ascii_lowercase(),
        redis_benchmark::CLIENTS,
        PIPELINES.map(|p| p.to_string()).join(" and -P ")
    );
    println!(
        "  accelerator: TCG for both guests (the Linux baseline runs under TCG only{kvm_note}); \
         1 vCPU, -m {MEM_MIB} each"
    );
    println!("  redis: {}", redis.describe());
    println!(
        "  network: tap {} in a namespace of its own (host {}, guest {}), same MAC for both \
         guests; redis-benchmark runs inside the namespace",
        net::TAP,
        netns::TAP_HOST,
        netns::TAP_GUEST
    );
    println!(
        "  durable: kv --persistence durable on a {DISK_MIB} MiB disk; Redis {REDIS_DURABLE} \
         on ext4 on a {DISK_MIB} MiB disk with kv's -drive options; flushes counted by QEMU \
         (QMP query-blockstats, read around each redis-benchmark run)"
    );
}

/// Adds what one boot gave to the rows (a failed boot gives a failed row per pipeline
/// depth, and says so at once).
fn collect(
    system: System,
    persistence: Persistence,
    served: Result<Served, String>,
    rows: &mut Vec<Row>,
    said: &mut Vec<String>,
) {
    let label = format!("{} {}", system.name(), persistence.name());
    match served {
        Ok(served) => {
            for row in &served.rows {
                println!("{label} -P {}: {}", row.pipeline, row_summary(row));
            }
            if !served.said.is_empty() {
                said.push(format!("{label}: {}", served.said));
            }
            rows.extend(served.rows);
        }
        Err(why) => {
            println!("{label}: failed: {why}");
            rows.extend(PIPELINES.map(|pipeline| Row {
                system,
                persistence,
                pipeline,
                result: Err(why.clone()),
                host: None,
                console_tail: String::new(),
            }));
        }
    }
}

/// kv's QEMU configuration: TCG, [`MEM_MIB`], a NIC on the namespace's tap, and for the
/// durable mode `disk` with `--persistence durable` (`cache=none,aio=native`, as `bench
/// blk` and `bench store` measure disks).
fn kv_config(kernel: &Path, netns: &str, disk: Option<&Path>) -> RunConfig {
    let mut config = RunConfig::new(kernel);
    config.accel = Accel::Tcg;
    config.mem_mib = MEM_MIB;
    config.net = Some(NetSpec::tap(netns, net::TAP));
    config.app_args = vec!["--port".into(), PORT.to_string()];
    if let Some(disk) = disk {
        config.disks = vec![DiskSpec {
            path: disk.to_path_buf(),
            read_only: false,
            cache: CacheMode::None,
        }];
        config.app_args.extend([
            "--persistence".into(),
            "durable".into(),
            "--disk".into(),
            "vda".into(),
        ]);
    }
    config
}

/// The words the Linux VM takes from kv's QEMU command: `-cpu`, every `-global` (the
/// virtio-mmio version), the `-netdev` and NIC (same tap, same MAC), and the disk's
/// `-drive` and `-device` when there is one.
fn linux_words(kv_command: &Command) -> Vec<String> {
    option_pairs(kv_command, |option, value| match option {
        "-cpu" | "-global" | "-netdev" | "-drive" => true,
        "-device" => value.starts_with("virtio-net") || value.starts_with("virtio-blk"),
        _ => false,
    })
}

/// The Linux VM's script: its address, Redis's recommended overcommit setting, for the
/// durable mode the ext4 disk mounted at `/data` (no I/O scheduler, as kv has none), then
/// redis-server in the background and `barrier ready`, where the host runs its load.
fn linux_script(persistence: Persistence) -> String {
    let mut script = net::linux_net_setup();
    script.push_str("echo 1 > /proc/sys/vm/overcommit_memory\n");
    let (dir, options) = match persistence {
        Persistence::None => ("/tmp", REDIS_NONE),
        Persistence::Durable => {
            script.push_str(
                "echo none > /sys/block/vda/queue/scheduler\n\
                 mkdir -p /data && mount -t ext4 /dev/vda /data || exit 9\n",
            );
            ("/data", REDIS_DURABLE)
        }
    };
    let _ = writeln!(
        script,
        "redis-server --port {PORT} --protected-mode no {options} --dir {dir} --logfile '' \
         --loglevel warning &"
    );
    script.push_str("barrier ready\n");
    script
}

/// Zeroes the first MiB of `disk`: a store formats a disk only if it is blank there.
fn blank_head(disk: &Path) -> Result<(), String> {
    use std::io::{Seek, SeekFrom, Write};
    let shown = qemu::display_path(disk);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(disk)
        .map_err(|e| format!("{shown}: {e}"))?;
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.write_all(&vec![0u8; 1 << 20]))
        .and_then(|_| file.sync_all())
        .map_err(|e| format!("{shown}: {e}"))
}
