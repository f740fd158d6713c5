//! Unit tests of the request parser, one case each; `crate::proptests` runs it on generated
//! and random input.

use super::*;

/// Parses a whole buffer with default limits: the first request and the bytes it used.
fn parse_one(input: &[u8]) -> Result<(Request<'_>, usize)> {
    parse_with(input, Limits::DEFAULT)
}

fn parse_with(input: &[u8], limits: Limits) -> Result<(Request<'_>, usize)> {
    match RequestParser::new(limits).parse(input)? {
        Parsed::Complete { request, consumed } => Ok((request, consumed)),
        Parsed::Incomplete { .. } => panic!("incomplete: {:?}", String::from_utf8_lossy(input)),
    }
}

fn error_of(input: &[u8]) -> Error {
    error_with(input, Limits::DEFAULT)
}

fn error_with(input: &[u8], limits: Limits) -> Error {
    match RequestParser::new(limits).parse(input) {
        Err(e) => e,
        Ok(parsed) => panic!("{parsed:?} from {:?}", String::from_utf8_lossy(input)),
    }
}

fn is_incomplete(input: &[u8]) -> bool {
    matches!(
        RequestParser::new(Limits::DEFAULT).parse(input),
        Ok(Parsed::Incomplete { consumed: 0 })
    )
}

#[test]
fn a_simple_get() {
    let input = b"GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n";
    let (request, consumed) = parse_one(input).unwrap();
    assert_eq!(consumed, input.len());
    assert_eq!(request.method(), Method::Get);
    assert_eq!(request.version(), Version::Http11);
    assert_eq!(request.target(), "/index.html?x=1");
    assert!(request.keep_alive());
    assert_eq!(request.content_length(), 0);
    assert_eq!(
        request.reply_to(),
        ReplyTo {
            version: Version::Http11,
            keep_alive: true,
            head_only: false
        }
    );
}

