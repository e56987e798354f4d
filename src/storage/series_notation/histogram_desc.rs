//! Native-histogram descriptors: `{{schema:1 sum:3 count:22 buckets:[5 10 7]}}`.

use std::collections::HashSet;

use nom::IResult;
use nom::Parser;
use nom::branch::alt;
use nom::bytes::complete::{tag_no_case, take_while1};
use nom::character::complete::{char, digit1, one_of};
use nom::combinator::{opt, recognize};

use crate::model::{BucketSpan, CounterResetHint, FloatHistogram};

/// A parsed histogram and whether its counter-reset hint was written
/// explicitly (expected results only compare the hint when it was).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HistogramDesc {
    pub histogram: FloatHistogram,
    pub hint_set: bool,
}

/// Recognizes an unsigned number: `12`, `1.5`, `.5`, `1e-3`, `Inf`, `NaN`.
pub(crate) fn unsigned_number(i: &str) -> IResult<&str, &str> {
    alt((
        recognize((
            alt((
                recognize((digit1, opt((char('.'), opt(digit1))))),
                recognize((char('.'), digit1)),
            )),
            opt((one_of("eE"), opt(one_of("+-")), digit1)),
        )),
        tag_no_case("inf"),
        tag_no_case("nan"),
    ))
    .parse(i)
}

/// Converts number text as Prometheus does: integers with a leading `0` are
/// octal, everything else is a decimal float (`Inf`, `NaN` included).
pub(crate) fn number_value(text: &str) -> Option<f64> {
    if text.len() > 1 && text.starts_with('0') && text.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(v) = i64::from_str_radix(&text[1..], 8) {
            return Some(v as f64);
        }
    }
    text.parse::<f64>().ok()
}

/// Recognizes an optionally signed number and converts it.
pub(crate) fn signed_number(i: &str) -> IResult<&str, f64> {
    let (rest, (sign, text)) = (opt(one_of("+-")), unsigned_number).parse(i)?;
    let Some(v) = number_value(text) else {
        return Err(nom::Err::Failure(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Float,
        )));
    };
    Ok((rest, if sign == Some('-') { -v } else { v }))
}

fn integer(i: &str) -> IResult<&str, i64> {
    let (rest, text) = recognize((opt(char('-')), digit1)).parse(i)?;
    match text.parse::<i64>() {
        Ok(v) => Ok((rest, v)),
        Err(_) => Err(nom::Err::Failure(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Digit,
        ))),
    }
}

fn spaces(i: &str) -> &str {
    i.trim_start_matches([' ', '\t'])
}

fn bucket_list(i: &str) -> Result<(&str, Vec<f64>), String> {
    let mut rest = i
        .strip_prefix('[')
        .ok_or("expected '[' to start a bucket list")?;
    let mut out = Vec::new();
    loop {
        rest = spaces(rest);
        if let Some(r) = rest.strip_prefix(']') {
            return Ok((r, out));
        }
        let (r, v) = signed_number(rest)
            .map_err(|_| format!("invalid bucket value near {:?}", head(rest)))?;
        out.push(v);
        rest = r;
        if !(rest.starts_with([' ', '\t', ']'])) {
            return Err(format!(
                "invalid character in bucket list near {:?}",
                head(rest)
            ));
        }
    }
}

fn head(s: &str) -> &str {
    let end = s.char_indices().nth(12).map_or(s.len(), |(i, _)| i);
    &s[..end]
}

