//! From a request target to the path of a file in the served tree: [`resolve`] returns a
//! [`SitePath`] that is absolute, clean and inside the root, or an [`Error`] (all 400).
//!
//! Order of work: the form is checked (`/path` or `http://host/path`), the query and any
//! fragment are cut off, the path is percent-decoded once (so `%2e%2e` is `..` and `%2F` is
//! a separator, while `%252e` stays the three bytes `%2e`), then split on `/`: empty and
//! `.` segments are dropped, `..` drops the segment before it. A `..` with nothing left to
//! drop is refused rather than clamped at the root, so a client that tries to climb out
//! learns so (400) instead of getting some other file. Decoded NUL and other control bytes,
//! backslashes (a separator to some clients) and non-UTF-8 paths are refused too.

use crate::{Error, Result};
use alloc::string::String;
use alloc::vec::Vec;

/// A clean absolute path inside the served tree: `/` or `/a/b`, no empty, `.` or `..`
/// segment, no trailing `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SitePath {
    path: String,
    trailing_slash: bool,
}

impl SitePath {
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// The target ended with `/` (or `/.`, `/..`): it asked for a directory.
    pub fn trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    pub fn is_root(&self) -> bool {
        self.path == "/"
    }

    /// The path of `name` in this directory.
    pub fn join(&self, name: &str) -> String {
        let mut joined = self.path.clone();
        if !self.is_root() {
            joined.push('/');
        }
        joined.push_str(name);
        joined
    }
}

/// The clean path a request target names (see the module docs).
pub fn resolve(target: &str) -> Result<SitePath> {
    let path = origin_path(target)?;
    let path = path.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode(path.as_bytes())?;
    if decoded.iter().any(|&b| b < 0x20 || b == 0x7f || b == b'\\') {
        return Err(Error::ForbiddenPathByte);
    }
    let decoded = String::from_utf8(decoded).map_err(|_| Error::PathNotUtf8)?;
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = true;
    for segment in decoded.split('/') {
        trailing_slash = matches!(segment, "" | "." | "..");
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop().ok_or(Error::PathEscapesRoot)?;
            }
            _ => segments.push(segment),
        }
    }
    let mut clean = String::with_capacity(decoded.len());
    for segment in &segments {
        clean.push('/');
        clean.push_str(segment);
    }
    if clean.is_empty() {
        clean.push('/');
    }
    Ok(SitePath {
        path: clean,
        trailing_slash,
    })
}

/// The path (with query) of an origin-form (`/p`) or absolute-form (`http://h/p`) target.
fn origin_path(target: &str) -> Result<&str> {
    if target.starts_with('/') {
        return Ok(target);
    }
    let after_scheme = ["http://", "https://"].iter().find_map(|scheme| {
        let head = target.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &target[scheme.len()..])
    });
    let rest = after_scheme.ok_or(Error::BadTargetForm)?;
    // The authority ends at the path, the query or the end; a missing path is `/`.
    match rest.find(['/', '?', '#']) {
        Some(i) if rest.as_bytes()[i] == b'/' => Ok(&rest[i..]),
        _ => Ok("/"),
    }
}

