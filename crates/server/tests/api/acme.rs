//! A certificate from a real ACME server: Pebble (Let's Encrypt's test CA, Debian's `pebble`),
//! started here on loopback with a TLS certificate of this test's own CA. The server orders a
//! certificate for `localhost`, Pebble validates the HTTP-01 challenge by fetching it from the
//! server's plain-HTTP listener, and the certificate Pebble issued is what a client then sees
//! over TLS; with a renewal window wider than the certificate's life it is renewed, and the
//! new one is served without a restart.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use porchlight_server::config::AcmeConfig;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::ServerName;
use rustls_pki_types::pem::PemObject;

use crate::harness::TestApp;

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Pebble {
    child: Child,
    directory: String,
    management: String,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pebble on loopback, validating HTTP-01 on `http_port`. Its own TLS certificate is signed by
/// a CA written to `dir/pebble-ca.pem`.
fn pebble(dir: &Path, http_port: u16) -> Option<Pebble> {
    if Command::new("pebble").arg("-version").output().is_err() {
        println!("ACME test skipped: pebble is not installed (apt-get install pebble)");
        return None;
    }
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca_params, &ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    std::fs::write(dir.join("pebble-ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("pebble.crt"), leaf.pem()).unwrap();
    std::fs::write(dir.join("pebble.key"), leaf_key.serialize_pem()).unwrap();

    let (listen, manage) = (free_port(), free_port());
    let config = serde_json::json!({
        "pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{manage}"),
            "certificate": dir.join("pebble.crt"),
            "privateKey": dir.join("pebble.key"),
            "httpPort": http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }
    });
    std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
    let child = Command::new("pebble")
        .arg("-config")
        .arg(dir.join("pebble.json"))
        .arg("-strict")
        // No random sleep before validating, no random nonce refusals, and every order
        // validated afresh (a renewal proves the name again).
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_AUTHZREUSE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pebble = Pebble {
        child,
        directory: format!("https://127.0.0.1:{listen}/dir"),
        management: format!("https://127.0.0.1:{manage}"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", listen)).is_err() {
        assert!(Instant::now() < deadline, "pebble did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(pebble)
}

/// The leaf certificate the server at `addr` presents for `localhost`, if a client trusting
/// only `root` accepts it.
async fn served_leaf(addr: SocketAddr, root: &[u8]) -> Option<Vec<u8>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(root) {
        roots.add(cert.ok()?).ok()?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.ok()?;
    let name = ServerName::try_from("localhost").ok()?;
    let tls = tokio::time::timeout(Duration::from_secs(5), connector.connect(name, tcp))
        .await
        .ok()?
        .ok()?;
    let (_, session) = tls.get_ref();
    Some(session.peer_certificates()?.first()?.as_ref().to_vec())
}

async fn until<T>(what: &str, within: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_pebble_is_served_and_renewed() {
    let dir = tempfile::tempdir().unwrap();
    let http_port = free_port();
    let Some(pebble) = pebble(dir.path(), http_port) else {
        return;
    };
    let directory = pebble.directory.clone();
    let ca = dir.path().join("pebble-ca.pem");
    let app = TestApp::sqlite(move |c| {
        c.tls.redirect_listen = Some(format!("127.0.0.1:{http_port}"));
        c.tls.acme = Some(AcmeConfig {
            domains: vec!["localhost".into()],
            directory_url: directory,
            contact: vec!["mailto:ops@example.com".into()],
            directory_ca_file: Some(ca),
            // Wider than any certificate's life: every check renews, to see a renewal here.
            renew_before_days: 100_000,
            check_secs: 1,
        });
    })
    .await;

    // The root Pebble issues under, from its management interface (over its own TLS).
    let pebble_ca = std::fs::read(dir.path().join("pebble-ca.pem")).unwrap();
    let management = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pebble_ca).unwrap())
        .build()
        .unwrap();
    let root = management
        .get(format!("{}/roots/0", pebble.management))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();

    // The first certificate: validated over HTTP-01 and served.
    let addr = app.server.addr;
    let first = until(
        "Pebble's certificate to be served",
        Duration::from_secs(60),
        async || served_leaf(addr, &root).await,
    )
    .await;
    let kept = app.server.state.config.data_dir.join("acme");
    assert!(kept.join("cert.pem").exists() && kept.join("account.json").exists());
    // The API answers over it, with HSTS.
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&root).unwrap())
        .build()
        .unwrap();
    let health = client
        .get(format!("https://localhost:{}/healthz", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("strict-transport-security"));

    // A renewal: another certificate, served without a restart.
    let renewed = until(
        "a renewed certificate",
        Duration::from_secs(60),
        async || served_leaf(addr, &root).await.filter(|leaf| *leaf != first),
    )
    .await;
    assert_ne!(renewed, first);
    app.stop().await;
    drop(pebble);
}
