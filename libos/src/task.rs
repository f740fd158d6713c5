//! Running futures: [`block_on`] drives one to completion on the calling thread, which
//! blocks (other threads run) until the future's waker fires.

use core::future::Future;

/// Runs `future` to completion on this thread.
pub fn block_on<F: Future>(future: F) -> F::Output {
    kernel::sched::block_on(future)
}
