//! The network task and the sockets (see the module docs in `net/mod.rs`).

use super::NetError;
use super::config::Ipv4Cidr;
use crate::drivers::virtio::net::VirtioNet;
use crate::sched::{self, IoPending, TaskId};
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Context, Poll, Waker};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::{dhcpv4, tcp, udp};
use smoltcp::time::{Duration as SmolDuration, Instant};
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint, Ipv4Address,
    Ipv4Cidr as SmolCidr,
};

/// What the kernel command line asked for.
#[derive(Clone, Copy, Debug, Default)]
pub struct NetOptions {
    pub ip: Option<Ipv4Cidr>,
    pub gw: Option<Ipv4Addr>,
    pub mac: Option<[u8; 6]>,
}

static OPTIONS: spin::Once<NetOptions> = spin::Once::new();

/// Records the command line's network options (at boot).
pub(crate) fn configure(options: NetOptions) {
    OPTIONS.call_once(|| options);
}

/// Socket buffer sizes and a listener's backlog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketOptions {
    pub rx_buffer: usize,
    pub tx_buffer: usize,
    /// Connections that may wait for `accept` on a listener.
    pub backlog: usize,
}

impl Default for SocketOptions {
    /// Small buffers, so that a thousand connections fit in the default guest memory.
    fn default() -> Self {
        Self {
            rx_buffer: 8 * 1024,
            tx_buffer: 8 * 1024,
            backlog: 128,
        }
    }
}

/// Counters of the stack and its NIC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_dropped: u64,
    pub tx_ring_full: u64,
    pub tcp_retransmissions: u64,
    pub interrupts: u64,
    /// Connections accepted and made.
    pub accepted: u64,
    /// Times a listener's accept queue was full (a SYN arriving then is reset).
    pub backlog_full: u64,
    pub connected: u64,
    /// TCP sockets open now, by state: listening, established, closing (any state after
    /// a close on either side).
    pub listening: u64,
    pub established: u64,
    pub closing: u64,
}

static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static CONNECTED: AtomicU64 = AtomicU64::new(0);

struct Stack {
    iface: Interface,
    sockets: SocketSet<'static>,
    nic: VirtioNet,
    dhcp: Option<SocketHandle>,
    address: Option<Ipv4Cidr>,
    /// Tasks waiting for an address.
    address_waiters: Vec<Waker>,
    /// Sockets the app dropped, closing; removed once closed.
    orphans: Vec<SocketHandle>,
    /// Ports bound by listeners and UDP sockets.
    bound: BTreeSet<(bool, u16)>,
    /// Listening TCP ports by port.
    listeners: BTreeMap<u16, Listener>,
    next_ephemeral: u16,
    /// Sockets of the app exist: the CPU waits for the NIC instead of calling a task
    /// blocked on one deadlocked.
    pending: Option<IoPending>,
    task: TaskId,
}

static STACK: spin::Mutex<Option<Stack>> = spin::Mutex::new(None);
static STARTED: spin::Once<Result<(), NetError>> = spin::Once::new();

fn now() -> Instant {
    Instant::from_micros((crate::time::since_boot_ns() / 1000) as i64)
}

/// Starts the stack on first use: claims the NIC, configures the interface, starts the
/// network task.
fn ensure() -> Result<(), NetError> {
    *STARTED.call_once(start)
}

