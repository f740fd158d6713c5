//! The cooperative scheduler: tasks with their own guarded stacks, a run queue with two
//! priority classes, deadline timers on the one-shot APIC timer, blocking and waking.
//!
//! One CPU, no preemption: a task runs until it yields, blocks, sleeps or ends. Interrupts
//! are enabled while the CPU halts with nothing to run and, once they are live (the
//! watchdog from the first spawned thread on, or a device), while tasks run; the
//! scheduler itself runs with them off. The scheduler's lock is an `IrqMutex`, so device
//! handlers may [`wake`] tasks; a wake-up that comes before its task blocks leaves a
//! token that the block takes ([`state`]). When nothing can run, no timer is pending and
//! no device has work in flight ([`IoPending`]), every task waits for something that can
//! never happen: the run ends with `deadlock: ...` naming each task and what it waits
//! for, and status 101.
//!
//! [`queue`] holds the plain queue logic (host-tested); this module wires it to stacks
//! (`mm`), the context switch and the timer (`arch`).

pub mod queue;
pub mod state;

#[cfg(target_os = "none")]
mod core_impl;
#[cfg(target_os = "none")]
mod waitq;
#[cfg(target_os = "none")]
pub mod watchdog;

#[cfg(target_os = "none")]
pub use waitq::{WaitQueue, block_on, block_on_until, task_waker};

pub use queue::{Class, TaskId};
pub use state::{IoPending, io_outstanding};

#[cfg(target_os = "none")]
pub use core_impl::*;
