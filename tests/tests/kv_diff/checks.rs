//! How the differential sessions judge replies that are not meant to be Redis's byte for
//! byte: replies parsed into trees ([`Resp`]), and the comparisons for random picks,
//! server descriptions (`COMMAND`, `CLIENT LIST`, `HELLO`, `INFO`, `TIME`) and whole
//! `SCAN` walks.

use std::collections::{BTreeMap, BTreeSet};

/// A parsed RESP2 reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Resp {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Resp>>),
}

impl Resp {
    pub fn parse(bytes: &[u8]) -> Self {
        let mut at = 0;
        let r = parse_at(bytes, &mut at);
        assert_eq!(at, bytes.len(), "trailing bytes after a reply: {bytes:?}");
        r
    }

    pub fn items(&self) -> &[Resp] {
        match self {
            Resp::Array(Some(items)) => items,
            _ => &[],
        }
    }

    pub fn text(&self) -> String {
        match self {
            Resp::Bulk(Some(b)) => String::from_utf8_lossy(b).into_owned(),
            Resp::Simple(s) | Resp::Error(s) => s.clone(),
            Resp::Int(n) => n.to_string(),
            _ => String::new(),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Resp::Simple(_) => "simple",
            Resp::Error(_) => "error",
            Resp::Int(_) => "integer",
            Resp::Bulk(Some(_)) => "bulk",
            Resp::Bulk(None) => "nil",
            Resp::Array(Some(_)) => "array",
            Resp::Array(None) => "nil array",
        }
    }
}

