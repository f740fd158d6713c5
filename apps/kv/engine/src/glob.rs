//! Glob-style patterns as Redis matches them (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`,
//! and `\` to escape. Used by `KEYS` and, later, `SCAN MATCH`.

/// Whether `s` matches `pattern`.
pub fn matches(pattern: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    while p < pattern.len() && i < s.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                return (i..s.len()).any(|j| matches(&pattern[p + 1..], &s[j..]));
            }
            b'?' => i += 1,
            b'[' => {
                p += 1;
                let negate = p < pattern.len() && pattern[p] == b'^';
                if negate {
                    p += 1;
                }
                let c = s[i];
                let mut hit = false;
                loop {
                    if p >= pattern.len() {
                        // An unclosed class: it ends with the pattern (as in Redis).
                        p -= 1;
                        break;
                    }
                    if pattern[p] == b'\\' && pattern.len() - p >= 2 {
                        p += 1;
                        hit |= pattern[p] == c;
                    } else if pattern[p] == b']' {
                        break;
                    } else if pattern.len() - p >= 3 && pattern[p + 1] == b'-' {
                        let (mut lo, mut hi) = (pattern[p], pattern[p + 2]);
                        if lo > hi {
                            core::mem::swap(&mut lo, &mut hi);
                        }
                        p += 2;
                        hit |= (lo..=hi).contains(&c);
                    } else {
                        hit |= pattern[p] == c;
                    }
                    p += 1;
                }
                if hit == negate {
                    return false;
                }
                i += 1;
            }
            b'\\' if pattern.len() - p >= 2 => {
                p += 1;
                if pattern[p] != s[i] {
                    return false;
                }
                i += 1;
            }
            c => {
                if c != s[i] {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
        if i == s.len() {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p == pattern.len() && i == s.len()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn redis_glob_cases() {
        for (pattern, s, want) in [
            ("*", "", false), // as stringmatchlen; KEYS * takes every key anyway
            ("*", "abc", true),
            ("a*", "abc", true),
            ("a*c", "abbbc", true),
            ("a*d", "abc", false),
            ("h?llo", "hello", true),
            ("h?llo", "hllo", false),
            ("h[ae]llo", "hallo", true),
            ("h[ae]llo", "hillo", false),
            ("h[^e]llo", "hallo", true),
            ("h[^e]llo", "hello", false),
            ("h[a-b]llo", "hbllo", true),
            ("h[b-a]llo", "hallo", true),
            ("h\\*llo", "h*llo", true),
            ("h\\*llo", "hello", false),
            ("user:*:name", "user:42:name", true),
            ("", "", true),
            ("", "a", false),
            ("a", "", false),
            ("a**", "a", true),
            ("[abc", "a", true),
        ] {
            assert_eq!(
                matches(pattern.as_bytes(), s.as_bytes()),
                want,
                "{pattern:?} {s:?}"
            );
        }
    }
}
