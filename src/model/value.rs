//! Samples, points, series and the four PromQL value types.

use std::fmt;
use std::sync::Arc;

use super::histogram::FloatHistogram;
use super::labels::Labels;

/// Milliseconds since the Unix epoch, as Prometheus stores time.
pub type Timestamp = i64;

/// The bit pattern Prometheus uses to mark a series as stale.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Prometheus' stale marker: a NaN with a special payload.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// Whether `v` is the stale marker (not any NaN).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Whether any of `points` holds a stale marker. Four points are compared
/// per branch (most series hold none, and the whole slice is looked at).
pub(crate) fn any_stale(points: &[FPoint]) -> bool {
    let mut quads = points.chunks_exact(4);
    for q in &mut quads {
        let stale = |i: usize| q[i].v.to_bits() == STALE_NAN_BITS;
        if stale(0) | stale(1) | stale(2) | stale(3) {
            return true;
        }
    }
    quads.remainder().iter().any(|p| is_stale_nan(p.v))
}

/// A float sample at a time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FPoint {
    /// Timestamp in milliseconds.
    pub t: Timestamp,
    /// The value.
    pub v: f64,
}

/// A native-histogram sample at a time.
#[derive(Clone, Debug, PartialEq)]
pub struct HPoint {
    /// Timestamp in milliseconds.
    pub t: Timestamp,
    /// The histogram, shared.
    pub h: Arc<FloatHistogram>,
}

/// The value of one sample: a float or a native histogram.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleValue {
    /// A float.
    Float(f64),
    /// A native histogram.
    Histogram(Arc<FloatHistogram>),
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The series labels.
    pub labels: Labels,
    /// Timestamp in milliseconds.
    pub t: Timestamp,
    /// The value.
    pub value: SampleValue,
}

/// One series of a range vector (matrix): floats and histograms, each sorted by time.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Series {
    /// The series labels.
    pub labels: Labels,
    /// Float points, sorted by time.
    pub floats: Vec<FPoint>,
    /// Histogram points, sorted by time.
    pub histograms: Vec<HPoint>,
}

/// The type of a PromQL expression's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum ValueType {
    /// A single float without labels.
    Scalar,
    /// A string.
    String,
    /// An instant vector: one sample per series.
    Vector,
    /// A range vector: a range of samples per series.
    Matrix,
}

impl ValueType {
    /// The name Prometheus uses in messages and the HTTP API's `resultType`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
        }
    }

    /// The name used in type errors: "instant vector", "range vector", "scalar", "string".
    pub fn document_name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::String => "string",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of evaluating a PromQL expression.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A scalar at a time.
    Scalar {
        /// Timestamp in milliseconds.
        t: Timestamp,
        /// The value.
        v: f64,
    },
    /// A string at a time.
    String {
        /// Timestamp in milliseconds.
        t: Timestamp,
        /// The value.
        v: String,
    },
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range vector, or the result of a range query.
    Matrix(Vec<Series>),
}

impl Value {
    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Scalar { .. } => ValueType::Scalar,
            Value::String { .. } => ValueType::String,
            Value::Vector(_) => ValueType::Vector,
            Value::Matrix(_) => ValueType::Matrix,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_a_specific_nan() {
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
    }

    #[test]
    fn any_stale_finds_a_marker_at_any_position() {
        for len in 0..11 {
            let mut points: Vec<FPoint> = (0..len)
                .map(|i| FPoint {
                    t: i,
                    v: if i % 3 == 0 { f64::NAN } else { i as f64 },
                })
                .collect();
            assert!(!any_stale(&points), "none in {len}");
            for at in 0..points.len() {
                let v = std::mem::replace(&mut points[at].v, stale_nan());
                assert!(any_stale(&points), "at {at} of {len}");
                points[at].v = v;
            }
        }
    }
}
