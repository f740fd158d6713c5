//! `boot`: build and run unikernel images.
//!
//! ```text
//! boot image APP [--format pvh|bios|uefi] [--cmdline OPTS] [--debug] [--out PATH]
//! boot run [OPTIONS] APP [-- ARGS...]      build APP, boot it, exit with its status
//! boot bench boot [--runs N]               boot benchmark (scripts/bench.sh boot)
//! ```

use boot::image::{self, Format, Profile};
use boot::netns::{self, Ipv4Cidr, Netns, NetnsError};
use boot::qemu::{self, Accel, DiskSpec, Machine, NetOption, NetSpec, RunConfig};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: qemu-run.sh [OPTIONS] APP [-- APP-ARGS...]

Builds APP (a crate under apps/ or tests/) into one image and boots it: by PVH on QEMU
microvm (or q35), or as a BIOS or UEFI disk image on q35. Exits with the app's status;
124 timeout, 125 guest reset, 126 QEMU failed, 2 bad usage, 130/143 stopped by
ctrl-c/SIGTERM (QEMU is stopped cleanly; a tap's namespace is removed).

options:
  --image pvh|bios|uefi  what to boot (default pvh); UEFI runs under TCG where KVM is kvm_pvm
  --machine microvm|q35  machine for the PVH ELF (default microvm; q35 boots it with qboot)
  --disk PATH[,ro]    attach a raw disk file as virtio-blk (repeatable; vda, vdb, ... in order)
  --disk-from DIR     attach a read-only ext4 image made from DIR (cached under target/disks)
  --net user[:PORT,...]  one virtio-net NIC on QEMU user networking (restrict=on); each
                      PORT (or HOST:GUEST, udp/PORT, udp/HOST:GUEST) is forwarded from
                      127.0.0.1:HOST to the guest
  --net tap:NAME      a tap device NAME in a new network namespace uk-NAME (host side
                      192.168.100.1/24, guest ip=192.168.100.2/24 unless --cmdline has ip=);
                      root only; removed on exit
  --accel kvm|tcg     accelerator (default: kvm where /dev/kvm works and is not kvm_pvm, else tcg)
  --mem MIB           guest memory in MiB (default 64)
  --timeout SECONDS   kill QEMU after this long (default 30, none with --net; 0 = none)
  --debug             debug build instead of release
  --gdb               start QEMU's gdb stub on :1234 and wait (no timeout unless given)
  --verbose           print the exact QEMU command line
  --cmdline \"OPTS\"    kernel options, e.g. \"log=debug heap=4M\"
  -h, --help          this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("image") => cmd_image(&args[1..]),
        Some("run") => cmd_run(&args[1..]),
        Some("bench") => boot::bench::main(&args[1..]).map_err(|e| match e {
            boot::bench::BenchError::Usage(m) => Failure::Usage(m),
            boot::bench::BenchError::Failed(m) => Failure::Other(m),
        }),
        _ => Err(Failure::Usage(format!(
            "expected image, run or bench\n{USAGE}"
        ))),
    };
    match result {
        Ok(status) => ExitCode::from(status),
        Err(Failure::Usage(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Other(m)) => {
            eprintln!("error: {m}");
            ExitCode::from(1)
        }
    }
}

/// Why a command failed before the guest ran.
pub enum Failure {
    Usage(String),
    Other(String),
}

fn cmd_image(args: &[String]) -> Result<u8, Failure> {
    let mut profile = Profile::Release;
    let mut format = Format::Pvh;
    let mut cmdline = String::new();
    let mut out = None;
    let mut app = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| take_value(&mut it, name);
        match arg.as_str() {
            "--debug" => profile = Profile::Debug,
            "--format" => format = parse_format(&value("--format")?)?,
            "--cmdline" => cmdline = value("--cmdline")?,
            "--out" => out = Some(value("--out")?),
            a if a.starts_with('-') => return Err(Failure::Usage(format!("unknown option {a}"))),
            a => app = Some(a.to_string()),
        }
    }
    let app = app.ok_or_else(|| Failure::Usage("image: missing APP".into()))?;
    if format == Format::Pvh && !cmdline.is_empty() {
        return Err(Failure::Usage(
            "--cmdline is built into disk images only; a PVH image takes it from -append".into(),
        ));
    }
    let (_, path) = image::build_format(&app, profile, format, &cmdline)
        .map_err(|e| Failure::Other(e.to_string()))?;
    let path = match out {
        Some(out) => {
            std::fs::copy(&path, &out)
                .map_err(|e| Failure::Other(format!("cannot write {out}: {e}")))?;
            out.into()
        }
        None => path,
    };
    println!("{}", path.display());
    Ok(0)
}

