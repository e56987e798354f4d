//! A loopback proxy that answers the first requests itself with error
//! statuses (a server having trouble, made reproducible) and forwards the
//! rest to a real server. One request per connection.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a connection may stay silent.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A proxy running on its own thread until the test process ends.
pub struct FlakyProxy {
    port: u16,
    requests: Arc<AtomicUsize>,
}

impl FlakyProxy {
    /// Answers the first requests with `failures` (raw status line and
    /// header lines, e.g. `"503 Service Unavailable\r\n"`), then forwards
    /// to `upstream`.
    pub fn start(upstream: u16, failures: Vec<String>) -> Result<FlakyProxy, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("proxy cannot bind: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("proxy address: {e}"))?
            .port();
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&requests);
        let failures = Arc::new(Mutex::new(failures.into_iter()));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut client) = conn else { return };
                let _ = client.set_read_timeout(Some(IO_TIMEOUT));
                let Ok(request) = read_message(&mut client) else {
                    continue;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let failure = failures.lock().ok().and_then(|mut f| f.next());
                let response = match failure {
                    Some(status) => {
                        let body = "injected failure";
                        Ok(format!(
                            "HTTP/1.1 {status}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .into_bytes())
                    }
                    None => forward(upstream, &request),
                };
                if let Ok(bytes) = response {
                    let _ = client.write_all(&bytes);
                }
                let _ = client.shutdown(Shutdown::Both);
            }
        });
        Ok(FlakyProxy { port, requests })
    }

    /// The port to send requests to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Sends `request` upstream and returns its response, re-framed with
/// `Connection: close`.
fn forward(upstream: u16, request: &[u8]) -> Result<Vec<u8>, String> {
    let mut server = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream))
        .map_err(|e| format!("proxy cannot reach upstream: {e}"))?;
    let _ = server.set_read_timeout(Some(IO_TIMEOUT));
    server.write_all(request).map_err(|e| e.to_string())?;
    let response = read_message(&mut server)?;
    let end = head_end(&response).ok_or("response without a header end")?;
    let head = String::from_utf8_lossy(response.get(..end).unwrap_or_default());
    let status = head.lines().next().unwrap_or_default();
    let status = status.split_once(' ').map_or("", |(_, s)| s);
    let body = response.get(end..).unwrap_or_default();
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    Ok(out)
}

/// Index just past the blank line ending the head.
fn head_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// Reads one HTTP message whose body length is given by `Content-Length`
/// (absent: no body).
fn read_message(stream: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(end) = head_end(&raw) {
            let head = String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).to_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if raw.len() >= end + length {
                raw.truncate(end + length);
                return Ok(raw);
            }
        }
        let n = stream.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed mid-message".into());
        }
        raw.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
}
