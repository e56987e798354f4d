//! `rules run`: groups evaluated on their intervals, on the wall clock or a
//! simulated one, until a bound is reached or SIGINT/SIGTERM arrives.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use promql_engine::rules::eval::OverlayStore;
use signal_hook::consts::{SIGINT, SIGTERM};

use super::report::GroupReport;
use super::{RulesOutput, Setup};
use crate::Failure;

/// When to start and stop.
pub(crate) struct Bounds {
    /// Start of a simulated clock (no waiting); `None` for the wall clock.
    pub(crate) start: Option<i64>,
    /// Evaluations per group.
    pub(crate) iterations: Option<u64>,
    /// Length of the run, milliseconds: no evaluation after start + this.
    pub(crate) duration_ms: Option<i64>,
    /// How long outputs stay in memory, milliseconds.
    pub(crate) keep_outputs_ms: i64,
}

/// Outputs kept in memory before the first trim.
const TRIM_THRESHOLD: usize = 10_000;

/// Longest uninterrupted sleep, so that a signal is noticed quickly.
const SLEEP_SLICE: Duration = Duration::from_millis(100);

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Sleeps until wall-clock time `t` (ms); false if stopped first.
fn sleep_until(t: i64, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let left = t.saturating_sub(now_ms());
        if left <= 0 {
            return true;
        }
        let left = Duration::from_millis(u64::try_from(left).unwrap_or(0));
        std::thread::sleep(left.min(SLEEP_SLICE));
    }
}

/// A flag set by SIGINT or SIGTERM. A second signal, while the first is
/// still being honoured (e.g. during a remote-write retry that waits for a
/// server's `Retry-After`), exits at once with status 128 + the signal.
fn stop_flag() -> Result<Arc<AtomicBool>, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        let failed =
            |e: std::io::Error| Failure::Usage(format!("cannot handle signal {signal}: {e}"));
        // Registered first, so that it sees the flag as it was before this signal.
        signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, Arc::clone(&stop))
            .map_err(failed)?;
        signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(failed)?;
    }
    Ok(stop)
}

/// Runs the groups until a bound is reached or a signal arrives; exit code 1
/// when any evaluation had a failed rule or remote write failed.
pub(crate) fn run(setup: Setup, bounds: &Bounds, output: RulesOutput) -> Result<(), Failure> {
    let stop = stop_flag()?;
    let Setup {
        storage,
        engine,
        mut groups,
        sink,
        ..
    } = setup;
    let simulated = bounds.start.is_some();
    let start = bounds.start.unwrap_or_else(now_ms);
    let end = bounds.duration_ms.map(|d| start.saturating_add(d));
    // The next evaluation time of each group; `None` once the next one would
    // be past the end of time (`interval: 292000000y`).
    let mut next = vec![Some(start); groups.len()];
    let mut done = vec![0u64; groups.len()];
    let mut store = OverlayStore::new(storage.as_ref(), sink);
    let (mut evaluations, mut failed) = (0u64, false);
    let mut trim_at = TRIM_THRESHOLD;
    while !stop.load(Ordering::Relaxed) {
        let due = (0..groups.len())
            .filter_map(|i| Some((next.get(i).copied().flatten()?, i)))
            .filter(|&(_, i)| bounds.iterations.is_none_or(|n| done.get(i) < Some(&n)))
            .min();
        let Some((t, i)) = due else {
            break;
        };
        if end.is_some_and(|e| t > e) || (!simulated && !sleep_until(t, &stop)) {
            break;
        }
        let Some(group) = groups.get_mut(i) else {
            break;
        };
        let report = GroupReport::evaluate(&engine, group, &mut store, t);
        let interval = group.interval_ms.max(1);
        let write = store.sink_mut().flush();
        failed |= report.failed() || write.as_ref().is_some_and(|w| w.failed());
        print_evaluation(&report, write.as_ref(), output);
        evaluations += 1;
        // Trimming rebuilds the store: only once it has doubled.
        if store.outputs().sample_count() > trim_at {
            store.forget_outputs_before(t.saturating_sub(bounds.keep_outputs_ms));
            trim_at = TRIM_THRESHOLD.max(2 * store.outputs().sample_count());
        }
        if let (Some(d), Some(n)) = (done.get_mut(i), next.get_mut(i)) {
            *d += 1;
            *n = t.checked_add(interval);
            // On the wall clock, evaluations that fell behind are skipped.
            if !simulated {
                *n = n.map(|n| skip_missed(n, interval, now_ms()));
            }
        }
    }
    let why = if stop.load(Ordering::Relaxed) {
        "interrupted"
    } else {
        "done"
    };
    eprintln!("rules run: {why} after {evaluations} evaluations");
    if failed {
        Err(Failure::Exit(1))
    } else {
        Ok(())
    }
}

/// The first of `next`, `next + interval`, ... that is not a whole
/// interval behind `now` (evaluations that fell behind are skipped), in one
/// step whatever the gap (a clock jump of years with a 1 ms interval).
fn skip_missed(next: i64, interval: i64, now: i64) -> i64 {
    // In i128, where neither the gap nor the skip can overflow.
    let (next, interval, now) = (i128::from(next), i128::from(interval), i128::from(now));
    let behind = now - next;
    let skipped = if interval > 0 && behind >= interval {
        next + behind / interval * interval
    } else {
        next
    };
    i64::try_from(skipped).unwrap_or(i64::MAX)
}

/// Prints one evaluation: outputs on standard output, the log line (and the
/// remote-write counts) on standard error.
fn print_evaluation(
    report: &GroupReport,
    write: Option<&super::sink::WriteOutcome>,
    output: RulesOutput,
) {
    match output {
        RulesOutput::Text => print!("{}", report.text()),
        RulesOutput::Json => {
            let mut json = report.json();
            if let Some(w) = write {
                json["remoteWrite"] = w.json();
            }
            println!("{json}");
        }
    }
    let _ = std::io::stdout().flush();
    match write {
        Some(w) => eprintln!("{}\n  {}", report.log_line(), w.text()),
        None => eprintln!("{}", report.log_line()),
    }
}

#[cfg(test)]
mod tests {
    use super::skip_missed;

    #[test]
    fn missed_evaluations_are_skipped_in_one_step() {
        assert_eq!(skip_missed(1000, 100, 1000), 1000);
        assert_eq!(skip_missed(1000, 100, 1099), 1000);
        assert_eq!(skip_missed(1000, 100, 1100), 1100);
        assert_eq!(skip_missed(1000, 100, 1250), 1200);
        // Far behind with a tiny interval: no loop, no overflow.
        assert_eq!(skip_missed(i64::MIN, 1, i64::MAX), i64::MAX);
        assert_eq!(skip_missed(0, 1, 1 << 62), 1 << 62);
        assert_eq!(skip_missed(i64::MAX, i64::MAX, 0), i64::MAX);
        assert_eq!(skip_missed(5, 0, 10), 5);
    }
}
