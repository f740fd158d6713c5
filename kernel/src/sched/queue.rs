//! The scheduler's two queues, as plain logic: which task runs next, and which sleeper
//! wakes next.
//!
//! [`RunQueue`] is FIFO within each [`Class`]; interrupt-driven I/O work runs ahead of bulk
//! work. [`TimerQueue`] orders deadlines; a task's timer is cancelled lazily (the scheduler
//! skips an entry whose ticket no longer matches the task's).

use alloc::collections::{BinaryHeap, VecDeque};
use core::cmp::Reverse;

/// A task's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u64);

/// Priority class. Two are enough for a cooperative kernel: tasks that finish I/O (woken by
/// devices) run before tasks doing bulk work, and FIFO within a class keeps it fair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Class {
    /// Woken by I/O completion; runs first.
    Io,
    /// Everything else.
    #[default]
    Normal,
}

/// Ready tasks.
#[derive(Debug, Default)]
pub struct RunQueue {
    io: VecDeque<TaskId>,
    normal: VecDeque<TaskId>,
}

impl RunQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `task` to its class's queue.
    pub fn push(&mut self, task: TaskId, class: Class) {
        match class {
            Class::Io => self.io.push_back(task),
            Class::Normal => self.normal.push_back(task),
        }
    }

    /// The next task to run: the oldest I/O task, else the oldest normal one.
    pub fn pop(&mut self) -> Option<TaskId> {
        self.io.pop_front().or_else(|| self.normal.pop_front())
    }

    pub fn len(&self) -> usize {
        self.io.len() + self.normal.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A pending wake-up: at `deadline` (ns since boot), wake `task` if its timer ticket is
/// still `ticket`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timer {
    pub deadline: u64,
    /// Insertion order: equal deadlines wake first-come first-served.
    sequence: u64,
    pub task: TaskId,
    pub ticket: u64,
}

/// Deadlines, earliest first.
#[derive(Debug, Default)]
pub struct TimerQueue {
    heap: BinaryHeap<Reverse<Timer>>,
    sequence: u64,
}

impl TimerQueue {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, deadline: u64, task: TaskId, ticket: u64) {
        self.sequence += 1;
        self.heap.push(Reverse(Timer {
            deadline,
            sequence: self.sequence,
            task,
            ticket,
        }));
    }

    /// The earliest deadline, if any timer is pending.
    pub fn next_deadline(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(t)| t.deadline)
    }

    /// Removes and returns the earliest timer if it is due at `now`.
    pub fn pop_due(&mut self, now: u64) -> Option<Timer> {
        if self.next_deadline()? <= now {
            self.heap.pop().map(|Reverse(t)| t)
        } else {
            None
        }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Keeps only the timers `keep` accepts (dropping those cancelled by a new ticket,
    /// which otherwise stay until their deadline).
    pub fn retain(&mut self, mut keep: impl FnMut(&Timer) -> bool) {
        self.heap.retain(|Reverse(t)| keep(t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_class_runs_first_and_each_class_is_fifo() {
        let mut q = RunQueue::new();
        q.push(TaskId(1), Class::Normal);
        q.push(TaskId(2), Class::Io);
        q.push(TaskId(3), Class::Normal);
        q.push(TaskId(4), Class::Io);
        let order: Vec<u64> = core::iter::from_fn(|| q.pop()).map(|t| t.0).collect();
        assert_eq!(order, [2, 4, 1, 3]);
        assert!(q.is_empty());
    }

    #[test]
    fn timers_pop_in_deadline_order_then_insertion_order() {
        let mut q = TimerQueue::new();
        q.insert(300, TaskId(1), 0);
        q.insert(100, TaskId(2), 0);
        q.insert(200, TaskId(3), 0);
        q.insert(100, TaskId(4), 0);
        assert_eq!(q.next_deadline(), Some(100));
        assert_eq!(q.pop_due(99), None);
        let due: Vec<u64> = core::iter::from_fn(|| q.pop_due(250))
            .map(|t| t.task.0)
            .collect();
        assert_eq!(due, [2, 4, 3]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.pop_due(u64::MAX).unwrap().task, TaskId(1));
        assert!(q.is_empty());
    }

    #[test]
    fn tickets_travel_with_timers() {
        let mut q = TimerQueue::new();
        q.insert(5, TaskId(9), 41);
        q.insert(5, TaskId(9), 42);
        assert_eq!(q.pop_due(5).unwrap().ticket, 41);
        assert_eq!(q.pop_due(5).unwrap().ticket, 42);
    }

    #[test]
    fn retain_drops_cancelled_timers_and_keeps_the_order() {
        let mut q = TimerQueue::new();
        for (i, deadline) in [50u64, 10, 40, 20, 30].into_iter().enumerate() {
            q.insert(deadline, TaskId(i as u64), 1);
        }
        q.retain(|t| t.deadline != 40 && t.deadline != 10);
        assert_eq!(q.len(), 3);
        let order: Vec<u64> = core::iter::from_fn(|| q.pop_due(u64::MAX))
            .map(|t| t.deadline)
            .collect();
        assert_eq!(order, [20, 30, 50]);
    }
}
