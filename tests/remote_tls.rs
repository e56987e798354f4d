//! Both remote clients over HTTPS (feature `remote-tls`) against an
//! in-process rustls server on 127.0.0.1 using the test certificates of
//! `testdata/tls/` (made by `scripts/gen-test-certs`): default roots, a
//! custom CA, skipping verification, mutual TLS, the server-name override,
//! and the errors for unusable certificate files.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use promql_engine::model::{Labels, Matcher};
use promql_engine::storage::remote::{
    RemoteReadError, RemoteReadStorage, RemoteWriteClient, RemoteWriteError, RetryPolicy,
};
use promql_engine::storage::{Appender, SelectHints};
use prost::Message;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn cert_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/tls")
        .join(name)
}

fn cert_bytes(name: &str) -> Vec<u8> {
    std::fs::read(cert_path(name)).unwrap()
}

// ---- The few remote-read / remote-write protobuf messages the server needs.

#[derive(Clone, PartialEq, prost::Message)]
struct Label {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(string, tag = "2")]
    value: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct QueryResult {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ReadResponse {
    #[prost(message, repeated, tag = "1")]
    results: Vec<QueryResult>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}

/// The series every remote-read request is answered with.
fn served_series() -> TimeSeries {
    TimeSeries {
        labels: vec![
            Label {
                name: "__name__".into(),
                value: "up".into(),
            },
            Label {
                name: "job".into(),
                value: "tls".into(),
            },
        ],
        samples: vec![
            Sample {
                value: 1.0,
                timestamp: 1000,
            },
            Sample {
                value: 0.5,
                timestamp: 2000,
            },
        ],
    }
}

// ---- The HTTPS server.

/// What the server saw of one request.
#[derive(Debug)]
struct Seen {
    path: String,
    host: String,
    client_cert: bool,
    body: Vec<u8>,
}

struct Server {
    port: u16,
    seen: mpsc::Receiver<Seen>,
}

impl Server {
    /// Serves HTTPS with `server.pem`; with `require_client_cert`, only to
    /// clients presenting a certificate signed by `ca.pem`.
    fn start(require_client_cert: bool) -> Server {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let certs = CertificateDer::pem_file_iter(cert_path("server.pem"))
            .unwrap()
            .chain(CertificateDer::pem_file_iter(cert_path("ca.pem")).unwrap())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(cert_path("server.key")).unwrap();
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(cert_path("ca.pem")).unwrap() {
                roots.add(cert.unwrap()).unwrap();
            }
            let verifier =
                rustls::server::WebPkiClientVerifier::builder_with_provider(roots.into(), provider)
                    .build()
                    .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let config = Arc::new(builder.with_single_cert(certs, key).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, seen) = mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (config, tx) = (config.clone(), tx.clone());
                std::thread::spawn(move || serve(stream, config, &tx));
            }
        });
        Server { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    /// The request the server handled last.
    fn last(&self) -> Seen {
        self.seen
            .recv_timeout(Duration::from_secs(5))
            .expect("the server handled a request")
    }
}

type Tls = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// Serves one connection. A failed handshake (what some tests want) sends
/// its alert and then lingers until the client closes, so the client reads
/// the alert rather than a reset connection.
fn serve(stream: TcpStream, config: Arc<rustls::ServerConfig>, tx: &mpsc::Sender<Seen>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let Ok(connection) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(connection, stream);
    if answer(&mut tls, tx).is_err() {
        while tls.conn.wants_write() && tls.conn.write_tls(&mut tls.sock).is_ok() {}
        let _ = tls.sock.shutdown(std::net::Shutdown::Write);
        let _ = std::io::copy(&mut tls.sock, &mut std::io::sink());
    }
}

