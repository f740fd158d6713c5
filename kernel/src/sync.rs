//! Locks for state that interrupt handlers touch.
//!
//! [`IrqMutex`] disables interrupts for as long as its guard lives, so a handler can never
//! interrupt a task that holds the lock and then spin on it forever (one CPU). Plain
//! `spin::Mutex` stays right for state that handlers never touch.

use crate::arch::irq::{self, IrqState};
use core::ops::{Deref, DerefMut};

/// A spin lock whose guard keeps interrupts disabled.
pub struct IrqMutex<T> {
    inner: spin::Mutex<T>,
}

impl<T> IrqMutex<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
        }
    }

    /// Disables interrupts, then takes the lock.
    pub fn lock(&self) -> IrqMutexGuard<'_, T> {
        let irq = irq::save_and_disable();
        IrqMutexGuard {
            guard: Some(self.inner.lock()),
            irq: Some(irq),
        }
    }

    /// The lock if nobody holds it (interrupts disabled while held).
    pub fn try_lock(&self) -> Option<IrqMutexGuard<'_, T>> {
        let irq = irq::save_and_disable();
        match self.inner.try_lock() {
            Some(guard) => Some(IrqMutexGuard {
                guard: Some(guard),
                irq: Some(irq),
            }),
            None => {
                irq::restore(irq);
                None
            }
        }
    }

    /// True if someone holds the lock.
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// Releases a lock whose holder will never run again.
    ///
    /// # Safety
    /// Only on a fatal path: the holder (interrupted for good) must never touch the data
    /// again.
    pub unsafe fn force_unlock(&self) {
        // SAFETY: forwarded to the caller.
        unsafe { self.inner.force_unlock() }
    }
}

/// Holds an [`IrqMutex`]; interrupts come back (if they were on) when it drops.
pub struct IrqMutexGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    irq: Option<IrqState>,
}

impl<T> Deref for IrqMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("guard held until drop")
    }
}

impl<T> DerefMut for IrqMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("guard held until drop")
    }
}

impl<T> Drop for IrqMutexGuard<'_, T> {
    fn drop(&mut self) {
        // Unlock first, then let interrupts in: a handler must find the lock free.
        drop(self.guard.take());
        if let Some(irq) = self.irq.take() {
            irq::restore(irq);
        }
    }
}
