//! Scenario `pci`: enumerate the PCI bus (q35), assign the BARs firmware left unassigned,
//! enable the virtio functions, and print every function with its BARs and GSI, then a read
//! through each virtio function's BAR. On microvm it prints "pci: 0 functions".
//!
//! `pci intx [SECONDS]` also arms every transitional virtio device (legacy I/O BAR) so a
//! config change raises its INTx line: it sets DRIVER_OK, prints "pci intx ready", waits
//! (default 5 s) for the host to resize the disk (QMP/HMP `block_resize`), then prints the
//! ISR. The host reads QEMU's `info irq` to see which IOAPIC input rose.

use core::time::Duration;
use kernel::drivers::pci::{BarKind, scan, scan_and_print};
use libos::prelude::*;
use libos::{println, time};

/// Legacy virtio header registers (virtio 1.2, 4.1.4.10).
const LEGACY_STATUS: u64 = 18;
const LEGACY_ISR: u64 = 19;
/// ACKNOWLEDGE | DRIVER | DRIVER_OK.
const DRIVER_OK: u8 = 1 | 2 | 4;

pub(crate) fn main(args: &[String]) {
    scan_and_print();
    if args.get(2).map(String::as_str) != Some("intx") {
        return;
    }
    let seconds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    let armed: Vec<_> = scan()
        .functions
        .iter()
        .filter(|f| f.vendor_id == 0x1af4 && (0x1000..0x1040).contains(&f.device_id))
        .filter_map(|f| {
            let io = f.bars[0].filter(|b| b.kind == BarKind::Io && b.is_assigned())?;
            let port = u16::try_from(io.address).ok()?;
            outb(port + LEGACY_STATUS as u16, DRIVER_OK);
            println!(
                "pci intx armed {} port {port:#x} gsi {:?}",
                f.address, f.gsi
            );
            Some((f.address, port))
        })
        .collect();
    println!("pci intx ready");
    time::sleep(Duration::from_secs(seconds));
    for (address, port) in armed {
        println!(
            "pci intx {address} isr {:#x}",
            inb(port + LEGACY_ISR as u16)
        );
    }
}

fn outb(port: u16, value: u8) {
    // SAFETY: `port` is the status register of a legacy virtio I/O BAR the kernel assigned
    // and enabled; the device has no queues, so DRIVER_OK starts no DMA.
    unsafe { kernel::selftest::outb(port, value) };
}

fn inb(port: u16) -> u8 {
    // SAFETY: the ISR register of the same BAR; reading it only clears the ISR (and INTx).
    unsafe { kernel::selftest::inb(port) }
}
