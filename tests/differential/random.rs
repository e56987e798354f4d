//! Random nested queries for the differential test
//! (`PROMQL_DIFFERENTIAL_RANDOM=count`, seeded by
//! `PROMQL_DIFFERENTIAL_SEED`): selectors, range and instant functions,
//! aggregations, binary operators with matching modifiers and subqueries,
//! combined up to a few levels deep, within the rules of `queries.promql`
//! (how far back windows reach, subquery ranges off whole minutes, no
//! experimental functions, no `topk`/`bottomk` whose ties 2.x breaks at
//! random, no `sort`/`sort_desc`, whose order of ties neither defines) and
//! around further differences between 2.x and 3.x: `predict_linear` over a
//! window pinned with `@` (2.42 answers only the first steps of a range
//! query; 3.x predicts from each step's time over the one window), comparisons
//! between two vectors always use `bool` (3.x reports ambiguous matches
//! before filtering, 2.x only among the series that pass), no
//! `stddev`/`stdvar` aggregations (3.x gives NaN for infinite inputs, 2.x
//! 0), no
//! `changes` over computed values (3.x sums with compensation, 2.x
//! without, so their last bits differ and `changes` counts them).
//!
//! The same last-bit differences still show where a function amplifies
//! them (`floor`, `ceil`, `round`, `exp`, `log10` near 1, `%` of a large
//! value by a small one, resets seen by `rate` over a subquery of computed
//! values, `deriv` of a constant); and `rate` over a
//! subquery whose series starts inside the window extrapolates towards
//! zero differently (3.x limits the extrapolation to the zero point only
//! after the threshold test, 2.x before it). A last-bit difference can
//! also come from the math library: Go's `math.Exp` is not correctly
//! rounded (`exp(-0.159887378)`: Go gives 0.8522397645083897, we give the
//! nearer 0.8522397645083896), which `%` of a large value amplifies; 3.x
//! uses the same Go function, so this one is a difference from 3.x too,
//! left alone (matching it would mean reproducing Go's algorithm). Expect a
//! few per thousand queries, each to be looked at. With 2,000 queries for
//! each of the seeds 1-52 (208,000 cases), 207,889 agreed and each of the
//! other 111 fell into one of these kinds, one of each kind checked by hand
//! (for example `ceil`, `floor` and `%` over an `avg` or `sum` whose last
//! bits differ: 3.x sums with compensation; earlier versions of this
//! generator: the same, plus the kinds it now leaves out).

use super::generated::RANGE_FUNCTIONS;

/// A small deterministic generator (SplitMix64): the same seed gives the
/// same queries on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const METRICS: [&str; 8] = [
    "up",
    "http_requests_total",
    "http_requests_total{status=\"500\"}",
    "node_cpu_seconds_total{mode!=\"idle\"}",
    "node_memory_available_bytes",
    "node_filesystem_free_bytes",
    "http_request_duration_seconds_sum",
    "http_request_duration_seconds_count{instance=~\"api-.*\"}",
];

/// Instant functions of one vector, with `{}` for it.
const INSTANT_FUNCTIONS: [&str; 16] = [
    "abs({})",
    "ceil({})",
    "floor({})",
    "round({}, 0.5)",
    "sqrt({})",
    "ln({})",
    "log10({})",
    "exp({} / 1e9)",
    "sgn({})",
    "clamp_min({}, 10)",
    "clamp_max({}, 1000)",
    "clamp({}, 1, 5000)",
    "-{}",
    "label_replace({}, \"host\", \"$1\", \"instance\", \"([^:]*):.*\")",
    "label_join({}, \"pair\", \"/\", \"job\", \"instance\")",
    "timestamp({})",
];

const AGGREGATIONS: [&str; 7] = ["sum", "avg", "min", "max", "count", "group", "quantile"];

const GROUPINGS: [&str; 6] = [
    "",
    " by (job)",
    " by (instance)",
    " without (instance)",
    " by (job, instance)",
    " without ()",
];

const ARITHMETIC: [&str; 6] = ["+", "-", "*", "/", "%", "^"];
const COMPARISONS: [&str; 6] = ["==", "!=", ">", "<", ">=", "<="];
const MATCHINGS: [&str; 6] = [
    "",
    " on (job, instance)",
    " ignoring (mode)",
    " on (instance) group_left",
    " on (job) group_left (instance)",
    " ignoring (status, method) group_left",
];

/// Windows and the minutes each reaches back.
const WINDOWS: [(&str, i64); 4] = [("1m", 1), ("5m", 5), ("7m", 7), ("20m", 20)];

/// Subquery ranges and the minutes each reaches back (rounded up). Their
/// windows start 15 s off every multiple of 30 s, so that no subquery
/// point (nor sample, at .25 s) sits on a window's start, where 2.x windows
/// are closed and 3.x windows open, also when one subquery is nested in
/// another (whose points are multiples of 30 s).
const SUBQUERIES: [(&str, i64); 2] = [("[15m15s:1m]", 16), ("[10m15s:30s]", 11)];

/// How many minutes before the evaluation time windows may reach in all.
const REACH_MINUTES: i64 = 60;

/// One of the cross products' range functions, with `{}` for the range
/// vector; not `holt_winters` (3.x knows it as the experimental
/// `double_exponential_smoothing`), and for a window pinned with `@` not
/// `predict_linear` (see the header).
fn range_function(rng: &mut Rng, pinned: bool) -> &'static str {
    let usable: Vec<&'static str> = RANGE_FUNCTIONS
        .iter()
        .copied()
        .filter(|f| !(f.starts_with("holt_winters(") || pinned && f.starts_with("predict_linear(")))
        .collect();
    rng.pick(&usable)
}

