//! Loading the Prometheus text exposition format and OpenMetrics text into
//! an [`Appender`].
//!
//! ```
//! use promql_engine::storage::exposition::{load_exposition, ExpositionFormat};
//! use promql_engine::storage::MemoryStorage;
//!
//! let text = "# TYPE http_requests_total counter\nhttp_requests_total{code=\"200\"} 1027 1395066363000\n";
//! let mut store = MemoryStorage::new();
//! let n = load_exposition(text.as_bytes(), ExpositionFormat::Text, 0, &mut store).unwrap();
//! assert_eq!(n, 1);
//! ```
//!
//! Differences between the formats, as Prometheus parses them: text-format
//! timestamps are integer milliseconds, OpenMetrics timestamps are seconds
//! with an optional fraction; OpenMetrics input must end with `# EOF` and
//! has no blank lines or free comments; OpenMetrics knows `# UNIT` and
//! exemplars (` # {trace_id="x"} 1`), which are skipped here. In both, the
//! `le` label of histograms and the `quantile` label of summaries are
//! normalized (`1` becomes `1.0`).

mod comment;
mod number;
mod sample;

use std::collections::HashMap;

use crate::model::{Labels, Timestamp};
use crate::storage::memory::SeriesRef;
use crate::storage::{Appender, MemoryStorage, StorageError};
use comment::{Comment, parse_comment};
use sample::{Interner, Normalize, parse_series, parse_value_and_timestamp, series_span};

/// Which text format the input is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpositionFormat {
    /// The classic Prometheus text format (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text`).
    OpenMetrics,
}

impl ExpositionFormat {
    /// OpenMetrics when the last non-blank line is `# EOF`, text otherwise.
    pub fn detect(input: &[u8]) -> ExpositionFormat {
        let last = input
            .split(|b| *b == b'\n')
            .rev()
            .find(|l| !l.iter().all(u8::is_ascii_whitespace));
        match last {
            Some(l) if l.trim_ascii() == b"# EOF" => ExpositionFormat::OpenMetrics,
            _ => ExpositionFormat::Text,
        }
    }
}

/// A metric family's metadata line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Metadata {
    /// `# HELP name text` (text unescaped).
    Help {
        /// The metric family name.
        name: String,
        /// The help text.
        text: String,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family name.
        name: String,
        /// `counter`, `gauge`, `histogram`, `summary`, `untyped`, ...
        kind: String,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The metric family name.
        name: String,
        /// The unit.
        unit: String,
    },
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct ExposedSample {
    /// Series labels, `__name__` included.
    pub labels: Labels,
    /// The sample's own timestamp in milliseconds, if it has one.
    pub timestamp: Option<Timestamp>,
    /// The value.
    pub value: f64,
}

/// A parsed exposition: samples and metadata in input order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Exposition {
    /// The samples.
    pub samples: Vec<ExposedSample>,
    /// HELP, TYPE and UNIT lines.
    pub metadata: Vec<Metadata>,
}

/// Why an exposition could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExpositionError {
    /// The input is malformed at this 1-based line.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The appender refused a sample from this line.
    #[error("line {line}: {source}")]
    Storage {
        /// 1-based line number.
        line: usize,
        /// The appender's error.
        #[source]
        source: StorageError,
    },
}

/// How far loading has got, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadProgress {
    /// Input bytes parsed so far.
    pub bytes_read: usize,
    /// The input's total size in bytes.
    pub total_bytes: usize,
    /// Samples parsed so far.
    pub samples: usize,
}

/// Progress is reported each time this many more input bytes are parsed.
const PROGRESS_STEP: usize = 1 << 20;

/// Parses an exposition without storing it.
pub fn parse_exposition(
    input: &[u8],
    format: ExpositionFormat,
) -> Result<Exposition, ExpositionError> {
    let parsed = parse_all(input, format, &mut |_| {})?;
    let samples = parsed
        .samples
        .iter()
        .filter_map(|s| {
            Some(ExposedSample {
                labels: parsed.series.get(s.series)?.clone(),
                timestamp: s.timestamp,
                value: s.value,
            })
        })
        .collect();
    Ok(Exposition {
        samples,
        metadata: parsed.metadata,
    })
}

