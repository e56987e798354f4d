//! Runs `promtool test rules` on the given files (development helper).
fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let report =
        promql_engine::rules::test_files(&files, &promql_engine::rules::TestOptions::default());
    print!("{}", report.combined());
    std::process::exit(report.exit_code);
}
