//! Mail to an address rather than to an account: the code that proves a sign-up's address,
//! a password-reset link, a new address to confirm and a change to undo from the old one.
//!
//! Each message carries a token derived from the server's secret and a random id
//! ([`ServerSecret::email_token`], [`ServerSecret::signup_code`]); the mail outbox keeps the
//! id and the token table keeps the token's hash, so neither alone (nor a database dump)
//! yields a working link. Links put the token after `#`, which browsers send to no server and
//! put in no `Referer`: the page reads it and posts it. The link's start is the configured
//! `public_url`, never a request's `Host`.

use porchlight_store::{EmailToken, MailItem, TokenPurpose};
use zeroize::Zeroizing;

use crate::auth::secrets::{ServerSecret, random_id, token_hash};

/// How long a password-reset link works.
pub const RESET_TTL_MS: i64 = 30 * 60 * 1000;
/// How long a link to confirm a new address works.
pub const CHANGE_TTL_MS: i64 = 24 * 3600 * 1000;
/// How long the old address can undo a change.
pub const UNDO_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

/// Which message a mail-outbox row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    SignupCode,
    Reset,
    EmailChange,
    EmailUndo,
}

impl Template {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignupCode => "signup_code",
            Self::Reset => "reset",
            Self::EmailChange => "email_change",
            Self::EmailUndo => "email_undo",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::SignupCode,
            Self::Reset,
            Self::EmailChange,
            Self::EmailUndo,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// A message ready to send. The body holds a working token: it goes to the SMTP relay and
/// nowhere else (not a log line, not an error).
pub struct Composed {
    pub subject: String,
    pub body: Zeroizing<String>,
}

impl std::fmt::Debug for Composed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Composed")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A mail-outbox row for `template` to `to`, with a fresh token id.
pub fn mail_item(template: Template, to: &str, now_ms: i64) -> MailItem {
    MailItem {
        id: random_id(),
        to_address: to.to_owned(),
        template: template.as_str().to_owned(),
        token_id: random_id(),
        created_at_ms: now_ms,
        attempts: 0,
        next_attempt_ms: now_ms,
        last_error: String::new(),
    }
}

/// The token row that goes with `mail` (its hash only).
pub fn token_for(
    secret: &ServerSecret,
    mail: &MailItem,
    purpose: TokenPurpose,
    account_id: &str,
    email: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> EmailToken {
    EmailToken {
        token_hash: token_hash(&secret.email_token(&mail.token_id)),
        purpose,
        account_id: account_id.to_owned(),
        email: email.to_owned(),
        created_at_ms: now_ms,
        expires_at_ms: now_ms.saturating_add(ttl_ms),
    }
}

/// `a***@example.com`: enough for its owner to recognise, not the whole address.
pub fn masked(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

fn link(public_url: Option<&str>, path: &str, token: &str) -> String {
    match public_url {
        Some(base) => {
            format!("open this link:\n\n    {base}{path}#token={token}\n\nor enter this code")
        }
        None => "enter this code".to_owned(),
    }
}

/// The message `item` stands for. `new_address` names, in an undo message, the address the
/// account moved to (masked).
pub fn compose(
    secret: &ServerSecret,
    item: &MailItem,
    template: Template,
    public_url: Option<&str>,
    new_address: Option<&str>,
) -> Composed {
    match template {
        Template::SignupCode => {
            let code = secret.signup_code(&item.token_id);
            Composed {
                subject: "Porchlight: Your sign-up code".to_owned(),
                body: Zeroizing::new(format!(
                    "Your Porchlight sign-up code is:\n\n    {}\n\n\
                     Type it where you are setting up your account, with the code from your \
                     authenticator app. It works for 15 minutes.\n\n\
                     If you did not start a sign-up, ignore this email: without this code no \
                     account is made with your address.\n",
                    code.as_str()
                )),
            }
        }
        Template::Reset => {
            let token = secret.email_token(&item.token_id);
            Composed {
                subject: "Porchlight: Reset your password".to_owned(),
                body: Zeroizing::new(format!(
                    "Someone asked to reset the password of the Porchlight account that uses \
                     this address.\n\nTo choose a new password within 30 minutes, {}:\n\n\
                     Code: {}\n\n\
                     You will also need your authenticator app or a sign-in recovery code. \
                     A reset signs out every device. It changes nothing about your video: only \
                     your own devices' keys open it, and a reset touches none of them.\n\n\
                     If you did not ask for this, ignore this email; your password stays as \
                     it is.\n",
                    link(public_url, "/reset", &token),
                    token.as_str()
                )),
            }
        }
        Template::EmailChange => {
            let token = secret.email_token(&item.token_id);
            Composed {
                subject: "Porchlight: Confirm your new address".to_owned(),
                body: Zeroizing::new(format!(
                    "To make this the address of your Porchlight account within 24 hours, \
                     {}:\n\nCode: {}\n\n\
                     If you did not ask for this, ignore this email; nothing changes.\n",
                    link(public_url, "/email/confirm", &token),
                    token.as_str()
                )),
            }
        }
        Template::EmailUndo => {
            let token = secret.email_token(&item.token_id);
            let to = new_address.map_or_else(|| "another address".to_owned(), masked);
            Composed {
                subject: "Porchlight: Your address was changed".to_owned(),
                body: Zeroizing::new(format!(
                    "The address of your Porchlight account was changed from this one to {to}.\n\n\
                     If you made this change, there is nothing to do.\n\n\
                     If you did not, undo it within 7 days: the address goes back to this one \
                     and every device is signed out. To undo, {}:\n\nCode: {}\n\n\
                     Then sign in and change your password.\n",
                    link(public_url, "/email/undo", &token),
                    token.as_str()
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_carries_the_token_after_the_hash_and_the_code_beside_it() {
        let secret = ServerSecret::random();
        let item = mail_item(Template::Reset, "ann@example.com", 1);
        let token = secret.email_token(&item.token_id);
        let mail = compose(
            &secret,
            &item,
            Template::Reset,
            Some("https://cams.example.com"),
            None,
        );
        assert!(mail.body.contains(&format!(
            "https://cams.example.com/reset#token={}",
            token.as_str()
        )));
        assert!(mail.body.contains(&format!("Code: {}", token.as_str())));
        let plain = compose(&secret, &item, Template::Reset, None, None);
        assert!(!plain.body.contains("http"));
        assert!(plain.body.contains(token.as_str()));
        assert!(!format!("{mail:?}").contains(token.as_str()));
    }

    #[test]
    fn the_stored_hash_is_the_hash_of_the_mailed_token() {
        let secret = ServerSecret::random();
        let item = mail_item(Template::EmailChange, "new@example.com", 5);
        let row = token_for(
            &secret,
            &item,
            TokenPurpose::EmailChange,
            "acct",
            "new@example.com",
            5,
            CHANGE_TTL_MS,
        );
        assert_eq!(
            row.token_hash,
            token_hash(&secret.email_token(&item.token_id))
        );
        assert_eq!(row.expires_at_ms, 5 + CHANGE_TTL_MS);
        // Another server's secret makes another token from the same row.
        let other = ServerSecret::random();
        assert_ne!(
            token_hash(&other.email_token(&item.token_id)),
            row.token_hash
        );
    }

    #[test]
    fn templates_round_trip_and_addresses_mask() {
        for t in [
            Template::SignupCode,
            Template::Reset,
            Template::EmailChange,
            Template::EmailUndo,
        ] {
            assert_eq!(Template::parse(t.as_str()), Some(t));
        }
        assert_eq!(Template::parse("other"), None);
        assert_eq!(masked("ann@example.com"), "a***@example.com");
        assert_eq!(masked("nope"), "***");
    }
}
