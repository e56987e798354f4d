//! Command-line settings of the remote-read and remote-write endpoints:
//! custom headers, authentication and TLS, applied to either client builder.

use std::path::PathBuf;
use std::time::Duration;

use promql_engine::storage::remote::{RemoteReadBuilder, RemoteWriteBuilder};

use super::Failure;

/// Headers, authentication and TLS options of `--remote-read` and
/// `--remote-write` endpoints.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct RemoteHttpArgs {
    /// Extra header for remote endpoints, `Name: value` (repeatable), e.g.
    /// `X-Scope-OrgID: tenant-1`.
    #[arg(long = "remote-header", value_name = "HEADER")]
    headers: Vec<String>,
    /// Send `Authorization: Bearer <token>` with the token read from this file.
    #[arg(long = "remote-bearer-token-file", value_name = "FILE")]
    bearer_token_file: Option<PathBuf>,
    /// Basic-authentication user name (with --remote-password-file).
    #[arg(long = "remote-user", value_name = "USER", requires = "password_file")]
    user: Option<String>,
    /// File holding the basic-authentication password.
    #[arg(long = "remote-password-file", value_name = "FILE", requires = "user")]
    password_file: Option<PathBuf>,
    /// CA certificate(s) (PEM) that https endpoints are verified against,
    /// instead of the Mozilla roots (repeatable). Needs the `remote-tls` build.
    #[arg(long = "remote-ca-file", value_name = "FILE")]
    ca_files: Vec<PathBuf>,
    /// Client certificate (PEM) for mutual TLS, with --remote-key-file.
    #[arg(long = "remote-cert-file", value_name = "FILE", requires = "key_file")]
    cert_file: Option<PathBuf>,
    /// Private key (PEM) of --remote-cert-file.
    #[arg(long = "remote-key-file", value_name = "FILE", requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// Name to verify the TLS certificate of remote endpoints for (and to
    /// send as SNI) instead of the URL's host.
    #[arg(long = "remote-tls-server-name", value_name = "NAME")]
    server_name: Option<String>,
    /// DANGEROUS: accept any TLS certificate from remote endpoints. The
    /// traffic (credentials included) can then be read and changed by anyone
    /// on the path; for tests only.
    #[arg(long = "remote-insecure-skip-verify")]
    insecure_skip_verify: bool,
}

/// The builder methods the two remote clients share.
pub(crate) trait HttpOptions: Sized {
    fn header(self, name: &str, value: &str) -> Self;
    fn bearer_token(self, token: &str) -> Self;
    fn basic_auth(self, user: &str, password: &str) -> Self;
    fn timeout(self, timeout: Duration) -> Self;
    #[cfg(feature = "remote-tls")]
    fn ca_cert_file(self, path: &std::path::Path) -> Self;
    #[cfg(feature = "remote-tls")]
    fn client_cert_file(self, cert: &std::path::Path, key: &std::path::Path) -> Self;
    #[cfg(feature = "remote-tls")]
    fn insecure_skip_verify(self, yes: bool) -> Self;
    #[cfg(feature = "remote-tls")]
    fn tls_server_name(self, name: &str) -> Self;
}

macro_rules! http_options {
    ($builder:ty) => {
        impl HttpOptions for $builder {
            fn header(self, name: &str, value: &str) -> Self {
                <$builder>::header(self, name, value)
            }
            fn bearer_token(self, token: &str) -> Self {
                <$builder>::bearer_token(self, token)
            }
            fn basic_auth(self, user: &str, password: &str) -> Self {
                <$builder>::basic_auth(self, user, password)
            }
            fn timeout(self, timeout: Duration) -> Self {
                <$builder>::timeout(self, timeout)
            }
            #[cfg(feature = "remote-tls")]
            fn ca_cert_file(self, path: &std::path::Path) -> Self {
                <$builder>::ca_cert_file(self, path)
            }
            #[cfg(feature = "remote-tls")]
            fn client_cert_file(self, cert: &std::path::Path, key: &std::path::Path) -> Self {
                <$builder>::client_cert_file(self, cert, key)
            }
            #[cfg(feature = "remote-tls")]
            fn insecure_skip_verify(self, yes: bool) -> Self {
                <$builder>::insecure_skip_verify(self, yes)
            }
            #[cfg(feature = "remote-tls")]
            fn tls_server_name(self, name: &str) -> Self {
                <$builder>::tls_server_name(self, name)
            }
        }
    };
}

