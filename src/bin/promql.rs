//! The `promql` command-line tool. (Being written.)

fn main() {
    eprintln!("promql: not implemented yet");
    std::process::exit(2);
}
