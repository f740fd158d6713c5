//! Host tests of enumeration, BAR assignment and INTx routing against a fake
//! configuration space.

use super::*;
use alloc::collections::BTreeMap;

/// A BAR the fake device implements: writable address bits and fixed flag bits.
#[derive(Clone, Copy)]
enum FakeBar {
    Mem32 { size: u32, prefetchable: bool },
    Mem64 { size: u64, prefetchable: bool },
    Io { size: u32 },
}

/// One function's 256 bytes, with BAR registers that model sizing.
struct FakeFunction {
    regs: [u32; 64],
    /// Per BAR register: (writable address mask, read-only flag bits).
    bar_masks: [(u32, u32); 6],
}

#[derive(Default)]
struct FakeConfig {
    functions: BTreeMap<PciAddress, FakeFunction>,
    /// Every write, to check what was touched.
    writes: Vec<(PciAddress, u8, u32)>,
}

impl FakeConfig {
    fn add(&mut self, address: PciAddress, vendor_device: u32, bars: &[(u8, FakeBar)]) {
        self.add_with(address, vendor_device, 0x0100_0000, 0, 1, bars);
    }

    fn add_with(
        &mut self,
        address: PciAddress,
        vendor_device: u32,
        class: u32,
        header: u8,
        pin: u8,
        bars: &[(u8, FakeBar)],
    ) {
        let mut regs = [0u32; 64];
        regs[0] = vendor_device;
        regs[2] = class;
        regs[3] = u32::from(header) << 16;
        regs[15] = u32::from(pin) << 8 | 11;
        let mut bar_masks = [(0u32, 0u32); 6];
        for &(index, bar) in bars {
            let i = usize::from(index);
            match bar {
                FakeBar::Mem32 { size, prefetchable } => {
                    bar_masks[i] = (!(size - 1), u32::from(prefetchable) << 3);
                }
                FakeBar::Mem64 { size, prefetchable } => {
                    let mask = !(size - 1);
                    bar_masks[i] = (mask as u32 & !0xf, 0x4 | u32::from(prefetchable) << 3);
                    bar_masks[i + 1] = ((mask >> 32) as u32, 0);
                }
                FakeBar::Io { size } => bar_masks[i] = (!(size - 1) & 0xffff, 0x1),
            }
            regs[4 + i] = bar_masks[i].1;
        }
        self.functions
            .insert(address, FakeFunction { regs, bar_masks });
    }

    fn set_bar(&mut self, address: PciAddress, index: usize, value: u32) {
        let f = self.functions.get_mut(&address).unwrap();
        f.regs[4 + index] = (value & f.bar_masks[index].0) | f.bar_masks[index].1;
    }

    fn reg(&self, address: PciAddress, offset: u8) -> u32 {
        self.functions[&address].regs[usize::from(offset / 4)]
    }
}

impl ConfigSpace for FakeConfig {
    fn read32(&self, address: PciAddress, offset: u8) -> u32 {
        assert_eq!(offset % 4, 0, "unaligned config read");
        self.functions
            .get(&address)
            .map_or(0xffff_ffff, |f| f.regs[usize::from(offset / 4)])
    }

    fn write32(&mut self, address: PciAddress, offset: u8, value: u32) {
        assert_eq!(offset % 4, 0, "unaligned config write");
        self.writes.push((address, offset, value));
        let Some(f) = self.functions.get_mut(&address) else {
            return;
        };
        let reg = usize::from(offset / 4);
        match reg {
            0 | 2 | 3 => {} // read-only IDs, class, header type
            1 => f.regs[1] = (f.regs[1] & 0xffff_0000) | (value & 0xffff),
            4..=9
                if reg - 4
                    < usize::from(
                        HeaderType::from_register((f.regs[3] >> 16) as u8).bar_count(),
                    ) =>
            {
                let (mask, flags) = f.bar_masks[reg - 4];
                f.regs[reg] = (value & mask) | flags;
            }
            _ => f.regs[reg] = value,
        }
    }
}

const VIRTIO_BLK: u32 = 0x1042_1af4;

