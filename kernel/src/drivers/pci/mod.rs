//! PCI on QEMU's q35 machine: enumeration through configuration space, BAR sizing and
//! assignment, and the IOAPIC input each function's INTx pin reaches.
//!
//! Everything here runs behind the [`ConfigSpace`] trait and is host-tested against a fake
//! config space: [`enumerate`] walks bus 0 (and the buses behind PCI-to-PCI bridges that
//! firmware numbered) into [`PciFunction`] records with sized [`Bar`]s; [`assign_bars`]
//! gives addresses to the BARs firmware left at 0 (qboot assigns none; SeaBIOS and OVMF
//! assign all, OVMF 64-bit ones possibly above 4 GiB) inside [`Q35_WINDOWS`] and keeps every
//! address firmware chose; [`enable`] turns on decoding and bus mastering; [`intx_gsi`] is
//! q35's fixed INTx routing. The port-I/O [`ConfigSpace`] is `arch::x86_64::pci_io`; the
//! kernel glue at the end of this file scans once and lists the virtio functions with what
//! `virtio_drivers::transport::pci::PciTransport::new` needs.

use alloc::vec::Vec;
use core::fmt;

/// Where a function sits: bus, device (slot, 0..32) and function (0..8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PciAddress {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl PciAddress {
    pub const fn new(bus: u8, device: u8, function: u8) -> Self {
        Self {
            bus,
            device,
            function,
        }
    }
}

impl fmt::Display for PciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// Access to PCI configuration space, one aligned 32-bit register at a time (the 256-byte
/// conventional space; nothing here needs the extended PCIe space).
///
/// Contract: `offset` is a multiple of 4 below 256 (implementations may ignore its low two
/// bits). A read of a function that does not exist returns `0xffff_ffff`; a write to it, or
/// to read-only bits, has no effect. Neither call fails or panics.
pub trait ConfigSpace {
    /// Reads the register at `offset` of function `address`.
    fn read32(&self, address: PciAddress, offset: u8) -> u32;
    /// Writes `value` to the register at `offset` of function `address`.
    fn write32(&mut self, address: PciAddress, offset: u8, value: u32);
}

/// What address space a BAR decodes, and how wide its address register is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarKind {
    /// Memory, a 32-bit address (one BAR register).
    Memory32,
    /// Memory, a 64-bit address (this BAR register and the next one, which holds the high
    /// half and has no record of its own).
    Memory64,
    /// I/O ports.
    Io,
}

/// One base address register, sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    pub kind: BarKind,
    /// Physical (memory) or port (I/O) address; 0 means not assigned.
    pub address: u64,
    /// Size in bytes, a power of two.
    pub size: u64,
    /// Memory without read side effects (may be mapped write-combining).
    pub prefetchable: bool,
}

impl Bar {
    /// True once firmware or [`assign_bars`] gave the BAR an address.
    pub fn is_assigned(&self) -> bool {
        self.address != 0
    }

    pub fn is_memory(&self) -> bool {
        self.kind != BarKind::Io
    }
}

impl fmt::Display for Bar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            BarKind::Memory32 => "mem32",
            BarKind::Memory64 => "mem64",
            BarKind::Io => "io",
        };
        let prefetchable = if self.prefetchable {
            " prefetchable"
        } else {
            ""
        };
        if self.is_assigned() {
            write!(
                f,
                "{kind} {:#x}..{:#x} (size {:#x}){prefetchable}",
                self.address,
                self.address + self.size,
                self.size
            )
        } else {
            write!(f, "{kind} unassigned (size {:#x}){prefetchable}", self.size)
        }
    }
}

/// The layout of a function's configuration header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderType {
    /// An ordinary device: six BARs.
    Endpoint,
    /// A PCI-to-PCI bridge: two BARs and a secondary bus.
    PciBridge,
    /// A CardBus bridge (not enumerated behind).
    CardBusBridge,
    /// A layout this module does not know; its BARs are not read.
    Unknown(u8),
}

impl HeaderType {
    /// Decodes the header-type register byte (bit 7, "multi-function", is ignored).
    pub fn from_register(value: u8) -> Self {
        match value & 0x7f {
            0 => Self::Endpoint,
            1 => Self::PciBridge,
            2 => Self::CardBusBridge,
            other => Self::Unknown(other),
        }
    }