/// Parses `input` and appends every sample to `app`; samples without a
/// timestamp get `default_timestamp`. Nothing is appended when the input is
/// malformed. Returns the number of samples appended.
pub fn load_exposition(
    input: &[u8],
    format: ExpositionFormat,
    default_timestamp: Timestamp,
    app: &mut dyn Appender,
) -> Result<usize, ExpositionError> {
    let parsed = parse_all(input, format, &mut |_| {})?;
    for s in &parsed.samples {
        if let Some(labels) = parsed.series.get(s.series) {
            app.append(labels, s.timestamp.unwrap_or(default_timestamp), s.value)
                .map_err(|source| ExpositionError::Storage {
                    line: s.line,
                    source,
                })?;
        }
    }
    Ok(parsed.samples.len())
}

/// [`load_exposition`] into a [`MemoryStorage`], faster: each series' labels
/// are looked up once, not once per sample. `progress` is called as parsing
/// advances (about every MiB). Nothing is stored when the input is malformed.
/// Returns the number of samples added.
pub fn load_exposition_into_memory(
    input: &[u8],
    format: ExpositionFormat,
    default_timestamp: Timestamp,
    storage: &mut MemoryStorage,
    progress: &mut dyn FnMut(LoadProgress),
) -> Result<usize, ExpositionError> {
    let parsed = parse_all(input, format, progress)?;
    let refs: Vec<SeriesRef> = parsed
        .series
        .iter()
        .map(|labels| storage.series_ref(labels))
        .collect();
    for s in &parsed.samples {
        if let Some(&series) = refs.get(s.series) {
            storage.add_to(series, s.timestamp.unwrap_or(default_timestamp), s.value);
        }
    }
    Ok(parsed.samples.len())
}

/// One sample line, its series given by index.
struct ParsedSample {
    /// Index into [`Parsed::series`].
    series: usize,
    /// 1-based line number.
    line: usize,
    timestamp: Option<Timestamp>,
    value: f64,
}

/// A whole parsed input.
#[derive(Default)]
struct Parsed {
    /// Distinct series texts' label sets (two texts may give equal labels).
    series: Vec<Labels>,
    samples: Vec<ParsedSample>,
    metadata: Vec<Metadata>,
}

