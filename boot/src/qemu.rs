//! The one place that knows how to run an image under QEMU: command line, timeout, and
//! what QEMU's exit status means. `scripts/qemu-run.sh`, the tests and the benchmarks all
//! come through here.

use crate::image::Format;
use kernel::exit_status::{self, QemuOutcome};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How QEMU executes guest code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    /// KVM where `/dev/kvm` can be opened read-write, else TCG.
    pub fn best() -> Self {
        if kvm_usable() { Self::Kvm } else { Self::Tcg }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "kvm" => Some(Self::Kvm),
            "tcg" => Some(Self::Tcg),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Kvm => "kvm",
            Self::Tcg => "tcg",
        }
    }
}

/// True if `/dev/kvm` is served by `kvm_pvm`, which runs a guest like this one (not a PVM
/// guest) through its instruction emulator: measured here at about 1 µs per instruction,
/// some 1000 times slower than TCG.
pub fn kvm_is_pvm() -> bool {
    Path::new("/sys/module/kvm_pvm").exists()
}

/// True if KVM can be used by this process.
pub fn kvm_usable() -> bool {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok()
}

/// Everything that shapes one QEMU run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub kernel: PathBuf,
    pub accel: Accel,
    pub mem_mib: u32,
    /// Kernel options (before `--`).
    pub kernel_options: String,
    /// App arguments (after `--`), quoted for the kernel as needed.
    pub app_args: Vec<String>,
    /// Wall-clock limit; `None` only for interactive debugging.
    pub timeout: Option<Duration>,
    /// Start QEMU's gdb stub on tcp::1234 and wait for the debugger.
    pub gdb: bool,
    /// What `kernel` is: a PVH ELF (microvm) or a BIOS/UEFI disk image (q35).
    pub format: Format,
    /// Appended to the QEMU command line as they are (tests use it to take devices away,
    /// e.g. `-machine pit=off`).
    pub extra_args: Vec<String>,
}

impl RunConfig {
    pub fn new(kernel: impl Into<PathBuf>) -> Self {
        Self {
            kernel: kernel.into(),
            accel: Accel::best(),
            mem_mib: 64,
            kernel_options: String::new(),
            app_args: Vec::new(),
            timeout: Some(Duration::from_secs(30)),
            gdb: false,
            format: Format::Pvh,
            extra_args: Vec::new(),
        }
    }

    /// The kernel command line: options, then `--` and the quoted app arguments.
    pub fn cmdline(&self) -> String {
        let mut line = self.kernel_options.trim().to_string();
        if !self.app_args.is_empty() {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str("--");
            for arg in &self.app_args {
                line.push(' ');
                line.push_str(&quote(arg));
            }
        }
        line
    }

    /// The QEMU command. PVH boots on microvm with no firmware; disk images boot on q35
    /// with SeaBIOS or OVMF and get the command line through fw_cfg.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("qemu-system-x86_64");
        match self.format {
            Format::Pvh => {
                cmd.args([
                    "-M",
                    "microvm,x-option-roms=off,rtc=off,acpi=off",
                    "-nodefaults",
                ]);
            }
            // The BIOS stages set a VESA mode, so q35 keeps its default VGA (not shown).
            // No default NIC: its iPXE ROM slows SeaBIOS, and OVMF would try a network boot
            // instead of failing fast on an unbootable disk.
            Format::Bios | Format::Uefi => {
                cmd.args(["-M", "q35", "-nic", "none"]);
            }
        }
        cmd.args(["-no-user-config", "-no-reboot", "-display", "none"])
            .args(["-serial", "stdio"])
            .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
            .args(["-m", &self.mem_mib.to_string()]);
        match self.accel {
            // kvm_pvm rejects the host's IA32_ARCH_CAPABILITIES MSR (0x10a), so drop it.
            Accel::Kvm => cmd.args(["-accel", "kvm", "-cpu", "host,-arch-capabilities"]),
            Accel::Tcg => cmd.args(["-accel", "tcg", "-cpu", "max"]),
        };
        let line = self.cmdline();
        match self.format {
            Format::Pvh => {
                cmd.arg("-kernel").arg(&self.kernel);
                if !line.is_empty() {
                    cmd.args(["-append", &line]);
                }
            }
            Format::Bios | Format::Uefi => {
                if self.format == Format::Uefi {
                    cmd.args(["-bios", OVMF]);
                }
                // snapshot=on: the image is opened read-only (runs can share it, and a
                // run never changes it); guest writes go to a throwaway overlay.
                let mut drive = std::ffi::OsString::from("format=raw,snapshot=on,file=");
                drive.push(escape_option(&self.kernel.to_string_lossy()));
                cmd.arg("-drive").arg(drive);
                if !line.is_empty() {
                    let name = kernel::bootinfo::FW_CFG_CMDLINE;
                    cmd.args([
                        "-fw_cfg",
                        &format!("name={name},string={}", escape_option(&line)),
                    ]);
                }
            }
        }
        if self.gdb {
            cmd.args(["-s", "-S"]);
        }
        cmd.args(&self.extra_args);
        cmd
    }

    /// Runs with the console passed through to this process's stdout.
    pub fn run_interactive(&self) -> Result<Outcome, RunError> {
        let start = Instant::now();
        let child = self.command().spawn().map_err(spawn_error)?;
        let (status, timed_out) = wait_with_timeout(child, self.timeout)?;
        Ok(Outcome::new(
            status,
            timed_out,
            String::new(),
            start.elapsed(),
        ))
    }

    /// Runs and captures the console.
    pub fn run_captured(&self) -> Result<Outcome, RunError> {
        let start = Instant::now();
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)?;
        let readers = [
            drain(child.stdout.take().expect("piped"), start),
            drain(child.stderr.take().expect("piped"), start),
        ];
        let (status, timed_out) = wait_with_timeout(child, self.timeout)?;
        let wall = start.elapsed();
        let [console, errors] = readers.map(|r| r.join().unwrap_or_default());
        let mut text = String::new();
        let mut lines = Vec::new();
        for (at, line) in console.into_iter().chain(errors) {
            let line = String::from_utf8_lossy(&line).replace("\r\n", "\n");
            text.push_str(&line);
            lines.push((at, line.trim_end_matches('\n').to_string()));
        }
        let mut outcome = Outcome::new(status, timed_out, text, wall);
        outcome.lines = lines;
        Ok(outcome)
    }
}

