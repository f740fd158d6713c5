//! Requests: multibulk and inline commands, parsed the way Redis 7.0's
//! `processMultibulkBuffer` and `processInlineBuffer` do, with the same limits and the same
//! error texts.

use alloc::vec::Vec;
use core::fmt;

/// Limits on what a client may send (Redis's defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `proto-max-bulk-len`: the longest bulk string (512 MB).
    pub max_bulk: u64,
    /// `PROTO_INLINE_MAX_SIZE`: the longest inline command, and the longest count line
    /// (64 KiB).
    pub max_inline: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bulk: 512 * 1024 * 1024,
            max_inline: 64 * 1024,
        }
    }
}

/// The result of [`parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// A command, and the bytes of the buffer it used.
    Command { args: Vec<Vec<u8>>, used: usize },
    /// Bytes that hold no command (an empty line, `*0`, `*-1`): drop them and go on.
    Skip { used: usize },
}

/// A request Redis would refuse; the connection is closed after the error reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMultibulkCount,
    InvalidMultibulkLength,
    TooBigBulkCount,
    /// A bulk string's line did not start with `$` (the byte it did start with).
    ExpectedDollar(u8),
    InvalidBulkLength,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Protocol error: ")?;
        match self {
            Self::TooBigInline => f.write_str("too big inline request"),
            Self::UnbalancedQuotes => f.write_str("unbalanced quotes in request"),
            Self::TooBigMultibulkCount => f.write_str("too big mbulk count string"),
            Self::InvalidMultibulkLength => f.write_str("invalid multibulk length"),
            Self::TooBigBulkCount => f.write_str("too big bulk count string"),
            Self::ExpectedDollar(c) => write!(f, "expected '$', got '{}'", char::from(*c)),
            Self::InvalidBulkLength => f.write_str("invalid bulk length"),
        }
    }
}

/// Parses the command at the start of `buf`.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
    match buf.first() {
        None => Ok(Parsed::Incomplete),
        Some(b'*') => multibulk(buf, limits),
        Some(_) => inline(buf, limits),
    }
}

/// An integer as Redis's `string2ll` reads it: optional `-`, digits, no leading zeros, no
/// `+`, no spaces, within `i64`.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || (digits[0] == b'0' && (digits.len() > 1 || negative)) {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        v = v.checked_mul(10)?;
        v = if negative {
            v.checked_sub(d)?
        } else {
            v.checked_add(d)?
        };
    }
    Some(v)
}

/// The line from `at` up to a `\r\n`: its end (the `\r`), or `None` if the `\r\n` has not
/// arrived. As Redis, it looks for the `\r` and needs one more byte after it.
fn line_end(buf: &[u8], at: usize) -> Option<usize> {
    let cr = buf[at..].iter().position(|&b| b == b'\r')? + at;
    (cr + 1 < buf.len()).then_some(cr)
}

fn multibulk(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
    let Some(cr) = line_end(buf, 0) else {
        return if buf.len() > limits.max_inline {
            Err(ProtocolError::TooBigMultibulkCount)
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let count = parse_i64(&buf[1..cr])
        .filter(|&n| n <= i64::from(i32::MAX))
        .ok_or(ProtocolError::InvalidMultibulkLength)?;
    let mut at = cr + 2;
    if count <= 0 {
        return Ok(Parsed::Skip { used: at });
    }
    let mut args = Vec::with_capacity((count as usize).min(64));
    for _ in 0..count {
        if at >= buf.len() {
            return Ok(Parsed::Incomplete);
        }
        let Some(cr) = line_end(buf, at) else {
            return if buf.len() - at > limits.max_inline {
                Err(ProtocolError::TooBigBulkCount)
            } else {
                Ok(Parsed::Incomplete)
            };
        };
        if buf[at] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[at]));
        }
        let len = parse_i64(&buf[at + 1..cr])
            .filter(|&n| n >= 0 && n as u64 <= limits.max_bulk)
            .ok_or(ProtocolError::InvalidBulkLength)? as usize;
        let start = cr + 2;
        // The data, then two bytes Redis skips without looking at them.
        let Some(end) = start.checked_add(len).filter(|e| e + 2 <= buf.len()) else {
            return Ok(Parsed::Incomplete);
        };
        args.push(buf[start..end].to_vec());
        at = end + 2;
    }
    Ok(Parsed::Command { args, used: at })
}

fn inline(buf: &[u8], limits: &Limits) -> Result<Parsed, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > limits.max_inline {
            Err(ProtocolError::TooBigInline)
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let line = match nl {
        0 => &buf[..0],
        _ if buf[nl - 1] == b'\r' => &buf[..nl - 1],
        _ => &buf[..nl],
    };
    let args = crate::split::split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
    let used = nl + 1;
    if args.is_empty() {
        Ok(Parsed::Skip { used })
    } else {
        Ok(Parsed::Command { args, used })
    }
}

#[cfg(test)]
mod tests;
