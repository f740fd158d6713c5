//! Boot-protocol-independent start: from a [`BootInfo`] to the app's `main`.

use crate::bootinfo::BootInfo;
use crate::cmdline::{CommandLine, KNOWN_OPTIONS};
use crate::exit_status;
use crate::logfilter::LogFilter;
use crate::time::Phase;
use crate::{arch, console, klog, mm, runtime, time};

/// Default size of the app's main stack.
pub const DEFAULT_MAIN_STACK: u64 = 256 * 1024;

/// Prints `error: ...` and ends the run with status 2.
fn command_line_error(args: core::fmt::Arguments<'_>) -> ! {
    console::write_fmt(format_args!("error: kernel command line: {args}\n"));
    runtime::exit_now(exit_status::BAD_COMMAND_LINE)
}

/// Common start for every boot path. `info` lives in the entry's own static (command-line
/// options borrow from it); `boot_error` is a problem the entry code found.
pub(crate) fn kernel_main(info: &'static BootInfo, boot_error: Option<&'static str>) -> ! {
    time::init(info.entry_tsc);
    mm::set_boot_view(info);
    arch::init_traps();
    time::mark(Phase::Traps);
    // Where ring 0 is emulated (kvm_pvm), the rest of start-up runs at ring 3 unless the
    // command line says `pvm=off` (then it comes back); PVH's boot tables allow it.
    let pvm_host = arch::pvm_host();
    if pvm_host && info.kernel_identity {
        arch::set_ring3(true);
        enter_ring3();
    }
    if let Some(error) = boot_error {
        console::write_fmt(format_args!("fatal: boot: {error}\n"));
        runtime::exit_now(exit_status::FATAL);
    }

    if info.cmdline_truncated {
        command_line_error(format_args!(
            "longer than {} bytes",
            crate::bootinfo::MAX_CMDLINE
        ));
    }
    let Ok(line) = info.cmdline() else {
        command_line_error(format_args!("not valid UTF-8"))
    };
    let cmdline = CommandLine::parse(line, |word| {
        console::write_fmt(format_args!(
            "warning: unknown kernel option '{word}' ignored (known: {KNOWN_OPTIONS}; app arguments go after '--')\n"
        ));
    })
    .unwrap_or_else(|e| command_line_error(format_args!("{e}")));
    let options = cmdline.options;
    let filter = match options.log.map(LogFilter::parse) {
        None => LogFilter::new(crate::logfilter::DEFAULT_LEVEL),
        Some(Ok(filter)) => filter,
        Some(Err(e)) => command_line_error(format_args!("log={}: {e}", options.log.unwrap_or(""))),
    };
    klog::init(filter);
    time::mark(Phase::CommandLine);

    for region in info.regions() {
        log::debug!(
            "memory map: {:#x}..{:#x} {:?}",
            region.start,
            region.end,
            region.kind
        );
    }
    if info.regions_dropped > 0 {
        log::warn!(
            "memory map: {} regions beyond {} ignored",
            info.regions_dropped,
            crate::bootinfo::MAX_REGIONS
        );
    }

    let ring3 = arch::decide_ring3(options.pvm, pvm_host, info.kernel_identity);
    if ring3.ring3() {
        arch::set_ring3(true);
        if info.kernel_identity {
            enter_ring3();
        }
    } else if arch::at_ring3() {
        arch::leave_ring3();
    }
    arch::init_interrupt_gates();
    match ring3 {
        arch::Ring3Choice::Detected => log::info!(
            "pvm: kvm_pvm detected (MSR 0x4b564d11 reads \"PVM\"): tasks run at ring 3 (pvm=off keeps ring 0)"
        ),
        arch::Ring3Choice::Forced => log::info!("pvm: tasks run at ring 3 (pvm=on)"),
        arch::Ring3Choice::Refused => log::info!("pvm: tasks run at ring 0 (pvm=off)"),
        arch::Ring3Choice::NotPvm => log::debug!("pvm: not a PVM host: tasks run at ring 0"),
        arch::Ring3Choice::UpperHalf => log::info!(
            "pvm: kvm_pvm detected, but this image's loader mapped memory in the upper half, which ring 3 cannot use there: tasks run at ring 0 (boot the PVH ELF to run them at ring 3)"
        ),
    }

    crate::sched::watchdog::configure(
        options
            .watchdog_ms
            .unwrap_or(crate::sched::watchdog::DEFAULT_LIMIT_MS),
    );
    let stack = options.stack.unwrap_or(DEFAULT_MAIN_STACK);
    if let Some(heap) = options.heap.filter(|&h| h < mm::MIN_HEAP) {
        command_line_error(format_args!(
            "heap={heap}: the heap needs at least {}",
            mm::MIN_HEAP
        ));
    }
    if stack < mm::MIN_STACK {
        command_line_error(format_args!(
            "stack={stack}: the stack needs at least {}",
            mm::MIN_STACK
        ));
    }
    let layout = match mm::init(info, options.heap, stack) {
        Ok(layout) => layout,
        Err(e @ (mm::MemError::HeapTooLarge { .. } | mm::MemError::StackTooLarge { .. })) => {
            command_line_error(format_args!("{e}"))
        }
        Err(e) => {
            console::write_fmt(format_args!("fatal: memory setup: {e}\n"));
            runtime::exit_now(exit_status::FATAL)
        }
    };
    if arch::tasks_at_ring3() && !arch::at_ring3() {
        // A loader's boot tables are closed to ring 3; the kernel's own are open.
        enter_ring3();
    }
    time::mark(Phase::Memory);
    log::info!(
        "memory: {} KiB usable, heap {} KiB at {:#x}, main stack {} KiB, {} KiB free",
        layout.usable / 1024,
        layout.heap_size / 1024,
        layout.heap_start,
        stack / 1024,
        layout.free_after / 1024
    );

    runtime::set_args(cmdline.app_args());
    crate::drivers::set_cmdline(line);
    crate::net::configure(crate::net::NetOptions {
        ip: options.ip,
        gw: options.gw,
        mac: options.mac,
    });
    if let Some(root) = options.root {
        runtime::set_root_disk(root);
    }
    // SAFETY: the main stack was just allocated, mapped and is used by nothing else.
    unsafe { arch::run_on_stack(layout.main_stack_top, enter_app) }
}

/// Moves the running code to ring 3 (see `arch::ring3`).
fn enter_ring3() {
    console::prepare();
    // SAFETY: the live page tables are open to ring 3 (PVH's boot tables always are;
    // `mm::init` builds the kernel's so when tasks run at ring 3), the console is ready, and
    // every privileged operation after this point goes through `arch`'s wrappers, which
    // call ring 0 from ring 3.
    unsafe { arch::enter_ring3() };
}

unsafe extern "Rust" {
    /// Defined by `libos::main!` in the app crate: runs the app, returns its exit status.
    fn __unikernel_app_main() -> i32;
}

extern "C" fn enter_app() -> ! {
    time::mark_main_entered();
    crate::sched::init();
    time::log_boot_timeline();
    log::info!("entering app main after {:?}", time::boot_to_main());
    // SAFETY: `libos::main!` defines this symbol with exactly this signature; an image
    // without it fails to link.
    let status = unsafe { __unikernel_app_main() };
    runtime::exit(status)
}
