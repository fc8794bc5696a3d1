//! `TestApp`: a running server on port 0 with a simulated clock, a fresh store, and helpers
//! to make accounts and compute TOTP codes the way an authenticator app would.

use std::sync::Arc;

use porchlight_client::proto::{
    LoginRequest, SessionCreated, SignupConfirmRequest, SignupRequest, SignupResponse,
};
use porchlight_client::{Client, ClientError, DeviceId, Secret};
use porchlight_server::clock::{Clock, ManualClock, SystemClock};
use porchlight_server::config::Config;
use porchlight_server::web::WebApp;
use porchlight_server::{RunningServer, auth::totp};
use porchlight_store::testing::{TestDb, fresh_postgres, fresh_sqlite};

use porchlight_server::test_mailbox::Mailbox;

pub const PASSWORD: &str = "correct horse battery staple 42";

/// Runs a scenario once against SQLite and once against PostgreSQL (or prints that the
/// PostgreSQL leg was skipped).
macro_rules! both_backends {
    ($name:ident, $scenario:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::harness::TestApp::sqlite(|_| {}).await;
                super::$scenario(&app).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $crate::harness::TestApp::postgres(|_| {}).await else {
                    return;
                };
                super::$scenario(&app).await;
                app.stop().await;
            }
        }
    };
    ($name:ident, $scenario:ident, $configure:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::harness::TestApp::sqlite($configure).await;
                super::$scenario(&app).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $crate::harness::TestApp::postgres($configure).await else {
                    return;
                };
                super::$scenario(&app).await;
                app.stop().await;
            }
        }
    };
}
pub(crate) use both_backends;

/// Like `both_backends!`, on a server that sends email to a [`Mailbox`] (`app.mail()`), with
/// `public_url` set to [`PUBLIC_URL`].
macro_rules! both_backends_mail {
    ($name:ident, $scenario:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::harness::TestApp::sqlite_mail(|_| {}).await;
                super::$scenario(&app).await;
                app.stop().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = $crate::harness::TestApp::postgres_mail(|_| {}).await else {
                    return;
                };
                super::$scenario(&app).await;
                app.stop().await;
            }
        }
    };
}
pub(crate) use both_backends_mail;

/// The address emailed links start with in tests that send mail.
pub const PUBLIC_URL: &str = "https://cams.example.test";

pub struct TestApp {
    pub server: RunningServer,
    pub url: String,
    pub clock: ManualClock,
    mail: Option<Mailbox>,
    db: TestDb,
    _data: tempfile::TempDir,
}

/// An account with a confirmed second factor and one signed-in client.
pub struct Account {
    pub email: String,
    pub totp_secret: String,
    pub recovery_codes: Vec<String>,
    pub client: Client,
    pub session: SessionCreated,
}

impl TestApp {
    pub async fn sqlite(configure: impl FnOnce(&mut Config)) -> Self {
        Self::start(fresh_sqlite(), configure, WebApp::embedded()).await
    }

    pub async fn postgres(configure: impl FnOnce(&mut Config)) -> Option<Self> {
        let db = fresh_postgres().await?;
        Some(Self::start(db, configure, WebApp::embedded()).await)
    }

    /// A server on SQLite that sends email to a mailbox of its own.
    pub async fn sqlite_mail(configure: impl FnOnce(&mut Config)) -> Self {
        Self::start_mail(fresh_sqlite(), configure).await
    }

    /// The same on PostgreSQL (`None`: that leg is skipped, as [`Self::postgres`] says).
    pub async fn postgres_mail(configure: impl FnOnce(&mut Config)) -> Option<Self> {
        let db = fresh_postgres().await?;
        Some(Self::start_mail(db, configure).await)
    }

    async fn start_mail(db: TestDb, configure: impl FnOnce(&mut Config)) -> Self {
        let (url, mailbox) = Mailbox::start().await;
        let mut app = Self::start(
            db,
            |c| {
                c.notify.smtp = Some(porchlight_server::config::SmtpConfig {
                    url,
                    from: "Porchlight <mail@porchlight.test>".into(),
                });
                c.public_url = Some(PUBLIC_URL.into());
                configure(c);
            },
            WebApp::embedded(),
        )
        .await;
        app.mail = Some(mailbox);
        app
    }

    /// The mailbox of a server started with `*_mail`.
    pub fn mail(&self) -> &Mailbox {
        self.mail
            .as_ref()
            .expect("a server started with sqlite_mail or postgres_mail")
    }

