//! Threads, shaped like `std::thread`: cooperative tasks of the kernel scheduler, each with
//! its own stack and an unmapped guard page below it.
//!
//! A thread runs until it yields, blocks (join, sleep, park, a lock or channel) or ends;
//! there is no preemption. A panic in any thread ends the run with status 101 and names the
//! thread, so `join` never reports a panic: it returns `Ok` with the thread's result.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::convert::Infallible;
use core::fmt;
use core::time::Duration;
use kernel::sched::{self, Class, SchedError, TaskId};
use spin::Mutex;

pub use kernel::sched::DEFAULT_STACK_SIZE;

/// Why a thread could not be spawned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpawnError {
    /// No memory for the thread's stack.
    OutOfMemory,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OutOfMemory => f.write_str("not enough memory for the thread's stack"),
        }
    }
}

/// A handle to a thread.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thread {
    id: TaskId,
}

impl Thread {
    /// The thread's id (unique for the run).
    pub fn id(&self) -> u64 {
        self.id.0
    }

    /// The thread's name (`None` once the thread was joined).
    pub fn name(&self) -> Option<String> {
        sched::name_of(self.id)
    }

    /// Wakes the thread from [`park`] (or makes its next `park` return at once).
    pub fn unpark(&self) {
        sched::unpark(self.id);
    }
}

/// An owned permission to wait for a thread and take its result.
pub struct JoinHandle<T> {
    thread: Thread,
    result: Arc<Mutex<Option<T>>>,
    joined: bool,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread)
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish and returns its result. (A panicking thread ends the
    /// whole run, so there is no error case; the `Result` keeps `std`'s shape.)
    pub fn join(mut self) -> Result<T, Infallible> {
        self.joined = true;
        match sched::join(self.thread.id) {
            Ok(()) => {}
            Err(e) => panic!("join of thread {}: {e:?}", self.thread.id.0),
        }
        let value = self.result.lock().take();
        Ok(value.expect("a finished thread left its result"))
    }

    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// True once the thread has finished.
    pub fn is_finished(&self) -> bool {
        self.result.lock().is_some()
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        if !self.joined {
            sched::detach(self.thread.id);
        }
    }
}

/// Configures a thread before spawning it.
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    io: bool,
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the thread (shown in panics, stack-overflow and deadlock reports).
    pub fn name(mut self, name: String) -> Self {
        self.name = Some(name);
        self
    }

    /// Stack size in bytes (default [`DEFAULT_STACK_SIZE`]; at least 8 KiB is used).
    pub fn stack_size(mut self, size: usize) -> Self {
        self.stack_size = Some(size);
        self
    }

    /// Puts the thread in the I/O class: it runs ahead of ordinary threads when ready.
    pub fn io_priority(mut self) -> Self {
        self.io = true;
        self
    }

    pub fn spawn<F, T>(self, f: F) -> Result<JoinHandle<T>, SpawnError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let result = Arc::new(Mutex::new(None));
        let slot = result.clone();
        let entry = Box::new(move || {
            let value = f();
            *slot.lock() = Some(value);
        });
        let name = self.name.unwrap_or_else(|| String::from("thread"));
        let class = if self.io { Class::Io } else { Class::Normal };
        let stack = self.stack_size.map(|s| s as u64);
        let id = sched::spawn(&name, stack, class, entry).map_err(|e| match e {
            SchedError::OutOfMemory => SpawnError::OutOfMemory,
            e => panic!("spawn: {e:?}"),
        })?;
        Ok(JoinHandle {
            thread: Thread { id },
            result,
            joined: false,
        })
    }
}

/// Spawns a thread with the default name and stack; panics if there is no memory for it
/// (as `std::thread::spawn` does).
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(handle) => handle,
        Err(e) => panic!("thread::spawn: {e}"),
    }
}

/// Lets every other ready thread run before this one continues.
pub fn yield_now() {
    sched::yield_now();
}

/// Blocks this thread for at least `d`; others run meanwhile.
pub fn sleep(d: Duration) {
    crate::time::sleep(d);
}

/// The calling thread.
pub fn current() -> Thread {
    Thread {
        id: sched::current(),
    }
}

/// Blocks until another thread calls [`Thread::unpark`] on this one.
pub fn park() {
    sched::park();
}
