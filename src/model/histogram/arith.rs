//! Histogram arithmetic: addition and subtraction (with schema reduction,
//! zero-bucket widening and custom-bound reconciliation), scaling, schema
//! reduction, and Kahan-compensated sums and means as the engine's `sum`,
//! `avg`, `sum_over_time` and `avg_over_time` compute them.

use super::bounds::{exponential_bound, is_custom_buckets_schema};
use super::buckets::reduce_indexed;
use super::layout::{from_indexed, to_indexed};
use super::{BucketSpan, CounterResetHint, FloatHistogram};

/// Why an operation on histograms failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    /// One operand uses custom buckets, the other exponential ones.
    #[error(
        "cannot apply this operation on histograms with a mix of exponential and custom bucket schemas"
    )]
    MixedSchemas,
    /// Custom buckets cannot change resolution.
    #[error("cannot reduce resolution when there are custom buckets")]
    ReduceCustomBuckets,
    /// An exponential histogram cannot become a custom-bucket one.
    #[error("cannot reduce resolution to custom buckets schema")]
    ReduceToCustomBuckets,
    /// Resolution can only go down.
    #[error("cannot reduce resolution from schema {from} to {to}")]
    IncreaseResolution {
        /// The histogram's schema.
        from: i32,
        /// The requested schema.
        to: i32,
    },
}

/// What an addition or subtraction noticed besides its result.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddOutcome {
    /// One operand was hinted `CounterReset` and the other `NotCounterReset`
    /// (the result's hint became `Unknown`). The engine warns about it.
    pub counter_reset_collision: bool,
    /// Custom-bucket operands had different bounds and were mapped onto the
    /// bounds they share. The engine reports an info annotation.
    pub custom_bounds_reconciled: bool,
}

/// Neumaier's compensated increment: adds `inc` to `sum` with compensation
/// `c`. The returned sum is the plain sum; the compensation collects what it
/// lost.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// A bucket while computing: index, count, compensation.
type Entry = (i32, f64, f64);

/// Both sides of a histogram as entries.
#[derive(Clone, Debug, Default)]
struct Sides {
    pos: Vec<Entry>,
    neg: Vec<Entry>,
}

impl Sides {
    fn of(h: &FloatHistogram, comp: Option<&FloatHistogram>) -> Sides {
        let side = |spans, counts, comps: Option<&Vec<f64>>| -> Vec<Entry> {
            to_indexed(spans, counts)
                .into_iter()
                .enumerate()
                .map(|(i, (idx, v))| (idx, v, comps.and_then(|c| c.get(i)).copied().unwrap_or(0.0)))
                .collect()
        };
        let neg = if h.uses_custom_buckets() {
            Vec::new()
        } else {
            side(
                &h.negative_spans,
                &h.negative_buckets,
                comp.map(|c| &c.negative_buckets),
            )
        };
        Sides {
            pos: side(
                &h.positive_spans,
                &h.positive_buckets,
                comp.map(|c| &c.positive_buckets),
            ),
            neg,
        }
    }

    /// Writes the counts into `h` and, if given, the compensations into `comp`.
    fn store(&self, h: &mut FloatHistogram, comp: Option<&mut FloatHistogram>) {
        let values = |e: &[Entry]| e.iter().map(|&(i, v, _)| (i, v)).collect::<Vec<_>>();
        (h.positive_spans, h.positive_buckets) = from_indexed(&values(&self.pos));
        (h.negative_spans, h.negative_buckets) = from_indexed(&values(&self.neg));
        if let Some(c) = comp {
            c.positive_spans.clone_from(&h.positive_spans);
            c.negative_spans.clone_from(&h.negative_spans);
            c.positive_buckets = self.pos.iter().map(|e| e.2).collect();
            c.negative_buckets = self.neg.iter().map(|e| e.2).collect();
        }
    }

    /// Merges buckets to the coarser schema `to`, compensated.
    fn reduce(&mut self, from: i32, to: i32) {
        for side in [&mut self.pos, &mut self.neg] {
            *side = reduce_entries(side, from, to);
        }
    }
}

fn reduce_entries(entries: &[Entry], from: i32, to: i32) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::with_capacity(entries.len());
    for &(i, v, c) in entries {
        let t = super::bounds::reduced_index(i, from, to);
        match out.last_mut() {
            Some(last) if last.0 == t => {
                let (s, k) = kahan_inc(v, last.1, last.2);
                (last.1, last.2) = kahan_inc(c, s, k);
            }
            _ => out.push((t, v, c)),
        }
    }
    out
}