/// One query of at most `depth` levels.
pub fn query(rng: &mut Rng, depth: usize) -> String {
    vector(rng, depth, REACH_MINUTES)
}

/// An instant vector expression that reaches at most `reach` minutes back.
fn vector(rng: &mut Rng, depth: usize, reach: i64) -> String {
    let choice = if depth == 0 {
        rng.below(2)
    } else {
        rng.below(11)
    };
    match choice {
        0 => selector(rng, reach),
        1 => range_call(rng, reach),
        2 => {
            let inner = vector(rng, depth - 1, reach);
            rng.pick(&INSTANT_FUNCTIONS).replace("{}", &inner)
        }
        3 | 4 => {
            let agg = rng.pick(&AGGREGATIONS);
            let grouping = rng.pick(&GROUPINGS);
            let inner = vector(rng, depth - 1, reach);
            let param = if agg == "quantile" { "0.25, " } else { "" };
            format!("{agg}{grouping} ({param}{inner})")
        }
        5 => {
            let (left, right) = (vector(rng, depth - 1, reach), vector(rng, depth - 1, reach));
            let op = if rng.chance(60) {
                rng.pick(&ARITHMETIC)
            } else {
                rng.pick(&COMPARISONS)
            };
            let bool_modifier = if COMPARISONS.contains(&op) {
                " bool"
            } else {
                ""
            };
            let matching = rng.pick(&MATCHINGS);
            format!("({left}) {op}{bool_modifier}{matching} ({right})")
        }
        6 => {
            let inner = vector(rng, depth - 1, reach);
            let op = rng.pick(&["+", "*", ">", "<", "/", "and", "or", "unless"]);
            match op {
                "and" | "or" | "unless" => {
                    let other = vector(rng, depth - 1, reach);
                    let matching = rng.pick(&["", " on (job)", " ignoring (mode, status)"]);
                    format!("({inner}) {op}{matching} ({other})")
                }
                _ => {
                    let number = rng.pick(&["0.5", "2", "100", "1e6"]);
                    if rng.chance(50) {
                        format!("({inner}) {op} {number}")
                    } else {
                        format!("{number} {op} ({inner})")
                    }
                }
            }
        }
        7 => {
            let (range, cost) = SUBQUERIES[rng.below(SUBQUERIES.len())];
            if cost >= reach {
                return selector(rng, reach);
            }
            let inner = vector(rng, depth - 1, reach - cost);
            let func = rng.pick(&[
                "max_over_time({})",
                "avg_over_time({})",
                "rate({})",
                "count_over_time({})",
            ]);
            func.replace("{}", &format!("({inner}){range}"))
        }
        8 => {
            let inner = vector(rng, depth - 1, reach);
            match rng.below(4) {
                0 | 1 => format!("absent({inner})"),
                2 => format!("count_values(\"value\", round({inner}))"),
                3 => format!("({inner}) * scalar(sum({}))", selector(rng, reach)),
                _ => format!("vector(time()) - on () group_right () timestamp({inner})"),
            }
        }
        9 => {
            // `@` pins the selector's windows to the evaluation range's
            // start or end (within the data for every time and range used).
            let at = rng.pick(&[" @ start()", " @ end()"]);
            match window_within(rng, reach) {
                Some(window) if rng.chance(60) => {
                    let metric = rng.pick(&METRICS);
                    // Not `predict_linear`, which predicts from each step's
                    // time: 2.42 answers only the first few steps there.
                    let func = range_function(rng, true);
                    func.replace("{}", &format!("{metric}[{window}]{at}"))
                }
                _ => format!("{}{at}", rng.pick(&METRICS)),
            }
        }
        _ => {
            let inner = range_call(rng, reach);
            format!(
                "histogram_quantile({}, sum by (le{}) (rate(http_request_duration_seconds_bucket[{}])))",
                rng.pick(&["0.5", "0.9", "0.99"]),
                rng.pick(&["", ", job", ", instance"]),
                rng.pick(&["5m", "7m"]),
            ) + &if rng.chance(30) {
                format!(" > on (job) group_left () ({inner})")
            } else {
                String::new()
            }
        }
    }
}

/// A metric selector, sometimes with an offset that fits in `reach`.
fn selector(rng: &mut Rng, reach: i64) -> String {
    let metric = rng.pick(&METRICS);
    if reach > 10 && rng.chance(20) {
        format!("{metric} offset 5m")
    } else {
        metric.to_string()
    }
}

/// One of the windows that reach at most `reach` minutes back, if any.
fn window_within(rng: &mut Rng, reach: i64) -> Option<&'static str> {
    let fitting: Vec<&'static str> = WINDOWS
        .iter()
        .filter(|(_, minutes)| *minutes <= reach)
        .map(|(window, _)| *window)
        .collect();
    fitting.get(rng.below(fitting.len().max(1))).copied()
}

/// A range function over a selector whose window fits in `reach`.
fn range_call(rng: &mut Rng, reach: i64) -> String {
    let Some(window) = window_within(rng, reach) else {
        return selector(rng, reach);
    };
    let metric = rng.pick(&METRICS);
    range_function(rng, false).replace("{}", &format!("{metric}[{window}]"))
}
