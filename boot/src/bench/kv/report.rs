//! The kv benchmark's report ([`super`]): a line per run as it ends, the table of req/s
//! with QEMU's flush counts, the kv/Linux ratios, and the details and problems behind them.

use super::redis_benchmark::TESTS;
use super::{PIPELINES, Persistence, Row, System, mode_text};
use std::fmt::Write as _;

/// One line per row as it is measured.
pub(super) fn row_summary(row: &Row) -> String {
    match &row.result {
        Err(e) => format!("failed: {e}"),
        Ok(out) => {
            let mut line = out
                .rates
                .iter()
                .map(|(t, r)| format!("{t} {r:.0}"))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = write!(line, " req/s ({:.0} s)", out.seconds);
            if let Some(h) = row.host {
                let _ = write!(line, "; QEMU: {} flushes", h.flush_operations);
            }
            if let Some(problem) = &out.problem {
                let _ = write!(line, "; PROBLEM: {problem}");
            }
            line
        }
    }
}

/// The results: req/s per test per row, with the flushes QEMU counted.
pub(super) fn table(rows: &[Row], requests: u64) -> String {
    let mut out = String::new();
    let _ = write!(out, "\n{:<7} {:<34} {:>3}", "system", "persistence", "-P");
    for test in TESTS {
        let _ = write!(out, " {test:>9}");
    }
    let _ = writeln!(out, " {:>8} {:>9}", "flushes", "req/flush");
    for row in rows {
        let _ = write!(
            out,
            "{:<7} {:<34} {:>3}",
            row.system.name(),
            mode_text(row.system, row.persistence),
            row.pipeline
        );
        match &row.result {
            Ok(result) => {
                for test in TESTS {
                    match result.rate(test) {
                        Some(rate) => {
                            let _ = write!(out, " {rate:>9.0}");
                        }
                        None => {
                            let _ = write!(out, " {:>9}", "-");
                        }
                    }
                }
                let flushes = row
                    .host
                    .map_or("-".to_string(), |h| h.flush_operations.to_string());
                let per = row
                    .requests_per_flush(requests)
                    .map_or("-".to_string(), |v| format!("{v:.1}"));
                let _ = write!(out, " {flushes:>8} {per:>9}");
                if result.problem.is_some() {
                    out.push_str("  (incomplete, see below)");
                }
            }
            Err(_) => out.push_str("  failed (see below)"),
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "(req/s as redis-benchmark reports them; flushes: QEMU's flush_operations for the \
         disk over the run, '-' without a disk; req/flush: requests of the finished tests \
         per flush)"
    );
    out
}

/// kv/Linux per test, for each persistence mode and pipeline depth.
pub(super) fn ratios(rows: &[Row]) -> String {
    let mut out = format!(
        "\nkv/linux (req/s ratio; both under TCG)\n{:<8} {:>3}",
        "mode", "-P"
    );
    for test in TESTS {
        let _ = write!(out, " {test:>7}");
    }
    out.push('\n');
    for persistence in [Persistence::None, Persistence::Durable] {
        for pipeline in PIPELINES {
            let find = |system| {
                rows.iter()
                    .find(|r| {
                        r.system == system && r.persistence == persistence && r.pipeline == pipeline
                    })
                    .and_then(|r| r.result.as_ref().ok())
            };
            let (kv, linux) = (find(System::Kv), find(System::Linux));
            let _ = write!(out, "{:<8} {pipeline:>3}", persistence.name());
            for test in TESTS {
                let ratio = kv
                    .and_then(|k| k.rate(test))
                    .zip(linux.and_then(|l| l.rate(test)))
                    .filter(|(_, l)| *l > 0.0)
                    .map_or("-".to_string(), |(k, l)| format!("{:.2}x", k / l));
                let _ = write!(out, " {ratio:>7}");
            }
            out.push('\n');
        }
    }
    out
}

/// What the servers said about their modes, QEMU's counts, and every problem with the
/// lines that explain it (redis-benchmark's error replies, the guest's console).
pub(super) fn details(rows: &[Row], said: &[String]) -> String {
    let mut out = String::from("\nservers:\n");
    for line in said {
        let _ = writeln!(out, "  {line}");
    }
    let counted: Vec<&Row> = rows.iter().filter(|r| r.host.is_some()).collect();
    if !counted.is_empty() {
        out.push_str("QEMU's counts for the disk per run:\n");
        for row in counted {
            let h = row.host.unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {} -P {}: wr {} ({} failed), {} bytes, rd {}, flush {}",
                row.system.name(),
                row.persistence.name(),
                row.pipeline,
                h.wr_operations,
                h.failed_wr_operations,
                h.wr_bytes,
                h.rd_operations,
                h.flush_operations
            );
        }
    }
    let mut problems = String::new();
    for row in rows {
        let label = format!(
            "{} {} -P {}",
            row.system.name(),
            row.persistence.name(),
            row.pipeline
        );
        match &row.result {
            Err(e) => {
                let _ = writeln!(problems, "  {label}: failed: {e}");
            }
            Ok(o) if o.problem.is_some() || !o.notes.is_empty() => {
                let _ = writeln!(
                    problems,
                    "  {label}: {}",
                    o.problem
                        .as_deref()
                        .unwrap_or("complete, but redis-benchmark also said:")
                );
                for note in &o.notes {
                    let _ = writeln!(problems, "    redis-benchmark: {note}");
                }
                if !row.console_tail.is_empty() {
                    let _ = writeln!(problems, "    console tail:\n{}", row.console_tail);
                }
            }
            Ok(_) => {}
        }
    }
    if !problems.is_empty() {
        out.push_str("problems and notes:\n");
        out.push_str(&problems);
    }
    out
}
