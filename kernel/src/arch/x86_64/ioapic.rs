//! The IOAPIC: routes device interrupt lines (GSIs) to local APIC vectors.
//!
//! Both machines the kernel runs on have one at the standard address 0xfec00000: on
//! microvm (`acpi=off`) the virtio-mmio transports use inputs 5..12; on q35 PCI INTx lines
//! arrive on 16..23. Every input starts masked; [`route`] programs one and leaves it
//! masked, and [`set_masked`] toggles it. Register access is an index/data pair, so it
//! happens under an [`IrqMutex`] (handlers mask their own line from interrupt context).

use super::irq::{IrqError, Trigger};
use crate::sync::IrqMutex;

/// The IOAPIC's register page on microvm and q35.
const IOAPIC_PHYS: u64 = 0xfec0_0000;

const REG_SELECT: usize = 0x00;
const REG_WINDOW: usize = 0x10;
const IOAPIC_VERSION: u32 = 0x01;
const REDIRECTION_BASE: u32 = 0x10;

const ENTRY_MASKED: u32 = 1 << 16;
const ENTRY_LEVEL: u32 = 1 << 15;

struct IoApic {
    base: u64,
    inputs: u32,
    /// Low words of the redirection entries, so masking needs no read.
    low: [u32; 64],
}

impl IoApic {
    fn read(&self, reg: u32) -> u32 {
        // SAFETY: `base` is the IOAPIC's register page, mapped uncached by `ensure`; the
        // select/window pair is used only under the lock.
        unsafe {
            ((self.base as usize + REG_SELECT) as *mut u32).write_volatile(reg);
            ((self.base as usize + REG_WINDOW) as *const u32).read_volatile()
        }
    }

    fn write(&self, reg: u32, value: u32) {
        // SAFETY: as in `read`.
        unsafe {
            ((self.base as usize + REG_SELECT) as *mut u32).write_volatile(reg);
            ((self.base as usize + REG_WINDOW) as *mut u32).write_volatile(value);
        }
    }
}

static IOAPIC: IrqMutex<Option<IoApic>> = IrqMutex::new(None);

fn with_ioapic<R>(f: impl FnOnce(&mut IoApic) -> R) -> Result<R, IrqError> {
    let mut guard = IOAPIC.lock();
    if guard.is_none() {
        let base = crate::mm::map_device(IOAPIC_PHYS, 4096).map_err(|_| IrqError::NoIoApic)?;
        let mut ioapic = IoApic {
            base,
            inputs: 0,
            low: [ENTRY_MASKED; 64],
        };
        let version = ioapic.read(IOAPIC_VERSION);
        if version == u32::MAX {
            return Err(IrqError::NoIoApic);
        }
        ioapic.inputs = ((version >> 16) & 0xff) + 1;
        for input in 0..ioapic.inputs.min(64) {
            ioapic.write(REDIRECTION_BASE + 2 * input, ENTRY_MASKED);
        }
        log::debug!("ioapic: {} inputs at {IOAPIC_PHYS:#x}", ioapic.inputs);
        *guard = Some(ioapic);
    }
    Ok(f(guard.as_mut().expect("set above")))
}

/// Sends input `gsi` to `vector` on the CPU with local APIC id `apic_id`, fixed
/// delivery, active high; left masked.
pub(crate) fn route(gsi: u32, vector: u8, trigger: Trigger, apic_id: u8) -> Result<(), IrqError> {
    with_ioapic(|ioapic| {
        if gsi >= ioapic.inputs.min(64) {
            return Err(IrqError::NoSuchLine(gsi));
        }
        let mut low = ENTRY_MASKED | u32::from(vector);
        if trigger == Trigger::Level {
            low |= ENTRY_LEVEL;
        }
        ioapic.low[gsi as usize] = low;
        ioapic.write(REDIRECTION_BASE + 2 * gsi + 1, u32::from(apic_id) << 24);
        ioapic.write(REDIRECTION_BASE + 2 * gsi, low);
        Ok(())
    })?
}

/// Masks or unmasks input `gsi` (a no-op for an input never routed).
pub(crate) fn set_masked(gsi: u32, masked: bool) {
    let _ = with_ioapic(|ioapic| {
        let Some(low) = ioapic.low.get_mut(gsi as usize) else {
            return;
        };
        if masked {
            *low |= ENTRY_MASKED;
        } else {
            *low &= !ENTRY_MASKED;
        }
        let value = *low;
        ioapic.write(REDIRECTION_BASE + 2 * gsi, value);
    });
}
