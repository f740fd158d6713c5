//! `kv`: a Redis-compatible key-value server (work in progress, issue 10).
//!
//! ```text
//! kv [--port N]      listen on port N (default 6379), on every address
//! ```
//!
//! `redis-cli` and other Redis clients talk to it unchanged. The protocol (`resp`) and the
//! commands (`kvengine`) are host-tested crates; this is the loop around them: one thread
//! per connection, every complete command in a read answered, and the replies written at
//! once (pipelining). A malformed request gets Redis's `-ERR Protocol error: ...` and that
//! connection is closed; the others go on.
//!
//! So far the data lives in memory only, and the clock is the time since boot (there is no
//! wall clock yet), so `EXPIREAT` takes times on that clock.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::time::Duration;
use kvengine::{Action, Client, Server};
use libos::io::{Read, Write};
use libos::net::{self, Shutdown, SocketOptions, TcpListener, TcpStream};
use libos::prelude::*;
use libos::sync::Mutex;
use libos::time::Instant;
use libos::{env, eprintln, println, process, thread};
use resp::{Limits, Parsed};

libos::main!(main);

const USAGE: &str = "usage: kv [--port N]";

/// Established connections that may wait for the accept loop.
const BACKLOG: usize = 1024;
/// Stack of a connection's thread: its buffers are on the heap.
const CONNECTION_STACK: usize = 32 * 1024;
/// Bytes asked of the socket at a time.
const READ_SIZE: usize = 16 * 1024;

fn main() {
    let mut args = env::args().skip(1);
    let mut port: u16 = 6379;
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--port", Some(v)) => {
                port = v.parse().ok().filter(|&p| p > 0).unwrap_or_else(|| {
                    eprintln!("kv: --port: '{v}' is not a port\n{USAGE}");
                    process::exit(2)
                })
            }
            _ => {
                eprintln!("kv: unexpected argument '{flag}'\n{USAGE}");
                process::exit(2)
            }
        }
    }
    let options = SocketOptions {
        backlog: BACKLOG,
        ..SocketOptions::default()
    };
    let listener = TcpListener::bind_with((net::Ipv4Addr::UNSPECIFIED, port), options)
        .unwrap_or_else(|e| {
            eprintln!("kv: cannot listen on port {port}: {e}");
            process::exit(1)
        });
    match net::wait_for_address(Some(Duration::from_secs(30))) {
        Ok((ip, _)) => println!("kv: serving on redis://{ip}:{port} (in memory)"),
        Err(e) => println!("kv: serving on port {port} (in memory; {e})"),
    }
    let server: &'static Mutex<Server> = Box::leak(Box::new(Mutex::new(Server::new())));
    for (id, accepted) in listener.incoming().enumerate() {
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("kv: accept: {e}");
                continue;
            }
        };
        let spawned = thread::Builder::new()
            .name(format!("client-{id}"))
            .stack_size(CONNECTION_STACK)
            .spawn(move || serve(stream, server, id as u64 + 1));
        if let Err(e) = spawned {
            eprintln!("kv: connection {id} dropped: {e}");
        }
    }
}

/// Milliseconds on the server's clock.
fn now_ms() -> u64 {
    Instant::now().since_boot().as_millis() as u64
}

/// Serves one connection until it ends.
fn serve(mut stream: TcpStream, server: &Mutex<Server>, id: u64) {
    let _ = stream.set_nodelay(true);
    let limits = Limits::default();
    let mut client = Client {
        id,
        ..Client::default()
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut chunk = vec![0u8; READ_SIZE];
    loop {
        let n = match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => n,
            Err(_) => return,
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        let mut close = false;
        while !close {
            match resp::parse(&buf[start..], &limits) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Skip { used }) => start += used,
                Ok(Parsed::Command { args, used }) => {
                    start += used;
                    let mut server = server.lock().unwrap_or_else(|e| match e {});
                    close = server.execute(&mut client, &args, now_ms(), &mut out) == Action::Close;
                }
                Err(e) => {
                    resp::reply::error(&mut out, &format!("ERR {e}"));
                    close = true;
                }
            }
        }
        buf.drain(..start);
        if !out.is_empty() {
            if stream.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        if close {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}
