//! The evaluator core: every node is evaluated for all steps of the
//! evaluator's range at once, yielding a matrix (Prometheus' model).

use std::cell::{Cell, RefCell};
use std::time::Instant;

use super::EngineOptions;
use super::EvalError;
use super::annotations::Annotations;
use super::grouping::{KeptRuns, KeyLabels};
use super::plan::{BinN, CallN, Node, Subq};
use super::types::{
    ESample, ESeries, FastMap, Matrix, Val, Vector, drop_metadata_owned, has_duplicate_labels,
};
use crate::model::{Labels, ValueType};
use crate::parser::Span;
use crate::storage::Storage;

/// The message Prometheus reports for duplicate output series.
pub(crate) const DUPLICATE_LABELSET: &str = "vector cannot contain metrics with the same labelset";

/// State shared by an evaluator and its subquery children.
pub(crate) struct Shared<'a> {
    pub storage: &'a dyn Storage,
    pub opts: &'a EngineOptions,
    pub current: Cell<usize>,
    pub peak: Cell<usize>,
    pub total: Cell<u64>,
    /// Samples read from storage.
    pub read: Cell<u64>,
    pub deadline: Option<Instant>,
    ticks: Cell<u64>,
    pub annos: RefCell<Annotations>,
}

impl<'a> Shared<'a> {
    pub fn new(storage: &'a dyn Storage, opts: &'a EngineOptions) -> Self {
        Shared {
            storage,
            opts,
            current: Cell::new(0),
            peak: Cell::new(0),
            total: Cell::new(0),
            read: Cell::new(0),
            deadline: opts.timeout.and_then(|t| Instant::now().checked_add(t)),
            ticks: Cell::new(0),
            annos: RefCell::new(Annotations::default()),
        }
    }
}

/// An evaluator over `start..=end` in steps of `interval` (milliseconds).
pub(crate) struct Ev<'a, 'b> {
    pub sh: &'b Shared<'a>,
    pub start: i64,
    pub end: i64,
    pub interval: i64,
    /// [`Ev::num_steps`], computed once: it is asked for every series.
    steps: usize,
}

/// The number of steps `start`, `start + interval`, ... up to `end`.
fn count_steps(start: i64, end: i64, interval: i64) -> usize {
    if end < start {
        return 0;
    }
    let interval = interval.max(1);
    // 128 bits only for windows wider than `i64` can hold.
    let span = match end.checked_sub(start) {
        Some(width) => i128::from(width / interval),
        None => (i128::from(end) - i128::from(start)) / i128::from(interval),
    };
    usize::try_from(span)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
}

impl<'a, 'b> Ev<'a, 'b> {
    /// An evaluator over the steps `start..=end` every `interval` ms.
    pub fn new(sh: &'b Shared<'a>, start: i64, end: i64, interval: i64) -> Self {
        Ev {
            sh,
            start,
            end,
            interval,
            steps: count_steps(start, end, interval),
        }
    }

    pub fn delayed(&self) -> bool {
        self.sh.opts.delayed_name_removal
    }

    /// The lookback delta; zero or negative means Prometheus' default of 5m.
    pub fn lookback(&self) -> i64 {
        match self.sh.opts.lookback_delta {
            d if d > 0 => d,
            _ => 5 * 60 * 1000,
        }
    }

    /// An upper bound on the points of one output series built from
    /// `samples` samples that each count for at most `reach` milliseconds
    /// of steps (a range, or the lookback), to reserve without reserving
    /// for steps no sample can reach.
    pub(crate) fn points_bound(&self, samples: usize, reach: i64) -> usize {
        let steps = self.num_steps();
        if steps <= 1 {
            // Every sample reaches at least one step (no division needed).
            return steps.min(samples);
        }
        let steps_per_sample = usize::try_from(reach / self.interval.max(1))
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        steps
            .min(samples.saturating_mul(steps_per_sample))
            .min(1 << 16)
    }

    /// Number of evaluation steps.
    pub fn num_steps(&self) -> usize {
        self.steps
    }

