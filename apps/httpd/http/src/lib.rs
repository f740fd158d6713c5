//! HTTP/1.1 for `apps/httpd`, as plain Rust that builds and is tested on the host: the
//! server app is a loop of socket reads and writes around it.
//!
//! - [`request`]: [`RequestParser`], an incremental parser fed a connection's read buffer;
//!   it returns [`Parsed::Incomplete`] or a [`Request`] and how many bytes it used
//!   (pipelining), or an [`Error`] whose [`Error::status`] is the answer to send.
//! - [`path`]: a request target to a clean absolute path that cannot leave the served tree.
//! - [`site`]: what to answer for a path, given a [`site::Tree`] (the file system behind a
//!   small trait, faked in tests).
//! - [`mime`]: `Content-Type` by file extension.
//! - [`response`]: response heads and canned error responses, appended to a caller's buffer.
//!
//! Only `GET` and `HEAD` are served; bodies of requests are skipped, never read.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod mime;
pub mod path;
pub mod request;
pub mod response;
pub mod site;

#[cfg(test)]
mod proptests;

pub use request::{Parsed, Request, RequestParser};
pub use response::{ReplyTo, ResponseHead};

use core::fmt;

/// What a request asked for that we do not serve, or how it is malformed. Each maps to the
/// status to answer with ([`Error::status`]); after any of them the connection is closed,
/// since the rest of its byte stream cannot be trusted to start a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The method is not a token (400).
    BadMethod,
    /// The request target is empty or has a byte outside `!`..=`~` (400).
    BadTarget,
    /// The request line has no `HTTP/x.y` version after the target, or more after it (400).
    BadVersion,
    /// A CR not followed by LF (400). A bare LF ends a line like CRLF does.
    BadLineEnding,
    /// A header line without a name, with a byte outside a token in its name, with white
    /// space before the colon, a folded continuation line, or no colon at all (400).
    BadHeaderName,
    /// A header value with a control character other than tab (400).
    BadHeaderValue,
    /// `Content-Length` that is not a number, or several that disagree (400).
    BadContentLength,
    /// An HTTP/1.1 request without `Host`, or with more than one (400).
    BadHost,
    /// The request line and headers are longer than [`Limits::max_head_bytes`] (413: the
    /// issue asks for it; RFC 6585 would say 431).
    HeadTooLarge,
    /// More header lines than [`Limits::max_headers`] (413, as for a long head).
    TooManyHeaders,
    /// A request target longer than [`Limits::max_target_len`] (414).
    TargetTooLong,
    /// A body longer than [`Limits::max_body_bytes`] (413).
    BodyTooLarge,
    /// A method other than `GET` or `HEAD` (405, with `Allow: GET, HEAD`).
    MethodNotAllowed,
    /// A request with `Transfer-Encoding`: its body cannot be skipped without decoding, and
    /// we decode none (501).
    TransferEncoding,
    /// An `HTTP/x.y` version other than 1.0 and 1.1 (505).
    UnsupportedVersion,
    /// A target that is neither `/path` nor `http://host/path` (`*`, `host:port`) (400).
    BadTargetForm,
    /// A `%` not followed by two hex digits in the path (400).
    BadPercentEncoding,
    /// A path that holds NUL or another control character, or a backslash, once decoded (400).
    ForbiddenPathByte,
    /// A decoded path that is not UTF-8 (400).
    PathNotUtf8,
    /// A path whose `..` segments climb above the served root (400).
    PathEscapesRoot,
}

/// `Result` with this crate's [`Error`].
pub type Result<T = ()> = core::result::Result<T, Error>;

