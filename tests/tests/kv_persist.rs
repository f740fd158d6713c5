//! apps/kv on a disk: what a restart gives back, refused disks, and power cuts (nbdkit's
//! writeback cache killed with QEMU) during writes from many clients, after which every
//! acknowledged write must be there.

use boot::nbd::NbdServer;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tests::{Run, Running, assert_status, free_port};

const BOOT: Duration = Duration::from_secs(60);

/// A sparse disk file, removed when the test ends.
struct TestDisk(PathBuf);

impl TestDisk {
    fn new(name: &str, mib: u64) -> Self {
        let dir = std::env::temp_dir().join(format!("unikernel-kv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .set_len(mib << 20)
            .unwrap();
        Self(path)
    }
}

impl std::ops::Deref for TestDisk {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDisk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// kv on `run`'s disk, listening on a free port forwarded from 127.0.0.1.
fn kv(run: Run) -> (Running, u16) {
    kv_with(run, &[])
}

/// [`kv`] with more arguments for kv.
fn kv_with(run: Run, args: &[&str]) -> (Running, u16) {
    let port = free_port();
    let port_text = port.to_string();
    let mut all = vec!["--port", port_text.as_str()];
    all.extend_from_slice(args);
    let running = run
        .net_user(&[(port, port)])
        .args(&all)
        .timeout(Duration::from_secs(300))
        .spawn();
    running.wait_for_console("kv: serving", BOOT);
    (running, port)
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["30", "redis-cli", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("running redis-cli (scripts/test.sh installs redis-tools)");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

#[test]
fn a_restart_restores_every_type_expiry_and_database() {
    let disk = TestDisk::new("restart.img", 64);
    let (server, port) = kv(Run::new("kv").disk(&*disk));
    server.wait_for_console("(persistence durable on vda)", BOOT);
    let big = "x".repeat(20_000);
    for cmd in [
        vec!["set", "greeting", "hello"],
        vec!["set", "big", &big],
        vec!["append", "big", "tail"],
        vec!["incrby", "counter", "41"],
        vec!["incr", "counter"],
        vec!["rpush", "list", "a", "b", "c", "d"],
        vec!["lpush", "list", "z"],
        vec!["rpop", "list"],
        vec!["lset", "list", "1", "A"],
        vec!["linsert", "list", "after", "A", "A2"],
        vec!["hset", "hash", "f1", "v1", "f2", "v2", "f3", "v3"],
        vec!["hdel", "hash", "f2"],
        vec!["hincrby", "hash", "n", "7"],
        vec!["sadd", "set", "x", "y", "z"],
        vec!["srem", "set", "y"],
        vec!["zadd", "zset", "1", "one", "2.5", "two", "-3", "minus"],
        vec!["zincrby", "zset", "10", "one"],
        vec!["zrem", "zset", "two"],
        vec!["set", "ttl", "v", "ex", "1000"],
        vec!["hset", "ttlhash", "f", "v"],
        vec!["pexpire", "ttlhash", "500000"],
        vec!["set", "short", "v", "px", "1500"],
        vec!["set", "gone", "v"],
        vec!["del", "gone"],
        vec!["rename", "greeting", "hi"],
        vec!["-n", "3", "set", "in3", "three"],
        vec!["-n", "5", "set", "in5", "five"],
        vec!["-n", "5", "flushdb"],
        vec!["-n", "5", "set", "after-flush", "yes"],
        vec!["-n", "6", "set", "was6", "six"],
        vec!["swapdb", "6", "7"],
    ] {
        let reply = cli(port, &cmd);
        assert!(!reply.starts_with("ERR"), "{cmd:?}: {reply}");
    }
    server.stop();
    std::thread::sleep(Duration::from_millis(1600));

    let (server, port) = kv(Run::new("kv").disk(&*disk));
    let console = server.console();
    assert!(
        console.contains("kv: loaded 12 keys from vda in") && console.contains("1 expired"),
        "{console}"
    );
    assert_eq!(cli(port, &["get", "hi"]), "hello");
    assert_eq!(cli(port, &["exists", "greeting", "gone", "short"]), "0");
    assert_eq!(cli(port, &["strlen", "big"]), "20004");
    assert_eq!(cli(port, &["get", "counter"]), "42");
    assert_eq!(cli(port, &["lrange", "list", "0", "-1"]), "z\nA\nA2\nb\nc");
    assert_eq!(
        cli(port, &["hgetall", "hash"]),
        "f1\nv1\nf3\nv3\nn\n7",
        "hash fields"
    );
    assert_eq!(cli(port, &["smembers", "set"]), "x\nz");
    assert_eq!(cli(port, &["zscore", "zset", "one"]), "11");
    assert_eq!(cli(port, &["zcard", "zset"]), "2");
    let ttl: i64 = cli(port, &["ttl", "ttl"]).parse().unwrap();
    assert!((990..=1000).contains(&ttl), "ttl {ttl}");
    let pttl: i64 = cli(port, &["pttl", "ttlhash"]).parse().unwrap();
    assert!((480_000..=500_000).contains(&pttl), "pttl {pttl}");
    assert_eq!(cli(port, &["-n", "3", "get", "in3"]), "three");
    assert_eq!(cli(port, &["-n", "5", "keys", "*"]), "after-flush");
    assert_eq!(cli(port, &["-n", "7", "get", "was6"]), "six");
    assert_eq!(cli(port, &["-n", "6", "dbsize"]), "0");
    // And it goes on writing after the restart.
    assert_eq!(cli(port, &["rpush", "list", "e"]), "6");
    server.stop();
    let (server, port) = kv(Run::new("kv").disk(&*disk));
    assert_eq!(cli(port, &["lrange", "list", "-2", "-1"]), "c\ne");
    server.stop();
}

#[test]
fn disks_kv_cannot_use_are_refused_with_one_line() {
    // Another app's store.
    let disk = TestDisk::new("foreign.img", 16);
    for args in [&["format"][..], &["put", "k", "v"]] {
        let out = Run::new("storectl").disk(&*disk).args(args).go();
        assert_status(&out, 0);
    }
    let out = Run::new("kv").disk(&*disk).go();
    assert_status(&out, 4);
    assert!(
        out.console
            .contains("kv: vda: holds a store that is not kv's"),
        "{}",
        out.console
    );
    // Persistence asked for, with no disk.
    let out = Run::new("kv").args(&["--persistence", "durable"]).go();
    assert_status(&out, 2);
    assert!(
        out.console
            .contains("kv: no disk vda for --persistence durable"),
        "{}",
        out.console
    );
    // A read-only disk.
    let disk = TestDisk::new("ro.img", 16);
    let out = Run::new("kv").disk_ro(&*disk).go();
    assert_status(&out, 4);
    assert!(out.console.contains("read-only"), "{}", out.console);
}

/// A RESP client of our own: one connection, one command at a time.
struct Client {
    stream: BufReader<TcpStream>,
}

impl Client {
    fn connect(port: u16) -> std::io::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream: BufReader::new(stream),
        })
    }

    /// Sends a command; its reply line (bulk replies: the bulk's bytes).
    fn call(&mut self, args: &[&[u8]]) -> std::io::Result<Vec<u8>> {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
        self.stream.get_mut().write_all(&req)?;
        let mut line = Vec::new();
        self.stream.read_until(b'\n', &mut line)?;
        if !line.ends_with(b"\r\n") {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.truncate(line.len() - 2);
        if line.first() == Some(&b'$') {
            let n: i64 = String::from_utf8_lossy(&line[1..]).parse().unwrap();
            if n < 0 {
                return Ok(b"(nil)".to_vec());
            }
            let mut body = vec![0u8; n as usize + 2];
            std::io::Read::read_exact(&mut self.stream, &mut body)?;
            body.truncate(n as usize);
            return Ok(body);
        }
        if line.first() == Some(&b'*') {
            // Arrays (LRANGE): the elements, newline-separated.
            let n: i64 = String::from_utf8_lossy(&line[1..]).parse().unwrap();
            let mut items = Vec::new();
            for _ in 0..n.max(0) {
                let mut head = Vec::new();
                self.stream.read_until(b'\n', &mut head)?;
                let len: usize = String::from_utf8_lossy(&head[1..head.len() - 2])
                    .parse()
                    .unwrap();
                let mut body = vec![0u8; len + 2];
                std::io::Read::read_exact(&mut self.stream, &mut body)?;
                body.truncate(len);
                items.push(String::from_utf8(body).unwrap());
            }
            return Ok(items.join("\n").into_bytes());
        }
        Ok(line)
    }
}

/// What every acknowledged write of the power-cut rounds must have left.
#[derive(Default)]
struct Acked {
    /// Unique keys and their values.
    keys: BTreeMap<String, String>,
    /// Per writer list: how many elements were acknowledged (element i is `i`).
    lists: BTreeMap<String, usize>,
}

fn value_of(key: &str) -> String {
    format!("value-of-{key}-{}", key.len() * 7919 % 1000)
}

/// Writers hammering kv until `stop`: each SETs unique keys and RPUSHes to its own list,
/// recording what was acknowledged.
fn writers(
    port: u16,
    round: u32,
    n: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Acked>>,
) -> Vec<std::thread::JoinHandle<()>> {
    (0..n)
        .map(|w| {
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let Ok(mut c) = Client::connect(port) else {
                    return;
                };
                let list = format!("list-{w}");
                // The list may hold an element pushed but not acknowledged before a cut.
                let Ok(len) = c.call(&[b"llen", list.as_bytes()]) else {
                    return;
                };
                let mut next: usize = String::from_utf8_lossy(&len[1..]).parse().unwrap();
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let key = format!("r{round}-w{w}-{i}");
                    let value = value_of(&key);
                    match c.call(&[b"set", key.as_bytes(), value.as_bytes()]) {
                        Ok(r) if r == b"+OK" => {
                            acked.lock().unwrap().keys.insert(key, value);
                        }
                        _ => return,
                    }
                    let element = next.to_string();
                    match c.call(&[b"rpush", list.as_bytes(), element.as_bytes()]) {
                        Ok(r) if r.first() == Some(&b':') => {
                            let len: usize = String::from_utf8_lossy(&r[1..]).parse().unwrap();
                            assert_eq!(len, next + 1, "{list} grew out of order");
                            next += 1;
                            acked.lock().unwrap().lists.insert(list.clone(), next);
                        }
                        _ => return,
                    }
                }
            })
        })
        .collect()
}

