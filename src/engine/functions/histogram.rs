//! `histogram_quantile`, `histogram_quantiles` and `histogram_fraction` over
//! classic (`le`-labelled) bucket series and native histograms (whose math
//! lives in [`crate::model::histogram`]).

use super::metric_name;
use crate::engine::annotations::{go_g, go_quote, with_metric_name};
use crate::engine::eval::Ev;
use crate::engine::grouping::group_by_kept_labels;
use crate::engine::plan::CallN;
use crate::engine::types::{ESample, FastMap, Vector, drop_metadata};
use crate::model::{FloatHistogram, Labels};
use crate::parser::Span;

/// One classic bucket: its upper bound and cumulative count.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bucket {
    pub upper: f64,
    pub count: f64,
}

struct Group {
    labels: Labels,
    buckets: Vec<Bucket>,
}

/// The classic-bucket grouping of the input series of one evaluation,
/// worked out once per series instead of at every step: each series' group
/// (its labels without `le`) and upper bound.
#[derive(Default)]
pub(crate) struct BucketGrouping {
    /// By input series: unset until first seen, then its group and upper
    /// bound, or `None` when its `le` is missing or malformed.
    by_series: Vec<Option<Option<(usize, f64)>>>,
    /// Each group's labels, numbered in order of first appearance.
    keys: Vec<Labels>,
    index: FastMap<Labels, usize>,
    /// By group: the step it was last seen at and its position in that
    /// step's groups.
    slots: Vec<(u64, usize)>,
    /// By group: how many series it has, to size its buckets.
    sizes: Vec<usize>,
    step: u64,
    bounds: BoundParser,
}

/// Parses `le` values, each distinct shared string once: the bucket series
/// of a store share their `le` strings, a dozen values for any number of
/// series.
#[derive(Default)]
pub(super) struct BoundParser {
    /// By the address of a value string (borrowed meanwhile, so never
    /// reused for another): its bound.
    parsed: FastMap<usize, Option<f64>>,
}

impl BoundParser {
    /// The upper bound of a bucket series: its `le` parsed as Go parses
    /// floats, `None` when missing or malformed.
    pub(super) fn bound(&mut self, labels: &Labels) -> Option<f64> {
        let Some(le) = labels.label("le") else {
            return parse_go_float("");
        };
        let addr = std::sync::Arc::as_ptr(&le.value).cast::<u8>() as usize;
        *self
            .parsed
            .entry(addr)
            .or_insert_with(|| parse_go_float(&le.value))
    }
}

impl BucketGrouping {
    /// Learns the group and upper bound of the classic bucket samples of
    /// `v` whose input series (`series`, as in [`group_buckets`]) it has
    /// not seen: their label sets are grouped as borrowed runs, and a
    /// group's key is built once, not once per series.
    fn learn(&mut self, v: &Vector, series: &[usize]) {
        let unknown: Vec<(usize, usize)> = v
            .iter()
            .enumerate()
            .filter(|(_, s)| s.h.is_none())
            .map(|(i, _)| (i, series_of(series, i)))
            .filter(|&(_, si)| !matches!(self.by_series.get(si), Some(Some(_))))
            .collect();
        if unknown.is_empty() {
            return;
        }
        let (local, firsts) =
            group_by_kept_labels(unknown.iter().map(|&(i, _)| &v[i].labels), |l| {
                &*l.name != "le"
            });
        let mut ids: Vec<Option<usize>> = vec![None; firsts.len()];
        for (&(i, si), &g) in unknown.iter().zip(&local) {
            let found = self.bounds.bound(&v[i].labels).map(|upper| {
                let id = *ids[g].get_or_insert_with(|| {
                    let key = v[unknown[firsts[g]].0].labels.without(&["le"]);
                    let next = self.keys.len();
                    let id = *self.index.entry(key.clone()).or_insert(next);
                    if id == next {
                        self.keys.push(key);
                        self.sizes.push(0);
                    }
                    id
                });
                self.sizes[id] += 1;
                (id, upper)
            });
            if self.by_series.len() <= si {
                self.by_series.resize(si + 1, None);
            }
            self.by_series[si] = Some(found);
        }
    }