#[test]
fn head_is_head_only() {
    let (request, _) = parse_one(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    assert_eq!(request.method(), Method::Head);
    assert!(request.reply_to().head_only);
}

#[test]
fn headers_are_listed_in_order_and_trimmed() {
    let input =
        b"GET / HTTP/1.1\r\nHost:a\r\nX-Empty:\r\nX-Pad: \t v a l \t\r\nx-obs: caf\xc3\xa9\r\n\r\n";
    let (request, _) = parse_one(input).unwrap();
    let headers: Vec<_> = request.headers().collect();
    assert_eq!(
        headers,
        [
            ("Host", &b"a"[..]),
            ("X-Empty", b""),
            ("X-Pad", b"v a l"),
            ("x-obs", "café".as_bytes())
        ]
    );
    assert_eq!(request.header("x-pad"), Some(&b"v a l"[..]));
    assert_eq!(request.header("HOST"), Some(&b"a"[..]));
    assert_eq!(request.header("missing"), None);
}

#[test]
fn keep_alive_by_version_and_connection() {
    let cases: [(&[u8], bool); 7] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nconnection: Upgrade, CLOSE\r\n\r\n",
            false,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false),
        (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
        (
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
            false,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n",
            true,
        ),
    ];
    for (input, keep_alive) in cases {
        let (request, _) = parse_one(input).unwrap();
        assert_eq!(
            request.keep_alive(),
            keep_alive,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn http10_needs_no_host() {
    let (request, _) = parse_one(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    assert_eq!(request.version(), Version::Http10);
    assert!(!request.reply_to().keep_alive);
}

#[test]
fn http11_needs_exactly_one_host() {
    assert_eq!(error_of(b"GET / HTTP/1.1\r\n\r\n"), Error::BadHost);
    assert_eq!(
        error_of(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
        Error::BadHost
    );
    assert!(parse_one(b"GET / HTTP/1.1\r\nHost:\r\n\r\n").is_ok());
}

#[test]
fn absolute_form_target_is_kept_as_sent() {
    let (request, _) = parse_one(b"GET http://h/a?b HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    assert_eq!(request.target(), "http://h/a?b");
}

#[test]
fn partial_heads_are_incomplete() {
    let full = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    for end in 0..full.len() {
        assert!(is_incomplete(&full[..end]), "{end}");
    }
}

#[test]
fn bare_lf_ends_lines() {
    let (request, consumed) =
        parse_one(b"GET /x HTTP/1.1\nHost: a\nConnection: close\n\n").unwrap();
    assert_eq!(consumed, 43);
    assert_eq!(request.target(), "/x");
    assert!(!request.keep_alive());
    assert_eq!(request.header("host"), Some(&b"a"[..]));
    // Mixed endings are fine too.
    assert!(parse_one(b"GET / HTTP/1.1\r\nHost: a\n\r\n").is_ok());
}

#[test]
fn cr_must_be_followed_by_lf() {
    for input in [
        &b"GET / HTTP/1.1\rHost: a\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
        b"\rGET / HTTP/1.1\r\n",
    ] {
        assert_eq!(error_of(input), Error::BadLineEnding, "{input:?}");
    }
}

#[test]
fn empty_lines_before_the_request_line_are_skipped() {
    let input = b"\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let (request, consumed) = parse_one(input).unwrap();
    assert_eq!(consumed, input.len());
    assert_eq!(request.target(), "/");
}

#[test]
fn garbage_is_400() {
    for input in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        b"\x00\x00\x00",
        b" GET / HTTP/1.1\r\n",
        b"GET(/ HTTP/1.1\r\n",
        b"{\"json\": 1}\n",
    ] {
        let e = error_of(input);
        assert_eq!(e.status(), crate::Status::BadRequest, "{input:?}: {e:?}");
    }
    assert_eq!(error_of(b"hello world\r\n\r\n"), Error::BadVersion);
}

#[test]
fn a_request_line_without_a_version_is_400() {
    assert_eq!(error_of(b"GET /\r\n\r\n"), Error::BadVersion);
    assert_eq!(error_of(b"GET /\n"), Error::BadVersion);
    assert_eq!(error_of(b"GET / \r\n\r\n"), Error::BadVersion);
    assert_eq!(error_of(b"GET\r\n\r\n"), Error::BadMethod);
}

#[test]
fn request_line_spacing_is_strict() {
    assert_eq!(error_of(b"GET  / HTTP/1.1\r\n"), Error::BadTarget);
    assert_eq!(error_of(b"GET / HTTP/1.1 \r\n"), Error::BadVersion);
    assert_eq!(error_of(b"GET /\tHTTP/1.1\r\n"), Error::BadTarget);
    assert_eq!(error_of(b"GET /\x80 HTTP/1.1\r\n"), Error::BadTarget);
}

#[test]
fn versions() {
    assert_eq!(error_of(b"GET / HTTP/2.0\r\n"), Error::UnsupportedVersion);
    assert_eq!(error_of(b"GET / HTTP/1.2\r\n"), Error::UnsupportedVersion);
    assert_eq!(error_of(b"GET / HTTP/0.9\r\n"), Error::UnsupportedVersion);
    assert_eq!(error_of(b"GET / HTTP/1.10\r\n"), Error::BadVersion);
    assert_eq!(error_of(b"GET / HTTP/1\r\n"), Error::BadVersion);
    assert_eq!(error_of(b"GET / http/1.1\r\n"), Error::BadVersion);
    assert_eq!(error_of(b"GET / HTTPS/1.1\r\n"), Error::BadVersion);
    assert_eq!(Error::UnsupportedVersion.status().code(), 505);
}

#[test]
fn methods_other_than_get_and_head_are_405() {
    for method in ["POST", "PUT", "DELETE", "OPTIONS", "get", "Head", "BREW"] {
        let input = format!("{method} / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(
            error_of(input.as_bytes()),
            Error::MethodNotAllowed,
            "{method}"
        );
    }
    assert_eq!(Error::MethodNotAllowed.status().code(), 405);
    // Malformed first, whatever the method.
    assert_eq!(
        error_of(b"POST / HTTP/1.1\r\nBad Header: x\r\n\r\n"),
        Error::BadHeaderName
    );
}

#[test]
fn header_syntax() {
    let cases: [(&[u8], Error); 8] = [
        (b" Host: a\r\n", Error::BadHeaderName),
        (b"Host: a\r\n continued\r\n", Error::BadHeaderName),
        (b"Host : a\r\n", Error::BadHeaderName),
        (b"Host a\r\n", Error::BadHeaderName),
        (b": a\r\n", Error::BadHeaderName),
        (b"H(st: a\r\n", Error::BadHeaderName),
        (b"X: a\x00b\r\n", Error::BadHeaderValue),
        (b"X: a\x7f\r\n", Error::BadHeaderValue),
    ];
    for (headers, error) in cases {
        let input = [&b"GET / HTTP/1.1\r\n"[..], headers].concat();
        assert_eq!(
            error_of(&input),
            error,
            "{}",
            String::from_utf8_lossy(headers)
        );
    }
}

#[test]
fn content_length_values() {
    let length = |value: &str| {
        let input = format!("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: {value}\r\n\r\n");
        let mut parser = RequestParser::new(Limits::DEFAULT);
        parser.parse(input.as_bytes()).map(|parsed| match parsed {
            Parsed::Complete { request, .. } => request.content_length(),
            Parsed::Incomplete { .. } => panic!("incomplete"),
        })
    };
    assert_eq!(length("0"), Ok(0));
    assert_eq!(length("5"), Ok(5));
    assert_eq!(length(" 7 "), Ok(7));
    assert_eq!(length("5, 5"), Ok(5));
    for bad in [
        "",
        "-1",
        "+5",
        "5a",
        "0x10",
        "5, 6",
        "5,",
        "99999999999999999999999",
    ] {
        assert_eq!(length(bad), Err(Error::BadContentLength), "{bad:?}");
    }
    assert_eq!(length("65537"), Err(Error::BodyTooLarge));
    assert_eq!(Error::BodyTooLarge.status().code(), 413);
    let twice = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-length: 2\r\n\r\n";
    assert_eq!(error_of(twice), Error::BadContentLength);
}

#[test]
fn transfer_encoding_is_refused() {
    let input = b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(error_of(input), Error::TransferEncoding);
    assert_eq!(Error::TransferEncoding.status().code(), 501);
}

/// A request `len` bytes long (at least 27).
fn request_of_len(len: usize) -> Vec<u8> {
    let mut input = b"GET / HTTP/1.1\r\nHost: ".to_vec();
    input.resize(len - 4, b'a');
    input.extend_from_slice(b"\r\n\r\n");
    input
}

#[test]
fn head_limit_is_inclusive() {
    let limits = Limits {
        max_head_bytes: 100,
        ..Limits::DEFAULT
    };
    assert!(parse_with(&request_of_len(100), limits).is_ok());
    assert_eq!(
        error_with(&request_of_len(101), limits),
        Error::HeadTooLarge
    );
    // Incomplete up to the limit, an error one byte past it.
    let long = request_of_len(200);
    let mut parser = RequestParser::new(limits);
    assert_eq!(
        parser.parse(&long[..100]),
        Ok(Parsed::Incomplete { consumed: 0 })
    );
    assert_eq!(parser.parse(&long[..101]), Err(Error::HeadTooLarge));
    assert_eq!(Error::HeadTooLarge.status().code(), 413);
}

#[test]
fn an_endless_header_is_413() {
    let mut input = b"GET / HTTP/1.1\r\nHost: a\r\nX-Endless: ".to_vec();
    input.resize(100_000, b'x');
    assert_eq!(error_of(&input), Error::HeadTooLarge);
}

#[test]
fn a_head_complete_within_the_limit_may_be_followed_by_more() {
    let limits = Limits {
        max_head_bytes: 100,
        ..Limits::DEFAULT
    };
    let mut input = request_of_len(100);
    input.extend_from_slice(&request_of_len(60));
    assert_eq!(parse_with(&input, limits).unwrap().1, 100);
}

#[test]
fn header_count_limit() {
    let limits = Limits {
        max_headers: 2,
        ..Limits::DEFAULT
    };
    assert!(parse_with(b"GET / HTTP/1.1\r\nHost: a\r\nB: b\r\n\r\n", limits).is_ok());
    let three = b"GET / HTTP/1.1\r\nHost: a\r\nB: b\r\nC: c\r\n\r\n";
    assert_eq!(error_with(three, limits), Error::TooManyHeaders);
}

#[test]
fn target_length_limit() {
    let limits = Limits {
        max_target_len: 5,
        ..Limits::DEFAULT
    };
    assert!(parse_with(b"GET /abcd HTTP/1.1\r\nHost: a\r\n\r\n", limits).is_ok());
    // Known as soon as the sixth byte arrives.
    assert_eq!(error_with(b"GET /abcde", limits), Error::TargetTooLong);
    assert_eq!(Error::TargetTooLong.status().code(), 414);
}

#[test]
fn pipelined_requests_come_one_at_a_time() {
    let input = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: a\r\n\r\nGET /3 HTTP/1.0\r\n\r\nGET /4";
    let mut parser = RequestParser::new(Limits::DEFAULT);
    let mut rest = &input[..];
    let mut targets = Vec::new();
    while let Parsed::Complete { request, consumed } = parser.parse(rest).unwrap() {
        targets.push(request.target());
        rest = &rest[consumed..];
    }
    assert_eq!(targets, ["/1", "/2", "/3"]);
    assert_eq!(rest, b"GET /4");
}

#[test]
fn bodies_are_skipped_across_calls() {
    let mut parser = RequestParser::new(Limits::DEFAULT);
    let head = b"GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n";
    let first = [&head[..], b"GET /"].concat();
    // The head and all five bytes there are of the body.
    match parser.parse(&first).unwrap() {
        Parsed::Complete { request, consumed } => {
            assert_eq!(request.content_length(), 10);
            assert_eq!(consumed, head.len() + 5);
        }
        other => panic!("{other:?}"),
    }
    assert!(!parser.is_idle());
    assert_eq!(parser.parse(b"GE"), Ok(Parsed::Incomplete { consumed: 2 }));
    assert_eq!(parser.parse(b"T"), Ok(Parsed::Incomplete { consumed: 1 }));
    assert!(!parser.is_idle());
    // The last two body bytes, then a request that is not one.
    match parser
        .parse(b"xxGET /b HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap()
    {
        Parsed::Complete { request, consumed } => {
            assert_eq!(request.target(), "/b");
            assert_eq!(consumed, 2 + 28);
        }
        other => panic!("{other:?}"),
    }
    assert!(parser.is_idle());
}

#[test]
fn body_skipping_then_a_partial_head_consumes_only_the_body() {
    let mut parser = RequestParser::new(Limits::DEFAULT);
    let head = b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
    assert!(matches!(parser.parse(head), Ok(Parsed::Complete { .. })));
    assert_eq!(
        parser.parse(b"abcGET"),
        Ok(Parsed::Incomplete { consumed: 3 })
    );
    assert!(!parser.is_idle());
    match parser.parse(b"GET / HTTP/1.0\r\n\r\n").unwrap() {
        Parsed::Complete { request, consumed } => {
            assert_eq!((request.target(), consumed), ("/", 18));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn idle_only_between_requests() {
    let mut parser = RequestParser::new(Limits::DEFAULT);
    assert!(parser.is_idle());
    assert_eq!(
        parser.parse(b"\r\n"),
        Ok(Parsed::Incomplete { consumed: 0 })
    );
    assert!(!parser.is_idle());
    let input = b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n";
    assert!(matches!(parser.parse(input), Ok(Parsed::Complete { .. })));
    assert!(parser.is_idle());
}

#[test]
fn errors_stick() {
    let mut parser = RequestParser::new(Limits::DEFAULT);
    assert_eq!(parser.parse(b"\x00"), Err(Error::BadMethod));
    assert_eq!(
        parser.parse(b"GET / HTTP/1.0\r\n\r\n"),
        Err(Error::BadMethod)
    );
    assert!(!parser.is_idle());
}

#[test]
fn every_error_is_a_4xx_or_5xx() {
    let all = [
        Error::BadMethod,
        Error::BadTarget,
        Error::BadVersion,
        Error::BadLineEnding,
        Error::BadHeaderName,
        Error::BadHeaderValue,
        Error::BadContentLength,
        Error::BadHost,
        Error::HeadTooLarge,
        Error::TooManyHeaders,
        Error::TargetTooLong,
        Error::BodyTooLarge,
        Error::MethodNotAllowed,
        Error::TransferEncoding,
        Error::UnsupportedVersion,
        Error::BadTargetForm,
        Error::BadPercentEncoding,
        Error::ForbiddenPathByte,
        Error::PathNotUtf8,
        Error::PathEscapesRoot,
    ];
    for e in all {
        assert!((400..600).contains(&e.status().code()), "{e:?}");
        assert!(!e.to_string().is_empty());
    }
}
