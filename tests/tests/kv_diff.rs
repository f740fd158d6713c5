//! Differential tests: the same command sessions against Debian's Redis 7.0 (run natively
//! on 127.0.0.1) and against apps/kv in QEMU, replies compared byte for byte.
//!
//! Redis comes from `redis-tools` (which `scripts/test.sh` installs): its
//! `redis-check-rdb` is the whole server, and runs as one when called `redis-server`.
//! Sessions are random, seeded per family (printed, and replayed with `KV_DIFF_SEED`; with
//! `KV_DIFF_PORT` they talk to a server already listening on 127.0.0.1 instead of a guest;
//! `KV_DIFF_SHOW` prints each command and this server's reply), over
//! a few keys so that types collide; commands whose reply order Redis leaves to its hash
//! tables (`SMEMBERS`, `KEYS`) are compared as sorted lists.
//!
//! Some replies are not meant to be Redis's bytes, and are judged by [`Compare`] instead:
//! random picks (`SRANDMEMBER`, `HRANDFIELD`, `RANDOMKEY`) by count and membership, whole
//! `SCAN` walks by the set of elements they return, descriptions of the server
//! (`COMMAND INFO`, `CLIENT LIST`, `HELLO`, `INFO`, `TIME`) by the parts that must agree.

#[path = "kv_diff/checks.rs"]
mod checks;
#[path = "kv_diff/writes.rs"]
mod writes;

use checks::{Resp, Walk};
use std::collections::BTreeSet;

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
        "reads" => reads_command(rng),
        "zranges" => zrange_command(rng),
        "server" => server_command(rng),
        "scans" => scan_command(rng),
        "moves" => writes::moves_command(rng),
        "stores" => writes::stores_command(rng),
        "floats" => writes::floats_command(rng),
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

/// Fewer keys than [`KEYS`], for families whose commands need collections to read.
const FEW_KEYS: &[&str] = &["a", "b", "c", "a", "b", "c", "k1", ""];

/// A key for a command on `kind`'s keys: mostly one of `kind`'s, sometimes any other
/// (for wrong types and missing keys).
fn key_of(rng: &mut Rng, kind: &[&str]) -> String {
    if rng.below(8) == 0 {
        rng.pick(&["l1", "s1", "h1", "t1", "z1", "none"]).into()
    } else {
        rng.pick(kind).into()
    }
}

const LISTS: &[&str] = &["l1", "l2"];
const SETS: &[&str] = &["s1", "s2", "s3"];
const HASHES: &[&str] = &["h1", "h2"];
const STRINGS: &[&str] = &["t1", "t2", "t3"];
const ZSETS: &[&str] = &["z1", "z2", "z3"];

/// Strings for `LCS`, which has more to say about longer ones.
const TEXTS: &[&str] = &[
    "ohmytext",
    "mynewtext",
    "abcabcabc",
    "cbacbacba",
    "a",
    "",
    "aaaa",
];
/// Counts for the random picks: none huge, but for Redis's range error.
const PICKS: &[&str] = &[
    "0",
    "1",
    "2",
    "5",
    "-1",
    "-3",
    "-7",
    "x",
    "-9223372036854775808",
];
/// `LPOS`'s option values.
const RANKS: &[&str] = &["1", "-1", "2", "-2", "0", "x", "3", "-9223372036854775808"];

fn pushed(rng: &mut Rng, cmd: &str, key: String, n: u64) -> Vec<String> {
    let mut c = vec![cmd.to_string(), key];
    for _ in 0..n {
        c.push(rng.pick(WORDS).into());
    }
    c
}

