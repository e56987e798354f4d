//! Parsing a test script into commands.

use std::sync::LazyLock;

use regex::Regex;

use super::duration::parse_duration;
use crate::model::Labels;
use crate::storage::series_notation::{self, SeqValue, SeriesDesc, number_value};

static LOAD: LazyLock<Regex> = LazyLock::new(|| re(r"^load(?:_(with_nhcb))?\s+(.+?)$"));
static EVAL_INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
});
static EVAL_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
});
static EXPECT: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
});
static EXPECT_RANGE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$"));
static SPACE: LazyLock<Regex> = LazyLock::new(|| re(r"[\t ]+"));

fn re(pattern: &str) -> Regex {
    // The patterns are constants; a failure here is a bug caught by the tests.
    Regex::new(pattern).unwrap_or_else(|e| panic!("invalid built-in pattern {pattern}: {e}"))
}

/// A script that did not parse: the 1-based line and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScriptError {
    /// 1-based line number in the script.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err(line_idx: usize, message: impl Into<String>) -> ScriptError {
    ScriptError {
        line: line_idx + 1,
        message: message.into(),
    }
}

/// A parsed test script: its commands in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    /// The commands, in file order.
    pub commands: Vec<Command>,
}

/// One command of a script.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// `load <interval>` / `load_with_nhcb <interval>`.
    Load(LoadCmd),
    /// `clear`: drop all data.
    Clear {
        /// 1-based line of the command.
        line: usize,
    },
    /// `eval instant ...` / `eval range ...`.
    Eval(Box<EvalCmd>),
}

/// `load`: series to add, one value per interval starting at time 0.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadCmd {
    /// 1-based line of the command.
    pub line: usize,
    /// Milliseconds between consecutive values.
    pub interval: i64,
    /// `load_with_nhcb`: also convert classic histograms to custom-bucket native histograms.
    pub with_nhcb: bool,
    /// The series, in file order.
    pub series: Vec<LoadSeries>,
}

/// One series of a `load` block.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadSeries {
    /// Labels and values.
    pub desc: SeriesDesc,
    /// Start timestamps from a preceding `metric@st` line: per value, the
    /// offset in milliseconds from the sample's time (`None` where omitted).
    pub start_offsets: Option<Vec<Option<i64>>>,
}

/// When an `eval` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalTime {
    /// An instant query at this time (milliseconds).
    Instant(i64),
    /// A range query.
    Range {
        /// First step (milliseconds).
        start: i64,
        /// Last step (milliseconds).
        end: i64,
        /// Step (milliseconds).
        step: i64,
    },
}

/// A message expectation: any message, an exact one, or a regular expression.
#[derive(Clone, Debug)]
pub enum MessageMatch {
    /// Any message matches.
    Any,
    /// `msg: text`: the whole message equals the text.
    Exact(String),
    /// `regex: re`: the regular expression matches somewhere in the message.
    Regex(Regex),
}

impl PartialEq for MessageMatch {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (MessageMatch::Any, MessageMatch::Any) => true,
            (MessageMatch::Exact(a), MessageMatch::Exact(b)) => a == b,
            (MessageMatch::Regex(a), MessageMatch::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl MessageMatch {
    /// Whether `message` satisfies the expectation.
    pub fn matches(&self, message: &str) -> bool {
        match self {
            MessageMatch::Any => true,
            MessageMatch::Exact(m) => m == message,
            MessageMatch::Regex(r) => r.is_match(message),
        }
    }

    /// `message "text"` or `pattern "re"`, for failure messages.
    pub fn describe(&self) -> String {
        match self {
            MessageMatch::Any => "pattern \"^.*$\"".into(),
            MessageMatch::Exact(m) => format!("message {m:?}"),
            MessageMatch::Regex(r) => format!("pattern {:?}", r.as_str()),
        }
    }
}

/// What an `eval` expects besides the result values.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Expectations {
    /// The query must fail (`expect fail`, `eval_fail`), matching this if given.
    pub fail: Option<MessageMatch>,
    /// At least one warning (`eval_warn`).
    pub legacy_warn: bool,
    /// At least one info (`eval_info`).
    pub legacy_info: bool,
    /// `expect warn ...` lines: each must match a warning, and every warning must match one.
    pub warn: Vec<MessageMatch>,
    /// `expect info ...` lines.
    pub info: Vec<MessageMatch>,
    /// `expect no_warn`.
    pub no_warn: bool,
    /// `expect no_info`.
    pub no_info: bool,
    /// `expect ordered` / `eval_ordered`: vector elements in the written order.
    pub ordered: bool,
}

/// The expected result of an `eval`.
#[derive(Clone, Debug, PartialEq)]
pub enum ExpectedResult {
    /// Series (possibly none): for an instant query one value each, for a
    /// range query (or `expect range vector`) one per step.
    Series(Vec<ExpectedSeries>),
    /// A scalar.
    Scalar(f64),
    /// `expect string "..."`.
    String(String),
}

/// One expected series.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedSeries {
    /// Its labels.
    pub labels: Labels,
    /// Its values.
    pub values: Vec<SeqValue>,
    /// 1-based position among the expected series (for `ordered`).
    pub position: usize,
}

