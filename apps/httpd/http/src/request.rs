//! The incremental request parser: [`RequestParser`] reads a connection's buffer as bytes
//! arrive and yields [`Request`]s in order, several from one buffer when a client pipelines.
//!
//! The head is read by a byte-at-a-time state machine that keeps its place between calls,
//! so every byte is looked at once however the input is split, and the outcome (requests,
//! or the first error) depends only on the bytes, never on how they arrived.
//!
//! What is accepted (RFC 9112, strictly except where said):
//! - Empty lines before a request line are skipped.
//! - Request line: `method SP target SP HTTP/d.d`, single spaces; method a token; target
//!   bytes `!`..=`~`; `HTTP/1.0` and `HTTP/1.1` only (another `HTTP/d.d` is 505).
//! - Lines end with CRLF or a bare LF (RFC 9112 section 2.2 allows a recipient to take LF
//!   alone; netcat users send it). A CR anywhere else is an error, so a line ending cannot
//!   be read two ways.
//! - Header lines: a token name, `:` right after it (no white space before), a value of
//!   visible bytes, tab, space or `0x80..=0xff`; folded lines are refused.
//! - `Content-Length` (equal repeats allowed) sizes a body, which is skipped; a request with
//!   `Transfer-Encoding` is refused, as is one whose method is not `GET` or `HEAD`.
//! - `Connection: close` ends an HTTP/1.1 connection after the response; an HTTP/1.0 one
//!   stays open only with `Connection: keep-alive`.

use crate::{Error, Limits, Method, ReplyTo, Result, Version};

/// Reads requests from one connection's bytes.
///
/// Contract: each call gets the connection's unconsumed bytes, the ones an earlier call saw
/// first (minus the `consumed` it returned, which the caller drops) and then any new ones.
/// After an error, every call returns that error: answer with [`Error::status`] and close.
#[derive(Clone, Debug)]
pub struct RequestParser {
    limits: Limits,
    head: Head,
    /// Bytes of the last request's body still to skip.
    body_left: u64,
    failed: Option<Error>,
}

/// What [`RequestParser::parse`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed<'b> {
    /// More bytes are needed. The first `consumed` bytes (a body being skipped) are done
    /// with; the rest must be passed again with what arrives next.
    Incomplete { consumed: usize },
    /// A request. The first `consumed` bytes (its head, and as much of its body as there
    /// was) are done with; what follows may be the next request.
    Complete {
        request: Request<'b>,
        consumed: usize,
    },
}

impl RequestParser {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            head: Head::NEW,
            body_left: 0,
            failed: None,
        }
    }

    /// Parses what `buf` holds (see the type's contract).
    ///
    /// `Incomplete` is only returned while what is left of `buf` after `consumed` is at most
    /// `max_head_bytes`: the caller never needs a larger buffer.
    pub fn parse<'b>(&mut self, buf: &'b [u8]) -> Result<Parsed<'b>> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let skipped = self.skip_body(buf);
        if self.body_left > 0 {
            return Ok(Parsed::Incomplete { consumed: skipped });
        }
        let rest = &buf[skipped..];
        let parsed = self
            .head
            .advance(rest, &self.limits)
            .and_then(|done| match done {
                None => Ok(None),
                Some(head_len) => self
                    .head
                    .request(rest, head_len)
                    .map(|r| Some((r, head_len))),
            });
        match parsed {
            Err(e) => {
                self.failed = Some(e);
                Err(e)
            }
            Ok(None) => Ok(Parsed::Incomplete { consumed: skipped }),
            Ok(Some((request, head_len))) => {
                self.head = Head::NEW;
                self.body_left = request.content_length;
                let body = self.skip_body(&rest[head_len..]);
                Ok(Parsed::Complete {
                    request,
                    consumed: skipped + head_len + body,
                })
            }
        }
    }

    /// True between requests: no byte of a next request seen, no body left to skip. A
    /// connection that times out while idle is closed quietly; one that is not gets a 408.
    pub fn is_idle(&self) -> bool {
        self.failed.is_none() && self.body_left == 0 && self.head.pos == 0
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Skips as much of a body as `buf` holds; returns how many bytes that was.
    fn skip_body(&mut self, buf: &[u8]) -> usize {
        let n = usize::try_from(self.body_left).map_or(buf.len(), |left| left.min(buf.len()));
        self.body_left -= n as u64;
        n
    }
}

/// A parsed request head; its strings borrow the buffer given to [`RequestParser::parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request<'b> {
    method: Method,
    version: Version,
    target: &'b str,
    keep_alive: bool,
    content_length: u64,
    /// The header lines, each ending with its LF, then the blank line.
    header_block: &'b [u8],
}

impl<'b> Request<'b> {
    pub fn method(&self) -> Method {
        self.method
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The request target as sent: `/path?query` or `http://host/path`; see
    /// [`crate::path::resolve`] for the path it names.
    pub fn target(&self) -> &'b str {
        self.target
    }

