//! Log level filters from the `log=` kernel option.
//!
//! Syntax: a comma-separated list of `LEVEL` (the default for every module) and
//! `module::path=LEVEL` (that module and its children). The longest matching module
//! prefix wins. Examples: `log=debug`, `log=info,kernel::mm=trace`, `log=off`.

use log::LevelFilter;

/// Most per-module directives kept.
pub const MAX_DIRECTIVES: usize = 16;

/// The default when no `log=` is given.
pub const DEFAULT_LEVEL: LevelFilter = LevelFilter::Warn;

/// What is wrong with a `log=` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogSpecError<'a> {
    /// A level name that is not one of off, error, warn, info, debug, trace.
    BadLevel(&'a str),
    /// More than [`MAX_DIRECTIVES`] module directives.
    TooManyDirectives,
}

impl core::fmt::Display for LogSpecError<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadLevel(level) => write!(
                f,
                "unknown log level '{level}' (expected off, error, warn, info, debug or trace)"
            ),
            Self::TooManyDirectives => write!(f, "more than {MAX_DIRECTIVES} module directives"),
        }
    }
}

/// A default level plus per-module overrides.
#[derive(Clone, Copy, Debug)]
pub struct LogFilter<'a> {
    default: LevelFilter,
    modules: [(&'a str, LevelFilter); MAX_DIRECTIVES],
    count: usize,
}

impl<'a> LogFilter<'a> {
    pub const fn new(default: LevelFilter) -> Self {
        Self {
            default,
            modules: [("", LevelFilter::Off); MAX_DIRECTIVES],
            count: 0,
        }
    }

    pub fn parse(spec: &'a str) -> Result<Self, LogSpecError<'a>> {
        let mut filter = Self::new(DEFAULT_LEVEL);
        for directive in spec.split(',').filter(|d| !d.is_empty()) {
            match directive.split_once('=') {
                None => filter.default = parse_level(directive)?,
                Some((module, level)) => {
                    if filter.count == MAX_DIRECTIVES {
                        return Err(LogSpecError::TooManyDirectives);
                    }
                    filter.modules[filter.count] = (module, parse_level(level)?);
                    filter.count += 1;
                }
            }
        }
        Ok(filter)
    }

    /// The level in force for `target` (a module path).
    pub fn level_for(&self, target: &str) -> LevelFilter {
        self.modules[..self.count]
            .iter()
            .filter(|(module, _)| is_module_prefix(module, target))
            .max_by_key(|(module, _)| module.len())
            .map_or(self.default, |&(_, level)| level)
    }

    /// The most verbose level any module may log at.
    pub fn max_level(&self) -> LevelFilter {
        self.modules[..self.count]
            .iter()
            .map(|&(_, l)| l)
            .fold(self.default, Ord::max)
    }
}

fn is_module_prefix(module: &str, target: &str) -> bool {
    target
        .strip_prefix(module)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

fn parse_level(name: &str) -> Result<LevelFilter, LogSpecError<'_>> {
    Ok(match name {
        "off" => LevelFilter::Off,
        "error" => LevelFilter::Error,
        "warn" => LevelFilter::Warn,
        "info" => LevelFilter::Info,
        "debug" => LevelFilter::Debug,
        "trace" => LevelFilter::Trace,
        _ => return Err(LogSpecError::BadLevel(name)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_module_levels() {
        let f = LogFilter::parse("info,kernel::mm=trace,kernel::mm::frame=off").unwrap();
        assert_eq!(f.level_for("kernel::start"), LevelFilter::Info);
        assert_eq!(f.level_for("kernel::mm"), LevelFilter::Trace);
        assert_eq!(f.level_for("kernel::mm::paging"), LevelFilter::Trace);
        assert_eq!(f.level_for("kernel::mm::frame"), LevelFilter::Off);
        assert_eq!(f.level_for("kernel::mmio"), LevelFilter::Info);
        assert_eq!(f.max_level(), LevelFilter::Trace);
    }

    #[test]
    fn empty_spec_keeps_default() {
        let f = LogFilter::parse("").unwrap();
        assert_eq!(f.level_for("x"), DEFAULT_LEVEL);
    }

    #[test]
    fn bad_levels_are_errors() {
        assert_eq!(
            LogFilter::parse("loud").unwrap_err(),
            LogSpecError::BadLevel("loud")
        );
        assert!(LogFilter::parse("info,kernel=verbose").is_err());
        let many = "a=info,".repeat(MAX_DIRECTIVES + 1);
        assert_eq!(
            LogFilter::parse(&many).unwrap_err(),
            LogSpecError::TooManyDirectives
        );
    }
}
