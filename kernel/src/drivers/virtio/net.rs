//! virtio-net as a `smoltcp::phy::Device`, on virtio-drivers' non-blocking `VirtIONetRaw`
//! (never its blocking `send`/`receive_wait`).
//!
//! Receive: [`RX_BUFFERS`] buffers are posted to the device up front; a received frame is
//! handed to smoltcp in place (no copy) and its buffer goes back to the device once smoltcp
//! is done with it. Transmit: smoltcp writes each frame straight into a free transmit
//! buffer behind the virtio-net header; completed transmissions are reaped lazily, when
//! smoltcp next asks for a buffer. With every buffer in flight, `transmit` returns `None`
//! (backpressure, counted) and smoltcp tries again at its next poll.
//!
//! Interrupts follow the block driver's wake path: the handler wakes the network task
//! (masking a level-triggered line first), which acknowledges the device, polls the
//! stack and unmasks the line.

use super::found::FoundDevice;
use super::hal::VirtioHal;
use crate::arch::irq::{self, IrqLine, Trigger};
use crate::sched::{self, TaskId};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::sync::atomic::{AtomicU64, Ordering};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::{SomeTransport, Transport};

/// Descriptors per queue (QEMU offers 256).
const QUEUE_SIZE: usize = 128;
/// Receive buffers kept posted.
pub const RX_BUFFERS: usize = QUEUE_SIZE;
/// Transmit buffers.
pub const TX_BUFFERS: usize = QUEUE_SIZE;
/// A buffer: the virtio-net header and a full Ethernet frame (at least the crate's 1526).
const BUFFER: usize = 2048;
/// Ethernet frame without its FCS.
const MTU: usize = 1514;

type Buffer = Box<[u8; BUFFER]>;
type Raw = VirtIONetRaw<VirtioHal, SomeTransport<'static>, QUEUE_SIZE>;

/// Counters of one NIC.
#[derive(Debug, Default)]
pub struct NicCounters {
    pub rx_packets: AtomicU64,
    pub rx_bytes: AtomicU64,
    pub tx_packets: AtomicU64,
    pub tx_bytes: AtomicU64,
    /// Frames the device returned that could not be used (too short, an error).
    pub rx_dropped: AtomicU64,
    /// `transmit` found every buffer in flight.
    pub tx_ring_full: AtomicU64,
    /// TCP segments sent again (`net::retransmit`).
    pub tcp_retransmissions: AtomicU64,
    pub interrupts: AtomicU64,
}

struct Rings {
    raw: Raw,
    retransmits: crate::net::retransmit::RetransmitCounter,
    /// Receive buffers the device holds, by descriptor token.
    rx_posted: Vec<Option<Buffer>>,
    /// Transmit buffers the device holds, by descriptor token.
    tx_posted: Vec<Option<Buffer>>,
    tx_free: Vec<Buffer>,
}

/// One virtio-net device.
pub struct VirtioNet {
    rings: RefCell<Rings>,
    /// Receive buffers smoltcp is done with, to post again.
    rx_done: RefCell<Vec<Buffer>>,
    mac: [u8; 6],
    pub counters: &'static NicCounters,
    irq: &'static IrqContext,
}

/// What the interrupt handler needs; lives for the rest of the run.
struct IrqContext {
    line: spin::Once<IrqLine>,
    masks_line: bool,
    task: AtomicU64,
    counters: &'static NicCounters,
}

// SAFETY: the device is owned by the network stack, which keeps it under one lock; the
// transport's pointers and the queues' DMA memory are used only from there.
unsafe impl Send for VirtioNet {}

/// Why a NIC could not be started.
#[derive(Debug)]
pub struct StartError(pub alloc::string::String);

