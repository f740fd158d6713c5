//! The cooperative scheduler: tasks with their own guarded stacks, a run queue with two
//! priority classes, deadline timers on the one-shot APIC timer, blocking and waking.
//!
//! One CPU, no preemption: a task runs until it yields, blocks, sleeps or ends. Interrupts
//! are enabled while the CPU halts with nothing to run and, once the watchdog runs (from
//! the first spawned thread on), while tasks run; the scheduler itself runs with them off.
//! Handlers never block and never take the scheduler's lock (the watchdog only tries it). When nothing can run and no
//! timer is pending, every task waits for something that can never happen: the run ends
//! with `deadlock: ...` naming each task and what it waits for, and status 101.
//!
//! [`queue`] holds the plain queue logic (host-tested); this module wires it to stacks
//! (`mm`), the context switch and the timer (`arch`).

pub mod queue;

#[cfg(target_os = "none")]
mod core_impl;
#[cfg(target_os = "none")]
mod waitq;
#[cfg(target_os = "none")]
pub mod watchdog;

#[cfg(target_os = "none")]
pub use waitq::{WaitQueue, task_waker};

pub use queue::{Class, TaskId};

#[cfg(target_os = "none")]
pub use core_impl::*;
