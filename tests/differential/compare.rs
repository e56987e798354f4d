//! Query results read back from Prometheus' HTTP API JSON, and their comparison.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value as Json;

/// Relative tolerance for sample values.
const REL_TOLERANCE: f64 = 1e-9;
/// At most this many series are named in one mismatch message.
const SHOWN: usize = 3;

/// A timestamp in milliseconds.
type Millis = i64;

/// What a query returned: data, or an error message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A successful result.
    Data(Data),
    /// `status: error` (or a query that did not parse on our side).
    Error {
        /// The API's `errorType`: `bad_data`, `execution`, `timeout`, ...
        kind: String,
        /// The message.
        message: String,
    },
}

/// The `data` of a successful query.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// `scalar`.
    Scalar(Millis, Num),
    /// `string`.
    String(Millis, String),
    /// `vector`: label set, timestamp, value; in response order.
    Vector(Vec<(String, Millis, Num)>),
    /// `matrix`: label set and points; in response order.
    Matrix(Vec<(String, Vec<(Millis, Num)>)>),
}

/// A sample value and the text the API wrote it as.
#[derive(Debug, Clone, PartialEq)]
pub struct Num {
    /// The parsed value.
    pub value: f64,
    /// The text (`"1.5"`, `"NaN"`, `"1e-07"`, ...).
    pub text: String,
}

impl Num {
    /// Why `self` (ours) and `other` (Prometheus') disagree, if they do: the
    /// values differ beyond the tolerance, or equal values are written differently.
    fn difference(&self, other: &Num) -> Option<&'static str> {
        if !values_match(self.value, other.value) {
            return Some("value");
        }
        let identical = self.value.to_bits() == other.value.to_bits()
            || (self.value.is_nan() && other.value.is_nan());
        (identical && self.text != other.text).then_some("formatting")
    }
}

impl Data {
    fn type_name(&self) -> &'static str {
        match self {
            Data::Scalar(..) => "scalar",
            Data::String(..) => "string",
            Data::Vector(_) => "vector",
            Data::Matrix(_) => "matrix",
        }
    }

    /// A short description for messages.
    fn summary(&self) -> String {
        match self {
            Data::Scalar(t, v) => format!("scalar {} @{}", v.text, fmt_time(*t)),
            Data::String(_, s) => format!("string {s:?}"),
            Data::Vector(v) => format!("vector of {} series", v.len()),
            Data::Matrix(m) => format!("matrix of {} series", m.len()),
        }
    }
}

impl Outcome {
    /// A successful result with at least one value.
    pub fn has_data(&self) -> bool {
        match self {
            Outcome::Error { .. } => false,
            Outcome::Data(Data::Vector(v)) => !v.is_empty(),
            Outcome::Data(Data::Matrix(m)) => !m.is_empty(),
            Outcome::Data(_) => true,
        }
    }