http_options!(RemoteReadBuilder);
http_options!(RemoteWriteBuilder);

/// A secret file's content without surrounding white space.
fn read_secret(path: &PathBuf) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| Failure::Usage(format!("cannot read {}: {e}", path.display())))
}

impl RemoteHttpArgs {
    /// Applies the timeout, authentication and headers to a client builder.
    pub(crate) fn apply<B: HttpOptions>(
        &self,
        builder: B,
        timeout: Duration,
    ) -> Result<B, Failure> {
        let mut builder = builder.timeout(timeout);
        if let Some(path) = &self.bearer_token_file {
            builder = builder.bearer_token(&read_secret(path)?);
        }
        if let (Some(user), Some(path)) = (&self.user, &self.password_file) {
            builder = builder.basic_auth(user, &read_secret(path)?);
        }
        for header in &self.headers {
            let Some((name, value)) = header.split_once(':') else {
                return Err(Failure::Usage(format!(
                    "invalid --remote-header {header:?}: want `Name: value`"
                )));
            };
            builder = builder.header(name.trim(), value.trim());
        }
        self.apply_tls(builder)
    }

    /// The first TLS flag given, for the error of a build without TLS.
    fn tls_flag(&self) -> Option<&'static str> {
        if !self.ca_files.is_empty() {
            Some("--remote-ca-file")
        } else if self.cert_file.is_some() {
            Some("--remote-cert-file")
        } else if self.key_file.is_some() {
            Some("--remote-key-file")
        } else if self.server_name.is_some() {
            Some("--remote-tls-server-name")
        } else if self.insecure_skip_verify {
            Some("--remote-insecure-skip-verify")
        } else {
            None
        }
    }

    #[cfg(feature = "remote-tls")]
    fn apply_tls<B: HttpOptions>(&self, mut builder: B) -> Result<B, Failure> {
        if self.tls_flag().is_none() {
            return Ok(builder);
        }
        for path in &self.ca_files {
            builder = builder.ca_cert_file(path);
        }
        if let (Some(cert), Some(key)) = (&self.cert_file, &self.key_file) {
            builder = builder.client_cert_file(cert, key);
        }
        if let Some(name) = &self.server_name {
            builder = builder.tls_server_name(name);
        }
        Ok(builder.insecure_skip_verify(self.insecure_skip_verify))
    }

    #[cfg(not(feature = "remote-tls"))]
    fn apply_tls<B: HttpOptions>(&self, builder: B) -> Result<B, Failure> {
        match self.tls_flag() {
            None => Ok(builder),
            Some(flag) => Err(Failure::Usage(format!(
                "{flag}: this promql binary was built without TLS support \
                 (rebuild with `--features remote-tls`)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_engine::storage::remote::RemoteReadStorage;

    #[cfg(not(feature = "remote-tls"))]
    #[test]
    fn tls_flags_without_the_tls_build_are_a_clear_usage_error() {
        let args = RemoteHttpArgs {
            ca_files: vec![PathBuf::from("ca.pem")],
            ..RemoteHttpArgs::default()
        };
        let builder = RemoteReadStorage::builder("http://127.0.0.1:1/api/v1/read");
        let Err(Failure::Usage(message)) = args.apply(builder, Duration::from_secs(1)) else {
            panic!("a usage error expected");
        };
        assert!(message.contains("--remote-ca-file"), "{message}");
        assert!(message.contains("built without TLS support"), "{message}");
    }

    #[test]
    fn no_tls_flags_leave_the_builder_usable() {
        let builder = RemoteReadStorage::builder("http://127.0.0.1:1/api/v1/read");
        let applied = RemoteHttpArgs::default().apply(builder, Duration::from_secs(1));
        assert!(applied.is_ok_and(|b| b.build().is_ok()));
    }
}
