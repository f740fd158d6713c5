//! `bench http`: requests per second and latency of `apps/httpd` under `wrk`, beside Debian's
//! nginx in a Linux microVM under the same QEMU and beside the same nginx on the host, in
//! one run; then the least guest memory httpd serves in.
//!
//! Fair by construction: one page ([`PAGE`], nginx's classic 612-byte welcome page) for
//! everyone (ours reads it from an ext4 disk made with [`crate::diskfrom`], nginx from its
//! RAM file system); both guests on the same tap in one network namespace ([`super::net`]),
//! with the same `-cpu`, virtio-mmio version, NIC and MAC, under TCG, with `wrk` run inside
//! the namespace; nginx with one worker and no access log. Runs are interleaved (one boot per
//! target per run) so that drift in the host's load hits every target alike. Every response
//! is checked by a wrk Lua script ([`check_script`]): a run with a socket error, a non-2xx
//! status or a body that is not the page's length is void, not counted, and said so. Linux
//! does not boot under this host's `kvm_pvm`, so the KVM row is ours alone.

use super::net::{self, PAGE, PORT};
use crate::diskfrom;
use crate::image::{self, Profile};
use crate::linuxvm::LinuxVm;
use crate::netns::{self, Netns};
use crate::qemu::{self, Accel, DiskSpec, NetSpec, RunConfig};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

type Failure = String;

/// wrk's load: threads and connections.
const THREADS: u32 = 2;
const CONNECTIONS: u32 = 30;
/// Ours' guest memory for the throughput rows.
const OURS_MEM_MIB: u32 = 64;
/// `--mem` values tried, downward, for "guest memory needed".
const MEM_STEPS: [u32; 11] = [64, 32, 24, 16, 12, 10, 8, 6, 5, 4, 3];
/// Length of the wrk run at each memory step.
const MEM_PROBE_SECONDS: u64 = 5;
/// httpd's line once it listens and has its address.
const SERVING: &str = "httpd: serving";
/// How long a boot of ours may take to serve.
const OURS_READY_LIMIT: Duration = Duration::from_secs(60);

/// A column of the results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    OursTcg,
    Linux,
    OursKvm,
    Native,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Self::OursTcg => "ours-tcg",
            Self::Linux => "linux-tcg",
            Self::OursKvm => "ours-kvm",
            Self::Native => "native",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::OursTcg | Self::OursKvm => "httpd",
            Self::Linux => "nginx in the Linux microVM",
            Self::Native => "nginx on 127.0.0.1",
        }
    }
}

/// What wrk measured in one run: its own counts and the check script's.
#[derive(Clone, Debug, Default, PartialEq)]
struct WrkRun {
    requests: u64,
    duration_us: u64,
    /// wrk's socket errors.
    connect: u64,
    read: u64,
    write: u64,
    timeout: u64,
    /// wrk's count of statuses above 399.
    status: u64,
    /// The check script's counts over every response.
    responses: u64,
    non2xx: u64,
    wrong_length: u64,
    latency_mean_us: f64,
    latency_p99_us: u64,
    latency_max_us: u64,
    /// wrk's own report, and for ours the console's tail: shown when the run is void.
    detail: String,
}

impl WrkRun {
    /// Parses the check script's `wrk-check: key=value ...` line.
    fn parse(line: &str) -> Result<Self, String> {
        let f = super::fields::Fields::parse(line, "wrk-check: ", "wrk-check")?;
        let get = |key: &str| f.get(key);
        let number = |key: &str| f.number(key);
        Ok(Self {
            requests: number("requests")?,
            duration_us: number("duration_us")?,
            connect: number("connect")?,
            read: number("read")?,
            write: number("write")?,
            timeout: number("timeout")?,
            status: number("status")?,
            responses: number("responses")?,
            non2xx: number("non2xx")?,
            wrong_length: number("wrong_length")?,
            latency_mean_us: get("latency_mean_us")?
                .parse()
                .map_err(|_| format!("wrk-check: latency_mean_us is not a number: {line}"))?,
            latency_p99_us: number("latency_p99_us")?,
            latency_max_us: number("latency_max_us")?,
            detail: String::new(),
        })
    }

    fn rps(&self) -> f64 {
        self.requests as f64 * 1e6 / self.duration_us.max(1) as f64
    }

