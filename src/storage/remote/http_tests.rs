//! The HTTP side of [`RemoteReadStorage`] against a one-shot fake server:
//! the headers sent, authentication, status and content-type handling.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use prost::Message;

use super::frames::encode_frame;
use super::*;
use crate::model::{FPoint, Labels};
use crate::storage::chunk::encode_xor;

/// Serves one request with `response` (head and body, raw) and sends the
/// request it received (head as text, body raw) back on the channel.
fn one_shot(response: Vec<u8>) -> (String, mpsc::Receiver<(String, Vec<u8>)>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/read", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "client closed early");
            raw.extend_from_slice(&buf[..n]);
        };
        let head = String::from_utf8_lossy(&raw[..head_end]).to_string();
        let length: usize = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse().ok())
            .unwrap_or(0);
        while raw.len() < head_end + length {
            let n = conn.read(&mut buf).unwrap();
            raw.extend_from_slice(&buf[..n]);
        }
        conn.write_all(&response).unwrap();
        let _ = tx.send((head, raw[head_end..].to_vec()));
    });
    (url, rx)
}

fn http_response(status: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

fn select_up(storage: &RemoteReadStorage) -> Result<Vec<SelectedSeries<'_>>, StorageError> {
    storage.select(
        &[Matcher::equal("__name__", "up")],
        &SelectHints::window(1000, 5000),
    )
}

fn samples_body(points: &[(i64, f64)]) -> Vec<u8> {
    let response = proto::ReadResponse {
        results: vec![proto::QueryResult {
            timeseries: vec![proto::TimeSeries {
                labels: vec![proto::Label {
                    name: "__name__".into(),
                    value: "up".into(),
                }],
                samples: points
                    .iter()
                    .map(|&(timestamp, value)| proto::Sample { value, timestamp })
                    .collect(),
                histograms: vec![],
            }],
        }],
    };
    snap::raw::Encoder::new()
        .compress_vec(&response.encode_to_vec())
        .unwrap()
}

#[test]
fn sends_protocol_headers_auth_and_custom_headers() {
    let (url, rx) = one_shot(http_response(
        "200 OK",
        SAMPLES_CONTENT_TYPE,
        &samples_body(&[(1000, 1.0), (2000, 2.0), (9000, 9.0)]),
    ));
    let storage = RemoteReadStorage::builder(url)
        .basic_auth("alice", "s3cret")
        .header("X-Scope-OrgID", "tenant-7")
        .response_type(ResponseType::Samples)
        .build()
        .unwrap();
    let series = select_up(&storage).unwrap();
    let (head, body) = rx.recv().unwrap();
    assert!(head.starts_with("POST /api/v1/read HTTP/1.1"), "{head}");
    assert_eq!(header(&head, "Content-Encoding"), Some("snappy"));
    assert_eq!(
        header(&head, "Content-Type"),
        Some("application/x-protobuf")
    );
    assert_eq!(
        header(&head, "X-Prometheus-Remote-Read-Version"),
        Some("0.1.0")
    );
    // "alice:s3cret" in base64.
    assert_eq!(
        header(&head, "Authorization"),
        Some("Basic YWxpY2U6czNjcmV0")
    );
    assert_eq!(header(&head, "X-Scope-OrgID"), Some("tenant-7"));
    let request = proto::ReadRequest::decode(
        snap::raw::Decoder::new()
            .decompress_vec(&body)
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(request.queries.len(), 1);
    // The sample outside the window (9000 > 5000) is dropped.
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].labels, Labels::from_pairs(&[("__name__", "up")]));
    assert_eq!(
        series[0].floats.as_ref(),
        &[FPoint { t: 1000, v: 1.0 }, FPoint { t: 2000, v: 2.0 }]
    );
}

#[test]
fn bearer_token_replaces_basic_auth() {
    let (url, rx) = one_shot(http_response(
        "200 OK",
        SAMPLES_CONTENT_TYPE,
        &samples_body(&[]),
    ));
    let storage = RemoteReadStorage::builder(url)
        .basic_auth("a", "b")
        .bearer_token("tok-123")
        .build()
        .unwrap();
    assert!(select_up(&storage).unwrap().is_empty());
    let (head, _) = rx.recv().unwrap();
    assert_eq!(header(&head, "Authorization"), Some("Bearer tok-123"));
}

