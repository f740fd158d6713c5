//! `bench tcp`: TCP throughput from the host into the guest and back (Gbit/s), ours
//! (`apps/netcheck sink` / `source`) beside `socat` in the Linux microVM doing the same, both
//! on the same tap in one network namespace under the same QEMU options ([`super::net`]).
//!
//! One host-side tool measures every guest: this benchmark's own client ([`client`], run
//! inside the namespace as `boot bench tcp-client`), which times a whole transfer from
//! before `connect` to the guest's close:
//! - host->guest: it writes N bytes in 64 KiB writes, half-closes, and reads until the guest
//!   closes. netcheck's sink replies with the count it read (checked); socat (`-u ...
//!   OPEN:/dev/null`) closes after reading to the end.
//! - guest->host: the guest sends N bytes and closes (netcheck `source PORT N`; socat `-U
//!   ... OPEN:/dev/zero,readbytes=N`); the client reads to the end and checks the count.
//!
//! Transfers are interleaved (one boot per target and direction per run). Linux does not
//! boot under this host's `kvm_pvm`, so the KVM row is ours alone. A second Linux row runs
//! with its NIC limited to what ours negotiates ([`NO_OFFLOADS`]: no checksum offload, no
//! TSO/GSO, no mergeable receive buffers), to show what the offloads are worth.

use super::net;
use crate::image::{self, Profile};
use crate::linuxvm::LinuxVm;
use crate::netns::{self, Netns};
use crate::qemu::{self, Accel, NetSpec, RunConfig};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type Failure = String;

/// The guests' sink and source ports.
const SINK_PORT: u16 = 5001;
const SOURCE_PORT: u16 = 5002;
/// Ours' guest memory.
const OURS_MEM_MIB: u32 = 64;
/// The client's reads and writes.
const CHUNK: usize = 64 * 1024;
/// A transfer that makes no progress for this long fails (socket timeouts in the client).
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// Bound on one client run (it is also killed by `timeout` then).
const CLIENT_LIMIT_SECS: u64 = 600;
/// The KVM rows move this fraction of the TCG rows' bytes: under this host's `kvm_pvm` the
/// guest's ring-0 code is emulated instruction by instruction, about 400 times slower
/// (measured: 16 MiB took 58 s host->guest and 87 s guest->host).
const KVM_SHARE: u64 = 64;

/// virtio-net properties that take away the features ours does not negotiate (virtio-drivers
/// 0.13 offers MAC, STATUS, EVENT_IDX, INDIRECT_DESC and VERSION_1 only): checksum offload
/// both ways, TSO/UFO/ECN both ways, GSO, mergeable receive buffers.
const NO_OFFLOADS: &str = "csum=off,guest_csum=off,gso=off,guest_tso4=off,guest_tso6=off,\
guest_ecn=off,guest_ufo=off,host_tso4=off,host_tso6=off,host_ecn=off,host_ufo=off,mrg_rxbuf=off";

/// `shared` with [`NO_OFFLOADS`] added to the NIC's `-device`.
fn without_offloads(shared: &[String]) -> Vec<String> {
    shared
        .iter()
        .map(|w| {
            if w.starts_with("virtio-net") {
                format!("{w},{NO_OFFLOADS}")
            } else {
                w.clone()
            }
        })
        .collect()
}

/// A direction of transfer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// The host writes, the guest reads (its sink).
    HostToGuest,
    /// The guest writes (its source), the host reads.
    GuestToHost,
}

impl Direction {
    fn label(self) -> &'static str {
        match self {
            Self::HostToGuest => "host->guest",
            Self::GuestToHost => "guest->host",
        }
    }

    /// The client's word for it.
    fn op(self) -> &'static str {
        match self {
            Self::HostToGuest => "sink",
            Self::GuestToHost => "source",
        }
    }

    fn port(self) -> u16 {
        match self {
            Self::HostToGuest => SINK_PORT,
            Self::GuestToHost => SOURCE_PORT,
        }
    }
}

const DIRECTIONS: [Direction; 2] = [Direction::HostToGuest, Direction::GuestToHost];

/// One transfer as the client saw it.
#[derive(Clone, Debug, PartialEq)]
struct Transfer {
    bytes: u64,
    elapsed: Duration,
    /// What the guest sent back after a sink transfer (ours: its count), trimmed.
    reply: String,
}

