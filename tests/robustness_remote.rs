//! A hostile remote-read endpoint (huge error pages, endless streams,
//! oversized frames, decompression bombs, chunks that decode to far more
//! than they weigh) gets a clear error naming the endpoint, never a panic, a
//! hang or unbounded memory; and the engine stays usable after each.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use promql_engine::Engine;
use promql_engine::model::{CounterResetHint, FloatHistogram, HPoint, Matcher};
use promql_engine::parser::parse;
use promql_engine::storage::chunk::{encode_float_histogram_chunk, encode_xor};
use promql_engine::storage::remote::frames::encode_frame;
use promql_engine::storage::remote::{RemoteReadStorage, ResponseType};
use promql_engine::storage::{SelectHints, Storage};

const STREAMED: &str = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// What the fake endpoint sends after the status line and headers.
#[derive(Clone)]
enum Body {
    Bytes(Vec<u8>),
    /// `chunk` again and again until the client hangs up.
    Endless(Vec<u8>),
}

/// Serves every request with `status`, `content_type` and `body`, closing
/// the connection after each.
fn serve(status: &'static str, content_type: &'static str, body: Body) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/read", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let body = body.clone();
            std::thread::spawn(move || {
                let _ = drain_request(&mut conn);
                let length = match &body {
                    Body::Bytes(b) => format!("Content-Length: {}\r\n", b.len()),
                    Body::Endless(_) => String::new(),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{length}Connection: close\r\n\r\n"
                );
                if conn.write_all(head.as_bytes()).is_err() {
                    return;
                }
                match body {
                    Body::Bytes(b) => {
                        let _ = conn.write_all(&b);
                    }
                    Body::Endless(chunk) => while conn.write_all(&chunk).is_ok() {},
                }
            });
        }
    });
    url
}

/// Reads a request's head and its `Content-Length` body.
fn drain_request(conn: &mut std::net::TcpStream) -> Option<()> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())?;
    while raw.len() < head_end + length {
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    Some(())
}

// Hand-written protobuf for the streamed messages.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes_field(tag: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(tag << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn varint_field(tag: u64, v: u64, out: &mut Vec<u8>) {
    varint(tag << 3, out);
    varint(v, out);
}

/// One `ChunkedReadResponse` frame: series `name` with one chunk.
fn chunk_frame(name: &str, encoding: u64, min_t: i64, max_t: i64, data: &[u8]) -> Vec<u8> {
    let mut label = Vec::new();
    bytes_field(1, b"__name__", &mut label);
    bytes_field(2, name.as_bytes(), &mut label);
    let mut chunk = Vec::new();
    varint_field(1, min_t as u64, &mut chunk);
    varint_field(2, max_t as u64, &mut chunk);
    varint_field(3, encoding, &mut chunk);
    bytes_field(4, data, &mut chunk);
    let mut series = Vec::new();
    bytes_field(1, &label, &mut series);
    bytes_field(2, &chunk, &mut series);
    let mut response = Vec::new();
    bytes_field(1, &series, &mut response);
    encode_frame(&response)
}

fn storage(url: &str, response_type: ResponseType) -> RemoteReadStorage {
    RemoteReadStorage::builder(url)
        .timeout(Duration::from_secs(20))
        .response_type(response_type)
        .max_frame_bytes(1 << 20)
        .max_response_bytes(4 << 20)
        .build()
        .unwrap()
}

