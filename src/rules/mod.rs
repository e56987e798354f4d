//! Prometheus rule files: loading, linting, evaluation and unit tests. (Planned.)