/// The zero count (and its compensation) `sides` at `schema` would have with
/// the larger threshold `larger`, and the threshold actually needed: raised
/// to the upper bound of a populated bucket the requested one falls into.
fn zero_count_for_larger_threshold(
    schema: i32,
    zero_count: f64,
    zero_comp: f64,
    threshold: f64,
    sides: &Sides,
    mut larger: f64,
) -> (f64, f64, f64) {
    if larger == threshold || larger.is_nan() {
        return (zero_count, larger, zero_comp);
    }
    // The compensation is not reset when the scan restarts, as upstream.
    let mut comp = zero_comp;
    'restart: loop {
        let mut count = zero_count;
        for &(i, v, c) in &sides.pos {
            if exponential_bound(i64::from(i) - 1, schema) >= larger {
                break;
            }
            (count, comp) = kahan_inc(v, count, comp);
            (count, comp) = kahan_inc(c, count, comp);
            let upper = exponential_bound(i64::from(i), schema);
            if upper > larger {
                if v != 0.0 {
                    larger = upper;
                }
                break;
            }
        }
        for &(i, v, c) in &sides.neg {
            if exponential_bound(i64::from(i) - 1, schema) >= larger {
                break;
            }
            (count, comp) = kahan_inc(v, count, comp);
            (count, comp) = kahan_inc(c, count, comp);
            let outer = exponential_bound(i64::from(i), schema);
            if outer > larger {
                if v != 0.0 {
                    larger = outer;
                    continue 'restart;
                }
                break;
            }
        }
        return (count, larger, comp);
    }
}

/// Drops the buckets that lie within the zero bucket `[-t, t]`.
fn trim_into_zero_bucket(schema: i32, threshold: f64, sides: &mut Sides) {
    for side in [&mut sides.pos, &mut sides.neg] {
        side.retain(|&(i, _, _)| exponential_bound(i64::from(i) - 1, schema) >= threshold);
    }
}

/// Sets the counter-reset hint of `h + other` and reports a collision of
/// `CounterReset` with `NotCounterReset`.
fn adjust_counter_reset(h: &mut FloatHistogram, other: &FloatHistogram) -> bool {
    use CounterResetHint::*;
    match (h.counter_reset_hint, other.counter_reset_hint) {
        (a, b) if a == b => false,
        (Gauge, _) => false,
        (_, Gauge) => {
            h.counter_reset_hint = Gauge;
            false
        }
        (Unknown, _) => false,
        (_, Unknown) => {
            h.counter_reset_hint = Unknown;
            false
        }
        _ => {
            h.counter_reset_hint = Unknown;
            true
        }
    }
}