/// `eval`: a query, when to run it, and what it must return.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalCmd {
    /// 1-based line of the command.
    pub line: usize,
    /// The PromQL expression as written.
    pub expr: String,
    /// Instant or range query.
    pub time: EvalTime,
    /// `expect range vector from .. to .. step ..` on an instant query:
    /// the expected matrix timestamps (start, end, step).
    pub range_vector: Option<(i64, i64, i64)>,
    /// Annotation, failure and order expectations.
    pub expect: Expectations,
    /// The expected result.
    pub result: ExpectedResult,
}

impl EvalCmd {
    /// Whether the instant query must not be re-checked in range mode
    /// (range-vector and string results).
    pub fn exclude_from_range_check(&self) -> bool {
        self.range_vector.is_some() || matches!(self.result, ExpectedResult::String(_))
    }

    /// The time an instant query runs at: the `at` time, or the end of an
    /// `expect range vector` window (as upstream).
    pub fn instant_time(&self) -> Option<i64> {
        match (self.time, self.range_vector) {
            (EvalTime::Instant(_), Some((_, end, _))) => Some(end),
            (EvalTime::Instant(t), None) => Some(t),
            (EvalTime::Range { .. }, _) => None,
        }
    }
}

/// Trims lines and blanks out comments, as upstream does (so a comment ends a block).
fn script_lines(input: &str) -> Vec<&str> {
    input
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .collect()
}

impl Script {
    /// Parses a script.
    pub fn parse(input: &str) -> Result<Script, ScriptError> {
        let lines = script_lines(input);
        let mut commands = Vec::new();
        let mut total_values = 0usize;
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i];
            if l.is_empty() {
                i += 1;
                continue;
            }
            let word = SPACE.split(l).next().unwrap_or("").to_lowercase();
            let (next, cmd) = if word == "clear" {
                (i, Command::Clear { line: i + 1 })
            } else if word.starts_with("load") {
                let (n, c) = parse_load(&lines, i)?;
                (n, Command::Load(c))
            } else if word.starts_with("eval") {
                let (n, c) = parse_eval(&lines, i)?;
                (n, Command::Eval(Box::new(c)))
            } else {
                return Err(err(i, format!("invalid command {l:?}")));
            };
            total_values = total_values.saturating_add(value_count(&cmd));
            if total_values > MAX_SCRIPT_VALUES {
                return Err(err(
                    i,
                    format!("the script expands to more than {MAX_SCRIPT_VALUES} values"),
                ));
            }
            commands.push(cmd);
            i = next + 1;
        }
        Ok(Script { commands })
    }
}

/// Most series values (loaded and expected) one script may expand to, so
/// that hostile input cannot exhaust memory one series line at a time.
const MAX_SCRIPT_VALUES: usize = series_notation::MAX_EXPANSION as usize;

/// The series values a command holds.
fn value_count(cmd: &Command) -> usize {
    match cmd {
        Command::Load(load) => load.series.iter().map(|s| s.desc.values.len()).sum(),
        Command::Eval(eval) => match &eval.result {
            ExpectedResult::Series(series) => series.iter().map(|s| s.values.len()).sum(),
            _ => 0,
        },
        Command::Clear { .. } => 0,
    }
}

fn series_line(lines: &[&str], i: usize) -> Result<SeriesDesc, ScriptError> {
    series_notation::parse_series(lines[i]).map_err(|e| err(i, e.to_string()))
}

