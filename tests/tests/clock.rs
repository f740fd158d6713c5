//! The clock and sleep against the host's clock, and a KVM smoke test (ignored by default;
//! `scripts/test.sh` runs it where KVM works and counts it as skipped elsewhere).

use boot::qemu::{Accel, kvm_usable};
use std::time::Duration;
use tests::{Run, assert_console, assert_status};

fn guest_slept_us(console: &str) -> u64 {
    console
        .lines()
        .find_map(|l| l.strip_prefix("slept ")?.strip_suffix(" us")?.parse().ok())
        .unwrap_or_else(|| panic!("no 'slept N us' line:\n{console}"))
}

#[test]
fn sleep_200ms_takes_about_200ms_of_host_time() {
    // The difference between a 200 ms and a 0 ms sleep cancels QEMU's start-up time.
    let short = Run::new("testkernel").args(&["sleep", "0"]).go();
    let long = Run::new("testkernel").args(&["sleep", "200"]).go();
    assert_status(&short, 0);
    assert_status(&long, 0);
    let slept = guest_slept_us(&long.console);
    assert!(slept >= 200_000, "guest woke early: {slept} us");
    let host = long.wall.saturating_sub(short.wall);
    assert!(
        host >= Duration::from_millis(150) && host <= Duration::from_secs(2),
        "guest sleep(200 ms) took {host:?} of host time (runs: {:?} and {:?})",
        long.wall,
        short.wall
    );
}

#[test]
#[ignore = "needs a usable /dev/kvm: scripts/test.sh runs it where KVM works"]
fn kvm_smoke_test() {
    assert!(kvm_usable(), "/dev/kvm is not usable here");
    let out = Run::new("hello").args(&["kvm"]).accel(Accel::Kvm).go();
    assert_status(&out, 0);
    assert_console(&out, "Hello");
    assert_console(&out, "args: [\"kvm\"]");
    let out = Run::new("testkernel")
        .args(&["page-fault"])
        .accel(Accel::Kvm)
        .go();
    assert_status(&out, 101);
    assert_console(&out, "in testkernel::read_unmapped_memory+0x");
    let out = Run::new("testkernel")
        .args(&["sleep", "50"])
        .accel(Accel::Kvm)
        .go();
    assert_status(&out, 0);
    assert!(guest_slept_us(&out.console) >= 50_000);
}

#[test]
fn missing_pit_is_a_clear_clock_error_not_a_hang() {
    if tests::skip_under_kvm("KVM tells the TSC frequency, so no PIT is needed") {
        return;
    }
    // TCG offers no CPUID or kvmclock frequency, so the PIT is the only clock to calibrate
    // the TSC against; take it away.
    let out = Run::new("testkernel")
        .args(&["sleep", "10"])
        .qemu_args(&["-machine", "pit=off"])
        .go();
    assert_status(&out, 101);
    assert_console(
        &out,
        "fatal: clock: PIT channel 0 does not count (is the PIT disabled?)",
    );
}