    /// A server (on SQLite) serving `web` as its browser app.
    pub async fn with_web(web: WebApp) -> Self {
        Self::start(fresh_sqlite(), |_| {}, web).await
    }

    async fn start(db: TestDb, configure: impl FnOnce(&mut Config), web: WebApp) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".into(),
            data_dir: data.path().to_path_buf(),
            database_url: db.url().to_owned(),
            database_max_connections: 4,
            ..Config::default()
        };
        config.signin.per_source_per_minute = 10_000;
        config.notify.poll_interval_ms = 50;
        configure(&mut config);
        let clock = ManualClock::new(SystemClock.now_ms());
        let server = porchlight_server::start_with_web(config, Arc::new(clock.clone()), web)
            .await
            .unwrap();
        let url = format!("http://{}", server.addr);
        Self {
            server,
            url,
            clock,
            mail: None,
            db,
            _data: data,
        }
    }

    pub async fn stop(self) {
        self.server.shutdown().await.unwrap();
        self.db.cleanup().await;
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url, DeviceId::generate()).unwrap()
    }

    /// The authenticator's current code for `secret`.
    pub fn code(&self, secret: &str) -> String {
        totp::code_for_base32(secret, self.clock.now_ms()).unwrap()
    }

    pub fn clock_now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Moves to the next TOTP step, so a fresh code is not a replay of the last one.
    pub fn next_step(&self) {
        self.clock.advance_ms(30_000);
    }

    pub async fn signup(&self, client: &Client, email: &str) -> SignupResponse {
        client
            .signup(&SignupRequest {
                email: email.into(),
                password: PASSWORD.into(),
            })
            .await
            .unwrap()
    }

    /// Signs up and confirms `email`, returning the signed-in account.
    pub async fn account(&self, email: &str) -> Account {
        let client = self.client();
        let mailed_before = self.mail.as_ref().map_or(0, |m| {
            m.to(email)
                .iter()
                .filter(|m| m.subject.contains("sign-up code"))
                .count()
        });
        let started = self.signup(&client, email).await;
        let code = self.code(&started.totp_secret);
        let email_code = match &self.mail {
            Some(mail) if started.email_code_sent => Some(
                mail.wait(email, "sign-up code", mailed_before + 1)
                    .await
                    .signup_code(),
            ),
            _ => None,
        };
        let session = client
            .signup_confirm(&SignupConfirmRequest {
                enrolment_token: started.enrolment_token,
                code,
                email_code,
                device_name: Some("first device".into()),
            })
            .await
            .unwrap();
        let client = client.with_token(Secret::new(session.token.clone()));
        self.next_step();
        Account {
            email: email.into(),
            totp_secret: started.totp_secret,
            recovery_codes: started.recovery_codes,
            client,
            session,
        }
    }

    /// Signs `account` in from a new client device with the current code.
    pub async fn login(&self, account: &Account) -> Result<Client, ClientError> {
        let client = self.client();
        let session = client
            .login(&self.login_request(account, &self.code(&account.totp_secret)))
            .await?;
        Ok(client.with_token(Secret::new(session.token)))
    }

    pub fn login_request(&self, account: &Account, code: &str) -> LoginRequest {
        LoginRequest {
            email: account.email.clone(),
            password: PASSWORD.into(),
            totp_code: Some(code.into()),
            recovery_code: None,
            device_name: Some("second device".into()),
        }
    }

    /// Runs the delivery worker's work until the outbox is empty.
    pub async fn drain_outbox(&self) {
        for _ in 0..200 {
            if self.server.state.store.outbox_len().await.unwrap() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("outbox did not drain");
    }
}

/// The kinds of the account's activity entries, newest first.
pub async fn activity_kinds(client: &Client) -> Vec<String> {
    client
        .activity(None)
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// The details of the account's activity entries, newest first.
pub async fn activity_details(client: &Client) -> Vec<String> {
    client
        .activity(None)
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.detail)
        .collect()
}

/// The error code of a failed call, or a panic naming what succeeded instead.
pub fn code_of<T: std::fmt::Debug>(
    result: Result<T, ClientError>,
) -> porchlight_client::proto::ErrorCode {
    match result {
        Err(e) => e.code().unwrap_or_else(|| panic!("not an API error: {e}")),
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}
