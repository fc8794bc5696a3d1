//! Passwords: the policy a new one must meet, and Argon2id hashing on the blocking pool with a
//! bound on how many run at once, so a flood of sign-ins cannot starve everything else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use tokio::sync::Semaphore;
use zeroize::Zeroizing;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 256;

/// Why a new password was refused, in words for the person choosing it.
pub fn check_policy(password: &str, email: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LEN {
        return Err(format!("the password needs at least {MIN_LEN} characters"));
    }
    if chars > MAX_LEN {
        return Err(format!(
            "the password may have at most {MAX_LEN} characters"
        ));
    }
    // zxcvbn's ranked lists (common passwords, names, words) and pattern matching; the email
    // and the product name count as guessable too. Score 3 is "safely unguessable".
    let local = email.split('@').next().unwrap_or_default();
    let entropy = zxcvbn::zxcvbn(password, &[email, local, "porchlight"]);
    if u8::from(entropy.score()) < 3 {
        let hint = entropy
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .unwrap_or_else(|| "it is too easy to guess".into());
        return Err(format!("choose a less common password: {hint}"));
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed")]
    Hash,
    #[error("password hashing was interrupted")]
    Interrupted,
    /// Too many checks are already waiting; the caller should come back shortly.
    #[error("too many password checks are waiting")]
    Busy,
}

/// Argon2id at the crate's defaults, which are OWASP's minimum (m = 19 MiB, t = 2, p = 1).
#[derive(Debug, Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// Checks running or waiting, and how many may be at once.
    in_flight: Arc<AtomicUsize>,
    max_in_flight: usize,
    /// A hash of a random password, verified against when the email is unknown so that an
    /// unknown address costs the same time as a wrong password.
    dummy: Arc<str>,
}

impl Hasher {
    /// `concurrency` of 0 means one hash at a time per CPU; at most `queue_limit` more wait.
    pub fn new(concurrency: usize, queue_limit: usize) -> Result<Self, HashError> {
        let n = if concurrency == 0 {
            std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(2)
        } else {
            concurrency
        };
        let random = crate::auth::secrets::random_id();
        let dummy = Argon2::default()
            .hash_password(random.as_bytes())
            .map_err(|_| HashError::Hash)?
            .to_string();
        Ok(Self {
            permits: Arc::new(Semaphore::new(n)),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: n + queue_limit,
            dummy: dummy.into(),
        })
    }

    pub async fn hash(&self, password: Zeroizing<String>) -> Result<String, HashError> {
        self.run(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|_| HashError::Hash)
        })
        .await?
    }

    /// True if `password` matches `phc`. With no `phc` (unknown account) it does the same work
    /// against a dummy hash and returns false.
    pub async fn verify(
        &self,
        password: Zeroizing<String>,
        phc: Option<String>,
    ) -> Result<bool, HashError> {
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| self.dummy.to_string());
        let matched = self
            .run(move || {
                Argon2::default()
                    .verify_password(password.as_bytes(), phc.as_str())
                    .is_ok()
            })
            .await?;
        Ok(known && matched)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let in_flight =
            InFlight::enter(&self.in_flight, self.max_in_flight).ok_or(HashError::Busy)?;
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| HashError::Interrupted)?;
        // The permit and the count go with the work, so a caller that gives up (a client that
        // hangs up) does not free a place while its hash still runs.
        tokio::task::spawn_blocking(move || {
            let _held = (permit, in_flight);
            work()
        })
        .await
        .map_err(|_| HashError::Interrupted)
    }
}

/// One password check counted as in flight until dropped.
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(counter: &Arc<AtomicUsize>, max: usize) -> Option<Self> {
        let before = counter.fetch_add(1, Ordering::SeqCst);
        let guard = Self(Arc::clone(counter));
        (before < max).then_some(guard)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn policy_refuses_short_and_common_passwords() {
        assert!(check_policy("short", "a@b.c").is_err());
        assert!(check_policy("password123", "a@b.c").is_err());
        assert!(check_policy("qwertyuiop", "a@b.c").is_err());
        assert!(check_policy("annabelle1984", "annabelle1984@example.com").is_err());
        assert!(check_policy(&"x".repeat(MAX_LEN + 1), "a@b.c").is_err());
        assert!(check_policy("correct horse battery staple 42", "a@b.c").is_ok());
        assert!(check_policy("Tz8#pWq!4nLk", "a@b.c").is_ok());
    }

    #[tokio::test]
    async fn hashes_at_owasp_parameters_and_verifies() {
        let h = Hasher::new(1, 4).unwrap();
        let phc = h
            .hash(Zeroizing::new("correct horse battery staple 42".into()))
            .await
            .unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            h.verify(
                Zeroizing::new("correct horse battery staple 42".into()),
                Some(phc.clone())
            )
            .await
            .unwrap()
        );
        assert!(
            !h.verify(Zeroizing::new("wrong".into()), Some(phc))
                .await
                .unwrap()
        );
        assert!(
            !h.verify(Zeroizing::new("anything".into()), None)
                .await
                .unwrap()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_answers_busy_at_once() {
        let h = Hasher::new(1, 2).unwrap();
        let checks: Vec<_> = (0..8)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move { h.verify(Zeroizing::new("x".into()), None).await })
            })
            .collect();
        let mut busy = 0;
        for check in checks {
            busy += usize::from(matches!(check.await.unwrap(), Err(HashError::Busy)));
        }
        assert!(
            busy >= 1,
            "eight checks for three places: some must be turned away"
        );
        assert_eq!(h.in_flight.load(Ordering::SeqCst), 0);
        assert!(h.verify(Zeroizing::new("x".into()), None).await.is_ok());
    }
}