impl Transfer {
    fn gbits(&self) -> f64 {
        self.bytes as f64 * 8.0 / self.elapsed.as_secs_f64().max(1e-9) / 1e9
    }

    /// The client's result line: `tcp-client: op=sink bytes=N elapsed_ns=T reply=R`.
    fn line(&self, direction: Direction) -> String {
        let reply = if self.reply.is_empty() {
            "-"
        } else {
            &self.reply
        };
        format!(
            "tcp-client: op={} bytes={} elapsed_ns={} reply={reply}",
            direction.op(),
            self.bytes,
            self.elapsed.as_nanos()
        )
    }

    fn parse(line: &str) -> Result<Self, String> {
        let f = super::fields::Fields::parse(line, "tcp-client: ", "tcp-client")?;
        let get = |key: &str| f.get(key);
        let number = |key: &str| f.number(key);
        Ok(Self {
            bytes: number("bytes")?,
            elapsed: Duration::from_nanos(number("elapsed_ns")?),
            reply: match get("reply")? {
                "-" => String::new(),
                reply => reply.to_string(),
            },
        })
    }
}

/// `bench tcp-client sink|source ADDR BYTES`: one transfer, timed; prints its result line.
/// The host-side tool of `bench tcp`, which runs it inside its namespace.
pub(super) fn client(args: &[String]) -> Result<u8, String> {
    let usage = || "usage: bench tcp-client sink|source ADDR:PORT BYTES".to_string();
    let [op, addr, bytes] = args else {
        return Err(usage());
    };
    let direction = match op.as_str() {
        "sink" => Direction::HostToGuest,
        "source" => Direction::GuestToHost,
        _ => return Err(usage()),
    };
    let addr: SocketAddr = addr.parse().map_err(|_| usage())?;
    let bytes: u64 = bytes.parse().map_err(|_| usage())?;
    let transfer = transfer(direction, addr, bytes)?;
    println!("{}", transfer.line(direction));
    Ok(0)
}

/// Connects (retrying while the server is not listening yet, up to 10 s) and moves the
/// bytes; the time runs from before the first connect attempt's success to the guest's
/// close.
fn transfer(direction: Direction, addr: SocketAddr, bytes: u64) -> Result<Transfer, String> {
    let give_up = Instant::now() + Duration::from_secs(10);
    let (mut stream, start) = loop {
        let start = Instant::now();
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => break (stream, start),
            Err(_) if Instant::now() < give_up => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => return Err(format!("connect {addr}: {e}")),
        }
    };
    let io = |what: &str, e: std::io::Error| format!("{what} {addr}: {e}");
    stream
        .set_read_timeout(Some(STALL_LIMIT))
        .and_then(|()| stream.set_write_timeout(Some(STALL_LIMIT)))
        .map_err(|e| io("socket options", e))?;
    let mut buf = vec![0x5au8; CHUNK];
    match direction {
        Direction::HostToGuest => {
            let mut left = bytes;
            while left > 0 {
                let n = left.min(CHUNK as u64) as usize;
                stream
                    .write_all(&buf[..n])
                    .map_err(|e| io(&format!("write (after {} bytes) to", bytes - left), e))?;
                left -= n as u64;
            }
            stream
                .shutdown(Shutdown::Write)
                .map_err(|e| io("shutdown", e))?;
            let mut reply = Vec::new();
            stream
                .read_to_end(&mut reply)
                .map_err(|e| io("read the reply from", e))?;
            Ok(Transfer {
                bytes,
                elapsed: start.elapsed(),
                reply: String::from_utf8_lossy(&reply).trim().to_string(),
            })
        }
        Direction::GuestToHost => {
            let mut got = 0u64;
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got += n as u64,
                    Err(e) => return Err(io(&format!("read (after {got} bytes) from"), e)),
                }
            }
            Ok(Transfer {
                bytes: got,
                elapsed: start.elapsed(),
                reply: String::new(),
            })
        }
    }
}

/// The client as a command inside the namespace, bounded by `timeout`.
fn client_command(netns: &Netns, direction: Direction, bytes: u64) -> Result<Command, String> {
    let exe = std::env::current_exe().map_err(|e| format!("where is this program? {e}"))?;
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", &CLIENT_LIMIT_SECS.to_string()])
        .arg(exe)
        .args(["bench", "tcp-client", direction.op()])
        .arg(format!("{}:{}", netns::TAP_GUEST.addr, direction.port()))
        .arg(bytes.to_string());
    Ok(netns.wrap(&cmd))
}

