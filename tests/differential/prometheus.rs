//! A real Prometheus server over a TSDB built from an OpenMetrics file, on a
//! loopback port, stopped (by its process id) and cleaned up when dropped.

// Shared by several test harnesses, each using a part.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long Prometheus may take to report ready.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Connect timeout for one request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Read/write timeout for one request.
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// Start attempts (another process may grab the free port between our probe and Prometheus' bind).
const START_ATTEMPTS: usize = 3;

/// The `main` of a test harness that needs Prometheus: skipped (with the
/// reason printed) when `skip_var=1` or when `prometheus`/`promtool` are not
/// on `PATH`; otherwise `run(prometheus, promtool)` decides, `Ok(false)`
/// meaning some case failed.
pub fn harness_main(
    name: &str,
    skip_var: &str,
    run: impl FnOnce(&Path, &Path) -> Result<bool, String>,
) -> std::process::ExitCode {
    use std::process::ExitCode;
    if std::env::var(skip_var).is_ok_and(|v| v == "1") {
        println!("{name}: skipped ({skip_var}=1)");
        return ExitCode::SUCCESS;
    }
    let (Some(prometheus), Some(promtool)) = (find_on_path("prometheus"), find_on_path("promtool"))
    else {
        println!(
            "{name}: skipped: `prometheus` and `promtool` are not on PATH \
             (install: apt-get update -qq && apt-get install -y -qq prometheus)"
        );
        return ExitCode::SUCCESS;
    };
    match run(&prometheus, &promtool) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            println!("{name}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Finds `program` in a directory of `PATH`.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A scratch directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates a fresh directory under the system temp dir.
    pub fn new(prefix: &str) -> Result<TempDir, String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(TempDir(dir))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills its process (by its id) and reaps it when dropped.
struct ProcessGuard(Child);

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running Prometheus. Dropping it stops the process, then removes its data.
pub struct Prometheus {
    // Field order matters: the process stops before its directory is removed.
    process: ProcessGuard,
    port: u16,
    _dir: TempDir,
}

impl Prometheus {
    /// Builds a TSDB from `openmetrics` with `promtool` and starts Prometheus on it.
    pub fn start(
        prometheus: &Path,
        promtool: &Path,
        openmetrics: &Path,
    ) -> Result<Prometheus, String> {
        Self::start_with_args(prometheus, promtool, openmetrics, &[])
    }

    /// [`Prometheus::start`] with extra command-line flags (e.g.
    /// `--web.enable-remote-write-receiver`).
    pub fn start_with_args(
        prometheus: &Path,
        promtool: &Path,
        openmetrics: &Path,
        extra_args: &[&str],
    ) -> Result<Prometheus, String> {
        let dir = TempDir::new("promql-difftest")?;
        let data = dir.path().join("data");
        let out = Command::new(promtool)
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(openmetrics)
            .arg(&data)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run promtool: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "promtool tsdb create-blocks-from openmetrics failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Self::launch(prometheus, dir, extra_args)
    }

    /// Starts Prometheus on an empty TSDB with extra command-line flags.
    pub fn start_empty(prometheus: &Path, extra_args: &[&str]) -> Result<Prometheus, String> {
        Self::launch(prometheus, TempDir::new("promql-prometheus")?, extra_args)
    }

    /// Starts Prometheus on the TSDB in `dir/data` (created if absent),
    /// retrying on another port if the first one was taken meanwhile.
    fn launch(prometheus: &Path, dir: TempDir, extra_args: &[&str]) -> Result<Prometheus, String> {
        let data = dir.path().join("data");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, "").map_err(|e| format!("cannot write config: {e}"))?;
        let log_path = dir.path().join("prometheus.log");

        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port()?;
            let log = std::fs::File::create(&log_path)
                .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
            let log_err = log
                .try_clone()
                .map_err(|e| format!("cannot clone log handle: {e}"))?;
            let child = Command::new(prometheus)
                .arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", data.display()))
                .arg("--storage.tsdb.retention.time=100y")
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--query.lookback-delta=5m")
                .arg("--log.level=warn")
                .args(extra_args)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .spawn()
                .map_err(|e| format!("cannot start prometheus: {e}"))?;
            let mut process = ProcessGuard(child);
            match wait_ready(&mut process.0, port) {
                Ok(()) => {
                    return Ok(Prometheus {
                        process,
                        port,
                        _dir: dir,
                    });
                }
                Err(e) => {
                    drop(process);
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    last_error = format!("{e}\n--- prometheus log ---\n{log}");
                }
            }
        }
        Err(format!(
            "prometheus did not start after {START_ATTEMPTS} attempts: {last_error}"
        ))
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `POST path` with `headers` and `body`: the status code and body.
    pub fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(u16, String), String> {
        http_request(self.port, "POST", path, headers, body)
    }

    /// The server's version, from `/api/v1/status/buildinfo` (`?` if unknown).
    pub fn version(&self) -> String {
        http_get(self.port, "/api/v1/status/buildinfo")
            .ok()
            .and_then(|(_, body)| serde_json::from_str::<serde_json::Value>(&body).ok())
            .and_then(|json| json["data"]["version"].as_str().map(String::from))
            .unwrap_or_else(|| "?".into())
    }

    /// The loopback port the server listens on (used by `tests/remote_read.rs`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.process.0.id()
    }

    /// `GET /api/v1/query` at `time` (milliseconds): the status code and body.
    pub fn query(&self, expr: &str, time: i64) -> Result<(u16, String), String> {
        http_get(
            self.port,
            &format!(
                "/api/v1/query?query={}&time={}",
                url_encode(expr),
                seconds(time)
            ),
        )
    }

    /// `GET /api/v1/query_range` (start and end in milliseconds, step in
    /// seconds): the status code and body.
    pub fn query_range(
        &self,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<(u16, String), String> {
        http_get(
            self.port,
            &format!(
                "/api/v1/query_range?query={}&start={}&end={}&step={step}",
                url_encode(expr),
                seconds(start),
                seconds(end)
            ),
        )
    }
}

/// Polls `/-/ready` until it answers 200, the process exits, or the time is up.
fn wait_ready(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("prometheus exited early ({status})"));
        }
        if let Ok((200, _)) = http_get(port, "/-/ready") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("prometheus not ready after {READY_TIMEOUT:?}"))
}

/// Milliseconds as the API's seconds parameter (`1700000000.500`).
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// A loopback port that was free a moment ago.
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| format!("cannot bind a loopback port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot read the bound port: {e}"))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A blocking HTTP/1.0 GET on 127.0.0.1.
fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    http_request(port, "GET", path, &[], &[])
}

/// A blocking HTTP/1.0 request on 127.0.0.1 (HTTP/1.0, so the body is
/// neither chunked nor kept alive: it ends at end of stream).
fn http_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<(u16, String), String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream =
        TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        .map_err(|e| format!("socket timeouts: {e}"))?;
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    stream
        .read_to_end(&mut raw)
        .map_err(|e| format!("receive: {e}"))?;
    let text = String::from_utf8(raw).map_err(|e| format!("response is not UTF-8: {e}"))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| "response without a header end".to_string())?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line: {:?}", head.lines().next()))?;
    Ok((status, body.to_string()))
}