/// The `reads` family: `LPOS`, `SMISMEMBER`, the random picks, set algebra and `LCS`,
/// among the writes that shape what they read.
fn reads_command(rng: &mut Rng) -> Vec<String> {
    let l = |rng: &mut Rng| key_of(rng, LISTS);
    let k = |rng: &mut Rng| key_of(rng, SETS);
    let h = |rng: &mut Rng| key_of(rng, HASHES);
    let t = |rng: &mut Rng| key_of(rng, STRINGS);
    let w = |rng: &mut Rng| rng.pick(WORDS).to_string();
    match rng.below(16) {
        0 => {
            let (key, n) = (l(rng), 1 + rng.below(4));
            pushed(rng, "rpush", key, n)
        }
        1 | 2 => {
            let mut c = vec!["lpos".into(), l(rng), w(rng)];
            for _ in 0..rng.below(4) {
                c.push(
                    rng.pick(&["rank", "count", "maxlen", "RANK", "bogus"])
                        .into(),
                );
                if rng.below(6) > 0 {
                    c.push(rng.pick(RANKS).into());
                }
            }
            c
        }
        3 => {
            let (key, n) = (k(rng), 1 + rng.below(4));
            pushed(rng, "sadd", key, n)
        }
        4 => {
            let (key, n) = (k(rng), rng.below(4));
            let mut c = pushed(rng, "smismember", key, n);
            if c.len() == 2 && rng.below(2) == 0 {
                c.push(w(rng));
            }
            c
        }
        5 => {
            let mut c = vec!["srandmember".into(), k(rng)];
            for _ in 0..rng.below(3) {
                c.push(rng.pick(PICKS).into());
            }
            c
        }
        6 => {
            let n = 1 + rng.below(3);
            let mut c = vec![rng.pick(&["sinter", "sunion", "sdiff"]).to_string()];
            for _ in 0..n {
                c.push(k(rng));
            }
            c
        }
        7 => {
            let mut c = vec![
                "sintercard".into(),
                rng.pick(&["1", "2", "3", "0", "x", "-1"]).into(),
                k(rng),
                k(rng),
            ];
            if rng.below(2) == 0 {
                c.push(rng.pick(&["limit", "LIMIT", "bogus"]).into());
                if rng.below(5) > 0 {
                    c.push(rng.pick(&["0", "1", "2", "-1", "x"]).into());
                }
            }
            c
        }
        8 => {
            let (key, n) = (h(rng), 2 * (1 + rng.below(3)));
            pushed(rng, "hset", key, n)
        }
        9 => {
            let mut c = vec!["hrandfield".into(), h(rng)];
            if rng.below(4) > 0 {
                c.push(rng.pick(PICKS).into());
                if rng.below(2) == 0 {
                    c.push(rng.pick(&["withvalues", "WITHVALUES", "bogus"]).into());
                }
            }
            c
        }
        10 => vec!["set".into(), t(rng), rng.pick(TEXTS).into()],
        11 | 12 => {
            let mut c = vec!["lcs".into(), t(rng), t(rng)];
            for _ in 0..rng.below(4) {
                c.push(
                    rng.pick(&["len", "idx", "minmatchlen", "withmatchlen", "IDX", "bogus"])
                        .into(),
                );
                if rng.below(3) == 0 {
                    c.push(rng.pick(&["0", "1", "2", "4", "-1", "x"]).into());
                }
            }
            c
        }
        13 => {
            let key = rng.pick(&["l1", "l2", "s1", "s2", "s3", "h1", "h2", "t1", "t2"]);
            vec!["del".into(), key.into()]
        }
        14 => match rng.below(3) {
            0 => vec!["srem".into(), k(rng), w(rng)],
            1 => vec!["hdel".into(), h(rng), w(rng)],
            _ => vec!["lrem".into(), l(rng), "0".into(), w(rng)],
        },
        _ => vec!["lpos".into(), l(rng)],
    }
}

