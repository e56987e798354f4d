//! TLS server-name override (feature `remote-tls`): the handshake names
//! (SNI) and verifies the certificate for a configured name while the
//! connection still goes to the URL's host, as Prometheus' `server_name`
//! does. ureq takes the TLS name from the request URL, so the request is
//! sent to a URL carrying the server name, a resolver maps that name back
//! to the URL's host, and the `Host` header keeps the URL's authority.

use ureq::config::Config;
use ureq::http::Uri;
use ureq::http::uri::Authority;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use super::tls::TlsConfigError;

/// Where requests go when the server name is overridden.
#[derive(Clone, Debug)]
pub(crate) struct ServerNameTarget {
    /// The endpoint URL with its host replaced by the server name.
    pub(crate) request_url: String,
    /// The endpoint URL's authority (`host[:port]`), sent as `Host`.
    pub(crate) host_header: String,
    /// Resolves the server name to the endpoint URL's host.
    pub(crate) resolver: ServerNameResolver,
}

impl ServerNameTarget {
    /// Checks `name` (a DNS name or an IP address) and rewrites `url`.
    pub(crate) fn new(url: &Uri, name: &str) -> Result<Self, TlsConfigError> {
        let bad = |reason: &str| TlsConfigError::BadServerName {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        rustls::pki_types::ServerName::try_from(name)
            .map_err(|e| bad(&format!("not a DNS name or IP address: {e}")))?;
        let original = url.authority().ok_or_else(|| bad("the URL has no host"))?;
        let host = if name.contains(':') {
            format!("[{name}]")
        } else {
            name.to_string()
        };
        let authority = match original.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        let authority: Authority = authority
            .parse()
            .map_err(|e| bad(&format!("not usable in a URL: {e}")))?;
        let mut parts = url.clone().into_parts();
        parts.authority = Some(authority);
        let request_uri =
            Uri::from_parts(parts).map_err(|e| bad(&format!("not usable in a URL: {e}")))?;
        Ok(ServerNameTarget {
            request_url: request_uri.to_string(),
            host_header: original
                .as_str()
                .rsplit('@')
                .next()
                .unwrap_or("")
                .to_string(),
            resolver: ServerNameResolver {
                server_host: host,
                target: url.clone(),
            },
        })
    }
}

/// Resolves the server name to the endpoint URL's host, and every other
/// host (a proxy) as usual.
#[derive(Clone, Debug)]
pub(crate) struct ServerNameResolver {
    /// The server name as it appears as the host of a URI.
    server_host: String,
    /// The endpoint URL.
    target: Uri,
}

impl Resolver for ServerNameResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let resolver = DefaultResolver::default();
        if uri.host() == Some(self.server_host.as_str()) {
            resolver.resolve(&self.target, config, timeout)
        } else {
            resolver.resolve(uri, config, timeout)
        }
    }
}