/// Reads a pipe to its end, line by line, noting when each line arrived.
fn drain(
    pipe: impl Read + Send + 'static,
    start: Instant,
) -> std::thread::JoinHandle<Vec<(Duration, Vec<u8>)>> {
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(pipe);
        let mut lines = Vec::new();
        loop {
            let mut line = Vec::new();
            match std::io::BufRead::read_until(&mut reader, b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => lines.push((start.elapsed(), line)),
            }
        }
        lines
    })
}

/// Waits for `child`, stopping it once `timeout` has passed: SIGTERM first (QEMU then
/// restores the terminal it put in raw mode), SIGKILL if it is still there 2 s later.
/// Polls every 250 µs, which bounds the error this adds to measured wall times.
fn wait_with_timeout(
    mut child: Child,
    timeout: Option<Duration>,
) -> Result<(ExitStatus, bool), RunError> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        if let Some(status) = child.try_wait().map_err(spawn_error)? {
            return Ok((status, false));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
            let grace = Instant::now() + Duration::from_secs(2);
            while Instant::now() < grace {
                if let Some(status) = child.try_wait().map_err(spawn_error)? {
                    return Ok((status, true));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = child.kill();
            let status = child.wait().map_err(spawn_error)?;
            return Ok((status, true));
        }
        std::thread::sleep(Duration::from_micros(250));
    }
}

/// OVMF firmware from Debian's `ovmf` package.
pub const OVMF: &str = "/usr/share/ovmf/OVMF.fd";

/// Escapes a value inside a QEMU `-opt key=value,...` list (commas are doubled).
fn escape_option(value: &str) -> String {
    value.replace(',', ",,")
}

/// Quotes a word for the kernel command line if it needs it.
pub fn quote(arg: &str) -> String {
    // Device words are quoted so that the kernel never takes them for QEMU's own.
    let plain = !arg.is_empty()
        && !arg.contains([' ', '\t', '"', '\\', '\n', '\r'])
        && !arg.starts_with("virtio_mmio.device=");
    if plain {
        return arg.to_string();
    }
    let mut out = String::from("\"");
    for c in arg.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// How a run ended.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The status to report: the app's, or 124 (timeout), 125 (reset), 126 (QEMU failed).
    pub status: u8,
    /// What it means, in words.
    pub meaning: Ending,
    /// Console output (captured runs only), with `\r\n` turned into `\n`.
    pub console: String,
    /// Wall time of the whole QEMU process.
    pub wall: Duration,
    /// Console lines (captured runs only) with their arrival time since QEMU started.
    pub lines: Vec<(Duration, String)>,
}

/// What ended a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Guest,
    Timeout,
    Reset,
    QemuFailed(Option<i32>),
}