    /// The step timestamps.
    pub fn steps(&self) -> impl Iterator<Item = i64> + use<> {
        let (start, end, interval) = (self.start, self.end, self.interval.max(1));
        (0..i64::try_from(self.num_steps()).unwrap_or(i64::MAX))
            .map(move |i| start.saturating_add(i.saturating_mul(interval)))
            .take_while(move |t| *t <= end)
    }

    pub fn is_instant(&self) -> bool {
        self.start == self.end
    }

    /// Checks the timeout every so often: one unit of work done.
    pub fn tick(&self) -> Result<(), EvalError> {
        self.tick_by(1)
    }

    /// Checks the timeout every so often: `work` units of work done (e.g.
    /// one per sample a step gathers), so that a step over many series
    /// checks the clock as often as many steps over few.
    pub fn tick_by(&self, work: usize) -> Result<(), EvalError> {
        /// Units of work between two looks at the clock.
        const CHECK_EVERY: u64 = 256;
        let before = self.sh.ticks.get();
        let after = before.wrapping_add(u64::try_from(work).unwrap_or(u64::MAX));
        self.sh.ticks.set(after);
        if before / CHECK_EVERY != after / CHECK_EVERY
            && let Some(d) = self.sh.deadline
            && Instant::now() > d
        {
            return Err(EvalError::Timeout);
        }
        Ok(())
    }

    /// Accounts `n` more samples held in memory.
    pub fn add_samples(&self, n: usize) -> Result<(), EvalError> {
        let cur = self.sh.current.get().saturating_add(n);
        self.sh.current.set(cur);
        self.sh
            .total
            .set(self.sh.total.get().saturating_add(n as u64));
        if cur > self.sh.peak.get() {
            self.sh.peak.set(cur);
        }
        if cur > self.sh.opts.max_samples {
            return Err(EvalError::TooManySamples);
        }
        Ok(())
    }

    /// Accounts `n` samples held only for a moment on top of what is held
    /// (a range function's window): raises the peak, checks the limit, and
    /// leaves the current count unchanged.
    pub fn hold_briefly(&self, n: usize) -> Result<(), EvalError> {
        let cur = self.sh.current.get().saturating_add(n);
        if cur > self.sh.peak.get() {
            self.sh.peak.set(cur);
        }
        if cur > self.sh.opts.max_samples {
            return Err(EvalError::TooManySamples);
        }
        Ok(())
    }

    /// Takes over the counters and annotations of a worker evaluator that
    /// ran part of this evaluation on another thread (its results are
    /// accounted by the caller).
    pub fn absorb_worker(&self, total: u64, read: u64, annos: Annotations) {
        self.sh.total.set(self.sh.total.get().saturating_add(total));
        self.sh.read.set(self.sh.read.get().saturating_add(read));
        self.sh.annos.borrow_mut().merge(annos);
    }

    /// Counts `n` samples read from storage.
    pub fn count_read(&self, n: usize) {
        self.sh
            .total
            .set(self.sh.total.get().saturating_add(n as u64));
        self.sh
            .read
            .set(self.sh.read.get().saturating_add(n as u64));
    }

    /// Releases `n` samples.
    pub fn sub_samples(&self, n: usize) {
        self.sh.current.set(self.sh.current.get().saturating_sub(n));
    }

    pub fn warn(&self, msg: String, span: Span) {
        self.sh.annos.borrow_mut().warn(msg, span);
    }

    pub fn info(&self, msg: String, span: Span) {
        self.sh.annos.borrow_mut().info(msg, span);
    }

    pub fn child(&self, start: i64, end: i64, interval: i64) -> Ev<'a, 'b> {
        Ev::new(self.sh, start, end, interval)
    }

