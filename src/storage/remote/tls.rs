//! TLS options shared by the remote-read and remote-write clients (feature
//! `remote-tls`): custom CA certificates, a client certificate for mutual
//! TLS, and skipping verification. Files and PEM bytes are only read and
//! checked when a client is built, so every problem is reported there with
//! the file it is about.

use std::path::PathBuf;
use std::sync::Arc;

use std::borrow::Cow;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

/// A TLS option of a remote client is not usable: a file that cannot be
/// read, PEM that does not parse, or certificates and keys that rustls
/// refuses.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsConfigError {
    /// A certificate or key file could not be read.
    #[error("cannot read {what} file {path:?}: {reason}")]
    ReadFile {
        /// `CA certificate`, `client certificate` or `client key`.
        what: &'static str,
        /// The file as given.
        path: PathBuf,
        /// The operating system's message.
        reason: String,
    },
    /// The PEM text is malformed.
    #[error("{what} {origin}: invalid PEM: {reason}")]
    BadPem {
        /// `CA certificate`, `client certificate` or `client key`.
        what: &'static str,
        /// `file "<path>"` or `(PEM bytes)`.
        origin: String,
        /// What the PEM parser reported.
        reason: String,
    },
    /// The PEM text holds no `CERTIFICATE` block.
    #[error("{what} {origin}: no certificate found (expected a PEM \"BEGIN CERTIFICATE\" block)")]
    NoCertificate {
        /// `CA certificate` or `client certificate`.
        what: &'static str,
        /// `file "<path>"` or `(PEM bytes)`.
        origin: String,
    },
    /// The PEM text holds no private key.
    #[error(
        "client key {origin}: no private key found (expected a PEM \"BEGIN PRIVATE KEY\", \
         \"BEGIN RSA PRIVATE KEY\" or \"BEGIN EC PRIVATE KEY\" block)"
    )]
    NoPrivateKey {
        /// `file "<path>"` or `(PEM bytes)`.
        origin: String,
    },
    /// A CA certificate parses as PEM but is not a usable X.509 certificate.
    #[error("CA certificate {origin}: certificate {index} is not usable: {reason}")]
    BadCaCertificate {
        /// `file "<path>"` or `(PEM bytes)`.
        origin: String,
        /// Its position among the certificates of that source, from 1.
        index: usize,
        /// What rustls reported.
        reason: String,
    },
    /// The TLS server name is not a DNS name or IP address.
    #[error("invalid TLS server name {name:?}: {reason}")]
    BadServerName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The client certificate and key cannot be used together (unsupported
    /// key type, malformed key, or a key that does not belong to the certificate).
    #[error("client certificate {cert} with key {key}: {reason}")]
    BadClientCertificate {
        /// Where the certificate came from.
        cert: String,
        /// Where the key came from.
        key: String,
        /// What rustls reported.
        reason: String,
    },
}

/// PEM text given directly or as a file read when the client is built.
#[derive(Clone)]
pub(crate) enum PemSource {
    File(PathBuf),
    Bytes(Arc<[u8]>),
}

impl std::fmt::Debug for PemSource {
    /// Never prints the bytes: they may be a private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.origin())
    }
}

impl PemSource {
    /// How errors name it.
    fn origin(&self) -> String {
        match self {
            PemSource::File(path) => format!("file {path:?}"),
            PemSource::Bytes(_) => "(PEM bytes)".to_string(),
        }
    }

    /// The PEM text.
    fn bytes(&self, what: &'static str) -> Result<Cow<'_, [u8]>, TlsConfigError> {
        match self {
            PemSource::Bytes(bytes) => Ok(Cow::Borrowed(bytes)),
            PemSource::File(path) => {
                std::fs::read(path)
                    .map(Cow::Owned)
                    .map_err(|e| TlsConfigError::ReadFile {
                        what,
                        path: path.clone(),
                        reason: e.to_string(),
                    })
            }
        }
    }

    /// Every recognized PEM item, or the first problem.
    fn items(
        &self,
        what: &'static str,
        bytes: &[u8],
    ) -> Result<Vec<PemItem<'static>>, TlsConfigError> {
        ureq::tls::parse_pem(bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsConfigError::BadPem {
                what,
                origin: self.origin(),
                reason: pem_reason(&e),
            })
    }

