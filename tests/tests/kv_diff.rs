//! Differential tests: the same command sessions against Debian's Redis 7.0 (run natively
//! on 127.0.0.1) and against apps/kv in QEMU, replies compared byte for byte.
//!
//! Redis comes from `redis-tools` (which `scripts/test.sh` installs): its
//! `redis-check-rdb` is the whole server, and runs as one when called `redis-server`.
//! Sessions are random, seeded per family (printed, and replayed with `KV_DIFF_SEED`), over
//! a few keys so that types collide; commands whose reply order Redis leaves to its hash
//! tables (`SMEMBERS`, `KEYS`) are compared as sorted lists.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tests::{Run, Running, free_port};

/// A native Redis server, stopped when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    /// A server of its own for test `name`.
    fn start(name: &str) -> Self {
        let check_rdb = ["/usr/bin/redis-check-rdb", "/usr/local/bin/redis-check-rdb"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect("redis-check-rdb (package redis-tools; scripts/test.sh installs it)");
        let dir: PathBuf =
            std::env::temp_dir().join(format!("kv-diff-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let server = dir.join("redis-server");
        let _ = std::fs::remove_file(&server);
        std::os::unix::fs::symlink(check_rdb, &server).unwrap();
        let port = free_port();
        let child = Command::new(&server)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting redis-server");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A connection that sends commands and reads whole replies.
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(port: u16) -> Self {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Self {
            writer: s.try_clone().unwrap(),
            reader: BufReader::new(s),
        }
    }

    fn call(&mut self, args: &[String]) -> Reply {
        let mut req = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            req.extend(format!("${}\r\n{a}\r\n", a.len()).into_bytes());
        }
        self.writer.write_all(&req).unwrap();
        read_reply(&mut self.reader)
    }
}

/// A reply: its bytes, and for an array its elements' bytes.
#[derive(Debug)]
struct Reply {
    bytes: Vec<u8>,
    items: Vec<Vec<u8>>,
}

fn read_reply(r: &mut impl BufRead) -> Reply {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).unwrap();
    assert!(line.ends_with(b"\r\n"), "a cut reply: {line:?}");
    let n = || -> i64 {
        String::from_utf8_lossy(&line[1..line.len() - 2])
            .parse()
            .unwrap()
    };
    match line[0] {
        b'$' if n() >= 0 => {
            let mut data = vec![0u8; n() as usize + 2];
            r.read_exact(&mut data).unwrap();
            line.extend(data);
            Reply {
                bytes: line,
                items: Vec::new(),
            }
        }
        b'*' if n() >= 0 => {
            let mut items = Vec::new();
            let mut bytes = line.clone();
            for _ in 0..n() {
                let item = read_reply(r);
                bytes.extend(&item.bytes);
                items.push(item.bytes);
            }
            Reply { bytes, items }
        }
        _ => Reply {
            bytes: line,
            items: Vec::new(),
        },
    }
}

fn kv() -> (Running, u16) {
    let port = free_port();
    let running = Run::new("kv")
        .net_user(&[(port, 6379)])
        .timeout(Duration::from_secs(300))
        .spawn();
    running.wait_for_console("kv: serving", Duration::from_secs(30));
    (running, port)
}

/// xorshift64*
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const KEYS: &[&str] = &["k1", "k2", "k3", "n", "l", "h", "s", "z", ""];
const WORDS: &[&str] = &[
    "a",
    "b",
    "c",
    "10",
    "-3",
    "0",
    "x y",
    "",
    "1.5",
    "9223372036854775807",
];
const INTS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "-2",
    "5",
    "100",
    "-100",
    "x",
    "3.5",
    "9223372036854775807",
];
/// Expiry times for SET and SETEX: long (or invalid), never due during a test.
const EXPIRES: &[&str] = &["100", "100000", "0", "-1", "x", "9223372036854775807"];
const FLOATS: &[&str] = &[
    "0", "1", "-1", "2.5", "1e3", "inf", "-inf", "nan", "x", "0.1", "+5",
];

