//! The kernel command line: `kernel options -- app arguments`.
//!
//! Words are separated by spaces; a word may be double-quoted (`"two words"`) with `\"` and
//! `\\` escapes inside. Everything before the first bare `--` configures the kernel, the
//! rest goes to the app. QEMU's microvm appends `virtio_mmio.device=...` words at the very
//! end; those are kernel words wherever they stand. Parsing kernel options never
//! allocates (it runs before the heap exists); [`CommandLine::app_args`] does.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Kernel option names this kernel understands, for messages.
pub const KNOWN_OPTIONS: &str = "log, heap, stack, watchdog, root, ip, gw, mac, pvm";

/// Words QEMU appends for each virtio-mmio device on microvm.
const VIRTIO_MMIO_PREFIX: &str = "virtio_mmio.device=";

/// What is wrong with a command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmdlineError<'a> {
    /// A `"` was opened and never closed.
    UnterminatedQuote,
    /// `name=value` where the value does not parse.
    BadValue {
        option: &'a str,
        value: &'a str,
        expected: &'static str,
    },
    /// `name` given without the `=value` it needs.
    MissingValue { option: &'a str },
}

impl fmt::Display for CmdlineError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnterminatedQuote => write!(f, "unterminated '\"'"),
            Self::BadValue {
                option,
                value,
                expected,
            } => {
                write!(
                    f,
                    "{option}={value}: invalid value '{value}' (expected {expected})"
                )
            }
            Self::MissingValue { option } => write!(f, "{option}: missing '=value'"),
        }
    }
}

/// One word as written, quotes and escapes still in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawWord<'a>(pub &'a str);

impl RawWord<'_> {
    /// The word with quotes removed and escapes resolved.
    pub fn unquote(&self) -> String {
        let mut out = String::with_capacity(self.0.len());
        let mut chars = self.0.chars();
        let mut in_quote = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => in_quote = !in_quote,
                '\\' if in_quote => {
                    if let Some(next) = chars.next() {
                        out.push(next);
                    }
                }
                c => out.push(c),
            }
        }
        out
    }
}

/// Splits a command line into raw words.
#[derive(Clone)]
pub struct Words<'a> {
    rest: &'a str,
}

impl<'a> Words<'a> {
    pub fn new(line: &'a str) -> Self {
        Self { rest: line }
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = Result<RawWord<'a>, CmdlineError<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = self.rest.trim_start_matches([' ', '\t', '\n', '\r']);
        if line.is_empty() {
            self.rest = line;
            return None;
        }
        let bytes = line.as_bytes();
        let mut in_quote = false;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' if in_quote => i += 1,
                b'"' => in_quote = !in_quote,
                b' ' | b'\t' | b'\n' | b'\r' if !in_quote => break,
                _ => {}
            }
            i += 1;
        }
        if in_quote {
            self.rest = "";
            return Some(Err(CmdlineError::UnterminatedQuote));
        }
        let end = i.min(bytes.len());
        self.rest = &line[end..];
        Some(Ok(RawWord(&line[..end])))
    }
}

/// Kernel settings taken from the command line. Sizes are in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelOptions<'a> {
    /// `log=SPEC`, checked by [`crate::logfilter::LogFilter::parse`].
    pub log: Option<&'a str>,
    /// `heap=SIZE`: heap size instead of "most of free memory".
    pub heap: Option<u64>,
    /// `stack=SIZE`: the app's main stack.
    pub stack: Option<u64>,
    /// `watchdog=MS`: warn about a task that runs this long without yielding (0: never).
    pub watchdog_ms: Option<u64>,
    /// `root=vdX`: the disk the libOS mounts its file tree from (default: the first disk).
    pub root: Option<&'a str>,
    /// `ip=ADDR/PREFIX`: a static address instead of DHCPv4.
    pub ip: Option<crate::net::config::Ipv4Cidr>,
    /// `gw=ADDR`: the default gateway (with `ip=`).
    pub gw: Option<core::net::Ipv4Addr>,
    /// `mac=XX:XX:XX:XX:XX:XX`: the NIC's address instead of the device's.
    pub mac: Option<[u8; 6]>,
    /// `pvm=on|off`: run tasks at ring 3 (on), or everything at ring 0 (off); unset, the
    /// kernel decides by the hypervisor (see `docs/pvm.md`).
    pub pvm: Option<bool>,
    /// Count of `virtio_mmio.device=` words.
    pub virtio_mmio_devices: usize,
}

/// A parsed command line, borrowing the original text.
#[derive(Clone, Copy, Debug)]
pub struct CommandLine<'a> {
    line: &'a str,
    pub options: KernelOptions<'a>,
}

