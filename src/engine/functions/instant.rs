//! Functions over instant vectors and scalars: math, trigonometry, clamp,
//! round, time and date functions, scalar/vector conversion, absent, sort,
//! timestamp and the classic-histogram functions.

use super::calendar::Moment;
use super::histogram;
use super::{absent_labels, bare, sort};
use crate::engine::EvalError;
use crate::engine::eval::Ev;
use crate::engine::kahan::{go_max, go_min};
use crate::engine::plan::{CallN, Sel};
use crate::engine::selector::LatestIndex;
use crate::engine::types::{ESample, ESeries, Matrix, Points, Vector, drop_metadata};
use crate::model::{FPoint, is_stale_nan};
use crate::storage::SelectedSeries;

/// Applies `f` to every float sample, dropping the metric name; `f` may
/// drop a sample.
fn map_floats(ev: &Ev<'_, '_>, v: &Vector, f: impl Fn(f64) -> Option<f64>) -> Vector {
    v.iter()
        .filter(|s| s.h.is_none())
        .filter_map(|s| {
            Some(ESample {
                labels: if ev.delayed() {
                    s.labels.clone()
                } else {
                    drop_metadata(&s.labels)
                },
                t: s.t,
                f: f(s.f)?,
                h: None,
                drop_name: true,
            })
        })
        .collect()
}

/// A function that maps each float sample on its own: from its value and
/// the function's scalar arguments at the step (NaN where one has none),
/// the result's value, or `None` to drop the sample.
pub(crate) type Elementwise = fn(f64, &[f64]) -> Option<f64>;

/// The [`Elementwise`] form of the function `name`, if it has one. The
/// step loop and the series-by-series evaluation both use it, so they
/// compute alike.
pub(crate) fn elementwise(name: &str) -> Option<Elementwise> {
    let f: Elementwise = match name {
        "abs" => |x, _| Some(x.abs()),
        "ceil" => |x, _| Some(x.ceil()),
        "floor" => |x, _| Some(x.floor()),
        "exp" => |x, _| Some(x.exp()),
        "sqrt" => |x, _| Some(x.sqrt()),
        "ln" => |x, _| Some(x.ln()),
        "log2" => |x, _| Some(x.log2()),
        "log10" => |x, _| Some(x.log10()),
        "sin" => |x, _| Some(x.sin()),
        "cos" => |x, _| Some(x.cos()),
        "tan" => |x, _| Some(x.tan()),
        "asin" => |x, _| Some(x.asin()),
        "acos" => |x, _| Some(x.acos()),
        "atan" => |x, _| Some(x.atan()),
        "sinh" => |x, _| Some(x.sinh()),
        "cosh" => |x, _| Some(x.cosh()),
        "tanh" => |x, _| Some(x.tanh()),
        "asinh" => |x, _| Some(x.asinh()),
        "acosh" => |x, _| Some(x.acosh()),
        "atanh" => |x, _| Some(x.atanh()),
        "rad" => |x, _| Some(x * std::f64::consts::PI / 180.0),
        "deg" => |x, _| Some(x * 180.0 / std::f64::consts::PI),
        "sgn" => |x, _| {
            Some(if x < 0.0 {
                -1.0
            } else if x > 0.0 {
                1.0
            } else {
                x
            })
        },
        "round" => |x, args| {
            let to = args.first().copied().unwrap_or(1.0);
            let inv = 1.0 / to;
            Some((x * inv + 0.5).floor() / inv)
        },
        // An empty range (`max < min`) gives no samples.
        "clamp" => |x, args| clamp(x, nth(args, 0), nth(args, 1)),
        "clamp_min" => |x, args| clamp(x, nth(args, 0), f64::INFINITY),
        "clamp_max" => |x, args| clamp(x, f64::NEG_INFINITY, nth(args, 0)),
        // The date functions of a vector (without one they read the clock).
        "day_of_month" => |x, _| Some(date_of(x, date::day_of_month)),
        "day_of_week" => |x, _| Some(date_of(x, date::day_of_week)),
        "day_of_year" => |x, _| Some(date_of(x, date::day_of_year)),
        "days_in_month" => |x, _| Some(date_of(x, date::days_in_month)),
        "hour" => |x, _| Some(date_of(x, date::hour)),
        "minute" => |x, _| Some(date_of(x, date::minute)),
        "month" => |x, _| Some(date_of(x, date::month)),
        "year" => |x, _| Some(date_of(x, date::year)),
        _ => return None,
    };
    Some(f)
}

/// The `i`th scalar argument (NaN when missing).
fn nth(args: &[f64], i: usize) -> f64 {
    args.get(i).copied().unwrap_or(f64::NAN)
}

/// `x` clamped to `lo..=hi` as Prometheus does it; `None` when `hi < lo`
/// (a NaN bound is not an empty range).
fn clamp(x: f64, lo: f64, hi: f64) -> Option<f64> {
    if hi < lo {
        return None;
    }
    Some(go_max(lo, go_min(hi, x)))
}

