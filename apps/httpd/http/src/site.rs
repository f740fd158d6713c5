//! What to answer for a request target: [`plan`] resolves the path ([`crate::path`]), asks a
//! [`Tree`] what is there, and returns a [`Plan`]: a file to send, the built-in page, a
//! redirect, or an error status.
//!
//! - A directory is served by its `index.html`; asked for without its trailing `/`, it is a
//!   301 to the name with one (so the page's relative links work); without an index it is
//!   404 (there are no listings).
//! - A name with a trailing `/` that is a file is 404, as is anything other than a regular
//!   file or a directory (a device, a fifo).
//! - With no tree at all (no disk attached), `/` and `/index.html` are [`DEFAULT_PAGE`] and
//!   everything else is 404.
//! - The tree failing to read (a corrupt image) is 500.

use crate::Status;
use crate::mime::content_type;
use crate::path::{self, SitePath};
use alloc::string::String;

/// What a clean path names in the served tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A regular file of this many bytes.
    File {
        len: u64,
    },
    Dir,
    /// A device, fifo, socket: never served.
    Other,
    NotFound,
    /// There is no tree: no disk is attached.
    NoTree,
    /// The tree could not be read.
    Failed,
}

/// The served tree, as [`plan`] sees it (the file system in the app, a fake in tests).
pub trait Tree {
    /// What `path` names. `path` is absolute and clean (`/`, `/a/b`); symbolic links are
    /// followed, and cannot lead out of the tree since it is a whole file system.
    fn entry(&self, path: &str) -> Entry;
}

/// The answer to a request, before any byte of it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Status 200 with the file at `path`, `len` bytes of type `content_type`.
    File {
        path: String,
        len: u64,
        content_type: &'static str,
    },
    /// Status 200 with [`DEFAULT_PAGE`] (HTML).
    DefaultPage,
    /// 301 to `location` (percent-encoded): a directory asked for without its `/`.
    Redirect { location: String },
    /// An error page with this status.
    Error(Status),
}

/// The page served when there is no disk.
pub const DEFAULT_PAGE: &str = "<!DOCTYPE html>
<html>
<head><title>httpd on a Rust unikernel</title></head>
<body>
<h1>It works.</h1>
<p>This is httpd, running on a Rust unikernel with no disk attached.</p>
<p>Serve a folder: <code>scripts/qemu-run.sh --net user:8080 --disk-from DIR httpd</code></p>
</body>
</html>
";

/// What to answer to a request for `target` from `tree` (see the module docs).
pub fn plan(target: &str, tree: &impl Tree) -> Plan {
    let path = match path::resolve(target) {
        Ok(path) => path,
        Err(e) => return Plan::Error(e.status()),
    };
    match tree.entry(path.as_str()) {
        Entry::File { len } if !path.trailing_slash() => file(path.as_str().into(), len),
        Entry::Dir if !path.trailing_slash() => Plan::Redirect {
            location: path::percent_encode(&path.join("")),
        },
        Entry::Dir => index(&path, tree),
        Entry::NoTree if path.is_root() || path.as_str() == "/index.html" => Plan::DefaultPage,
        Entry::Failed => Plan::Error(Status::InternalServerError),
        Entry::File { .. } | Entry::Other | Entry::NotFound | Entry::NoTree => {
            Plan::Error(Status::NotFound)
        }
    }
}

fn index(dir: &SitePath, tree: &impl Tree) -> Plan {
    let index = dir.join("index.html");
    match tree.entry(&index) {
        Entry::File { len } => file(index, len),
        Entry::Failed => Plan::Error(Status::InternalServerError),
        _ => Plan::Error(Status::NotFound),
    }
}

fn file(path: String, len: u64) -> Plan {
    let content_type = content_type(&path);
    Plan::File {
        path,
        len,
        content_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tree of a few entries.
    struct Fake(&'static [(&'static str, Entry)]);

    impl Tree for Fake {
        fn entry(&self, path: &str) -> Entry {
            self.0
                .iter()
                .find(|(p, _)| *p == path)
                .map_or(Entry::NotFound, |(_, e)| *e)
        }
    }

    const SITE: Fake = Fake(&[
        ("/", Entry::Dir),
        ("/index.html", Entry::File { len: 612 }),
        ("/style.css", Entry::File { len: 10 }),
        ("/docs", Entry::Dir),
        ("/docs/index.html", Entry::File { len: 5 }),
        ("/empty dir", Entry::Dir),
        ("/fifo", Entry::Other),
        ("/broken", Entry::Failed),
    ]);

    fn file_plan(path: &str, len: u64, content_type: &'static str) -> Plan {
        Plan::File {
            path: path.into(),
            len,
            content_type,
        }
    }

    #[test]
    fn files_and_indexes() {
        let html = "text/html; charset=utf-8";
        assert_eq!(plan("/", &SITE), file_plan("/index.html", 612, html));
        assert_eq!(
            plan("/index.html", &SITE),
            file_plan("/index.html", 612, html)
        );
        assert_eq!(
            plan("/docs/", &SITE),
            file_plan("/docs/index.html", 5, html)
        );
        assert_eq!(
            plan("/docs/?x", &SITE),
            file_plan("/docs/index.html", 5, html)
        );
        assert_eq!(
            plan("/style.css?v=3", &SITE),
            file_plan("/style.css", 10, "text/css; charset=utf-8")
        );
        assert_eq!(
            plan("/docs/../index.html", &SITE),
            file_plan("/index.html", 612, html)
        );
    }

    #[test]
    fn directories_without_their_slash_are_redirected() {
        assert_eq!(
            plan("/docs", &SITE),
            Plan::Redirect {
                location: "/docs/".into()
            }
        );
        assert_eq!(
            plan("/empty%20dir", &SITE),
            Plan::Redirect {
                location: "/empty%20dir/".into()
            }
        );
    }

    #[test]
    fn missing_things_are_404() {
        for target in [
            "/nope",
            "/style.css/",
            "/empty%20dir/",
            "/fifo",
            "/docs/nope",
        ] {
            assert_eq!(
                plan(target, &SITE),
                Plan::Error(Status::NotFound),
                "{target}"
            );
        }
    }

    #[test]
    fn bad_paths_are_400() {
        for target in ["/../index.html", "/%2e%2e/x", "/a%00", "*"] {
            assert_eq!(
                plan(target, &SITE),
                Plan::Error(Status::BadRequest),
                "{target}"
            );
        }
    }

    #[test]
    fn a_tree_that_fails_is_500() {
        assert_eq!(
            plan("/broken", &SITE),
            Plan::Error(Status::InternalServerError)
        );
        let failing = Fake(&[("/", Entry::Dir), ("/index.html", Entry::Failed)]);
        assert_eq!(
            plan("/", &failing),
            Plan::Error(Status::InternalServerError)
        );
    }

    #[test]
    fn without_a_tree_the_default_page() {
        struct NoDisk;
        impl Tree for NoDisk {
            fn entry(&self, _: &str) -> Entry {
                Entry::NoTree
            }
        }
        assert_eq!(plan("/", &NoDisk), Plan::DefaultPage);
        assert_eq!(plan("/?x", &NoDisk), Plan::DefaultPage);
        assert_eq!(plan("/index.html", &NoDisk), Plan::DefaultPage);
        assert_eq!(plan("/other", &NoDisk), Plan::Error(Status::NotFound));
    }
}