fn start() -> Result<(), NetError> {
    let found = crate::drivers::network_device().ok_or(NetError::NoDevice)?;
    let mut nic = VirtioNet::start(found).map_err(|e| {
        log::error!("{}", e.0);
        NetError::NoDevice
    })?;
    let options = OPTIONS.get().copied().unwrap_or_default();
    let mac = options.mac.unwrap_or(nic.mac());
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    config.random_seed = crate::arch::rdtsc();
    let mut iface = Interface::new(config, &mut nic, now());
    let mut sockets = SocketSet::new(Vec::new());
    let mut dhcp = None;
    let mut address = None;
    match options.ip {
        Some(cidr) => {
            iface.update_ip_addrs(|addrs| {
                let _ = addrs.push(IpCidr::Ipv4(SmolCidr::new(cidr.addr, cidr.prefix)));
            });
            if let Some(gw) = options.gw {
                let _ = iface.routes_mut().add_default_ipv4_route(gw);
            }
            address = Some(cidr);
            // Told once, whatever the log level: the address a user connects to.
            crate::console::write_fmt(format_args!(
                "net: address {}/{} (static){}\n",
                cidr.addr,
                cidr.prefix,
                options
                    .gw
                    .map(|g| alloc::format!(", gateway {g}"))
                    .unwrap_or_default()
            ));
        }
        None => {
            dhcp = Some(sockets.add(dhcpv4::Socket::new()));
            log::info!("net: asking DHCP for an address");
        }
    }
    let task = sched::spawn("net", Some(32 * 1024), sched::Class::Io, Box::new(run))
        .map_err(|_| NetError::OutOfMemory)?;
    nic.enable(task);
    *STACK.lock() = Some(Stack {
        iface,
        sockets,
        nic,
        dhcp,
        address,
        address_waiters: Vec::new(),
        orphans: Vec::new(),
        bound: BTreeSet::new(),
        listeners: BTreeMap::new(),
        next_ephemeral: 49152 + (crate::arch::rdtsc() % 16384) as u16,
        pending: None,
        task,
    });
    Ok(())
}

/// The network task: poll whenever something happened, sleep until smoltcp's next
/// deadline otherwise.
fn run() {
    loop {
        let (deadline, again) = {
            let mut guard = STACK.lock();
            let Some(stack) = guard.as_mut() else {
                drop(guard);
                sched::block_current("network (not started)");
                continue;
            };
            stack.nic.acknowledge();
            let now = now();
            stack.poll(now);
            stack.dhcp_events();
            stack.reap_orphans();
            let again = stack.nic.after_poll();
            let delay = stack.iface.poll_delay(now, &stack.sockets);
            let deadline = delay.map(|d| crate::time::since_boot_ns() + d.total_micros() * 1000);
            (deadline, again)
        };
        if again {
            sched::yield_now();
            continue;
        }
        match deadline {
            Some(deadline) => sched::block_current_until("network", deadline),
            None => sched::block_current("network"),
        }
    }
}

/// A listening port: smoltcp has no accept queue, so the stack keeps one. A listening
/// socket takes the first SYN that comes; after every received packet each listener gets a
/// fresh listening socket again while fewer than `backlog` established connections wait
/// for `accept` and fewer than [`MAX_HALF_OPEN`] handshakes are in progress. A SYN that
/// finds none (the queue is full) is reset by smoltcp, and counted.
struct Listener {
    options: SocketOptions,
    /// The listening socket(s), then connections waiting for `accept`, in arrival order.
    sockets: Vec<SocketHandle>,
    acceptor: Option<Waker>,
    /// Times the queue was full, so that a SYN arriving then would be reset.
    full: u64,
}

static BACKLOG_FULL: AtomicU64 = AtomicU64::new(0);

/// Handshakes in progress a listener takes at once (like Linux's SYN queue, apart from
/// the accept queue that `backlog` bounds): a burst of connections is not reset while
/// the server accepts as fast as they complete.
const MAX_HALF_OPEN: usize = 1024;

impl Stack {
    /// Takes received frames one at a time (keeping a listening socket on every listener
    /// in between), then sends what the sockets queued.
    fn poll(&mut self, now: Instant) {
        self.iface.poll_maintenance(now);
        loop {
            let result = self
                .iface
                .poll_ingress_single(now, &mut self.nic, &mut self.sockets);
            if result == smoltcp::iface::PollIngressSingleResult::None {
                break;
            }
            self.replenish_listeners();
        }
        self.iface
            .poll_egress(now, &mut self.nic, &mut self.sockets);
        self.replenish_listeners();
    }

