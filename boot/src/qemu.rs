//! The one place that knows how to run an image under QEMU: command line, machine, disks,
//! network, timeout, and what QEMU's exit status means. `scripts/qemu-run.sh`, the tests and
//! the benchmarks all come through here ([`RunConfig`]); [`crate::diskfrom`] makes disk files
//! from folders, [`crate::netns`] network namespaces for tap devices. [`Background`] runs a
//! guest while a test drives it; [`signal`] lets ctrl-c and SIGTERM stop a run cleanly.

mod background;
mod disk;
mod net;
pub mod signal;

pub use background::Background;
pub use disk::{CacheMode, DiskSpec, drive_id};
pub use net::{Forward, GUEST_MAC, NETDEV_ID, NetOption, NetSpec, Proto};

use crate::elf::Elf;
use crate::image::Format;
use kernel::exit_status::{self, QemuOutcome};
use std::ffi::OsString;
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
    /// KVM where `/dev/kvm` can be opened read-write and is not `kvm_pvm`, else TCG.
    /// (`kvm_pvm` emulates ring-0 code: the kernel runs its tasks at ring 3 there, natively,
    /// but each interrupt and port access is a trip through emulated ring 0; see
    /// [`kvm_is_pvm`] and `docs/pvm.md`. Ask for [`Accel::Kvm`] explicitly to use it.)
    pub fn best() -> Self {
        if kvm_usable() && !kvm_is_pvm() {
            Self::Kvm
        } else {
            Self::Tcg
        }
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

/// True if `/dev/kvm` is served by `kvm_pvm`, which runs a guest's ring-0 code through its
/// instruction emulator (about 1 µs per instruction, some 1000 times slower than TCG) and
/// its ring-3 code natively: the kernel runs its tasks at ring 3 there (`docs/pvm.md`).
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

/// The machine QEMU emulates for the PVH ELF. Disk images always boot on q35.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Machine {
    /// `-M microvm`: no firmware, no PCI; devices on virtio-mmio transports that QEMU
    /// lists on the kernel command line (`virtio_mmio.device=` words).
    #[default]
    Microvm,
    /// `-M q35` with qboot as firmware (boots the ELF by PVH in milliseconds); devices on
    /// PCI, whose BARs qboot leaves for the guest to assign.
    Q35,
}

impl Machine {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "microvm" => Some(Self::Microvm),
            "q35" => Some(Self::Q35),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Microvm => "microvm",
            Self::Q35 => "q35",
        }
    }
}

/// qboot, the firmware that boots the PVH ELF on q35 (Debian's `qemu-system-data`).
pub const QBOOT: &str = "/usr/share/qemu/qboot.rom";

/// Smallest guest memory for disk images: the BIOS stages load the kernel file at 16 MiB.
pub const MIN_DISK_IMAGE_MEM_MIB: u32 = 32;

