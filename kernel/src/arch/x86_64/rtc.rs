//! The wall clock: the MC146818 real-time clock in CMOS (ports 0x70/0x71), which QEMU keeps
//! at the host's time. It counts whole seconds; [`crate::time::wall_clock`] adds the TSC.

use super::cpu::{inb, outb};
use crate::calendar::decode;

const INDEX: u16 = 0x70;
const DATA: u16 = 0x71;
/// Bit 7 of the index port masks NMIs; it is kept set while the RTC is read.
const NMI_OFF: u8 = 0x80;

fn read(register: u8) -> u8 {
    // SAFETY: the CMOS index/data pair is the RTC's, which only this module touches;
    // reading a register has no side effect (register C, which would, is never read).
    unsafe {
        outb(INDEX, NMI_OFF | register);
        inb(DATA)
    }
}

/// The RTC's registers: seconds, minutes, hours, day, month, year, century.
fn snapshot() -> [u8; 7] {
    [
        read(0x00),
        read(0x02),
        read(0x04),
        read(0x07),
        read(0x08),
        read(0x09),
        read(0x32),
    ]
}

/// Seconds since the Unix epoch, or `None` if there is no RTC (the machine has none, or
/// it reads as nonsense).
pub(crate) fn unix_seconds() -> Option<u64> {
    // Status register A bit 7: an update is under way; a read then may mix two seconds.
    // Read until two snapshots agree outside an update.
    let mut previous = None;
    for _ in 0..1000 {
        if read(0x0a) & 0x80 != 0 {
            continue;
        }
        let now = snapshot();
        if previous == Some(now) {
            return decode(now, read(0x0b));
        }
        previous = Some(now);
    }
    None
}