    pub fn eval(&self, node: &Node) -> Result<Val, EvalError> {
        self.tick()?;
        if self.end < self.start {
            return Ok(Val::Matrix(Vec::new()));
        }
        match node {
            Node::Number(v, _) => {
                let v = *v;
                self.range_eval(Vec::new(), |_, _, _| {
                    Ok(vec![ESample::float(Labels::empty(), v)])
                })
                .map(Val::Matrix)
            }
            Node::Str(s, _) => Ok(Val::Str(s.clone())),
            Node::Selector(sel) => self.eval_selector(sel).map(Val::Matrix),
            Node::Matrix(m) => self.eval_matrix_selector(m).map(Val::Matrix),
            Node::Subquery(s) => self.eval_subquery(s).map(Val::Matrix),
            Node::Neg(inner, _) => {
                let mut mat = self.eval_matrix(inner)?;
                for s in &mut mat {
                    if !self.delayed() {
                        drop_metadata_owned(&mut s.labels);
                    }
                    s.drop_name = true;
                    for p in &mut s.floats {
                        p.v = -p.v;
                    }
                    for p in &mut s.hists {
                        let mut h = (*p.h).clone();
                        h.negate();
                        p.h = std::sync::Arc::new(h);
                    }
                }
                if !self.delayed() {
                    mat = merge_same_labelsets(mat)?;
                }
                Ok(Val::Matrix(mat))
            }
            Node::Binary(b) => self.eval_binary(b).map(Val::Matrix),
            Node::Agg(a) => super::aggregate::eval_aggregate(self, a).map(Val::Matrix),
            Node::Call(c) => self.eval_call(c).map(Val::Matrix),
        }
    }

    /// Evaluates a node that must yield a matrix.
    pub fn eval_matrix(&self, node: &Node) -> Result<Matrix, EvalError> {
        match self.eval(node)? {
            Val::Matrix(m) => Ok(m),
            Val::Str(_) => Err(EvalError::Execution(
                "unexpected string where a vector was expected".into(),
            )),
        }
    }

    /// [`Self::eval_matrix`], also recording the `key` labels of every
    /// result series where the node makes its series one by one from a
    /// selector's, while each label set is in the cache (a range function
    /// over a selector): the caller groups the result by them instead of
    /// reading every label set again. `None` where the node does not.
    pub fn eval_matrix_keyed(
        &self,
        node: &Node,
        key: KeyLabels<'_>,
    ) -> Result<(Matrix, Option<KeptRuns>), EvalError> {
        match node {
            Node::Call(c) if self.end >= self.start => {
                self.tick()?;
                super::functions::eval_call_keyed(self, c, key)
            }
            _ => Ok((self.eval_matrix(node)?, None)),
        }
    }

    /// Evaluates a scalar node to one value per step (NaN where absent).
    pub fn eval_scalar_steps(&self, node: &Node) -> Result<Vec<f64>, EvalError> {
        let mat = self.eval_matrix(node)?;
        let mut out = vec![f64::NAN; self.num_steps()];
        if let Some(s) = mat.first() {
            for p in &s.floats {
                let i = ((p.t - self.start) / self.interval.max(1)) as usize;
                if let Some(slot) = out.get_mut(i) {
                    *slot = p.v;
                }
            }
        }
        Ok(out)
    }

    /// Evaluates `inputs` (already evaluated matrices) step by step, calling
    /// `f` with the vectors at each step and the series index of every sample,
    /// and assembles the per-step results into series. Two results of a
    /// step with the same labels are an error, as in Prometheus.
    pub fn range_eval(
        &self,
        inputs: Vec<Matrix>,
        f: impl FnMut(&[Vector], &[Vec<usize>], i64) -> Result<Vector, EvalError>,
    ) -> Result<Matrix, EvalError> {
        self.range_eval_checking(inputs, true, f)
    }

    /// [`Self::range_eval`] for an `f` that never returns two results with
    /// the same labels at a step (distinct inputs give distinct results, or
    /// it reports the collision itself): an instant evaluation does not
    /// hash every result's labels to look for one.
    pub fn range_eval_distinct(
        &self,
        inputs: Vec<Matrix>,
        f: impl FnMut(&[Vector], &[Vec<usize>], i64) -> Result<Vector, EvalError>,
    ) -> Result<Matrix, EvalError> {
        self.range_eval_checking(inputs, false, f)
    }

