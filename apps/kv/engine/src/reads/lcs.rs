//! `LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]`: the longest common
//! subsequence of two strings, as Redis 7.0's `lcsCommand` computes and reports it (the
//! same table, the same walk back, so the same matches when there are several).

use super::is;
use crate::keyspace::Value;
use crate::{Action, Call, Client, Server};
use alloc::vec::Vec;
use resp::reply;

/// The string at `key` (a missing key is empty), or `Err` for another type.
fn string_at(s: &mut Server, db: usize, key: &[u8], now: u64) -> Result<Vec<u8>, ()> {
    match s.keyspace.get(db, key, now).map(|e| &e.value) {
        None => Ok(Vec::new()),
        Some(Value::Str(v)) => Ok(v.to_vec()),
        Some(_) => Err(()),
    }
}

/// One range of matching bytes: in `a`, in `b`, and its length.
struct Match {
    a: (u32, u32),
    b: (u32, u32),
    len: u32,
}

pub fn lcs(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let a = string_at(s, cl.db, &c.args[1], c.now_ms);
    let b = string_at(s, cl.db, &c.args[2], c.now_ms);
    let (Ok(a), Ok(b)) = (a, b) else {
        c.error("ERR The specified keys must contain string values");
        return Action::Continue;
    };
    let (mut get_len, mut get_idx, mut with_match_len, mut min_match_len) =
        (false, false, false, 0i64);
    let mut j = 3;
    while j < c.args.len() {
        let opt = &c.args[j];
        if is(opt, "idx") {
            get_idx = true;
        } else if is(opt, "len") {
            get_len = true;
        } else if is(opt, "withmatchlen") {
            with_match_len = true;
        } else if is(opt, "minmatchlen") && j + 1 < c.args.len() {
            let Some(n) = c.int(j + 1) else {
                return Action::Continue;
            };
            min_match_len = n.max(0);
            j += 1;
        } else {
            c.error(crate::errors::SYNTAX);
            return Action::Continue;
        }
        j += 1;
    }
    if get_len && get_idx {
        c.error("ERR If you want both the length and indexes, please just use IDX.");
        return Action::Continue;
    }
    if a.len() as u64 >= u64::from(u32::MAX - 1) || b.len() as u64 >= u64::from(u32::MAX - 1) {
        c.error("ERR String too long for LCS");
        return Action::Continue;
    }
    let (alen, blen) = (a.len(), b.len());
    let cells = (alen as u64 + 1) * (blen as u64 + 1);
    // The table's bytes are bounded by `proto-max-bulk-len`, as in Redis.
    if cells * 4 > s.proto_max_bulk_len() {
        c.error("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
        return Action::Continue;
    }
    let mut table: Vec<u32> = Vec::new();
    if table.try_reserve_exact(cells as usize).is_err() {
        c.error("ERR Insufficient memory, failed allocating transient memory for LCS");
        return Action::Continue;
    }
    table.resize(cells as usize, 0);
    let at = |i: usize, j: usize| j + i * (blen + 1);
    for i in 1..=alen {
        for j in 1..=blen {
            table[at(i, j)] = if a[i - 1] == b[j - 1] {
                table[at(i - 1, j - 1)] + 1
            } else {
                table[at(i - 1, j)].max(table[at(i, j - 1)])
            };
        }
    }
    let total = table[at(alen, blen)];
    let compute = get_idx || !get_len;
    let mut result = alloc::vec![0u8; if compute { total as usize } else { 0 }];
    let mut matches = Vec::new();
    // Ranges are tracked backwards from the ends; `alen` as a start means "none open".
    let none = alen as u32;
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (none, 0u32, 0u32, 0u32);
    let (mut i, mut j, mut idx) = (alen, blen, total as usize);
    while compute && i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if a_start == none {
                (a_start, a_end) = (i as u32 - 1, i as u32 - 1);
                (b_start, b_end) = (j as u32 - 1, j as u32 - 1);
            } else if a_start == i as u32 && b_start == j as u32 {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if table[at(i - 1, j)] > table[at(i, j - 1)] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != none {
                emit = true;
            }
        }
        let len = a_end.wrapping_sub(a_start).wrapping_add(1);
        if emit {
            if min_match_len == 0 || i64::from(len) >= min_match_len {
                matches.push(Match {
                    a: (a_start, a_end),
                    b: (b_start, b_end),
                    len,
                });
            }
            a_start = none;
        }
    }
    if get_idx {
        // A map in RESP3; RESP2 flattens it.
        reply::array(c.out, 4);
        reply::bulk(c.out, b"matches");
        reply::array(c.out, matches.len());
        for m in &matches {
            reply::array(c.out, 2 + usize::from(with_match_len));
            for (start, end) in [m.a, m.b] {
                reply::array(c.out, 2);
                reply::integer(c.out, i64::from(start));
                reply::integer(c.out, i64::from(end));
            }
            if with_match_len {
                reply::integer(c.out, i64::from(m.len));
            }
        }
        reply::bulk(c.out, b"len");
        reply::integer(c.out, i64::from(total));
    } else if get_len {
        reply::integer(c.out, i64::from(total));
    } else {
        reply::bulk(c.out, &result);
    }
    Action::Continue
}
