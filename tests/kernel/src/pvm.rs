//! `testkernel pvm-probe ...`: what the hypervisor underneath offers a PVM guest, one
//! finding per console line (`pvm-probe KEY: VALUE`) for `tests/tests/pvm.rs` to collect.
//!
//! - `msrs`: ring 0's CS and RFLAGS after `cli`; reads of every candidate PVM MSR (a #GP is
//!   recorded, not fatal); plain and synthetic CPUID at ring 0; a ring-0 loop's speed.
//! - `ring3 OP EXIT [ROUNDS]`: runs OP (`loop:N`, `cpuid:LEAF`, `flags`, `read:ADDRESS`,
//!   `lapic` for the local APIC's version register, `bare:N` for N round trips to ring 0
//!   that do nothing there) at ring 3 and
//!   comes back through EXIT (`int80`, `int3`, `page-fault`, `timer`, `device`, `syscall`,
//!   `hlt`, `end-run`); with ROUNDS > 1, the delivery and round-trip costs over that many
//!   quiet trips; `loud` after ROUNDS has ring 3 print its findings on COM1 itself before
//!   it leaves (for hypervisors that might not deliver the event back; a #GP under
//!   kvm_pvm). A trip whose event is not delivered never comes back: the run ends however
//!   the hypervisor ends it.
//! - `ring3-all [ROUNDS]`: the ops that read something at ring 3 (leaving by `int3`), then
//!   a loop leaving by each EXIT but `end-run`, with costs over ROUNDS trips (default 10).
//! - `wrmsr-readonly`: writes this host's PVM MSRs with values expected to be refused.
//! - `wrmsr MSR VALUE [EXIT]`: the PVM MSRs before and after writing VALUE (a number, or
//!   `page` for the physical address of a zeroed page, whose changes are shown, or
//!   `page+1` for that address with bit 0 set), then
//!   optionally a ring-3 trip through EXIT.

use kernel::selftest::pvm::{self, Exit, Op, UserEvent};
use libos::prelude::*;
use libos::{println, time};

/// This host's PVM MSRs, and the published layouts' (RFC v1 and virt-pvm, a fork).
const PVM_MSRS: [u32; 4] = [0x4b56_4d10, 0x4b56_4d11, 0x4b56_4d12, 0x4b56_4d13];

pub fn main(args: &[String]) -> Result<(), String> {
    let word = |i: usize| args.get(i).map(String::as_str).unwrap_or("");
    println!("pvm-probe tsc-hz: {}", kernel::time::tsc_hz());
    match word(0) {
        "msrs" => msrs(),
        "ring3" => {
            let op = parse_op(word(1))?;
            let exit = parse_exit(word(2))?;
            let rounds: u32 = match word(3) {
                "" => 1,
                n => n.parse().map_err(|_| format!("bad round count {n:?}"))?,
            };
            ring3(op, exit, rounds, word(4) == "loud")?;
        }
        "ring3-all" => {
            let rounds: u32 = word(1).parse().unwrap_or(10);
            println!("pvm-probe ring3 ops");
            for op in [
                Op::Flags,
                Op::ReadLapicVersion,
                Op::Cpuid(0x4000_0000),
                Op::Cpuid(0x4000_0002),
                Op::Cpuid(0x4000_0200),
            ] {
                ring3(op, Exit::Int3, 1, false)?;
            }
            // Not by int3: during bare trips its gate is a bare `iretq`.
            ring3(Op::BareTrips(100), Exit::Privileged, 1, false)?;
            for exit in Exit::ALL {
                if exit != Exit::EndRun {
                    ring3(Op::Loop(1_000_000), exit, rounds, false)?;
                }
            }
            println!("pvm-probe ring3-all: done");
        }
        "wrmsr-readonly" => {
            show_pvm_msrs("before");
            let writes = [
                (0x4b56_4d10, u64::MAX),
                (0x4b56_4d11, 0),
                (0x4b56_4d12, 0),
                (0x4b56_4d13, 0),
            ];
            for (msr, value) in writes {
                // SAFETY: as for `wrmsr` below; these writes are expected to be refused.
                match unsafe { pvm::wrmsr(msr, value) } {
                    Ok(()) => println!("pvm-probe wrmsr {msr:#x} {value:#x}: ok"),
                    Err(v) => {
                        println!("pvm-probe wrmsr {msr:#x} {value:#x}: {}", vector_name(v))
                    }
                }
            }
            show_pvm_msrs("after");
        }
        "wrmsr" => {
            let msr = parse_number(word(1))? as u32;
            let page = ZeroPage::new();
            let value = match word(2) {
                "page" => page.phys()?,
                "page+1" => page.phys()? | 1,
                v => parse_number(v)?,
            };
            show_pvm_msrs("before");
            // SAFETY: probing what the write does is the point; the run is a test's own.
            let result = unsafe { pvm::wrmsr(msr, value) };
            match result {
                Ok(()) => println!("pvm-probe wrmsr {msr:#x} {value:#x}: ok"),
                Err(v) => println!("pvm-probe wrmsr {msr:#x} {value:#x}: {}", vector_name(v)),
            }
            show_pvm_msrs("after");
            page.show_changes();
            let (cs, flags) = pvm::ring0_flags();
            let n = 10_000;
            let ticks = pvm::ring0_loop(n);
            println!(
                "pvm-probe after write: ring0 cs {cs:#x}, rflags after cli {flags:#x}, loop {} ps per iteration",
                ns(ticks) * 1000 / n
            );
            if !word(3).is_empty() {
                ring3(Op::Flags, parse_exit(word(3))?, 1, false)?;
            }
        }
        other => {
            return Err(format!(
                "pvm-probe: unknown probe {other:?} (msrs, ring3, ring3-all, wrmsr, wrmsr-readonly)"
            ));
        }
    }
    Ok(())
}

