//! Defences against guessing at sign-in:
//!
//! - **per source address**: a token bucket (governor) on every sign-in, sign-up and
//!   second-factor attempt; IPv6 addresses count per /64, since one host holds a whole prefix;
//! - **per sign-in name**: consecutive failures for one email address lock it, for a time that
//!   doubles with each further failure. Names are counted whether or not an account has them,
//!   so a lock-out says nothing about whether an address is registered;
//! - **credential stuffing**: a source that fails for many different names within the window is
//!   blocked outright, even for names it then gets right.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use porchlight_store::Store;

use crate::config::SigninConfig;
use crate::error::{ApiError, ApiResult};

#[derive(Debug)]
pub struct SigninGuard {
    per_source: DefaultKeyedRateLimiter<String>,
    hub_per_source: DefaultKeyedRateLimiter<String>,
    config: SigninConfig,
}

/// What a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FailureOutcome {
    pub consecutive_failures: i64,
    /// Set when this failure locked the name.
    pub locked_until_ms: Option<i64>,
    /// Set when this failure got the source blocked for credential stuffing.
    pub source_blocked: bool,
}

impl SigninGuard {
    pub fn new(config: &SigninConfig) -> Self {
        let per_minute = NonZeroU32::new(config.per_source_per_minute).unwrap_or(NonZeroU32::MIN);
        let hub_per_minute =
            NonZeroU32::new(config.hub_per_source_per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            per_source: RateLimiter::keyed(Quota::per_minute(per_minute)),
            hub_per_source: RateLimiter::keyed(Quota::per_minute(hub_per_minute)),
            config: config.clone(),
        }
    }

    /// Spends one attempt from the source's allowance.
    pub fn check_rate(&self, source: &str) -> ApiResult<()> {
        Self::spend(&self.per_source, source)
    }

    /// Spends one hub credential request from the source's hub allowance.
    pub fn check_hub_rate(&self, source: &str) -> ApiResult<()> {
        Self::spend(&self.hub_per_source, source)
    }