    fn replenish_listeners(&mut self) {
        let Self {
            listeners, sockets, ..
        } = self;
        for (&port, listener) in listeners.iter_mut() {
            let mut listening = 0;
            let mut waiting = 0;
            let mut half_open = 0;
            for &handle in &listener.sockets {
                let socket = sockets.get_mut::<tcp::Socket>(handle);
                match socket.state() {
                    tcp::State::Listen => listening += 1,
                    tcp::State::SynReceived => half_open += 1,
                    // Reset during the handshake: listen again.
                    tcp::State::Closed => {
                        if socket.listen(IpListenEndpoint::from(port)).is_ok() {
                            listening += 1;
                        }
                    }
                    _ => waiting += 1,
                }
            }
            if waiting > 0
                && let Some(waker) = listener.acceptor.take()
            {
                waker.wake();
            }
            if listening > 0 {
                continue;
            }
            if waiting >= listener.options.backlog.max(1) || half_open >= MAX_HALF_OPEN {
                listener.full += 1;
                BACKLOG_FULL.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            match new_tcp(listener.options).and_then(|mut socket| {
                socket
                    .listen(IpListenEndpoint::from(port))
                    .map_err(|_| NetError::InvalidInput("cannot listen"))?;
                Ok(socket)
            }) {
                Ok(socket) => listener.sockets.push(sockets.add(socket)),
                Err(e) => log::warn!("net: port {port}: no listening socket: {e}"),
            }
        }
    }

    fn dhcp_events(&mut self) {
        let Some(handle) = self.dhcp else { return };
        let event = self.sockets.get_mut::<dhcpv4::Socket>(handle).poll();
        match event {
            None => {}
            Some(dhcpv4::Event::Configured(config)) => {
                let cidr = config.address;
                self.iface.update_ip_addrs(|addrs| {
                    addrs.clear();
                    let _ = addrs.push(IpCidr::Ipv4(cidr));
                });
                if let Some(router) = config.router {
                    let _ = self.iface.routes_mut().add_default_ipv4_route(router);
                } else {
                    self.iface.routes_mut().remove_default_ipv4_route();
                }
                self.address = Some(Ipv4Cidr {
                    addr: cidr.address(),
                    prefix: cidr.prefix_len(),
                });
                log::info!(
                    "net: DHCP lease {}{}",
                    cidr,
                    config
                        .router
                        .map(|r| alloc::format!(", gateway {r}"))
                        .unwrap_or_default()
                );
                // Told once, whatever the log level: the address a user connects to.
                crate::console::write_fmt(format_args!("net: address {cidr} (DHCP)\n"));
                for waker in self.address_waiters.drain(..) {
                    waker.wake();
                }
            }
            Some(dhcpv4::Event::Deconfigured) => {
                self.iface.update_ip_addrs(|addrs| addrs.clear());
                self.iface.routes_mut().remove_default_ipv4_route();
                // smoltcp reports this once at start too, with no lease yet.
                if self.address.take().is_some() {
                    log::warn!("net: DHCP lease lost");
                }
            }
        }
    }

    /// Forgets closed sockets the app dropped. A socket in TIME-WAIT is dropped at once:
    /// holding its port for two segment lifetimes would only let connection churn exhaust
    /// memory.
    fn reap_orphans(&mut self) {
        let sockets = &mut self.sockets;
        let before = self.orphans.len();
        self.orphans.retain(|&handle| {
            let state = sockets.get::<tcp::Socket>(handle).state();
            let gone = matches!(state, tcp::State::Closed | tcp::State::TimeWait);
            if gone {
                sockets.remove(handle);
            }
            !gone
        });
        // Counting the sockets walks them all: only when some went.
        if self.orphans.len() != before {
            self.update_pending();
        }
    }

    fn update_pending(&mut self) {
        let app_sockets = self.sockets.iter().count() - usize::from(self.dhcp.is_some());
        match (app_sockets > 0, self.pending.is_some()) {
            (true, false) => self.pending = Some(IoPending::new()),
            (false, true) => self.pending = None,
            _ => {}
        }
    }

    fn ephemeral_port(&mut self) -> u16 {
        let port = self.next_ephemeral;
        self.next_ephemeral = if port >= 65534 { 49152 } else { port + 1 };
        port
    }

    /// Wakes the network task to send what a socket call queued.
    fn kick(&self) {
        sched::wake(self.task);
    }
}

fn new_tcp(options: SocketOptions) -> Result<tcp::Socket<'static>, NetError> {
    let rx = try_buffer(options.rx_buffer)?;
    let tx = try_buffer(options.tx_buffer)?;
    let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(rx), tcp::SocketBuffer::new(tx));
    socket.set_nagle_enabled(false);
    socket.set_ack_delay(Some(SmolDuration::from_millis(1)));
    Ok(socket)
}

