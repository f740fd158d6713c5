//! A guest running in the background while a test drives it with real clients (`curl`,
//! `wrk`): [`RunConfig::spawn`] starts QEMU with its console captured; [`Background`]
//! waits for console lines, stops QEMU (SIGTERM) and collects the [`Outcome`], and kills
//! QEMU when dropped. A watchdog thread enforces the run's timeout whatever the test does.

use super::{Ended, Outcome, RunConfig, RunError, signal, terminate};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the watchdog looks at QEMU when nothing wakes it.
const WATCH_PERIOD: Duration = Duration::from_millis(20);

/// A QEMU process started by [`RunConfig::spawn`].
pub struct Background {
    shared: Arc<Shared>,
    watchdog: Option<JoinHandle<()>>,
    readers: Vec<JoinHandle<()>>,
    start: Instant,
    pid: u32,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled on console output, on QEMU's end and on a stop request.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// What QEMU wrote to stdout (the serial console) and stderr.
    pipes: [Pipe; 2],
    /// Set once QEMU has ended and been reaped.
    ended: Option<(ExitStatus, Ended)>,
    /// A stop was asked for: SIGTERM (`kill` false) or SIGKILL (`kill` true).
    stop: Option<bool>,
}

#[derive(Default)]
struct Pipe {
    bytes: Vec<u8>,
    /// Arrival time of each `\n` in `bytes`.
    line_ends: Vec<Duration>,
    open: bool,
}

impl RunConfig {
    /// Starts QEMU in the background with its console captured (stdin closed). The
    /// config's timeout still applies: QEMU is stopped when it passes. Fails without
    /// starting QEMU if [`RunConfig::check`] does.
    pub fn spawn(&self) -> Result<Background, RunError> {
        let start = Instant::now();
        let mut child = self.spawn_piped()?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let readers = vec![
            read_pipe(stdout, 0, shared.clone(), start),
            read_pipe(stderr, 1, shared.clone(), start),
        ];
        let pid = child.id();
        let deadline = self.timeout.and_then(|t| start.checked_add(t));
        let watchdog = {
            let shared = shared.clone();
            std::thread::spawn(move || watch(child, deadline, &shared))
        };
        Ok(Background {
            shared,
            watchdog: Some(watchdog),
            readers,
            start,
            pid,
        })
    }
}

impl Background {
    /// QEMU's process id (with a tap network, QEMU runs inside the namespace under this
    /// id: `ip netns exec` execs it).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// False once QEMU has ended (by itself, at the timeout, or stopped).
    pub fn is_running(&self) -> bool {
        self.lock().ended.is_none()
    }

    /// The console so far (stdout, then stderr), with `\r\n` turned into `\n`.
    pub fn console(&self) -> String {
        console_text(&self.lock())
    }

    /// Waits until the console contains `needle` and returns the console so far. Fails
    /// with the console when `limit` passes first or QEMU ends without printing it.
    pub fn wait_for_console(&self, needle: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        let mut state = self.lock();
        loop {
            let text = console_text(&state);
            if text.contains(needle) {
                return Ok(text);
            }
            if let Some((status, ended)) = state.ended
                && state.pipes.iter().all(|p| !p.open)
            {
                return Err(format!(
                    "QEMU ended ({status}, {ended:?}) before the console showed {needle:?}; \
                     console:\n{text}"
                ));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "the console did not show {needle:?} within {limit:?}; console:\n{text}"
                ));
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Stops QEMU (SIGTERM; SIGKILL 2 s later if it is still there) unless it has ended
    /// already, and returns how the run ended: [`super::Ending::Stopped`] with SIGTERM
    /// (status 143) if it was stopped here.
    pub fn stop(mut self) -> Outcome {
        self.request_stop(false);
        self.collect()
    }

    /// Waits for the guest to end by itself (or the run's timeout) and returns how.
    pub fn wait(mut self) -> Outcome {
        self.collect()
    }

    fn request_stop(&self, kill: bool) {
        let mut state = self.lock();
        if state.stop != Some(true) {
            state.stop = Some(kill);
        }
        self.shared.changed.notify_all();
    }

    fn collect(&mut self) -> Outcome {
        if let Some(watchdog) = self.watchdog.take() {
            let _ = watchdog.join();
        }
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        let state = self.lock();
        let (status, ended) = state
            .ended
            .unwrap_or((ExitStatus::from_raw(0), Ended::Exited));
        let wall = self.start.elapsed();
        let mut lines = Vec::new();
        for pipe in &state.pipes {
            let mut rest = &pipe.bytes[..];
            let mut ends = pipe.line_ends.iter();
            while !rest.is_empty() {
                let cut = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| i + 1);
                let line = String::from_utf8_lossy(&rest[..cut]).replace("\r\n", "\n");
                let at = ends.next().copied().unwrap_or(wall);
                lines.push((at, line.trim_end_matches('\n').to_string()));
                rest = &rest[cut..];
            }
        }
        let mut outcome = Outcome::new(status, ended, console_text(&state), wall);
        outcome.lines = lines;
        outcome
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Background {
    /// Kills QEMU (SIGKILL) if it still runs, and waits for it.
    fn drop(&mut self) {
        if self.watchdog.is_some() {
            self.request_stop(true);
            self.collect();
        }
    }
}

fn console_text(state: &State) -> String {
    state
        .pipes
        .iter()
        .map(|p| String::from_utf8_lossy(&p.bytes).replace("\r\n", "\n"))
        .collect()
}

/// Copies one of QEMU's pipes into `shared` as it arrives.
fn read_pipe(
    mut pipe: impl Read + Send + 'static,
    index: usize,
    shared: Arc<Shared>,
    start: Instant,
) -> JoinHandle<()> {
    shared.state.lock().unwrap_or_else(|p| p.into_inner()).pipes[index].open = true;
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            let n = pipe.read(&mut buf).unwrap_or(0);
            let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
            let out = &mut state.pipes[index];
            if n == 0 {
                out.open = false;
                shared.changed.notify_all();
                return;
            }
            let at = start.elapsed();
            out.line_ends
                .extend(buf[..n].iter().filter(|&&b| b == b'\n').map(|_| at));
            out.bytes.extend_from_slice(&buf[..n]);
            shared.changed.notify_all();
        }
    })
}

/// Owns QEMU until it ends: notes its end, stops it at `deadline` or when asked.
fn watch(mut child: Child, deadline: Option<Instant>, shared: &Shared) {
    let ended = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status, Ended::Exited),
            Ok(None) => {}
            Err(_) => {
                let _ = child.kill();
                break (
                    child.wait().unwrap_or(ExitStatus::from_raw(0)),
                    Ended::Exited,
                );
            }
        }
        let state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
        let stop = state.stop;
        let now = Instant::now();
        let timed_out = deadline.is_some_and(|d| now >= d);
        if stop.is_none() && !timed_out {
            let nap = deadline.map_or(WATCH_PERIOD, |d| (d - now).min(WATCH_PERIOD));
            drop(shared.changed.wait_timeout(state, nap));
            continue;
        }
        drop(state);
        let status = if stop == Some(true) {
            let _ = child.kill();
            child.wait().ok()
        } else {
            terminate(&mut child).ok()
        }
        .unwrap_or(ExitStatus::from_raw(0));
        break match stop {
            Some(_) => (status, Ended::Stopped(signal::SIGTERM)),
            None => (status, Ended::TimedOut),
        };
    };
    let mut state = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    state.ended = Some(ended);
    shared.changed.notify_all();
}