    /// The group and upper bound of input series `series`, once learnt.
    fn bucket_of(&self, series: usize) -> Option<(usize, f64)> {
        self.by_series.get(series).copied().flatten().flatten()
    }
}

/// The input series of sample `i` of a step's vector (the evaluator gives
/// one per sample; without them, each sample is taken for its own series).
fn series_of(series: &[usize], i: usize) -> usize {
    series.get(i).copied().unwrap_or(i)
}

/// Groups classic bucket samples by their labels without `le` (in order of
/// first appearance in `v`), and returns the native histograms that do not
/// collide with a classic group. `series` holds the input series of each
/// sample of `v`, which `grouping` remembers across steps.
fn group_buckets<'v>(
    ev: &Ev<'_, '_>,
    v: &'v Vector,
    series: &[usize],
    grouping: &mut BucketGrouping,
    span: Span,
) -> (Vec<Group>, Vec<&'v ESample>) {
    grouping.step += 1;
    let step = grouping.step;
    grouping.learn(v, series);
    let mut groups: Vec<Group> = Vec::new();
    let mut natives: Vec<&ESample> = Vec::new();
    for (i, s) in v.iter().enumerate() {
        if s.h.is_some() {
            natives.push(s);
            continue;
        }
        let Some((group, upper)) = grouping.bucket_of(series_of(series, i)) else {
            warn_malformed_le(ev, &s.labels, span);
            continue;
        };
        if grouping.slots.len() <= group {
            grouping.slots.resize(group + 1, (0, 0));
        }
        let slot = &mut grouping.slots[group];
        if slot.0 != step {
            *slot = (step, groups.len());
            groups.push(Group {
                labels: grouping.keys[group].clone(),
                buckets: Vec::with_capacity(grouping.sizes[group]),
            });
        }
        if let Some(g) = groups.get_mut(slot.1) {
            g.buckets.push(Bucket { upper, count: s.f });
        }
    }
    let mut kept = Vec::with_capacity(natives.len());
    for n in natives {
        let at_this_step = grouping
            .index
            .get(&n.labels)
            .and_then(|&g| grouping.slots.get(g))
            .filter(|slot| slot.0 == step)
            .map(|slot| slot.1);
        if let Some(group) = at_this_step.and_then(|i| groups.get_mut(i))
            && !group.buckets.is_empty()
        {
            let name = if ev.delayed() {
                metric_name(&n.labels)
            } else {
                ""
            };
            ev.warn(
                with_metric_name(
                    "vector contains a mix of classic and native histograms".into(),
                    name,
                ),
                span,
            );
            group.buckets.clear();
            continue;
        }
        kept.push(n);
    }
    groups.retain(|g| !g.buckets.is_empty());
    (groups, kept)
}

/// Warns of a bucket series whose `le` is missing or malformed.
pub(super) fn warn_malformed_le(ev: &Ev<'_, '_>, labels: &Labels, span: Span) {
    let le = labels.get("le").unwrap_or("");
    let name = if ev.delayed() {
        metric_name(labels)
    } else {
        ""
    };
    ev.warn(
        with_metric_name(
            format!(
                "bucket label \"le\" is missing or has a malformed value of {}",
                go_quote(le)
            ),
            name,
        ),
        span,
    );
}

/// The metric name annotations about a native histogram mention: only with
/// delayed name removal (otherwise the name is already gone).
fn native_name<'a>(ev: &Ev<'_, '_>, s: &'a ESample) -> &'a str {
    if ev.delayed() {
        metric_name(&s.labels)
    } else {
        ""
    }
}

/// `histogram_quantile` of one native histogram, with its infos.
fn native_quantile(ev: &Ev<'_, '_>, q: f64, s: &ESample, h: &FloatHistogram, span: Span) -> f64 {
    let r = h.quantile(q);
    if r.nan_result {
        ev.info(
            with_metric_name(
                "input to histogram_quantile has NaN observations, result is NaN".into(),
                native_name(ev, s),
            ),
            span,
        );
    }
    if r.nan_skew {
        ev.info(
            with_metric_name(
                "input to histogram_quantile has NaN observations, result is skewed higher".into(),
                native_name(ev, s),
            ),
            span,
        );
    }
    r.value
}

