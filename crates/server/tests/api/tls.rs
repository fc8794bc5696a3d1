//! TLS terminated by the server: certificate files, their renewal on disk, the plain-HTTP
//! redirect and HSTS, a silent client that must not hold up the rest, and configuration that
//! cannot work refused at start.

use std::path::{Path, PathBuf};
use std::time::Duration;

use porchlight_server::clock::SystemClock;
use porchlight_server::config::Config;

use crate::harness::TestApp;

struct Pair {
    cert: PathBuf,
    key: PathBuf,
    pem: String,
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written as PEM files.
fn pair(dir: &Path, name: &str) -> Pair {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    Pair {
        cert,
        key,
        pem: made.cert.pem(),
    }
}

/// A client that trusts only `pem`, with no connection reuse (each request a new handshake).
fn trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_tls_from_files_redirects_plain_http_and_sends_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let first = pair(dir.path(), "first");
    let (cert, key) = (first.cert.clone(), first.key.clone());
    let app = TestApp::sqlite(move |c| {
        c.tls.cert_file = Some(cert);
        c.tls.key_file = Some(key);
        c.tls.redirect_listen = Some("127.0.0.1:0".into());
        c.tls.reload_secs = 1;
    })
    .await;
    assert!(app.server.tls);
    let port = app.server.addr.port();
    let https = format!("https://localhost:{port}");

    let answer = trusting(&first.pem)
        .get(format!("{https}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        answer.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    // The API over TLS, as a client library would use it.
    let api = trusting(&first.pem)
        .get(format!("{https}/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);

    // Plain HTTP on the TLS port is not served.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);

    // The plain-HTTP side only redirects, keeping the path and the method.
    let redirect = app.server.redirect_addr.unwrap();
    let moved = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!(
            "http://localhost:{}/api/login?next=1",
            redirect.port()
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 308);
    assert_eq!(
        moved.headers()["location"],
        format!("https://localhost:{port}/api/login?next=1").as_str()
    );

    // A client that opens a connection and says nothing holds up nobody.
    let _silent = tokio::net::TcpStream::connect(app.server.addr)
        .await
        .unwrap();
    let others = trusting(&first.pem)
        .get(format!("{https}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(others.status(), 200);

    // A renewal on disk is served without a restart; the old certificate is gone.
    let second = pair(dir.path(), "second");
    std::fs::rename(&second.cert, &first.cert).unwrap();
    std::fs::rename(&second.key, &first.key).unwrap();
    let renewed = trusting(&second.pem);
    let mut served = false;
    for _ in 0..50 {
        if renewed
            .get(format!("{https}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "the renewed certificate was not served within 5 s");
    assert!(
        trusting(&first.pem)
            .get(format!("{https}/healthz"))
            .send()
            .await
            .is_err(),
        "the old certificate is still served"
    );
    // Half a renewal (a certificate without its key) is not taken: the last good pair stays.
    let third = pair(dir.path(), "third");
    std::fs::rename(&third.cert, &first.cert).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        renewed
            .get(format!("{https}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn tls_configuration_that_cannot_work_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let a = pair(dir.path(), "a");
    let b = pair(dir.path(), "b");
    let base = || Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("data"),
        ..Config::default()
    };
    // A key that is not the certificate's: the error names both files.
    let mut mismatched = base();
    mismatched.tls.cert_file = Some(a.cert.clone());
    mismatched.tls.key_file = Some(b.key.clone());
    let refused = porchlight_server::start(mismatched, std::sync::Arc::new(SystemClock))
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(
        refused.contains("a.crt") && refused.contains("b.key"),
        "{refused}"
    );

    // Half a pair, or a redirect without TLS: refused when the configuration is read.
    let path = dir.path().join("porchlight.toml");
    std::fs::write(
        &path,
        format!("[tls]\ncert_file = \"{}\"\n", a.cert.display()),
    )
    .unwrap();
    let err = Config::load(Some(&path), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("go together"), "{err}");
    std::fs::write(&path, "[tls]\nredirect_listen = \"0.0.0.0:80\"\n").unwrap();
    let err = Config::load(Some(&path), &Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs tls.cert_file"), "{err}");
}