fn try_buffer(size: usize) -> Result<Vec<u8>, NetError> {
    let mut buffer = Vec::new();
    buffer
        .try_reserve_exact(size)
        .map_err(|_| NetError::OutOfMemory)?;
    buffer.resize(size, 0);
    Ok(buffer)
}

/// Runs `f` on the started stack.
fn with_stack<R>(f: impl FnOnce(&mut Stack) -> R) -> Result<R, NetError> {
    ensure()?;
    let mut guard = STACK.lock();
    let stack = guard.as_mut().ok_or(NetError::NoDevice)?;
    Ok(f(stack))
}

/// The interface's address, if it has one yet.
pub fn address() -> Result<Option<Ipv4Cidr>, NetError> {
    with_stack(|s| s.address)
}

/// Waits until the interface has an address (DHCP answered); `Ready` at once with a
/// static one.
pub fn poll_address(cx: &mut Context<'_>) -> Poll<Result<Ipv4Cidr, NetError>> {
    match with_stack(|s| match s.address {
        Some(a) => Some(a),
        None => {
            s.address_waiters.push(cx.waker().clone());
            None
        }
    }) {
        Ok(Some(a)) => Poll::Ready(Ok(a)),
        Ok(None) => Poll::Pending,
        Err(e) => Poll::Ready(Err(e)),
    }
}

/// The stack's counters (zero before the network is used).
pub fn stats() -> NetStats {
    let mut stats = NetStats {
        accepted: ACCEPTED.load(Ordering::Relaxed),
        backlog_full: BACKLOG_FULL.load(Ordering::Relaxed),
        connected: CONNECTED.load(Ordering::Relaxed),
        ..NetStats::default()
    };
    if STARTED.get().is_none() {
        return stats;
    }
    let guard = STACK.lock();
    let Some(stack) = guard.as_ref() else {
        return stats;
    };
    let c = stack.nic.counters;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    stats.rx_packets = get(&c.rx_packets);
    stats.rx_bytes = get(&c.rx_bytes);
    stats.tx_packets = get(&c.tx_packets);
    stats.tx_bytes = get(&c.tx_bytes);
    stats.rx_dropped = get(&c.rx_dropped);
    stats.tx_ring_full = get(&c.tx_ring_full);
    stats.tcp_retransmissions = get(&c.tcp_retransmissions);
    stats.interrupts = get(&c.interrupts);
    for (_, socket) in stack.sockets.iter() {
        if let smoltcp::socket::Socket::Tcp(tcp) = socket {
            match tcp.state() {
                tcp::State::Listen => stats.listening += 1,
                tcp::State::Established => stats.established += 1,
                tcp::State::Closed | tcp::State::SynSent | tcp::State::SynReceived => {}
                _ => stats.closing += 1,
            }
        }
    }
    stats
}

/// Logs the counters (at exit, `log=info`), if the network was used.
pub fn log_stats() {
    if STARTED.get().is_none() {
        return;
    }
    let s = stats();
    log::info!(
        "net: rx {} packets ({} bytes), tx {} packets ({} bytes), {} dropped, transmit ring full {} times, {} TCP retransmissions, {} interrupts; {} accepted ({} times the accept queue was full), {} connected; tcp sockets: {} listening, {} established, {} closing",
        s.rx_packets,
        s.rx_bytes,
        s.tx_packets,
        s.tx_bytes,
        s.rx_dropped,
        s.tx_ring_full,
        s.tcp_retransmissions,
        s.interrupts,
        s.accepted,
        s.backlog_full,
        s.connected,
        s.listening,
        s.established,
        s.closing
    );
}

fn local_v4(addr: SocketAddr) -> Result<SocketAddrV4, NetError> {
    match addr {
        SocketAddr::V4(v4) => Ok(v4),
        SocketAddr::V6(_) => Err(NetError::InvalidInput("IPv6 is not supported")),
    }
}

fn endpoint_addr(endpoint: IpEndpoint) -> SocketAddr {
    let IpAddress::Ipv4(ip) = endpoint.addr;
    SocketAddr::V4(SocketAddrV4::new(ip, endpoint.port))
}

