//! Prints files from the file tree the libOS mounts (`--disk-from DIR` on the host).
//!
//!     cat PATH...            the files' text, one after another
//!     cat --sha256 PATH...   `<hex>  PATH` per file, hashed in the guest (the serial
//!                            console rewrites binary bytes, so compare hashes instead)
//!     cat --ls DIR...        a folder's entries: size, name, `/` after a folder
//!
//! A path that cannot be read prints `cat: PATH: <error>` and the run ends with status 1
//! after the other paths; a wrong command line ends with status 2.

#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libos::fs::{self, File};
use libos::io::{self, Read};
use libos::prelude::*;
use libos::{env, eprintln, print, println, process};
use sha2::{Digest, Sha256};

libos::main!(main);

const USAGE: &str = "usage: cat PATH... | cat --sha256 PATH... | cat --ls DIR...";

/// What to do with each path.
type Action = fn(&str) -> io::Result<()>;

/// Bytes read from a file at a time.
const CHUNK: usize = 64 * 1024;

fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    let (action, paths): (Action, &[String]) = match args.first().map(String::as_str) {
        Some("--sha256") => (print_sha256, &args[1..]),
        Some("--ls") => (list, &args[1..]),
        Some("--help") => {
            println!("{USAGE}");
            return;
        }
        Some(flag) if flag.starts_with("--") => usage_error(&format!("unknown option {flag}")),
        _ => (print_text, &args[..]),
    };
    if paths.is_empty() {
        usage_error("no path given");
    }
    let mut failed = false;
    for path in paths {
        if let Err(e) = action(path) {
            eprintln!("cat: {path}: {e}");
            failed = true;
        }
    }
    if failed {
        process::exit(1);
    }
}

fn usage_error(problem: &str) -> ! {
    eprintln!("cat: {problem}\n{USAGE}");
    process::exit(2)
}

/// Prints the file as text, chunk by chunk; bytes that are not UTF-8 print as U+FFFD.
fn print_text(path: &str) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut buf = vec![0; CHUNK];
    // Bytes of a character split across two chunks wait here for the rest.
    let mut pending = 0;
    loop {
        let n = file.read(&mut buf[pending..])?;
        let filled = pending + n;
        if n == 0 {
            if filled > 0 {
                print!("{}", String::from_utf8_lossy(&buf[..filled]));
            }
            return Ok(());
        }
        let printable = complete_prefix(&buf[..filled]);
        print!("{}", String::from_utf8_lossy(&buf[..printable]));
        buf.copy_within(printable..filled, 0);
        pending = filled - printable;
    }
}

/// How much of `bytes` to print now: all of it, except a UTF-8 character cut short at the
/// end (at most 3 bytes), which may complete with the next chunk.
fn complete_prefix(bytes: &[u8]) -> usize {
    let mut rest = bytes;
    let mut printed = 0;
    loop {
        match core::str::from_utf8(rest) {
            Ok(_) => return bytes.len(),
            // Cut short at the end: keep it.
            Err(e) if e.error_len().is_none() => return printed + e.valid_up_to(),
            // Invalid in the middle: print it (as U+FFFD) and look further.
            Err(e) => {
                let skip = e.valid_up_to() + e.error_len().unwrap_or(1);
                printed += skip;
                rest = &rest[skip..];
            }
        }
    }
}

/// Prints `<sha256 hex>  PATH`, reading the file in chunks.
fn print_sha256(path: &str) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; CHUNK];
    loop {
        match file.read(&mut buf)? {
            0 => break,
            n => hasher.update(&buf[..n]),
        }
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    println!("{hex}  {path}");
    Ok(())
}

/// Prints a folder's entries sorted by name: size, then the name with `/` after a folder
/// and `@` after a symlink.
fn list(path: &str) -> io::Result<()> {
    let mut entries = fs::read_dir(path)?.collect::<io::Result<Vec<_>>>()?;
    entries.sort_by(|a, b| a.file_name().cmp(b.file_name()));
    for entry in entries {
        let meta = entry.metadata()?;
        let suffix = match meta.file_type() {
            t if t.is_dir() => "/",
            t if t.is_symlink() => "@",
            _ => "",
        };
        println!("{:>10} {}{suffix}", meta.len(), entry.file_name());
    }
    Ok(())
}