/// Power cuts during writes: nbdkit (writeback, each write delayed) serves the disk; 16
/// clients write; QEMU and nbdkit are SIGKILLed at a random moment; a boot on the file
/// must give back every acknowledged key and list element, across all rounds.
#[test]
fn power_cuts_during_writes_lose_no_acknowledged_write() {
    const ROUNDS: u32 = 6;
    let disk = TestDisk::new("power.img", 64);
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut seed = std::env::var("KV_POWER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Instant::now().elapsed().as_nanos() as u64 ^ std::process::id() as u64);
    eprintln!("power cuts: seed {seed} (KV_POWER_SEED replays)");
    for round in 0..ROUNDS {
        let mut server = NbdServer::spawn_slow(&disk, Duration::from_millis(5))
            .unwrap_or_else(|e| panic!("{e}"));
        let (guest, port) = kv(Run::new("kv").disk_spec(server.disk_spec()));
        let stop = Arc::new(AtomicBool::new(false));
        let before = acked.lock().unwrap().keys.len();
        let threads = writers(port, round, 16, stop.clone(), acked.clone());
        // Wait for the first acknowledgements, then cut at a seeded moment.
        let started = Instant::now();
        while acked.lock().unwrap().keys.len() == before {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "round {round}: nothing acknowledged\n{}",
                guest.console()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        std::thread::sleep(Duration::from_millis(200 + (seed >> 33) % 2000));
        let out = guest.kill_hard();
        server.kill_hard();
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        assert!(
            !out.console.contains("panic"),
            "round {round}:\n{}",
            out.console
        );

        // Check everything acknowledged so far on a boot from the file itself.
        let (guest, port) = kv(Run::new("kv").disk(&*disk));
        let mut c = Client::connect(port).unwrap();
        let acked = acked.lock().unwrap();
        for (key, value) in &acked.keys {
            let got = c.call(&[b"get", key.as_bytes()]).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&got),
                *value,
                "round {round} (seed {seed}): acknowledged key {key} lost or wrong\n{}",
                guest.console()
            );
        }
        for (list, &n) in &acked.lists {
            let got = c.call(&[b"lrange", list.as_bytes(), b"0", b"-1"]).unwrap();
            let got = String::from_utf8(got).unwrap();
            let elements: Vec<&str> = if got.is_empty() {
                vec![]
            } else {
                got.split('\n').collect()
            };
            assert!(
                elements.len() >= n
                    && elements
                        .iter()
                        .enumerate()
                        .all(|(i, e)| *e == i.to_string()),
                "round {round} (seed {seed}): {list} has {} elements, {n} acknowledged: {:?}",
                elements.len(),
                &elements[..elements.len().min(20)]
            );
        }
        eprintln!(
            "round {round}: {} keys and {} list elements acknowledged so far, all present",
            acked.keys.len(),
            acked.lists.values().sum::<usize>()
        );
        drop(acked);
        guest.stop();
    }
}

/// `--persistence everysec`: acknowledged at once, on disk within about a second. Writes
/// acknowledged two seconds before QEMU is killed (SIGKILL, the disk a plain file) are
/// all there after a restart.
#[test]
fn everysec_loses_nothing_older_than_its_window() {
    let disk = TestDisk::new("everysec.img", 64);
    let (server, port) = kv_with(Run::new("kv").disk(&*disk), &["--persistence", "everysec"]);
    server.wait_for_console("(persistence everysec on vda)", BOOT);
    let mut c = Client::connect(port).unwrap();
    for i in 0..500 {
        let key = format!("es-{i}");
        assert_eq!(c.call(&[b"set", key.as_bytes(), b"v"]).unwrap(), b"+OK");
    }
    assert_eq!(c.call(&[b"rpush", b"l", b"a", b"b"]).unwrap(), b":2");
    std::thread::sleep(Duration::from_secs(2));
    server.kill_hard();
    let (server, port) = kv_with(Run::new("kv").disk(&*disk), &["--persistence", "everysec"]);
    assert_eq!(cli(port, &["dbsize"]), "501");
    assert_eq!(cli(port, &["lrange", "l", "0", "-1"]), "a\nb");
    server.stop();
}