fn mem32(size: u32) -> FakeBar {
    FakeBar::Mem32 {
        size,
        prefetchable: false,
    }
}

/// A prefetchable 64-bit BAR, like virtio's.
fn mem64(size: u64) -> FakeBar {
    FakeBar::Mem64 {
        size,
        prefetchable: true,
    }
}

fn addr(device: u8, function: u8) -> PciAddress {
    PciAddress::new(0, device, function)
}

fn bar(f: &PciFunction, index: usize) -> Bar {
    f.bars[index].unwrap_or_else(|| panic!("{} has no bar{index}", f.address))
}

#[test]
fn sizes_32_bit_64_bit_and_io_bars() {
    let mut config = FakeConfig::default();
    config.add(
        addr(3, 0),
        VIRTIO_BLK,
        &[
            (0, FakeBar::Io { size: 0x40 }),
            (1, mem32(0x1000)),
            (4, mem64(0x4000)),
        ],
    );
    let functions = enumerate(&mut config);
    assert_eq!(functions.len(), 1);
    let f = &functions[0];
    assert_eq!((f.vendor_id, f.device_id), (0x1af4, 0x1042));
    assert_eq!(f.header_type, HeaderType::Endpoint);
    let io = bar(f, 0);
    assert_eq!((io.kind, io.size, io.address), (BarKind::Io, 0x40, 0));
    let mem = bar(f, 1);
    assert_eq!(
        (mem.kind, mem.size, mem.prefetchable),
        (BarKind::Memory32, 0x1000, false)
    );
    let wide = bar(f, 4);
    assert_eq!(
        (wide.kind, wide.size, wide.prefetchable),
        (BarKind::Memory64, 0x4000, true)
    );
    assert_eq!(
        f.bars[5], None,
        "the high half of a 64-bit BAR has no record"
    );
    assert_eq!(f.bars[2], None);
    // Sizing restored every BAR register.
    for i in 0..6 {
        assert_eq!(config.reg(addr(3, 0), REG_BAR0 + 4 * i) & !0xf, 0);
    }
}

#[test]
fn sizes_a_64_bit_bar_larger_than_4_gib() {
    let mut config = FakeConfig::default();
    let big = mem64(8 << 30);
    config.add(addr(1, 0), VIRTIO_BLK, &[(2, big)]);
    config.set_bar(addr(1, 0), 2, 0);
    let f = &enumerate(&mut config)[0];
    assert_eq!(bar(f, 2).size, 8 << 30);
}

#[test]
fn probing_turns_decoding_off_and_restores_it() {
    let mut config = FakeConfig::default();
    let mem = mem32(0x1000);
    config.add(addr(2, 0), VIRTIO_BLK, &[(0, mem)]);
    config.set_bar(addr(2, 0), 0, 0xc000_0000);
    config.write32(addr(2, 0), REG_COMMAND, 0x0007);
    config.writes.clear();
    let f = &enumerate(&mut config)[0];
    assert_eq!(bar(f, 0).address, 0xc000_0000);
    let all_ones = config
        .writes
        .iter()
        .position(|&(_, offset, value)| offset == REG_BAR0 && value == 0xffff_ffff)
        .unwrap();
    let decode_off = config
        .writes
        .iter()
        .position(|&(_, offset, value)| offset == REG_COMMAND && value & 0x3 == 0)
        .unwrap();
    assert!(decode_off < all_ones);
    assert_eq!(config.reg(addr(2, 0), REG_COMMAND) & 0xffff, 0x0007);
    assert_eq!(config.reg(addr(2, 0), REG_BAR0), 0xc000_0000);
}

#[test]
fn finds_functions_of_multi_function_devices_only() {
    let mut config = FakeConfig::default();
    config.add_with(addr(0, 0), 0x29c0_8086, 0x0600_0000, 0, 0, &[]);
    config.add_with(addr(31, 0), 0x2918_8086, 0x0601_0000, 0x80, 0, &[]);
    config.add_with(addr(31, 2), 0x2922_8086, 0x0106_0100, 0, 1, &[]);
    // Function 1 of a single-function device: must not be probed.
    config.add(addr(5, 0), VIRTIO_BLK, &[]);
    config.add(addr(5, 1), VIRTIO_BLK, &[]);
    let found: Vec<_> = enumerate(&mut config).iter().map(|f| f.address).collect();
    assert_eq!(found, [addr(0, 0), addr(5, 0), addr(31, 0), addr(31, 2)]);
}

