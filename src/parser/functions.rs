//! The function table: every PromQL function with its signature.
//!
//! One table serves the parser (is this identifier a function?), the type
//! checker (argument count and types) and the engine (dispatch by name).
//! `tests/function_table.rs` checks it against the signatures in Prometheus'
//! `promql/parser/functions.go` when a checkout is available.

use crate::model::ValueType;

/// How many arguments beyond the fixed ones a function accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arity {
    /// Exactly `arg_types.len()` arguments.
    Exact,
    /// The last argument type may be omitted or repeated: between
    /// `arg_types.len() - 1` and `arg_types.len() - 1 + n` arguments.
    Optional(u8),
    /// At least `arg_types.len() - 1` arguments, the last type repeating without bound.
    Unbounded,
}

/// A PromQL function's signature.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Function {
    /// The name, as called.
    pub name: &'static str,
    /// Argument types. Variadic arguments repeat the last type.
    pub arg_types: &'static [ValueType],
    /// How many arguments may be omitted or added.
    pub arity: Arity,
    /// The type of the result.
    pub return_type: ValueType,
    /// Needs experimental functions enabled.
    pub experimental: bool,
}

impl Function {
    /// The fewest arguments the function accepts.
    pub fn min_args(&self) -> usize {
        match self.arity {
            Arity::Exact => self.arg_types.len(),
            Arity::Optional(_) | Arity::Unbounded => self.arg_types.len().saturating_sub(1),
        }
    }

    /// The most arguments the function accepts (`None`: unbounded).
    pub fn max_args(&self) -> Option<usize> {
        match self.arity {
            Arity::Exact => Some(self.arg_types.len()),
            Arity::Optional(n) => Some(self.arg_types.len() - 1 + n as usize),
            Arity::Unbounded => None,
        }
    }