/// Answers one request: a SAMPLES response on `/api/v1/read`, 204 on
/// `/api/v1/write`, then closes.
fn answer(tls: &mut Tls, tx: &mpsc::Sender<Seen>) -> std::io::Result<()> {
    let mut reader = BufReader::new(&mut *tls);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let (mut host, mut length) = (String::new(), 0usize);
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "host" => host = value.trim().to_string(),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut compressed = vec![0; length];
    reader.read_exact(&mut compressed)?;
    let body = snap::raw::Decoder::new()
        .decompress_vec(&compressed)
        .map_err(std::io::Error::other)?;
    let client_cert = tls.conn.peer_certificates().is_some();
    let response = if path == "/api/v1/read" {
        let message = ReadResponse {
            results: vec![QueryResult {
                timeseries: vec![served_series()],
            }],
        };
        let payload = snap::raw::Encoder::new()
            .compress_vec(&message.encode_to_vec())
            .map_err(std::io::Error::other)?;
        let mut head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n\
             Content-Encoding: snappy\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        )
        .into_bytes();
        head.extend(payload);
        head
    } else {
        b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n".to_vec()
    };
    tls.write_all(&response)?;
    tls.flush()?;
    tls.conn.send_close_notify();
    tls.flush()?;
    let _ = tx.send(Seen {
        path,
        host,
        client_cert,
        body,
    });
    Ok(())
}

// ---- Helpers for the clients.

/// A series' labels as text and its float samples.
type SeriesPoints = (String, Vec<(i64, f64)>);

fn select_up(storage: &RemoteReadStorage) -> Result<Vec<SeriesPoints>, RemoteReadError> {
    let series = storage.read(
        &[Matcher::equal("__name__", "up")],
        &SelectHints::window(0, 5000),
    )?;
    Ok(series
        .into_iter()
        .map(|s| {
            let points = s.floats.iter().map(|p| (p.t, p.v)).collect();
            (s.labels.to_string(), points)
        })
        .collect())
}

fn expect_up(storage: &RemoteReadStorage) {
    let got = select_up(storage).unwrap_or_else(|e| panic!("read over TLS failed: {e}"));
    assert_eq!(
        got,
        vec![(
            r#"up{job="tls"}"#.to_string(),
            vec![(1000, 1.0), (2000, 0.5)]
        )]
    );
}

fn write_one(client: &RemoteWriteClient) -> Result<u64, RemoteWriteError> {
    let mut appender = client.appender();
    let labels = Labels::from_pairs(&[("__name__", "job:up:sum"), ("job", "tls")]);
    // One sample never fills a batch: append only queues it.
    appender
        .append(&labels, 1_700_000_000_000, 42.0)
        .expect("append queues");
    Ok(appender.flush()?.samples_sent)
}

fn one_attempt() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        ..RetryPolicy::default()
    }
}

// ---- Tests.

#[test]
fn default_roots_reject_the_self_signed_server_with_a_hint() {
    let server = Server::start(false);
    let storage = RemoteReadStorage::new(server.url("/api/v1/read")).unwrap();
    let err = select_up(&storage).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, RemoteReadError::Transport { .. }), "{err:?}");
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(text.contains("--remote-ca-file"), "{text}");

    let client = RemoteWriteClient::builder(server.url("/api/v1/write"))
        .retry(one_attempt())
        .build()
        .unwrap();
    let text = write_one(&client).unwrap_err().to_string();
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(text.contains("--remote-ca-file"), "{text}");
}

