//! Server configuration: defaults that need nothing, an optional TOML file, `PORCHLIGHT_*`
//! environment variables (nested keys with `__`, e.g. `PORCHLIGHT_SIGNIN__LOCKOUT_THRESHOLD`),
//! then command-line flags, each overriding the one before.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP API listens on.
    pub listen: String,
    /// Where the embedded stores live: `porchlight.db` (SQLite) and `blobs/`.
    #[schema(value_type = String)]
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; empty means the SQLite file in `data_dir`.
    pub database_url: String,
    /// Connections in the database pool; 0 picks a default for the backend.
    pub database_max_connections: u32,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// A tracing filter, e.g. `info` or `porchlight_server=debug,info`.
    pub log_filter: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Use the first address of `X-Forwarded-For` as the client address. Only behind a proxy
    /// that sets it: otherwise clients choose their own address and dodge per-address limits.
    pub trust_forwarded_for: bool,
    /// The address people open the app at, such as `https://cams.example.com`: the start of
    /// the links in emails (a reset, a new address to confirm, a change to undo). Never taken
    /// from a request's `Host`, which a client chooses. Absent: emails carry the code alone.
    pub public_url: Option<String>,
    pub tls: TlsConfig,
    pub session: SessionConfig,
    pub signin: SigninConfig,
    pub notify: NotifyConfig,
    pub clips: ClipsConfig,
    pub log: LogConfig,
    pub staff: StaffConfig,
    pub research: ResearchConfig,
}

/// TLS terminated by the server. Without a certificate and key, plain HTTP: for loopback, or
/// behind a proxy that terminates TLS (then set `trust_forwarded_for`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// PEM certificate chain, the server's certificate first. Read again when it changes.
    #[schema(value_type = Option<String>)]
    pub cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) of that certificate.
    #[schema(value_type = Option<String>)]
    pub key_file: Option<PathBuf>,
    /// Where plain HTTP is answered, only with a redirect to HTTPS (e.g. `0.0.0.0:80`).
    pub redirect_listen: Option<String>,
    /// How often the files are checked for a renewed certificate, in seconds.
    pub reload_secs: u64,
    /// `Strict-Transport-Security: max-age` sent over TLS, in seconds; 0 sends none.
    pub hsts_max_age_secs: u64,
    /// A certificate obtained and renewed by ACME (RFC 8555) instead of files.
    pub acme: Option<AcmeConfig>,
}

/// ACME: the certificate for `domains` is obtained from `directory_url` with the HTTP-01
/// challenge, answered on `tls.redirect_listen` (which a public CA reaches on port 80), kept
/// with the account in `DATA/acme/`, and renewed `renew_before_days` before it expires.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcmeConfig {
    /// The names the certificate is for; the first is the one a fresh server presents while it
    /// waits for its first certificate.
    pub domains: Vec<String>,
    /// The ACME directory [default: Let's Encrypt's].
    #[serde(default = "AcmeConfig::lets_encrypt")]
    #[schema(default = "https://acme-v02.api.letsencrypt.org/directory")]
    pub directory_url: String,
    /// Contact addresses for the CA (`mailto:…`).
    #[serde(default)]
    pub contact: Vec<String>,
    /// A PEM root to trust for the directory's own TLS (a private or test ACME server);
    /// otherwise the usual web roots.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub directory_ca_file: Option<PathBuf>,
    /// Renew when the certificate has fewer days than this left.
    #[serde(default = "AcmeConfig::thirty")]
    #[schema(default = 30)]
    pub renew_before_days: u64,
    /// How often the certificate's expiry is looked at, in seconds.
    #[serde(default = "AcmeConfig::twelve_hours")]
    #[schema(default = 43200)]
    pub check_secs: u64,
}

impl AcmeConfig {
    fn lets_encrypt() -> String {
        "https://acme-v02.api.letsencrypt.org/directory".into()
    }
    fn thirty() -> u64 {
        30
    }
    fn twelve_hours() -> u64 {
        12 * 3600
    }
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            cert_file: None,
            key_file: None,
            redirect_listen: None,
            reload_secs: 60,
            // A year: browsers then never try plain HTTP for this host.
            hsts_max_age_secs: 365 * 24 * 3600,
            acme: None,
        }
    }
}

impl TlsConfig {
    /// Whether the server terminates TLS (from files or by ACME).
    pub fn enabled(&self) -> bool {
        self.files().is_some() || self.acme.is_some()
    }