/// Score bounds: open and closed, infinite, hex, a leading space, and wrong ones.
const SCORES: &[&str] = &[
    "-inf", "+inf", "inf", "(1", "1", "0", "2.5", "(2.5", "x", "(", "nan", "1e3", "(inf", "-1",
    "(-1", "0x10", " 1", "(-inf", "1e", "",
];
/// Lex bounds, and wrong ones.
const LEXES: &[&str] = &[
    "-", "+", "[a", "(a", "[b", "(c", "[x y", "a", "", "[", "(", "+x", "[10", "(10", "[-3",
];
/// Ranks and `LIMIT` values.
const RANKS_Z: &[&str] = &["0", "1", "-1", "2", "-2", "5", "x", "100", "-100"];

/// The `zranges` family: every form of `ZRANGE` and the older range commands, `ZCOUNT`,
/// `ZLEXCOUNT`, `ZRANK`, `ZMSCORE`, among `ZADD`s (some with one score, for lex ranges).
fn zrange_command(rng: &mut Rng) -> Vec<String> {
    let k = |rng: &mut Rng| key_of(rng, ZSETS);
    let w = |rng: &mut Rng| rng.pick(WORDS).to_string();
    let bound = |rng: &mut Rng, by: u64| -> String {
        match by {
            0 => rng.pick(RANKS_Z),
            1 => rng.pick(SCORES),
            _ => rng.pick(LEXES),
        }
        .to_string()
    };
    let limit = |rng: &mut Rng, c: &mut Vec<String>| {
        c.push(rng.pick(&["limit", "LIMIT"]).into());
        c.push(rng.pick(&["0", "1", "2", "-1", "x"]).into());
        c.push(rng.pick(&["0", "1", "3", "-1", "-5", "x"]).into());
    };
    match rng.below(17) {
        0..=3 => {
            let mut c = vec!["zadd".into(), k(rng)];
            let same = rng.below(2) == 0;
            for _ in 0..1 + rng.below(5) {
                c.push(if same {
                    "0".into()
                } else {
                    rng.pick(&["1", "2", "-1", "2.5", "inf", "-inf", "0.1", "1e3"])
                        .into()
                });
                c.push(w(rng));
            }
            c
        }
        4..=6 => {
            let by = rng.below(3);
            let mut c = vec!["zrange".into(), k(rng), bound(rng, by), bound(rng, by)];
            match by {
                1 => c.push(rng.pick(&["byscore", "BYSCORE"]).into()),
                2 => c.push("bylex".into()),
                _ => {}
            }
            for _ in 0..rng.below(3) {
                match rng.below(6) {
                    0 => limit(rng, &mut c),
                    1 | 2 => c.push("rev".into()),
                    3 | 4 => c.push("withscores".into()),
                    _ => c.push(rng.pick(&["byscore", "bylex", "bogus"]).into()),
                }
            }
            c
        }
        7 => {
            let cmd = rng.pick(&["zrangebyscore", "zrevrangebyscore"]);
            let mut c = vec![cmd.into(), k(rng), bound(rng, 1), bound(rng, 1)];
            if rng.below(2) == 0 {
                c.push("withscores".into());
            }
            if rng.below(2) == 0 {
                limit(rng, &mut c);
            }
            c
        }
        8 => {
            let cmd = rng.pick(&["zrangebylex", "zrevrangebylex"]);
            let mut c = vec![cmd.into(), k(rng), bound(rng, 2), bound(rng, 2)];
            if rng.below(3) == 0 {
                limit(rng, &mut c);
            }
            if rng.below(8) == 0 {
                c.push("withscores".into());
            }
            c
        }
        9 => {
            let mut c = vec!["zrevrange".into(), k(rng), bound(rng, 0), bound(rng, 0)];
            if rng.below(2) == 0 {
                c.push(rng.pick(&["withscores", "rev", "bogus"]).into());
            }
            c
        }
        10 => vec!["zcount".into(), k(rng), bound(rng, 1), bound(rng, 1)],
        11 => vec!["zlexcount".into(), k(rng), bound(rng, 2), bound(rng, 2)],
        12 => vec![rng.pick(&["zrank", "zrevrank"]).into(), k(rng), w(rng)],
        13 => vec!["zmscore".into(), k(rng), w(rng), w(rng)],
        14 => vec!["zrem".into(), k(rng), w(rng)],
        15 if rng.below(4) == 0 => vec!["set".into(), "t1".into(), w(rng)],
        _ => vec![rng.pick(&["del", "type", "zcard"]).into(), k(rng)],
    }
}

