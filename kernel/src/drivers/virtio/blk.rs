//! virtio-blk: an interrupt-driven [`BlockDriver`] on virtio-drivers' `VirtQueue` and
//! transports (the crate's own `VirtIOBlk` blocks, spins and keeps 16 requests at most).
//!
//! Requests from any task go straight onto the queue under a lock, each with its header,
//! its data (in place: one descriptor, the buffer is checked to be physically contiguous
//! by the HAL) and its status byte, using one indirect descriptor slot when the device
//! offers indirect descriptors, so up to [`QUEUE_SIZE`] requests are in flight.
//!
//! The wake path: the interrupt handler wakes the driver's task (`virtio-blk vdX`, I/O
//! class), masking the device's IOAPIC line first when it is level-triggered (PCI INTx; a
//! virtio-mmio line is its device's own and programmed edge-triggered, which saves four
//! IOAPIC register accesses per interrupt). That task acknowledges the device, takes
//! every completion off the used ring, records each result and wakes its waiter, unmasks
//! the line and looks at the ring once more before it blocks again (a completion between
//! the last look and the unmask raised no interrupt it would see). Wakers are called in
//! task context only.

use super::found::FoundDevice;
use super::hal::VirtioHal;
use crate::arch::irq::{self, IrqLine, Trigger};
use crate::block::disk::{Buffer, Request, Ticket};
use crate::block::{BlockDriver, BlockError, DiskInfo, DiskStats, Op, SECTOR};
use crate::sched::{self, IoPending, TaskId};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};
use spin::Mutex;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{DeviceStatus, SomeTransport, Transport};

/// Descriptors in the request queue (QEMU offers 256).
pub const QUEUE_SIZE: usize = 128;
const QUEUE: u16 = 0;

// Feature bits (virtio 1.2, 5.2.3).
const F_SIZE_MAX: u64 = 1 << 1;
const F_SEG_MAX: u64 = 1 << 2;
const F_RO: u64 = 1 << 5;
const F_BLK_SIZE: u64 = 1 << 6;
const F_FLUSH: u64 = 1 << 9;
const F_CONFIG_WCE: u64 = 1 << 11;
const F_INDIRECT_DESC: u64 = 1 << 28;
const F_VERSION_1: u64 = 1 << 32;
const SUPPORTED: u64 = F_SIZE_MAX
    | F_SEG_MAX
    | F_RO
    | F_BLK_SIZE
    | F_FLUSH
    | F_CONFIG_WCE
    | F_INDIRECT_DESC
    | F_VERSION_1;
/// Offset of `writeback` in the device configuration (virtio 1.2, 5.2.4).
const CONFIG_WRITEBACK: usize = 32;

// Request types and statuses (virtio 1.2, 5.2.6).
const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const S_OK: u8 = 0;
const S_UNSUPP: u8 = 2;

/// A request the device has (or had): the memory it reads and writes, and its result.
struct Slot {
    op: Op,
    sector: u64,
    /// Its header and status byte in [`RequestMemory`], while the device has it.
    mem: Option<u16>,
    data: Buffer,
    result: Option<Result<(), BlockError>>,
    waker: Option<Waker>,
    /// Nobody waits: free the slot at completion.
    abandoned: bool,
    /// Keeps an idle CPU halting for this device's interrupt, not calling it a deadlock.
    _pending: IoPending,
}

/// Headers and status bytes of the requests in flight, allocated once: a request takes
/// an index at submission and gives it back at completion.
struct RequestMemory {
    headers: Box<[[u8; 16]; QUEUE_SIZE]>,
    statuses: Box<[[u8; 1]; QUEUE_SIZE]>,
    free: Vec<u16>,
}

impl RequestMemory {
    fn new() -> Self {
        Self {
            headers: Box::new([[0; 16]; QUEUE_SIZE]),
            statuses: Box::new([[0; 1]; QUEUE_SIZE]),
            free: (0..QUEUE_SIZE as u16).rev().collect(),
        }
    }

