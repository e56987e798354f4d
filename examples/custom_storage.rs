//! Implementing [`Storage`] for your own data and querying it with PromQL.
//!
//! Here the "database" is a list of sensor readings held in a `Vec`; a real
//! service would translate the matchers into its own query language.
//!
//! Run: `cargo run --example custom_storage`

use std::borrow::Cow;

use promql_engine::model::{FPoint, Labels, Matcher, Value};
use promql_engine::storage::{SelectHints, SelectedSeries, Storage, StorageError};
use promql_engine::{Engine, EngineOptions, parse};

/// One reading of a temperature sensor.
struct Reading {
    room: &'static str,
    at_ms: i64,
    celsius: f64,
}

/// Readings kept in insertion (time) order.
struct SensorLog {
    readings: Vec<Reading>,
}

impl Storage for SensorLog {
    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<SelectedSeries<'_>>, StorageError> {
        let mut rooms: Vec<&str> = self.readings.iter().map(|r| r.room).collect();
        rooms.sort();
        rooms.dedup();
        let mut out = Vec::new();
        for room in rooms {
            let labels =
                Labels::from_pairs(&[("__name__", "room_temperature_celsius"), ("room", room)]);
            if !matchers.iter().all(|m| m.matches_labels(&labels)) {
                continue;
            }
            let floats: Vec<FPoint> = self
                .readings
                .iter()
                .filter(|r| r.room == room && r.at_ms >= hints.start && r.at_ms <= hints.end)
                .map(|r| FPoint {
                    t: r.at_ms,
                    v: r.celsius,
                })
                .collect();
            out.push(SelectedSeries {
                labels,
                floats: Cow::Owned(floats),
                histograms: Cow::Borrowed(&[]),
            });
        }
        Ok(out)
    }
}

fn main() {
    let mut readings = Vec::new();
    for minute in 0..30 {
        let at_ms = minute * 60_000;
        readings.push(Reading {
            room: "kitchen",
            at_ms,
            celsius: 20.0 + minute as f64 * 0.1,
        });
        readings.push(Reading {
            room: "office",
            at_ms,
            celsius: 22.0 - minute as f64 * 0.05,
        });
    }
    let storage = SensorLog { readings };
    let engine = Engine::new(EngineOptions::default());

    let expr = parse("max_over_time(room_temperature_celsius[10m]) > 21").expect("valid query");
    match engine.instant(&storage, &expr, 29 * 60_000) {
        Ok(result) => {
            if let Value::Vector(samples) = result.value {
                for s in samples {
                    println!("{} => {:?}", s.labels, s.value);
                }
            }
        }
        Err(e) => eprintln!("query failed: {e}"),
    }
}
