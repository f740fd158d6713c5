//! A Linux microVM built from Debian's packages: the baseline that benchmarks run the same
//! workload in, beside the unikernel, under the same QEMU.
//!
//! [`LinuxVm::build`] downloads the kernel package that `linux-image-amd64` depends on and
//! `busybox-static` (`apt-get download`, `dpkg -x`), pulls the PVH-capable `vmlinux` out of
//! the bzImage, and packs an initramfs (cpio newc, written by `cpio`) with busybox, the virtio
//! modules and the benchmark's own binaries with the shared libraries `ldd` names
//! ([`LinuxVm::build_with`] adds programs at paths of its choosing, data files, e.g. a
//! server's configuration, and more kernel modules, e.g. ext4). The result is cached under
//! `target/linuxvm/KEY/`, keyed by the package versions, the binaries, the files and the
//! modules. [`debian_package_file`] fetches a program
//! from a Debian package without installing it (no service starts on the host).
//! [`LinuxVm::command`] boots it on `-M microvm` (ACPI on: Debian's `virtio_mmio` finds its
//! devices only in the DSDT) under TCG (Linux does not boot under this host's `kvm_pvm`) with
//! a shell script from the kernel command line; the script's end is reported on the console
//! ([`EXIT_PREFIX`]) and the VM powers off. Scripts may call `barrier NAME`, which prints
//! [`BARRIER_PREFIX`]`NAME` and waits for a line on the console (the host's stdin): the host
//! can read QMP counters or start a load generator there.

mod cpio;

