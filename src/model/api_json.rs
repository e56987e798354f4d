//! Query results as the Prometheus HTTP API writes them
//! (`/api/v1/query` and `/api/v1/query_range`).
//!
//! Values are strings formatted as Prometheus formats floats, timestamps are
//! seconds with millisecond precision, and results carry `warnings` and
//! `infos` when there are annotations.

use std::fmt::Write;

use super::float_format::{format_api, format_go_f};
use super::histogram::FloatHistogram;
use super::labels::Labels;
use super::value::{SampleValue, Timestamp, Value};

/// Writes `t` (milliseconds) as Prometheus does: seconds with up to three decimals.
pub fn write_timestamp(out: &mut String, t: Timestamp) {
    if t < 0 {
        out.push('-');
    }
    let abs = t.unsigned_abs();
    let _ = write!(out, "{}", abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// Writes a scalar's or string's timestamp as Prometheus does there: the
/// JSON number `float64(t) / 1000` (`1700008880.5`, not `1700008880.500`).
fn write_plain_timestamp(out: &mut String, t: Timestamp) {
    out.push_str(&format_api(t as f64 / 1000.0));
}

/// Writes `s` as a JSON string literal, escaping as Go's `encoding/json`
/// does (including `<`, `>`, `&`, U+2028 and U+2029).
pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Writes a label set as a JSON object `{"name":"value",...}`.
pub fn write_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_json_string(out, &l.name);
        out.push(':');
        write_json_string(out, &l.value);
    }
    out.push('}');
}

fn write_point(out: &mut String, t: Timestamp, v: f64) {
    out.push('[');
    write_timestamp(out, t);
    out.push_str(",\"");
    out.push_str(&format_api(v));
    out.push_str("\"]");
}

fn write_histogram_point(out: &mut String, t: Timestamp, h: &FloatHistogram) {
    out.push('[');
    write_timestamp(out, t);
    out.push_str(",{\"count\":\"");
    out.push_str(&format_api(h.count));
    out.push_str("\",\"sum\":\"");
    out.push_str(&format_api(h.sum));
    out.push('"');
    // Non-empty buckets as `[boundary_rule, "lower", "upper", "count"]`.
    let mut first = true;
    for b in h.api_buckets() {
        out.push_str(if first { ",\"buckets\":[" } else { "," });
        first = false;
        let _ = write!(
            out,
            "[{},\"{}\",\"{}\",\"{}\"]",
            b.boundary_rule,
            format_api(b.lower),
            format_api(b.upper),
            format_api(b.count)
        );
    }
    if !first {
        out.push(']');
    }
    out.push_str("}]");
}

/// The `data` object of a successful query: `{"resultType":...,"result":...}`.
pub fn data_json(value: &Value) -> String {
    let mut out = String::new();
    out.push_str("{\"resultType\":\"");
    out.push_str(value.value_type().as_str());
    out.push_str("\",\"result\":");
    match value {
        Value::Scalar { t, v } => {
            // Scalars are written with Go's 'f' format: never an exponent.
            out.push('[');
            write_plain_timestamp(&mut out, *t);
            out.push_str(",\"");
            out.push_str(&format_go_f(*v));
            out.push_str("\"]");
        }
        Value::String { t, v } => {
            out.push('[');
            write_plain_timestamp(&mut out, *t);
            out.push(',');
            write_json_string(&mut out, v);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.labels);
                match &s.value {
                    SampleValue::Float(v) => {
                        out.push_str(",\"value\":");
                        write_point(&mut out, s.t, *v);
                    }
                    SampleValue::Histogram(h) => {
                        out.push_str(",\"histogram\":");
                        write_histogram_point(&mut out, s.t, h);
                    }
                }
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str("{\"metric\":");
                write_labels(&mut out, &s.labels);
                if !s.floats.is_empty() {
                    out.push_str(",\"values\":[");
                    for (j, p) in s.floats.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_point(&mut out, p.t, p.v);
                    }
                    out.push(']');
                }
                if !s.histograms.is_empty() {
                    out.push_str(",\"histograms\":[");
                    for (j, p) in s.histograms.iter().enumerate() {
                        if j > 0 {
                            out.push(',');
                        }
                        write_histogram_point(&mut out, p.t, &p.h);
                    }
                    out.push(']');
                }
                out.push('}');
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

/// A full success response: `{"status":"success","data":{...}}` plus
/// `warnings` / `infos` arrays when non-empty, and an optional raw `stats` object.
pub fn success_json(
    value: &Value,
    warnings: &[String],
    infos: &[String],
    stats: Option<&str>,
) -> String {
    let mut out = String::from("{\"status\":\"success\",\"data\":");
    let data = data_json(value);
    match stats {
        Some(stats) => {
            // Insert the stats object inside `data`, as Prometheus does.
            out.push_str(&data[..data.len() - 1]);
            out.push_str(",\"stats\":");
            out.push_str(stats);
            out.push('}');
        }
        None => out.push_str(&data),
    }
    for (key, list) in [("warnings", warnings), ("infos", infos)] {
        if !list.is_empty() {
            let _ = write!(out, ",\"{key}\":[");
            for (i, w) in list.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json_string(&mut out, w);
            }
            out.push(']');
        }
    }
    out.push('}');
    out
}

