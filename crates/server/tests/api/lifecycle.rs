//! A verified address, a forgotten password and a changed address, on a server that sends
//! email to a real SMTP receiver started by the test (`Mailbox`).

use std::time::{Duration, Instant};

use porchlight_client::proto::{
    EmailChangeRequest, EmailTokenRequest, ErrorCode, PasswordForgotRequest, PasswordResetRequest,
    SignupConfirmRequest,
};
use porchlight_client::{Client, ClientError};

use crate::harness::{
    Account, PASSWORD, PUBLIC_URL, TestApp, activity_kinds, both_backends, both_backends_mail,
    code_of,
};

const NEW_PASSWORD: &str = "a different long passphrase 77";

fn reset(token: &str, totp: Option<String>, recovery: Option<String>) -> PasswordResetRequest {
    PasswordResetRequest {
        token: token.to_owned(),
        new_password: NEW_PASSWORD.to_owned(),
        totp_code: totp,
        recovery_code: recovery,
    }
}

/// Asks for a reset of `email` and returns the token of the `n`th reset mail to it.
async fn reset_token(app: &TestApp, email: &str, n: usize) -> String {
    let answer = app
        .client()
        .password_forgot(&PasswordForgotRequest {
            email: email.to_owned(),
        })
        .await
        .unwrap();
    assert!(
        answer
            .message
            .starts_with("If an account uses that address")
    );
    let mail = app.mail().wait(email, "Reset your password", n).await;
    let token = mail.code();
    assert_eq!(
        mail.link(PUBLIC_URL).as_deref(),
        Some(format!("{PUBLIC_URL}/reset#token={token}").as_str()),
        "the link carries the token after #, never in the path or query"
    );
    token
}

fn assert_signed_out<T: std::fmt::Debug>(result: Result<T, ClientError>) {
    assert_eq!(code_of(result), ErrorCode::Unauthenticated);
}

both_backends_mail!(signup_proves_the_address, signup_proves_the_address);
async fn signup_proves_the_address(app: &TestApp) {
    let client = app.client();
    let started = app.signup(&client, "ann@example.com").await;
    assert!(started.email_code_sent);
    let mail = app.mail().wait("ann@example.com", "sign-up code", 1).await;
    let code = mail.signup_code();
    let confirm = |email_code: Option<String>| SignupConfirmRequest {
        enrolment_token: started.enrolment_token.clone(),
        code: app.code(&started.totp_secret),
        email_code,
        device_name: None,
    };
    // The authenticator's code alone, or with a wrong emailed code: refused as a wrong code.
    assert_eq!(
        code_of(client.signup_confirm(&confirm(None)).await),
        ErrorCode::InvalidCode
    );
    assert_eq!(
        code_of(
            client
                .signup_confirm(&confirm(Some("AAAA-AAAA".into())))
                .await
        ),
        ErrorCode::InvalidCode
    );
    // Typed in lower case without the dash: the same code.
    let typed = code.replace('-', "").to_lowercase();
    let session = client.signup_confirm(&confirm(Some(typed))).await.unwrap();
    let ann = client.with_token(porchlight_client::Secret::new(session.token));
    let me = ann.me().await.unwrap();
    assert!(me.email_verified);

    // Five wrong emailed codes end a sign-up: the right one is then refused too.
    app.next_step();
    let client = app.client();
    let started = app.signup(&client, "bob@example.com").await;
    let right = app
        .mail()
        .wait("bob@example.com", "sign-up code", 1)
        .await
        .signup_code();
    for _ in 0..5 {
        let wrong = SignupConfirmRequest {
            enrolment_token: started.enrolment_token.clone(),
            code: app.code(&started.totp_secret),
            email_code: Some("0000-0000".into()),
            device_name: None,
        };
        assert_eq!(
            code_of(client.signup_confirm(&wrong).await),
            ErrorCode::InvalidCode
        );
    }
    let late = SignupConfirmRequest {
        enrolment_token: started.enrolment_token.clone(),
        code: app.code(&started.totp_secret),
        email_code: Some(right),
        device_name: None,
    };
    assert_eq!(
        code_of(client.signup_confirm(&late).await),
        ErrorCode::InvalidCode
    );
}

