//! Quick linearity check without criterion: times parsing (and, separately,
//! type checking, printing and dropping) of 16 KiB to 4 MiB expressions.
//!
//! `cargo run --release --example scale` in `benches/peer`.

use std::time::{Duration, Instant};

use promql_engine::parser::check::check;
use promql_engine::{ParseOptions, format, parse_with};
use promql_parse_bench_peer::corpus;

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let options = ParseOptions::all();
    println!("size      parse ms   ns/byte   check ms  display ms  format ms    drop ms");
    for kib in [16usize, 64, 256, 1024, 4096] {
        let src = corpus::sized_expression(kib * 1024);
        let (expr, parse) = timed(|| parse_with(&src, &options).expect("parses"));
        let ((), check) = timed(|| check(&expr, &src).expect("checks"));
        let (text, display) = timed(|| expr.to_string());
        let (_, pretty) = timed(|| format(&expr));
        let ((), drop_time) = timed(|| drop(expr));
        assert_eq!(text.len(), src.len());
        println!(
            "{kib:5} KiB {:9.2} {:9.1} {:10.2} {:11.2} {:10.2} {:10.2}",
            ms(parse),
            parse.as_nanos() as f64 / src.len() as f64,
            ms(check),
            ms(display),
            ms(pretty),
            ms(drop_time)
        );
    }
}