/// Configuration names whose values this server and the native one share.
const CONFIG_NAMES: &[&str] = &[
    "maxmemory",
    "maxmemory-policy",
    "databases",
    "timeout",
    "save",
    "appendonly",
    "appendfsync",
    "hash-max-listpack-entries",
    "zset-max-ziplist-value",
    "set-max-intset-entries",
    "tcp-keepalive",
    "hz",
    "maxclients",
    "lfu-log-factor",
    "proto-max-bulk-len",
    "nosuch",
    "MAXMEMORY",
    "hash-max-*",
    "*max-listpack*",
    "maxmemory-p*",
    "lazyfree-lazy-*",
    "list-max-*",
];

/// Commands this server describes as Redis does.
const COMMAND_NAMES: &[&str] = &[
    "get",
    "set",
    "zrange",
    "client",
    "config",
    "lpos",
    "scan",
    "nosuch",
    "client|list",
    "CONFIG|GET",
    "object",
    "command",
    "hello",
    "sintercard",
    "lcs",
    "info",
    "del",
];

/// The `server` family: `OBJECT`, `CONFIG`, `CLIENT`, `HELLO`, `TIME`, `COMMAND INFO` and
/// `DOCS`, `INFO`, `RANDOMKEY`, among writes of every type (no `APPEND`, `SETRANGE` or
/// removals from sets: Redis's encodings remember those, this server's do not).
fn server_command(rng: &mut Rng) -> Vec<String> {
    let k = |rng: &mut Rng| rng.pick(FEW_KEYS).to_string();
    let w = |rng: &mut Rng| rng.pick(WORDS).to_string();
    match rng.below(24) {
        0 => vec![
            "object".into(),
            rng.pick(&["encoding", "refcount", "ENCODING", "freq", "idletime"])
                .into(),
            k(rng),
        ],
        1 => vec![
            "object".into(),
            rng.pick(&["encoding", "help", "nosuch", "refcount"]).into(),
        ],
        2 => vec!["object".into(), "help".into()],
        3 => vec!["set".into(), k(rng), w(rng)],
        4 => {
            if rng.below(2) == 0 {
                vec!["incr".into(), k(rng)]
            } else {
                vec![
                    "incrby".into(),
                    k(rng),
                    rng.pick(&["1", "9998", "-3"]).into(),
                ]
            }
        }
        5 => {
            let (cmd, key, n) = (rng.pick(&["rpush", "sadd"]), k(rng), 1 + rng.below(3));
            pushed(rng, cmd, key, n)
        }
        6 => vec!["hset".into(), k(rng), w(rng), w(rng)],
        7 => vec![
            "zadd".into(),
            k(rng),
            rng.pick(&["1", "2.5", "-1"]).into(),
            w(rng),
        ],
        8 => match rng.below(3) {
            0 => vec!["dbsize".into()],
            1 => vec!["type".into(), k(rng)],
            _ => vec!["del".into(), k(rng)],
        },
        9 => {
            let mut c = vec!["config".into(), "get".into(), rng.pick(CONFIG_NAMES).into()];
            if rng.below(4) == 0 {
                c.push(rng.pick(CONFIG_NAMES).into());
            }
            c
        }
        10 => {
            let (name, values): (&str, &[&str]) = match rng.below(7) {
                0 => ("timeout", &["0", "300", "-1", "010", "x"]),
                1 => ("hz", &["10", "50", "x"]),
                2 => (
                    "maxmemory-policy",
                    &["noeviction", "allkeys-lru", "VOLATILE-TTL", "foo"],
                ),
                3 => ("maxmemory", &["0", "-1", "1x"]),
                4 => ("databases", &["16", "2"]),
                5 => ("nosuch", &["1"]),
                _ => ("protected-mode", &["yes", "NO", "maybe"]),
            };
            let mut c = vec![
                "config".into(),
                "set".into(),
                name.into(),
                rng.pick(values).into(),
            ];
            if rng.below(5) == 0 {
                c.push("timeout".into());
                if rng.below(2) == 0 {
                    c.push("0".into());
                }
            }
            c
        }
        11 => vec![
            "config".into(),
            rng.pick(&["resetstat", "nosuch", "help", "rewrite", "get"])
                .into(),
        ],
        // CLIENT HELP differs: this server has fewer subcommands.
        12 => vec![
            "client".into(),
            rng.pick(&["getname", "id", "list", "info", "nosuch"])
                .into(),
        ],
        13 => vec![
            "client".into(),
            "setname".into(),
            rng.pick(&["conn1", "", "a b", "x\ny", "name-2"]).into(),
        ],
        14 => {
            let mut c = vec!["client".into(), "list".into()];
            match rng.below(4) {
                0 => c.extend([
                    "type".into(),
                    rng.pick(&["normal", "pubsub", "foo", "master"]).into(),
                ]),
                1 => c.extend(["id".into(), rng.pick(&["x", "999999"]).into()]),
                2 => c.push("type".into()),
                _ => {}
            }
            c
        }
        15 => {
            let mut c = vec!["hello".into()];
            if rng.below(4) > 0 {
                c.push(rng.pick(&["2", "2", "1", "4", "x"]).into());
                for _ in 0..rng.below(3) {
                    match rng.below(3) {
                        0 => c.extend(["setname".into(), rng.pick(&["h1", "a b"]).into()]),
                        1 => c.extend([
                            "auth".into(),
                            rng.pick(&["default", "foo"]).into(),
                            "pw".into(),
                        ]),
                        _ => c.push(rng.pick(&["bogus", "setname", "auth"]).into()),
                    }
                }
            }
            c
        }
        16 => vec!["time".into()],
        17 => {
            let mut c = vec!["command".into(), rng.pick(&["info", "docs"]).into()];
            for _ in 0..1 + rng.below(3) {
                c.push(rng.pick(COMMAND_NAMES).into());
            }
            c
        }
        // COMMAND COUNT and HELP differ: this server has fewer commands (no GETKEYS).
        18 => match rng.below(3) {
            0 => vec!["command".into(), "nosuch".into()],
            _ => vec![
                "command".into(),
                rng.pick(&["count", "help"]).into(),
                "x".into(),
            ],
        },
        19 => vec![
            "info".into(),
            rng.pick(&["keyspace", "KEYSPACE", "nosuch", "cluster"])
                .into(),
        ],
        20 => {
            let mut c = vec!["info".into()];
            if rng.below(2) == 0 {
                let section = rng.pick(&[
                    "server",
                    "all",
                    "default",
                    "everything",
                    "memory",
                    "clients",
                ]);
                c.push(section.into());
            }
            c
        }
        21 => vec!["randomkey".into()],
        22 => vec!["select".into(), rng.pick(&["0", "1"]).into()],
        _ => vec!["time".into(), "x".into()],
    }
}