both_backends_mail!(signup_of_a_taken_address, signup_of_a_taken_address);
async fn signup_of_a_taken_address(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let fresh = app.signup(&app.client(), "new@example.com").await;
    let client = app.client();
    let taken = app.signup(&client, "ann@example.com").await;
    // The same answer as for a fresh address (its own secrets, the same fields and flags).
    assert_eq!(taken.email_code_sent, fresh.email_code_sent);
    assert_eq!(taken.recovery_codes.len(), fresh.recovery_codes.len());
    assert_eq!(
        taken.expires_at_ms - app.clock_now(),
        fresh.expires_at_ms - app.clock_now()
    );
    // Ann is told, and no code was sent: nothing can finish it.
    let note = app
        .mail()
        .wait("ann@example.com", "Someone tried to sign up", 1)
        .await;
    assert!(
        note.body.contains("Your account is unchanged"),
        "{}",
        note.body
    );
    app.drain_outbox().await;
    let codes = app
        .mail()
        .to("ann@example.com")
        .into_iter()
        .filter(|m| m.subject.contains("sign-up code"))
        .count();
    assert_eq!(codes, 1, "only Ann's own sign-up code");
    for guess in ["ABCD-EFGH", "0000-0000"] {
        let attempt = SignupConfirmRequest {
            enrolment_token: taken.enrolment_token.clone(),
            code: app.code(&taken.totp_secret),
            email_code: Some(guess.into()),
            device_name: None,
        };
        assert_eq!(
            code_of(client.signup_confirm(&attempt).await),
            ErrorCode::InvalidCode
        );
    }
    assert!(ann.client.me().await.is_ok());
}

both_backends_mail!(
    reset_with_token_and_second_factor,
    reset_with_token_and_second_factor
);
async fn reset_with_token_and_second_factor(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let second = app.login(&ann).await.unwrap();
    app.next_step();
    let third = app.login(&ann).await.unwrap();
    app.next_step();
    let token = reset_token(app, "ann@example.com", 1).await;
    let anon = app.client();

    // No second factor, or both: refused before anything is checked.
    assert_eq!(
        code_of(anon.password_reset(&reset(&token, None, None)).await),
        ErrorCode::InvalidInput
    );
    // A wrong code: refused, the password unchanged, the token still good.
    let mut wrong = app.code(&ann.totp_secret);
    wrong = if wrong == "000000" {
        "000001".into()
    } else {
        "000000".into()
    };
    assert_eq!(
        code_of(anon.password_reset(&reset(&token, Some(wrong), None)).await),
        ErrorCode::InvalidCredentials
    );
    assert!(ann.client.me().await.is_ok(), "a failed reset ends nothing");
    // A garbled token, and a well-formed one that was never sent.
    for bogus in ["nope", "A".repeat(43).as_str()] {
        assert_eq!(
            code_of(
                anon.password_reset(&reset(bogus, Some(app.code(&ann.totp_secret)), None))
                    .await
            ),
            ErrorCode::InvalidCode
        );
    }

    let done = anon
        .password_reset(&reset(&token, Some(app.code(&ann.totp_secret)), None))
        .await
        .unwrap();
    assert_eq!(done.revoked_sessions, 3);
    // Every session ended: the next request of each is 401.
    assert_signed_out(ann.client.me().await);
    assert_signed_out(second.me().await);
    assert_signed_out(third.sessions().await);
    // The token was single-use.
    app.next_step();
    assert_eq!(
        code_of(
            anon.password_reset(&reset(&token, Some(app.code(&ann.totp_secret)), None))
                .await
        ),
        ErrorCode::InvalidCode
    );
    // The old password is gone; the new one signs in (with the second factor, as always).
    app.next_step();
    assert_eq!(
        code_of(app.login(&ann).await),
        ErrorCode::InvalidCredentials
    );
    let mut request = app.login_request(&ann, &app.code(&ann.totp_secret));
    request.password = NEW_PASSWORD.into();
    let client = app.client();
    let session = client.login(&request).await.unwrap();
    let client = client.with_token(porchlight_client::Secret::new(session.token));
    let kinds = activity_kinds(&client).await;
    assert!(kinds.contains(&"password_reset".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"password_reset_requested".to_owned()));
    // Told on every channel: the in-app feed and the inbox.
    app.drain_outbox().await;
    let feed = client.notifications().await.unwrap().notifications;
    assert!(feed.iter().any(|n| n.kind == "password_reset"));
    let told = app
        .mail()
        .wait("ann@example.com", "Your password was reset", 1)
        .await;
    assert!(told.body.contains("changes no device key"), "{}", told.body);
}