/// Parses `{{ ... }}` at the start of `input`; returns the histogram and the rest.
pub(crate) fn parse_histogram(input: &str) -> Result<(HistogramDesc, &str), (usize, String)> {
    let at = |rest: &str| input.len() - rest.len();
    let mut rest = input
        .strip_prefix("{{")
        .ok_or((0, "expected '{{'".to_string()))?;
    let mut h = FloatHistogram::default();
    let mut hint_set = false;
    let mut seen = HashSet::new();
    let (mut buckets, mut offset, mut n_buckets, mut n_offset) = (None, 0i64, None, 0i64);
    loop {
        rest = spaces(rest);
        if let Some(r) = rest.strip_prefix("}}") {
            rest = r;
            break;
        }
        let (r, key) = take_while1::<_, _, nom::error::Error<&str>>(|c: char| {
            c.is_ascii_alphabetic() || c == '_'
        })
        .parse(rest)
        .map_err(|_| {
            (
                at(rest),
                format!("histogram description incomplete near {:?}", head(rest)),
            )
        })?;
        let key = key.to_ascii_lowercase();
        let key_at = at(rest);
        let r = r.strip_prefix(':').ok_or((
            at(r),
            format!("missing `:` for histogram descriptor {key:?}"),
        ))?;
        let r = spaces(r);
        if !seen.insert(key.clone()) {
            return Err((key_at, format!("duplicate key \"{key}\" in histogram")));
        }
        let bad = |what: &str| (at(r), format!("error parsing {what} near {:?}", head(r)));
        rest = match key.as_str() {
            "schema" => {
                let (r2, v) = integer(r).map_err(|_| bad("schema number"))?;
                h.schema = i32::try_from(v)
                    .ok()
                    .filter(|s| *s == -53 || (-9..=52).contains(s))
                    .ok_or_else(|| (at(r), format!("invalid histogram schema {v}")))?;
                r2
            }
            "sum" | "count" | "z_bucket" | "z_bucket_w" => {
                let (r2, v) = signed_number(r).map_err(|_| bad(&key))?;
                match key.as_str() {
                    "sum" => h.sum = v,
                    "count" => h.count = v,
                    "z_bucket" => h.zero_count = v,
                    _ => h.zero_threshold = v,
                }
                r2
            }
            "offset" | "n_offset" => {
                let (r2, v) = integer(r).map_err(|_| bad(&key))?;
                if key == "offset" {
                    offset = v
                } else {
                    n_offset = v
                }
                r2
            }
            "buckets" | "n_buckets" | "custom_values" => {
                let (r2, list) = bucket_list(r).map_err(|m| (at(r), m))?;
                match key.as_str() {
                    "buckets" => buckets = Some(list),
                    "n_buckets" => n_buckets = Some(list),
                    _ => h.custom_values = list,
                }
                r2
            }
            "counter_reset_hint" => {
                let (r2, word) = take_while1::<_, _, nom::error::Error<&str>>(|c: char| {
                    c.is_ascii_alphabetic() || c == '_'
                })
                .parse(r)
                .map_err(|_| bad("counter_reset_hint"))?;
                h.counter_reset_hint = match word.to_ascii_lowercase().as_str() {
                    "unknown" => CounterResetHint::Unknown,
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    _ => return Err(bad("counter_reset_hint")),
                };
                hint_set = true;
                r2
            }
            _ => return Err((key_at, format!("bad histogram descriptor found: {key:?}"))),
        };
        if !(rest.starts_with([' ', '\t']) || rest.starts_with("}}")) {
            return Err((
                at(rest),
                format!("unexpected {:?} in histogram description", head(rest)),
            ));
        }
    }
    let to_i32 = |v: i64| i32::try_from(v).map_err(|_| (0, format!("offset {v} out of range")));
    if let Some(b) = buckets.filter(|b| !b.is_empty()) {
        h.positive_spans = vec![BucketSpan {
            offset: to_i32(offset)?,
            length: b.len() as u32,
        }];
        h.positive_buckets = b;
    }
    if let Some(b) = n_buckets.filter(|b| !b.is_empty()) {
        h.negative_spans = vec![BucketSpan {
            offset: to_i32(n_offset)?,
            length: b.len() as u32,
        }];
        h.negative_buckets = b;
    }
    Ok((
        HistogramDesc {
            histogram: h,
            hint_set,
        },
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_descriptor() {
        let (d, rest) = parse_histogram(
            "{{schema:1 sum:-3 count:22 z_bucket:2 z_bucket_w:0.001 buckets:[5 10 7] offset:-1 n_buckets:[1 2] n_offset:3 counter_reset_hint:gauge}} x",
        )
        .unwrap();
        let h = d.histogram;
        assert!(d.hint_set);
        assert_eq!(rest, " x");
        assert_eq!(
            (h.schema, h.sum, h.count, h.zero_count, h.zero_threshold),
            (1, -3.0, 22.0, 2.0, 0.001)
        );
        assert_eq!(
            h.positive_spans,
            vec![BucketSpan {
                offset: -1,
                length: 3
            }]
        );
        assert_eq!(h.positive_buckets, vec![5.0, 10.0, 7.0]);
        assert_eq!(
            h.negative_spans,
            vec![BucketSpan {
                offset: 3,
                length: 2
            }]
        );
        assert_eq!(h.counter_reset_hint, CounterResetHint::Gauge);
    }

    #[test]
    fn empty_and_custom() {
        let (d, _) = parse_histogram("{{}}").unwrap();
        assert_eq!(d.histogram, FloatHistogram::default());
        assert!(!d.hint_set);
        let (d, _) =
            parse_histogram("{{schema:-53 custom_values:[5 10] buckets:[1 Inf]}}").unwrap();
        assert_eq!(d.histogram.custom_values, vec![5.0, 10.0]);
        assert_eq!(d.histogram.positive_buckets, vec![1.0, f64::INFINITY]);
    }

    #[test]
    fn errors() {
        assert!(
            parse_histogram("{{sum:1 sum:2}}")
                .unwrap_err()
                .1
                .contains("duplicate key")
        );
        assert!(parse_histogram("{{foo:1}}").is_err());
        assert!(parse_histogram("{{sum:1").is_err());
        assert!(parse_histogram("{{buckets:[1 x]}}").is_err());
        assert!(parse_histogram("{{counter_reset_hint:maybe}}").is_err());
        assert!(parse_histogram("{{schema:100}}").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(number_value("010"), Some(8.0));
        assert_eq!(number_value("1e3"), Some(1000.0));
        assert!(number_value("NaN").unwrap().is_nan());
        assert_eq!(
            signed_number("-Inf rest").unwrap(),
            (" rest", f64::NEG_INFINITY)
        );
    }
}
