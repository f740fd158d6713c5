//! Device drivers: bus discovery and the devices on it. Logic that can run on the host is
//! host-tested; what touches hardware reaches it through `arch`.

pub mod dma;
pub mod pci;
pub mod virtio;

#[cfg(target_os = "none")]
pub(crate) use found::{block_devices, set_cmdline};

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

    /// Finds the machine's devices and starts a driver for each block device, named
    /// vda, vdb, ... in the order found. Called once, when an app first asks for disks:
    /// an app that never does pays nothing for discovery.
    pub(crate) fn block_devices() -> Vec<&'static dyn BlockDriver> {
        let mut disks: Vec<&'static dyn BlockDriver> = Vec::new();
        for device in super::virtio::probe(CMDLINE.get().copied().unwrap_or("")) {
            match device.kind {
                DeviceType::Block => {
                    let name = crate::block::disk_name(disks.len());
                    match super::virtio::blk::VirtioBlk::start(device, name) {
                        Ok(disk) => disks.push(disk),
                        Err(e) => log::error!("virtio-blk: {}", e.0),
                    }
                }
                other => log::debug!("virtio: no driver for {other:?} at {}", device.location),
            }
        }
        disks
    }
}
