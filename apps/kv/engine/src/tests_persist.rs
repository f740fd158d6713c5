//! Persistence: random command sessions whose changes go to a map standing in for the
//! store; loading the map must give back the live keyspace, and a crash between any two
//! batches of a command must leave every key as it was before the command or after it.

use super::*;
use crate::keyspace::Keyspace;
use crate::keyspace::Value;
use crate::{Client, Server};
use alloc::collections::{BTreeMap, BTreeSet};
use std::format;
use std::string::String;
use std::vec;

/// A value as it compares across a restart (a hash's order is not kept).
#[derive(Clone, Debug, PartialEq)]
enum Plain {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(BTreeMap<Vec<u8>, u64>),
}

type Snapshot = BTreeMap<(usize, Vec<u8>), (Plain, Option<u64>)>;

fn snapshot(ks: &Keyspace, now: u64) -> Snapshot {
    let mut out = BTreeMap::new();
    for (db, map) in ks.dbs.iter().enumerate() {
        for (k, e) in map {
            if e.expires_at.is_some_and(|t| t <= now) {
                continue;
            }
            let plain = match &e.value {
                Value::Str(s) => Plain::Str(s.clone()),
                Value::List(l) => Plain::List(l.iter().cloned().collect()),
                Value::Hash(h) => Plain::Hash(h.iter().cloned().collect()),
                Value::Set(s) => Plain::Set(s.iter().cloned().collect()),
                Value::ZSet(z) => {
                    Plain::ZSet(z.iter().map(|(m, s)| (m.to_vec(), s.to_bits())).collect())
                }
            };
            out.insert((db, k.clone()), (plain, e.expires_at));
        }
    }
    out
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// A random command touching a few keys of every type (`now`: the session's clock, for
/// absolute expiry times).
fn command(r: &mut Rng, now: u64) -> Vec<Vec<u8>> {
    let key = format!("k{}", r.below(6));
    let other = format!("k{}", r.below(6));
    let el = format!("e{}", r.below(12));
    let n = format!("{}", r.below(9) as i64 - 3);
    let big = "x".repeat(r.below(3) as usize * 3000 + 1);
    let side = |r: &mut Rng| String::from(r.pick(&["left", "right"]));
    // Keys mostly of one type (by prefix; any `k` key at times), so that the commands
    // between keys (LMOVE, the STOREs) find what they want often enough.
    let typed = |r: &mut Rng, prefix: &str| {
        if r.below(4) == 0 {
            format!("k{}", r.below(6))
        } else {
            format!("{prefix}{}", r.below(3))
        }
    };
    let words: Vec<String> = match r.below(56) {
        0 => vec!["set".into(), typed(r, "t"), format!("{}", r.below(100))],
        1 => vec![
            "set".into(),
            key,
            big,
            "px".into(),
            format!("{}", r.below(3000) + 1),
        ],
        2 => vec!["append".into(), key, big],
        3 => vec!["setrange".into(), key, format!("{}", r.below(5000)), el],
        4 => vec!["incr".into(), key],
        5 => vec!["del".into(), key, other],
        6 => vec!["pexpire".into(), key, format!("{}", r.below(4000))],
        7 => vec!["persist".into(), key],
        8 => vec!["rename".into(), key, other],
        9 => vec![
            "copy".into(),
            key,
            other,
            "db".into(),
            format!("{}", r.below(3)),
            "replace".into(),
        ],
        10 => vec!["move".into(), key, format!("{}", r.below(3))],
        11 => vec![
            "swapdb".into(),
            format!("{}", r.below(3)),
            format!("{}", r.below(3)),
        ],
        12 if r.below(4) == 0 => vec!["flushdb".into()],
        13 if r.below(8) == 0 => vec!["flushall".into()],
        14 => vec!["select".into(), format!("{}", r.below(3))],
        15 | 16 => {
            let mut w = vec![r.pick(&["lpush", "rpush"]).into(), typed(r, "l")];
            for _ in 0..=r.below(40) {
                w.push(format!("v{}", r.below(100)));
            }
            w
        }
        17 => vec![
            r.pick(&["lpop", "rpop"]).into(),
            key,
            format!("{}", r.below(30)),
        ],
        18 => vec!["lset".into(), key, n, el],
        19 => vec!["lrem".into(), key, n, format!("v{}", r.below(100))],
        20 => vec![
            "ltrim".into(),
            key,
            n,
            format!("{}", r.below(40) as i64 - 5),
        ],
        21 => vec![
            "linsert".into(),
            key,
            r.pick(&["before", "after"]).into(),
            format!("v{}", r.below(100)),
            el,
        ],
        22 | 23 => {
            let mut w = vec!["hset".into(), typed(r, "h")];
            for _ in 0..=r.below(20) {
                w.push(format!("f{}", r.below(30)));
                w.push(format!("v{}", r.below(100)));
            }
            w
        }
        24 => vec![
            "hdel".into(),
            key,
            format!("f{}", r.below(30)),
            format!("f{}", r.below(30)),
        ],
        25 => vec!["hincrby".into(), key, format!("f{}", r.below(30)), n],
        26 | 27 => {
            let mut w = vec!["sadd".into(), typed(r, "s")];
            for _ in 0..=r.below(20) {
                w.push(format!("m{}", r.below(50)));
            }
            w
        }
        28 => vec!["srem".into(), key, format!("m{}", r.below(50))],
        29 => vec!["spop".into(), key, format!("{}", r.below(5))],
        30 | 31 => {
            let mut w = vec!["zadd".into(), typed(r, "z")];
            for _ in 0..=r.below(20) {
                w.push(format!("{}", r.below(100) as f64 / 4.0));
                w.push(format!("m{}", r.below(50)));
            }
            w
        }
        32 => vec!["zrem".into(), key, format!("m{}", r.below(50))],
        33 => vec![
            r.pick(&["zpopmin", "zpopmax"]).into(),
            key,
            format!("{}", r.below(5)),
        ],
        34 => vec![
            "zincrby".into(),
            key,
            "1.5".into(),
            format!("m{}", r.below(50)),
        ],
        35 => vec!["multi".into()],
        36 => vec!["exec".into()],
        37 => {
            // A big list: whole writes of more than one batch.
            let mut w = vec!["rpush".into(), key];
            for i in 0..600 {
                w.push(format!("long-element-{i}"));
            }
            w
        }
        38 | 53 => vec![
            "lmove".into(),
            typed(r, "l"),
            typed(r, "l"),
            side(r),
            side(r),
        ],
        39 => vec!["rpoplpush".into(), typed(r, "l"), typed(r, "l")],
        40 => vec![
            "lmpop".into(),
            "2".into(),
            typed(r, "l"),
            typed(r, "l"),
            side(r),
            "count".into(),
            format!("{}", r.below(30) + 1),
        ],
        41 | 52 => vec![
            "smove".into(),
            typed(r, "s"),
            typed(r, "s"),
            format!("m{}", r.below(50)),
        ],
        42 => vec![
            r.pick(&["sinterstore", "sunionstore", "sdiffstore"]).into(),
            typed(r, "s"),
            typed(r, "s"),
            typed(r, "s"),
        ],
        43 => {
            let input = r.pick(&["z", "s"]);
            let mut w = vec![
                r.pick(&["zunionstore", "zinterstore"]).into(),
                typed(r, "z"),
                "2".into(),
                typed(r, input),
                typed(r, "z"),
            ];
            if r.below(2) == 0 {
                w.extend(["weights".into(), n.clone(), "0.5".into()]);
            }
            if r.below(2) == 0 {
                w.extend(["aggregate".into(), r.pick(&["sum", "min", "max"]).into()]);
            }
            w
        }
        44 => vec![
            "zremrangebyrank".into(),
            typed(r, "z"),
            n,
            format!("{}", r.below(40) as i64 - 5),
        ],
        45 => vec![
            "zremrangebyscore".into(),
            typed(r, "z"),
            format!("({}", r.below(30)),
            format!("{}", r.below(30)),
        ],
        46 => vec![
            "zremrangebylex".into(),
            typed(r, "z"),
            r.pick(&["-", "[m1", "(m3"]).into(),
            r.pick(&["+", "[m4", "(m2"]).into(),
        ],
        47 => vec![
            "incrbyfloat".into(),
            typed(r, "t"),
            r.pick(&["0.1", "-2.5", "1e10", "x", "inf"]).into(),
        ],
        48 => vec![
            "hincrbyfloat".into(),
            typed(r, "h"),
            format!("f{}", r.below(30)),
            r.pick(&["0.1", "-2.5", "1e10", "x", "inf"]).into(),
        ],
        49 => {
            let mut w = vec!["getex".into(), typed(r, "t")];
            match r.below(5) {
                0 => w.extend(["px".into(), format!("{}", r.below(3000) + 1)]),
                1 => w.extend(["exat".into(), "1000000000".into()]),
                2 => w.extend(["pxat".into(), format!("{}", now + r.below(4000))]),
                3 => w.push("persist".into()),
                _ => {}
            }
            w
        }
        50 | 51 => {
            // Big sets and sorted sets: stored results of more than one batch.
            let (cmd, scored) = if r.below(2) == 0 {
                ("sadd", false)
            } else {
                ("zadd", true)
            };
            let mut w = vec![cmd.into(), typed(r, if scored { "z" } else { "s" })];
            for i in 0..300 {
                if scored {
                    w.push(format!("{}", r.below(10)));
                }
                w.push(format!("long-member-{}", i * 7 % 311));
            }
            w
        }
        _ => vec!["get".into(), key],
    };
    words.into_iter().map(String::into_bytes).collect()
}

/// Purges resolved against `map`, as the app resolves them against the store's index.
fn resolve(map: &BTreeMap<Vec<u8>, Vec<u8>>, ops: Vec<Op>) -> Vec<Op> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Purge { prefix, keep } => {
                for k in map
                    .range(prefix.clone()..)
                    .take_while(|(k, _)| k.starts_with(&prefix))
                    .map(|(k, _)| k)
                {
                    if purges(&prefix, keep, k) {
                        out.push(Op::Delete { key: k.clone() });
                    }
                }
            }
            op => out.push(op),
        }
    }
    out
}

