//! The functions over range vectors, resolved from their names once per
//! call so that the per-step dispatch is a jump, not a string comparison.

/// A function whose argument is a range vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeFn {
    Rate,
    Increase,
    Delta,
    Irate,
    Idelta,
    CountOverTime,
    PresentOverTime,
    AbsentOverTime,
    LastOverTime,
    FirstOverTime,
    TsOfLastOverTime,
    TsOfFirstOverTime,
    SumOverTime,
    AvgOverTime,
    MaxOverTime,
    MinOverTime,
    TsOfMaxOverTime,
    TsOfMinOverTime,
    QuantileOverTime,
    MadOverTime,
    StddevOverTime,
    StdvarOverTime,
    Deriv,
    PredictLinear,
    Changes,
    Resets,
    DoubleExponentialSmoothing,
}

impl RangeFn {
    /// Every range function.
    pub(crate) const ALL: [RangeFn; 27] = [
        RangeFn::Rate,
        RangeFn::Increase,
        RangeFn::Delta,
        RangeFn::Irate,
        RangeFn::Idelta,
        RangeFn::CountOverTime,
        RangeFn::PresentOverTime,
        RangeFn::AbsentOverTime,
        RangeFn::LastOverTime,
        RangeFn::FirstOverTime,
        RangeFn::TsOfLastOverTime,
        RangeFn::TsOfFirstOverTime,
        RangeFn::SumOverTime,
        RangeFn::AvgOverTime,
        RangeFn::MaxOverTime,
        RangeFn::MinOverTime,
        RangeFn::TsOfMaxOverTime,
        RangeFn::TsOfMinOverTime,
        RangeFn::QuantileOverTime,
        RangeFn::MadOverTime,
        RangeFn::StddevOverTime,
        RangeFn::StdvarOverTime,
        RangeFn::Deriv,
        RangeFn::PredictLinear,
        RangeFn::Changes,
        RangeFn::Resets,
        RangeFn::DoubleExponentialSmoothing,
    ];

    /// The function called `name`, if it takes a range vector.
    pub(crate) fn from_name(name: &str) -> Option<RangeFn> {
        RangeFn::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The PromQL name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RangeFn::Rate => "rate",
            RangeFn::Increase => "increase",
            RangeFn::Delta => "delta",
            RangeFn::Irate => "irate",
            RangeFn::Idelta => "idelta",
            RangeFn::CountOverTime => "count_over_time",
            RangeFn::PresentOverTime => "present_over_time",
            RangeFn::AbsentOverTime => "absent_over_time",
            RangeFn::LastOverTime => "last_over_time",
            RangeFn::FirstOverTime => "first_over_time",
            RangeFn::TsOfLastOverTime => "ts_of_last_over_time",
            RangeFn::TsOfFirstOverTime => "ts_of_first_over_time",
            RangeFn::SumOverTime => "sum_over_time",
            RangeFn::AvgOverTime => "avg_over_time",
            RangeFn::MaxOverTime => "max_over_time",
            RangeFn::MinOverTime => "min_over_time",
            RangeFn::TsOfMaxOverTime => "ts_of_max_over_time",
            RangeFn::TsOfMinOverTime => "ts_of_min_over_time",
            RangeFn::QuantileOverTime => "quantile_over_time",
            RangeFn::MadOverTime => "mad_over_time",
            RangeFn::StddevOverTime => "stddev_over_time",
            RangeFn::StdvarOverTime => "stdvar_over_time",
            RangeFn::Deriv => "deriv",
            RangeFn::PredictLinear => "predict_linear",
            RangeFn::Changes => "changes",
            RangeFn::Resets => "resets",
            RangeFn::DoubleExponentialSmoothing => "double_exponential_smoothing",
        }
    }

    /// Whether this is `rate` or `increase`, which share the counter logic.
    pub(crate) fn is_counter_rate(self) -> bool {
        matches!(self, RangeFn::Rate | RangeFn::Increase)
    }

    /// Whether the function returns the time of the sample it picks.
    pub(crate) fn is_ts_of(self) -> bool {
        matches!(self, RangeFn::TsOfMaxOverTime | RangeFn::TsOfMinOverTime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ValueType;

    #[test]
    fn every_function_over_a_range_vector_is_known_by_its_name() {
        let over_ranges: Vec<&str> = crate::parser::FUNCTIONS
            .iter()
            .filter(|f| f.arg_types.contains(&ValueType::Matrix))
            .map(|f| f.name)
            .collect();
        assert_eq!(over_ranges.len(), RangeFn::ALL.len());
        for name in over_ranges {
            assert_eq!(RangeFn::from_name(name).map(RangeFn::name), Some(name));
        }
    }
}