use cpio::Tree;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Modules the initramfs loads (with their dependencies, found in each module's
/// `.modinfo`): the virtio-mmio transport and the block and network drivers.
const MODULES: &[&str] = &["virtio_mmio", "virtio_blk", "virtio_net"];

/// Bumped whenever the initramfs layout or `/init` changes, so old caches are not reused.
const BUILDER_VERSION: u32 = 1;

/// Printed by `/init` when the script ends: `linuxvm: exit STATUS`.
pub const EXIT_PREFIX: &str = "linuxvm: exit ";
/// Printed by the script's `barrier NAME`; the guest then waits for one line on its console.
pub const BARRIER_PREFIX: &str = "linuxvm: barrier ";

/// Linux's x86 command-line limit (COMMAND_LINE_SIZE), with the terminating NUL.
const COMMAND_LINE_MAX: usize = 2047;

/// A built, cached Linux microVM.
#[derive(Clone, Debug)]
pub struct LinuxVm {
    /// The uncompressed kernel with its PVH note (`-kernel`).
    pub kernel: PathBuf,
    /// The initramfs (`-initrd`), an uncompressed cpio archive.
    pub initrd: PathBuf,
    /// The kernel package, e.g. `linux-image-6.1.0-56-amd64 6.1.192-2`.
    pub kernel_package: String,
    /// The host TSC frequency handed to Linux (`tsc_early_khz`), if the host told it.
    pub tsc_khz: Option<u64>,
}

/// What an initramfs holds beyond busybox, the virtio modules and `/init`.
#[derive(Clone, Debug, Default)]
pub struct Contents {
    /// Host programs (names found on `PATH`, or absolute paths), each at its host path.
    pub binaries: Vec<String>,
    /// Programs placed elsewhere than at their host path: (host file, absolute path in the
    /// VM), e.g. one from [`debian_package_file`].
    pub placed: Vec<(PathBuf, String)>,
    /// Data files: (absolute path in the VM, contents), mode 0644.
    pub files: Vec<(String, Vec<u8>)>,
    /// Kernel modules loaded after the virtio ones, with their dependencies, in this order
    /// (e.g. `crc32c_generic` then `ext4`: ext4 asks the crypto API for crc32c by name, so
    /// no `depends=` names it, and the VM has no modprobe to find it).
    pub modules: Vec<String>,
}

impl LinuxVm {
    /// Builds the VM (or finds it in the cache) with `extra_binaries` (names found on `PATH`,
    /// or absolute paths) and their shared libraries in the initramfs at their host paths.
    pub fn build(extra_binaries: &[&str]) -> Result<Self, String> {
        Self::build_with(&Contents {
            binaries: extra_binaries.iter().map(|b| b.to_string()).collect(),
            ..Contents::default()
        })
    }

    /// Builds the VM (or finds it in the cache) with `contents`. Every program comes with
    /// the shared libraries `ldd` names on the host, at their host paths.
    pub fn build_with(contents: &Contents) -> Result<Self, String> {
        let kernel_pkg = kernel_package()?;
        let kernel_version = package_version(&kernel_pkg)?;
        let busybox_version = package_version("busybox-static")?;
        let mut programs = contents
            .binaries
            .iter()
            .map(|b| {
                let path = find_binary(b)?;
                let at = rel(&path);
                Ok((path, at))
            })
            .collect::<Result<Vec<_>, String>>()?;
        for (host, at) in &contents.placed {
            if !host.is_file() {
                return Err(format!("linuxvm: {} not found", host.display()));
            }
            programs.push((host.clone(), rel(Path::new(at))));
        }
        let mut key_parts = vec![
            format!("builder {BUILDER_VERSION}"),
            format!("{kernel_pkg} {kernel_version}"),
            format!("busybox-static {busybox_version}"),
        ];
        for (binary, at) in &programs {
            // A binary's size and mtime change when its package is upgraded, and with it
            // perhaps the libraries it needs.
            let meta = fs::metadata(binary).map_err(|e| format!("{}: {e}", binary.display()))?;
            let mtime = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs());
            let mut part = format!("{} {} {mtime}", binary.display(), meta.len());
            // (Programs at their host path keep the key they had before placement existed.)
            if *at != rel(binary) {
                part.push_str(&format!(" at /{at}"));
            }
            key_parts.push(part);
        }
        for (path, data) in &contents.files {
            key_parts.push(format!("file {path} {}", fnv1a(data)));
        }
        // (Only when there are any: VMs without extra modules keep their cache entries.)
        if !contents.modules.is_empty() {
            key_parts.push(format!("modules {}", contents.modules.join(" ")));
        }
        let root = crate::image::workspace_root()
            .join("target")
            .join("linuxvm");
        let dir = root.join(cache_key(&key_parts));
        let vm = Self {
            kernel: dir.join("vmlinux"),
            initrd: dir.join("initramfs.cpio"),
            kernel_package: format!("{kernel_pkg} {kernel_version}"),
            tsc_khz: host_tsc_khz(),
        };
        if dir.join("key").exists() {
            return Ok(vm);
        }
        eprintln!(
            "linuxvm: building the Linux baseline ({kernel_pkg} {kernel_version}, busybox-static {busybox_version}) into {}",
            crate::qemu::display_path(&dir)
        );
        // Build beside the cache entry and rename it into place: a concurrent build or an
        // interrupted one never leaves a half-written entry under the key.
        let work = root.join(format!("tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&work);
        fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        let result = build_into(
            &work,
            &[
                (&kernel_pkg, &kernel_version),
                ("busybox-static", &busybox_version),
            ],
            &programs,
            &contents.files,
            &contents.modules,
        );
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&work);
            return Err(e);
        }
        let out = work.join("out");
        fs::write(out.join("key"), key_parts.join("\n") + "\n").map_err(|e| e.to_string())?;
        if fs::rename(&out, &dir).is_err() && !dir.join("key").exists() {
            let _ = fs::remove_dir_all(&work);
            return Err(format!("cannot move the build to {}", dir.display()));
        }
        let _ = fs::remove_dir_all(&work);
        Ok(vm)
    }

    /// The kernel command line for `script`: console, quiet boot, the TSC frequency, and
    /// the script base64-encoded in `linuxvm.script=`.
    pub fn cmdline(&self, script: &str) -> Result<String, String> {
        // mitigations=off: the baseline gets its fastest configuration (the unikernel has
        // no such costs to turn off). panic=-1 with -no-reboot ends QEMU on a panic.
        let mut line = String::from("console=ttyS0 quiet panic=-1 mitigations=off");
        if let Some(khz) = self.tsc_khz {
            // Under TCG on a busy host the PIT calibration sometimes fails and boot hangs.
            line.push_str(&format!(" tsc_early_khz={khz}"));
        }
        line.push_str(" linuxvm.script=");
        line.push_str(&base64(script.as_bytes()));
        if line.len() > COMMAND_LINE_MAX {
            return Err(format!(
                "linuxvm: script too long for the kernel command line ({} bytes, limit {COMMAND_LINE_MAX})",
                line.len()
            ));
        }
        Ok(line)
    }

    /// The QEMU command that boots this VM with `mem_mib` MiB and runs `script` (busybox
    /// `sh`). `qemu_args` are appended as they are (devices, `-global`s, `-qmp`, a `-cpu`;
    /// without one the VM gets `-cpu max`). TCG only. The console is QEMU's stdio.
    pub fn command(
        &self,
        mem_mib: u32,
        script: &str,
        qemu_args: &[String],
    ) -> Result<Command, String> {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-M", "microvm,x-option-roms=off,rtc=off", "-nodefaults"])
            .args(["-no-user-config", "-no-reboot", "-display", "none"])
            .args(["-serial", "stdio", "-m", &mem_mib.to_string()])
            .args(["-accel", "tcg"]);
        if !qemu_args.iter().any(|a| a == "-cpu") {
            cmd.args(["-cpu", "max"]);
        }
        cmd.arg("-kernel")
            .arg(&self.kernel)
            .arg("-initrd")
            .arg(&self.initrd)
            .args(["-append", &self.cmdline(script)?])
            .args(qemu_args);
        Ok(cmd)
    }
}

