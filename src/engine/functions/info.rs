//! `info(v, {data label selector})`: enriches series with the labels of
//! matching info metrics (default `target_info`), joined on `instance` and
//! `job`.

use std::collections::{HashMap, HashSet};

use crate::engine::EvalError;
use crate::engine::eval::Ev;
use crate::engine::plan::{CallN, Node, Sel};
use crate::engine::selector::lookup;
use crate::engine::types::{ESample, ESeries, Matrix, prom_labels_string};
use crate::model::{Labels, METRIC_NAME, MatchOp, Matcher};
use crate::storage::SelectHints;

const IDENTIFYING: [&str; 2] = ["instance", "job"];

fn first_selector(n: &Node) -> Option<(i64, Option<i64>)> {
    match n {
        Node::Selector(s) => Some((s.offset, s.at)),
        Node::Matrix(m) => Some((m.sel.offset, m.sel.at)),
        Node::Subquery(s) => first_selector(&s.expr).map(|(o, at)| match at {
            Some(t) => (o, Some(t)),
            None => (o + s.offset, s.at),
        }),
        Node::Call(c) => c.args.iter().find_map(first_selector),
        Node::Agg(a) => a
            .param
            .as_ref()
            .and_then(first_selector)
            .or_else(|| first_selector(&a.expr)),
        Node::Binary(b) => first_selector(&b.lhs).or_else(|| first_selector(&b.rhs)),
        Node::Neg(e, _) => first_selector(e),
        Node::Number(..) | Node::Str(..) => None,
    }
}

fn effective_name_matchers(ms: &[Matcher]) -> Result<Vec<Matcher>, EvalError> {
    if ms
        .iter()
        .any(|m| m.op == MatchOp::Equal || m.op == MatchOp::Regex)
    {
        return Ok(ms.to_vec());
    }
    if !ms.is_empty() {
        let mut out = vec![regex_matcher(METRIC_NAME, ".+_info")?];
        out.extend(ms.iter().cloned());
        return Ok(out);
    }
    Ok(vec![Matcher::equal(METRIC_NAME, "target_info")])
}

fn regex_matcher(name: &str, re: &str) -> Result<Matcher, EvalError> {
    Matcher::new(MatchOp::Regex, name, re).map_err(|e| EvalError::Execution(e.message))
}

/// Evaluates `info()`.
pub(crate) fn eval_info(ev: &Ev<'_, '_>, c: &CallN) -> Result<Matrix, EvalError> {
    let (offset, at) = first_selector(&c.args[0]).unwrap_or((0, None));
    let mat = ev.eval_matrix(&c.args[0])?;
    let mut data_matchers: Vec<Matcher> = Vec::new();
    let mut name_matchers: Vec<Matcher> = Vec::new();
    match c.args.get(1) {
        Some(Node::Selector(sel)) => {
            for m in &sel.matchers {
                if m.name == METRIC_NAME {
                    name_matchers.push(m.clone());
                } else {
                    data_matchers.push(m.clone());
                }
            }
        }
        _ => name_matchers.push(Matcher::equal(METRIC_NAME, "target_info")),
    }
    let effective = effective_name_matchers(&name_matchers)?;
    let ignored: HashSet<Labels> = mat
        .iter()
        .filter(|s| {
            let n = s.labels.metric_name().unwrap_or("");
            effective.iter().all(|m| m.matches(n))
        })
        .map(|s| s.labels.clone())
        .collect();
    let mut id_values: HashMap<&str, HashSet<String>> = HashMap::new();
    for s in mat.iter().filter(|s| !ignored.contains(&s.labels)) {
        for l in IDENTIFYING {
            if let Some(v) = s.labels.get(l) {
                id_values.entry(l).or_default().insert(v.to_string());
            }
        }
    }
    let data_names: HashSet<String> = data_matchers.iter().map(|m| m.name.clone()).collect();
    let info_mat: Matrix = if id_values.is_empty() {
        Vec::new()
    } else {
        let mut matchers = Vec::new();
        for (name, vals) in &id_values {
            let mut vals: Vec<&String> = vals.iter().collect();
            vals.sort();
            let re = vals
                .iter()
                .map(|v| regex::escape(v))
                .collect::<Vec<_>>()
                .join("|");
            matchers.push(regex_matcher(name, &re)?);
        }
        matchers.extend(data_matchers.iter().cloned());
        matchers.extend(effective_name_matchers(&name_matchers)?);
        let sel = Sel {
            matchers,
            offset,
            at,
            anchored: false,
            smoothed: false,
            stats_only: false,
            span: c.span,
        };
        fetch_info_series(ev, &sel)?
    };
    combine(ev, mat, info_mat, &ignored, &data_matchers, &data_names)
}

