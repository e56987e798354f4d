//! Command-line settings of the remote-read and remote-write endpoints:
//! custom headers and authentication, applied to either client builder.

use std::path::PathBuf;
use std::time::Duration;

use promql_engine::storage::remote::{RemoteReadBuilder, RemoteWriteBuilder};

use super::Failure;

/// Headers and authentication sent to `--remote-read` and `--remote-write`
/// endpoints.
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
}

/// The builder methods the two remote clients share.
pub(crate) trait HttpOptions: Sized {
    fn header(self, name: &str, value: &str) -> Self;
    fn bearer_token(self, token: &str) -> Self;
    fn basic_auth(self, user: &str, password: &str) -> Self;
    fn timeout(self, timeout: Duration) -> Self;
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
        Ok(builder)
    }
}
