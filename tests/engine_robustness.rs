//! Every expression of the upstream test scripts, evaluated over unusual
//! time frames (negative times, tiny and huge steps, far-away instants) and
//! with both name-removal modes: evaluation may fail, but must not panic.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use promql_engine::engine::{Engine, EngineOptions};
use promql_engine::parser::{ParseOptions, parse_with};
use promql_engine::promqltest::{Command, Script, load_into};
use promql_engine::storage::MemoryStorage;

fn scripts() -> Vec<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    let shared = std::env::var_os("PROMQLTEST_SHARED_DIR")
        .map_or_else(|| root.join("../shared/promqltest"), PathBuf::from);
    for dir in [root.join("testdata/promqltest"), shared] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            out.extend(
                entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "test")),
            );
        }
    }
    out.sort();
    out
}

#[test]
fn no_expression_panics_on_odd_time_frames() {
    let mut delayed = EngineOptions::upstream_tests();
    delayed.max_samples = 200_000;
    let mut immediate = delayed.clone();
    immediate.delayed_name_removal = false;
    let engines = [Engine::new(delayed), Engine::new(immediate)];
    let frames: [(i64, i64, i64); 4] = [
        (-600_000, 600_000, 7_000),
        (0, 300, 1),
        (3_600_000, 3_600_000 + 10 * 86_400_000, 86_400_000),
        (i64::MIN / 4, i64::MIN / 4 + 10, 5),
    ];
    let instants = [-1, 299_999, i64::MAX / 4];
    let mut evaluated = 0usize;
    for path in scripts() {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(script) = Script::parse(&text) else {
            continue;
        };
        let mut storage = MemoryStorage::new();
        for cmd in &script.commands {
            match cmd {
                Command::Clear { .. } => storage.clear(),
                Command::Load(load) => {
                    let _ = load_into(&mut storage, load);
                }
                Command::Eval(e) => {
                    let Ok(expr) = parse_with(&e.expr, &ParseOptions::all()) else {
                        continue;
                    };
                    for engine in &engines {
                        let outcome = catch_unwind(AssertUnwindSafe(|| {
                            for t in instants {
                                let _ = engine.instant(&storage, &expr, t);
                            }
                            for (start, end, step) in frames {
                                let _ = engine.range(&storage, &expr, start, end, step);
                            }
                        }));
                        assert!(
                            outcome.is_ok(),
                            "{}:{} panicked: {}",
                            path.display(),
                            e.line,
                            e.expr
                        );
                        evaluated += 1;
                    }
                }
            }
        }
    }
    // Without the upstream scripts only this crate's own scripts run.
    assert!(evaluated > 0);
    println!("{evaluated} expression evaluations survived");
}
