//! TLS terminated by the server itself (rustls with the `ring` provider): a certificate chain
//! and key read from PEM files and read again when they change on disk (a renewal by certbot
//! or any other tool needs no restart), a listener that completes each handshake in its own
//! task (a slow or silent client holds up nobody else), and the plain-HTTP side that only
//! redirects to HTTPS.
//!
//! Without `[tls]` the server speaks plain HTTP, for loopback or behind a proxy that
//! terminates TLS (`trust_forwarded_for`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A handshake that has not finished by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more wait to be accepted.
const MAX_HANDSHAKES: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("tls.cert_file {path}: {source}")]
    ReadCert {
        path: String,
        source: std::io::Error,
    },
    #[error("tls.key_file {path}: {source}")]
    ReadKey {
        path: String,
        source: std::io::Error,
    },
    #[error("tls.cert_file {0}: no certificate in it (PEM `CERTIFICATE` blocks expected)")]
    NoCertificate(String),
    #[error("tls.key_file {0}: no private key in it (PEM PKCS#8, PKCS#1 or SEC1 expected)")]
    NoKey(String),
    #[error("tls.key_file {0}: not a key this server can sign with: {1}")]
    BadKey(String, String),
    #[error("tls: the key in {key} is not the key of the certificate in {cert}")]
    Mismatch { cert: String, key: String },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads and checks a certificate chain and its key.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let cert_name = cert.display().to_string();
    let key_name = key.display().to_string();
    let cert_pem = std::fs::read(cert).map_err(|source| TlsError::ReadCert {
        path: cert_name.clone(),
        source,
    })?;
    let key_pem =
        zeroize::Zeroizing::new(std::fs::read(key).map_err(|source| TlsError::ReadKey {
            path: key_name.clone(),
            source,
        })?);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert_name));
    }
    let private =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::NoKey(key_name.clone()))?;
    let signing = provider()
        .key_provider
        .load_private_key(private)
        .map_err(|e| TlsError::BadKey(key_name.clone(), e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|_| TlsError::Mismatch {
        cert: cert_name,
        key: key_name,
    })?;
    Ok(certified)
}

/// A certificate and its PKCS#8 key, as made in memory (a placeholder).
pub fn certified_from_der(
    cert: CertificateDer<'static>,
    pkcs8_key: Vec<u8>,
) -> Result<CertifiedKey, TlsError> {
    let key = PrivateKeyDer::Pkcs8(pkcs8_key.into());
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| TlsError::BadKey("(in memory)".into(), e.to_string()))?;
    Ok(CertifiedKey::new(vec![cert], signing))
}

/// The certificate the server presents, swapped whole when the files change or ACME brings a
/// new one.
#[derive(Debug)]
pub struct CertStore {
    /// The certificate and key files it is read from (none: ACME installs it).
    files: Option<(PathBuf, PathBuf)>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' modification times when last loaded.
    stamp: RwLock<(Option<SystemTime>, Option<SystemTime>)>,
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl CertStore {
    /// Loads the files; an error here stops the server from starting.
    pub fn open(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let stamp = (modified(cert), modified(key));
        let loaded = load_certified_key(cert, key)?;
        Ok(Self {
            files: Some((cert.to_owned(), key.to_owned())),
            current: RwLock::new(Arc::new(loaded)),
            stamp: RwLock::new(stamp),
        })
    }

    /// Serves `key` until [`Self::install`] replaces it.
    pub fn holding(key: CertifiedKey) -> Self {
        Self {
            files: None,
            current: RwLock::new(Arc::new(key)),
            stamp: RwLock::new((None, None)),
        }
    }

    /// Serves `key` from now on (new handshakes; connections open keep theirs).
    pub fn install(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
    }

    /// Loads the files again if either changed since the last load. A pair that does not load
    /// (a renewal half written, a key that does not match) leaves the current one in place:
    /// a bad file never takes the server off the air. Returns whether it swapped.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let Some((cert, key)) = &self.files else {
            return Ok(false);
        };
        let now = (modified(cert), modified(key));
        let seen = *self.stamp.read().unwrap_or_else(|e| e.into_inner());
        if now == seen {
            return Ok(false);
        }
        let loaded = load_certified_key(cert, key)?;
        self.install(loaded);
        *self.stamp.write().unwrap_or_else(|e| e.into_inner()) = now;
        Ok(true)
    }

    /// The certificate served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The rustls configuration: TLS 1.2 and 1.3 with the provider's safe defaults, HTTP/1.1
/// named by ALPN (the server is built without HTTP/2: offering `h2` would have clients speak
/// what it cannot answer), the certificate from `certs`.
pub fn server_config(certs: Arc<CertStore>) -> Result<rustls::ServerConfig, rustls::Error> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Checks the certificate files every `every` until `shutdown`, swapping in a new pair.
pub async fn watch_files(
    certs: Arc<CertStore>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        match certs.reload_if_changed() {
            Ok(true) => tracing::info!("certificate reloaded from its files"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(cause = %e, "the certificate files changed but do not load; still serving the previous certificate");
            }
        }
    }
}