/// Runs one transfer with the client and checks the count (and, for `expect_reply`,
/// the guest's reply).
fn run_client(
    netns: &Netns,
    direction: Direction,
    bytes: u64,
    expect_reply: bool,
) -> Result<Transfer, String> {
    let out = client_command(netns, direction, bytes)?
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run the client: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("tcp-client: "))
        .ok_or_else(|| {
            format!(
                "the client failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })?;
    let transfer = Transfer::parse(line)?;
    if transfer.bytes != bytes {
        return Err(format!(
            "{} bytes arrived, {bytes} were sent",
            transfer.bytes
        ));
    }
    if direction == Direction::HostToGuest {
        let wanted = if expect_reply {
            bytes.to_string()
        } else {
            String::new()
        };
        if transfer.reply != wanted {
            return Err(format!(
                "the guest replied {:?} after the transfer, not {wanted:?}",
                transfer.reply
            ));
        }
    }
    Ok(transfer)
}

/// A row of the results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    OursTcg,
    Linux,
    /// Linux with its NIC's offloads off ([`NO_OFFLOADS`]).
    LinuxNoOffloads,
    OursKvm,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Self::OursTcg => "ours-tcg",
            Self::Linux => "linux-tcg",
            Self::LinuxNoOffloads => "linux-nooff",
            Self::OursKvm => "ours-kvm",
        }
    }
}

/// Per target and direction, every run's transfer or why there is none.
type Results = Vec<(Target, [Vec<Result<Transfer, String>>; 2])>;

