//! Operations that map each point of a series on its own, computed series
//! by series for all steps at once.
//!
//! The step loop ([`Ev::range_eval`]) gathers every series' sample at each
//! step, applies the operation and looks each result's label set up to
//! place it in its output series (an instant query hashes every result's
//! labels to look for two alike). When an operation maps each float point
//! to at most one point, from its value and the scalars at its step
//! (`x * 2`, `x > bool 1`, `abs(x)`, `clamp(x, 0, scalar(y))`), and gives
//! each series the same result labels at every step, each series is
//! computed front to back instead. Results are known distinct when no
//! labels are dropped, or when all series carry the same metadata labels
//! (else two results could collide, and the step loop reports that).
//!
//! Results, their order (by the step of their first point, then input
//! order, as the step loop creates them), the sample accounting and the
//! limits are those of the step loop. [`StepGrid`] places points on the
//! steps for the other series-by-series paths too (vector matching, set
//! operations).

use crate::engine::EvalError;
use crate::engine::eval::Ev;
use crate::engine::types::{
    ESeries, Matrix, MetadataAgreement, PointSink, Points, drop_metadata_owned, touching_blocks,
};
use crate::model::FPoint;

/// Maps every float point of every series of `vector`: `f(value, scalars)`
/// gets the point's value and the value of each of `scalars` at the
/// point's step (NaN where one has no point), and gives the result's value
/// or drops the point. `renames` says whether the result loses its metric
/// name and other metadata labels (kept, and dropped at the end, under
/// delayed name removal).
///
/// The results take the label sets of `vector`'s series, which is left
/// empty: no label set is copied, and none is released when the input is.
/// `None` when the step loop must do it: histogram samples, a scalar with
/// more than one series, points off the step grid, or results that could
/// collide; `vector` is then as it was.
pub(crate) fn map_points(
    ev: &Ev<'_, '_>,
    vector: &mut Matrix,
    scalars: &[&Matrix],
    renames: bool,
    f: impl Fn(FPoint, &[f64]) -> Option<f64>,
) -> Option<Result<Matrix, EvalError>> {
    if ev.interval <= 0
        || scalars.iter().any(|m| m.len() > 1)
        || vector
            .iter()
            .chain(scalars.iter().copied().flatten())
            .any(|s| !s.hists.is_empty())
    {
        return None;
    }
    let drop_labels = renames && !ev.delayed();
    // Whether some label set has metadata labels to drop (the results of
    // most functions and operators have none left).
    let mut has_metadata = false;
    if drop_labels {
        let mut metadata = MetadataAgreement::default();
        for s in touching_blocks(vector, |s| &s.labels) {
            metadata.see(&s.labels);
        }
        if !metadata.holds() {
            return None;
        }
        has_metadata = !metadata.is_none();
    }
    let steps = StepGrid::new(ev);
    let mut gathered = vec![0usize; steps.count];
    // The scalars at each step, one row per step.
    let width = scalars.len();
    let mut table = vec![f64::NAN; steps.count.saturating_mul(width)];
    for (j, m) in scalars.iter().enumerate() {
        for p in m.iter().flat_map(|s| s.floats.iter()) {
            let k = steps.index(p.t)?;
            table[k * width + j] = p.v;
            gathered[k] += 1;
        }
    }
    let mut produced = vec![0usize; steps.count];
    let mapper = Mapper {
        steps: &steps,
        table: &table,
        width,
        f,
    };
    // (step of the first point, position in `vector`, result points)
    let mut mapped: Vec<(usize, usize, Points)> = Vec::with_capacity(vector.len());
    for (i, s) in vector.iter().enumerate() {
        if let Err(e) = ev.tick_by(s.floats.len()) {
            return Some(Err(e));
        }
        let mut counts = Counts {
            gathered: &mut gathered,
            produced: &mut produced,
        };
        // A single point (an instant query) stays inline, without a buffer.
        let points = if s.floats.len() <= 1 {
            let mut points = Points::new();
            mapper.map(&s.floats, &mut counts, &mut points)?;
            points
        } else {
            let mut points = Vec::with_capacity(s.floats.len());
            mapper.map(&s.floats, &mut counts, &mut points)?;
            Points::from_vec(points)
        };
        let Some(first) = points.first().and_then(|p| steps.index(p.t)) else {
            continue;
        };
        mapped.push((first, i, points));
    }
    let inputs = vector.iter().chain(scalars.iter().copied().flatten());
    if let Err(e) = ev.account_steps(inputs, &gathered, &produced) {
        return Some(Err(e));
    }
    // Each result takes its input series' label set.
    let mut inputs = std::mem::take(vector).into_iter().enumerate();
    let mut results: Vec<(usize, ESeries)> = Vec::with_capacity(mapped.len());
    for (first, i, points) in mapped {
        let Some((_, s)) = inputs.find(|&(j, _)| j == i) else {
            continue;
        };
        let mut labels = s.labels;
        if has_metadata {
            drop_metadata_owned(&mut labels);
        }
        let mut out = ESeries::new(labels, s.drop_name || renames);
        out.floats = points;
        results.push((first, out));
    }
    // Input order already is the order of first points when all series
    // start at the first step (the usual case): a stable sort keeps it.
    results.sort_by_key(|&(step, _)| step);
    Some(Ok(results.into_iter().map(|(_, s)| s).collect()))
}

