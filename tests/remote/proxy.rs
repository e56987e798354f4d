//! A one-shot loopback proxy that forwards one HTTP request to a real server
//! and relays only part of the answer before closing: a server dying
//! mid-response, made reproducible. It can also kill the server (by process
//! id) at the cut, or stall without answering.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

/// How long the upstream may stay silent before its response counts as complete.
const IDLE: Duration = Duration::from_millis(800);
/// How long a stalling proxy holds the connection without answering.
const STALL: Duration = Duration::from_secs(5);

/// A proxy serving one connection on its own thread.
pub struct CutProxy {
    port: u16,
}

impl CutProxy {
    /// Relays `percent`% of the upstream's response (at least one byte, never
    /// all of it), then kills `kill_pid` if given, then closes.
    pub fn start(upstream: u16, percent: usize, kill_pid: Option<u32>) -> Result<CutProxy, String> {
        Self::spawn(move |mut client| {
            let request = read_request(&mut client)?;
            let mut server = TcpStream::connect((Ipv4Addr::LOCALHOST, upstream))
                .map_err(|e| format!("proxy cannot reach upstream: {e}"))?;
            server.write_all(&request).map_err(|e| e.to_string())?;
            let response = read_until_idle(&mut server)?;
            let cut = (response.len() * percent / 100).clamp(1, response.len().saturating_sub(1));
            client
                .write_all(response.get(..cut).unwrap_or_default())
                .map_err(|e| e.to_string())?;
            client.flush().map_err(|e| e.to_string())?;
            if let Some(pid) = kill_pid {
                let status = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status()
                    .map_err(|e| format!("cannot run kill: {e}"))?;
                if !status.success() {
                    return Err(format!("kill {pid} failed: {status}"));
                }
            }
            drop(server);
            let _ = client.shutdown(Shutdown::Both);
            Ok(())
        })
    }

    /// Reads the request and then answers nothing for a while.
    pub fn start_stalling(_upstream: u16) -> Result<CutProxy, String> {
        Self::spawn(|mut client| {
            read_request(&mut client)?;
            std::thread::sleep(STALL);
            Ok(())
        })
    }

    /// The port to send the request to.
    pub fn port(&self) -> u16 {
        self.port
    }

    fn spawn(
        serve: impl FnOnce(TcpStream) -> Result<(), String> + Send + 'static,
    ) -> Result<CutProxy, String> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| format!("proxy cannot bind: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("proxy address: {e}"))?
            .port();
        // Detached: if no client comes, the thread ends with the test process.
        std::thread::spawn(move || {
            if let Ok((client, _)) = listener.accept() {
                if let Err(e) = serve(client) {
                    println!("remote read: proxy: {e}");
                }
            }
        });
        Ok(CutProxy { port })
    }
}

/// Reads one HTTP request: the head, and a body of `Content-Length` bytes.
fn read_request(client: &mut TcpStream) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = client
            .read(&mut buf)
            .map_err(|e| format!("proxy read: {e}"))?;
        if n == 0 {
            return Err("client closed before the end of the request head".into());
        }
        raw.extend_from_slice(buf.get(..n).unwrap_or_default());
    };
    let head = String::from_utf8_lossy(raw.get(..head_end).unwrap_or_default()).to_string();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while raw.len() < head_end + length {
        let n = client
            .read(&mut buf)
            .map_err(|e| format!("proxy read: {e}"))?;
        if n == 0 {
            return Err("client closed inside the request body".into());
        }
        raw.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    Ok(raw)
}

/// Reads until the upstream closes or stays silent for [`IDLE`].
fn read_until_idle(server: &mut TcpStream) -> Result<Vec<u8>, String> {
    server
        .set_read_timeout(Some(IDLE))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match server.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => return Err(format!("proxy read from upstream: {e}")),
        }
    }
    if out.is_empty() {
        return Err("upstream sent nothing".into());
    }
    Ok(out)
}