    /// The certificates, at least one.
    fn certificates(
        &self,
        what: &'static str,
    ) -> Result<Vec<Certificate<'static>>, TlsConfigError> {
        let certs: Vec<_> = self
            .items(what, &self.bytes(what)?)?
            .into_iter()
            .filter_map(|item| match item {
                PemItem::Certificate(cert) => Some(cert),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(TlsConfigError::NoCertificate {
                what,
                origin: self.origin(),
            });
        }
        Ok(certs)
    }

    /// The first private key, for ureq and for rustls.
    fn private_key(&self) -> Result<(PrivateKey<'static>, PrivateKeyDer<'static>), TlsConfigError> {
        let what = "client key";
        let bytes = self.bytes(what)?;
        let no_key = || TlsConfigError::NoPrivateKey {
            origin: self.origin(),
        };
        let key = self
            .items(what, &bytes)?
            .into_iter()
            .find_map(|item| match item {
                PemItem::PrivateKey(key) => Some(key),
                _ => None,
            })
            .ok_or_else(no_key)?;
        // The same first key, typed for rustls.
        let der = PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| no_key())?;
        Ok((key, der))
    }
}

/// ureq reports PEM errors with their `Debug` form behind a `PEM:` prefix;
/// keep only the parser's part.
fn pem_reason(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Pem(inner) => format!("{inner:?}"),
        other => other.to_string(),
    }
}

/// The TLS options of one client.
#[derive(Clone, Debug, Default)]
pub(crate) struct TlsSettings {
    pub(crate) ca: Vec<PemSource>,
    pub(crate) with_default_roots: bool,
    pub(crate) client: Option<(PemSource, PemSource)>,
    pub(crate) insecure_skip_verify: bool,
    pub(crate) server_name: Option<String>,
}

impl TlsSettings {
    /// Reads and checks every certificate and key and builds ureq's TLS
    /// configuration.
    pub(crate) fn config(&self) -> Result<TlsConfig, TlsConfigError> {
        let mut builder = TlsConfig::builder().disable_verification(self.insecure_skip_verify);
        if !self.ca.is_empty() {
            let mut roots = Vec::new();
            for source in &self.ca {
                let certs = source.certificates("CA certificate")?;
                check_ca_certificates(source, &certs)?;
                roots.extend(certs);
            }
            if self.with_default_roots {
                roots.extend(
                    webpki_root_certs::TLS_SERVER_ROOT_CERTS
                        .iter()
                        .map(|c| Certificate::from_der(c.as_ref())),
                );
            }
            builder = builder.root_certs(RootCerts::from(roots));
        }
        if let Some((cert, key)) = &self.client {
            builder = builder.client_cert(Some(client_cert(cert, key)?));
        }
        Ok(builder.build())
    }
}

/// rustls silently skips root certificates it cannot parse; refuse them
/// instead, so a bad CA file is reported rather than trusted as nothing.
fn check_ca_certificates(
    source: &PemSource,
    certs: &[Certificate<'static>],
) -> Result<(), TlsConfigError> {
    let mut store = rustls::RootCertStore::empty();
    for (i, cert) in certs.iter().enumerate() {
        store.add(CertificateDer::from(cert.der())).map_err(|e| {
            TlsConfigError::BadCaCertificate {
                origin: source.origin(),
                index: i + 1,
                reason: e.to_string(),
            }
        })?;
    }
    Ok(())
}

/// The client certificate chain and key, checked with the same rustls call
/// ureq makes when it connects (which would panic on a bad pair).
fn client_cert(cert: &PemSource, key: &PemSource) -> Result<ClientCert, TlsConfigError> {
    let chain = cert.certificates("client certificate")?;
    let (private_key, key_der) = key.private_key()?;
    let bad = |reason: String| TlsConfigError::BadClientCertificate {
        cert: cert.origin(),
        key: key.origin(),
        reason,
    };
    let chain_der = chain
        .iter()
        .map(|c| CertificateDer::from(c.der().to_vec()))
        .collect();
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    rustls::sign::CertifiedKey::from_der(chain_der, key_der, &provider)
        .map_err(|e| bad(e.to_string()))?;
    Ok(ClientCert::new_with_certs(&chain, private_key))
}

/// A hint for a connection error caused by TLS, or an empty string: what
/// the user can change when the server's certificate was refused or the
/// server wanted a client certificate.
pub(crate) fn hint(error: &ureq::Error) -> &'static str {
    let rustls_error = match error {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForName
            | rustls::CertificateError::NotValidForNameContext { .. },
        )) => {
            " (the server's TLS certificate does not name this host: use a host name it \
             names in the URL, or set the name to verify (--remote-tls-server-name))"
        }
        Some(rustls::Error::InvalidCertificate(_)) => {
            " (the server's TLS certificate was not accepted: if it is signed by your own CA, \
             configure that CA's certificate (--remote-ca-file))"
        }
        Some(rustls::Error::AlertReceived(
            rustls::AlertDescription::CertificateRequired
            | rustls::AlertDescription::HandshakeFailure
            | rustls::AlertDescription::BadCertificate
            | rustls::AlertDescription::UnknownCA,
        )) => {
            " (the server refused the TLS handshake: it may require a client certificate \
             (--remote-cert-file and --remote-key-file) signed by a CA it trusts)"
        }
        _ => "",
    }
}

