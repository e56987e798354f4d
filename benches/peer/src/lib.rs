//! Inputs for comparing promql-engine's parser with the `promql-parser`
//! crate (see `benches/compare.rs`).

#[path = "../../common/corpus.rs"]
pub mod corpus;

use std::path::Path;

use promql_engine::{ParseOptions, parse_with};

/// The inputs both parsers accept: the upstream `eval` queries (as one
/// batch), the large generated expressions, and the linearity sizes.
pub struct Inputs {
    /// Upstream queries that both parsers parse.
    pub queries: Vec<String>,
    /// How many upstream queries only one of the parsers accepted.
    pub skipped: usize,
    /// Large generated expressions, by name.
    pub large: Vec<(&'static str, String)>,
    /// Expressions of 16 KiB, 128 KiB and 1 MiB, by size in KiB.
    pub sized: Vec<(usize, String)>,
}

/// Parses with promql-engine (every experimental feature on).
pub fn ours(query: &str) -> bool {
    parse_with(query, &ParseOptions::all()).is_ok()
}

/// Parses with the `promql-parser` crate.
pub fn theirs(query: &str) -> bool {
    promql_parser::parser::parse(query).is_ok()
}

/// Builds the inputs, keeping only what both parsers accept.
pub fn inputs() -> Inputs {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = corpus::promqltest_dir(&root);
    let all = corpus::promqltest_queries(&dir);
    let total = all.len();
    let queries: Vec<String> = all.into_iter().filter(|q| ours(q) && theirs(q)).collect();
    let skipped = total - queries.len();
    let large = corpus::large_expressions()
        .into_iter()
        .filter(|(_, e)| ours(e) && theirs(e))
        .collect();
    let sized = [16, 128, 1024]
        .into_iter()
        .map(|kib| (kib, corpus::sized_expression(kib * 1024)))
        .filter(|(_, e)| ours(e) && theirs(e))
        .collect();
    Inputs {
        queries,
        skipped,
        large,
        sized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_inputs_parse_in_both() {
        for (name, expr) in corpus::large_expressions() {
            assert!(ours(&expr), "promql-engine rejects {name}");
            assert!(theirs(&expr), "promql-parser rejects {name}");
        }
        let expr = corpus::sized_expression(64 * 1024);
        assert!(ours(&expr) && theirs(&expr));
        assert!(expr.len() > 60 * 1024 && expr.len() < 68 * 1024);
    }
}