/// A float result for a native histogram sample.
fn native_out(ev: &Ev<'_, '_>, s: &ESample, ts: i64, f: f64) -> ESample {
    ESample {
        labels: out_labels(ev, &s.labels),
        t: ts,
        f,
        h: None,
        drop_name: true,
    }
}

/// Parses a float as Go's `strconv.ParseFloat` would for bucket bounds.
pub(super) fn parse_go_float(s: &str) -> Option<f64> {
    const NAMED: [(&str, f64); 7] = [
        ("+inf", f64::INFINITY),
        ("inf", f64::INFINITY),
        ("+infinity", f64::INFINITY),
        ("infinity", f64::INFINITY),
        ("-inf", f64::NEG_INFINITY),
        ("-infinity", f64::NEG_INFINITY),
        ("nan", f64::NAN),
    ];
    // Surrounding white space is refused; the names are compared without
    // building a lower-case copy (this runs for every bucket series).
    let first = s.chars().next()?;
    if first.is_whitespace() || s.ends_with(char::is_whitespace) {
        return None;
    }
    if !first.is_ascii_digit()
        && let Some(&(_, v)) = NAMED.iter().find(|(name, _)| s.eq_ignore_ascii_case(name))
    {
        return Some(v);
    }
    s.parse::<f64>().ok()
}

/// A result's labels: the group's, less the metric name unless its
/// removal is delayed.
pub(super) fn out_labels(ev: &Ev<'_, '_>, l: &Labels) -> Labels {
    if ev.delayed() {
        l.clone()
    } else {
        drop_metadata(l)
    }
}

/// Warns of a quantile outside 0..=1 (or NaN).
pub(super) fn validate_quantile(ev: &Ev<'_, '_>, q: f64, span: Span) {
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        ev.warn(
            format!("quantile value should be between 0 and 1, got {}", go_g(q)),
            span,
        );
    }
}

fn scalar_arg(v: &[Vector], i: usize) -> Option<f64> {
    v.get(i).and_then(|x| x.first()).map(|s| s.f)
}

/// `histogram_quantile(q, buckets)` for classic histograms.
pub(crate) fn histogram_quantile(
    ev: &Ev<'_, '_>,
    c: &CallN,
    v: &[Vector],
    series: &[Vec<usize>],
    grouping: &mut BucketGrouping,
    ts: i64,
) -> Vector {
    let Some(q) = scalar_arg(v, 0) else {
        return Vec::new();
    };
    let (qspan, vspan) = (c.args[0].span(), c.args[1].span());
    validate_quantile(ev, q, qspan);
    let Some(input) = v.get(1) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let input_series = series.get(1).map_or(&[][..], Vec::as_slice);
    let (groups, natives) = group_buckets(ev, input, input_series, grouping, vspan);
    for n in natives {
        if let Some(h) = &n.h {
            let v = native_quantile(ev, q, n, h, vspan);
            out.push(native_out(ev, n, ts, v));
        }
    }
    for mut g in groups {
        let r = bucket_quantile(q, &mut g.buckets);
        r.note_forced(ev, &g.labels, vspan, ts);
        out.push(ESample {
            labels: out_labels(ev, &g.labels),
            t: ts,
            f: r.value,
            h: None,
            drop_name: true,
        });
    }
    out
}

/// `histogram_quantiles(buckets, "label", q...)` for classic histograms.
pub(crate) fn histogram_quantiles(
    ev: &Ev<'_, '_>,
    c: &CallN,
    v: &[Vector],
    series: &[Vec<usize>],
    grouping: &mut BucketGrouping,
    strings: &[String],
    ts: i64,
) -> Vector {
    let Some(label) = strings.first() else {
        return Vec::new();
    };
    let Some(input) = v.first() else {
        return Vec::new();
    };
    let vspan = c.args[0].span();
    let mut qs = Vec::new();
    for (i, q) in v.iter().enumerate().skip(1) {
        let q = q.first().map_or(f64::NAN, |s| s.f);
        validate_quantile(ev, q, c.args.get(i + 1).map_or(c.span, |a| a.span()));
        qs.push(q);
    }
    let input_series = series.first().map_or(&[][..], Vec::as_slice);
    let (groups, natives) = group_buckets(ev, input, input_series, grouping, vspan);
    let mut out = Vec::new();
    for q in qs {
        for n in &natives {
            if let Some(h) = &n.h {
                let v = native_quantile(ev, q, n, h, vspan);
                let mut o = native_out(ev, n, ts, v);
                o.labels = o
                    .labels
                    .builder()
                    .set(label.as_str(), openmetrics_float(q))
                    .build();
                out.push(o);
            }
        }
        for g in &groups {
            let mut buckets = g.buckets.clone();
            let r = bucket_quantile(q, &mut buckets);
            r.note_forced(ev, &g.labels, vspan, ts);
            let labels = out_labels(ev, &g.labels)
                .builder()
                .set(label.as_str(), openmetrics_float(q))
                .build();
            out.push(ESample {
                labels,
                t: ts,
                f: r.value,
                h: None,
                drop_name: true,
            });
        }
    }
    out
}

