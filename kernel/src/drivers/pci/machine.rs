//! The machine's PCI bus at run time: one scan with BARs assigned, the virtio functions
//! enabled for their drivers, and a printout for the testkernel.

use super::*;

/// What one scan of the machine's PCI bus found, BARs assigned.
#[derive(Debug)]
pub struct Scan {
    pub functions: Vec<PciFunction>,
    /// The first BAR that found no room, if any ([`assign_bars`]).
    pub error: Option<PciError>,
}

static SCAN: spin::Once<Scan> = spin::Once::new();

fn config_space() -> crate::arch::PortConfigSpace {
    // SAFETY: this module writes only what its contracts allow: BAR addresses inside
    // `Q35_WINDOWS` (or firmware's own), command bits through `enable`, and the virtio
    // transport's registers for functions a driver owns.
    unsafe { crate::arch::PortConfigSpace::new() }
}

/// Enumerates the PCI bus and assigns the BARs firmware left unassigned, on the first call;
/// later calls return the same record. Decoding is not turned on here: see
/// [`virtio_functions`]. On a machine without PCI (microvm) the list is empty.
pub fn scan() -> &'static Scan {
    SCAN.call_once(|| {
        let mut config = config_space();
        let mut functions = enumerate(&mut config);
        let error = assign_bars(&mut config, &mut functions, &Q35_WINDOWS).err();
        if let Some(error) = error {
            log::warn!("{error}");
        }
        Scan { functions, error }
    })
}

/// A virtio function ready for `PciTransport::new(&mut virtio_root(), device_function)`:
/// its BARs have addresses, and memory decoding and bus mastering are on.
#[derive(Clone, Debug)]
pub(crate) struct VirtioPciFunction {
    pub(crate) device_function: virtio_drivers::transport::pci::bus::DeviceFunction,
    pub(crate) device_type: virtio_drivers::transport::DeviceType,
    /// The IOAPIC input of its INTx pin (level-triggered, active-high); `None` without one.
    pub(crate) gsi: Option<u32>,
    pub(crate) function: PciFunction,
}

/// Every virtio function (vendor 0x1af4 with a device ID virtio-drivers knows), in bus
/// order, which on q35 is the order of the `-device` options. Each is enabled
/// ([`enable`]) before it is returned; one that cannot be (a BAR without room) is left
/// out with a warning.
pub(crate) fn virtio_functions() -> Vec<VirtioPciFunction> {
    use virtio_drivers::transport::pci::bus::{DeviceFunction, DeviceFunctionInfo};
    use virtio_drivers::transport::pci::virtio_device_type;

    let mut config = config_space();
    let mut found = Vec::new();
    for function in &scan().functions {
        let info = DeviceFunctionInfo {
            vendor_id: function.vendor_id,
            device_id: function.device_id,
            class: function.class,
            subclass: function.subclass,
            prog_if: function.prog_if,
            revision: function.revision,
            header_type: function.header_type.to_register().into(),
        };
        let Some(device_type) = virtio_device_type(&info) else {
            continue;
        };
        if let Err(error) = enable(&mut config, function) {
            log::warn!("virtio {device_type:?} skipped: {error}");
            continue;
        }
        found.push(VirtioPciFunction {
            device_function: DeviceFunction {
                bus: function.address.bus,
                device: function.address.device,
                function: function.address.function,
            },
            device_type,
            gsi: function.gsi,
            function: function.clone(),
        });
    }
    found
}

/// The configuration-space root virtio-drivers' `PciTransport::new` reads capabilities and
/// BARs through: the same ports and lock as [`scan`].
pub(crate) fn virtio_root()
-> virtio_drivers::transport::pci::bus::PciRoot<crate::arch::PortConfigSpace> {
    virtio_drivers::transport::pci::bus::PciRoot::new(config_space())
}

/// Reads `num_queues` of a virtio function's common configuration through its BAR, which
/// shows the BAR decodes where it was put. `None` if the structure is missing or unmapped.
fn virtio_queue_count(function: &PciFunction) -> Option<u16> {
    const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
    const NUM_QUEUES: u64 = 0x12;
    let config = config_space();
    let common = capabilities(&config, function.address)
        .into_iter()
        .filter(|cap| cap.id == 0x09)
        .find(|cap| {
            (config.read32(function.address, cap.offset) >> 24) as u8 == VIRTIO_PCI_CAP_COMMON_CFG
        })?;
    let bar_index = config.read32(function.address, common.offset + 4) as u8;
    let offset = u64::from(config.read32(function.address, common.offset + 8));
    let bar = (*function.bars.get(usize::from(bar_index))?)?;
    if !bar.is_memory() || !bar.is_assigned() || offset + NUM_QUEUES + 2 > bar.size {
        return None;
    }
    let virt = crate::mm::map_device(bar.address + offset, NUM_QUEUES + 2).ok()?;
    // SAFETY: `map_device` mapped the common configuration uncached at `virt`; `num_queues`
    // is a read-only, side-effect-free 16-bit register at offset 0x12 (virtio 1.2, 4.1.4.3).
    Some(unsafe { core::ptr::read_volatile((virt + NUM_QUEUES) as *const u16) })
}

/// True if virtio-drivers, reading through [`virtio_root`] as `PciTransport::new` does,
/// sees the same BARs as this module's record.
fn crate_sees_same_bars(device: &VirtioPciFunction) -> bool {
    use virtio_drivers::transport::pci::bus::BarInfo;
    let Ok(theirs) = virtio_root().bars(device.device_function) else {
        return false;
    };
    theirs
        .iter()
        .zip(&device.function.bars)
        .all(|(theirs, ours)| match (theirs, ours) {
            (None, None) => true,
            (Some(BarInfo::Memory { address, size, .. }), Some(ours)) => {
                ours.is_memory() && (*address, *size) == (ours.address, ours.size)
            }
            (Some(BarInfo::IO { address, size }), Some(ours)) => {
                !ours.is_memory()
                    && (u64::from(*address), u64::from(*size)) == (ours.address, ours.size)
            }
            _ => false,
        })
}

/// Scans (see [`scan`]), enables the virtio functions, and prints every function with its
/// BARs and GSI, then for each virtio function its type, whether virtio-drivers sees the
/// same BARs, and a register read through its BAR. For the testkernel's `pci` scenario.
pub fn scan_and_print() {
    let scan = scan();
    let virtio = virtio_functions();
    crate::console::write_fmt(format_args!("pci: {} functions\n", scan.functions.len()));
    for function in &scan.functions {
        crate::console::write_fmt(format_args!("pci {function}\n"));
    }
    if let Some(error) = scan.error {
        crate::console::write_fmt(format_args!("pci: error: {error}\n"));
    }
    for device in &virtio {
        crate::console::write_fmt(format_args!(
            "pci virtio {} {:?} gsi {:?}, virtio-drivers sees the same BARs: {}, \
             common config num_queues {:?}\n",
            device.function.address,
            device.device_type,
            device.gsi,
            crate_sees_same_bars(device),
            virtio_queue_count(&device.function),
        ));
    }
}