/// The TLS builder methods of [`RemoteReadBuilder`](super::RemoteReadBuilder)
/// and [`RemoteWriteBuilder`](super::RemoteWriteBuilder), written once: each
/// sets a field of the builder's shared `http.tls` settings.
macro_rules! tls_builder_methods {
    () => {
        /// Trusts the CA certificates in this PEM text (one or more
        /// `CERTIFICATE` blocks; repeatable). With custom CAs, servers are
        /// verified against them only, as Prometheus' `ca_file` does, unless
        /// [`with_default_roots`](Self::with_default_roots) is set. Checked by `build`.
        pub fn ca_cert_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
            let bytes: Vec<u8> = pem.into();
            self.http
                .tls
                .ca
                .push($crate::storage::remote::tls::PemSource::Bytes(bytes.into()));
            self
        }

        /// Trusts the CA certificates in this PEM file (repeatable); read
        /// and checked by `build`. See [`ca_cert_pem`](Self::ca_cert_pem).
        pub fn ca_cert_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
            self.http
                .tls
                .ca
                .push($crate::storage::remote::tls::PemSource::File(path.into()));
            self
        }

        /// With custom CA certificates, also trusts Mozilla's root
        /// certificates (the roots used when no CA is configured). Default: false.
        pub fn with_default_roots(mut self, yes: bool) -> Self {
            self.http.tls.with_default_roots = yes;
            self
        }

        /// Presents this client certificate (PEM; the leaf first, then any
        /// intermediates) with its private key (PEM, PKCS#8, PKCS#1 or SEC1)
        /// to servers that ask for one (mutual TLS). Checked by `build`.
        pub fn client_cert_pem(
            mut self,
            cert: impl Into<Vec<u8>>,
            key: impl Into<Vec<u8>>,
        ) -> Self {
            let (cert, key): (Vec<u8>, Vec<u8>) = (cert.into(), key.into());
            self.http.tls.client = Some((
                $crate::storage::remote::tls::PemSource::Bytes(cert.into()),
                $crate::storage::remote::tls::PemSource::Bytes(key.into()),
            ));
            self
        }

        /// Like [`client_cert_pem`](Self::client_cert_pem), reading the
        /// certificate and key files when the client is built.
        pub fn client_cert_file(
            mut self,
            cert: impl Into<std::path::PathBuf>,
            key: impl Into<std::path::PathBuf>,
        ) -> Self {
            self.http.tls.client = Some((
                $crate::storage::remote::tls::PemSource::File(cert.into()),
                $crate::storage::remote::tls::PemSource::File(key.into()),
            ));
            self
        }

        /// Names this host in the TLS handshake (SNI) and verifies the
        /// server's certificate for it, instead of the URL's host, e.g. when
        /// the URL holds an IP address or an internal name. The connection
        /// still goes to the URL's host, and `Host` still names it. With an
        /// HTTP proxy, the proxy is asked for the server name. Checked by `build`.
        pub fn tls_server_name(mut self, name: &str) -> Self {
            self.http.tls.server_name = Some(name.to_string());
            self
        }

        /// **Dangerous:** accepts any server certificate, whoever signed it
        /// and whatever host it names. The connection is still encrypted but
        /// no longer authenticated: anyone on the path can read and change
        /// the traffic, credentials included. Only for tests and throw-away
        /// setups; configure the server's CA instead. Default: false.
        pub fn insecure_skip_verify(mut self, yes: bool) -> Self {
            self.http.tls.insecure_skip_verify = yes;
            self
        }
    };
}
pub(crate) use tls_builder_methods;
