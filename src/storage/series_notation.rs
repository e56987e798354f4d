//! The expanding series notation of `promtool test rules` and the PromQL
//! test scripts: `metric{l="v"} 1 2+3x4 5-1x2 _ _x3 stale {{sum:3 count:2}}`.
//!
//! | item | values |
//! |---|---|
//! | `a` | `a` |
//! | `axn` | `a` repeated `n + 1` times |
//! | `a+bxn` / `a-bxn` | `a`, `a±b`, ... `n + 1` values |
//! | `_` / `_xn` | one / `n` omitted values |
//! | `stale` | a stale marker |
//! | `{{...}}`, `{{...}}xn`, `{{...}}+{{...}}xn` | native histograms |
//!
//! ```
//! use promql_engine::storage::series_notation::{parse_series, SeqValue};
//!
//! let s = parse_series(r#"up{job="a"} 1+2x3 _"#).unwrap();
//! assert_eq!(s.labels.get("job"), Some("a"));
//! let floats: Vec<f64> = s.values.iter().filter_map(SeqValue::as_float).collect();
//! assert_eq!(floats, [1.0, 3.0, 5.0, 7.0]);
//! assert_eq!(s.values.len(), 5);
//! ```

use std::sync::Arc;

use crate::model::{FloatHistogram, Labels, Timestamp, stale_nan};
use crate::storage::{Appender, StorageError};

mod histogram_desc;
pub(crate) mod histogram_ops;
mod metric;
pub(crate) mod quoted;

pub(crate) use histogram_desc::number_value;

/// One position of an expanded series.
#[derive(Clone, Debug, PartialEq)]
pub enum SeqValue {
    /// No sample at this position (`_`).
    Omitted,
    /// A float sample (a stale marker is [`stale_nan`]).
    Float(f64),
    /// A native-histogram sample.
    Histogram {
        /// The histogram.
        histogram: Arc<FloatHistogram>,
        /// Whether `counter_reset_hint` was written; expected results only
        /// check the hint when it was.
        hint_set: bool,
    },
}

impl SeqValue {
    /// The float, if this is a float value.
    pub fn as_float(&self) -> Option<f64> {
        match self {
            SeqValue::Float(v) => Some(*v),
            _ => None,
        }
    }
}

/// A parsed series description: labels and expanded values.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesDesc {
    /// The series labels (`__name__` included when written).
    pub labels: Labels,
    /// The values, one per interval step.
    pub values: Vec<SeqValue>,
}

impl SeriesDesc {
    /// Appends the values to `app`, the first at `start` and each next one
    /// `interval` milliseconds later; omitted positions are skipped.
    pub fn append_to(
        &self,
        app: &mut dyn Appender,
        start: Timestamp,
        interval: i64,
    ) -> Result<(), StorageError> {
        let mut t = start;
        for v in &self.values {
            match v {
                SeqValue::Omitted => {}
                SeqValue::Float(f) => app.append(&self.labels, t, *f)?,
                SeqValue::Histogram { histogram, .. } => {
                    app.append_histogram(&self.labels, t, histogram.clone())?
                }
            }
            t = t.saturating_add(interval);
        }
        Ok(())
    }
}

/// Why a series description did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (column {column})")]
pub struct SeriesNotationError {
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl SeriesNotationError {
    fn at(input: &str, byte_offset: usize, message: impl Into<String>) -> Self {
        let offset = byte_offset.min(input.len());
        let column = input
            .char_indices()
            .take_while(|(i, _)| *i < offset)
            .count()
            + 1;
        SeriesNotationError {
            column,
            message: message.into(),
        }
    }
}

/// Parses a series description: labels followed by values.
pub fn parse_series(input: &str) -> Result<SeriesDesc, SeriesNotationError> {
    let (labels, rest) = metric::parse_metric(input)
        .map_err(|e| SeriesNotationError::at(input, e.offset, e.message))?;
    let rest_at = input.len() - rest.len();
    if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
        return Err(SeriesNotationError::at(
            input,
            rest_at,
            "expected a space between the series and its values",
        ));
    }
    let values = parse_values(rest)
        .map_err(|(off, msg)| SeriesNotationError::at(input, rest_at + off, msg))?;
    Ok(SeriesDesc { labels, values })
}

/// Parses just the values part (`1 2+3x4 _ {{...}}`).
pub fn parse_series_values(input: &str) -> Result<Vec<SeqValue>, SeriesNotationError> {
    parse_values(input).map_err(|(off, msg)| SeriesNotationError::at(input, off, msg))
}

