//! Synchronisation shaped like `std::sync`, blocking cooperatively: a task that must wait
//! blocks on a kernel wait queue and other tasks run; nothing spins while another task
//! could run.
//!
//! [`Mutex`], [`Condvar`], [`Semaphore`] and [`mpsc`] channels. There is no poisoning (a
//! panic ends the whole run), so `lock` cannot fail; it still returns a `Result`, with an
//! uninhabited error, so that `std`-style `lock().unwrap()` reads the same.

use core::convert::Infallible;
use core::ops::{Deref, DerefMut};
use kernel::sched::WaitQueue;

pub use alloc::sync::{Arc, Weak};

/// A mutual-exclusion lock. Waiting tasks block and are woken in arrival order when the
/// lock is released; a task that releases and re-takes the lock before the woken one runs
/// keeps it (no hand-off), so a thread that never blocks or yields between critical
/// sections can starve others.
#[derive(Debug, Default)]
pub struct Mutex<T> {
    inner: spin::Mutex<T>,
    waiters: WaitQueue,
}

/// Access to the data of a locked [`Mutex`]; unlocks when dropped.
#[derive(Debug)]
pub struct MutexGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    mutex: &'a Mutex<T>,
}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Self {
            inner: spin::Mutex::new(value),
            waiters: WaitQueue::new(),
        }
    }

    /// Locks, blocking while another task holds the lock.
    pub fn lock(&self) -> Result<MutexGuard<'_, T>, Infallible> {
        loop {
            if let Some(guard) = self.inner.try_lock() {
                return Ok(MutexGuard {
                    guard: Some(guard),
                    mutex: self,
                });
            }
            self.waiters.wait("mutex");
        }
    }

    /// Locks if nobody holds the lock.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.inner.try_lock().map(|guard| MutexGuard {
            guard: Some(guard),
            mutex: self,
        })
    }

    pub fn into_inner(self) -> Result<T, Infallible> {
        Ok(self.inner.into_inner())
    }

    pub fn get_mut(&mut self) -> Result<&mut T, Infallible> {
        Ok(self.inner.get_mut())
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().expect("guard held until dropped")
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().expect("guard held until dropped")
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.mutex.waiters.wake_one();
    }
}

/// A condition variable, used with a [`Mutex`].
#[derive(Debug, Default)]
pub struct Condvar {
    waiters: WaitQueue,
}

impl Condvar {
    pub const fn new() -> Self {
        Self {
            waiters: WaitQueue::new(),
        }
    }