#[test]
fn unassigned_bars_get_aligned_disjoint_addresses_inside_the_window() {
    let mut config = FakeConfig::default();
    let sizes = [0x1000u64, 0x4000, 0x10_0000, 0x1000, 0x20_0000];
    for (slot, &size) in (1u8..).zip(&sizes) {
        let bars = [
            (1, mem32(size as u32)),
            (
                4,
                FakeBar::Mem64 {
                    size,
                    prefetchable: true,
                },
            ),
            (0, FakeBar::Io { size: 0x20 }),
        ];
        config.add(addr(slot, 0), VIRTIO_BLK, &bars);
    }
    let mut functions = enumerate(&mut config);
    assign_bars(&mut config, &mut functions, &Q35_WINDOWS).unwrap();

    let mut ranges = Vec::new();
    for f in &functions {
        for (index, b) in f.present_bars() {
            let window = if b.is_memory() {
                Q35_WINDOWS.memory
            } else {
                Q35_WINDOWS.io
            };
            assert!(b.is_assigned(), "{} bar{index}", f.address);
            assert_eq!(b.address % b.size, 0, "{} bar{index} misaligned", f.address);
            assert!(b.address >= window.start && b.address + b.size <= window.end);
            ranges.push((b.is_memory(), b.address, b.address + b.size));
            // The device holds what the record says.
            let low = config.reg(f.address, REG_BAR0 + 4 * index);
            let mask = if b.is_memory() { !0xf } else { !0x3 };
            assert_eq!(u64::from(low & mask), b.address & 0xffff_ffff);
        }
    }
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            assert!(
                a.0 != b.0 || a.2 <= b.1 || b.2 <= a.1,
                "{a:x?} overlaps {b:x?}"
            );
        }
    }
    // Re-enumerating reads the same addresses back.
    assert_eq!(enumerate(&mut config), functions);
}

#[test]
fn firmware_assignments_stay_and_are_avoided() {
    let mut config = FakeConfig::default();
    // Firmware put this one at the window's start; OVMF-style 64-bit BAR above 4 GiB.
    config.add(addr(1, 0), VIRTIO_BLK, &[(1, mem32(0x1000))]);
    config.set_bar(addr(1, 0), 1, 0xc000_0000);
    let high = mem64(0x4000);
    config.add(addr(2, 0), VIRTIO_BLK, &[(4, high)]);
    config.set_bar(addr(2, 0), 4, 0x0000_4000);
    config.set_bar(addr(2, 0), 5, 0x8);
    config.add(addr(3, 0), VIRTIO_BLK, &[(1, mem32(0x1000))]);

    let mut functions = enumerate(&mut config);
    assert_eq!(bar(&functions[1], 4).address, 0x8_0000_4000);
    config.writes.clear();
    assign_bars(&mut config, &mut functions, &Q35_WINDOWS).unwrap();
    assert_eq!(bar(&functions[0], 1).address, 0xc000_0000);
    assert_eq!(bar(&functions[1], 4).address, 0x8_0000_4000);
    assert_eq!(bar(&functions[2], 1).address, 0xc000_1000);
    // Only the unassigned BAR (and the command register around it) was written.
    assert!(config.writes.iter().all(|&(a, offset, _)| {
        a == addr(3, 0) && (offset == REG_BAR0 + 4 || offset == REG_COMMAND)
    }));
}

#[test]
fn a_64_bit_bar_gets_both_halves_written() {
    let mut config = FakeConfig::default();
    let wide = mem64(0x4000);
    config.add(addr(4, 0), VIRTIO_BLK, &[(4, wide)]);
    let windows = Windows {
        memory: Window {
            start: 0x1_2345_0000,
            end: 0x1_2346_0000,
        },
        ..Q35_WINDOWS
    };
    let mut functions = enumerate(&mut config);
    assign_bars(&mut config, &mut functions, &windows).unwrap();
    assert_eq!(bar(&functions[0], 4).address, 0x1_2345_0000);
    assert_eq!(config.reg(addr(4, 0), 0x20), 0x2345_0000 | 0xc);
    assert_eq!(config.reg(addr(4, 0), 0x24), 0x1);
    assert_eq!(
        enumerate(&mut config)[0].bars[4].unwrap().address,
        0x1_2345_0000
    );
}