/// The bounds two custom-bucket layouts share, in order.
pub fn intersect_custom_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        if x == y {
            out.push(x);
            i += 1;
            j += 1;
        } else if x < y {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Index in `target_bounds` of the bucket that absorbs the custom bucket
/// `index` of `bounds`: the first shared bound at or above its upper bound.
fn map_custom_index(index: i32, bounds: &[f64], target_bounds: &[f64]) -> usize {
    let Ok(i) = usize::try_from(index) else {
        return 0;
    };
    match bounds.get(i) {
        None => target_bounds.len(),
        Some(&upper) => target_bounds.partition_point(|&t| t < upper),
    }
}

/// Adds (or subtracts) custom buckets of different bounds on their shared
/// bounds. `a` keeps its compensation; `b`'s is not carried over.
fn add_mismatched_custom(
    a: &[Entry],
    a_bounds: &[f64],
    b: &[Entry],
    b_bounds: &[f64],
    target_bounds: &[f64],
    negate: bool,
) -> Vec<Entry> {
    let mut target = vec![(0.0, 0.0); target_bounds.len() + 1];
    for &(i, v, c) in a {
        if let Some(t) = target.get_mut(map_custom_index(i, a_bounds, target_bounds)) {
            let s = kahan_inc(v, t.0, t.1);
            *t = kahan_inc(c, s.0, s.1);
        }
    }
    for &(i, v, _) in b {
        if let Some(t) = target.get_mut(map_custom_index(i, b_bounds, target_bounds)) {
            *t = kahan_inc(if negate { -v } else { v }, t.0, t.1);
        }
    }
    target
        .into_iter()
        .enumerate()
        .filter(|(_, (v, c))| *v != 0.0 || *c != 0.0)
        .map(|(i, (v, c))| (i32::try_from(i).unwrap_or(i32::MAX), v, c))
        .collect()
}

/// Adds `b` into `a` index by index. Buckets of `b` up to the zero threshold
/// (exponential schemas) are skipped: they are already in the zero count.
/// `b`'s compensation is carried over only when `with_comp`.
fn merge_entries(
    a: &mut Vec<Entry>,
    b: &[Entry],
    schema: i32,
    threshold: f64,
    negate: bool,
    with_comp: bool,
) {
    let skip = if is_custom_buckets_schema(schema) {
        0
    } else {
        b.iter()
            .take_while(|e| exponential_bound(i64::from(e.0), schema) <= threshold)
            .count()
    };
    let mut merged: Vec<Entry> = Vec::with_capacity(a.len() + b.len());
    let mut ai = a.iter().copied().peekable();
    for &(idx, v, c) in b.iter().skip(skip) {
        let (v, c) = if negate { (-v, -c) } else { (v, c) };
        let c = if with_comp { c } else { 0.0 };
        while let Some(e) = ai.next_if(|e| e.0 < idx) {
            merged.push(e);
        }
        match ai.next_if(|e| e.0 == idx) {
            Some((_, av, ac)) => {
                let (mut s, mut k) = kahan_inc(v, av, ac);
                if c != 0.0 {
                    (s, k) = kahan_inc(c, s, k);
                }
                merged.push((idx, s, k));
            }
            None => merged.push((idx, v, c)),
        }
    }
    merged.extend(ai);
    *a = merged;
}

impl FloatHistogram {
    fn check_compatible(&self, other: &FloatHistogram) -> Result<(), HistogramError> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(HistogramError::MixedSchemas);
        }
        Ok(())
    }

    /// The common engine of add, sub and compensated add. With `comp`, the
    /// compensation histogram (same layout as `self`) is updated and `other`'s
    /// own compensation terms flow in; without it, results are plain sums.
    fn combine(
        &mut self,
        other: &FloatHistogram,
        mut comp: Option<&mut FloatHistogram>,
        negate: bool,
    ) -> Result<AddOutcome, HistogramError> {
        self.check_compatible(other)?;
        let kahan = comp.is_some();
        let mut outcome = AddOutcome {
            counter_reset_collision: adjust_counter_reset(self, other),
            custom_bounds_reconciled: false,
        };
        let sign = if negate { -1.0 } else { 1.0 };
        if let Some(skips) = self.shared_canonical_layout(other) {
            self.combine_in_place(other, comp, negate, skips);
            return Ok(outcome);
        }
        let mut mine = Sides::of(self, comp.as_deref());
        let mut theirs = Sides::of(other, None);
        let mut zero_comp = comp.as_deref().map_or(0.0, |c| c.zero_count);

        if !self.uses_custom_buckets() {
            let (other_zero, other_zero_comp) =
                self.reconcile_zero_buckets(&mut mine, &mut zero_comp, other, &theirs);
            (self.zero_count, zero_comp) = kahan_inc(sign * other_zero, self.zero_count, zero_comp);
            if kahan {
                (self.zero_count, zero_comp) =
                    kahan_inc(other_zero_comp, self.zero_count, zero_comp);
            }
        }
        let mut count_comp = comp.as_deref().map_or(0.0, |c| c.count);
        let mut sum_comp = comp.as_deref().map_or(0.0, |c| c.sum);
        (self.count, count_comp) = kahan_inc(sign * other.count, self.count, count_comp);
        (self.sum, sum_comp) = kahan_inc(sign * other.sum, self.sum, sum_comp);

        if self.uses_custom_buckets() {
            if self.custom_values == other.custom_values {
                merge_entries(&mut mine.pos, &theirs.pos, self.schema, 0.0, negate, kahan);
            } else {
                outcome.custom_bounds_reconciled = true;
                let shared = intersect_custom_bounds(&self.custom_values, &other.custom_values);
                mine.pos = add_mismatched_custom(
                    &mine.pos,
                    &self.custom_values,
                    &theirs.pos,
                    &other.custom_values,
                    &shared,
                    negate,
                );
                self.custom_values = shared;
            }
        } else {
            if other.schema < self.schema {
                mine.reduce(self.schema, other.schema);
                self.schema = other.schema;
            } else if other.schema > self.schema {
                theirs.reduce(other.schema, self.schema);
            }
            let (schema, t) = (self.schema, self.zero_threshold);
            merge_entries(&mut mine.pos, &theirs.pos, schema, t, negate, kahan);
            merge_entries(&mut mine.neg, &theirs.neg, schema, t, negate, kahan);
        }

        mine.store(self, comp.as_deref_mut());
        if let Some(c) = comp {
            c.schema = self.schema;
            c.zero_threshold = self.zero_threshold;
            c.zero_count = zero_comp;
            c.count = count_comp;
            c.sum = sum_comp;
            c.custom_values.clone_from(&self.custom_values);
        }
        Ok(outcome)
    }

    /// When `self` and `other` have the same schema, zero threshold, custom
    /// bounds and canonical spans (ascending, no empty spans, no adjacent
    /// spans that would merge), the number of leading positive and negative
    /// buckets of `other` that [`combine`](Self::combine) leaves out for lying
    /// inside the zero bucket. Combining is then bucket by bucket in place.
    fn shared_canonical_layout(&self, other: &FloatHistogram) -> Option<(usize, usize)> {
        let custom = self.uses_custom_buckets();
        if self.schema != other.schema
            || self.zero_threshold != other.zero_threshold
            || self.positive_spans != other.positive_spans
            || self.negative_spans != other.negative_spans
            || self.positive_buckets.len() != other.positive_buckets.len()
            || self.negative_buckets.len() != other.negative_buckets.len()
            || (custom
                && (self.custom_values != other.custom_values
                    || !self.negative_spans.is_empty()
                    || !self.negative_buckets.is_empty()))
        {
            return None;
        }
        let (schema, threshold) = (self.schema, self.zero_threshold);
        let skip = |spans: &[BucketSpan], buckets: usize| {
            super::layout::canonical_skip(spans, buckets, |index| {
                !custom && exponential_bound(index, schema) <= threshold
            })
        };
        Some((
            skip(&self.positive_spans, self.positive_buckets.len())?,
            skip(&self.negative_spans, self.negative_buckets.len())?,
        ))
    }

    /// [`combine`](Self::combine) for histograms with a shared canonical
    /// layout (see [`shared_canonical_layout`](Self::shared_canonical_layout)):
    /// the same arithmetic on the same buckets, without re-indexing them.
    fn combine_in_place(
        &mut self,
        other: &FloatHistogram,
        comp: Option<&mut FloatHistogram>,
        negate: bool,
        (pos_skip, neg_skip): (usize, usize),
    ) {
        // The same operations, in the same order, as the general path.
        let signed = |v: f64| if negate { -v } else { v };
        let sign = if negate { -1.0 } else { 1.0 };
        let kahan = comp.is_some();
        let mut zero_comp = comp.as_deref().map_or(0.0, |c| c.zero_count);
        if !self.uses_custom_buckets() {
            (self.zero_count, zero_comp) =
                kahan_inc(sign * other.zero_count, self.zero_count, zero_comp);
            if kahan {
                (self.zero_count, zero_comp) = kahan_inc(0.0, self.zero_count, zero_comp);
            }
        }
        let mut count_comp = comp.as_deref().map_or(0.0, |c| c.count);
        let mut sum_comp = comp.as_deref().map_or(0.0, |c| c.sum);
        (self.count, count_comp) = kahan_inc(sign * other.count, self.count, count_comp);
        (self.sum, sum_comp) = kahan_inc(sign * other.sum, self.sum, sum_comp);

        let side_comps = |c: Option<&Vec<f64>>, n: usize| -> Vec<f64> {
            (0..n)
                .map(|i| c.and_then(|c| c.get(i)).copied().unwrap_or(0.0))
                .collect()
        };
        let mut pos_comp = side_comps(
            comp.as_deref().map(|c| &c.positive_buckets),
            self.positive_buckets.len(),
        );
        let mut neg_comp = side_comps(
            comp.as_deref().map(|c| &c.negative_buckets),
            self.negative_buckets.len(),
        );
        let sides = [
            (
                &mut self.positive_buckets,
                &other.positive_buckets,
                &mut pos_comp,
                pos_skip,
            ),
            (
                &mut self.negative_buckets,
                &other.negative_buckets,
                &mut neg_comp,
                neg_skip,
            ),
        ];
        for (mine, theirs, comps, skip) in sides {
            for ((v, &o), c) in mine.iter_mut().zip(theirs).zip(comps.iter_mut()).skip(skip) {
                (*v, *c) = kahan_inc(signed(o), *v, *c);
            }
        }
        if let Some(c) = comp {
            c.positive_spans.clone_from(&self.positive_spans);
            c.negative_spans.clone_from(&self.negative_spans);
            c.positive_buckets = pos_comp;
            c.negative_buckets = neg_comp;
            c.schema = self.schema;
            c.zero_threshold = self.zero_threshold;
            c.zero_count = zero_comp;
            c.count = count_comp;
            c.sum = sum_comp;
            c.custom_values.clone_from(&self.custom_values);
        }
    }

    /// Widens both zero buckets to a common threshold that lies in no
    /// populated bucket of either histogram. Updates `self` (its zero count,
    /// threshold and buckets in `mine`) and returns the zero count `other`
    /// would have, with its compensation.
    fn reconcile_zero_buckets(
        &mut self,
        mine: &mut Sides,
        zero_comp: &mut f64,
        other: &FloatHistogram,
        theirs: &Sides,
    ) -> (f64, f64) {
        let mut other_zero = other.zero_count;
        let mut other_threshold = other.zero_threshold;
        let mut other_comp = 0.0;
        // Each round only raises thresholds to bucket bounds, so this ends;
        // the cap guards against NaN thresholds.
        for _ in 0..10_000 {
            if other_threshold == self.zero_threshold
                || other_threshold.is_nan()
                || self.zero_threshold.is_nan()
            {
                break;
            }
            if self.zero_threshold > other_threshold {
                (other_zero, other_threshold, other_comp) = zero_count_for_larger_threshold(
                    other.schema,
                    other.zero_count,
                    0.0,
                    other.zero_threshold,
                    theirs,
                    self.zero_threshold,
                );
            }
            if other_threshold > self.zero_threshold {
                let (z, t, c) = zero_count_for_larger_threshold(
                    self.schema,
                    self.zero_count,
                    *zero_comp,
                    self.zero_threshold,
                    mine,
                    other_threshold,
                );
                (self.zero_count, self.zero_threshold, *zero_comp) = (z, t, c);
                trim_into_zero_bucket(self.schema, self.zero_threshold, mine);
            }
        }
        (other_zero, other_comp)
    }

    /// Adds `other` to `self` (Prometheus' `Add`): the result has the coarser
    /// schema and the wider zero bucket (widened further where a threshold
    /// would split a populated bucket). Custom-bucket histograms with
    /// different bounds are added on their shared bounds
    /// ([`AddOutcome::custom_bounds_reconciled`]). The layout is not
    /// compacted; the engine calls [`compact(0)`](Self::compact) on results.
    pub fn add(&mut self, other: &FloatHistogram) -> Result<AddOutcome, HistogramError> {
        self.combine(other, None, false)
    }

    /// Subtracts `other` from `self` like [`add`](Self::add). The hint is set
    /// as for addition; the binary `-` operator then marks the result as a
    /// gauge.
    pub fn sub(&mut self, other: &FloatHistogram) -> Result<AddOutcome, HistogramError> {
        self.combine(other, None, true)
    }

    /// Adds `other` with Kahan compensation kept in `comp` (a histogram with
    /// the same layout as `self`, created on first use). The compensated
    /// result is `self + comp`; see [`HistogramSum`].
    pub fn kahan_add(
        &mut self,
        other: &FloatHistogram,
        comp: &mut Option<FloatHistogram>,
    ) -> Result<AddOutcome, HistogramError> {
        self.check_compatible(other)?;
        let c = comp.get_or_insert_with(|| FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            custom_values: self.custom_values.clone(),
            positive_spans: self.positive_spans.clone(),
            positive_buckets: vec![0.0; self.positive_buckets.len()],
            negative_spans: self.negative_spans.clone(),
            negative_buckets: vec![0.0; self.negative_buckets.len()],
            ..Default::default()
        });
        self.combine(other, Some(c), false)
    }

    /// Multiplies count, sum and all bucket counts by `factor`; a negative
    /// factor makes the histogram a gauge.
    pub fn mul(&mut self, factor: f64) -> &mut Self {
        self.zero_count *= factor;
        self.count *= factor;
        self.sum *= factor;
        self.positive_buckets.iter_mut().for_each(|b| *b *= factor);
        self.negative_buckets.iter_mut().for_each(|b| *b *= factor);
        if factor < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
        self
    }

    /// Divides like [`mul`](Self::mul) multiplies. Dividing by zero turns
    /// count, sum and zero count into ±Inf/NaN and removes all buckets.
    pub fn div(&mut self, divisor: f64) -> &mut Self {
        self.zero_count /= divisor;
        self.count /= divisor;
        self.sum /= divisor;
        if divisor == 0.0 {
            self.positive_spans.clear();
            self.positive_buckets.clear();
            self.negative_spans.clear();
            self.negative_buckets.clear();
            return self;
        }
        self.positive_buckets.iter_mut().for_each(|b| *b /= divisor);
        self.negative_buckets.iter_mut().for_each(|b| *b /= divisor);
        if divisor < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
        self
    }

    /// Unary minus: `mul(-1)`, which also makes the histogram a gauge.
    pub fn negate(&mut self) -> &mut Self {
        self.mul(-1.0)
    }

    /// Merges the buckets into the coarser `target_schema` in place.
    pub fn reduce_resolution(&mut self, target_schema: i32) -> Result<(), HistogramError> {
        if self.uses_custom_buckets() {
            return Err(HistogramError::ReduceCustomBuckets);
        }
        if is_custom_buckets_schema(target_schema) {
            return Err(HistogramError::ReduceToCustomBuckets);
        }
        if target_schema >= self.schema {
            return Err(HistogramError::IncreaseResolution {
                from: self.schema,
                to: target_schema,
            });
        }
        self.reduce_sides_to(target_schema);
        Ok(())
    }

    fn reduce_sides_to(&mut self, target_schema: i32) {
        for (spans, counts) in [
            (&mut self.positive_spans, &mut self.positive_buckets),
            (&mut self.negative_spans, &mut self.negative_buckets),
        ] {
            let reduced = reduce_indexed(&to_indexed(spans, counts), self.schema, target_schema);
            (*spans, *counts) = from_indexed(&reduced);
        }
        self.schema = target_schema;
    }

    /// A copy at the coarser (or equal) `target_schema`. As upstream, a copy
    /// at a different schema carries no counter-reset hint.
    pub fn copy_to_schema(&self, target_schema: i32) -> Result<FloatHistogram, HistogramError> {
        if target_schema == self.schema {
            return Ok(self.clone());
        }
        if self.uses_custom_buckets() {
            return Err(HistogramError::ReduceCustomBuckets);
        }
        if is_custom_buckets_schema(target_schema) {
            return Err(HistogramError::ReduceToCustomBuckets);
        }
        if target_schema > self.schema {
            return Err(HistogramError::IncreaseResolution {
                from: self.schema,
                to: target_schema,
            });
        }
        let mut out = FloatHistogram {
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count,
            count: self.count,
            sum: self.sum,
            positive_spans: self.positive_spans.clone(),
            positive_buckets: self.positive_buckets.clone(),
            negative_spans: self.negative_spans.clone(),
            negative_buckets: self.negative_buckets.clone(),
            ..Default::default()
        };
        out.reduce_sides_to(target_schema);
        Ok(out)
    }
}