    /// The low seven bits of the header-type register.
    pub fn to_register(self) -> u8 {
        match self {
            Self::Endpoint => 0,
            Self::PciBridge => 1,
            Self::CardBusBridge => 2,
            Self::Unknown(other) => other,
        }
    }

    /// How many BAR registers the header has.
    fn bar_count(self) -> u8 {
        match self {
            Self::Endpoint => 6,
            Self::PciBridge => 2,
            Self::CardBusBridge | Self::Unknown(_) => 0,
        }
    }
}

/// One function found on the bus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciFunction {
    pub address: PciAddress,
    pub vendor_id: u16,
    pub device_id: u16,
    pub class: u8,
    pub subclass: u8,
    pub prog_if: u8,
    pub revision: u8,
    pub header_type: HeaderType,
    /// INTx pin: 0 none, 1..=4 INTA..INTD.
    pub interrupt_pin: u8,
    /// The IOAPIC input that pin reaches on q35 ([`intx_gsi`], through bridge swizzling
    /// for functions behind a bridge); `None` without a pin.
    pub gsi: Option<u32>,
    /// BAR `i` at index `i`; the slot after a [`BarKind::Memory64`] BAR is `None`.
    pub bars: [Option<Bar>; 6],
}

impl PciFunction {
    /// The BARs that exist, with their register index.
    pub fn present_bars(&self) -> impl Iterator<Item = (u8, &Bar)> {
        (0u8..)
            .zip(self.bars.iter())
            .filter_map(|(i, bar)| Some((i, bar.as_ref()?)))
    }
}

impl fmt::Display for PciFunction {
    /// One line for the function, then one indented line per BAR.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:04x}:{:04x} class {:02x}.{:02x}.{:02x} {:?}",
            self.address,
            self.vendor_id,
            self.device_id,
            self.class,
            self.subclass,
            self.prog_if,
            self.header_type
        )?;
        match (self.interrupt_pin, self.gsi) {
            (0, _) => write!(f, ", no INTx")?,
            (pin, Some(gsi)) => write!(f, ", INT{} -> GSI {gsi}", pin_name(pin))?,
            (pin, None) => write!(f, ", INT{} not routed", pin_name(pin))?,
        }
        for (index, bar) in self.present_bars() {
            write!(f, "\n  bar{index} {bar}")?;
        }
        Ok(())
    }
}

fn pin_name(pin: u8) -> char {
    match pin {
        1..=4 => char::from(b'A' + pin - 1),
        _ => '?',
    }
}

/// What can go wrong when giving BARs addresses or turning a function on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PciError {
    /// No free, naturally aligned range of `size` bytes left in the window for this BAR.
    NoSpace {
        function: PciAddress,
        bar: u8,
        size: u64,
    },
    /// A BAR of this function has no address, so its decoding stays off.
    Unassigned { function: PciAddress, bar: u8 },
}

impl fmt::Display for PciError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NoSpace {
                function,
                bar,
                size,
            } => write!(
                f,
                "PCI {function} bar{bar}: no room for {size:#x} bytes in the address window"
            ),
            Self::Unassigned { function, bar } => {
                write!(
                    f,
                    "PCI {function} bar{bar} has no address; decoding left off"
                )
            }
        }
    }
}

/// `Result` with [`PciError`].
pub type Result<T = ()> = core::result::Result<T, PciError>;

const REG_ID: u8 = 0x00;
const REG_COMMAND: u8 = 0x04;
const REG_CLASS: u8 = 0x08;
const REG_HEADER: u8 = 0x0c;
const REG_BAR0: u8 = 0x10;
const REG_BUSES: u8 = 0x18;
const REG_INTERRUPT: u8 = 0x3c;

/// Command register bits.
pub const COMMAND_IO: u16 = 1 << 0;
pub const COMMAND_MEMORY: u16 = 1 << 1;
pub const COMMAND_BUS_MASTER: u16 = 1 << 2;

const MULTI_FUNCTION: u8 = 0x80;

