//! Lock-out, throttling, credential stuffing, and answers that do not reveal accounts.

use std::time::{Duration, Instant};

use porchlight_client::proto::{ErrorCode, LoginRequest};

use crate::harness::{TestApp, activity_kinds, both_backends, code_of};

fn wrong_password(email: &str) -> LoginRequest {
    LoginRequest {
        email: email.into(),
        password: "not the password at all".into(),
        totp_code: Some("123456".into()),
        recovery_code: None,
        device_name: None,
    }
}

both_backends!(lockout_after_repeated_failures, lockout, |c| {
    c.signin.lockout_threshold = 3;
    c.signin.lockout_base_secs = 60;
});
async fn lockout(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    for _ in 0..3 {
        assert_eq!(
            code_of(app.client().login(&wrong_password(&ann.email)).await),
            ErrorCode::InvalidCredentials
        );
    }
    // Locked: even the right password and code are refused, with a time to come back.
    let locked = app
        .client()
        .login(&app.login_request(&ann, &app.code(&ann.totp_secret)))
        .await;
    let err = locked.err().unwrap();
    assert_eq!(err.code(), Some(ErrorCode::Throttled));
    assert_eq!(err.status(), Some(429));
    let retry = err.retry_after_secs().unwrap();
    assert!((55..=60).contains(&retry), "retry after {retry}");

    // After the lock, one more failure locks again for twice as long.
    app.clock.advance_ms(61_000);
    assert_eq!(
        code_of(app.client().login(&wrong_password(&ann.email)).await),
        ErrorCode::InvalidCredentials
    );
    let err = app
        .client()
        .login(&wrong_password(&ann.email))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Some(ErrorCode::Throttled));
    assert!((115..=120).contains(&err.retry_after_secs().unwrap()));
    app.clock.advance_ms(121_000);
    assert!(app.login(&ann).await.is_ok());

    // The owner saw it all, and was told.
    let kinds = activity_kinds(&ann.client).await;
    assert!(kinds.iter().filter(|k| *k == "sign_in_failed").count() >= 4);
    assert!(kinds.iter().any(|k| k == "locked_out"));
    app.drain_outbox().await;
    let feed = ann.client.notifications().await.unwrap().notifications;
    assert!(feed.iter().any(|n| n.kind == "locked_out"));

    // An address with no account locks after the same number of failures, the same way.
    for _ in 0..3 {
        assert_eq!(
            code_of(
                app.client()
                    .login(&wrong_password("nobody@example.com"))
                    .await
            ),
            ErrorCode::InvalidCredentials
        );
    }
    let err = app
        .client()
        .login(&wrong_password("nobody@example.com"))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Some(ErrorCode::Throttled));
    assert!((55..=60).contains(&err.retry_after_secs().unwrap()));
}

both_backends!(stuffing_source_is_blocked, stuffing, |c| {
    c.signin.stuffing_distinct_names = 5;
    c.signin.stuffing_block_secs = 600;
});
async fn stuffing(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    // One address tries a list of stolen credentials against many accounts...
    for i in 0..5 {
        assert_eq!(
            code_of(
                app.client()
                    .login(&wrong_password(&format!("victim{i}@example.com")))
                    .await
            ),
            ErrorCode::InvalidCredentials
        );
    }
    // ...and is blocked, even for a pair that is right.
    let err = app
        .client()
        .login(&app.login_request(&ann, &app.code(&ann.totp_secret)))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code(), Some(ErrorCode::Throttled));
    assert!(err.retry_after_secs().unwrap() > 500);
    // A blocked source cannot start sign-ups or check a password through a session either.
    let signup = app
        .client()
        .signup(&porchlight_client::proto::SignupRequest {
            email: "new@example.com".into(),
            password: "correct horse battery staple 42".into(),
        })
        .await;
    assert_eq!(code_of(signup), ErrorCode::Throttled);
    let change = ann
        .client
        .change_password(&porchlight_client::proto::PasswordChangeRequest {
            current_password: "guess".into(),
            new_password: "another long passphrase 9".into(),
        })
        .await;
    assert_eq!(code_of(change), ErrorCode::Throttled);
    app.clock.advance_ms(601_000);
    assert!(app.login(&ann).await.is_ok());
}

both_backends!(per_source_rate_limit, per_source_rate, |c| c
    .signin
    .per_source_per_minute =
    4);
async fn per_source_rate(app: &TestApp) {
    let mut throttled = None;
    for _ in 0..6 {
        if let Err(e) = app.client().login(&wrong_password("x@example.com")).await
            && e.code() == Some(ErrorCode::Throttled)
        {
            throttled = Some(e);
            break;
        }
    }
    let e = throttled.expect("the fifth attempt within a minute is throttled");
    assert!(e.retry_after_secs().unwrap() >= 1);
}

/// Raw answers, to compare bytes rather than parsed values.
async fn raw_login(app: &TestApp, body: &LoginRequest) -> (u16, String, Duration) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/api/login", app.url))
        .header("porchlight-device", "0123456789abcdef0123456789abcdef")
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, text, started.elapsed())
}

both_backends!(no_account_enumeration, enumeration, |c| {
    c.signin.lockout_threshold = 1_000;
    c.signin.stuffing_distinct_names = 1_000;
});
async fn enumeration(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let unknown = raw_login(app, &wrong_password("nobody@example.com")).await;
    let bad_password = raw_login(app, &wrong_password(&ann.email)).await;
    let mut bad_code = app.login_request(&ann, "000000");
    if app.code(&ann.totp_secret) == "000000" {
        bad_code.totp_code = Some("000001".into());
    }
    let bad_code = raw_login(app, &bad_code).await;
    let invalid_email = raw_login(app, &wrong_password("not an address")).await;
    for other in [&bad_password, &bad_code, &invalid_email] {
        assert_eq!(
            (unknown.0, &unknown.1),
            (other.0, &other.1),
            "answers differ"
        );
    }
    assert_eq!(unknown.0, 401);

    // Timing: an unknown address costs one Argon2 verification, like a known one. Interleave
    // the samples so drift in machine load hits both alike, and compare medians. Without the
    // dummy verification the unknown path is an order of magnitude faster; the bound leaves
    // room for a machine busy with other tests.
    let mut known = Vec::new();
    let mut missing = Vec::new();
    for i in 0..12 {
        missing.push(
            raw_login(app, &wrong_password(&format!("nobody{i}@example.com")))
                .await
                .2,
        );
        known.push(raw_login(app, &wrong_password(&ann.email)).await.2);
    }
    known.sort();
    missing.sort();
    let (k, m) = (known[6].as_secs_f64(), missing[6].as_secs_f64());
    let ratio = k.max(m) / k.min(m);
    assert!(
        ratio < 2.0,
        "median sign-in failure: known {k:.4}s, unknown {m:.4}s"
    );
}
