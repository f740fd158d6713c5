//! virtio: finding devices on either machine and the drivers for them.
//!
//! - microvm (PVH, `acpi=off`): QEMU appends a `virtio_mmio.device=SIZE@ADDR:IRQ` word for
//!   each transport to the kernel command line; [`parse_mmio_word`] reads one (host-tested)
//!   and [`probe`] builds an MMIO transport for each, version 1 (legacy) or 2.
//! - q35: PCI enumeration (`drivers::pci`) finds modern virtio-pci functions.
//!
//! [`hal`] is the one `virtio_drivers::Hal`; [`blk`] is the block driver, built on the
//! crate's `VirtQueue` and transports (never its blocking device types); [`net`] is the
//! network device for smoltcp.

use alloc::vec::Vec;

#[cfg(target_os = "none")]
pub mod blk;
#[cfg(target_os = "none")]
pub mod hal;
#[cfg(target_os = "none")]
pub mod net;

/// One `virtio_mmio.device=` word: a transport's register window and interrupt line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmioWord {
    pub base: u64,
    pub size: u64,
    pub irq: u32,
}

/// The prefix QEMU's microvm puts before each transport's description.
pub const MMIO_WORD_PREFIX: &str = "virtio_mmio.device=";

/// Parses `virtio_mmio.device=<size>@<base>:<irq>[:<id>]` (Linux's format: size with an
/// optional K/M/G suffix, numbers in decimal or 0x-hex).
pub fn parse_mmio_word(word: &str) -> Option<MmioWord> {
    let rest = word.strip_prefix(MMIO_WORD_PREFIX)?;
    let (size, rest) = rest.split_once('@')?;
    let mut parts = rest.split(':');
    let base = parse_number(parts.next()?)?;
    let irq = u32::try_from(parse_number(parts.next()?)?).ok()?;
    if let Some(id) = parts.next() {
        parse_number(id)?;
    }
    if parts.next().is_some() {
        return None;
    }
    let (digits, shift) = match size.as_bytes().last()? {
        b'k' | b'K' => (&size[..size.len() - 1], 10),
        b'm' | b'M' => (&size[..size.len() - 1], 20),
        b'g' | b'G' => (&size[..size.len() - 1], 30),
        _ => (size, 0),
    };
    let size = parse_number(digits)?.checked_mul(1 << shift)?;
    (size > 0 && base.checked_add(size).is_some()).then_some(MmioWord { base, size, irq })
}

