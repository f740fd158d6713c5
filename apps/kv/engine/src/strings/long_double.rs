//! C's `long double` on x86-64 (the x87's extended precision: a 64-bit significand,
//! exponents down to subnormals of 2^-16445 and up to 2^16384), as far as `INCRBYFLOAT` and
//! `HINCRBYFLOAT` use it: Redis's `string2ld` over `strtold` ([`LongDouble::parse`]), one
//! addition rounded to nearest-even as the FPU rounds it ([`LongDouble::add`]), and
//! `ld2string`'s human-friendly form, `%.17Lf` without trailing zeros
//! ([`LongDouble::human`]). Everything is exact arithmetic on a small big integer ([`Big`]),
//! so the digits are glibc's.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Ordering;

use super::floats::is_space;

/// The exponent of the smallest subnormal's bit: 2^-16445.
const MIN_EXP: i64 = -16445;
/// Values of 2^16384 and up overflow.
const MAX_EXP: i64 = 16384;
/// Bits in the significand.
const BITS: i64 = 64;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer strings are not floats.
pub(crate) const MAX_CHARS: usize = 5 * 1024;
/// Fraction digits of `%.17Lf`.
const FRACTION_DIGITS: u32 = 17;

/// A `long double`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum LongDouble {
    /// `mantissa × 2^exp` exactly (the sign apart), `mantissa < 2^64`.
    Finite {
        negative: bool,
        mantissa: u64,
        exp: i64,
    },
    Infinite {
        negative: bool,
    },
    Nan,
}

impl LongDouble {
    pub(crate) const ZERO: Self = Self::Finite {
        negative: false,
        mantissa: 0,
        exp: 0,
    };

    pub(crate) fn is_finite(self) -> bool {
        matches!(self, Self::Finite { .. })
    }

    /// Redis's `string2ld`: all of `s` (up to a NUL, as C sees it) is what `strtold` reads,
    /// `s` is not empty, not [`MAX_CHARS`] long, does not start with a space, and is not
    /// NaN, nor out of range (overflowing to infinity or a nonzero number coming out zero).
    pub(crate) fn parse(s: &[u8]) -> Option<Self> {
        if s.is_empty() || s.len() >= MAX_CHARS || is_space(s[0]) {
            return None;
        }
        let body = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())];
        let (v, used, out_of_range) = strtold(body);
        (used == body.len() && !out_of_range && v != Self::Nan).then_some(v)
    }

    /// `self + other`, rounded to nearest-even (`x + -x` is `+0`).
    pub(crate) fn add(self, other: Self) -> Self {
        use LongDouble::{Finite, Infinite, Nan};
        match (self, other) {
            (Nan, _) | (_, Nan) => Nan,
            (Infinite { negative: a }, Infinite { negative: b }) if a != b => Nan,
            (Infinite { .. }, _) => self,
            (_, Infinite { .. }) => other,
            (
                Finite {
                    negative: na,
                    mantissa: ma,
                    exp: ea,
                },
                Finite {
                    negative: nb,
                    mantissa: mb,
                    exp: eb,
                },
            ) => {
                if mb == 0 {
                    return if ma == 0 { Self::zero(na && nb) } else { self };
                }
                if ma == 0 {
                    return other;
                }
                let e = ea.min(eb);
                let a = Big::from_u64(ma).shl((ea - e) as u64);
                let b = Big::from_u64(mb).shl((eb - e) as u64);
                if na == nb {
                    return round(na, &a.add(&b), e, false);
                }
                match a.cmp(&b) {
                    Ordering::Equal => Self::zero(false),
                    Ordering::Greater => round(na, &a.sub(&b), e, false),
                    Ordering::Less => round(nb, &b.sub(&a), e, false),
                }
            }
        }
    }

    fn zero(negative: bool) -> Self {
        Self::Finite {
            negative,
            mantissa: 0,
            exp: 0,
        }
    }

    /// `ld2string(..., LD_STR_HUMAN)`: `%.17Lf` with the fraction's trailing zeros (and a
    /// bare point) dropped, `-0` written `0`; `inf`, `-inf`, `nan` as such.
    pub(crate) fn human(self) -> String {
        let (negative, mantissa, exp) = match self {
            Self::Nan => return String::from("nan"),
            Self::Infinite { negative } => {
                return String::from(if negative { "-inf" } else { "inf" });
            }
            Self::Finite {
                negative,
                mantissa,
                exp,
            } => (negative, mantissa, exp),
        };
        // The value in units of 10^-17, rounded to nearest-even as glibc's printf rounds.
        let mut units = Big::from_u64(mantissa);
        if exp >= 0 {
            units = units.shl(exp as u64);
        }
        units.mul_small(1_000_000_000);
        units.mul_small(100_000_000);
        if exp < 0 {
            let shift = exp.unsigned_abs();
            let kept = units.shr(shift);
            let up = units.bit(shift - 1) && (units.any_below(shift - 1) || kept.bit(0));
            units = kept;
            if up {
                units.add_small(1);
            }
        }
        let mut digits = units.to_decimal();
        while digits.len() <= FRACTION_DIGITS as usize {
            digits.insert(0, '0');
        }
        let point = digits.len() - FRACTION_DIGITS as usize;
        let fraction = digits[point..].trim_end_matches('0');
        let mut out = String::new();
        if negative {
            out.push('-');
        }
        out.push_str(&digits[..point]);
        if !fraction.is_empty() {
            out.push('.');
            out.push_str(fraction);
        }
        if out == "-0" {
            out = String::from("0");
        }
        out
    }
}