fn parse_at(b: &[u8], at: &mut usize) -> Resp {
    let end = *at
        + b[*at..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a line");
    let line = String::from_utf8_lossy(&b[*at + 1..end]).into_owned();
    let kind = b[*at];
    *at = end + 2;
    let n = || line.parse::<i64>().expect("a length");
    match kind {
        b'+' => Resp::Simple(line),
        b'-' => Resp::Error(line),
        b':' => Resp::Int(n()),
        b'$' if n() < 0 => Resp::Bulk(None),
        b'$' => {
            let data = b[*at..*at + n() as usize].to_vec();
            *at += n() as usize + 2;
            Resp::Bulk(Some(data))
        }
        b'*' if n() < 0 => Resp::Array(None),
        b'*' => Resp::Array(Some((0..n()).map(|_| parse_at(b, at)).collect())),
        other => panic!("not a reply: {:?}", other as char),
    }
}

/// Errors must be the same error; otherwise the same kind of reply.
pub fn same_shape(a: &Resp, b: &Resp) -> Result<(), String> {
    match (a, b) {
        (Resp::Error(x), Resp::Error(y)) if x != y => Err(format!("errors differ: {x} / {y}")),
        _ if a.kind() != b.kind() => Err(format!("{} / {}", a.kind(), b.kind())),
        _ => Ok(()),
    }
}

/// Random picks: the same shape and count; every pick in `universe` (Redis's members,
/// fields or keys; for `pairs`, field and value alternating); no repeats if `distinct`.
pub fn random_picks(
    a: &Resp,
    b: &Resp,
    universe: &[String],
    distinct: bool,
    pairs: bool,
) -> Result<(), String> {
    same_shape(a, b)?;
    if let Resp::Error(_) = a {
        return Ok(());
    }
    let known: BTreeSet<(String, Option<String>)> = if pairs {
        universe
            .chunks(2)
            .map(|p| (p[0].clone(), Some(p[1].clone())))
            .collect()
    } else {
        universe.iter().map(|u| (u.clone(), None)).collect()
    };
    let picks = |r: &Resp| -> Vec<(String, Option<String>)> {
        match r {
            Resp::Bulk(Some(_)) => vec![(r.text(), None)],
            Resp::Array(Some(items)) if pairs => items
                .chunks(2)
                .map(|p| (p[0].text(), Some(p[1].text())))
                .collect(),
            Resp::Array(Some(items)) => items.iter().map(|i| (i.text(), None)).collect(),
            _ => Vec::new(),
        }
    };
    let (x, y) = (picks(a), picks(b));
    if x.len() != y.len() {
        return Err(format!("{} picks / {}", x.len(), y.len()));
    }
    let members: BTreeSet<_> = known
        .iter()
        .map(|(m, v)| (m.clone(), if pairs { v.clone() } else { None }))
        .collect();
    for p in &y {
        let p = if pairs {
            p.clone()
        } else {
            (p.0.clone(), None)
        };
        if !members.contains(&p) {
            return Err(format!("{p:?} is not in {universe:?}"));
        }
    }
    if distinct && y.iter().collect::<BTreeSet<_>>().len() != y.len() {
        return Err(format!("repeated picks: {y:?}"));
    }
    Ok(())
}

/// `CLIENT LIST`/`CLIENT INFO`: the same clients with the same name, database, flags,
/// transaction, last command, user and protocol (addresses, ages and memory differ).
pub fn client_lines(a: &Resp, b: &Resp) -> Result<(), String> {
    same_shape(a, b)?;
    let fields = |r: &Resp| -> Vec<BTreeMap<String, String>> {
        r.text()
            .lines()
            .map(|l| {
                l.split(' ')
                    .filter_map(|kv| kv.split_once('='))
                    .filter(|(k, _)| {
                        matches!(
                            *k,
                            "name"
                                | "db"
                                | "flags"
                                | "multi"
                                | "cmd"
                                | "sub"
                                | "psub"
                                | "user"
                                | "resp"
                                | "redir"
                        )
                    })
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .collect()
    };
    let (x, y) = (fields(a), fields(b));
    (x == y).then_some(()).ok_or(format!("{x:?}\n / {y:?}"))
}

/// `COMMAND INFO`: each entry's name, arity, flags, key positions, ACL categories and tips
/// as Redis's; its subcommands some of Redis's, each as Redis describes it (key specs,
/// which this server leaves out, are not compared).
pub fn command_info(a: &Resp, b: &Resp) -> Result<(), String> {
    same_shape(a, b)?;
    let (x, y) = (a.items(), b.items());
    if x.len() != y.len() {
        return Err(format!("{} entries / {}", x.len(), y.len()));
    }
    for (e, f) in x.iter().zip(y) {
        same_shape(e, f)?;
        let (e, f) = (e.items(), f.items());
        if e.is_empty() {
            continue;
        }
        if e[..8] != f[..8] {
            return Err(format!("{:?}\n / {:?}", &e[..8], &f[..8]));
        }
        for sub in f[9].items() {
            let name = &sub.items()[0];
            let theirs = e[9]
                .items()
                .iter()
                .find(|s| &s.items()[0] == name)
                .ok_or(format!("{} is not a subcommand in Redis", name.text()))?;
            if theirs.items()[..8] != sub.items()[..8] {
                return Err(format!("{theirs:?}\n / {sub:?}"));
            }
        }
    }
    Ok(())
}

/// `COMMAND DOCS`: the same commands with the same summary, version, group and
/// complexity (Redis also documents arguments).
pub fn command_docs(a: &Resp, b: &Resp) -> Result<(), String> {
    same_shape(a, b)?;
    fn docs(r: &Resp) -> BTreeMap<String, BTreeMap<String, String>> {
        r.items()
            .chunks(2)
            .flat_map(|p| {
                let map: BTreeMap<String, &Resp> = p[1]
                    .items()
                    .chunks(2)
                    .map(|kv| (kv[0].text(), &kv[1]))
                    .collect();
                let own: BTreeMap<String, String> = ["summary", "since", "group", "complexity"]
                    .iter()
                    .map(|k| {
                        (
                            k.to_string(),
                            map.get(*k).map_or(String::new(), |v| v.text()),
                        )
                    })
                    .collect();
                let subs = map.get("subcommands").map(|s| docs(s)).unwrap_or_default();
                std::iter::once((p[0].text(), own)).chain(subs)
            })
            .collect()
    }
    let (x, y) = (docs(a), docs(b));
    for (name, ours) in &y {
        match x.get(name) {
            Some(theirs) if theirs == ours => {}
            other => return Err(format!("{name}: {other:?} / {ours:?}")),
        }
    }
    let missing: Vec<&String> = x
        .keys()
        .filter(|k| !k.contains('|') && !y.contains_key(*k))
        .collect();
    missing
        .is_empty()
        .then_some(())
        .ok_or(format!("not documented: {missing:?}"))
}

/// `INFO`: the same sections in the same order.
pub fn info_headings(a: &Resp, b: &Resp) -> Result<(), String> {
    same_shape(a, b)?;
    let headings = |r: &Resp| -> Vec<String> {
        r.text()
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(String::from)
            .collect()
    };
    let (x, y) = (headings(a), headings(b));
    (x == y).then_some(()).ok_or(format!("{x:?} / {y:?}"))
}

/// `HELLO`: the same map but for the connection's id.
pub fn hello(a: &Resp, b: &Resp) -> Result<(), String> {
    same_shape(a, b)?;
    let masked = |r: &Resp| -> Vec<Resp> {
        let mut items = r.items().to_vec();
        if let Some(at) = items.iter().position(|i| i.text() == "id") {
            items[at + 1] = Resp::Int(0);
        }
        items
    };
    let (x, y) = (masked(a), masked(b));
    (x == y).then_some(()).ok_or(format!("{x:?} / {y:?}"))
}

/// `CONFIG GET`: the same pairs, in any order.
pub fn config_map(a: &Resp, b: &Resp) -> Result<(), String> {
    same_shape(a, b)?;
    let map = |r: &Resp| -> BTreeMap<String, String> {
        r.items()
            .chunks(2)
            .map(|p| (p[0].text(), p[1].text()))
            .collect()
    };
    let (x, y) = (map(a), map(b));
    (x == y).then_some(()).ok_or(format!("{x:?} / {y:?}"))
}

/// `TIME`: seconds and microseconds, the seconds within a minute of Redis's (both read
/// the host's clock, the guest through its RTC).
pub fn time(a: &Resp, b: &Resp) -> Result<(), String> {
    same_shape(a, b)?;
    if let Resp::Error(_) = a {
        return Ok(());
    }
    let parts = |r: &Resp| -> Vec<i64> {
        r.items()
            .iter()
            .map(|i| i.text().parse().unwrap_or(-1))
            .collect()
    };
    let (x, y) = (parts(a), parts(b));
    let ok =
        x.len() == 2 && y.len() == 2 && (0..1_000_000).contains(&y[1]) && (x[0] - y[0]).abs() <= 60;
    ok.then_some(()).ok_or(format!("{x:?} / {y:?}"))
}

/// What a whole `SCAN` walk returned: the elements (pairs for `HSCAN`/`ZSCAN`) as a
/// set, or the error that ended it.
#[derive(Debug, PartialEq)]
pub enum Walk {
    Elements(BTreeSet<Vec<String>>),
    Failed(Resp),
}
