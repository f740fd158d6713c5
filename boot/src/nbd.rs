//! A disk file served over NBD by nbdkit with its cache filter in writeback mode, the
//! host half of a simulated power cut: nbdkit keeps every write in its own cache until
//! the client flushes, and only a flush writes the dirty blocks to the file. Killing
//! nbdkit (SIGKILL) therefore drops exactly the writes no completed flush covered, which
//! killing QEMU alone does not (QEMU's completed writes sit in the host's page cache and
//! survive it). [`NbdServer`] starts and kills nbdkit; [`crate::qemu::DiskSpec::nbd`]
//! attaches its socket to a run.

use crate::qemu::DiskSpec;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The server program (Debian's `nbdkit`, 1.32 measured).
pub const NBDKIT: &str = "nbdkit";

/// How long [`NbdServer::spawn`] waits for nbdkit to listen.
pub const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest Unix socket path Linux takes (`sun_path` is 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

/// A running nbdkit serving one disk file on a Unix socket in a folder of its own (with
/// its pid file and its log). Dropping it kills nbdkit (SIGKILL) and removes the folder;
/// the disk file stays.
#[derive(Debug)]
pub struct NbdServer {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
    /// Set once nbdkit has been killed and reaped.
    killed: bool,
}

impl NbdServer {
    /// Starts nbdkit serving `disk` (an existing file) through its cache filter in
    /// writeback mode and waits, up to [`READY_TIMEOUT`], until it accepts connections.
    /// nbdkit also ends when the thread that called this ends (`--exit-with-parent`), so
    /// a test that dies leaves none behind.
    pub fn spawn(disk: &Path) -> Result<Self, String> {
        Self::spawn_program(Path::new(NBDKIT), disk, None, READY_TIMEOUT)
    }

    /// As [`NbdServer::spawn`], with every write request held `delay` before it reaches
    /// the cache (nbdkit's delay filter): a slow disk, on which a guest gets through fewer
    /// writes between two moments (nbdkit serves one request at a time).
    pub fn spawn_slow(disk: &Path, delay: Duration) -> Result<Self, String> {
        Self::spawn_program(Path::new(NBDKIT), disk, Some(delay), READY_TIMEOUT)
    }

    fn spawn_program(
        program: &Path,
        disk: &Path,
        write_delay: Option<Duration>,
        limit: Duration,
    ) -> Result<Self, String> {
        let disk = disk
            .canonicalize()
            .map_err(|e| format!("NBD disk {}: {e}", disk.display()))?;
        if !disk.is_file() {
            return Err(format!("NBD disk {}: not a regular file", disk.display()));
        }
        let dir = private_dir()?;
        let socket = dir.join("nbd.sock");
        let log = dir.join("nbdkit.log");
        let stderr =
            std::fs::File::create(&log).map_err(|e| format!("creating {}: {e}", log.display()))?;
        let pidfile = dir.join("nbdkit.pid");
        let child = Self::command(program, &disk, &socket, &pidfile, write_delay)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                let _ = std::fs::remove_dir_all(&dir);
                match e.kind() {
                    std::io::ErrorKind::NotFound => format!(
                        "{} not found: serving a disk over NBD needs nbdkit; run \
                         `apt-get install -y nbdkit` (scripts/test.sh does this when run as \
                         root)",
                        program.display()
                    ),
                    _ => format!("starting {}: {e}", program.display()),
                }
            })?;
        let mut server = Self {
            child,
            dir,
            socket,
            killed: false,
        };
        server.wait_ready(limit)?;
        Ok(server)
    }

    /// The nbdkit command line: in the foreground, on the Unix socket `socket`, the file
    /// plugin for `disk` under the cache filter in writeback mode, and with a
    /// `write_delay`, the delay filter in front of the cache; `pidfile` appears once nbdkit
    /// accepts connections.
    pub fn command(
        program: &Path,
        disk: &Path,
        socket: &Path,
        pidfile: &Path,
        write_delay: Option<Duration>,
    ) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(["-f", "--exit-with-parent", "-U"])
            .arg(socket)
            .arg("-P")
            .arg(pidfile);
        // The first filter is the one nearest the client.
        if write_delay.is_some() {
            cmd.arg("--filter=delay");
        }
        cmd.args(["--filter=cache", "file"])
            .arg(disk)
            .arg("cache=writeback");
        if let Some(delay) = write_delay {
            cmd.arg(format!("delay-write={}ms", delay.as_millis()));
        }
        cmd
    }

    /// Waits until the pid file and the socket exist (nbdkit writes the pid file once it
    /// listens); fails with nbdkit's log if it ends or `limit` passes first.
    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let pidfile = self.dir.join("nbdkit.pid");
        loop {
            if pidfile.exists() && self.socket.exists() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.killed = true;
                return Err(format!(
                    "nbdkit ended ({status}) before it listened; its log:\n{}",
                    self.log()
                ));
            }
            if Instant::now() >= deadline {
                self.kill_hard();
                return Err(format!(
                    "nbdkit did not listen on {} within {limit:?}; its log:\n{}",
                    self.socket.display(),
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The Unix socket nbdkit listens on.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The disk for a run: QEMU's NBD client on [`NbdServer::socket`], in writeback mode.
    pub fn disk_spec(&self) -> DiskSpec {
        DiskSpec::nbd(&self.socket)
    }

    /// nbdkit's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What nbdkit wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nbdkit.log")).unwrap_or_default()
    }

    /// Kills nbdkit at once (SIGKILL) and waits for it: the writes in its cache that no
    /// flush wrote back are gone, as in a power cut. Does nothing the second time.
    pub fn kill_hard(&mut self) {
        if !self.killed {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.killed = true;
        }
    }
}

impl Drop for NbdServer {
    fn drop(&mut self) {
        self.kill_hard();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A fresh folder for one server's socket, pid file and log, short enough for a socket
/// path.
fn private_dir() -> Result<PathBuf, String> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("unikernel-nbd-{}-{n}", std::process::id()));
    let socket_len = dir.join("nbd.sock").as_os_str().len();
    if socket_len > MAX_SOCKET_PATH {
        return Err(format!(
            "{}: too long a folder for a Unix socket ({socket_len} bytes with the socket's \
             name, at most {MAX_SOCKET_PATH}); set TMPDIR to a shorter one",
            dir.display()
        ));
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::shell_words;
    use crate::testutil::TempDir;

    #[test]
    fn nbdkit_serves_the_file_through_the_cache_filter_in_writeback_mode() {
        let cmd = NbdServer::command(
            Path::new("nbdkit"),
            Path::new("/d/disk.img"),
            Path::new("/t/nbd.sock"),
            Path::new("/t/nbdkit.pid"),
            None,
        );
        assert_eq!(
            shell_words(&cmd),
            "nbdkit -f --exit-with-parent -U /t/nbd.sock -P /t/nbdkit.pid --filter=cache \
             file /d/disk.img cache=writeback"
        );
        let cmd = NbdServer::command(
            Path::new("nbdkit"),
            Path::new("/d/disk.img"),
            Path::new("/t/nbd.sock"),
            Path::new("/t/nbdkit.pid"),
            Some(Duration::from_millis(20)),
        );
        assert_eq!(
            shell_words(&cmd),
            "nbdkit -f --exit-with-parent -U /t/nbd.sock -P /t/nbdkit.pid --filter=delay \
             --filter=cache file /d/disk.img cache=writeback delay-write=20ms"
        );
    }

    #[test]
    fn a_missing_nbdkit_or_disk_is_a_clear_error() {
        let tmp = TempDir::new("nbd-missing");
        let disk = tmp.0.join("d.img");
        std::fs::write(&disk, [0u8; 4096]).unwrap();
        let err =
            NbdServer::spawn_program(Path::new("/nonexistent/nbdkit"), &disk, None, READY_TIMEOUT)
                .unwrap_err();
        assert!(
            err.starts_with("/nonexistent/nbdkit not found: serving a disk over NBD needs nbdkit; run `apt-get install -y nbdkit`"),
            "{err}"
        );
        let err = NbdServer::spawn(&tmp.0.join("none.img")).unwrap_err();
        assert!(err.contains("none.img: No such file"), "{err}");
        // A program that ends at once: its end is reported, not a timeout.
        let err =
            NbdServer::spawn_program(Path::new("false"), &disk, None, READY_TIMEOUT).unwrap_err();
        assert!(
            err.starts_with("nbdkit ended (exit status: 1) before it listened"),
            "{err}"
        );
    }

    /// Needs nbdkit (scripts/test.sh installs it).
    #[test]
    fn nbdkit_listens_and_is_killed_and_cleaned_up() {
        let tmp = TempDir::new("nbd-live");
        let disk = tmp.0.join("d.img");
        std::fs::write(&disk, [0u8; 1 << 16]).unwrap();
        let mut server = NbdServer::spawn(&disk).unwrap_or_else(|e| panic!("{e}"));
        let socket = server.socket().to_path_buf();
        std::os::unix::net::UnixStream::connect(&socket).expect("nbdkit accepts connections");
        server.disk_spec().check().unwrap();
        let pid = server.pid();
        server.kill_hard();
        server.kill_hard();
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "nbdkit {pid} still there"
        );
        let dir = socket.parent().unwrap().to_path_buf();
        drop(server);
        assert!(!dir.exists(), "{} is left", dir.display());
        assert!(disk.exists());
        // With the delay filter in front.
        let server = NbdServer::spawn_slow(&disk, Duration::from_millis(5))
            .unwrap_or_else(|e| panic!("{e}"));
        std::os::unix::net::UnixStream::connect(server.socket()).expect("nbdkit listens");
    }
}