/// One random command of `family`.
fn command(rng: &mut Rng, family: &str) -> Vec<String> {
    let k = |rng: &mut Rng| rng.pick(KEYS).to_string();
    let w = |rng: &mut Rng| rng.pick(WORDS).to_string();
    let i = |rng: &mut Rng| rng.pick(INTS).to_string();
    let f = |rng: &mut Rng| rng.pick(FLOATS).to_string();
    let mut cmd: Vec<String> = match family {
        "strings" => match rng.below(16) {
            0 => vec!["get".into(), k(rng)],
            1 => {
                let mut c = vec!["set".into(), k(rng), w(rng)];
                for _ in 0..rng.below(3) {
                    c.push(
                        rng.pick(&["nx", "xx", "get", "keepttl", "ex", "px", "EX", "bogus"])
                            .into(),
                    );
                    if rng.below(2) == 0 {
                        // Times far from now only: a key that expires within the test's
                        // round trips would make the two servers' answers a race.
                        c.push(rng.pick(EXPIRES).into());
                    }
                }
                c
            }
            2 => vec!["incr".into(), k(rng)],
            3 => vec!["incrby".into(), k(rng), i(rng)],
            4 => vec!["decrby".into(), k(rng), i(rng)],
            5 => vec!["append".into(), k(rng), w(rng)],
            6 => vec!["strlen".into(), k(rng)],
            7 => vec!["getrange".into(), k(rng), i(rng), i(rng)],
            8 => vec!["setrange".into(), k(rng), i(rng), w(rng)],
            9 => vec!["mget".into(), k(rng), k(rng), k(rng)],
            10 => vec!["mset".into(), k(rng), w(rng), k(rng), w(rng)],
            11 => vec!["msetnx".into(), k(rng), w(rng), k(rng), w(rng)],
            12 => vec!["getset".into(), k(rng), w(rng)],
            13 => vec!["getdel".into(), k(rng)],
            14 => vec!["setnx".into(), k(rng), w(rng)],
            _ => vec!["setex".into(), k(rng), rng.pick(EXPIRES).into(), w(rng)],
        },
        "keys" => match rng.below(15) {
            0 => vec!["del".into(), k(rng), k(rng)],
            1 => vec!["exists".into(), k(rng), k(rng)],
            2 => vec!["type".into(), k(rng)],
            3 => {
                let mut c = vec![
                    rng.pick(&["expire", "pexpire"]).into(),
                    k(rng),
                    rng.pick(&["100", "200000", "-1", "x", "0"]).into(),
                ];
                for _ in 0..rng.below(3) {
                    c.push(rng.pick(&["nx", "xx", "gt", "lt", "foo"]).into());
                }
                c
            }
            4 => vec!["ttl".into(), k(rng)],
            5 => vec!["persist".into(), k(rng)],
            6 => vec!["set".into(), k(rng), w(rng)],
            7 => vec![
                "keys".into(),
                rng.pick(&["*", "k*", "k[12]", "?", "h*"]).into(),
            ],
            8 => vec!["rpush".into(), k(rng), w(rng)],
            9 => vec!["dbsize".into()],
            10 => vec![rng.pick(&["rename", "renamenx"]).into(), k(rng), k(rng)],
            11 => {
                let mut c = vec!["copy".into(), k(rng), k(rng)];
                for _ in 0..rng.below(3) {
                    c.push(rng.pick(&["replace", "db", "DB", "bogus"]).into());
                    if rng.below(2) == 0 {
                        c.push(rng.pick(&["0", "1", "16", "x", "-1"]).into());
                    }
                }
                c
            }
            12 => vec![
                "move".into(),
                k(rng),
                rng.pick(&["0", "1", "2", "16", "x"]).into(),
            ],
            13 => vec![
                "swapdb".into(),
                rng.pick(&["0", "1", "x", "16"]).into(),
                rng.pick(&["0", "1", "y", "-1"]).into(),
            ],
            _ => vec!["select".into(), rng.pick(&["0", "1"]).into()],
        },
        "lists" => match rng.below(14) {
            0 => vec!["lpush".into(), k(rng), w(rng), w(rng)],
            1 => vec!["rpush".into(), k(rng), w(rng)],
            2 => vec!["lpushx".into(), k(rng), w(rng)],
            3 => vec!["lpop".into(), k(rng)],
            4 => vec!["rpop".into(), k(rng), i(rng)],
            5 => vec!["llen".into(), k(rng)],
            6 => vec!["lrange".into(), k(rng), i(rng), i(rng)],
            7 => vec!["lindex".into(), k(rng), i(rng)],
            8 => vec!["set".into(), k(rng), w(rng)],
            9 => vec!["lpop".into(), k(rng), i(rng), "1".into()],
            10 => vec!["lset".into(), k(rng), i(rng), w(rng)],
            11 => vec!["lrem".into(), k(rng), i(rng), w(rng)],
            12 => vec!["ltrim".into(), k(rng), i(rng), i(rng)],
            _ => vec![
                "linsert".into(),
                k(rng),
                rng.pick(&["before", "AFTER", "middle"]).into(),
                w(rng),
                w(rng),
            ],
        },
        "hashes" => match rng.below(13) {
            0 => vec!["hset".into(), k(rng), w(rng), w(rng), w(rng), w(rng)],
            1 => vec!["hset".into(), k(rng), w(rng)],
            2 => vec!["hget".into(), k(rng), w(rng)],
            3 => vec!["hdel".into(), k(rng), w(rng), w(rng)],
            4 => vec!["hlen".into(), k(rng)],
            5 => vec!["hexists".into(), k(rng), w(rng)],
            6 => vec!["hgetall".into(), k(rng)],
            7 => vec!["hmset".into(), k(rng), w(rng), w(rng)],
            8 => vec!["hsetnx".into(), k(rng), w(rng), w(rng)],
            9 => vec!["hmget".into(), k(rng), w(rng), w(rng)],
            10 => vec!["hincrby".into(), k(rng), w(rng), i(rng)],
            11 => vec![rng.pick(&["hkeys", "hvals"]).into(), k(rng)],
            _ => vec!["hstrlen".into(), k(rng), w(rng)],
        },
        "sets" => match rng.below(7) {
            0 => vec!["sadd".into(), k(rng), w(rng), w(rng)],
            1 => vec!["srem".into(), k(rng), w(rng)],
            2 => vec!["scard".into(), k(rng)],
            3 => vec!["sismember".into(), k(rng), w(rng)],
            4 => vec!["smembers".into(), k(rng)],
            5 => vec!["spop".into(), k(rng), "0".into()],
            _ => vec!["spop".into(), k(rng), i(rng), "x".into()],
        },
        "transactions" => match rng.below(12) {
            0..=1 => vec!["multi".into()],
            2..=3 => vec!["exec".into()],
            4 => vec!["discard".into()],
            5 => vec!["nosuch".into(), k(rng)],
            6 => vec!["get".into()],
            7 => vec!["incr".into(), k(rng)],
            8 => vec!["rpush".into(), k(rng), w(rng)],
            9 => vec!["get".into(), k(rng)],
            10 => vec!["exec".into(), "x".into()],
            _ => vec!["set".into(), k(rng), w(rng)],
        },
        _ => match rng.below(9) {
            0 => {
                let mut c = vec!["zadd".into(), k(rng)];
                for _ in 0..rng.below(3) {
                    c.push(rng.pick(&["nx", "xx", "gt", "lt", "ch", "incr"]).into());
                }
                for _ in 0..1 + rng.below(2) {
                    c.push(f(rng));
                    c.push(w(rng));
                }
                c
            }
            1 => vec!["zincrby".into(), k(rng), f(rng), w(rng)],
            2 => vec!["zscore".into(), k(rng), w(rng)],
            3 => vec!["zcard".into(), k(rng)],
            4 => vec!["zrem".into(), k(rng), w(rng), w(rng)],
            5 => vec!["zpopmin".into(), k(rng)],
            6 => vec!["zpopmax".into(), k(rng), i(rng)],
            7 => vec!["zadd".into(), k(rng), f(rng)],
            _ => vec!["type".into(), k(rng)],
        },
    };
    if rng.below(20) == 0 {
        // Command names in any case.
        cmd[0] = cmd[0].to_uppercase();
    }
    cmd
}

