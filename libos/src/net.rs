//! TCP and UDP, shaped like `std::net`: [`TcpListener`], [`TcpStream`], [`UdpSocket`].
//!
//! The machine's first virtio-net device carries one IPv4 interface, configured by DHCP
//! (QEMU's user networking serves it) or by the kernel options `ip=ADDR/PREFIX gw=ADDR`.
//! The stack starts on first use. Calls block the calling thread until they can proceed
//! (other threads run); the `*_async` forms are futures for `libos::task::block_on` or
//! `libos::task::spawn`.
//!
//! ```ignore
//! let listener = TcpListener::bind("0.0.0.0:8080")?;
//! for stream in listener.incoming() {
//!     let mut stream = stream?;
//!     thread::spawn(move || { let _ = stream.write_all(b"hello\n"); });
//! }
//! ```
//!
//! smoltcp has no accept queue: a listener keeps `backlog` sockets listening
//! ([`SocketOptions`]) and replaces each as it is accepted; a connection that finds none
//! free is reset. Socket buffers are small by default (8 KiB each way), so a thousand
//! connections fit in the default guest memory; ask for larger ones (above 64 KiB turns on
//! TCP window scaling) with [`TcpListener::bind_with`] and [`TcpStream::connect_with`].

use crate::io::{self, Error, ErrorKind, Read, Write};
use alloc::format;
use alloc::string::String;
use core::future::poll_fn;
use core::time::Duration;
use kernel::net::{self as knet, NetError};

pub use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
pub use kernel::net::{NetStats, SocketOptions};

fn io_error(e: NetError) -> Error {
    let kind = match e {
        NetError::NoDevice => ErrorKind::NotFound,
        NetError::NoAddress => ErrorKind::AddrNotAvailable,
        NetError::AddrInUse(_) => ErrorKind::AddrInUse,
        NetError::ConnectionRefused => ErrorKind::ConnectionRefused,
        NetError::ConnectionReset => ErrorKind::ConnectionReset,
        NetError::NotConnected => ErrorKind::NotConnected,
        NetError::TimedOut => ErrorKind::TimedOut,
        NetError::InvalidInput(_) | NetError::MessageTooLarge => ErrorKind::InvalidInput,
        NetError::OutOfMemory => ErrorKind::OutOfMemory,
    };
    Error::new(kind, e)
}

/// What can name a socket address: a `SocketAddr`, `(Ipv4Addr, port)`, or text like
/// `"10.0.2.15:8080"` (numeric only: there is no DNS).
pub trait ToSocketAddrs {
    fn to_socket_addr(&self) -> io::Result<SocketAddr>;
}

impl ToSocketAddrs for SocketAddr {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok(*self)
    }
}

impl ToSocketAddrs for SocketAddrV4 {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V4(*self))
    }
}

impl ToSocketAddrs for (Ipv4Addr, u16) {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V4(SocketAddrV4::new(self.0, self.1)))
    }
}

impl ToSocketAddrs for str {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        self.parse().map_err(|_| {
            Error::new(
                ErrorKind::InvalidInput,
                format!("'{self}' is not an address like 10.0.2.15:8080 (there is no DNS)"),
            )
        })
    }
}

impl ToSocketAddrs for String {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        self.as_str().to_socket_addr()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_socket_addr(&self) -> io::Result<SocketAddr> {
        (**self).to_socket_addr()
    }
}

/// Which halves of a connection [`TcpStream::shutdown`] closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shutdown {
    Read,
    Write,
    Both,
}

/// The interface's address and prefix length, once it has one.
pub fn address() -> io::Result<Option<(Ipv4Addr, u8)>> {
    knet::address()
        .map(|a| a.map(|c| (c.addr, c.prefix)))
        .map_err(io_error)
}