    /// The certificate and key files, when TLS is on from files.
    pub fn files(&self) -> Option<(&Path, &Path)> {
        match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => Some((c.as_path(), k.as_path())),
            _ => None,
        }
    }
}

/// The research program (DESIGN §9). Absent recipient: research is off, and the research
/// routes answer `503 research_off`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ResearchConfig {
    /// The research program's age recipient (`age1…`), which owners' clients seal items to.
    pub recipient: Option<String>,
    /// Largest research item accepted, in bytes.
    pub max_item_bytes: Option<u64>,
}

impl ResearchConfig {
    /// The recipient, if research is on.
    pub fn recipient(&self) -> Option<&str> {
        self.recipient
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct StaffConfig {
    /// A staff session ends this long after sign-in.
    pub session_secs: i64,
    /// A staff member who reads more than this many different accounts within an hour raises
    /// an alert for security staff.
    pub bulk_alert_accounts_per_hour: i64,
    /// The deployment's usual working hours, `HH:MM-HH:MM` in UTC (a window may wrap past
    /// midnight, `22:00-06:00`); a staff read outside them raises an alert for security
    /// staff. Empty: no such alert.
    pub usual_hours_utc: String,
}

impl Default for StaffConfig {
    fn default() -> Self {
        Self {
            session_secs: 8 * 3600,
            bulk_alert_accounts_per_hour: 5,
            usual_hours_utc: "06:00-22:00".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// The transparency log's origin line (and its key's name): a schema-less URL such as
    /// `porchlight.example/log`. Clients pin it with the key.
    pub origin: String,
    /// How often queued entries are appended and a checkpoint signed.
    pub batch_interval_ms: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            origin: "porchlight.local/log".into(),
            batch_interval_ms: 200,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ClipsConfig {
    /// Largest sealed clip payload accepted, in bytes. An upload crossing it is refused
    /// (`413`) and nothing of it is kept.
    pub max_clip_bytes: u64,
    /// Retention of a new camera, in days; owners change it per camera.
    pub default_retention_days: u32,
    /// How often the retention sweep runs.
    pub retention_sweep_secs: u64,
}

impl Default for ClipsConfig {
    fn default() -> Self {
        Self {
            max_clip_bytes: 2 * 1024 * 1024 * 1024,
            default_retention_days: 30,
            retention_sweep_secs: 300,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// A session unused for this long ends.
    pub idle_timeout_secs: i64,
    /// A session ends this long after sign-in, used or not.
    pub absolute_timeout_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SigninConfig {
    /// Sign-in, sign-up and second-factor attempts one source address may make per minute.
    pub per_source_per_minute: u32,
    /// Hub credential requests (challenge, token) per source address per minute: a bucket of
    /// their own, so a home's hubs never spend the owner's sign-in allowance.
    pub hub_per_source_per_minute: u32,
    /// Consecutive failures for one email address before it locks.
    pub lockout_threshold: i64,
    /// The first lock's length; each further failure doubles it.
    pub lockout_base_secs: i64,
    pub lockout_max_secs: i64,
    /// Failures older than this are forgotten.
    pub failure_window_secs: i64,
    /// A source address that fails sign-in for this many different email addresses within
    /// `failure_window_secs` is blocked (credential stuffing).
    pub stuffing_distinct_names: i64,
    pub stuffing_block_secs: i64,
    /// Password hashes computed at once; 0 means one per CPU.
    pub hash_concurrency: usize,
    /// Password checks allowed to wait for a turn; past this a sign-in is answered `503` with
    /// `Retry-After` at once, so a flood cannot queue a real user behind it for long.
    pub hash_queue_limit: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// POST each notification as JSON here, signed with `webhook_secret` (HMAC-SHA256 of the
    /// body, hex, in `Porchlight-Signature: sha256=…`).
    pub webhook_url: Option<String>,
    /// The key the webhook's signature is made with (any length; share it with the receiver).
    pub webhook_secret: Option<String>,
    /// Send each notification by email to the account's address.
    pub smtp: Option<SmtpConfig>,
    /// How often the delivery worker looks for due notifications, in milliseconds.
    pub poll_interval_ms: u64,
    /// The VAPID `sub` claim push services may contact the operator by: a `mailto:` or an
    /// `https:` URL (RFC 8292 §2.1). Set it to a real contact: the default names no one, and a
    /// push service may refuse tokens whose contact it cannot use.
    pub push_subject: String,
    /// Hosts (exact names or addresses) whose push endpoints may be `http` or private: a
    /// push service on the operator's own network, or tests on loopback. Empty in production.
    pub push_allow_hosts: Vec<String>,
    /// How long a push service keeps an event notice for a browser that is offline, and how
    /// long the server keeps retrying one, in seconds.
    pub push_ttl_secs: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// `smtps://user:pass@host:465`, `smtp://host:587?tls=required` or, for a local relay,
    /// `smtp://127.0.0.1:25` (lettre's URL form).
    pub url: String,
    /// The From address.
    pub from: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("porchlight-data"),
            database_url: String::new(),
            database_max_connections: 0,
            log_format: LogFormat::Text,
            log_filter: "info".into(),
            max_body_bytes: 64 * 1024,
            trust_forwarded_for: false,
            public_url: None,
            tls: TlsConfig::default(),
            session: SessionConfig::default(),
            signin: SigninConfig::default(),
            notify: NotifyConfig::default(),
            clips: ClipsConfig::default(),
            log: LogConfig::default(),
            staff: StaffConfig::default(),
            research: ResearchConfig::default(),
        }
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            webhook_url: None,
            webhook_secret: None,
            smtp: None,
            poll_interval_ms: 1000,
            push_subject: "mailto:operator@porchlight.invalid".into(),
            push_allow_hosts: Vec::new(),
            push_ttl_secs: 3600,
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 7 * 24 * 3600,
            absolute_timeout_secs: 30 * 24 * 3600,
        }
    }
}

impl Default for SigninConfig {
    fn default() -> Self {
        Self {
            per_source_per_minute: 30,
            hub_per_source_per_minute: 240,
            lockout_threshold: 5,
            lockout_base_secs: 60,
            lockout_max_secs: 24 * 3600,
            failure_window_secs: 3600,
            stuffing_distinct_names: 10,
            stuffing_block_secs: 3600,
            hash_concurrency: 0,
            hash_queue_limit: 32,
        }
    }
}

/// Values from the command line, which win over the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then `file` if given, then `PORCHLIGHT_*` variables, then `overrides`.
    pub fn load(file: Option<&Path>, overrides: &ConfigOverrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Invalid(format!(
                    "{} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        // PORCHLIGHT_SERVER and PORCHLIGHT_HOME belong to the client, PORCHLIGHT_TEST_* to the
        // test suite; every other PORCHLIGHT_* variable must be a key, so a typo is an error.
        figment = figment.merge(
            Env::prefixed("PORCHLIGHT_")
                .filter(|key| !is_foreign_variable(&key.as_str().to_ascii_lowercase()))
                .split("__"),
        );
        let mut config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(listen) = &overrides.listen {
            config.listen = listen.clone();
        }
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(url) = &overrides.database_url {
            config.database_url = url.clone();
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if self.listen.parse::<SocketAddr>().is_err() {
            return bad("listen must be an address such as 127.0.0.1:8080");
        }
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes must be at least 1024");
        }
        if self.session.idle_timeout_secs <= 0 || self.session.absolute_timeout_secs <= 0 {
            return bad("session timeouts must be positive");
        }
        if self.signin.per_source_per_minute == 0
            || self.signin.hub_per_source_per_minute == 0
            || self.signin.lockout_threshold <= 0
        {
            return bad("signin limits must be positive");
        }
        if self.clips.max_clip_bytes == 0 || self.clips.retention_sweep_secs == 0 {
            return bad("clips.max_clip_bytes and clips.retention_sweep_secs must be positive");
        }
        if !(1..=MAX_RETENTION_DAYS).contains(&self.clips.default_retention_days) {
            return bad("clips.default_retention_days must be 1 to 3650");
        }
        if UsualHours::parse(&self.staff.usual_hours_utc).is_err() {
            return bad("staff.usual_hours_utc must be empty or HH:MM-HH:MM, such as 06:00-22:00");
        }
        if let Some(r) = self.research.recipient()
            && r.parse::<porchlight_crypto::age::x25519::Recipient>()
                .is_err()
        {
            return bad("research.recipient must be an age X25519 recipient (age1…)");
        }
        if self.log.batch_interval_ms == 0 {
            return bad("log.batch_interval_ms must be positive");
        }
        if self.notify.webhook_url.is_some() && self.notify.webhook_secret.is_none() {
            return bad("notify.webhook_url needs notify.webhook_secret");
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return bad("tls.cert_file and tls.key_file go together");
        }
        if let Some(acme) = &self.tls.acme {
            if self.tls.files().is_some() {
                return bad("tls.acme and tls.cert_file/key_file exclude each other");
            }
            if self.tls.redirect_listen.is_none() {
                return bad(
                    "tls.acme needs tls.redirect_listen: the HTTP-01 challenge is answered there (port 80 for a public CA)",
                );
            }
            if acme.domains.is_empty()
                || acme
                    .domains
                    .iter()
                    .any(|d| d.is_empty() || d.contains(['/', ':', ' ', '*']))
            {
                return bad(
                    "tls.acme.domains must name at least one host, such as cams.example.com (no wildcards: HTTP-01 cannot prove them)",
                );
            }
            if acme.check_secs == 0 || acme.renew_before_days == 0 {
                return bad("tls.acme.check_secs and renew_before_days must be positive");
            }
        }
        if let Some(redirect) = &self.tls.redirect_listen {
            if !self.tls.enabled() {
                return bad(
                    "tls.redirect_listen needs tls.cert_file and tls.key_file, or tls.acme",
                );
            }
            if redirect.parse::<SocketAddr>().is_err() {
                return bad("tls.redirect_listen must be an address such as 0.0.0.0:80");
            }
        }
        if self.tls.reload_secs == 0 {
            return bad("tls.reload_secs must be positive");
        }
        if let Some(url) = &self.public_url {
            let parsed = url::Url::parse(url).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
                    && u.username().is_empty()
                    && !url.ends_with('/')
            });
            if parsed.is_none() {
                return bad(
                    "public_url must be an http(s) address such as https://cams.example.com, with no trailing slash",
                );
            }
        }
        Ok(())
    }

    /// The database URL in effect: the configured one, or the SQLite file in the data folder.
    pub fn effective_database_url(&self) -> String {
        if self.database_url.is_empty() {
            format!(
                "sqlite://{}",
                self.data_dir.join(crate::app::DATABASE_FILE).display()
            )
        } else {
            self.database_url.clone()
        }
    }
}

/// A daily window of minutes in UTC, `[start, end)`, wrapping past midnight when
/// `end < start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsualHours {
    start: u32,
    end: u32,
}

const DAY_MS: i64 = 86_400_000;

/// A usual-hours setting that is neither empty nor `HH:MM-HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadUsualHours;

impl std::fmt::Display for BadUsualHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("expected HH:MM-HH:MM with two different times, such as 06:00-22:00")
    }
}

impl std::error::Error for BadUsualHours {}

impl UsualHours {
    /// `HH:MM-HH:MM`; `Ok(None)` for an empty setting (no window), `Err` for anything else.
    pub fn parse(text: &str) -> Result<Option<Self>, BadUsualHours> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let minute = |hm: &str| -> Result<u32, BadUsualHours> {
            let (h, m) = hm.trim().split_once(':').ok_or(BadUsualHours)?;
            let h: u32 = h.parse().map_err(|_| BadUsualHours)?;
            let m: u32 = m.parse().map_err(|_| BadUsualHours)?;
            if h < 24 && m < 60 {
                Ok(h * 60 + m)
            } else {
                Err(BadUsualHours)
            }
        };
        let (start, end) = text.split_once('-').ok_or(BadUsualHours)?;
        let (start, end) = (minute(start)?, minute(end)?);
        if start == end {
            return Err(BadUsualHours);
        }
        Ok(Some(Self { start, end }))
    }