/// Finds every function on bus 0 and on the buses behind PCI-to-PCI bridges whose
/// secondary bus firmware numbered (an unnumbered bridge is listed, its subtree is not),
/// in bus/device/function order of discovery. BARs are sized (decoding is turned off while
/// a BAR is probed and restored after); nothing else is changed. A malformed BAR (a 64-bit
/// BAR in the last register, a reserved type) is left out of the record.
pub fn enumerate(config: &mut impl ConfigSpace) -> Vec<PciFunction> {
    let mut functions = Vec::new();
    let mut visited = [false; 256];
    scan_bus(config, 0, None, &mut visited, &mut functions);
    functions
}

/// How INTx of functions on a bus reaches bus 0: `None` on bus 0 itself, else the slot
/// of the bridge on bus 0 and the sum of the device numbers of the bridges below it
/// (standard PCI-to-PCI bridge swizzling).
type Upstream = Option<(u8, u8)>;

fn scan_bus(
    config: &mut impl ConfigSpace,
    bus: u8,
    upstream: Upstream,
    visited: &mut [bool; 256],
    out: &mut Vec<PciFunction>,
) {
    visited[usize::from(bus)] = true;
    for device in 0..32 {
        let first = PciAddress::new(bus, device, 0);
        if config.read32(first, REG_ID) & 0xffff == 0xffff {
            continue;
        }
        let multi = (config.read32(first, REG_HEADER) >> 16) as u8 & MULTI_FUNCTION != 0;
        for function in 0..if multi { 8 } else { 1 } {
            let address = PciAddress::new(bus, device, function);
            let Some(found) = probe_function(config, address, upstream) else {
                continue;
            };
            let secondary = (config.read32(address, REG_BUSES) >> 8) as u8;
            let bridge = found.header_type == HeaderType::PciBridge;
            out.push(found);
            if bridge && secondary != 0 && !visited[usize::from(secondary)] {
                let below = match upstream {
                    None => Some((device, 0)),
                    Some((root_slot, offset)) => Some((root_slot, offset.wrapping_add(device))),
                };
                scan_bus(config, secondary, below, visited, out);
            }
        }
    }
}

fn probe_function(
    config: &mut impl ConfigSpace,
    address: PciAddress,
    upstream: Upstream,
) -> Option<PciFunction> {
    let id = config.read32(address, REG_ID);
    let vendor_id = id as u16;
    if vendor_id == 0xffff {
        return None;
    }
    let class = config.read32(address, REG_CLASS);
    let header_type = HeaderType::from_register((config.read32(address, REG_HEADER) >> 16) as u8);
    let interrupt_pin = (config.read32(address, REG_INTERRUPT) >> 8) as u8;
    let interrupt_pin = if interrupt_pin <= 4 { interrupt_pin } else { 0 };
    let gsi = match upstream {
        None => intx_gsi(address.device, interrupt_pin),
        Some((root_slot, offset)) => intx_gsi(
            root_slot,
            swizzle(interrupt_pin, address.device.wrapping_add(offset)),
        ),
    };
    Some(PciFunction {
        address,
        vendor_id,
        device_id: (id >> 16) as u16,
        class: (class >> 24) as u8,
        subclass: (class >> 16) as u8,
        prog_if: (class >> 8) as u8,
        revision: class as u8,
        header_type,
        interrupt_pin,
        gsi,
        bars: probe_bars(config, address, header_type.bar_count()),
    })
}

/// The pin a bridge raises for `pin` of the device `device` below it (PCI-to-PCI Bridge
/// Architecture Specification 1.2, table 9-1): INTA of device 1 is the bridge's INTB.
fn swizzle(pin: u8, device: u8) -> u8 {
    if pin == 0 {
        return 0;
    }
    (pin - 1 + device % 4) % 4 + 1
}

/// Sizes BARs `0..count` of `address`, restoring each register and the command register.
fn probe_bars(config: &mut impl ConfigSpace, address: PciAddress, count: u8) -> [Option<Bar>; 6] {
    let mut bars = [None; 6];
    if count == 0 {
        return bars;
    }
    // Turn decoding off while a BAR holds all ones, so it cannot claim a bogus range.
    // The upper half (status) is written as 0: its error bits are write-one-to-clear.
    let command = config.read32(address, REG_COMMAND) as u16;
    let quiet = command & !(COMMAND_IO | COMMAND_MEMORY);
    if quiet != command {
        config.write32(address, REG_COMMAND, u32::from(quiet));
    }
    let mut index = 0;
    while index < count {
        let (bar, registers) = probe_bar(config, address, index, count);
        bars[usize::from(index)] = bar;
        index += registers;
    }
    if quiet != command {
        config.write32(address, REG_COMMAND, u32::from(command));
    }
    bars
}