/// `%XX` decoded to the byte; a `%` without two hex digits is an error.
fn percent_decode(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            let (Some(hi), Some(lo)) = (hi, lo) else {
                return Err(Error::BadPercentEncoding);
            };
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

/// `path` with every byte other than unreserved characters, sub-delimiters, `:`, `@` and
/// `/` percent-encoded: safe to put in a `Location` header.
pub fn percent_encode(path: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(target: &str) -> String {
        resolve(target).unwrap().as_str().into()
    }

    #[test]
    fn plain_paths_stay_as_they_are() {
        assert_eq!(clean("/"), "/");
        assert_eq!(clean("/index.html"), "/index.html");
        assert_eq!(clean("/a/b/c.txt"), "/a/b/c.txt");
        assert_eq!(clean("/.well-known/x"), "/.well-known/x");
        assert_eq!(clean("/a/.../b"), "/a/.../b");
    }

    #[test]
    fn query_and_fragment_are_cut_off() {
        assert_eq!(clean("/a.html?x=1&y=/../.."), "/a.html");
        assert_eq!(clean("/?"), "/");
        assert_eq!(clean("/a#frag"), "/a");
        assert_eq!(clean("/a?q#f"), "/a");
    }

    #[test]
    fn empty_and_dot_segments_go_away() {
        assert_eq!(clean("//a///b//"), "/a/b");
        assert_eq!(clean("/./a/./b/."), "/a/b");
        assert_eq!(clean("/a/b/../c"), "/a/c");
        assert_eq!(clean("/a/.."), "/");
    }

    #[test]
    fn trailing_slash_is_remembered() {
        assert!(resolve("/").unwrap().trailing_slash());
        assert!(resolve("/dir/").unwrap().trailing_slash());
        assert!(resolve("/dir/.").unwrap().trailing_slash());
        assert!(resolve("/dir/x/..").unwrap().trailing_slash());
        assert!(resolve("/dir/?q").unwrap().trailing_slash());
        assert!(!resolve("/dir").unwrap().trailing_slash());
        assert!(!resolve("/dir/..x").unwrap().trailing_slash());
    }

    #[test]
    fn climbing_above_the_root_is_refused() {
        for target in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/.%2e/x",
            "/a/%2e%2e%2f%2e%2e/x",
            "/%2e%2e%2fetc",
            "/./../x",
            "http://host/../x",
        ] {
            assert_eq!(resolve(target), Err(Error::PathEscapesRoot), "{target}");
        }
    }

    #[test]
    fn percent_encoding_is_decoded_once() {
        assert_eq!(clean("/a%20b.txt"), "/a b.txt");
        assert_eq!(clean("/%41%62"), "/Ab");
        assert_eq!(clean("/a%2Fb"), "/a/b");
        assert_eq!(clean("/%252e%252e/x"), "/%2e%2e/x");
        assert_eq!(clean("/caf%C3%A9"), "/café");
    }

    #[test]
    fn bad_escapes_and_bytes_are_refused() {
        assert_eq!(resolve("/%"), Err(Error::BadPercentEncoding));
        assert_eq!(resolve("/%4"), Err(Error::BadPercentEncoding));
        assert_eq!(resolve("/%zz"), Err(Error::BadPercentEncoding));
        assert_eq!(resolve("/a%00.html"), Err(Error::ForbiddenPathByte));
        assert_eq!(resolve("/a%0d%0aX: y"), Err(Error::ForbiddenPathByte));
        assert_eq!(resolve("/a%7f"), Err(Error::ForbiddenPathByte));
        assert_eq!(resolve("/..\\..\\x"), Err(Error::ForbiddenPathByte));
        assert_eq!(resolve("/%5c..%5cx"), Err(Error::ForbiddenPathByte));
        assert_eq!(resolve("/%ff"), Err(Error::PathNotUtf8));
    }

    #[test]
    fn absolute_form_uses_its_path() {
        assert_eq!(clean("http://example.com/a/b?x"), "/a/b");
        assert_eq!(clean("HTTP://example.com:8080/a"), "/a");
        assert_eq!(clean("https://h"), "/");
        assert_eq!(clean("http://h?x=/etc"), "/");
    }

    #[test]
    fn other_forms_are_refused() {
        for target in ["*", "example.com:443", "a/b", "ftp://h/x", "", "http:/x"] {
            assert_eq!(resolve(target), Err(Error::BadTargetForm), "{target}");
        }
    }

    #[test]
    fn joined_paths() {
        assert_eq!(resolve("/").unwrap().join("index.html"), "/index.html");
        assert_eq!(resolve("/d/").unwrap().join("index.html"), "/d/index.html");
    }

    #[test]
    fn encoding_round_trips_through_resolve() {
        for path in ["/a b/c%d?e#f", "/café/ü", "/x/y", "/"] {
            let encoded = percent_encode(path);
            assert!(encoded.bytes().all(|b| b.is_ascii_graphic()), "{encoded}");
            assert_eq!(clean(&encoded), path);
        }
    }
}