    fn minute_of_day(at_ms: i64) -> u32 {
        u32::try_from(at_ms.rem_euclid(DAY_MS) / 60_000).unwrap_or(0)
    }

    /// Whether the instant `at_ms` (Unix milliseconds) falls inside the window.
    pub fn contains(&self, at_ms: i64) -> bool {
        let m = Self::minute_of_day(at_ms);
        if self.start < self.end {
            (self.start..self.end).contains(&m)
        } else {
            m >= self.start || m < self.end
        }
    }

    /// `HH:MM` of the instant, in UTC.
    pub fn clock(at_ms: i64) -> String {
        let m = Self::minute_of_day(at_ms);
        format!("{:02}:{:02}", m / 60, m % 60)
    }
}

/// Longest retention a camera may have: ten years.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// `PORCHLIGHT_*` variables (prefix stripped, lower case) that are not server configuration.
fn is_foreign_variable(key: &str) -> bool {
    matches!(key, "server" | "home") || key.starts_with("test_")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn usual_hours_parse_and_wrap_past_midnight() {
        let at = |h: i64, m: i64| 19_000 * DAY_MS + (h * 60 + m) * 60_000;
        let day = UsualHours::parse("06:00-22:00").unwrap().unwrap();
        assert!(day.contains(at(6, 0)) && day.contains(at(21, 59)));
        assert!(!day.contains(at(22, 0)) && !day.contains(at(3, 12)));
        let night = UsualHours::parse(" 22:00 - 06:30 ").unwrap().unwrap();
        assert!(night.contains(at(23, 0)) && night.contains(at(6, 29)));
        assert!(!night.contains(at(12, 0)));
        assert_eq!(UsualHours::parse("").unwrap(), None);
        for bad in [
            "6-22",
            "24:00-06:00",
            "06:60-07:00",
            "06:00-06:00",
            "06:00",
            "x:y-z:w",
        ] {
            assert!(UsualHours::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(UsualHours::clock(at(3, 12)), "03:12");
        assert_eq!(UsualHours::clock(-60_000), "23:59");
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn defaults_need_nothing() {
        // In a jail: tests that set variables run one at a time, and none leaks into another.
        figment::Jail::expect_with(|_| {
            let c = Config::load(None, &ConfigOverrides::default()).unwrap();
            assert!(c.effective_database_url().starts_with("sqlite://"));
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn file_then_flags() {
        figment::Jail::expect_with(|_| {
            file_then_flags_in_jail();
            Ok(())
        });
    }

    fn file_then_flags_in_jail() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\n[signin]\nlockout_threshold = 3\n",
        )
        .unwrap();
        let c = Config::load(Some(&file), &ConfigOverrides::default()).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.signin.lockout_threshold, 3);
        let flags = ConfigOverrides {
            listen: Some("127.0.0.1:1".into()),
            ..Default::default()
        };
        assert_eq!(
            Config::load(Some(&file), &flags).unwrap().listen,
            "127.0.0.1:1"
        );
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment's own error
    fn environment_overrides_file_and_leaves_client_variables_alone() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "p.toml",
                "listen = \"0.0.0.0:9000\"\nlog_format = \"text\"\n",
            )?;
            jail.set_env("PORCHLIGHT_LOG_FORMAT", "json");
            jail.set_env("PORCHLIGHT_SIGNIN__LOCKOUT_THRESHOLD", "3");
            // The client's variables share the prefix and must not trip unknown-key checks.
            jail.set_env("PORCHLIGHT_SERVER", "http://127.0.0.1:8080");
            jail.set_env("PORCHLIGHT_HOME", "/tmp/x");
            jail.set_env("PORCHLIGHT_TEST_POSTGRES", "require");
            let c = Config::load(Some(Path::new("p.toml")), &ConfigOverrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "0.0.0.0:9000");
            assert_eq!(c.log_format, LogFormat::Json);
            assert_eq!(c.signin.lockout_threshold, 3);
            // A misspelt key is still an error.
            jail.set_env("PORCHLIGHT_LOG_FROMAT", "json");
            assert!(Config::load(None, &ConfigOverrides::default()).is_err());
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn research_recipient_must_be_an_age_recipient() {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None, &ConfigOverrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.research.recipient(), None, "research is off by default");
            jail.set_env("PORCHLIGHT_RESEARCH__RECIPIENT", "age1notarecipient");
            let refused = Config::load(None, &ConfigOverrides::default()).unwrap_err();
            assert!(refused.to_string().contains("research.recipient"));
            let key = porchlight_crypto::age::x25519::Identity::generate()
                .to_public()
                .to_string();
            jail.set_env("PORCHLIGHT_RESEARCH__RECIPIENT", &key);
            let c = Config::load(None, &ConfigOverrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.research.recipient(), Some(key.as_str()));
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn unknown_keys_and_bad_values_are_errors() {
        figment::Jail::expect_with(|_| {
            unknown_keys_in_jail();
            Ok(())
        });
    }

    fn unknown_keys_in_jail() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(&file, "lisen = \"x\"\n").unwrap();
        assert!(Config::load(Some(&file), &ConfigOverrides::default()).is_err());
        let flags = ConfigOverrides {
            listen: Some("nowhere".into()),
            ..Default::default()
        };
        assert!(Config::load(None, &flags).is_err());
    }
}