    /// Whether the connection stays open after the response.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// The length of the body (already skipped, or being skipped by the parser).
    pub fn content_length(&self) -> u64 {
        self.content_length
    }

    /// The header lines in order: names as sent, values without surrounding white space.
    pub fn headers(&self) -> Headers<'b> {
        Headers {
            rest: self.header_block,
        }
    }

    /// What a response to this request must fit.
    pub fn reply_to(&self) -> ReplyTo {
        ReplyTo::from(self)
    }

    /// The first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

/// The header lines of a [`Request`], as `(name, value)`.
#[derive(Clone, Debug)]
pub struct Headers<'b> {
    rest: &'b [u8],
}

impl<'b> Iterator for Headers<'b> {
    type Item = (&'b str, &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // The parser checked every line: a token, a colon, a value; then a blank line.
        let newline = self.rest.iter().position(|&b| b == b'\n')?;
        let line = &self.rest[..newline];
        self.rest = &self.rest[newline + 1..];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        let name = core::str::from_utf8(&line[..colon]).ok()?;
        Some((name, trim_ows(&line[colon + 1..])))
    }
}

/// Where the head's state machine is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before the request line (empty lines are skipped).
    Start,
    Method,
    Target,
    Version,
    /// At the start of a header line or of the blank line that ends the head.
    HeaderStart,
    HeaderName,
    HeaderValue,
}

/// The head parsed so far; offsets count from the start of the request's bytes.
#[derive(Clone, Debug)]
struct Head {
    state: State,
    /// The last byte was a CR: this one must be LF.
    after_cr: bool,
    /// Bytes looked at.
    pos: usize,
    method_start: usize,
    method: Option<Method>,
    target_start: usize,
    target_end: usize,
    version_start: usize,
    version: Option<Version>,
    headers_start: usize,
    line_start: usize,
    colon: usize,
    value_end: usize,
    headers: usize,
    hosts: usize,
    content_length: Option<u64>,
    close: bool,
    keep_alive: bool,
    transfer_encoding: bool,
}

impl Head {
    const NEW: Head = Head {
        state: State::Start,
        after_cr: false,
        pos: 0,
        method_start: 0,
        method: None,
        target_start: 0,
        target_end: 0,
        version_start: 0,
        version: None,
        headers_start: 0,
        line_start: 0,
        colon: 0,
        value_end: 0,
        headers: 0,
        hosts: 0,
        content_length: None,
        close: false,
        keep_alive: false,
        transfer_encoding: false,
    };