/// The package `linux-image-amd64` depends on (`linux-image-6.1.0-56-amd64`).
fn kernel_package() -> Result<String, String> {
    let out = tool_output(Command::new("apt-cache").args(["depends", "linux-image-amd64"]))?;
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(str::to_string)
        .ok_or_else(|| {
            "linuxvm: apt-cache names no kernel package for linux-image-amd64 (run apt-get update)"
                .to_string()
        })
}

/// The candidate version of `package` (what `apt-get download` would fetch).
fn package_version(package: &str) -> Result<String, String> {
    let out = tool_output(Command::new("apt-cache").args(["policy", package]))?;
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("Candidate: "))
        .find(|v| *v != "(none)")
        .map(str::to_string)
        .ok_or_else(|| format!("linuxvm: no candidate version of {package} (run apt-get update)"))
}

/// Runs a host tool and returns its stdout, or an error naming it and its stderr.
fn tool_output(cmd: &mut Command) -> Result<String, String> {
    let name = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("linuxvm: cannot run {name}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "linuxvm: {name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A binary's absolute path: as given if it has a `/`, else the first match on `PATH`.
fn find_binary(name: &str) -> Result<PathBuf, String> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return path
            .is_file()
            .then_some(path)
            .ok_or_else(|| format!("linuxvm: {name} not found"));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| format!("linuxvm: {name} not found on PATH (install it first)"))
}

/// A file of a Debian package, fetched without installing the package: the candidate
/// version is downloaded (`apt-get download`) and unpacked (`dpkg -x`) once into
/// `target/linuxvm/packages/NAME_VERSION/`, and the path of `path` (e.g. `usr/sbin/nginx`)
/// there is returned. Installing a server's package would start its service on the host;
/// this does not. Its shared libraries are the host's.
pub fn debian_package_file(package: &str, path: &str) -> Result<PathBuf, String> {
    let version = package_version(package)?;
    let root = crate::image::workspace_root()
        .join("target")
        .join("linuxvm")
        .join("packages");
    let dir = root.join(format!("{package}_{}", version.replace(':', "%3a")));
    let file = dir.join(path.trim_start_matches('/'));
    if file.is_file() {
        return Ok(file);
    }
    eprintln!("linuxvm: fetching {package} {version} (apt-get download; not installed)");
    let work = root.join(format!("tmp-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let unpacked = work.join("root");
    let result = download_and_unpack(&work, package, &version, &unpacked);
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&work);
        return Err(e);
    }
    // Renamed into place whole, as the VM cache is.
    if fs::rename(&unpacked, &dir).is_err() && !dir.is_dir() {
        let _ = fs::remove_dir_all(&work);
        return Err(format!("cannot move the package to {}", dir.display()));
    }
    let _ = fs::remove_dir_all(&work);
    file.is_file()
        .then_some(file)
        .ok_or_else(|| format!("linuxvm: package {package} {version} has no /{path}"))
}

/// Downloads package `name` at `version` into `work/debs` and unpacks it into `unpacked`.
fn download_and_unpack(
    work: &Path,
    name: &str,
    version: &str,
    unpacked: &Path,
) -> Result<(), String> {
    let debs = work.join("debs");
    fs::create_dir_all(&debs).map_err(|e| e.to_string())?;
    tool_output(
        Command::new("apt-get")
            .args(["download", "-q", &format!("{name}={version}")])
            .current_dir(&debs)
            .stderr(Stdio::piped()),
    )?;
    let deb = fs::read_dir(&debs)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with(&format!("{name}_")))
        })
        .ok_or_else(|| format!("linuxvm: apt-get download left no {name}_*.deb"))?;
    tool_output(Command::new("dpkg").arg("-x").arg(&deb).arg(unpacked))?;
    fs::remove_file(&deb).map_err(|e| e.to_string())
}

