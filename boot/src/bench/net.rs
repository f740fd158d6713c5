//! What the network benchmarks ([`super::http`], [`super::tcp`]) share: one network namespace
//! with one tap device for the whole run ([`bench_netns`]), the Linux baseline with Debian's
//! nginx and socat ([`network_vm`]), and booting either guest on that tap: ours in the
//! background until a console line says it serves ([`spawn_ours`]), Linux with a script that
//! ends in `barrier ready`, at which the host runs its load ([`run_linux`]).
//!
//! Both guests get the same address ([`netns::TAP_GUEST`]) and MAC, one after the other, on
//! the same tap: the host side sees one peer. Traffic stays inside the namespace.

use super::session::{self, Step};
use crate::linuxvm::{self, Contents, LinuxVm};
use crate::netns::{self, Netns};
use crate::qemu::{Background, RunConfig};
use std::process::Command;
use std::time::Duration;

/// nginx's classic welcome page (612 bytes), served by everyone.
pub(super) const PAGE: &str = r#"<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
    body {
        width: 35em;
        margin: 0 auto;
        font-family: Tahoma, Verdana, Arial, sans-serif;
    }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>

<p>For online documentation and support please refer to
<a href="http://nginx.org/">nginx.org</a>.<br/>
Commercial support is available at
<a href="http://nginx.com/">nginx.com</a>.</p>

<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"#;

/// The port both guests serve HTTP on.
pub(super) const PORT: u16 = 8080;
/// The tap device inside the benchmark's namespace.
pub(super) const TAP: &str = "tap0";
/// Namespaces are named `uk-bench-PID-N`.
const NETNS_PREFIX: &str = "uk-bench";
/// Memory of the Linux VM (nginx, socat and their libraries are about 10 MB).
pub(super) const LINUX_MEM_MIB: u32 = 256;
/// How long a Linux boot may take to reach its first barrier before it counts as hung
/// (seen now and then under TCG); it is then tried once more.
const LINUX_BOOT_LIMIT: Duration = Duration::from_secs(90);
/// The nginx configuration in the Linux VM.
pub(super) const NGINX_CONF: &str = "/etc/nginx/bench.conf";
/// Where the Linux VM keeps the page.
const LINUX_WWW: &str = "/srv/www";

/// The namespace of this run with its tap (host side [`netns::TAP_HOST`]); removed when
/// dropped. Namespaces left by killed runs of this benchmark are removed first.
pub(super) fn bench_netns() -> Result<Netns, String> {
    if !netns::have_privileges() {
        return Err(
            "the network benchmarks need root: both guests sit on a tap device in a network \
             namespace the benchmark creates"
                .into(),
        );
    }
    remove_stale_namespaces();
    let netns = Netns::create_unique(NETNS_PREFIX).map_err(|e| e.to_string())?;
    netns
        .add_tap(TAP, netns::TAP_HOST)
        .map_err(|e| e.to_string())?;
    Ok(netns)
}

/// Removes `uk-bench-PID-N` namespaces whose process is gone and that nothing is inside.
fn remove_stale_namespaces() {
    let Ok(entries) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(NETNS_PREFIX)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !std::path::Path::new("/proc").join(pid).exists() {
            let _ = Netns::remove_stale(&name);
        }
    }
}

/// The nginx configuration: Debian's `nginx.conf` settings that matter here (sendfile,
/// tcp_nopush), one worker, no access log, `listen` and `root` as given, and every path
/// nginx writes under `run_dir` (it needs no /var).
pub(super) fn nginx_conf(listen: &str, root: &str, run_dir: &str) -> String {
    format!(
        "user nobody nogroup;
worker_processes 1;
pid {run_dir}/nginx.pid;
error_log stderr;
events {{ worker_connections 1024; }}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    types {{ text/html html; }}
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {run_dir}/body;
    proxy_temp_path {run_dir}/proxy;
    fastcgi_temp_path {run_dir}/fastcgi;
    uwsgi_temp_path {run_dir}/uwsgi;
    scgi_temp_path {run_dir}/scgi;
    server {{
        listen {listen};
        root {root};
        index index.html;
    }}
}}
"
    )
}

/// Debian's nginx binary, from its package (downloaded and unpacked, not installed: the
/// package would start a service on port 80 of every interface).
pub(super) fn nginx_binary() -> Result<std::path::PathBuf, String> {
    linuxvm::debian_package_file("nginx", "usr/sbin/nginx")
}

/// The Linux baseline for the network benchmarks (one VM, cached, for both): nginx at
/// `/usr/sbin/nginx` with [`NGINX_CONF`] (listening on [`PORT`]) and [`PAGE`] as its index,
/// and the host's `socat`.
pub(super) fn network_vm() -> Result<LinuxVm, String> {
    let (page, port) = (PAGE, PORT);
    let nginx = nginx_binary()?;
    let files = vec![
        (
            NGINX_CONF.to_string(),
            nginx_conf(&port.to_string(), LINUX_WWW, "/tmp").into_bytes(),
        ),
        (format!("{LINUX_WWW}/index.html"), page.as_bytes().to_vec()),
        // nginx's workers run as nobody; glibc reads these (no nsswitch.conf: files).
        (
            "/etc/passwd".into(),
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
                .to_vec(),
        ),
        (
            "/etc/group".into(),
            b"root:x:0:\nnogroup:x:65534:\n".to_vec(),
        ),
    ];
    LinuxVm::build_with(&Contents {
        binaries: vec!["socat".into()],
        placed: vec![(nginx, "/usr/sbin/nginx".into())],
        files,
        ..Contents::default()
    })
}

/// The start of every Linux script: the guest's address on the tap, as ours gets it.
pub(super) fn linux_net_setup() -> String {
    format!(
        "ip link set lo up\nip addr add {} dev eth0 || exit 1\nip link set eth0 up\n",
        netns::TAP_GUEST
    )
}

