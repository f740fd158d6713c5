//! The library OS: what an app links against, shaped like `std` so it reads familiar.
//!
//! An app is a `#![no_std]`, `#![no_main]` binary crate with one `libos::main!(main)` line;
//! its calls into this crate are plain function calls into the kernel (no syscalls).
//!
//! ```ignore
//! #![no_std]
//! #![no_main]
//! libos::main!(main);
//! fn main() -> Result<(), &'static str> {
//!     libos::println!("Hello, {}!", libos::env::args().nth(1).unwrap_or_default());
//!     Ok(())
//! }
//! ```
//!
//! Modules: [`io`] (errors, `Read`/`Write`/`Seek`, print macros), [`block`] (disks), [`store`] (durable key-value storage), [`net`] (TCP and UDP), [`task`] (`block_on`), [`env`] (arguments), [`process`] (exit, statuses),
//! [`thread`] (cooperative threads), [`sync`] (locks, condition variables, channels), [`time`] (`Instant`, `Duration`, `sleep`),
//! [`prelude`] (heap types from `alloc`).

#![no_std]
#![forbid(unsafe_code)]

pub extern crate alloc;

pub mod block;
pub mod env;
pub mod fs;
pub mod io;
pub mod net;
pub mod process;
pub mod store;
pub mod sync;
pub mod task;
pub mod thread;
pub mod time;

/// Heap types and macros an app usually wants, as `std`'s prelude would give them.
pub mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::boxed::Box;
    pub use alloc::format;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

/// Declares the app's entry point: `libos::main!(main);` where `main` is
/// `fn main()` or `fn main() -> Result<(), E>` with `E: Debug`.
///
/// Returning `()` or `Ok(())` ends the run with status 0; `Err(e)` prints `Error: {e:?}`
/// and ends with status 1; `libos::process::exit(n)` ends with `n`; a panic prints its
/// message and location and ends with status 101.
#[macro_export]
macro_rules! main {
    ($main:path) => {
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        fn __unikernel_app_main() -> i32 {
            $crate::process::run_main($main, ::core::env!("CARGO_BIN_NAME"))
        }
    };
}
