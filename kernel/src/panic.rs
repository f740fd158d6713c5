//! The panic handler: one line naming the message and location, then status 101.

use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    if PANICKING.swap(true, Ordering::SeqCst) {
        crate::console::emergency_write(format_args!(
            "panic while panicking: {}\n",
            info.message()
        ));
        crate::runtime::exit_now(crate::exit_status::FATAL);
    }
    let mut out = crate::console::emergency();
    if let Some((size, align)) = crate::mm::take_alloc_failure() {
        let heap = crate::mm::heap_stats();
        let _ = writeln!(
            out,
            "out of memory: cannot allocate {size} bytes (align {align}); heap {} of {} bytes in use",
            heap.used, heap.size
        );
    }
    let _ = write!(out, "panic in task '{}'", crate::sched::current_name());
    if let Some(location) = info.location() {
        let _ = write!(
            out,
            " at {}:{}:{}",
            location.file(),
            location.line(),
            location.column()
        );
    }
    let _ = writeln!(out, ": {}", info.message());
    drop(out);
    crate::runtime::exit_now(crate::exit_status::FATAL)
}