/// Writes all ones to a BAR register and returns what reads back, restoring the original.
fn size_mask(config: &mut impl ConfigSpace, address: PciAddress, offset: u8, original: u32) -> u32 {
    config.write32(address, offset, 0xffff_ffff);
    let mask = config.read32(address, offset);
    config.write32(address, offset, original);
    mask
}

/// Probes BAR `index`; returns it (if it exists and is well formed) and how many registers
/// it occupies.
fn probe_bar(
    config: &mut impl ConfigSpace,
    address: PciAddress,
    index: u8,
    count: u8,
) -> (Option<Bar>, u8) {
    let offset = REG_BAR0 + 4 * index;
    let original = config.read32(address, offset);
    let mask = size_mask(config, address, offset, original);
    if original & 1 == 1 {
        // I/O: bits 1..0 are flags; the upper 16 bits may be hard-wired to 0.
        let size = lowest_set_bit(u64::from(mask & !0x3));
        let bar = (size != 0).then_some(Bar {
            kind: BarKind::Io,
            address: u64::from(original & !0x3),
            size,
            prefetchable: false,
        });
        return (bar, 1);
    }
    let prefetchable = original & 0x8 != 0;
    match (original >> 1) & 0x3 {
        // 32-bit, or the obsolete "below 1 MiB" type, which decodes like one.
        0 | 1 => {
            let size = lowest_set_bit(u64::from(mask & !0xf));
            let bar = (size != 0).then_some(Bar {
                kind: BarKind::Memory32,
                address: u64::from(original & !0xf),
                size,
                prefetchable,
            });
            (bar, 1)
        }
        2 if index + 1 < count => {
            let high_offset = offset + 4;
            let high = config.read32(address, high_offset);
            let high_mask = size_mask(config, address, high_offset, high);
            let full_mask = u64::from(high_mask) << 32 | u64::from(mask & !0xf);
            let size = lowest_set_bit(full_mask);
            let bar = (size != 0).then_some(Bar {
                kind: BarKind::Memory64,
                address: u64::from(high) << 32 | u64::from(original & !0xf),
                size,
                prefetchable,
            });
            (bar, 2)
        }
        // A 64-bit BAR in the last register, or the reserved type 3.
        _ => {
            log::warn!("PCI {address} bar{index}: malformed BAR {original:#x}, ignored");
            (None, 1)
        }
    }
}

/// The size a BAR's read-back mask encodes: its lowest writable address bit.
fn lowest_set_bit(mask: u64) -> u64 {
    mask & mask.wrapping_neg()
}

/// A range `[start, end)` of addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: u64,
    pub end: u64,
}

/// The ranges [`assign_bars`] hands out addresses from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// For memory BARs, 32- and 64-bit alike.
    pub memory: Window,
    /// For I/O BARs.
    pub io: Window,
}

/// q35's free ranges (QEMU 7.2, `hw/pci-host/q35.c` and `hw/i386/pc_q35.c`).
///
/// Memory: q35 puts at most 0xb000_0000 bytes of RAM below 4 GiB (`pc_q35_init`: `lowmem`
/// is 0xb000_0000, or 0x8000_0000 once RAM reaches that size, and `max-ram-below-4g` only
/// lowers it). MMCONFIG (PCIEXBAR) sits at 0xb000_0000 with up to 256 MiB
/// (`MCH_HOST_BRIDGE_PCIEXBAR_DEFAULT`, `_MAX`), so QEMU's 32-bit PCI hole is
/// `[0xc000_0000, 0xfec0_0000)` (`q35_host_initfn`: PCIEXBAR default + max up to
/// `IO_APIC_DEFAULT_ADDRESS`); above it are the IOAPIC (0xfec0_0000), HPET (0xfed0_0000),
/// ICH9 RCBA (0xfed1_c000), local APIC (0xfee0_0000) and the BIOS flash. SeaBIOS uses the
/// same hole on q35 (`mch_mem_addr_setup`).
///
/// I/O: `[0xc000, 0x1_0000)`, the range SeaBIOS gives PCI I/O BARs on q35; the chipset's
/// fixed ports (serial, fw_cfg at 0x510, ACPI PM at 0x600, PCI config at 0xcf8) are below.
pub const Q35_WINDOWS: Windows = Windows {
    memory: Window {
        start: 0xc000_0000,
        end: 0xfec0_0000,
    },
    io: Window {
        start: 0xc000,
        end: 0x1_0000,
    },
};

