//! The blocking commands: `BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`, `BZPOPMIN`,
//! `BZPOPMAX`, and `BZMPOP`'s relatives as Redis 7.0 has them.
//!
//! Each tries its non-blocking counterpart (`LPOP`, `LMOVE`, `LMPOP`, `ZPOPMIN`, ...) and,
//! when there is nothing to take, answers [`Action::Block`] with its deadline and no reply:
//! the app waits until another client writes (or the deadline passes) and runs the command
//! again, or answers [`timed_out`]. Inside `MULTI` they never block: they answer as at a
//! timeout at once, as Redis does.

use crate::{Action, Call, Client, Command, Server};
use alloc::vec::Vec;
use resp::reply;

pub(crate) const COMMANDS: &[Command] = &[
    Command::write("blpop", -3, blpop),
    Command::write("brpop", -3, brpop),
    Command::write("blmove", 6, blmove),
    Command::write("brpoplpush", 4, brpoplpush),
    Command::write("blmpop", -5, blmpop),
    Command::write("bzpopmin", -3, bzpopmin),
    Command::write("bzpopmax", -3, bzpopmax),
];

/// Redis's `getTimeoutFromObjectOrReply` for seconds: the deadline in Unix milliseconds
/// (`None`: wait for ever), or the error replied.
fn deadline(c: &mut Call<'_>, at: usize) -> Result<Option<u64>, ()> {
    let text = core::str::from_utf8(&c.args[at]).ok();
    let Some(seconds) = text.and_then(parse_long_double) else {
        c.error("ERR timeout is not a float or out of range");
        return Err(());
    };
    let ms = seconds * 1000.0;
    if ms > i64::MAX as f64 {
        c.error("ERR timeout is out of range");
        return Err(());
    }
    let ms = libm_ceil(ms) as i64;
    if ms < 0 {
        c.error("ERR timeout is negative");
        return Err(());
    }
    if ms == 0 {
        return Ok(None);
    }
    if ms > i64::MAX - c.now_ms as i64 {
        c.error("ERR timeout is out of range");
        return Err(());
    }
    Ok(Some(c.now_ms + ms as u64))
}

fn libm_ceil(x: f64) -> f64 {
    let t = x as i64 as f64;
    if t < x { t + 1.0 } else { t }
}

/// `strtold` as Redis's `string2ld` uses it: the whole text, no spaces, no NaN.
fn parse_long_double(s: &str) -> Option<f64> {
    if s.is_empty() || s.len() > 5120 || s.starts_with(char::is_whitespace) {
        return None;
    }
    let lower = s.to_ascii_lowercase();
    let f = match lower.trim_start_matches(['+', '-']) {
        "inf" | "infinity" => {
            if lower.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        _ => s.parse::<f64>().ok()?,
    };
    (!f.is_nan()).then_some(f)
}

/// Runs command `args` (`args[0]` its name) as the client, into a buffer of its own.
fn run(s: &mut Server, cl: &mut Client, c: &Call<'_>, args: Vec<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(command) = crate::command(&args[0]) else {
        reply::error(
            &mut out,
            "ERR this blocking command's non-blocking form is missing",
        );
        return out;
    };
    let mut call = Call {
        args: &args,
        out: &mut out,
        now_ms: c.now_ms,
    };
    (command.run)(s, cl, &mut call);
    out
}

/// Nothing to take: block until `deadline`, or answer as a timeout inside `MULTI`.
fn nothing(cl: &Client, c: &mut Call<'_>, deadline: Option<u64>) -> Action {
    if cl.in_exec {
        timed_out(c.args, c.out);
        return Action::Continue;
    }
    Action::Block {
        deadline_ms: deadline,
    }
}

/// What a blocking command answers when its time is up.
pub fn timed_out(args: &[Vec<u8>], out: &mut Vec<u8>) {
    let name = args[0].to_ascii_lowercase();
    if name == b"blmove" || name == b"brpoplpush" {
        reply::null(out);
    } else {
        reply::null_array(out);
    }
}

/// `BLPOP`/`BRPOP`/`BZPOPMIN`/`BZPOPMAX key [key ...] timeout`: the first key with
/// something to pop, popped by `pop` (whose empty reply is `empty`); the reply is the key,
/// then what `pop` answered (an array of `fields` elements) flattened after it.
fn pop_first(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    pop: &[u8],
    empty: &[u8],
    fields: usize,
) -> Action {
    let Ok(deadline) = deadline(c, c.args.len() - 1) else {
        return Action::Continue;
    };
    for key in &c.args[1..c.args.len() - 1] {
        let got = run(s, cl, c, alloc::vec![pop.to_vec(), key.clone()]);
        if got == empty {
            continue;
        }
        if got.first() == Some(&b'-') {
            c.out.extend_from_slice(&got);
            return Action::Continue;
        }
        reply::array(c.out, fields + 1);
        reply::bulk(c.out, key);
        // A bulk (one element), or an array of `fields` to flatten.
        let body = if got.first() == Some(&b'*') {
            let header_end = got.iter().position(|&b| b == b'\n').expect("a header") + 1;
            &got[header_end..]
        } else {
            &got[..]
        };
        c.out.extend_from_slice(body);
        return Action::Continue;
    }
    nothing(cl, c, deadline)
}

fn blpop(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    pop_first(s, cl, c, b"lpop", b"$-1\r\n", 1)
}

fn brpop(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    pop_first(s, cl, c, b"rpop", b"$-1\r\n", 1)
}

fn bzpopmin(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    pop_first(s, cl, c, b"zpopmin", b"*0\r\n", 2)
}

fn bzpopmax(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    pop_first(s, cl, c, b"zpopmax", b"*0\r\n", 2)
}

/// Runs `args` (a non-blocking command); blocks if it answered `empty`.
fn try_or_block(
    s: &mut Server,
    cl: &mut Client,
    c: &mut Call<'_>,
    args: Vec<Vec<u8>>,
    empty: &[u8],
    deadline: Option<u64>,
) -> Action {
    let got = run(s, cl, c, args);
    if got == empty {
        return nothing(cl, c, deadline);
    }
    c.out.extend_from_slice(&got);
    Action::Continue
}

/// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`.
fn blmove(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    for at in [3, 4] {
        let w = &c.args[at];
        if !w.eq_ignore_ascii_case(b"left") && !w.eq_ignore_ascii_case(b"right") {
            c.error(crate::errors::SYNTAX);
            return Action::Continue;
        }
    }
    let Ok(deadline) = deadline(c, 5) else {
        return Action::Continue;
    };
    let args = alloc::vec![
        b"lmove".to_vec(),
        c.args[1].clone(),
        c.args[2].clone(),
        c.args[3].clone(),
        c.args[4].clone()
    ];
    try_or_block(s, cl, c, args, b"$-1\r\n", deadline)
}

/// `BRPOPLPUSH source destination timeout`.
fn brpoplpush(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Ok(deadline) = deadline(c, 3) else {
        return Action::Continue;
    };
    let args = alloc::vec![b"rpoplpush".to_vec(), c.args[1].clone(), c.args[2].clone()];
    try_or_block(s, cl, c, args, b"$-1\r\n", deadline)
}

/// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
fn blmpop(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    let Ok(deadline) = deadline(c, 1) else {
        return Action::Continue;
    };
    let mut args = alloc::vec![b"lmpop".to_vec()];
    args.extend_from_slice(&c.args[2..]);
    try_or_block(s, cl, c, args, b"*-1\r\n", deadline)
}