impl<'a> CommandLine<'a> {
    /// Parses the kernel part; `warn` receives each unknown option word.
    pub fn parse(line: &'a str, mut warn: impl FnMut(&'a str)) -> Result<Self, CmdlineError<'a>> {
        let mut options = KernelOptions::default();
        // Device words after `--` count only in the trailing run QEMU appends.
        let mut after_separator = false;
        let mut trailing_devices = 0;
        for word in Words::new(line) {
            let word = word?.0;
            if after_separator {
                if word.starts_with(VIRTIO_MMIO_PREFIX) {
                    trailing_devices += 1;
                } else {
                    trailing_devices = 0;
                }
                continue;
            }
            if word == "--" {
                after_separator = true;
                continue;
            }
            if word.starts_with(VIRTIO_MMIO_PREFIX) {
                options.virtio_mmio_devices += 1;
                continue;
            }
            let (name, value) = match word.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (word, None),
            };
            let need =
                |value: Option<&'a str>| value.ok_or(CmdlineError::MissingValue { option: name });
            match name {
                "log" => options.log = Some(need(value)?),
                "heap" => options.heap = Some(parse_size(name, need(value)?)?),
                "stack" => options.stack = Some(parse_size(name, need(value)?)?),
                "watchdog" => options.watchdog_ms = Some(parse_millis(name, need(value)?)?),
                "root" => options.root = Some(parse_disk_name(name, need(value)?)?),
                "pvm" => {
                    let value = need(value)?;
                    options.pvm = Some(match value {
                        "on" => true,
                        "off" => false,
                        _ => {
                            return Err(CmdlineError::BadValue {
                                option: name,
                                value,
                                expected: "on or off",
                            });
                        }
                    });
                }
                "ip" => {
                    let value = need(value)?;
                    options.ip = Some(crate::net::config::parse_cidr(value).ok_or(
                        CmdlineError::BadValue {
                            option: name,
                            value,
                            expected: "an IPv4 address with a prefix length, like 10.0.2.15/24",
                        },
                    )?);
                }
                "gw" => {
                    let value = need(value)?;
                    options.gw = Some(crate::net::config::parse_gateway(value).ok_or(
                        CmdlineError::BadValue {
                            option: name,
                            value,
                            expected: "an IPv4 address, like 10.0.2.2",
                        },
                    )?);
                }
                "mac" => {
                    let value = need(value)?;
                    options.mac = Some(crate::net::config::parse_mac(value).ok_or(
                        CmdlineError::BadValue {
                            option: name,
                            value,
                            expected: "a unicast MAC address, like 52:54:00:12:34:56",
                        },
                    )?);
                }
                _ => warn(word),
            }
        }
        options.virtio_mmio_devices += trailing_devices;
        Ok(Self { line, options })
    }

    /// The app's arguments, unquoted (argv[0] not included).
    pub fn app_args(&self) -> Vec<String> {
        app_words(self.line).map(|w| w.unquote()).collect()
    }
}

/// App words: everything after the first `--` except QEMU-appended device words at the end.
fn app_words(line: &str) -> impl Iterator<Item = RawWord<'_>> {
    let words: Vec<RawWord<'_>> = Words::new(line)
        .map_while(Result::ok)
        .skip_while(|w| w.0 != "--")
        .skip(1)
        .collect();
    let keep = words
        .iter()
        .rposition(|w| !w.0.starts_with(VIRTIO_MMIO_PREFIX))
        .map_or(0, |i| i + 1);
    words.into_iter().take(keep)
}

/// Parses a whole number of milliseconds (`250`, `250ms`).
pub fn parse_millis<'a>(option: &'a str, value: &'a str) -> Result<u64, CmdlineError<'a>> {
    let bad = CmdlineError::BadValue {
        option,
        value,
        expected: "milliseconds, like 100 or 100ms",
    };
    value
        .strip_suffix("ms")
        .unwrap_or(value)
        .parse()
        .map_err(|_| bad)
}

/// Checks a disk name as the block layer gives them: `vd` and one or more letters `a`-`z`
/// (`vda` is the first disk).
pub fn parse_disk_name<'a>(option: &'a str, value: &'a str) -> Result<&'a str, CmdlineError<'a>> {
    match value.strip_prefix("vd") {
        Some(letters) if !letters.is_empty() && letters.bytes().all(|b| b.is_ascii_lowercase()) => {
            Ok(value)
        }
        _ => Err(CmdlineError::BadValue {
            option,
            value,
            expected: "a disk name like vda or vdb",
        }),
    }
}