/// Waits (up to `timeout`) until the interface has an address.
pub fn wait_for_address(timeout: Option<Duration>) -> io::Result<(Ipv4Addr, u8)> {
    match crate::task::block_on_timeout(poll_fn(knet::poll_address), timeout) {
        Some(Ok(c)) => Ok((c.addr, c.prefix)),
        Some(Err(e)) => Err(io_error(e)),
        None => Err(Error::new(
            ErrorKind::TimedOut,
            "no network address (DHCP did not answer)",
        )),
    }
}

/// Packet, byte and socket counters of the stack.
pub fn stats() -> NetStats {
    knet::stats()
}

fn timed_out(what: &str) -> Error {
    Error::new(ErrorKind::TimedOut, format!("{what} timed out"))
}

fn check_timeout(timeout: Option<Duration>) -> io::Result<()> {
    if timeout == Some(Duration::ZERO) {
        return Err(Error::new(ErrorKind::InvalidInput, "a timeout of zero"));
    }
    Ok(())
}

/// A TCP port listening for connections.
#[derive(Debug)]
pub struct TcpListener {
    inner: knet::TcpListener,
}

impl TcpListener {
    /// Listens on `addr` (use `0.0.0.0:PORT`) with the default [`SocketOptions`].
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::bind_with(addr, SocketOptions::default())
    }

    /// Listens with the given backlog and buffer sizes.
    pub fn bind_with(addr: impl ToSocketAddrs, options: SocketOptions) -> io::Result<Self> {
        let addr = addr.to_socket_addr()?;
        let inner = knet::TcpListener::bind(addr, options).map_err(io_error)?;
        Ok(Self { inner })
    }

    /// `0.0.0.0:PORT`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::UNSPECIFIED,
            self.inner.port(),
        )))
    }

    /// Waits for a connection.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        crate::task::block_on(self.accept_async())
    }

    /// Async [`accept`](Self::accept).
    pub async fn accept_async(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let inner = poll_fn(|cx| self.inner.poll_accept(cx))
            .await
            .map_err(io_error)?;
        let peer = inner.peer_addr().map_err(io_error)?;
        Ok((TcpStream::from_kernel(inner), peer))
    }

    /// Connections as they come, forever.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }
}

/// Iterator of [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection.
#[derive(Debug)]
pub struct TcpStream {
    inner: knet::TcpStream,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    read_closed: bool,
}

impl TcpStream {
    fn from_kernel(inner: knet::TcpStream) -> Self {
        Self {
            inner,
            read_timeout: None,
            write_timeout: None,
            read_closed: false,
        }
    }

    /// Connects to `addr` (waits for an address first if DHCP has not answered yet).
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<Self> {
        Self::connect_with(addr, SocketOptions::default(), None)
    }

