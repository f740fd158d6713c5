//! `kv`: a Redis-compatible key-value server, durable on `libos::store`.
//!
//! ```text
//! kv [--port N] [--persistence durable|everysec|none] [--disk NAME]
//!   --port N          listen on port N (default 6379), on every address
//!   --persistence M   durable (default with a disk): a write is acknowledged once it is
//!                     on disk; everysec: acknowledged at once, on disk within a second;
//!                     none (default without a disk): in memory only
//!   --disk NAME       the disk for the data (default vda); the whole disk is kv's store
//! ```
//!
//! `redis-cli` and other Redis clients talk to it unchanged. The protocol (`resp`) and the
//! commands (`kvengine`) are host-tested crates; this is the loop around them: one thread
//! per connection, every complete command in a read answered, and the replies written at
//! once (pipelining). A malformed request gets Redis's `-ERR Protocol error: ...` and that
//! connection is closed; the others go on.
//!
//! With persistence every command's changes go to `libos::store` in execution order (see
//! [`persistence`]), and no reply goes out before everything appended when its command
//! ran is durable: a client never sees, from any connection, a write a power cut could
//! take back. Expiry times are Unix times from the machine's real-time clock, so they
//! hold across restarts.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod persistence;

use core::sync::atomic::{AtomicU64, Ordering};
use core::task::{Poll, Waker};
use core::time::Duration;
use kvengine::{Action, Client, Server};
use libos::io::{Read, Write};
use libos::net::{self, Shutdown, SocketOptions, TcpListener, TcpStream};
use libos::prelude::*;
use libos::sync::Mutex;
use libos::time::Instant;
use libos::{env, eprintln, println, process, thread};
use persistence::{Mode, Persistence};
use resp::{Limits, Parsed};

libos::main!(main);

const USAGE: &str = "usage: kv [--port N] [--persistence durable|everysec|none] [--disk NAME]";

/// Established connections that may wait for the accept loop.
const BACKLOG: usize = 1024;
/// Stack of a connection's thread: its buffers are on the heap.
const CONNECTION_STACK: usize = 32 * 1024;
/// Bytes asked of the socket at a time.
const READ_SIZE: usize = 16 * 1024;

fn main() {
    let mut args = env::args().skip(1);
    let mut port: u16 = 6379;
    let mut mode: Option<Mode> = None;
    let mut disk: Option<String> = None;
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next()) {
            ("--persistence", Some(v)) => {
                mode = Some(Mode::parse(&v).unwrap_or_else(|| {
                    eprintln!("kv: --persistence: '{v}' is not durable, everysec or none\n{USAGE}");
                    process::exit(2)
                }))
            }
            ("--disk", Some(v)) => disk = Some(v),
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
    let disk = disk.unwrap_or_else(|| "vda".into());
    let mode = mode.unwrap_or_else(|| {
        if libos::block::disks().iter().any(|d| d.name == disk) {
            Mode::Durable
        } else {
            Mode::None
        }
    });
    let mut server = Server::new();
    if libos::time::unix_time().is_none() {
        eprintln!(
            "kv: warning: no real-time clock: expiry times count from boot{}",
            if mode == Mode::None {
                ""
            } else {
                " and will not hold across restarts"
            }
        );
    }
    let persistence: Option<&'static Persistence> = (mode != Mode::None).then(|| {
        &*Box::leak(Box::new(Persistence::open(
            &disk,
            mode,
            &mut server,
            now_ms(),
        )))
    });
    server.persistence = kvengine::server::Persistence {
        durability: match mode {
            Mode::Durable => kvengine::server::Durability::Durable,
            Mode::Everysec => kvengine::server::Durability::EverySecond,
            Mode::None => kvengine::server::Durability::None,
        },
        disk: persistence.map(|p| p.disk.clone()),
    };
    let options = SocketOptions {
        backlog: BACKLOG,
        ..SocketOptions::default()
    };
    let listener = TcpListener::bind_with((net::Ipv4Addr::UNSPECIFIED, port), options)
        .unwrap_or_else(|e| {
            eprintln!("kv: cannot listen on port {port}: {e}");
            process::exit(1)
        });
    let how = match persistence {
        Some(p) => format!("persistence {} on {}", p.mode.name(), p.disk),
        None => "in memory".into(),
    };
    match net::wait_for_address(Some(Duration::from_secs(30))) {
        Ok((ip, _)) => println!("kv: serving on redis://{ip}:{port} ({how})"),
        Err(e) => println!("kv: serving on port {port} ({how}; {e})"),
    }
    let server: &'static Mutex<Server> = Box::leak(Box::new(Mutex::new(server)));
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
            .spawn(move || serve(stream, server, persistence, id as u64 + 1));
        if let Err(e) = spawned {
            eprintln!("kv: connection {id} dropped: {e}");
        }
    }
}

