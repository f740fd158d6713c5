//! What the kernel offers the libOS at run time: the app's arguments and ending the run.

use crate::exit_status::{self, MAX_APP_STATUS};
use alloc::string::String;
use alloc::vec::Vec;
use spin::Once;

static ARGS: Once<Vec<String>> = Once::new();
static APP_NAME: Once<&'static str> = Once::new();

/// Records the app's name (argv\[0\]); the first call wins.
pub fn set_app_name(name: &'static str) {
    APP_NAME.call_once(|| name);
}

/// The app's name, or "app" before `set_app_name`.
pub fn app_name() -> &'static str {
    APP_NAME.get().copied().unwrap_or("app")
}

pub(crate) fn set_args(args: Vec<String>) {
    ARGS.call_once(|| args);
}

/// The app's arguments from the command line (after `--`), without argv\[0\].
pub fn args() -> &'static [String] {
    ARGS.get().map_or(&[], Vec::as_slice)
}

static ROOT_DISK: Once<&'static str> = Once::new();

pub(crate) fn set_root_disk(name: &'static str) {
    ROOT_DISK.call_once(|| name);
}

/// The disk named by the `root=` kernel option (`"vdb"`), if one was given; the libOS
/// mounts its file tree from it (default: the first disk).
pub fn root_disk() -> Option<&'static str> {
    ROOT_DISK.get().copied()
}

/// Ends the run with `status` (0..=123; anything else is reported and becomes 1).
pub fn exit(status: i32) -> ! {
    crate::block::log_stats();
    crate::net::log_stats();
    let status = match u8::try_from(status) {
        Ok(s) if s <= MAX_APP_STATUS => s,
        _ => {
            crate::console::write_fmt(format_args!(
                "exit: status {status} is outside 0..={MAX_APP_STATUS}; exiting with 1\n"
            ));
            exit_status::APP_ERROR
        }
    };
    exit_now(status)
}

/// Ends the run with a status already in range, with no further checks.
pub(crate) fn exit_now(status: u8) -> ! {
    // Only with a calibrated clock: a log line's timestamp would otherwise calibrate it,
    // and this runs on fatal paths, perhaps for a fault inside calibration.
    if let Some(t) = crate::time::since_boot_if_calibrated() {
        log::debug!("exit status {status} after {t:?}");
    }
    crate::arch::debug_exit(exit_status::debug_exit_value(status));
    crate::console::emergency_write(format_args!(
        "exit: no isa-debug-exit device at port {:#x} to report status {status}; halting\n",
        exit_status::DEBUG_EXIT_PORT
    ));
    crate::arch::halt_forever()
}
