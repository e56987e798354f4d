//! Writes the mixed benchmark data set (counters, gauges, `job_info`,
//! classic histogram buckets; see `benches/data/mod.rs`) as OpenMetrics
//! text, for loading into Prometheus with
//! `promtool tsdb create-blocks-from openmetrics`.
//!
//! Usage: `cargo run --release --example bench_data -- SERIES HOURS > data.om`

#[path = "../benches/data/mod.rs"]
mod data;

use std::io::{BufWriter, Write};

use promql_engine::model::Labels;

/// Writes one sample line: `name{labels} value seconds.millis`.
fn line(out: &mut impl Write, labels: &Labels, t: i64, v: f64) -> std::io::Result<()> {
    let name = labels.metric_name().unwrap_or_default();
    write!(out, "{name}{{")?;
    let mut first = true;
    for l in labels.iter().filter(|l| &*l.name != "__name__") {
        if !first {
            write!(out, ",")?;
        }
        first = false;
        write!(out, "{}=\"{}\"", l.name, l.value)?;
    }
    writeln!(out, "}} {v} {}.{:03}", t / 1000, t % 1000)
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let series: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let hours: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let set = data::Mixed::new(series, hours);
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    let mut family = String::new();
    let mut result = Ok(());
    set.generate(|labels, t, v| {
        if result.is_err() {
            return;
        }
        let name = labels.metric_name().unwrap_or_default();
        if name != family {
            family = name.to_string();
            let header = match name {
                "x_total" => "# TYPE x counter\n".to_string(),
                other => format!("# TYPE {other} gauge\n"),
            };
            result = out.write_all(header.as_bytes());
        }
        if result.is_ok() {
            result = line(&mut out, labels, t, v);
        }
    });
    result?;
    writeln!(out, "# EOF")?;
    out.flush()
}
