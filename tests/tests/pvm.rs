//! What this host's PVM (`kvm_pvm`) offers a guest (issue 11): the `testkernel pvm-probe`
//! scenarios under KVM, their findings printed as a table beside the host module's
//! parameters (which the guest cannot see), and checked where later work depends on them.
//! `docs/pvm.md` explains each row.
//!
//! Under KVM only where `/dev/kvm` is `kvm_pvm`: `scripts/test.sh` runs the `kvm_*` tests
//! where KVM works, and this one reports itself skipped on a KVM that is not `kvm_pvm`.
//! The ring-3 machinery itself also runs under TCG, in every test run.

use boot::qemu::{Accel, kvm_is_pvm, kvm_usable};
use std::time::Duration;
use tests::{Run, assert_console, assert_status};

/// The `pvm-probe` lines of a run, without the prefix.
fn findings(console: &str) -> Vec<&str> {
    console
        .lines()
        .filter_map(|l| l.strip_prefix("pvm-probe "))
        .collect()
}

/// The value after `key: ` on its first line.
fn finding<'a>(lines: &[&'a str], key: &str) -> &'a str {
    let prefix = format!("{key}: ");
    lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no '{key}' finding in:\n{}", lines.join("\n")))
}

fn hex(word: &str) -> u64 {
    let digits = word.trim().trim_start_matches("0x");
    u64::from_str_radix(digits, 16).unwrap_or_else(|_| panic!("not a hex number: {word:?}"))
}

/// How the ring-3 trip through `exit` came back, e.g. "exception 3".
fn came_back_by<'a>(lines: &[&'a str], op: &str, exit: &str) -> &'a str {
    let prefix = format!("ring3 {op} via {exit}: back by ");
    let event = lines
        .iter()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| {
            panic!(
                "ring 3 {op} via {exit} did not come back:\n{}",
                lines.join("\n")
            )
        });
    event.split(',').next().unwrap()
}

const EXITS: [(&str, &str, &str); 7] = [
    ("int80", "exception 6", "interrupt 0x80"),
    ("int3", "exception 3", "exception 3"),
    ("page-fault", "exception 14", "exception 14"),
    ("timer", "interrupt 0x30", "interrupt 0x30"),
    ("device", "interrupt 0x", "interrupt 0x"),
    ("syscall", "exception 14", "syscall"),
    ("hlt", "exception 13", "exception 13"),
];

/// The CS a fault report shows: where the faulting code ran.
fn faulting_cs(console: &str) -> &str {
    console
        .lines()
        .find_map(|l| l.trim().split(" cs ").nth(1)?.split(' ').next())
        .unwrap_or_else(|| panic!("no fault report with cs:\n{console}"))
}

#[test]
fn pvm_on_runs_tasks_at_ring3_and_off_at_ring0() {
    let ring3 = Run::new("testkernel")
        .args(&["page-fault"])
        .options("pvm=on log=info")
        .accel(Accel::Tcg)
        .go();
    assert_status(&ring3, 101);
    assert_console(&ring3, "pvm: tasks run at ring 3 (pvm=on)");
    assert_console(&ring3, "in testkernel::read_unmapped_memory+0x");
    assert_eq!(faulting_cs(&ring3.console), "0x33", "{}", ring3.console);
    let ring0 = Run::new("testkernel")
        .args(&["page-fault"])
        .options("pvm=off log=info")
        .accel(Accel::Tcg)
        .go();
    assert_status(&ring0, 101);
    assert_console(&ring0, "pvm: tasks run at ring 0 (pvm=off)");
    assert_eq!(faulting_cs(&ring0.console), "0x8", "{}", ring0.console);
    // Unset under TCG: not a PVM host, ring 0, said only at debug level.
    let default = Run::new("testkernel")
        .args(&["page-fault"])
        .options("log=debug")
        .accel(Accel::Tcg)
        .go();
    assert_console(&default, "pvm: not a PVM host: tasks run at ring 0");
    assert_eq!(faulting_cs(&default.console), "0x8");
    let bad = Run::new("testkernel").options("pvm=maybe").go();
    assert_status(&bad, 2);
    assert_console(
        &bad,
        "pvm=maybe: invalid value 'maybe' (expected on or off)",
    );
}

#[test]
fn ring3_tasks_survive_threads_sleep_and_the_watchdog_under_tcg() {
    // The whole integration suite passes with pvm=on forced (checked when this mode was
    // built); these runs keep the parts most particular to it covered in every test run:
    // interrupts held while masked, halting through ring 0, stacks kept for reuse.
    let run = |args: &[&str]| {
        Run::new("testkernel")
            .args(args)
            .options("pvm=on")
            .accel(Accel::Tcg)
            .go()
    };
    let out = run(&["threads", "200"]);
    assert_status(&out, 0);
    assert_console(&out, "joined 200 threads, sum 39800");
    let out = run(&["sleep-order"]);
    assert_status(&out, 0);
    assert_console(&out, "woke in order [10, 20, 30, 40, 50]");
    let out = run(&["busy", "300"]);
    assert_status(&out, 0);
    assert_console(&out, "watchdog: task 'spinner' has run ");
    let out = run(&["thread-overflow"]);
    assert_status(&out, 101);
    assert_console(
        &out,
        "fatal: stack overflow: stack 'deep' hit its guard page",
    );
}

