//! A certificate from an ACME CA (RFC 8555) through `instant-acme`: the account and the
//! certificate kept in `DATA/acme/` (keys 0600), the HTTP-01 challenge answered on the
//! plain-HTTP listener, renewal `renew_before_days` before expiry, and retries with backoff
//! while the CA cannot be reached. A fresh server presents a self-signed placeholder for the
//! first domain until its first certificate arrives (a minute at most with a reachable CA),
//! so it can answer the challenge and start at once; a restart presents the kept certificate.

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType,
    HttpClient, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::sign::CertifiedKey;
use tokio::sync::watch;

use crate::config::AcmeConfig;
use crate::tls::{CertStore, Http01, load_certified_key};

const ACCOUNT_FILE: &str = "account.json";
const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";

#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("acme: {0}")]
    Protocol(#[from] instant_acme::Error),
    #[error("acme: the CA did not validate {0}: {1}")]
    Invalid(String, String),
    #[error("acme: the order ended {0:?}")]
    Order(OrderStatus),
    #[error("acme: {0} offers no HTTP-01 challenge")]
    NoHttp01(String),
    #[error("acme files in {path}: {source}")]
    Files {
        path: String,
        source: std::io::Error,
    },
    #[error("acme: the issued certificate does not load: {0}")]
    Issued(#[from] crate::tls::TlsError),
    #[error("acme: {0}")]
    Other(String),
}

/// `instant-acme`'s HTTP through the server's own `reqwest` (rustls with `ring`), trusting the
/// web's roots or, for a private or test CA, the one root configured.
struct Http(reqwest::Client);

impl HttpClient for Http {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| instant_acme::Error::Other(e.into()))?
                .to_bytes();
            let response = client
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e.without_url())))?;
            Ok(BytesResponse::from(http::Response::<reqwest::Body>::from(
                response,
            )))
        })
    }
}

fn http_client(config: &AcmeConfig) -> Result<Http, AcmeError> {
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(30));
    if let Some(ca) = &config.directory_ca_file {
        let pem = std::fs::read(ca).map_err(|source| AcmeError::Files {
            path: ca.display().to_string(),
            source,
        })?;
        let root = reqwest::Certificate::from_pem(&pem).map_err(|e| {
            AcmeError::Other(format!("tls.acme.directory_ca_file {}: {e}", ca.display()))
        })?;
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(root);
    }
    builder
        .build()
        .map(Http)
        .map_err(|e| AcmeError::Other(e.to_string()))
}

/// Writes `bytes` to `dir/name` whole (a temporary file renamed into place), readable by the
/// server's user only.
fn write_private(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), AcmeError> {
    let files = |source| AcmeError::Files {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(files)?;
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp).map_err(files)?;
    file.write_all(bytes).map_err(files)?;
    file.sync_all().map_err(files)?;
    std::fs::rename(&tmp, dir.join(name)).map_err(files)?;
    Ok(())
}

/// When the first certificate in `pem` stops being valid, in Unix seconds.
pub fn not_after(pem: &[u8]) -> Option<i64> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let first = CertificateDer::pem_slice_iter(pem).next()?.ok()?;
    let (_, parsed) = x509_parser::parse_x509_certificate(first.as_ref()).ok()?;
    Some(parsed.validity().not_after.timestamp())
}

/// Obtains and renews the certificate of `config`, installing each in `certs`.
#[derive(Debug)]
pub struct Acme {
    config: AcmeConfig,
    dir: PathBuf,
    http01: Http01,
}

impl Acme {
    pub fn new(config: AcmeConfig, data_dir: &Path, http01: Http01) -> Self {
        Self {
            config,
            dir: data_dir.join("acme"),
            http01,
        }
    }

    /// What to present at start: the kept certificate if it loads, else a self-signed
    /// placeholder for the first domain (which no client trusts; it stands only until the
    /// first certificate arrives).
    pub fn initial(&self) -> Result<CertifiedKey, AcmeError> {
        if let Ok(kept) = load_certified_key(&self.dir.join(CERT_FILE), &self.dir.join(KEY_FILE)) {
            return Ok(kept);
        }
        let name = self.config.domains.first().cloned().unwrap_or_default();
        let made = rcgen::generate_simple_self_signed(vec![name])
            .map_err(|e| AcmeError::Other(e.to_string()))?;
        Ok(crate::tls::certified_from_der(
            made.cert.der().clone(),
            made.signing_key.serialize_der(),
        )?)
    }

    /// Seconds until the kept certificate should be renewed (0: now, or there is none).
    fn due_in_secs(&self, now_secs: i64) -> i64 {
        let renew_before = i64::try_from(self.config.renew_before_days)
            .unwrap_or(i64::MAX / 86_400)
            .saturating_mul(86_400);
        std::fs::read(self.dir.join(CERT_FILE))
            .ok()
            .and_then(|pem| not_after(&pem))
            .map_or(0, |end| {
                (end.saturating_sub(renew_before) - now_secs).max(0)
            })
    }

    async fn account(&self) -> Result<Account, AcmeError> {
        let path = self.dir.join(ACCOUNT_FILE);
        if let Ok(json) = std::fs::read(&path)
            && let Ok(credentials) = serde_json::from_slice::<AccountCredentials>(&json)
        {
            return Ok(
                Account::builder_with_http(Box::new(http_client(&self.config)?))
                    .from_credentials(credentials)
                    .await?,
            );
        }
        let contact: Vec<&str> = self.config.contact.iter().map(String::as_str).collect();
        let (account, credentials) =
            Account::builder_with_http(Box::new(http_client(&self.config)?))
                .create(
                    &NewAccount {
                        contact: &contact,
                        terms_of_service_agreed: true,
                        only_return_existing: false,
                    },
                    self.config.directory_url.clone(),
                    None,
                )
                .await?;
        let json = serde_json::to_vec(&credentials).map_err(|e| AcmeError::Other(e.to_string()))?;
        write_private(&self.dir, ACCOUNT_FILE, &json)?;
        tracing::info!(directory = %self.config.directory_url, "acme account created");
        Ok(account)
    }

