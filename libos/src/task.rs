//! Running futures: [`block_on`] drives one to completion on the calling thread, which
//! blocks (other threads run) until the future's waker fires; [`spawn`] runs one on a
//! thread of its own.

use core::future::Future;

/// Runs `future` to completion on this thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    kernel::sched::block_on(future)
}

/// Runs `future` on this thread for at most `timeout` (`None`: no limit); `None` if it
/// was not done by then (it is dropped).
pub fn block_on_timeout<F: Future>(
    future: F,
    timeout: Option<core::time::Duration>,
) -> Option<F::Output> {
    let deadline = timeout.map(|t| {
        kernel::time::since_boot()
            .saturating_add(t)
            .as_nanos()
            .min(u128::from(u64::MAX)) as u64
    });
    kernel::sched::block_on_until(future, deadline)
}

/// Runs `future` on a thread of its own (named `name`); its result comes back through
/// the handle's `join`.
pub fn spawn<F>(
    name: &str,
    future: F,
) -> Result<crate::thread::JoinHandle<F::Output>, crate::thread::SpawnError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    crate::thread::Builder::new()
        .name(alloc::string::String::from(name))
        .spawn(move || block_on(future))
}
