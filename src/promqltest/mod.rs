//! The PromQL test-script language (`load`, `eval`, `expect`, ...), as used
//! by Prometheus' `promql/promqltest`. (Being written.)
