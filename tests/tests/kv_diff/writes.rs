//! The families of the writes between keys, the stores and the float increments:
//! `moves` (`LMOVE`, `RPOPLPUSH`, `LMPOP`, `SMOVE`), `stores` (`SINTERSTORE`,
//! `SUNIONSTORE`, `SDIFFSTORE`, `ZUNIONSTORE`, `ZINTERSTORE`, the `ZREMRANGEBY*`s) and
//! `floats` (`INCRBYFLOAT`, `HINCRBYFLOAT`, `GETEX`), each among the writes that shape what
//! they work on and the reads that show what they left (`LRANGE`, `SMEMBERS`, `ZRANGE ...
//! WITHSCORES`, `TTL`, `EXPIRETIME`, `TYPE`).

use super::{HASHES, LISTS, Rng, SCORES, SETS, STRINGS, WORDS, ZSETS, key_of};

/// Members for the writes' collections: few, so that sets overlap.
const MEMBERS: &[&str] = &["a", "b", "c", "d", "10", "-3", "", "x y"];

fn members(rng: &mut Rng, c: &mut Vec<String>, n: u64) {
    for _ in 0..n {
        c.push(rng.pick(MEMBERS).into());
    }
}

/// A key of `kind`, or of the other kind (lists and sets: `LMOVE`'s destination may be
/// a set), or now and then any other key.
fn either(rng: &mut Rng, kind: &[&str], other: &[&str]) -> String {
    if rng.below(10) == 0 {
        rng.pick(other).into()
    } else {
        key_of(rng, kind)
    }
}

/// The `moves` family.
pub fn moves_command(rng: &mut Rng) -> Vec<String> {
    let l = |rng: &mut Rng| either(rng, LISTS, SETS);
    let s = |rng: &mut Rng| either(rng, SETS, LISTS);
    let side = |rng: &mut Rng| -> String {
        if rng.below(16) == 0 {
            "up".into()
        } else {
            rng.pick(&["left", "right", "LEFT", "Right"]).into()
        }
    };
    match rng.below(17) {
        0 | 1 => {
            let mut c = vec![rng.pick(&["rpush", "lpush"]).into(), l(rng)];
            let n = 1 + rng.below(4);
            members(rng, &mut c, n);
            c
        }
        2 | 3 => {
            let mut c = vec!["lmove".into(), l(rng), l(rng), side(rng), side(rng)];
            if rng.below(20) == 0 {
                c.truncate(3 + rng.below(2) as usize);
            }
            c
        }
        4 => vec!["rpoplpush".into(), l(rng), l(rng)],
        5 | 6 => {
            let keys = 1 + rng.below(3);
            let numkeys = if rng.below(6) == 0 {
                rng.pick(&["0", "-1", "x", "4", "9223372036854775807"])
                    .into()
            } else {
                keys.to_string()
            };
            let mut c = vec!["lmpop".into(), numkeys];
            for _ in 0..keys {
                c.push(l(rng));
            }
            c.push(side(rng));
            if rng.below(2) == 0 {
                c.push(rng.pick(&["count", "COUNT"]).into());
                c.push(rng.pick(&["1", "2", "3", "100"]).into());
            }
            if rng.below(8) == 0 {
                // Wrong counts and options, a missing count, a second COUNT.
                c.push(rng.pick(&["count", "bogus"]).into());
                if rng.below(2) == 0 {
                    c.push(rng.pick(&["0", "-1", "x", "1"]).into());
                }
            }
            c
        }
        7 => vec!["lrange".into(), l(rng), "0".into(), "-1".into()],
        8 | 9 => {
            let mut c = vec!["sadd".into(), s(rng)];
            let n = 1 + rng.below(4);
            members(rng, &mut c, n);
            c
        }
        10 | 11 => {
            let mut c = vec!["smove".into(), s(rng), s(rng), rng.pick(MEMBERS).into()];
            if rng.below(20) == 0 {
                c.push("extra".into());
            }
            c
        }
        12 => vec!["smembers".into(), s(rng)],
        13 => vec![
            rng.pick(&["exists", "type", "llen", "scard"]).into(),
            either(rng, LISTS, SETS),
        ],
        14 => vec!["set".into(), key_of(rng, STRINGS), "v".into()],
        // (Twice as often as the others: keys that changed type come back.)
        _ => {
            let key = rng.pick(&["l1", "l2", "s1", "s2", "s3", "t1"]);
            vec!["del".into(), key.into()]
        }
    }
}