/// Parses a `load` block starting at line `i`; returns the index of its last line.
fn parse_load(lines: &[&str], i: usize) -> Result<(usize, LoadCmd), ScriptError> {
    let caps = LOAD.captures(lines[i]).ok_or_else(|| {
        err(
            i,
            "invalid load command. (load[_with_nhcb] <step:duration>)",
        )
    })?;
    let step = caps.get(2).map_or("", |m| m.as_str());
    let interval = parse_duration(step)
        .map_err(|e| err(i, format!("invalid step definition {step:?}: {e}")))?;
    let mut cmd = LoadCmd {
        line: i + 1,
        interval,
        with_nhcb: caps.get(1).is_some(),
        series: Vec::new(),
    };
    let mut pending: Option<(usize, Labels, Vec<Option<i64>>)> = None;
    let mut j = i;
    while j + 1 < lines.len() && !lines[j + 1].is_empty() {
        j += 1;
        if let Some((labels, offsets)) = parse_start_line(lines, j)? {
            if let Some((at, ..)) = pending {
                return Err(err(at, "@st line has no following sample line"));
            }
            pending = Some((j, labels, offsets));
            continue;
        }
        let desc = series_line(lines, j)?;
        let start_offsets = match pending.take() {
            None => None,
            Some((at, labels, offsets)) => {
                if labels != desc.labels {
                    return Err(err(
                        at,
                        "@st metric does not match the following sample line metric",
                    ));
                }
                if offsets.len() != desc.values.len() {
                    return Err(err(
                        at,
                        format!(
                            "@st line has {} values but sample line has {}",
                            offsets.len(),
                            desc.values.len()
                        ),
                    ));
                }
                Some(offsets)
            }
        };
        cmd.series.push(LoadSeries {
            desc,
            start_offsets,
        });
    }
    if let Some((at, ..)) = pending {
        return Err(err(at, "@st line has no following sample line"));
    }
    Ok((j, cmd))
}

/// Labels and per-value start offsets of a `metric@st` line.
type StartLine = (Labels, Vec<Option<i64>>);

/// A `metric{...}@st <offsets>` line: labels and per-value start offsets.
fn parse_start_line(lines: &[&str], i: usize) -> Result<Option<StartLine>, ScriptError> {
    let line = lines[i];
    let Some(space) = line.find([' ', '\t']) else {
        return Ok(None);
    };
    let Some(metric) = line[..space].strip_suffix("@st") else {
        return Ok(None);
    };
    let desc = series_notation::parse_series(metric)
        .map_err(|e| err(i, format!("invalid @st line metric {metric:?}: {e}")))?;
    let mut offsets = Vec::new();
    for item in line[space..].split_whitespace() {
        start_item(item, &mut offsets).map_err(|e| {
            err(
                i,
                format!("invalid @st sequence: invalid ST item {item:?}: {e}"),
            )
        })?;
    }
    Ok(Some((desc.labels, offsets)))
}

/// Most positions one start-timestamp item may expand to.
const MAX_REPEAT: usize = 10_000_000;

/// One start-timestamp item: `_`, `_xN`, `<dur>`, `<dur>xN`, `<dur>±<dur>xN`
/// (durations may be negative).
fn start_item(item: &str, out: &mut Vec<Option<i64>>) -> Result<(), String> {
    if item == "_" {
        out.push(None);
        return Ok(());
    }
    if let Some(n) = item.strip_prefix("_x") {
        let n: usize = n.parse().map_err(|_| "invalid repeat count")?;
        if n == 0 || n > MAX_REPEAT {
            return Err("invalid repeat count".into());
        }
        out.extend(std::iter::repeat_n(None, n));
        return Ok(());
    }
    let (base, rest) = signed_duration_prefix(item)?;
    if rest.is_empty() {
        out.push(Some(base));
        return Ok(());
    }
    let (delta, rest) = match rest.strip_prefix('x') {
        Some(_) => (0, rest),
        None => {
            let (d, r) =
                signed_duration_prefix(rest).map_err(|e| format!("invalid step duration: {e}"))?;
            if !rest.starts_with(['+', '-']) {
                return Err(format!(
                    "unexpected character {:?} after duration",
                    rest.chars().next().unwrap_or(' ')
                ));
            }
            (d, r)
        }
    };
    let n: usize = rest
        .strip_prefix('x')
        .ok_or("expected 'x<count>' after step duration")?
        .parse()
        .map_err(|_| "invalid repeat count")?;
    if n > MAX_REPEAT {
        return Err("invalid repeat count".into());
    }
    let mut v = base;
    for _ in 0..=n {
        out.push(Some(v));
        v = v.saturating_add(delta);
    }
    Ok(())
}