fn parse_values(input: &str) -> Result<Vec<SeqValue>, (usize, String)> {
    let mut out = Vec::new();
    let mut rest = input;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Ok(out);
        }
        let at = input.len() - rest.len();
        let r = if rest.starts_with("{{") {
            histogram_item(rest, &mut out).map_err(|(o, m)| (at + o, m))?
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            float_item(&rest[..end], &mut out).map_err(|m| (at, m))?;
            &rest[end..]
        };
        if !r.is_empty() && !r.starts_with(char::is_whitespace) {
            return Err((
                input.len() - r.len(),
                format!("unexpected {:?} in series values", first_word(r)),
            ));
        }
        rest = r;
    }
}

fn first_word(s: &str) -> &str {
    s.split(char::is_whitespace).next().unwrap_or(s)
}

fn repeat_count(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("invalid repetition in series values: {text:?}"));
    }
    text.parse::<u64>()
        .map_err(|e| format!("invalid repetition in series values: {e}"))
}

/// Upper bound on the values one series may expand to, so typos and hostile
/// input cannot exhaust memory.
pub const MAX_EXPANSION: u64 = 10_000_000;

/// Checks that `have` values plus an expansion by `n` stay within
/// [`MAX_EXPANSION`], before anything is allocated.
fn check_expansion(have: usize, n: u64) -> Result<(), String> {
    if n > MAX_EXPANSION {
        Err(format!(
            "repetition {n} is too large (at most {MAX_EXPANSION})"
        ))
    } else if (have as u64).saturating_add(n) > MAX_EXPANSION {
        Err(format!(
            "series expands to more than {MAX_EXPANSION} values"
        ))
    } else {
        Ok(())
    }
}

/// One whitespace-free item: `_`, `_xN`, `stale`, `v`, `vxN`, `v+dxN`, `v-dxN`.
fn float_item(token: &str, out: &mut Vec<SeqValue>) -> Result<(), String> {
    check_expansion(out.len(), 0)?;
    if token == "_" {
        out.push(SeqValue::Omitted);
        return Ok(());
    }
    if let Some(n) = token.strip_prefix("_x") {
        let n = repeat_count(n)?;
        check_expansion(out.len(), n)?;
        out.extend((0..n).map(|_| SeqValue::Omitted));
        return Ok(());
    }
    let bad = || {
        format!(
            "invalid series value {token:?}: expected a number, \"stale\", \"_\" or a histogram"
        )
    };
    let (rest, base) = if let Some(r) = token.strip_prefix("stale") {
        (r, stale_nan())
    } else {
        histogram_desc::signed_number(token).map_err(|_| bad())?
    };
    if rest.is_empty() {
        out.push(SeqValue::Float(base));
        return Ok(());
    }
    let (rest, delta) = if rest.starts_with(['+', '-']) {
        histogram_desc::signed_number(rest).map_err(|_| bad())?
    } else {
        (rest, 0.0)
    };
    let n = rest.strip_prefix('x').ok_or_else(bad)?;
    let n = repeat_count(n)?;
    check_expansion(out.len(), n)?;
    let mut v = base;
    for _ in 0..=n {
        out.push(SeqValue::Float(v));
        v += delta;
    }
    Ok(())
}

