//! Property tests of the request parser over generated input, with a small seeded PRNG (a
//! failure prints its seed and input):
//! - it never panics, and never asks the caller to hold more than `max_head_bytes`;
//! - input split at any position, or at many, gives what the whole input gives;
//! - valid pipelined requests come out in order with the fields they were made with.

use crate::{Error, Limits, Method, Parsed, RequestParser, Version};
use alloc::vec::Vec;

/// SplitMix64: small, seedable, good enough to pick bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// What a connection's bytes turned into.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Request {
        method: Method,
        version: Version,
        target: String,
        keep_alive: bool,
        content_length: u64,
        headers: Vec<(String, Vec<u8>)>,
    },
    Error(Error),
}

/// Feeds `input` to a parser in chunks ending at `cuts` (increasing) and at the end, as a
/// connection would, and returns what came out. Checks on the way that the caller's buffer
/// never has to hold more than the head limit.
fn run(input: &[u8], cuts: &[usize], limits: Limits) -> Vec<Event> {
    let mut parser = RequestParser::new(limits);
    let mut buf: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain([input.len()].iter()) {
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match parser.parse(&buf) {
                Ok(Parsed::Incomplete { consumed }) => {
                    buf.drain(..consumed);
                    assert!(
                        buf.len() <= limits.max_head_bytes,
                        "{} bytes held, limit {}",
                        buf.len(),
                        limits.max_head_bytes
                    );
                    break;
                }
                Ok(Parsed::Complete { request, consumed }) => {
                    assert!(consumed > 0);
                    events.push(Event::Request {
                        method: request.method(),
                        version: request.version(),
                        target: request.target().into(),
                        keep_alive: request.keep_alive(),
                        content_length: request.content_length(),
                        headers: request
                            .headers()
                            .map(|(n, v)| (n.into(), v.to_vec()))
                            .collect(),
                    });
                    buf.drain(..consumed);
                }
                Err(e) => {
                    events.push(Event::Error(e));
                    // Sticky: the same again.
                    assert_eq!(parser.parse(&buf).err(), Some(e));
                    return events;
                }
            }
        }
    }
    events
}

fn at_once(input: &[u8], limits: Limits) -> Vec<Event> {
    run(input, &[], limits)
}

/// Pieces HTTP is made of, to make random input that gets past the first byte.
const PIECES: &[&[u8]] = &[
    b"GET",
    b"HEAD",
    b"POST",
    b" ",
    b" ",
    b"/",
    b"/a/b",
    b"?q=1",
    b"%2e%2e",
    b"\r\n",
    b"\r\n",
    b"\n",
    b"\r",
    b"HTTP/1.1",
    b"HTTP/1.0",
    b"HTTP/2.0",
    b"Host: h",
    b"Host:",
    b"Content-Length: ",
    b"Content-Length: 3",
    b"Connection: close",
    b"Connection: keep-alive",
    b"Transfer-Encoding: chunked",
    b":",
    b"0",
    b"7",
    b"\t",
    b"\0",
    b"\x80",
    b"x",
    b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
];

/// Random bytes: uniform, or glued from [`PIECES`].
fn random_input(rng: &mut Rng, max_len: usize) -> Vec<u8> {
    let len = rng.below(max_len + 1);
    let mut out = Vec::with_capacity(len);
    if rng.chance(20) {
        out.extend((0..len).map(|_| rng.next() as u8));
    } else {
        while out.len() < len {
            out.extend_from_slice(rng.pick(PIECES));
        }
    }
    out
}

