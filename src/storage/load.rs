//! Loading a data file of any supported kind into a [`MemoryStorage`]: the
//! `load` blocks of a PromQL test script, OpenMetrics text, or the
//! Prometheus text format.
//!
//! ```
//! use promql_engine::storage::MemoryStorage;
//! use promql_engine::storage::load::{DataKind, load_data};
//!
//! let mut store = MemoryStorage::new();
//! let script = "load 1m\n  up{job=\"a\"} 1 2 3\n";
//! assert_eq!(load_data(script.as_bytes(), &mut store, 0).unwrap(), (DataKind::Script, 3));
//! let text = "up{job=\"b\"} 1 60000\n";
//! assert_eq!(load_data(text.as_bytes(), &mut store, 0).unwrap(), (DataKind::Text, 1));
//! ```

use super::MemoryStorage;
use super::exposition::{
    ExpositionError, ExpositionFormat, LoadProgress, load_exposition_into_memory,
};
use crate::model::Timestamp;
use crate::promqltest::{Command, Script, ScriptError, load_into, parse_duration};

/// What a data file contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// A PromQL test script; its `load` (and `clear`) commands are applied.
    Script,
    /// Prometheus text exposition format.
    Text,
    /// OpenMetrics text.
    OpenMetrics,
}

/// Why a data file could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadDataError {
    /// The test script does not parse.
    #[error(transparent)]
    Script(#[from] ScriptError),
    /// A `load` block could not be stored (e.g. inconsistent classic histograms
    /// in `load_with_nhcb`).
    #[error("line {line}: {message}")]
    Load {
        /// 1-based line of the `load` command.
        line: usize,
        /// What went wrong.
        message: String,
    },
    /// The exposition is malformed.
    #[error(transparent)]
    Exposition(#[from] ExpositionError),
    /// A test script that is not valid UTF-8.
    #[error("the script is not valid UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),
}

/// Tells a test script (its first command is `load <duration>`,
/// `load_with_nhcb <duration>`, `clear` or `eval ...`) from an exposition.
pub fn detect(input: &[u8]) -> DataKind {
    let first = input
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .find(|l| !l.is_empty() && !l.starts_with(b"#"));
    let is_script = first
        .and_then(|l| std::str::from_utf8(l).ok())
        .is_some_and(|l| {
            let mut words = l.split_whitespace();
            match (words.next(), words.next()) {
                (Some("load" | "load_with_nhcb"), Some(d)) => parse_duration(d).is_ok(),
                (Some("clear"), None) => true,
                (Some(w), Some("instant" | "range")) => w == "eval" || w.starts_with("eval_"),
                _ => false,
            }
        });
    if is_script {
        DataKind::Script
    } else if ExpositionFormat::detect(input) == ExpositionFormat::OpenMetrics {
        DataKind::OpenMetrics
    } else {
        DataKind::Text
    }
}

/// Loads `input` into `storage`, detecting its kind. Exposition samples
/// without a timestamp get `default_timestamp`; script samples start at 0.
/// Returns the kind and the number of samples added.
pub fn load_data(
    input: &[u8],
    storage: &mut MemoryStorage,
    default_timestamp: Timestamp,
) -> Result<(DataKind, usize), LoadDataError> {
    load_data_with_progress(input, storage, default_timestamp, &mut |_| {})
}

/// [`load_data`], calling `progress` as an exposition is parsed (about every
/// MiB, and once at the end); test scripts report no progress.
pub fn load_data_with_progress(
    input: &[u8],
    storage: &mut MemoryStorage,
    default_timestamp: Timestamp,
    progress: &mut dyn FnMut(LoadProgress),
) -> Result<(DataKind, usize), LoadDataError> {
    let kind = detect(input);
    let added = match kind {
        DataKind::Script => load_script(input, storage)?,
        DataKind::Text => load_exposition_into_memory(
            input,
            ExpositionFormat::Text,
            default_timestamp,
            storage,
            progress,
        )?,
        DataKind::OpenMetrics => load_exposition_into_memory(
            input,
            ExpositionFormat::OpenMetrics,
            default_timestamp,
            storage,
            progress,
        )?,
    };
    // Done loading: compress (with compression on) and drop spare capacity.
    storage.shrink_to_fit();
    Ok((kind, added))
}

/// Applies a test script's `load` and `clear` commands.
fn load_script(input: &[u8], storage: &mut MemoryStorage) -> Result<usize, LoadDataError> {
    let script = Script::parse(std::str::from_utf8(input)?)?;
    let mut added = 0;
    for cmd in &script.commands {
        match cmd {
            Command::Load(load) => {
                let before = storage.sample_count();
                load_into(storage, load).map_err(|message| LoadDataError::Load {
                    line: load.line,
                    message,
                })?;
                added += storage.sample_count().saturating_sub(before);
            }
            Command::Clear { .. } => {
                storage.clear();
                added = 0;
            }
            Command::Eval(_) => {}
        }
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_kinds() {
        assert_eq!(detect(b"# a comment\n\nload 5m\n  x 1\n"), DataKind::Script);
        assert_eq!(detect(b"eval instant at 0 1\n  1\n"), DataKind::Script);
        // A metric called `load` is exposition, not a script.
        assert_eq!(detect(b"load 1\n"), DataKind::Text);
        assert_eq!(detect(b"load{a=\"b\"} 1 1000\n"), DataKind::Text);
        assert_eq!(detect(b"evaluations_total 5 1000\n"), DataKind::Text);
        assert_eq!(detect(b"x 1\n# EOF\n"), DataKind::OpenMetrics);
        assert_eq!(detect(b""), DataKind::Text);
    }

    #[test]
    fn loads_scripts_and_reports_errors() {
        let mut store = MemoryStorage::new();
        let (kind, n) = load_data(
            b"load 1m\n  a 1 2\n\nclear\n\nload 1m\n  b 1 _ 3\n",
            &mut store,
            0,
        )
        .unwrap();
        assert_eq!((kind, n), (DataKind::Script, 2));
        assert_eq!(store.series_count(), 1);
        assert!(matches!(
            load_data(b"load 1m\n  a 1 x\n", &mut store, 0),
            Err(LoadDataError::Script(ScriptError { line: 2, .. }))
        ));
        assert!(matches!(
            load_data(
                b"load_with_nhcb 1m\n  h_bucket{le=\"1\"} 5\n  h_bucket{le=\"2\"} 3\n",
                &mut store,
                0
            ),
            Err(LoadDataError::Load { line: 1, .. })
        ));
        assert!(matches!(
            load_data(b"ok 1\nbad{ 1\n", &mut store, 0),
            Err(LoadDataError::Exposition(ExpositionError::Syntax {
                line: 2,
                ..
            }))
        ));
    }
}
