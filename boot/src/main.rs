//! `boot`: build and run unikernel images.
//!
//! ```text
//! boot image APP [--format pvh|bios|uefi] [--cmdline OPTS] [--debug] [--out PATH]
//! boot run [OPTIONS] APP [-- ARGS...]      build APP, boot it, exit with its status
//! boot bench boot [--runs N]               boot benchmark (scripts/bench.sh boot)
//! ```

use boot::image::{self, Format, Profile};
use boot::qemu::{self, Accel, RunConfig};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: qemu-run.sh [OPTIONS] APP [-- APP-ARGS...]

Builds APP (a crate under apps/ or tests/) into one image and boots it: by PVH on QEMU
microvm, or as a BIOS or UEFI disk image on q35. Exits with the app's status; 124 timeout,
125 guest reset, 126 QEMU failed, 2 bad usage.

options:
  --image pvh|bios|uefi  what to boot (default pvh); UEFI runs under TCG where KVM is kvm_pvm
  --accel kvm|tcg     accelerator (default: kvm where /dev/kvm works, else tcg)
  --mem MIB           guest memory in MiB (default 64)
  --timeout SECONDS   kill QEMU after this long (default 30; 0 = none)
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

/// Smallest guest memory for disk images: the BIOS stages load the kernel file at 16 MiB.
const MIN_DISK_IMAGE_MEM: u32 = 32;

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
            "--mem" => {
                let v = value("--mem")?;
                mem = v.parse().ok().filter(|&m| m >= 2).ok_or_else(|| {
                    Failure::Usage(format!("--mem {v}: expected a number of MiB, at least 2"))
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
    if format != Format::Pvh && mem < MIN_DISK_IMAGE_MEM {
        return Err(Failure::Usage(format!(
            "--mem {mem}: disk images need at least {MIN_DISK_IMAGE_MEM} MiB (the BIOS loader puts the kernel at 16 MiB)"
        )));
    }
    let explicit_accel = accel.is_some();
    let mut accel = accel.unwrap_or_else(Accel::best);
    if accel == Accel::Kvm && !qemu::kvm_usable() {
        return Err(Failure::Other(
            "--accel kvm: /dev/kvm is not usable here; use --accel tcg".into(),
        ));
    }
    if accel == Accel::Kvm && format == Format::Uefi && qemu::kvm_is_pvm() {
        // OVMF stops with "KVM internal error ... emulation failure" under kvm_pvm.
        eprintln!("qemu-run: UEFI firmware cannot run under kvm_pvm here; using TCG");
        accel = Accel::Tcg;
    }
    if accel == Accel::Kvm && format == Format::Bios && qemu::kvm_is_pvm() && !explicit_accel {
        // kvm_pvm emulates real mode instruction by instruction: ~11 s against ~0.9 s.
        eprintln!(
            "qemu-run: BIOS boots take about 11 s under kvm_pvm here (0.9 s under TCG); \
             using TCG (--accel kvm to insist)"
        );
        accel = Accel::Tcg;
    }
    if accel == Accel::Kvm && qemu::kvm_is_pvm() {
        eprintln!(
            "qemu-run: note: /dev/kvm here is kvm_pvm, which emulates this kernel's ring-0 code \
             (~1000x slower than TCG for compute); --accel tcg is faster on this host"
        );
    }
    let (image, path) = image::build_format(&app, profile, format, "")
        .map_err(|e| Failure::Other(e.to_string()))?;
    let mut config = RunConfig::new(&path);
    config.format = format;
    config.accel = accel;
    config.mem_mib = mem;
    config.kernel_options = cmdline;
    config.app_args = app_args;
    config.gdb = gdb;
    config.timeout = match (timeout, gdb) {
        (Some(0), _) | (None, true) => None,
        (Some(s), _) => Some(Duration::from_secs(s)),
        (None, false) => Some(Duration::from_secs(30)),
    };
    if verbose {
        eprintln!("{}", qemu::shell_words(&config.command()));
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