    fn range_eval_checking(
        &self,
        inputs: Vec<Matrix>,
        check_instant: bool,
        mut f: impl FnMut(&[Vector], &[Vec<usize>], i64) -> Result<Vector, EvalError>,
    ) -> Result<Matrix, EvalError> {
        // The inputs were counted when they were evaluated; they are released
        // when this node's result is complete.
        let inputs_total: usize = inputs.iter().flatten().map(ESeries::samples).sum();
        let before = self.sh.current.get().saturating_sub(inputs_total);
        let base = before + inputs_total;
        if self.is_instant() {
            return self.instant_step(inputs, check_instant, f, (before, base));
        }
        let mut cursors: Vec<Vec<(usize, usize)>> =
            inputs.iter().map(|m| vec![(0, 0); m.len()]).collect();
        let mut out: Matrix = Vec::new();
        let mut index: FastMap<Labels, usize> = FastMap::default();
        // Output series by the address of a label set seen before (the
        // entry keeps that label set alive, so the address stays unique).
        let mut by_addr: FastMap<usize, (Labels, usize)> = FastMap::default();
        let mut last: Vec<i64> = Vec::new();
        // Each step gathers at most one sample per input series: sized
        // once, these never regrow (an instant query has one step).
        let mut vectors: Vec<Vector> = inputs.iter().map(|m| Vec::with_capacity(m.len())).collect();
        let mut idxs: Vec<Vec<usize>> =
            inputs.iter().map(|m| Vec::with_capacity(m.len())).collect();
        let mut out_points = 0usize;
        let num_steps = self.num_steps();
        for (step, ts) in self.steps().enumerate() {
            self.tick()?;
            // Points a series first seen at this step can still get.
            let steps_left = num_steps.saturating_sub(step).min(1 << 16);
            let mut gathered = 0usize;
            for (i, m) in inputs.iter().enumerate() {
                vectors[i].clear();
                idxs[i].clear();
                for (si, s) in m.iter().enumerate() {
                    let c = &mut cursors[i][si];
                    if let Some(p) = s.floats.get(c.0).filter(|p| p.t == ts) {
                        vectors[i].push(ESample {
                            labels: s.labels.clone(),
                            t: ts,
                            f: p.v,
                            h: None,
                            drop_name: s.drop_name,
                        });
                        c.0 += 1;
                        gathered += 1;
                    } else if let Some(p) = s.hists.get(c.1).filter(|p| p.t == ts) {
                        gathered += super::types::hist_samples(&p.h);
                        vectors[i].push(ESample {
                            labels: s.labels.clone(),
                            t: ts,
                            f: 0.0,
                            h: Some(p.h.clone()),
                            drop_name: s.drop_name,
                        });
                        c.1 += 1;
                    } else {
                        continue;
                    }
                    idxs[i].push(si);
                }
            }
            self.sh.current.set(base + out_points);
            self.add_samples(gathered)?;
            self.tick_by(gathered)?;
            let result = f(&vectors, &idxs, ts)?;
            self.sh.current.set(base + out_points);
            let produced: usize = result.iter().map(ESample::samples).sum();
            out_points += produced;
            self.add_samples(produced)?;
            for s in result {
                // Most results reuse the same label set (the same allocation)
                // at every step: find it by address before hashing labels.
                let addr = labels_addr(&s.labels);
                let i = match by_addr.get(&addr) {
                    Some((_, i)) => *i,
                    None => {
                        let i = match index.get(&s.labels) {
                            Some(&i) => i,
                            None => {
                                index.insert(s.labels.clone(), out.len());
                                let mut ser = ESeries::new(s.labels.clone(), s.drop_name);
                                if s.h.is_none() {
                                    ser.floats.reserve_exact(steps_left);
                                }
                                out.push(ser);
                                last.push(i64::MIN);
                                out.len() - 1
                            }
                        };
                        by_addr.insert(addr, (s.labels.clone(), i));
                        i
                    }
                };
                if last[i] == ts {
                    return Err(EvalError::Execution(DUPLICATE_LABELSET.into()));
                }
                last[i] = ts;
                out[i].push(ts, s.f, s.h);
            }
        }
        self.sh.current.set(before + out_points);
        Ok(out)
    }