/// A valid request and the event it should give.
fn valid_request(rng: &mut Rng) -> (Vec<u8>, Event) {
    let eol: &[u8] = if rng.chance(80) { b"\r\n" } else { b"\n" };
    let method = rng.pick(&[Method::Get, Method::Head]);
    let version = rng.pick(&[Version::Http11, Version::Http10]);
    let target_bytes = b"abcXYZ019-._~!$&'()*+,;=:@/%?#[]";
    let mut target = String::from("/");
    for _ in 0..rng.below(40) {
        target.push(char::from(rng.pick(target_bytes)));
    }
    let mut out = Vec::new();
    for _ in 0..rng.below(3) {
        if rng.chance(30) {
            out.extend_from_slice(eol);
        }
    }
    out.extend_from_slice(match method {
        Method::Get => b"GET ",
        Method::Head => b"HEAD ",
    });
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(match version {
        Version::Http11 => b" HTTP/1.1",
        Version::Http10 => b" HTTP/1.0",
    });
    out.extend_from_slice(eol);

    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    if version == Version::Http11 || rng.chance(50) {
        headers.push(("Host".into(), b"example.com:8080".to_vec()));
    }
    let (mut close, mut keep) = (false, false);
    if rng.chance(40) {
        let value: &[u8] = rng.pick(&[&b"close"[..], b"keep-alive", b"Keep-Alive, Upgrade"]);
        close = value == b"close";
        keep = value.starts_with(b"keep") || value.starts_with(b"Keep");
        headers.push(("Connection".into(), value.to_vec()));
    }
    let body_len = if rng.chance(30) { rng.below(50) } else { 0 };
    if body_len > 0 || rng.chance(10) {
        headers.push(("Content-Length".into(), body_len.to_string().into_bytes()));
    }
    let name_bytes = b"abcdefgXYZ0129-_!#$%&'*+.^`|~";
    for _ in 0..rng.below(6) {
        let name: String = (0..1 + rng.below(12))
            .map(|_| char::from(rng.pick(name_bytes)))
            .collect();
        if ["host", "connection", "content-length", "transfer-encoding"]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(&name))
        {
            continue;
        }
        let mut value: Vec<u8> = (0..rng.below(30))
            .map(|_| match rng.below(10) {
                0 => b' ',
                1 => b'\t',
                2 => 0x80 + rng.below(128) as u8,
                _ => b'!' + rng.below(94) as u8,
            })
            .collect();
        while value.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            value.remove(0);
        }
        while value.last().is_some_and(|b| *b == b' ' || *b == b'\t') {
            value.pop();
        }
        headers.insert(rng.below(headers.len() + 1), (name, value));
    }
    for (name, value) in &headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        out.extend_from_slice(rng.pick(&[&b""[..], b" ", b"\t ", b"  "]));
        out.extend_from_slice(value);
        out.extend_from_slice(rng.pick(&[&b""[..], b" ", b" \t"]));
        out.extend_from_slice(eol);
    }
    out.extend_from_slice(eol);
    // A body that looks like requests, to catch any that is parsed instead of skipped.
    let fake = b"GET /body HTTP/1.1\r\nHost: x\r\n\r\n";
    out.extend((0..body_len).map(|i| fake[i % fake.len()]));

    let keep_alive = match version {
        Version::Http11 => !close,
        Version::Http10 => keep && !close,
    };
    let event = Event::Request {
        method,
        version,
        target,
        keep_alive,
        content_length: body_len as u64,
        headers,
    };
    (out, event)
}

/// A valid request with a few bytes changed, inserted or removed.
fn mutated_request(rng: &mut Rng) -> Vec<u8> {
    let (mut bytes, _) = valid_request(rng);
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(3) {
            0 if at < bytes.len() => bytes[at] = rng.next() as u8,
            1 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, rng.pick(b"\r\n :\0\t/%")),
        }
    }
    bytes
}

/// Several valid requests back to back, and what they should give.
fn pipeline(rng: &mut Rng) -> (Vec<u8>, Vec<Event>) {
    let mut input = Vec::new();
    let mut events = Vec::new();
    for _ in 0..1 + rng.below(6) {
        let (bytes, event) = valid_request(rng);
        input.extend_from_slice(&bytes);
        events.push(event);
    }
    (input, events)
}

/// Some input of each kind.
fn any_input(rng: &mut Rng) -> Vec<u8> {
    match rng.below(4) {
        0 => random_input(rng, 300),
        1 => mutated_request(rng),
        2 => pipeline(rng).0,
        _ => {
            let (mut input, _) = pipeline(rng);
            input.extend_from_slice(&mutated_request(rng));
            input
        }
    }
}

/// Limits that are sometimes small enough to be hit.
fn some_limits(rng: &mut Rng) -> Limits {
    if rng.chance(50) {
        Limits::DEFAULT
    } else {
        Limits {
            max_head_bytes: 1 + rng.below(400),
            max_headers: rng.below(8),
            max_target_len: 1 + rng.below(60),
            max_body_bytes: rng.below(60) as u64,
        }
    }
}

fn show(input: &[u8]) -> String {
    String::from_utf8_lossy(input).escape_debug().to_string()
}

