//! Helpers for the QEMU integration tests: build each guest image once per test binary,
//! boot it through the shared runner (`boot::qemu`), and hand back console and status.

use boot::image::{self, Format, Profile};
use boot::qemu::{Accel, Outcome, RunConfig};
use std::collections::HashMap;
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