    /// [`Self::range_eval_checking`] for an instant evaluation, which has one
    /// step and then drops its inputs: each series' labels and sample move
    /// into the step's vectors rather than being copied (a label set's
    /// reference count, often out of the caches, is not touched twice).
    /// `before` and `base` are the sample counts without the inputs and
    /// with them.
    fn instant_step(
        &self,
        inputs: Vec<Matrix>,
        check: bool,
        mut f: impl FnMut(&[Vector], &[Vec<usize>], i64) -> Result<Vector, EvalError>,
        (before, base): (usize, usize),
    ) -> Result<Matrix, EvalError> {
        let ts = self.start;
        self.tick()?;
        let mut gathered = 0usize;
        let mut vectors: Vec<Vector> = Vec::with_capacity(inputs.len());
        let mut idxs: Vec<Vec<usize>> = Vec::with_capacity(inputs.len());
        for m in inputs {
            let mut idx = Vec::with_capacity(m.len());
            // Collected from the matrix's own iterator, the vector reuses the
            // matrix's allocation (a sample is smaller than a series): no
            // fresh memory for a copy of every input.
            let vector: Vector = m
                .into_iter()
                .enumerate()
                .filter_map(|(si, s)| {
                    let (f, h) = if let Some(p) = s.floats.first().filter(|p| p.t == ts) {
                        gathered += 1;
                        (p.v, None)
                    } else if let Some(p) = s.hists.into_iter().next().filter(|p| p.t == ts) {
                        gathered += super::types::hist_samples(&p.h);
                        (0.0, Some(p.h))
                    } else {
                        return None;
                    };
                    idx.push(si);
                    Some(ESample {
                        labels: s.labels,
                        t: ts,
                        f,
                        h,
                        drop_name: s.drop_name,
                    })
                })
                .collect();
            vectors.push(vector);
            idxs.push(idx);
        }
        self.sh.current.set(base);
        self.add_samples(gathered)?;
        self.tick_by(gathered)?;
        let result = f(&vectors, &idxs, ts)?;
        drop(vectors);
        self.sh.current.set(base);
        let produced: usize = result.iter().map(ESample::samples).sum();
        self.add_samples(produced)?;
        if check && !self.delayed() && has_duplicate_labels(result.iter().map(|s| &s.labels)) {
            return Err(EvalError::Execution(DUPLICATE_LABELSET.into()));
        }
        self.sh.current.set(before + produced);
        Ok(result
            .into_iter()
            .map(|s| {
                let mut ser = ESeries::new(s.labels, s.drop_name);
                ser.push(ts, s.f, s.h);
                ser
            })
            .collect())
    }

