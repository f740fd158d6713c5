//! Debian's redis-server for the kv benchmark ([`super`]): the program (redis-tools'
//! `redis-check-rdb`, which is the whole server and acts as one when called `redis-server`;
//! Debian's redis-server package is that symlink plus a service, so it is not installed),
//! which the Linux microVM gets at `/usr/bin/redis-server`, and the reference run on the
//! host: a server of its own on a free port of 127.0.0.1, no persistence.

use super::guest::{last_lines, redis_cli, redis_config, wait_for_pong};
use super::{PIPELINES, Persistence, REDIS_NONE, Row, Served, System, redis_benchmark};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where redis-tools puts it.
const CANDIDATES: [&str; 2] = ["/usr/bin/redis-check-rdb", "/usr/local/bin/redis-check-rdb"];
/// What Redis logs once it accepts connections.
const READY: &str = "Ready to accept connections";

/// The server program and a name it answers to as a server.
pub(super) struct RedisServer {
    /// redis-tools' `redis-check-rdb`.
    pub binary: PathBuf,
    /// A symlink called `redis-server` to it, in the benchmark's folder.
    pub link: PathBuf,
    /// Its folder, where the native run keeps its data and log.
    dir: PathBuf,
    /// `redis-server --version`.
    version: String,
    /// redis-tools' package version, if dpkg knows it.
    package: Option<String>,
}

impl RedisServer {
    /// Finds the program and makes the `redis-server` link to it in `dir`.
    pub fn find(dir: &Path) -> Result<Self, String> {
        let binary = CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or("bench kv needs redis-check-rdb (package redis-tools): apt-get install -y redis-tools")?;
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let link = dir.join("redis-server");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&binary, &link)
            .map_err(|e| format!("{}: {e}", link.display()))?;
        let version = Command::new(&link)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .map_err(|e| format!("cannot run {}: {e}", link.display()))?;
        let package = Command::new("dpkg-query")
            .args(["-W", "-f", "${Version}", "redis-tools"])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        Ok(Self {
            binary,
            link,
            dir: dir.to_path_buf(),
            version,
            package,
        })
    }

    /// One line for the header.
    pub fn describe(&self) -> String {
        format!(
            "{} ({}{}, run as redis-server: Debian's redis-server package links \
             /usr/bin/redis-server to it)",
            self.version,
            self.binary.display(),
            self.package
                .as_ref()
                .map_or(String::new(), |v| format!(" from redis-tools {v}"))
        )
    }

    /// The native reference: a server on a free port of 127.0.0.1, both pipeline depths.
    pub fn serve(&self, requests: u64) -> Result<Served, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port on 127.0.0.1: {e}"))?
            .port();
        let data = self.dir.join("data");
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
        let log = data.join("redis.log");
        let limit = redis_benchmark::time_limit(requests) * PIPELINES.len() as u32
            + Duration::from_secs(60);
        let mut child = Command::new("timeout")
            .args(["-k", "5", &limit.as_secs().to_string()])
            .arg(&self.link)
            .args(native_args(port, &data, &log))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start redis-server: {e}"))?;
        let result = ready(&mut child, &log).and_then(|()| {
            let cli = || redis_cli("127.0.0.1", port);
            wait_for_pong(&cli)?;
            let said = redis_config(cli());
            let rows = PIPELINES
                .iter()
                .map(|&pipeline| Row {
                    system: System::Native,
                    persistence: Persistence::None,
                    pipeline,
                    result: Ok(redis_benchmark::run(redis_benchmark::command(
                        "127.0.0.1",
                        port,
                        requests,
                        pipeline,
                    ))),
                    host: None,
                    console_tail: String::new(),
                })
                .collect();
            Ok(Served { rows, said })
        });
        stop(&mut child);
        result
    }
}

/// The native server's arguments: [`REDIS_NONE`]'s options, on 127.0.0.1 only.
pub(super) fn native_args(port: u16, data: &Path, log: &Path) -> Vec<String> {
    let mut args = vec![
        "--port".to_string(),
        port.to_string(),
        "--bind".into(),
        "127.0.0.1".into(),
    ];
    // REDIS_NONE as the shell reads it ('' is an empty word).
    args.extend(
        REDIS_NONE
            .split_whitespace()
            .map(|w| if w == "''" { String::new() } else { w.into() }),
    );
    args.extend([
        "--dir".into(),
        data.to_string_lossy().into_owned(),
        "--logfile".into(),
        log.to_string_lossy().into_owned(),
    ]);
    args
}

/// Waits until the server has logged [`READY`] (it is then ours that listens, not
/// another on the same port), or ends.
fn ready(child: &mut Child, log: &Path) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(READY) {
            return Ok(());
        }
        if child.try_wait().ok().flatten().is_some() || Instant::now() > deadline {
            return Err(format!(
                "redis-server did not start: {}",
                last_lines(&text, 3)
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGTERM (which `timeout` passes on), then SIGKILL after 5 s.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let grace = Instant::now() + Duration::from_secs(5);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}