/// A Kahan-compensated sum of histograms, as `sum` and `sum_over_time`
/// compute it.
#[derive(Clone, Debug)]
pub struct HistogramSum {
    value: FloatHistogram,
    comp: Option<FloatHistogram>,
}

impl HistogramSum {
    /// Starts the sum with its first histogram.
    pub fn new(first: FloatHistogram) -> Self {
        HistogramSum {
            value: first,
            comp: None,
        }
    }

    /// Adds the next histogram. On error the sum is unusable (upstream drops
    /// the whole group or series).
    pub fn add(&mut self, h: &FloatHistogram) -> Result<AddOutcome, HistogramError> {
        self.value.kahan_add(h, &mut self.comp)
    }

    /// The compensated sum, compacted.
    pub fn finish(self) -> FloatHistogram {
        let mut value = self.value;
        if let Some(c) = &self.comp {
            // Both share one layout, so this cannot fail.
            let _ = value.add(c);
        }
        value.compact(0);
        value
    }
}

/// A Kahan-compensated mean of histograms, as `avg` and `avg_over_time`
/// compute it: a direct sum while it does not overflow, then an incremental
/// mean.
#[derive(Clone, Debug)]
pub struct HistogramMean {
    count: f64,
    /// The running sum, or the running mean once `incremental`.
    value: FloatHistogram,
    comp: Option<FloatHistogram>,
    incremental: bool,
}

