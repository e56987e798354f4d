//! `label_replace` and `label_join`: they change series labels only.

use crate::engine::EvalError;
use crate::engine::eval::{Ev, merge_same_labelsets};
use crate::engine::plan::{CallN, Node};
use crate::engine::types::Matrix;
use crate::model::METRIC_NAME;

fn string_arg(c: &CallN, i: usize) -> Result<&str, EvalError> {
    match c.args.get(i) {
        Some(Node::Str(s, _)) => Ok(s),
        _ => Err(EvalError::Execution(format!(
            "{}: argument {} must be a string",
            c.func.name,
            i + 1
        ))),
    }
}

fn valid_label_name(s: &str) -> bool {
    !s.is_empty()
}

/// Longest label value `label_replace` and `label_join` may build, so that a
/// small query cannot ask for gigabytes (`label_join` with a long separator
/// and many sources grows quadratically with the query's length).
pub(crate) const MAX_BUILT_LABEL_BYTES: usize = 16 << 20;

fn label_too_long(func: &str, len: usize) -> EvalError {
    EvalError::Execution(format!(
        "{func}(): resulting label value would be {len} bytes, more than the limit of {MAX_BUILT_LABEL_BYTES}"
    ))
}

/// `label_replace(v, dst, replacement, src, regex)`.
pub(crate) fn label_replace(ev: &Ev<'_, '_>, c: &CallN) -> Result<Matrix, EvalError> {
    let dst = string_arg(c, 1)?;
    let repl = string_arg(c, 2)?;
    let src = string_arg(c, 3)?;
    let re_src = string_arg(c, 4)?;
    let re = crate::model::matcher::compile_anchored(re_src).map_err(|_| {
        EvalError::Execution(format!(
            "invalid regular expression in label_replace(): {re_src}"
        ))
    })?;
    if !valid_label_name(dst) {
        return Err(EvalError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut mat = ev.eval_matrix(&c.args[0])?;
    for s in &mut mat {
        let value = s.labels.get(src).unwrap_or("");
        if let Some(caps) = re.captures(value) {
            // Each `$` can expand to at most the whole source value.
            let bound = repl
                .len()
                .saturating_add(repl.matches('$').count().saturating_mul(value.len()));
            if bound > MAX_BUILT_LABEL_BYTES {
                return Err(label_too_long("label_replace", bound));
            }
            let mut res = String::new();
            caps.expand(repl, &mut res);
            s.labels = s.labels.builder().set(dst, res).build();
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
    }
    merge_same_labelsets(mat)
}

/// `label_join(v, dst, separator, src...)`.
pub(crate) fn label_join(ev: &Ev<'_, '_>, c: &CallN) -> Result<Matrix, EvalError> {
    let dst = string_arg(c, 1)?;
    let sep = string_arg(c, 2)?;
    let mut srcs = Vec::new();
    for i in 3..c.args.len() {
        let s = string_arg(c, i)?;
        if !valid_label_name(s) {
            return Err(EvalError::Execution(format!(
                "invalid source label name in label_join(): {s}"
            )));
        }
        srcs.push(s);
    }
    if !valid_label_name(dst) {
        return Err(EvalError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut mat = ev.eval_matrix(&c.args[0])?;
    for s in &mut mat {
        let joined: Vec<&str> = srcs.iter().map(|n| s.labels.get(n).unwrap_or("")).collect();
        let len = joined.iter().map(|v| v.len()).sum::<usize>()
            + sep.len().saturating_mul(joined.len().saturating_sub(1));
        if len > MAX_BUILT_LABEL_BYTES {
            return Err(label_too_long("label_join", len));
        }
        let value = joined.join(sep);
        s.labels = s.labels.builder().set(dst, value).build();
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
    }
    merge_same_labelsets(mat)
}
