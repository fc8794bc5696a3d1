//! Notifications to account owners: a new sign-in, a lock-out, a security change. They go
//! through the store's outbox so that none is lost to a crash or a sink being down, and a
//! delivery worker hands each to its sinks: the in-app feed always, a webhook and SMTP when
//! configured. A sink that fails is retried with backoff without repeating the others.
//!
//! A hub's event notice (a doorbell press) goes the same way to each of the account's devices
//! that has a Web Push subscription, one sink per device (`push:<device id>`), so a push
//! service that is down delays only its own browsers and a restart loses none. The item holds
//! the notice as the hub sealed it; see [`crate::push`] for what is sent.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use porchlight_store::{MailItem, Notification, OutboxItem, Store, TokenPurpose};
use tokio::sync::{Notify, watch};

use crate::auth::secrets::{ServerSecret, random_id, token_hash};
use crate::clock::Clock;
use crate::config::NotifyConfig;
use crate::mail::{self, Template};
use crate::push::{self, PushMessage, PushOutcome, VapidKey};

fn outcome_label(outcome: &PushOutcome) -> &'static str {
    match outcome {
        PushOutcome::Delivered => "delivered",
        PushOutcome::Gone => "gone",
        PushOutcome::Retry(_) => "retry",
        PushOutcome::Refused(_) => "refused",
    }
}

const FEED: &str = "feed";
const WEBHOOK: &str = "webhook";
const EMAIL: &str = "email";
/// A sink named `push:<device id>`: that device's Web Push subscription.
const PUSH_PREFIX: &str = "push:";
/// The outbox kind of a hub's event notice (its body: the sealed notice, base64).
pub const EVENT_NOTICE: &str = "event_notice";
/// Give up on a sink after this many attempts (about a day of backoff).
const MAX_ATTEMPTS: i64 = 30;
const LEASE_MS: i64 = 60_000;