impl HistogramMean {
    /// Starts the mean with its first histogram.
    pub fn new(first: FloatHistogram) -> Self {
        HistogramMean {
            count: 1.0,
            value: first,
            comp: None,
            incremental: false,
        }
    }

    /// Adds the next histogram. On error the mean is unusable (upstream drops
    /// the whole group or series).
    pub fn add(&mut self, h: &FloatHistogram) -> Result<AddOutcome, HistogramError> {
        self.count += 1.0;
        let n = self.count;
        if !self.incremental {
            let mut value = self.value.clone();
            let mut comp = self.comp.clone();
            let outcome = value.kahan_add(h, &mut comp)?;
            if !value.has_overflow() {
                self.value = value;
                self.comp = comp;
                return Ok(outcome);
            }
            self.incremental = true;
            self.value.div(n - 1.0);
            if let Some(c) = &mut self.comp {
                c.div(n - 1.0);
            }
        }
        let q = (n - 1.0) / n;
        if let Some(c) = &mut self.comp {
            c.mul(q);
        }
        let mut to_add = h.clone();
        to_add.div(n);
        self.value.mul(q);
        self.value.kahan_add(&to_add, &mut self.comp)
    }

    /// The compensated mean, compacted.
    pub fn finish(self) -> FloatHistogram {
        let mut value = self.value;
        let mut comp = self.comp;
        if !self.incremental {
            value.div(self.count);
            if let Some(c) = &mut comp {
                c.div(self.count);
            }
        }
        if let Some(c) = &comp {
            let _ = value.add(c);
        }
        value.compact(0);
        value
    }
}