    /// The expected type of argument `i` (repeating the last type for variadic arguments).
    pub fn arg_type(&self, i: usize) -> Option<ValueType> {
        self.arg_types.get(i).or(self.arg_types.last()).copied()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Function {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

type T = ValueType;

const fn f(
    name: &'static str,
    arg_types: &'static [ValueType],
    arity: Arity,
    return_type: ValueType,
    experimental: bool,
) -> Function {
    Function {
        name,
        arg_types,
        arity,
        return_type,
        experimental,
    }
}

/// Every function, sorted by name.
pub static FUNCTIONS: &[Function] = &[
    f("abs", &[T::Vector], Arity::Exact, T::Vector, false),
    f("absent", &[T::Vector], Arity::Exact, T::Vector, false),
    f(
        "absent_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f("acos", &[T::Vector], Arity::Exact, T::Vector, false),
    f("acosh", &[T::Vector], Arity::Exact, T::Vector, false),
    f("asin", &[T::Vector], Arity::Exact, T::Vector, false),
    f("asinh", &[T::Vector], Arity::Exact, T::Vector, false),
    f("atan", &[T::Vector], Arity::Exact, T::Vector, false),
    f("atanh", &[T::Vector], Arity::Exact, T::Vector, false),
    f(
        "avg_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f("ceil", &[T::Vector], Arity::Exact, T::Vector, false),
    f("changes", &[T::Matrix], Arity::Exact, T::Vector, false),
    f(
        "clamp",
        &[T::Vector, T::Scalar, T::Scalar],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "clamp_max",
        &[T::Vector, T::Scalar],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "clamp_min",
        &[T::Vector, T::Scalar],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f("cos", &[T::Vector], Arity::Exact, T::Vector, false),
    f("cosh", &[T::Vector], Arity::Exact, T::Vector, false),
    f(
        "count_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "day_of_month",
        &[T::Vector],
        Arity::Optional(1),
        T::Vector,
        false,
    ),
    f(
        "day_of_week",
        &[T::Vector],
        Arity::Optional(1),
        T::Vector,
        false,
    ),
    f(
        "day_of_year",
        &[T::Vector],
        Arity::Optional(1),
        T::Vector,
        false,
    ),
    f(
        "days_in_month",
        &[T::Vector],
        Arity::Optional(1),
        T::Vector,
        false,
    ),
    f("deg", &[T::Vector], Arity::Exact, T::Vector, false),
    f("delta", &[T::Matrix], Arity::Exact, T::Vector, false),
    f("deriv", &[T::Matrix], Arity::Exact, T::Vector, false),
    f(
        "double_exponential_smoothing",
        &[T::Matrix, T::Scalar, T::Scalar],
        Arity::Exact,
        T::Vector,
        true,
    ),
    f("end", &[], Arity::Exact, T::Scalar, true),
    f("exp", &[T::Vector], Arity::Exact, T::Vector, false),
    f(
        "first_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f("floor", &[T::Vector], Arity::Exact, T::Vector, false),
    f(
        "histogram_avg",
        &[T::Vector],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "histogram_count",
        &[T::Vector],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "histogram_fraction",
        &[T::Scalar, T::Scalar, T::Vector],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "histogram_quantile",
        &[T::Scalar, T::Vector],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "histogram_quantiles",
        &[T::Vector, T::String, T::Scalar, T::Scalar],
        Arity::Optional(9),
        T::Vector,
        true,
    ),
    f(
        "histogram_stddev",
        &[T::Vector],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "histogram_stdvar",
        &[T::Vector],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "histogram_sum",
        &[T::Vector],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f("hour", &[T::Vector], Arity::Optional(1), T::Vector, false),
    f("idelta", &[T::Matrix], Arity::Exact, T::Vector, false),
    f("increase", &[T::Matrix], Arity::Exact, T::Vector, false),
    f(
        "info",
        &[T::Vector, T::Vector],
        Arity::Optional(1),
        T::Vector,
        true,
    ),
    f("irate", &[T::Matrix], Arity::Exact, T::Vector, false),
    f(
        "label_join",
        &[T::Vector, T::String, T::String, T::String],
        Arity::Unbounded,
        T::Vector,
        false,
    ),
    f(
        "label_replace",
        &[T::Vector, T::String, T::String, T::String, T::String],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "last_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f("ln", &[T::Vector], Arity::Exact, T::Vector, false),
    f("log10", &[T::Vector], Arity::Exact, T::Vector, false),
    f("log2", &[T::Vector], Arity::Exact, T::Vector, false),
    f("mad_over_time", &[T::Matrix], Arity::Exact, T::Vector, true),
    f(
        "max_of",
        &[T::Scalar, T::Scalar],
        Arity::Exact,
        T::Scalar,
        true,
    ),
    f(
        "max_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "min_of",
        &[T::Scalar, T::Scalar],
        Arity::Exact,
        T::Scalar,
        true,
    ),
    f(
        "min_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f("minute", &[T::Vector], Arity::Optional(1), T::Vector, false),
    f("month", &[T::Vector], Arity::Optional(1), T::Vector, false),
    f("pi", &[], Arity::Exact, T::Scalar, false),
    f(
        "predict_linear",
        &[T::Matrix, T::Scalar],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "present_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "quantile_over_time",
        &[T::Scalar, T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f("rad", &[T::Vector], Arity::Exact, T::Vector, false),
    f("range", &[], Arity::Exact, T::Scalar, true),
    f("rate", &[T::Matrix], Arity::Exact, T::Vector, false),
    f("resets", &[T::Matrix], Arity::Exact, T::Vector, false),
    f(
        "round",
        &[T::Vector, T::Scalar],
        Arity::Optional(1),
        T::Vector,
        false,
    ),
    f("scalar", &[T::Vector], Arity::Exact, T::Scalar, false),
    f("sgn", &[T::Vector], Arity::Exact, T::Vector, false),
    f("sin", &[T::Vector], Arity::Exact, T::Vector, false),
    f("sinh", &[T::Vector], Arity::Exact, T::Vector, false),
    f("sort", &[T::Vector], Arity::Exact, T::Vector, false),
    f(
        "sort_by_label",
        &[T::Vector, T::String],
        Arity::Unbounded,
        T::Vector,
        true,
    ),
    f(
        "sort_by_label_desc",
        &[T::Vector, T::String],
        Arity::Unbounded,
        T::Vector,
        true,
    ),
    f("sort_desc", &[T::Vector], Arity::Exact, T::Vector, false),
    f("sqrt", &[T::Vector], Arity::Exact, T::Vector, false),
    f("start", &[], Arity::Exact, T::Scalar, true),
    f(
        "start_timestamp",
        &[T::Vector],
        Arity::Exact,
        T::Vector,
        true,
    ),
    f(
        "stddev_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f(
        "stdvar_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f("step", &[], Arity::Exact, T::Scalar, true),
    f(
        "sum_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        false,
    ),
    f("tan", &[T::Vector], Arity::Exact, T::Vector, false),
    f("tanh", &[T::Vector], Arity::Exact, T::Vector, false),
    f("time", &[], Arity::Exact, T::Scalar, false),
    f("timestamp", &[T::Vector], Arity::Exact, T::Vector, false),
    f(
        "ts_of_first_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        true,
    ),
    f(
        "ts_of_last_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        true,
    ),
    f(
        "ts_of_max_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        true,
    ),
    f(
        "ts_of_min_over_time",
        &[T::Matrix],
        Arity::Exact,
        T::Vector,
        true,
    ),
    f("vector", &[T::Scalar], Arity::Exact, T::Vector, false),
    f("year", &[T::Vector], Arity::Optional(1), T::Vector, false),
];

/// Looks up a function by name (case-sensitive, as in Prometheus).
pub fn lookup(name: &str) -> Option<&'static Function> {
    FUNCTIONS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FUNCTIONS[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_lookup_works() {
        assert!(FUNCTIONS.windows(2).all(|w| w[0].name < w[1].name));
        let rate = lookup("rate").unwrap();
        assert_eq!(rate.arg_types, &[ValueType::Matrix]);
        assert_eq!(lookup("label_join").unwrap().max_args(), None);
        assert_eq!(lookup("round").unwrap().min_args(), 1);
        assert_eq!(lookup("round").unwrap().max_args(), Some(2));
        assert!(lookup("Rate").is_none());
    }
}
