//! Notifications to account owners: a new sign-in, a lock-out, a security change. They go
//! through the store's outbox so that none is lost to a crash or a sink being down, and a
//! delivery worker hands each to its sinks: the in-app feed always, a webhook and SMTP when
//! configured. A sink that fails is retried with backoff without repeating the others.

use std::sync::Arc;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use porchlight_store::{Notification, OutboxItem, Store};
use tokio::sync::watch;

use crate::auth::secrets::{ServerSecret, random_id};
use crate::clock::Clock;
use crate::config::NotifyConfig;

const FEED: &str = "feed";
const WEBHOOK: &str = "webhook";
const EMAIL: &str = "email";
/// Give up on a sink after this many attempts (about a day of backoff).
const MAX_ATTEMPTS: i64 = 30;
const LEASE_MS: i64 = 60_000;

/// Puts notifications in the outbox. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Notifier {
    sinks: Vec<String>,
}

/// What a notification says. Never a secret: it may go to a webhook or an inbox.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: &'static str,
    pub subject: String,
    pub body: String,
}

impl Notifier {
    pub fn new(config: &NotifyConfig) -> Self {
        let mut sinks = vec![FEED.to_owned()];
        if config.webhook_url.is_some() {
            sinks.push(WEBHOOK.to_owned());
        }
        if config.smtp.is_some() {
            sinks.push(EMAIL.to_owned());
        }
        Self { sinks }
    }

    pub async fn send(
        &self,
        store: &Store,
        account_id: &str,
        now_ms: i64,
        notice: Notice,
    ) -> porchlight_store::Result<()> {
        let item = OutboxItem {
            id: random_id(),
            account_id: account_id.to_owned(),
            kind: notice.kind.to_owned(),
            subject: notice.subject,
            body: notice.body,
            created_at_ms: now_ms,
            pending_sinks: self.sinks.clone(),
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: String::new(),
        };
        store.enqueue_notification(&item).await
    }
}

/// Delivers what the outbox holds until `shutdown` flips.
#[derive(Debug)]
pub struct DeliveryWorker {
    store: Store,
    clock: Arc<dyn Clock>,
    config: NotifyConfig,
    http: reqwest::Client,
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notify.smtp: {0}")]
    Smtp(String),
    #[error("webhook client: {0}")]
    Http(#[from] reqwest::Error),
}

impl DeliveryWorker {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        config: NotifyConfig,
    ) -> Result<Self, NotifyError> {
        let smtp = match &config.smtp {
            Some(smtp) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&smtp.url)
                    .map_err(|e| NotifyError::Smtp(e.to_string()))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build();
                let from: Mailbox = smtp
                    .from
                    .parse()
                    .map_err(|_| NotifyError::Smtp("from is not an address".into()))?;
                Some((transport, from))
            }
            None => None,
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            store,
            clock,
            config,
            http,
            smtp,
        })
    }

    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let interval = Duration::from_millis(self.config.poll_interval_ms.max(50));
        loop {
            if let Err(e) = self.deliver_due().await {
                tracing::warn!(cause = %e, "notification delivery pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One pass over the due items. Returns how many were claimed.
    pub async fn deliver_due(&self) -> porchlight_store::Result<usize> {
        let now = self.clock.now_ms();
        let items = self
            .store
            .claim_due_notifications(now, now + LEASE_MS, 100)
            .await?;
        let claimed = items.len();
        for item in items {
            let mut still_pending = Vec::new();
            let mut last_error = String::new();
            for sink in &item.pending_sinks {
                if let Err(e) = self.deliver(sink, &item).await {
                    tracing::warn!(sink = %sink, cause = %e, "notification sink failed; will retry");
                    metrics::counter!("porchlight_notifications_failed_total", "sink" => sink.clone()).increment(1);
                    last_error = format!("{sink}: {e}");
                    still_pending.push(sink.clone());
                } else {
                    metrics::counter!("porchlight_notifications_delivered_total", "sink" => sink.clone()).increment(1);
                }
            }
            if item.attempts + 1 >= MAX_ATTEMPTS && !still_pending.is_empty() {
                tracing::error!(sinks = ?still_pending, "giving up on a notification after repeated failures");
                still_pending.clear();
            }
            let backoff_ms = 1000_i64.saturating_mul(1 << item.attempts.clamp(0, 12));
            let now = self.clock.now_ms();
            self.store
                .finish_delivery_attempt(&item.id, &still_pending, now + backoff_ms, &last_error)
                .await?;
        }
        Ok(claimed)
    }

    async fn deliver(&self, sink: &str, item: &OutboxItem) -> Result<(), String> {
        match sink {
            FEED => self
                .store
                .add_to_feed(&Notification {
                    id: item.id.clone(),
                    account_id: item.account_id.clone(),
                    at_ms: item.created_at_ms,
                    kind: item.kind.clone(),
                    subject: item.subject.clone(),
                    body: item.body.clone(),
                    read_at_ms: None,
                })
                .await
                .map_err(|e| e.to_string()),
            WEBHOOK => self.post_webhook(item).await,
            EMAIL => self.send_email(item).await,
            // A sink this node does not have configured: leave it for one that does.
            other => Err(format!("sink {other} is not configured on this node")),
        }
    }

    async fn post_webhook(&self, item: &OutboxItem) -> Result<(), String> {
        let (Some(url), Some(key)) = (&self.config.webhook_url, &self.config.webhook_secret) else {
            return Err("webhook is not configured on this node".into());
        };
        let body = serde_json::json!({
            "id": item.id,
            "account_id": item.account_id,
            "kind": item.kind,
            "subject": item.subject,
            "body": item.body,
            "created_at_ms": item.created_at_ms,
        })
        .to_string();
        let signature = ServerSecret::sign_webhook(key.as_bytes(), body.as_bytes());
        let response = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("porchlight-signature", format!("sha256={signature}"))
            .body(body)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("webhook answered {}", response.status()))
        }
    }

    async fn send_email(&self, item: &OutboxItem) -> Result<(), String> {
        let Some((transport, from)) = &self.smtp else {
            return Err("smtp is not configured on this node".into());
        };
        let account = self
            .store
            .account_by_id(&item.account_id)
            .await
            .map_err(|e| e.to_string())?;
        let Some(account) = account else {
            return Ok(()); // the account is gone; nobody to tell
        };
        let to: Mailbox = account
            .email
            .parse()
            .map_err(|_| "account email is not an address".to_owned())?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(format!("Porchlight: {}", item.subject))
            .body(item.body.clone())
            .map_err(|e| e.to_string())?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}