/// Whether Redis leaves the order of this command's array reply to its hash tables.
fn unordered(cmd: &[String]) -> bool {
    matches!(cmd[0].to_lowercase().as_str(), "smembers" | "keys")
}

fn differential(family: &str, commands: usize) {
    let seed = std::env::var("KV_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(7, |d| d.as_nanos() as u64)
                | 1
        });
    let redis = Redis::start(family);
    let (guest, port) = kv();
    let mut theirs = Conn::open(redis.port);
    let mut ours = Conn::open(port);
    let mut rng = Rng(seed);
    let mut history = Vec::new();
    for n in 0..commands {
        let cmd = command(&mut rng, family);
        let (a, b) = (theirs.call(&cmd), ours.call(&cmd));
        history.push(cmd.join(" "));
        let same = if unordered(&cmd) && !a.items.is_empty() {
            let (mut x, mut y) = (a.items.clone(), b.items.clone());
            x.sort();
            y.sort();
            x == y
        } else {
            a.bytes == b.bytes
        };
        assert!(
            same,
            "{family} (KV_DIFF_SEED={seed}), command {n}: {:?}\n redis: {:?}\n    kv: {:?}\nlast commands: {:?}",
            cmd,
            String::from_utf8_lossy(&a.bytes),
            String::from_utf8_lossy(&b.bytes),
            &history[history.len().saturating_sub(8)..]
        );
    }
    guest.stop();
}

#[test]
fn strings_reply_as_redis_does() {
    differential("strings", 2000);
}

#[test]
fn keys_reply_as_redis_does() {
    differential("keys", 1000);
}

#[test]
fn lists_reply_as_redis_does() {
    differential("lists", 1000);
}

#[test]
fn hashes_reply_as_redis_does() {
    differential("hashes", 1000);
}

#[test]
fn sets_reply_as_redis_does() {
    differential("sets", 1000);
}

#[test]
fn sorted_sets_reply_as_redis_does() {
    differential("zsets", 1000);
}

#[test]
fn transactions_reply_as_redis_does() {
    differential("transactions", 1000);
}
