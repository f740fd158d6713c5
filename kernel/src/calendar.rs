//! Dates as the CMOS real-time clock gives them, turned into Unix time (host-tested; the
//! RTC itself is read in `arch`).

/// The date in `regs` as seconds since the epoch; `status_b` says BCD (bit 2 clear) and
/// 12-hour (bit 1 clear) formats.
pub(crate) fn decode(regs: [u8; 7], status_b: u8) -> Option<u64> {
    let bcd = status_b & 0x04 == 0;
    let num = |v: u8| if bcd { (v >> 4) * 10 + (v & 0x0f) } else { v };
    let [s, m, h, day, month, year, century] = regs;
    let pm = h & 0x80 != 0;
    let mut hour = num(h & 0x7f);
    if status_b & 0x02 == 0 {
        hour = hour % 12 + if pm { 12 } else { 0 };
    }
    let century = match num(century) {
        19..=21 => u64::from(num(century)),
        _ => 20,
    };
    let year = century * 100 + u64::from(num(year));
    let (month, day) = (u64::from(num(month)), u64::from(num(day)));
    if !(1970..2200).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (s, m, hour) = (u64::from(num(s)), u64::from(num(m)), u64::from(hour));
    if s > 59 || m > 59 || hour > 23 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + m * 60 + s)
}

/// Days from 1970-01-01 to the given date (proleptic Gregorian).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_become_unix_seconds() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // 2026-11-28 14:05:00 UTC, in BCD, 24-hour.
        let regs = [0x00, 0x05, 0x14, 0x28, 0x11, 0x26, 0x20];
        assert_eq!(decode(regs, 0x02), Some(1_795_874_700));
        // The same in binary, 12-hour: 2 PM.
        let regs = [0, 5, 0x80 | 2, 28, 11, 26, 20];
        assert_eq!(decode(regs, 0x04), Some(1_795_874_700));
        assert_eq!(decode([0xff; 7], 0x02), None);
    }
}