fn parse_number(word: &str) -> Result<u64, String> {
    let parsed = match word.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => word.parse(),
    };
    parsed.map_err(|_| format!("bad number {word:?}"))
}

fn parse_op(word: &str) -> Result<Op, String> {
    match word.split_once(':') {
        Some(("loop", n)) => Ok(Op::Loop(parse_number(n)?)),
        Some(("cpuid", leaf)) => Ok(Op::Cpuid(parse_number(leaf)? as u32)),
        Some(("read", address)) => Ok(Op::Read(parse_number(address)?)),
        Some(("bare", n)) => Ok(Op::BareTrips(parse_number(n)?)),
        _ if word == "flags" => Ok(Op::Flags),
        _ if word == "lapic" => Ok(Op::ReadLapicVersion),
        _ => Err(format!(
            "bad op {word:?} (loop:N, cpuid:LEAF, flags, read:ADDRESS, lapic, bare:N)"
        )),
    }
}

fn parse_exit(word: &str) -> Result<Exit, String> {
    Exit::ALL
        .into_iter()
        .find(|e| e.name() == word)
        .ok_or_else(|| format!("bad exit {word:?}"))
}

fn vector_name(vector: u8) -> String {
    match vector {
        6 => String::from("#UD"),
        13 => String::from("#GP"),
        14 => String::from("#PF"),
        v => format!("exception {v}"),
    }
}

fn ns(ticks: u64) -> u64 {
    let hz = kernel::time::tsc_hz().max(1);
    (u128::from(ticks) * 1_000_000_000 / u128::from(hz)) as u64
}

fn show_msr(msr: u32) {
    match pvm::rdmsr(msr) {
        Ok(value) => println!("pvm-probe msr {msr:#x}: {value:#x}"),
        Err(v) => println!("pvm-probe msr {msr:#x}: {}", vector_name(v)),
    }
}

fn show_pvm_msrs(when: &str) {
    let values: Vec<String> = PVM_MSRS
        .iter()
        .map(|&msr| match pvm::rdmsr(msr) {
            Ok(v) => format!("{v:#x}"),
            Err(v) => vector_name(v),
        })
        .collect();
    println!("pvm-probe msrs {when}: {}", values.join(" "));
}

fn msrs() {
    let (cs, flags) = pvm::ring0_flags();
    println!("pvm-probe ring0 cs: {cs:#x} (rpl {})", cs & 3);
    println!(
        "pvm-probe ring0 rflags after cli: {flags:#x} (if {})",
        (flags >> 9) & 1
    );
    // KVM's own paravirtual MSRs, this host's PVM MSRs and their neighbours, and the
    // published PVM layouts.
    let ranges = [
        0x4b56_4d00..=0x4b56_4d07,
        0x4b56_4d08..=0x4b56_4d1f,
        0x4b56_4d20..=0x4b56_4d23,
        0x4b56_4df0..=0x4b56_4df7,
    ];
    for msr in ranges.into_iter().flatten() {
        show_msr(msr);
    }
    for msr in [0x4b56_4d11, 0x4b56_4df0] {
        let start = time::Instant::now();
        let result = pvm::rdmsr(msr);
        println!(
            "pvm-probe rdmsr {msr:#x} cost: {} ns ({})",
            start.elapsed().as_nanos(),
            if result.is_ok() {
                "answered"
            } else {
                "#GP, recovered"
            }
        );
    }
    for leaf in [
        0x4000_0000,
        0x4000_0001,
        0x4000_0002,
        0x4000_0100,
        0x4000_0200,
    ] {
        let r = core::arch::x86_64::__cpuid(leaf);
        println!(
            "pvm-probe cpuid {leaf:#x}: {:#x} {:#x} {:#x} {:#x} {:?}",
            r.eax,
            r.ebx,
            r.ecx,
            r.edx,
            ascii(&[r.ebx, r.ecx, r.edx])
        );
    }
    for leaf in [0x4000_0000, 0x4000_0002, 0x4000_0200] {
        let start = time::Instant::now();
        let [a, b, c, d] = pvm::cpuid_synthetic_ring0(leaf);
        let cost = start.elapsed().as_nanos();
        println!(
            "pvm-probe synthetic-cpuid ring0 {leaf:#x}: {a:#x} {b:#x} {c:#x} {d:#x} {:?} ({cost} ns)",
            ascii(&[b, c, d])
        );
    }
    let n = 100_000;
    let ticks = pvm::ring0_loop(n);
    println!(
        "pvm-probe ring0 loop: {n} iterations in {} ns ({} ps each)",
        ns(ticks),
        ns(ticks) * 1000 / n
    );
}

