//! The data model: labels, matchers, samples, histograms and values.

pub mod api_json;
pub mod float_format;
pub mod histogram;
pub mod labels;
pub mod matcher;
pub mod quote;
pub mod value;

pub use histogram::{BucketSpan, CounterResetHint, FloatHistogram};
pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME};
pub use matcher::{InvalidRegex, MatchOp, Matcher};
pub use value::{
    FPoint, HPoint, Sample, SampleValue, Series, Timestamp, Value, ValueType, is_stale_nan,
    stale_nan,
};
