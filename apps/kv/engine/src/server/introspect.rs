//! `COMMAND` and its subcommands `COUNT`, `LIST`, `INFO`, `DOCS`, `HELP`: what clients
//! learn about the commands at connect (redis-cli builds its help from `COMMAND DOCS`).
//! Each command kvengine implements is described as Redis 7.0.15 describes it
//! ([`command_table`](super::command_table)), with no key specs and no argument docs.

use super::command_table::TABLE;
use super::{CONTAINERS, Subcommand, dispatch, help_reply};
use crate::errors::SYNTAX;
use crate::{Action, Call, Client, Server, commands};
use alloc::string::String;
use alloc::vec::Vec;
use resp::reply;

/// What Redis says of one command: see `tools/command-table.py`.
pub(super) struct Meta {
    name: &'static str,
    /// Redis's arity: the tests check the command tables against it.
    #[cfg_attr(not(test), allow(dead_code))]
    arity: i32,
    flags: &'static str,
    keys: (i32, i32, i32),
    acl: &'static str,
    tips: &'static str,
    group: &'static str,
    since: &'static str,
    complexity: &'static str,
    summary: &'static str,
}

impl Meta {
    #[allow(clippy::too_many_arguments)]
    pub(super) const fn new(
        name: &'static str,
        arity: i32,
        flags: &'static str,
        first: i32,
        last: i32,
        step: i32,
        acl: &'static str,
        tips: &'static str,
        group: &'static str,
        since: &'static str,
        complexity: &'static str,
        summary: &'static str,
    ) -> Self {
        Self {
            name,
            arity,
            flags,
            keys: (first, last, step),
            acl,
            tips,
            group,
            since,
            complexity,
            summary,
        }
    }
}

/// Redis's description of the command with full name `name` (`get`, `client|list`).
fn meta(name: &str) -> Option<&'static Meta> {
    TABLE.iter().find(|m| m.name == name)
}

/// Whether Redis refuses the command `name` when memory is over `maxmemory` (its
/// `denyoom` flag).
pub(crate) fn deny_oom(name: &str) -> bool {
    meta(name).is_some_and(|m| m.flags.split(' ').any(|f| f == "denyoom"))
}

/// A command as `COMMAND` knows it: its full name, arity and whether it writes.
#[derive(Clone, Copy)]
struct Known {
    name: &'static str,
    arity: i32,
    write: bool,
    subs: &'static [Subcommand],
}

/// Every top-level command this server implements.
fn known() -> impl Iterator<Item = Known> {
    commands().map(|c| Known {
        name: c.name,
        arity: c.arity,
        write: c.write,
        subs: CONTAINERS
            .iter()
            .find(|(n, _)| *n == c.name)
            .map_or(&[], |(_, s)| *s),
    })
}

/// The command (or `container|sub`) named `name`, any case.
fn lookup(name: &[u8]) -> Option<(Known, Option<&'static Subcommand>)> {
    let lower = String::from_utf8_lossy(name).to_lowercase();
    let (top, sub) = match lower.split_once('|') {
        Some((t, s)) => (t, Some(s)),
        None => (lower.as_str(), None),
    };
    let cmd = known().find(|k| k.name == top)?;
    match sub {
        None => Some((cmd, None)),
        Some(s) => cmd
            .subs
            .iter()
            .find(|x| x.name == s)
            .map(|x| (cmd, Some(x))),
    }
}

fn words(out: &mut Vec<u8>, text: &str, status: bool) {
    let items: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    reply::array(out, items.len());
    for w in items {
        if status {
            reply::simple(out, w);
        } else {
            reply::bulk(out, w.as_bytes());
        }
    }
}

/// One command's `COMMAND INFO` entry (ten fields), its subcommands nested.
fn info_entry(
    out: &mut Vec<u8>,
    full: &str,
    arity: i32,
    write: bool,
    subs: &[Subcommand],
    parent: &str,
) {
    let m = meta(full);
    reply::array(out, 10);
    reply::bulk(out, full.as_bytes());
    reply::integer(out, i64::from(arity));
    let fallback_flags = if write { "write" } else { "readonly" };
    words(out, m.map_or(fallback_flags, |m| m.flags), true);
    let (first, last, step) = m.map_or(
        if parent.is_empty() {
            (1, 1, 1)
        } else {
            (0, 0, 0)
        },
        |m| m.keys,
    );
    reply::integer(out, i64::from(first));
    reply::integer(out, i64::from(last));
    reply::integer(out, i64::from(step));
    let fallback_acl = if write { "@write" } else { "@read" };
    words(out, m.map_or(fallback_acl, |m| m.acl), true);
    words(out, m.map_or("", |m| m.tips), false);
    reply::array(out, 0); // key specs
    reply::array(out, subs.len());
    for sub in subs {
        let name = alloc::format!("{full}|{}", sub.name);
        info_entry(out, &name, sub.arity, write, &[], full);
    }
}

fn reply_info(out: &mut Vec<u8>, k: Known, sub: Option<&Subcommand>) {
    match sub {
        None => info_entry(out, k.name, k.arity, k.write, k.subs, ""),
        Some(s) => {
            let name = alloc::format!("{}|{}", k.name, s.name);
            info_entry(out, &name, s.arity, k.write, &[], k.name);
        }
    }
}