impl VirtioNet {
    /// Negotiates the device (no offloads: virtio-drivers offers none), posts the receive
    /// buffers and registers the interrupt line (left masked until [`Self::enable`]).
    pub fn start(found: FoundDevice) -> Result<Self, StartError> {
        let FoundDevice {
            transport,
            gsi,
            trigger,
            location,
            ..
        } = found;
        let fail = |what: &str| StartError(alloc::format!("virtio-net ({location}): {what}"));
        // The link bit of the device's `status` (virtio 1.2, 5.1.4), read before the crate
        // takes the transport; QEMU always offers VIRTIO_NET_F_STATUS.
        let link = match transport.read_config_space::<u16>(6) {
            Ok(status) if status & 1 != 0 => "link up",
            Ok(_) => "link down",
            Err(_) => "link state unknown",
        };
        let raw = Raw::new(transport).map_err(|e| fail(&alloc::format!("{e}")))?;
        let mac = raw.mac_address();
        let counters: &'static NicCounters = Box::leak(Box::default());
        let irq: &'static IrqContext = Box::leak(Box::new(IrqContext {
            line: spin::Once::new(),
            masks_line: trigger == Trigger::Level,
            task: AtomicU64::new(0),
            counters,
        }));
        let mut rings = Rings {
            raw,
            retransmits: Default::default(),
            rx_posted: (0..QUEUE_SIZE).map(|_| None).collect(),
            tx_posted: (0..QUEUE_SIZE).map(|_| None).collect(),
            tx_free: (0..TX_BUFFERS).map(|_| Box::new([0; BUFFER])).collect(),
        };
        for _ in 0..RX_BUFFERS {
            rings.post_rx(Box::new([0; BUFFER]));
        }
        let line = irq::register_gsi(
            gsi,
            trigger,
            on_interrupt,
            irq as *const IrqContext as usize,
        )
        .map_err(|e| fail(&alloc::format!("interrupt line {gsi}: {e}")))?;
        irq.line.call_once(|| line);
        log::info!(
            "net: virtio-net at {location}, MAC {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, {link}, irq {gsi}",
            mac[0],
            mac[1],
            mac[2],
            mac[3],
            mac[4],
            mac[5]
        );
        Ok(Self {
            rings: RefCell::new(rings),
            rx_done: RefCell::new(Vec::new()),
            mac,
            counters,
            irq,
        })
    }

    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Lets interrupts wake task `task` from now on.
    pub fn enable(&self, task: TaskId) {
        self.irq.task.store(task.0, Ordering::Relaxed);
        if let Some(line) = self.irq.line.get() {
            line.unmask();
        }
    }

    /// Acknowledges the device's interrupt (before the stack is polled).
    pub fn acknowledge(&mut self) {
        self.rings.get_mut().raw.ack_interrupt();
    }

    /// After a poll: posts the receive buffers smoltcp is done with, unmasks a masked
    /// line, and says whether frames arrived meanwhile (poll again before sleeping).
    pub fn after_poll(&mut self) -> bool {
        let rings = self.rings.get_mut();
        for buffer in self.rx_done.get_mut().drain(..) {
            rings.post_rx(buffer);
        }
        if self.irq.masks_line
            && let Some(line) = self.irq.line.get()
        {
            line.unmask();
        }
        rings.raw.poll_receive().is_some()
    }
}

impl Rings {
    fn post_rx(&mut self, mut buffer: Buffer) {
        // SAFETY: the buffer is boxed (a stable address) and kept in `rx_posted` until the
        // device returns it through `receive_complete`.
        match unsafe { self.raw.receive_begin(&mut buffer[..]) } {
            Ok(token) => self.rx_posted[usize::from(token)] = Some(buffer),
            Err(e) => log::error!("net: cannot post a receive buffer: {e}"),
        }
    }

    /// Moves completed transmit buffers back to the free list.
    fn reap_tx(&mut self) {
        while let Some(token) = self.raw.poll_transmit() {
            let Some(buffer) = self.rx_take_tx(token) else {
                log::error!("net: the device completed unknown transmit {token}");
                break;
            };
            // SAFETY: `buffer` is the one given to `transmit_begin` for this token.
            if let Err(e) = unsafe { self.raw.transmit_complete(token, &buffer[..]) } {
                log::error!("net: transmit {token}: {e}");
            }
            self.tx_free.push(buffer);
        }
    }

