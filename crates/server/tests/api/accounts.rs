//! Sign-up, enrolment, sign-in, sessions and security changes.

use porchlight_client::proto::{
    ErrorCode, LoginRequest, LogoutRequest, PasswordChangeRequest, SignupConfirmRequest,
    TotpResetConfirmRequest, TotpResetRequest,
};
use porchlight_client::{Client, Secret};

use crate::harness::{PASSWORD, TestApp, activity_details, activity_kinds, both_backends, code_of};

both_backends!(signup_enrol_signin, signup_enrol_signin);
async fn signup_enrol_signin(app: &TestApp) {
    let client = app.client();
    let started = app.signup(&client, "Ann@Example.com").await;
    assert!(
        started
            .otpauth_uri
            .starts_with("otpauth://totp/Porchlight:ann%40example.com?")
    );
    assert_eq!(started.recovery_codes.len(), 10);

    // Until a first code is confirmed there is no account: no sign-in, and the enrolment token
    // opens nothing.
    let early = app
        .client()
        .login(&LoginRequest {
            email: "ann@example.com".into(),
            password: PASSWORD.into(),
            totp_code: Some(app.code(&started.totp_secret)),
            recovery_code: None,
            device_name: None,
        })
        .await;
    assert_eq!(code_of(early), ErrorCode::InvalidCredentials);
    let enrolment_as_session = client
        .clone()
        .with_token(Secret::new(started.enrolment_token.clone()));
    assert_eq!(
        code_of(enrolment_as_session.me().await),
        ErrorCode::Unauthenticated
    );

    // A wrong first code does not enrol.
    let wrong = client
        .signup_confirm(&SignupConfirmRequest {
            enrolment_token: started.enrolment_token.clone(),
            code: "000000".into(),
            email_code: None,
            device_name: None,
        })
        .await;
    assert_eq!(code_of(wrong), ErrorCode::InvalidCode);

    let session = client
        .signup_confirm(&SignupConfirmRequest {
            enrolment_token: started.enrolment_token.clone(),
            code: app.code(&started.totp_secret),
            email_code: None,
            device_name: Some("laptop".into()),
        })
        .await
        .unwrap();
    let ann = client.with_token(Secret::new(session.token.clone()));
    let me = ann.me().await.unwrap();
    assert_eq!(me.email, "ann@example.com");
    assert_eq!(me.session_id, session.session_id);

    // The enrolment is single use.
    let again = app
        .client()
        .signup_confirm(&SignupConfirmRequest {
            enrolment_token: started.enrolment_token,
            code: app.code(&started.totp_secret),
            email_code: None,
            device_name: None,
        })
        .await;
    assert_eq!(code_of(again), ErrorCode::InvalidCode);

    // Sign in from a second device with password and a fresh code.
    app.next_step();
    let second = app.client();
    let s2 = second
        .login(&LoginRequest {
            email: "ann@example.com".into(),
            password: PASSWORD.into(),
            totp_code: Some(app.code(&started.totp_secret)),
            recovery_code: None,
            device_name: Some("phone".into()),
        })
        .await
        .unwrap();
    let second = second.with_token(Secret::new(s2.token));
    let sessions = second.sessions().await.unwrap().sessions;
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s.current).count(), 1);
    assert!(
        sessions.iter().any(|s| s.device_name == "laptop")
            && sessions.iter().any(|s| s.device_name == "phone")
    );

    let kinds = activity_kinds(&ann).await;
    for kind in ["account_created", "sign_in", "new_device"] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "{kind} missing from {kinds:?}"
        );
    }
}

both_backends!(wrong_code_is_refused, wrong_code_is_refused);
async fn wrong_code_is_refused(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let good = app.code(&ann.totp_secret);
    let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert_eq!(
        code_of(app.client().login(&app.login_request(&ann, &wrong)).await),
        ErrorCode::InvalidCredentials
    );
    assert_eq!(
        code_of(app.client().login(&app.login_request(&ann, "12ab56")).await),
        ErrorCode::InvalidCredentials
    );
    // A code from two steps ago is outside the window.
    let old =
        porchlight_server::auth::totp::code_for_base32(&ann.totp_secret, app.clock_now() - 90_000)
            .unwrap();
    if old != good {
        assert_eq!(
            code_of(app.client().login(&app.login_request(&ann, &old)).await),
            ErrorCode::InvalidCredentials
        );
    }
    assert!(
        app.client()
            .login(&app.login_request(&ann, &good))
            .await
            .is_ok()
    );
    let details = activity_details(&ann.client).await;
    assert!(
        details.iter().any(|d| d == "wrong authenticator code"),
        "{details:?}"
    );
}