/// The `scans` family: whole `SCAN`, `SSCAN`, `HSCAN` and `ZSCAN` walks (with `MATCH`,
/// `COUNT`, `TYPE`) over more keys and bigger collections than the other families, as
/// they grow and shrink.
fn scan_command(rng: &mut Rng) -> Vec<String> {
    let k = |rng: &mut Rng| -> String {
        if rng.below(2) == 0 {
            rng.pick(KEYS).to_string()
        } else {
            format!("key:{}", rng.below(60))
        }
    };
    // A collection of one type (`s:`, `h:`, `z:`), or now and then any key.
    let of = |rng: &mut Rng, prefix: &str| -> String {
        if rng.below(8) == 0 {
            k(rng)
        } else {
            format!("{prefix}:{}", rng.below(4))
        }
    };
    let member = |rng: &mut Rng| -> String {
        match rng.below(3) {
            0 => rng.below(40).to_string(),
            1 => format!("m{}", rng.below(200)),
            _ => rng.pick(WORDS).to_string(),
        }
    };
    let options = |rng: &mut Rng, c: &mut Vec<String>, keys: bool| {
        for _ in 0..rng.below(3) {
            match rng.below(if keys { 4 } else { 3 }) {
                0 => {
                    let pattern = rng.pick(&["*", "k*", "key:1*", "?", "*1", "[ks]*", "m*", "1?"]);
                    c.extend(["match".into(), pattern.into()]);
                }
                1 => {
                    let count = rng.pick(&["1", "2", "10", "100", "0", "x", "-1"]);
                    c.extend(["count".into(), count.into()]);
                }
                2 => c.push(rng.pick(&["bogus", "match"]).into()),
                _ => {
                    let t = rng.pick(&[
                        "string", "list", "set", "zset", "hash", "none", "foo", "STRING",
                    ]);
                    c.extend(["type".into(), t.into()]);
                }
            }
        }
    };
    // Cursors: the start, or one that is refused (a walk from anywhere else differs).
    let cursor = |rng: &mut Rng| -> String {
        if rng.below(8) == 0 {
            rng.pick(&["x", " 1", "-1x", "18446744073709551616"]).into()
        } else {
            "0".into()
        }
    };
    match rng.below(14) {
        0 | 1 => vec![rng.pick(&["set", "rpush"]).into(), k(rng), "v".into()],
        2 => {
            let mut c = vec!["sadd".into(), of(rng, "s")];
            for _ in 0..1 + rng.below(12) {
                c.push(member(rng));
            }
            c
        }
        3 => {
            let mut c = vec!["hset".into(), of(rng, "h")];
            for _ in 0..1 + rng.below(8) {
                c.extend([member(rng), member(rng)]);
            }
            c
        }
        4 => {
            // Now and then enough members at once to outgrow a listpack (128).
            let n = if rng.below(6) == 0 {
                60
            } else {
                1 + rng.below(6)
            };
            let mut c = vec!["zadd".into(), of(rng, "z")];
            for _ in 0..n {
                c.extend([rng.pick(&["1", "2", "0.5", "-1", "3"]).into(), member(rng)]);
            }
            c
        }
        5 | 6 => {
            let mut c = vec!["scan".into(), cursor(rng)];
            options(rng, &mut c, true);
            c
        }
        7..=9 => {
            let (cmd, prefix) = match rng.below(3) {
                0 => ("sscan", "s"),
                1 => ("hscan", "h"),
                _ => ("zscan", "z"),
            };
            let mut c = vec![cmd.to_string(), of(rng, prefix), cursor(rng)];
            let with_type = rng.below(8) == 0;
            options(rng, &mut c, with_type);
            c
        }
        10 => {
            let (cmd, prefix) = match rng.below(4) {
                0 => ("del", ""),
                1 => ("srem", "s"),
                2 => ("hdel", "h"),
                _ => ("zrem", "z"),
            };
            if prefix.is_empty() {
                vec![cmd.into(), k(rng)]
            } else {
                vec![cmd.into(), of(rng, prefix), member(rng)]
            }
        }
        11 => vec!["select".into(), rng.pick(&["0", "1"]).into()],
        _ => vec!["randomkey".into()],
    }
}

