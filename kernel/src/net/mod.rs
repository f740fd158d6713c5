//! The network: one smoltcp `Interface` on the first virtio-net device, driven by one
//! I/O-class task (`net`), and the sockets apps use through `libos::net`.
//!
//! - [`config`]: `ip=`, `gw=`, `mac=` from the command line (host-tested); without `ip=`
//!   the stack asks DHCPv4 and logs the address it gets.
//! - [`retransmit`]: counts TCP retransmissions in the frames sent (host-tested).
//! - `stack` (kernel only): the task and the sockets. The task polls the interface when
//!   the NIC interrupts, when a socket call has something to send, and at smoltcp's
//!   next deadline (`poll_delay`); socket wakers are called from its poll, never from
//!   interrupt context.
//!
//! Errors are [`NetError`]s; `libos::net` turns them into `io::Error`s with `std`'s kinds.

pub mod config;
pub mod retransmit;

#[cfg(target_os = "none")]
mod stack;
#[cfg(target_os = "none")]
pub use stack::*;

use core::fmt;

/// Why a network operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    /// The machine has no network device.
    NoDevice,
    /// No address yet (DHCP has not answered) for an operation that needs one.
    NoAddress,
    /// The local port is taken.
    AddrInUse(u16),
    /// The peer refused the connection (reset during the handshake).
    ConnectionRefused,
    /// The peer reset the connection.
    ConnectionReset,
    /// The connection is not (or no longer) established.
    NotConnected,
    /// The operation did not finish before its timeout.
    TimedOut,
    /// Port 0, an unspecified or otherwise unusable address.
    InvalidInput(&'static str),
    /// A datagram larger than the socket's buffer.
    MessageTooLarge,
    /// No socket buffers could be allocated.
    OutOfMemory,
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoDevice => f.write_str(
                "no network device (start the machine with one: scripts/qemu-run.sh --net user:PORT)",
            ),
            Self::NoAddress => f.write_str("the network has no address yet"),
            Self::AddrInUse(port) => write!(f, "port {port} is already in use"),
            Self::ConnectionRefused => f.write_str("connection refused"),
            Self::ConnectionReset => f.write_str("connection reset by peer"),
            Self::NotConnected => f.write_str("not connected"),
            Self::TimedOut => f.write_str("timed out"),
            Self::InvalidInput(what) => f.write_str(what),
            Self::MessageTooLarge => f.write_str("datagram larger than the socket's buffer"),
            Self::OutOfMemory => f.write_str("no memory for socket buffers"),
        }
    }
}
