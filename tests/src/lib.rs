//! Helpers for the QEMU integration tests: build each guest image once per test binary,
//! boot it through the shared runner (`boot::qemu`), and hand back console and status;
//! [`Run::spawn`] keeps a guest running while the test drives it with real clients
//! ([`Running`]); [`qemu_run`] drives `scripts/qemu-run.sh`'s host tool itself, for its
//! own checks.

use boot::image::{self, Format, Profile};
use boot::netns::{self, Netns};
use boot::qemu::{Accel, Background, DiskSpec, Machine, NetSpec, Outcome, RunConfig};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Per-run wall-clock limit: generous, since TCG on a loaded 2-core machine is slow.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The image formats every behaviour test runs in: the PVH ELF and the BIOS disk image.
/// (UEFI boots take seconds under TCG; `tests/tests/disk.rs` covers it with `hello`.)
pub const FORMATS: [Format; 2] = [Format::Pvh, Format::Bios];

/// The bootable file for `app` in `format` (release build), built on first use.
pub fn image(app: &str, format: Format) -> std::path::PathBuf {
    static IMAGES: OnceLock<Mutex<HashMap<(String, &'static str), std::path::PathBuf>>> =
        OnceLock::new();
    let mut images = IMAGES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    images
        .entry((app.to_string(), format.name()))
        .or_insert_with(|| {
            image::build_format(app, Profile::Release, format, "")
                .unwrap_or_else(|e| panic!("building {app} ({}): {e}", format.name()))
                .1
        })
        .clone()
}

/// A run of `app` under TCG with `kernel_options` and `args`.
pub struct Run {
    pub config: RunConfig,
    /// The namespace of a tap network ([`Run::net_tap`]), removed after the run.
    netns: Option<Netns>,
}

impl Run {
    /// A PVH run.
    pub fn new(app: &str) -> Self {
        Self::with_format(app, Format::Pvh)
    }

    pub fn with_format(app: &str, format: Format) -> Self {
        let mut config = RunConfig::new(image(app, format));
        config.accel = default_accel();
        config.timeout = Some(TIMEOUT);
        config.format = format;
        Self {
            config,
            netns: None,
        }
    }

    pub fn args(mut self, args: &[&str]) -> Self {
        self.config.app_args = args.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn options(mut self, options: &str) -> Self {
        self.config.kernel_options = options.to_string();
        self
    }

    pub fn accel(mut self, accel: Accel) -> Self {
        self.config.accel = accel;
        self
    }

    pub fn mem(mut self, mib: u32) -> Self {
        self.config.mem_mib = mib;
        self
    }

    /// The machine for the PVH ELF (disk images always boot on q35).
    pub fn machine(mut self, machine: Machine) -> Self {
        self.config.machine = machine;
        self
    }

    /// Attaches a writable disk; the guest names disks `vda`, `vdb`, ... in call order.
    pub fn disk(self, path: impl AsRef<Path>) -> Self {
        self.disk_spec(DiskSpec::new(path.as_ref()))
    }

    /// Attaches a read-only disk.
    pub fn disk_ro(self, path: impl AsRef<Path>) -> Self {
        self.disk_spec(DiskSpec::read_only(path.as_ref()))
    }

    /// Attaches a read-only ext4 image of the folder `dir` (as `--disk-from`).
    pub fn disk_from(self, dir: impl AsRef<Path>) -> Self {
        let dir = dir.as_ref();
        let image = boot::diskfrom::ext4_image_from_dir(dir)
            .unwrap_or_else(|e| panic!("making an image of {}: {e}", dir.display()));
        self.disk_ro(image)
    }

    /// Attaches a disk as described (e.g. with another cache mode).
    pub fn disk_spec(mut self, disk: DiskSpec) -> Self {
        self.config.disks.push(disk);
        self
    }

    /// Extra QEMU arguments (e.g. `-machine pit=off` to remove a device).
    pub fn qemu_args(mut self, args: &[&str]) -> Self {
        self.config.extra_args = args.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn timeout(mut self, limit: Duration) -> Self {
        self.config.timeout = Some(limit);
        self
    }

    /// A NIC on QEMU user networking (`restrict=on`) forwarding TCP from each
    /// `127.0.0.1:host` to the guest's `guest` port (ports from [`free_port`]).
    pub fn net_user(self, ports: &[(u16, u16)]) -> Self {
        self.net(NetSpec::user_tcp(ports))
    }

    /// A NIC on this network (e.g. user networking with UDP forwards:
    /// `NetSpec::User { forwards: vec![Forward::udp(port, 7)] }`).
    pub fn net(mut self, spec: NetSpec) -> Self {
        self.config.net = Some(spec);
        self
    }

    /// A NIC on tap device `tap0` in a network namespace of its own (removed after the
    /// run): host side [`netns::TAP_HOST`], the guest given `ip=` [`netns::TAP_GUEST`]
    /// unless the options have an `ip=`. Needs root: check [`skip_without_root`] first.
    pub fn net_tap(mut self) -> Self {
        let netns = Netns::create_unique("uk-test")
            .unwrap_or_else(|e| panic!("creating a network namespace: {e}"));
        netns
            .add_tap(TAP, netns::TAP_HOST)
            .unwrap_or_else(|e| panic!("adding a tap to {}: {e}", netns.name()));
        self.config.net = Some(NetSpec::tap(netns.name(), TAP));
        self.netns = Some(netns);
        self
    }

    /// Boots and waits; panics only if QEMU cannot be started at all.
    pub fn go(self) -> Outcome {
        let outcome = self
            .config
            .run_captured()
            .unwrap_or_else(|e| panic!("running QEMU: {e}"));
        drop(self.netns);
        outcome
    }

    /// Boots in the background, for a test that drives the guest with real clients. The
    /// run's timeout still applies; dropping the [`Running`] kills QEMU.
    pub fn spawn(self) -> Running {
        let guest = self
            .config
            .spawn()
            .unwrap_or_else(|e| panic!("starting QEMU: {e}"));
        Running {
            guest,
            netns: self.netns,
        }
    }
}

/// The tap device of [`Run::net_tap`], inside its namespace.
pub const TAP: &str = "tap0";

/// A guest running in the background ([`Run::spawn`]). Dropping it kills QEMU and
/// removes its network namespace.
pub struct Running {
    // Dropped first: QEMU ends before its namespace goes.
    guest: Background,
    netns: Option<Netns>,
}

impl Running {
    /// Waits until the console contains `needle` and returns the console so far; panics
    /// with the console if `limit` passes first or QEMU ends without printing it.
    #[track_caller]
    pub fn wait_for_console(&self, needle: &str, limit: Duration) -> String {
        self.guest
            .wait_for_console(needle, limit)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The console so far.
    pub fn console(&self) -> String {
        self.guest.console()
    }

    /// False once QEMU has ended.
    pub fn is_running(&self) -> bool {
        self.guest.is_running()
    }

    /// Stops QEMU (SIGTERM) unless the guest has ended already, and returns how the run
    /// ended: status 143 ([`boot::qemu::Ending::Stopped`]) if it was stopped here.
    pub fn stop(self) -> Outcome {
        let Self { guest, netns } = self;
        let outcome = guest.stop();
        drop(netns);
        outcome
    }

    /// Kills QEMU at once (SIGKILL: no grace period, the guest does nothing more), then
    /// returns how the run ended with everything the console showed until then (status
    /// 126 unless the guest had ended already). For a power cut, with
    /// [`boot::nbd::NbdServer::kill_hard`].
    pub fn kill_hard(self) -> Outcome {
        let pid = self.guest.pid().to_string();
        if self.guest.is_running() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid])
                .stderr(std::process::Stdio::null())
                .status();
        }
        self.wait()
    }

    /// Waits for the guest to end by itself (or the run's timeout).
    pub fn wait(self) -> Outcome {
        let Self { guest, netns } = self;
        let outcome = guest.wait();
        drop(netns);
        outcome
    }

    /// The namespace of a tap run.
    pub fn netns(&self) -> Option<&Netns> {
        self.netns.as_ref()
    }

    /// The guest's address on a tap run (unless the options gave another `ip=`).
    pub fn guest_ip(&self) -> Ipv4Addr {
        assert!(
            self.netns.is_some(),
            "guest_ip: not a tap run (Run::net_tap)"
        );
        netns::TAP_GUEST.addr
    }

    /// `cmd` made to run inside the tap run's namespace (set its stdio, then spawn).
    #[track_caller]
    pub fn in_netns(&self, cmd: &Command) -> Command {
        self.netns
            .as_ref()
            .expect("in_netns: not a tap run (Run::net_tap)")
            .wrap(cmd)
    }

    /// Runs `cmd` inside the tap run's namespace to its end and returns its output.
    #[track_caller]
    pub fn exec_in_netns(&self, cmd: &Command) -> Output {
        let shown = boot::qemu::shell_words(cmd);
        self.in_netns(cmd)
            .output()
            .unwrap_or_else(|e| panic!("running {shown} in the namespace: {e}"))
    }
}

/// A TCP port on 127.0.0.1 that is free now (the OS picks it), for a forward.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// A UDP port on 127.0.0.1 that is free now, for a UDP forward.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("binding 127.0.0.1:0")
        .port()
}