#[test]
fn a_bar_too_large_for_the_window_is_an_error_and_the_rest_still_fit() {
    let mut config = FakeConfig::default();
    let huge = mem64(2 << 30);
    let small = mem32(0x1000);
    config.add(addr(1, 0), VIRTIO_BLK, &[(0, huge)]);
    config.add(addr(2, 0), VIRTIO_BLK, &[(0, small)]);
    let mut functions = enumerate(&mut config);
    let error = assign_bars(&mut config, &mut functions, &Q35_WINDOWS).unwrap_err();
    assert_eq!(
        error,
        PciError::NoSpace {
            function: addr(1, 0),
            bar: 0,
            size: 2 << 30
        }
    );
    assert!(error.to_string().contains("00:01.0 bar0"));
    assert!(!bar(&functions[0], 0).is_assigned());
    assert_eq!(bar(&functions[1], 0).address, 0xc000_0000);
    // The function whose BAR did not fit cannot be enabled.
    assert_eq!(
        enable(&mut config, &functions[0]),
        Err(PciError::Unassigned {
            function: addr(1, 0),
            bar: 0
        })
    );
    assert_eq!(config.reg(addr(1, 0), REG_COMMAND) & 0x7, 0);
}

#[test]
fn a_full_window_is_an_error() {
    let mut config = FakeConfig::default();
    let mem = mem32(0x1000);
    config.add(addr(1, 0), VIRTIO_BLK, &[(0, mem), (1, mem), (2, mem)]);
    let windows = Windows {
        memory: Window {
            start: 0xc000_0000,
            end: 0xc000_2000,
        },
        ..Q35_WINDOWS
    };
    let mut functions = enumerate(&mut config);
    let error = assign_bars(&mut config, &mut functions, &windows).unwrap_err();
    assert!(matches!(error, PciError::NoSpace { bar: 2, .. }));
}

#[test]
fn enable_sets_memory_bus_master_and_io_only_with_io_bars() {
    let mut config = FakeConfig::default();
    let mem = mem32(0x1000);
    config.add(addr(1, 0), VIRTIO_BLK, &[(1, mem)]);
    config.add(
        addr(2, 0),
        VIRTIO_BLK,
        &[(0, FakeBar::Io { size: 0x40 }), (1, mem)],
    );
    let mut functions = enumerate(&mut config);
    assign_bars(&mut config, &mut functions, &Q35_WINDOWS).unwrap();
    for f in &functions {
        enable(&mut config, f).unwrap();
    }
    assert_eq!(config.reg(addr(1, 0), REG_COMMAND) & 0x7, 0x6);
    assert_eq!(config.reg(addr(2, 0), REG_COMMAND) & 0x7, 0x7);
}

#[test]
fn q35_intx_routing() {
    // Slots 0..=24: PIRQ E..H rotated by slot, GSI 20..23 (PLATFORM.md's rule).
    for slot in 0..=24u8 {
        for pin in 1..=4u8 {
            let expected = 20 + (u32::from(slot) + u32::from(pin) - 1) % 4;
            assert_eq!(intx_gsi(slot, pin), Some(expected), "slot {slot} pin {pin}");
        }
    }
    assert_eq!(intx_gsi(1, 1), Some(21));
    assert_eq!(intx_gsi(3, 2), Some(20));
    // Slots 25..=29 and 31: D<N>IR reset value 0x3210, INTA..D -> PIRQ A..D.
    assert_eq!(intx_gsi(31, 1), Some(16));
    assert_eq!(intx_gsi(25, 4), Some(19));
    // Slot 30: fixed to PIRQ E..H.
    assert_eq!(intx_gsi(30, 1), Some(20));
    assert_eq!(intx_gsi(30, 3), Some(22));
    assert_eq!(intx_gsi(1, 0), None);
    assert_eq!(intx_gsi(1, 5), None);
}

