//! The crash-safe log store (`libos::store`, issue 9) through `apps/storectl`, following
//! its command-line contract: data that survives reboots, disks that are refused, a full
//! disk, a read-only disk, an injected device error (QEMU blkdebug) and power cuts: QEMU
//! and nbdkit (serving the disk through its writeback cache, [`boot::nbd`]) killed in the
//! middle of heavy concurrent writes, with and without a compaction running, after which
//! every write the guest acknowledged must be there.

use boot::nbd::NbdServer;
use boot::qemu::Outcome;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tests::{Run, assert_console, assert_status};

const MIB: u64 = 1 << 20;

/// Exit statuses of the contract.
const NOT_FOUND: u8 = 2;
const STORAGE_FULL: u8 = 3;
const READ_ONLY: u8 = 4;
const DEVICE_ERROR: u8 = 6;
const NOT_A_STORE: u8 = 7;

/// A fresh sparse disk file of `mib` MiB (as `truncate -s`), removed when the test ends.
struct TestDisk(PathBuf);

impl TestDisk {
    fn new(name: &str, mib: u64) -> Self {
        let path = Self::dir().join(name);
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(mib * MIB).unwrap();
        Self(path)
    }

    /// A writable copy of `image`.
    fn copy_of(name: &str, image: &Path) -> Self {
        let path = Self::dir().join(name);
        std::fs::copy(image, &path).unwrap();
        Self(path)
    }