fn ascii(words: &[u32]) -> String {
    words
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(|b| if b.is_ascii_graphic() { b as char } else { '.' })
        .collect()
}

fn describe(event: &UserEvent) -> String {
    let what = match event.vector {
        pvm::SYSCALL_VECTOR => String::from("syscall"),
        v @ 0..=31 => format!("exception {v}"),
        v => format!("interrupt {v:#x}"),
    };
    format!(
        "{what}, error code {:#x}, rip {:#x}, cs {:#x}, rflags {:#x}",
        event.error_code, event.rip, event.cs, event.rflags
    )
}

fn ring3(op: Op, exit: Exit, rounds: u32, loud: bool) -> Result<(), String> {
    println!("pvm-probe ring3 {op:?} via {}: entering", exit.name());
    // Quiet: under kvm_pvm ring 3's own `out` to COM1 is a #GP (IOPL is not honoured).
    let event = pvm::run_user(op, exit, !loud).map_err(|e| e.to_string())?;
    println!(
        "pvm-probe ring3 {op:?} via {}: back by {}",
        exit.name(),
        describe(&event)
    );
    if matches!(exit, Exit::Timer | Exit::Device) && event.r13 == 0 {
        // The interrupt came before the op had finished (a device's is due as ring 3
        // starts; the timer's 1 ms after, which a loop under TCG outlasts).
        println!("pvm-probe ring3 result: none (interrupted before the op finished)");
    } else {
        println!(
            "pvm-probe ring3 result: r12 {:#x} r13 {:#x}",
            event.r12, event.r13
        );
    }
    if let Op::BareTrips(n) = op {
        println!(
            "pvm-probe ring3 bare round trip: {n} in {} ns ({} ns each)",
            ns(event.r13),
            ns(event.r13) / n.max(1)
        );
    }
    if let (Op::Loop(n), false) = (op, event.r13 == 0) {
        println!(
            "pvm-probe ring3 loop: {n} iterations in {} ns ({} ps each)",
            ns(event.r13),
            ns(event.r13) * 1000 / n.max(1)
        );
        // A tenth as many at ring 0: emulated under kvm_pvm, about 1 us each.
        let n = (n / 10).max(1);
        let ticks = pvm::ring0_loop(n);
        println!(
            "pvm-probe ring0 loop: {n} iterations in {} ns ({} ps each)",
            ns(ticks),
            ns(ticks) * 1000 / n
        );
    }
    if rounds > 1 {
        let mut delivery = Vec::new();
        let mut round_trip = Vec::new();
        for _ in 0..rounds {
            let event = pvm::run_user(Op::Loop(1), exit, true).map_err(|e| e.to_string())?;
            delivery.push(ns(event.delivery_ticks));
            round_trip.push(ns(event.round_trip_ticks));
        }
        delivery.sort_unstable();
        round_trip.sort_unstable();
        // An interrupt arrives as ring 3 starts, before it notes the time.
        let delivery = match exit {
            Exit::Timer | Exit::Device => String::from("n/a"),
            _ => format!(
                "median {} ns (min {})",
                delivery[delivery.len() / 2],
                delivery[0]
            ),
        };
        println!(
            "pvm-probe ring3 cost via {} over {rounds} trips: delivery {delivery}, round trip median {} ns (min {})",
            exit.name(),
            round_trip[round_trip.len() / 2],
            round_trip[0]
        );
    }
    Ok(())
}

/// A page-aligned zeroed page whose physical address can be handed to the hypervisor
/// (never freed: the hypervisor may go on writing it).
struct ZeroPage(&'static [u64; 512]);

impl ZeroPage {
    fn new() -> Self {
        let layout = core::alloc::Layout::from_size_align(4096, 4096).unwrap();
        // SAFETY: non-zero size; zeroed memory is a valid [u64; 512]; never freed.
        let page = unsafe {
            let ptr = alloc::alloc::alloc_zeroed(layout) as *const [u64; 512];
            assert!(!ptr.is_null(), "out of memory for the probe page");
            &*ptr
        };
        Self(page)
    }

    fn phys(&self) -> Result<u64, String> {
        let virt = self.0.as_ptr() as u64;
        kernel::selftest::virt_to_phys(virt).ok_or_else(|| format!("{virt:#x} has no frame"))
    }

    fn show_changes(&self) {
        let changed: Vec<String> = self
            .0
            .iter()
            .enumerate()
            // SAFETY: the hypervisor may write the page behind the compiler's back.
            .map(|(i, w)| (i, unsafe { core::ptr::read_volatile(w) }))
            .filter(|&(_, w)| w != 0)
            .map(|(i, w)| format!("+{:#x}={w:#x}", i * 8))
            .collect();
        println!(
            "pvm-probe page after write: {}",
            if changed.is_empty() {
                String::from("unchanged (all zero)")
            } else {
                changed.join(" ")
            }
        );
    }
}