/// Downloads and unpacks the packages in `work`, then writes `work/out/{vmlinux,
/// initramfs.cpio}` with `programs` (host file, path in the VM without a leading `/`),
/// `files` and `extra_modules` (after [`MODULES`]).
fn build_into(
    work: &Path,
    packages: &[(&str, &str)],
    programs: &[(PathBuf, String)],
    files: &[(String, Vec<u8>)],
    extra_modules: &[String],
) -> Result<(), String> {
    let unpacked = work.join("root");
    for (name, version) in packages {
        download_and_unpack(work, name, version, &unpacked)?;
    }
    let out = work.join("out");
    fs::create_dir_all(&out).map_err(|e| e.to_string())?;

    // The kernel: the XZ payload of the bzImage, checked to be an x86_64 ELF with PVH.
    let boot = unpacked.join("boot");
    let bzimage = fs::read_dir(&boot)
        .map_err(|e| format!("{}: {e}", boot.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with("vmlinuz-"))
        })
        .ok_or("linuxvm: the kernel package has no boot/vmlinuz-*")?;
    let release = bzimage
        .file_name()
        .expect("a file")
        .to_string_lossy()
        .trim_start_matches("vmlinuz-")
        .to_string();
    let vmlinux = extract_vmlinux(&fs::read(&bzimage).map_err(|e| e.to_string())?)?;
    fs::write(out.join("vmlinux"), vmlinux).map_err(|e| e.to_string())?;

    // The initramfs.
    let mut tree = Tree::default();
    let busybox = unpacked.join("bin/busybox");
    tree.file(
        "bin/busybox",
        fs::read(&busybox).map_err(|e| format!("{}: {e}", busybox.display()))?,
        0o755,
    );
    tree.char_device("dev/console", 5, 1);
    for dir in ["proc", "sys", "tmp", "sbin", "usr/bin", "usr/sbin"] {
        tree.dir(dir);
    }
    let module_dir = unpacked.join("lib/modules").join(&release).join("kernel");
    let modules = ModuleIndex::scan(&module_dir)?;
    let wanted: Vec<&str> = MODULES
        .iter()
        .copied()
        .chain(extra_modules.iter().map(String::as_str))
        .collect();
    let order = modules.load_order(&wanted)?;
    for name in &order {
        tree.file(
            &format!("lib/modules/{name}.ko"),
            modules.read(name)?,
            0o644,
        );
    }
    for (binary, at) in programs {
        add_with_libraries(&mut tree, binary, at)?;
    }
    for (path, data) in files {
        tree.file(&rel(Path::new(path)), data.clone(), 0o644);
    }
    tree.file("init", init_script(&order).into_bytes(), 0o755);
    let file = fs::File::create(out.join("initramfs.cpio")).map_err(|e| e.to_string())?;
    let mut writer = BufWriter::new(file);
    tree.write_cpio(&mut writer).map_err(|e| e.to_string())?;
    writer.flush().map_err(|e| e.to_string())?;
    Ok(())
}

/// `/init`: mount the pseudo file systems, load the modules, run the script from the
/// command line, report its status and power off.
fn init_script(modules: &[String]) -> String {
    format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in {modules}; do
    insmod /lib/modules/$m.ko || echo "linuxvm: insmod $m failed"
done
script=
for word in $(cat /proc/cmdline); do
    case "$word" in linuxvm.script=*) script="${{word#linuxvm.script=}}" ;; esac
done
echo "$script" | base64 -d > /script.sh
barrier() {{
    echo "{BARRIER_PREFIX}$1"
    read -r _ < /dev/console
}}
(. /script.sh)
echo "{EXIT_PREFIX}$?"
poweroff -f
"#,
        modules = modules.join(" ")
    )
}