#[test]
fn custom_ca_is_trusted_for_read_and_write() {
    let server = Server::start(false);
    let storage = RemoteReadStorage::builder(server.url("/api/v1/read"))
        .ca_cert_file(cert_path("ca.pem"))
        .build()
        .unwrap();
    expect_up(&storage);
    let seen = server.last();
    assert_eq!(seen.path, "/api/v1/read");
    assert_eq!(seen.host, format!("127.0.0.1:{}", server.port));
    assert!(!seen.client_cert);

    let client = RemoteWriteClient::builder(server.url("/api/v1/write"))
        .ca_cert_pem(cert_bytes("ca.pem"))
        .build()
        .unwrap();
    assert_eq!(write_one(&client).unwrap(), 1);
    let seen = server.last();
    assert_eq!(seen.path, "/api/v1/write");
    let request = WriteRequest::decode(seen.body.as_slice()).unwrap();
    let [series] = request.timeseries.as_slice() else {
        panic!("one series expected: {request:?}");
    };
    assert_eq!(series.labels[0].value, "job:up:sum");
    assert_eq!(
        series.samples,
        vec![Sample {
            value: 42.0,
            timestamp: 1_700_000_000_000
        }]
    );
}

#[test]
fn custom_ca_with_default_roots_still_trusts_it_and_another_ca_does_not() {
    let server = Server::start(false);
    let storage = RemoteReadStorage::builder(server.url("/api/v1/read"))
        .ca_cert_pem(cert_bytes("ca.pem"))
        .with_default_roots(true)
        .build()
        .unwrap();
    expect_up(&storage);

    let storage = RemoteReadStorage::builder(server.url("/api/v1/read"))
        .ca_cert_file(cert_path("other-ca.pem"))
        .build()
        .unwrap();
    let text = select_up(&storage).unwrap_err().to_string();
    assert!(text.contains("invalid peer certificate"), "{text}");
}

#[test]
fn insecure_skip_verify_accepts_any_certificate() {
    let server = Server::start(false);
    let storage = RemoteReadStorage::builder(server.url("/api/v1/read"))
        .insecure_skip_verify(true)
        .build()
        .unwrap();
    expect_up(&storage);
    let client = RemoteWriteClient::builder(server.url("/api/v1/write"))
        .insecure_skip_verify(true)
        .build()
        .unwrap();
    assert_eq!(write_one(&client).unwrap(), 1);
}

#[test]
fn mutual_tls_needs_the_client_certificate() {
    let server = Server::start(true);
    let without = RemoteReadStorage::builder(server.url("/api/v1/read"))
        .ca_cert_file(cert_path("ca.pem"))
        .build()
        .unwrap();
    let text = select_up(&without).unwrap_err().to_string();
    assert!(text.contains("--remote-cert-file"), "{text}");

    let with = RemoteReadStorage::builder(server.url("/api/v1/read"))
        .ca_cert_file(cert_path("ca.pem"))
        .client_cert_file(cert_path("client.pem"), cert_path("client.key"))
        .build()
        .unwrap();
    expect_up(&with);
    assert!(server.last().client_cert);

    let write_without = RemoteWriteClient::builder(server.url("/api/v1/write"))
        .ca_cert_file(cert_path("ca.pem"))
        .retry(one_attempt())
        .build()
        .unwrap();
    let text = write_one(&write_without).unwrap_err().to_string();
    assert!(text.contains("--remote-cert-file"), "{text}");

    let write_with = RemoteWriteClient::builder(server.url("/api/v1/write"))
        .ca_cert_file(cert_path("ca.pem"))
        .client_cert_pem(cert_bytes("client.pem"), cert_bytes("client.key"))
        .build()
        .unwrap();
    assert_eq!(write_one(&write_with).unwrap(), 1);
    assert!(server.last().client_cert);
}

