//! Disks at run time: the [`BlockDriver`] contract, the registry that names disks, and
//! [`Disk`], whose blocking calls let other tasks run and whose async calls are futures.

use super::{BlockError, DiskInfo, MAX_REQUEST, Op, check, split};
use alloc::string::String;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// A request's memory.
#[derive(Debug)]
pub enum Buffer {
    /// Owned by the request: returned with the result. A future that is dropped while
    /// its request is in flight leaves the buffer with the driver until the device is
    /// done with it.
    Owned(Vec<u8>),
    /// The caller's memory, for blocking calls that wait for completion without fail.
    Borrowed { ptr: *mut u8, len: usize },
    /// A flush.
    None,
}

// SAFETY: an owned buffer is a Vec; a borrowed one is only created by blocking calls,
// whose task waits until the device is done with it, so no other task touches it.
unsafe impl Send for Buffer {}

impl Buffer {
    pub fn len(&self) -> usize {
        match self {
            Self::Owned(v) => v.len(),
            Self::Borrowed { len, .. } => *len,
            Self::None => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Start of the memory (dangling for an empty buffer).
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        match self {
            Self::Owned(v) => v.as_mut_ptr(),
            Self::Borrowed { ptr, .. } => *ptr,
            Self::None => core::ptr::NonNull::dangling().as_ptr(),
        }
    }
}

/// One device request.
#[derive(Debug)]
pub struct Request {
    pub op: Op,
    /// First 512-byte sector (0 for a flush).
    pub sector: u64,
    pub buffer: Buffer,
}

/// Identifies a request queued with [`BlockDriver::submit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(pub u64);

/// Per-disk counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskStats {
    pub reads: u64,
    pub writes: u64,
    pub flushes: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Requests that completed with an error.
    pub errors: u64,
    pub interrupts: u64,
    pub in_flight: u64,
    /// The most requests that were ever in flight at once.
    pub max_in_flight: u64,
}

/// What a block driver does. One driver value serves every task; all methods take
/// `&self` and never block.
pub trait BlockDriver: Send + Sync {
    fn info(&self) -> &DiskInfo;

    /// Queues `request` on the device (already checked against [`DiskInfo`]). Returns
    /// its ticket, or the request back if the device queue is full; then `cx`'s waker is
    /// woken once a request completes.
    ///
    /// # Safety
    /// A [`Buffer::Borrowed`] must stay valid, and untouched by the caller, until
    /// [`poll`](Self::poll) has returned `Ready` for the ticket.
    unsafe fn submit(&self, request: Request, cx: &mut Context<'_>) -> Result<Ticket, Request>;

    /// The request's result and its buffer once the device completed it; `Pending`
    /// (with `cx`'s waker kept, replacing an earlier one) until then. After `Ready` the
    /// ticket is spent.
    fn poll(&self, ticket: Ticket, cx: &mut Context<'_>) -> Poll<(Result<(), BlockError>, Buffer)>;

    /// Nobody will poll `ticket` again: the driver frees the request when the device is
    /// done with it.
    fn abandon(&self, ticket: Ticket);

    fn stats(&self) -> DiskStats;
}

static DISKS: spin::Once<Vec<&'static dyn BlockDriver>> = spin::Once::new();

/// Registers the disks the drivers found, in naming order (once, at first use).
fn registry() -> &'static [&'static dyn BlockDriver] {
    DISKS.call_once(crate::drivers::block_devices)
}

/// Every disk, in order (`vda` first).
pub fn disks() -> Vec<DiskInfo> {
    registry().iter().map(|d| d.info().clone()).collect()
}

/// The disk called `name`.
pub fn open(name: &str) -> Result<Disk, BlockError> {
    registry()
        .iter()
        .find(|d| d.info().name == name)
        .map(|&driver| Disk { driver })
        .ok_or_else(|| BlockError::NoSuchDisk {
            name: name.into(),
            known: registry()
                .iter()
                .map(|d| d.info().name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Logs every disk's counters (at exit, `log=info`), if any disk was looked for.
pub fn log_stats() {
    let Some(disks) = DISKS.get() else { return };
    for d in disks {
        let s = d.stats();
        log::info!(
            "{}: {} reads ({} bytes), {} writes ({} bytes), {} flushes, {} errors, {} interrupts, at most {} in flight",
            d.info().name,
            s.reads,
            s.bytes_read,
            s.writes,
            s.bytes_written,
            s.flushes,
            s.errors,
            s.interrupts,
            s.max_in_flight
        );
    }
}

/// An open disk. Cheap to copy; every task may use it at once.
#[derive(Clone, Copy)]
pub struct Disk {
    driver: &'static dyn BlockDriver,
}

impl core::fmt::Debug for Disk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Disk")
            .field("info", self.driver.info())
            .finish()
    }
}

impl Disk {
    pub fn info(&self) -> &DiskInfo {
        self.driver.info()
    }

    pub fn stats(&self) -> DiskStats {
        self.driver.stats()
    }

    /// Reads `buf.len()` bytes at `offset` (both multiples of the block size). Blocks the
    /// calling task; others run.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<(), BlockError> {
        let sector = check(self.info(), Op::Read, offset, buf.len())?;
        self.transfer(Op::Read, sector, buf.as_mut_ptr(), buf.len())
    }

    /// Writes `buf` at `offset` (both multiples of the block size). Durable after a
    /// following [`flush`](Self::flush) returns.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<(), BlockError> {
        let sector = check(self.info(), Op::Write, offset, buf.len())?;
        // The device only reads the memory of a write.
        self.transfer(Op::Write, sector, buf.as_ptr().cast_mut(), buf.len())
    }

    /// Makes every write that completed before this call durable.
    pub fn flush(&self) -> Result<(), BlockError> {
        crate::sched::block_on(self.flush_async())
    }

    /// Async [`flush`](Self::flush).
    pub fn flush_async(&self) -> impl Future<Output = Result<(), BlockError>> + Send + 'static {
        let driver = self.driver;
        let checked = check(driver.info(), Op::Flush, 0, 0);
        let future = checked.is_ok().then(|| {
            RequestFuture::new(
                driver,
                Request {
                    op: Op::Flush,
                    sector: 0,
                    buffer: Buffer::None,
                },
            )
        });
        async move {
            checked?;
            if !driver.info().write_cache {
                return Ok(()); // completed writes are durable already
            }
            future.expect("made when the check passed").await.0
        }
    }