#[test]
fn never_panics_and_never_needs_more_than_the_limit() {
    let mut rng = Rng(1);
    for case in 0..20_000 {
        let seed = rng.next();
        let mut rng = Rng(seed);
        let input = any_input(&mut rng);
        let limits = some_limits(&mut rng);
        let outcome = std::panic::catch_unwind(|| at_once(&input, limits));
        assert!(outcome.is_ok(), "case {case} seed {seed}: {}", show(&input));
    }
}

#[test]
fn random_bytes_of_a_long_stream_are_refused_within_the_limit() {
    let mut rng = Rng(2);
    for _ in 0..200 {
        let input: Vec<u8> = (0..20_000).map(|_| rng.next() as u8).collect();
        let events = at_once(&input, Limits::DEFAULT);
        assert!(matches!(events.last(), Some(Event::Error(_))), "{events:?}");
    }
}

#[test]
fn one_split_anywhere_gives_the_same_result() {
    let mut rng = Rng(3);
    for _ in 0..1_500 {
        let seed = rng.next();
        let mut rng = Rng(seed);
        let input = any_input(&mut rng);
        let limits = some_limits(&mut rng);
        let whole = at_once(&input, limits);
        for cut in 0..=input.len() {
            let split = run(&input, &[cut], limits);
            assert_eq!(split, whole, "seed {seed}, cut at {cut}: {}", show(&input));
        }
    }
}

#[test]
fn byte_by_byte_and_random_chunks_give_the_same_result() {
    let mut rng = Rng(4);
    for _ in 0..3_000 {
        let seed = rng.next();
        let mut rng = Rng(seed);
        let input = any_input(&mut rng);
        let limits = some_limits(&mut rng);
        let whole = at_once(&input, limits);
        let every_byte: Vec<usize> = (1..input.len()).collect();
        assert_eq!(
            run(&input, &every_byte, limits),
            whole,
            "seed {seed} byte by byte"
        );
        let mut cuts: Vec<usize> = (0..rng.below(8))
            .map(|_| rng.below(input.len() + 1))
            .collect();
        cuts.sort_unstable();
        assert_eq!(
            run(&input, &cuts, limits),
            whole,
            "seed {seed} cuts {cuts:?}"
        );
    }
}

#[test]
fn valid_pipelines_parse_in_order_with_their_fields() {
    let mut rng = Rng(5);
    for _ in 0..5_000 {
        let seed = rng.next();
        let mut rng = Rng(seed);
        let (input, expected) = pipeline(&mut rng);
        assert_eq!(
            at_once(&input, Limits::DEFAULT),
            expected,
            "seed {seed}: {}",
            show(&input)
        );
        let mut cuts: Vec<usize> = (0..rng.below(10))
            .map(|_| rng.below(input.len() + 1))
            .collect();
        cuts.sort_unstable();
        assert_eq!(
            run(&input, &cuts, Limits::DEFAULT),
            expected,
            "seed {seed} cuts {cuts:?}"
        );
    }
}

#[test]
fn a_mutated_request_is_parsed_or_refused_never_left_hanging_past_the_limit() {
    let mut rng = Rng(6);
    for _ in 0..5_000 {
        let seed = rng.next();
        let mut rng = Rng(seed);
        let mut input = mutated_request(&mut rng);
        // Whatever the mutation did, a long enough tail of header bytes must end it.
        input.extend(core::iter::repeat_n(
            b'x',
            Limits::DEFAULT.max_head_bytes + 1,
        ));
        let events = at_once(&input, Limits::DEFAULT);
        assert!(!events.is_empty(), "seed {seed}: {}", show(&input));
    }
}

#[test]
fn resolved_paths_never_leave_the_root() {
    let mut rng = Rng(7);
    let pieces = [
        "/", "..", ".", "%2e", "%2E", "%2f", "%5c", "\\", "a", "%00", "//", "?", "%",
    ];
    for _ in 0..50_000 {
        let target: String = (0..rng.below(12)).map(|_| rng.pick(&pieces)).collect();
        let target = format!("/{target}");
        if let Ok(path) = crate::path::resolve(&target) {
            let p = path.as_str();
            assert!(p.starts_with('/'), "{target} -> {p}");
            assert!(
                p == "/" || p.split('/').skip(1).all(|s| !matches!(s, "" | "." | "..")),
                "{target} -> {p}"
            );
            assert!(!p.contains(['\\', '\0']), "{target} -> {p}");
        }
    }
}