/// Info series evaluated per step, the value being the sample's own timestamp.
fn fetch_info_series(ev: &Ev<'_, '_>, sel: &Sel) -> Result<Matrix, EvalError> {
    let (start, end) = match sel.at {
        Some(t) => (t, t),
        None => (ev.start, ev.end),
    };
    let mut hints = SelectHints::window(
        start
            .saturating_sub(ev.lookback() - 1)
            .saturating_sub(sel.offset),
        end.saturating_sub(sel.offset),
    );
    hints.step = ev.interval;
    hints.func = Some("info");
    let series = ev.sh.storage.select(&sel.matchers, &hints)?;
    let mut out = Vec::new();
    for s in &series {
        let mut ss = ESeries::new(s.labels.clone(), false);
        for ts in ev.steps() {
            ev.tick()?;
            let r = sel.at.unwrap_or(ts).saturating_sub(sel.offset);
            if let Some((t, _, h)) = lookup(&s.floats, &s.histograms, r, ev.lookback()) {
                if h.is_some() {
                    return Err(EvalError::Execution(format!(
                        "this should be an info metric, with float samples: {}",
                        prom_labels_string(&s.labels)
                    )));
                }
                ss.push(ts, t as f64, None);
            }
        }
        if ss.len() > 0 {
            out.push(ss);
        }
    }
    Ok(out)
}

fn sig(name: &str, l: &Labels) -> Labels {
    l.keep_only(&IDENTIFYING)
        .builder()
        .set(METRIC_NAME, name)
        .build()
}

fn combine(
    ev: &Ev<'_, '_>,
    mat: Matrix,
    info: Matrix,
    ignored: &HashSet<Labels>,
    data_matchers: &[Matcher],
    data_names: &HashSet<String>,
) -> Result<Matrix, EvalError> {
    let mut info_names: Vec<String> = info
        .iter()
        .filter_map(|s| s.labels.metric_name().map(str::to_string))
        .collect();
    info_names.sort();
    info_names.dedup();
    let info_sigs: Vec<Labels> = info
        .iter()
        .map(|s| sig(s.labels.metric_name().unwrap_or(""), &s.labels))
        .collect();
    let all_match_empty = data_matchers.iter().all(|m| m.matches(""));
    ev.range_eval(vec![mat, info], |v, idx, _| {
        let mut by_sig: HashMap<&Labels, &ESample> = HashMap::new();
        for (s, &i) in v[1].iter().zip(&idx[1]) {
            let key = &info_sigs[i];
            match by_sig.get(key) {
                Some(existing) => {
                    let (et, nt) = (existing.f as i64, s.f as i64);
                    if et < nt {
                        by_sig.insert(key, s);
                    } else if et == nt {
                        return Err(EvalError::Execution(format!(
                            "found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                            prom_labels_string(&existing.labels),
                            et,
                            prom_labels_string(&s.labels),
                            nt
                        )));
                    }
                }
                None => {
                    by_sig.insert(key, s);
                }
            }
        }
        let mut out = Vec::new();
        for bs in &v[0] {
            if ignored.contains(&bs.labels) {
                out.push(bs.clone());
                continue;
            }
            let mut added: Vec<(String, String)> = Vec::new();
            let mut seen_any = false;
            for name in &info_names {
                let key = sig(name, &bs.labels);
                let Some(is) = by_sig.get(&key) else {
                    continue;
                };
                seen_any = true;
                for l in is.labels.iter() {
                    if &*l.name == METRIC_NAME {
                        continue;
                    }
                    if !data_names.is_empty() && !data_names.contains(&*l.name) {
                        continue;
                    }
                    if let Some((_, v)) = added.iter().find(|(n, _)| n == &*l.name) {
                        if v != &*l.value {
                            return Err(EvalError::Execution(format!(
                                "conflicting label: {}",
                                l.name
                            )));
                        }
                        continue;
                    }
                    if bs.labels.contains(&l.name) {
                        continue;
                    }
                    added.push((l.name.to_string(), l.value.to_string()));
                }
            }
            if !seen_any && !all_match_empty {
                continue;
            }
            let mut b = bs.labels.builder();
            for (n, val) in added {
                b.set_mut(n, val);
            }
            let mut s = bs.clone();
            s.labels = b.build();
            out.push(s);
        }
        Ok(out)
    })
}