/// C's `strtold` (glibc's, in the "C" locale): the value of the longest prefix of `s` that
/// reads as a number, the bytes that took (0 when none does), and whether it is out of
/// range (`ERANGE` for an overflow to infinity or a nonzero number rounded to zero).
fn strtold(s: &[u8]) -> (LongDouble, usize, bool) {
    let mut i = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
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
    let rest = &s[i..];
    let starts =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    if starts(b"infinity") {
        return (LongDouble::Infinite { negative }, i + 8, false);
    }
    if starts(b"inf") {
        return (LongDouble::Infinite { negative }, i + 3, false);
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
        return (LongDouble::Nan, end, false);
    }
    let hex = rest.len() >= 2 && rest[0] == b'0' && rest[1] | 0x20 == b'x';
    let (radix, marker, at) = if hex {
        (16, b'p', i + 2)
    } else {
        (10, b'e', i)
    };
    // The significand's digits (leading zeros dropped: `significant` are left) and how many
    // follow the point.
    let (mut digits, mut significant, mut fraction) = (Big::default(), 0i64, 0i64);
    let (mut seen, mut point) = (false, false);
    let mut end = at;
    while let Some(&b) = s.get(end) {
        if let Some(d) = (b as char).to_digit(radix) {
            seen = true;
            if !digits.is_zero() || d != 0 {
                digits.mul_small(radix);
                digits.add_small(d);
                significant += 1;
            }
            if point {
                fraction += 1;
            }
        } else if b == b'.' && !point {
            point = true;
        } else {
            break;
        }
        end += 1;
    }
    if !seen {
        // "0x" without hex digits reads as the "0"; nothing else reads at all.
        return if hex {
            (LongDouble::zero(negative), i + 1, false)
        } else {
            (LongDouble::ZERO, 0, false)
        };
    }
    let mut exponent = 0i64;
    if s.get(end).is_some_and(|b| b | 0x20 == marker) {
        let mut e = end + 1;
        let minus = s.get(e) == Some(&b'-');
        if matches!(s.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let n = s[e..].iter().take_while(|b| b.is_ascii_digit()).count();
        if n > 0 {
            // Far past any range: saturated.
            let value = s[e..e + n].iter().fold(0i64, |a, &d| {
                (a * 10 + i64::from(d - b'0')).min(1_000_000_000)
            });
            exponent = if minus { -value } else { value };
            end = e + n;
        }
    }
    if digits.is_zero() {
        return (LongDouble::zero(negative), end, false);
    }
    let v = if hex {
        let exp = (exponent - 4 * fraction).clamp(-1_000_000, 1_000_000);
        round(negative, &digits, exp, false)
    } else {
        decimal(negative, digits, significant, exponent - fraction)
    };
    let out_of_range = match v {
        LongDouble::Infinite { .. } => true,
        LongDouble::Finite { mantissa, .. } => mantissa == 0,
        LongDouble::Nan => false,
    };
    (v, end, out_of_range)
}

/// `digits × 10^exp10` (`digits`, of `significant` decimal digits, not zero), rounded.
fn decimal(negative: bool, digits: Big, significant: i64, exp10: i64) -> LongDouble {
    // The value is below 10^top and at least 10^(top - 1).
    let top = significant + exp10;
    if top > 4934 {
        return LongDouble::Infinite { negative };
    }
    if top < -4952 {
        // Below half the smallest subnormal (about 1.8e-4951).
        return LongDouble::zero(negative);
    }
    if exp10 >= 0 {
        let mut n = digits;
        n.mul_pow10(exp10 as u64);
        return round(negative, &n, 0, false);
    }
    let mut d = Big::from_u64(1);
    d.mul_pow10(exp10.unsigned_abs());
    quotient(negative, digits, &d)
}

/// `n / d` (`n` not zero), rounded: 68 bits or more of the quotient and whether a
/// remainder is left are all that rounding needs.
fn quotient(negative: bool, n: Big, d: &Big) -> LongDouble {
    let j = n.bits() as i64 - d.bits() as i64 - 68;
    let (n, d) = if j < 0 {
        (n.shl(j.unsigned_abs()), d.clone())
    } else {
        (n, d.shl(j as u64))
    };
    let mut rem = n;
    let mut q = Big::default();
    let q_bits = rem.bits() - d.bits() + 1;
    for i in (0..q_bits).rev() {
        let t = d.shl(i);
        if rem.cmp(&t) != Ordering::Less {
            rem = rem.sub(&t);
            q = q.add(&Big::from_u64(1).shl(i));
        }
    }
    round(negative, &q, j, !rem.is_zero())
}

/// `num × 2^exp` rounded to a `long double` (nearest, ties to even); `sticky`: the exact
/// value is a little more than that (less than one unit of `num`, which then has two bits
/// or more below the significand's last).
fn round(negative: bool, num: &Big, exp: i64, sticky: bool) -> LongDouble {
    if num.is_zero() {
        return LongDouble::zero(negative);
    }
    let top = exp + num.bits() as i64 - 1;
    if top >= MAX_EXP {
        return LongDouble::Infinite { negative };
    }
    let mut lsb = (top - (BITS - 1)).max(MIN_EXP);
    let shift = lsb - exp;
    let (mut kept, up) = if shift <= 0 {
        (num.shl(shift.unsigned_abs()).low_u64(), false)
    } else {
        let s = shift as u64;
        let kept = num.shr(s).low_u64();
        let half = num.bit(s - 1);
        let rest = sticky || num.any_below(s - 1);
        (kept, half && (rest || kept & 1 == 1))
    };
    if up {
        kept = match kept.checked_add(1) {
            Some(k) => k,
            None => {
                lsb += 1;
                1 << 63
            }
        };
    }
    if kept != 0 && lsb + BITS - i64::from(kept.leading_zeros()) > MAX_EXP {
        return LongDouble::Infinite { negative };
    }
    LongDouble::Finite {
        negative,
        mantissa: kept,
        exp: if kept == 0 { 0 } else { lsb },
    }
}

/// An unsigned big integer: 32-bit limbs, least significant first, no zero limbs on top.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u64(v: u64) -> Self {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of bits up to the highest set one.
    fn bits(&self) -> u64 {
        self.0.last().map_or(0, |top| {
            (self.0.len() as u64 - 1) * 32 + u64::from(32 - top.leading_zeros())
        })
    }

    fn bit(&self, i: u64) -> bool {
        self.0
            .get((i / 32) as usize)
            .is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    /// Whether a bit below bit `i` is set.
    fn any_below(&self, i: u64) -> bool {
        let full = ((i / 32) as usize).min(self.0.len());
        let part = i % 32;
        self.0[..full].iter().any(|&l| l != 0)
            || (part > 0
                && self
                    .0
                    .get(full)
                    .is_some_and(|&l| l & ((1 << part) - 1) != 0))
    }

    fn low_u64(&self) -> u64 {
        let limb = |i: usize| u64::from(self.0.get(i).copied().unwrap_or(0));
        limb(0) | (limb(1) << 32)
    }

    fn mul_small(&mut self, m: u32) {
        let mut carry = 0u64;
        for l in &mut self.0 {
            let v = u64::from(*l) * u64::from(m) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn mul_pow10(&mut self, mut n: u64) {
        while n >= 9 {
            self.mul_small(1_000_000_000);
            n -= 9;
        }
        self.mul_small(10u32.pow(n as u32));
    }

    fn add_small(&mut self, a: u32) {
        let mut carry = u64::from(a);
        for l in &mut self.0 {
            if carry == 0 {
                return;
            }
            let v = u64::from(*l) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            self.0.push(carry as u32);
        }
    }

    fn shl(&self, n: u64) -> Big {
        if self.is_zero() {
            return Big::default();
        }
        let (limbs, part) = ((n / 32) as usize, (n % 32) as u32);
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            if part == 0 {
                out.push(l);
            } else {
                out.push((l << part) | carry);
                carry = l >> (32 - part);
            }
        }
        if carry > 0 {
            out.push(carry);
        }
        Big(out)
    }

    fn shr(&self, n: u64) -> Big {
        if n >= self.bits() {
            return Big::default();
        }
        let (limbs, part) = ((n / 32) as usize, (n % 32) as u32);
        let src = &self.0[limbs..];
        let mut out: Vec<u32> = (0..src.len())
            .map(|i| {
                let high = src.get(i + 1).copied().unwrap_or(0);
                if part == 0 {
                    src[i]
                } else {
                    (src[i] >> part) | (high << (32 - part))
                }
            })
            .collect();
        while out.last() == Some(&0) {
            out.pop();
        }
        Big(out)
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    fn add(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            let v = u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0))
                + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        if carry > 0 {
            out.push(carry as u32);
        }
        Big(out)
    }

    /// `self - other` (`other` is not larger).
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for (i, &l) in self.0.iter().enumerate() {
            let mut v = i64::from(l) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = i64::from(v < 0);
            if v < 0 {
                v += 1 << 32;
            }
            out.push(v as u32);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    /// Divides by `d`; the remainder.
    fn div_small(&mut self, d: u32) -> u32 {
        let mut rem = 0u64;
        for l in self.0.iter_mut().rev() {
            let v = (rem << 32) | u64::from(*l);
            *l = (v / u64::from(d)) as u32;
            rem = v % u64::from(d);
        }
        self.trim();
        rem as u32
    }

    /// The decimal digits ("0" for zero).
    fn to_decimal(&self) -> String {
        let mut n = self.clone();
        let mut chunks = Vec::new();
        while !n.is_zero() {
            chunks.push(n.div_small(1_000_000_000));
        }
        let mut out = match chunks.pop() {
            None => return String::from("0"),
            Some(top) => alloc::format!("{top}"),
        };
        for c in chunks.iter().rev() {
            out.push_str(&alloc::format!("{c:09}"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(s: &str) -> LongDouble {
        LongDouble::parse(s.as_bytes()).unwrap_or_else(|| panic!("{s:?} parses"))
    }

    fn sum(a: &str, b: &str) -> String {
        ld(a).add(ld(b)).human()
    }

    #[test]
    fn sums_print_as_redis_prints_them() {
        // Replies of Redis 7.0.15 (x86-64) to `SET k a` then `INCRBYFLOAT k b` (picked from
        // 8,000 random pairs that all agreed).
        for (a, b, want) in [
            ("0", "0.1", "0.1"),
            ("0.1", "0.1", "0.2"),
            ("0.2", "0.1", "0.3"),
            ("10.5", "0.1", "10.6"),
            ("0", "1.5e30", "1500000000000000000002684354560"),
            ("5", "-5.00000000000000000001", "0"),
            ("1", "1e-20", "1"),
            ("-0.0000000000000000001", "0", "0"),
            ("1", "0x10", "17"),
            ("1", "1e-4940", "1"),
            ("0.000003814697265625", "0", "0.00000381469726562"),
            ("0.000011444091796875", "0", "0.00001144409179688"),
            ("3", "-0", "3"),
            ("-1", "-2.5", "-3.5"),
            // Sums rounded to 64 bits (ties to even), subnormals, hex.
            ("2", "18446744073709551613", "18446744073709551615"),
            ("0.5", "18446744073709551616", "18446744073709551616"),
            ("-0.5", "36893488147419103233", "36893488147419103232"),
            (
                "1267650600228229401496703205372",
                "0.75",
                "1267650600228229401496703205376",
            ),
            (
                "36893488147419103236",
                "9223372036854775807",
                "46116860184273879044",
            ),
            (
                "36893488147419103229",
                "36893488147419103227",
                "73786976294838206456",
            ),
            (
                "837260570862601421.47936771290172261583",
                "9223372036854775810",
                "10060632607717377232",
            ),
            (
                "0.270522366069264830201746e-4930",
                "-964614262505766080.87309922538542863741",
                "-964614262505766080.875",
            ),
            (
                "0x1095a80af698af8e5p-16422",
                "0x20bbb59d3eb0d85bep-16475",
                "0",
            ),
            ("0.125", "0x3bb5584ee718eb6b7p-16463", "0.125"),
        ] {
            assert_eq!(sum(a, b), want, "{a} + {b}");
        }
        let big = sum("0.3", "1e300");
        assert!(
            big.starts_with(
                "10000000000000000000089973240795591938705239442732907479382600823212656465961809"
            ),
            "{big}"
        );
        assert_eq!(big.len(), 301);
    }

    #[test]
    fn parses_as_string2ld_does() {
        for bad in [
            "", " 1", "1 ", "1e5000", "1e-5000", "nan", "x", "1e", "0x", "-", ".", "+-1",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert!(LongDouble::parse(&[b'1'; MAX_CHARS]).is_none());
        assert!(ld("1.1e-4940").is_finite());
        assert_eq!(ld("inf"), LongDouble::Infinite { negative: false });
        assert_eq!(ld("-Infinity"), LongDouble::Infinite { negative: true });
        assert_eq!(ld("5."), ld("5"));
        assert_eq!(ld(".5"), ld("0x.8"));
        assert_eq!(ld("0x1.8p1").human(), "3");
        // Up to a NUL, as C sees it.
        assert_eq!(LongDouble::parse(b"2\0x"), Some(ld("2")));
        // The largest long double is finite; a bit more overflows.
        let max = "1.18973149535723176502e+4932";
        assert!(ld(max).is_finite());
        assert!(!ld(max).add(ld(max)).is_finite());
        assert!(LongDouble::parse(b"1.19e4932").is_none());
        assert_eq!(ld("inf").add(ld("-inf")), LongDouble::Nan);
    }
}