    /// Why this run does not count, if it does not.
    fn void_reason(&self) -> Option<String> {
        let mut why = Vec::new();
        let socket = self.connect + self.read + self.write + self.timeout;
        if socket > 0 {
            why.push(format!(
                "socket errors (connect {}, read {}, write {}, timeout {})",
                self.connect, self.read, self.write, self.timeout
            ));
        }
        if self.non2xx > 0 || self.status > 0 {
            why.push(format!(
                "{} non-2xx responses",
                self.non2xx.max(self.status)
            ));
        }
        if self.wrong_length > 0 {
            why.push(format!(
                "{} responses whose body is not {} bytes",
                self.wrong_length,
                PAGE.len()
            ));
        }
        if self.responses == 0 {
            why.push("no response at all".into());
        }
        (!why.is_empty()).then(|| why.join(", "))
    }

    fn summary(&self) -> String {
        format!(
            "{:>8.0} req/s  avg {:>7.2} ms  p99 {:>7.2} ms  max {:>7.1} ms  {} responses",
            self.rps(),
            self.latency_mean_us / 1e3,
            self.latency_p99_us as f64 / 1e3,
            self.latency_max_us as f64 / 1e3,
            self.responses
        )
    }
}

/// One run of one target: wrk's measure (valid or void), or why there is none.
type Run = Result<WrkRun, String>;

/// The wrk Lua script: every response must be 2xx with a body of `len` bytes; the counts,
/// wrk's own and latency go out in one `wrk-check:` line. (wrk counts only socket errors and
/// statuses above 399 by itself; defining `response` also makes it read every body.)
fn check_script(len: usize) -> String {
    format!(
        r#"-- bench http: count responses that are not 2xx or whose body is not {len} bytes.
local threads = {{}}
local want = {len}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  responses, non2xx, wrong_length = 0, 0, 0
end
function response(status, headers, body)
  responses = responses + 1
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if body == nil or #body ~= want then wrong_length = wrong_length + 1 end
end
function done(summary, latency, requests)
  local r, n, w = 0, 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("responses")
    n = n + t:get("non2xx")
    w = w + t:get("wrong_length")
  end
  local e = summary.errors
  io.write(string.format("wrk-check: requests=%d duration_us=%d connect=%d read=%d write=%d " ..
    "timeout=%d status=%d responses=%d non2xx=%d wrong_length=%d latency_mean_us=%.1f " ..
    "latency_p99_us=%d latency_max_us=%d\n", summary.requests, summary.duration, e.connect,
    e.read, e.write, e.timeout, e.status, r, n, w, latency.mean, latency:percentile(99),
    latency.max))
end
"#
    )
}

/// `wrk` against `url` for `seconds`, bounded by `timeout`.
fn wrk_command(url: &str, seconds: u64, script: &Path) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", &(seconds + 30).to_string(), "wrk"])
        .args(["-t", &THREADS.to_string(), "-c", &CONNECTIONS.to_string()])
        .args(["-d", &format!("{seconds}s"), "-s"])
        .arg(script)
        .arg(url);
    cmd
}

/// Runs a wrk command and reads its check line.
fn run_wrk(mut cmd: Command) -> Run {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("wrk-check: "))
        .ok_or_else(|| {
            format!(
                "wrk printed no result ({}):\n{}{}",
                out.status,
                net::tail(&stdout, 15),
                net::tail(&stderr, 10)
            )
        })?;
    let mut run = WrkRun::parse(line)?;
    run.detail = net::tail(stdout.trim_end(), 12);
    Ok(run)
}

/// The URL of either guest, from inside the namespace.
fn guest_url() -> String {
    format!("http://{}:{PORT}/", netns::TAP_GUEST.addr)
}