fn reload(map: &BTreeMap<Vec<u8>, Vec<u8>>, now: u64) -> Loaded {
    load(map.clone(), now).expect("the records load")
}

#[test]
fn restarts_give_back_the_keyspace_and_crashes_leave_each_key_before_or_after() {
    let mut crashes = 0;
    let mut splits = 0;
    for seed in 0..40u64 {
        let mut r = Rng(seed * 7919 + 1);
        let mut server = Server::new();
        server.persistent = true;
        let mut client = Client::default();
        let mut map: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut now = 1_700_000_000_000u64;
        for step in 0..400 {
            now += r.below(200);
            let before = snapshot(&server.keyspace, now);
            let args = command(&mut r, now);
            let mut out = Vec::new();
            server.execute(&mut client, &args, now, &mut out);
            let ops = resolve(&map, core::mem::take(&mut server.changes));
            let batches = split(&ops, 2048, 16);
            splits += batches.len().saturating_sub(1);
            let after = snapshot(&server.keyspace, now);
            // A crash after some of the batches: every key is as before or as after. (Not
            // checked for a transaction: one that does not fit in one batch is atomic per
            // key and command, not as a whole.)
            let exec = args[0] == b"exec";
            if !exec && !batches.is_empty() && (batches.len() > 1 || r.below(3) == 0) {
                let cut = r.below(batches.len() as u64) as usize;
                let mut crashed = map.clone();
                for b in &batches[..cut] {
                    apply(&mut crashed, &ops[b.clone()]);
                }
                let got = snapshot(&reload(&crashed, now).keyspace, now);
                let keys: BTreeSet<_> = before
                    .keys()
                    .chain(after.keys())
                    .chain(got.keys())
                    .collect();
                for k in keys {
                    let g = got.get(k);
                    assert!(
                        g == before.get(k) || g == after.get(k),
                        "seed {seed} step {step} {:?} cut {cut}/{}: key {k:?} is {:?}, \
                         before {:?}, after {:?}",
                        String::from_utf8_lossy(&args.concat()[..args.concat().len().min(80)]),
                        batches.len(),
                        g.map(|v| format!("{v:?}").chars().take(80).collect::<String>()),
                        before
                            .get(k)
                            .map(|v| format!("{v:?}").chars().take(80).collect::<String>()),
                        after
                            .get(k)
                            .map(|v| format!("{v:?}").chars().take(80).collect::<String>()),
                    );
                }
                crashes += 1;
            }
            for b in &batches {
                apply(&mut map, &ops[b.clone()]);
            }
            if let Err(e) = load(map.clone(), now) {
                let ops: Vec<String> = ops.iter().map(|o| format!("{o:?}")).collect();
                panic!(
                    "seed {seed} step {step}: {args:?} left records that do not load ({e:?}): {ops:?}"
                );
            }
            if step % 25 == 0 || step == 399 {
                let loaded = reload(&map, now);
                assert_eq!(
                    snapshot(&loaded.keyspace, now),
                    after,
                    "seed {seed} step {step}"
                );
                assert_eq!(loaded.keys, after.len(), "seed {seed} step {step}");
                // Only expired keys' records are stale after a clean run.
                let mut cleaned = map.clone();
                for k in &loaded.stale {
                    cleaned.remove(k);
                }
                let again = reload(&cleaned, now);
                assert!(again.stale.iter().all(|k| loaded.stale.contains(k)) || loaded.expired > 0);
                assert_eq!(snapshot(&again.keyspace, now), after);
                // And the loaded keyspace goes on: a restart in the middle of the session.
                if r.below(3) == 0 {
                    for k in &loaded.stale {
                        map.remove(k);
                    }
                    server.keyspace = loaded.keyspace;
                }
            }
        }
    }
    assert!(crashes > 1000, "{crashes} crashes");
    assert!(splits > 50, "{splits} splits");
}

