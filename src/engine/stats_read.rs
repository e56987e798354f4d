//! Reading histograms as count and sum only, the way Prometheus' histogram
//! stats iterator does below `histogram_count`, `histogram_sum` and
//! `histogram_avg`.
//!
//! The stats iterator resolves `Unknown` counter-reset hints by comparing
//! each histogram it reads with the previous one it read, and forgets the
//! previous one whenever the evaluation seeks ahead (skipping samples no
//! step needs). Which samples are read and where the seeks happen follows
//! from how Prometheus' buffered iterators walk a series: every evaluation
//! seeks to a target time `t` with a look-behind `delta`, jumping ahead when
//! `t - delta` lies beyond the sample the iterator stands on, and otherwise
//! stepping sample by sample (reading each) up to `t`.

use std::borrow::Cow;
use std::sync::Arc;

use super::eval::Ev;
use super::plan::Sel;
use crate::model::HPoint;
use crate::model::histogram::StatsTracker;
use crate::storage::SelectedSeries;

/// One evaluation's seek: the target time and how far back the iterator
/// keeps samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seek {
    pub target: i64,
    pub delta: i64,
}

/// What the iterator does with each sample of a series.
#[derive(Debug, Default, PartialEq, Eq)]
struct ReadPlan {
    /// The sample is read (in order).
    read: Vec<bool>,
    /// The iterator jumped ahead to this sample (the stats iterator forgets
    /// the previous histogram before it).
    jump_to: Vec<bool>,
}

/// Walks a series with sample times `times` (sorted) through `seeks`.
fn plan_reads(times: &[i64], seeks: &[Seek]) -> ReadPlan {
    let n = times.len();
    let mut plan = ReadPlan {
        read: vec![false; n],
        jump_to: vec![false; n],
    };
    if n == 0 {
        return plan;
    }
    let mut pos = 0usize;
    // A fresh iterator stands before all samples: the first seek jumps.
    let mut last_time = i64::MIN;
    'seeks: for s in seeks {
        let from = s.target.saturating_sub(s.delta);
        if from > last_time {
            let p = times.partition_point(|&t| t < from).max(pos);
            if p >= n {
                break;
            }
            plan.jump_to[p] = true;
            pos = p;
            last_time = times[p];
        }
        while last_time < s.target {
            plan.read[pos] = true;
            pos += 1;
            if pos >= n {
                break 'seeks;
            }
            last_time = times[pos];
        }
        if last_time == s.target {
            plan.read[pos] = true;
        }
    }
    plan
}

/// Replaces every histogram by its count/sum view; histograms the
/// evaluation reads get their counter-reset hints resolved as the stats
/// iterator would.
pub(crate) fn read_stats_only(series: &mut [SelectedSeries<'_>], seeks: &[Seek]) {
    for s in series {
        if s.histograms.is_empty() {
            continue;
        }
        // All samples in time order: (time, histogram index or None).
        let mut merged: Vec<(i64, Option<usize>)> =
            Vec::with_capacity(s.floats.len() + s.histograms.len());
        merged.extend(s.floats.iter().map(|p| (p.t, None)));
        merged.extend(s.histograms.iter().enumerate().map(|(i, p)| (p.t, Some(i))));
        merged.sort_by_key(|&(t, h)| (t, h.is_some()));
        let times: Vec<i64> = merged.iter().map(|m| m.0).collect();
        let plan = plan_reads(&times, seeks);
        let mut tracker = StatsTracker::new();
        let mut reduced: Vec<HPoint> = s
            .histograms
            .iter()
            .map(|p| HPoint {
                t: p.t,
                h: Arc::new(p.h.stats_only()),
            })
            .collect();
        for (k, &(_, h)) in merged.iter().enumerate() {
            if plan.jump_to[k] {
                tracker.forget();
            }
            if let Some(i) = h
                && plan.read[k]
                && let (Some(src), Some(dst)) = (s.histograms.get(i), reduced.get_mut(i))
            {
                dst.h = Arc::new(tracker.next(&src.h));
            }
        }
        s.histograms = Cow::Owned(reduced);
    }
}

impl Ev<'_, '_> {
    /// The seeks of an instant vector selector over the evaluator's steps.
    pub fn instant_seeks(&self, sel: &Sel) -> Vec<Seek> {
        let lb = self.lookback();
        let span = self.end.saturating_sub(self.start);
        self.steps()
            .map(|ts| {
                let r = sel.at.unwrap_or(ts).saturating_sub(sel.offset);
                if sel.smoothed {
                    Seek {
                        target: r.saturating_add(lb),
                        delta: span.saturating_add(2 * lb),
                    }
                } else {
                    Seek {
                        target: r,
                        delta: lb - 1,
                    }
                }
            })
            .collect()
    }

    /// The seeks of a range selector over the evaluator's steps: the whole
    /// buffer on the first step, at most one step's worth afterwards.
    pub fn range_seeks(&self, sel: &Sel, range: i64) -> Vec<Seek> {
        let lb = self.lookback();
        let buffer = match (sel.anchored, sel.smoothed) {
            (true, _) => range.saturating_add(lb),
            (_, true) => range.saturating_add(2 * lb),
            _ => range,
        };
        let per_step = buffer.min(self.interval);
        self.steps()
            .enumerate()
            .map(|(i, ts)| {
                let mut target = sel.at.unwrap_or(ts).saturating_sub(sel.offset);
                if sel.smoothed {
                    target = target.saturating_add(lb);
                }
                Seek {
                    target,
                    delta: if i == 0 { buffer } else { per_step },
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeks(targets: &[i64], delta: i64) -> Vec<Seek> {
        targets
            .iter()
            .map(|&target| Seek { target, delta })
            .collect()
    }

    #[test]
    fn dense_steps_read_everything_once_in_order() {
        let plan = plan_reads(&[0, 10, 20, 30], &seeks(&[0, 10, 20, 30], 15));
        assert_eq!(plan.read, vec![true; 4]);
        assert_eq!(plan.jump_to, vec![true, false, false, false]);
    }

    #[test]
    fn sparse_steps_skip_samples_and_jump() {
        // Steps every 100 with a look-behind of 15: the samples at 30 and 60
        // lie in no window and are never read.
        let plan = plan_reads(&[0, 30, 60, 95, 100], &seeks(&[0, 100], 15));
        assert_eq!(plan.read, vec![true, false, false, true, true]);
        assert_eq!(plan.jump_to, vec![true, false, false, true, false]);
    }

    #[test]
    fn seeking_past_the_end_reads_nothing_more() {
        let plan = plan_reads(&[0, 10], &seeks(&[0, 500], 15));
        assert_eq!(plan.read, vec![true, false]);
        assert_eq!(plan.jump_to, vec![true, false]);
    }
}
