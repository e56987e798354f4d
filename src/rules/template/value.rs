//! Values a template works with, and how Go's `fmt` prints them.

use std::collections::BTreeMap;

use crate::model::float_format::format_go_g;

/// A value inside template execution, shaped after the Go values
/// Prometheus hands to its templates.
#[derive(Clone, Debug, PartialEq)]
pub enum TValue {
    /// Go's untyped `nil` (also a missing `any` map entry).
    Nil,
    /// A `bool`.
    Bool(bool),
    /// An `int`.
    Int(i64),
    /// A `float64`.
    Float(f64),
    /// A `string` (also `html/template.HTML` from `safeHtml`).
    Str(String),
    /// A map with string keys (`map[string]string` or `map[string]any`);
    /// ranged in key order. `missing` is what a lookup of an absent key gives.
    Map {
        /// The entries.
        entries: BTreeMap<String, TValue>,
        /// Value of a missing key (`""` for label maps, nil for `args`).
        missing: Box<TValue>,
    },
    /// A slice (a query result is a list of [`TValue::Sample`]).
    List(Vec<TValue>),
    /// A query result sample: `Labels` and `Value` fields.
    Sample {
        /// Labels including `__name__`.
        labels: BTreeMap<String, String>,
        /// The value.
        value: f64,
    },
    /// A struct with named fields (the alert template data).
    Struct(Vec<(String, TValue)>),
    /// A `time.Time` (from `toTime`), as Unix nanoseconds.
    Time(i128),
    /// A `time.Duration` (from `toDuration`), nanoseconds.
    Duration(i64),
}

impl TValue {
    /// A label map (missing keys read as `""`).
    pub fn label_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> TValue {
        TValue::Map {
            entries: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), TValue::Str(v.to_string())))
                .collect(),
            missing: Box::new(TValue::Str(String::new())),
        }
    }

    /// Go's notion of truth for `if`, `with`, `and`, `or`, `not`.
    pub fn truthy(&self) -> bool {
        match self {
            TValue::Nil => false,
            TValue::Bool(b) => *b,
            TValue::Int(i) => *i != 0,
            TValue::Float(f) => *f != 0.0,
            TValue::Str(s) => !s.is_empty(),
            TValue::Map { entries, .. } => !entries.is_empty(),
            TValue::List(l) => !l.is_empty(),
            TValue::Sample { .. } | TValue::Struct(_) | TValue::Time(_) => true,
            TValue::Duration(d) => *d != 0,
        }
    }

    /// The Go type name used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            TValue::Nil => "nil",
            TValue::Bool(_) => "bool",
            TValue::Int(_) => "int",
            TValue::Float(_) => "float64",
            TValue::Str(_) => "string",
            TValue::Map { missing, .. } if **missing == TValue::Nil => "map[string]interface {}",
            TValue::Map { .. } => "map[string]string",
            TValue::List(_) => "template.queryResult",
            TValue::Sample { .. } => "*template.sample",
            TValue::Struct(_) => {
                "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"
            }
            TValue::Time(_) => "*time.Time",
            TValue::Duration(_) => "*time.Duration",
        }
    }

    /// As Go's `fmt.Sprint` prints the value (`%v`).
    pub fn to_go_string(&self) -> String {
        let mut out = String::new();
        self.write_go(&mut out, true);
        out
    }

    fn write_go(&self, out: &mut String, top: bool) {
        match self {
            TValue::Nil => out.push_str(if top { "<no value>" } else { "<nil>" }),
            TValue::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            TValue::Int(i) => out.push_str(&i.to_string()),
            TValue::Float(f) => out.push_str(&format_go_g(*f)),
            TValue::Str(s) => out.push_str(s),
            TValue::Map { entries, .. } => {
                out.push_str("map[");
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_go(out, false);
                }
                out.push(']');
            }
            TValue::List(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_go(out, false);
                }
                out.push(']');
            }
            TValue::Sample { labels, value } => {
                out.push_str(if top { "&{map[" } else { "0xc000{map[" });
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    out.push_str(v);
                }
                out.push_str("] ");
                out.push_str(&format_go_g(*value));
                out.push('}');
            }
            TValue::Struct(fields) => {
                out.push('{');
                for (i, (_, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    v.write_go(out, false);
                }
                out.push('}');
            }
            TValue::Time(ns) => out.push_str(&format_go_time(*ns)),
            TValue::Duration(ns) => out.push_str(&format_go_duration(*ns)),
        }
    }
}

/// Go's `time.Time.String()` for a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC`.
pub fn format_go_time(unix_nanos: i128) -> String {
    let secs = unix_nanos.div_euclid(1_000_000_000);
    let nanos = unix_nanos.rem_euclid(1_000_000_000);
    let secs = i64::try_from(secs).unwrap_or(0);
    let nanos = u32::try_from(nanos).unwrap_or(0);
    let Some(dt) = chrono::DateTime::from_timestamp(secs, nanos) else {
        return String::from("<invalid time>");
    };
    let mut text = dt.format("%Y-%m-%d %H:%M:%S").to_string();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        text.push('.');
        text.push_str(frac.trim_end_matches('0'));
    }
    text.push_str(" +0000 UTC");
    text
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `150ms`, `0s`.
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&fraction(u, div));
        out.push_str(unit);
    } else {
        let secs_total = u / 1_000_000_000;
        let h = secs_total / 3600;
        let m = (secs_total / 60) % 60;
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&fraction(u % 60_000_000_000, 1_000_000_000));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

fn fraction(value: u64, div: u64) -> String {
    let whole = value / div;
    let rest = value % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let frac = format!("{rest:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}