/// Gives every unassigned BAR of the functions on bus 0 an address: naturally aligned,
/// inside `windows` (memory BARs, 64-bit ones too, in `windows.memory`; I/O BARs in
/// `windows.io`), overlapping neither each other nor any BAR firmware assigned (those are
/// kept wherever they are, above 4 GiB included). Writes the BAR registers (both halves of
/// a 64-bit BAR) with decoding off, and updates `functions`. Command bits are not touched:
/// see [`enable`].
///
/// Unassigned BARs behind a bridge are left alone (they would need the bridge's windows
/// programmed too; firmware that numbers bridges also assigns their BARs).
///
/// Every BAR that fits is placed, largest first; if some do not fit, the first of those is
/// the error, and their records keep address 0.
pub fn assign_bars(
    config: &mut impl ConfigSpace,
    functions: &mut [PciFunction],
    windows: &Windows,
) -> Result {
    let mut used_memory: Vec<Window> = Vec::new();
    let mut used_io: Vec<Window> = Vec::new();
    let mut pending: Vec<(usize, u8)> = Vec::new();
    for (f, function) in functions.iter().enumerate() {
        for (index, bar) in function.present_bars() {
            if bar.is_assigned() {
                let used = if bar.is_memory() {
                    &mut used_memory
                } else {
                    &mut used_io
                };
                used.push(Window {
                    start: bar.address,
                    end: bar.address.saturating_add(bar.size),
                });
            } else if function.address.bus == 0 {
                pending.push((f, index));
            }
        }
    }
    // Largest first packs naturally aligned ranges without holes.
    pending.sort_by_key(|&(f, index)| {
        core::cmp::Reverse(functions[f].bars[usize::from(index)].map_or(0, |bar| bar.size))
    });

    let mut first_error = None;
    for (f, index) in pending {
        let function = &mut functions[f];
        let slot = &mut function.bars[usize::from(index)];
        let Some(bar) = slot.as_mut() else { continue };
        let (window, used) = if bar.is_memory() {
            (windows.memory, &mut used_memory)
        } else {
            (windows.io, &mut used_io)
        };
        let Some(start) = find_free(window, used, bar.size) else {
            first_error.get_or_insert(PciError::NoSpace {
                function: function.address,
                bar: index,
                size: bar.size,
            });
            continue;
        };
        used.push(Window {
            start,
            end: start + bar.size,
        });
        bar.address = start;
        write_bar(config, function.address, index, bar);
    }
    first_error.map_or(Ok(()), Err)
}

/// The lowest `size`-aligned start of `size` free bytes in `window`, if any.
fn find_free(window: Window, used: &[Window], size: u64) -> Option<u64> {
    let mut start = window.start.checked_next_multiple_of(size)?;
    loop {
        let end = start.checked_add(size)?;
        if end > window.end {
            return None;
        }
        match used.iter().find(|u| u.start < end && start < u.end) {
            None => return Some(start),
            Some(blocker) => start = blocker.end.checked_next_multiple_of(size)?,
        }
    }
}

/// Writes a BAR's address with decoding off for the duration.
fn write_bar(config: &mut impl ConfigSpace, address: PciAddress, index: u8, bar: &Bar) {
    let command = config.read32(address, REG_COMMAND) as u16;
    let quiet = command & !(COMMAND_IO | COMMAND_MEMORY);
    if quiet != command {
        config.write32(address, REG_COMMAND, u32::from(quiet));
    }
    let offset = REG_BAR0 + 4 * index;
    let flags = config.read32(address, offset) & if bar.is_memory() { 0xf } else { 0x3 };
    config.write32(address, offset, bar.address as u32 | flags);
    if bar.kind == BarKind::Memory64 {
        config.write32(address, offset + 4, (bar.address >> 32) as u32);
    }
    if quiet != command {
        config.write32(address, REG_COMMAND, u32::from(command));
    }
}

