//! I/O shaped like `std::io`: [`Error`] with an [`ErrorKind`], the [`Read`], [`Write`] and
//! [`Seek`] traits (disks in [`crate::block`], files in `fs`), and console output:
//! `print!`, `println!`, `eprint!`, `eprintln!`. Standard output and standard error are
//! both the serial console.

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

/// The kind of an I/O error, as `std::io::ErrorKind` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file, directory or disk does not exist.
    NotFound,
    /// The operation is not allowed (for example a write to a read-only disk).
    PermissionDenied,
    /// An argument was wrong (for example an offset that is not a multiple of the block
    /// size, or past the end of the disk).
    InvalidInput,
    /// The data read was not valid (for example a corrupted file system).
    InvalidData,
    /// The operation needs something that is not there (for example a disk that another
    /// owner has open, or a device that lacks the feature).
    Unsupported,
    /// The operation would have to wait, and the caller asked it not to.
    WouldBlock,
    /// The operation did not finish in time.
    TimedOut,
    /// A write could not write everything.
    WriteZero,
    /// A read ended before the buffer was full.
    UnexpectedEof,
    /// Not enough memory.
    OutOfMemory,
    /// The device has no space left.
    StorageFull,
    /// The object is a directory where a file was wanted.
    IsADirectory,
    /// The object is not a directory where one was wanted.
    NotADirectory,
    /// The peer refused the connection.
    ConnectionRefused,
    /// The peer reset the connection.
    ConnectionReset,
    /// The connection is not established.
    NotConnected,
    /// The local address (port) is taken.
    AddrInUse,
    /// The address is not available here (no network, no address yet).
    AddrNotAvailable,
    /// The other side is gone.
    BrokenPipe,
    /// Anything else, for example an error the device reported.
    Other,
}

impl ErrorKind {
    /// A short description, as `std` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "entity not found",
            Self::PermissionDenied => "permission denied",
            Self::InvalidInput => "invalid input parameter",
            Self::InvalidData => "invalid data",
            Self::Unsupported => "unsupported",
            Self::WouldBlock => "operation would block",
            Self::TimedOut => "timed out",
            Self::WriteZero => "write zero",
            Self::UnexpectedEof => "unexpected end of file",
            Self::OutOfMemory => "out of memory",
            Self::StorageFull => "no storage space",
            Self::IsADirectory => "is a directory",
            Self::NotADirectory => "not a directory",
            Self::ConnectionRefused => "connection refused",
            Self::ConnectionReset => "connection reset",
            Self::NotConnected => "not connected",
            Self::AddrInUse => "address in use",
            Self::AddrNotAvailable => "address not available",
            Self::BrokenPipe => "broken pipe",
            Self::Other => "other error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An I/O error: a kind and a message that says what and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: alloc::string::String,
}

impl Error {
    /// An error of `kind` with a message (`"vda: sector 1234 past the end (131072 sectors)"`).
    pub fn new(kind: ErrorKind, message: impl fmt::Display) -> Self {
        Self {
            kind,
            message: alloc::format!("{message}"),
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self {
            kind,
            message: alloc::string::String::new(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.is_empty() {
            f.write_str(self.kind.as_str())
        } else {
            write!(f, "{} ({})", self.message, self.kind.as_str())
        }
    }
}

impl core::error::Error for Error {}

/// `Result` with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;

/// A source of bytes, as `std::io::Read`.
pub trait Read {
    /// Reads up to `buf.len()` bytes; `Ok(0)` at the end.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;

    /// Fills `buf` completely, or fails with `UnexpectedEof`.
    fn read_exact(&mut self, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            match self.read(buf)? {
                0 => {
                    return Err(Error::new(
                        ErrorKind::UnexpectedEof,
                        "failed to fill whole buffer",
                    ));
                }
                n => buf = &mut buf[n..],
            }
        }
        Ok(())
    }

    /// Reads to the end, appending to `buf`; returns how many bytes were read.
    fn read_to_end(&mut self, buf: &mut alloc::vec::Vec<u8>) -> Result<usize> {
        let start = buf.len();
        let mut chunk = [0u8; 4096];
        loop {
            match self.read(&mut chunk)? {
                0 => return Ok(buf.len() - start),
                n => buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// A sink of bytes, as `std::io::Write`.
pub trait Write {
    /// Writes some of `buf`; returns how many bytes were taken.
    fn write(&mut self, buf: &[u8]) -> Result<usize>;

    /// Makes everything written so far reach its destination (for a disk: durable).
    fn flush(&mut self) -> Result<()>;

    /// Writes all of `buf`, or fails with `WriteZero`.
    fn write_all(&mut self, mut buf: &[u8]) -> Result<()> {
        while !buf.is_empty() {
            match self.write(buf)? {
                0 => {
                    return Err(Error::new(
                        ErrorKind::WriteZero,
                        "failed to write whole buffer",
                    ));
                }
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }
}

/// Where [`Seek::seek`] counts from, as `std::io::SeekFrom`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeekFrom {
    Start(u64),
    End(i64),
    Current(i64),
}

/// A cursor that can move, as `std::io::Seek`.
pub trait Seek {
    /// Moves the cursor; returns the new position from the start.
    fn seek(&mut self, pos: SeekFrom) -> Result<u64>;

    /// The position from the start.
    fn stream_position(&mut self) -> Result<u64> {
        self.seek(SeekFrom::Current(0))
    }
}