/// Entry from `bench http [--runs N] [--seconds N]`.
pub(super) fn http(runs: usize, seconds: u64) -> Result<u8, Failure> {
    let dir = image::workspace_root().join("target/bench/http");
    let site = dir.join("site");
    std::fs::create_dir_all(&site).map_err(|e| format!("{}: {e}", site.display()))?;
    std::fs::write(site.join("index.html"), PAGE).map_err(|e| e.to_string())?;
    let script = dir.join("check.lua");
    std::fs::write(&script, check_script(PAGE.len())).map_err(|e| e.to_string())?;
    let site_image = diskfrom::ext4_image_from_dir(&site)?;
    let netns = net::bench_netns()?;
    let vm = net::network_vm();
    let nginx = net::nginx_binary();
    let load_start = net::load_average();
    // Without httpd (not in the workspace yet, or a broken build), the baselines still run
    // and its rows say why they have no numbers.
    let httpd = image::build("httpd", Profile::Release)
        .map(|i| i.path)
        .map_err(|e| format!("apps/httpd did not build: {e}"));
    let config = |accel, mem_mib| {
        let kernel = httpd.clone().unwrap_or_else(|_| PathBuf::from("httpd.elf"));
        let mut config = RunConfig::new(kernel);
        config.accel = accel;
        config.mem_mib = mem_mib;
        config.disks = vec![DiskSpec::read_only(&site_image)];
        config.net = Some(NetSpec::tap(netns.name(), net::TAP));
        config.app_args = vec!["--port".into(), PORT.to_string()];
        config.timeout = Some(OURS_READY_LIMIT + Duration::from_secs(seconds + 60));
        config
    };
    let kvm = qemu::kvm_usable();
    let shared = net::shared_words(&config(Accel::Tcg, OURS_MEM_MIB).command());
    let linux_script = format!(
        "{}nginx -c {} || exit 1\nbarrier ready\n",
        net::linux_net_setup(),
        net::NGINX_CONF
    );

    println!(
        "http benchmark: wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s, {runs} runs per target, \
         interleaved (one boot per target per run); page: nginx's classic welcome page \
         ({} bytes)",
        PAGE.len()
    );
    println!(
        "  every response checked ({}): a run with any socket error, non-2xx status or body \
         length other than {} is void and not counted",
        qemu::display_path(&script),
        PAGE.len()
    );
    println!(
        "  network: tap {} in namespace {} (host {}, guest {}), wrk runs inside the namespace",
        net::TAP,
        netns.name(),
        netns::TAP_HOST,
        netns::TAP_GUEST
    );
    if kvm && qemu::kvm_is_pvm() {
        println!(
            "  kvm: kvm_pvm here: it emulates this guest's ring-0 code instruction by \
             instruction; Linux does not boot under it (the KVM row is ours alone)"
        );
    }
    println!(
        "ours (httpd, TCG; serves {} from an ext4 disk):\n  {}",
        qemu::display_path(&site_image),
        qemu::shell_words(&config(Accel::Tcg, OURS_MEM_MIB).command())
    );
    if kvm {
        println!(
            "ours (httpd, KVM):\n  {}",
            qemu::shell_words(&config(Accel::Kvm, OURS_MEM_MIB).command())
        );
    }
    match &vm {
        Ok(vm) => {
            let cmd = net::linux_command(vm, &netns, &shared, &linux_script, "linux")?;
            println!(
                "linux ({}; nginx from {}; TCG):\n  {}",
                vm.kernel_package,
                nginx.as_ref().map_or("?".into(), |p| qemu::display_path(p)),
                qemu::shell_words(&cmd)
            );
            println!("linux script (base64 in linuxvm.script=):");
            for line in linux_script.lines() {
                println!("  | {line}");
            }
            println!(
                "nginx configuration in the VM ({}; natively: listen 127.0.0.1:PORT, paths in a \
                 temporary folder):",
                net::NGINX_CONF
            );
            for line in net::nginx_conf(&PORT.to_string(), "/srv/www", "/tmp").lines() {
                println!("  | {line}");
            }
        }
        Err(e) => println!("linux: no VM: {e}"),
    }
    println!(
        "wrk: {}",
        qemu::shell_words(&netns.wrap(&wrk_command(&guest_url(), seconds, &script)))
    );

    let mut targets = vec![Target::OursTcg, Target::Linux];
    if kvm {
        targets.push(Target::OursKvm);
    }
    targets.push(Target::Native);
    let mut results: Vec<(Target, Vec<Run>)> = targets.iter().map(|&t| (t, Vec::new())).collect();
    for round in 1..=runs {
        for (target, column) in &mut results {
            let run = match *target {
                Target::OursTcg | Target::OursKvm => {
                    let accel = if *target == Target::OursKvm {
                        Accel::Kvm
                    } else {
                        Accel::Tcg
                    };
                    httpd.clone().and_then(|_| {
                        run_ours(&config(accel, OURS_MEM_MIB), &netns, seconds, &script)
                    })
                }
                Target::Linux => match &vm {
                    Ok(vm) => run_linux(vm, &netns, &shared, &linux_script, seconds, &script),
                    Err(e) => Err(e.clone()),
                },
                Target::Native => match &nginx {
                    Ok(nginx) => run_native(nginx, seconds, &script),
                    Err(e) => Err(e.clone()),
                },
            };
            print_run(round, *target, &run);
            column.push(run);
        }
    }

    print!("{}", table(&results));
    let memory = match &httpd {
        Ok(_) => memory_needed(&|mem| config(Accel::Tcg, mem), &netns, &script),
        Err(e) => MemoryNeeded {
            report: format!("guest memory needed: not measured: {e}\n"),
            smallest: None,
        },
    };
    print!("{}", memory.report);
    print!("{}", targets_met(&results, memory.smallest));
    println!(
        "host load average at start: {load_start}; at end: {}",
        net::load_average()
    );
    let failed = memory.smallest.is_none()
        || results
            .iter()
            .any(|(_, runs)| !runs.iter().any(|r| r.as_ref().is_ok_and(is_valid)));
    Ok(u8::from(failed))
}

