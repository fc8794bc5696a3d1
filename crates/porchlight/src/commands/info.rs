//! Reading the account: who am I, sessions, activity, notifications; and ending a session.

use serde::Serialize;

use super::Ctx;
use crate::cli::{ActivityArgs, NotificationsArgs, SessionsArgs, SessionsCommand};
use crate::output::{Table, clean, print_json, rfc3339};

pub(super) fn whoami(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, session) = ctx.signed_in()?;
    let me = ctx
        .block_on(client.me())
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&me);
    }
    println!("{}", clean(&me.email));
    if !me.server_sends_email {
        println!("address  not checked: this server sends no email (no reset link, no change)");
    } else if me.email_verified {
        println!("address  verified");
    } else {
        println!(
            "address  not verified: no password reset link is sent to it \
             (verify it: porchlight email change --to {})",
            clean(&me.email)
        );
    }
    println!("account  {}", clean(&me.account_id));
    println!("since    {}", rfc3339(me.created_at_ms));
    println!("session  {}", clean(&me.session_id));
    println!("server   {}", session.server_url);
    Ok(())
}

pub(super) fn sessions(ctx: &Ctx, args: SessionsArgs) -> anyhow::Result<()> {
    match args.command.unwrap_or(SessionsCommand::List) {
        SessionsCommand::List => list_sessions(ctx),
        SessionsCommand::Revoke { id } => revoke_session(ctx, &id),
    }
}

fn list_sessions(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _) = ctx.signed_in()?;
    let list = ctx
        .block_on(client.sessions())
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&list);
    }
    let mut table = Table::new(&["ID", "DEVICE", "ADDRESS", "CREATED", "LAST SEEN", "CURRENT"]);
    for s in &list.sessions {
        table.row(&[
            &s.id,
            &s.device_name,
            &s.source_addr,
            &rfc3339(s.created_at_ms),
            &rfc3339(s.last_seen_at_ms),
            if s.current { "*" } else { "" },
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

/// What `sessions revoke --json` prints; the route answers 204 with no body.
#[derive(Serialize)]
struct RevokedSession<'a> {
    session_id: &'a str,
    revoked: bool,
    /// It was this device's own session, so this device is signed out now.
    was_current: bool,
}

fn revoke_session(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    let (client, session) = ctx.signed_in()?;
    ctx.block_on(client.revoke_session(id))
        .map_err(|e| ctx.session_error(e))?;
    let was_current = id == session.session_id;
    if was_current {
        ctx.home.clear_session()?;
    }
    if ctx.json {
        return print_json(&RevokedSession {
            session_id: id,
            revoked: true,
            was_current,
        });
    }
    println!("Session {} ended.", clean(id));
    if was_current {
        println!("It was this device's session: this device is signed out.");
    }
    Ok(())
}

pub(super) fn activity(ctx: &Ctx, args: ActivityArgs) -> anyhow::Result<()> {
    let (client, _) = ctx.signed_in()?;
    let list = ctx
        .block_on(client.activity(args.limit))
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&list);
    }
    let mut table = Table::new(&["TIME", "EVENT", "ADDRESS", "DEVICE", "DETAIL"]);
    for entry in &list.entries {
        table.row(&[
            &rfc3339(entry.at_ms),
            &entry.kind,
            &entry.source_addr,
            &entry.device_name,
            &entry.detail,
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

pub(super) fn notifications(ctx: &Ctx, args: NotificationsArgs) -> anyhow::Result<()> {
    let (client, _) = ctx.signed_in()?;
    let list = ctx
        .block_on(client.notifications())
        .map_err(|e| ctx.session_error(e))?;
    if args.mark_read && list.notifications.iter().any(|n| !n.read) {
        ctx.block_on(client.mark_notifications_read())
            .map_err(|e| ctx.session_error(e))?;
    }
    if ctx.json {
        return print_json(&list);
    }
    if list.notifications.is_empty() {
        println!("No notifications.");
    }
    for (i, n) in list.notifications.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let marker = if n.read { "" } else { "  [new]" };
        println!("{}  {}{marker}", rfc3339(n.at_ms), clean(&n.subject));
        for line in n.body.lines() {
            println!("    {}", clean(line));
        }
    }
    Ok(())
}