    /// The sample accounting [`Self::range_eval`] does, for a result that
    /// was computed series by series: `gathered[i]` input points and
    /// `produced[i]` result points at step `i`, the inputs released at the
    /// end. Peaks, totals, the samples limit and the timeout come out as
    /// they would from the step loop.
    pub fn account_steps<'s>(
        &self,
        inputs: impl Iterator<Item = &'s ESeries>,
        gathered: &[usize],
        produced: &[usize],
    ) -> Result<(), EvalError> {
        let inputs_total: usize = inputs.map(ESeries::samples).sum();
        let base = self.sh.current.get();
        let before = base.saturating_sub(inputs_total);
        let mut out_points = 0usize;
        for (&g, &p) in gathered.iter().zip(produced) {
            self.tick()?;
            self.sh.current.set(base + out_points);
            self.add_samples(g)?;
            self.tick_by(g)?;
            self.sh.current.set(base + out_points);
            out_points += p;
            self.add_samples(p)?;
        }
        self.sh.current.set(before + out_points);
        Ok(())
    }

    fn eval_binary(&self, b: &BinN) -> Result<Matrix, EvalError> {
        let (lt, rt) = (b.lhs.ty(), b.rhs.ty());
        if (lt, rt) == (ValueType::Vector, ValueType::Vector) {
            // The sides' match signatures, recorded where a side is made
            // series by series.
            let key = super::binary::signature_key(&b.matching);
            let (lhs, left_runs) = self.eval_matrix_keyed(&b.lhs, key)?;
            let (rhs, right_runs) = self.eval_matrix_keyed(&b.rhs, key)?;
            return super::binary::eval_vector_binop(self, b, lhs, rhs, [left_runs, right_runs]);
        }
        let mut lhs = self.eval_matrix(&b.lhs)?;
        let mut rhs = self.eval_matrix(&b.rhs)?;
        match (lt, rt) {
            (ValueType::Scalar, ValueType::Scalar) => self.range_eval(vec![lhs, rhs], |v, _, _| {
                let (l, r) = (
                    v[0].first().map_or(f64::NAN, |s| s.f),
                    v[1].first().map_or(f64::NAN, |s| s.f),
                );
                Ok(vec![ESample::float(
                    Labels::empty(),
                    super::binary::scalar_binop(b.op, l, r),
                )])
            }),
            (ValueType::Vector, _) => {
                if let Some(r) = super::binary::eval_vector_scalar(self, b, &mut lhs, &rhs, false) {
                    return r;
                }
                self.range_eval(vec![lhs, rhs], |v, _, _| {
                    let s = v[1].first().map_or(f64::NAN, |s| s.f);
                    Ok(super::binary::vector_scalar_binop(self, b, &v[0], s, false))
                })
            }
            _ => {
                if let Some(r) = super::binary::eval_vector_scalar(self, b, &mut rhs, &lhs, true) {
                    return r;
                }
                self.range_eval(vec![lhs, rhs], |v, _, _| {
                    let s = v[0].first().map_or(f64::NAN, |s| s.f);
                    Ok(super::binary::vector_scalar_binop(self, b, &v[1], s, true))
                })
            }
        }
    }

    fn eval_call(&self, c: &CallN) -> Result<Matrix, EvalError> {
        super::functions::eval_call(self, c)
    }

    /// The child evaluator's range for a subquery (steps aligned to absolute
    /// multiples of the subquery step).
    pub fn subquery_frame(&self, s: &Subq) -> (i64, i64, i64) {
        let interval = s.step.max(1);
        let (pstart, pend) = match s.at {
            Some(t) => (t, t),
            None => {
                let aligned_end = if self.interval > 0 {
                    self.start + ((self.end - self.start) / self.interval) * self.interval
                } else {
                    self.end
                };
                (self.start, aligned_end)
            }
        };
        let end = pend.saturating_sub(s.offset);
        let lower = pstart.saturating_sub(s.offset).saturating_sub(s.range);
        let mut start = interval.saturating_mul(lower.div_euclid(interval));
        if start <= lower {
            start = start.saturating_add(interval);
        }
        (start, end, interval)
    }

    /// Evaluates the subquery's inner expression in a child evaluator.
    pub fn run_subquery(&self, s: &Subq) -> Result<Matrix, EvalError> {
        let (start, end, interval) = self.subquery_frame(s);
        let child = self.child(start, end, interval);
        // Every step may hold a sample; refuse before looping over more
        // steps than samples are allowed.
        if child.num_steps() > self.sh.opts.max_samples {
            return Err(EvalError::TooManySamples);
        }
        child.eval_matrix(&s.expr)
    }

    fn eval_subquery(&self, s: &Subq) -> Result<Matrix, EvalError> {
        self.run_subquery(s)
    }
}

/// A key for the allocation behind a label set: two label sets with the same
/// key (while both are alive) are the same set. Aligned addresses are shifted
/// so that the hash's low bits vary.
pub(crate) fn labels_addr(labels: &Labels) -> usize {
    let slice = labels.as_slice();
    ((slice.as_ptr() as usize) >> 3) ^ (slice.len() << 58)
}

/// Merges series that ended up with the same labels (after dropping names);
/// two samples at the same time are an error.
pub(crate) fn merge_same_labelsets(mat: Matrix) -> Result<Matrix, EvalError> {
    if mat.len() <= 1 || !has_duplicate_labels(mat.iter().map(|s| &s.labels)) {
        return Ok(mat);
    }
    let mut index: FastMap<Labels, usize> = FastMap::default();
    let mut out: Matrix = Vec::new();
    for s in mat {
        match index.get(&s.labels) {
            Some(&i) => {
                let base = &mut out[i];
                base.floats.extend(s.floats);
                base.hists.extend(s.hists);
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    for s in &mut out {
        s.floats.sort_by_key(|p| p.t);
        s.hists.as_mut_slice().sort_by_key(|p| p.t);
        if s.floats.windows(2).any(|w| w[0].t == w[1].t)
            || s.hists.windows(2).any(|w| w[0].t == w[1].t)
        {
            return Err(EvalError::Execution(DUPLICATE_LABELSET.into()));
        }
    }
    Ok(out)
}
