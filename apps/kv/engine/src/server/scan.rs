//! `SCAN`, `SSCAN`, `HSCAN` and `ZSCAN`: cursors over keys (and over a collection's
//! elements) in their sorted order.
//!
//! Redis's guarantee holds: an element present for the whole scan is returned at least
//! once, whatever else changes meanwhile. A cursor stands for the next element to return,
//! which the server remembers in a small table ([`Cursors`]): the cursor names its slot
//! and carries the element's first bytes as a lower bound. When the slot was reused (many
//! scans at once) or the cursor was never given out, the scan resumes at that lower
//! bound instead, possibly returning some elements again, and then never ends a batch
//! between elements that share those first bytes, so it still always moves on.
//!
//! Small collections (those Redis keeps as listpacks or intsets) are returned whole with
//! cursor 0, as Redis does.

use super::live_keys;
use super::object::{hash_is_listpack, set_is_intset, zset_is_listpack};
use crate::errors::{NOT_INTEGER, SYNTAX};
use crate::reads::{WrongType, hash_at, set_at, wrong_type, zset_at};
use crate::{Action, Call, Client, Server};
use alloc::vec::Vec;
use resp::reply::{self, format_g17};

/// Bytes of the next element a cursor carries.
const HINT: usize = 5;
/// Cursors remembered.
const SLOTS: usize = 256;
/// The longest next element a cursor remembers (a longer one resumes by its hint).
const REMEMBERED: usize = 256;

/// The cursors given out lately: what each stands for.
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    slots: Vec<Option<Remembered>>,
    /// Cursors given out so far (which slot and generation the next one gets).
    issued: u64,
}

#[derive(Debug)]
struct Remembered {
    cursor: u64,
    /// What is scanned (a database, or a key's collection), hashed.
    scope: u64,
    next: Vec<u8>,
}

/// FNV-1a, 64 bits.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Where a scan resumes.
enum Start {
    /// At this element exactly.
    Exact(Vec<u8>),
    /// At the first element not below these bytes, in batches not split between elements
    /// that start with the same `HINT` bytes.
    Hint(Vec<u8>),
}

impl Cursors {
    /// A cursor for resuming `scope` at `next` (not empty).
    fn issue(&mut self, scope: &[u8], next: &[u8]) -> u64 {
        let n = self.issued;
        self.issued += 1;
        let (slot, generation) = (n % SLOTS as u64, (n / SLOTS as u64) % 256);
        let hint = &next[..next.len().min(HINT)];
        let mut bytes = [0u8; 8];
        bytes[..hint.len()].copy_from_slice(hint);
        let cursor = ((u64::from_be_bytes(bytes) & !0xff_ffff)
            | (hint.len() as u64) << 16
            | generation << 8
            | slot)
            .max(1);
        if self.slots.len() < SLOTS {
            self.slots.resize_with(SLOTS, || None);
        }
        self.slots[slot as usize] = (next.len() <= REMEMBERED).then(|| Remembered {
            cursor,
            scope: hash(scope),
            next: next.to_vec(),
        });
        cursor
    }

    fn resume(&self, scope: &[u8], cursor: u64) -> Start {
        if cursor == 0 {
            return Start::Exact(Vec::new());
        }
        let slot = (cursor % SLOTS as u64) as usize;
        if let Some(Some(r)) = self.slots.get(slot)
            && r.cursor == cursor
            && r.scope == hash(scope)
        {
            return Start::Exact(r.next.clone());
        }
        let len = ((cursor >> 16) & 0xff).min(HINT as u64) as usize;
        Start::Hint(cursor.to_be_bytes()[..len].to_vec())
    }
}

/// Picks a batch from elements offered in order.
struct Batch {
    start: Start,
    count: usize,
    taken: Vec<Vec<u8>>,
    next: Option<Vec<u8>>,
}

impl Batch {
    fn new(start: Start, count: usize) -> Self {
        Self {
            start,
            count,
            taken: Vec::new(),
            next: None,
        }
    }

    /// Where the batch starts: no element below this belongs to it.
    fn from(&self) -> &[u8] {
        match &self.start {
            Start::Exact(k) | Start::Hint(k) => k,
        }
    }

