//! One connection: read, parse every complete request in the buffer, gather the answers in
//! one buffer and write them at once (pipelining), until the client or a request ends it.
//!
//! The read buffer never holds more than the head limit and one read: the parser answers
//! before that ([`http1::RequestParser::parse`]). Small files are copied into the answer
//! buffer; larger ones are written straight from the file in chunks after the answers
//! before them. Any error (a malformed request, a reset, a timeout) ends this connection
//! alone: the server goes on.

use crate::Config;
use crate::files::Site;
use core::time::Duration;
use http1::response::{self, ReplyTo, ResponseHead};
use http1::site::{self, DEFAULT_PAGE, Plan};
use http1::{Parsed, Request, RequestParser, Status};
use libos::fs::File;
use libos::io::{self, ErrorKind, Read, Write};
use libos::net::{Shutdown, TcpStream};
use libos::prelude::*;
use libos::time::Instant;

/// What every connection shares.
pub(crate) struct Server {
    pub(crate) config: Config,
    pub(crate) site: Site,
}

/// Bytes asked of the socket at a time.
const READ_SIZE: usize = 4096;
/// Bytes of a large file read and written at a time.
const FILE_CHUNK: usize = 32 * 1024;
/// Answers gathered past this are written before the next request is answered.
const OUT_HIGH_WATER: usize = 64 * 1024;

/// Serves one connection until it ends.
pub(crate) fn serve(mut stream: TcpStream, server: &Server) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(server.config.timeout);
    let limits = server.config.limits;
    let mut parser = RequestParser::new(limits);
    let mut buf = vec![0u8; READ_SIZE];
    let mut filled = 0;
    let mut out = Vec::new();
    let mut deadline = deadline_after(server.config.timeout);
    loop {
        // Answer every complete request there is.
        let mut start = 0;
        let mut close = false;
        while !close {
            match parser.parse(&buf[start..filled]) {
                Ok(Parsed::Complete { request, consumed }) => {
                    start += consumed;
                    close = !request.keep_alive();
                    if answer(&request, server, &mut out, &mut stream).is_err() {
                        return;
                    }
                    if out.len() >= OUT_HIGH_WATER && send(&mut stream, &mut out).is_err() {
                        return;
                    }
                }
                Ok(Parsed::Incomplete { consumed }) => {
                    start += consumed;
                    break;
                }
                Err(e) => {
                    response::write_error(&mut out, e.status(), ReplyTo::CLOSE);
                    close = true;
                }
            }
        }
        if !out.is_empty() {
            if send(&mut stream, &mut out).is_err() {
                return;
            }
            deadline = deadline_after(server.config.timeout);
        }
        if close {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        // Room for one more read: the parser never leaves more than the head limit.
        let wanted = filled + READ_SIZE;
        if buf.len() < wanted {
            buf.resize(wanted, 0);
        }
        match read_before(&mut stream, &mut buf[filled..], deadline) {
            Ok(0) => return,
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::TimedOut => {
                if !parser.is_idle() {
                    response::write_error(&mut out, Status::RequestTimeout, ReplyTo::CLOSE);
                    let _ = send(&mut stream, &mut out);
                    let _ = stream.shutdown(Shutdown::Both);
                }
                return;
            }
            Err(_) => return,
        }
    }
}

/// Appends the answer to `request` to `out`, or for a large file writes `out` and then the
/// file. An error means the connection must end.
fn answer(
    request: &Request<'_>,
    server: &Server,
    out: &mut Vec<u8>,
    stream: &mut TcpStream,
) -> io::Result<()> {
    let reply = request.reply_to();
    let (path, len, content_type) = match site::plan(request.target(), &server.site) {
        Plan::File {
            path,
            len,
            content_type,
        } => (path, len, content_type),
        Plan::DefaultPage => {
            let html = "text/html; charset=utf-8";
            ok_head(out, DEFAULT_PAGE.len() as u64, html, reply);
            if !reply.head_only {
                out.extend_from_slice(DEFAULT_PAGE.as_bytes());
            }
            return Ok(());
        }
        Plan::Redirect { location } => {
            response::write_redirect(out, &location, reply);
            return Ok(());
        }
        Plan::Error(status) => {
            response::write_error(out, status, reply);
            return Ok(());
        }
    };
    if reply.head_only {
        ok_head(out, len, content_type, reply);
        return Ok(());
    }
    match server.site.small_file(&path, len) {
        Ok(Some(bytes)) => {
            ok_head(out, len, content_type, reply);
            out.extend_from_slice(&bytes);
            Ok(())
        }
        Ok(None) => match File::open(&path) {
            Ok(file) => {
                ok_head(out, len, content_type, reply);
                send(stream, out)?;
                send_file(stream, file, len)
            }
            Err(_) => {
                response::write_error(out, Status::InternalServerError, reply);
                Ok(())
            }
        },
        Err(_) => {
            response::write_error(out, Status::InternalServerError, reply);
            Ok(())
        }
    }
}

fn ok_head(out: &mut Vec<u8>, len: u64, content_type: &str, reply: ReplyTo) {
    ResponseHead {
        status: Status::Ok,
        content_length: len,
        content_type: Some(content_type),
        location: None,
        reply,
    }
    .write(out);
}

/// Writes `len` bytes of `file`; a file that ends sooner is an error (the head promised
/// `len`, so the connection cannot go on).
fn send_file(stream: &mut TcpStream, mut file: File, len: u64) -> io::Result<()> {
    let mut chunk = vec![0u8; FILE_CHUNK];
    let mut left = len;
    while left > 0 {
        let want = usize::try_from(left).map_or(chunk.len(), |l| l.min(chunk.len()));
        let n = file.read(&mut chunk[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "file shorter than its length",
            ));
        }
        stream.write_all(&chunk[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Writes and empties `out`.
fn send(stream: &mut TcpStream, out: &mut Vec<u8>) -> io::Result<()> {
    let result = stream.write_all(out);
    out.clear();
    result
}

fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}

/// Reads what arrives before `deadline` (`None`: no deadline); `TimedOut` once it passed.
fn read_before(
    stream: &mut TcpStream,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> io::Result<usize> {
    if let Some(deadline) = deadline {
        let left = deadline.duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                "request deadline passed",
            ));
        }
        stream.set_read_timeout(Some(left))?;
    }
    stream.read(buf)
}
