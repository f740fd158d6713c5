//! Responses, appended to the caller's buffer (one buffer can gather the answers to a
//! pipelined batch before one socket write): [`ResponseHead::write`], and canned answers
//! with small HTML bodies, [`write_error`] and [`write_redirect`].
//!
//! Heads carry `Server`, `Content-Length` (always: it frames the response on a kept-alive
//! connection), `Content-Type` when given, and `Connection` when the default of the
//! request's version is not what happens: `close` to end an HTTP/1.1 connection,
//! `keep-alive` to keep an HTTP/1.0 one. No `Date`: there is no wall clock. A response to
//! `HEAD` has the head of the `GET` response and no body.

use crate::{Request, Status, Version};
use alloc::vec::Vec;

/// The `Server` header's value.
pub const SERVER: &str = "unikernel-httpd";

/// What a response must fit: the request's version, whether the connection stays open, and
/// whether the body is left out (`HEAD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    pub version: Version,
    pub keep_alive: bool,
    pub head_only: bool,
}

impl ReplyTo {
    /// For a request that could not be parsed: the connection closes after the answer.
    pub const CLOSE: ReplyTo = ReplyTo {
        version: Version::Http11,
        keep_alive: false,
        head_only: false,
    };
}

impl From<&Request<'_>> for ReplyTo {
    fn from(request: &Request<'_>) -> Self {
        Self {
            version: request.version(),
            keep_alive: request.keep_alive(),
            head_only: request.method() == crate::Method::Head,
        }
    }
}

/// A response's status line and headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    pub status: Status,
    /// The body's length: for a `HEAD` response, that of the body a `GET` would get.
    pub content_length: u64,
    pub content_type: Option<&'a str>,
    /// For a redirect: already percent-encoded ([`crate::path::percent_encode`]).
    pub location: Option<&'a str>,
    pub reply: ReplyTo,
}

impl ResponseHead<'_> {
    /// Appends the head, blank line included. Header values must not hold CR or LF (the
    /// ones this crate makes do not).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 ");
        push_decimal(out, u64::from(self.status.code()));
        out.push(b' ');
        out.extend_from_slice(self.status.reason().as_bytes());
        out.extend_from_slice(b"\r\nServer: ");
        out.extend_from_slice(SERVER.as_bytes());
        if let Some(ty) = self.content_type {
            out.extend_from_slice(b"\r\nContent-Type: ");
            out.extend_from_slice(ty.as_bytes());
        }
        out.extend_from_slice(b"\r\nContent-Length: ");
        push_decimal(out, self.content_length);
        if let Some(location) = self.location {
            out.extend_from_slice(b"\r\nLocation: ");
            out.extend_from_slice(location.as_bytes());
        }
        if self.status == Status::MethodNotAllowed {
            out.extend_from_slice(b"\r\nAllow: GET, HEAD");
        }
        match (self.reply.keep_alive, self.reply.version) {
            (false, _) => out.extend_from_slice(b"\r\nConnection: close"),
            (true, Version::Http10) => out.extend_from_slice(b"\r\nConnection: keep-alive"),
            (true, Version::Http11) => {}
        }
        out.extend_from_slice(b"\r\n\r\n");
    }
}

const PAGE_START: &str = "<!DOCTYPE html>\n<html><head><title>";
const PAGE_MIDDLE: &str = "</title></head>\n<body><h1>";
const PAGE_END: &str = "</h1></body></html>\n";

/// Appends a response with `status` and a small HTML page naming it.
pub fn write_error(out: &mut Vec<u8>, status: Status, reply: ReplyTo) {
    write_page(out, status, None, reply);
}

/// Appends a 301 to `location` (already percent-encoded), with a small HTML page.
pub fn write_redirect(out: &mut Vec<u8>, location: &str, reply: ReplyTo) {
    write_page(out, Status::MovedPermanently, Some(location), reply);
}

fn write_page(out: &mut Vec<u8>, status: Status, location: Option<&str>, reply: ReplyTo) {
    // "404 Not Found": the code is always three digits.
    let title_len = 3 + 1 + status.reason().len();
    let body_len = PAGE_START.len() + title_len + PAGE_MIDDLE.len() + title_len + PAGE_END.len();
    ResponseHead {
        status,
        content_length: body_len as u64,
        content_type: Some("text/html; charset=utf-8"),
        location,
        reply,
    }
    .write(out);
    if !reply.head_only {
        out.extend_from_slice(PAGE_START.as_bytes());
        push_title(out, status);
        out.extend_from_slice(PAGE_MIDDLE.as_bytes());
        push_title(out, status);
        out.extend_from_slice(PAGE_END.as_bytes());
    }
}