/// `histogram_fraction(lower, upper, buckets)` for classic histograms.
pub(crate) fn histogram_fraction(
    ev: &Ev<'_, '_>,
    c: &CallN,
    v: &[Vector],
    series: &[Vec<usize>],
    grouping: &mut BucketGrouping,
) -> Vector {
    let (Some(lower), Some(upper), Some(input)) = (scalar_arg(v, 0), scalar_arg(v, 1), v.get(2))
    else {
        return Vec::new();
    };
    let vspan = c.args[2].span();
    let input_series = series.get(2).map_or(&[][..], Vec::as_slice);
    let (groups, natives) = group_buckets(ev, input, input_series, grouping, vspan);
    let mut out: Vector = Vec::new();
    for n in natives {
        if let Some(h) = &n.h {
            let r = h.fraction(lower, upper);
            if r.nan_observations {
                ev.info(
                    with_metric_name(
                        "input to histogram_fraction has NaN observations, which are excluded from all fractions".into(),
                        native_name(ev, n),
                    ),
                    vspan,
                );
            }
            out.push(native_out(ev, n, 0, r.value));
        }
    }
    out.extend(groups.into_iter().map(|mut g| ESample {
        labels: out_labels(ev, &g.labels),
        t: 0,
        f: bucket_fraction(lower, upper, &mut g.buckets),
        h: None,
        drop_name: true,
    }));
    out
}

