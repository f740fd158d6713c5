//! virtio-blk, the block API and the interrupt wake path (issue 7), on microvm (PVH) and
//! q35 (qboot, BIOS and UEFI images).

use boot::image::Format;
use boot::qemu::Machine;
use std::path::PathBuf;
use tests::{Run, assert_console, assert_status};

/// A fresh disk file of `mib` MiB, removed when the test ends.
struct TestDisk(PathBuf);

impl TestDisk {
    fn with_extension(&self, ext: &str) -> PathBuf {
        self.0.with_extension(ext)
    }
}

impl std::ops::Deref for TestDisk {
    type Target = PathBuf;
    fn deref(&self) -> &PathBuf {
        &self.0
    }
}

impl AsRef<std::path::Path> for TestDisk {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TestDisk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("blkdebug"));
    }
}

fn disk(name: &str, mib: u64) -> TestDisk {
    let dir = std::env::temp_dir().join(format!("unikernel-blk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(mib << 20).unwrap();
    TestDisk(path)
}

#[test]
fn data_written_in_one_boot_is_read_in_the_next() {
    let img = disk("persist.img", 16);
    let out = Run::new("blkcheck").disk(&img).args(&["write", "42"]).go();
    assert_status(&out, 0);
    assert_console(&out, "wrote 16777216 bytes of seed 42's pattern on vda");
    assert_console(&out, "1 flushes, 0 errors");
    let out = Run::new("blkcheck").disk(&img).args(&["verify", "42"]).go();
    assert_status(&out, 0);
    assert_console(&out, "verified 16777216 bytes of seed 42's pattern on vda");
    let out = Run::new("blkcheck").disk(&img).args(&["verify", "43"]).go();
    assert_status(&out, 1);
    assert_console(&out, "is not seed 43's pattern");
}

#[test]
fn sixteen_tasks_verify_1000_random_requests_with_16_in_flight() {
    let img = disk("random.img", 32);
    // Throttled, so requests queue in QEMU and all 16 tasks' requests are in flight at
    // once (unthrottled, TCG completes them as fast as the tasks submit).
    let drive = format!(
        "file={},format=raw,if=none,id=slow,werror=report,rerror=report,cache=writeback,throttling.iops-total=2000",
        img.display()
    );
    let out = Run::new("blkcheck")
        .qemu_args(&["-drive", &drive, "-device", "virtio-blk-device,drive=slow"])
        .args(&["random", "16", "1000", "7"])
        .go();
    assert_status(&out, 0);
    // 1,000 requested: 16 tasks of 63 rounded up to write-read pairs.
    assert_console(&out, "random: 16 tasks, 1024 requests verified");
    assert_console(&out, "at most 16 in flight");
}

#[test]
fn the_same_disk_through_pci_on_q35_qboot_bios_and_uefi() {
    let img = disk("q35.img", 8);
    let out = Run::new("blkcheck").disk(&img).args(&["write", "5"]).go();
    assert_status(&out, 0);
    let out = Run::new("blkcheck")
        .machine(Machine::Q35)
        .disk(&img)
        .args(&["verify", "5"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "verified 8388608 bytes of seed 5's pattern on vda");
    if tests::skip_under_kvm(
        "disk images keep ring 0 under kvm_pvm (emulated), and OVMF fails there",
    ) {
        return;
    }
    for format in [Format::Bios, Format::Uefi] {
        let out = Run::with_format("blkcheck", format)
            .disk(&img)
            .args(&["verify", "5"])
            .go();
        assert_status(&out, 0);
        assert_console(&out, "verified 8388608 bytes of seed 5's pattern on vda");
    }
}

#[test]
fn read_only_disk_refuses_writes_with_distinct_errors() {
    let img = disk("ro.img", 1);
    let out = Run::new("testkernel")
        .disk_ro(&img)
        .args(&["blk-errors"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "read-only: true");
    assert_console(&out, "write: Err(PermissionDenied)");
    assert_console(&out, "flush: Err(PermissionDenied)");
    assert_console(&out, "past end: Err(InvalidInput)");
    assert_console(&out, "misaligned: Err(InvalidInput)");
    assert_console(&out, "read: ok");
    assert_console(&out, "open vdz: no disk 'vdz' (disks: vda)");
}

#[test]
fn device_error_injected_by_blkdebug_reaches_the_caller() {
    let img = disk("faulty.img", 1);
    let rules = img.with_extension("blkdebug");
    // Every read fails with EIO at the device.
    std::fs::write(
        &rules,
        "[inject-error]\nevent = \"read_aio\"\nerrno = \"5\"\n",
    )
    .unwrap();
    let drive = format!(
        "file=blkdebug:{}:{},format=raw,if=none,id=bad,werror=report,rerror=report",
        rules.display(),
        img.display()
    );
    // On a legacy (virtio-mmio version 1) transport: this later -global overrides the
    // runner's force-legacy=off, as a user's own QEMU line may.
    let out = Run::new("testkernel")
        .options("log=kernel::drivers=debug")
        .qemu_args(&[
            "-global",
            "virtio-mmio.force-legacy=on",
            "-drive",
            &drive,
            "-device",
            "virtio-blk-device,drive=bad",
        ])
        .args(&["blk-errors"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "(Legacy), irq");
    assert_console(
        &out,
        "read: error: vda: the device reported an I/O error at sector 0",
    );
}

#[test]
fn an_app_that_wants_a_disk_says_there_is_none() {
    let out = Run::new("blkcheck").args(&["verify", "1"]).go();
    assert_status(&out, 1);
    assert_console(&out, "blkcheck: no disk 'vda': no disks are attached");
}

#[test]
fn two_disks_keep_the_order_they_were_given() {
    let first = disk("first.img", 1);
    let second = disk("second.img", 1);
    std::fs::write(&first, b"I am the first disk").unwrap();
    std::fs::write(&second, b"I am the second disk").unwrap();
    for file in [&first, &second] {
        std::fs::File::options()
            .write(true)
            .open(file)
            .unwrap()
            .set_len(1 << 20)
            .unwrap();
    }
    let out = Run::new("testkernel")
        .disk(&first)
        .disk(&second)
        .args(&["blk-order"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "vda: I am the first disk\nvdb: I am the second disk");
    let out = Run::new("testkernel")
        .machine(Machine::Q35)
        .disk(&first)
        .disk(&second)
        .args(&["blk-order"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "vda: I am the first disk\nvdb: I am the second disk");
}

#[test]
fn async_requests_round_trip() {
    let img = disk("async.img", 1);
    let out = Run::new("testkernel").disk(&img).args(&["blk-async"]).go();
    assert_status(&out, 0);
    assert_console(&out, "async: read back 4096 bytes, all 7: true");
}

#[test]
fn a_wake_inside_the_check_to_block_window_is_not_lost() {
    let out = Run::new("testkernel").args(&["wake-race", "1000"]).go();
    assert_status(&out, 0);
    let line = out
        .console
        .lines()
        .find(|l| l.starts_with("wake race: 1000 rounds completed"))
        .unwrap_or_else(|| panic!("no report; console:\n{}", out.console));
    let hits: u32 = line
        .rsplit(", ")
        .next()
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read {line:?}"));
    assert!(
        hits > 0,
        "the injected interrupt never hit the window: {line}"
    );
}

#[test]
fn an_idle_task_waiting_for_a_disk_is_not_a_deadlock() {
    let img = disk("idle.img", 1);
    let out = Run::new("testkernel").disk(&img).args(&["blk-idle"]).go();
    assert_status(&out, 0);
    assert_console(&out, "blk-idle: 20 reads done");
}

#[test]
fn a_mutex_deadlock_with_an_idle_disk_attached_is_still_reported() {
    let img = disk("deadlock.img", 1);
    let out = Run::new("testkernel")
        .disk(&img)
        .args(&["blk-deadlock"])
        .go();
    assert_status(&out, 101);
    assert_console(&out, "deadlock: no task can run and no timer is pending;");
    assert_console(&out, "'main' (mutex)");
    assert_console(&out, "'other' (mutex)");
}

#[test]
fn display_code_that_prints_does_not_hang_the_console() {
    let out = Run::new("testkernel").args(&["display-prints"]).go();
    assert_status(&out, 0);
    // The Display's own line lands in the middle of the outer one: it printed while the
    // outer line was being formatted, without the console held.
    assert_console(&out, "value: inner line from Display\nouter");
}

#[test]
fn disk_counters_are_printed_at_exit_with_log_info() {
    let img = disk("stats.img", 1);
    let out = Run::new("blkcheck")
        .disk(&img)
        .options("log=info")
        .args(&["write", "1"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "vda: 2048 sectors (1 MiB)");
    assert_console(&out, "4 writes (1048576 bytes), 1 flushes, 0 errors");
}

#[test]
fn pci_bars_are_assigned_under_qboot_and_kept_under_seabios() {
    let (a, b) = (disk("pci-a.img", 1), disk("pci-b.img", 1));
    // qboot leaves BARs unassigned: the kernel puts them in q35's PCI hole.
    let out = Run::new("testkernel")
        .machine(Machine::Q35)
        .disk(&a)
        .disk(&b)
        .args(&["pci"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "pci 00:01.0 1af4:1042");
    assert_console(&out, "INTA -> GSI 21");
    assert_console(&out, "bar4 mem64 0xc");
    assert_console(
        &out,
        "pci virtio 00:01.0 Block gsi Some(21), virtio-drivers sees the same BARs: true, common config num_queues Some(1)",
    );
    assert_console(
        &out,
        "pci virtio 00:02.0 Block gsi Some(22), virtio-drivers sees the same BARs: true",
    );
    // SeaBIOS assigns them itself; they stay where it put them and still work.
    let out = Run::with_format("testkernel", Format::Bios)
        .disk(&a)
        .args(&["pci"])
        .go();
    assert_status(&out, 0);
    assert_console(
        &out,
        "virtio-drivers sees the same BARs: true, common config num_queues Some(1)",
    );
    // microvm has no PCI bus.
    let out = Run::new("testkernel").args(&["pci"]).go();
    assert_status(&out, 0);
    assert_console(&out, "pci: 0 functions");
}

#[test]
fn flush_is_a_no_op_only_on_a_disk_without_a_write_cache() {
    let img = disk("writethrough.img", 1);
    // cache=writethrough: QEMU then does not offer VIRTIO_BLK_F_FLUSH (every completed
    // write is on the host disk already).
    let drive = format!(
        "file={},format=raw,if=none,id=wt,werror=report,rerror=report,cache=writethrough",
        img.display()
    );
    let out = Run::new("blkcheck")
        .qemu_args(&["-drive", &drive, "-device", "virtio-blk-device,drive=wt"])
        .args(&["write", "3"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "vda: 0 reads, 4 writes, 0 flushes, 0 errors");
    let out = Run::new("blkcheck")
        .qemu_args(&["-drive", &drive, "-device", "virtio-blk-device,drive=wt"])
        .args(&["info"])
        .go();
    assert_status(&out, 0);
    assert_console(
        &out,
        "vda: 1048576 bytes, block size 512, read-write, no write cache",
    );
    // The default (writeback) disk has a cache: its flush reaches the device.
    let out = Run::new("blkcheck").disk(&img).args(&["write", "3"]).go();
    assert_status(&out, 0);
    assert_console(&out, "vda: 0 reads, 4 writes, 1 flushes, 0 errors");
}

#[test]
fn the_runner_takes_disk_paths_relative_to_where_it_is_run() {
    let img = disk("relative.img", 1);
    let script = boot::image::workspace_root().join("scripts/qemu-run.sh");
    let out = std::process::Command::new(script)
        .current_dir(img.parent().unwrap())
        .args([
            "--accel",
            "tcg",
            "--disk",
            "relative.img",
            "blkcheck",
            "--",
            "info",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("vda: 1048576 bytes"), "{stdout}");
}
