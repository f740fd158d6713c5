//! The parser against Redis 7.0's behaviour, case by case, and against random input:
//! never a panic, never more memory than the input, and every command split anywhere
//! across reads parses the same.

use super::*;
use std::vec;

fn limits() -> Limits {
    Limits::default()
}

fn command(buf: &[u8]) -> (Vec<Vec<u8>>, usize) {
    match parse(buf, &limits()) {
        Ok(Parsed::Command { args, used }) => (args, used),
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(buf)),
    }
}

fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|a| a.as_bytes().to_vec()).collect()
}

#[test]
fn multibulk_commands_and_pipelines() {
    let buf = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
    let (a, used) = command(buf);
    assert_eq!((a, used), (args(&["GET", "k"]), 20));
    assert_eq!(command(&buf[used..]).0, args(&["PING"]));
    // Binary data, empty strings.
    let (a, _) = command(b"*2\r\n$0\r\n\r\n$3\r\n\x00\r\n\r\n");
    assert_eq!(a, vec![vec![], vec![0, b'\r', b'\n']]);
    // Empty multibulks are skipped, as Redis does.
    assert_eq!(parse(b"*0\r\n", &limits()), Ok(Parsed::Skip { used: 4 }));
    assert_eq!(parse(b"*-1\r\n", &limits()), Ok(Parsed::Skip { used: 5 }));
}

#[test]
fn inline_commands_with_redis_quoting() {
    assert_eq!(command(b"SET k v\r\n"), (args(&["SET", "k", "v"]), 9));
    assert_eq!(command(b"  ping  \n").0, args(&["ping"]));
    assert_eq!(
        command(b"set \"a b\" 'c d'\r\n").0,
        args(&["set", "a b", "c d"])
    );
    assert_eq!(
        command(b"set k \"\\x41\\n\\t\\\"\\q\"\r\n").0,
        vec![b"set".to_vec(), b"k".to_vec(), b"A\n\t\"q".to_vec()]
    );
    assert_eq!(command(b"set k 'it\\'s'\n").0, args(&["set", "k", "it's"]));
    // As in Redis, a quote inside a word opens a quoted part of that word.
    assert_eq!(command(b"a\"b\" c\n").0, args(&["ab", "c"]));
    assert_eq!(
        parse(b"a\"b c\n", &limits()),
        Err(ProtocolError::UnbalancedQuotes)
    );
    assert_eq!(parse(b"\r\n", &limits()), Ok(Parsed::Skip { used: 2 }));
    assert_eq!(parse(b"   \n", &limits()), Ok(Parsed::Skip { used: 4 }));
    for bad in [
        &b"set \"a\n"[..],
        b"set 'a\n",
        b"set \"a\"b\n",
        b"set 'a'b\n",
    ] {
        assert_eq!(
            parse(bad, &limits()),
            Err(ProtocolError::UnbalancedQuotes),
            "{bad:?}"
        );
    }
}

#[test]
fn incomplete_until_every_byte_is_there() {
    let full = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
    for cut in 0..full.len() {
        assert_eq!(
            parse(&full[..cut], &limits()),
            Ok(Parsed::Incomplete),
            "cut {cut}"
        );
    }
    assert_eq!(command(full).1, full.len());
    assert_eq!(parse(b"GET k", &limits()), Ok(Parsed::Incomplete));
}

#[test]
fn errors_are_redis_errors_with_redis_texts() {
    let cases: [(&[u8], ProtocolError, &str); 8] = [
        (
            b"*x\r\n",
            ProtocolError::InvalidMultibulkLength,
            "invalid multibulk length",
        ),
        (
            b"*2147483648\r\n",
            ProtocolError::InvalidMultibulkLength,
            "invalid multibulk length",
        ),
        (
            b"*+1\r\n",
            ProtocolError::InvalidMultibulkLength,
            "invalid multibulk length",
        ),
        (
            b"*1\r\n+3\r\n",
            ProtocolError::ExpectedDollar(b'+'),
            "expected '$', got '+'",
        ),
        (
            b"*1\r\n$-1\r\n",
            ProtocolError::InvalidBulkLength,
            "invalid bulk length",
        ),
        (
            b"*1\r\n$536870913\r\n",
            ProtocolError::InvalidBulkLength,
            "invalid bulk length",
        ),
        (
            b"*1\r\n$01\r\n",
            ProtocolError::InvalidBulkLength,
            "invalid bulk length",
        ),
        (
            b"set \"x\n",
            ProtocolError::UnbalancedQuotes,
            "unbalanced quotes in request",
        ),
    ];
    for (input, error, text) in cases {
        assert_eq!(parse(input, &limits()), Err(error), "{input:?}");
        assert_eq!(error.to_string(), format!("Protocol error: {text}"));
    }
    let long = vec![b'a'; 64 * 1024 + 1];
    assert_eq!(parse(&long, &limits()), Err(ProtocolError::TooBigInline));
    let mut count = b"*".to_vec();
    count.extend(vec![b'1'; 64 * 1024 + 1]);
    assert_eq!(
        parse(&count, &limits()),
        Err(ProtocolError::TooBigMultibulkCount)
    );
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(vec![b'1'; 64 * 1024 + 1]);
    assert_eq!(parse(&bulk, &limits()), Err(ProtocolError::TooBigBulkCount));
    // A 512 MB bulk is allowed, and costs nothing until it arrives.
    assert_eq!(
        parse(b"*1\r\n$536870912\r\nabc", &limits()),
        Ok(Parsed::Incomplete)
    );
}