fn openmetrics_float(f: f64) -> String {
    let s = go_g(f);
    if s.contains(['.', 'e', 'N', 'I']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// A quantile of classic buckets.
pub(super) struct QuantileResult {
    pub value: f64,
    /// (min bucket, max bucket, max diff) when monotonicity had to be forced.
    pub forced: Option<(f64, f64, f64)>,
}

impl QuantileResult {
    /// Notes, when monotonicity had to be forced, the info that says so
    /// (one per query, merged over the groups and steps it concerns).
    pub(super) fn note_forced(&self, ev: &Ev<'_, '_>, group: &Labels, span: Span, ts: i64) {
        if let Some((lo, hi, diff)) = self.forced {
            let name = if ev.delayed() { metric_name(group) } else { "" };
            ev.sh
                .annos
                .borrow_mut()
                .monotonicity(name, span, ts, lo, hi, diff);
        }
    }
}

/// Sorts `buckets` by upper bound (stable) and sums the counts of equal
/// bounds into the first of them, in place.
fn sort_coalesce(buckets: &mut Vec<Bucket>) {
    // Already in order (as the range path gathers them, and as sorting
    // would leave them: a NaN bound is never in order here).
    if !buckets.is_sorted_by(|a, b| a.upper <= b.upper) {
        buckets.sort_by(|a, b| {
            a.upper
                .partial_cmp(&b.upper)
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    buckets.dedup_by(|next, kept| {
        let same = next.upper == kept.upper;
        if same {
            kept.count += next.count;
        }
        same
    });
}

fn almost_equal(a: f64, b: f64, eps: f64) -> bool {
    const MIN_NORMAL: f64 = f64::MIN_POSITIVE;
    if a.is_nan() && b.is_nan() || a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < eps * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < eps
}

fn ensure_monotonic(buckets: &mut [Bucket]) -> Option<(f64, f64, f64)> {
    let (mut lo, mut hi, mut diff) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    let mut forced = false;
    let first = buckets.first()?;
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, 1e-12) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            lo = lo.min(b.upper);
            hi = hi.max(b.upper);
            diff = diff.max(prev - curr);
            continue;
        }
        prev = curr;
    }
    forced.then_some((lo, hi, diff))
}

/// The `q` quantile of `buckets` (sorted and coalesced in place).
pub(super) fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> QuantileResult {
    let r = |value| QuantileResult {
        value,
        forced: None,
    };
    if q.is_nan() {
        return r(f64::NAN);
    }
    if q < 0.0 {
        return r(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return r(f64::INFINITY);
    }
    sort_coalesce(buckets);
    if !buckets.last().is_some_and(|b| b.upper == f64::INFINITY) {
        return r(f64::NAN);
    }
    let forced = ensure_monotonic(buckets);
    let res = |value| QuantileResult { value, forced };
    if buckets.len() < 2 {
        return res(f64::NAN);
    }
    let n = buckets.len();
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return res(f64::NAN);
    }
    let mut rank = q * observations;
    let b = buckets[..n - 1].partition_point(|x| x.count < rank);
    if b == n - 1 {
        return res(buckets[n - 2].upper);
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return res(buckets[0].upper);
    }
    let mut start = 0.0;
    let end = buckets[b].upper;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    res(start + (end - start) * (rank / count))
}

/// The fraction of the observations in `buckets` between `lower` and
/// `upper` (sorted and coalesced in place).
pub(super) fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    sort_coalesce(buckets);
    if !buckets.last().is_some_and(|b| b.upper == f64::INFINITY) {
        return f64::NAN;
    }
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].upper <= 0.0 {
        f64::NEG_INFINITY
    } else {
        0.0
    };
    for (i, b) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].upper;
        }
        let upper_bound = b.upper;
        let interp = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                b.count
            } else {
                rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The bound parser refuses surrounding white space and reads the
        /// named values without regard to case, as the lower-casing one it
        /// replaced did.
        #[test]
        fn parse_go_float_equals_lower_casing_first(
            text in "[ \t]?[+-]?([iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN]|[0-9]{0,3}(\\.[0-9]{0,2})?(e-?[0-9])?)[ \u{a0}]?",
        ) {
            let reference = |s: &str| -> Option<f64> {
                let t = s.trim();
                if t.is_empty() || t != s {
                    return None;
                }
                match t.to_ascii_lowercase().as_str() {
                    "+inf" | "inf" | "+infinity" | "infinity" => return Some(f64::INFINITY),
                    "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
                    "nan" => return Some(f64::NAN),
                    _ => {}
                }
                t.parse::<f64>().ok()
            };
            let bits = |v: Option<f64>| v.map(f64::to_bits);
            proptest::prop_assert_eq!(bits(parse_go_float(&text)), bits(reference(&text)));
        }

        /// Sorting and coalescing in place (skipping the sort for buckets
        /// already in order) gives what a stable sort followed by summing
        /// equal bounds into a new list gives, NaN and -0 bounds included.
        #[test]
        fn sort_coalesce_equals_sorting_and_summing(
            raw in proptest::collection::vec((0usize..6, -2i32..5), 0..12),
        ) {
            const BOUNDS: [f64; 6] = [0.5, 1.0, -0.0, 0.0, f64::NAN, f64::INFINITY];
            let buckets: Vec<Bucket> = raw
                .iter()
                .map(|&(b, c)| Bucket { upper: BOUNDS[b], count: f64::from(c) / 3.0 })
                .collect();
            let mut want = buckets.clone();
            want.sort_by(|a, b| a.upper.partial_cmp(&b.upper).unwrap_or(std::cmp::Ordering::Equal));
            let mut summed: Vec<Bucket> = Vec::new();
            for b in want {
                match summed.last_mut() {
                    Some(last) if last.upper == b.upper => last.count += b.count,
                    _ => summed.push(b),
                }
            }
            let mut got = buckets;
            sort_coalesce(&mut got);
            let bits = |v: &[Bucket]| -> Vec<(u64, u64)> {
                v.iter().map(|b| (b.upper.to_bits(), b.count.to_bits())).collect()
            };
            proptest::prop_assert_eq!(bits(&got), bits(&summed));
        }
    }
}
