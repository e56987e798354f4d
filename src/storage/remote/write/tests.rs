//! Encoding, batching and retries of the remote-write client, against a
//! scripted fake server on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;

use super::super::proto as wire;
use super::proto::WriteRequest;
use super::*;
use crate::model::{BucketSpan, CounterResetHint, stale_nan};

/// One request as the fake server saw it: head text and decompressed body.
struct Seen {
    head: String,
    request: WriteRequest,
}

/// A server answering each request (one per connection) with the next
/// scripted response, then `204 No Content` once the script is used up.
struct FakeServer {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl FakeServer {
    fn start(script: Vec<String>) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let Some((head, body)) = read_request(&mut conn) else {
                    continue;
                };
                let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                let request = WriteRequest::decode(raw.as_slice()).unwrap();
                log.lock().unwrap().push(Seen { head, request });
                let response = script
                    .next()
                    .unwrap_or_else(|| answer("204 No Content", "", ""));
                let _ = conn.write_all(response.as_bytes());
            }
        });
        FakeServer { url, seen }
    }

    fn requests(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

/// One scripted answer: status line, extra header lines, body.
fn answer(status: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{extra_headers}Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn read_request(conn: &mut std::net::TcpStream) -> Option<(String, Vec<u8>)> {
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
    let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
    let length: usize = header(&head, "content-length")?.parse().ok()?;
    while raw.len() < head_end + length {
        let n = conn.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    Some((head, raw[head_end..head_end + length].to_vec()))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(4),
        max_attempts,
    }
}

fn up(job: &str) -> Labels {
    Labels::from_pairs(&[("__name__", "up"), ("job", job)])
}

#[test]
fn request_bytes_match_the_protobuf_layout() {
    let mut batch = Batch::default();
    batch.push_sample(&Labels::from_pairs(&[("a", "b")]), 2, 1.0);
    let body = batch.encode().unwrap();
    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    #[rustfmt::skip]
    let want: Vec<u8> = vec![
        0x0a, 21,                                  // WriteRequest.timeseries, 21 bytes
          0x0a, 6,                                 //   TimeSeries.labels, 6 bytes
            0x0a, 1, b'a', 0x12, 1, b'b',          //     name "a", value "b"
          0x12, 11,                                //   TimeSeries.samples, 11 bytes
            0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f,    //     value 1.0 (fixed64)
            0x10, 2,                               //     timestamp 2 (varint)
    ];
    assert_eq!(raw, want);
}

#[test]
fn stale_markers_keep_their_nan_bits() {
    let mut batch = Batch::default();
    batch.push_sample(&up("a"), 1000, stale_nan());
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&batch.encode().unwrap())
        .unwrap();
    let stale_bytes = 0x7ff0_0000_0000_0002u64.to_le_bytes();
    assert!(raw.windows(8).any(|w| w == stale_bytes), "{raw:02x?}");
    let decoded = WriteRequest::decode(raw.as_slice()).unwrap();
    let v = decoded.timeseries[0].samples[0].value;
    assert_eq!(v.to_bits(), stale_nan().to_bits());
}

#[test]
fn samples_are_grouped_per_series_in_append_order() {
    let mut batch = Batch::default();
    batch.push_sample(&up("a"), 1, 1.0);
    batch.push_sample(&up("b"), 1, 2.0);
    batch.push_sample(&up("a"), 2, 3.0);
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&batch.encode().unwrap())
        .unwrap();
    let decoded = WriteRequest::decode(raw.as_slice()).unwrap();
    let summary: Vec<(String, Vec<(i64, f64)>)> = decoded
        .timeseries
        .iter()
        .map(|ts| {
            let names: Vec<String> = ts
                .labels
                .iter()
                .map(|l| format!("{}={}", l.name, l.value))
                .collect();
            (
                names.join(","),
                ts.samples.iter().map(|s| (s.timestamp, s.value)).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("__name__=up,job=a".to_string(), vec![(1, 1.0), (2, 3.0)]),
            ("__name__=up,job=b".to_string(), vec![(1, 2.0)]),
        ]
    );
}

#[test]
fn float_histograms_round_trip_through_the_reader() {
    let h = FloatHistogram {
        counter_reset_hint: CounterResetHint::NotCounterReset,
        schema: 1,
        zero_threshold: 0.001,
        zero_count: 2.5,
        count: 12.5,
        sum: 33.25,
        positive_spans: vec![
            BucketSpan {
                offset: -1,
                length: 2,
            },
            BucketSpan {
                offset: 3,
                length: 1,
            },
        ],
        positive_buckets: vec![1.0, 2.5, 4.0],
        negative_spans: vec![BucketSpan {
            offset: 0,
            length: 1,
        }],
        negative_buckets: vec![2.5],
        custom_values: vec![],
    };
    let mut batch = Batch::default();
    batch.push_histogram(&up("h"), 5000, &h, HistogramEncoding::Float);
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&batch.encode().unwrap())
        .unwrap();
    let decoded = WriteRequest::decode(raw.as_slice()).unwrap();
    let ph: &wire::Histogram = &decoded.timeseries[0].histograms[0];
    assert_eq!(ph.timestamp, 5000);
    assert_eq!((ph.count_int, ph.count_float), (None, Some(12.5)));
    assert_eq!(ph.reset_hint, 2);
    assert!(ph.positive_deltas.is_empty() && ph.negative_deltas.is_empty());
    let back = super::super::histogram::to_float_histogram(ph);
    assert_eq!(back, h);
}

