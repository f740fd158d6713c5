//! `httpd`: an HTTP/1.1 server for the files of the mounted tree.
//!
//! ```text
//! httpd [--port N] [--header-limit BYTES] [--timeout-ms MS]
//! ```
//!
//! - `--port` (default 8080): the TCP port to listen on, on every address.
//! - `--header-limit` (default 8192): the most bytes a request line and its headers may take;
//!   a longer head is answered 413 and the connection closed.
//! - `--timeout-ms` (default 10000; 0: none): how long a client has, from the previous
//!   response (or from connecting), to send a whole request, and how long a write may wait
//!   for a client to make room. A request cut short by it is answered 408; an idle
//!   kept-alive connection is closed without a word.
//!
//! GET and HEAD of the files of the tree on the root disk (`--disk-from DIR` on the host):
//! a directory is served by its `index.html`. With no disk at all, `/` is a built-in page.
//! The protocol (parsing, paths that cannot leave the tree, content types, response heads,
//! which answer to give) lives in the host-tested `http1` crate; this is the loop around it
//! ([`conn`]) and the file system behind it ([`files`]).
//!
//! One thread per connection. Threads are cooperative: a connection's thread runs until it
//! waits for its socket or for the file system, and all of them share one CPU, so the
//! server's work is the sum of its connections' work either way; a thread per connection
//! keeps each one a plain blocking loop. Pipelined requests are answered in one write.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod conn;
mod files;

use core::time::Duration;
use http1::Limits;
use libos::net::{self, SocketOptions, TcpListener};
use libos::prelude::*;
use libos::{env, eprintln, println, process, thread};

libos::main!(main);

const USAGE: &str = "usage: httpd [--port N] [--header-limit BYTES] [--timeout-ms MS]";

/// Established connections that may wait for the accept loop (nginx's default is 511): a
/// burst of a thousand clients arrives faster than the loop spawns their threads, and a
/// connection that finds the queue full is reset.
const BACKLOG: usize = 1024;

/// Stack of a connection's thread: its buffers are on the heap.
const CONNECTION_STACK: usize = 16 * 1024;

/// The server's settings, from the command line.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    port: u16,
    pub(crate) limits: Limits,
    /// `None`: wait for clients forever.
    pub(crate) timeout: Option<Duration>,
}

fn main() {
    let config = parse_args(env::args().skip(1)).unwrap_or_else(|problem| {
        eprintln!("httpd: {problem}\n{USAGE}");
        process::exit(2)
    });
    let site = files::Site::open().unwrap_or_else(|e| {
        eprintln!("httpd: cannot read the file tree: {e}");
        process::exit(1)
    });
    let options = SocketOptions {
        backlog: BACKLOG,
        ..SocketOptions::default()
    };
    let listener = TcpListener::bind_with((net::Ipv4Addr::UNSPECIFIED, config.port), options)
        .unwrap_or_else(|e| {
            eprintln!("httpd: cannot listen on port {}: {e}", config.port);
            process::exit(1)
        });
    match net::wait_for_address(Some(Duration::from_secs(30))) {
        Ok((ip, _)) => println!(
            "httpd: serving {} on http://{ip}:{}/",
            site.describe(),
            config.port
        ),
        Err(e) => println!(
            "httpd: serving {} on port {} ({e})",
            site.describe(),
            config.port
        ),
    }
    // Both live as long as the server.
    let server: &'static conn::Server = Box::leak(Box::new(conn::Server { config, site }));
    for (i, accepted) in listener.incoming().enumerate() {
        let stream = match accepted {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("httpd: accept: {e}");
                continue;
            }
        };
        let spawned = thread::Builder::new()
            .name(format!("conn-{i}"))
            .stack_size(CONNECTION_STACK)
            .spawn(move || conn::serve(stream, server));
        if let Err(e) = spawned {
            // The stream went with the closure and is closed.
            eprintln!("httpd: connection {i} dropped: {e}");
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut config = Config {
        port: 8080,
        limits: Limits::DEFAULT,
        timeout: Some(Duration::from_secs(10)),
    };
    while let Some(flag) = args.next() {
        if flag == "--help" {
            println!("{USAGE}");
            process::exit(0);
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |max: u64| -> Result<u64, String> {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("{flag}: '{value}' is not a number up to {max}"))
        };
        match flag.as_str() {
            "--port" => match number(u64::from(u16::MAX))? {
                0 => return Err(String::from("--port: 0 is not a port")),
                port => config.port = port as u16,
            },
            "--header-limit" => match number(1 << 20)? {
                n if n < 64 => return Err(format!("--header-limit: {n} is under 64 bytes")),
                n => config.limits.max_head_bytes = n as usize,
            },
            "--timeout-ms" => {
                config.timeout = match number(u64::from(u32::MAX))? {
                    0 => None,
                    ms => Some(Duration::from_millis(ms)),
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(config)
}
