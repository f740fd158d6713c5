//! Time: a monotonic [`Instant`], [`Duration`], and [`sleep`] that halts the CPU.

use core::ops::{Add, AddAssign, Sub};
pub use core::time::Duration;

/// A point on the monotonic clock (time since the kernel's first instruction).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(Duration);

impl Instant {
    /// Now.
    pub fn now() -> Self {
        Self(kernel::time::since_boot())
    }

    /// Time since `self`.
    pub fn elapsed(&self) -> Duration {
        Self::now().duration_since(*self)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    pub fn checked_add(&self, d: Duration) -> Option<Instant> {
        self.0.checked_add(d).map(Self)
    }

    /// Time since boot that this instant stands for.
    pub fn since_boot(&self) -> Duration {
        self.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Self(self.0 + d)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        self.0 += d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, other: Instant) -> Duration {
        self.duration_since(other)
    }
}

/// Waits for at least `d`; the CPU halts meanwhile.
pub fn sleep(d: Duration) {
    kernel::time::sleep(d);
}

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) {
    kernel::time::sleep_until(deadline.0);
}

/// How long the boot took: from the kernel's first instruction to the app's `main`.
pub fn boot_time() -> Duration {
    kernel::time::boot_to_main()
}

/// Time since the Unix epoch, from the machine's real-time clock (whole seconds when first
/// read, so up to a second behind the host) and the TSC; `None` when the machine has no
/// RTC. [`Instant`] is the clock for intervals: this one is for timestamps that outlive a
/// boot (expiry times on disk, `TIME`).
pub fn unix_time() -> Option<Duration> {
    kernel::time::wall_clock()
}