fn push_title(out: &mut Vec<u8>, status: Status) {
    push_decimal(out, u64::from(status.code()));
    out.push(b' ');
    out.extend_from_slice(status.reason().as_bytes());
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        core::str::from_utf8(bytes).unwrap()
    }

    const KEEP_11: ReplyTo = ReplyTo {
        version: Version::Http11,
        keep_alive: true,
        head_only: false,
    };

    #[test]
    fn ok_head_on_a_kept_alive_http11_connection() {
        let mut out = Vec::new();
        ResponseHead {
            status: Status::Ok,
            content_length: 612,
            content_type: Some("text/html; charset=utf-8"),
            location: None,
            reply: KEEP_11,
        }
        .write(&mut out);
        assert_eq!(
            text(&out),
            "HTTP/1.1 200 OK\r\nServer: unikernel-httpd\r\n\
             Content-Type: text/html; charset=utf-8\r\nContent-Length: 612\r\n\r\n"
        );
    }

    #[test]
    fn connection_header_only_where_the_default_differs() {
        let head = |reply| {
            let mut out = Vec::new();
            ResponseHead {
                status: Status::Ok,
                content_length: 0,
                content_type: None,
                location: None,
                reply,
            }
            .write(&mut out);
            String::from_utf8(out).unwrap()
        };
        let close11 = head(ReplyTo::CLOSE);
        assert!(close11.contains("\r\nConnection: close\r\n"));
        let keep10 = head(ReplyTo {
            version: Version::Http10,
            ..KEEP_11
        });
        assert!(keep10.contains("\r\nConnection: keep-alive\r\n"));
        assert!(!head(KEEP_11).contains("Connection"));
        assert!(head(KEEP_11).ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn big_lengths_are_written_in_full() {
        let mut out = Vec::new();
        ResponseHead {
            status: Status::Ok,
            content_length: u64::MAX,
            content_type: None,
            location: None,
            reply: KEEP_11,
        }
        .write(&mut out);
        assert!(text(&out).contains("Content-Length: 18446744073709551615\r\n"));
    }

    /// Splits a response into its head and body, checking `Content-Length` against the body.
    fn split_checked(out: &[u8]) -> (&str, &str) {
        let (head, body) = text(out).split_once("\r\n\r\n").unwrap();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        (head, &body[..len.min(body.len())])
    }

    #[test]
    fn error_pages_have_the_length_they_claim() {
        for status in [
            Status::BadRequest,
            Status::NotFound,
            Status::MethodNotAllowed,
            Status::RequestTimeout,
            Status::PayloadTooLarge,
            Status::UriTooLong,
            Status::InternalServerError,
            Status::NotImplemented,
            Status::VersionNotSupported,
        ] {
            let mut out = Vec::new();
            write_error(&mut out, status, ReplyTo::CLOSE);
            let (head, body) = split_checked(&out);
            assert_eq!(text(&out).len(), head.len() + 4 + body.len(), "{status}");
            assert!(
                head.starts_with(&format!("HTTP/1.1 {status}\r\n")),
                "{head}"
            );
            assert!(head.contains("\r\nConnection: close"));
            assert!(body.contains(&format!("<h1>{status}</h1>")), "{body}");
        }
    }

    #[test]
    fn method_not_allowed_says_what_is() {
        let mut out = Vec::new();
        write_error(&mut out, Status::MethodNotAllowed, ReplyTo::CLOSE);
        assert!(text(&out).contains("\r\nAllow: GET, HEAD\r\n"));
    }

    #[test]
    fn head_responses_have_no_body_but_the_get_length() {
        let mut get = Vec::new();
        write_error(&mut get, Status::NotFound, KEEP_11);
        let mut head = Vec::new();
        let reply = ReplyTo {
            head_only: true,
            ..KEEP_11
        };
        write_error(&mut head, Status::NotFound, reply);
        assert!(get.starts_with(&head));
        assert!(head.ends_with(b"\r\n\r\n"));
        assert!(get.len() > head.len());
    }

    #[test]
    fn redirect_carries_its_location() {
        let mut out = Vec::new();
        write_redirect(&mut out, "/docs/", KEEP_11);
        let (head, _) = split_checked(&out);
        assert!(head.starts_with("HTTP/1.1 301 Moved Permanently\r\n"));
        assert!(head.contains("\r\nLocation: /docs/"));
    }
}