/// True (after printing why) if this process cannot make network namespaces and tap
/// devices, so that a tap test can return early: `if skip_without_root() { return; }`.
pub fn skip_without_root() -> bool {
    let skip = !netns::have_privileges();
    if skip {
        eprintln!("skipped: tap networking needs root (a network namespace and a tap device)");
    }
    skip
}

/// What `scripts/qemu-run.sh` printed and returned.
#[derive(Debug)]
pub struct RunnerOutput {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
}

/// `scripts/qemu-run.sh`'s host tool as a command: `boot run ARGS` in the workspace,
/// built once per test binary (the script's own dependency checks are skipped).
pub fn qemu_run_command(args: &[&str]) -> Command {
    static TOOL: OnceLock<std::path::PathBuf> = OnceLock::new();
    let root = image::workspace_root();
    let tool = TOOL.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--quiet", "--release", "-p", "boot"])
            .status()
            .expect("running cargo");
        assert!(status.success(), "building the host tool failed");
        root.join("target").join("release").join("boot")
    });
    let mut cmd = Command::new(tool);
    cmd.current_dir(&root)
        .arg("run")
        .args(args)
        .stdin(std::process::Stdio::null());
    cmd
}

/// Runs `scripts/qemu-run.sh ARGS` as the user would (see [`qemu_run_command`]).
pub fn qemu_run(args: &[&str]) -> RunnerOutput {
    let start = std::time::Instant::now();
    let out = qemu_run_command(args)
        .output()
        .expect("running the host tool");
    RunnerOutput {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        wall: start.elapsed(),
    }
}