/// Turns a function on for a driver: memory decoding if it has memory BARs, I/O decoding
/// if it has I/O BARs, and bus mastering (the device may DMA). Fails, changing nothing, if
/// any BAR still has no address: a BAR at 0 that decodes would shadow RAM or ports at 0.
pub fn enable(config: &mut impl ConfigSpace, function: &PciFunction) -> Result {
    let mut bits = COMMAND_BUS_MASTER;
    for (index, bar) in function.present_bars() {
        if !bar.is_assigned() {
            return Err(PciError::Unassigned {
                function: function.address,
                bar: index,
            });
        }
        bits |= if bar.is_memory() {
            COMMAND_MEMORY
        } else {
            COMMAND_IO
        };
    }
    let command = config.read32(function.address, REG_COMMAND) as u16;
    if command & bits != bits {
        config.write32(function.address, REG_COMMAND, u32::from(command | bits));
    }
    Ok(())
}

/// The IOAPIC input (GSI) that INTx `pin` (1 = INTA ..= 4 = INTD) of a function in `slot`
/// of q35's bus 0 drives; `None` for pin 0 (no INTx) or an invalid pin. The line is
/// level-triggered and active-high (QEMU's DSDT declares the GSI link devices
/// `Interrupt(ResourceConsumer, Level, ActiveHigh, Shared)`); the interrupt-line register
/// (0x3c) holds a legacy PIC number, not this.
///
/// From QEMU 7.2 `hw/isa/lpc_ich9.c`: `ich9_lpc_map_irq` maps (slot, pin) to PIRQ A..H
/// through `irr[slot][pin]`, and in APIC mode `ich9_pirq_to_gsi` makes PIRQ n GSI 16 + n
/// whatever the PIRQ routing registers say. `ich9_cc_init` sets `irr[slot][intx] =
/// (slot + intx) % 4 + 4` (PIRQ E..H) for every slot, then `ich9_cc_update` overrides slots
/// 25..=29 and 31 from the chipset registers D25IR..D31IR, whose reset value 0x3210 maps
/// INTA..INTD to PIRQ A..D, and slot 30 (the DMI-to-PCI bridge) to INTA..INTD -> PIRQ E..H.
/// QEMU's ACPI `_PRT` (`build_q35_routing_table` in `hw/i386/acpi-build.c`) says the same.
/// So slots 0..=24 follow `20 + (slot + pin - 1) % 4`, the rule PLATFORM.md gives.
pub fn intx_gsi(slot: u8, pin: u8) -> Option<u32> {
    if !(1..=4).contains(&pin) {
        return None;
    }
    let intx = u32::from(pin - 1);
    let pirq = match slot {
        25..=29 | 31 => intx,
        30 => 4 + intx,
        _ => 4 + (u32::from(slot) + intx) % 4,
    };
    Some(16 + pirq)
}

/// One entry of a function's capability list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability {
    /// Where it starts in configuration space.
    pub offset: u8,
    /// Its ID (0x09: vendor-specific, which virtio uses; 0x11: MSI-X).
    pub id: u8,
}

const STATUS_CAPABILITIES: u32 = 1 << (16 + 4);
const REG_CAPABILITIES: u8 = 0x34;

/// The function's capability list, in list order. A malformed list (a pointer into the
/// header, a loop) ends where it goes wrong, after at most 48 entries.
pub fn capabilities(config: &impl ConfigSpace, address: PciAddress) -> Vec<Capability> {
    let mut found = Vec::new();
    if config.read32(address, REG_COMMAND) & STATUS_CAPABILITIES == 0 {
        return found;
    }
    let mut next = config.read32(address, REG_CAPABILITIES) as u8 & 0xfc;
    while next >= 0x40 && found.len() < 48 {
        let header = config.read32(address, next);
        found.push(Capability {
            offset: next,
            id: header as u8,
        });
        next = (header >> 8) as u8 & 0xfc;
    }
    found
}

#[cfg(target_os = "none")]
mod machine;
#[cfg(target_os = "none")]
pub use machine::{Scan, scan, scan_and_print};
#[cfg(target_os = "none")]
pub(crate) use machine::{virtio_functions, virtio_root};

#[cfg(test)]
mod tests;
