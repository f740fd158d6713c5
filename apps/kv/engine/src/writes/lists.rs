//! `LMOVE`, `RPOPLPUSH` and `LMPOP` (Redis's `t_list.c`): elements popped from one end of
//! a list and pushed onto another, or popped from the first non-empty list of several.

use crate::collections::{Slot, is_list, list, slot};
use crate::errors::SYNTAX;
use crate::reads::{is, long_in, wrong_type};
use crate::{Action, Call, Client, Server};
use resp::reply;

/// Redis's `getListPositionFromObjectOrReply`: `LEFT` (true) or `RIGHT` (false) at `args[i]`,
/// or a syntax error replied.
fn side(c: &mut Call<'_>, i: usize) -> Option<bool> {
    if is(&c.args[i], "left") {
        Some(true)
    } else if is(&c.args[i], "right") {
        Some(false)
    } else {
        c.error(SYNTAX);
        None
    }
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`.
pub fn lmove(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(from_left) = side(c, 3) else {
        return Action::Continue;
    };
    let Some(to_left) = side(c, 4) else {
        return Action::Continue;
    };
    move_element(s, cl, c, from_left, to_left)
}

/// `RPOPLPUSH source destination`: `LMOVE source destination RIGHT LEFT`.
pub fn rpoplpush(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    move_element(s, cl, c, false, true)
}

/// Redis's `lmoveGenericCommand`: a missing source is nil whatever the destination holds;
/// the destination's type is checked before anything moves. Source and destination may be
/// the same list (a rotation).
fn move_element(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    from_left: bool,
    to_left: bool,
) -> Action {
    let (db, now) = (cl.db, c.now_ms);
    let (source, destination) = (&c.args[1], &c.args[2]);
    match slot(s, db, source, now, is_list) {
        Slot::Missing => {
            reply::null(c.out);
            return Action::Continue;
        }
        Slot::WrongType => return wrong_type(c),
        Slot::Found => {}
    }
    if let Slot::WrongType = slot(s, db, destination, now, is_list) {
        return wrong_type(c);
    }
    let from = list(s, db, source, now);
    let element = if from_left {
        from.pop_front()
    } else {
        from.pop_back()
    };
    let element = element.expect("lists in the keyspace are not empty");
    reply::bulk(c.out, &element);
    let to = list(s, db, destination, now);
    if to_left {
        to.push_front(element);
    } else {
        to.push_back(element);
    }
    s.keyspace.remove_if_empty(db, source);
    Action::Continue
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`: up to `count` elements from the
/// first key holding a list, with its name; keys before it are checked for their type.
pub fn lmpop(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Some(numkeys) = long_in(
        c,
        1,
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    ) else {
        return Action::Continue;
    };
    // The side comes right after the keys.
    if numkeys as u64 >= c.args.len() as u64 - 2 {
        c.error(SYNTAX);
        return Action::Continue;
    }
    let side_at = 2 + numkeys as usize;
    let Some(left) = side(c, side_at) else {
        return Action::Continue;
    };
    let mut count = None;
    let mut j = side_at + 1;
    while j < c.args.len() {
        if count.is_none() && is(&c.args[j], "count") && j + 1 < c.args.len() {
            j += 1;
            let Some(n) = long_in(
                c,
                j,
                1,
                i64::MAX,
                Some("ERR count should be greater than 0"),
            ) else {
                return Action::Continue;
            };
            count = Some(n as usize);
        } else {
            c.error(SYNTAX);
            return Action::Continue;
        }
        j += 1;
    }
    let count = count.unwrap_or(1);
    let (db, now) = (cl.db, c.now_ms);
    for key in &c.args[2..side_at] {
        match slot(s, db, key, now, is_list) {
            Slot::Missing => continue,
            Slot::WrongType => return wrong_type(c),
            Slot::Found => {}
        }
        let l = list(s, db, key, now);
        let n = count.min(l.len());
        reply::array(c.out, 2);
        reply::bulk(c.out, key);
        reply::array(c.out, n);
        for _ in 0..n {
            let e = if left { l.pop_front() } else { l.pop_back() };
            reply::bulk(c.out, &e.expect("counted"));
        }
        s.keyspace.remove_if_empty(db, key);
        return Action::Continue;
    }
    reply::null_array(c.out);
    Action::Continue
}