/// The value after option `name`.
fn take_value(it: &mut std::slice::Iter<'_, String>, name: &str) -> Result<String, Failure> {
    it.next()
        .cloned()
        .ok_or_else(|| Failure::Usage(format!("{name} needs a value")))
}

fn parse_format(value: &str) -> Result<Format, Failure> {
    Format::parse(value).ok_or_else(|| {
        Failure::Usage(format!(
            "{value}: expected an image format: pvh, bios or uefi"
        ))
    })
}

/// A disk as given on the command line, in the order given.
enum DiskArg {
    /// `--disk PATH[,ro]`
    File(DiskSpec),
    /// `--disk-from DIR`
    From(PathBuf),
}

/// Checks every disk and makes the `--disk-from` images, before anything is built or run:
/// a bad path is a usage error (status 2); a failed image build is not.
/// A path the user gave, relative to the folder they ran the script from (the scripts
/// change to the workspace and say where they came from in `UNIKERNEL_CALLER_DIR`).
fn from_caller(path: PathBuf) -> PathBuf {
    match std::env::var_os("UNIKERNEL_CALLER_DIR") {
        Some(dir) if path.is_relative() => std::path::Path::new(&dir).join(path),
        _ => path,
    }
}

fn resolve_disks(disks: Vec<DiskArg>) -> Result<Vec<DiskSpec>, Failure> {
    disks
        .into_iter()
        .map(|disk| match disk {
            DiskArg::File(mut spec) => {
                spec.path = from_caller(spec.path);
                spec.check().map_err(Failure::Usage)?;
                Ok(spec)
            }
            DiskArg::From(dir) => {
                let dir = from_caller(dir);
                if !dir.is_dir() {
                    let what = if dir.exists() {
                        "not a folder"
                    } else {
                        "no such folder"
                    };
                    return Err(Failure::Usage(format!(
                        "--disk-from {}: {what}",
                        dir.display()
                    )));
                }
                let image = boot::diskfrom::ext4_image_from_dir(&dir).map_err(Failure::Other)?;
                Ok(DiskSpec::read_only(image))
            }
        })
        .collect()
}

/// The accelerator to use, with a note where the choice is not the obvious one.
fn choose_accel(asked: Option<Accel>, format: Format) -> Result<Accel, Failure> {
    let pvm = qemu::kvm_is_pvm();
    let accel = match asked {
        Some(Accel::Kvm) if !qemu::kvm_usable() => {
            return Err(Failure::Other(
                "--accel kvm: /dev/kvm is not usable here; use --accel tcg".into(),
            ));
        }
        Some(accel) => accel,
        None => {
            if pvm && qemu::kvm_usable() {
                // kvm_pvm emulates ring-0 code instruction by instruction; the kernel runs
                // its tasks at ring 3 there (docs/pvm.md), but each interrupt and device
                // access still takes a trip through emulated ring 0.
                eprintln!(
                    "qemu-run: note: /dev/kvm here is kvm_pvm; using TCG (--accel kvm runs the \
                     app natively at ring 3 there, with each interrupt or port access about \
                     0.1 ms: see docs/pvm.md)"
                );
            }
            Accel::best()
        }
    };
    if accel == Accel::Kvm && format == Format::Uefi && pvm {
        // OVMF stops with "KVM internal error ... emulation failure" under kvm_pvm.
        eprintln!("qemu-run: UEFI firmware cannot run under kvm_pvm here; using TCG");
        return Ok(Accel::Tcg);
    }
    if accel == Accel::Kvm && pvm {
        eprintln!(
            "qemu-run: note: /dev/kvm here is kvm_pvm, which emulates ring-0 code; {}",
            if format == Format::Pvh {
                "the app runs natively at ring 3, each interrupt or port access costs about \
                 0.1 ms (docs/pvm.md)"
            } else {
                "a disk image keeps the kernel at ring 0 there (~1000x slower than TCG for \
                 compute; a BIOS boot takes about 11 s): boot the PVH ELF instead"
            }
        );
    }
    Ok(accel)
}