#[test]
fn integers_read_as_string2ll_does() {
    for (s, v) in [
        ("0", Some(0)),
        ("-1", Some(-1)),
        ("9223372036854775807", Some(i64::MAX)),
        ("-9223372036854775808", Some(i64::MIN)),
        ("9223372036854775808", None),
        ("01", None),
        ("-0", None),
        ("+1", None),
        ("", None),
        ("-", None),
        (" 1", None),
        ("1a", None),
    ] {
        assert_eq!(parse_i64(s.as_bytes()), v, "{s:?}");
    }
}

/// xorshift64*
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len() as u64) as usize])
            .collect()
    }
}

fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend(format!("${}\r\n", a.len()).into_bytes());
        out.extend(a);
        out.extend(b"\r\n");
    }
    out
}

#[test]
fn random_bytes_never_panic_and_never_outgrow_the_input() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    // Bytes that make the parser take its different paths.
    let alphabet = b"*$\r\n0123456789-+ \"'\\xab\x00";
    for _ in 0..200_000 {
        let len = rng.below(48) as usize;
        let buf = rng.bytes(len, alphabet);
        match parse(&buf, &limits()) {
            Ok(Parsed::Command { args, used }) => {
                assert!(used > 0 && used <= buf.len(), "{buf:?}");
                let held: usize = args.iter().map(Vec::len).sum();
                assert!(held <= buf.len(), "{buf:?}");
                assert!(args.capacity() <= 64.max(args.len()), "{buf:?}");
            }
            Ok(Parsed::Skip { used }) => assert!(used > 0 && used <= buf.len()),
            Ok(Parsed::Incomplete) | Err(_) => {}
        }
    }
}

#[test]
fn random_pipelines_parse_the_same_however_they_are_split() {
    let mut rng = Rng(42);
    for _ in 0..2_000 {
        let commands: Vec<Vec<Vec<u8>>> = (0..1 + rng.below(5))
            .map(|_| {
                (0..1 + rng.below(4))
                    .map(|_| {
                        let n = rng.below(20) as usize;
                        rng.bytes(n, b"ab\r\n\x00*$12")
                    })
                    .collect()
            })
            .collect();
        let stream: Vec<u8> = commands.iter().flat_map(|c| encode(c)).collect();
        // Fed in random pieces, as reads deliver them.
        let mut buf = Vec::new();
        let mut fed = 0;
        let mut got = Vec::new();
        while got.len() < commands.len() {
            let step = 1 + rng.below(9) as usize;
            let next = (fed + step).min(stream.len());
            buf.extend_from_slice(&stream[fed..next]);
            fed = next;
            loop {
                match parse(&buf, &limits()).unwrap() {
                    Parsed::Command { args, used } => {
                        got.push(args);
                        buf.drain(..used);
                    }
                    Parsed::Skip { used } => {
                        buf.drain(..used);
                    }
                    Parsed::Incomplete => break,
                }
            }
            assert!(fed < stream.len() || got.len() == commands.len());
        }
        assert_eq!(got, commands);
        assert!(buf.is_empty());
    }
}

#[test]
fn random_inline_arguments_round_trip_through_quoting() {
    let mut rng = Rng(7);
    for _ in 0..5_000 {
        let args: Vec<Vec<u8>> = (0..1 + rng.below(5))
            .map(|_| {
                let n = rng.below(12) as usize;
                rng.bytes(n, b"ab \"'\\\t\r\n\x01\xff")
            })
            .collect();
        // Quote every argument the way redis-cli would: "..." with \xHH for odd bytes.
        let mut line = Vec::new();
        for a in &args {
            line.push(b'"');
            for &b in a {
                match b {
                    b'"' | b'\\' => line.extend([b'\\', b]),
                    b' ' | b'a'..=b'z' | b'\'' => line.push(b),
                    _ => line.extend(format!("\\x{b:02x}").into_bytes()),
                }
            }
            line.extend(b"\" ");
        }
        line.extend(b"\r\n");
        assert_eq!(
            command(&line).0,
            args,
            "{:?}",
            String::from_utf8_lossy(&line)
        );
    }
}
