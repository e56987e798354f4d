//! Writes the benchmark data set as OpenMetrics text, for loading into
//! Prometheus with `promtool tsdb create-blocks-from openmetrics`.
//!
//! Usage: `cargo run --release --example bench_data -- SERIES HOURS > data.om`

#[path = "../benches/data/mod.rs"]
mod data;

use std::io::{BufWriter, Write};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let series: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let hours: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(2);
    let out = std::io::stdout();
    let mut out = BufWriter::new(out.lock());
    writeln!(out, "# HELP x Benchmark counter.")?;
    writeln!(out, "# TYPE x counter")?;
    for i in 0..series {
        let labels = data::series_labels(i);
        let job = labels.get("job").unwrap_or_default();
        let instance = labels.get("instance").unwrap_or_default();
        for k in 0..data::points(hours) {
            let t = data::timestamp(k);
            writeln!(
                out,
                "x_total{{job=\"{job}\",instance=\"{instance}\"}} {} {}.{:03}",
                data::counter_value(i, k),
                t / 1000,
                t % 1000
            )?;
        }
    }
    writeln!(out, "# EOF")?;
    out.flush()
}