#[cfg(test)]
mod tests {
    use super::super::{BucketSpan, CUSTOM_BUCKETS_SCHEMA};
    use super::*;

    fn span(offset: i32, length: u32) -> BucketSpan {
        BucketSpan { offset, length }
    }

    fn exp(schema: i32, offset: i32, buckets: &[f64]) -> FloatHistogram {
        let count = buckets.iter().sum();
        FloatHistogram {
            schema,
            count,
            sum: count,
            positive_spans: vec![span(offset, u32::try_from(buckets.len()).unwrap_or(0))],
            positive_buckets: buckets.to_vec(),
            ..Default::default()
        }
    }

    fn nonzero(h: &FloatHistogram) -> Vec<(i32, f64)> {
        to_indexed(&h.positive_spans, &h.positive_buckets)
            .into_iter()
            .filter(|b| b.1 != 0.0)
            .collect()
    }

    #[test]
    fn add_same_schema() {
        let mut a = exp(0, 0, &[1.0, 2.0]);
        let b = exp(0, 1, &[3.0, 4.0]);
        let out = a.add(&b).unwrap();
        assert_eq!(out, AddOutcome::default());
        assert_eq!(a.count, 10.0);
        assert_eq!(nonzero(&a), vec![(0, 1.0), (1, 5.0), (2, 4.0)]);
    }

    #[test]
    fn add_reduces_to_coarser_schema() {
        let mut a = exp(1, 1, &[1.0, 1.0, 1.0, 1.0]);
        let b = exp(0, 1, &[10.0]);
        a.add(&b).unwrap();
        assert_eq!(a.schema, 0);
        // Schema 1 indices 1,2 -> 1 and 3,4 -> 2.
        assert_eq!(nonzero(&a), vec![(1, 12.0), (2, 2.0)]);
        let mut c = exp(0, 1, &[10.0]);
        c.add(&exp(1, 1, &[1.0, 1.0, 1.0, 1.0])).unwrap();
        assert_eq!(nonzero(&c), nonzero(&a));
    }

    #[test]
    fn sub_negates() {
        let mut a = exp(0, 0, &[5.0, 5.0]);
        a.sub(&exp(0, 1, &[2.0, 1.0])).unwrap();
        assert_eq!(nonzero(&a), vec![(0, 5.0), (1, 3.0), (2, -1.0)]);
        assert_eq!(a.count, 7.0);
    }

