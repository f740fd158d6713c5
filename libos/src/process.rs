//! Ending the run: `exit`, and what `main`'s return value turns into.

use core::fmt::Debug;

/// Exit status of a successful run.
pub const EXIT_SUCCESS: i32 = 0;
/// Exit status of `main` returning `Err`.
pub const EXIT_FAILURE: i32 = 1;

/// Ends the run now with `status` (0..=123; values outside print a warning and become 1).
pub fn exit(status: i32) -> ! {
    kernel::runtime::exit(status)
}

/// What `main` may return, as in `std`.
pub trait Termination {
    /// The exit status this value means; may print (an `Err` prints itself).
    fn report(self) -> i32;
}

impl Termination for () {
    fn report(self) -> i32 {
        EXIT_SUCCESS
    }
}

impl<E: Debug> Termination for Result<(), E> {
    fn report(self) -> i32 {
        match self {
            Ok(()) => EXIT_SUCCESS,
            Err(e) => {
                crate::eprintln!("Error: {e:?}");
                EXIT_FAILURE
            }
        }
    }
}

#[doc(hidden)]
pub fn run_main<T: Termination>(main: fn() -> T, name: &'static str) -> i32 {
    kernel::runtime::set_app_name(name);
    main().report()
}

/// The heap: its size and the bytes allocated now.
pub use kernel::mm::HeapStats;

/// How much of the heap is in use (for limits such as kv's `maxmemory`).
pub fn heap() -> HeapStats {
    kernel::mm::heap_stats()
}