#[test]
fn full_batches_are_sent_while_appending_and_the_rest_on_flush() {
    let server = FakeServer::start(vec![]);
    let client = RemoteWriteClient::builder(&server.url)
        .max_samples_per_send(2)
        .build()
        .unwrap();
    let mut appender = client.appender();
    for i in 0..5 {
        appender.append(&up("a"), i * 1000, i as f64).unwrap();
    }
    assert_eq!(server.requests(), 2);
    assert_eq!(appender.pending(), 1);
    let stats = appender.flush().unwrap();
    assert_eq!(appender.pending(), 0);
    assert_eq!(
        (stats.requests, stats.samples_sent, stats.retries),
        (3, 5, 0)
    );
    let seen = server.seen.lock().unwrap();
    let sizes: Vec<usize> = seen
        .iter()
        .map(|s| s.request.timeseries.iter().map(|t| t.samples.len()).sum())
        .collect();
    assert_eq!(sizes, vec![2, 2, 1]);
    let times: Vec<i64> = seen
        .iter()
        .flat_map(|s| {
            s.request
                .timeseries
                .iter()
                .flat_map(|t| t.samples.iter().map(|p| p.timestamp))
        })
        .collect();
    assert_eq!(times, vec![0, 1000, 2000, 3000, 4000]);
    // Flushing again with nothing pending sends nothing.
    drop(seen);
    assert_eq!(appender.flush().unwrap().requests, 3);
    assert_eq!(server.requests(), 3);
}

#[test]
fn requests_carry_the_remote_write_headers_and_authentication() {
    let server = FakeServer::start(vec![]);
    let client = RemoteWriteClient::builder(&server.url)
        .bearer_token("s3cret")
        .header("X-Scope-OrgID", "tenant-1")
        .build()
        .unwrap();
    let mut appender = client.appender();
    appender.append(&up("a"), 0, 1.0).unwrap();
    appender.flush().unwrap();
    let seen = server.seen.lock().unwrap();
    let head = &seen[0].head;
    assert!(head.starts_with("POST /api/v1/write HTTP/1.1"), "{head}");
    assert_eq!(header(head, "content-encoding"), Some("snappy"));
    assert_eq!(header(head, "content-type"), Some("application/x-protobuf"));
    assert_eq!(
        header(head, "x-prometheus-remote-write-version"),
        Some("0.1.0")
    );
    assert_eq!(header(head, "authorization"), Some("Bearer s3cret"));
    assert_eq!(header(head, "x-scope-orgid"), Some("tenant-1"));
    assert!(header(head, "user-agent").is_some_and(|v| v.starts_with("promql-engine/")));
}

#[test]
fn server_errors_and_429_are_retried_then_delivered() {
    let server = FakeServer::start(vec![
        answer("503 Service Unavailable", "", ""),
        answer("429 Too Many Requests", "Retry-After: 0\r\n", ""),
        answer("500 Internal Server Error", "", ""),
    ]);
    let client = RemoteWriteClient::builder(&server.url)
        .retry(fast_retries(5))
        .build()
        .unwrap();
    let mut appender = client.appender();
    appender.append(&up("a"), 0, 1.0).unwrap();
    appender.append(&up("b"), 0, 2.0).unwrap();
    let stats = appender.flush().unwrap();
    assert_eq!(server.requests(), 4);
    assert_eq!(stats.requests, 4);
    assert_eq!(stats.retries, 3);
    assert_eq!(stats.samples_retried, 6);
    assert_eq!((stats.samples_sent, stats.samples_failed), (2, 0));
}

