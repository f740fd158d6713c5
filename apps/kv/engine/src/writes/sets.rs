//! `SMOVE` and the storing forms of set algebra, `SINTERSTORE`, `SUNIONSTORE` and
//! `SDIFFSTORE` (Redis's `t_set.c`), computed by the read commands' algebra in
//! [`crate::reads`].

use crate::collections::{Slot, is_set, set, slot};
use crate::keyspace::{Set, Value};
use crate::reads::{difference, intersection, set_at, sets_of, union, wrong_type};
use crate::{Action, Call, Client, Server};
use resp::reply;

/// `SMOVE source destination member`: a missing source is 0 whatever the destination
/// holds; both types are checked before anything moves; the same set moves nothing.
pub fn smove(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let (db, now) = (cl.db, c.now_ms);
    let (source, destination, member) = (&c.args[1], &c.args[2], &c.args[3]);
    let source_slot = slot(s, db, source, now, is_set);
    let destination_slot = slot(s, db, destination, now, is_set);
    match (source_slot, destination_slot) {
        (Slot::Missing, _) => {
            reply::integer(c.out, 0);
            return Action::Continue;
        }
        (Slot::WrongType, _) | (_, Slot::WrongType) => return wrong_type(c),
        _ => {}
    }
    let present = set_at(s, db, source, now)
        .ok()
        .flatten()
        .is_some_and(|set| set.contains(member.as_slice()));
    if !present || source == destination {
        reply::integer(c.out, i64::from(present));
        return Action::Continue;
    }
    set(s, db, source, now).remove(member);
    s.keyspace.remove_if_empty(db, source);
    set(s, db, destination, now).insert(member);
    reply::integer(c.out, 1);
    Action::Continue
}

/// Which algebra a storing command computes.
#[derive(Clone, Copy)]
enum Algebra {
    Inter,
    Union,
    Diff,
}

/// Redis's `sinterGenericCommand`/`sunionDiffGenericCommand` with a destination: the
/// sources' types are checked in order; the result replaces the destination (without an
/// expiry), or removes it when empty; the reply is its size.
fn store(s: &mut Server, cl: &mut Client, c: &mut Call<'_>, algebra: Algebra) -> Action {
    let (db, now) = (cl.db, c.now_ms);
    let Ok(sets) = sets_of(s, db, c, 2..c.args.len()) else {
        return Action::Continue;
    };
    let result: Set = match algebra {
        Algebra::Inter => intersection(&sets).cloned().collect(),
        Algebra::Union => union(&sets).into_iter().cloned().collect(),
        Algebra::Diff => difference(&sets).into_iter().cloned().collect(),
    };
    let destination = &c.args[1];
    let n = result.len();
    if n == 0 {
        s.keyspace.remove(db, destination, now);
    } else {
        s.keyspace.set(db, destination, Value::Set(result), None);
    }
    reply::integer(c.out, n as i64);
    Action::Continue
}

pub fn sinterstore(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    store(s, cl, c, Algebra::Inter)
}

pub fn sunionstore(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    store(s, cl, c, Algebra::Union)
}

pub fn sdiffstore(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    store(s, cl, c, Algebra::Diff)
}