#[test]
fn streamed_response_is_read_by_content_type() {
    let points: Vec<FPoint> = (0..10)
        .map(|i| FPoint {
            t: i * 1000,
            v: i as f64,
        })
        .collect();
    let frame = proto::ChunkedReadResponse {
        chunked_series: vec![proto::ChunkedSeries {
            labels: vec![proto::Label {
                name: "__name__".into(),
                value: "up".into(),
            }],
            chunks: vec![proto::Chunk {
                min_time_ms: 0,
                max_time_ms: 9000,
                r#type: proto::ChunkEncoding::Xor as i32,
                data: encode_xor(&points).unwrap(),
            }],
        }],
        query_index: 0,
    };
    let (url, rx) = one_shot(http_response(
        "200 OK",
        STREAMED_CONTENT_TYPE,
        &encode_frame(&frame.encode_to_vec()),
    ));
    let storage = RemoteReadStorage::builder(url)
        .response_type(ResponseType::StreamedXorChunks)
        .build()
        .unwrap();
    let series = select_up(&storage).unwrap();
    let (_, body) = rx.recv().unwrap();
    let request = proto::ReadRequest::decode(
        snap::raw::Decoder::new()
            .decompress_vec(&body)
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(request.accepted_response_types, vec![1]);
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].floats.as_ref(), &points[1..6]);
}

#[test]
fn error_status_carries_the_server_message() {
    let (url, _rx) = one_shot(http_response(
        "400 Bad Request",
        "text/plain",
        b"invalid matcher\n",
    ));
    let storage = RemoteReadStorage::new(url).unwrap();
    let err = select_up(&storage).unwrap_err();
    assert!(matches!(err, StorageError::Backend(_)), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("HTTP status 400: invalid matcher"),
        "{err}"
    );
}

#[test]
fn unknown_content_type_is_an_error() {
    let (url, _rx) = one_shot(http_response("200 OK", "text/html", b"<html>"));
    let err = select_up(&RemoteReadStorage::new(url).unwrap()).unwrap_err();
    assert!(
        err.to_string()
            .contains("unsupported response content type \"text/html\""),
        "{err}"
    );
}

#[test]
fn short_body_is_an_error() {
    // The head promises more bytes than arrive before the connection closes.
    let body = samples_body(&[(1000, 1.0), (2000, 2.0)]);
    let mut response = http_response("200 OK", SAMPLES_CONTENT_TYPE, &body);
    response.truncate(response.len() - 3);
    let (url, _rx) = one_shot(response);
    let err = select_up(&RemoteReadStorage::new(url).unwrap()).unwrap_err();
    assert!(
        err.to_string()
            .contains("SAMPLES response interrupted or incomplete"),
        "{err}"
    );
}

/// Serves one request with `head_and_some_body`, then holds the connection
/// open without sending more for `stall`.
fn stalling(head_and_some_body: Vec<u8>, stall: std::time::Duration) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/read", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 65536];
        let _ = conn.read(&mut buf);
        let _ = conn.write_all(&head_and_some_body);
        std::thread::sleep(stall);
    });
    url
}

#[test]
fn stream_stalling_mid_body_is_a_timeout() {
    let frame = encode_frame(
        &proto::ChunkedReadResponse {
            chunked_series: vec![],
            query_index: 0,
        }
        .encode_to_vec(),
    );
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {STREAMED_CONTENT_TYPE}\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n",
        frame.len()
    )
    .into_bytes();
    response.extend_from_slice(&frame);
    response.extend_from_slice(b"\r\n");
    let url = stalling(response, Duration::from_secs(3));
    let storage = RemoteReadStorage::builder(url)
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = select_up(&storage).unwrap_err();
    assert!(matches!(err, StorageError::Timeout(_)), "{err:?}");
    assert!(
        err.to_string().contains("chunked response stream failed"),
        "{err}"
    );
}

#[cfg(feature = "remote-tls")]
#[test]
fn https_speaks_tls() {
    // A plain-HTTP answer to a TLS client hello fails the handshake.
    let url = stalling(
        http_response("200 OK", "text/plain", b"hello"),
        Duration::from_secs(1),
    )
    .replace("http://", "https://");
    let storage = RemoteReadStorage::builder(url)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let err = select_up(&storage).unwrap_err();
    assert!(matches!(err, StorageError::Backend(_)), "{err:?}");
}
