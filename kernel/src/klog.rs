//! The `log` backend: console lines stamped with time since boot, filtered per module.

use crate::logfilter::LogFilter;
use log::{Log, Metadata, Record};
use spin::Once;

struct KernelLog {
    filter: LogFilter<'static>,
}

impl Log for KernelLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.filter.level_for(metadata.target())
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let us = crate::time::since_boot().as_micros();
        crate::console::write_fmt(format_args!(
            "[{:5}.{:06}] {:5} {}: {}\n",
            us / 1_000_000,
            us % 1_000_000,
            record.level(),
            record.target(),
            record.args()
        ));
    }

    fn flush(&self) {}
}

static LOGGER: Once<KernelLog> = Once::new();

/// Installs the logger with `filter`.
pub(crate) fn init(filter: LogFilter<'static>) {
    let logger = LOGGER.call_once(|| KernelLog { filter });
    if log::set_logger(logger).is_ok() {
        log::set_max_level(filter.max_level());
    }
}