    /// An index with the header for `op` at `sector` written and the status reset.
    fn take(&mut self, op: Op, sector: u64) -> Option<u16> {
        let i = self.free.pop()?;
        let kind = match op {
            Op::Read => T_IN,
            Op::Write => T_OUT,
            Op::Flush => T_FLUSH,
        };
        let header = &mut self.headers[usize::from(i)];
        header[0..4].copy_from_slice(&kind.to_le_bytes());
        header[4..8].fill(0);
        header[8..16].copy_from_slice(&sector.to_le_bytes());
        self.statuses[usize::from(i)] = [0xff];
        Some(i)
    }

    fn give(&mut self, i: u16) {
        self.free.push(i);
    }

    fn pointers(&mut self, i: u16) -> (*const u8, *mut u8) {
        (
            self.headers[usize::from(i)].as_ptr(),
            self.statuses[usize::from(i)].as_mut_ptr(),
        )
    }
}

/// Calls `f` with a request's buffers exactly as `VirtQueue::add` wants them (and as
/// `pop_used` wants them back): device-readable first, then device-writable.
///
/// # Safety
/// `header` (16 bytes) and `status` (1 byte) must be valid and not otherwise accessed
/// while the device owns them; `data` must be valid (see `Buffer`).
unsafe fn with_buffers<R>(
    op: Op,
    header: *const u8,
    status: *mut u8,
    data: &mut Buffer,
    f: impl for<'a> FnOnce(&'a [&'a [u8]], &'a mut [&'a mut [u8]]) -> R,
) -> R {
    let len = data.len();
    let data = data.as_mut_ptr();
    // SAFETY: by the caller's guarantee; the slices live only for the call of `f`.
    unsafe {
        let header = core::slice::from_raw_parts(header, 16);
        let status = core::slice::from_raw_parts_mut(status, 1);
        match op {
            Op::Read => f(
                &[header],
                &mut [core::slice::from_raw_parts_mut(data, len), status],
            ),
            Op::Write => f(
                &[header, core::slice::from_raw_parts(data, len)],
                &mut [status],
            ),
            Op::Flush => f(&[header], &mut [status]),
        }
    }
}

struct Inner {
    transport: SomeTransport<'static>,
    queue: VirtQueue<VirtioHal, QUEUE_SIZE>,
    /// Requests by ticket, from submission until their result is collected.
    slots: BTreeMap<u64, Slot>,
    /// The ticket of each request the device has, by descriptor token.
    tokens: BTreeMap<u16, u64>,
    next_ticket: u64,
    memory: RequestMemory,
    /// Tasks waiting for room in the queue.
    room_waiters: Vec<Waker>,
}

// SAFETY: the transport's MMIO/PCI pointers and the queue's DMA memory are used only
// under the `Mutex` that holds this value.
unsafe impl Send for Inner {}

/// One virtio block device.
pub struct VirtioBlk {
    info: DiskInfo,
    inner: Mutex<Inner>,
    line: spin::Once<IrqLine>,
    task: AtomicU64,
    /// Level-triggered line: masked by the handler, unmasked by the task.
    masks_line: bool,
    max_request: usize,
    reads: AtomicU64,
    writes: AtomicU64,
    flushes: AtomicU64,
    bytes_read: AtomicU64,
    bytes_written: AtomicU64,
    errors: AtomicU64,
    interrupts: AtomicU64,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// Why a device could not be started.
#[derive(Debug)]
pub struct StartError(pub String);

impl VirtioBlk {
    /// Negotiates features, sets up the queue and the interrupt, and starts the driver
    /// task. The device lives for the rest of the run.
    pub fn start(found: FoundDevice, name: String) -> Result<&'static Self, StartError> {
        let FoundDevice {
            mut transport,
            gsi,
            trigger,
            location,
            ..
        } = found;
        let prefix = alloc::format!("{name} ({location})");
        let fail = |what: &str| StartError(alloc::format!("{prefix}: {what}"));
        transport.set_status(DeviceStatus::empty());
        transport.set_status(DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER);
        let features = transport.read_device_features() & SUPPORTED;
        transport.write_driver_features(features);
        transport.set_status(
            DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER | DeviceStatus::FEATURES_OK,
        );
        if !transport.get_status().contains(DeviceStatus::FEATURES_OK) {
            transport.set_status(DeviceStatus::FAILED);
            return Err(fail("the device refused the features"));
        }
        transport.set_guest_page_size(4096);
        let indirect = features & F_INDIRECT_DESC != 0;
        let queue = VirtQueue::<VirtioHal, QUEUE_SIZE>::new(&mut transport, QUEUE, indirect, false)
            .map_err(|e| fail(&alloc::format!("cannot set up its queue: {e}")))?;
        // The 64-bit capacity as two 32-bit reads: config space is only 4-byte aligned.
        let capacity = transport
            .read_consistent(|| {
                let low: u32 = transport.read_config_space(0)?;
                let high: u32 = transport.read_config_space(4)?;
                Ok(u64::from(high) << 32 | u64::from(low))
            })
            .map_err(|e| fail(&alloc::format!("cannot read its capacity: {e}")))?;
        // A cache needs flushing only if the device has FLUSH and, where it says which
        // mode its cache is in, that mode is writeback (Linux decides the same way).
        let write_cache = features & F_FLUSH != 0
            && (features & F_CONFIG_WCE == 0
                || !matches!(transport.read_config_space::<u8>(CONFIG_WRITEBACK), Ok(0)));
        let block_size = if features & F_BLK_SIZE != 0 {
            transport
                .read_config_space::<u32>(20)
                .unwrap_or(512)
                .max(512)
        } else {
            512
        };
        let max_request = if features & F_SIZE_MAX != 0 {
            let size_max = transport.read_config_space::<u32>(8).unwrap_or(0) as usize;
            (size_max / SECTOR as usize * SECTOR as usize).clamp(SECTOR as usize, usize::MAX)
        } else {
            usize::MAX
        };
        let info = DiskInfo {
            name,
            sectors: capacity,
            block_size,
            read_only: features & F_RO != 0,
            write_cache,
            location,
        };
        let device: &'static Self = Box::leak(Box::new(Self {
            info,
            inner: Mutex::new(Inner {
                transport,
                queue,
                slots: BTreeMap::new(),
                tokens: BTreeMap::new(),
                next_ticket: 1,
                memory: RequestMemory::new(),
                room_waiters: Vec::new(),
            }),
            line: spin::Once::new(),
            task: AtomicU64::new(0),
            masks_line: trigger == Trigger::Level,
            max_request,
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            bytes_written: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            interrupts: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
        }));
        let task = sched::spawn(
            &alloc::format!("virtio-blk {}", device.info.name),
            Some(16 * 1024),
            sched::Class::Io,
            Box::new(move || device.serve()),
        )
        .map_err(|e| fail(&alloc::format!("cannot start its task: {e:?}")))?;
        device.task.store(task.0, Ordering::Relaxed);
        let line = irq::register_gsi(gsi, trigger, on_interrupt, device as *const Self as usize)
            .map_err(|e| fail(&alloc::format!("interrupt line {gsi}: {e}")))?;
        device.line.call_once(|| line);
        device.inner.lock().transport.finish_init();
        line.unmask();
        log::info!(
            "{}: {} sectors ({} MiB), block size {}, {}{}, {} at {}, irq {}",
            device.info.name,
            device.info.sectors,
            device.info.len() >> 20,
            block_size,
            if device.info.read_only {
                "read-only"
            } else {
                "read-write"
            },
            if device.info.write_cache {
                ", write cache (flush)"
            } else {
                ", no write cache"
            },
            if indirect {
                "indirect descriptors"
            } else {
                "direct descriptors"
            },
            device.info.location,
            gsi
        );
        Ok(device)
    }

    /// The driver task: collect completions whenever the interrupt handler wakes it.
    fn serve(&'static self) {
        loop {
            let (wakers, more) = {
                let mut inner = self.inner.lock();
                inner.transport.ack_interrupt();
                let wakers = self.collect(&mut inner);
                (wakers, inner.queue.can_pop())
            };
            for waker in wakers {
                waker.wake();
            }
            if self.masks_line
                && let Some(line) = self.line.get()
            {
                line.unmask();
            }
            // A completion that landed after the acknowledgement raised the line again;
            // one that landed before it is on the ring: look once more before sleeping.
            if more || self.inner.lock().queue.can_pop() {
                continue;
            }
            sched::block_current("device interrupt");
        }
    }

    /// Takes every completed request off the used ring; returns the wakers to call.
    fn collect(&self, inner: &mut Inner) -> Vec<Waker> {
        let mut wakers = core::mem::take(&mut inner.room_waiters);
        while let Some(token) = inner.queue.peek_used() {
            let Some(ticket) = inner.tokens.remove(&token) else {
                log::error!(
                    "{}: the device completed unknown request {token}",
                    self.info.name
                );
                break;
            };
            let Inner {
                queue,
                slots,
                memory,
                ..
            } = &mut *inner;
            let slot = slots.get_mut(&ticket).expect("every token has a slot");
            let mem = slot
                .mem
                .take()
                .expect("a request the device had has memory");
            let (header, status) = memory.pointers(mem);
            // SAFETY: the buffers are the ones given to `add` for this token and are still
            // valid (the slot owned or borrowed them until now).
            let popped = unsafe {
                with_buffers(
                    slot.op,
                    header,
                    status,
                    &mut slot.data,
                    |inputs, outputs| queue.pop_used(token, inputs, outputs),
                )
            };
            let status = memory.statuses[usize::from(mem)][0];
            memory.give(mem);
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            let result = match (popped, status) {
                (Err(e), _) => {
                    log::error!("{}: request {token}: {e}", self.info.name);
                    Err(BlockError::Device {
                        disk: self.info.name.clone(),
                        sector: slot.sector,
                    })
                }
                (Ok(_), S_OK) => Ok(()),
                (Ok(_), S_UNSUPP) => Err(BlockError::Unsupported {
                    disk: self.info.name.clone(),
                    what: match slot.op {
                        Op::Read => "reads",
                        Op::Write => "writes",
                        Op::Flush => "flushes",
                    },
                }),
                (Ok(_), _) => Err(BlockError::Device {
                    disk: self.info.name.clone(),
                    sector: slot.sector,
                }),
            };
            match (&result, slot.op) {
                (Err(_), _) => drop(self.errors.fetch_add(1, Ordering::Relaxed)),
                (Ok(()), Op::Read) => {
                    self.reads.fetch_add(1, Ordering::Relaxed);
                    self.bytes_read
                        .fetch_add(slot.data.len() as u64, Ordering::Relaxed);
                }
                (Ok(()), Op::Write) => {
                    self.writes.fetch_add(1, Ordering::Relaxed);
                    self.bytes_written
                        .fetch_add(slot.data.len() as u64, Ordering::Relaxed);
                }
                (Ok(()), Op::Flush) => drop(self.flushes.fetch_add(1, Ordering::Relaxed)),
            }
            if slot.abandoned {
                slots.remove(&ticket); // frees the slot and its owned buffer
                continue;
            }
            slot.result = Some(result);
            wakers.extend(slot.waker.take());
        }
        wakers
    }
}

