//! Helpers for the QEMU integration tests: build each guest image once per test binary,
//! boot it through the shared runner (`boot::qemu`), and hand back console and status;
//! [`qemu_run`] drives `scripts/qemu-run.sh`'s host tool itself, for its own checks.

use boot::image::{self, Format, Profile};
use boot::qemu::{Accel, DiskSpec, Machine, Outcome, RunConfig};
use std::collections::HashMap;
use std::path::Path;
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
}

impl Run {
    /// A PVH run.
    pub fn new(app: &str) -> Self {
        Self::with_format(app, Format::Pvh)
    }

    pub fn with_format(app: &str, format: Format) -> Self {
        let mut config = RunConfig::new(image(app, format));
        config.accel = Accel::Tcg;
        config.timeout = Some(TIMEOUT);
        config.format = format;
        Self { config }
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

    /// Boots and waits; panics only if QEMU cannot be started at all.
    pub fn go(self) -> Outcome {
        self.config
            .run_captured()
            .unwrap_or_else(|e| panic!("running QEMU: {e}"))
    }
}

/// What `scripts/qemu-run.sh` printed and returned.
#[derive(Debug)]
pub struct RunnerOutput {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub wall: Duration,
}

/// Runs `scripts/qemu-run.sh ARGS` as the user would (its host tool `boot run`, built once
/// per test binary; the script's own dependency checks are skipped).
pub fn qemu_run(args: &[&str]) -> RunnerOutput {
    static TOOL: OnceLock<std::path::PathBuf> = OnceLock::new();
    let root = image::workspace_root();
    let tool = TOOL.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--quiet", "--release", "-p", "boot"])
            .status()
            .expect("running cargo");
        assert!(status.success(), "building the host tool failed");
        root.join("target").join("release").join("boot")
    });
    let start = std::time::Instant::now();
    let out = std::process::Command::new(tool)
        .current_dir(&root)
        .arg("run")
        .args(args)
        .stdin(std::process::Stdio::null())
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

/// Runs `check` once per format in [`FORMATS`], naming the format if it panics.
#[track_caller]
pub fn in_every_format(check: impl Fn(Format)) {
    for format in FORMATS {
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
