//! Builds an app into a bootable image: `cargo build` for `x86_64-unknown-none`, symbol
//! table extracted and linked back in (second link of the final crate only), checked, and
//! stripped.

use crate::elf::{self, Elf};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "x86_64-unknown-none";
/// Where the kernel is linked (kernel/kernel.ld) and where PVH enters.
const LINK_BASE: u64 = 0x20_0000;

/// Debug or release build of the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Release,
    Debug,
}

impl Profile {
    fn dir(self) -> &'static str {
        match self {
            Self::Release => "release",
            Self::Debug => "debug",
        }
    }
}

/// Why an image could not be built.
#[derive(Debug)]
pub enum ImageError {
    /// `cargo` failed; its output went to stderr.
    Cargo(String),
    Io(String),
    /// The linked file is not a bootable kernel.
    Invalid(String),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cargo(m) | Self::Io(m) | Self::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ImageError {}

/// A built image.
#[derive(Clone, Debug)]
pub struct Image {
    pub app: String,
    /// The stripped ELF that QEMU boots.
    pub path: PathBuf,
    /// The unstripped ELF with symbols, for gdb.
    pub unstripped: PathBuf,
    /// Function symbols linked into the image.
    pub symbols: usize,
}

/// The workspace root (where `Cargo.toml` and `.cargo/config.toml` live).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("boot/ has a parent")
        .to_path_buf()
}

/// Where guest builds go: a target directory of their own, so a host `cargo test` that
/// builds images never waits on its own build lock.
pub fn guest_target_dir() -> PathBuf {
    workspace_root().join("target").join("guest")
}

/// Serialises builds in this process: the two links of an app share one output file, and
/// a disk image reads that file after the links. (Across processes, cargo's own lock
/// orders the links, and the symbol check below catches an interleaving.) Outputs are
/// written under a temporary name and renamed, so a QEMU that is booting an older image
/// keeps reading a complete file.
static BUILD_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn build_lock() -> std::sync::MutexGuard<'static, ()> {
    BUILD_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| io("write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io("rename", &tmp, e))
}

/// Builds `app` (a workspace package with a binary of the same name).
pub fn build(app: &str, profile: Profile) -> Result<Image, ImageError> {
    let _guard = build_lock();
    build_locked(app, profile)
}

fn build_locked(app: &str, profile: Profile) -> Result<Image, ImageError> {
    let root = workspace_root();
    let target_dir = guest_target_dir();
    let out_dir = target_dir.join(TARGET).join(profile.dir());
    let linked = out_dir.join(app);
    let images = target_dir.join("images");
    std::fs::create_dir_all(&images).map_err(|e| io("create", &images, e))?;

    // First link: without symbols, to learn their addresses.
    let mut first = cargo(&root, &target_dir, "build", app, profile);
    run_cargo(&mut first)?;
    let data = std::fs::read(&linked).map_err(|e| io("read", &linked, e))?;
    let symbols = extract_symbols(&data, app)?;
    let table = kernel::symbols::encode(&symbols.iter().map(as_kernel_symbol).collect::<Vec<_>>())
        .map_err(|e| ImageError::Invalid(format!("{app}: cannot encode symbols: {e:?}")))?;
    let object = images.join(format!("{app}-{}-ksyms.o", profile.dir()));
    write_atomic(&object, &elf::ksyms_object(&table))?;

    // Second link of the final crate only, with the table; `.ksyms` is placed last, so
    // nothing else moves. Checked below.
    let mut second = cargo(&root, &target_dir, "rustc", app, profile);
    second
        .args(["--bin", app, "--", "-C"])
        .arg(format!("link-arg={}", object.display()));
    run_cargo(&mut second)?;
    let data = std::fs::read(&linked).map_err(|e| io("read", &linked, e))?;
    let again = extract_symbols(&data, app)?;
    if again != symbols {
        return Err(ImageError::Invalid(format!(
            "{app}: symbols moved between the two links; the image would name the wrong functions"
        )));
    }
    let elf = Elf::parse(&data).map_err(|e| ImageError::Invalid(format!("{app}: {e}")))?;
    let stripped = elf
        .stripped()
        .map_err(|e| ImageError::Invalid(format!("{app}: {e}")))?;
    let path = images.join(format!("{app}.elf"));
    let path = if profile == Profile::Debug {
        images.join(format!("{app}-debug.elf"))
    } else {
        path
    };
    write_atomic(&path, &stripped)?;
    Ok(Image {
        app: app.to_string(),
        path,
        unstripped: linked,
        symbols: symbols.len(),
    })
}

/// How an image boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The stripped ELF itself, booted by QEMU `-kernel` (PVH).
    Pvh,
    /// A disk image with the `bootloader` crate's BIOS stages (MBR).
    Bios,
    /// A disk image with the `bootloader` crate's UEFI application (GPT, FAT).
    Uefi,
}

impl Format {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pvh" => Some(Self::Pvh),
            "bios" => Some(Self::Bios),
            "uefi" => Some(Self::Uefi),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Pvh => "pvh",
            Self::Bios => "bios",
            Self::Uefi => "uefi",
        }
    }
}