/// Finds the compressed vmlinux in a bzImage: the first XZ stream that decompresses
/// (`xz --single-stream`, which ignores what follows) to an x86_64 ELF with a PVH note.
fn extract_vmlinux(bzimage: &[u8]) -> Result<Vec<u8>, String> {
    for offset in xz_offsets(bzimage) {
        let Ok(data) = xz_decompress(&bzimage[offset..]) else {
            continue;
        };
        let Ok(elf) = crate::elf::Elf::parse(&data) else {
            continue;
        };
        if matches!(elf.pvh_entry(), Ok(Some(_))) {
            return Ok(data);
        }
    }
    Err("linuxvm: no XZ-compressed x86_64 ELF with a PVH note in the bzImage".into())
}

/// Start offsets of XZ stream headers (magic `FD 37 7A 58 5A 00`) in `data`.
fn xz_offsets(data: &[u8]) -> Vec<usize> {
    const MAGIC: &[u8] = b"\xfd7zXZ\0";
    data.windows(MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == MAGIC)
        .map(|(i, _)| i)
        .collect()
}

/// Decompresses the first XZ stream of `data` with the host's `xz`.
fn xz_decompress(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("linuxvm: cannot run xz: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = data.to_vec();
    // Feed from a thread: xz's output fills its pipe long before its input is consumed.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = feeder.join();
    if !out.status.success() {
        return Err(format!("xz failed: {}", out.status));
    }
    Ok(out.stdout)
}

/// The kernel modules of an unpacked package, by name (`virtio_blk`), with their files.
struct ModuleIndex {
    files: BTreeMap<String, PathBuf>,
}

impl ModuleIndex {
    fn scan(root: &Path) -> Result<Self, String> {
        let mut files = BTreeMap::new();
        let mut dirs = vec![root.to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
                let path = entry.map_err(|e| e.to_string())?.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if let Some(name) = module_name(&path) {
                    files.insert(name, path);
                }
            }
        }
        Ok(Self { files })
    }

    /// The module's ELF, decompressed if the package ships `.ko.xz`.
    fn read(&self, name: &str) -> Result<Vec<u8>, String> {
        let path = self
            .files
            .get(name)
            .ok_or_else(|| format!("linuxvm: no module {name} in the kernel package"))?;
        let data = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if path.extension().is_some_and(|e| e == "xz") {
            xz_decompress(&data)
        } else {
            Ok(data)
        }
    }

    /// `wanted` and everything they depend on, dependencies first.
    fn load_order(&self, wanted: &[&str]) -> Result<Vec<String>, String> {
        let mut order = Vec::new();
        let mut seen = BTreeSet::new();
        for name in wanted {
            self.visit(name, &mut seen, &mut order)?;
        }
        Ok(order)
    }

    fn visit(
        &self,
        name: &str,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<String>,
    ) -> Result<(), String> {
        if !seen.insert(name.to_string()) {
            return Ok(());
        }
        for dep in module_depends(&self.read(name)?)? {
            self.visit(&dep, seen, order)?;
        }
        order.push(name.to_string());
        Ok(())
    }
}

/// `virtio_blk` for `.../virtio_blk.ko` or `.ko.xz` (dashes become underscores, as modprobe
/// does).
fn module_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let stem = [".ko", ".ko.xz"]
        .iter()
        .find_map(|suffix| file.strip_suffix(suffix))?;
    Some(stem.replace('-', "_"))
}

/// The `depends=` list of a module's `.modinfo` section.
fn module_depends(ko: &[u8]) -> Result<Vec<String>, String> {
    let elf = crate::elf::Elf::parse(ko).map_err(|e| format!("linuxvm: module: {e}"))?;
    let Some((_, offset, size)) = elf.section(".modinfo").map_err(|e| e.to_string())? else {
        return Ok(Vec::new());
    };
    let info = elf.slice(offset, size).map_err(|e| e.to_string())?;
    Ok(parse_depends(info))
}

/// Dependencies from `.modinfo` bytes (NUL-separated `key=value` strings).
fn parse_depends(modinfo: &[u8]) -> Vec<String> {
    modinfo
        .split(|&b| b == 0)
        .filter_map(|entry| entry.strip_prefix(b"depends="))
        .flat_map(|list| list.split(|&b| b == b','))
        .filter(|d| !d.is_empty())
        .map(|d| String::from_utf8_lossy(d).replace('-', "_"))
        .collect()
}