fn first_f(v: &[Vector], i: usize) -> f64 {
    v.get(i).and_then(|v| v.first()).map_or(f64::NAN, |s| s.f)
}

/// A date function of the evaluation time (whole seconds, truncated as
/// Go's integer division does), for a call without argument.
fn date_now(ts: i64, f: fn(Moment) -> f64) -> Vector {
    vec![bare(f(Moment::from_unix_seconds(ts / 1000)))]
}

/// A date function of a sample's value, read as Prometheus reads it (see
/// [`Moment::from_value`]).
fn date_of(secs: f64, f: fn(Moment) -> f64) -> f64 {
    f(Moment::from_value(secs))
}

/// What a function keeps from one step to the next of an evaluation.
#[derive(Default)]
pub(crate) struct CallState {
    /// `histogram_quantile(s)`, `histogram_fraction`: the classic bucket
    /// groups of the input series.
    buckets: histogram::BucketGrouping,
}

/// Calls the instant function `c` on the argument vectors of one step;
/// `series` holds the input series of each of their samples.
pub(crate) fn call(
    ev: &Ev<'_, '_>,
    c: &CallN,
    v: &[Vector],
    series: &[Vec<usize>],
    state: &mut CallState,
    strings: &[String],
    ts: i64,
) -> Result<Vector, EvalError> {
    let arg = || v.first().cloned().unwrap_or_default();
    // (A date function without argument reads the clock, below.)
    if !v.is_empty()
        && let Some(f) = elementwise(c.func.name)
    {
        let args: Vec<f64> = (1..v.len()).map(|i| first_f(v, i)).collect();
        return Ok(map_floats(ev, &arg(), |x| f(x, &args)));
    }
    match c.func.name {
        "vector" => Ok(vec![bare(first_f(v, 0))]),
        "scalar" => {
            let mut found = None;
            for s in v.first().into_iter().flatten() {
                if s.h.is_none() {
                    if found.is_some() {
                        return Ok(vec![bare(f64::NAN)]);
                    }
                    found = Some(s.f);
                }
            }
            Ok(vec![bare(found.unwrap_or(f64::NAN))])
        }
        "time" => Ok(vec![bare(ts as f64 / 1000.0)]),
        "pi" => Ok(vec![bare(std::f64::consts::PI)]),
        "max_of" => Ok(vec![bare(go_max(first_f(v, 0), first_f(v, 1)))]),
        "min_of" => Ok(vec![bare(go_min(first_f(v, 0), first_f(v, 1)))]),
        "day_of_month" => Ok(date_now(ts, date::day_of_month)),
        "day_of_week" => Ok(date_now(ts, date::day_of_week)),
        "day_of_year" => Ok(date_now(ts, date::day_of_year)),
        "days_in_month" => Ok(date_now(ts, date::days_in_month)),
        "hour" => Ok(date_now(ts, date::hour)),
        "minute" => Ok(date_now(ts, date::minute)),
        "month" => Ok(date_now(ts, date::month)),
        "year" => Ok(date_now(ts, date::year)),
        "timestamp" => Ok(arg()
            .iter()
            .map(|s| ESample {
                labels: if ev.delayed() {
                    s.labels.clone()
                } else {
                    drop_metadata(&s.labels)
                },
                t: s.t,
                f: s.t as f64 / 1000.0,
                h: None,
                drop_name: true,
            })
            .collect()),
        "absent" => {
            if v.first().is_some_and(|x| !x.is_empty()) {
                return Ok(Vec::new());
            }
            Ok(vec![ESample::float(
                c.args.first().map(absent_labels).unwrap_or_default(),
                1.0,
            )])
        }
        "sort" => Ok(sort::sort(&arg(), false)),
        "sort_desc" => Ok(sort::sort(&arg(), true)),
        "sort_by_label" => Ok(sort::sort_by_label(&arg(), strings, false)),
        "sort_by_label_desc" => Ok(sort::sort_by_label(&arg(), strings, true)),
        "histogram_quantile" => Ok(histogram::histogram_quantile(
            ev,
            c,
            v,
            series,
            &mut state.buckets,
            ts,
        )),
        "histogram_quantiles" => Ok(histogram::histogram_quantiles(
            ev,
            c,
            v,
            series,
            &mut state.buckets,
            strings,
            ts,
        )),
        "histogram_fraction" => Ok(histogram::histogram_fraction(
            ev,
            c,
            v,
            series,
            &mut state.buckets,
        )),
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => Ok(arg()
            .iter()
            .filter_map(|s| {
                let h = s.h.as_ref()?;
                let f = match c.func.name {
                    "histogram_count" => h.count,
                    "histogram_sum" => h.sum,
                    "histogram_stddev" => h.stddev(),
                    "histogram_stdvar" => h.stdvar(),
                    _ => h.avg(),
                };
                Some(ESample {
                    labels: if ev.delayed() {
                        s.labels.clone()
                    } else {
                        s.labels.without_metric_name()
                    },
                    t: s.t,
                    f,
                    h: None,
                    drop_name: true,
                })
            })
            .collect()),
        other => Err(EvalError::Execution(format!(
            "function {other:?} is not supported"
        ))),
    }
}

