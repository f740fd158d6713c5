//! Stopping a run from outside: after [`stop_on_signals`], SIGINT (ctrl-c), SIGTERM and
//! SIGHUP no longer kill the runner; they are noted ([`requested`]), and the wait for QEMU
//! in [`super::RunConfig::run_interactive`] and `run_captured` stops QEMU cleanly (SIGTERM,
//! then SIGKILL after a grace period) and reports status 128 + the signal, as a shell would.
//! The runner then cleans up behind QEMU (a network namespace, see [`crate::netns`]).

use std::ffi::c_int;
use std::sync::atomic::{AtomicI32, Ordering};

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

/// The last stop signal received, or 0.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

unsafe extern "C" {
    /// glibc's `signal(2)`: BSD semantics (the handler stays installed, interrupted system
    /// calls restart). Returns the previous handler, or `SIG_ERR` (all ones).
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
}

/// Notes the signal; an atomic store is all a handler may safely do here.
extern "C" fn note_signal(signum: c_int) {
    RECEIVED.store(signum, Ordering::SeqCst);
}

/// From now on, SIGINT, SIGTERM and SIGHUP to this process are noted instead of ending it.
/// Child processes started later get the default dispositions back (exec resets caught
/// signals), so QEMU still dies of them.
pub fn stop_on_signals() {
    for signum in [SIGHUP, SIGINT, SIGTERM] {
        // SAFETY: `note_signal` is async-signal-safe (one lock-free atomic store) and lives
        // as long as the program; `signal` has no other precondition.
        unsafe { signal(signum, note_signal) };
    }
}

/// The stop signal received since [`stop_on_signals`], if any.
pub fn requested() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The conventional status of a process ended by `signum`: 128 + its number.
pub fn status_for(signum: i32) -> u8 {
    u8::try_from(128 + signum).unwrap_or(255)
}

/// The signal's name for messages.
pub fn name(signum: i32) -> String {
    match signum {
        SIGHUP => "SIGHUP".into(),
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}