    /// Async read into an owned buffer, returned with the result.
    pub fn read_owned(
        &self,
        buf: Vec<u8>,
        offset: u64,
    ) -> impl Future<Output = (Vec<u8>, Result<(), BlockError>)> + Send + 'static {
        self.owned(Op::Read, buf, offset)
    }

    /// Async write of an owned buffer, returned with the result.
    pub fn write_owned(
        &self,
        buf: Vec<u8>,
        offset: u64,
    ) -> impl Future<Output = (Vec<u8>, Result<(), BlockError>)> + Send + 'static {
        self.owned(Op::Write, buf, offset)
    }

    fn owned(
        &self,
        op: Op,
        buf: Vec<u8>,
        offset: u64,
    ) -> impl Future<Output = (Vec<u8>, Result<(), BlockError>)> + Send + 'static {
        let driver = self.driver;
        let checked = check(driver.info(), op, offset, buf.len());
        async move {
            let sector = match checked {
                Ok(sector) => sector,
                Err(e) => return (buf, Err(e)),
            };
            if buf.is_empty() {
                return (buf, Ok(()));
            }
            let request = Request {
                op,
                sector,
                buffer: Buffer::Owned(buf),
            };
            let (result, buffer) = RequestFuture::new(driver, request).await;
            match buffer {
                Buffer::Owned(buf) => (buf, result),
                _ => unreachable!("an owned buffer comes back owned"),
            }
        }
    }

    /// Sends `len` bytes at `ptr` as requests of at most [`MAX_REQUEST`], all in flight
    /// at once, and waits for all of them.
    fn transfer(&self, op: Op, sector: u64, ptr: *mut u8, len: usize) -> Result<(), BlockError> {
        let mut requests: Vec<RequestFuture> = split(sector, len, MAX_REQUEST)
            .map(|(sector, at, n)| {
                RequestFuture::new(
                    self.driver,
                    Request {
                        op,
                        sector,
                        // SAFETY (of the pointer arithmetic): `at + n <= len`.
                        buffer: Buffer::Borrowed {
                            ptr: ptr.wrapping_add(at),
                            len: n,
                        },
                    },
                )
            })
            .collect();
        let mut result = Ok(());
        let waker = crate::sched::task_waker(crate::sched::current());
        let mut cx = Context::from_waker(&waker);
        let mut pending = requests.len();
        while pending > 0 {
            for request in requests.iter_mut().filter(|r| !r.is_done()) {
                if let Poll::Ready((r, _)) = Pin::new(&mut *request).poll(&mut cx) {
                    pending -= 1;
                    if result.is_ok() {
                        result = r;
                    }
                }
            }
            if pending > 0 {
                crate::sched::block_current("disk I/O");
            }
        }
        result
    }
}

/// One request from submission to completion.
struct RequestFuture {
    driver: &'static dyn BlockDriver,
    state: State,
}

enum State {
    Unsubmitted(Request),
    Submitted(Ticket),
    Done,
}

impl RequestFuture {
    fn new(driver: &'static dyn BlockDriver, request: Request) -> Self {
        Self {
            driver,
            state: State::Unsubmitted(request),
        }
    }

    fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl Future for RequestFuture {
    type Output = (Result<(), BlockError>, Buffer);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let driver = self.driver;
        if let State::Unsubmitted(_) = self.state {
            let State::Unsubmitted(request) = core::mem::replace(&mut self.state, State::Done)
            else {
                unreachable!()
            };
            // SAFETY: borrowed buffers come only from `Disk::transfer`, which polls every
            // request until `Ready` before it returns, keeping the caller's buffer borrowed.
            match unsafe { driver.submit(request, cx) } {
                Ok(ticket) => self.state = State::Submitted(ticket),
                Err(request) => {
                    self.state = State::Unsubmitted(request);
                    return Poll::Pending;
                }
            }
        }
        match self.state {
            State::Submitted(ticket) => match driver.poll(ticket, cx) {
                Poll::Ready(out) => {
                    self.state = State::Done;
                    Poll::Ready(out)
                }
                Poll::Pending => Poll::Pending,
            },
            _ => panic!("a finished block request was polled again"),
        }
    }
}

impl Drop for RequestFuture {
    fn drop(&mut self) {
        if let State::Submitted(ticket) = self.state {
            self.driver.abandon(ticket);
        }
    }
}

/// Names disks in the order the drivers found them: vda, vdb, ..., vdz, vdaa, ...
pub(crate) fn disk_name(index: usize) -> String {
    let mut name = String::from("vd");
    let mut suffix = Vec::new();
    let mut n = index;
    loop {
        suffix.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    suffix.reverse();
    name.push_str(core::str::from_utf8(&suffix).expect("ascii"));
    name
}