/// Entry from `bench tcp [--runs N] [--mib N]`.
pub(super) fn tcp(runs: usize, mib: u64) -> Result<u8, Failure> {
    let bytes = mib << 20;
    let kvm_bytes = (bytes / KVM_SHARE).max(1 << 20);
    let netns = net::bench_netns()?;
    let vm = net::network_vm();
    let load_start = net::load_average();
    let netcheck = image::build("netcheck", Profile::Release)
        .map(|i| i.path)
        .map_err(|e| format!("apps/netcheck did not build: {e}"));
    let bytes_for = |accel| {
        if accel == Accel::Kvm {
            kvm_bytes
        } else {
            bytes
        }
    };
    let config = |accel, direction: Direction| {
        let kernel = netcheck.clone().unwrap_or_else(|_| "netcheck.elf".into());
        let mut config = RunConfig::new(kernel);
        config.accel = accel;
        config.mem_mib = OURS_MEM_MIB;
        config.net = Some(NetSpec::tap(netns.name(), net::TAP));
        config.app_args = vec![direction.op().into(), direction.port().to_string()];
        if direction == Direction::GuestToHost {
            config.app_args.push(bytes_for(accel).to_string());
        }
        config.timeout = Some(Duration::from_secs(CLIENT_LIMIT_SECS + 120));
        config
    };
    let kvm = qemu::kvm_usable();
    let shared = net::shared_words(&config(Accel::Tcg, Direction::HostToGuest).command());
    let shared_no_offloads = without_offloads(&shared);
    let script = linux_script(bytes);

    println!(
        "tcp benchmark: {mib} MiB per transfer, {runs} transfers per direction and target, \
         interleaved (one boot each); Gbit/s = 10^9 bit/s"
    );
    println!(
        "  host-side tool (every guest): this benchmark's own client (Rust std::net, {} KiB \
         reads and writes, timed from connect to the guest's close), run inside namespace {}:",
        CHUNK / 1024,
        netns.name()
    );
    for direction in DIRECTIONS {
        println!(
            "    {}",
            qemu::shell_words(&client_command(&netns, direction, bytes)?)
        );
    }
    println!(
        "  guests: ours netcheck sink {SINK_PORT} (replies with its count, checked) / source \
         {SOURCE_PORT} {bytes}; Linux: socat, as in the script below"
    );
    if kvm {
        println!(
            "  kvm rows: {} MiB per transfer{}; Linux does not boot under it (the KVM rows are \
             ours alone)",
            kvm_bytes >> 20,
            if qemu::kvm_is_pvm() {
                " (kvm_pvm here emulates this guest's ring-0 code instruction by instruction: \
                 hundreds of times slower than TCG)"
            } else {
                ""
            }
        );
    }
    for direction in DIRECTIONS {
        println!(
            "ours ({}, TCG):\n  {}",
            direction.label(),
            qemu::shell_words(&config(Accel::Tcg, direction).command())
        );
    }
    if kvm {
        println!(
            "ours (KVM: the same with -accel kvm -cpu host,-arch-capabilities):\n  {}",
            qemu::shell_words(&config(Accel::Kvm, Direction::HostToGuest).command())
        );
    }
    match &vm {
        Ok(vm) => {
            let cmd = net::linux_command(vm, &netns, &shared, &script, "linux")?;
            println!(
                "linux ({}; TCG):\n  {}",
                vm.kernel_package,
                qemu::shell_words(&cmd)
            );
            println!("linux script (base64 in linuxvm.script=):");
            for line in script.lines() {
                println!("  | {line}");
            }
            println!(
                "linux-nooff: the same with the NIC's offloads off (as ours: none negotiated):\n  \
                 -device {}",
                shared_no_offloads
                    .iter()
                    .find(|w| w.starts_with("virtio-net"))
                    .map_or("?", String::as_str)
            );
        }
        Err(e) => println!("linux: no VM: {e}"),
    }

    let mut targets = vec![Target::OursTcg, Target::Linux, Target::LinuxNoOffloads];
    if kvm {
        targets.push(Target::OursKvm);
    }
    let mut results: Results = targets
        .iter()
        .map(|&t| (t, [Vec::new(), Vec::new()]))
        .collect();
    for round in 1..=runs {
        for (target, columns) in &mut results {
            let transfers: [Result<Transfer, String>; 2] = match *target {
                Target::OursTcg | Target::OursKvm => {
                    let accel = if *target == Target::OursKvm {
                        Accel::Kvm
                    } else {
                        Accel::Tcg
                    };
                    DIRECTIONS.map(|direction| match &netcheck {
                        Ok(_) => run_ours(
                            &config(accel, direction),
                            &netns,
                            direction,
                            bytes_for(accel),
                        ),
                        Err(e) => Err(e.clone()),
                    })
                }
                Target::Linux | Target::LinuxNoOffloads => match &vm {
                    Ok(vm) => {
                        let words = if *target == Target::Linux {
                            &shared
                        } else {
                            &shared_no_offloads
                        };
                        run_linux(vm, &netns, words, &script, bytes)
                    }
                    Err(e) => [Err(e.clone()), Err(e.clone())],
                },
            };
            for (i, transfer) in transfers.into_iter().enumerate() {
                let head = format!(
                    "run {round} {:<11} {}",
                    target.name(),
                    DIRECTIONS[i].label()
                );
                match &transfer {
                    Ok(t) => println!(
                        "{head} {:>7} Gbit/s ({} MiB in {:.2} s)",
                        gbits_text(t.gbits()),
                        t.bytes >> 20,
                        t.elapsed.as_secs_f64()
                    ),
                    Err(e) => println!("{head} FAILED: {e}"),
                }
                columns[i].push(transfer);
            }
        }
    }
    print!("{}", table(&results));
    println!(
        "host load average at start: {load_start}; at end: {}",
        net::load_average()
    );
    let failed = results
        .iter()
        .any(|(_, columns)| columns.iter().flatten().any(Result::is_err));
    Ok(u8::from(failed))
}

/// The Linux VM's script: a socat sink and a socat source, then the `ready` barrier (the
/// client retries its connect while they start listening).
fn linux_script(bytes: u64) -> String {
    format!(
        "{}socat -u -b {CHUNK} TCP-LISTEN:{SINK_PORT},reuseaddr,fork OPEN:/dev/null &\n\
         socat -U -b {CHUNK} TCP-LISTEN:{SOURCE_PORT},reuseaddr,fork OPEN:/dev/zero,readbytes={bytes} &\n\
         barrier ready\n",
        net::linux_net_setup()
    )
}