#[test]
fn functions_behind_a_numbered_bridge_are_found_and_swizzled() {
    let mut config = FakeConfig::default();
    // PCI-to-PCI bridge at 00:1c.0 (a PCIe root port), secondary bus 1.
    config.add_with(addr(0x1c, 0), 0x000c_1b36, 0x0604_0000, 1, 1, &[]);
    config.write32(addr(0x1c, 0), REG_BUSES, 0x0001_0100);
    // Unnumbered bridge at 00:1d.0: listed, its subtree not scanned.
    config.add_with(addr(0x1d, 0), 0x000c_1b36, 0x0604_0000, 1, 1, &[]);
    let mem = mem32(0x1000);
    config.add_with(
        PciAddress::new(1, 0, 0),
        VIRTIO_BLK,
        0x0100_0000,
        0,
        1,
        &[(1, mem)],
    );
    config.add_with(PciAddress::new(1, 2, 0), VIRTIO_BLK, 0x0100_0000, 0, 1, &[]);
    let mut functions = enumerate(&mut config);
    let found: Vec<_> = functions.iter().map(|f| f.address).collect();
    assert_eq!(
        found,
        [
            addr(0x1c, 0),
            PciAddress::new(1, 0, 0),
            PciAddress::new(1, 2, 0),
            addr(0x1d, 0)
        ]
    );
    assert_eq!(functions[0].header_type, HeaderType::PciBridge);
    // Device 0 INTA stays INTA at the bridge (slot 28: PIRQA, GSI 16); device 2 INTA
    // arrives as INTC (GSI 18).
    assert_eq!(functions[1].gsi, Some(16));
    assert_eq!(functions[2].gsi, Some(18));
    // Behind a bridge nothing is assigned.
    assign_bars(&mut config, &mut functions, &Q35_WINDOWS).unwrap();
    assert!(!bar(&functions[1], 1).is_assigned());
}

#[test]
fn display_names_bars_and_gsi() {
    let mut config = FakeConfig::default();
    let wide = mem64(0x4000);
    config.add(addr(1, 0), VIRTIO_BLK, &[(4, wide)]);
    let mut functions = enumerate(&mut config);
    assign_bars(&mut config, &mut functions, &Q35_WINDOWS).unwrap();
    let text = functions[0].to_string();
    assert_eq!(
        text,
        "00:01.0 1af4:1042 class 01.00.00 Endpoint, INTA -> GSI 21\n  \
         bar4 mem64 0xc0000000..0xc0004000 (size 0x4000) prefetchable"
    );
}

#[test]
fn walks_the_capability_list_and_stops_on_a_loop() {
    let mut config = FakeConfig::default();
    config.add(addr(1, 0), VIRTIO_BLK, &[]);
    assert!(
        capabilities(&config, addr(1, 0)).is_empty(),
        "no list without the status bit"
    );
    let f = config.functions.get_mut(&addr(1, 0)).unwrap();
    f.regs[1] |= STATUS_CAPABILITIES;
    f.regs[0x34 / 4] = 0x98;
    f.regs[0x98 / 4] = 0x0000_8411; // MSI-X, next 0x84
    f.regs[0x84 / 4] = 0x0110_7009; // vendor (virtio common cfg), next 0x70
    f.regs[0x70 / 4] = 0x0000_0009; // vendor, end
    let ids: Vec<_> = capabilities(&config, addr(1, 0))
        .iter()
        .map(|c| (c.offset, c.id))
        .collect();
    assert_eq!(ids, [(0x98, 0x11), (0x84, 0x09), (0x70, 0x09)]);
    config.functions.get_mut(&addr(1, 0)).unwrap().regs[0x70 / 4] = 0x0000_9809; // loop
    assert_eq!(capabilities(&config, addr(1, 0)).len(), 48);
}

#[test]
fn an_empty_bus_has_no_functions() {
    let mut config = FakeConfig::default();
    assert!(enumerate(&mut config).is_empty());
}
