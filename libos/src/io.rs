//! Console output: `print!`, `println!`, `eprint!`, `eprintln!`. Standard output and
//! standard error are both the serial console.

use core::fmt;

#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>) {
    kernel::console::write_fmt(args);
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::io::_print(::core::format_args!($($arg)*)) };
}

/// Prints to the console, with a newline.
#[macro_export]
macro_rules! println {
    () => { $crate::io::_print(::core::format_args!("\n")) };
    ($($arg:tt)*) => { $crate::io::_print(::core::format_args!("{}\n", ::core::format_args!($($arg)*))) };
}

/// Prints to the console (standard error is the console too).
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::io::_print(::core::format_args!($($arg)*)) };
}

/// Prints to the console with a newline (standard error is the console too).
#[macro_export]
macro_rules! eprintln {
    () => { $crate::io::_print(::core::format_args!("\n")) };
    ($($arg:tt)*) => { $crate::io::_print(::core::format_args!("{}\n", ::core::format_args!($($arg)*))) };
}