/// Adds `binary` at `at` (a path without a leading `/`) and the libraries `ldd` names (and
/// the loader) at their host paths.
fn add_with_libraries(tree: &mut Tree, binary: &Path, at: &str) -> Result<(), String> {
    let read = |p: &Path| fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    tree.file(at, read(binary)?, 0o755);
    let out = tool_output(Command::new("ldd").arg(binary))?;
    for lib in parse_ldd(&out)? {
        // fs::read follows symlinks: the library lands under the name the loader looks for.
        tree.file(&rel(&lib), read(&lib)?, 0o755);
    }
    Ok(())
}

/// Library paths from `ldd` output; an unresolved library is an error.
fn parse_ldd(out: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in out.lines().map(str::trim) {
        if line.contains("not found") {
            return Err(format!("linuxvm: ldd: {line}"));
        }
        let path = match line.split_once(" => ") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(path) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(path));
        }
    }
    Ok(libs)
}

/// A host path as a path inside the archive (no leading `/`).
fn rel(path: &Path) -> String {
    path.to_string_lossy().trim_start_matches('/').to_string()
}

/// A short, stable name for a cache entry: FNV-1a 64 over the parts, in hex.
fn cache_key(parts: &[String]) -> String {
    let bytes: Vec<u8> = parts
        .iter()
        .flat_map(|part| part.as_bytes().iter().chain(b"\n"))
        .copied()
        .collect();
    fnv1a(&bytes)
}

