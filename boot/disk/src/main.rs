//! `diskimage`: packs a kernel ELF (and optionally a ramdisk) into a BIOS or UEFI disk
//! image with the `bootloader` crate.
//!
//! ```text
//! diskimage --kernel KERNEL.elf [--ramdisk FILE] --format bios|uefi --out IMAGE
//! ```
//!
//! The bootloader logs only errors (so that a loader failure is never silent), and the
//! serial console otherwise shows only what the kernel prints, exactly as on the PVH path;
//! `--loader-log` turns on all of its logging for debugging.

use bootloader::{BootConfig, DiskImageBuilder};
use bootloader_boot_config::LevelFilter;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: diskimage --kernel KERNEL [--ramdisk FILE] --format bios|uefi --out IMAGE [--loader-log]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("diskimage: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut kernel = None;
    let mut ramdisk = None;
    let mut format = None;
    let mut out = None;
    let mut loader_log = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--kernel" => kernel = Some(PathBuf::from(value()?)),
            "--ramdisk" => ramdisk = Some(PathBuf::from(value()?)),
            "--format" => format = Some(value()?),
            "--out" => out = Some(PathBuf::from(value()?)),
            "--loader-log" => loader_log = true,
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let kernel = kernel.ok_or(USAGE)?;
    let out = out.ok_or(USAGE)?;
    if !kernel.is_file() {
        return Err(format!("kernel {} not found", kernel.display()));
    }
    let mut builder = DiskImageBuilder::new(kernel);
    if let Some(ramdisk) = ramdisk {
        builder.set_ramdisk(ramdisk);
    }
    let mut config = BootConfig::default();
    // Errors always reach the serial console (a loader panic otherwise hangs silently);
    // everything else only with --loader-log.
    config.serial_logging = true;
    config.log_level = if loader_log {
        LevelFilter::Trace
    } else {
        LevelFilter::Error
    };
    config.frame_buffer_logging = false;
    builder.set_boot_config(&config);
    match format.as_deref() {
        Some("bios") => builder.create_bios_image(&out),
        Some("uefi") => builder.create_uefi_image(&out),
        _ => return Err(format!("--format must be bios or uefi\n{USAGE}")),
    }
    .map_err(|e| format!("cannot create {}: {e:#}", out.display()))
}