/// Parses `4096`, `64K`, `16M`, `1G` (binary units, optional `iB`/`B`).
pub fn parse_size<'a>(option: &'a str, value: &'a str) -> Result<u64, CmdlineError<'a>> {
    let bad = CmdlineError::BadValue {
        option,
        value,
        expected: "a size like 65536, 64K, 16M or 1G",
    };
    let digits_end = value
        .bytes()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(value.len());
    if digits_end == 0 {
        return Err(bad);
    }
    let number: u64 = value[..digits_end].parse().map_err(|_| bad)?;
    let shift = match &value[digits_end..] {
        "" | "B" => 0,
        "K" | "k" | "KiB" | "KB" => 10,
        "M" | "m" | "MiB" | "MB" => 20,
        "G" | "g" | "GiB" | "GB" => 30,
        _ => return Err(bad),
    };
    number.checked_mul(1 << shift).ok_or(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> (Result<CommandLine<'_>, CmdlineError<'_>>, Vec<&str>) {
        let mut unknown = Vec::new();
        let parsed = CommandLine::parse(line, |w| unknown.push(w));
        (parsed, unknown)
    }

    #[test]
    fn splits_kernel_and_app_words() {
        let (cl, unknown) = parse("log=debug heap=4M -- one two");
        let cl = cl.unwrap();
        assert!(unknown.is_empty());
        assert_eq!(cl.options.log, Some("debug"));
        assert_eq!(cl.options.heap, Some(4 << 20));
        assert_eq!(cl.app_args(), ["one", "two"]);
    }

    #[test]
    fn no_separator_means_no_app_args() {
        let (cl, _) = parse("log=info");
        assert!(cl.unwrap().app_args().is_empty());
        let (cl, _) = parse("");
        assert!(cl.unwrap().app_args().is_empty());
    }

    #[test]
    fn quotes_and_escapes() {
        let (cl, _) = parse(r#"-- "two words" "say \"hi\"" back\slash --"#);
        assert_eq!(
            cl.unwrap().app_args(),
            ["two words", "say \"hi\"", "back\\slash", "--"]
        );
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        let (cl, _) = parse(r#"log="debug -- x"#);
        assert_eq!(cl.unwrap_err(), CmdlineError::UnterminatedQuote);
    }

    #[test]
    fn unknown_options_are_reported_not_fatal() {
        let (cl, unknown) = parse("frobnicate=3 quiet log=warn");
        assert_eq!(unknown, ["frobnicate=3", "quiet"]);
        assert_eq!(cl.unwrap().options.log, Some("warn"));
    }

    #[test]
    fn malformed_values_are_errors() {
        let (cl, _) = parse("heap=abc");
        let err = cl.unwrap_err();
        assert!(matches!(
            err,
            CmdlineError::BadValue {
                option: "heap",
                value: "abc",
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "heap=abc: invalid value 'abc' (expected a size like 65536, 64K, 16M or 1G)"
        );
        assert!(parse("stack=12X").0.is_err());
        assert!(parse("heap").0.is_err());
        assert!(parse("heap=99999999999999999999G").0.is_err());
    }

    #[test]
    fn pvm_on_or_off() {
        assert_eq!(parse("pvm=on").0.unwrap().options.pvm, Some(true));
        assert_eq!(parse("pvm=off").0.unwrap().options.pvm, Some(false));
        assert_eq!(parse("").0.unwrap().options.pvm, None);
        assert!(parse("pvm=yes").0.is_err());
        assert!(parse("pvm").0.is_err());
    }

    #[test]
    fn watchdog_milliseconds() {
        assert_eq!(
            parse("watchdog=250").0.unwrap().options.watchdog_ms,
            Some(250)
        );
        assert_eq!(
            parse("watchdog=0ms").0.unwrap().options.watchdog_ms,
            Some(0)
        );
        assert!(parse("watchdog=soon").0.is_err());
        assert!(parse("watchdog=-1").0.is_err());
    }

    #[test]
    fn root_disk_names() {
        assert_eq!(parse("").0.unwrap().options.root, None);
        assert_eq!(parse("root=vdb -- x").0.unwrap().options.root, Some("vdb"));
        for bad in [
            "root=",
            "root=sda",
            "root=vd",
            "root=vd1",
            "root=/dev/vda",
            "root",
        ] {
            assert!(parse(bad).0.is_err(), "{bad} accepted");
        }
        assert_eq!(
            parse("root=vd1").0.unwrap_err().to_string(),
            "root=vd1: invalid value 'vd1' (expected a disk name like vda or vdb)"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("x", "4096"), Ok(4096));
        assert_eq!(parse_size("x", "64K"), Ok(64 << 10));
        assert_eq!(parse_size("x", "16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("x", "1G"), Ok(1 << 30));
        assert!(parse_size("x", "").is_err());
        assert!(parse_size("x", "M").is_err());
        assert!(parse_size("x", "-1").is_err());
    }

    #[test]
    fn qemu_appended_devices_are_kernel_words() {
        let line = "log=info -- a b virtio_mmio.device=512@0xfeb00e00:12 virtio_mmio.device=512@0xfeb00c00:11";
        let (cl, unknown) = parse(line);
        let cl = cl.unwrap();
        assert!(unknown.is_empty());
        assert_eq!(cl.options.virtio_mmio_devices, 2);
        assert_eq!(cl.app_args(), ["a", "b"]);
    }

    #[test]
    fn device_word_inside_app_args_stays_an_app_arg() {
        let (cl, _) = parse("-- virtio_mmio.device=x last");
        let cl = cl.unwrap();
        assert_eq!(cl.app_args(), ["virtio_mmio.device=x", "last"]);
        assert_eq!(cl.options.virtio_mmio_devices, 0);
    }

    #[test]
    fn unterminated_quote_in_app_args_is_an_error() {
        let (cl, _) = parse(r#"log=info -- "open"#);
        assert_eq!(cl.unwrap_err(), CmdlineError::UnterminatedQuote);
    }
}