/// Points per step, as the step loop would count them.
struct Counts<'a> {
    /// Input points gathered at each step.
    gathered: &'a mut [usize],
    /// Result points at each step.
    produced: &'a mut [usize],
}

/// What [`map_points`] applies to each series.
struct Mapper<'a, F> {
    steps: &'a StepGrid,
    /// The scalars at each step, `width` per step.
    table: &'a [f64],
    width: usize,
    f: F,
}

impl<F: Fn(FPoint, &[f64]) -> Option<f64>> Mapper<'_, F> {
    /// Maps the points of one series into `out`; `None` when a point is
    /// off the step grid.
    fn map(
        &self,
        points: &[FPoint],
        counts: &mut Counts<'_>,
        out: &mut impl PointSink,
    ) -> Option<()> {
        let mut cursor = self.steps.cursor();
        let width = self.width;
        for p in points {
            let k = cursor.index(self.steps, p.t)?;
            counts.gathered[k] += 1;
            if let Some(v) = (self.f)(*p, &self.table[k * width..(k + 1) * width]) {
                out.push_point(FPoint { t: p.t, v });
                counts.produced[k] += 1;
            }
        }
        Some(())
    }
}

/// The steps of an evaluation, to place a point on them.
pub(crate) struct StepGrid {
    start: i64,
    interval: i64,
    /// The number of steps.
    pub count: usize,
}

impl StepGrid {
    /// The steps of `ev`.
    pub fn new(ev: &Ev<'_, '_>) -> Self {
        StepGrid {
            start: ev.start,
            interval: ev.interval.max(1),
            count: ev.num_steps(),
        }
    }

    /// A cursor for placing the ascending times of one series.
    pub fn cursor(&self) -> StepCursor {
        StepCursor {
            next: 0,
            at: self.start,
        }
    }

    /// The step a point at `t` belongs to, if it is on the grid.
    pub fn index(&self, t: i64) -> Option<usize> {
        let d = t.checked_sub(self.start)?;
        if d < 0 || d % self.interval != 0 {
            return None;
        }
        usize::try_from(d / self.interval)
            .ok()
            .filter(|&i| i < self.count)
    }
}

/// Places the ascending times of one series on a [`StepGrid`]: a point at
/// the step after the previous point's costs a comparison, not a division.
pub(crate) struct StepCursor {
    /// The step after the last point placed, and its time.
    next: usize,
    at: i64,
}

impl StepCursor {
    /// The step of a point at `t` (see [`StepGrid::index`]). Always
    /// inlined: it runs once per point, and where the compiler left it out
    /// of line (it did when unrelated code changed) a range join spent 4%
    /// more instructions.
    #[inline(always)]
    pub fn index(&mut self, grid: &StepGrid, t: i64) -> Option<usize> {
        let k = if t == self.at && self.next < grid.count {
            self.next
        } else {
            grid.index(t)?
        };
        self.next = k + 1;
        // Past the last step (or beyond `i64`) the next time matches no
        // point, which then goes through `StepGrid::index`.
        self.at = t.wrapping_add(grid.interval);
        Some(k)
    }
}