    /// Connects, giving up after `timeout`.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<Self> {
        check_timeout(Some(timeout))?;
        Self::connect_with(addr, SocketOptions::default(), Some(timeout))
    }

    /// Connects with the given buffer sizes (the backlog is not used).
    pub fn connect_with(
        addr: impl ToSocketAddrs,
        options: SocketOptions,
        timeout: Option<Duration>,
    ) -> io::Result<Self> {
        let addr = addr.to_socket_addr()?;
        if knet::address().map_err(io_error)?.is_none() {
            wait_for_address(timeout)?;
        }
        let mut inner = knet::TcpStream::connect(addr, options).map_err(io_error)?;
        match crate::task::block_on_timeout(poll_fn(|cx| inner.poll_connected(cx)), timeout) {
            Some(Ok(())) => Ok(Self::from_kernel(inner)),
            Some(Err(e)) => Err(io_error(e)),
            None => {
                inner.abort();
                Err(timed_out("connect"))
            }
        }
    }

    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr().map_err(io_error)
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr().map_err(io_error)
    }

    /// `Write`: no more data will be sent (the peer reads the end of the stream); `Read`:
    /// reads return the end of the stream; `Both`: both.
    pub fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        if how != Shutdown::Write {
            self.read_closed = true;
        }
        if how != Shutdown::Read {
            self.inner.shutdown_write();
        }
        Ok(())
    }

    /// Turns Nagle's algorithm off (`true`, the default here) or on.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay);
        Ok(())
    }

    pub fn nodelay(&self) -> io::Result<bool> {
        Ok(self.inner.nodelay())
    }

    /// A read that waits longer fails with `TimedOut` (`None`: wait forever; zero is
    /// `InvalidInput`, as in `std`).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        self.read_timeout = timeout;
        Ok(())
    }

    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        self.write_timeout = timeout;
        Ok(())
    }

    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.read_timeout)
    }

    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.write_timeout)
    }

    /// Async read: what has arrived (at least a byte), 0 at the end of the stream.
    pub async fn read_async(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read_closed {
            return Ok(0);
        }
        let inner = &mut self.inner;
        poll_fn(|cx| inner.poll_read(cx, buf))
            .await
            .map_err(io_error)
    }

    /// Async write: queues some of `buf` (at least a byte).
    pub async fn write_async(&mut self, buf: &[u8]) -> io::Result<usize> {
        let inner = &mut self.inner;
        poll_fn(|cx| inner.poll_write(cx, buf))
            .await
            .map_err(io_error)
    }

    /// Async write of all of `buf`.
    pub async fn write_all_async(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let n = self.write_async(buf).await?;
            buf = &buf[n..];
        }
        Ok(())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.read_closed {
            return Ok(0);
        }
        let timeout = self.read_timeout;
        let inner = &mut self.inner;
        match crate::task::block_on_timeout(poll_fn(|cx| inner.poll_read(cx, buf)), timeout) {
            Some(result) => result.map_err(io_error),
            None => Err(timed_out("read")),
        }
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let timeout = self.write_timeout;
        let inner = &mut self.inner;
        match crate::task::block_on_timeout(poll_fn(|cx| inner.poll_write(cx, buf)), timeout) {
            Some(result) => result.map_err(io_error),
            None => Err(timed_out("write")),
        }
    }

    /// Waits until the peer acknowledged everything written.
    fn flush(&mut self) -> io::Result<()> {
        let timeout = self.write_timeout;
        let inner = &mut self.inner;
        match crate::task::block_on_timeout(poll_fn(|cx| inner.poll_flush(cx)), timeout) {
            Some(result) => result.map_err(io_error),
            None => Err(timed_out("flush")),
        }
    }
}

/// A UDP socket.
#[derive(Debug)]
pub struct UdpSocket {
    inner: knet::UdpSocket,
    read_timeout: Option<Duration>,
}

impl UdpSocket {
    /// Binds `addr`'s port (`0.0.0.0:0` for an ephemeral one), with 16 KiB of buffers each
    /// way.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let addr = addr.to_socket_addr()?;
        let inner = knet::UdpSocket::bind(addr, 16 * 1024).map_err(io_error)?;
        Ok(Self {
            inner,
            read_timeout: None,
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::UNSPECIFIED,
            self.inner.port(),
        )))
    }

    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        check_timeout(timeout)?;
        self.read_timeout = timeout;
        Ok(())
    }

    /// Sends one datagram.
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let to = addr.to_socket_addr()?;
        crate::task::block_on(poll_fn(|cx| self.inner.poll_send_to(cx, buf, to))).map_err(io_error)
    }

    /// Receives one datagram (truncated to `buf`) and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match crate::task::block_on_timeout(
            poll_fn(|cx| self.inner.poll_recv_from(cx, buf)),
            self.read_timeout,
        ) {
            Some(result) => result.map_err(io_error),
            None => Err(timed_out("recv_from")),
        }
    }

    /// Async [`recv_from`](Self::recv_from).
    pub async fn recv_from_async(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        poll_fn(|cx| self.inner.poll_recv_from(cx, buf))
            .await
            .map_err(io_error)
    }

    /// Async [`send_to`](Self::send_to).
    pub async fn send_to_async(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        poll_fn(|cx| self.inner.poll_send_to(cx, buf, to))
            .await
            .map_err(io_error)
    }
}