/// A listening TCP port (see `Listener` for its accept queue).
#[derive(Debug)]
pub struct TcpListener {
    port: u16,
}

impl TcpListener {
    /// Listens on `addr`'s port (any local address). `options.backlog` connections may
    /// wait for `accept`; each gets `options`' buffers.
    pub fn bind(addr: SocketAddr, options: SocketOptions) -> Result<Self, NetError> {
        let addr = local_v4(addr)?;
        let port = addr.port();
        if port == 0 {
            return Err(NetError::InvalidInput("listening needs a port"));
        }
        with_stack(|s| {
            if !s.bound.insert((true, port)) {
                return Err(NetError::AddrInUse(port));
            }
            let mut socket = match new_tcp(options) {
                Ok(socket) => socket,
                Err(e) => {
                    s.bound.remove(&(true, port));
                    return Err(e);
                }
            };
            socket
                .listen(IpListenEndpoint::from(port))
                .map_err(|_| NetError::InvalidInput("cannot listen"))?;
            let handle = s.sockets.add(socket);
            s.listeners.insert(
                port,
                Listener {
                    options,
                    sockets: vec![handle],
                    acceptor: None,
                    full: 0,
                },
            );
            s.update_pending();
            Ok(Self { port })
        })?
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The oldest connection that completed its handshake; `Pending` (with `cx`'s waker
    /// kept) until there is one.
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<Result<TcpStream, NetError>> {
        let port = self.port;
        let result = with_stack(|s| {
            let Stack {
                listeners, sockets, ..
            } = s;
            let listener = listeners
                .get_mut(&port)
                .expect("a bound listener is registered");
            let ready = listener.sockets.iter().position(|&h| {
                !matches!(
                    sockets.get::<tcp::Socket>(h).state(),
                    tcp::State::Listen | tcp::State::SynReceived | tcp::State::Closed
                )
            });
            match ready {
                Some(at) => {
                    let handle = listener.sockets.remove(at);
                    ACCEPTED.fetch_add(1, Ordering::Relaxed);
                    // Room in the queue again: listen again if the queue was full.
                    s.replenish_listeners();
                    s.kick();
                    Some(TcpStream::new(handle))
                }
                None => {
                    listener.acceptor = Some(cx.waker().clone());
                    None
                }
            }
        });
        match result {
            Ok(Some(stream)) => Poll::Ready(Ok(stream)),
            Ok(None) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl Drop for TcpListener {
    /// Resets connections not accepted yet.
    fn drop(&mut self) {
        let port = self.port;
        let _ = with_stack(|s| {
            if let Some(listener) = s.listeners.remove(&port) {
                for handle in listener.sockets {
                    s.sockets.get_mut::<tcp::Socket>(handle).abort();
                    s.orphans.push(handle);
                }
            }
            s.bound.remove(&(true, port));
            s.kick();
        });
    }
}

/// One TCP connection.
#[derive(Debug)]
pub struct TcpStream {
    handle: SocketHandle,
    /// The peer closed its side in an orderly way (FIN) at some point.
    peer_closed: bool,
}

impl TcpStream {
    fn new(handle: SocketHandle) -> Self {
        Self {
            handle,
            peer_closed: false,
        }
    }

    /// Starts connecting to `remote`; finish with [`Self::poll_connected`].
    pub fn connect(remote: SocketAddr, options: SocketOptions) -> Result<Self, NetError> {
        let remote = local_v4(remote)?;
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(NetError::InvalidInput(
                "connecting needs an address and a port",
            ));
        }
        with_stack(|s| {
            let mut socket = new_tcp(options)?;
            let local = s.ephemeral_port();
            let cx = s.iface.context();
            socket
                .connect(cx, (IpAddress::Ipv4(*remote.ip()), remote.port()), local)
                .map_err(|e| match e {
                    tcp::ConnectError::Unaddressable => NetError::NoAddress,
                    tcp::ConnectError::InvalidState => NetError::InvalidInput("cannot connect"),
                })?;
            let handle = s.sockets.add(socket);
            s.update_pending();
            s.kick();
            Ok(Self::new(handle))
        })?
    }

    /// `Ready(Ok)` once the handshake completed; `ConnectionRefused` if the peer reset it.
    pub fn poll_connected(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), NetError>> {
        let handle = self.handle;
        match with_stack(|s| {
            let socket = s.sockets.get_mut::<tcp::Socket>(handle);
            match socket.state() {
                tcp::State::SynSent | tcp::State::SynReceived => {
                    socket.register_send_waker(cx.waker());
                    Poll::Pending
                }
                tcp::State::Closed => Poll::Ready(Err(NetError::ConnectionRefused)),
                _ => {
                    CONNECTED.fetch_add(1, Ordering::Relaxed);
                    Poll::Ready(Ok(()))
                }
            }
        }) {
            Ok(p) => p,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Reads what has arrived (at least one byte), `Ok(0)` at the end of the stream.
    pub fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, NetError>> {
        let handle = self.handle;
        let peer_closed = &mut self.peer_closed;
        match with_stack(|s| {
            let socket = s.sockets.get_mut::<tcp::Socket>(handle);
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            if socket.can_recv() {
                let n = socket.recv_slice(buf).unwrap_or(0);
                // The window opened: let the peer know soon.
                s.kick();
                return Poll::Ready(Ok(n));
            }
            let state = socket.state();
            if matches!(
                state,
                tcp::State::CloseWait
                    | tcp::State::LastAck
                    | tcp::State::Closing
                    | tcp::State::TimeWait
            ) {
                *peer_closed = true;
            }
            if socket.may_recv() {
                socket.register_recv_waker(cx.waker());
                return Poll::Pending;
            }
            if state == tcp::State::Closed && !*peer_closed {
                return Poll::Ready(Err(NetError::ConnectionReset));
            }
            Poll::Ready(Ok(0))
        }) {
            Ok(p) => p,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Queues as much of `buf` as fits (at least one byte).
    pub fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, NetError>> {
        let handle = self.handle;
        match with_stack(|s| {
            let socket = s.sockets.get_mut::<tcp::Socket>(handle);
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            if socket.can_send() {
                let n = socket.send_slice(buf).unwrap_or(0);
                s.kick();
                return Poll::Ready(Ok(n));
            }
            if socket.may_send() {
                socket.register_send_waker(cx.waker());
                return Poll::Pending;
            }
            Poll::Ready(Err(if socket.state() == tcp::State::Closed {
                NetError::ConnectionReset
            } else {
                NetError::NotConnected
            }))
        }) {
            Ok(p) => p,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// `Ready` once everything written has been acknowledged by the peer.
    pub fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), NetError>> {
        let handle = self.handle;
        match with_stack(|s| {
            let socket = s.sockets.get_mut::<tcp::Socket>(handle);
            if socket.send_queue() == 0 || !socket.may_send() {
                Poll::Ready(Ok(()))
            } else {
                socket.register_send_waker(cx.waker());
                Poll::Pending
            }
        }) {
            Ok(p) => p,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Sends FIN after what is queued (no more writes); the peer sees the end of the
    /// stream.
    pub fn shutdown_write(&self) {
        let handle = self.handle;
        let _ = with_stack(|s| {
            s.sockets.get_mut::<tcp::Socket>(handle).close();
            s.kick();
        });
    }

    /// Resets the connection.
    pub fn abort(&self) {
        let handle = self.handle;
        let _ = with_stack(|s| {
            s.sockets.get_mut::<tcp::Socket>(handle).abort();
            s.kick();
        });
    }

    pub fn set_nodelay(&self, nodelay: bool) {
        let handle = self.handle;
        let _ = with_stack(|s| {
            s.sockets
                .get_mut::<tcp::Socket>(handle)
                .set_nagle_enabled(!nodelay)
        });
    }

    pub fn nodelay(&self) -> bool {
        let handle = self.handle;
        with_stack(|s| !s.sockets.get::<tcp::Socket>(handle).nagle_enabled()).unwrap_or(true)
    }

    pub fn peer_addr(&self) -> Result<SocketAddr, NetError> {
        let handle = self.handle;
        with_stack(|s| s.sockets.get::<tcp::Socket>(handle).remote_endpoint())?
            .map(endpoint_addr)
            .ok_or(NetError::NotConnected)
    }

    pub fn local_addr(&self) -> Result<SocketAddr, NetError> {
        let handle = self.handle;
        with_stack(|s| s.sockets.get::<tcp::Socket>(handle).local_endpoint())?
            .map(endpoint_addr)
            .ok_or(NetError::NotConnected)
    }
}

impl Drop for TcpStream {
    /// Closes gracefully (what was written is still delivered); the stack forgets the
    /// socket once it is closed. A peer that never finishes its side is timed out.
    fn drop(&mut self) {
        let handle = self.handle;
        let _ = with_stack(|s| {
            let socket = s.sockets.get_mut::<tcp::Socket>(handle);
            socket.close();
            socket.set_timeout(Some(SmolDuration::from_secs(30)));
            s.orphans.push(handle);
            s.kick();
        });
    }
}

/// A UDP socket bound to a local port.
#[derive(Debug)]
pub struct UdpSocket {
    handle: SocketHandle,
    port: u16,
}

impl UdpSocket {
    /// Binds `addr`'s port (0: an ephemeral one).
    pub fn bind(addr: SocketAddr, buffer: usize) -> Result<Self, NetError> {
        let addr = local_v4(addr)?;
        with_stack(|s| {
            let port = if addr.port() == 0 {
                s.ephemeral_port()
            } else {
                addr.port()
            };
            if !s.bound.insert((false, port)) {
                return Err(NetError::AddrInUse(port));
            }
            let packets = 64;
            let rx = udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; packets],
                try_buffer(buffer)?,
            );
            let tx = udp::PacketBuffer::new(
                vec![udp::PacketMetadata::EMPTY; packets],
                try_buffer(buffer)?,
            );
            let mut socket = udp::Socket::new(rx, tx);
            socket
                .bind(port)
                .map_err(|_| NetError::InvalidInput("cannot bind"))?;
            let handle = s.sockets.add(socket);
            s.update_pending();
            Ok(Self { handle, port })
        })?
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Queues one datagram to `to`.
    pub fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        to: SocketAddr,
    ) -> Poll<Result<usize, NetError>> {
        let to = match local_v4(to) {
            Ok(to) => to,
            Err(e) => return Poll::Ready(Err(e)),
        };
        let handle = self.handle;
        match with_stack(|s| {
            let socket = s.sockets.get_mut::<udp::Socket>(handle);
            if buf.len() > socket.payload_send_capacity() {
                return Poll::Ready(Err(NetError::MessageTooLarge));
            }
            let endpoint = IpEndpoint::new(IpAddress::Ipv4(*to.ip()), to.port());
            match socket.send_slice(buf, endpoint) {
                Ok(()) => {
                    s.kick();
                    Poll::Ready(Ok(buf.len()))
                }
                Err(udp::SendError::BufferFull) => {
                    socket.register_send_waker(cx.waker());
                    Poll::Pending
                }
                Err(udp::SendError::Unaddressable) => {
                    Poll::Ready(Err(NetError::InvalidInput("cannot send to that address")))
                }
            }
        }) {
            Ok(p) => p,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// Takes one datagram: its length (truncated to `buf`) and sender.
    pub fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr), NetError>> {
        let handle = self.handle;
        match with_stack(|s| {
            let socket = s.sockets.get_mut::<udp::Socket>(handle);
            match socket.recv_slice(buf) {
                Ok((n, meta)) => Poll::Ready(Ok((n, endpoint_addr(meta.endpoint)))),
                Err(udp::RecvError::Truncated) => Poll::Ready(Ok((
                    buf.len(),
                    SocketAddr::V4(SocketAddrV4::new(Ipv4Address::UNSPECIFIED, 0)),
                ))),
                Err(udp::RecvError::Exhausted) => {
                    socket.register_recv_waker(cx.waker());
                    Poll::Pending
                }
            }
        }) {
            Ok(p) => p,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl Drop for UdpSocket {
    fn drop(&mut self) {
        let (handle, port) = (self.handle, self.port);
        let _ = with_stack(|s| {
            s.sockets.remove(handle);
            s.bound.remove(&(false, port));
            s.update_pending();
        });
    }
}