both_backends!(replayed_code_is_refused, replayed_code_is_refused);
async fn replayed_code_is_refused(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let code = app.code(&ann.totp_secret);
    assert!(
        app.client()
            .login(&app.login_request(&ann, &code))
            .await
            .is_ok()
    );
    // Same code, same window, another device: refused for the rest of its window...
    assert_eq!(
        code_of(app.client().login(&app.login_request(&ann, &code)).await),
        ErrorCode::InvalidCredentials
    );
    app.clock.advance_ms(29_000);
    assert_eq!(
        code_of(app.client().login(&app.login_request(&ann, &code)).await),
        ErrorCode::InvalidCredentials
    );
    // ...and the next step's code works.
    app.next_step();
    assert!(app.login(&ann).await.is_ok());
    let details = activity_details(&ann.client).await;
    assert!(
        details.iter().any(|d| d.contains("already used")),
        "{details:?}"
    );
}

both_backends!(concurrent_replay_wins_once, concurrent_replay_wins_once);
async fn concurrent_replay_wins_once(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let request = app.login_request(&ann, &app.code(&ann.totp_secret));
    let attempts = (0..6).map(|_| {
        let client = app.client();
        let request = request.clone();
        tokio::spawn(async move { client.login(&request).await.is_ok() })
    });
    let mut wins = 0;
    for attempt in attempts {
        wins += usize::from(attempt.await.unwrap());
    }
    assert_eq!(wins, 1, "one code, one sign-in");
}

both_backends!(
    password_change_ends_other_sessions,
    password_change_ends_other_sessions
);
async fn password_change_ends_other_sessions(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let other = app.login(&ann).await.unwrap();
    assert!(other.me().await.is_ok());
    let bob = app.account("bob@example.com").await;

    // A wrong current password changes nothing and does not end the session.
    let wrong = ann
        .client
        .change_password(&PasswordChangeRequest {
            current_password: "not it at all".into(),
            new_password: "a brand new passphrase 77".into(),
        })
        .await;
    assert_eq!(code_of(wrong), ErrorCode::InvalidCredentials);
    assert!(other.me().await.is_ok());
    // A weak new password is refused.
    let weak = ann
        .client
        .change_password(&PasswordChangeRequest {
            current_password: PASSWORD.into(),
            new_password: "password1".into(),
        })
        .await;
    assert_eq!(code_of(weak), ErrorCode::WeakPassword);

    let revoked = ann
        .client
        .change_password(&PasswordChangeRequest {
            current_password: PASSWORD.into(),
            new_password: "a brand new passphrase 77".into(),
        })
        .await
        .unwrap();
    assert_eq!(revoked.revoked_sessions, 1);
    // The other session's very next request is refused; this one and other accounts go on.
    assert_eq!(code_of(other.me().await), ErrorCode::Unauthenticated);
    assert!(ann.client.me().await.is_ok());
    assert!(bob.client.me().await.is_ok());

    app.next_step();
    assert_eq!(
        code_of(app.login(&ann).await),
        ErrorCode::InvalidCredentials
    );
    app.next_step();
    let mut request = app.login_request(&ann, &app.code(&ann.totp_secret));
    request.password = "a brand new passphrase 77".into();
    assert!(app.client().login(&request).await.is_ok());
}

