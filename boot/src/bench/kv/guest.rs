//! Booting one guest of the kv benchmark ([`super`]) and loading it: kv or the Linux VM
//! under [`session::run`] (QMP for QEMU's disk counts), redis-benchmark run at each pipeline
//! depth once the guest says it serves and answers PING; a Linux boot that hangs is tried
//! once more. Also the redis-cli helpers the native run shares.

use super::{
    BOOT_LIMIT, KV_SERVING, MEM_MIB, PING_LIMIT, PIPELINES, PORT, Persistence, Row, Served, System,
    linux_script, redis_benchmark,
};
use crate::bench::baseline::{drive, with_qmp};
use crate::bench::net;
use crate::bench::session::{self, BlockStats, Step};
use crate::linuxvm::{self, LinuxVm};
use crate::netns::{self, Netns};
use crate::qemu::RunConfig;
use kernel::exit_status::{QemuOutcome, decode_qemu_status};
use redis_benchmark::Output;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one boot's loads gave: redis-benchmark's output and QEMU's disk counts per run.
type Runs = Vec<(Output, Option<BlockStats>)>;

/// The Linux VM's command for `script`, inside the namespace, with a QMP socket.
pub(super) fn linux_command(
    vm: &LinuxVm,
    netns: &Netns,
    words: &[String],
    script: &str,
    tag: &str,
) -> Result<Command, String> {
    let socket = session::qmp_socket_path(tag);
    Ok(netns.wrap(&vm.command(MEM_MIB, script, &with_qmp(words, &socket))?))
}

/// What the shell in front of kv's QEMU prints first ([`kv_command`]).
const STARTING: &str = "kv-bench: starting QEMU (paused)";

/// One boot of kv serving both pipeline depths.
pub(super) fn run_kv(
    config: &RunConfig,
    netns: &Netns,
    persistence: Persistence,
    requests: u64,
) -> Result<Served, String> {
    config.check()?;
    let socket = session::qmp_socket_path("kv");
    let guest = Guest {
        system: System::Kv,
        persistence,
        ready: KV_SERVING,
    };
    guest
        .serve(kv_command(config, &socket), &socket, netns, requests)?
        .map_err(|e| e.message)
}

/// kv's QEMU command with a QMP server on `socket`, started paused (`-S`) behind a shell
/// that first prints [`STARTING`]. The host connects QMP at the first console line and
/// resumes the guest there (`cont`): a kv that refuses its command line and ends at once
/// cannot take QEMU away before the QMP handshake, and its every line reaches the report.
pub(super) fn kv_command(config: &RunConfig, socket: &Path) -> Command {
    let mut config = config.clone();
    config.extra_args.extend(session::qmp_args(socket));
    config.extra_args.push("-S".into());
    let qemu = config.command();
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &format!("echo '{STARTING}' && exec \"$@\""), "sh"])
        .arg(qemu.get_program())
        .args(qemu.get_args());
    cmd
}

/// One boot of the Linux VM serving both pipeline depths; a boot that hangs is tried once
/// more.
pub(super) fn run_linux(
    vm: &LinuxVm,
    netns: &Netns,
    words: &[String],
    persistence: Persistence,
    requests: u64,
) -> Result<Served, String> {
    let ready = format!("{}ready", linuxvm::BARRIER_PREFIX);
    let guest = Guest {
        system: System::Linux,
        persistence,
        ready: &ready,
    };
    let script = linux_script(persistence);
    for attempt in 1..=2 {
        let tag = format!("linux-{attempt}");
        let cmd = linux_command(vm, netns, words, &script, &tag)?;
        match guest.serve(cmd, &session::qmp_socket_path(&tag), netns, requests)? {
            Err(e) if e.hung && attempt == 1 => eprintln!(
                "linuxvm: not ready within {} s (a hung boot); trying once more",
                BOOT_LIMIT.as_secs()
            ),
            result => return result.map_err(|e| e.message),
        }
    }
    unreachable!("the loop returns on its second attempt")
}

/// A guest to boot and load.
struct Guest<'a> {
    /// kv or Linux (Redis, which is asked for its persistence configuration).
    system: System,
    /// Durable: it has a disk whose counts QEMU keeps.
    persistence: Persistence,
    /// The start of the console line that says it serves.
    ready: &'a str,
}

/// Why a boot gave no rows.
struct NotServed {
    message: String,
    /// It never said it served, within [`BOOT_LIMIT`].
    hung: bool,
}