/// FNV-1a 64 of `data`, in hex.
fn fnv1a(data: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Standard base64 with padding (what busybox `base64 -d` reads).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The host's TSC frequency in kHz, for Linux's `tsc_early_khz`: the kernel log's refined
/// calibration if present, else its first estimate, else `/proc/cpuinfo`'s `cpu MHz`.
/// Under TCG the guest's TSC runs at the host's rate.
pub fn host_tsc_khz() -> Option<u64> {
    let log = Command::new("dmesg")
        .stderr(Stdio::null())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    tsc_khz_from(&log, &cpuinfo)
}

fn tsc_khz_from(kernel_log: &str, cpuinfo: &str) -> Option<u64> {
    let from_log = |marker: &str| {
        kernel_log
            .lines()
            .rev()
            .filter_map(|l| l.split(marker).nth(1))
            .find_map(|rest| mhz_to_khz(rest.split_whitespace().next()?))
    };
    from_log("tsc: Refined TSC clocksource calibration: ")
        .or_else(|| from_log("tsc: Detected "))
        .or_else(|| {
            cpuinfo
                .lines()
                .filter(|l| l.starts_with("cpu MHz"))
                .find_map(|l| mhz_to_khz(l.split(':').nth(1)?.trim()))
        })
}

/// "2596.148" (MHz) -> 2596148 (kHz), exactly.
fn mhz_to_khz(mhz: &str) -> Option<u64> {
    let (whole, frac) = mhz.split_once('.').unwrap_or((mhz, ""));
    let frac = format!("{frac:0<3}");
    let khz = whole.parse::<u64>().ok()? * 1000 + frac.get(..3)?.parse::<u64>().ok()?;
    (khz > 0).then_some(khz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_xz_header() {
        let mut data = vec![0u8; 40];
        data[3..9].copy_from_slice(b"\xfd7zXZ\0");
        data[20..26].copy_from_slice(b"\xfd7zXZ\0");
        data[30..36].copy_from_slice(b"\xfd7zXZ!"); // no NUL: not a header
        assert_eq!(xz_offsets(&data), [3, 20]);
        assert!(xz_offsets(b"no header").is_empty());
    }

    #[test]
    fn xz_stream_found_past_garbage() {
        // A real XZ stream after leading bytes, with trailing bytes that --single-stream
        // ignores (as in a bzImage).
        let plain = b"vmlinux stand-in".repeat(100);
        let mut child = Command::new("xz")
            .args(["-zc"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("xz on the host");
        child.stdin.take().unwrap().write_all(&plain).unwrap();
        let compressed = child.wait_with_output().unwrap().stdout;
        let mut image = b"setup code".to_vec();
        image.extend_from_slice(&compressed);
        image.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
        let offsets = xz_offsets(&image);
        assert_eq!(offsets, [10]);
        assert_eq!(xz_decompress(&image[offsets[0]..]).unwrap(), plain);
    }

    #[test]
    fn cache_key_depends_on_every_part_and_its_order() {
        let parts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let a = cache_key(&parts(&["linux 6.1", "busybox 1.35", "/usr/bin/fio 1 2"]));
        assert_eq!(a.len(), 16);
        assert_eq!(
            a,
            cache_key(&parts(&["linux 6.1", "busybox 1.35", "/usr/bin/fio 1 2"]))
        );
        assert_ne!(
            a,
            cache_key(&parts(&["linux 6.2", "busybox 1.35", "/usr/bin/fio 1 2"]))
        );
        assert_ne!(a, cache_key(&parts(&["linux 6.1", "busybox 1.35"])));
        assert_ne!(
            a,
            cache_key(&parts(&["busybox 1.35", "linux 6.1", "/usr/bin/fio 1 2"]))
        );
        // Part boundaries count: "ab","c" differs from "a","bc".
        assert_ne!(
            cache_key(&parts(&["ab", "c"])),
            cache_key(&parts(&["a", "bc"]))
        );
    }

    #[test]
    fn modinfo_depends() {
        let info = b"license=GPL\0depends=virtio,virtio_ring\0retpoline=Y\0name=virtio_blk\0";
        assert_eq!(parse_depends(info), ["virtio", "virtio_ring"]);
        assert!(parse_depends(b"depends=\0name=virtio\0").is_empty());
        assert_eq!(
            module_name(Path::new("/x/net_failover.ko.xz")).as_deref(),
            Some("net_failover")
        );
        assert_eq!(
            module_name(Path::new("a/virtio-mmio.ko")).as_deref(),
            Some("virtio_mmio")
        );
        assert_eq!(module_name(Path::new("a/modules.order")), None);
    }

    #[test]
    fn ldd_output() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibaio.so.1 => /lib/x86_64-linux-gnu/libaio.so.1 (0x00007f2f)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f2f5a558000)\n";
        assert_eq!(
            parse_ldd(out).unwrap(),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libaio.so.1"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
        assert!(parse_ldd("\tlibgone.so.1 => not found\n").is_err());
    }

    #[test]
    fn tsc_frequency_from_the_host() {
        let log = "[0.000058] tsc: Detected 2596.148 MHz processor\n\
                   [1.2] tsc: Refined TSC clocksource calibration: 2596.0 MHz\n";
        assert_eq!(tsc_khz_from(log, ""), Some(2_596_000));
        let log = "[0.000058] tsc: Detected 2596.148 MHz processor\n";
        assert_eq!(tsc_khz_from(log, ""), Some(2_596_148));
        assert_eq!(
            tsc_khz_from("", "cpu MHz\t\t: 2596.14812\n"),
            Some(2_596_148)
        );
        assert_eq!(tsc_khz_from("", ""), None);
        assert_eq!(mhz_to_khz("3000"), Some(3_000_000));
    }

    #[test]
    fn base64_round_trip_values() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(base64(b"echo hi\n"), "ZWNobyBoaQo=");
    }

    #[test]
    fn script_goes_on_the_command_line() {
        let vm = LinuxVm {
            kernel: "vmlinux".into(),
            initrd: "initramfs.cpio".into(),
            kernel_package: String::new(),
            tsc_khz: Some(2_596_148),
        };
        let line = vm.cmdline("echo hi\n").unwrap();
        assert!(line.contains("tsc_early_khz=2596148"), "{line}");
        assert!(line.ends_with(" linuxvm.script=ZWNobyBoaQo="), "{line}");
        assert!(vm.cmdline(&"x".repeat(2000)).is_err());
        let cmd = vm
            .command(512, "true", &["-cpu".into(), "max,pdpe1gb=off".into()])
            .unwrap();
        let words = crate::qemu::shell_words(&cmd);
        assert_eq!(words.matches("-cpu").count(), 1, "{words}");
        assert!(
            words.contains("-M microvm,x-option-roms=off,rtc=off "),
            "{words}"
        );
    }

    /// Builds the real VM (downloads Debian packages) and boots it under TCG: about 5 s
    /// once cached. `cargo test -p boot --lib -- --ignored linuxvm`.
    #[test]
    #[ignore = "downloads Debian packages and boots Linux under TCG"]
    fn linux_boots_and_runs_a_script() {
        let vm = LinuxVm::build(&[]).unwrap();
        let mut child = vm
            .command(256, "echo hello from $(uname -r)\nexit 3\n", &[])
            .unwrap()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("Linux did not power off within 120 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let console = String::from_utf8_lossy(&out.stdout);
        assert!(console.contains("hello from 6."), "{console}");
        assert!(console.contains(&format!("{EXIT_PREFIX}3")), "{console}");
    }
}
