//! `netcheck`: small network servers and clients for tests and benchmarks.
//!
//! ```text
//! netcheck tcp-echo PORT        echo every connection's bytes back (a thread each)
//! netcheck udp-echo PORT        echo every datagram back to its sender
//! netcheck sink PORT            read and count each connection's bytes, then report them
//! netcheck source PORT BYTES    send BYTES to each connection, then close
//!                               (both with 512 KiB socket buffers: window scaling on)
//! netcheck connect ADDR:PORT    connect, say how it went (ConnectionRefused, ...)
//! netcheck address              wait for the interface's address and print it
//! ```
//!
//! Servers run until the machine is stopped.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::time::Duration;
use libos::io::{Read, Write};
use libos::net::{SocketOptions, TcpListener, TcpStream, UdpSocket};
use libos::prelude::*;
use libos::{env, println, thread};

libos::main!(main);

const USAGE: &str = "usage: netcheck tcp-echo PORT | udp-echo PORT | sink PORT | source PORT BYTES | connect ADDR:PORT | address";

fn main() -> Result<(), String> {
    let args: Vec<String> = env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["tcp-echo", port] => serve(port, "tcp-echo", |mut stream| {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if stream.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                }
            }
        }),
        ["udp-echo", port] => {
            let socket = UdpSocket::bind(format!("0.0.0.0:{port}")).map_err(|e| e.to_string())?;
            println!("netcheck: udp-echo on port {port}");
            let mut buf = vec![0u8; 2048];
            loop {
                let (n, from) = socket.recv_from(&mut buf).map_err(|e| e.to_string())?;
                socket.send_to(&buf[..n], from).map_err(|e| e.to_string())?;
            }
        }
        ["sink", port] => serve_with(port, "sink", BULK, |mut stream| {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => total += n as u64,
                    Err(e) => {
                        println!("sink: {e}");
                        return;
                    }
                }
            }
            let _ = writeln_bytes(&mut stream, &format!("{total}\n"));
            println!("sink: received {total} bytes");
        }),
        ["source", port, bytes] => {
            let bytes: u64 = bytes
                .parse()
                .map_err(|_| format!("not a number: {bytes}"))?;
            serve_with(port, "source", BULK, move |mut stream| {
                let chunk = vec![0x5au8; 64 * 1024];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if stream.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                    left -= n as u64;
                }
            })
        }
        ["connect", addr] => {
            match TcpStream::connect_timeout(
                &addr
                    .parse()
                    .map_err(|_| format!("not an address: {addr}"))?,
                Duration::from_secs(10),
            ) {
                Ok(stream) => println!(
                    "connect: connected to {} from {}",
                    stream.peer_addr().map_err(|e| e.to_string())?,
                    stream.local_addr().map_err(|e| e.to_string())?
                ),
                Err(e) => println!("connect: {:?}: {e}", e.kind()),
            }
            Ok(())
        }
        ["address"] => {
            let (ip, prefix) = libos::net::wait_for_address(Some(Duration::from_secs(20)))
                .map_err(|e| e.to_string())?;
            println!("address: {ip}/{prefix}");
            Ok(())
        }
        _ => Err(String::from(USAGE)),
    }
}

fn writeln_bytes(stream: &mut TcpStream, text: &str) -> libos::io::Result<()> {
    stream.write_all(text.as_bytes())?;
    stream.flush()
}

/// Buffers for bulk transfers: large enough for TCP window scaling.
const BULK: SocketOptions = SocketOptions {
    rx_buffer: 512 * 1024,
    tx_buffer: 512 * 1024,
    backlog: 8,
};

/// Accepts connections forever, a thread each running `handle`.
fn serve(
    port: &str,
    name: &'static str,
    handle: impl Fn(TcpStream) + Send + Sync + Clone + 'static,
) -> Result<(), String> {
    serve_with(port, name, SocketOptions::default(), handle)
}

/// As [`serve`], with the listener's socket options.
fn serve_with(
    port: &str,
    name: &'static str,
    options: SocketOptions,
    handle: impl Fn(TcpStream) + Send + Sync + Clone + 'static,
) -> Result<(), String> {
    let listener =
        TcpListener::bind_with(format!("0.0.0.0:{port}"), options).map_err(|e| e.to_string())?;
    println!("netcheck: {name} on port {port}");
    for (i, stream) in listener.incoming().enumerate() {
        let stream = stream.map_err(|e| e.to_string())?;
        let handle = handle.clone();
        thread::Builder::new()
            .name(format!("{name}-{i}"))
            .stack_size(32 * 1024)
            .spawn(move || handle(stream))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