/// Accepts TCP connections and hands on those whose TLS handshake completed. Each handshake
/// runs in its own task with a deadline, at most [`MAX_HANDSHAKES`] at once.
#[derive(Debug)]
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: rustls::ServerConfig) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let (tx, ready) = mpsc::channel(64);
        let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                // The server dropped the listener (it is shutting down): let the port go.
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = tx.closed() => return,
                };
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(cause = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(cause = %e, "a TLS handshake failed");
                            metrics::counter!("porchlight_tls_handshake_failures_total")
                                .increment(1);
                        }
                        Err(_) => {
                            metrics::counter!("porchlight_tls_handshake_failures_total")
                                .increment(1);
                        }
                    }
                });
            }
        });
        Ok(Self { ready, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(ready) => ready,
            // The accept task ended (the runtime is shutting down): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The `Strict-Transport-Security` value for `max_age_secs` (none for 0).
pub fn hsts(max_age_secs: u64) -> Option<HeaderValue> {
    (max_age_secs > 0)
        .then(|| HeaderValue::from_str(&format!("max-age={max_age_secs}")).ok())
        .flatten()
}

/// ACME HTTP-01 answers waiting to be fetched: token → key authorization.
pub type Http01 = Arc<RwLock<std::collections::HashMap<String, String>>>;

/// The plain-HTTP side: an ACME server's HTTP-01 fetch of a token in `http01` is answered;
/// every other request is sent, permanently and with its method kept (`308`), to the same
/// path over HTTPS. The host is `public_url`'s when configured, else the one the request named
/// (it is the client's own request: nobody else's answer is at stake), with the HTTPS port
/// when it is not 443.
pub fn redirect_router(public_url: Option<String>, https_port: u16, http01: Http01) -> Router {
    Router::new()
        .route(
            "/.well-known/acme-challenge/{token}",
            axum::routing::get(
                move |axum::extract::Path(token): axum::extract::Path<String>| {
                    let http01 = Arc::clone(&http01);
                    async move {
                        let answer = http01
                            .read()
                            .unwrap_or_else(|e| e.into_inner())
                            .get(&token)
                            .cloned();
                        match answer {
                            Some(key_authorization) => (
                                StatusCode::OK,
                                [(header::CONTENT_TYPE, "text/plain")],
                                key_authorization,
                            )
                                .into_response(),
                            None => StatusCode::NOT_FOUND.into_response(),
                        }
                    }
                },
            ),
        )
        .fallback(move |uri: Uri, headers: HeaderMap| {
            let public_url = public_url.clone();
            async move { redirect(public_url.as_deref(), https_port, &uri, &headers) }
        })
}

fn redirect(public_url: Option<&str>, https_port: u16, uri: &Uri, headers: &HeaderMap) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let origin = match public_url {
        Some(url) => url.replacen("http://", "https://", 1),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| h.parse::<axum::http::uri::Authority>().ok());
            let Some(host) = host else {
                return (StatusCode::BAD_REQUEST, "use https").into_response();
            };
            match https_port {
                443 => format!("https://{}", host.host()),
                port => format!("https://{}:{port}", host.host()),
            }
        }
    };
    match HeaderValue::from_str(&format!("{origin}{path}")) {
        Ok(location) => (
            StatusCode::PERMANENT_REDIRECT,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => (StatusCode::BAD_REQUEST, "use https").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let made = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        (cert, key)
    }

    #[test]
    fn a_pair_loads_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "a.example");
        assert!(load_certified_key(&cert, &key).is_ok());
        let (_, other_key) = pair(dir.path(), "b.example");
        assert!(matches!(
            load_certified_key(&cert, &other_key),
            Err(TlsError::Mismatch { .. })
        ));
        assert!(matches!(
            load_certified_key(&key, &key),
            Err(TlsError::NoCertificate(_))
        ));
        assert!(matches!(
            load_certified_key(&cert, &cert),
            Err(TlsError::NoKey(_))
        ));
        let missing = dir.path().join("missing.pem");
        let err = load_certified_key(&missing, &key).unwrap_err();
        assert!(err.to_string().contains("missing.pem"), "{err}");
    }

    #[test]
    fn a_changed_pair_is_swapped_in_and_a_broken_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "a.example");
        let store = CertStore::open(&cert, &key).unwrap();
        let first = store.current();
        assert!(!store.reload_if_changed().unwrap());
        // A renewal: new files over the old ones (mtimes move on).
        std::thread::sleep(Duration::from_millis(20));
        let (c2, k2) = pair(dir.path(), "renewed.example");
        std::fs::rename(&c2, &cert).unwrap();
        std::fs::rename(&k2, &key).unwrap();
        assert!(store.reload_if_changed().unwrap());
        let second = store.current();
        assert_ne!(first.cert[0], second.cert[0]);
        // Half a renewal (a new certificate, the old key): refused, the last good pair stays.
        std::thread::sleep(Duration::from_millis(20));
        let (c3, _) = pair(dir.path(), "half.example");
        std::fs::rename(&c3, &cert).unwrap();
        assert!(store.reload_if_changed().is_err());
        assert_eq!(store.current().cert[0], second.cert[0]);
    }

    #[test]
    fn alpn_names_only_what_the_server_speaks() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path(), "a.example");
        let config = server_config(Arc::new(CertStore::open(&cert, &key).unwrap())).unwrap();
        assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }

    #[test]
    fn plain_http_redirects_to_https() {
        let uri: Uri = "/clips?x=1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::HOST,
            HeaderValue::from_static("cams.example.com:80"),
        );
        let to = |r: Response| {
            assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
            r.headers()[header::LOCATION].to_str().unwrap().to_owned()
        };
        assert_eq!(
            to(redirect(None, 443, &uri, &headers)),
            "https://cams.example.com/clips?x=1"
        );
        assert_eq!(
            to(redirect(None, 8443, &uri, &headers)),
            "https://cams.example.com:8443/clips?x=1"
        );
        assert_eq!(
            to(redirect(Some("https://porch.example"), 443, &uri, &headers)),
            "https://porch.example/clips?x=1"
        );
        headers.insert(header::HOST, HeaderValue::from_static("bad host/x"));
        assert_eq!(
            redirect(None, 443, &uri, &headers).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(hsts(0), None);
        assert_eq!(hsts(60).unwrap(), "max-age=60");
    }
}