fn cmd_run(args: &[String]) -> Result<u8, Failure> {
    let mut accel = None;
    let mut mem = 64u32;
    let mut timeout: Option<u64> = None;
    let mut profile = Profile::Release;
    let mut gdb = false;
    let mut verbose = false;
    let mut cmdline = String::new();
    let mut app = None;
    let mut app_args = Vec::new();
    let mut format = Format::Pvh;
    let mut machine = None;
    let mut disks = Vec::new();
    let mut net = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| take_value(&mut it, name);
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(0);
            }
            "--accel" => {
                let v = value("--accel")?;
                accel =
                    Some(Accel::parse(&v).ok_or_else(|| {
                        Failure::Usage(format!("--accel {v}: expected kvm or tcg"))
                    })?);
            }
            "--machine" => {
                let v = value("--machine")?;
                machine = Some(Machine::parse(&v).ok_or_else(|| {
                    Failure::Usage(format!("--machine {v}: expected microvm or q35"))
                })?);
            }
            "--disk" => {
                let v = value("--disk")?;
                if v.is_empty() || v == ",ro" {
                    return Err(Failure::Usage(
                        "--disk needs a file: --disk PATH[,ro]".into(),
                    ));
                }
                disks.push(DiskArg::File(DiskSpec::parse(&v)));
            }
            "--disk-from" => disks.push(DiskArg::From(value("--disk-from")?.into())),
            "--net" => {
                let v = value("--net")?;
                if net.is_some() {
                    return Err(Failure::Usage(format!(
                        "--net {v}: a guest has one network (--net given twice)"
                    )));
                }
                net = Some(NetOption::parse(&v).map_err(Failure::Usage)?);
            }
            "--mem" => {
                let v = value("--mem")?;
                mem = v.parse().ok().filter(|&m| m >= 1).ok_or_else(|| {
                    Failure::Usage(format!("--mem {v}: expected a whole number of MiB"))
                })?;
            }
            "--timeout" => {
                let v = value("--timeout")?;
                timeout = Some(v.parse().map_err(|_| {
                    Failure::Usage(format!("--timeout {v}: expected whole seconds"))
                })?);
            }
            "--cmdline" => cmdline = value("--cmdline")?,
            "--image" => format = parse_format(&value("--image")?)?,
            "--debug" => profile = Profile::Debug,
            "--gdb" => gdb = true,
            "--verbose" => verbose = true,
            "--" => {
                app_args.extend(it.by_ref().cloned());
            }
            a if a.starts_with('-') => {
                return Err(Failure::Usage(format!("unknown option {a}\n{USAGE}")));
            }
            a if app.is_none() => app = Some(a.to_string()),
            a => {
                return Err(Failure::Usage(format!(
                    "unexpected {a}: app arguments go after --"
                )));
            }
        }
    }
    let app = app.ok_or_else(|| Failure::Usage(format!("missing APP\n{USAGE}")))?;
    if format != Format::Pvh && machine == Some(Machine::Microvm) {
        return Err(Failure::Usage(format!(
            "--machine microvm: {} disk images boot on q35 (--machine is for the PVH ELF)",
            format.name()
        )));
    }
    if matches!(net, Some(NetOption::Tap(_))) && !netns::have_privileges() {
        return Err(Failure::Usage(NetnsError::NeedsRoot.to_string()));
    }
    let accel = choose_accel(accel, format)?;
    let disks = resolve_disks(disks)?;
    let (image, path) = image::build_format(&app, profile, format, "")
        .map_err(|e| Failure::Other(e.to_string()))?;
    let mut config = RunConfig::new(&path);
    config.format = format;
    config.machine = machine.unwrap_or_default();
    config.disks = disks;
    config.accel = accel;
    config.mem_mib = mem;
    config.kernel_options = cmdline;
    config.app_args = app_args;
    config.gdb = gdb;
    // A server runs until it is stopped, unless a timeout is given.
    config.timeout = match (timeout, gdb || net.is_some()) {
        (Some(0), _) | (None, true) => None,
        (Some(s), _) => Some(Duration::from_secs(s)),
        (None, false) => Some(Duration::from_secs(30)),
    };
    // Everything that would make QEMU fail, or the guest hang before it can say why (the
    // network's own checks come once it exists).
    config.check().map_err(Failure::Usage)?;
    // From here on ctrl-c and SIGTERM stop QEMU cleanly, and the namespace goes after it.
    qemu::signal::stop_on_signals();
    let mut notes = Vec::new();
    let _netns = match net {
        None => None,
        Some(NetOption::User(forwards)) => {
            let spec = NetSpec::User { forwards };
            notes = spec.notes(None, None);
            config.net = Some(spec);
            None
        }
        Some(NetOption::Tap(tap)) => {
            let (netns, spec, host, guest) = tap_network(&tap, &config.kernel_options)?;
            notes = spec.notes(Some(host), Some(guest));
            config.net = Some(spec);
            Some(netns)
        }
    };
    if let Some(net) = &config.net {
        net.check().map_err(Failure::Usage)?;
    }
    if verbose {
        eprintln!("{}", qemu::shell_words(&config.command()));
    }
    for note in notes {
        eprintln!("{note}");
    }
    if gdb {
        eprintln!(
            "qemu-run: waiting for gdb on localhost:1234; in another shell:\n  gdb {} -ex 'target remote :1234'",
            qemu::display_path(&image.unstripped)
        );
    }
    let outcome = config
        .run_interactive()
        .map_err(|e| Failure::Other(e.to_string()))?;
    if let Some(line) = outcome.explanation(config.timeout) {
        eprintln!("{line}");
    }
    Ok(outcome.status)
}

