//! What the disk benchmarks (`blk`, `store`) share for their baselines: the disk file, the
//! unikernel's device words handed to the Linux microVM ([`crate::linuxvm`]), and one
//! Linux run whose jobs sit between barriers, with QEMU's own counts (QMP
//! `query-blockstats`, through [`super::session`]) read at each barrier.

use super::session::{self, BlockStats, Step};
use crate::linuxvm::{self, LinuxVm};
use crate::qemu;
use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The host's 1-minute load average, for the reader to judge the noise.
pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Writes the disk file with pseudo-random bytes (every block allocated, none zero-filled
/// by the file system) and checks that it takes O_DIRECT, which `cache=none` needs.
pub(super) fn prepare_disk(path: &Path, mib: u64) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    const O_DIRECT: i32 = 0o40000; // x86_64 Linux
    let shown = qemu::display_path(path);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut file = std::fs::File::create(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut chunk = vec![0u8; 1 << 20];
    for _ in 0..mib {
        for word in chunk.chunks_exact_mut(8) {
            // xorshift64: never zero.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        file.write_all(&chunk)
            .map_err(|e| format!("{shown}: {e}"))?;
    }
    file.sync_all().map_err(|e| format!("{shown}: {e}"))?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if meta.blocks() * 512 < mib << 20 {
        return Err(format!(
            "{shown}: only {} bytes allocated: sparse",
            meta.blocks() * 512
        ));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_DIRECT)
        .open(path)
        .map_err(|e| {
            format!("{shown}: the file system does not take O_DIRECT ({e}); cache=none needs it")
        })?;
    Ok(())
}

/// Puts an ext4 file system on `disk` with every inode table and the journal written now:
/// no lazy initialisation in the VM's background while the benchmark runs.
pub(super) fn make_ext4(disk: &Path) -> Result<(), String> {
    let mke2fs = crate::diskfrom::find_mke2fs()
        .map_err(|_| "this benchmark needs mke2fs: apt-get install -y e2fsprogs".to_string())?;
    let out = Command::new(&mke2fs)
        .args(["-q", "-F", "-t", "ext4"])
        .args(["-E", "lazy_itable_init=0,lazy_journal_init=0"])
        .arg(disk)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", mke2fs.display()))?;
    if !out.status.success() {
        return Err(format!(
            "mke2fs {}: {}",
            disk.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// The words the Linux VM takes from the unikernel's command: `-cpu`, every `-global`
/// (the virtio-mmio version), and the disk's `-drive` and `-device`.
pub(super) fn shared_words(cmd: &Command) -> Vec<String> {
    option_pairs(cmd, |option, value| match option {
        "-cpu" | "-global" | "-drive" => true,
        "-device" => !value.starts_with("isa-debug-exit"),
        _ => false,
    })
}

/// The `OPTION VALUE` pairs of `cmd` that `take` picks, in order.
pub(super) fn option_pairs(cmd: &Command, take: impl Fn(&str, &str) -> bool) -> Vec<String> {
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut out = Vec::new();
    for pair in args.windows(2) {
        if take(&pair[0], &pair[1]) {
            out.extend(pair.iter().cloned());
        }
    }
    out
}

/// `words` and a QMP server on `socket`.
pub(super) fn with_qmp(words: &[String], socket: &Path) -> Vec<String> {
    words
        .iter()
        .cloned()
        .chain(session::qmp_args(socket))
        .collect()
}

/// The drive id QEMU gives the one disk (the `device` of `query-blockstats`).
pub(super) fn drive() -> String {
    qemu::drive_id(0)
}

/// What one job of a Linux run printed and what QEMU counted for the disk meanwhile.
#[derive(Clone, Debug)]
pub(super) struct LinuxJob {
    /// Console lines between the job's two barriers.
    pub lines: Vec<String>,
    /// QEMU's counts between the barriers.
    pub host: BlockStats,
}

/// A Linux run: `script`, whose job `i` (0..`jobs`) sits between `barrier start-i` and
/// `barrier end-i`, in `vm` with `mem_mib` MiB and `qemu_words` (devices, `-cpu`, ...; a
/// QMP socket is added). Each job gets `job_limit` on top of the boot. A job's result
/// counts only if the script ended with status 0. A boot that hangs (seen now and then
/// under TCG) is tried once more.
pub(super) fn run_linux_jobs(
    vm: &LinuxVm,
    mem_mib: u32,
    script: &str,
    jobs: usize,
    qemu_words: &[String],
    job_limit: Duration,
) -> Vec<Result<LinuxJob, String>> {
    const BOOT_LIMIT: Duration = Duration::from_secs(90);
    let mut attempt = 1;
    loop {
        match run_linux_once(vm, mem_mib, script, jobs, qemu_words, job_limit, BOOT_LIMIT) {
            Err(e) if e.boot_hung && attempt < 2 => {
                eprintln!(
                    "linuxvm: no first barrier within {} s (a hung boot); trying once more",
                    BOOT_LIMIT.as_secs()
                );
                attempt += 1;
            }
            Err(e) => return vec![Err(e.message); jobs],
            Ok(results) => return results,
        }
    }
}

/// Why a Linux run gave no results.
struct LinuxFailure {
    message: String,
    /// It never reached its first barrier.
    boot_hung: bool,
}

fn run_linux_once(
    vm: &LinuxVm,
    mem_mib: u32,
    script: &str,
    jobs: usize,
    qemu_words: &[String],
    job_limit: Duration,
    boot_limit: Duration,
) -> Result<Vec<Result<LinuxJob, String>>, LinuxFailure> {
    let fail = |message: String, boot_hung| LinuxFailure { message, boot_hung };
    let socket = session::qmp_socket_path("linux");
    let cmd = vm
        .command(mem_mib, script, &with_qmp(qemu_words, &socket))
        .map_err(|e| fail(e, false))?;
    let mut before = vec![BlockStats::default(); jobs];
    let mut done: Vec<Option<LinuxJob>> = vec![None; jobs];
    let mut lines = Vec::new();
    let first_barrier = format!("{}start-0", linuxvm::BARRIER_PREFIX);
    let limits = session::Limits {
        total: boot_limit + job_limit * jobs as u32,
        ready: Some((&first_barrier, boot_limit)),
    };
    let outcome = session::run(cmd, &socket, limits, |line, qmp| {
        let Some(name) = line.strip_prefix(linuxvm::BARRIER_PREFIX) else {
            lines.push(line.to_string());
            return Ok(Step::Continue);
        };
        let stats = qmp.block_stats(&drive())?;
        let index = |prefix| name.strip_prefix(prefix)?.parse::<usize>().ok();
        if let Some(i) = index("start-").filter(|&i| i < jobs) {
            before[i] = stats;
            lines.clear();
        } else if let Some(i) = index("end-").filter(|&i| i < jobs) {
            done[i] = Some(LinuxJob {
                lines: std::mem::take(&mut lines),
                host: stats.since(before[i]),
            });
        }
        Ok(Step::Reply("go".into()))
    })
    .map_err(|e| fail(e, false))?;
    let exit = format!("{}0", linuxvm::EXIT_PREFIX);
    let ended_well = !outcome.timed_out && outcome.lines.contains(&exit);
    let why = || {
        format!(
            "Linux run {} (QEMU {:?}):\n{}",
            if outcome.timed_out {
                "timed out"
            } else {
                "failed"
            },
            outcome.status,
            outcome.console()
        )
    };
    if !outcome.lines.contains(&first_barrier) {
        return Err(fail(why(), outcome.timed_out));
    }
    Ok(done
        .into_iter()
        .map(|job| job.filter(|_| ended_well).ok_or_else(why))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_gets_the_unikernels_device_words() {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args([
            "-M",
            "microvm,acpi=off",
            "-global",
            "virtio-mmio.force-legacy=off",
        ])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .args(["-accel", "tcg", "-cpu", "max", "-kernel", "k.elf"])
        .args([
            "-drive",
            "file=d.img,format=raw,if=none,id=vd0,cache=none,aio=native",
        ])
        .args(["-device", "virtio-blk-device,drive=vd0"]);
        assert_eq!(
            shared_words(&cmd),
            [
                "-global",
                "virtio-mmio.force-legacy=off",
                "-cpu",
                "max",
                "-drive",
                "file=d.img,format=raw,if=none,id=vd0,cache=none,aio=native",
                "-device",
                "virtio-blk-device,drive=vd0"
            ]
        );
    }
}
