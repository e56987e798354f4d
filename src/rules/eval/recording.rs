//! Recording rules: evaluate an expression and store its result under a new
//! metric name.

use crate::model::{Labels, Sample};
use crate::parser::Expr;

use super::RuleEvalError;

/// A recording rule ready for evaluation.
#[derive(Clone, Debug)]
pub struct RecordingRule {
    /// `record:`, the new metric name.
    pub name: String,
    /// The parsed expression.
    pub expr: Expr,
    /// `labels:` (static, not templated), group labels merged in.
    pub labels: Vec<(String, String)>,
}

impl RecordingRule {
    /// Turns the query result into the samples to store: `__name__` set to
    /// the record name, rule labels applied, duplicates and the limit checked.
    pub fn output(&self, samples: Vec<Sample>, limit: usize) -> Result<Vec<Sample>, RuleEvalError> {
        let mut out = Vec::with_capacity(samples.len());
        for mut sample in samples {
            let mut builder = sample.labels.builder();
            builder.set_mut("__name__", self.name.as_str());
            for (name, value) in &self.labels {
                if value.is_empty() {
                    builder.remove_mut(name);
                } else {
                    builder.set_mut(name.as_str(), value.as_str());
                }
            }
            sample.labels = builder.build();
            out.push(sample);
        }
        let mut seen: Vec<&Labels> = out.iter().map(|s| &s.labels).collect();
        seen.sort();
        if seen.windows(2).any(|w| w[0] == w[1]) {
            return Err(RuleEvalError(
                "vector contains metrics with the same labelset after applying rule labels".into(),
            ));
        }
        if limit > 0 && out.len() > limit {
            return Err(RuleEvalError(format!(
                "exceeded limit of {limit} with {} series",
                out.len()
            )));
        }
        Ok(out)
    }
}