/// Selects `{__name__=~".+"}` over all time and returns the error text;
/// checks it names the endpoint and came quickly.
fn select_error(storage: &RemoteReadStorage) -> String {
    let started = Instant::now();
    let result = storage.select(
        &[Matcher::new(promql_engine::model::MatchOp::Regex, "__name__", ".+").unwrap()],
        &SelectHints::window(i64::MIN, i64::MAX),
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let err = match result {
        Ok(series) => panic!("no error, {} series", series.len()),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(storage.url()), "{err}");
    // A query through the engine fails the same way, and the engine is
    // ready for the next query.
    let engine = Engine::default();
    let expr = parse("count({__name__=~\".+\"})").unwrap();
    assert!(engine.instant(storage, &expr, 0).is_err());
    let one = parse("1 + 1").unwrap();
    assert!(engine.instant(storage, &one, 0).is_ok());
    err
}

#[test]
fn a_huge_error_page_is_cut_to_its_first_kilobyte() {
    let page = format!("<html>upstream broke {}</html>", "x".repeat(4 << 20));
    let url = serve(
        "503 Service Unavailable",
        "text/html",
        Body::Bytes(page.into_bytes()),
    );
    let err = select_error(&storage(&url, ResponseType::Negotiate));
    assert!(
        err.contains("HTTP status 503: <html>upstream broke xxx"),
        "{err:.200}"
    );
    assert!(err.ends_with(" [truncated]"), "{}", &err[err.len() - 40..]);
    assert!(err.len() < 1300, "{}", err.len());
    // An endless error page too.
    let url = serve(
        "500 Internal Server Error",
        "text/plain",
        Body::Endless(vec![b'e'; 8192]),
    );
    let err = select_error(&storage(&url, ResponseType::Samples));
    assert!(err.contains("HTTP status 500: eee"), "{err:.200}");
}

#[test]
fn an_endless_stream_of_frames_stops_at_the_response_limit() {
    // Empty frames cost the server 5 bytes each and the client nothing to
    // decode: only the total limit stops them.
    let url = serve(
        "200 OK",
        STREAMED,
        Body::Endless(encode_frame(&[]).repeat(1000)),
    );
    let err = select_error(&storage(&url, ResponseType::StreamedXorChunks));
    assert!(
        err.contains("response is over the limit of 4194304 bytes at frame"),
        "{err}"
    );
    // Valid frames carrying data, endlessly.
    let points: Vec<promql_engine::model::FPoint> = (0..120)
        .map(|i| promql_engine::model::FPoint {
            t: i * 1000,
            v: 1.0,
        })
        .collect();
    let frame = chunk_frame("x", 1, 0, 119_000, &encode_xor(&points).unwrap());
    let url = serve("200 OK", STREAMED, Body::Endless(frame.repeat(100)));
    let err = select_error(&storage(&url, ResponseType::StreamedXorChunks));
    assert!(err.contains("response is over the limit"), "{err}");
}

#[test]
fn oversized_and_malformed_frames_are_refused_before_they_are_read() {
    // A length prefix claiming 2^60 bytes.
    let mut claim = Vec::new();
    varint(1 << 60, &mut claim);
    claim.extend_from_slice(&[0; 4]);
    let url = serve("200 OK", STREAMED, Body::Bytes(claim));
    let err = select_error(&storage(&url, ResponseType::StreamedXorChunks));
    assert!(err.contains("over the limit of 1048576 bytes"), "{err}");
    // An eleven-byte varint.
    let url = serve("200 OK", STREAMED, Body::Bytes(vec![0xff; 11]));
    let err = select_error(&storage(&url, ResponseType::StreamedXorChunks));
    assert!(err.contains("malformed length prefix"), "{err}");
    // A valid frame whose payload is not a ChunkedReadResponse.
    let url = serve("200 OK", STREAMED, Body::Bytes(encode_frame(&[0xff; 64])));
    let err = select_error(&storage(&url, ResponseType::StreamedXorChunks));
    assert!(err.contains("protobuf"), "{err}");
    // An XOR chunk of garbage.
    let frame = chunk_frame("g", 1, 0, 10, &[0xff, 0xff, 1, 2, 3]);
    let url = serve("200 OK", STREAMED, Body::Bytes(frame));
    let err = select_error(&storage(&url, ResponseType::StreamedXorChunks));
    assert!(err.contains("series g"), "{err}");
}

#[test]
fn a_snappy_bomb_is_refused_from_its_header() {
    // A snappy block announcing 4 GiB - 1 after a five-byte varint.
    let mut bomb = Vec::new();
    varint(u64::from(u32::MAX), &mut bomb);
    bomb.extend_from_slice(&[0; 16]);
    let url = serve("200 OK", "application/x-protobuf", Body::Bytes(bomb));
    let err = select_error(&storage(&url, ResponseType::Samples));
    assert!(err.contains("over the limit of 4194304 bytes"), "{err}");
    // A body larger than the limit.
    let url = serve(
        "200 OK",
        "application/x-protobuf",
        Body::Bytes(vec![0; 5 << 20]),
    );
    let err = select_error(&storage(&url, ResponseType::Samples));
    assert!(
        err.contains("SAMPLES response interrupted or incomplete"),
        "{err}"
    );
    // An unknown content type.
    let url = serve("200 OK", "text/plain", Body::Bytes(b"hello".to_vec()));
    let err = select_error(&storage(&url, ResponseType::Negotiate));
    assert!(
        err.contains("unsupported response content type \"text/plain\""),
        "{err}"
    );
}

#[test]
fn a_histogram_chunk_repeating_a_large_layout_is_refused_not_expanded() {
    // Found by the audit: 65,535 samples of 2,000 custom bounds each in a
    // ~40 KiB chunk decoded to 1 GiB before the decode budget.
    let h = Arc::new(FloatHistogram {
        schema: -53,
        sum: 1.0,
        custom_values: (0..2000).map(f64::from).collect(),
        counter_reset_hint: CounterResetHint::Unknown,
        ..Default::default()
    });
    let points: Vec<HPoint> = (0..65_535)
        .map(|t| HPoint {
            t,
            h: Arc::clone(&h),
        })
        .collect();
    let chunk = encode_float_histogram_chunk(&points, CounterResetHint::Unknown).unwrap();
    assert!(chunk.len() < 64 << 10, "{}", chunk.len());
    let frame = chunk_frame("bomb", 3, 0, 65_534, &chunk);
    let url = serve("200 OK", STREAMED, Body::Bytes(frame));
    let err = select_error(&storage(&url, ResponseType::StreamedXorChunks));
    assert!(err.contains("series bomb"), "{err}");
    assert!(err.contains("would decode to more than"), "{err}");
    // The same layout in a handful of samples is an ordinary answer.
    let chunk = encode_float_histogram_chunk(&points[..10], CounterResetHint::Unknown).unwrap();
    let frame = chunk_frame("fine", 3, 0, 9, &chunk);
    let url = serve("200 OK", STREAMED, Body::Bytes(frame));
    let fine = storage(&url, ResponseType::StreamedXorChunks);
    let got = fine
        .select(
            &[Matcher::equal("__name__", "fine")],
            &SelectHints::window(0, 100),
        )
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].histograms.len(), 10);
    assert_eq!(got[0].histograms[9].h.custom_values.len(), 2000);
}

#[test]
fn a_second_signal_stops_rules_run_stuck_in_a_remote_write_retry() {
    // The endpoint asks for 300 s between attempts: the first SIGINT waits
    // for the retries to finish (it flushes), the second exits at once.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let _ = drain_request(&mut conn);
            let _ = tx.send(());
            let _ = conn.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 300\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    // A rule with an output at any time (the demo data is from 2023).
    let dir = std::env::temp_dir().join(format!("promql-robustness-remote-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("one.yml");
    std::fs::write(
        &rules,
        "groups:\n- name: g\n  interval: 1h\n  rules:\n  - record: one\n    expr: vector(1)\n",
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_promql"))
        .args([
            "rules",
            "run",
            "--data",
            "testdata/demo/demo.om",
            "--remote-write",
            &url,
            &rules.to_string_lossy(),
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let signal = |name: &str| {
        let sent = std::process::Command::new("kill")
            .args([name, &pid])
            .status()
            .unwrap();
        assert!(sent.success());
    };
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the first remote-write request");
    std::thread::sleep(Duration::from_millis(300));
    signal("-INT");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited on the first signal"
    );
    let started = Instant::now();
    signal("-INT");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("still running 10 s after the second SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
}