/// `timestamp(selector)`: the timestamps of the selected samples themselves.
pub(crate) fn timestamp_of_selector(ev: &Ev<'_, '_>, sel: &Sel) -> Result<Matrix, EvalError> {
    let series = ev.select(sel, None)?;
    sample_times(ev, sel, &series, true, |_, s, is_hist, i| {
        if is_hist {
            s.histograms[i].t
        } else {
            s.floats[i].t
        }
    })
}

/// `start_timestamp(selector)`: the start (created) timestamps of the selected
/// samples, when the engine uses start timestamps.
pub(crate) fn start_timestamp_of_selector(ev: &Ev<'_, '_>, sel: &Sel) -> Result<Matrix, EvalError> {
    if !ev.sh.opts.start_timestamps {
        return Ok(Vec::new());
    }
    let hints = ev.select_hints(sel, None);
    let series = ev.sh.storage.select(&sel.matchers, &hints)?;
    let starts = series
        .iter()
        .map(|s| ev.sh.storage.start_timestamps(&s.labels, &hints))
        .collect::<Result<Vec<_>, _>>()?;
    sample_times(ev, sel, &series, false, |n, _, is_hist, i| {
        let list = if is_hist {
            &starts[n].histograms
        } else {
            &starts[n].floats
        };
        list.get(i).copied().unwrap_or(0)
    })
}

/// At every step, a time (in milliseconds, returned as seconds) derived from
/// the sample the instant selector `sel` picks in each series: `time_of`
/// gets the series' index, the series, and whether the pick is a histogram
/// and its index. With `own_times`, `time_of` gives a float sample's own
/// timestamp, and series of floats only take the selector's fast path.
fn sample_times(
    ev: &Ev<'_, '_>,
    sel: &Sel,
    series: &[SelectedSeries<'_>],
    own_times: bool,
    time_of: impl Fn(usize, &SelectedSeries<'_>, bool, usize) -> i64,
) -> Result<Matrix, EvalError> {
    let lb = ev.lookback();
    let mut out = Vec::new();
    // One series' samples or points, reused from series to series.
    let mut scratch: Vec<FPoint> = Vec::new();
    for (n, s) in series.iter().enumerate() {
        ev.tick()?;
        scratch.clear();
        let points = if own_times && s.histograms.is_empty() {
            // Each sample with its time as its value (stale markers kept,
            // so that the selector skips them as it would the sample).
            let times = s.floats.iter().map(|p| {
                let v = if is_stale_nan(p.v) {
                    p.v
                } else {
                    p.t as f64 / 1000.0
                };
                FPoint { t: p.t, v }
            });
            scratch.extend(times);
            ev.latest_floats(sel, lb, &scratch)?
        } else {
            let mut latest = LatestIndex::new(&s.floats, &s.histograms);
            let mut steps = 0;
            for ts in ev.steps() {
                steps += 1;
                // Never decreases from one step to the next.
                let r = sel.at.unwrap_or(ts).saturating_sub(sel.offset);
                if let Some((is_hist, i)) = latest.at(r, lb) {
                    let v = time_of(n, s, is_hist, i) as f64 / 1000.0;
                    scratch.push(FPoint { t: ts, v });
                }
            }
            ev.tick_by(steps)?;
            Points::from_slice(&scratch)
        };
        ev.add_samples(points.len())?;
        ev.count_read(points.len());
        if !points.is_empty() {
            let labels = if ev.delayed() {
                s.labels.clone()
            } else {
                drop_metadata(&s.labels)
            };
            let mut ss = ESeries::new(labels, true);
            ss.floats = points;
            out.push(ss);
        }
    }
    if !ev.delayed() {
        out = crate::engine::eval::merge_same_labelsets(out)?;
    }
    Ok(out)
}

/// The parts of a date the date functions return.
mod date {
    use super::Moment;

    pub(super) fn day_of_month(t: Moment) -> f64 {
        f64::from(t.date().day)
    }

    pub(super) fn day_of_week(t: Moment) -> f64 {
        f64::from(t.weekday())
    }

    pub(super) fn day_of_year(t: Moment) -> f64 {
        f64::from(t.day_of_year())
    }

    pub(super) fn hour(t: Moment) -> f64 {
        f64::from(t.hour())
    }

    pub(super) fn minute(t: Moment) -> f64 {
        f64::from(t.minute())
    }

    pub(super) fn month(t: Moment) -> f64 {
        f64::from(t.date().month)
    }

    pub(super) fn year(t: Moment) -> f64 {
        t.date().year as f64
    }

    pub(super) fn days_in_month(t: Moment) -> f64 {
        f64::from(t.days_in_month())
    }
}