    /// Looks at the bytes of `buf` not seen yet, up to the head limit. Returns the head's
    /// length once its blank line is there.
    fn advance(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>> {
        let end = buf.len().min(limits.max_head_bytes);
        while self.pos < end {
            let i = self.pos;
            self.pos += 1;
            if self.step(buf, i, limits)? {
                return Ok(Some(i + 1));
            }
        }
        if buf.len() > limits.max_head_bytes {
            Err(Error::HeadTooLarge)
        } else {
            Ok(None)
        }
    }

    /// Takes byte `i` of `buf`; true when it ends the head.
    fn step(&mut self, buf: &[u8], i: usize, limits: &Limits) -> Result<bool> {
        let b = buf[i];
        if self.after_cr {
            if b != b'\n' {
                return Err(Error::BadLineEnding);
            }
            self.after_cr = false;
            return self.line_end(buf, i, limits);
        }
        match self.state {
            State::Start => match b {
                b'\r' => self.after_cr = true,
                b'\n' => {}
                _ if is_tchar(b) => {
                    self.method_start = i;
                    self.state = State::Method;
                }
                _ => return Err(Error::BadMethod),
            },
            State::Method => match b {
                b' ' => {
                    self.method = match &buf[self.method_start..i] {
                        b"GET" => Some(Method::Get),
                        b"HEAD" => Some(Method::Head),
                        _ => None,
                    };
                    self.target_start = i + 1;
                    self.state = State::Target;
                }
                _ if is_tchar(b) => {}
                _ => return Err(Error::BadMethod),
            },
            State::Target => match b {
                b' ' if i == self.target_start => return Err(Error::BadTarget),
                b' ' => {
                    self.target_end = i;
                    self.version_start = i + 1;
                    self.state = State::Version;
                }
                b'!'..=b'~' if i - self.target_start >= limits.max_target_len => {
                    return Err(Error::TargetTooLong);
                }
                b'!'..=b'~' => {}
                b'\r' | b'\n' => return Err(Error::BadVersion),
                _ => return Err(Error::BadTarget),
            },
            State::Version => {
                let expected = match i - self.version_start {
                    n @ 0..=4 => b == b"HTTP/"[n],
                    5 | 7 => b.is_ascii_digit(),
                    6 => b == b'.',
                    _ => b == b'\r' || b == b'\n',
                };
                if !expected {
                    return Err(Error::BadVersion);
                }
                match b {
                    b'\r' => self.after_cr = true,
                    b'\n' => return self.line_end(buf, i, limits),
                    _ => {}
                }
            }
            State::HeaderStart => match b {
                b'\r' => self.after_cr = true,
                b'\n' => return self.line_end(buf, i, limits),
                _ if is_tchar(b) => {
                    self.headers += 1;
                    if self.headers > limits.max_headers {
                        return Err(Error::TooManyHeaders);
                    }
                    self.line_start = i;
                    self.state = State::HeaderName;
                }
                // A folded line (white space first), an empty name, or no token at all.
                _ => return Err(Error::BadHeaderName),
            },
            State::HeaderName => match b {
                b':' => {
                    self.colon = i;
                    self.state = State::HeaderValue;
                }
                _ if is_tchar(b) => {}
                _ => return Err(Error::BadHeaderName),
            },
            State::HeaderValue => match b {
                b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                b'\r' => {
                    self.value_end = i;
                    self.after_cr = true;
                }
                b'\n' => {
                    self.value_end = i;
                    return self.line_end(buf, i, limits);
                }
                _ => return Err(Error::BadHeaderValue),
            },
        }
        Ok(false)
    }

    /// Byte `i` is the LF that ends a line; true when that line was the blank one.
    fn line_end(&mut self, buf: &[u8], i: usize, limits: &Limits) -> Result<bool> {
        match self.state {
            State::Start => Ok(false),
            State::Version => {
                let digits = &buf[self.version_start + 5..self.version_start + 8];
                self.version = match digits {
                    b"1.1" => Some(Version::Http11),
                    b"1.0" => Some(Version::Http10),
                    _ => return Err(Error::UnsupportedVersion),
                };
                self.headers_start = i + 1;
                self.state = State::HeaderStart;
                Ok(false)
            }
            State::HeaderValue => {
                let name = &buf[self.line_start..self.colon];
                let value = trim_ows(&buf[self.colon + 1..self.value_end]);
                self.header(name, value)?;
                self.state = State::HeaderStart;
                Ok(false)
            }
            State::HeaderStart => {
                self.finish(limits)?;
                Ok(true)
            }
            // A CR or LF in these states is refused before it gets here.
            State::Method | State::Target | State::HeaderName => Err(Error::BadLineEnding),
        }
    }

    /// Notes what a header line means for serving the request.
    fn header(&mut self, name: &[u8], value: &[u8]) -> Result {
        if name.eq_ignore_ascii_case(b"host") {
            self.hosts += 1;
        } else if name.eq_ignore_ascii_case(b"content-length") {
            // `Content-Length: 5, 5` and repeated equal headers are allowed (RFC 9110 8.6).
            for item in value.split(|&b| b == b',') {
                let n = parse_decimal(trim_ows(item)).ok_or(Error::BadContentLength)?;
                if self.content_length.is_some_and(|m| m != n) {
                    return Err(Error::BadContentLength);
                }
                self.content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            self.transfer_encoding = true;
        } else if name.eq_ignore_ascii_case(b"connection") {
            for token in value.split(|&b| b == b',').map(trim_ows) {
                if token.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                }
            }
        }
        Ok(())
    }

    /// Checks a complete head, in this order: `Host`, method, `Transfer-Encoding`, body size.
    fn finish(&self, limits: &Limits) -> Result {
        if self.version == Some(Version::Http11) && self.hosts != 1 {
            return Err(Error::BadHost);
        }
        if self.method.is_none() {
            return Err(Error::MethodNotAllowed);
        }
        if self.transfer_encoding {
            return Err(Error::TransferEncoding);
        }
        if self.content_length.unwrap_or(0) > limits.max_body_bytes {
            return Err(Error::BodyTooLarge);
        }
        Ok(())
    }

    /// The request of a complete head of `head_len` bytes at the start of `buf`.
    fn request<'b>(&self, buf: &'b [u8], head_len: usize) -> Result<Request<'b>> {
        let (Some(method), Some(version)) = (self.method, self.version) else {
            return Err(Error::MethodNotAllowed);
        };
        let target = core::str::from_utf8(&buf[self.target_start..self.target_end])
            .map_err(|_| Error::BadTarget)?;
        let keep_alive = match version {
            Version::Http11 => !self.close,
            Version::Http10 => self.keep_alive && !self.close,
        };
        Ok(Request {
            method,
            version,
            target,
            keep_alive,
            content_length: self.content_length.unwrap_or(0),
            header_block: &buf[self.headers_start..head_len],
        })
    }
}

/// A token character (RFC 9110 5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `bytes` without spaces and tabs at either end.
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

/// One or more ASCII digits as a number; `None` for anything else or an overflow.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        if !d.is_ascii_digit() {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests;