both_backends!(
    totp_reset_ends_other_sessions,
    totp_reset_ends_other_sessions
);
async fn totp_reset_ends_other_sessions(app: &TestApp) {
    let mut ann = app.account("ann@example.com").await;
    let other = app.login(&ann).await.unwrap();
    app.next_step();
    let started = ann
        .client
        .totp_reset(&TotpResetRequest {
            password: PASSWORD.into(),
            totp_code: Some(app.code(&ann.totp_secret)),
            recovery_code: None,
        })
        .await
        .unwrap();
    // Nothing changes until a code from the new secret is confirmed.
    assert!(other.me().await.is_ok());
    if app.code(&ann.totp_secret) != app.code(&started.totp_secret) {
        let wrong = ann
            .client
            .totp_reset_confirm(&TotpResetConfirmRequest {
                code: app.code(&ann.totp_secret),
            })
            .await;
        assert_eq!(code_of(wrong), ErrorCode::InvalidCode);
    }
    let done = ann
        .client
        .totp_reset_confirm(&TotpResetConfirmRequest {
            code: app.code(&started.totp_secret),
        })
        .await
        .unwrap();
    assert_eq!(done.revoked_sessions, 1);
    assert_eq!(done.recovery_codes.len(), 10);
    assert_eq!(code_of(other.me().await), ErrorCode::Unauthenticated);
    assert!(ann.client.me().await.is_ok());
    let kinds = activity_kinds(&ann.client).await;
    assert!(
        kinds.iter().any(|k| k == "totp_reset_started") && kinds.iter().any(|k| k == "totp_reset"),
        "{kinds:?}"
    );

    // The old factor and the old recovery codes are gone; the new ones work.
    app.next_step();
    assert_eq!(
        code_of(app.login(&ann).await),
        ErrorCode::InvalidCredentials
    );
    let old_recovery = ann.recovery_codes[0].clone();
    let mut request = app.login_request(&ann, "");
    request.totp_code = None;
    request.recovery_code = Some(old_recovery);
    assert_eq!(
        code_of(app.client().login(&request).await),
        ErrorCode::InvalidCredentials
    );
    ann.totp_secret = started.totp_secret;
    app.next_step();
    assert!(app.login(&ann).await.is_ok());
}

both_backends!(recovery_codes_work_once, recovery_codes_work_once);
async fn recovery_codes_work_once(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let mut request = app.login_request(&ann, "");
    request.totp_code = None;
    // Typed in capitals with spaces: still the same code.
    request.recovery_code = Some(ann.recovery_codes[3].to_uppercase().replace('-', " "));
    assert!(app.client().login(&request).await.is_ok());
    assert_eq!(
        code_of(app.client().login(&request).await),
        ErrorCode::InvalidCredentials
    );
    // Both factors at once, or neither, is a malformed request.
    request.totp_code = Some(app.code(&ann.totp_secret));
    assert_eq!(
        code_of(app.client().login(&request).await),
        ErrorCode::InvalidInput
    );
}

both_backends!(
    sessions_are_bound_to_their_device,
    sessions_are_bound_to_their_device
);
async fn sessions_are_bound_to_their_device(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    // The same token from another device id is worthless.
    let thief = app
        .client()
        .with_token(Secret::new(ann.session.token.clone()));
    assert_eq!(code_of(thief.me().await), ErrorCode::Unauthenticated);
    assert!(ann.client.me().await.is_ok());
    // A made-up token too.
    let forged = Client::new(&app.url, ann.client.device_id().clone())
        .unwrap()
        .with_token(Secret::new("A".repeat(43)));
    assert_eq!(code_of(forged.me().await), ErrorCode::Unauthenticated);
}

both_backends!(sessions_expire, sessions_expire, |c| {
    c.session.idle_timeout_secs = 3600;
    c.session.absolute_timeout_secs = 3 * 3600;
});
async fn sessions_expire(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    // Used every 50 minutes it stays alive until the absolute limit.
    for _ in 0..3 {
        app.clock.advance_ms(50 * 60_000);
        assert!(ann.client.me().await.is_ok());
    }
    app.clock.advance_ms(40 * 60_000);
    assert_eq!(code_of(ann.client.me().await), ErrorCode::Unauthenticated);

    // Idle for over an hour, it ends.
    app.next_step();
    let idle = app.login(&ann).await.unwrap();
    app.clock.advance_ms(61 * 60_000);
    assert_eq!(code_of(idle.me().await), ErrorCode::Unauthenticated);
}