    /// Offers the next element; whether it joins the batch (once one does not, none
    /// after it does: it is where the next batch starts).
    fn offer(&mut self, e: &[u8]) -> bool {
        if e < self.from() || self.next.is_some() {
            return false;
        }
        let same_group = matches!(self.start, Start::Hint(_))
            && self
                .taken
                .last()
                .is_some_and(|last| last[..last.len().min(HINT)] == e[..e.len().min(HINT)]);
        if self.taken.len() < self.count || same_group {
            self.taken.push(e.to_vec());
            true
        } else {
            self.next = Some(e.to_vec());
            false
        }
    }
}

/// C's `strtoul` as Redis reads a cursor: digits with an optional sign (a minus wraps), no
/// leading space, nothing after (a NUL ends the string, as C sees it).
fn parse_cursor(arg: &[u8]) -> Option<u64> {
    let arg = &arg[..arg.iter().position(|&b| b == 0).unwrap_or(arg.len())];
    let (negative, digits) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() {
        // No digits read: fine only for an empty string.
        return arg.is_empty().then_some(0);
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if negative { v.wrapping_neg() } else { v })
}

/// The options after the cursor: `MATCH`, `COUNT` and (for `SCAN`) `TYPE`.
struct Options {
    pattern: Option<Vec<u8>>,
    count: usize,
    type_name: Option<Vec<u8>>,
}

