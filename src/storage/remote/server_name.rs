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

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str, name: &str) -> Result<ServerNameTarget, TlsConfigError> {
        ServerNameTarget::new(&url.parse().unwrap(), name)
    }

    #[test]
    fn the_request_url_carries_the_name_and_host_keeps_the_authority() {
        let t = target("https://10.1.2.3:9090/api/v1/read?x=1", "prom.internal").unwrap();
        assert_eq!(t.request_url, "https://prom.internal:9090/api/v1/read?x=1");
        assert_eq!(t.host_header, "10.1.2.3:9090");
        assert_eq!(t.resolver.server_host, "prom.internal");

        let t = target("https://prom.example/api/v1/write", "::1").unwrap();
        assert_eq!(t.request_url, "https://[::1]/api/v1/write");
        assert_eq!(t.host_header, "prom.example");
        assert_eq!(t.resolver.server_host, "[::1]");
    }

    #[test]
    fn names_that_are_neither_dns_names_nor_addresses_are_refused() {
        for bad in ["", "not a name", "a/b"] {
            let err = target("https://x:1/", bad).unwrap_err();
            assert!(
                matches!(err, TlsConfigError::BadServerName { .. }),
                "{bad:?}: {err}"
            );
        }
    }
}