#[test]
#[ignore = "needs /dev/kvm served by kvm_pvm: scripts/test.sh runs it where KVM works"]
fn kvm_pvm_host_runs_tasks_at_ring3_unless_told_not_to() {
    if !kvm_usable() || !kvm_is_pvm() {
        println!(
            "kvm_pvm_host_runs_tasks_at_ring3_unless_told_not_to: skipped (/dev/kvm is not kvm_pvm here)"
        );
        return;
    }
    let run = |options: &str| {
        Run::new("testkernel")
            .args(&["page-fault"])
            .options(options)
            .accel(Accel::Kvm)
            .go()
    };
    let out = run("log=info");
    assert_status(&out, 101);
    assert_console(
        &out,
        "pvm: kvm_pvm detected (MSR 0x4b564d11 reads \"PVM\"): tasks run at ring 3",
    );
    assert_eq!(faulting_cs(&out.console), "0x33", "{}", out.console);
    let out = run("log=info pvm=off");
    assert_status(&out, 101);
    assert_console(&out, "pvm: tasks run at ring 0 (pvm=off)");
    assert_eq!(faulting_cs(&out.console), "0x8", "{}", out.console);
    // A disk image's loader maps memory in the upper half, out of ring 3's reach here.
    let out = Run::with_format("testkernel", boot::image::Format::Bios)
        .args(&["page-fault"])
        .options("log=info")
        .accel(Accel::Kvm)
        .timeout(Duration::from_secs(120))
        .go();
    assert_status(&out, 101);
    assert_console(
        &out,
        "pvm: kvm_pvm detected, but this image's loader mapped memory in the upper half",
    );
    assert_eq!(faulting_cs(&out.console), "0x8", "{}", out.console);
}

#[test]
fn ring3_trips_come_back_through_every_event_under_tcg() {
    let out = Run::new("testkernel")
        .args(&["pvm-probe", "ring3-all", "3"])
        .options("pvm=off")
        .accel(Accel::Tcg)
        .go();
    assert_status(&out, 0);
    let lines = findings(&out.console);
    for (exit, _, tcg) in EXITS {
        let event = came_back_by(&lines, "Loop(1000000)", exit);
        assert!(
            event.starts_with(tcg),
            "via {exit}: {event}, expected {tcg}"
        );
    }
    // TCG runs ring 3 as the hardware would: CS RPL 3, `cli` allowed with IOPL 3.
    let flags = finding(&lines, "ring3 result");
    assert!(flags.starts_with("r12 0x33 "), "{flags}");
    assert_eq!(
        came_back_by(&lines, "ReadLapicVersion", "int3"),
        "exception 3"
    );
}