/// What the tests of the series-by-series paths share: random inputs and a
/// comparison with the step loop.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::engine::EngineOptions;
    use crate::engine::eval::Shared;
    use crate::engine::plan::{Node, QueryFrame, lower};
    use crate::model::Labels;
    use crate::storage::MemoryStorage;
    use proptest::prelude::*;

    const STEP: i64 = 15_000;
    const STEPS: usize = 6;

    /// Inputs of a point-wise operation: a vector, scalars, the steps and
    /// the options that matter.
    #[derive(Debug)]
    pub(crate) struct Case {
        pub vector: Matrix,
        /// A second vector, made like `vector` (label sets may repeat
        /// between the two).
        pub other: Matrix,
        pub scalars: Vec<Matrix>,
        instant: bool,
        delayed: bool,
        max_samples: usize,
    }

    fn value() -> impl Strategy<Value = Option<f64>> {
        prop_oneof![
            3 => (-3i32..4).prop_map(|v| Some(f64::from(v) / 2.0)),
            1 => Just(Some(f64::NAN)),
            1 => Just(None),
        ]
    }

    /// Label sets that differ in their metadata labels only, or not.
    fn labels(meta: usize, inst: usize) -> Labels {
        let inst = inst.to_string();
        match meta {
            0 => Labels::from_pairs(&[("__name__", "a"), ("inst", &inst)]),
            1 => Labels::from_pairs(&[("__name__", "b"), ("inst", &inst)]),
            2 => Labels::from_pairs(&[("__name__", "a"), ("__unit__", "s"), ("inst", &inst)]),
            _ => Labels::from_pairs(&[("inst", inst.as_str())]),
        }
    }

    fn series(labels: Labels, values: &[Option<f64>], times: &[i64]) -> ESeries {
        let mut s = ESeries::new(labels, false);
        s.floats = values
            .iter()
            .zip(times)
            .filter_map(|(v, &t)| v.map(|v| FPoint { t, v }))
            .collect::<Points>();
        s
    }

    /// Random cases with `scalars` scalar inputs: values with gaps and
    /// NaNs, label sets that collide once their metadata is dropped, an
    /// instant or a range evaluation, delayed name removal, a small
    /// samples limit.
    pub(crate) fn cases(scalars: usize) -> impl Strategy<Value = Case> {
        let specs = || {
            proptest::collection::vec(
                (
                    0usize..4,
                    0usize..3,
                    proptest::collection::vec(value(), STEPS),
                ),
                0..6,
            )
        };
        let scalar_values =
            proptest::collection::vec(proptest::collection::vec(value(), STEPS), scalars);
        let limit = prop_oneof![Just(usize::MAX), 0usize..40];
        (
            specs(),
            specs(),
            scalar_values,
            any::<bool>(),
            any::<bool>(),
            limit,
        )
            .prop_map(
                |(specs, other_specs, scalar_values, instant, delayed, max_samples)| {
                    let times: Vec<i64> = if instant {
                        vec![STEP]
                    } else {
                        (0..STEPS as i64).map(|k| k * STEP).collect()
                    };
                    // Distinct label sets, as every evaluated matrix has.
                    let matrix = |specs: &[(usize, usize, Vec<Option<f64>>)]| {
                        let mut m: Matrix = Vec::new();
                        for (meta, inst, values) in specs {
                            let l = labels(*meta, *inst);
                            if m.iter().all(|s| s.labels != l) {
                                m.push(series(l, values, &times));
                            }
                        }
                        m
                    };
                    let (vector, other) = (matrix(&specs), matrix(&other_specs));
                    let scalars = scalar_values
                        .iter()
                        .map(|v| vec![series(Labels::empty(), v, &times)])
                        .collect();
                    Case {
                        vector,
                        other,
                        scalars,
                        instant,
                        delayed,
                        max_samples,
                    }
                },
            )
    }

    /// Inputs of `histogram_quantile`: classic bucket series (bounds
    /// that parse, coincide once parsed, are NaN or do not parse; groups
    /// whose results collide once their metadata is dropped) with gaps and
    /// NaNs, and `scalars` scalars (a quantile or bounds: in range or not,
    /// NaN, or missing at a step).
    pub(crate) fn bucket_cases(scalars: usize) -> impl Strategy<Value = Case> {
        const BOUNDS: [&str; 7] = ["0.5", "1", "1.0", "+Inf", "NaN", "-0", "x"];
        let count = prop_oneof![
            4 => (0i32..6).prop_map(|v| Some(f64::from(v))),
            1 => Just(Some(f64::NAN)),
            1 => Just(None),
        ];
        let quantile = prop_oneof![
            4 => prop_oneof![Just(0.5), Just(0.9), Just(0.0), Just(1.0)].prop_map(Some),
            1 => prop_oneof![Just(f64::NAN), Just(-1.0), Just(2.0)].prop_map(Some),
            1 => Just(None),
        ];
        let spec = (
            0usize..4,
            0usize..2,
            0..BOUNDS.len(),
            proptest::collection::vec(count, STEPS),
        );
        (
            proptest::collection::vec(spec, 0..10),
            proptest::collection::vec(proptest::collection::vec(quantile, STEPS), scalars),
            any::<bool>(),
            any::<bool>(),
            prop_oneof![Just(usize::MAX), 0usize..60],
        )
            .prop_map(|(specs, qs, instant, delayed, max_samples)| {
                let times: Vec<i64> = if instant {
                    vec![STEP]
                } else {
                    (0..STEPS as i64).map(|k| k * STEP).collect()
                };
                let mut vector: Matrix = Vec::new();
                for (meta, inst, bound, values) in &specs {
                    let l = labels(*meta, *inst)
                        .builder()
                        .set("le", BOUNDS[*bound])
                        .build();
                    if vector.iter().all(|s| s.labels != l) {
                        vector.push(series(l, values, &times));
                    }
                }
                Case {
                    vector,
                    other: Vec::new(),
                    scalars: qs
                        .iter()
                        .map(|q| vec![series(Labels::empty(), q, &times)])
                        .collect(),
                    instant,
                    delayed,
                    max_samples,
                }
            })
    }

    /// The plan of `query`.
    pub(crate) fn plan(query: &str) -> Node {
        let expr = crate::parse(query).expect("test query parses");
        let frame = QueryFrame {
            start: 0,
            end: 0,
            step: 0,
            default_subquery_step: STEP,
            experimental_functions: false,
        };
        lower(&expr, &frame).expect("test query lowers")
    }

    /// What an evaluation left behind: its result (or error), the
    /// evaluator's sample counters and, when it succeeded, its annotations
    /// (sorted: their order means nothing, Prometheus keeps them in a map).
    type Outcome = (
        Result<Vec<(Labels, bool, Vec<(i64, u64)>)>, String>,
        [u64; 3],
        Vec<String>,
    );

    /// Runs `fast` and `slow` (the step loop) on the case, each with a
    /// fresh evaluator that holds the inputs as an evaluation would: `None`
    /// when `fast` declines, else both outcomes.
    pub(crate) fn run_both(
        case: &Case,
        fast: impl FnOnce(&Ev<'_, '_>) -> Option<Result<Matrix, EvalError>>,
        slow: impl FnOnce(&Ev<'_, '_>) -> Result<Matrix, EvalError>,
    ) -> Option<(Outcome, Outcome)> {
        let storage = MemoryStorage::new();
        let opts = EngineOptions {
            delayed_name_removal: case.delayed,
            max_samples: case.max_samples,
            ..EngineOptions::default()
        };
        let (start, end, interval) = if case.instant {
            (STEP, STEP, 1)
        } else {
            (0, STEP * (STEPS as i64 - 1), STEP)
        };
        let held: usize = case
            .vector
            .iter()
            .chain(&case.other)
            .chain(case.scalars.iter().flatten())
            .map(ESeries::samples)
            .sum();
        let run = |f: &mut dyn FnMut(&Ev<'_, '_>) -> Option<Result<Matrix, EvalError>>| {
            let sh = Shared::new(&storage, &opts);
            sh.current.set(held);
            let ev = Ev::new(&sh, start, end, interval);
            let r = f(&ev)?;
            let r = r
                .map(|m| {
                    m.into_iter()
                        .map(|s| {
                            let pts = s.floats.iter().map(|p| (p.t, p.v.to_bits())).collect();
                            (s.labels, s.drop_name, pts)
                        })
                        .collect()
                })
                .map_err(|e| e.to_string());
            let counters = [
                sh.current.get() as u64,
                sh.peak.get() as u64,
                sh.total.get(),
            ];
            let mut annotations: Vec<String> = sh
                .annos
                .into_inner()
                .into_vec()
                .iter()
                .map(|a| format!("{a:?}"))
                .collect();
            annotations.sort();
            // A failed query reports its error alone.
            if r.is_err() {
                annotations.clear();
            }
            Some((r, counters, annotations))
        };
        let mut fast = Some(fast);
        let fast = run(&mut |ev| fast.take().and_then(|f| f(ev)))?;
        let mut slow = Some(slow);
        let slow = run(&mut |ev| slow.take().map(|f| f(ev)))?;
        Some((fast, slow))
    }
}