    #[test]
    fn zero_threshold_widening_absorbs_buckets() {
        // a's zero bucket [-1, 1]; b has buckets (0.5,1] and (1,2].
        let mut a = FloatHistogram {
            zero_threshold: 1.0,
            zero_count: 1.0,
            count: 1.0,
            ..Default::default()
        };
        let mut b = exp(0, 0, &[2.0, 3.0]);
        b.zero_threshold = 0.1;
        b.zero_count = 1.0;
        b.count = 6.0;
        a.add(&b).unwrap();
        assert_eq!(a.zero_threshold, 1.0);
        assert_eq!(a.zero_count, 4.0);
        assert_eq!(nonzero(&a), vec![(1, 3.0)]);
        // The other way round gives the same.
        let mut b2 = b.clone();
        b2.add(&FloatHistogram {
            zero_threshold: 1.0,
            zero_count: 1.0,
            count: 1.0,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(b2.zero_threshold, 1.0);
        assert_eq!(b2.zero_count, 4.0);
        assert_eq!(nonzero(&b2), vec![(1, 3.0)]);
    }

    #[test]
    fn threshold_inside_populated_bucket_is_raised() {
        let mut a = FloatHistogram {
            zero_threshold: 0.7,
            ..Default::default()
        };
        let b = exp(0, 0, &[2.0, 3.0]);
        a.add(&b).unwrap();
        // 0.7 falls into (0.5,1], which is populated: the threshold becomes 1.
        assert_eq!(a.zero_threshold, 1.0);
        assert_eq!(a.zero_count, 2.0);
        assert_eq!(nonzero(&a), vec![(1, 3.0)]);
    }

    #[test]
    fn zero_buckets_are_widened_before_schemas_are_merged() {
        // As upstream: b's bucket (0.5, 0.7071] at schema 1 moves into the
        // widened zero bucket, and the schema-0 bucket (0.5, 1] it merges
        // into still receives it. The observation is counted twice; order
        // matters. We keep upstream's results.
        let mut a = FloatHistogram {
            zero_threshold: 0.7,
            ..Default::default()
        };
        let mut b = exp(1, -1, &[1.0]);
        b.count = 1.0;
        a.add(&b).unwrap();
        assert_eq!(a.schema, 0);
        assert_eq!(a.zero_threshold, 0.7071067811865475);
        assert_eq!(a.zero_count, 1.0);
        assert_eq!(nonzero(&a), vec![(0, 1.0)]);
    }

    #[test]
    fn mixed_schemas_are_an_error() {
        let mut a = exp(0, 0, &[1.0]);
        let mut b = exp(0, 0, &[1.0]);
        b.schema = CUSTOM_BUCKETS_SCHEMA;
        b.custom_values = vec![1.0];
        assert_eq!(a.add(&b), Err(HistogramError::MixedSchemas));
        assert_eq!(b.sub(&a), Err(HistogramError::MixedSchemas));
        assert_eq!(a.count, 1.0, "failed operations leave the receiver alone");
    }

    #[test]
    fn custom_buckets_with_different_bounds_use_shared_bounds() {
        let mut a = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![1.0, 2.0, 3.0],
            positive_spans: vec![span(0, 4)],
            positive_buckets: vec![1.0, 2.0, 3.0, 4.0],
            count: 10.0,
            ..Default::default()
        };
        let b = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            custom_values: vec![2.0, 4.0],
            positive_spans: vec![span(0, 3)],
            positive_buckets: vec![10.0, 20.0, 30.0],
            count: 60.0,
            ..Default::default()
        };
        let out = a.add(&b).unwrap();
        assert!(out.custom_bounds_reconciled);
        assert_eq!(a.custom_values, vec![2.0]);
        // <=2: 1+2+10; >2: 3+4+20+30.
        assert_eq!(nonzero(&a), vec![(0, 13.0), (1, 57.0)]);
        assert_eq!(a.count, 70.0);
    }

    #[test]
    fn counter_reset_hints() {
        use CounterResetHint::*;
        let with = |h| FloatHistogram {
            counter_reset_hint: h,
            ..Default::default()
        };
        let mut a = with(CounterReset);
        assert!(
            a.add(&with(NotCounterReset))
                .unwrap()
                .counter_reset_collision
        );
        assert_eq!(a.counter_reset_hint, Unknown);
        let mut g = with(NotCounterReset);
        g.add(&with(Gauge)).unwrap();
        assert_eq!(g.counter_reset_hint, Gauge);
        let mut u = with(NotCounterReset);
        u.add(&with(Unknown)).unwrap();
        assert_eq!(u.counter_reset_hint, Unknown);
    }

    #[test]
    fn mul_div() {
        let mut a = exp(0, 0, &[2.0, 4.0]);
        a.mul(-0.5);
        assert_eq!(a.positive_buckets, vec![-1.0, -2.0]);
        assert_eq!(a.counter_reset_hint, CounterResetHint::Gauge);
        let mut b = exp(0, 0, &[2.0, 4.0]);
        b.div(0.0);
        assert!(b.positive_buckets.is_empty() && b.positive_spans.is_empty());
        assert_eq!(b.count, f64::INFINITY);
    }