#[test]
#[ignore = "needs /dev/kvm served by kvm_pvm: scripts/test.sh runs it where KVM works"]
fn kvm_pvm_probe() {
    if !kvm_usable() || !kvm_is_pvm() {
        println!("kvm_pvm_probe: skipped (/dev/kvm is not kvm_pvm here)");
        return;
    }
    let mut table: Vec<(String, String)> = Vec::new();
    let params = std::fs::read_dir("/sys/module/kvm_pvm/parameters").expect("kvm_pvm params");
    let mut params: Vec<(String, String)> = params
        .map(|e| {
            let e = e.unwrap();
            let value = std::fs::read_to_string(e.path()).unwrap_or_else(|e| format!("({e})"));
            (
                e.file_name().to_string_lossy().into_owned(),
                value.trim().to_string(),
            )
        })
        .collect();
    params.sort();
    let params: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    table.push(("host kvm_pvm parameters".into(), params.join(" ")));

    // The probe's own trips to ring 3 assume a kernel at ring 0.
    let kvm = |args: &[&str], limit: u64| {
        Run::new("testkernel")
            .args(args)
            .options("pvm=off")
            .accel(Accel::Kvm)
            .timeout(Duration::from_secs(limit))
            .go()
    };

    // MSRs, CPUID and ring 0's flags.
    let out = kvm(&["pvm-probe", "msrs"], 180);
    assert_status(&out, 0);
    let lines = findings(&out.console);
    for key in ["ring0 cs", "ring0 rflags after cli"] {
        table.push((key.into(), finding(&lines, key).into()));
    }
    let mut faulting = Vec::new();
    for line in lines.iter().filter(|l| l.starts_with("msr ")) {
        let (msr, value) = line["msr ".len()..].split_once(": ").unwrap();
        if value == "#GP" {
            faulting.push(msr);
        } else {
            table.push((format!("rdmsr {msr}"), value.into()));
        }
    }
    table.push(("rdmsr raising #GP".into(), faulting.join(" ")));
    for line in lines
        .iter()
        .filter(|l| l.starts_with("cpuid ") || l.starts_with("synthetic"))
    {
        let (key, value) = line.split_once(": ").unwrap();
        table.push((key.into(), value.into()));
    }
    table.push(("ring0 loop".into(), finding(&lines, "ring0 loop").into()));
    // The facts the probe doc builds on.
    assert_eq!(
        hex(finding(&lines, "msr 0x4b564d11")),
        0x4d5650,
        "PVM signature"
    );
    assert!(faulting.contains(&"0x4b564df0"), "RFC v1 MSRs present?");
    let tsc_hz: u64 = finding(&lines, "tsc-hz").parse().unwrap();
    let d13 = hex(finding(&lines, "msr 0x4b564d13"));
    assert!(
        d13.abs_diff(tsc_hz / 1000) <= tsc_hz / 1_000_000,
        "0x4b564d13 = {d13}, TSC {tsc_hz} Hz: no longer the TSC in kHz?"
    );
    assert!(finding(&lines, "ring0 cs").starts_with("0x8 "));

    // Ring 3: what runs there, and how each event comes back.
    let out = kvm(&["pvm-probe", "ring3-all", "10"], 300);
    assert_status(&out, 0);
    let lines = findings(&out.console);
    for line in lines
        .iter()
        .filter(|l| l.starts_with("ring3 ") && l.contains(": back by"))
    {
        let (key, value) = line.split_once(": ").unwrap();
        table.push((key.into(), value.into()));
    }
    for line in lines.iter().filter(|l| l.starts_with("ring3 cost")) {
        let (key, value) = line.split_once(": ").unwrap();
        table.push((key.into(), value.into()));
    }
    let loops: Vec<&str> = lines
        .iter()
        .filter(|l| l.starts_with("ring3 loop") || l.starts_with("ring0 loop"))
        .take(2)
        .copied()
        .collect();
    table.push(("loop at ring 3 vs ring 0".into(), loops.join("; ")));
    for (exit, pvm, _) in EXITS {
        let event = came_back_by(&lines, "Loop(1000000)", exit);
        assert!(
            event.starts_with(pvm),
            "via {exit}: {event}, expected {pvm}"
        );
    }

    // Writes: d11..d13 refuse them; d10 takes some and the guest does not survive them.
    let out = kvm(&["pvm-probe", "wrmsr-readonly"], 180);
    assert_status(&out, 0);
    let lines = findings(&out.console);
    for line in lines.iter().filter(|l| l.starts_with("wrmsr")) {
        let (key, value) = line.split_once(": ").unwrap();
        table.push((key.into(), value.into()));
        assert_eq!(value, "#GP", "{key}");
    }
    assert_eq!(
        finding(&lines, "msrs before"),
        finding(&lines, "msrs after")
    );
    // d10 is a bit field: bits 0..6 stick, higher ones read back as 0.
    let out = kvm(&["pvm-probe", "wrmsr", "0x4b564d10", "0x1ff"], 180);
    assert_status(&out, 0);
    let lines = findings(&out.console);
    let after = finding(&lines, "msrs after");
    table.push(("wrmsr 0x4b564d10 0x1ff, then read".into(), after.into()));
    assert!(after.starts_with("0x7f "), "{after}");
    table.push((
        "ring 0 after that write".into(),
        finding(&lines, "after write").into(),
    ));
    // Bit 0 makes the next event from ring 3 end the guest; bits 1..4 change nothing seen.
    let out = kvm(&["pvm-probe", "wrmsr", "0x4b564d10", "1", "int3"], 180);
    table.push((
        "wrmsr 0x4b564d10 1, then int3 at ring 3".into(),
        format!("{:?}", out.meaning),
    ));
    assert_status(&out, 125);
    for bit in ["2", "4", "8", "0x10"] {
        let out = kvm(&["pvm-probe", "wrmsr", "0x4b564d10", bit, "int3"], 180);
        assert_status(&out, 0);
        let lines = findings(&out.console);
        let back = came_back_by(&lines, "Flags", "int3");
        table.push((
            format!("wrmsr 0x4b564d10 {bit}, then int3 at ring 3"),
            format!("back by {back}"),
        ));
    }
    // A value with bit 12 set (any page address) stops the guest at the write.
    let out = kvm(&["pvm-probe", "wrmsr", "0x4b564d10", "page+1"], 20);
    table.push((
        "wrmsr 0x4b564d10 (zeroed page | 1)".into(),
        format!("{:?} after {:?}", out.meaning, out.wall),
    ));
    assert_status(&out, 124);

    let width = table.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!("\nPVM probe on this host (see docs/pvm.md):");
    for (key, value) in &table {
        println!("  {key:<width$}  {value}");
    }
}