    /// Parses a `/api/v1/query` or `/api/v1/query_range` response body.
    pub fn from_api_json(body: &str) -> Result<Outcome, String> {
        let json: Json =
            serde_json::from_str(body).map_err(|e| format!("invalid JSON ({e}): {body:.200}"))?;
        match json.get("status").and_then(Json::as_str) {
            Some("success") => {}
            Some("error") => {
                let text = |key: &str| json.get(key).and_then(Json::as_str).unwrap_or("?");
                return Ok(Outcome::Error {
                    kind: text("errorType").to_string(),
                    message: text("error").to_string(),
                });
            }
            _ => return Err(format!("no status in response: {body:.200}")),
        }
        let data = json.get("data").ok_or("no data in response")?;
        let result = data.get("result").ok_or("no data.result in response")?;
        let parsed = match data.get("resultType").and_then(Json::as_str) {
            Some("scalar") => {
                let (t, v) = point(result)?;
                Data::Scalar(t, v)
            }
            Some("string") => {
                let pair = result.as_array().filter(|a| a.len() == 2);
                let pair = pair.ok_or("string result is not a pair")?;
                let s = pair[1].as_str().ok_or("string result without text")?;
                Data::String(timestamp(&pair[0])?, s.to_string())
            }
            Some("vector") => Data::Vector(
                array(result)?
                    .iter()
                    .map(|s| {
                        let (t, v) = point(s.get("value").ok_or("vector sample without value")?)?;
                        Ok((labels(s)?, t, v))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            Some("matrix") => Data::Matrix(
                array(result)?
                    .iter()
                    .map(|s| {
                        let values = s.get("values").ok_or("matrix series without values")?;
                        let points = array(values)?
                            .iter()
                            .map(point)
                            .collect::<Result<_, String>>()?;
                        Ok((labels(s)?, points))
                    })
                    .collect::<Result<_, String>>()?,
            ),
            other => return Err(format!("unknown resultType {other:?}")),
        };
        Ok(Outcome::Data(parsed))
    }
}

fn array(json: &Json) -> Result<&Vec<Json>, String> {
    json.as_array()
        .ok_or_else(|| format!("expected an array, got {json:.100}"))
}

/// `{"metric": {...}}` as `{a="b", ...}` (keys sorted).
fn labels(sample: &Json) -> Result<String, String> {
    let metric = sample
        .get("metric")
        .and_then(Json::as_object)
        .ok_or("sample without metric")?;
    let sorted: BTreeMap<&str, &str> = metric
        .iter()
        .map(|(k, v)| Ok((k.as_str(), v.as_str().ok_or("label value is not a string")?)))
        .collect::<Result<_, String>>()?;
    let mut out = String::from("{");
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{k}={v:?}");
    }
    out.push('}');
    Ok(out)
}

fn timestamp(json: &Json) -> Result<Millis, String> {
    let secs = json
        .as_f64()
        .ok_or_else(|| format!("timestamp is not a number: {json}"))?;
    Ok((secs * 1000.0).round() as Millis)
}

/// `[<seconds>, "<value>"]`.
fn point(json: &Json) -> Result<(Millis, Num), String> {
    let pair = json.as_array().filter(|a| a.len() == 2);
    let pair = pair.ok_or_else(|| format!("expected [time, value], got {json}"))?;
    let text = pair[1]
        .as_str()
        .ok_or_else(|| format!("value is not a string: {}", pair[1]))?;
    let value = match text {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s
            .parse::<f64>()
            .map_err(|e| format!("bad value {s:?}: {e}"))?,
    };
    Ok((
        timestamp(&pair[0])?,
        Num {
            value,
            text: text.to_string(),
        },
    ))
}

/// Equal within [`REL_TOLERANCE`]; NaN equals NaN; infinities only themselves.
pub fn values_match(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if !a.is_finite() || !b.is_finite() {
        return false;
    }
    (a - b).abs() <= REL_TOLERANCE * a.abs().max(b.abs())
}

/// Milliseconds as seconds, for messages.
pub fn fmt_time(t: Millis) -> String {
    if t % 1000 == 0 {
        format!("{}", t / 1000)
    } else {
        format!("{}.{:03}", t / 1000, (t % 1000).abs())
    }
}

/// Compares our outcome with Prometheus'. `ordered`: series order matters
/// (`sort`, `sort_desc`, range queries). Both failing with the same error type counts as
/// agreement (the messages may be worded differently in 2.x and 3.x).
pub fn compare(ours: &Outcome, theirs: &Outcome, ordered: bool) -> Result<(), String> {
    match (ours, theirs) {
        (Outcome::Error { kind: a, message }, Outcome::Error { kind: b, .. }) => {
            if a == b {
                Ok(())
            } else {
                Err(format!("error type: ours {a} ({message}), prometheus {b}"))
            }
        }
        (Outcome::Error { kind, message }, Outcome::Data(d)) => Err(format!(
            "ours: {kind} error {message}; prometheus: {}",
            d.summary()
        )),
        (Outcome::Data(d), Outcome::Error { kind, message }) => Err(format!(
            "ours: {}; prometheus: {kind} error {message}",
            d.summary()
        )),
        (Outcome::Data(a), Outcome::Data(b)) => compare_data(a, b, ordered),
    }
}

fn compare_data(ours: &Data, theirs: &Data, ordered: bool) -> Result<(), String> {
    match (ours, theirs) {
        (Data::Scalar(ta, va), Data::Scalar(tb, vb)) => match (ta == tb, va.difference(vb)) {
            (true, None) => Ok(()),
            (_, why) => Err(format!(
                "{}: ours {}; prometheus {}",
                why.unwrap_or("timestamp"),
                ours.summary(),
                theirs.summary()
            )),
        },
        (Data::String(ta, a), Data::String(tb, b)) => {
            if ta == tb && a == b {
                Ok(())
            } else {
                Err(format!("ours {a:?}@{ta}; prometheus {b:?}@{tb}"))
            }
        }
        (Data::Vector(a), Data::Vector(b)) => compare_vectors(a, b, ordered),
        (Data::Matrix(a), Data::Matrix(b)) => compare_matrices(a, b, ordered),
        _ => Err(format!(
            "result type: ours {}, prometheus {}",
            ours.type_name(),
            theirs.type_name()
        )),
    }
}

/// Series present on one side only, as a message; `None` when the sets agree.
fn label_set_difference(ours: &[&String], theirs: &[&String]) -> Option<String> {
    let extra: Vec<&str> = ours
        .iter()
        .filter(|l| !theirs.contains(l))
        .map(|s| s.as_str())
        .collect();
    let missing: Vec<&str> = theirs
        .iter()
        .filter(|l| !ours.contains(l))
        .map(|s| s.as_str())
        .collect();
    if extra.is_empty() && missing.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    for (what, list) in [("extra in ours", &extra), ("missing in ours", &missing)] {
        if list.is_empty() {
            continue;
        }
        let shown = list
            .iter()
            .take(SHOWN)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        let more = if list.len() > SHOWN { " ..." } else { "" };
        parts.push(format!("{} {what}: {shown}{more}", list.len()));
    }
    Some(parts.join("; "))
}

fn duplicates<'a>(labels: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    let mut seen = std::collections::BTreeSet::new();
    labels.into_iter().find(|l| !seen.insert(*l))
}

fn compare_vectors(
    ours: &[(String, Millis, Num)],
    theirs: &[(String, Millis, Num)],
    ordered: bool,
) -> Result<(), String> {
    if let Some(d) = duplicates(ours.iter().map(|s| &s.0)) {
        return Err(format!("ours has series {d} twice"));
    }
    let a: Vec<&String> = ours.iter().map(|s| &s.0).collect();
    let b: Vec<&String> = theirs.iter().map(|s| &s.0).collect();
    if let Some(msg) = label_set_difference(&a, &b) {
        return Err(msg);
    }
    if ordered && a != b {
        return Err(format!(
            "order differs: ours {}; prometheus {}",
            join_first(&a),
            join_first(&b)
        ));
    }
    let theirs: BTreeMap<&String, (Millis, &Num)> =
        theirs.iter().map(|(l, t, v)| (l, (*t, v))).collect();
    let mut bad = Vec::new();
    for (l, t, v) in ours {
        let Some(&(tb, vb)) = theirs.get(l) else {
            continue;
        };
        let why = if *t != tb {
            Some("timestamp")
        } else {
            v.difference(vb)
        };
        if let Some(why) = why {
            bad.push(format!(
                "{l}: {why}: ours {}@{} vs prometheus {}@{}",
                v.text,
                fmt_time(*t),
                vb.text,
                fmt_time(tb)
            ));
        }
    }
    report_bad(bad)
}

fn join_first(list: &[&String]) -> String {
    let shown: Vec<&str> = list.iter().take(SHOWN).map(|s| s.as_str()).collect();
    shown.join(" ")
}

fn report_bad(bad: Vec<String>) -> Result<(), String> {
    if bad.is_empty() {
        return Ok(());
    }
    let n = bad.len();
    let mut msg = bad.into_iter().take(SHOWN).collect::<Vec<_>>().join("; ");
    if n > SHOWN {
        let _ = write!(msg, "; ... ({n} series differ)");
    }
    Err(msg)
}

fn compare_matrices(
    ours: &[(String, Vec<(Millis, Num)>)],
    theirs: &[(String, Vec<(Millis, Num)>)],
    ordered: bool,
) -> Result<(), String> {
    if let Some(d) = duplicates(ours.iter().map(|s| &s.0)) {
        return Err(format!("ours has series {d} twice"));
    }
    let a: Vec<&String> = ours.iter().map(|s| &s.0).collect();
    let b: Vec<&String> = theirs.iter().map(|s| &s.0).collect();
    if let Some(msg) = label_set_difference(&a, &b) {
        return Err(msg);
    }
    if ordered && a != b {
        return Err(format!(
            "series order differs: ours {}; prometheus {}",
            join_first(&a),
            join_first(&b)
        ));
    }
    let theirs: BTreeMap<&String, &Vec<(Millis, Num)>> =
        theirs.iter().map(|(l, p)| (l, p)).collect();
    let mut bad = Vec::new();
    for (l, points) in ours {
        let Some(other) = theirs.get(l) else { continue };
        if let Some(msg) = first_point_difference(points, other) {
            bad.push(format!("{l}: {msg}"));
        }
    }
    report_bad(bad)
}

/// The first step where two series differ, as a message.
fn first_point_difference(ours: &[(Millis, Num)], theirs: &[(Millis, Num)]) -> Option<String> {
    let ours_t: Vec<Millis> = ours.iter().map(|p| p.0).collect();
    let theirs_t: Vec<Millis> = theirs.iter().map(|p| p.0).collect();
    if ours_t != theirs_t {
        let extra: Vec<String> = ours_t
            .iter()
            .filter(|t| !theirs_t.contains(t))
            .take(SHOWN)
            .map(|t| fmt_time(*t))
            .collect();
        let missing: Vec<String> = theirs_t
            .iter()
            .filter(|t| !ours_t.contains(t))
            .take(SHOWN)
            .map(|t| fmt_time(*t))
            .collect();
        return Some(format!(
            "{} points vs prometheus {}; extra steps [{}], missing steps [{}]",
            ours.len(),
            theirs.len(),
            extra.join(" "),
            missing.join(" ")
        ));
    }
    let differing = ours
        .iter()
        .zip(theirs)
        .filter(|(a, b)| a.1.difference(&b.1).is_some())
        .count();
    let (a, b, why) = ours
        .iter()
        .zip(theirs)
        .find_map(|(a, b)| a.1.difference(&b.1).map(|why| (a, b, why)))?;
    Some(format!(
        "@{}: {why}: ours {} vs prometheus {} ({differing} of {} steps differ)",
        fmt_time(a.0),
        a.1.text,
        b.1.text,
        ours.len()
    ))
}

/// Compares what the parsed comparison cannot see: the raw text of label
/// sets (JSON string escaping) and of timestamps. Call it after [`compare`]
/// agreed, with both response bodies. `ordered`: series order matters.
pub fn compare_text(ours: &str, theirs: &str, ordered: bool) -> Result<(), String> {
    static PATTERNS: OnceLock<Result<[Regex; 2], regex::Error>> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        Ok([
            // The raw `metric` object, strings with escapes included.
            Regex::new(r#""metric":(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})"#)?,
            // The raw timestamp of a `[<time>, "<value>"]` pair.
            Regex::new(r#"\[(-?[0-9][0-9.eE+-]*),"#)?,
        ])
    });
    let [metric, time] = patterns.as_ref().map_err(|e| e.to_string())?;
    for (what, re) in [("label set", metric), ("timestamp", time)] {
        let texts = |body: &str| -> Vec<String> {
            let mut found: Vec<String> = re.captures_iter(body).map(|c| c[1].to_string()).collect();
            if !ordered || what == "timestamp" {
                found.sort();
            }
            found
        };
        let (a, b) = (texts(ours), texts(theirs));
        if a.len() != b.len() {
            return Err(format!(
                "{} {what}s in our JSON, {} in Prometheus'",
                a.len(),
                b.len()
            ));
        }
        if let Some((x, y)) = a.iter().zip(&b).find(|(x, y)| x != y) {
            return Err(format!(
                "{what} written differently: ours {x} vs prometheus {y}"
            ));
        }
    }
    Ok(())
}

/// Self-checks of the comparison, run before the real comparison so a broken
/// comparator cannot pass everything.
pub fn self_check() -> Result<(), String> {
    let parse = |s: &str| Outcome::from_api_json(s);
    let a = parse(
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[10,"1.5"]},{"metric":{"a":"2"},"value":[10,"NaN"]}]}}"#,
    )?;
    let b = parse(
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"2"},"value":[10,"NaN"]},{"metric":{"a":"1"},"value":[10.0,"1.5000000000001"]}]}}"#,
    )?;
    let c = parse(
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[10,"1.6"]},{"metric":{"a":"2"},"value":[10,"NaN"]}]}}"#,
    )?;
    let d = parse(
        r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[10,"1.5"]}]}}"#,
    )?;
    let m = parse(
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[10,"1"],[20,"+Inf"]]}]}}"#,
    )?;
    let n = parse(
        r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[[10,"1"],[20,"-Inf"]]}]}}"#,
    )?;
    let e = parse(r#"{"status":"error","errorType":"bad_data","error":"x"}"#)?;
    let x = parse(r#"{"status":"error","errorType":"execution","error":"x"}"#)?;
    let f = parse(r#"{"status":"success","data":{"resultType":"scalar","result":[10,"1e-07"]}}"#)?;
    let g =
        parse(r#"{"status":"success","data":{"resultType":"scalar","result":[10,"0.0000001"]}}"#)?;
    let checks = [
        ("same vector, other order", compare(&a, &b, false).is_ok()),
        ("order matters when asked", compare(&a, &b, true).is_err()),
        ("different value", compare(&a, &c, false).is_err()),
        ("missing series", compare(&a, &d, false).is_err()),
        ("vector vs matrix", compare(&a, &m, false).is_err()),
        ("+Inf vs -Inf", compare(&m, &n, false).is_err()),
        ("matrix equals itself", compare(&m, &m, false).is_ok()),
        ("data vs error", compare(&a, &e, false).is_err()),
        ("error vs error", compare(&e, &e, false).is_ok()),
        ("error types differ", compare(&e, &x, false).is_err()),
        (
            "same value written differently",
            compare(&f, &g, false).is_err(),
        ),
        ("scalar equals itself", compare(&f, &f, false).is_ok()),
    ];
    let text_checks = [
        (
            "label escaping",
            compare_text(
                r#"{"metric":{"a":"<"},"value":[1,"1"]}"#,
                r#"{"metric":{"a":"\u003c"},"value":[1,"1"]}"#,
                false,
            )
            .is_err(),
        ),
        (
            "timestamp text",
            compare_text(
                r#"{"result":[1.5,"1"]}"#,
                r#"{"result":[1.500,"1"]}"#,
                false,
            )
            .is_err(),
        ),
        (
            "same text",
            compare_text(
                r#"{"metric":{"a":"x\"}"},"value":[1.500,"1"]}"#,
                r#"{"metric":{"a":"x\"}"},"value":[1.500,"2"]}"#,
                false,
            )
            .is_ok(),
        ),
    ];
    match checks.iter().chain(&text_checks).find(|(_, ok)| !ok) {
        Some((name, _)) => Err(format!("comparison self-check failed: {name}")),
        None => Ok(()),
    }
}