    /// Unlocks `guard`'s mutex, blocks until notified, and locks it again. As with `std`,
    /// wake-ups may be spurious: check the condition in a loop (or use
    /// [`wait_while`](Self::wait_while)).
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> Result<MutexGuard<'a, T>, Infallible> {
        let mutex = guard.mutex;
        drop(guard);
        self.waiters.wait("condvar");
        mutex.lock()
    }

    /// Waits until `condition` is false.
    pub fn wait_while<'a, T>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> Result<MutexGuard<'a, T>, Infallible> {
        while condition(&mut guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    pub fn notify_one(&self) {
        self.waiters.wake_one();
    }

    pub fn notify_all(&self) {
        self.waiters.wake_all();
    }
}

/// A counting semaphore.
#[derive(Debug, Default)]
pub struct Semaphore {
    permits: spin::Mutex<usize>,
    waiters: WaitQueue,
}

impl Semaphore {
    pub const fn new(permits: usize) -> Self {
        Self {
            permits: spin::Mutex::new(permits),
            waiters: WaitQueue::new(),
        }
    }

    /// Takes a permit, blocking until one is free.
    pub fn acquire(&self) {
        loop {
            {
                let mut permits = self.permits.lock();
                if *permits > 0 {
                    *permits -= 1;
                    return;
                }
            }
            self.waiters.wait("semaphore");
        }
    }

    /// Takes a permit if one is free.
    pub fn try_acquire(&self) -> bool {
        let mut permits = self.permits.lock();
        let free = *permits > 0;
        if free {
            *permits -= 1;
        }
        free
    }

    /// Returns a permit.
    pub fn release(&self) {
        *self.permits.lock() += 1;
        self.waiters.wake_one();
    }
}

pub mod mpsc {
    //! Multi-producer, single-consumer channels, as `std::sync::mpsc`: [`channel`]
    //! (unbounded) and [`sync_channel`] (bounded; senders block while it is full).

    use alloc::collections::VecDeque;
    use alloc::sync::Arc;
    use core::fmt;
    use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use kernel::sched::WaitQueue;

    struct Shared<T> {
        queue: spin::Mutex<VecDeque<T>>,
        bound: Option<usize>,
        senders: AtomicUsize,
        receiver_alive: AtomicBool,
        readable: WaitQueue,
        writable: WaitQueue,
    }

    /// The sending half; clone it for more producers.
    pub struct Sender<T> {
        shared: Arc<Shared<T>>,
    }

    /// The sending half of a bounded channel.
    pub struct SyncSender<T> {
        inner: Sender<T>,
    }

    /// The receiving half.
    pub struct Receiver<T> {
        shared: Arc<Shared<T>>,
    }

    /// The receiver is gone; the value comes back.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub struct SendError<T>(pub T);

    impl<T> fmt::Debug for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("SendError(..)")
        }
    }

    impl<T> fmt::Display for SendError<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("sending on a closed channel")
        }
    }

    /// Every sender is gone and the channel is empty.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct RecvError;

    impl fmt::Display for RecvError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("receiving on a closed channel")
        }
    }

    /// Why [`Receiver::try_recv`] returned nothing.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum TryRecvError {
        Empty,
        Disconnected,
    }

    fn new<T>(bound: Option<usize>) -> (Sender<T>, Receiver<T>) {
        let shared = Arc::new(Shared {
            queue: spin::Mutex::new(VecDeque::new()),
            bound,
            senders: AtomicUsize::new(1),
            receiver_alive: AtomicBool::new(true),
            readable: WaitQueue::new(),
            writable: WaitQueue::new(),
        });
        (
            Sender {
                shared: shared.clone(),
            },
            Receiver { shared },
        )
    }

    /// An unbounded channel.
    pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
        new(None)
    }

    /// A channel holding at most `bound` values; senders block while it is full.
    ///
    /// # Panics
    /// If `bound` is 0: rendezvous channels are not supported yet, and silently giving a
    /// buffered one would change what the program means.
    pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
        assert!(
            bound > 0,
            "sync_channel(0) (a rendezvous channel) is not supported yet"
        );
        let (tx, rx) = new(Some(bound));
        (SyncSender { inner: tx }, rx)
    }

    impl<T> Sender<T> {
        /// Queues `value`; fails only if the receiver is gone. Blocks while a bounded
        /// channel is full.
        pub fn send(&self, value: T) -> Result<(), SendError<T>> {
            let shared = &self.shared;
            loop {
                if !shared.receiver_alive.load(Ordering::Relaxed) {
                    return Err(SendError(value));
                }
                let mut queue = shared.queue.lock();
                if shared.bound.is_none_or(|bound| queue.len() < bound) {
                    queue.push_back(value);
                    drop(queue);
                    shared.readable.wake_one();
                    return Ok(());
                }
                drop(queue);
                shared.writable.wait("channel send");
            }
        }
    }

    impl<T> SyncSender<T> {
        pub fn send(&self, value: T) -> Result<(), SendError<T>> {
            self.inner.send(value)
        }
    }

    impl<T> Clone for Sender<T> {
        fn clone(&self) -> Self {
            self.shared.senders.fetch_add(1, Ordering::Relaxed);
            Self {
                shared: self.shared.clone(),
            }
        }
    }

    impl<T> Clone for SyncSender<T> {
        fn clone(&self) -> Self {
            Self {
                inner: self.inner.clone(),
            }
        }
    }

    impl<T> Drop for Sender<T> {
        fn drop(&mut self) {
            if self.shared.senders.fetch_sub(1, Ordering::Relaxed) == 1 {
                self.shared.readable.wake_all();
            }
        }
    }

    impl<T> Receiver<T> {
        /// The next value, blocking while the channel is empty; an error once it is empty
        /// and every sender is gone.
        pub fn recv(&self) -> Result<T, RecvError> {
            loop {
                match self.try_recv() {
                    Ok(value) => return Ok(value),
                    Err(TryRecvError::Disconnected) => return Err(RecvError),
                    Err(TryRecvError::Empty) => self.shared.readable.wait("channel receive"),
                }
            }
        }

        pub fn try_recv(&self) -> Result<T, TryRecvError> {
            let shared = &self.shared;
            let value = shared.queue.lock().pop_front();
            match value {
                Some(value) => {
                    shared.writable.wake_one();
                    Ok(value)
                }
                None if shared.senders.load(Ordering::Relaxed) == 0 => {
                    Err(TryRecvError::Disconnected)
                }
                None => Err(TryRecvError::Empty),
            }
        }

        /// Iterates until every sender is gone.
        pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
            core::iter::from_fn(|| self.recv().ok())
        }
    }

    impl<T> Drop for Receiver<T> {
        fn drop(&mut self) {
            self.shared.receiver_alive.store(false, Ordering::Relaxed);
            self.shared.writable.wake_all();
        }
    }

    impl<T> fmt::Debug for Sender<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Sender { .. }")
        }
    }

    impl<T> fmt::Debug for SyncSender<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("SyncSender { .. }")
        }
    }

    impl<T> fmt::Debug for Receiver<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Receiver { .. }")
        }
    }
}
