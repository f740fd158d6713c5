//! The serial console (COM1, 16550 UART): where `print!`, the log and fatal reports go.
//! Initialised on first output.
//!
//! Normal output takes a lock. Fatal paths use [`emergency`], which takes the console
//! even if the code that died held it: there is one CPU and the holder will never run again.

use core::fmt::{self, Write};
use spin::Mutex;
use uart_16550::Uart16550;
use uart_16550::backend::PioBackend;

const COM1: u16 = 0x3f8;

struct Console {
    uart: Option<Uart16550<PioBackend>>,
    /// Set once initialisation was tried (and failed, if `uart` is still `None`).
    tried: bool,
}

impl Console {
    /// Initialises COM1 on first use, so a run that prints nothing never touches it.
    fn uart(&mut self) -> Option<&mut Uart16550<PioBackend>> {
        if !self.tried {
            self.tried = true;
            // SAFETY: COM1's eight ports belong to the console; only the hypervisor probe
            // (`arch::pvm_probe`, in test kernels) also touches them, to turn COM1's
            // transmitter-empty interrupt on and off and to write bytes.
            if let Ok(mut uart) = unsafe { Uart16550::new_port(COM1) }
                && uart.init(uart_16550::Config::default()).is_ok()
            {
                self.uart = Some(uart);
            }
        }
        self.uart.as_mut()
    }
}

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if crate::arch::at_ring3() {
            // Port I/O is ring 0's: a line per call (see `arch::ring3`).
            if self.uart.is_some() {
                write_from_ring3(s);
            }
            return Ok(());
        }
        let Some(uart) = self.uart() else {
            return Ok(());
        };
        for line in s.split_inclusive('\n') {
            match line.strip_suffix('\n') {
                Some(text) => {
                    uart.send_bytes_exact(text.as_bytes());
                    uart.send_bytes_exact(b"\r\n");
                }
                None => uart.send_bytes_exact(line.as_bytes()),
            }
        }
        Ok(())
    }
}

/// Hands `s` to ring 0 a line at a time, with `\n` as `\r\n`.
fn write_from_ring3(s: &str) {
    let mut buffer = [0u8; 256];
    let mut used = 0;
    for &byte in s.as_bytes() {
        if used + 2 > buffer.len() {
            crate::arch::console_write(&buffer[..used]);
            used = 0;
        }
        if byte == b'\n' {
            buffer[used] = b'\r';
            used += 1;
        }
        buffer[used] = byte;
        used += 1;
        if byte == b'\n' {
            crate::arch::console_write(&buffer[..used]);
            used = 0;
        }
    }
    if used > 0 {
        crate::arch::console_write(&buffer[..used]);
    }
}

/// Writes bytes straight to COM1, at ring 0, without the console's lock: for the ring-0
/// half of a ring-3 console write (whose caller holds the lock).
pub(crate) fn write_raw(bytes: &[u8]) {
    const LINE_STATUS: u16 = COM1 + 5;
    const TRANSMIT_EMPTY: u8 = 1 << 5;
    for &byte in bytes {
        // A real UART needs the wait; QEMU's is always ready. Bounded either way.
        for _ in 0..100_000 {
            // SAFETY: COM1's line-status register; reading it has no side effect.
            if unsafe { crate::arch::inb(LINE_STATUS) } & TRANSMIT_EMPTY != 0 {
                break;
            }
        }
        // SAFETY: COM1's transmit register, the console's.
        unsafe { crate::arch::outb(COM1, byte) };
    }
}

/// Initialises COM1 now (before the kernel's code moves to ring 3, where it could not).
pub(crate) fn prepare() {
    let _ = CONSOLE.lock().uart();
}

static CONSOLE: Mutex<Console> = Mutex::new(Console {
    uart: None,
    tried: false,
});

/// Writes formatted text to the console. The lock is taken for each piece the formatter
/// hands over, never across the caller's `Display` code: a `Display` that prints or blocks
/// cannot hang the console.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    struct PieceByPiece;
    impl Write for PieceByPiece {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            CONSOLE.lock().write_str(s)
        }
    }
    let _ = PieceByPiece.write_fmt(args);
}

/// Writes a string to the console.
pub fn write_str(s: &str) {
    let _ = CONSOLE.lock().write_str(s);
}

/// The console if nobody holds it (for interrupt handlers, which must never wait).
pub(crate) fn try_console() -> Option<impl Write> {
    CONSOLE.try_lock().map(Emergency)
}

/// A console handle for fatal paths.
pub(crate) struct Emergency(spin::MutexGuard<'static, Console>);

impl Write for Emergency {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s)
    }
}

/// Takes the console for a fatal report, breaking the lock if a dead context held it.
pub(crate) fn emergency() -> Emergency {
    if CONSOLE.is_locked() {
        // SAFETY: single CPU and we are on a fatal path: whoever held the lock was
        // interrupted for good and will never touch the console again.
        unsafe { CONSOLE.force_unlock() };
    }
    Emergency(CONSOLE.lock())
}

/// Writes through [`emergency`].
pub(crate) fn emergency_write(args: fmt::Arguments<'_>) {
    let _ = emergency().write_fmt(args);
}