/// Asserts the runner refused with status 2 (not QEMU's 124 after a silent hang, nor
/// 126) and an `error:` line containing `needle`.
#[track_caller]
pub fn assert_usage_error(out: &RunnerOutput, needle: &str) {
    assert_eq!(out.status, Some(2), "{out:#?}");
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("error: ") && l.contains(needle)),
        "no error line with {needle:?}: {out:#?}"
    );
}

/// Asserts the status and prints the console on failure.
#[track_caller]
pub fn assert_status(outcome: &Outcome, status: u8) {
    assert_eq!(
        outcome.status, status,
        "expected status {status}, got {} ({:?}); console:\n{}",
        outcome.status, outcome.meaning, outcome.console
    );
}

/// The accelerator every [`Run`] starts with: TCG, or KVM when `UK_TEST_ACCEL=kvm`
/// (`scripts/test.sh` runs the trap, fault, timer and scheduler tests again that way where
/// `/dev/kvm` is `kvm_pvm`, whose guests run their tasks at ring 3: see `docs/pvm.md`).
pub fn default_accel() -> Accel {
    match std::env::var("UK_TEST_ACCEL").as_deref() {
        Ok("kvm") => Accel::Kvm,
        _ => Accel::Tcg,
    }
}

/// True (after saying so) when a test that only means something under TCG runs under
/// `UK_TEST_ACCEL=kvm`: the caller returns early.
pub fn skip_under_kvm(why: &str) -> bool {
    let kvm = default_accel() == Accel::Kvm;
    if kvm {
        println!("skipped under KVM: {why}");
    }
    kvm
}

/// Runs `check` once per format in [`FORMATS`], naming the format if it panics. Under
/// `UK_TEST_ACCEL=kvm`, the PVH ELF only: disk images keep the kernel at ring 0 under
/// kvm_pvm (emulated, about 11 s a boot), which the TCG run already covers.
#[track_caller]
pub fn in_every_format(check: impl Fn(Format)) {
    let formats: &[Format] = if default_accel() == Accel::Kvm {
        &[Format::Pvh]
    } else {
        &FORMATS
    };
    for &format in formats {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(format)));
        if let Err(panic) = result {
            eprintln!("(the failure above is from the {} image)", format.name());
            std::panic::resume_unwind(panic);
        }
    }
}

/// Asserts the console contains `needle`.
#[track_caller]
pub fn assert_console(outcome: &Outcome, needle: &str) {
    assert!(
        outcome.console.contains(needle),
        "console lacks {needle:?}; console:\n{}",
        outcome.console
    );
}
