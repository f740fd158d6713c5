//! A task's run state and its wake-up token, and the count of device work in flight: the
//! state machine that makes a wake-up that arrives before its task blocks count, as plain
//! logic tested on the host.
//!
//! A task decides to block after checking its condition (a used ring with nothing new, an
//! empty channel); an interrupt can complete the work and wake it between the check and
//! the block. Such a wake finds the task still running: it leaves a token, and the next
//! [`RunState::block`] takes the token and returns at once instead of sleeping through the
//! completion. Every caller re-checks its condition after blocking, so a token left by a
//! wake-up meant for an earlier wait costs one extra check, never a lost wake-up.

use core::sync::atomic::{AtomicUsize, Ordering};

/// What a task is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Ready,
    Running,
    /// Waiting; the text says for what (shown in deadlock reports).
    Blocked(&'static str),
    Finished,
}

/// A task's [`State`] plus its wake-up token.
#[derive(Clone, Copy, Debug)]
pub struct RunState {
    state: State,
    token: bool,
}

impl RunState {
    pub const fn new(state: State) -> Self {
        Self {
            state,
            token: false,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// True if a wake-up is waiting to be taken by the next [`block`](Self::block).
    pub fn has_token(&self) -> bool {
        self.token
    }

    /// The running task wants to wait for `what`. Returns true if it is now blocked (the
    /// caller switches away); false if a wake-up came since it last ran, which this call
    /// consumes (the caller goes on running and re-checks its condition).
    pub fn block(&mut self, what: &'static str) -> bool {
        debug_assert_eq!(self.state, State::Running, "only the running task blocks");
        if core::mem::take(&mut self.token) {
            return false;
        }
        self.state = State::Blocked(what);
        true
    }

    /// A wake-up. Returns true if the task was blocked and is now ready (the caller
    /// queues it); a running or ready task keeps a token instead; a finished one ignores
    /// it.
    pub fn wake(&mut self) -> bool {
        match self.state {
            State::Blocked(_) => {
                self.state = State::Ready;
                true
            }
            State::Ready | State::Running => {
                self.token = true;
                false
            }
            State::Finished => false,
        }
    }

    /// The scheduler picked the task.
    pub fn run(&mut self) {
        self.state = State::Running;
    }

    /// The running task yields: ready again, queued by the caller.
    pub fn yield_now(&mut self) {
        self.state = State::Ready;
    }

    /// The task ended.
    pub fn finish(&mut self) {
        self.state = State::Finished;
        self.token = false;
    }
}

static IO_OUTSTANDING: AtomicUsize = AtomicUsize::new(0);

/// One piece of device work in flight (a request submitted and not yet completed, a
/// socket that can receive): while any exists, a CPU with no ready task and no timer
/// halts for the device's interrupt instead of reporting a deadlock. Drop it when the
/// work completes.
#[derive(Debug)]
pub struct IoPending(());

impl IoPending {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        IO_OUTSTANDING.fetch_add(1, Ordering::Relaxed);
        Self(())
    }
}

impl Drop for IoPending {
    fn drop(&mut self) {
        IO_OUTSTANDING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Device work in flight, all devices together.
pub fn io_outstanding() -> usize {
    IO_OUTSTANDING.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_of_a_blocked_task_makes_it_ready_once() {
        let mut t = RunState::new(State::Running);
        assert!(t.block("io"));
        assert_eq!(t.state(), State::Blocked("io"));
        assert!(t.wake());
        assert_eq!(t.state(), State::Ready);
        assert!(!t.wake(), "a second wake only leaves a token");
        assert!(t.has_token());
    }

    #[test]
    fn wake_before_block_is_kept_and_taken_once() {
        let mut t = RunState::new(State::Running);
        assert!(!t.wake());
        assert!(!t.block("io"), "the token makes block return at once");
        assert_eq!(t.state(), State::Running);
        assert!(t.block("io"), "the token is used up");
    }

    #[test]
    fn finished_tasks_ignore_wakes() {
        let mut t = RunState::new(State::Running);
        t.finish();
        assert!(!t.wake());
        assert!(!t.has_token());
        assert_eq!(t.state(), State::Finished);
    }

    /// A model of one CPU: a driver task that loops "check the device, consume a
    /// completion or block", a device whose interrupt handler marks work done and wakes
    /// the task, and a scheduler that runs the task when it is ready. The interrupt can
    /// land at any step, in particular between the check and the block. Property: the
    /// task is never left blocked while a completion is waiting for it.
    #[test]
    fn no_completion_is_slept_through_under_random_interleavings() {
        #[derive(Clone, Copy, PartialEq)]
        enum Step {
            Check,
            Block,
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut window_hits = 0;
        for _ in 0..2_000 {
            let mut task = RunState::new(State::Running);
            let mut step = Step::Check;
            let (mut pending, mut consumed, mut raised) = (0u32, 0u32, 0u32);
            let total = 1 + (rand() % 8) as u32;
            for _ in 0..200 {
                // The device completes work and interrupts at random moments.
                if raised < total && rand() % 3 == 0 {
                    raised += 1;
                    pending += 1;
                    if step == Step::Block && task.state() == State::Running {
                        window_hits += 1;
                    }
                    task.wake();
                }
                match task.state() {
                    State::Running => match step {
                        Step::Check if pending > 0 => {
                            pending -= 1;
                            consumed += 1;
                        }
                        Step::Check => step = Step::Block,
                        Step::Block => {
                            task.block("device");
                            step = Step::Check;
                        }
                    },
                    State::Ready => task.run(),
                    State::Blocked(_) => {
                        assert_eq!(pending, 0, "blocked with a completion waiting");
                        if raised == total {
                            break;
                        }
                    }
                    State::Finished => unreachable!(),
                }
            }
            // Let the task run to quiescence.
            for _ in 0..10 {
                match task.state() {
                    State::Ready => task.run(),
                    State::Running if pending > 0 => {
                        pending -= 1;
                        consumed += 1;
                    }
                    _ => {}
                }
            }
            assert_eq!(consumed, raised, "every completion consumed");
        }
        assert!(
            window_hits > 0,
            "the model never hit the check-to-block window"
        );
    }

    #[test]
    fn io_pending_counts_in_flight_work() {
        let before = io_outstanding();
        let a = IoPending::new();
        let b = IoPending::new();
        assert_eq!(io_outstanding(), before + 2);
        drop(a);
        drop(b);
        assert_eq!(io_outstanding(), before);
    }
}