fn options(c: &mut Call<'_>, from: usize, keys: bool) -> Option<Options> {
    let mut o = Options {
        pattern: None,
        count: 10,
        type_name: None,
    };
    let mut i = from;
    while i < c.args.len() {
        let has_value = c.args.len() - i >= 2;
        let opt = &c.args[i];
        if opt.eq_ignore_ascii_case(b"count") && has_value {
            let Some(n) = resp::request::parse_i64(&c.args[i + 1]) else {
                c.error(NOT_INTEGER);
                return None;
            };
            if n < 1 {
                c.error(SYNTAX);
                return None;
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if opt.eq_ignore_ascii_case(b"match") && has_value {
            // `*` alone matches everything, the empty key too.
            o.pattern = (c.args[i + 1] != b"*").then(|| c.args[i + 1].clone());
        } else if opt.eq_ignore_ascii_case(b"type") && keys && has_value {
            o.type_name = Some(c.args[i + 1].clone());
        } else {
            c.error(SYNTAX);
            return None;
        }
        i += 2;
    }
    Some(o)
}

impl Options {
    fn matches(&self, e: &[u8]) -> bool {
        self.pattern
            .as_deref()
            .is_none_or(|p| crate::glob::matches(p, e))
    }
}

fn reply_scan(out: &mut Vec<u8>, cursor: u64, items: &[&[u8]]) {
    reply::array(out, 2);
    reply::bulk(out, alloc::format!("{cursor}").as_bytes());
    reply::array(out, items.len());
    for i in items {
        reply::bulk(out, i);
    }
}

/// `SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`.
pub(super) fn scan(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(cursor) = parse_cursor(&c.args[1]) else {
        c.error("ERR invalid cursor");
        return Action::Continue;
    };
    let Some(o) = options(c, 2, true) else {
        return Action::Continue;
    };
    let scope = alloc::format!("db{}", cl.db).into_bytes();
    let mut batch = Batch::new(s.status.cursors.resume(&scope, cursor), o.count);
    let from = batch.from().to_vec();
    let mut shown: Vec<Vec<u8>> = Vec::new();
    for (k, e) in live_keys(s, cl.db, &from, c.now_ms) {
        if !batch.offer(k) {
            break;
        }
        let type_ok = o
            .type_name
            .as_ref()
            .is_none_or(|t| t.eq_ignore_ascii_case(e.value.type_name().as_bytes()));
        if o.matches(k) && type_ok {
            shown.push(k.to_vec());
        }
    }
    let shown: Vec<&[u8]> = shown.iter().map(Vec::as_slice).collect();
    let next = match &batch.next {
        Some(n) => s.status.cursors.issue(&scope, n),
        None => 0,
    };
    reply_scan(c.out, next, &shown);
    Action::Continue
}

/// The scan of one collection's `elements` (sorted, each with its value for hashes and
/// sorted sets), whole if `compact`.
fn scan_elements(
    s: &mut Server,
    cl: &Client,
    c: &mut Call<'_>,
    cursor: u64,
    o: &Options,
    compact: bool,
    elements: &[Element],
) {
    let mut scope = alloc::format!("{}:", cl.db).into_bytes();
    scope.extend_from_slice(&c.args[1]);
    let (picked, next): (Vec<&Element>, u64) = if compact {
        (elements.iter().collect(), 0)
    } else {
        let mut batch = Batch::new(s.status.cursors.resume(&scope, cursor), o.count);
        let picked = elements.iter().filter(|(e, _)| batch.offer(e)).collect();
        let next = match &batch.next {
            Some(n) => s.status.cursors.issue(&scope, n),
            None => 0,
        };
        (picked, next)
    };
    let mut items: Vec<&[u8]> = Vec::new();
    for (e, v) in picked {
        if o.matches(e) {
            items.push(e);
            if let Some(v) = v {
                items.push(v);
            }
        }
    }
    reply_scan(c.out, next, &items);
}

/// The cursor and options of `SSCAN`/`HSCAN`/`ZSCAN`, parsed in Redis's order around the
/// key's lookup (`lookup` says whether the key holds the right type, `None` if missing):
/// the cursor first, then the key, then the options.
fn collection_scan(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    lookup: fn(&mut Server, usize, &[u8], u64) -> Found,
) -> Action {
    let Some(cursor) = parse_cursor(&c.args[2]) else {
        c.error("ERR invalid cursor");
        return Action::Continue;
    };
    let (compact, elements) = match lookup(s, cl.db, &c.args[1], c.now_ms) {
        Err(WrongType) => return wrong_type(c),
        Ok(None) => {
            reply_scan(c.out, 0, &[]);
            return Action::Continue;
        }
        Ok(Some(found)) => found,
    };
    let Some(o) = options(c, 3, false) else {
        return Action::Continue;
    };
    scan_elements(s, cl, c, cursor, &o, compact, &elements);
    Action::Continue
}

/// A collection's element, and its value for hashes and sorted sets.
type Element = (Vec<u8>, Option<Vec<u8>>);
type Elements = Vec<Element>;

/// What a collection scan finds at a key: whether it is small enough to return whole, and
/// its elements (with values for hashes and sorted sets), in the order they are returned.
type Found = Result<Option<(bool, Elements)>, WrongType>;

fn set_elements(s: &mut Server, db: usize, key: &[u8], now: u64) -> Found {
    let Some(set) = set_at(s, db, key, now)? else {
        return Ok(None);
    };
    let elements: Elements = set.iter().map(|m| (m.clone(), None)).collect();
    let members = elements.iter().map(|(m, _)| m.as_slice());
    let compact = set_is_intset(elements.len(), members, &s.status.config);
    Ok(Some((compact, elements)))
}

fn hash_elements(s: &mut Server, db: usize, key: &[u8], now: u64) -> Found {
    let Some(h) = hash_at(s, db, key, now)? else {
        return Ok(None);
    };
    let mut elements: Elements = h
        .iter()
        .map(|(f, v)| (f.clone(), Some(v.clone())))
        .collect();
    let pairs = elements
        .iter()
        .map(|(f, v)| (f.as_slice(), v.as_deref().unwrap_or_default()));
    let compact = hash_is_listpack(elements.len(), pairs, &s.status.config);
    if !compact {
        elements.sort();
    }
    Ok(Some((compact, elements)))
}

fn zset_elements(s: &mut Server, db: usize, key: &[u8], now: u64) -> Found {
    let Some(z) = zset_at(s, db, key, now)? else {
        return Ok(None);
    };
    let scored: Vec<(Vec<u8>, f64)> = z
        .range(0, z.len().saturating_sub(1))
        .map(|(m, score)| (m.to_vec(), score))
        .collect();
    let members = scored.iter().map(|(m, _)| m.as_slice());
    let compact = zset_is_listpack(scored.len(), members, &s.status.config);
    // A listpack keeps whole-number scores as integers: -0 comes back as 0.
    let shown = |score: f64| if compact { score + 0.0 } else { score };
    let mut elements: Elements = scored
        .into_iter()
        .map(|(m, score)| (m, Some(format_g17(shown(score)).into_bytes())))
        .collect();
    if !compact {
        elements.sort();
    }
    Ok(Some((compact, elements)))
}

pub(super) fn sscan(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    collection_scan(s, cl, c, set_elements)
}

pub(super) fn hscan(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    collection_scan(s, cl, c, hash_elements)
}

pub(super) fn zscan(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    collection_scan(s, cl, c, zset_elements)
}
