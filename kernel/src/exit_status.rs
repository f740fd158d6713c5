//! Exit statuses of a run and how they cross QEMU's `isa-debug-exit` device.
//!
//! The guest writes `status + 1` to the device; QEMU then exits with `(value << 1) | 1`.
//! Offsetting by one keeps QEMU's own failure status (1) and a plain guest reset (0) apart
//! from every app status. The host side (`boot`) decodes with [`decode_qemu_status`].

/// The app returned `Ok` (or `main` returned `()`).
pub const SUCCESS: u8 = 0;
/// The app returned `Err(e)`.
pub const APP_ERROR: u8 = 1;
/// The kernel command line was malformed.
pub const BAD_COMMAND_LINE: u8 = 2;
/// A panic, CPU exception, stack overflow or out-of-memory.
pub const FATAL: u8 = 101;
/// Largest status an app may pass to `exit`; 124..=127 belong to the host runner.
pub const MAX_APP_STATUS: u8 = 123;
/// Host runner: the run hit its timeout.
pub const TIMEOUT: u8 = 124;
/// Host runner: the guest reset or triple-faulted without reporting a status.
pub const GUEST_RESET: u8 = 125;
/// Host runner: QEMU itself failed (bad option, missing device, ...).
pub const QEMU_FAILED: u8 = 126;

/// I/O port of the `isa-debug-exit` device (`-device isa-debug-exit,iobase=0xf4,iosize=4`).
pub const DEBUG_EXIT_PORT: u16 = 0xf4;

/// The value the guest writes to [`DEBUG_EXIT_PORT`] to end the run with `status`.
pub const fn debug_exit_value(status: u8) -> u32 {
    status as u32 + 1
}

/// What a QEMU process exit status means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QemuOutcome {
    /// The guest reported this status through `isa-debug-exit`.
    Guest(u8),
    /// QEMU exited 0: the guest reset (with `-no-reboot`) or powered off without a status.
    Reset,
    /// QEMU reported its own failure with this status.
    QemuError(i32),
}

/// Decodes the exit status of a QEMU process that ran a kernel built from this crate.
pub fn decode_qemu_status(qemu_status: i32) -> QemuOutcome {
    match qemu_status {
        0 => QemuOutcome::Reset,
        s if (3..=255).contains(&s) && s % 2 == 1 => {
            let value = (s - 1) / 2;
            // `value` is in 1..=127, so `value - 1` fits in a u8.
            QemuOutcome::Guest((value - 1) as u8)
        }
        s => QemuOutcome::QemuError(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_app_status_round_trips() {
        for status in 0..=MAX_APP_STATUS {
            let qemu = ((debug_exit_value(status) << 1) | 1) & 0xff;
            assert_eq!(decode_qemu_status(qemu as i32), QemuOutcome::Guest(status));
        }
    }

    #[test]
    fn qemu_own_statuses_are_not_guest_statuses() {
        assert_eq!(decode_qemu_status(0), QemuOutcome::Reset);
        assert_eq!(decode_qemu_status(1), QemuOutcome::QemuError(1));
        assert_eq!(decode_qemu_status(2), QemuOutcome::QemuError(2));
    }
}