/// The interrupt handler: mask a level-triggered line (it stays asserted until the driver
/// task acknowledges the device) and wake the driver task.
fn on_interrupt(data: usize) {
    // SAFETY: `data` is the address of a leaked `VirtioBlk`, registered in `start`.
    let device = unsafe { &*(data as *const VirtioBlk) };
    if device.masks_line
        && let Some(line) = device.line.get()
    {
        line.mask();
    }
    device.interrupts.fetch_add(1, Ordering::Relaxed);
    sched::wake(TaskId(device.task.load(Ordering::Relaxed)));
}

impl BlockDriver for VirtioBlk {
    fn info(&self) -> &DiskInfo {
        &self.info
    }

    unsafe fn submit(&self, request: Request, cx: &mut Context<'_>) -> Result<Ticket, Request> {
        if request.buffer.len() > self.max_request {
            // Checked by the block layer's split for blocking calls; an owned buffer
            // larger than the device takes cannot be sent.
            let mut inner = self.inner.lock();
            let ticket = inner.next_ticket;
            inner.next_ticket += 1;
            let slot = self.slot(
                request,
                Some(Err(BlockError::Unsupported {
                    disk: self.info.name.clone(),
                    what: "requests this large",
                })),
            );
            inner.slots.insert(ticket, slot);
            return Ok(Ticket(ticket));
        }
        let mut inner = self.inner.lock();
        let Some(mem) = inner.memory.take(request.op, request.sector) else {
            // Every request memory is in flight: wait for a completion.
            inner.room_waiters.push(cx.waker().clone());
            return Err(request);
        };
        let mut slot = self.slot(request, None);
        slot.mem = Some(mem);
        let (header, status) = inner.memory.pointers(mem);
        // SAFETY: the request memory and the slot (and so its data buffer) stay put until
        // the device has used them; a borrowed buffer stays valid until then by
        // `submit`'s contract.
        let added = unsafe {
            with_buffers(
                slot.op,
                header,
                status,
                &mut slot.data,
                |inputs, outputs| inner.queue.add(inputs, outputs),
            )
        };
        let token = match added {
            Ok(token) => token,
            Err(virtio_drivers::Error::QueueFull) => {
                // Full: wait for a completion to make room.
                inner.memory.give(mem);
                inner.room_waiters.push(cx.waker().clone());
                let Slot {
                    op, sector, data, ..
                } = slot;
                return Err(Request {
                    op,
                    sector,
                    buffer: data,
                });
            }
            Err(e) => {
                // Never happens with one to three buffers per request; fail the request
                // rather than wait for room that would not help.
                log::error!("{}: cannot queue a request: {e}", self.info.name);
                inner.memory.give(mem);
                slot.mem = None;
                slot.result = Some(Err(BlockError::Device {
                    disk: self.info.name.clone(),
                    sector: slot.sector,
                }));
                let ticket = inner.next_ticket;
                inner.next_ticket += 1;
                inner.slots.insert(ticket, slot);
                return Ok(Ticket(ticket));
            }
        };
        let ticket = inner.next_ticket;
        inner.next_ticket += 1;
        inner.tokens.insert(token, ticket);
        inner.slots.insert(ticket, slot);
        if inner.queue.should_notify() {
            inner.transport.notify(QUEUE);
        }
        drop(inner);
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
        Ok(Ticket(ticket))
    }