impl Error {
    /// The status to answer with.
    pub fn status(self) -> Status {
        match self {
            Self::HeadTooLarge | Self::TooManyHeaders | Self::BodyTooLarge => {
                Status::PayloadTooLarge
            }
            Self::TargetTooLong => Status::UriTooLong,
            Self::MethodNotAllowed => Status::MethodNotAllowed,
            Self::TransferEncoding => Status::NotImplemented,
            Self::UnsupportedVersion => Status::VersionNotSupported,
            Self::BadMethod
            | Self::BadTarget
            | Self::BadVersion
            | Self::BadLineEnding
            | Self::BadHeaderName
            | Self::BadHeaderValue
            | Self::BadContentLength
            | Self::BadHost
            | Self::BadTargetForm
            | Self::BadPercentEncoding
            | Self::ForbiddenPathByte
            | Self::PathNotUtf8
            | Self::PathEscapesRoot => Status::BadRequest,
        }
    }

    /// What is wrong, for a log line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadMethod => "method is not a token",
            Self::BadTarget => "bad byte in request target",
            Self::BadVersion => "request line has no HTTP version",
            Self::BadLineEnding => "CR not followed by LF",
            Self::BadHeaderName => "malformed header line",
            Self::BadHeaderValue => "control character in header value",
            Self::BadContentLength => "bad Content-Length",
            Self::BadHost => "HTTP/1.1 request without exactly one Host",
            Self::HeadTooLarge => "request head too large",
            Self::TooManyHeaders => "too many header lines",
            Self::TargetTooLong => "request target too long",
            Self::BodyTooLarge => "request body too large",
            Self::MethodNotAllowed => "method not allowed",
            Self::TransferEncoding => "Transfer-Encoding not supported",
            Self::UnsupportedVersion => "HTTP version not supported",
            Self::BadTargetForm => "target is not a path or an absolute URL",
            Self::BadPercentEncoding => "bad percent-encoding in path",
            Self::ForbiddenPathByte => "control character or backslash in path",
            Self::PathNotUtf8 => "path is not UTF-8",
            Self::PathEscapesRoot => "path climbs above the root",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::error::Error for Error {}

/// The response statuses this server sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Ok,
    MovedPermanently,
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    RequestTimeout,
    PayloadTooLarge,
    UriTooLong,
    InternalServerError,
    NotImplemented,
    ServiceUnavailable,
    VersionNotSupported,
}

impl Status {
    pub fn code(self) -> u16 {
        match self {
            Self::Ok => 200,
            Self::MovedPermanently => 301,
            Self::BadRequest => 400,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::RequestTimeout => 408,
            Self::PayloadTooLarge => 413,
            Self::UriTooLong => 414,
            Self::InternalServerError => 500,
            Self::NotImplemented => 501,
            Self::ServiceUnavailable => 503,
            Self::VersionNotSupported => 505,
        }
    }

    /// The reason phrase, as RFC 9110 names it.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::MovedPermanently => "Moved Permanently",
            Self::BadRequest => "Bad Request",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not Found",
            Self::MethodNotAllowed => "Method Not Allowed",
            Self::RequestTimeout => "Request Timeout",
            Self::PayloadTooLarge => "Content Too Large",
            Self::UriTooLong => "URI Too Long",
            Self::InternalServerError => "Internal Server Error",
            Self::NotImplemented => "Not Implemented",
            Self::ServiceUnavailable => "Service Unavailable",
            Self::VersionNotSupported => "HTTP Version Not Supported",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.reason())
    }
}

/// The protocol versions served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    Http10,
    Http11,
}

/// The methods served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    /// As `GET`, but the response has no body.
    Head,
}

/// How much a request may hold. The parser never needs more of the connection's buffer than
/// `max_head_bytes`: a head that is not complete by then is [`Error::HeadTooLarge`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of request line and headers, blank line included (default 8 KiB).
    pub max_head_bytes: usize,
    /// Header lines (default 100).
    pub max_headers: usize,
    /// Bytes of the request target (default 4 KiB).
    pub max_target_len: usize,
    /// Bytes of a body the parser skips for the client (default 64 KiB): nothing served
    /// reads one, so a larger one is refused rather than drained.
    pub max_body_bytes: u64,
}

impl Limits {
    pub const DEFAULT: Limits = Limits {
        max_head_bytes: 8 * 1024,
        max_headers: 100,
        max_target_len: 4 * 1024,
        max_body_bytes: 64 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