    fn rx_take_tx(&mut self, token: u16) -> Option<Buffer> {
        self.tx_posted.get_mut(usize::from(token))?.take()
    }
}

/// The interrupt handler: mask a level-triggered line, wake the network task.
fn on_interrupt(data: usize) {
    // SAFETY: `data` is the address of a leaked `IrqContext`, registered in `start`.
    let irq = unsafe { &*(data as *const IrqContext) };
    if irq.masks_line
        && let Some(line) = irq.line.get()
    {
        line.mask();
    }
    irq.counters.interrupts.fetch_add(1, Ordering::Relaxed);
    let task = irq.task.load(Ordering::Relaxed);
    if task != 0 {
        sched::wake(TaskId(task));
    }
}

/// A received frame, handed to smoltcp in place.
pub struct RxToken<'a> {
    buffer: Buffer,
    offset: usize,
    len: usize,
    done: &'a RefCell<Vec<Buffer>>,
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let result = f(&self.buffer[self.offset..self.offset + self.len]);
        self.done.borrow_mut().push(self.buffer);
        result
    }
}

/// Room to send one frame.
pub struct TxToken<'a> {
    rings: &'a RefCell<Rings>,
    counters: &'static NicCounters,
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut rings = self.rings.borrow_mut();
        rings.reap_tx();
        let mut buffer = rings
            .tx_free
            .pop()
            .expect("a TxToken is only made with a free buffer");
        let header = rings.raw.fill_buffer_header(&mut buffer[..]).unwrap_or(0);
        let len = len.min(BUFFER - header);
        let result = f(&mut buffer[header..header + len]);
        if rings.retransmits.observe(&buffer[header..header + len]) {
            self.counters
                .tcp_retransmissions
                .fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the buffer is boxed and kept in `tx_posted` until the device is done.
        match unsafe { rings.raw.transmit_begin(&buffer[..header + len]) } {
            Ok(token) => {
                rings.tx_posted[usize::from(token)] = Some(buffer);
                self.counters.tx_packets.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .tx_bytes
                    .fetch_add(len as u64, Ordering::Relaxed);
            }
            Err(e) => {
                log::warn!("net: cannot queue a frame: {e}");
                rings.tx_free.push(buffer);
            }
        }
        result
    }
}

impl phy::Device for VirtioNet {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let rings = self.rings.get_mut();
        rings.reap_tx();
        if rings.tx_free.is_empty() {
            // An answer (an ACK) could not be sent: leave the frame for the next poll.
            self.counters.tx_ring_full.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        loop {
            let token = rings.raw.poll_receive()?;
            let Some(mut buffer) = rings.rx_posted.get_mut(usize::from(token))?.take() else {
                log::error!("net: the device returned unknown receive buffer {token}");
                return None;
            };
            // SAFETY: `buffer` is the one given to `receive_begin` for this token.
            match unsafe { rings.raw.receive_complete(token, &mut buffer[..]) } {
                Ok((offset, len)) if len > 0 && offset + len <= BUFFER => {
                    self.counters.rx_packets.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .rx_bytes
                        .fetch_add(len as u64, Ordering::Relaxed);
                    return Some((
                        RxToken {
                            buffer,
                            offset,
                            len,
                            done: &self.rx_done,
                        },
                        TxToken {
                            rings: &self.rings,
                            counters: self.counters,
                        },
                    ));
                }
                _ => {
                    self.counters.rx_dropped.fetch_add(1, Ordering::Relaxed);
                    rings.post_rx(buffer);
                }
            }
        }
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        let rings = self.rings.get_mut();
        rings.reap_tx();
        if rings.tx_free.is_empty() {
            self.counters.tx_ring_full.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(TxToken {
            rings: &self.rings,
            counters: self.counters,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        // No cap on bursts: a cap of 1 makes smoltcp clamp TCP windows to one segment.
        caps.max_burst_size = None;
        caps
    }
}