    #[test]
    fn reduce_and_copy_to_schema() {
        let mut a = exp(2, -3, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        a.counter_reset_hint = CounterResetHint::NotCounterReset;
        let c = a.copy_to_schema(0).unwrap();
        assert_eq!(c.counter_reset_hint, CounterResetHint::Unknown);
        // Schema 2 indices -3..=2 -> schema 0: ((i-1)>>2)+1.
        assert_eq!(nonzero(&c), vec![(0, 10.0), (1, 11.0)]);
        a.reduce_resolution(0).unwrap();
        assert_eq!(nonzero(&a), nonzero(&c));
        assert_eq!(
            a.reduce_resolution(1),
            Err(HistogramError::IncreaseResolution { from: 0, to: 1 })
        );
    }

    #[test]
    fn kahan_sum_compensates() {
        let big = FloatHistogram {
            count: 1e16,
            sum: 1e16,
            ..Default::default()
        };
        let one = FloatHistogram {
            count: 1.0,
            sum: 1.0,
            ..Default::default()
        };
        let minus = FloatHistogram {
            count: -1e16,
            sum: -1e16,
            ..Default::default()
        };
        let mut s = HistogramSum::new(one.clone());
        s.add(&big).unwrap();
        s.add(&one).unwrap();
        s.add(&minus).unwrap();
        assert_eq!(s.finish().count, 2.0);
        let mut plain = one.clone();
        plain.add(&big).unwrap();
        plain.add(&one).unwrap();
        plain.add(&minus).unwrap();
        assert_ne!(plain.count, 2.0, "plain summation loses the ones");
    }

    #[test]
    fn mean_switches_to_incremental_on_overflow() {
        let h = |v: f64| FloatHistogram {
            count: v,
            sum: v,
            positive_spans: vec![span(0, 1)],
            positive_buckets: vec![v],
            ..Default::default()
        };
        let mut m = HistogramMean::new(h(f64::MAX));
        m.add(&h(f64::MAX)).unwrap();
        m.add(&h(f64::MAX)).unwrap();
        let r = m.finish();
        let close = |v: f64| (v / f64::MAX - 1.0).abs() < 1e-15;
        assert!(close(r.count), "{}", r.count);
        assert!(r.positive_buckets.iter().all(|b| close(*b)));
        let mut m = HistogramMean::new(h(1.0));
        m.add(&h(2.0)).unwrap();
        m.add(&h(6.0)).unwrap();
        assert_eq!(m.finish().positive_buckets, vec![3.0]);
    }

    fn same_bits(a: &FloatHistogram, b: &FloatHistogram) -> bool {
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        a.schema == b.schema
            && a.counter_reset_hint == b.counter_reset_hint
            && a.zero_threshold.to_bits() == b.zero_threshold.to_bits()
            && a.zero_count.to_bits() == b.zero_count.to_bits()
            && a.count.to_bits() == b.count.to_bits()
            && a.sum.to_bits() == b.sum.to_bits()
            && a.positive_spans == b.positive_spans
            && a.negative_spans == b.negative_spans
            && bits(&a.positive_buckets) == bits(&b.positive_buckets)
            && bits(&a.negative_buckets) == bits(&b.negative_buckets)
            && bits(&a.custom_values) == bits(&b.custom_values)
    }

    proptest::proptest! {
        /// Adding, subtracting and compensated adding of histograms with the
        /// same layout in place gives bit for bit what the general path gives
        /// (forced by an extra empty span, which it drops).
        #[test]
        fn same_layout_arithmetic_matches_the_general_path(
            custom in proptest::bool::ANY,
            threshold in proptest::prop_oneof![
                proptest::strategy::Just(0.0),
                proptest::strategy::Just(1.0),
                proptest::strategy::Just(3.0),
            ],
            gaps in proptest::collection::vec((1i32..3, 1u32..4), 1..4),
            values in proptest::collection::vec((-1e6f64..1e6, -1e6f64..1e6, -1.0f64..1.0), 16),
            op in 0u8..3,
        ) {
            let mut spans: Vec<BucketSpan> =
                gaps.iter().map(|&(offset, length)| BucketSpan { offset, length }).collect();
            spans[0].offset = -1;
            let n: usize = spans.iter().map(|s| s.length as usize).sum();
            let make = |pick: fn(&(f64, f64, f64)) -> f64| FloatHistogram {
                schema: if custom { CUSTOM_BUCKETS_SCHEMA } else { 0 },
                zero_threshold: if custom { 0.0 } else { threshold },
                zero_count: pick(&values[15]).abs(),
                count: pick(&values[14]).abs() * 10.0,
                sum: pick(&values[13]),
                positive_spans: spans.clone(),
                positive_buckets: values.iter().take(n).map(pick).collect(),
                negative_spans: if custom { vec![] } else { spans.clone() },
                negative_buckets: if custom { vec![] } else { values.iter().rev().take(n).map(pick).collect() },
                custom_values: if custom { (0..20).map(f64::from).collect() } else { vec![] },
                ..Default::default()
            };
            let a = make(|v| v.0);
            let b = make(|v| v.1);
            let mut detour = a.clone();
            detour.positive_spans.push(BucketSpan { offset: 1, length: 0 });
            let (mut fast, mut slow) = (a.clone(), detour);
            let mut fast_comp = Some(make(|v| v.2));
            let mut slow_comp = fast_comp.clone();
            match op {
                0 => { fast.add(&b).unwrap(); slow.add(&b).unwrap(); }
                1 => { fast.sub(&b).unwrap(); slow.sub(&b).unwrap(); }
                _ => {
                    fast.kahan_add(&b, &mut fast_comp).unwrap();
                    slow.kahan_add(&b, &mut slow_comp).unwrap();
                }
            }
            proptest::prop_assert!(same_bits(&fast, &slow), "{:?}\nvs\n{:?}", fast, slow);
            if op == 2 {
                let (Some(fc), Some(sc)) = (&fast_comp, &slow_comp) else {
                    panic!("compensation kept");
                };
                proptest::prop_assert!(same_bits(fc, sc), "{:?}\nvs\n{:?}", fc, sc);
            }
        }
    }
}