both_backends!(
    revoke_and_sign_out_everywhere,
    revoke_and_sign_out_everywhere
);
async fn revoke_and_sign_out_everywhere(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let bob = app.account("bob@example.com").await;
    let second = app.login(&ann).await.unwrap();
    app.next_step();
    let third = app.login(&ann).await.unwrap();

    // Nobody can end another account's session; the answer is the same as for no session.
    assert_eq!(
        code_of(bob.client.revoke_session(&ann.session.session_id).await),
        ErrorCode::NotFound
    );
    assert_eq!(
        code_of(bob.client.revoke_session("no-such-session").await),
        ErrorCode::NotFound
    );
    assert!(ann.client.me().await.is_ok());

    let second_id = second.me().await.unwrap().session_id;
    ann.client.revoke_session(&second_id).await.unwrap();
    assert_eq!(code_of(second.me().await), ErrorCode::Unauthenticated);

    let out = third
        .logout(&LogoutRequest { everywhere: true })
        .await
        .unwrap();
    assert_eq!(out.revoked_sessions, 2);
    assert_eq!(code_of(third.me().await), ErrorCode::Unauthenticated);
    assert_eq!(code_of(ann.client.me().await), ErrorCode::Unauthenticated);
    assert!(bob.client.me().await.is_ok());
}

both_backends!(
    signup_of_a_taken_address_fails_late_and_tells_the_owner,
    signup_of_a_taken_address
);
async fn signup_of_a_taken_address(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    // Starting a sign-up looks the same as for a free address...
    let client = app.client();
    let started = app.signup(&client, "ANN@example.com").await;
    assert_eq!(started.recovery_codes.len(), 10);
    // ...it fails only once a fresh authenticator is proven, and the owner hears of it.
    let confirm = client
        .signup_confirm(&SignupConfirmRequest {
            enrolment_token: started.enrolment_token,
            code: app.code(&started.totp_secret),
            email_code: None,
            device_name: None,
        })
        .await;
    assert_eq!(code_of(confirm), ErrorCode::SignupFailed);
    app.drain_outbox().await;
    let feed = ann.client.notifications().await.unwrap().notifications;
    assert!(feed.iter().any(|n| n.kind == "signup_attempt"), "{feed:?}");
    assert!(ann.client.me().await.is_ok());
}

/// Codes from an independent implementation (`oathtool`, RFC 6238) sign in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oathtool_codes_sign_in() {
    if std::process::Command::new("oathtool")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("oathtool leg skipped: oathtool is not installed (apt-get install oathtool)");
        return;
    }
    let app = TestApp::sqlite(|_| {}).await;
    let ann = app.account("ann@example.com").await;
    let oathtool = |at_ms: i64| {
        let out = std::process::Command::new("oathtool")
            .args([
                "--totp",
                "-b",
                "--now",
                &format!("@{}", at_ms / 1000),
                &ann.totp_secret,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "oathtool failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let code = oathtool(app.clock_now());
    assert!(
        app.client()
            .login(&app.login_request(&ann, &code))
            .await
            .is_ok()
    );
    // And its next code, a step later, too; a code from an hour ago does not.
    app.next_step();
    assert_eq!(
        code_of(
            app.client()
                .login(&app.login_request(&ann, &oathtool(app.clock_now() - 3_600_000)))
                .await
        ),
        ErrorCode::InvalidCredentials
    );
    assert!(
        app.client()
            .login(&app.login_request(&ann, &oathtool(app.clock_now())))
            .await
            .is_ok()
    );
    app.stop().await;
}

both_backends!(totp_secrets_are_sealed_in_the_store, totp_secrets_sealed);
async fn totp_secrets_sealed(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let raw = totp_rs::Secret::try_from_base32(&ann.totp_secret)
        .unwrap()
        .as_ref()
        .to_vec();
    let stored = app
        .server
        .state
        .store
        .account_by_email("ann@example.com")
        .await
        .unwrap()
        .unwrap()
        .totp_secret;
    // What the database holds is not the secret, nor contains it; the server opens it.
    assert!(!stored.windows(raw.len()).any(|w| w == raw.as_slice()));
    assert_eq!(
        app.server
            .state
            .secret
            .open_totp(&stored)
            .unwrap()
            .as_slice(),
        raw.as_slice()
    );
    // And a sign-in with the authenticator's code works as before.
    app.next_step();
    app.login(&ann).await.unwrap();
}