/// An error response: `{"status":"error","errorType":"bad_data","error":"..."}`.
pub fn error_json(error_type: &str, message: &str) -> String {
    let mut out = String::from("{\"status\":\"error\",\"errorType\":");
    write_json_string(&mut out, error_type);
    out.push_str(",\"error\":");
    write_json_string(&mut out, message);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FPoint, Sample, Series};

    #[test]
    fn timestamps_and_floats_as_prometheus_writes_them() {
        let mut s = String::new();
        write_timestamp(&mut s, 1_700_000_000_123);
        assert_eq!(s, "1700000000.123");
        s.clear();
        write_timestamp(&mut s, 1_700_000_000_050);
        assert_eq!(s, "1700000000.050");
        s.clear();
        write_timestamp(&mut s, -1500);
        assert_eq!(s, "-1.500");
        let mut s = String::new();
        write_json_string(&mut s, "<a&b>\u{2028}");
        assert_eq!(s, r#""\u003ca\u0026b\u003e\u2028""#);
    }

    #[test]
    fn vector_and_matrix_shapes() {
        let labels = Labels::from_pairs(&[("__name__", "up"), ("job", "a\"b")]);
        let v = Value::Vector(vec![Sample {
            labels: labels.clone(),
            t: 1500,
            value: SampleValue::Float(1.5),
        }]);
        assert_eq!(
            success_json(&v, &[], &[], None),
            r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a\"b"},"value":[1.500,"1.5"]}]}}"#
        );
        let m = Value::Matrix(vec![Series {
            labels,
            floats: vec![FPoint { t: 0, v: 1.0 }],
            histograms: vec![],
        }]);
        assert_eq!(
            data_json(&m),
            r#"{"resultType":"matrix","result":[{"metric":{"__name__":"up","job":"a\"b"},"values":[[0,"1"]]}]}"#
        );
        assert_eq!(
            success_json(
                &Value::Scalar { t: 1500, v: 1e-7 },
                &["w".into()],
                &[],
                None
            ),
            r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"0.0000001"]},"warnings":["w"]}"#
        );
        assert_eq!(
            error_json("bad_data", "x"),
            r#"{"status":"error","errorType":"bad_data","error":"x"}"#
        );
    }

    #[test]
    fn histograms_with_buckets_as_prometheus_writes_them() {
        use crate::model::BucketSpan;
        let h = FloatHistogram {
            schema: 0,
            count: 3.0,
            sum: 5.0,
            zero_threshold: 0.001,
            zero_count: 1.0,
            positive_spans: vec![BucketSpan {
                offset: 1,
                length: 1,
            }],
            positive_buckets: vec![2.0],
            ..Default::default()
        };
        let mut out = String::new();
        write_histogram_point(&mut out, 1000, &h);
        assert_eq!(
            out,
            r#"[1,{"count":"3","sum":"5","buckets":[[3,"-0.001","0.001","1"],[0,"1","2","2"]]}]"#
        );
    }
}