/// Puts notifications in the outbox. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Notifier {
    sinks: Vec<String>,
    /// Wakes this node's delivery worker when something is queued, rather than at its next
    /// poll: a doorbell push should not wait a poll interval.
    wake: Arc<Notify>,
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
        Self {
            sinks,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Wakes this node's delivery worker now (something was queued outside [`Self::send`]).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// What wakes the delivery worker (see [`DeliveryWorker::new`]).
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Queues a hub's sealed event notice for every device of the account with a push
    /// subscription. Returns how many devices it is queued for (0: nothing queued).
    pub async fn push_notice(
        &self,
        store: &Store,
        account_id: &str,
        now_ms: i64,
        notice: &[u8],
    ) -> porchlight_store::Result<usize> {
        let devices = store.push_devices(account_id).await?;
        if devices.is_empty() {
            return Ok(0);
        }
        let item = OutboxItem {
            id: random_id(),
            account_id: account_id.to_owned(),
            kind: EVENT_NOTICE.to_owned(),
            subject: String::new(),
            body: STANDARD.encode(notice),
            created_at_ms: now_ms,
            pending_sinks: devices
                .iter()
                .map(|d| format!("{PUSH_PREFIX}{d}"))
                .collect(),
            attempts: 0,
            next_attempt_ms: now_ms,
            last_error: String::new(),
        };
        store.enqueue_notification(&item).await?;
        self.wake.notify_one();
        Ok(devices.len())
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
        store.enqueue_notification(&item).await?;
        self.wake.notify_one();
        Ok(())
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
    vapid: VapidKey,
    push_http: reqwest::Client,
    wake: Arc<Notify>,
    /// Derives the tokens the mail outbox's messages carry.
    secret: ServerSecret,
    public_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("notify.smtp: {0}")]
    Smtp(String),
    #[error("webhook or push client: {0}")]
    Http(#[from] reqwest::Error),
}

impl DeliveryWorker {
    /// A worker for `store`, pushing as the server whose secret is `secret`, woken early by
    /// `wake` (the [`Notifier::waker`] of this node).
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        config: NotifyConfig,
        secret: &ServerSecret,
        public_url: Option<String>,
        wake: Arc<Notify>,
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
        let push_http = push::client(&config.push_allow_hosts)?;
        Ok(Self {
            store,
            clock,
            http,
            smtp,
            vapid: secret.vapid_key(),
            push_http,
            wake,
            config,
            secret: secret.clone(),
            public_url,
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
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One pass over the due items (account notices and mail to addresses). Returns how many
    /// were claimed.
    pub async fn deliver_due(&self) -> porchlight_store::Result<usize> {
        let mailed = self.deliver_mail_due().await?;
        Ok(mailed + self.deliver_notices_due().await?)
    }

    /// Mail to addresses (sign-up codes, reset and address links). Left in the outbox by a
    /// node that has no SMTP relay configured, for one that has.
    async fn deliver_mail_due(&self) -> porchlight_store::Result<usize> {
        let Some((transport, from)) = &self.smtp else {
            return Ok(0);
        };
        let now = self.clock.now_ms();
        let items = self.store.claim_due_mail(now, now + LEASE_MS, 100).await?;
        let claimed = items.len();
        for item in items {
            let outcome = self.send_mail(transport, from, &item).await;
            let now = self.clock.now_ms();
            let (retry_at, error) = match outcome {
                Ok(()) => {
                    metrics::counter!("porchlight_notifications_delivered_total", "sink" => "mail")
                        .increment(1);
                    (None, String::new())
                }
                Err(e) => {
                    tracing::warn!(template = %item.template, cause = %e, "mail to an address failed; will retry");
                    metrics::counter!("porchlight_notifications_failed_total", "sink" => "mail")
                        .increment(1);
                    let backoff_ms = 1000_i64.saturating_mul(1 << item.attempts.clamp(0, 12));
                    let give_up = item.attempts + 1 >= MAX_ATTEMPTS;
                    if give_up {
                        tracing::error!(template = %item.template, "giving up on mail to an address after repeated failures");
                    }
                    ((!give_up).then_some(now + backoff_ms), e)
                }
            };
            self.store
                .finish_mail_attempt(&item.id, retry_at, &error)
                .await?;
        }
        Ok(claimed)
    }

    async fn send_mail(
        &self,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        from: &Mailbox,
        item: &MailItem,
    ) -> Result<(), String> {
        let Some(template) = Template::parse(&item.template) else {
            return Err(format!("unknown template {}", item.template));
        };
        // An undo message names (masked) the address the account moved to.
        let new_address = if template == Template::EmailUndo {
            let hash = token_hash(&self.secret.email_token(&item.token_id));
            let token = self
                .store
                .email_token(&hash, TokenPurpose::EmailUndo, self.clock.now_ms())
                .await
                .map_err(|e| e.to_string())?;
            match token {
                Some(t) => self
                    .store
                    .account_by_id(&t.account_id)
                    .await
                    .map_err(|e| e.to_string())?
                    .map(|a| a.email),
                // Spent or expired before it was sent: nothing to say.
                None => return Ok(()),
            }
        } else {
            None
        };
        let composed = mail::compose(
            &self.secret,
            item,
            template,
            self.public_url.as_deref(),
            new_address.as_deref(),
        );
        let to: Mailbox = item
            .to_address
            .parse()
            .map_err(|_| "the address is not one mail can go to".to_owned())?;
        let message = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(composed.subject)
            .body(composed.body.to_string())
            .map_err(|e| e.to_string())?;
        transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn deliver_notices_due(&self) -> porchlight_store::Result<usize> {
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
            other if other.starts_with(PUSH_PREFIX) => {
                self.push(&other[PUSH_PREFIX.len()..], item).await
            }
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

    /// Pushes an event notice to one device. Done (`Ok`) also when there is nothing left to
    /// do: the notice outlived its TTL, the device has no subscription any more, or the push
    /// service said the subscription is gone (it is then dropped) or refused it for good.
    async fn push(&self, device_id: &str, item: &OutboxItem) -> Result<(), String> {
        let now_ms = self.clock.now_ms();
        let ttl_ms = self.config.push_ttl_secs.saturating_mul(1000);
        let left_ms = item.created_at_ms.saturating_add(ttl_ms) - now_ms;
        if item.kind != EVENT_NOTICE || left_ms <= 0 {
            metrics::counter!("porchlight_push_expired_total").increment(1);
            return Ok(());
        }
        let Some(sub) = self
            .store
            .push_subscription(&item.account_id, device_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Ok(());
        };
        let (keys, endpoint) = match (
            push::SubscriptionKeys::from_bytes(&sub.p256dh, &sub.auth),
            push::check_endpoint(&sub.endpoint, &self.config.push_allow_hosts),
        ) {
            (Ok(keys), Ok(endpoint)) => (keys, endpoint),
            // Stored before the operator narrowed what is allowed: it is not used.
            _ => return Ok(()),
        };
        // The message is the notice as the event stream carries it (base64 text): what the
        // service worker reads with `PushMessageData.text()` and opens like the page does. A
        // notice too large for one message (sealed to very many devices) is replaced by an
        // empty one: the browser shows "open the app" and reads the notice there.
        let plaintext: &[u8] = if item.body.len() <= push::MAX_PLAINTEXT_BYTES {
            item.body.as_bytes()
        } else {
            metrics::counter!("porchlight_push_too_large_total").increment(1);
            &[]
        };
        let body = push::encrypt(plaintext, &keys)
            .ok_or_else(|| "the notice could not be encrypted".to_owned())?;
        let outcome = push::send(
            &self.push_http,
            &self.vapid,
            &self.config.push_subject,
            now_ms / 1000,
            PushMessage {
                endpoint: &endpoint,
                body,
                ttl_secs: left_ms / 1000,
                urgency: "high",
            },
        )
        .await;
        metrics::counter!("porchlight_push_sent_total", "outcome" => outcome_label(&outcome))
            .increment(1);
        match outcome {
            PushOutcome::Delivered => Ok(()),
            PushOutcome::Gone => {
                self.store
                    .delete_push_subscription(&item.account_id, device_id, Some(&sub.endpoint))
                    .await
                    .map_err(|e| e.to_string())?;
                tracing::info!("a push subscription the push service no longer has was dropped");
                Ok(())
            }
            PushOutcome::Retry(why) => Err(why),
            PushOutcome::Refused(why) => {
                tracing::warn!(cause = %why, "a push service refused an event notice; not retried");
                Ok(())
            }
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
        if account.email_verified_at_ms.is_none() {
            // Never proven to be the owner's: nothing about the account goes there.
            return Ok(());
        }
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
