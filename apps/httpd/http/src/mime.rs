//! `Content-Type` by file extension: [`content_type`]. Text types say `charset=utf-8`;
//! an unknown extension is `application/octet-stream`, which browsers download rather than
//! guess at.

/// The type for the name's extension (any case), or `application/octet-stream`.
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((stem, extension)) = name.rsplit_once('.') else {
        return DEFAULT;
    };
    if stem.is_empty() {
        // `.htaccess` is a name, not an extension.
        return DEFAULT;
    }
    TYPES
        .iter()
        .find(|(ext, _)| ext.eq_ignore_ascii_case(extension))
        .map_or(DEFAULT, |(_, ty)| ty)
}

const DEFAULT: &str = "application/octet-stream";

const TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("txt", "text/plain; charset=utf-8"),
    ("xml", "application/xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("svg", "image/svg+xml"),
    ("ico", "image/x-icon"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
    ("woff2", "font/woff2"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_extensions() {
        let cases = [
            ("/index.html", "text/html; charset=utf-8"),
            ("/a/b.htm", "text/html; charset=utf-8"),
            ("/s.css", "text/css; charset=utf-8"),
            ("/app.js", "text/javascript; charset=utf-8"),
            ("/d.json", "application/json"),
            ("/r.txt", "text/plain; charset=utf-8"),
            ("/p.png", "image/png"),
            ("/p.jpg", "image/jpeg"),
            ("/p.jpeg", "image/jpeg"),
            ("/p.gif", "image/gif"),
            ("/p.svg", "image/svg+xml"),
            ("/favicon.ico", "image/x-icon"),
            ("/m.wasm", "application/wasm"),
            ("/doc.pdf", "application/pdf"),
        ];
        for (path, ty) in cases {
            assert_eq!(content_type(path), ty, "{path}");
        }
    }

    #[test]
    fn extension_case_does_not_matter() {
        assert_eq!(content_type("/INDEX.HTML"), "text/html; charset=utf-8");
        assert_eq!(content_type("/Photo.JpG"), "image/jpeg");
    }

    #[test]
    fn unknown_or_missing_extensions_are_octet_stream() {
        for path in [
            "/",
            "/data.bin",
            "/Makefile",
            "/.htaccess",
            "/dir.html/file",
            "/a.",
            "x",
        ] {
            assert_eq!(content_type(path), "application/octet-stream", "{path}");
        }
    }

    #[test]
    fn only_the_last_extension_counts() {
        assert_eq!(content_type("/a.tar.gz"), "application/octet-stream");
        assert_eq!(content_type("/a.min.js"), "text/javascript; charset=utf-8");
    }
}