/// Milliseconds on the server's clock: Unix time, or the time since boot without an RTC.
fn now_ms() -> u64 {
    libos::time::unix_time()
        .unwrap_or_else(|| Instant::now().since_boot())
        .as_millis() as u64
}

/// Serves one connection until it ends.
fn serve(
    mut stream: TcpStream,
    server: &Mutex<Server>,
    persistence: Option<&Persistence>,
    id: u64,
) {
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .map_or_else(|_| "?:0".into(), |a| format!("{a}"));
    server
        .lock()
        .unwrap_or_else(|e| match e {})
        .connect(id, &peer, now_ms());
    serve_connection(&mut stream, server, persistence, id);
    server.lock().unwrap_or_else(|e| match e {}).disconnect(id);
}

/// [`serve`]'s loop: reads commands, runs them, writes the replies.
fn serve_connection(
    stream: &mut TcpStream,
    server: &Mutex<Server>,
    persistence: Option<&Persistence>,
    id: u64,
) {
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
        if buf.len() > query_limit() {
            // Redis's client-query-buffer-limit, bounded by the memory there is: one
            // client's unfinished request must not take the heap from everyone else.
            eprintln!(
                "kv: client {id}: query buffer over {} bytes: closing the connection",
                buf.len() - n
            );
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
        let mut start = 0;
        let mut close = false;
        while !close {
            match resp::parse(&buf[start..], &limits) {
                Ok(Parsed::Incomplete) => break,
                Ok(Parsed::Skip { used }) => start += used,
                Ok(Parsed::Command { args, used }) => {
                    start += used;
                    match run(server, persistence, &mut client, &args, &mut out) {
                        Action::Close => close = true,
                        Action::Block { deadline_ms } => {
                            // The replies before it go out first, as Redis sends them.
                            if !send(stream, server, persistence, id, &mut out) {
                                return;
                            }
                            block(
                                server,
                                persistence,
                                &mut client,
                                &args,
                                deadline_ms,
                                &mut out,
                            );
                        }
                        Action::Continue => {}
                    }
                }
                Err(e) => {
                    resp::reply::error(&mut out, &format!("ERR {e}"));
                    close = true;
                }
            }
        }
        buf.drain(..start);
        if !send(stream, server, persistence, id, &mut out) {
            return;
        }
        if close {
            let _ = stream.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// The most a connection may buffer of requests not yet complete: Redis's 1 GiB
/// `client-query-buffer-limit`, or a quarter of the free heap if that is less.
fn query_limit() -> usize {
    let heap = process::heap();
    (1usize << 30).min(heap.size.saturating_sub(heap.used) / 4)
}

/// Write commands run so far, as of the last one; blocked clients wait for it to change.
static WRITES: AtomicU64 = AtomicU64::new(0);
/// Blocked clients to wake when a write runs.
static BLOCKED: Mutex<Vec<Waker>> = Mutex::new(Vec::new());

/// Runs one command: executes it, appends its changes to the store (a refused append
/// turns its reply into `MISCONF` and refuses writes from then on), and wakes blocked
/// clients if it wrote.
fn run(
    server: &Mutex<Server>,
    persistence: Option<&Persistence>,
    client: &mut Client,
    args: &[Vec<u8>],
    out: &mut Vec<u8>,
) -> Action {
    let mut server = server.lock().unwrap_or_else(|e| match e {});
    let before = out.len();
    server.memory_used = process::heap().used as u64;
    let action = server.execute(client, args, now_ms(), out);
    if let Some(p) = persistence {
        if core::mem::take(&mut server.sync_requested)
            && let Err(e) = p.store.sync()
        {
            out.truncate(before);
            resp::reply::error(out, &format!("ERR saving to {} failed: {e}", p.disk));
        }
        let ops = core::mem::take(&mut server.changes);
        if !ops.is_empty()
            && let Err(e) = p.append(ops)
        {
            // Not on disk: the command gets an error instead of its reply.
            let message = format!("MISCONF Errors writing to the store on {}: {e}", p.disk);
            eprintln!("kv: {}: cannot write: {e}; refusing writes", p.disk);
            out.truncate(before);
            resp::reply::error(out, &message);
            server.write_error = Some(message);
        }
    }
    if server.writes != WRITES.load(Ordering::Relaxed) {
        WRITES.store(server.writes, Ordering::Relaxed);
        for w in BLOCKED.lock().unwrap_or_else(|e| match e {}).drain(..) {
            w.wake();
        }
    }
    action
}

/// Runs the blocking command `args` again each time another client writes, until it
/// takes something or `deadline_ms` passes (then it answers as a timeout).
fn block(
    server: &Mutex<Server>,
    persistence: Option<&Persistence>,
    client: &mut Client,
    args: &[Vec<u8>],
    deadline_ms: Option<u64>,
    out: &mut Vec<u8>,
) {
    loop {
        let seen = WRITES.load(Ordering::Relaxed);
        let timeout = match deadline_ms {
            None => None,
            Some(d) => match d.checked_sub(now_ms()) {
                Some(ms) if ms > 0 => Some(Duration::from_millis(ms)),
                _ => {
                    kvengine::blocking::timed_out(args, out);
                    return;
                }
            },
        };
        let woken = libos::task::block_on_timeout(
            core::future::poll_fn(|cx| {
                if WRITES.load(Ordering::Relaxed) != seen {
                    return Poll::Ready(());
                }
                BLOCKED
                    .lock()
                    .unwrap_or_else(|e| match e {})
                    .push(cx.waker().clone());
                Poll::Pending
            }),
            timeout,
        );
        if woken.is_none() {
            kvengine::blocking::timed_out(args, out);
            return;
        }
        match run(server, persistence, client, args, out) {
            Action::Block { .. } => continue,
            _ => return,
        }
    }
}

/// Sends the replies in `out`. With persistence, first waits until everything appended
/// when they were made is durable: nothing a reply shows may be lost (one flush serves
/// every client waiting). False if the connection is to end.
fn send(
    stream: &mut TcpStream,
    server: &Mutex<Server>,
    persistence: Option<&Persistence>,
    id: u64,
    out: &mut Vec<u8>,
) -> bool {
    if out.is_empty() {
        return true;
    }
    if let Some(p) = persistence {
        let appended = p.store.appended();
        if let Err(e) = p.store.wait(appended) {
            eprintln!(
                "kv: {}: cannot commit: {e}; closing connection {id}",
                p.disk
            );
            let mut server = server.lock().unwrap_or_else(|e| match e {});
            if server.write_error.is_none() {
                server.write_error = Some(format!(
                    "MISCONF Errors writing to the store on {}: {e}",
                    p.disk
                ));
            }
            let _ = stream.shutdown(Shutdown::Both);
            return false;
        }
    }
    let sent = stream.write_all(out).is_ok();
    out.clear();
    sent
}
