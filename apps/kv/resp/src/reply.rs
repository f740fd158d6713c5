//! Replies, appended to a connection's output buffer in RESP2.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// `+OK`-style status.
pub fn simple(out: &mut Vec<u8>, s: &str) {
    out.push(b'+');
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `-ERR ...`: `message` is the whole text after the `-` (`ERR ...`, `WRONGTYPE ...`).
/// Newlines in it would break the protocol and are replaced with spaces, as Redis does.
pub fn error(out: &mut Vec<u8>, message: &str) {
    out.push(b'-');
    out.extend(
        message
            .bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

pub fn integer(out: &mut Vec<u8>, n: i64) {
    line(out, b':', n);
}

pub fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    line(out, b'$', data.len() as i64);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The null bulk string (`$-1`), RESP2's "no value".
pub fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"$-1\r\n");
}

/// The null array (`*-1`), what blocking commands answer on timeout.
pub fn null_array(out: &mut Vec<u8>) {
    out.extend_from_slice(b"*-1\r\n");
}

/// The header of an array of `n` replies (which follow).
pub fn array(out: &mut Vec<u8>, n: usize) {
    line(out, b'*', n as i64);
}

fn line(out: &mut Vec<u8>, kind: u8, n: i64) {
    out.push(kind);
    let mut digits = itoa(n);
    out.append(&mut digits);
    out.extend_from_slice(b"\r\n");
}

fn itoa(n: i64) -> Vec<u8> {
    let mut s = String::new();
    let _ = write!(s, "{n}");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_each_kind() {
        let mut out = Vec::new();
        simple(&mut out, "OK");
        error(&mut out, "ERR bad\r\nthing");
        integer(&mut out, -42);
        bulk(&mut out, b"hi");
        bulk(&mut out, b"");
        null(&mut out);
        array(&mut out, 2);
        null_array(&mut out);
        assert_eq!(
            out,
            b"+OK\r\n-ERR bad  thing\r\n:-42\r\n$2\r\nhi\r\n$0\r\n\r\n$-1\r\n*2\r\n*-1\r\n"
        );
    }
}
