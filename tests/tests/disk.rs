//! Disk images (BIOS and UEFI, built with the `bootloader` crate): what only they do.
//! The shared behaviour tests in boot.rs and faults.rs already run from the BIOS image.

use boot::image::{self, Format, Profile};
use boot::qemu::{Accel, RunConfig};
use std::time::Duration;
use tests::{Run, TIMEOUT, assert_console, assert_status};

#[test]
fn uefi_image_greets_under_tcg() {
    let out = Run::with_format("hello", Format::Uefi)
        .args(&["from", "uefi"])
        .go();
    assert_status(&out, 0);
    assert_console(&out, "Hello");
    assert_console(&out, r#"args: ["from", "uefi"]"#);
    // UEFI maps come in many pieces; merged, they fit.
    assert!(!out.console.contains("regions beyond"), "{}", out.console);
}

#[test]
fn built_in_command_line_applies_and_fw_cfg_overrides_it() {
    let (_, path) = image::build_format(
        "testkernel",
        Profile::Release,
        Format::Bios,
        "-- args baked",
    )
    .expect("building the image");
    let mut config = RunConfig::new(&path);
    config.format = Format::Bios;
    config.accel = Accel::Tcg;
    config.timeout = Some(TIMEOUT);
    let out = config.run_captured().expect("running QEMU");
    assert_status(&out, 0);
    assert_console(&out, "arg[2] = \"baked\"");

    config.app_args = vec!["args".into(), "given".into()];
    let out = config.run_captured().expect("running QEMU");
    assert_status(&out, 0);
    assert_console(&out, "arg[2] = \"given\"");
    assert!(!out.console.contains("baked"), "{}", out.console);
}

#[test]
fn bios_image_sleeps_on_the_apic_timer() {
    let out = Run::with_format("testkernel", Format::Bios)
        .args(&["sleep", "100"])
        .timeout(Duration::from_secs(60))
        .go();
    assert_status(&out, 0);
    let slept: u64 = out
        .console
        .lines()
        .find_map(|l| l.strip_prefix("slept ")?.strip_suffix(" us")?.parse().ok())
        .unwrap_or_else(|| panic!("no 'slept' line:\n{}", out.console));
    assert!((100_000..2_000_000).contains(&slept), "slept {slept} us");
}