/// Scores for the sorted sets the stores read: sums of some of them show the order of
/// additions in their last bits.
const ZSCORES: &[&str] = &[
    "1", "2", "-1", "0", "0.1", "0.2", "0.3", "2.5", "1e16", "inf", "-inf", "-0",
];
/// `WEIGHTS` values, and wrong ones.
const WEIGHTS: &[&str] = &[
    "1", "2", "-1", "0", "0.5", "inf", "-inf", "x", "nan", "0x10", "1e400", "-0",
];

/// The `stores` family.
pub fn stores_command(rng: &mut Rng) -> Vec<String> {
    let s = |rng: &mut Rng| either(rng, SETS, ZSETS);
    let z = |rng: &mut Rng| either(rng, ZSETS, SETS);
    let bound = |rng: &mut Rng, lex: bool| -> String {
        if lex {
            rng.pick(&["-", "+", "[a", "(a", "[c", "(10", "[", "x", "[x y"])
                .into()
        } else {
            rng.pick(SCORES).into()
        }
    };
    match rng.below(22) {
        0 | 1 | 20 => {
            let mut c = vec!["sadd".into(), s(rng)];
            let n = 1 + rng.below(4);
            members(rng, &mut c, n);
            c
        }
        2..=4 => {
            let mut c = vec!["zadd".into(), z(rng)];
            // Now and then one score for all, for lex ranges.
            let same = rng.below(3) == 0;
            for _ in 0..1 + rng.below(4) {
                c.push(if same { "0" } else { rng.pick(ZSCORES) }.into());
                c.push(rng.pick(MEMBERS).into());
            }
            c
        }
        5 | 6 | 21 => {
            let cmd = rng.pick(&["sinterstore", "sunionstore", "sdiffstore"]);
            let mut c = vec![cmd.into(), s(rng)];
            for _ in 0..rng.below(4) {
                c.push(s(rng));
            }
            c
        }
        7..=9 => {
            let cmd = rng.pick(&["zunionstore", "zinterstore", "ZUNIONSTORE"]);
            let n = 1 + rng.below(3);
            let numkeys = if rng.below(10) == 0 {
                rng.pick(&["0", "-1", "x", "4", "9223372036854775807"])
                    .into()
            } else {
                n.to_string()
            };
            let mut c = vec![cmd.into(), z(rng), numkeys];
            for _ in 0..n {
                c.push(if rng.below(4) == 0 { s(rng) } else { z(rng) });
            }
            for _ in 0..rng.below(3) {
                match rng.below(5) {
                    0 | 1 => {
                        c.push(rng.pick(&["weights", "WEIGHTS"]).into());
                        let k = if rng.below(8) == 0 { n + 1 } else { n };
                        for _ in 0..k {
                            c.push(rng.pick(WEIGHTS).into());
                        }
                    }
                    2 | 3 => {
                        c.push("aggregate".into());
                        c.push(rng.pick(&["sum", "min", "max", "MAX", "avg"]).into());
                    }
                    _ => c.push(rng.pick(&["withscores", "bogus", "aggregate"]).into()),
                }
            }
            c
        }
        10 => vec![
            "zremrangebyrank".into(),
            z(rng),
            rng.pick(&["0", "1", "-1", "-2", "5", "x", "-100"]).into(),
            rng.pick(&["0", "1", "-1", "2", "100", "x", "-9223372036854775808"])
                .into(),
        ],
        11 => vec![
            "zremrangebyscore".into(),
            z(rng),
            bound(rng, false),
            bound(rng, false),
        ],
        12 => vec![
            "zremrangebylex".into(),
            z(rng),
            bound(rng, true),
            bound(rng, true),
        ],
        13 | 14 => vec![
            "zrange".into(),
            z(rng),
            "0".into(),
            "-1".into(),
            "withscores".into(),
        ],
        15 => vec!["smembers".into(), s(rng)],
        16 => vec!["expire".into(), either(rng, SETS, ZSETS), "100".into()],
        17 => vec![
            rng.pick(&["ttl", "type", "exists"]).into(),
            either(rng, SETS, ZSETS),
        ],
        18 => vec!["set".into(), key_of(rng, STRINGS), "v".into()],
        _ => {
            let key = rng.pick(&["s1", "s2", "s3", "z1", "z2", "z3"]);
            vec!["del".into(), key.into()]
        }
    }
}