/// Builds `app` in `format`; for disk images `cmdline` is built in (a run can override it
/// through fw_cfg). Returns the image and the bootable file (the ELF itself for PVH).
pub fn build_format(
    app: &str,
    profile: Profile,
    format: Format,
    cmdline: &str,
) -> Result<(Image, PathBuf), ImageError> {
    let _guard = build_lock();
    let image = build_locked(app, profile)?;
    let disk_format = match format {
        Format::Pvh => return Ok((image.clone(), image.path)),
        Format::Bios | Format::Uefi => format.name(),
    };
    let images = guest_target_dir().join("images");
    // Images with a built-in command line get names of their own, so that building one
    // never overwrites an image that a concurrent run (a test) is booting.
    let stem = match cmdline {
        "" => format!("{app}-{}-{disk_format}", profile.dir()),
        line => format!(
            "{app}-{}-{disk_format}-{:016x}",
            profile.dir(),
            fnv1a(line.as_bytes())
        ),
    };
    // The loader looks `.bootloader-config` up by name, so that section stays listed; the
    // symbol table and debug info go (an unstripped kernel makes the BIOS stages slow,
    // rust-osdev/bootloader#403).
    let unstripped =
        std::fs::read(&image.unstripped).map_err(|e| io("read", &image.unstripped, e))?;
    let kernel = Elf::parse(&unstripped)
        .and_then(|elf| elf.stripped_with_sections(&[".bootloader-config"]))
        .map_err(|e| ImageError::Invalid(format!("{app}: {e}")))?;
    let kernel_path = images.join(format!("{stem}-kernel.elf"));
    write_atomic(&kernel_path, &kernel)?;
    let ramdisk_path = images.join(format!("{stem}-cmdline"));
    write_atomic(&ramdisk_path, &kernel::bootinfo::cmdline_ramdisk(cmdline))?;
    let out = images.join(format!("{stem}.img"));
    let written = out.with_extension(format!("tmp{}", std::process::id()));
    let tool = disk_tool()?;
    let status = Command::new(&tool)
        .arg("--kernel")
        .arg(&kernel_path)
        .arg("--ramdisk")
        .arg(&ramdisk_path)
        .args(["--format", disk_format])
        .arg("--out")
        .arg(&written)
        .status()
        .map_err(|e| ImageError::Cargo(format!("cannot run {}: {e}", tool.display())))?;
    if !status.success() {
        return Err(ImageError::Invalid(format!(
            "{app}: diskimage failed ({status})"
        )));
    }
    if format == Format::Bios {
        let mut bytes = std::fs::read(&written).map_err(|e| io("read", &written, e))?;
        crate::mbr::shrink_fat12_tail(&mut bytes)
            .map_err(|e| ImageError::Invalid(format!("{app}: trimming {}: {e}", out.display())))?;
        std::fs::write(&written, bytes).map_err(|e| io("write", &written, e))?;
    }
    std::fs::rename(&written, &out).map_err(|e| io("rename", &written, e))?;
    Ok((image, out))
}

/// Builds `boot/disk` (the `bootloader` crate's image writer) and returns its path. Its
/// build needs RUSTC_BOOTSTRAP=1 and the rust-src and llvm-tools-preview components; the
/// first build takes a few minutes.
fn disk_tool() -> Result<PathBuf, ImageError> {
    let root = workspace_root();
    let target_dir = root.join("target").join("disk");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root.join("boot").join("disk"))
        .args(["build", "--quiet", "--release", "--target-dir"])
        .arg(&target_dir)
        .env("RUSTC_BOOTSTRAP", "1");
    run_cargo(&mut cmd).map_err(|e| {
        ImageError::Cargo(format!(
            "{e}\n(building disk images needs `rustup component add rust-src llvm-tools-preview`; \
             scripts/qemu-run.sh installs them)"
        ))
    })?;
    Ok(target_dir.join("release").join("diskimage"))
}

/// FNV-1a, for file names.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn as_kernel_symbol(s: &(String, u64, u64)) -> kernel::symbols::Symbol<'_> {
    kernel::symbols::Symbol {
        start: s.1,
        size: s.2,
        name: &s.0,
    }
}

/// Checks the file is a PVH-bootable kernel and returns its demangled function symbols.
fn extract_symbols(data: &[u8], app: &str) -> Result<Vec<(String, u64, u64)>, ImageError> {
    let invalid = |m: String| ImageError::Invalid(format!("{app}: {m}"));
    let elf = Elf::parse(data).map_err(|e| invalid(e.to_string()))?;
    match elf.pvh_entry().map_err(|e| invalid(e.to_string()))? {
        Some(entry) if entry == LINK_BASE => {}
        Some(entry) => {
            return Err(invalid(format!(
                "PVH entry at {entry:#x}, expected {LINK_BASE:#x}"
            )));
        }
        None => {
            return Err(invalid(
                "no PVH note: the image was not linked with kernel/kernel.ld (is RUSTFLAGS \
                 overriding .cargo/config.toml?)"
                    .into(),
            ));
        }
    }
    let mut symbols: Vec<(String, u64, u64)> = elf
        .function_symbols()
        .map_err(|e| invalid(e.to_string()))?
        .into_iter()
        .map(|s| {
            (
                format!("{:#}", rustc_demangle::demangle(&s.name)),
                s.addr,
                s.size,
            )
        })
        .collect();
    symbols.sort_by_key(|s| s.1);
    symbols.dedup_by_key(|s| s.1);
    Ok(symbols)
}

fn cargo(root: &Path, target_dir: &Path, verb: &str, app: &str, profile: Profile) -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root)
        .arg(verb)
        .args(["--quiet", "-p", app, "--target", TARGET])
        .arg("--target-dir")
        .arg(target_dir);
    if profile == Profile::Release {
        cmd.arg("--release");
    }
    cmd
}

fn run_cargo(cmd: &mut Command) -> Result<(), ImageError> {
    let status = cmd
        .status()
        .map_err(|e| ImageError::Cargo(format!("cannot run cargo: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(ImageError::Cargo(format!(
            "cargo failed ({status}): {cmd:?}"
        )))
    }
}

fn io(what: &str, path: &Path, e: std::io::Error) -> ImageError {
    ImageError::Io(format!("cannot {what} {}: {e}", path.display()))
}