#[test]
fn server_name_override_is_verified_and_host_is_kept() {
    let server = Server::start(false);
    let storage = RemoteReadStorage::builder(server.url("/api/v1/read"))
        .ca_cert_file(cert_path("ca.pem"))
        .tls_server_name("localhost")
        .build()
        .unwrap();
    expect_up(&storage);
    assert_eq!(server.last().host, format!("127.0.0.1:{}", server.port));
    assert_eq!(storage.url(), server.url("/api/v1/read"));

    // The certificate names 127.0.0.1 too, so only an override that is
    // really used can make verification fail.
    let storage = RemoteReadStorage::builder(server.url("/api/v1/read"))
        .ca_cert_file(cert_path("ca.pem"))
        .tls_server_name("wrong.example")
        .build()
        .unwrap();
    let text = select_up(&storage).unwrap_err().to_string();
    assert!(text.contains("invalid peer certificate"), "{text}");
    assert!(
        text.contains(r#"not valid for name "wrong.example""#),
        "{text}"
    );
    assert!(text.contains("--remote-tls-server-name"), "{text}");
}

#[test]
fn unusable_tls_files_are_reported_with_their_path() {
    let url = "https://127.0.0.1:1/api/v1/read";
    let build_err = |b: promql_engine::storage::remote::RemoteReadBuilder| {
        b.build().map(|_| ()).unwrap_err().to_string()
    };
    let missing = cert_path("missing.pem");
    let text = build_err(RemoteReadStorage::builder(url).ca_cert_file(&missing));
    assert!(
        text.starts_with("cannot read CA certificate file"),
        "{text}"
    );
    assert!(text.contains("missing.pem"), "{text}");

    let text = build_err(RemoteReadStorage::builder(url).ca_cert_file(cert_path("client.key")));
    assert!(text.contains("no certificate found"), "{text}");
    assert!(text.contains("client.key"), "{text}");

    let garbage = b"-----BEGIN CERTIFICATE-----\n!!! not base64 !!!\n-----END CERTIFICATE-----\n";
    let text = build_err(RemoteReadStorage::builder(url).ca_cert_pem(garbage.to_vec()));
    assert!(text.contains("invalid PEM"), "{text}");

    let not_der = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let text = build_err(RemoteReadStorage::builder(url).ca_cert_pem(not_der.to_vec()));
    assert!(text.contains("certificate 1 is not usable"), "{text}");

    let text = build_err(
        RemoteReadStorage::builder(url)
            .client_cert_file(cert_path("client.pem"), cert_path("ca.pem")),
    );
    assert!(text.contains("no private key found"), "{text}");

    let text = build_err(
        RemoteReadStorage::builder(url)
            .client_cert_file(cert_path("client.pem"), cert_path("server.key")),
    );
    assert!(text.contains("client certificate file"), "{text}");
    assert!(text.contains("server.key"), "{text}");

    let text = build_err(RemoteReadStorage::builder(url).tls_server_name("not a name"));
    assert!(text.contains("invalid TLS server name"), "{text}");

    // The write client shares the checks.
    let err = RemoteWriteClient::builder("https://127.0.0.1:1/api/v1/write")
        .ca_cert_file(&missing)
        .build()
        .unwrap_err();
    assert!(matches!(err, RemoteWriteError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

#[cfg(feature = "cli")]
#[test]
fn cli_reads_over_tls_with_the_ca_and_client_certificate_flags() {
    let server = Server::start(true);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "query".to_string(),
            "instant".to_string(),
            "--remote-read".to_string(),
            server.url("/api/v1/read"),
            "--time".to_string(),
            "2".to_string(),
            "--output".to_string(),
            "json".to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.push("up".to_string());
        std::process::Command::new(env!("CARGO_BIN_EXE_promql"))
            .args(&args)
            .output()
            .unwrap()
    };
    let ca = cert_path("ca.pem").display().to_string();
    let cert = cert_path("client.pem").display().to_string();
    let key = cert_path("client.key").display().to_string();
    let out = run(&[
        "--remote-ca-file",
        &ca,
        "--remote-cert-file",
        &cert,
        "--remote-key-file",
        &key,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""job":"tls""#), "{stdout}");
    assert!(stdout.contains(r#""0.5""#), "{stdout}");

    // Without the client certificate the server refuses; the error (a JSON
    // error object with --output json) says what is missing.
    let out = run(&["--remote-ca-file", &ca]);
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{printed}");
    assert!(printed.contains("--remote-cert-file"), "{printed}");
}