/// How a command's replies are compared (bytes unless said otherwise).
enum Compare {
    Bytes,
    /// Array items as sorted lists: Redis leaves their order to its hash tables.
    Sorted,
    /// Random picks from what `universe` lists on Redis: `distinct` ones, or `pairs` of
    /// field and value.
    Random {
        universe: Vec<String>,
        distinct: bool,
        pairs: bool,
    },
    /// A whole walk from cursor 0 (the argument at `cursor`), as a set of elements (pairs
    /// of them for hashes and sorted sets).
    Walk {
        cursor: usize,
        pairs: bool,
    },
    Shape,
    ClientLines,
    CommandInfo,
    CommandDocs,
    InfoHeadings,
    Hello,
    ConfigMap,
    Time,
}

fn compare_mode(cmd: &[String]) -> Compare {
    let lower: Vec<String> = cmd.iter().map(|a| a.to_lowercase()).collect();
    let arg = |i: usize| lower.get(i).map_or("", String::as_str);
    match (arg(0), arg(1)) {
        ("smembers" | "keys" | "sinter" | "sunion" | "sdiff", _) => Compare::Sorted,
        ("srandmember", _) => Compare::Random {
            universe: vec!["smembers".into(), cmd[1].clone()],
            distinct: !arg(2).starts_with('-'),
            pairs: false,
        },
        ("hrandfield", _) => Compare::Random {
            universe: if cmd.len() == 4 {
                vec!["hgetall".into(), cmd[1].clone()]
            } else {
                vec!["hkeys".into(), cmd[1].clone()]
            },
            distinct: !arg(2).starts_with('-'),
            pairs: cmd.len() == 4,
        },
        ("randomkey", _) => Compare::Random {
            universe: vec!["keys".into(), "*".into()],
            distinct: true,
            pairs: false,
        },
        ("scan", _) => Compare::Walk {
            cursor: 1,
            pairs: false,
        },
        ("sscan", _) => Compare::Walk {
            cursor: 2,
            pairs: false,
        },
        ("hscan" | "zscan", _) => Compare::Walk {
            cursor: 2,
            pairs: true,
        },
        // Access times are not tracked here: any idle time is an integer.
        ("object", "idletime") | ("client", "id") => Compare::Shape,
        ("client", "list" | "info") => Compare::ClientLines,
        ("command", "info") => Compare::CommandInfo,
        ("command", "docs") => Compare::CommandDocs,
        ("info", "" | "server" | "all" | "default" | "everything" | "memory" | "clients") => {
            Compare::InfoHeadings
        }
        ("hello", _) => Compare::Hello,
        ("config", "get") if cmd.len() > 3 || arg(2).contains(['*', '?', '[']) => {
            Compare::ConfigMap
        }
        ("time", _) => Compare::Time,
        _ => Compare::Bytes,
    }
}