    /// One order, from the account to the certificate written beside it.
    pub async fn obtain(&self) -> Result<CertifiedKey, AcmeError> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self
            .config
            .domains
            .iter()
            .map(|d| Identifier::Dns(d.clone()))
            .collect();
        let mut order = account.new_order(&NewOrder::new(&identifiers)).await?;
        let mut tokens = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz?;
            match authz.status {
                AuthorizationStatus::Pending => {}
                AuthorizationStatus::Valid => continue,
                other => {
                    return Err(AcmeError::Invalid(
                        format!("{:?}", authz.identifier()),
                        format!("{other:?}"),
                    ));
                }
            }
            let name = format!("{:?}", authz.identifier());
            let mut challenge = authz
                .challenge(ChallengeType::Http01)
                .ok_or(AcmeError::NoHttp01(name))?;
            let answer = challenge.key_authorization().as_str().to_owned();
            self.http01
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(challenge.token.clone(), answer);
            tokens.push(challenge.token.clone());
            challenge.set_ready().await?;
        }
        let ready = order
            .poll_ready(&RetryPolicy::new().timeout(Duration::from_secs(90)))
            .await;
        {
            let mut http01 = self.http01.write().unwrap_or_else(|e| e.into_inner());
            for token in &tokens {
                http01.remove(token);
            }
        }
        match ready? {
            OrderStatus::Ready => {}
            other => return Err(AcmeError::Order(other)),
        }
        let key_pem = zeroize::Zeroizing::new(order.finalize().await?);
        let chain_pem = order
            .poll_certificate(&RetryPolicy::new().timeout(Duration::from_secs(90)))
            .await?;
        // The key first: a crash between the two leaves a key without its certificate, which
        // does not load, rather than a certificate served with the old key.
        let staged = self.dir.join("staged");
        write_private(&staged, KEY_FILE, key_pem.as_bytes())?;
        write_private(&staged, CERT_FILE, chain_pem.as_bytes())?;
        let loaded = load_certified_key(&staged.join(CERT_FILE), &staged.join(KEY_FILE))?;
        let moved = |source| AcmeError::Files {
            path: self.dir.display().to_string(),
            source,
        };
        std::fs::rename(staged.join(KEY_FILE), self.dir.join(KEY_FILE)).map_err(moved)?;
        std::fs::rename(staged.join(CERT_FILE), self.dir.join(CERT_FILE)).map_err(moved)?;
        Ok(loaded)
    }

    /// Keeps `certs` holding a valid certificate until `shutdown`: obtains one now if there is
    /// none, renews it when it is due, retries a failure after 30 s, doubling to an hour.
    pub async fn run(self, certs: Arc<CertStore>, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(30);
        loop {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            let due = self.due_in_secs(now);
            let wait = if due > 0 {
                Duration::from_secs(u64::try_from(due).unwrap_or(u64::MAX))
                    .min(Duration::from_secs(self.config.check_secs))
            } else {
                match self.obtain().await {
                    Ok(key) => {
                        certs.install(key);
                        metrics::counter!("porchlight_acme_certificates_total").increment(1);
                        tracing::info!(domains = ?self.config.domains, "acme certificate installed");
                        backoff = Duration::from_secs(30);
                        Duration::from_secs(self.config.check_secs)
                    }
                    Err(e) => {
                        metrics::counter!("porchlight_acme_failures_total").increment(1);
                        tracing::warn!(cause = %e, retry_in_secs = backoff.as_secs(), "acme order failed");
                        let wait = backoff;
                        backoff = (backoff * 2).min(Duration::from_secs(3600));
                        wait
                    }
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn expiry_is_read_from_the_certificate() {
        let made = rcgen::generate_simple_self_signed(vec!["a.example".into()]).unwrap();
        let end = not_after(made.cert.pem().as_bytes()).unwrap();
        // rcgen's default validity ends in 4096.
        assert!(end > 4_000_000_000, "{end}");
        assert_eq!(not_after(b"not a certificate"), None);
    }

    #[test]
    fn a_fresh_server_presents_a_placeholder_then_the_kept_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let config = AcmeConfig {
            domains: vec!["cams.example.com".into()],
            directory_url: "https://acme.invalid/dir".into(),
            contact: Vec::new(),
            directory_ca_file: None,
            renew_before_days: 30,
            check_secs: 60,
        };
        let acme = Acme::new(config, dir.path(), Http01::default());
        assert!(acme.initial().is_ok());
        assert_eq!(acme.due_in_secs(0), 0, "no certificate kept: due now");
        // A kept certificate is presented, and not due until 30 days before its end.
        let made = rcgen::generate_simple_self_signed(vec!["cams.example.com".into()]).unwrap();
        write_private(&acme.dir, CERT_FILE, made.cert.pem().as_bytes()).unwrap();
        write_private(
            &acme.dir,
            KEY_FILE,
            made.signing_key.serialize_pem().as_bytes(),
        )
        .unwrap();
        let kept = acme.initial().unwrap();
        assert_eq!(kept.cert[0].as_ref(), made.cert.der().as_ref());
        let end = not_after(made.cert.pem().as_bytes()).unwrap();
        assert_eq!(acme.due_in_secs(end - 31 * 86_400), 86_400);
        assert_eq!(acme.due_in_secs(end - 29 * 86_400), 0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(acme.dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