impl Guest<'_> {
    /// Boots `cmd` (with a QMP server on `socket`); once the guest serves, runs
    /// redis-benchmark at each pipeline depth with QEMU's counts read around each run, then
    /// stops QEMU. The outer error is a QMP failure; the inner one a guest that never served.
    fn serve(
        &self,
        cmd: Command,
        socket: &Path,
        netns: &Netns,
        requests: u64,
    ) -> Result<Result<Served, NotServed>, String> {
        let host = netns::TAP_GUEST.addr.to_string();
        let disk = self.persistence == Persistence::Durable;
        let mut rows: Option<Result<Runs, String>> = None;
        let mut said = String::new();
        let limits = session::Limits {
            total: BOOT_LIMIT
                + PING_LIMIT
                + redis_benchmark::time_limit(requests) * PIPELINES.len() as u32,
            ready: Some((self.ready, BOOT_LIMIT)),
        };
        let transcript = session::run(cmd, socket, limits, |line, qmp| {
            if line == STARTING {
                qmp.execute("cont")?;
                return Ok(Step::Continue);
            }
            if !line.starts_with(self.ready) {
                return Ok(Step::Continue);
            }
            if let Err(e) = wait_for_pong(&|| netns.wrap(&redis_cli(&host, PORT))) {
                rows = Some(Err(e));
                return Ok(Step::Stop);
            }
            said = if self.system == System::Linux {
                redis_config(netns.wrap(&redis_cli(&host, PORT)))
            } else {
                line.trim().to_string()
            };
            let mut runs = Vec::new();
            for pipeline in PIPELINES {
                let before = disk.then(|| qmp.block_stats(&drive())).transpose()?;
                let cmd = redis_benchmark::command(&host, PORT, requests, pipeline);
                let out = redis_benchmark::run(netns.wrap(&cmd));
                let after = disk.then(|| qmp.block_stats(&drive())).transpose()?;
                let counts = before.zip(after).map(|(b, a)| a.since(b));
                runs.push((out, counts));
            }
            rows = Some(Ok(runs));
            Ok(Step::Stop)
        })?;
        let console = transcript.console();
        let tail = net::tail(&console, 12);
        let Some(rows) = rows else {
            return Ok(Err(NotServed {
                message: format!(
                    "{} {} before it served; console: {}",
                    match self.system {
                        System::Kv => "kv",
                        _ => "the Linux VM",
                    },
                    ending(&transcript, self.ready),
                    last_lines(&console.replace(STARTING, ""), 4)
                ),
                hung: transcript.timed_out,
            }));
        };
        let rows = rows.map_err(|e| format!("{e}; console tail:\n{tail}"));
        Ok(rows
            .map(|runs| Served {
                rows: PIPELINES
                    .iter()
                    .zip(runs)
                    .map(|(&pipeline, (out, host))| Row {
                        system: self.system,
                        persistence: self.persistence,
                        pipeline,
                        console_tail: if out.problem.is_some() {
                            tail.clone()
                        } else {
                            String::new()
                        },
                        result: Ok(out),
                        host,
                    })
                    .collect(),
                said,
            })
            .map_err(|message| NotServed {
                message,
                hung: false,
            }))
    }
}

/// How a run that never served ended.
fn ending(transcript: &session::Transcript, ready: &str) -> String {
    if transcript.timed_out {
        return format!("printed no {ready:?} within {} s", BOOT_LIMIT.as_secs());
    }
    match transcript.status.and_then(|s| s.code()) {
        Some(code) => match decode_qemu_status(code) {
            QemuOutcome::Guest(status) => format!("ended with status {status}"),
            QemuOutcome::Reset => {
                "ended (QEMU status 0: powered off, or stopped by a signal)".into()
            }
            QemuOutcome::QemuError(code) => format!("did not run (QEMU failed, status {code})"),
        },
        None => "was killed".into(),
    }
}

/// The last `n` non-empty lines of `text`, on one line.
pub(super) fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let shown = lines[lines.len().saturating_sub(n)..].join(" | ");
    if shown.is_empty() {
        "(empty)".into()
    } else {
        shown
    }
}

/// `redis-cli -h HOST -p PORT`, to which a command's words are added.
pub(super) fn redis_cli(host: &str, port: u16) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["10", "redis-cli", "-h", host, "-p", &port.to_string()]);
    cmd
}

/// Waits until the server answers PING (`cli` makes a redis-cli command).
pub(super) fn wait_for_pong(cli: &dyn Fn() -> Command) -> Result<(), String> {
    let deadline = Instant::now() + PING_LIMIT;
    let mut last;
    loop {
        let out = cli().arg("ping").stdin(Stdio::null()).output();
        match out {
            Ok(out) if String::from_utf8_lossy(&out.stdout).trim() == "PONG" => return Ok(()),
            Ok(out) => {
                last = format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout).trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
            Err(e) => last = format!("cannot run redis-cli: {e}"),
        }
        if Instant::now() > deadline {
            return Err(format!(
                "no PONG within {} s (last: {last})",
                PING_LIMIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Redis's persistence settings as it reports them (`CONFIG GET`), on one line.
pub(super) fn redis_config(mut cli: Command) -> String {
    let out = cli
        .args(["config", "get", "appendonly", "appendfsync", "save", "dir"])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => {
            format!(
                "CONFIG GET: {}",
                config_pairs(&String::from_utf8_lossy(&out.stdout))
            )
        }
        Ok(out) => format!(
            "CONFIG GET failed: {}",
            last_lines(&String::from_utf8_lossy(&out.stderr), 2)
        ),
        Err(e) => format!("CONFIG GET: cannot run redis-cli: {e}"),
    }
}

/// redis-cli's CONFIG GET reply (name and value on alternate lines) as `name=value ...`,
/// sorted by name; an empty value shows as `''`.
pub(super) fn config_pairs(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut pairs: Vec<String> = lines
        .chunks(2)
        .map(|pair| {
            let value = pair.get(1).copied().unwrap_or("");
            let value = if value.is_empty() { "''" } else { value };
            format!("{}={value}", pair[0])
        })
        .collect();
    pairs.sort();
    pairs.join(" ")
}