#[test]
fn a_4xx_answer_is_final_and_reported_with_the_message_and_counts() {
    let server = FakeServer::start(vec![answer("400 Bad Request", "", "out of bounds")]);
    let client = RemoteWriteClient::builder(&server.url)
        .retry(fast_retries(5))
        .build()
        .unwrap();
    let mut appender = client.appender();
    appender.append(&up("a"), 0, 1.0).unwrap();
    appender.append(&up("a"), 1000, 2.0).unwrap();
    let err = appender.flush().unwrap_err();
    assert_eq!(server.requests(), 1, "a 400 must not be retried");
    let RemoteWriteError::Failed {
        failure,
        stats,
        failed_batches,
        ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(
        failure,
        &WriteFailure::Rejected {
            status: 400,
            message: "out of bounds".into()
        }
    );
    assert_eq!(*failed_batches, 1);
    assert_eq!(
        (stats.requests, stats.samples_sent, stats.samples_failed),
        (1, 0, 2)
    );
    let text = err.to_string();
    assert!(
        text.contains("HTTP status 400 (not retried): out of bounds"),
        "{text}"
    );
    assert!(text.contains("failed 2 samples"), "{text}");
    // The failure was reported once; the next flush is clean again.
    assert!(appender.flush().is_ok());
}

#[test]
fn a_failed_full_batch_fails_the_append_and_later_batches_still_go() {
    let server = FakeServer::start(vec![answer("422 Unprocessable Entity", "", "")]);
    let client = RemoteWriteClient::builder(&server.url)
        .max_samples_per_send(1)
        .retry(fast_retries(3))
        .build()
        .unwrap();
    let mut appender = client.appender();
    let err = appender.append(&up("a"), 0, 1.0).unwrap_err();
    assert!(err.to_string().contains("HTTP status 422"), "{err}");
    appender.append(&up("a"), 1000, 2.0).unwrap();
    let err = appender.flush().unwrap_err();
    let stats = err.stats().unwrap();
    assert_eq!((stats.samples_sent, stats.samples_failed), (1, 1));
}

#[test]
fn an_unreachable_server_exhausts_the_attempts_without_panicking() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap();
    let client = RemoteWriteClient::builder(format!("http://127.0.0.1:{port}/api/v1/write"))
        .retry(fast_retries(3))
        .build()
        .unwrap();
    let mut appender = client.appender();
    appender.append(&up("a"), 0, 1.0).unwrap();
    let h = Arc::new(FloatHistogram::default());
    appender.append_histogram(&up("h"), 0, h).unwrap();
    let err = appender.flush().unwrap_err();
    let RemoteWriteError::Failed { failure, stats, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        matches!(failure, WriteFailure::RetriesExhausted { attempts: 3, .. }),
        "{failure:?}"
    );
    assert_eq!((stats.requests, stats.retries), (3, 2));
    assert_eq!((stats.samples_failed, stats.histograms_failed), (1, 1));
    let text = err.to_string();
    assert!(
        text.contains("gave up after 3 attempts: request failed"),
        "{text}"
    );
    assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
}

#[test]
fn builder_rejects_bad_urls_and_headers() {
    let err = RemoteWriteClient::new("ftp://x/api/v1/write").unwrap_err();
    assert!(
        err.to_string().contains("invalid remote-write URL"),
        "{err}"
    );
    let err = RemoteWriteClient::builder("http://x/")
        .header("bad header", "v")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("invalid header"), "{err}");
}

#[test]
fn whole_histograms_can_go_as_integer_histograms() {
    let mut h = FloatHistogram {
        counter_reset_hint: CounterResetHint::Gauge,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: 1.0,
        count: 10.0,
        sum: 7.5,
        positive_spans: vec![BucketSpan {
            offset: 0,
            length: 3,
        }],
        positive_buckets: vec![4.0, 1.0, 3.0],
        negative_spans: vec![BucketSpan {
            offset: 1,
            length: 1,
        }],
        negative_buckets: vec![1.0],
        custom_values: vec![],
    };
    let int = encode::to_integer_histogram(&h, 7).unwrap();
    assert_eq!((int.count_int, int.zero_count_int), (Some(10), Some(1)));
    assert_eq!((int.count_float, int.zero_count_float), (None, None));
    assert_eq!(int.positive_deltas, vec![4, -3, 2]);
    assert_eq!(int.negative_deltas, vec![1]);
    assert!(int.positive_counts.is_empty());
    assert_eq!((int.reset_hint, int.timestamp, int.sum), (3, 7, 7.5));
    // The reader turns the deltas back into the same histogram.
    assert_eq!(super::super::histogram::to_float_histogram(&int), h);
    // A fractional count keeps the float form.
    h.positive_buckets[1] = 1.5;
    assert!(encode::to_integer_histogram(&h, 7).is_none());
    let mut batch = Batch::default();
    batch.push_histogram(&up("h"), 7, &h, HistogramEncoding::IntegerWhenExact);
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&batch.encode().unwrap())
        .unwrap();
    let decoded = WriteRequest::decode(raw.as_slice()).unwrap();
    assert_eq!(decoded.timeseries[0].histograms[0].count_float, Some(10.0));
}