/// Makes the network namespace `uk-TAP` with tap device `TAP` in it for `--net tap:TAP`:
/// the host side on the guest's subnet, the guest at [`netns::TAP_GUEST`] unless the
/// kernel options give an `ip=` (then the host side takes the first free address of that
/// subnet). A namespace of that name left over by a killed run is removed first.
fn tap_network(
    tap: &str,
    kernel_options: &str,
) -> Result<(Netns, NetSpec, Ipv4Cidr, Ipv4Cidr), Failure> {
    let failure = |e: NetnsError| match e {
        NetnsError::NeedsRoot | NetnsError::BadName { .. } => Failure::Usage(e.to_string()),
        _ => Failure::Other(format!("--net tap:{tap}: {e}")),
    };
    let user_ip = kernel_options
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ip="))
        .map(|v| {
            Ipv4Cidr::parse(v).ok_or_else(|| {
                Failure::Usage(format!(
                    "--cmdline ip={v}: expected ADDRESS/PREFIX, e.g. ip=192.168.100.2/24"
                ))
            })
        })
        .transpose()?;
    let guest = user_ip.unwrap_or(netns::TAP_GUEST);
    let host = guest.peer().ok_or_else(|| {
        Failure::Usage(format!(
            "--cmdline ip={guest}: the subnet has no room for the host side of the tap"
        ))
    })?;
    let name = format!("uk-{tap}");
    if Netns::remove_stale(&name).map_err(failure)? {
        eprintln!("qemu-run: removed network namespace {name}, left over by an earlier run");
    }
    let netns = Netns::create(&name).map_err(failure)?;
    netns.add_tap(tap, host).map_err(failure)?;
    let spec = NetSpec::Tap {
        netns: name,
        tap: tap.to_string(),
        guest_ip: user_ip.is_none().then_some(guest),
    };
    Ok((netns, spec, host, guest))
}