/// Runs a whole walk of `cmd` from its cursor argument at `cursor` to cursor 0.
fn walk(conn: &mut Conn, cmd: &[String], cursor: usize, pairs: bool) -> Walk {
    let mut cmd = cmd.to_vec();
    let mut seen = BTreeSet::new();
    for _ in 0..10_000 {
        let reply = Resp::parse(&conn.call(&cmd).bytes);
        let items = reply.items();
        if items.len() != 2 {
            return Walk::Failed(reply);
        }
        let elements: Vec<String> = items[1].items().iter().map(Resp::text).collect();
        if pairs {
            seen.extend(elements.chunks(2).map(<[String]>::to_vec));
        } else {
            seen.extend(elements.into_iter().map(|e| vec![e]));
        }
        cmd[cursor] = items[0].text();
        if cmd[cursor] == "0" {
            return Walk::Elements(seen);
        }
    }
    panic!("{cmd:?}: the walk did not end");
}

/// Whether the replies of both servers agree as `mode` says (the reason if not).
fn judge(mode: &Compare, a: &Reply, b: &Reply, theirs: &mut Conn) -> Result<(), String> {
    let (x, y) = (Resp::parse(&a.bytes), Resp::parse(&b.bytes));
    match mode {
        Compare::Bytes | Compare::Walk { .. } => (a.bytes == b.bytes)
            .then_some(())
            .ok_or_else(|| String::from("different bytes")),
        Compare::Sorted if !a.items.is_empty() => {
            let (mut p, mut q) = (a.items.clone(), b.items.clone());
            p.sort();
            q.sort();
            (p == q)
                .then_some(())
                .ok_or_else(|| String::from("different items"))
        }
        Compare::Sorted => (a.bytes == b.bytes)
            .then_some(())
            .ok_or_else(|| String::from("different bytes")),
        Compare::Random {
            universe,
            distinct,
            pairs,
        } => {
            let all = Resp::parse(&theirs.call(universe).bytes);
            let all: Vec<String> = all.items().iter().map(Resp::text).collect();
            checks::random_picks(&x, &y, &all, *distinct, *pairs)
        }
        Compare::Shape => checks::same_shape(&x, &y),
        Compare::ClientLines => checks::client_lines(&x, &y),
        Compare::CommandInfo => checks::command_info(&x, &y),
        Compare::CommandDocs => checks::command_docs(&x, &y),
        Compare::InfoHeadings => checks::info_headings(&x, &y),
        Compare::Hello => checks::hello(&x, &y),
        Compare::ConfigMap => checks::config_map(&x, &y),
        Compare::Time => checks::time(&x, &y),
    }
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
    // `KV_DIFF_PORT`: a server already listening on 127.0.0.1 instead of a guest.
    let (guest, port) = match std::env::var("KV_DIFF_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
    {
        Some(port) => (None, port),
        None => {
            let (guest, port) = kv();
            (Some(guest), port)
        }
    };
    let mut theirs = Conn::open(redis.port);
    let mut ours = Conn::open(port);
    let mut rng = Rng(seed);
    let mut history = Vec::new();
    let show = std::env::var("KV_DIFF_SHOW").is_ok();
    for n in 0..commands {
        let cmd = command(&mut rng, family);
        history.push(cmd.join(" "));
        let mode = compare_mode(&cmd);
        let verdict = if let Compare::Walk { cursor, pairs } = mode
            && cmd[cursor] == "0"
        {
            let (a, b) = (
                walk(&mut theirs, &cmd, cursor, pairs),
                walk(&mut ours, &cmd, cursor, pairs),
            );
            if show {
                eprintln!("{cmd:?} -> {b:?}");
            }
            (a == b)
                .then_some(())
                .ok_or(format!("{a:?}\n    kv: {b:?}"))
        } else {
            let (a, b) = (theirs.call(&cmd), ours.call(&cmd));
            if show {
                eprintln!("{cmd:?} -> {:?}", String::from_utf8_lossy(&b.bytes));
            }
            judge(&mode, &a, &b, &mut theirs).map_err(|why| {
                format!(
                    "{why}\n redis: {:?}\n    kv: {:?}",
                    String::from_utf8_lossy(&a.bytes),
                    String::from_utf8_lossy(&b.bytes)
                )
            })
        };
        if let Err(why) = verdict {
            panic!(
                "{family} (KV_DIFF_SEED={seed}), command {n}: {cmd:?}: {why}\nlast commands: {:?}",
                &history[history.len().saturating_sub(8)..]
            );
        }
    }
    if let Some(guest) = guest {
        guest.stop();
    }
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

#[test]
fn collection_reads_reply_as_redis_does() {
    differential("reads", 1500);
}

#[test]
fn sorted_set_ranges_reply_as_redis_does() {
    differential("zranges", 1500);
}

#[test]
fn server_commands_reply_as_redis_does() {
    differential("server", 1000);
}

#[test]
fn scans_return_what_redis_returns() {
    differential("scans", 800);
}

#[test]
fn moves_between_keys_reply_as_redis_does() {
    differential("moves", 1500);
}

#[test]
fn stores_and_range_removals_reply_as_redis_does() {
    differential("stores", 1500);
}

#[test]
fn float_increments_and_getex_reply_as_redis_does() {
    differential("floats", 1500);
}
