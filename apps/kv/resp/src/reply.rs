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

/// A bulk string holding `f` as Redis 7.0's `addReplyDouble` prints it: `%.17g` (`inf`,
/// `-inf`; `1`, `0.10000000000000001`, `1.0000000000000001e+20`).
pub fn double(out: &mut Vec<u8>, f: f64) {
    bulk(out, format_g17(f).as_bytes());
}

/// `f` formatted as C's `%.17g`.
pub fn format_g17(f: f64) -> String {
    if f.is_nan() {
        return String::from("nan");
    }
    if f.is_infinite() {
        return String::from(if f > 0.0 { "inf" } else { "-inf" });
    }
    if f == 0.0 {
        return String::from(if f.is_sign_negative() { "-0" } else { "0" });
    }
    // 17 significant digits in scientific form: d.dddddddddddddddde±X.
    let sci = alloc::format!("{f:.16e}");
    let (mantissa, exp) = sci.split_once('e').expect("scientific form");
    let exp: i32 = exp.parse().expect("exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut s = String::new();
    if negative {
        s.push('-');
    }
    if !(-4..17).contains(&exp) {
        // d.ddd...e±XX with trailing zeros of the fraction removed.
        s.push_str(&digits[..1]);
        let frac = digits[1..].trim_end_matches('0');
        if !frac.is_empty() {
            s.push('.');
            s.push_str(frac);
        }
        let _ = write!(
            s,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        s.push_str(&digits[..int_len]);
        let frac = digits[int_len..].trim_end_matches('0');
        if !frac.is_empty() {
            s.push('.');
            s.push_str(frac);
        }
    } else {
        s.push_str("0.");
        for _ in 0..(-exp - 1) {
            s.push('0');
        }
        s.push_str(digits.trim_end_matches('0'));
    }
    s
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

    #[test]
    fn doubles_print_as_c_g17() {
        for (f, want) in [
            (1.0, "1"),
            (-2.5, "-2.5"),
            (0.1, "0.10000000000000001"),
            (1.5e20, "1.5e+20"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (123456.789, "123456.789"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (3.0e-300, "3.0000000000000002e-300"),
            (2.5e-5, "2.5000000000000001e-05"),
            (12345678901234567890.0, "1.2345678901234567e+19"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (0.0, "0"),
            (-0.0, "-0"),
            (f64::MAX, "1.7976931348623157e+308"),
        ] {
            assert_eq!(format_g17(f), want, "{f:e}");
        }
    }
}
