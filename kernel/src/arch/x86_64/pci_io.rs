//! PCI configuration space through the legacy I/O ports 0xcf8 (address) and 0xcfc (data),
//! configuration mechanism #1: the [`ConfigSpace`] the kernel enumerates with, and the same
//! accessor as virtio-drivers' `ConfigurationAccess`, so enumeration and the crate's
//! `PciTransport` share one lock. The conventional 256 bytes per function are all either
//! needs (virtio's capabilities live there), so there is no ECAM path.

use super::cpu::{inl, outl};
use crate::drivers::pci::{ConfigSpace, PciAddress};
use spin::Mutex;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction};

const ADDRESS_PORT: u16 = 0xcf8;
const DATA_PORT: u16 = 0xcfc;
const ENABLE: u32 = 1 << 31;

/// Serialises the address-then-data pair: another access in between would redirect it.
/// Never taken in an interrupt handler (config space is touched at discovery and driver
/// set-up only), so a plain spin lock cannot deadlock against one.
static PORTS: Mutex<()> = Mutex::new(());

/// The value for port 0xcf8 that selects `offset` of `address`.
fn config_address(address: PciAddress, offset: u8) -> u32 {
    ENABLE
        | u32::from(address.bus) << 16
        | u32::from(address.device & 0x1f) << 11
        | u32::from(address.function & 0x7) << 8
        | u32::from(offset & 0xfc)
}

/// Configuration space through ports 0xcf8/0xcfc. A token: every value reaches the same
/// hardware through the same lock. On a machine without these ports (microvm) reads return
/// all ones, so enumeration finds nothing.
#[derive(Debug)]
pub(crate) struct PortConfigSpace(());

impl PortConfigSpace {
    /// # Safety
    /// Config-space writes can make a device decode over RAM (a BAR) or DMA anywhere (bus
    /// mastering). The caller writes only through the PCI code's contracts: BAR addresses
    /// inside the PCI hole or where firmware put them, command bits for functions whose BARs
    /// all have addresses, and device registers a driver that owns the function needs.
    pub(crate) unsafe fn new() -> Self {
        Self(())
    }

    fn valid(address: PciAddress) -> bool {
        address.device < 32 && address.function < 8
    }
}

impl ConfigSpace for PortConfigSpace {
    fn read32(&self, address: PciAddress, offset: u8) -> u32 {
        if !Self::valid(address) {
            return 0xffff_ffff;
        }
        let _ports = PORTS.lock();
        // SAFETY: 0xcf8/0xcfc are the host bridge's config ports, used only here under
        // `PORTS`; selecting a register and reading it has no effect on memory (config reads
        // have no side effects in the registers the kernel reads).
        unsafe {
            outl(ADDRESS_PORT, config_address(address, offset));
            inl(DATA_PORT)
        }
    }

    fn write32(&mut self, address: PciAddress, offset: u8, value: u32) {
        if !Self::valid(address) {
            return;
        }
        let _ports = PORTS.lock();
        // SAFETY: the config ports as above; what the write does to the device is the
        // contract `PortConfigSpace::new`'s caller accepted.
        unsafe {
            outl(ADDRESS_PORT, config_address(address, offset));
            outl(DATA_PORT, value);
        }
    }
}

fn pci_address(device_function: DeviceFunction) -> PciAddress {
    PciAddress::new(
        device_function.bus,
        device_function.device,
        device_function.function,
    )
}

impl ConfigurationAccess for PortConfigSpace {
    fn read_word(&self, device_function: DeviceFunction, register_offset: u8) -> u32 {
        self.read32(pci_address(device_function), register_offset)
    }

    fn write_word(&mut self, device_function: DeviceFunction, register_offset: u8, data: u32) {
        self.write32(pci_address(device_function), register_offset, data);
    }

    unsafe fn unsafe_clone(&self) -> Self {
        // A token: every access takes `PORTS`, so a clone cannot tear another's access.
        // What the clone may write is the caller's contract (read-only use).
        Self(())
    }
}