    fn dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("unikernel-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

impl std::ops::Deref for TestDisk {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDisk {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("blkdebug"));
    }
}

/// `storectl ARGS` with `disk` as `vda`.
fn storectl(disk: &Path, args: &[&str]) -> Outcome {
    Run::new("storectl").disk(disk).args(args).go()
}

/// `storectl ARGS` that must succeed.
#[track_caller]
fn storectl_ok(disk: &Path, args: &[&str]) -> Outcome {
    let out = storectl(disk, args);
    assert_status(&out, 0);
    out
}

/// The complete lines of the console: a last line cut off by a kill is left out.
fn complete_lines(console: &str) -> impl Iterator<Item = &str> {
    let end = console.rfind('\n').map_or(0, |i| i + 1);
    console[..end].lines()
}

/// Asserts the console has `line` as a whole line.
#[track_caller]
fn assert_line(out: &Outcome, line: &str) {
    assert!(
        complete_lines(&out.console).any(|l| l == line),
        "console lacks the line {line:?}; console:\n{}",
        out.console
    );
}

/// Asserts the run ended with `status` and exactly one error line, `storectl: ...`,
/// containing every one of `needles`; returns that line.
#[track_caller]
fn assert_error(out: &Outcome, status: u8, needles: &[&str]) -> String {
    assert_status(out, status);
    let errors: Vec<&str> = complete_lines(&out.console)
        .filter(|l| l.starts_with("storectl: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "expected one `storectl: ` line; console:\n{}",
        out.console
    );
    for needle in needles {
        assert!(
            errors[0].contains(needle),
            "{:?} lacks {needle:?}; console:\n{}",
            errors[0],
            out.console
        );
    }
    errors[0].to_string()
}

/// The `KEY=VALUE` lines of a `scan`, in order.
fn scanned(out: &Outcome) -> Vec<&str> {
    complete_lines(&out.console)
        .filter(|l| l.contains('=') && !l.starts_with("storectl"))
        .collect()
}

/// The `key=value` words of the one line starting with `prefix` (e.g. `stats: `).
#[track_caller]
fn fields(out: &Outcome, prefix: &str) -> BTreeMap<String, String> {
    let line = complete_lines(&out.console)
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line; console:\n{}", out.console));
    line[prefix.len()..]
        .split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The number in field `name`.
#[track_caller]
fn number(fields: &BTreeMap<String, String>, name: &str) -> u64 {
    fields
        .get(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no number {name}= in {fields:?}"))
}

/// The keys of the `WORD KEY #CHECK` lines (`acked`, `present`): complete lines whose check
/// word matches their key only, so that a console that lost or mixed bytes can never forge
/// a key (it can only hide one).
fn keys<'a>(console: &'a str, word: &str) -> Vec<&'a str> {
    complete_lines(console)
        .filter_map(|l| checked_key(l, word))
        .collect()
}

/// The key of a `WORD KEY #CHECK` line if its check word is right.
fn checked_key<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    let (key, check) = line
        .strip_prefix(word)?
        .strip_prefix(' ')?
        .rsplit_once(" #")?;
    (check.len() == 8 && u32::from_str_radix(check, 16).ok()? == line_check(key)).then_some(key)
}

/// storectl's check word: 32-bit FNV-1a of the key.
fn line_check(key: &str) -> u32 {
    key.bytes().fold(0x811c_9dc5, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// `verify --list` on `disk`: asserts it ends `verify: keys=N batches=M ok` and returns
/// the keys it found present, with N.
#[track_caller]
fn verify(disk: &Path, limit: Duration) -> (HashSet<String>, u64) {
    let out = Run::new("storectl")
        .disk(disk)
        .args(&["verify", "--list"])
        .timeout(limit)
        .go();
    assert_status(&out, 0);
    let last = complete_lines(&out.console)
        .filter(|l| l.starts_with("verify: "))
        .last()
        .unwrap_or_else(|| panic!("no verify: line; console:\n{}", out.console));
    assert!(
        last.starts_with("verify: keys=") && last.ends_with(" ok"),
        "verify did not end ok: {last:?}"
    );
    let found = fields(&out, "verify: ");
    let present: HashSet<String> = keys(&out.console, "present")
        .into_iter()
        .map(String::from)
        .collect();
    let n = number(&found, "keys");
    assert!(
        present.len() as u64 <= n,
        "verify counted {n} keys but listed {}",
        present.len()
    );
    if (present.len() as u64) < n {
        eprintln!(
            "verify counted {n} keys; {} of its lines were garbled on the console",
            n - present.len() as u64
        );
    }
    (present, n)
}

#[test]
fn quickstart_data_survives_a_reboot_and_delete_scan_stats_work() {
    let img = TestDisk::new("quickstart.img", 64);
    storectl_ok(&img, &["format"]);
    let out = storectl_ok(&img, &["put", "greeting", "hello"]);
    assert_line(&out, "ok");
    // A new boot: nothing but the disk carries the value over.
    let out = storectl_ok(&img, &["get", "greeting"]);
    assert_line(&out, "hello");

    let out = storectl_ok(&img, &["stats"]);
    let stats = fields(&out, "stats: ");
    assert_eq!(number(&stats, "records"), 1, "{stats:?}");
    let live = number(&stats, "live_bytes");
    let log = number(&stats, "log_bytes");
    let capacity = number(&stats, "capacity");
    let free = number(&stats, "free");
    assert!(live > 0 && live <= log, "{stats:?}");
    assert!(capacity > 32 * MIB && capacity <= 64 * MIB, "{stats:?}");
    assert!(free < capacity && free + log <= capacity, "{stats:?}");
    assert_eq!(number(&stats, "compactions"), 0, "{stats:?}");
    assert!(stats.contains_key("last_compaction"), "{stats:?}");
    assert_eq!(stats["durability"], "durable", "{stats:?}");

    let out = storectl_ok(&img, &["delete", "greeting"]);
    assert_line(&out, "deleted");
    let out = storectl(&img, &["get", "greeting"]);
    assert_error(&out, NOT_FOUND, &["storectl: greeting: not found"]);
    let out = storectl_ok(&img, &["delete", "greeting"]);
    assert_line(&out, "not found");

    // Put out of order; scan gives key order.
    for (key, value) in [("b", "2"), ("a", "1"), ("c", "3"), ("ab", "12")] {
        storectl_ok(&img, &["put", key, value]);
    }
    let out = storectl_ok(&img, &["scan"]);
    assert_eq!(
        scanned(&out),
        ["a=1", "ab=12", "b=2", "c=3"],
        "{}",
        out.console
    );
    let out = storectl_ok(&img, &["scan", "a"]);
    assert_eq!(scanned(&out), ["a=1", "ab=12"], "{}", out.console);
    let out = storectl_ok(&img, &["scan", "--limit", "3"]);
    assert_eq!(scanned(&out), ["a=1", "ab=12", "b=2"], "{}", out.console);
    let out = storectl_ok(&img, &["scan", "zz"]);
    assert_eq!(scanned(&out), Vec::<&str>::new(), "{}", out.console);
    let stats = fields(&storectl_ok(&img, &["stats"]), "stats: ");
    assert_eq!(number(&stats, "records"), 4, "{stats:?}");
}

#[test]
fn disks_that_are_not_stores_are_refused_unless_formatted_with_force() {
    // Empty and never formatted: not a store, and nothing is written to it.
    let img = TestDisk::new("empty.img", 16);
    let out = storectl(&img, &["get", "greeting"]);
    assert_error(&out, NOT_A_STORE, &["vda"]);
    let out = storectl(&img, &["put", "greeting", "hello"]);
    assert_error(&out, NOT_A_STORE, &["vda"]);
    let bytes = std::fs::read(&*img).unwrap();
    assert!(
        bytes.iter().all(|&b| b == 0),
        "a refused disk was written to"
    );

    // An ext4 filesystem: format refuses it unless forced.
    let tree = TestDisk::dir().join("ext4-tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("precious.txt"), b"keep me\n").unwrap();
    let ext4 = boot::diskfrom::ext4_image_from_dir(&tree).unwrap_or_else(|e| panic!("{e}"));
    let img = TestDisk::copy_of("ext4.img", &ext4);
    let out = storectl(&img, &["format"]);
    assert_error(&out, NOT_A_STORE, &["vda"]);
    let out = storectl(&img, &["get", "greeting"]);
    assert_error(&out, NOT_A_STORE, &["vda"]);
    assert_eq!(
        std::fs::read(&*img).unwrap(),
        std::fs::read(&ext4).unwrap(),
        "a refused ext4 disk was changed"
    );
    storectl_ok(&img, &["format", "--force"]);
    storectl_ok(&img, &["put", "greeting", "hello"]);
    assert_line(&storectl_ok(&img, &["get", "greeting"]), "hello");

    // No disk at all, or not the one named.
    let out = Run::new("storectl").args(&["get", "greeting"]).go();
    assert_error(&out, 1, &["vda"]);
    let out = storectl(&img, &["--disk", "vdb", "get", "greeting"]);
    assert_error(&out, 1, &["vdb"]);
}

#[test]
fn selftest_passes_in_the_guest() {
    let img = TestDisk::new("selftest.img", 16);
    let out = Run::new("storectl")
        .disk(&*img)
        .args(&["selftest"])
        .timeout(Duration::from_secs(120))
        .go();
    assert_status(&out, 0);
    assert_line(&out, "selftest: ok");
}

#[test]
fn a_full_disk_refuses_puts_but_reads_deletes_and_compaction_still_work() {
    let img = TestDisk::new("full.img", 4);
    storectl_ok(&img, &["format"]);
    let out = Run::new("storectl")
        .disk(&*img)
        .args(&["fill", "1000000", "--prefix", "f-"])
        .timeout(Duration::from_secs(240))
        .go();
    assert_error(&out, STORAGE_FULL, &["storage full"]);
    let acked: Vec<String> = keys(&out.console, "acked")
        .into_iter()
        .map(String::from)
        .collect();
    assert!(acked.len() > 1000, "only {} puts acked", acked.len());

    // Next boot: every acknowledged key is there and reads back.
    let (present, _) = verify(&img, Duration::from_secs(120));
    let missing: Vec<&String> = acked.iter().filter(|k| !present.contains(*k)).collect();
    assert!(missing.is_empty(), "acked but missing: {missing:?}");
    let (first, second) = (&acked[0], &acked[1]);
    let out = storectl_ok(&img, &["get", first]);
    assert!(
        complete_lines(&out.console).any(|l| !l.is_empty()),
        "{}",
        out.console
    );
    // Still full after the reboot (a few more puts may fit in what the store reclaims);
    // delete and compaction use the reserved space.
    let out = Run::new("storectl")
        .disk(&*img)
        .args(&["fill", "100000", "--prefix", "g-"])
        .timeout(Duration::from_secs(120))
        .go();
    assert_error(&out, STORAGE_FULL, &["storage full"]);
    for key in [first, second] {
        assert_line(&storectl_ok(&img, &["delete", key]), "deleted");
    }
    let out = storectl_ok(&img, &["compact"]);
    assert_line(&out, "compaction started");
    assert_console(&out, "compaction done");
    let stats = fields(&storectl_ok(&img, &["stats"]), "stats: ");
    assert!(number(&stats, "compactions") >= 1, "{stats:?}");
    assert_line(&storectl_ok(&img, &["put", "after-full", "x"]), "ok");
    assert_line(&storectl_ok(&img, &["get", "after-full"]), "x");
    let out = storectl(&img, &["get", first]);
    assert_error(&out, NOT_FOUND, &[first]);
}

#[test]
fn a_read_only_disk_serves_reads_and_refuses_writes() {
    let img = TestDisk::new("ro.img", 16);
    storectl_ok(&img, &["format"]);
    storectl_ok(&img, &["put", "greeting", "hello"]);
    let before = std::fs::read(&*img).unwrap();
    let ro = |args: &[&str]| Run::new("storectl").disk_ro(&*img).args(args).go();
    let out = ro(&["get", "greeting"]);
    assert_status(&out, 0);
    assert_line(&out, "hello");
    let out = ro(&["stats"]);
    assert_status(&out, 0);
    assert_eq!(number(&fields(&out, "stats: "), "records"), 1);
    assert_error(&ro(&["put", "greeting", "bye"]), READ_ONLY, &[]);
    assert_error(&ro(&["delete", "greeting"]), READ_ONLY, &[]);
    assert_eq!(std::fs::read(&*img).unwrap(), before, "the disk changed");
    assert_line(&storectl_ok(&img, &["get", "greeting"]), "hello");
}

#[test]
fn a_device_error_fails_every_pending_writer_and_the_next_boot_recovers() {
    let img = TestDisk::new("faulty.img", 16);
    storectl_ok(&img, &["format"]);
    // blkdebug counts the flushes in its state (1, 2, ...): the first four succeed, the
    // fifth and every request after it fail with EIO.
    let rules = img.0.with_extension("blkdebug");
    let mut text = String::new();
    for state in 1..5 {
        text += &format!(
            "[set-state]\nevent = \"flush_to_disk\"\nstate = \"{state}\"\nnew_state = \"{}\"\n\n",
            state + 1
        );
    }
    text += "[inject-error]\nevent = \"flush_to_disk\"\nstate = \"5\"\nerrno = \"5\"\n";
    std::fs::write(&rules, text).unwrap();
    let drive = format!(
        "file=blkdebug:{}:{},format=raw,if=none,id=vd0,werror=report,rerror=report,cache=writeback",
        rules.display(),
        img.display()
    );
    let out = Run::new("storectl")
        .qemu_args(&["-drive", &drive, "-device", "virtio-blk-device,drive=vd0"])
        .args(&["fill", "100000", "--prefix", "e-"])
        .timeout(Duration::from_secs(120))
        .go();
    assert!(
        [DEVICE_ERROR, READ_ONLY].contains(&out.status),
        "expected status {DEVICE_ERROR} (or {READ_ONLY}), got {} ({:?}); console:\n{}",
        out.status,
        out.meaning,
        out.console
    );
    let line = assert_error(&out, out.status, &["vda"]);
    if out.status == DEVICE_ERROR {
        assert!(line.contains("device error"), "{line:?}");
    }
    assert!(!out.console.contains("fill: done"), "{}", out.console);
    let acked: Vec<&str> = keys(&out.console, "acked");

    // The next boot on the healthy disk: a consistent store holding every acked key.
    let (present, _) = verify(&img, Duration::from_secs(60));
    let missing: Vec<&&str> = acked.iter().filter(|k| !present.contains(**k)).collect();
    assert!(missing.is_empty(), "acked but missing: {missing:?}");
    storectl_ok(&img, &["put", "after-error", "fine"]);
    assert_line(&storectl_ok(&img, &["get", "after-error"]), "fine");
}

/// The power cut the tests below rely on, shown with `blkcheck` (no store involved): a
/// flushed write through nbdkit survives killing it; unflushed writes do not, though they
/// do survive killing QEMU alone on a plain file.
#[test]
fn nbdkit_power_cut_keeps_flushed_writes_and_drops_unflushed_ones() {
    let img = TestDisk::new("nbd-plumbing.img", 4);
    let mut server = NbdServer::spawn(&img).unwrap_or_else(|e| panic!("{e}"));
    let out = Run::new("blkcheck")
        .disk_spec(server.disk_spec())
        .args(&["write", "7"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "1 flushes, 0 errors");
    server.kill_hard();
    let out = Run::new("blkcheck").disk(&*img).args(&["verify", "7"]).go();
    assert_status(&out, 0);
    let flushed = std::fs::read(&*img).unwrap();

    // Sequential 4 KiB writes of 0x5a, never flushed, killed mid-run.
    let unflushed_writes = |run: Run| {
        let guest = run
            .args(&["bench", "seqwrite", "4096", "4", "30"])
            .timeout(Duration::from_secs(60))
            .spawn();
        std::thread::sleep(Duration::from_millis(1500));
        assert!(guest.is_running(), "{}", guest.console());
        guest.kill_hard();
    };
    let mut server = NbdServer::spawn(&img).unwrap_or_else(|e| panic!("{e}"));
    unflushed_writes(Run::new("blkcheck").disk_spec(server.disk_spec()));
    server.kill_hard();
    assert!(
        std::fs::read(&*img).unwrap() == flushed,
        "unflushed writes through nbdkit reached the file"
    );
    unflushed_writes(Run::new("blkcheck").disk(&*img));
    let after = std::fs::read(&*img).unwrap();
    assert!(
        after.chunks(4096).any(|c| c.iter().all(|&b| b == 0x5a)),
        "no write reached the plain file: the guest wrote nothing before the kill"
    );
}

/// Power cuts: rounds of `fill` on a disk served by nbdkit, both killed at a random
/// moment, then a `verify --list` boot on the file itself.
struct PowerCuts {
    disk: TestDisk,
    /// How long nbdkit holds each write ([`NbdServer::spawn_slow`]).
    write_delay: Duration,
    seed: u64,
    rng: u64,
    /// Every key acknowledged in any round so far.
    acked: HashSet<String>,
    /// Keys the last `verify` found.
    present: u64,
    /// Rounds whose kill came while `fill` still ran, and (with `--compact`) while the
    /// compaction did.
    cut_mid_write: u32,
    cut_mid_compaction: u32,
    start: Instant,
}

/// QEMU's limit for one round; the kill comes long before.
const ROUND_LIMIT: Duration = Duration::from_secs(90);

impl PowerCuts {
    /// A formatted disk of `mib` MiB, served with writes held `write_delay` (or
    /// `STORE_POWER_CUT_WRITE_DELAY_MS`), and a seed for the kill moments:
    /// `STORE_POWER_CUT_SEED` to replay a failure, else the clock.
    fn new(name: &str, mib: u64, write_delay: Duration) -> Self {
        let env = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
        let seed = env("STORE_POWER_CUT_SEED").unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        let write_delay =
            env("STORE_POWER_CUT_WRITE_DELAY_MS").map_or(write_delay, Duration::from_millis);
        eprintln!(
            "{name}: seed {seed} (STORE_POWER_CUT_SEED={seed} replays the kill moments), \
             writes held {write_delay:?}"
        );
        let disk = TestDisk::new(name, mib);
        storectl_ok(&disk, &["format"]);
        Self {
            disk,
            write_delay,
            seed,
            rng: seed,
            acked: HashSet::new(),
            present: 0,
            cut_mid_write: 0,
            cut_mid_compaction: 0,
            start: Instant::now(),
        }
    }

    /// A uniform pick from `range` (splitmix64).
    fn pick(&mut self, range: std::ops::Range<u64>) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        range.start + z % (range.end - range.start)
    }

    /// Adds the keys a run acknowledged.
    fn note_acked(&mut self, out: &Outcome) {
        self.acked
            .extend(keys(&out.console, "acked").into_iter().map(String::from));
    }

    /// One round: nbdkit serves the disk, `storectl fill_args` runs until the console
    /// shows `trigger`, then `delay` later QEMU and nbdkit are killed (SIGKILL, QEMU
    /// first); then a boot on the file checks every key acknowledged in this round or an
    /// earlier one.
    fn round(&mut self, round: u32, fill_args: &[&str], trigger: &str, delay: Duration) {
        let what = format!(
            "round {round} (seed {}, kill {delay:?} after {trigger:?}, fill {fill_args:?})",
            self.seed
        );
        let mut server =
            NbdServer::spawn_slow(&self.disk, self.write_delay).unwrap_or_else(|e| panic!("{e}"));
        let guest = Run::new("storectl")
            .disk_spec(server.disk_spec())
            .args(fill_args)
            .timeout(ROUND_LIMIT)
            .spawn();
        guest.wait_for_console(trigger, Duration::from_secs(60));
        std::thread::sleep(delay);
        let out = guest.kill_hard();
        server.kill_hard();

        let console = &out.console;
        let saved = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "{}-round-{round}.console",
            self.disk.file_stem().unwrap().to_string_lossy()
        ));
        std::fs::write(&saved, console).unwrap();
        // A line fill does not print is a failure, unless it is a garbled one (which the
        // check words keep from counting as an ack): those are only reported.
        let (garbled, unexpected): (Vec<&str>, Vec<&str>) = complete_lines(console)
            .filter(|l| !well_formed(l))
            .partition(|l| !l.contains("storectl:") && !l.contains("panic"));
        assert!(
            unexpected.is_empty(),
            "{what}: {} failure lines on the console (saved in {}): {:?}\nnbdkit:\n{}",
            unexpected.len(),
            saved.display(),
            &unexpected[..unexpected.len().min(10)],
            server.log()
        );
        if !garbled.is_empty() {
            eprintln!(
                "{what}: {} garbled console lines ignored (first: {:?})",
                garbled.len(),
                garbled[0]
            );
        }
        if !console.contains("fill: done") {
            self.cut_mid_write += 1;
        }
        if console.contains("compaction started") && !console.contains("compaction done") {
            self.cut_mid_compaction += 1;
        }
        let acked_before = self.acked.len();
        self.note_acked(&out);
        let acked_now = self.acked.len() - acked_before;
        assert!(
            acked_now > 0,
            "{what}: nothing acked; console saved in {}",
            saved.display()
        );

        let (present, n) = verify(&self.disk, Duration::from_secs(120));
        let mut missing: Vec<&String> = self
            .acked
            .iter()
            .filter(|k| !present.contains(*k))
            .collect();
        missing.sort();
        // A `present` line the console garbled hides a key: ask for those keys one by one.
        if !missing.is_empty() && missing.len() <= 5 {
            missing.retain(|k| {
                let out = Run::new("storectl")
                    .disk(&*self.disk)
                    .args(&["get", k.as_str()])
                    .timeout(Duration::from_secs(60))
                    .go();
                out.status != 0
            });
        }
        if let Some(first) = missing.first() {
            // What the console said about the first missing key's batch.
            let base = first.rsplit_once('.').map_or(first.as_str(), |(b, _)| b);
            let about: Vec<&str> = console.lines().filter(|l| l.contains(base)).collect();
            panic!(
                "{what}: {} acknowledged keys are missing after the power cut (first: {:?}); \
                 console lines naming {base:?}: {about:?}; {} acks of a batch's second key \
                 not right after its first (a sign of a garbled console); the round's \
                 console is saved in {}",
                missing.len(),
                &missing[..missing.len().min(10)],
                split_pairs(console),
                saved.display()
            );
        }
        self.present = n;
        eprintln!(
            "{what}: {acked_now} acked, {} in all, verify found {n} keys ({:.1?} so far)",
            self.acked.len(),
            self.start.elapsed()
        );
    }

    /// After the last round: the store still takes a write and reads it back.
    fn still_writable(&self) {
        storectl_ok(&self.disk, &["put", "after-cuts", "alive"]);
        assert_line(&storectl_ok(&self.disk, &["get", "after-cuts"]), "alive");
    }
}

/// Whether a line of a power-cut round's console is one `fill` prints: `acked KEY` with a
/// key of the form `{prefix}w{writer}-{i}[.{j}of{k}]`, or a compaction or summary line,
/// or the kernel's watchdog warning (a long replay at open can trip it). A garbled line
/// would be a console that lost or mixed bytes, and could forge an ack.
fn well_formed(line: &str) -> bool {
    if line.starts_with("acked ") && checked_key(line, "acked").is_none() {
        return false;
    }
    let Some(key) = checked_key(line, "acked") else {
        return [
            "compaction started",
            "compaction done ",
            "fill: done ",
            "watchdog: task ",
        ]
        .iter()
        .any(|p| line.starts_with(p));
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let Some((head, tail)) = key.rsplit_once('w') else {
        return false;
    };
    let (writer, rest) = tail.split_once('-').unwrap_or(("", ""));
    let (i, member) = rest.split_once('.').unwrap_or((rest, ""));
    let member_ok = member.is_empty()
        || member
            .split_once("of")
            .is_some_and(|(j, k)| digits(j) && digits(k));
    head.len() <= 8 && !head.contains(' ') && digits(writer) && digits(i) && member_ok
}

/// How many `acked B.1of2` lines do not follow `acked B.0of2` directly: `fill` prints
/// a batch's acks together, so any would mean the console lost or mixed bytes.
fn split_pairs(console: &str) -> usize {
    let acks: Vec<Option<&str>> = complete_lines(console)
        .map(|l| checked_key(l, "acked"))
        .collect();
    acks.iter()
        .enumerate()
        .filter(|(i, k)| {
            k.and_then(|k| k.strip_suffix(".1of2"))
                .is_some_and(|base| *i == 0 || acks[i - 1] != Some(format!("{base}.0of2").as_str()))
        })
        .count()
}

/// Rounds of each power-cut test: 20, or `STORE_POWER_CUT_ROUNDS`.
fn rounds() -> u32 {
    std::env::var("STORE_POWER_CUT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

/// Writes held 50 ms: 64 writers then get about 2,500 keys a second acknowledged under
/// TCG (about 15,000 unheld), so that the `verify` after each round, which reads every
/// key of every round so far (about 0.1 ms each), keeps the test near two minutes.
const MID_WRITE_DELAY: Duration = Duration::from_millis(50);

#[test]
fn power_cut_mid_write_loses_no_acknowledged_put() {
    let mut cuts = PowerCuts::new("power-cut.img", 64, MID_WRITE_DELAY);
    for round in 0..rounds() {
        let prefix = format!("r{round}-");
        let delay = Duration::from_millis(cuts.pick(100..2500));
        let args = [
            "fill",
            "200000",
            "--writers",
            "64",
            "--batch",
            "2",
            "--prefix",
            &prefix,
        ];
        cuts.round(round, &args, "acked ", delay);
    }
    assert_eq!(
        cuts.cut_mid_write,
        rounds(),
        "some fills ended before the kill (seed {})",
        cuts.seed
    );
    cuts.still_writable();
}

/// Writes held 10 ms: a compaction then copies about 13,000 keys a second under TCG.
const MID_COMPACTION_DELAY: Duration = Duration::from_millis(10);
/// Keys of each compaction round's `fill` (the compaction starts after half of them).
const COMPACTION_FILL: &str = "2000";

#[test]
fn power_cut_mid_compaction_loses_no_acknowledged_put() {
    let mut cuts = PowerCuts::new("power-cut-compaction.img", 64, MID_COMPACTION_DELAY);
    // Garbage for the compaction to reclaim: (mostly) the same keys written twice.
    for _ in 0..2 {
        let out = Run::new("storectl")
            .disk(&*cuts.disk)
            .args(&["fill", "3000", "--batch", "2", "--prefix", "old-"])
            .timeout(Duration::from_secs(120))
            .go();
        assert_status(&out, 0);
        assert_console(&out, "fill: done puts=3000");
        cuts.note_acked(&out);
    }
    let stats = fields(&storectl_ok(&cuts.disk, &["stats"]), "stats: ");
    assert!(
        number(&stats, "log_bytes") > number(&stats, "live_bytes") * 3 / 2,
        "no garbage to compact: {stats:?}"
    );
    cuts.present = number(&stats, "records");
    for round in 0..rounds() {
        let prefix = format!("c{round}-");
        // Over the compaction, which copies every live key (about 13 a millisecond
        // here, fewer on a busier machine), and about a third of the time after its end.
        let delay = Duration::from_millis(cuts.pick(0..(cuts.present / 8).max(300)));
        let args = [
            "fill",
            COMPACTION_FILL,
            "--writers",
            "64",
            "--batch",
            "2",
            "--compact",
            "--prefix",
            &prefix,
        ];
        cuts.round(round, &args, "compaction started", delay);
    }
    assert!(
        cuts.cut_mid_compaction >= rounds() / 3,
        "only {} of {} kills came during a compaction (seed {}): lengthen the delays",
        cuts.cut_mid_compaction,
        rounds(),
        cuts.seed
    );
    cuts.still_writable();
}

#[test]
fn the_relaxed_mode_is_named_and_commits_what_it_acknowledged_on_close() {
    let img = TestDisk::new("relaxed.img", 16);
    storectl_ok(&img, &["format"]);
    let out = storectl_ok(
        &img,
        &["--durability", "everysec", "fill", "500", "--writers", "8"],
    );
    assert_console(&out, "fill: done puts=500");
    let stats = storectl_ok(&img, &["--durability", "everysec", "stats"]);
    assert_console(&stats, "durability=relaxed-1000ms");
    // Closing the store committed every acknowledged put: a new boot finds them all.
    let (present, n) = verify(&img, Duration::from_secs(60));
    assert_eq!(n, 500, "{present:?}");
}
