//! Wait queues: where tasks block until another task (or, later, a device) wakes them;
//! and wakers, so that `async` code can wake a task the same way.
//!
//! Single CPU and no preemption: between a task checking its condition and calling
//! [`WaitQueue::wait`] no other task runs, and a wake-up from an interrupt handler in that
//! window leaves a token that makes the block return at once, so no wake-up is lost.
//! Interrupt handlers never use wait queues (their lock is not interrupt-safe); they wake
//! tasks with `sched::wake` or a waker.

use super::queue::TaskId;
use alloc::collections::VecDeque;
use core::future::Future;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{RawWaker, RawWakerVTable, Waker};
use spin::Mutex;

/// Tasks blocked on one condition, woken first-in first-out.
#[derive(Debug, Default)]
pub struct WaitQueue {
    waiters: Mutex<VecDeque<TaskId>>,
    /// Number of waiters, so that waking an empty queue (an uncontended unlock) costs
    /// one load.
    count: AtomicUsize,
}

impl WaitQueue {
    pub const fn new() -> Self {
        Self {
            waiters: Mutex::new(VecDeque::new()),
            count: AtomicUsize::new(0),
        }
    }

    /// Blocks the current task until [`wake_one`](Self::wake_one) or
    /// [`wake_all`](Self::wake_all) picks it; `what` names the wait in deadlock reports.
    /// Callers re-check their condition afterwards.
    pub fn wait(&self, what: &'static str) {
        let me = super::current();
        self.waiters.lock().push_back(me);
        self.count.fetch_add(1, Ordering::Relaxed);
        super::block_current(what);
        // Woken from elsewhere (a waker, `wake`)? Then this queue still lists the task;
        // drop that entry, or a later `wake_one` would be spent on it.
        if self.count.load(Ordering::Relaxed) > 0 {
            let mut waiters = self.waiters.lock();
            if let Some(at) = waiters.iter().position(|&id| id == me) {
                waiters.remove(at);
                self.count.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Wakes the longest waiter; false if there was none.
    pub fn wake_one(&self) -> bool {
        if self.count.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let next = self.waiters.lock().pop_front();
        match next {
            Some(id) => {
                self.count.fetch_sub(1, Ordering::Relaxed);
                super::wake(id);
                true
            }
            None => false,
        }
    }

    /// Wakes every waiter.
    pub fn wake_all(&self) {
        if self.count.load(Ordering::Relaxed) == 0 {
            return;
        }
        let waiters = core::mem::take(&mut *self.waiters.lock());
        self.count.fetch_sub(waiters.len(), Ordering::Relaxed);
        for id in waiters {
            super::wake(id);
        }
    }

    /// True if no task waits.
    pub fn is_empty(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }
}

/// A [`Waker`] that makes task `id` ready (for futures polled by a task).
pub fn task_waker(id: TaskId) -> Waker {
    fn clone(data: *const ()) -> RawWaker {
        RawWaker::new(data, &VTABLE)
    }
    fn wake(data: *const ()) {
        super::wake(TaskId(data as usize as u64));
    }
    fn drop(_: *const ()) {}
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop);
    let raw = RawWaker::new(id.0 as usize as *const (), &VTABLE);
    // SAFETY: the vtable functions only reinterpret the data pointer as a task id; they
    // never dereference it, and clone/drop have no resources to manage.
    unsafe { Waker::from_raw(raw) }
}

/// Runs `future` to completion on the current task: polls it, and blocks the task (others
/// run) until its waker fires. A wake-up between a poll and the block is kept as a token,
/// so none is lost.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let waker = task_waker(super::current());
    let mut cx = core::task::Context::from_waker(&waker);
    let mut future = core::pin::pin!(future);
    loop {
        if let core::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        super::block_current("future");
    }
}

/// As [`block_on`], giving up at `deadline` (ns since boot): `None` if the future was not
/// ready by then (it is dropped).
pub fn block_on_until<F: Future>(future: F, deadline: Option<u64>) -> Option<F::Output> {
    let waker = task_waker(super::current());
    let mut cx = core::task::Context::from_waker(&waker);
    let mut future = core::pin::pin!(future);
    loop {
        if let core::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return Some(value);
        }
        match deadline {
            None => super::block_current("future"),
            Some(d) if crate::time::since_boot_ns() >= d => return None,
            Some(d) => super::block_current_until("future", d),
        }
    }
}