fn is_valid(run: &WrkRun) -> bool {
    run.void_reason().is_none()
}

/// One line per run as it ends; a void or failed run with what explains it.
fn print_run(round: usize, target: Target, run: &Run) {
    let head = format!("run {round} {:<9}", target.name());
    match run {
        Ok(m) => match m.void_reason() {
            None => println!("{head} {}", m.summary()),
            Some(why) => println!(
                "{head} VOID ({why}), not counted: {}\n{}",
                m.summary(),
                m.detail
            ),
        },
        Err(e) => println!("{head} FAILED: {e}"),
    }
}

/// One boot of ours, one wrk run, then QEMU is stopped. A guest that ends during the run
/// fails it, with its console's tail; a void run carries the tail too.
fn run_ours(config: &RunConfig, netns: &Netns, seconds: u64, script: &Path) -> Run {
    let guest = net::spawn_ours(config, SERVING, OURS_READY_LIMIT)?;
    let measured = run_wrk(netns.wrap(&wrk_command(&guest_url(), seconds, script)));
    let survived = guest.is_running();
    let outcome = guest.stop();
    let console = net::tail(&outcome.console, 15);
    if !survived {
        return Err(format!(
            "the guest ended during the run ({:?}, status {}); console tail:\n{console}",
            outcome.meaning, outcome.status
        ));
    }
    let mut run = measured.map_err(|e| format!("{e}\n  console tail:\n{console}"))?;
    if run.void_reason().is_some() {
        run.detail = format!("{}\n  console tail:\n{console}", run.detail);
    }
    Ok(run)
}

/// One boot of the Linux VM: nginx starts, wrk runs at the `ready` barrier.
fn run_linux(
    vm: &LinuxVm,
    netns: &Netns,
    shared: &[String],
    linux_script: &str,
    seconds: u64,
    script: &Path,
) -> Run {
    let load_limit = Duration::from_secs(seconds + 40);
    net::run_linux(vm, netns, shared, linux_script, load_limit, || {
        run_wrk(netns.wrap(&wrk_command(&guest_url(), seconds, script)))
    })?
}