#[test]
fn changes_in_place_are_in_proportion_to_their_size() {
    let mut server = Server::new();
    server.persistent = true;
    let mut client = Client::default();
    let now = 1_700_000_000_000;
    let mut run = |words: &[&str]| {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        server.execute(&mut client, &args, now, &mut Vec::new());
        core::mem::take(&mut server.changes)
    };
    let mut push = vec!["rpush", "l"];
    let elements: Vec<String> = (0..1000).map(|i| format!("element-{i}")).collect();
    push.extend(elements.iter().map(String::as_str));
    assert_eq!(run(&push).len(), 1001);
    // One element and the metadata; a pop deletes one record.
    assert_eq!(run(&["lpush", "l", "x"]).len(), 2);
    assert_eq!(run(&["rpop", "l"]).len(), 2);
    assert_eq!(run(&["lset", "l", "500", "y"]).len(), 2);
    let mut hset = vec!["hset", "h"];
    for e in &elements {
        hset.push(e);
        hset.push("v");
    }
    run(&hset);
    assert_eq!(run(&["hset", "h", "element-3", "w"]).len(), 2);
    assert_eq!(run(&["hdel", "h", "element-4"]).len(), 2);
    // An expiry is the metadata only; a read is nothing.
    assert_eq!(run(&["expire", "h", "100"]).len(), 1);
    assert!(run(&["hget", "h", "element-3"]).is_empty());
    assert!(run(&["lrange", "l", "0", "-1"]).is_empty());
}
