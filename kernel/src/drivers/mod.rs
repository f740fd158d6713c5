//! Device drivers: bus discovery and the devices on it. Logic that can run on the host is
//! host-tested; what touches hardware reaches it through `arch`.

pub mod dma;
pub mod pci;
pub mod virtio;

#[cfg(target_os = "none")]
pub(crate) use found::{block_devices, network_device, set_cmdline};

#[cfg(target_os = "none")]
mod found {
    use crate::block::BlockDriver;
    use alloc::vec::Vec;
    use virtio_drivers::transport::DeviceType;

    static CMDLINE: spin::Once<&'static str> = spin::Once::new();

    /// Keeps the kernel command line for discovery (microvm lists its devices there).
    pub(crate) fn set_cmdline(line: &'static str) {
        CMDLINE.call_once(|| line);
    }

    /// Devices found and not yet claimed by a driver.
    struct Unclaimed(Vec<super::virtio::FoundDevice>);

    // SAFETY: the transports inside are only touched by the driver that claims them,
    // under this lock until then.
    unsafe impl Send for Unclaimed {}

    static FOUND: spin::Once<spin::Mutex<Unclaimed>> = spin::Once::new();

    /// Finds the machine's devices, once (when an app first asks for disks or the
    /// network: an app that uses neither pays nothing for discovery).
    fn found() -> &'static spin::Mutex<Unclaimed> {
        FOUND.call_once(|| {
            spin::Mutex::new(Unclaimed(super::virtio::probe(
                CMDLINE.get().copied().unwrap_or(""),
            )))
        })
    }

    /// Takes every device of `kind`, in the order found.
    fn claim(kind: DeviceType) -> Vec<super::virtio::FoundDevice> {
        let mut found = found().lock();
        let (wanted, rest) = core::mem::take(&mut found.0)
            .into_iter()
            .partition(|d| d.kind == kind);
        found.0 = rest;
        wanted
    }

    /// Starts a driver for each block device, named vda, vdb, ... in the order found.
    pub(crate) fn block_devices() -> Vec<&'static dyn BlockDriver> {
        let mut disks: Vec<&'static dyn BlockDriver> = Vec::new();
        for device in claim(DeviceType::Block) {
            let name = crate::block::disk_name(disks.len());
            match super::virtio::blk::VirtioBlk::start(device, name) {
                Ok(disk) => disks.push(disk),
                Err(e) => log::error!("virtio-blk: {}", e.0),
            }
        }
        disks
    }

    /// The first network device, for the network stack (others stay unused).
    pub(crate) fn network_device() -> Option<super::virtio::FoundDevice> {
        let mut nics = claim(DeviceType::Network);
        if nics.len() > 1 {
            log::warn!(
                "net: {} network devices; only the first is used",
                nics.len()
            );
        }
        (!nics.is_empty()).then(|| nics.remove(0))
    }
}