impl Outcome {
    fn new(status: ExitStatus, timed_out: bool, console: String, wall: Duration) -> Self {
        let (status, meaning) = match status.code() {
            _ if timed_out => (exit_status::TIMEOUT, Ending::Timeout),
            Some(code) => match exit_status::decode_qemu_status(code) {
                QemuOutcome::Guest(s) => (s, Ending::Guest),
                QemuOutcome::Reset => (exit_status::GUEST_RESET, Ending::Reset),
                QemuOutcome::QemuError(c) => {
                    (exit_status::QEMU_FAILED, Ending::QemuFailed(Some(c)))
                }
            },
            None => (exit_status::QEMU_FAILED, Ending::QemuFailed(None)),
        };
        Self {
            status,
            meaning,
            console,
            wall,
            lines: Vec::new(),
        }
    }

    /// A line for the user when the run did not end by the guest's own report.
    pub fn explanation(&self, timeout: Option<Duration>) -> Option<String> {
        match self.meaning {
            Ending::Guest => None,
            Ending::Timeout => Some(format!(
                "qemu-run: timed out after {:?}; QEMU killed (status 124)",
                timeout.unwrap_or_default()
            )),
            Ending::Reset => Some(
                "qemu-run: the guest reset without reporting a status (triple fault?) (status 125)"
                    .to_string(),
            ),
            Ending::QemuFailed(code) => Some(format!(
                "qemu-run: QEMU failed (its status {code:?}); see its message above (status 126)"
            )),
        }
    }
}

/// QEMU could not be started.
#[derive(Debug)]
pub struct RunError(pub String);

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

fn spawn_error(e: std::io::Error) -> RunError {
    if e.kind() == std::io::ErrorKind::NotFound {
        RunError(
            "qemu-system-x86_64 not found: run `apt-get install -y qemu-system-x86` \
             (scripts/qemu-run.sh does this when run as root)"
                .into(),
        )
    } else {
        RunError(format!("cannot start QEMU: {e}"))
    }
}

/// A printable shell form of `cmd`, for `--verbose`.
pub fn shell_words(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|w| {
            let w = w.to_string_lossy();
            if w.contains([' ', '"', '\'']) || w.is_empty() {
                format!("'{}'", w.replace('\'', "'\\''"))
            } else {
                w.into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// An image path relative to the workspace, for messages.
pub fn display_path(path: &Path) -> String {
    path.strip_prefix(crate::image::workspace_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_quotes_app_args() {
        let mut config = RunConfig::new("k.elf");
        config.kernel_options = "log=info".into();
        config.app_args = vec![
            "one".into(),
            "two words".into(),
            "say \"hi\"".into(),
            "".into(),
        ];
        assert_eq!(
            config.cmdline(),
            r#"log=info -- one "two words" "say \"hi\"" """#
        );
        config.app_args.clear();
        assert_eq!(config.cmdline(), "log=info");
    }

    #[test]
    fn quoted_args_parse_back_in_the_kernel() {
        let args = [
            "a b",
            "back\\slash",
            "q\"uote",
            "",
            "--",
            "cr\rlf\n",
            "plain",
            "virtio_mmio.device=1",
        ];
        let mut config = RunConfig::new("k.elf");
        config.app_args = args.iter().map(|s| s.to_string()).collect();
        let line = config.cmdline();
        let parsed = kernel::cmdline::CommandLine::parse(&line, |_| {}).unwrap();
        assert_eq!(parsed.app_args(), args);
    }

    #[test]
    fn disk_images_get_their_command_line_through_fw_cfg() {
        let mut config = RunConfig::new("a,b.img");
        config.format = Format::Bios;
        config.kernel_options = "log=info,kernel=debug".into();
        config.app_args = vec!["x".into()];
        let words = shell_words(&config.command());
        assert!(words.contains("-M q35"), "{words}");
        assert!(
            words.contains("-drive format=raw,snapshot=on,file=a,,b.img"),
            "{words}"
        );
        assert!(
            words.contains("name=opt/unikernel/cmdline,string=log=info,,kernel=debug -- x"),
            "{words}"
        );
        assert!(!words.contains("-kernel"), "{words}");
        config.format = Format::Uefi;
        assert!(shell_words(&config.command()).contains(OVMF));
    }

    #[test]
    fn command_has_debug_exit_and_no_reboot() {
        let config = RunConfig::new("k.elf");
        let words = shell_words(&config.command());
        assert!(words.starts_with("qemu-system-x86_64 -M microvm"));
        assert!(words.contains("isa-debug-exit,iobase=0xf4,iosize=0x04"));
        assert!(words.contains("-no-reboot"));
    }
}