both_backends_mail!(reset_refusals, reset_refusals);
async fn reset_refusals(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    let bob = app.account("bob@example.com").await;
    let anon = app.client();

    // A recovery code is a second factor too.
    let token = reset_token(app, "ann@example.com", 1).await;
    anon.password_reset(&reset(&token, None, Some(ann.recovery_codes[0].clone())))
        .await
        .unwrap();

    // Bob's token with Ann's code: the token is Bob's, so it is Bob's second factor it needs.
    app.clock.advance_ms(61_000);
    let bobs = reset_token(app, "bob@example.com", 1).await;
    let anns_code = app.code(&ann.totp_secret);
    if anns_code != app.code(&bob.totp_secret) {
        assert_eq!(
            code_of(
                anon.password_reset(&reset(&bobs, Some(anns_code), None))
                    .await
            ),
            ErrorCode::InvalidCredentials
        );
    }
    assert!(bob.client.me().await.is_ok());

    // Expired: 30 minutes and it is gone.
    app.clock.advance_ms(31 * 60_000);
    assert_eq!(
        code_of(
            anon.password_reset(&reset(&bobs, Some(app.code(&bob.totp_secret)), None))
                .await
        ),
        ErrorCode::InvalidCode
    );

    // A weak new password is refused with the token still good.
    app.next_step();
    let fresh = reset_token(app, "bob@example.com", 2).await;
    let mut weak = reset(&fresh, Some(app.code(&bob.totp_secret)), None);
    weak.new_password = "password".into();
    assert_eq!(
        code_of(anon.password_reset(&weak).await),
        ErrorCode::WeakPassword
    );

    // The lock-out counts wrong codes at reset like failed sign-ins, and then holds.
    for _ in 0..5 {
        let _ = anon
            .password_reset(&reset(&fresh, Some("000000".into()), None))
            .await;
        let _ = anon
            .password_reset(&reset(&fresh, Some("999999".into()), None))
            .await;
    }
    app.next_step();
    let locked = anon
        .password_reset(&reset(&fresh, Some(app.code(&bob.totp_secret)), None))
        .await;
    assert_eq!(code_of(locked), ErrorCode::Throttled);
    assert!(bob.client.me().await.is_ok());

    // Asking again within a minute sends no second mail.
    app.next_step();
    let before = app.mail().to("ann@example.com").len();
    for _ in 0..3 {
        anon.password_forgot(&PasswordForgotRequest {
            email: "ann@example.com".into(),
        })
        .await
        .unwrap();
    }
    app.mail()
        .wait("ann@example.com", "Reset your password", 2)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.drain_outbox().await;
    let resets = app
        .mail()
        .to("ann@example.com")
        .into_iter()
        .filter(|m| m.subject.contains("Reset your password"))
        .count();
    assert_eq!(resets, 2, "mails before: {before}");
}

/// Raw answers of `POST /api/password/forgot`, to compare bytes and time.
async fn raw_forgot(app: &TestApp, email: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/api/password/forgot", app.url))
        .json(&PasswordForgotRequest {
            email: email.to_owned(),
        })
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, text, started.elapsed())
}