/// A duration with an optional sign at the start of `s`; stops at `x`, `+` or `-`.
fn signed_duration_prefix(s: &str) -> Result<(i64, &str), String> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let end = body
        .find(|c: char| !(c.is_ascii_alphanumeric()) || c == 'x')
        .unwrap_or(body.len());
    if end == 0 || !body.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("expected digits in duration {s:?}"));
    }
    let ms = parse_duration(&body[..end])?;
    Ok((if neg { -ms } else { ms }, &body[end..]))
}

fn parse_expect(line: &str) -> Result<(String, MessageMatch), String> {
    let caps = EXPECT.captures(line.trim()).ok_or(
        "invalid expect statement, must match `expect <type> <match_type>: <string>` format",
    )?;
    let kind = caps.get(1).map_or("", |m| m.as_str()).to_string();
    let text = caps.get(3).map_or("", |m| m.as_str()).trim();
    let m = match caps.get(2).map(|m| m.as_str()) {
        None => MessageMatch::Any,
        Some("msg") => MessageMatch::Exact(text.to_string()),
        Some(_) => MessageMatch::Regex(
            Regex::new(text).map_err(|_| format!("invalid regex {text} for {kind}"))?,
        ),
    };
    Ok((kind, m))
}

fn parse_times(from: &str, to: &str, step: &str) -> Result<(i64, i64, i64), String> {
    let start = parse_duration(from)
        .map_err(|e| format!("invalid start timestamp definition {from:?}: {e}"))?;
    let end =
        parse_duration(to).map_err(|e| format!("invalid end timestamp definition {to:?}: {e}"))?;
    if end < start {
        return Err(format!(
            "invalid test definition, end timestamp ({to}) is before start timestamp ({from})"
        ));
    }
    let step =
        parse_duration(step).map_err(|e| format!("invalid step definition {step:?}: {e}"))?;
    Ok((start, end, step))
}

/// Parses an `eval` block starting at line `i`; returns the index of its last line.
fn parse_eval(lines: &[&str], i: usize) -> Result<(usize, EvalCmd), ScriptError> {
    let line = lines[i];
    let (modifier, expr, time) = if let Some(c) = EVAL_INSTANT.captures(line) {
        let at = c.get(2).map_or("", |m| m.as_str());
        let expr = c.get(3).map_or("", |m| m.as_str());
        let t = parse_duration(at).map_err(|e| {
            err(
                i,
                format!(
                    "error in eval {expr} (line {}): invalid timestamp definition {at:?}: {e}",
                    i + 1
                ),
            )
        })?;
        (c.get(1).map(|m| m.as_str()), expr, EvalTime::Instant(t))
    } else if let Some(c) = EVAL_RANGE.captures(line) {
        let g = |n: usize| c.get(n).map_or("", |m| m.as_str());
        let (start, end, step) = parse_times(g(2), g(3), g(4))
            .map_err(|e| err(i, format!("error in eval {} (line {}): {e}", g(5), i + 1)))?;
        (
            c.get(1).map(|m| m.as_str()),
            g(5),
            EvalTime::Range { start, end, step },
        )
    } else {
        return Err(err(
            i,
            "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered] instant [at <offset:duration>] <query>' or 'eval[_fail|_warn] range from <from> to <to> step <step> <query>'",
        ));
    };
    let is_instant = matches!(time, EvalTime::Instant(_));
    let mut cmd = EvalCmd {
        line: i + 1,
        expr: expr.to_string(),
        time,
        range_vector: None,
        expect: Expectations::default(),
        result: ExpectedResult::Series(Vec::new()),
    };
    let legacy_fail = modifier == Some("fail");
    match modifier {
        Some("fail") => cmd.expect.fail = Some(MessageMatch::Any),
        Some("warn") => cmd.expect.legacy_warn = true,
        Some("info") => cmd.expect.legacy_info = true,
        Some("ordered") => cmd.expect.ordered = true,
        _ => {}
    }
    let in_eval = |e: String| err(i, format!("error in eval {expr} (line {}): {e}", i + 1));
    let mut series: Vec<ExpectedSeries> = Vec::new();
    let mut position = 0;
    let mut j = i;
    while j + 1 < lines.len() && !lines[j + 1].is_empty() {
        j += 1;
        let def = lines[j];
        if legacy_fail && let Some(msg) = def.strip_prefix("expected_fail_message") {
            cmd.expect.fail = Some(MessageMatch::Exact(msg.trim().to_string()));
            break;
        }
        if legacy_fail && let Some(pattern) = def.strip_prefix("expected_fail_regexp") {
            let pattern = pattern.trim();
            let r = Regex::new(pattern).map_err(|e| {
                in_eval(format!(
                    "invalid regexp '{pattern}' for expected_fail_regexp: {e}"
                ))
            })?;
            cmd.expect.fail = Some(MessageMatch::Regex(r));
            break;
        }
        if def.starts_with("expect range vector") {
            let c = EXPECT_RANGE
                .captures(def)
                .ok_or_else(|| in_eval(format!("invalid range vector definition {def:?}")))?;
            let g = |n: usize| c.get(n).map_or("", |m| m.as_str());
            let times = parse_times(g(1), g(2), g(3)).map_err(in_eval)?;
            cmd.range_vector = Some(times);
            continue;
        }
        if def.starts_with("expect string") {
            let s = parse_expected_string(def).map_err(in_eval)?;
            cmd.result = ExpectedResult::String(s);
            continue;
        }
        if def.split(' ').next() == Some("expect") {
            let (kind, m) = parse_expect(def).map_err(in_eval)?;
            let e = &mut cmd.expect;
            match kind.as_str() {
                "fail" => {
                    if e.fail.is_some() && !legacy_fail {
                        return Err(in_eval(
                            "invalid expect lines, multiple expect fail lines are not allowed"
                                .into(),
                        ));
                    }
                    e.fail = Some(m);
                }
                "warn" => e.warn.push(m),
                "info" => e.info.push(m),
                "no_warn" => e.no_warn = true,
                "no_info" => e.no_info = true,
                _ => e.ordered = true,
            }
            if !e.info.is_empty() && e.no_info {
                return Err(in_eval(
                    "invalid expect lines, info and no_info cannot be used together".into(),
                ));
            }
            if !e.warn.is_empty() && e.no_warn {
                return Err(in_eval(
                    "invalid expect lines, warn and no_warn cannot be used together".into(),
                ));
            }
            continue;
        }
        if let Some(v) = parse_scalar(def) {
            cmd.result = ExpectedResult::Scalar(v);
            break;
        }
        let desc = series_line(lines, j)?;
        if desc.values.len() > 1 && is_instant && cmd.range_vector.is_none() {
            return Err(in_eval("expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' directive to enable a range vector result for an instant query".into()));
        }
        position += 1;
        series.retain(|s| s.labels != desc.labels);
        series.push(ExpectedSeries {
            labels: desc.labels,
            values: desc.values,
            position,
        });
        cmd.result = ExpectedResult::Series(Vec::new());
    }
    if let ExpectedResult::Series(s) = &mut cmd.result {
        *s = series;
    }
    Ok((j, cmd))
}