const MIB: u64 = 1024 * 1024;
/// ELF program header type of a loadable segment.
const PT_LOAD: u32 = 1;

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
    /// What `kernel` is: a PVH ELF (microvm or q35, see `machine`) or a BIOS/UEFI disk
    /// image (always q35).
    pub format: Format,
    /// The machine for a PVH ELF; ignored for disk images, which always boot on q35.
    pub machine: Machine,
    /// virtio-blk disks, named `vda`, `vdb`, ... by the guest in this order.
    pub disks: Vec<DiskSpec>,
    /// The guest's network: one virtio-net NIC (after the disks), or none.
    pub net: Option<NetSpec>,
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
            machine: Machine::Microvm,
            disks: Vec::new(),
            net: None,
            extra_args: Vec::new(),
        }
    }

    /// The machine QEMU runs: `machine` for a PVH ELF, q35 for disk images.
    pub fn effective_machine(&self) -> Machine {
        match self.format {
            Format::Pvh => self.machine,
            Format::Bios | Format::Uefi => Machine::Q35,
        }
    }

    /// The least guest memory, in MiB, that this image can start in. A PVH ELF must fit
    /// below the end of RAM: QEMU silently drops the parts of `-kernel` that lie beyond it,
    /// and the guest then hangs before its first instruction, with nothing to report
    /// (measured: `hello` ends at 2.4 MiB, hangs in 2 MiB, runs in 3). Disk images need
    /// [`MIN_DISK_IMAGE_MEM_MIB`].
    pub fn min_mem_mib(&self) -> Result<u32, String> {
        if self.format != Format::Pvh {
            return Ok(MIN_DISK_IMAGE_MEM_MIB);
        }
        let end = self.pvh_image_end()?;
        u32::try_from(end.div_ceil(MIB))
            .map_err(|_| format!("{}: image ends at {end:#x}", display_path(&self.kernel)))
    }

    /// The physical address where the PVH ELF's last loaded segment ends.
    fn pvh_image_end(&self) -> Result<u64, String> {
        let shown = display_path(&self.kernel);
        let data = std::fs::read(&self.kernel).map_err(|e| format!("cannot read {shown}: {e}"))?;
        Elf::parse(&data)
            .and_then(|elf| elf.segments())
            .map_err(|e| format!("{shown}: {e}"))?
            .iter()
            .filter(|s| s.kind == PT_LOAD)
            .map(|s| s.vaddr + s.mem_size)
            .max()
            .ok_or_else(|| format!("{shown}: no loadable segment"))
    }

    /// Checks, before QEMU starts, what would otherwise make it fail or the guest hang
    /// silently: too little memory for the image, missing firmware, disks that cannot be
    /// opened as asked, one disk attached writable twice, a forwarded host port in use, a
    /// network namespace that is not there.
    pub fn check(&self) -> Result<(), String> {
        let min = self.min_mem_mib()?;
        if self.mem_mib < min {
            let why = match self.format {
                Format::Pvh => format!(
                    "{} is loaded into guest memory up to {} KiB",
                    display_path(&self.kernel),
                    self.pvh_image_end()?.div_ceil(1024)
                ),
                Format::Bios | Format::Uefi => {
                    "the BIOS loader puts the kernel at 16 MiB".to_string()
                }
            };
            return Err(format!(
                "--mem {}: too little memory for this image: it needs at least {min} MiB ({why})",
                self.mem_mib
            ));
        }
        let firmware = match (self.format, self.effective_machine()) {
            (Format::Uefi, _) => Some((OVMF, "ovmf")),
            (Format::Pvh, Machine::Q35) => Some((QBOOT, "qemu-system-data")),
            _ => None,
        };
        if let Some((path, package)) = firmware
            && !Path::new(path).is_file()
        {
            return Err(format!(
                "{path} is missing: run `apt-get install -y {package}` \
                 (scripts/qemu-run.sh does this when run as root)"
            ));
        }
        disk::check_all(&self.disks)?;
        match &self.net {
            Some(net) => net.check(),
            None => Ok(()),
        }
    }

    /// The `-drive` and `-device` arguments for [`RunConfig::disks`], for either machine.
    /// microvm gives the first `-device` the highest virtio-mmio transport address and the
    /// guest names MMIO disks by descending address; q35 gives the next free PCI slot and
    /// the guest names PCI disks by ascending slot. Either way the devices go in the
    /// order of `disks`, and the guest's `vda` is `disks[0]`.
    pub fn disk_args(&self) -> Vec<OsString> {
        let machine = self.effective_machine();
        self.disks
            .iter()
            .enumerate()
            .flat_map(|(i, disk)| disk.qemu_args(i, machine))
            .collect()
    }

    /// The kernel command line: options (and the network's, such as a tap's `ip=`), then
    /// `--` and the quoted app arguments.
    pub fn cmdline(&self) -> String {
        let mut line = self.kernel_options.trim().to_string();
        if let Some(option) = self.net.as_ref().and_then(|n| n.kernel_option(&line)) {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&option);
        }
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

    /// The QEMU command. PVH boots on microvm with no firmware or on q35 with qboot;
    /// disk images boot on q35 with SeaBIOS or OVMF and get the command line through
    /// fw_cfg. With a tap network, QEMU runs inside its namespace (`ip netns exec NAME
    /// qemu-system-x86_64 ...`; `ip` execs QEMU, so the child is QEMU itself).
    pub fn command(&self) -> Command {
        let qemu = self.qemu_command();
        match &self.net {
            Some(NetSpec::Tap { netns, .. }) => crate::netns::wrap_in(netns, &qemu),
            _ => qemu,
        }
    }

    fn qemu_command(&self) -> Command {
        let mut cmd = Command::new("qemu-system-x86_64");
        match self.format {
            // acpi=off: QEMU then lists each virtio-mmio transport on the kernel command
            // line. force-legacy=off: version 2 transports (the kernel drives both).
            // rtc=on: the CMOS clock, the kernel's wall clock (`libos::time::unix_time`).
            Format::Pvh if self.machine == Machine::Microvm => {
                cmd.args([
                    "-M",
                    "microvm,x-option-roms=off,rtc=on,acpi=off",
                    "-nodefaults",
                    "-global",
                    "virtio-mmio.force-legacy=off",
                ]);
            }
            // -nodefaults: no VGA and no NIC; the serial port is given below.
            Format::Pvh => {
                cmd.args(["-M", "q35", "-nodefaults", "-bios", QBOOT]);
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
                let mut drive = OsString::from("format=raw,snapshot=on,file=");
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
        cmd.args(self.disk_args());
        if let Some(net) = &self.net {
            cmd.args(net.qemu_args(self.effective_machine()));
        }
        if self.gdb {
            cmd.args(["-s", "-S"]);
        }
        cmd.args(&self.extra_args);
        cmd
    }

    /// Runs with the console passed through to this process's stdout. Fails without
    /// starting QEMU if [`RunConfig::check`] does.
    pub fn run_interactive(&self) -> Result<Outcome, RunError> {
        self.check().map_err(RunError)?;
        let start = Instant::now();
        let child = self.command().spawn().map_err(spawn_error)?;
        let (status, ended) = wait_with_timeout(child, self.timeout)?;
        Ok(Outcome::new(status, ended, String::new(), start.elapsed()))
    }

    /// Checks the config, then starts QEMU with stdin closed and the console on pipes.
    pub(crate) fn spawn_piped(&self) -> Result<Child, RunError> {
        self.check().map_err(RunError)?;
        self.command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_error)
    }

    /// Runs and captures the console. Fails without starting QEMU if
    /// [`RunConfig::check`] does.
    pub fn run_captured(&self) -> Result<Outcome, RunError> {
        let start = Instant::now();
        let mut child = self.spawn_piped()?;
        let readers = [
            drain(child.stdout.take().expect("piped"), start),
            drain(child.stderr.take().expect("piped"), start),
        ];
        let (status, ended) = wait_with_timeout(child, self.timeout)?;
        let wall = start.elapsed();
        let [console, errors] = readers.map(|r| r.join().unwrap_or_default());
        let mut text = String::new();
        let mut lines = Vec::new();
        for (at, line) in console.into_iter().chain(errors) {
            let line = String::from_utf8_lossy(&line).replace("\r\n", "\n");
            text.push_str(&line);
            lines.push((at, line.trim_end_matches('\n').to_string()));
        }
        let mut outcome = Outcome::new(status, ended, text, wall);
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

/// What ended a QEMU process, from the runner's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ended {
    /// It exited by itself.
    Exited,
    /// The runner stopped it at the timeout.
    TimedOut,
    /// The runner stopped it because it received this signal ([`signal`]), or a test
    /// stopped a [`Background`] run (SIGTERM).
    Stopped(i32),
}

/// Waits for `child`, stopping it ([`terminate`]) once `timeout` has passed or a stop
/// signal has arrived ([`signal::requested`]). Polls every 250 µs, which bounds the error
/// this adds to measured wall times.
fn wait_with_timeout(
    mut child: Child,
    timeout: Option<Duration>,
) -> Result<(ExitStatus, Ended), RunError> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        if let Some(status) = child.try_wait().map_err(spawn_error)? {
            // A ctrl-c reaches QEMU too, which then exits by itself.
            let ended = signal::requested().map_or(Ended::Exited, Ended::Stopped);
            return Ok((status, ended));
        }
        if let Some(signum) = signal::requested() {
            return Ok((terminate(&mut child)?, Ended::Stopped(signum)));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok((terminate(&mut child)?, Ended::TimedOut));
        }
        std::thread::sleep(Duration::from_micros(250));
    }
}