/// One boot of ours serving one direction, one transfer, then QEMU is stopped.
fn run_ours(
    config: &RunConfig,
    netns: &Netns,
    direction: Direction,
    bytes: u64,
) -> Result<Transfer, String> {
    let ready = format!("netcheck: {} on port {}", direction.op(), direction.port());
    let guest = net::spawn_ours(config, &ready, Duration::from_secs(60))?;
    let transfer = run_client(netns, direction, bytes, true);
    let survived = guest.is_running();
    let outcome = guest.stop();
    let console = || net::tail(&outcome.console, 15);
    if !survived {
        return Err(format!(
            "the guest ended during the transfer ({:?}, status {}); console tail:\n{}",
            outcome.meaning,
            outcome.status,
            console()
        ));
    }
    transfer.map_err(|e| format!("{e}\n  console tail:\n{}", console()))
}

/// One boot of the Linux VM: both directions at the `ready` barrier.
fn run_linux(
    vm: &LinuxVm,
    netns: &Netns,
    shared: &[String],
    script: &str,
    bytes: u64,
) -> [Result<Transfer, String>; 2] {
    let limit = Duration::from_secs(2 * CLIENT_LIMIT_SECS);
    match net::run_linux(vm, netns, shared, script, limit, || {
        DIRECTIONS.map(|direction| run_client(netns, direction, bytes, false))
    }) {
        Ok(transfers) => transfers,
        Err(e) => [Err(e.clone()), Err(e)],
    }
}

/// Gbit/s with three decimals, or five below 0.01 (the KVM rows).
fn gbits_text(gbits: f64) -> String {
    if gbits < 0.01 {
        format!("{gbits:.5}")
    } else {
        format!("{gbits:.3}")
    }
}