/// A bare number line: the expected scalar.
fn parse_scalar(line: &str) -> Option<f64> {
    let body = line.strip_prefix(['+', '-']).unwrap_or(line);
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(hex, 16).ok()? as f64
    } else {
        number_value(body).or_else(|| {
            let lower = body.to_ascii_lowercase();
            matches!(lower.as_str(), "infinity").then_some(f64::INFINITY)
        })?
    };
    Some(if line.starts_with('-') { -v } else { v })
}

fn parse_expected_string(line: &str) -> Result<String, String> {
    let missing = "expected string literal not valid - a quoted string literal is required";
    if line == "expect string" {
        return Err(missing.into());
    }
    let s = line.strip_prefix("expect string ").unwrap_or("");
    if s.is_empty() {
        return Err(missing.into());
    }
    if s.starts_with('\'') {
        return Err(
            "expected string literal not valid - check that the string is correctly quoted".into(),
        );
    }
    series_notation::quoted::unquote(s).map_err(|_| {
        "expected string literal not valid - check that the string is correctly quoted".to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = r#"
# comment
load 5m
    http_requests{job="api"} 0+10x10
    other 1 _ stale

eval instant at 50m sum(http_requests)
    expect warn msg: PromQL warning: something (1:5)
    expect no_info
    {} 100

eval range from 0 to 10m step 5m http_requests
    http_requests{job="api"} 0 10 20

eval_fail instant at 0m foo(
    expected_fail_message unknown function

eval instant at 0 1 + 1
    2

eval instant at 1m "a"
    expect string "a"

eval instant at 1m x[1m]
    expect range vector from 10s to 1m step 10s
    x 1 2 3

clear
eval_ordered instant at 0 sort(x)
    expect fail regex: bad.*
"#;

    #[test]
    fn parses_all_commands() {
        let s = Script::parse(SCRIPT).unwrap();
        assert_eq!(s.commands.len(), 9);
        let Command::Load(load) = &s.commands[0] else {
            panic!("not load")
        };
        assert_eq!(
            (load.line, load.interval, load.series.len()),
            (3, 300_000, 2)
        );
        let Command::Eval(e) = &s.commands[1] else {
            panic!("not eval")
        };
        assert_eq!(e.time, EvalTime::Instant(3_000_000));
        assert_eq!(
            e.expect.warn,
            vec![MessageMatch::Exact(
                "PromQL warning: something (1:5)".into()
            )]
        );
        assert!(e.expect.no_info && !e.expect.no_warn);
        let ExpectedResult::Series(series) = &e.result else {
            panic!("no series")
        };
        assert_eq!(series.len(), 1);
        assert!(series[0].labels.is_empty());
        let Command::Eval(e) = &s.commands[2] else {
            panic!("not eval")
        };
        assert_eq!(
            e.time,
            EvalTime::Range {
                start: 0,
                end: 600_000,
                step: 300_000
            }
        );
        let Command::Eval(e) = &s.commands[3] else {
            panic!("not eval")
        };
        assert_eq!(
            e.expect.fail,
            Some(MessageMatch::Exact("unknown function".into()))
        );
        let Command::Eval(e) = &s.commands[4] else {
            panic!("not eval")
        };
        assert_eq!(e.result, ExpectedResult::Scalar(2.0));
        let Command::Eval(e) = &s.commands[5] else {
            panic!("not eval")
        };
        assert_eq!(e.result, ExpectedResult::String("a".into()));
        assert!(e.exclude_from_range_check());
        let Command::Eval(e) = &s.commands[6] else {
            panic!("not eval")
        };
        assert_eq!(e.range_vector, Some((10_000, 60_000, 10_000)));
        assert_eq!(e.instant_time(), Some(60_000));
        assert!(
            matches!(s.commands[7], Command::Clear { .. }),
            "{:?}",
            s.commands[7]
        );
        let Command::Eval(e) = &s.commands[8] else {
            panic!("not eval")
        };
        assert!(e.expect.ordered);
        assert!(
            matches!(&e.expect.fail, Some(MessageMatch::Regex(r)) if r.is_match("a bad thing"))
        );
    }

    #[test]
    fn start_timestamp_lines() {
        let s = Script::parse("load 1m\n  m@st _ -30s-1mx1 -1msx1\n  m _ 1 2 3 4\n").unwrap();
        let Command::Load(load) = &s.commands[0] else {
            panic!("not load")
        };
        assert_eq!(
            load.series[0].start_offsets,
            Some(vec![None, Some(-30_000), Some(-90_000), Some(-1), Some(-1)])
        );
        assert!(Script::parse("load 1m\n  m@st 1s\n  m 1 2\n").is_err());
        assert!(Script::parse("load 1m\n  m@st 1s\n").is_err());
        assert!(Script::parse("load 1m\n  m@st 1s\n  n 1\n").is_err());
    }

    #[test]
    fn rejects_bad_scripts() {
        let e = Script::parse("\nfoo bar").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(Script::parse("load x\n").is_err());
        assert!(Script::parse("eval instant at 1m x\n  x 1 2\n").is_err());
        assert!(Script::parse("eval instant at 1m x\n  expect warn\n  expect no_warn\n").is_err());
        assert!(Script::parse("eval instant at 1m x\n  expect fail\n  expect fail\n").is_err());
        assert!(Script::parse("eval range from 5m to 1m step 1m x\n").is_err());
        assert!(Script::parse("eval instant at 1m x\n  expect bogus\n").is_err());
        assert!(Script::parse("eval instant at 1m x\n  expect string 'a'\n").is_err());
    }

    #[test]
    fn scalar_lines() {
        assert_eq!(parse_scalar("-0x10"), Some(-16.0));
        assert_eq!(parse_scalar("1e3"), Some(1000.0));
        assert_eq!(parse_scalar("+Inf"), Some(f64::INFINITY));
        assert!(parse_scalar("NaN").unwrap().is_nan());
        assert_eq!(parse_scalar("x"), None);
        assert_eq!(parse_scalar("{} 1"), None);
    }
}

#[cfg(test)]
mod no_panic {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn script_parser_never_panics(s in r#"((load|eval|clear|expect|eval_fail|load_with_nhcb|instant|range|at|from|to|step|fail|warn|msg:|regex:|string|vector|@st|[a-z{}"= 0-9_x+\-])*\n?){0,6}"#) {
            let _ = super::Script::parse(&s);
        }
    }
}
