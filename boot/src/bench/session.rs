//! A QEMU run that the host talks to while it runs: console lines in, one-line replies to
//! the serial console out, and QMP on the side (for counters the guest cannot fake, such as
//! `query-blockstats`). Used by benchmarks that must read QEMU's own counts at a point the
//! guest chooses, before QEMU exits.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What the line handler wants next.
pub(crate) enum Step {
    /// Keep reading.
    Continue,
    /// Write this line (a newline is added) to the guest's console, then keep reading.
    Reply(String),
    /// Done: ask QEMU to quit over QMP and collect it.
    Stop,
}

/// The end of a run.
pub(crate) struct Transcript {
    /// Console lines, `\r` removed, then QEMU's stderr lines.
    pub lines: Vec<String>,
    /// QEMU's exit status; `None` if it had to be killed.
    pub status: Option<ExitStatus>,
    /// The run hit its timeout.
    pub timed_out: bool,
}

impl Transcript {
    pub fn console(&self) -> String {
        self.lines.join("\n")
    }
}

/// A unique QMP socket path for one run (short: Unix socket paths are limited to 107 bytes).
pub(crate) fn qmp_socket_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("uk-bench-{}-{tag}.qmp", std::process::id()))
}

/// The words that give QEMU a QMP server on `socket`.
pub(crate) fn qmp_args(socket: &Path) -> [String; 2] {
    [
        "-qmp".into(),
        format!("unix:{},server=on,wait=off", socket.display()),
    ]
}

/// Time limits of a run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits<'a> {
    /// The whole run.
    pub total: Duration,
    /// A console line starting with this text must arrive within this time (a boot that
    /// hangs is cut short instead of using up `total`).
    pub ready: Option<(&'a str, Duration)>,
}

/// Runs `cmd` (which must carry [`qmp_args`] for `socket`) and calls `on_line` for every
/// console line with a connected QMP client, until it returns [`Step::Stop`], QEMU exits, or
/// a limit passes (QEMU is then killed and the transcript says `timed_out`).
pub(crate) fn run(
    mut cmd: Command,
    socket: &Path,
    limits: Limits<'_>,
    mut on_line: impl FnMut(&str, &mut Qmp) -> Result<Step, String>,
) -> Result<Transcript, String> {
    let _ = std::fs::remove_file(socket);
    let start = Instant::now();
    let total_deadline = start + limits.total;
    let mut ready = limits.ready;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start QEMU: {e}"))?;
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line).replace('\r', "");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let mut stdin = child.stdin.take();
    let mut lines = Vec::new();
    let mut qmp: Option<Qmp> = None;
    let mut timed_out = false;
    let mut failure = None;
    loop {
        let now = Instant::now();
        let deadline = match ready {
            Some((_, within)) => total_deadline.min(start + within),
            None => total_deadline,
        };
        if now >= deadline {
            timed_out = true;
            break;
        }
        match rx.recv_timeout(deadline - now) {
            Ok(line) => {
                if ready.is_some_and(|(prefix, _)| line.starts_with(prefix)) {
                    ready = None;
                }
                let client = match &mut qmp {
                    Some(client) => client,
                    None => match Qmp::connect(socket, total_deadline) {
                        Ok(client) => qmp.insert(client),
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    },
                };
                let step = on_line(&line, client);
                lines.push(line);
                match step {
                    Ok(Step::Continue) => {}
                    Ok(Step::Reply(reply)) => {
                        if let Some(pipe) = &mut stdin {
                            let _ = pipe.write_all(format!("{reply}\n").as_bytes());
                            let _ = pipe.flush();
                        }
                    }
                    Ok(Step::Stop) => {
                        let _ = client.execute("quit");
                        break;
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(stdin);
    let status = finish(
        &mut child,
        if timed_out || failure.is_some() { 0 } else { 5 },
    );
    // Lines still in the pipe (the guest's last words before QEMU exited).
    lines.extend(rx.try_iter());
    lines.extend(
        errors
            .join()
            .unwrap_or_default()
            .lines()
            .map(str::to_string),
    );
    let _ = std::fs::remove_file(socket);
    if let Some(e) = failure {
        return Err(format!("{e}\nconsole:\n{}", lines.join("\n")));
    }
    Ok(Transcript {
        lines,
        status,
        timed_out,
    })
}

/// Waits up to `grace_secs` for QEMU to exit, then kills it.
fn finish(child: &mut Child, grace_secs: u64) -> Option<ExitStatus> {
    let until = Instant::now() + Duration::from_secs(grace_secs);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// A QMP client on QEMU's Unix socket, past capability negotiation.
pub(crate) struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connects (retrying until QEMU has created the socket, or `deadline`), reads the
    /// greeting and enters command mode.
    fn connect(socket: &Path, deadline: Instant) -> Result<Self, String> {
        let stream = loop {
            match UnixStream::connect(socket) {
                Ok(stream) => break stream,
                Err(e) if Instant::now() >= deadline => {
                    return Err(format!("QMP: cannot connect to {}: {e}", socket.display()));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        };
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_secs(1))))
            .map_err(|e| e.to_string())?;
        let writer = stream.try_clone().map_err(|e| e.to_string())?;
        let mut qmp = Self {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = qmp.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(format!("QMP: unexpected greeting {greeting:?}"));
        }
        qmp.execute("qmp_capabilities")?;
        Ok(qmp)
    }

    /// Runs a command without arguments and returns its `return` value. Events that
    /// arrive meanwhile are skipped.
    pub fn execute(&mut self, command: &str) -> Result<Json, String> {
        self.writer
            .write_all(format!("{{\"execute\":\"{command}\"}}\n").as_bytes())
            .map_err(|e| format!("QMP {command}: {e}"))?;
        loop {
            let message = self.read_message()?;
            if let Some(value) = message.get("return") {
                return Ok(value.clone());
            }
            if let Some(error) = message.get("error") {
                return Err(format!("QMP {command}: {error:?}"));
            }
        }
    }

    fn read_message(&mut self) -> Result<Json, String> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => Err("QMP: QEMU closed the connection".into()),
            Ok(_) => Json::parse(&line),
            Err(e) => Err(format!("QMP: {e}")),
        }
    }

    /// `query-blockstats` for the drive `device`: its own counters (not its file node's).
    pub fn block_stats(&mut self, device: &str) -> Result<BlockStats, String> {
        let all = self.execute("query-blockstats")?;
        let entry = all
            .items()
            .iter()
            .find(|e| e.get("device").and_then(Json::as_str) == Some(device))
            .ok_or_else(|| format!("QMP query-blockstats: no drive {device}"))?;
        BlockStats::from_json(entry.get("stats").unwrap_or(&Json::Null))
    }
}

/// QEMU's counters for one drive (QMP `BlockDeviceStats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BlockStats {
    pub rd_operations: u64,
    pub wr_operations: u64,
    pub rd_bytes: u64,
    pub wr_bytes: u64,
    pub failed_rd_operations: u64,
    pub failed_wr_operations: u64,
    pub flush_operations: u64,
}

