//! `redis-benchmark` as the kv benchmark's load ([`super`]): its command line
//! ([`command`]), one run watched for progress ([`run`]: a run whose progress line shows no
//! requests for [`STALL_LIMIT`] is stopped, so a server that hangs costs a minute, not the
//! whole time bound), and its `-q` output read back ([`parse`]).
//!
//! `-q` prints a progress line every 250 ms (`SET: rps=3000.0 (overall: ...) ...`, ended by
//! `\r`) and one result line per test (`SET: 3012.05 requests per second, p50=15.2 msec`).
//! redis-benchmark 7.0 stops at the first error reply (`Error from server: ...`) with
//! status 1: such lines, and anything else that is neither progress nor a result, are kept
//! as notes and shown.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The tests, in the order redis-benchmark runs them, as it names them in its output.
pub(super) const TESTS: [&str; 5] = ["SET", "GET", "INCR", "LPUSH", "LPOP"];
/// Parallel connections.
pub(super) const CLIENTS: u32 = 50;
/// A run whose progress shows no request done for this long is stopped.
pub(super) const STALL_LIMIT: Duration = Duration::from_secs(60);
/// The slowest rate (requests per second over all tests) the time bound allows for; a
/// run is stopped at the bound whatever it does.
const RATE_FLOOR: u64 = 100;

/// What one run gave.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Output {
    /// Requests per second per test, in the order they completed.
    pub rates: Vec<(String, f64)>,
    /// Lines that are neither progress nor results (error replies, warnings), stdout then
    /// stderr.
    pub notes: Vec<String>,
    /// Why the run is not whole, if it is not: a failure status, a stall, a missing test.
    pub problem: Option<String>,
    /// The run's wall time.
    pub seconds: f64,
}

impl Output {
    /// The rate of `test`, if the run got that far.
    pub fn rate(&self, test: &str) -> Option<f64> {
        self.rates.iter().find(|(t, _)| t == test).map(|(_, r)| *r)
    }
}

/// The time bound of one run of `requests` requests per test.
pub(super) fn time_limit(requests: u64) -> Duration {
    Duration::from_secs(120 + requests * TESTS.len() as u64 / RATE_FLOOR)
}

/// `redis-benchmark` against `host:port`: [`TESTS`], `requests` each, [`CLIENTS`]
/// connections, `pipeline` requests in flight per connection, quiet output; bounded by
/// `timeout` (which passes a SIGTERM on to it).
pub(super) fn command(host: &str, port: u16, requests: u64, pipeline: u32) -> Command {
    let tests = TESTS.join(",").to_ascii_lowercase();
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "5", &time_limit(requests).as_secs().to_string()])
        .arg("redis-benchmark")
        .args(["-h", host, "-p", &port.to_string()])
        .args(["-t", &tests, "-n", &requests.to_string()])
        .args([
            "-c",
            &CLIENTS.to_string(),
            "-P",
            &pipeline.to_string(),
            "-q",
        ]);
    cmd
}

/// Runs `cmd` (from [`command`], perhaps wrapped to run in a network namespace) and reads
/// its output; stops it (SIGTERM to the child, which is `timeout` or execs it) when its
/// progress stalls for [`STALL_LIMIT`].
pub(super) fn run(mut cmd: Command) -> Output {
    let start = Instant::now();
    let mut child = match cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            return Output {
                problem: Some(format!("cannot run redis-benchmark: {e}")),
                ..Output::default()
            };
        }
    };
    let (tx, rx) = mpsc::channel::<String>();
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        // Segments end at '\r' (progress) or '\n' (results, notes).
        let mut pending = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                if b == b'\r' || b == b'\n' {
                    let _ = tx.send(String::from_utf8_lossy(&pending).into_owned());
                    pending.clear();
                } else {
                    pending.push(b);
                }
            }
        }
        if !pending.is_empty() {
            let _ = tx.send(String::from_utf8_lossy(&pending).into_owned());
        }
    });
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let mut text = String::new();
    let mut last_progress = Instant::now();
    let mut stalled = false;
    loop {
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(segment) => {
                if result_line(&segment).is_some()
                    || progress_rps(&segment).is_some_and(|r| r > 0.0)
                {
                    last_progress = Instant::now();
                }
                text.push_str(&segment);
                text.push('\n');
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if !stalled && last_progress.elapsed() > STALL_LIMIT {
            stalled = true;
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
    let _ = reader.join();
    let status = child.wait().ok();
    let stderr_text = errors.join().unwrap_or_default();
    let (rates, mut notes) = parse(&text);
    notes.extend(
        stderr_text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string),
    );
    let problem = judge(&rates, status, stalled);
    Output {
        rates,
        notes,
        problem,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// Why a run with these results and this ending is not whole, if it is not.
fn judge(rates: &[(String, f64)], status: Option<ExitStatus>, stalled: bool) -> Option<String> {
    let missing: Vec<&str> = TESTS
        .iter()
        .copied()
        .filter(|t| !rates.iter().any(|(r, _)| r == t))
        .collect();
    let mut why = Vec::new();
    if stalled {
        why.push(format!(
            "no request completed for {} s: stopped",
            STALL_LIMIT.as_secs()
        ));
    } else {
        match status.and_then(|s| s.code()) {
            Some(0) => {}
            // `timeout`'s status for a command it had to stop.
            Some(124) => why.push("stopped at the time bound".into()),
            Some(code) => why.push(format!("redis-benchmark exited with status {code}")),
            None => why.push("redis-benchmark was killed by a signal".into()),
        }
    }
    if !missing.is_empty() {
        why.push(format!("no result for {}", missing.join(", ")));
    }
    (!why.is_empty()).then(|| why.join("; "))
}

/// Reads `-q` output (segments split at `\r` and `\n`): the result of each test, and every
/// line that is neither progress nor a result.
pub(super) fn parse(text: &str) -> (Vec<(String, f64)>, Vec<String>) {
    let mut rates = Vec::new();
    let mut notes = Vec::new();
    for segment in text.split(['\r', '\n']).map(str::trim) {
        if segment.is_empty() || progress_rps(segment).is_some() {
            continue;
        }
        match result_line(segment) {
            Some(result) => rates.push(result),
            None => notes.push(segment.to_string()),
        }
    }
    (rates, notes)
}

/// `SET: 3012.05 requests per second, p50=15.239 msec` -> (`SET`, 3012.05).
fn result_line(segment: &str) -> Option<(String, f64)> {
    let (test, rest) = segment.trim().split_once(": ")?;
    let rate = rest.strip_suffix(" requests per second").or_else(|| {
        rest.split_once(" requests per second,")
            .map(|(rate, _)| rate)
    })?;
    let rate: f64 = rate.trim().parse().ok().filter(|r: &f64| r.is_finite())?;
    Some((test.to_string(), rate))
}

/// `SET: rps=3000.0 (overall: 2950.1) avg_msec=...` -> 3000.0; `rps=-nan` counts as 0.
fn progress_rps(segment: &str) -> Option<f64> {
    let (_, rest) = segment.split_once(": rps=")?;
    let value = rest.split_whitespace().next()?;
    Some(
        value
            .parse::<f64>()
            .ok()
            .filter(|r| r.is_finite())
            .unwrap_or(0.0),
    )
}
