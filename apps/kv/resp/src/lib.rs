//! RESP2, the protocol Redis clients speak, for `apps/kv`: plain Rust that builds and is
//! tested on the host.
//!
//! - [`request`]: [`parse`] takes a connection's read buffer and returns one command (its
//!   arguments and how many bytes it used, so pipelined commands follow), `Incomplete`, or a
//!   [`ProtocolError`] whose text is Redis 7.0's (the server replies `-ERR {error}` and
//!   closes the connection, as Redis does). Both forms Redis accepts are parsed: multibulk
//!   (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) and inline (`GET k\r\n`, with Redis's quoting rules).
//! - [`reply`]: appends replies (simple strings, errors, integers, bulk strings, nulls, array
//!   headers) to an output buffer.
//!
//! Memory is bounded by the input: nothing is reserved on the word of a length prefix
//! alone, so a client announcing a 512 MB bulk or a million arguments costs only what it
//! actually sends.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod reply;
pub mod request;
mod split;

pub use request::{Limits, Parsed, ProtocolError, parse};