impl BlockStats {
    fn from_json(stats: &Json) -> Result<Self, String> {
        let field = |name: &str| {
            stats
                .get(name)
                .and_then(Json::as_u64)
                .ok_or_else(|| format!("QMP query-blockstats: no {name}"))
        };
        Ok(Self {
            rd_operations: field("rd_operations")?,
            wr_operations: field("wr_operations")?,
            rd_bytes: field("rd_bytes")?,
            wr_bytes: field("wr_bytes")?,
            failed_rd_operations: field("failed_rd_operations")?,
            failed_wr_operations: field("failed_wr_operations")?,
            flush_operations: field("flush_operations")?,
        })
    }

    /// Counts since `earlier`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            rd_operations: self.rd_operations - earlier.rd_operations,
            wr_operations: self.wr_operations - earlier.wr_operations,
            rd_bytes: self.rd_bytes - earlier.rd_bytes,
            wr_bytes: self.wr_bytes - earlier.wr_bytes,
            failed_rd_operations: self.failed_rd_operations - earlier.failed_rd_operations,
            failed_wr_operations: self.failed_wr_operations - earlier.failed_wr_operations,
            flush_operations: self.flush_operations - earlier.flush_operations,
        }
    }
}

/// A JSON value: just enough for QMP replies.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parser = Parser {
            bytes: text.as_bytes(),
            at: 0,
        };
        let value = parser.value()?;
        parser.space();
        if parser.at != parser.bytes.len() {
            return Err(format!("JSON: trailing text at {}", parser.at));
        }
        Ok(value)
    }

    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Self::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn items(&self) -> &[Json] {
        match self {
            Self::Array(items) => items,
            _ => &[],
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            // Exact for counts below 2^53.
            Self::Number(n) if n >= 0.0 && n.fract() == 0.0 => Some(n as u64),
            _ => None,
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn space(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        self.space();
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("JSON: expected '{}' at {}", byte as char, self.at))
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.space();
        let rest = &self.bytes[self.at..];
        for (word, value) in [
            ("null", Json::Null),
            ("true", Json::Bool(true)),
            ("false", Json::Bool(false)),
        ] {
            if rest.starts_with(word.as_bytes()) {
                self.at += word.len();
                return Ok(value);
            }
        }
        match rest.first() {
            Some(b'"') => self.string().map(Json::String),
            Some(b'[') => {
                self.at += 1;
                let mut items = Vec::new();
                self.space();
                if self.bytes.get(self.at) == Some(&b']') {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.space();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b']') => {
                            self.at += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(format!("JSON: expected ',' or ']' at {}", self.at)),
                    }
                }
            }
            Some(b'{') => {
                self.at += 1;
                let mut fields = Vec::new();
                self.space();
                if self.bytes.get(self.at) == Some(&b'}') {
                    self.at += 1;
                    return Ok(Json::Object(fields));
                }
                loop {
                    self.space();
                    let key = self.string()?;
                    self.expect(b':')?;
                    fields.push((key, self.value()?));
                    self.space();
                    match self.bytes.get(self.at) {
                        Some(b',') => self.at += 1,
                        Some(b'}') => {
                            self.at += 1;
                            return Ok(Json::Object(fields));
                        }
                        _ => return Err(format!("JSON: expected ',' or '}}' at {}", self.at)),
                    }
                }
            }
            _ => {
                let len = rest
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                    .unwrap_or(rest.len());
                let number = std::str::from_utf8(&rest[..len])
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| format!("JSON: unexpected input at {}", self.at))?;
                self.at += len;
                Ok(Json::Number(number))
            }
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            let Some(&b) = self.bytes.get(self.at) else {
                return Err("JSON: unterminated string".into());
            };
            self.at += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&escaped) = self.bytes.get(self.at) else {
                        return Err("JSON: unterminated escape".into());
                    };
                    self.at += 1;
                    match escaped {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let hex = self
                                .bytes
                                .get(self.at..self.at + 4)
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or("JSON: bad \\u escape")?;
                            self.at += 4;
                            let c = char::from_u32(hex).unwrap_or('\u{fffd}');
                            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                        }
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_qmp_blockstats() {
        // Shape of QEMU 7.2's reply (trimmed): the drive's stats come before its file node's.
        let reply = r##"{"return": [{"device": "vd0", "parent": {"stats": {"rd_operations": 9,
            "wr_operations": 0, "rd_bytes": 1, "wr_bytes": 0, "failed_rd_operations": 0,
            "failed_wr_operations": 0, "flush_operations": 0}, "node-name": "#block1"},
            "stats": {"unmap_operations": 0, "flush_total_time_ns": 0, "rd_merged": 0,
            "rd_latency_histogram": null, "timed_stats": [], "invalid_rd_operations": 0,
            "idle_time_ns": 1234567, "account_invalid": true, "rd_operations": 12345,
            "wr_operations": 7, "rd_bytes": 50565120, "wr_bytes": 28672,
            "failed_rd_operations": 1, "failed_wr_operations": 0, "flush_operations": 2,
            "account_failed": true}, "qdev": "/machine/peripheral-anon/device[0]/virtio-backend",
            "node-name": "#block\u0031"}]}"##;
        let message = Json::parse(reply).unwrap();
        let entry = &message.get("return").unwrap().items()[0];
        assert_eq!(
            entry.get("node-name").and_then(Json::as_str),
            Some("#block1")
        );
        let stats = BlockStats::from_json(entry.get("stats").unwrap()).unwrap();
        assert_eq!(
            stats,
            BlockStats {
                rd_operations: 12345,
                wr_operations: 7,
                rd_bytes: 50_565_120,
                wr_bytes: 28672,
                failed_rd_operations: 1,
                failed_wr_operations: 0,
                flush_operations: 2,
            }
        );
        let later = BlockStats {
            rd_operations: 12346,
            ..stats
        };
        assert_eq!(later.since(stats).rd_operations, 1);
        assert_eq!(later.since(stats).wr_bytes, 0);
    }

    #[test]
    fn json_edges() {
        assert_eq!(Json::parse(" [] ").unwrap(), Json::Array(vec![]));
        assert_eq!(Json::parse("{}").unwrap(), Json::Object(vec![]));
        assert_eq!(
            Json::parse(r#""a\"b\\c\n""#).unwrap(),
            Json::String("a\"b\\c\n".into())
        );
        assert_eq!(Json::parse("-1.5e2").unwrap(), Json::Number(-150.0));
        assert_eq!(Json::parse("[true,false,null]").unwrap().items().len(), 3);
        assert!(Json::parse("{\"a\" 1}").is_err());
        assert!(Json::parse("[1,]").is_err());
        assert!(Json::parse("\"open").is_err());
        assert!(Json::parse("1 2").is_err());
        assert_eq!(Json::Number(3.0).as_u64(), Some(3));
        assert_eq!(Json::Number(3.5).as_u64(), None);
    }
}
