//! The `PREFIX: key=value key=value ...` result lines guests and helpers print for the
//! benchmarks (blkcheck's `bench:`, the wrk check script's `wrk-check:`, the TCP client's
//! `tcp-client:`).

/// The fields of one result line.
pub(super) struct Fields<'a> {
    line: &'a str,
    what: &'static str,
    fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Fields<'a> {
    /// Splits `line`, which must start with `prefix`; `what` names the line in errors.
    pub(super) fn parse(line: &'a str, prefix: &str, what: &'static str) -> Result<Self, String> {
        let fields = line
            .strip_prefix(prefix)
            .ok_or_else(|| format!("not a {what} line: {line}"))?
            .split_whitespace()
            .filter_map(|w| w.split_once('='))
            .collect();
        Ok(Self { line, what, fields })
    }

    /// The value of `key`.
    pub(super) fn get(&self, key: &str) -> Result<&'a str, String> {
        self.fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("{} line without {key}=: {}", self.what, self.line))
    }

    /// The value of `key` as a whole number.
    pub(super) fn number(&self, key: &str) -> Result<u64, String> {
        self.get(key)?
            .parse::<u64>()
            .map_err(|_| format!("{} line: {key} is not a number: {}", self.what, self.line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_and_numbers_and_says_what_is_missing() {
        let f = Fields::parse("bench: op=read ops=12 junk", "bench: ", "bench").unwrap();
        assert_eq!(f.get("op").unwrap(), "read");
        assert_eq!(f.number("ops").unwrap(), 12);
        assert!(f.number("op").unwrap_err().contains("op is not a number"));
        assert!(
            f.get("bytes")
                .unwrap_err()
                .contains("bench line without bytes=")
        );
        assert!(Fields::parse("other: x=1", "bench: ", "bench").is_err());
    }
}