/// nginx on the host, listening on 127.0.0.1 only, for one wrk run; stopped after it.
fn run_native(nginx: &Path, seconds: u64, script: &Path) -> Run {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
        .port();
    let dir = std::env::temp_dir().join(format!("uk-bench-{}-nginx", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let result = run_native_in(nginx, &dir, port, seconds, script);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_native_in(nginx: &Path, dir: &Path, port: u16, seconds: u64, script: &Path) -> Run {
    let www = dir.join("www");
    let run_dir = dir.join("run");
    for d in [&www, &run_dir] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    std::fs::write(www.join("index.html"), PAGE).map_err(|e| e.to_string())?;
    let conf = dir.join("nginx.conf");
    let text = net::nginx_conf(
        &format!("127.0.0.1:{port}"),
        &www.to_string_lossy(),
        &run_dir.to_string_lossy(),
    );
    std::fs::write(&conf, text).map_err(|e| e.to_string())?;
    let log = dir.join("stderr.log");
    let stderr = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    // Bounded by `timeout` whatever happens here; stopped with SIGTERM (which `timeout`
    // passes on) after the run.
    let mut child = Command::new("timeout")
        .args(["-k", "5", &(seconds + 60).to_string()])
        .arg(nginx)
        .arg("-c")
        .arg(&conf)
        .args(["-g", "daemon off;"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("cannot start nginx: {e}"))?;
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(10);
    let listening = loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break true;
        }
        if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let url = format!("http://127.0.0.1:{port}/");
    let result = if listening {
        run_wrk(wrk_command(&url, seconds, script))
    } else {
        Err(format!(
            "nginx did not listen on 127.0.0.1:{port}:\n{}",
            net::tail(&log_text(), 10)
        ))
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let grace = Instant::now() + Duration::from_secs(5);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// The results: per target the valid runs' median req/s (with the range), median average
/// and p99 latency, and ours/linux under TCG.
fn table(results: &[(Target, Vec<Run>)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<36} {:>6} {:>10} {:>19} {:>8} {:>8} {:>11}",
        "target", "valid", "req/s", "(min - max)", "avg ms", "p99 ms", "ours/linux"
    );
    let medians = |runs: &[Run]| {
        let valid: Vec<&WrkRun> = runs
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|r| is_valid(r))
            .collect();
        let rps: Vec<f64> = valid.iter().map(|r| r.rps()).collect();
        let avg: Vec<f64> = valid.iter().map(|r| r.latency_mean_us / 1e3).collect();
        let p99: Vec<f64> = valid
            .iter()
            .map(|r| r.latency_p99_us as f64 / 1e3)
            .collect();
        (valid.len(), rps, avg, p99)
    };
    let linux_rps = results
        .iter()
        .find(|(t, _)| *t == Target::Linux)
        .and_then(|(_, runs)| net::median(&medians(runs).1));
    for (target, runs) in results {
        let (valid, rps, avg, p99) = medians(runs);
        let label = format!("{} ({})", target.name(), target.what());
        let median = net::median(&rps);
        let range = match (
            rps.iter().copied().reduce(f64::min),
            rps.iter().copied().reduce(f64::max),
        ) {
            (Some(lo), Some(hi)) => format!("({lo:.0} - {hi:.0})"),
            _ => "-".into(),
        };
        let show =
            |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
        let ratio = match (*target, median, linux_rps) {
            (Target::OursTcg, Some(ours), Some(linux)) if linux > 0.0 => {
                format!("{:.2}x", ours / linux)
            }
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "{label:<36} {:>6} {:>10} {range:>19} {:>8} {:>8} {ratio:>11}",
            format!("{valid}/{}", runs.len()),
            show(median, 0),
            show(net::median(&avg), 2),
            show(net::median(&p99), 2),
        );
    }
    let _ = writeln!(
        out,
        "(medians over the valid runs; latency: wrk's mean and 99th percentile per run)"
    );
    out
}

/// The search for the least guest memory: its report and the answer.
struct MemoryNeeded {
    report: String,
    smallest: Option<u32>,
}

/// Boots httpd with less and less memory ([`MEM_STEPS`]) under TCG, each time serving a
/// short wrk run; stops at the first step that fails or is void.
fn memory_needed(config: &dyn Fn(u32) -> RunConfig, netns: &Netns, script: &Path) -> MemoryNeeded {
    let mut report = format!(
        "\nguest memory needed: httpd under TCG, --mem stepping down, each a {MEM_PROBE_SECONDS} s \
         wrk -t{THREADS} -c{CONNECTIONS} run that must be error-free\n"
    );
    let mut smallest = None;
    for mem in MEM_STEPS {
        let config = config(mem);
        if let Err(e) = config.check() {
            let _ = writeln!(report, "  --mem {mem:>2}: not tried: {e}");
            break;
        }
        match run_ours(&config, netns, MEM_PROBE_SECONDS, script) {
            Ok(run) if is_valid(&run) => {
                let _ = writeln!(report, "  --mem {mem:>2}: ok, {}", run.summary().trim());
                smallest = Some(mem);
            }
            Ok(run) => {
                let _ = writeln!(
                    report,
                    "  --mem {mem:>2}: VOID ({}): {}\n{}",
                    run.void_reason().unwrap_or_default(),
                    run.summary().trim(),
                    run.detail
                );
                break;
            }
            Err(e) => {
                let _ = writeln!(report, "  --mem {mem:>2}: FAILED: {e}");
                break;
            }
        }
    }
    let _ = match smallest {
        Some(mem) => writeln!(report, "  => httpd serves with --mem {mem} (MiB)"),
        None => writeln!(report, "  => not found: httpd failed at the first step"),
    };
    MemoryNeeded { report, smallest }
}

/// The issue's targets against this run's numbers.
fn targets_met(results: &[(Target, Vec<Run>)], memory: Option<u32>) -> String {
    let median_of = |target| {
        results
            .iter()
            .find(|(t, _)| *t == target)
            .and_then(|(_, runs)| {
                let rps: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .filter(|r| is_valid(r))
                    .map(WrkRun::rps)
                    .collect();
                net::median(&rps)
            })
    };
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let mut out = String::from("\ntargets:\n");
    match (median_of(Target::OursTcg), median_of(Target::Linux)) {
        (Some(ours), Some(linux)) if linux > 0.0 => {
            let ratio = ours / linux;
            let _ = writeln!(
                out,
                "  httpd req/s >= 3x nginx in the Linux microVM (TCG): {ratio:.2}x: {}",
                verdict(ratio >= 3.0)
            );
        }
        _ => out.push_str("  httpd req/s >= 3x nginx in the Linux microVM (TCG): no ratio\n"),
    }
    let _ = match memory {
        Some(mem) => writeln!(
            out,
            "  httpd serves with --mem 16 or less: {mem} MiB: {}",
            verdict(mem <= 16)
        ),
        None => writeln!(out, "  httpd serves with --mem 16 or less: not measured"),
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_nginxs_612_bytes() {
        assert_eq!(PAGE.len(), 612);
        assert!(PAGE.starts_with("<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!"));
    }

    #[test]
    fn parses_the_check_line_and_judges_runs() {
        let line = "wrk-check: requests=47818 duration_us=3002651 connect=0 read=0 write=0 \
                    timeout=0 status=0 responses=47818 non2xx=0 wrong_length=0 \
                    latency_mean_us=1812.2 latency_p99_us=4149 latency_max_us=211038";
        let run = WrkRun::parse(line).unwrap();
        assert_eq!(run.requests, 47818);
        assert!((run.rps() - 15925.3).abs() < 0.1, "{}", run.rps());
        assert_eq!(run.latency_p99_us, 4149);
        assert_eq!(run.void_reason(), None);
        let void = |from: &str, to: &str, needle: &str| {
            let run = WrkRun::parse(&line.replace(from, to)).unwrap();
            let why = run.void_reason().expect("void");
            assert!(why.contains(needle), "{why}");
        };
        void("read=0", "read=3", "read 3");
        void("timeout=0", "timeout=1", "timeout 1");
        void("non2xx=0", "non2xx=2", "2 non-2xx");
        void(
            "wrong_length=0",
            "wrong_length=5",
            "5 responses whose body is not 612",
        );
        void("responses=47818", "responses=0", "no response");
        assert!(WrkRun::parse("wrk-check: requests=1").is_err());
        assert!(WrkRun::parse("Requests/sec: 1").is_err());
    }

    #[test]
    fn check_script_wants_the_page_length() {
        let lua = check_script(612);
        assert!(lua.contains("local want = 612"));
        assert!(lua.contains("function response(status, headers, body)"));
        assert!(lua.contains("wrk-check: requests=%d"));
    }

    #[test]
    fn wrk_is_bounded_in_time() {
        let words = qemu::shell_words(&wrk_command("http://x/", 10, Path::new("c.lua")));
        assert_eq!(
            words,
            "timeout -k 5 40 wrk -t 2 -c 30 -d 10s -s c.lua http://x/"
        );
    }

    #[test]
    fn table_has_a_ratio_for_tcg_only() {
        let run = |rps: u64| {
            Ok(WrkRun {
                requests: rps * 10,
                duration_us: 10_000_000,
                responses: rps * 10,
                latency_mean_us: 5000.0,
                latency_p99_us: 9000,
                ..WrkRun::default()
            })
        };
        let results = vec![
            (Target::OursTcg, vec![run(3000), run(3300), run(2900)]),
            (
                Target::Linux,
                vec![run(1000), Err("boot hung".into()), run(1100)],
            ),
            (Target::OursKvm, vec![run(100)]),
        ];
        let text = table(&results);
        let ours = text.lines().find(|l| l.starts_with("ours-tcg")).unwrap();
        assert!(ours.contains(" 3000 ") && ours.contains("2.73x"), "{text}");
        let linux = text.lines().find(|l| l.starts_with("linux-tcg")).unwrap();
        assert!(linux.contains("2/3"), "{text}");
        let kvm = text.lines().find(|l| l.starts_with("ours-kvm")).unwrap();
        assert!(kvm.trim_end().ends_with('-'), "{text}");
        let verdicts = targets_met(&results, Some(12));
        assert!(verdicts.contains("2.73x: NOT met"), "{verdicts}");
        assert!(verdicts.contains("12 MiB: met"), "{verdicts}");
    }
}