fn parse_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Every device word on a kernel command line, in the order given (QEMU puts them before
/// the app's words when there is no `--`, and after them otherwise; the command-line
/// parser never hands them to the app).
pub fn mmio_words(line: &str) -> Vec<MmioWord> {
    crate::cmdline::Words::new(line)
        .map_while(Result::ok)
        .filter_map(|w| parse_mmio_word(w.0))
        .collect()
}

#[cfg(target_os = "none")]
pub use found::{FoundDevice, probe};

#[cfg(target_os = "none")]
mod found {
    use super::hal::VirtioHal;
    use crate::arch::irq::Trigger;
    use alloc::vec::Vec;
    use core::ptr::NonNull;
    use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
    use virtio_drivers::transport::pci::PciTransport;
    use virtio_drivers::transport::{DeviceType, SomeTransport, Transport};

    /// A virtio device found on a bus, ready for its driver.
    pub struct FoundDevice {
        pub transport: SomeTransport<'static>,
        pub kind: DeviceType,
        /// IOAPIC input of its interrupt line.
        pub gsi: u32,
        /// How to program that input: edge for a virtio-mmio transport's own line (it
        /// cannot storm, so its handler need not mask it), level for PCI INTx (shared
        /// and level-sensitive: masked by the handler until the driver acknowledges).
        pub trigger: Trigger,
        /// Where it is, for messages ("mmio 0xfeb00e00", "pci 00:03.0").
        pub location: alloc::string::String,
    }

    /// Finds every virtio device: the command line's MMIO transports (named in descending
    /// address order, which is the order of QEMU's `-device` options on microvm), then
    /// PCI functions in slot order.
    pub fn probe(cmdline: &str) -> Vec<FoundDevice> {
        let mut words = super::mmio_words(cmdline);
        words.sort_by_key(|w| core::cmp::Reverse(w.base));
        let mut found = Vec::new();
        for word in words {
            let virt = match crate::mm::map_device(word.base, word.size) {
                Ok(virt) => virt,
                Err(e) => {
                    log::warn!("virtio: cannot map transport at {:#x}: {e}", word.base);
                    continue;
                }
            };
            let Some(header) = NonNull::new(virt as *mut VirtIOHeader) else {
                continue;
            };
            // SAFETY: the window QEMU described is mapped uncached at `virt` for the rest
            // of the run and this is its only user.
            let transport = match unsafe { MmioTransport::new(header, word.size as usize) } {
                Ok(t) => t,
                Err(e) => {
                    log::debug!("virtio: no device at {:#x}: {e:?}", word.base);
                    continue;
                }
            };
            let kind = transport.device_type();
            log::debug!(
                "virtio: {kind:?} at mmio {:#x} ({:?}), irq {}",
                word.base,
                transport.version(),
                word.irq
            );
            found.push(FoundDevice {
                transport: transport.into(),
                kind,
                gsi: word.irq,
                trigger: Trigger::Edge,
                location: alloc::format!("mmio {:#x}", word.base),
            });
        }
        for function in crate::drivers::pci::virtio_functions() {
            let location = alloc::format!("pci {}", function.function.address);
            let Some(gsi) = function.gsi else {
                log::warn!("virtio: {location} has no interrupt pin; skipped");
                continue;
            };
            let mut root = crate::drivers::pci::virtio_root();
            match PciTransport::new::<VirtioHal, _>(&mut root, function.device_function) {
                Ok(transport) => {
                    log::debug!(
                        "virtio: {:?} at {location}, gsi {gsi}",
                        function.device_type
                    );
                    found.push(FoundDevice {
                        transport: transport.into(),
                        kind: function.device_type,
                        gsi,
                        trigger: Trigger::Level,
                        location,
                    });
                }
                Err(e) => log::warn!("virtio: {location}: {e}"),
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qemu_microvm_words() {
        assert_eq!(
            parse_mmio_word("virtio_mmio.device=512@0xfeb00e00:12"),
            Some(MmioWord {
                base: 0xfeb0_0e00,
                size: 512,
                irq: 12
            })
        );
        assert_eq!(
            parse_mmio_word("virtio_mmio.device=4K@0x1000:5:3"),
            Some(MmioWord {
                base: 0x1000,
                size: 4096,
                irq: 5
            })
        );
    }

    #[test]
    fn rejects_malformed_words() {
        for word in [
            "virtio_mmio.device=",
            "virtio_mmio.device=512",
            "virtio_mmio.device=512@",
            "virtio_mmio.device=512@0xfeb00e00",
            "virtio_mmio.device=512@0xzz:12",
            "virtio_mmio.device=0@0x1000:5",
            "virtio_mmio.device=512@0x1000:5:1:2",
            "virtio_mmio.device=16G@0xffffffffffffff00:5",
            "virtio.device=512@0x1000:5",
        ] {
            assert_eq!(parse_mmio_word(word), None, "{word}");
        }
    }

    #[test]
    fn finds_words_anywhere_in_the_line() {
        let line = "log=info virtio_mmio.device=512@0xfeb00c00:11 -- app \"x y\" virtio_mmio.device=512@0xfeb00e00:12";
        let words = mmio_words(line);
        assert_eq!(words.len(), 2);
        assert_eq!(words[0].irq, 11);
        assert_eq!(words[1].base, 0xfeb0_0e00);
    }
}