#[test]
fn a_huge_error_body_is_cut_to_its_start_not_lost() {
    // Found by the audit: a refusal with a body over 1 KiB (an HTML error
    // page) was reported as "(no readable body: ...)" without the message.
    let page = format!("invalid sample: {}", "x".repeat(1 << 20));
    let server = FakeServer::start(vec![answer("400 Bad Request", "", &page)]);
    let client = RemoteWriteClient::builder(&server.url)
        .retry(fast_retries(2))
        .build()
        .unwrap();
    let mut appender = client.appender();
    appender.append(&up("a"), 0, 1.0).unwrap();
    let err = appender.flush().unwrap_err();
    let RemoteWriteError::Failed { failure, .. } = &err else {
        panic!("{err:?}");
    };
    let WriteFailure::Rejected { status, message } = failure else {
        panic!("{failure:?}");
    };
    assert_eq!(*status, 400);
    assert!(message.starts_with("invalid sample: xxx"), "{message:.80}");
    assert!(message.ends_with(" [truncated]"), "{}", &message[1000..]);
    assert_eq!(message.len(), 1024 + " [truncated]".len());
}

#[test]
fn retryable_answers_with_garbage_retry_after_fall_back_to_the_backoff() {
    let script = [
        "Retry-After: soon\r\n",
        "Retry-After: -5\r\n",
        "Retry-After: 1.5\r\n",
        "Retry-After: 99999999999999999999999\r\n",
        "Retry-After: Thu, 01 Jan 1970 00:00:00 GMT\r\n",
        "Retry-After: \r\n",
    ]
    .iter()
    .map(|h| answer("503 Service Unavailable", h, &"e".repeat(5000)))
    .collect();
    let server = FakeServer::start(script);
    let client = RemoteWriteClient::builder(&server.url)
        .retry(fast_retries(7))
        .build()
        .unwrap();
    let mut appender = client.appender();
    appender.append(&up("a"), 0, 1.0).unwrap();
    let started = std::time::Instant::now();
    let stats = appender.flush().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        (stats.requests, stats.retries, stats.samples_sent),
        (7, 6, 1)
    );
}

#[test]
fn a_server_that_never_answers_times_out_on_every_attempt() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/write", listener.local_addr().unwrap());
    // Accepts connections and reads, but never answers.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let client = RemoteWriteClient::builder(url)
        .timeout(Duration::from_millis(200))
        .retry(fast_retries(3))
        .build()
        .unwrap();
    let mut appender = client.appender();
    appender.append(&up("a"), 0, 1.0).unwrap();
    let started = std::time::Instant::now();
    let err = appender.flush().unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let stats = err.stats().unwrap();
    assert_eq!((stats.requests, stats.samples_failed), (3, 1));
    assert!(
        err.to_string().contains("gave up after 3 attempts"),
        "{err}"
    );
}

#[test]
fn giant_label_sets_and_histograms_with_huge_spans_are_encoded_as_given() {
    let mut batch = Batch::default();
    let labels: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("l{i:05}"), "v".repeat(100)))
        .collect();
    let pairs: Vec<(&str, &str)> = labels
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    batch.push_sample(&Labels::from_pairs(&pairs), 0, 1.0);
    // Spans announcing far more buckets than present: sent as given.
    let h = FloatHistogram {
        schema: 0,
        positive_spans: vec![BucketSpan {
            offset: i32::MIN,
            length: u32::MAX,
        }],
        positive_buckets: vec![1.0],
        ..Default::default()
    };
    for encoding in [
        HistogramEncoding::Float,
        HistogramEncoding::IntegerWhenExact,
    ] {
        batch.push_histogram(&up("h"), 0, &h, encoding);
    }
    let body = batch.encode().unwrap();
    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
    let request = WriteRequest::decode(raw.as_slice()).unwrap();
    assert_eq!(request.timeseries[0].labels.len(), 10_000);
    assert_eq!(request.timeseries[1].histograms.len(), 2);
    assert_eq!(
        request.timeseries[1].histograms[0].positive_spans[0].length,
        u32::MAX
    );
}

#[test]
fn zero_limits_in_the_builder_are_raised_to_one() {
    let server = FakeServer::start(vec![answer("500 Internal Server Error", "", "")]);
    let client = RemoteWriteClient::builder(&server.url)
        .max_samples_per_send(0)
        .retry(RetryPolicy {
            max_attempts: 0,
            ..fast_retries(1)
        })
        .build()
        .unwrap();
    let mut appender = client.appender();
    // A batch of one: sent (and refused once, not retried) while appending.
    assert!(appender.append(&up("a"), 0, 1.0).is_err());
    assert_eq!(appender.pending(), 0);
    assert_eq!(server.requests(), 1);
}
