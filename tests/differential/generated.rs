//! Queries generated as cross products (function × series × window,
//! aggregation × grouping, operator × operand shapes), on top of the
//! hand-written `queries.promql`. Deterministic; keyed by their text like
//! the hand-written ones.

/// Series with different shapes: a counter with a reset, gauges, a gauge
/// with an outage, a slow counter, a histogram `_sum`.
const SERIES: [&str; 5] = [
    "http_requests_total{job=\"web\"}",
    "node_memory_available_bytes",
    "up",
    "node_cpu_seconds_total{mode=\"system\"}",
    "http_request_duration_seconds_sum",
];

/// Windows: two samples, a few, many. All whole seconds, so a window's start
/// never meets a sample (those sit at .25 s).
const WINDOWS: [&str; 3] = ["1m", "7m", "45m"];

/// Functions of one range vector; `{}` is replaced by the range selector.
pub const RANGE_FUNCTIONS: [&str; 20] = [
    "rate({})",
    "irate({})",
    "increase({})",
    "delta({})",
    "idelta({})",
    "deriv({})",
    "resets({})",
    "changes({})",
    "avg_over_time({})",
    "min_over_time({})",
    "max_over_time({})",
    "sum_over_time({})",
    "count_over_time({})",
    "stddev_over_time({})",
    "stdvar_over_time({})",
    "last_over_time({})",
    "present_over_time({})",
    "quantile_over_time(0.3, {})",
    "predict_linear({}, 120)",
    "holt_winters({}, 0.3, 0.6)",
];

/// Aggregations; `{}` is replaced by the grouping clause. Inputs have no ties,
/// so `topk`/`bottomk` pick the same series everywhere.
const AGGREGATIONS: [&str; 12] = [
    "sum {}",
    "avg {}",
    "min {}",
    "max {}",
    "count {}",
    "stddev {}",
    "stdvar {}",
    "group {}",
    "topk {}(2, ",
    "bottomk {}(2, ",
    "quantile {}(0.3, ",
    "count_values {}(\"value\", ",
];

const GROUPINGS: [&str; 5] = ["", "by (job)", "without (instance)", "by (mode)", "by ()"];

/// Input of the aggregations: no two series have the same value.
const AGGREGATED: &str = "rate(node_cpu_seconds_total[5m])";

/// Binary operators between vectors or with a scalar.
const ARITHMETIC: [&str; 7] = ["+", "-", "*", "/", "%", "^", "atan2"];
const COMPARISONS: [&str; 6] = ["==", "!=", ">", "<", ">=", "<="];

/// The generated queries.
pub fn queries() -> Vec<String> {
    let mut out = Vec::new();
    for function in RANGE_FUNCTIONS {
        for series in SERIES {
            for window in WINDOWS {
                out.push(function.replace("{}", &format!("{series}[{window}]")));
            }
        }
    }
    for aggregation in AGGREGATIONS {
        for grouping in GROUPINGS {
            let head = aggregation.replace("{}", grouping).replace("  ", " ");
            if head.ends_with(", ") {
                out.push(format!("{head}{AGGREGATED})"));
            } else {
                out.push(format!("{} ({AGGREGATED})", head.trim_end()));
            }
        }
    }
    let left = "(node_memory_available_bytes / 1e9)";
    let right = "on(job, instance) (node_filesystem_free_bytes / 6.4e9)";
    for op in ARITHMETIC {
        out.push(format!("{left} {op} 3"));
        out.push(format!("3 {op} {left}"));
        out.push(format!("{left} {op} {right}"));
    }
    for op in COMPARISONS {
        for modifier in ["", " bool"] {
            out.push(format!("{left} {op}{modifier} 6.4"));
            out.push(format!("6.4 {op}{modifier} {left}"));
            out.push(format!("{left} {op}{modifier} {right}"));
        }
        out.push(format!("3 {op} bool 4"));
    }
    for op in ["and", "or", "unless"] {
        out.push(format!("up {op} node_memory_available_bytes > 6.4e9"));
        out.push(format!(
            "up {op} on(instance) node_memory_available_bytes > 6.4e9"
        ));
        out.push(format!(
            "node_memory_available_bytes > 6.4e9 {op} ignoring(mountpoint) node_filesystem_free_bytes"
        ));
    }
    out
}
