//! Floats as C reads them: [`strtod`] (and Redis's `string2d` over it, [`parse_float`]),
//! shared by the sorted-set commands (scores, weights, range bounds). The extended precision
//! of `INCRBYFLOAT` is in [`super::long_double`].

/// C's `isspace` in the "C" locale.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A float as Redis's `string2d` (`getDoubleFromObject`) reads one: all of `s` is what
/// `strtod` reads, with no leading space, not NaN, and neither overflowing to infinity nor
/// underflowing to zero (`ERANGE`); `inf` and its kin are allowed.
pub fn parse_float(s: &[u8]) -> Option<f64> {
    if s.first().is_none_or(|&b| is_space(b)) {
        return None;
    }
    let (v, used) = strtod(s);
    if used != s.len() || v.is_nan() {
        return None;
    }
    let body = s.strip_prefix(b"-").or(s.strip_prefix(b"+")).unwrap_or(s);
    let named = matches!(body.first(), Some(b'i' | b'I'));
    if (v.is_infinite() && !named) || (v == 0.0 && nonzero_mantissa(body)) {
        return None;
    }
    Some(v)
}

/// Whether the digits before the exponent of a number's text (decimal or `0x` hex, no
/// sign) are not all zeros.
fn nonzero_mantissa(body: &[u8]) -> bool {
    let (digits, stop): (&[u8], &[u8]) = match body {
        [b'0', b'x' | b'X', rest @ ..] => (rest, b"pP"),
        _ => (body, b"eE"),
    };
    digits
        .iter()
        .take_while(|b| !stop.contains(b))
        .any(|b| b.is_ascii_alphanumeric() && *b != b'0')
}

/// C's `strtod`: the value of the longest prefix of `s` that reads as a number, and how
/// many bytes that took (0, value 0, when none does). Leading spaces, a sign, decimal or
/// hex (`0x1.8p3`) digits, `inf`, `infinity` and `nan` are read.
pub(crate) fn strtod(s: &[u8]) -> (f64, usize) {
    let mut i = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    let signed_at = i;
    let negative = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let sign = if negative { -1.0 } else { 1.0 };
    let rest = &s[i..];
    let starts =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"infinity") {
        return (sign * f64::INFINITY, i + 8);
    }
    if starts(b"inf") {
        return (sign * f64::INFINITY, i + 3);
    }
    if starts(b"nan") {
        let mut end = i + 3;
        if s.get(end) == Some(&b'(')
            && let Some(close) = s[end..].iter().position(|&b| b == b')')
            && s[end + 1..end + close]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            end += close + 1;
        }
        return (f64::NAN, end);
    }
    if rest.len() >= 2 && rest[0] == b'0' && rest[1] | 0x20 == b'x' {
        return match hex_float(&rest[2..]) {
            Some((v, used)) => (sign * v, i + 2 + used),
            None => (sign * 0.0, i + 1),
        };
    }
    let digits = |from: usize| s[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut end = i + digits(i);
    let mut mantissa = end - i;
    if s.get(end) == Some(&b'.') {
        let fraction = digits(end + 1);
        mantissa += fraction;
        end += 1 + fraction;
    }
    if mantissa == 0 {
        return (0.0, 0);
    }
    if matches!(s.get(end), Some(b'e' | b'E')) {
        let mut e = end + 1;
        if matches!(s.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let exponent = digits(e);
        if exponent > 0 {
            end = e + exponent;
        }
    }
    let text = core::str::from_utf8(&s[signed_at..end]).unwrap_or("0");
    (text.parse().unwrap_or(0.0), end)
}

/// The hex digits (with a `.` and a `p` exponent) after `0x`: the value and bytes used, or
/// `None` without a digit.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let (mut value, mut scale, mut seen, mut fraction) = (0.0f64, 0i32, false, false);
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if let Some(d) = (b as char).to_digit(16) {
            value = value * 16.0 + f64::from(d);
            if fraction {
                scale -= 4;
            }
            seen = true;
        } else if b == b'.' && !fraction {
            fraction = true;
        } else {
            break;
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut e = i + 1;
        let negative = s.get(e) == Some(&b'-');
        if matches!(s.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let n = s[e..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n > 0 {
            let exp: i32 = s[e..e + n].iter().fold(0i32, |a, &d| {
                a.saturating_mul(10).saturating_add(i32::from(d - b'0'))
            });
            scale = scale.saturating_add(if negative { -exp } else { exp });
            i = e + n;
        }
    }
    Some((scaled(value, scale), i))
}

/// `value` times two to the `scale` (no `powi` without `std`).
fn scaled(mut value: f64, mut scale: i32) -> f64 {
    let pow2 = |k: i32| f64::from_bits(((k + 1023) as u64) << 52);
    while scale > 1000 {
        value *= pow2(1000);
        scale -= 1000;
    }
    while scale < -1000 {
        value *= pow2(-1000);
        scale += 1000;
    }
    value * pow2(scale)
}