/// `{{...}}`, `{{...}}xN`, `{{...}}+{{...}}xN`, `{{...}}-{{...}}xN`; returns the rest.
fn histogram_item<'a>(input: &'a str, out: &mut Vec<SeqValue>) -> Result<&'a str, (usize, String)> {
    let (base, rest) = histogram_desc::parse_histogram(input)?;
    let at = |r: &str| input.len() - r.len();
    let hist = |h: FloatHistogram, hint_set: bool| SeqValue::Histogram {
        histogram: Arc::new(h),
        hint_set,
    };
    if let Some(r) = rest.strip_prefix('x') {
        let end = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        let n = repeat_count(&r[..end]).map_err(|m| (at(r), m))?;
        check_expansion(out.len(), n).map_err(|m| (at(r), m))?;
        let v = hist(base.histogram, base.hint_set);
        out.extend((0..=n).map(|_| v.clone()));
        return Ok(&r[end..]);
    }
    let sign = match rest.chars().next() {
        Some('+') => 1.0,
        Some('-') => -1.0,
        _ => {
            out.push(hist(base.histogram, base.hint_set));
            return Ok(rest);
        }
    };
    let inc_input = &rest[1..];
    let (inc, r) =
        histogram_desc::parse_histogram(inc_input).map_err(|(o, m)| (at(inc_input) + o, m))?;
    let r2 = r.strip_prefix('x').ok_or_else(|| {
        (
            at(r),
            "expected 'x<count>' after the histogram increment".to_string(),
        )
    })?;
    let end = r2.find(|c: char| !c.is_ascii_digit()).unwrap_or(r2.len());
    let n = repeat_count(&r2[..end]).map_err(|m| (at(r2), m))?;
    check_expansion(out.len(), n).map_err(|m| (at(r2), m))?;
    // As upstream, every value of the expansion takes the increment's "hint written" flag.
    let hint_set = inc.hint_set;
    let mut cur = base.histogram;
    out.push(hist(cur.clone(), hint_set));
    for _ in 0..n {
        cur = histogram_ops::combine(&cur, &inc.histogram, sign).map_err(|m| (0, m))?;
        out.push(hist(cur.clone(), hint_set));
    }
    Ok(&r2[end..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::is_stale_nan;

    fn floats(s: &str) -> Vec<Option<f64>> {
        parse_series_values(s)
            .unwrap()
            .iter()
            .map(|v| match v {
                SeqValue::Float(f) => Some(*f),
                SeqValue::Omitted => None,
                SeqValue::Histogram { .. } => Some(-999.0),
            })
            .collect()
    }

    #[test]
    fn expansions() {
        assert_eq!(
            floats("1+2x3"),
            [Some(1.0), Some(3.0), Some(5.0), Some(7.0)]
        );
        assert_eq!(floats("5-1x2"), [Some(5.0), Some(4.0), Some(3.0)]);
        assert_eq!(floats("-2-1.5x1"), [Some(-2.0), Some(-3.5)]);
        assert_eq!(floats("7x2"), [Some(7.0); 3]);
        assert_eq!(floats("_ _x3 1"), [None, None, None, None, Some(1.0)]);
        assert_eq!(
            floats("1e3 .5 +4 -Inf"),
            [Some(1000.0), Some(0.5), Some(4.0), Some(f64::NEG_INFINITY)]
        );
        assert_eq!(floats("_x0"), []);
        assert_eq!(floats("  1\t2  "), [Some(1.0), Some(2.0)]);
        let v = parse_series_values("stale NaN").unwrap();
        assert!(is_stale_nan(v[0].as_float().unwrap()));
        let nan = v[1].as_float().unwrap();
        assert!(nan.is_nan() && !is_stale_nan(nan));
    }

    #[test]
    fn histogram_expansion() {
        let v = parse_series_values("{{schema:0 sum:4 count:4 buckets:[1 2 1]}}+{{sum:2 count:1 buckets:[1] offset:1}}x2 {{}}x1").unwrap();
        assert_eq!(v.len(), 5);
        let SeqValue::Histogram {
            histogram,
            hint_set,
        } = &v[2]
        else {
            panic!("not a histogram")
        };
        assert!(!hint_set);
        assert_eq!((histogram.sum, histogram.count), (8.0, 6.0));
        assert_eq!(histogram.positive_buckets, vec![1.0, 4.0, 1.0]);
        let v = parse_series_values("{{count:10}}-{{count:1 counter_reset_hint:gauge}}x1").unwrap();
        let SeqValue::Histogram {
            histogram,
            hint_set,
        } = &v[1]
        else {
            panic!("not a histogram")
        };
        assert!(hint_set);
        assert_eq!(histogram.count, 9.0);
    }

    #[test]
    fn full_series_and_errors() {
        let s = parse_series(
            r#"my_metric{env="prod"} 5 2+3x2 _ stale {{schema:1 sum:3 count:22 buckets:[5 10 7]}}"#,
        )
        .unwrap();
        assert_eq!(s.values.len(), 7);
        assert_eq!(s.labels.get("env"), Some("prod"));
        let e = parse_series("m 1 2x").unwrap_err();
        assert_eq!(e.column, 5);
        assert!(parse_series("m 1-1").is_err());
        assert!(parse_series("m 1 foo").is_err());
        assert!(parse_series("m{} {{sum:1}}y").is_err());
        assert!(parse_series("m 1x99999999999").is_err());
        // Extreme layouts must not overflow.
        let v = parse_series_values(
            "{{schema:-9 buckets:[1] offset:2147483647}}+{{schema:52 buckets:[1] offset:-2147483648}}x1",
        )
        .unwrap();
        assert_eq!(v.len(), 2);
        let e = parse_series("m 1 {{schema:1}}+{{schema:0}}x1").unwrap_err();
        assert!(e.message.contains("cannot merge from schema 0 to 1"), "{e}");
    }

    #[test]
    fn appends_at_interval() {
        let s = parse_series("m 1 _ 3").unwrap();
        let mut store = crate::storage::MemoryStorage::new();
        s.append_to(&mut store, 1000, 60_000).unwrap();
        assert_eq!(store.sample_count(), 2);
    }
}

#[cfg(test)]
mod no_panic {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn series_parser_never_panics(s in r#"[a-z_{}"=,. 0-9x+\-:\[\]stalebucktsumchnfoI]{0,60}"#) {
            let _ = super::parse_series(&s);
        }

        #[test]
        fn histogram_items_never_panic(s in r#"\{\{[a-z_: 0-9\-\[\]]{0,40}\}\}([+\-]\{\{[a-z_: 0-9\-\[\]]{0,30}\}\})?(x[0-9]{1,2})?"#) {
            let _ = super::parse_series_values(&s);
        }
    }
}