both_backends_mail!(
    forgot_says_nothing_of_addresses,
    forgot_says_nothing_of_addresses
);
async fn forgot_says_nothing_of_addresses(app: &TestApp) {
    app.account("ann@example.com").await;
    let known = raw_forgot(app, "ann@example.com").await;
    let unknown = raw_forgot(app, "nobody@example.com").await;
    assert_eq!((known.0, &known.1), (unknown.0, &unknown.1));
    assert_eq!(known.0, 202);
    // Timing, as for sign-in: interleaved samples, medians compared. The known address's
    // lookup and mail happen after the answer, so the two cost the same.
    let mut k = Vec::new();
    let mut u = Vec::new();
    for i in 0..12 {
        u.push(raw_forgot(app, &format!("nobody{i}@example.com")).await.2);
        k.push(raw_forgot(app, "ann@example.com").await.2);
    }
    k.sort();
    u.sort();
    let (k, u) = (k[6].as_secs_f64(), u[6].as_secs_f64());
    println!(
        "forgot-password median answer: known {:.2} ms, unknown {:.2} ms",
        k * 1e3,
        u * 1e3
    );
    assert!(
        k.max(u) / k.min(u) < 2.0,
        "median forgot answer: known {k:.4}s, unknown {u:.4}s"
    );
    // And the unknown addresses were sent nothing.
    app.drain_outbox().await;
    assert!(app.mail().to("nobody@example.com").is_empty());
}

fn change(new_email: &str, password: &str, totp: String) -> EmailChangeRequest {
    EmailChangeRequest {
        new_email: new_email.to_owned(),
        password: password.to_owned(),
        totp_code: Some(totp),
        recovery_code: None,
    }
}

both_backends_mail!(change_email_and_undo, change_email_and_undo);
async fn change_email_and_undo(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    app.account("bob@example.com").await;
    let other = app.login(&ann).await.unwrap();
    app.next_step();

    // The password and the second factor, or nothing happens (and the session stays).
    let wrong = ann
        .client
        .change_email(&change(
            "ann@new.example",
            "not the password at all",
            app.code(&ann.totp_secret),
        ))
        .await;
    assert_eq!(code_of(wrong), ErrorCode::InvalidCredentials);
    assert!(ann.client.me().await.is_ok());
    // Its own address: nothing to change.
    app.next_step();
    assert_eq!(
        code_of(
            ann.client
                .change_email(&change(
                    "ann@example.com",
                    PASSWORD,
                    app.code(&ann.totp_secret)
                ))
                .await
        ),
        ErrorCode::InvalidInput
    );
    // Another account's address: the same answer, and nothing is sent there.
    app.next_step();
    let to_bob = ann
        .client
        .change_email(&change(
            "bob@example.com",
            PASSWORD,
            app.code(&ann.totp_secret),
        ))
        .await
        .unwrap();
    assert!(to_bob.message.contains("bob@example.com"));

    app.next_step();
    ann.client
        .change_email(&change(
            "Ann@New.Example",
            PASSWORD,
            app.code(&ann.totp_secret),
        ))
        .await
        .unwrap();
    let confirm = app
        .mail()
        .wait("ann@new.example", "Confirm your new address", 1)
        .await;
    let token = confirm.code();
    assert_eq!(
        confirm.link(PUBLIC_URL).as_deref(),
        Some(format!("{PUBLIC_URL}/email/confirm#token={token}").as_str())
    );
    // Nothing changes until the link is opened.
    assert_eq!(ann.client.me().await.unwrap().email, "ann@example.com");
    let anon = app.client();
    let changed = anon
        .confirm_email(&EmailTokenRequest {
            token: token.clone(),
        })
        .await
        .unwrap();
    assert_eq!(changed.email, "ann@new.example");
    assert_eq!(changed.revoked_sessions, 0);
    let me = ann.client.me().await.unwrap();
    assert_eq!(me.email, "ann@new.example");
    assert!(me.email_verified);
    assert_eq!(
        code_of(anon.confirm_email(&EmailTokenRequest { token }).await),
        ErrorCode::InvalidCode,
        "single use"
    );
    app.drain_outbox().await;
    assert!(
        app.mail()
            .to("bob@example.com")
            .iter()
            .all(|m| !m.subject.contains("Confirm")),
        "nothing went to another account's address"
    );

    // The old address is told, with a link that undoes it.
    let undo = app
        .mail()
        .wait("ann@example.com", "Your address was changed", 1)
        .await;
    assert!(undo.body.contains("a***@new.example"), "{}", undo.body);
    let undo_token = undo.code();
    assert_eq!(
        undo.link(PUBLIC_URL).as_deref(),
        Some(format!("{PUBLIC_URL}/email/undo#token={undo_token}").as_str())
    );
    let undone = anon
        .undo_email_change(&EmailTokenRequest {
            token: undo_token.clone(),
        })
        .await
        .unwrap();
    assert_eq!(undone.email, "ann@example.com");
    assert_eq!(undone.revoked_sessions, 2);
    assert_signed_out(ann.client.me().await);
    assert_signed_out(other.me().await);
    assert_eq!(
        code_of(
            anon.undo_email_change(&EmailTokenRequest { token: undo_token })
                .await
        ),
        ErrorCode::InvalidCode
    );
    // The old address signs in again; the new one does not.
    app.next_step();
    let back = app.login(&ann).await.unwrap();
    let kinds = activity_kinds(&back).await;
    for kind in [
        "email_change_requested",
        "email_changed",
        "email_change_undone",
    ] {
        assert!(kinds.contains(&kind.to_owned()), "{kind}: {kinds:?}");
    }
    app.next_step();
    let mut moved = app.login_request(&ann, &app.code(&ann.totp_secret));
    moved.email = "ann@new.example".into();
    assert_eq!(
        code_of(app.client().login(&moved).await),
        ErrorCode::InvalidCredentials
    );
}