/// Medians per target and direction, ours/linux under TCG (against Linux as it is and
/// against Linux without offloads), and the target.
fn table(results: &Results) -> String {
    type Medians = [(Option<f64>, usize, usize); 2];
    let medians = |columns: &[Vec<Result<Transfer, String>>; 2]| -> Medians {
        columns.clone().map(|runs| {
            let values: Vec<f64> = runs.iter().flatten().map(Transfer::gbits).collect();
            (net::median(&values), values.len(), runs.len())
        })
    };
    let of = |target| {
        results
            .iter()
            .find(|(t, _)| *t == target)
            .map(|(_, c)| medians(c))
    };
    let (ours, linux, nooff) = (
        of(Target::OursTcg),
        of(Target::Linux),
        of(Target::LinuxNoOffloads),
    );
    let ratio = |i: usize, base: &Option<Medians>| match (
        ours.as_ref().and_then(|m| m[i].0),
        base.as_ref().and_then(|m| m[i].0),
    ) {
        (Some(o), Some(b)) if b > 0.0 => Some(o / b),
        _ => None,
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<11} {:<12} {:>6} {:>14} {:>11} {:>17}",
        "target", "direction", "ok", "Gbit/s median", "ours/linux", "ours/linux-nooff"
    );
    for (target, columns) in results {
        for (i, (median, ok, all)) in medians(columns).into_iter().enumerate() {
            let show = |r: Option<f64>| r.map_or("-".into(), |r| format!("{r:.2}x"));
            let (vs_linux, vs_nooff) = if *target == Target::OursTcg {
                (show(ratio(i, &linux)), show(ratio(i, &nooff)))
            } else {
                ("-".into(), "-".into())
            };
            let _ = writeln!(
                out,
                "{:<11} {:<12} {:>6} {:>14} {vs_linux:>11} {vs_nooff:>17}",
                target.name(),
                DIRECTIONS[i].label(),
                format!("{ok}/{all}"),
                median.map_or("-".into(), gbits_text),
            );
        }
    }
    let _ = writeln!(
        out,
        "(linux-nooff: the Linux VM with its NIC limited to the features ours negotiates)\ntargets:"
    );
    for (i, direction) in DIRECTIONS.into_iter().enumerate() {
        let value = |m: &Option<Medians>| m.as_ref().and_then(|m| m[i].0);
        let _ = match (value(&ours), value(&linux)) {
            (Some(o), Some(l)) => writeln!(
                out,
                "  TCP {} >= the Linux microVM's (TCG): {} vs {} Gbit/s: {}{}",
                direction.label(),
                gbits_text(o),
                gbits_text(l),
                if o >= l { "met" } else { "NOT met" },
                value(&nooff).map_or(String::new(), |n| format!(
                    " (Linux without offloads: {} Gbit/s)",
                    gbits_text(n)
                ))
            ),
            _ => writeln!(out, "  TCP {}: no ratio", direction.label()),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_line_round_trip() {
        let t = Transfer {
            bytes: 64 << 20,
            elapsed: Duration::from_millis(2500),
            reply: "67108864".into(),
        };
        let line = t.line(Direction::HostToGuest);
        assert_eq!(
            line,
            "tcp-client: op=sink bytes=67108864 elapsed_ns=2500000000 reply=67108864"
        );
        assert_eq!(Transfer::parse(&line).unwrap(), t);
        assert!((t.gbits() - 0.214_748_364_8).abs() < 1e-9);
        let none = Transfer {
            reply: String::new(),
            ..t
        };
        assert_eq!(
            Transfer::parse(&none.line(Direction::GuestToHost)).unwrap(),
            none
        );
        assert!(Transfer::parse("tcp-client: op=sink bytes=x").is_err());
    }

    #[test]
    fn client_moves_bytes_both_ways_on_loopback() {
        use std::net::TcpListener;
        let bytes = 3 * CHUNK as u64 + 17;
        // A sink that replies with its count, as netcheck's does.
        let sink = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = sink.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = sink.accept().unwrap();
            let mut all = Vec::new();
            s.read_to_end(&mut all).unwrap();
            s.write_all(format!("{}\n", all.len()).as_bytes()).unwrap();
        });
        let t = transfer(Direction::HostToGuest, addr, bytes).unwrap();
        server.join().unwrap();
        assert_eq!(
            (t.bytes, t.reply.as_str()),
            (bytes, bytes.to_string().as_str())
        );
        // A source.
        let source = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = source.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = source.accept().unwrap();
            s.write_all(&vec![7u8; bytes as usize]).unwrap();
        });
        let t = transfer(Direction::GuestToHost, addr, bytes).unwrap();
        server.join().unwrap();
        assert_eq!(t.bytes, bytes);
    }

    #[test]
    fn linux_script_fits_and_has_both_servers() {
        let script = linux_script(256 << 20);
        assert!(script.contains("TCP-LISTEN:5001,reuseaddr,fork OPEN:/dev/null &"));
        assert!(script.contains("OPEN:/dev/zero,readbytes=268435456 &"));
        assert!(script.ends_with("barrier ready\n"));
        assert!(script.len() < 600, "{}", script.len());
    }

    #[test]
    fn table_ratios_for_tcg() {
        let ok = |gbit_ms: u64| {
            Ok(Transfer {
                bytes: 125_000_000,
                elapsed: Duration::from_millis(gbit_ms),
                reply: String::new(),
            })
        };
        // 125 MB in 1000 ms = 1 Gbit/s.
        let results: Results = vec![
            (Target::OursTcg, [vec![ok(2000), ok(2000)], vec![ok(1000)]]),
            (Target::Linux, [vec![ok(1000)], vec![Err("x".into())]]),
            (Target::LinuxNoOffloads, [vec![ok(4000)], vec![ok(4000)]]),
        ];
        let text = table(&results);
        let ours = text
            .lines()
            .find(|l| l.starts_with("ours-tcg    host->guest"))
            .unwrap();
        assert!(ours.contains("0.50x") && ours.contains("2.00x"), "{text}");
        assert!(text.contains("0/1"), "{text}");
        assert!(
            text.contains(
                "host->guest >= the Linux microVM's (TCG): 0.500 vs 1.000 Gbit/s: NOT met \
                 (Linux without offloads: 0.250 Gbit/s)"
            ),
            "{text}"
        );
        assert!(text.contains("guest->host: no ratio"), "{text}");
        assert_eq!(gbits_text(0.0021), "0.00210");
    }

    #[test]
    fn offloads_off_on_the_nic_only() {
        let shared: Vec<String> = ["-cpu", "max", "-device", "virtio-net-device,netdev=n0"]
            .map(String::from)
            .into();
        let words = without_offloads(&shared);
        assert_eq!(words[..3], shared[..3]);
        assert_eq!(
            words[3],
            format!("virtio-net-device,netdev=n0,{NO_OFFLOADS}")
        );
        assert!(NO_OFFLOADS.contains("csum=off,") && NO_OFFLOADS.ends_with("mrg_rxbuf=off"));
    }
}