/// One command's `COMMAND DOCS` map (flattened for RESP2).
fn docs_entry(out: &mut Vec<u8>, full: &str, subs: &[Subcommand]) {
    let m = meta(full);
    let fields = [
        ("summary", m.map_or("", |m| m.summary)),
        ("since", m.map_or("", |m| m.since)),
        ("group", m.map_or("generic", |m| m.group)),
        ("complexity", m.map_or("", |m| m.complexity)),
    ];
    reply::array(out, 2 * fields.len() + if subs.is_empty() { 0 } else { 2 });
    for (k, v) in fields {
        reply::bulk(out, k.as_bytes());
        reply::bulk(out, v.as_bytes());
    }
    if !subs.is_empty() {
        reply::bulk(out, b"subcommands");
        reply::array(out, 2 * subs.len());
        for sub in subs {
            let name = alloc::format!("{full}|{}", sub.name);
            reply::bulk(out, name.as_bytes());
            docs_entry(out, &name, &[]);
        }
    }
}

pub(super) const SUBCOMMANDS: &[Subcommand] = &[
    Subcommand::new("count", 2, count),
    Subcommand::new("list", -2, list),
    Subcommand::new("info", -2, info),
    Subcommand::new("docs", -2, docs),
    Subcommand::new("help", 2, help),
];

/// `COMMAND`: every command's `COMMAND INFO` entry; `COMMAND <subcommand> ...`.
pub(super) fn command(s: &mut Server, cl: &mut Client, c: &mut Call<'_>) -> Action {
    if c.args.len() > 1 {
        return dispatch(s, cl, c, "command", SUBCOMMANDS);
    }
    let all: Vec<Known> = known().collect();
    reply::array(c.out, all.len());
    for k in all {
        reply_info(c.out, k, None);
    }
    Action::Continue
}

fn count(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    reply::integer(c.out, known().count() as i64);
    Action::Continue
}

/// `COMMAND LIST [FILTERBY MODULE name|ACLCAT category|PATTERN pattern]`: full names,
/// subcommands included.
fn list(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    let mut filter: Option<(Vec<u8>, Vec<u8>)> = None;
    let mut i = 2;
    while i < c.args.len() {
        let more = c.args.len() - 1 - i;
        if !(c.args[i].eq_ignore_ascii_case(b"filterby") && more == 2) {
            c.error(SYNTAX);
            return Action::Continue;
        }
        let kind = c.args[i + 1].to_ascii_lowercase();
        if !matches!(kind.as_slice(), b"module" | b"aclcat" | b"pattern") {
            c.error(SYNTAX);
            return Action::Continue;
        }
        filter = Some((kind, c.args[i + 2].clone()));
        i += 3;
    }
    let mut names: Vec<(String, bool)> = Vec::new();
    for k in known() {
        names.push((String::from(k.name), k.write));
        for sub in k.subs {
            names.push((alloc::format!("{}|{}", k.name, sub.name), k.write));
        }
    }
    let keep = |name: &str, write: bool| match &filter {
        None => true,
        Some((kind, arg)) => match kind.as_slice() {
            b"pattern" => crate::glob::matches(&arg.to_ascii_lowercase(), name.as_bytes()),
            b"aclcat" => {
                let wanted = alloc::format!("@{}", String::from_utf8_lossy(arg).to_lowercase());
                let fallback = if write { "@write" } else { "@read" };
                meta(name)
                    .map_or(fallback, |m| m.acl)
                    .split(' ')
                    .any(|cat| cat == wanted)
            }
            _ => false, // no modules
        },
    };
    let shown: Vec<&String> = names
        .iter()
        .filter(|(n, w)| keep(n, *w))
        .map(|(n, _)| n)
        .collect();
    reply::array(c.out, shown.len());
    for n in shown {
        reply::bulk(c.out, n.as_bytes());
    }
    Action::Continue
}

/// `COMMAND INFO [name ...]`: nil for a name that is not a command.
fn info(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    if c.args.len() == 2 {
        let all: Vec<Known> = known().collect();
        reply::array(c.out, all.len());
        for k in all {
            reply_info(c.out, k, None);
        }
        return Action::Continue;
    }
    reply::array(c.out, c.args.len() - 2);
    for name in &c.args[2..] {
        match lookup(name) {
            Some((k, sub)) => reply_info(c.out, k, sub),
            None => reply::null(c.out),
        }
    }
    Action::Continue
}

/// `COMMAND DOCS [name ...]`: a map of the commands found.
fn docs(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    let found: Vec<(String, &'static [Subcommand])> = if c.args.len() == 2 {
        known().map(|k| (String::from(k.name), k.subs)).collect()
    } else {
        c.args[2..]
            .iter()
            .filter_map(|n| lookup(n))
            .map(|(k, sub)| match sub {
                None => (String::from(k.name), k.subs),
                Some(s) => (alloc::format!("{}|{}", k.name, s.name), &[][..]),
            })
            .collect()
    };
    reply::array(c.out, 2 * found.len());
    for (name, subs) in found {
        reply::bulk(c.out, name.as_bytes());
        docs_entry(c.out, &name, subs);
    }
    Action::Continue
}

fn help(_: &mut Server, _: &mut Client, c: &mut Call<'_>) -> Action {
    help_reply(
        c,
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
        ],
    );
    Action::Continue
}

/// Every command's arity agrees with Redis's (checked by the tests).
#[cfg(test)]
pub(super) fn arity_mismatches() -> Vec<String> {
    let mut wrong = Vec::new();
    for k in known() {
        if let Some(m) = meta(k.name)
            && m.arity != k.arity
        {
            wrong.push(alloc::format!(
                "{}: {} (Redis: {})",
                k.name,
                k.arity,
                m.arity
            ));
        }
        for sub in k.subs {
            let full = alloc::format!("{}|{}", k.name, sub.name);
            if let Some(m) = meta(&full)
                && m.arity != sub.arity
            {
                wrong.push(alloc::format!("{full}: {} (Redis: {})", sub.arity, m.arity));
            }
        }
    }
    wrong
}