both_backends!(
    without_mail_nothing_is_promised,
    without_mail_nothing_is_promised
);
async fn without_mail_nothing_is_promised(app: &TestApp) {
    let ann: Account = app.account("ann@example.com").await;
    // Made with nothing sent: the address is not verified.
    assert!(!ann.client.me().await.unwrap().email_verified);
    let forgot = app
        .client()
        .password_forgot(&PasswordForgotRequest {
            email: "ann@example.com".into(),
        })
        .await;
    assert_eq!(code_of(forgot), ErrorCode::MailOff);
    let change = ann
        .client
        .change_email(&change(
            "ann@new.example",
            PASSWORD,
            app.code(&ann.totp_secret),
        ))
        .await;
    assert_eq!(code_of(change), ErrorCode::MailOff);
    assert_eq!(
        code_of(
            Client::new(&app.url, porchlight_client::DeviceId::generate())
                .unwrap()
                .confirm_email(&EmailTokenRequest {
                    token: "x".repeat(43)
                })
                .await
        ),
        ErrorCode::InvalidCode
    );
}

both_backends_mail!(
    an_unverified_address_is_verified_by_link,
    an_unverified_address_is_verified_by_link
);
async fn an_unverified_address_is_verified_by_link(app: &TestApp) {
    let ann = app.account("ann@example.com").await;
    // As an account made while the server sent no email: its address was never proven.
    sqlx::query("UPDATE accounts SET email_verified_at_ms = NULL")
        .execute(app.server.state.store.pool_for_tests())
        .await
        .unwrap();
    assert!(!ann.client.me().await.unwrap().email_verified);
    // Nothing about the account goes to it: no reset link, no notice.
    let before = app.mail().to("ann@example.com").len();
    app.client()
        .password_forgot(&PasswordForgotRequest {
            email: "ann@example.com".into(),
        })
        .await
        .unwrap();
    app.next_step();
    app.login(&ann).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.drain_outbox().await;
    assert_eq!(app.mail().to("ann@example.com").len(), before);

    // "Changing" to its own address sends a link that verifies it, with nothing to undo.
    app.next_step();
    ann.client
        .change_email(&change(
            "ann@example.com",
            PASSWORD,
            app.code(&ann.totp_secret),
        ))
        .await
        .unwrap();
    let token = app
        .mail()
        .wait("ann@example.com", "Confirm your new address", 1)
        .await
        .code();
    let done = app
        .client()
        .confirm_email(&EmailTokenRequest { token })
        .await
        .unwrap();
    assert_eq!(done.email, "ann@example.com");
    assert!(ann.client.me().await.unwrap().email_verified);
    assert!(
        activity_kinds(&ann.client)
            .await
            .contains(&"email_verified".to_owned())
    );
    app.drain_outbox().await;
    assert!(
        app.mail()
            .to("ann@example.com")
            .iter()
            .all(|m| !m.subject.contains("Your address was changed"))
    );
    // Verified now: a second try is refused as pointless.
    app.next_step();
    assert_eq!(
        code_of(
            ann.client
                .change_email(&change(
                    "ann@example.com",
                    PASSWORD,
                    app.code(&ann.totp_secret)
                ))
                .await
        ),
        ErrorCode::InvalidInput
    );
}

