//! HTTP settings shared by the remote-read and remote-write clients: the
//! endpoint URL, the timeout, authentication, custom headers and (with
//! `remote-tls`) the TLS options, checked once and turned into a `ureq` agent.

use std::time::Duration;

#[cfg(feature = "remote-tls")]
use super::tls::{TlsConfigError, TlsSettings};

/// A remote endpoint's URL, a configured header or a TLS option is not usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpConfigError {
    /// The endpoint URL is not usable.
    #[error("invalid remote-{protocol} URL {url:?}: {reason}")]
    BadUrl {
        /// `read` or `write`.
        protocol: &'static str,
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A custom header name or value is not valid HTTP.
    #[error("invalid header {name:?}: {reason}")]
    BadHeader {
        /// The header name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A TLS option (CA certificate, client certificate or key) is not usable.
    #[cfg(feature = "remote-tls")]
    #[error(transparent)]
    Tls(#[from] TlsConfigError),
}

/// Endpoint, timeout, headers (authentication included) and TLS options of a client.
#[derive(Clone, Debug)]
pub(crate) struct HttpSettings {
    pub(crate) url: String,
    pub(crate) timeout: Duration,
    pub(crate) headers: Vec<(String, String)>,
    #[cfg(feature = "remote-tls")]
    pub(crate) tls: TlsSettings,
    /// Set by `agent` when the TLS server name is overridden.
    #[cfg(feature = "remote-tls")]
    server_name: Option<super::server_name::ServerNameTarget>,
}

impl HttpSettings {
    /// Settings for `url` with Prometheus' default `remote_timeout` (1 minute).
    pub(crate) fn new(url: String) -> Self {
        HttpSettings {
            url,
            timeout: Duration::from_secs(60),
            headers: Vec::new(),
            #[cfg(feature = "remote-tls")]
            tls: TlsSettings::default(),
            #[cfg(feature = "remote-tls")]
            server_name: None,
        }
    }

    /// Adds `Authorization: Basic ...`.
    pub(crate) fn basic_auth(&mut self, username: &str, password: &str) {
        let credentials = base64(format!("{username}:{password}").as_bytes());
        self.header("Authorization", &format!("Basic {credentials}"));
    }

    /// Adds `Authorization: Bearer <token>`.
    pub(crate) fn bearer_token(&mut self, token: &str) {
        self.header("Authorization", &format!("Bearer {token}"));
    }

    /// Adds a header, replacing an earlier one of the same name
    /// (compared case-insensitively).
    pub(crate) fn header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.to_string()));
    }

    /// Checks the URL, headers and TLS options and builds the HTTP agent.
    /// `protocol` (`read` or `write`) names the client in errors.
    pub(crate) fn agent(&mut self, protocol: &'static str) -> Result<ureq::Agent, HttpConfigError> {
        let bad_url = |reason: &str| HttpConfigError::BadUrl {
            protocol,
            url: self.url.clone(),
            reason: reason.to_string(),
        };
        let uri: ureq::http::Uri = self.url.parse().map_err(|e| bad_url(&format!("{e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") if cfg!(feature = "remote-tls") => {}
            Some("https") => {
                return Err(bad_url(
                    "https needs the `remote-tls` feature of promql-engine",
                ));
            }
            _ => return Err(bad_url("the scheme must be http or https")),
        }
        if uri.host().is_none() {
            return Err(bad_url("no host"));
        }
        for (name, value) in &self.headers {
            let bad = |reason: String| HttpConfigError::BadHeader {
                name: name.clone(),
                reason,
            };
            ureq::http::HeaderName::try_from(name.as_str()).map_err(|e| bad(e.to_string()))?;
            ureq::http::HeaderValue::try_from(value.as_str()).map_err(|e| bad(e.to_string()))?;
        }
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            .user_agent(USER_AGENT);
        #[cfg(feature = "remote-tls")]
        {
            let config = config.tls_config(self.tls.config()?).build();
            // TLS options mean nothing to an http:// endpoint.
            let https = uri.scheme_str() == Some("https");
            if let Some(name) = self.tls.server_name.as_ref().filter(|_| https) {
                let target = super::server_name::ServerNameTarget::new(&uri, name)?;
                let resolver = target.resolver.clone();
                self.server_name = Some(target);
                return Ok(ureq::Agent::with_parts(
                    config,
                    ureq::unversioned::transport::DefaultConnector::default(),
                    resolver,
                ));
            }
            Ok(config.into())
        }
        #[cfg(not(feature = "remote-tls"))]
        Ok(config.build().into())
    }

    /// A POST request to the endpoint with the custom headers set.
    pub(crate) fn post(
        &self,
        agent: &ureq::Agent,
    ) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        #[cfg(feature = "remote-tls")]
        if let Some(target) = &self.server_name {
            let mut request = agent.post(target.request_url.as_str());
            if !self
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("host"))
            {
                request = request.header("Host", target.host_header.as_str());
            }
            return self.with_headers(request);
        }
        self.with_headers(agent.post(self.url.as_str()))
    }

    /// The request with the custom headers set.
    fn with_headers(
        &self,
        mut request: ureq::RequestBuilder<ureq::typestate::WithBody>,
    ) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request
    }
}

/// What the user can change when a request failed in the TLS handshake
/// (the server's certificate refused, a client certificate wanted), as a
/// parenthesized suffix for the error message; empty otherwise.
pub(crate) fn tls_hint(error: &ureq::Error) -> &'static str {
    #[cfg(feature = "remote-tls")]
    {
        super::tls::hint(error)
    }
    #[cfg(not(feature = "remote-tls"))]
    {
        let _ = error;
        ""
    }
}

/// The `User-Agent` of both clients.
pub(crate) const USER_AGENT: &str = concat!("promql-engine/", env!("CARGO_PKG_VERSION"));

/// Standard base64 with padding (for basic authentication).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group.first().copied().unwrap_or(0),
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The builder methods both remote clients share for authentication and
/// headers, expanded inside each builder's `impl` (the builder has an
/// `http: HttpSettings` field).
macro_rules! auth_builder_methods {
    () => {
        /// Sends HTTP basic authentication.
        pub fn basic_auth(mut self, username: &str, password: &str) -> Self {
            self.http.basic_auth(username, password);
            self
        }

        /// Sends `Authorization: Bearer <token>`.
        pub fn bearer_token(mut self, token: &str) -> Self {
            self.http.bearer_token(token);
            self
        }

        /// Sends a custom header with every request (replacing an earlier
        /// one of the same name, compared case-insensitively), e.g.
        /// `X-Scope-OrgID`.
        pub fn header(mut self, name: &str, value: &str) -> Self {
            self.http.header(name, value);
            self
        }
    };
}

pub(crate) use auth_builder_methods;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn later_headers_replace_earlier_ones_case_insensitively() {
        let mut s = HttpSettings::new("http://x/".into());
        s.bearer_token("a");
        s.header("authorization", "Bearer b");
        assert_eq!(s.headers, vec![("authorization".into(), "Bearer b".into())]);
        s.basic_auth("user", "pass");
        assert_eq!(
            s.headers,
            vec![("Authorization".into(), "Basic dXNlcjpwYXNz".into())]
        );
    }
}