/// Floats as texts: exact and inexact decimals, exponents, hex, the edges of a long
/// double (the largest, a subnormal), and (from [`BAD_FLOAT`] on) out of range both ways
/// and wrong ones.
const FLOATS: &[&str] = &[
    "0.1",
    "-0.3",
    "1.5",
    "1e3",
    "-2.5e-3",
    "1.5e30",
    "1e20",
    "1e-20",
    "0x10",
    "0x1p-2",
    "+.5",
    "5.",
    "-0",
    "3.0000000000000000001",
    "0.000003814697265625",
    "9223372036854775807",
    "123456789.123456789",
    "5e-4940",
    "1.18973149535723176502e+4932",
    // Refused (or not finite) from here on.
    "inf",
    "-inf",
    "nan",
    "1e5000",
    "1e-5000",
    "abc",
    "",
    " 1",
    "1 ",
    "1e",
];

/// The key whose expiry times are absolute: the others' are relative. (Each is read the
/// way that does not race the two servers' clocks: relative times by `TTL`, rounded to
/// seconds; absolute ones by `PEXPIRETIME`.)
const ABSOLUTE: &str = "t3";

/// `GETEX`'s options for `key`: times far from now or long past (a key that expires within
/// the test's round trips would make the two servers' answers a race), and wrong ones.
fn getex_options(rng: &mut Rng, c: &mut Vec<String>, key: &str) {
    for _ in 0..rng.below(3) {
        match rng.below(8) {
            0 | 1 if key == ABSOLUTE => {
                if rng.below(2) == 0 {
                    let at = rng.pick(&["4102444800", "1", "1000000000", "0", "-1"]);
                    c.extend(["exat".into(), at.into()]);
                } else {
                    let at = rng.pick(&["4102444800123", "1000", "x", "0"]);
                    c.extend(["PXAT".into(), at.into()]);
                }
            }
            0 => c.extend(["ex".into(), rng.pick(&["100", "0", "-1", "x"]).into()]),
            1 => c.extend(["PX".into(), rng.pick(&["200000", "0", "x"]).into()]),
            2 => c.extend(["pxat".into(), "-5".into()]),
            3 => c.extend([
                rng.pick(&["ex", "exat", "px"]).into(),
                "9223372036854775807".into(),
            ]),
            4 | 5 => c.push(rng.pick(&["persist", "PERSIST"]).into()),
            _ => c.push(rng.pick(&["ex", "keepttl", "nx", "get", "bogus"]).into()),
        }
    }
}

/// Where [`FLOATS`]' refused ones start.
const BAD_FLOAT: usize = 19;

/// The `floats` family.
pub fn floats_command(rng: &mut Rng) -> Vec<String> {
    let t = |rng: &mut Rng| either(rng, STRINGS, HASHES);
    let h = |rng: &mut Rng| either(rng, HASHES, STRINGS);
    let field = |rng: &mut Rng| -> String { rng.pick(&["a", "b", "c"]).into() };
    let float = |rng: &mut Rng| -> String {
        let n = if rng.below(4) == 0 {
            FLOATS.len()
        } else {
            BAD_FLOAT
        };
        FLOATS[rng.below(n as u64) as usize].into()
    };
    match rng.below(16) {
        0..=3 => vec!["incrbyfloat".into(), t(rng), float(rng)],
        4 => vec!["set".into(), key_of(rng, STRINGS), float(rng)],
        5 => vec!["get".into(), t(rng)],
        6..=8 => vec!["hincrbyfloat".into(), h(rng), field(rng), float(rng)],
        9 => vec!["hset".into(), h(rng), field(rng), float(rng)],
        // One field (a long sum turns Redis's hash into a hash table: no order to compare).
        10 => vec![rng.pick(&["hget", "hstrlen"]).into(), h(rng), field(rng)],
        11 | 12 => {
            let key = t(rng);
            let mut c = vec!["getex".into(), key.clone()];
            getex_options(rng, &mut c, &key);
            c
        }
        13 => {
            let key = t(rng);
            let read = if key == ABSOLUTE {
                rng.pick(&["pexpiretime", "expiretime", "type"])
            } else {
                rng.pick(&["ttl", "type"])
            };
            vec![read.into(), key]
        }
        14 => match rng.below(3) {
            0 => vec![
                "expire".into(),
                rng.pick(&["t1", "t2"]).into(),
                "100".into(),
            ],
            1 => vec!["set".into(), key_of(rng, STRINGS), rng.pick(WORDS).into()],
            _ => vec!["rpush".into(), key_of(rng, LISTS), "a".into()],
        },
        _ => {
            let key = rng.pick(&["t1", "t2", "t3", "h1", "h2"]);
            vec!["del".into(), key.into()]
        }
    }
}