/// Moves the account `client` is signed in to from `from` to `to` (asked and confirmed as
/// whoever holds the session, password and second factor would), returning the undo token
/// mailed to the address it left.
async fn moved(
    app: &TestApp,
    client: &Client,
    (password, totp_secret): (&str, &str),
    from: &str,
    to: &str,
) -> String {
    app.next_step();
    client
        .change_email(&change(to, password, app.code(totp_secret)))
        .await
        .unwrap();
    let token = app
        .mail()
        .wait(to, "Confirm your new address", 1)
        .await
        .code();
    app.client()
        .confirm_email(&EmailTokenRequest { token })
        .await
        .unwrap();
    let undos = app
        .mail()
        .to(from)
        .into_iter()
        .filter(|m| m.subject.contains("Your address was changed"))
        .count();
    app.mail()
        .wait(from, "Your address was changed", undos.max(1))
        .await
        .code()
}

both_backends_mail!(
    an_undo_link_outlives_what_the_changer_does_next,
    an_undo_link_outlives_what_the_changer_does_next
);
async fn an_undo_link_outlives_what_the_changer_does_next(app: &TestApp) {
    // Someone with Ann's session, password and second factor moves her account to their
    // address, resets the password from there, moves it again and undoes their own move.
    let ann = app.account("ann@example.com").await;
    let undo_ann = moved(
        app,
        &ann.client,
        (PASSWORD, &ann.totp_secret),
        "ann@example.com",
        "x@evil.example",
    )
    .await;
    app.clock.advance_ms(61_000);
    let theirs_reset = reset_token(app, "x@evil.example", 1).await;
    app.next_step();
    app.client()
        .password_reset(&reset(
            &theirs_reset,
            Some(app.code(&ann.totp_secret)),
            None,
        ))
        .await
        .unwrap();
    app.next_step();
    let mut request = app.login_request(&ann, &app.code(&ann.totp_secret));
    request.email = "x@evil.example".into();
    request.password = NEW_PASSWORD.into();
    let theirs = app.client();
    let session = theirs.login(&request).await.unwrap();
    let theirs = theirs.with_token(porchlight_client::Secret::new(session.token));
    let undo_x = moved(
        app,
        &theirs,
        (NEW_PASSWORD, &ann.totp_secret),
        "x@evil.example",
        "y@evil.example",
    )
    .await;
    app.client()
        .undo_email_change(&EmailTokenRequest { token: undo_x })
        .await
        .unwrap();

    // None of it took Ann's undo link away: it brings her address back and signs them out.
    let back = app
        .client()
        .undo_email_change(&EmailTokenRequest { token: undo_ann })
        .await
        .unwrap();
    assert_eq!(back.email, "ann@example.com");
    assert_signed_out(theirs.me().await);
    // A reset now goes to Ann's address, not theirs.
    app.clock.advance_ms(61_000);
    let for_ann = reset_token(app, "ann@example.com", 1).await;
    assert!(!for_ann.is_empty());
    app.drain_outbox().await;
    assert_eq!(
        app.mail()
            .to("x@evil.example")
            .iter()
            .filter(|m| m.subject.contains("Reset your password"))
            .count(),
        1,
        "only the reset they asked for while the address was theirs"
    );
}