/// Remembers which series text (as written, under a normalization) was
/// parsed into which series, so repeated series are not parsed again.
struct SeriesCache<'a> {
    known: HashMap<(Normalize, &'a [u8]), usize>,
    /// The most recent entry: consecutive samples of one series are common.
    last: Option<(Normalize, &'a [u8], usize)>,
}

impl<'a> SeriesCache<'a> {
    fn get(&self, normalize: Normalize, text: &[u8]) -> Option<usize> {
        match self.last {
            Some((n, t, id)) if n == normalize && t == text => Some(id),
            _ => self.known.get(&(normalize, text)).copied(),
        }
    }

    fn remember(&mut self, normalize: Normalize, text: &'a [u8], id: usize) {
        self.last = Some((normalize, text, id));
        self.known.entry((normalize, text)).or_insert(id);
    }
}

/// Parses every line; see the module documentation for the rules.
fn parse_all(
    input: &[u8],
    format: ExpositionFormat,
    progress: &mut dyn FnMut(LoadProgress),
) -> Result<Parsed, ExpositionError> {
    let om = format == ExpositionFormat::OpenMetrics;
    let mut out = Parsed::default();
    let mut normalize = Normalize::None;
    let mut interner = Interner::default();
    let mut cache = SeriesCache {
        known: HashMap::new(),
        last: None,
    };
    let mut saw_eof = false;
    let mut line_no = 0;
    let mut pos = 0;
    let mut next_report = PROGRESS_STEP;
    while let Some(remaining) = input.get(pos..).filter(|r| !r.is_empty()) {
        let (raw, consumed) = match memchr::memchr(b'\n', remaining) {
            Some(i) => (&remaining[..i], i + 1),
            None => (remaining, remaining.len()),
        };
        pos += consumed;
        line_no += 1;
        if pos >= next_report {
            next_report = pos + PROGRESS_STEP;
            progress(LoadProgress {
                bytes_read: pos,
                total_bytes: input.len(),
                samples: out.samples.len(),
            });
        }
        let syntax = |message: String| ExpositionError::Syntax {
            line: line_no,
            message,
        };
        if saw_eof {
            return Err(syntax("unexpected data after # EOF".into()));
        }
        let line = std::str::from_utf8(raw)
            .map_err(|e| syntax(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        // The text format allows blanks before a line's first token.
        let line = if om {
            line
        } else {
            line.trim_start_matches([' ', '\t'])
        };
        if line.trim().is_empty() {
            if om {
                return Err(syntax("unexpected empty line".into()));
            }
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            match parse_comment(comment, om).map_err(syntax)? {
                Comment::Eof => saw_eof = true,
                Comment::Meta(m) => {
                    if let Metadata::Type { kind, .. } = &m {
                        normalize = Normalize::for_type(kind);
                    }
                    out.metadata.push(m);
                }
                Comment::Other => {}
            }
            continue;
        }
        let key = series_span(line.as_bytes(), om).and_then(|n| line.as_bytes().get(..n));
        let cached = key.and_then(|k| Some((cache.get(normalize, k)?, k.len())));
        let (series, rest) = match cached {
            Some((id, len)) => (id, line.get(len..).unwrap_or_default()),
            None => {
                let (labels, rest) =
                    parse_series(line, om, normalize, &mut interner).map_err(syntax)?;
                let id = out.series.len();
                out.series.push(labels);
                if let Some(k) = key
                    && k.len() + rest.len() == line.len()
                {
                    cache.remember(normalize, k, id);
                }
                (id, rest)
            }
        };
        let (value, timestamp) = parse_value_and_timestamp(rest, om).map_err(syntax)?;
        out.samples.push(ParsedSample {
            series,
            line: line_no,
            timestamp,
            value,
        });
    }
    if om && !saw_eof {
        return Err(ExpositionError::Syntax {
            line: line_no.max(1),
            message: "data does not end with # EOF".into(),
        });
    }
    progress(LoadProgress {
        bytes_read: input.len(),
        total_bytes: input.len(),
        samples: out.samples.len(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[test]
    fn text_format() {
        let input = "# HELP http_requests_total The total.\\nSecond line.\n# TYPE http_requests_total counter\nhttp_requests_total{method=\"post\",code=\"200\",} 1027 1395066363000\nhttp_requests_total { code = \"400\" } +Inf\n\n# a free comment\n{\"my.metric\", \"a.b\"=\"x\\\"y\\\\z\\n\"} NaN\n";
        let e = parse_exposition(input.as_bytes(), ExpositionFormat::Text).unwrap();
        assert_eq!(e.samples.len(), 3);
        assert_eq!(e.samples[0].timestamp, Some(1_395_066_363_000));
        let indented =
            parse_exposition(b"  \t# TYPE a gauge\n  a 1\n", ExpositionFormat::Text).unwrap();
        assert_eq!(indented.samples.len(), 1);
        assert_eq!(indented.metadata.len(), 1);
        assert_eq!(e.samples[0].labels.get("code"), Some("200"));
        assert_eq!(e.samples[1].value, f64::INFINITY);
        assert_eq!(e.samples[2].labels.metric_name(), Some("my.metric"));
        assert_eq!(e.samples[2].labels.get("a.b"), Some("x\"y\\z\n"));
        assert!(e.samples[2].value.is_nan());
        assert_eq!(
            e.metadata[0],
            Metadata::Help {
                name: "http_requests_total".into(),
                text: "The total.\nSecond line.".into()
            }
        );
    }

    #[test]
    fn open_metrics() {
        let input = "# TYPE foo histogram\n# UNIT foo seconds\nfoo_bucket{le=\"1\"} 2 1520879607.789 # {trace_id=\"x\"} 1 1520879607.7\nfoo_bucket{le=\"+Inf\"} 3\n# EOF\n";
        assert_eq!(
            ExpositionFormat::detect(input.as_bytes()),
            ExpositionFormat::OpenMetrics
        );
        let mut store = MemoryStorage::new();
        let n = load_exposition(
            input.as_bytes(),
            ExpositionFormat::OpenMetrics,
            5,
            &mut store,
        )
        .unwrap();
        assert_eq!(n, 2);
        let e = parse_exposition(input.as_bytes(), ExpositionFormat::OpenMetrics).unwrap();
        assert_eq!(e.samples[0].timestamp, Some(1_520_879_607_789));
        assert_eq!(e.samples[0].labels.get("le"), Some("1.0"));
        assert_eq!(e.samples[1].labels.get("le"), Some("+Inf"));
        assert_eq!(e.samples[1].timestamp, None);
    }

    #[test]
    fn errors_have_line_numbers() {
        let bad = |input: &[u8], format| match parse_exposition(input, format) {
            Err(ExpositionError::Syntax { line, .. }) => line,
            other => panic!("expected a syntax error, got {other:?}"),
        };
        assert_eq!(bad(b"a 1\nb{x=\"\xff\"} 1\n", ExpositionFormat::Text), 2);
        assert_eq!(bad(b"a 1\n# TYPE a bogus\n", ExpositionFormat::Text), 2);
        assert_eq!(bad(b"a 1 1.5\n", ExpositionFormat::Text), 1);
        assert_eq!(bad(b"a\n", ExpositionFormat::Text), 1);
        assert_eq!(bad(b"a{b=\"1\",b=\"2\"} 1\n", ExpositionFormat::Text), 1);
        assert_eq!(bad(b"a 0x1p3\n", ExpositionFormat::Text), 1);
        assert_eq!(bad(b"a 1\n", ExpositionFormat::OpenMetrics), 1);
        assert_eq!(bad(b"a 1\n# EOF\nb 2\n", ExpositionFormat::OpenMetrics), 3);
        assert_eq!(bad(b"a 1\n\n# EOF\n", ExpositionFormat::OpenMetrics), 2);
        assert_eq!(bad(b"{\"a\", \"b\"} 1\n", ExpositionFormat::Text), 1);
    }

    #[test]
    fn repeated_series_text_respects_the_family_type() {
        let input = "# TYPE h histogram\nh{le=\"1\"} 1 1\nh{le=\"1\"} 2 2\n# TYPE h gauge\nh{le=\"1\"} 3 3\n# TYPE h histogram\nh{le=\"1\"} 4 4\n";
        let e = parse_exposition(input.as_bytes(), ExpositionFormat::Text).unwrap();
        let le: Vec<_> = e.samples.iter().map(|s| s.labels.get("le")).collect();
        assert_eq!(le, [Some("1.0"), Some("1.0"), Some("1"), Some("1.0")]);
    }

    #[test]
    fn interleaved_and_differently_written_series_share_storage() {
        let input = "a{x=\"1\",y=\"2\"} 1 1000\nb 5 1000\na{y=\"2\",x=\"1\"} 2 2000\na{x=\"1\",y=\"2\"} 3 3000\nb 6 2000\n";
        let mut store = MemoryStorage::new();
        let n = load_exposition_into_memory(
            input.as_bytes(),
            ExpositionFormat::Text,
            0,
            &mut store,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(n, 5);
        assert_eq!(store.series_count(), 2);
        assert_eq!(store.sample_count(), 5);
        let e = parse_exposition(input.as_bytes(), ExpositionFormat::Text).unwrap();
        assert_eq!(e.samples[0].labels, e.samples[2].labels);
        assert_eq!(e.samples[0].labels, e.samples[3].labels);
        assert_eq!(e.samples[4].value, 6.0);
    }

    #[test]
    fn errors_after_a_cached_series_keep_their_line() {
        let input = b"a{x=\"1\"} 1\na{x=\"1\"} 2 x\n";
        match parse_exposition(input, ExpositionFormat::Text) {
            Err(ExpositionError::Syntax { line, .. }) => assert_eq!(line, 2),
            other => panic!("expected a syntax error, got {other:?}"),
        }
        let mut store = MemoryStorage::new();
        assert!(
            load_exposition_into_memory(input, ExpositionFormat::Text, 0, &mut store, &mut |_| {})
                .is_err()
        );
        assert_eq!(store.series_count(), 0, "nothing is stored on error");
    }

    #[test]
    fn progress_is_reported_up_to_the_total() {
        let line = "some_metric_name{label=\"value\"} 1 1000\n";
        let input = line.repeat(2 * PROGRESS_STEP / line.len() + 10);
        let mut reports = Vec::new();
        let mut store = MemoryStorage::new();
        load_exposition_into_memory(
            input.as_bytes(),
            ExpositionFormat::Text,
            0,
            &mut store,
            &mut |p| reports.push(p),
        )
        .unwrap();
        assert!(reports.len() >= 3, "{reports:?}");
        assert!(
            reports
                .windows(2)
                .all(|w| w[0].bytes_read <= w[1].bytes_read)
        );
        let last = reports.last().unwrap();
        assert_eq!(last.bytes_read, input.len());
        assert_eq!(last.total_bytes, input.len());
        assert_eq!(last.samples, store.sample_count());
    }

    #[test]
    fn normalizes_floats_like_go() {
        use number::open_metrics_float;
        assert_eq!(open_metrics_float(1.0), "1.0");
        assert_eq!(open_metrics_float(0.25), "0.25");
        assert_eq!(open_metrics_float(100000.0), "100000.0");
        assert_eq!(open_metrics_float(1e6), "1e+06");
        assert_eq!(open_metrics_float(0.00001), "1e-05");
        assert_eq!(open_metrics_float(0.0001), "0.0001");
    }
}

#[cfg(test)]
mod no_panic {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = parse_exposition(&bytes, ExpositionFormat::Text);
            let _ = parse_exposition(&bytes, ExpositionFormat::OpenMetrics);
        }

        /// The series cache gives the same samples as parsing each line
        /// on its own, whatever the order and spelling of the series.
        #[test]
        fn cached_series_parse_like_fresh_ones(
            picks in proptest::collection::vec((0usize..8, 0u8..3, 0u32..100), 1..40),
            om in any::<bool>(),
        ) {
            let series = [
                "h_bucket{le=\"1\"}",
                "h_bucket{le=\"1.0\"}",
                "h_bucket{le=\"+Inf\"}",
                "s{quantile=\"0.5\",a=\"}\\\"\"}",
                "s{a=\"}\\\"\",quantile=\"0.5\"}",
                "{\"h_bucket\",le=\"2\"}",
                "up",
                "up{}",
            ];
            let types = ["gauge", "histogram", "summary"];
            let mut whole = String::new();
            let mut singles = Vec::new();
            for (i, ty, v) in &picks {
                let header = format!("# TYPE h_bucket {}\n", types[usize::from(*ty)]);
                let line = format!("{} {v}\n", series[*i]);
                whole.push_str(&header);
                whole.push_str(&line);
                singles.push(format!("{header}{line}"));
            }
            let eof = if om { "# EOF\n" } else { "" };
            let format = if om { ExpositionFormat::OpenMetrics } else { ExpositionFormat::Text };
            let all = parse_exposition(format!("{whole}{eof}").as_bytes(), format).unwrap();
            prop_assert_eq!(all.samples.len(), singles.len());
            for (got, single) in all.samples.iter().zip(&singles) {
                let alone = parse_exposition(format!("{single}{eof}").as_bytes(), format).unwrap();
                prop_assert_eq!(got, &alone.samples[0]);
            }
        }

        #[test]
        fn parser_never_panics_on_near_valid_lines(s in r#"(# (HELP|TYPE|UNIT|EOF) )?[a-z_]{0,5}(\{[a-z"=, \\]{0,20}\})? ?[0-9.eE+\-]{0,8} ?[0-9.]{0,6}\n?"#) {
            let _ = parse_exposition(s.as_bytes(), ExpositionFormat::Text);
            let _ = parse_exposition(s.as_bytes(), ExpositionFormat::OpenMetrics);
        }
    }
}