/// The words the Linux VM takes from the unikernel's QEMU command: `-cpu`, every `-global`
/// (the virtio-mmio version), the `-netdev` and the NIC's `-device` (same tap, same MAC).
/// Disks are left out: nginx serves from the initramfs.
pub(super) fn shared_words(cmd: &Command) -> Vec<String> {
    super::baseline::option_pairs(cmd, |option, value| match option {
        "-cpu" | "-global" | "-netdev" => true,
        "-device" => value.starts_with("virtio-net"),
        _ => false,
    })
}

/// The Linux VM's command for `script`, inside the namespace, with a QMP socket (which
/// [`session::run`] wants).
pub(super) fn linux_command(
    vm: &LinuxVm,
    netns: &Netns,
    shared: &[String],
    script: &str,
    tag: &str,
) -> Result<Command, String> {
    let socket = session::qmp_socket_path(tag);
    let words: Vec<String> = shared
        .iter()
        .cloned()
        .chain(session::qmp_args(&socket))
        .collect();
    Ok(netns.wrap(&vm.command(LINUX_MEM_MIB, script, &words)?))
}

/// Boots the Linux VM with `script` (which must end in `barrier ready`), runs `load` when it
/// is ready, lets it power off, and returns what `load` returned. `load_limit` bounds the
/// load's time. A boot that does not reach the barrier in time is tried once more.
pub(super) fn run_linux<T>(
    vm: &LinuxVm,
    netns: &Netns,
    shared: &[String],
    script: &str,
    load_limit: Duration,
    mut load: impl FnMut() -> T,
) -> Result<T, String> {
    let ready = format!("{}ready", linuxvm::BARRIER_PREFIX);
    for attempt in 1..=2 {
        let tag = format!("linux-{attempt}");
        let socket = session::qmp_socket_path(&tag);
        let cmd = linux_command(vm, netns, shared, script, &tag)?;
        let mut result = None;
        let limits = session::Limits {
            total: LINUX_BOOT_LIMIT + load_limit + Duration::from_secs(30),
            ready: Some((&ready, LINUX_BOOT_LIMIT)),
        };
        let transcript = session::run(cmd, &socket, limits, |line, _qmp| {
            if line == ready {
                result = Some(load());
                return Ok(Step::Reply("go".into()));
            }
            Ok(Step::Continue)
        })?;
        if let Some(result) = result {
            return Ok(result);
        }
        let hung = transcript.timed_out && !transcript.lines.contains(&ready);
        let why = format!(
            "the Linux VM {} before it was ready (QEMU {:?}); console tail:\n{}",
            if transcript.timed_out {
                "timed out"
            } else {
                "ended"
            },
            transcript.status,
            tail(&transcript.console(), 25)
        );
        if hung && attempt == 1 {
            eprintln!(
                "linuxvm: not ready within {} s (a hung boot); trying once more",
                LINUX_BOOT_LIMIT.as_secs()
            );
            continue;
        }
        return Err(why);
    }
    unreachable!("the loop returns on its second attempt")
}

/// Starts ours in the background and waits (up to `limit`) for a console line containing
/// `ready`. The error carries the console's tail.
pub(super) fn spawn_ours(
    config: &RunConfig,
    ready: &str,
    limit: Duration,
) -> Result<Background, String> {
    let guest = config.spawn().map_err(|e| e.to_string())?;
    match guest.wait_for_console(ready, limit) {
        Ok(_) => Ok(guest),
        Err(_) => {
            let outcome = guest.stop();
            Err(format!(
                "no {ready:?} on the console within {} s ({:?}, status {}); console tail:\n{}",
                limit.as_secs(),
                outcome.meaning,
                outcome.status,
                tail(&outcome.console, 25)
            ))
        }
    }
}

/// The last `n` lines of `text`, indented.
pub(super) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The host's 1-minute load average, for the reader to judge the noise.
pub(super) fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// The median of `values` (the upper one of an even count); `None` when empty.
pub(super) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_gets_the_cpu_globals_and_nic_but_not_the_disk() {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", "uk-x", "qemu-system-x86_64"])
            .args(["-M", "microvm,acpi=off"])
            .args(["-global", "virtio-mmio.force-legacy=off"])
            .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            .args(["-accel", "tcg", "-cpu", "max"])
            .args(["-drive", "file=site.ext4,format=raw,if=none,id=vd0"])
            .args(["-device", "virtio-blk-device,drive=vd0"])
            .args(["-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no"])
            .args([
                "-device",
                "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56",
            ]);
        assert_eq!(
            shared_words(&cmd),
            [
                "-global",
                "virtio-mmio.force-legacy=off",
                "-cpu",
                "max",
                "-netdev",
                "tap,id=n0,ifname=tap0,script=no,downscript=no",
                "-device",
                "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56"
            ]
        );
    }

    #[test]
    fn nginx_configuration_has_what_the_benchmark_promises() {
        let conf = nginx_conf("127.0.0.1:9", "/srv/www", "/tmp/x");
        for needle in [
            "worker_processes 1;",
            "access_log off;",
            "listen 127.0.0.1:9;",
            "root /srv/www;",
            "pid /tmp/x/nginx.pid;",
            "client_body_temp_path /tmp/x/body;",
        ] {
            assert!(conf.contains(needle), "{needle} missing:\n{conf}");
        }
        assert_eq!(conf.matches('{').count(), conf.matches('}').count());
    }

    #[test]
    fn medians_and_tails() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0]), Some(4.0));
        assert_eq!(median(&[]), None);
        assert_eq!(tail("a\nb\nc", 2), "    | b\n    | c");
    }
}