    fn spend(bucket: &DefaultKeyedRateLimiter<String>, source: &str) -> ApiResult<()> {
        bucket.check_key(&source.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ));
            metrics::counter!("porchlight_signin_throttled_total", "reason" => "source_rate")
                .increment(1);
            ApiError::throttled(wait.as_secs() + 1)
        })
    }

    /// Lets an attempt from `source` through, or not: it spends one of the source's allowance
    /// and is refused while the source is blocked. Every route that checks a secret calls it
    /// first, before any password work.
    pub async fn admit(&self, store: &Store, source: &str, now_ms: i64) -> ApiResult<()> {
        self.check_rate(source)?;
        if let Some(until) = store.source_blocked_until(source, now_ms).await? {
            metrics::counter!("porchlight_signin_throttled_total", "reason" => "source_blocked")
                .increment(1);
            return Err(ApiError::throttled(secs_until(until, now_ms)));
        }
        Ok(())
    }

    /// Refuses a locked sign-in name before any password work is done.
    pub async fn check_name(&self, store: &Store, name_key: &[u8], now_ms: i64) -> ApiResult<()> {
        let guard = store.login_guard(name_key).await?;
        if guard.locked_until_ms > now_ms {
            metrics::counter!("porchlight_signin_throttled_total", "reason" => "name_locked")
                .increment(1);
            return Err(ApiError::throttled(secs_until(
                guard.locked_until_ms,
                now_ms,
            )));
        }
        Ok(())
    }

    /// Counts a failure against the name and the source, locking or blocking as the policy says.
    pub async fn on_failure(
        &self,
        store: &Store,
        source: &str,
        name_key: &[u8],
        now_ms: i64,
    ) -> ApiResult<FailureOutcome> {
        let window_ms = self.config.failure_window_secs.saturating_mul(1000);
        let failures = store
            .record_login_failure(name_key, source, now_ms, now_ms - window_ms)
            .await?;
        let mut outcome = FailureOutcome {
            consecutive_failures: failures,
            ..Default::default()
        };
        if let Some(lock_ms) = self.lock_ms(failures) {
            let until = now_ms.saturating_add(lock_ms);
            store.lock_login_name(name_key, until).await?;
            outcome.locked_until_ms = Some(until);
            metrics::counter!("porchlight_signin_lockouts_total").increment(1);
        }
        let names = store
            .distinct_failed_names(source, now_ms - window_ms)
            .await?;
        if names >= self.config.stuffing_distinct_names {
            let until = now_ms.saturating_add(self.config.stuffing_block_secs.saturating_mul(1000));
            store
                .block_source(source, until, "failed sign-in for many accounts")
                .await?;
            outcome.source_blocked = true;
            metrics::counter!("porchlight_signin_sources_blocked_total").increment(1);
            tracing::warn!(
                distinct_names = names,
                "blocked a source address for credential stuffing"
            );
        }
        Ok(outcome)
    }

    pub async fn on_success(&self, store: &Store, name_key: &[u8]) -> ApiResult<()> {
        store.clear_login_guard(name_key).await?;
        Ok(())
    }

    /// The lock that `failures` consecutive failures earn: none below the threshold, then the
    /// base length doubled for each failure past it, up to the maximum.
    pub fn lock_ms(&self, failures: i64) -> Option<i64> {
        let over = failures - self.config.lockout_threshold;
        if over < 0 {
            return None;
        }
        let base = self.config.lockout_base_secs.saturating_mul(1000);
        let max = self.config.lockout_max_secs.saturating_mul(1000);
        let doubled = u32::try_from(over)
            .ok()
            .and_then(|s| base.checked_mul(1_i64.checked_shl(s)?))
            .unwrap_or(max);
        Some(doubled.min(max))
    }

    /// Forgets per-source allowances that have refilled, bounding the limiter's memory.
    pub fn shrink(&self) {
        for bucket in [&self.per_source, &self.hub_per_source] {
            bucket.retain_recent();
            bucket.shrink_to_fit();
        }
    }
}

fn secs_until(until_ms: i64, now_ms: i64) -> u64 {
    u64::try_from((until_ms - now_ms + 999) / 1000).unwrap_or(1)
}

/// The key a client address is counted under: the address itself for IPv4, the /64 for IPv6.
pub fn source_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_doubles_from_the_threshold_and_caps() {
        let config = SigninConfig {
            lockout_threshold: 5,
            lockout_base_secs: 60,
            lockout_max_secs: 3600,
            ..Default::default()
        };
        let g = SigninGuard::new(&config);
        assert_eq!(g.lock_ms(4), None);
        assert_eq!(g.lock_ms(5), Some(60_000));
        assert_eq!(g.lock_ms(6), Some(120_000));
        assert_eq!(g.lock_ms(8), Some(480_000));
        assert_eq!(g.lock_ms(30), Some(3_600_000));
        assert_eq!(g.lock_ms(500), Some(3_600_000));
    }

    #[test]
    fn ipv6_counts_per_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1"
            .parse()
            .unwrap_or(IpAddr::V4([0, 0, 0, 0].into()));
        let b: IpAddr = "2001:db8:1:2:bbbb::9"
            .parse()
            .unwrap_or(IpAddr::V4([0, 0, 0, 0].into()));
        assert_eq!(source_key(a), source_key(b));
        assert_eq!(
            source_key("::ffff:10.0.0.1".parse().unwrap_or(a)),
            "10.0.0.1"
        );
    }

    #[test]
    fn per_source_rate_is_enforced() {
        let config = SigninConfig {
            per_source_per_minute: 3,
            ..Default::default()
        };
        let g = SigninGuard::new(&config);
        for _ in 0..3 {
            assert!(g.check_rate("10.0.0.1").is_ok());
        }
        let refused = g.check_rate("10.0.0.1");
        assert!(matches!(refused, Err(ref e) if e.retry_after_secs.is_some()));
        assert!(g.check_rate("10.0.0.2").is_ok());
    }
}