    fn poll(&self, ticket: Ticket, cx: &mut Context<'_>) -> Poll<(Result<(), BlockError>, Buffer)> {
        let mut inner = self.inner.lock();
        let Some(slot) = inner.slots.get_mut(&ticket.0) else {
            panic!("{}: polled an unknown block request", self.info.name);
        };
        if slot.result.is_none() {
            slot.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let slot = inner.slots.remove(&ticket.0).expect("checked above");
        Poll::Ready((slot.result.expect("checked above"), slot.data))
    }

    fn abandon(&self, ticket: Ticket) {
        let mut inner = self.inner.lock();
        let Some(slot) = inner.slots.get_mut(&ticket.0) else {
            return;
        };
        if slot.result.is_some() {
            inner.slots.remove(&ticket.0);
        } else {
            slot.abandoned = true;
            slot.waker = None;
        }
    }

    fn stats(&self) -> DiskStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DiskStats {
            reads: get(&self.reads),
            writes: get(&self.writes),
            flushes: get(&self.flushes),
            bytes_read: get(&self.bytes_read),
            bytes_written: get(&self.bytes_written),
            errors: get(&self.errors),
            interrupts: get(&self.interrupts),
            in_flight: get(&self.in_flight),
            max_in_flight: get(&self.max_in_flight),
        }
    }
}

impl VirtioBlk {
    fn slot(&self, request: Request, result: Option<Result<(), BlockError>>) -> Slot {
        Slot {
            op: request.op,
            sector: request.sector,
            mem: None,
            data: request.buffer,
            result,
            waker: None,
            abandoned: false,
            _pending: IoPending::new(),
        }
    }
}