/// Stops a running `child`: SIGTERM first (QEMU then restores the terminal it put in raw
/// mode), SIGKILL if it is still there 2 s later.
fn terminate(child: &mut Child) -> Result<ExitStatus, RunError> {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let grace = Instant::now() + Duration::from_secs(2);
    while Instant::now() < grace {
        if let Some(status) = child.try_wait().map_err(spawn_error)? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    child.wait().map_err(spawn_error)
}

/// OVMF firmware from Debian's `ovmf` package.
pub const OVMF: &str = "/usr/share/ovmf/OVMF.fd";

/// Escapes a value inside a QEMU `-opt key=value,...` list (commas are doubled).
pub(crate) fn escape_option(value: &str) -> String {
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
    /// The status to report: the app's, or 124 (timeout), 125 (reset), 126 (QEMU failed),
    /// 128 + N (stopped by signal N: 130 ctrl-c, 143 SIGTERM).
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
    /// Stopped from outside: the runner got this signal, or a test stopped a
    /// [`Background`] run (SIGTERM).
    Stopped(i32),
}

impl Outcome {
    fn new(status: ExitStatus, ended: Ended, console: String, wall: Duration) -> Self {
        let (status, meaning) = match (ended, status.code()) {
            (Ended::TimedOut, _) => (exit_status::TIMEOUT, Ending::Timeout),
            (Ended::Stopped(signum), _) => (signal::status_for(signum), Ending::Stopped(signum)),
            (Ended::Exited, Some(code)) => match exit_status::decode_qemu_status(code) {
                QemuOutcome::Guest(s) => (s, Ending::Guest),
                QemuOutcome::Reset => (exit_status::GUEST_RESET, Ending::Reset),
                QemuOutcome::QemuError(c) => {
                    (exit_status::QEMU_FAILED, Ending::QemuFailed(Some(c)))
                }
            },
            (Ended::Exited, None) => (exit_status::QEMU_FAILED, Ending::QemuFailed(None)),
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
            Ending::Stopped(signum) => Some(format!(
                "qemu-run: stopped by {}; QEMU stopped (status {})",
                signal::name(signum),
                self.status
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

    fn args(cmd: &Command) -> Vec<String> {
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    /// The words from the first `-drive` to the end.
    fn disk_words(config: &RunConfig) -> Vec<String> {
        let words = args(&config.command());
        let first = words.iter().position(|w| w == "-drive");
        // Disk images have their boot drive first; skip it.
        let skip = usize::from(config.format != Format::Pvh) * 2;
        words[first.expect("a -drive") + skip..].to_vec()
    }

    fn two_disks() -> Vec<DiskSpec> {
        vec![
            DiskSpec::new("/d/a,b.img"),
            DiskSpec {
                path: "/d/c.img".into(),
                read_only: true,
                cache: CacheMode::None,
            },
        ]
    }

    #[test]
    fn microvm_disks_are_mmio_devices_in_the_given_order() {
        let mut config = RunConfig::new("k.elf");
        config.disks = two_disks();
        let words = args(&config.command());
        assert!(words.starts_with(&[
            "-M".into(),
            "microvm,x-option-roms=off,rtc=on,acpi=off".into(),
            "-nodefaults".into(),
            "-global".into(),
            "virtio-mmio.force-legacy=off".into(),
        ]));
        assert_eq!(
            disk_words(&config),
            [
                "-drive",
                "file=/d/a,,b.img,format=raw,if=none,id=vd0,werror=report,rerror=report,cache=writeback",
                "-device",
                "virtio-blk-device,drive=vd0",
                "-drive",
                "file=/d/c.img,format=raw,if=none,id=vd1,werror=report,rerror=report,cache=none,aio=native,readonly=on",
                "-device",
                "virtio-blk-device,drive=vd1",
            ]
        );
    }

    #[test]
    fn q35_runs_the_elf_on_qboot_with_pci_disks_in_the_given_order() {
        let mut config = RunConfig::new("k.elf");
        config.machine = Machine::Q35;
        config.disks = two_disks();
        let words = shell_words(&config.command());
        assert!(
            words.starts_with(&format!(
                "qemu-system-x86_64 -M q35 -nodefaults -bios {QBOOT} "
            )),
            "{words}"
        );
        assert!(words.contains("-kernel k.elf"), "{words}");
        assert!(!words.contains("virtio-mmio"), "{words}");
        let disks = disk_words(&config);
        assert_eq!(disks[3], "virtio-blk-pci,drive=vd0,disable-legacy=on");
        assert_eq!(disks[7], "virtio-blk-pci,drive=vd1,disable-legacy=on");
        assert!(
            disks[5]
                .ends_with("id=vd1,werror=report,rerror=report,cache=none,aio=native,readonly=on")
        );
    }

    #[test]
    fn disk_images_get_pci_disks_after_their_boot_drive() {
        for format in [Format::Bios, Format::Uefi] {
            let mut config = RunConfig::new("boot.img");
            config.format = format;
            // The machine field is for the PVH ELF only.
            config.machine = Machine::Microvm;
            config.disks = vec![DiskSpec::new("data.img")];
            assert_eq!(config.effective_machine(), Machine::Q35);
            let words = shell_words(&config.command());
            assert!(
                words.contains("-drive format=raw,snapshot=on,file=boot.img"),
                "{words}"
            );
            assert!(!words.contains("qboot"), "{words}");
            assert_eq!(
                disk_words(&config)[..4],
                [
                    "-drive",
                    "file=data.img,format=raw,if=none,id=vd0,werror=report,rerror=report,cache=writeback",
                    "-device",
                    "virtio-blk-pci,drive=vd0,disable-legacy=on",
                ]
            );
        }
    }

    #[test]
    fn no_disks_no_drive_lines() {
        let words = shell_words(&RunConfig::new("k.elf").command());
        assert!(!words.contains("-drive"), "{words}");
        assert!(!words.contains("virtio-blk"), "{words}");
    }

    pub(crate) use crate::testutil::TempDir;

    #[test]
    fn config_check_covers_memory_and_disks() {
        let tmp = TempDir::new("check");
        let kernel = tmp.0.join("floor.elf");
        std::fs::write(&kernel, crate::elf::floor_kernel()).unwrap();
        let disk = tmp.0.join("d.img");
        std::fs::write(&disk, [0u8; 512]).unwrap();
        let mut config = RunConfig::new(&kernel);
        // The floor kernel is loaded at 1 MiB and ends just past it.
        assert_eq!(config.min_mem_mib(), Ok(2));
        config.mem_mib = 2;
        config.check().unwrap();
        config.mem_mib = 1;
        let err = config.check().unwrap_err();
        assert!(
            err.starts_with("--mem 1: too little memory for this image: it needs at least 2 MiB"),
            "{err}"
        );
        config.mem_mib = 64;
        config.disks = vec![DiskSpec::new(&disk), DiskSpec::new(tmp.0.join("none.img"))];
        assert!(
            config
                .check()
                .unwrap_err()
                .contains("none.img: no such file")
        );
        config.disks = vec![DiskSpec::new(&disk), DiskSpec::read_only(&disk)];
        assert!(config.check().unwrap_err().contains("is given twice"));
        config.disks = vec![DiskSpec::read_only(&disk), DiskSpec::read_only(&disk)];
        config.check().unwrap();
        config.format = Format::Bios;
        config.mem_mib = MIN_DISK_IMAGE_MEM_MIB - 1;
        assert!(config.check().unwrap_err().contains("16 MiB"));
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
