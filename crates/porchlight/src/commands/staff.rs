//! The staff console over the API (DESIGN §7): sign in, aggregate figures, access requests,
//! break-glass co-approval, alerts, and reads under a grant. The staff session lives in the
//! home as `staff-session.json`, apart from the customer session; `staff add` (on the server
//! host) is `crate::staff_admin`.

use porchlight_client::proto::{
    self, AccessRequestInfo, AccessRequestState, DeviceState, ErrorCode,
};
use porchlight_client::staff::{StaffHome, StoredStaffSession};
use porchlight_client::{Client, ClientError, Secret};
use serde::Serialize;
use zeroize::Zeroize;

use super::Ctx;
use crate::cli::{GrantRead, StaffCommand, StaffLoginArgs, StaffRequestArgs, StaffResearchCommand};
use crate::input::Secrets;
use crate::output::{Table, clean, print_json, rfc3339};
use crate::report::CliError;

const LOGIN_HINT: &str = "porchlight staff login --email … --totp CODE (password on stdin)";

pub(super) fn staff(ctx: &Ctx, command: StaffCommand) -> anyhow::Result<()> {
    match command {
        StaffCommand::Add(_) => unreachable!("`staff add` runs on the server host, in main"),
        StaffCommand::Login(args) => login(ctx, args),
        StaffCommand::Figures => figures(ctx),
        StaffCommand::Request(args) => request(ctx, args),
        StaffCommand::Requests => requests(ctx),
        StaffCommand::ApproveBreakGlass { id } => approve_break_glass(ctx, &id),
        StaffCommand::Alerts => alerts(ctx),
        StaffCommand::Access { grant, what } => access(ctx, &grant, what),
        StaffCommand::Research(command) => research(ctx, command),
    }
}

/// The annotator's console: research items only.
fn research(ctx: &Ctx, command: StaffResearchCommand) -> anyhow::Result<()> {
    let (client, _) = signed_in(ctx)?;
    match command {
        StaffResearchCommand::List => {
            let items = ctx
                .block_on(client.staff_research_items())
                .map_err(|e| session_error(ctx, e))?;
            if ctx.json {
                return print_json(&items);
            }
            let mut table = Table::new(&["ID", "DAY", "SIZE", "LABELS"]);
            for i in &items.items {
                table.row(&[
                    &i.id,
                    &i.day,
                    &format!("{} B", i.size_bytes),
                    &i.labels.join(", "),
                ]);
            }
            print!("{}", table.render());
            Ok(())
        }
        StaffResearchCommand::Get { id, output } => {
            let bytes = ctx
                .block_on(client.staff_research_item(&id))
                .map_err(|e| session_error(ctx, e))?;
            std::fs::write(&output, &bytes)?;
            if ctx.json {
                return print_json(
                    &serde_json::json!({"id": id, "bytes": bytes.len(), "output": output.display().to_string()}),
                );
            }
            println!(
                "Item {} ({} bytes, sealed to the research key) written to {}; the view is in the transparency log.",
                clean(&id),
                bytes.len(),
                output.display()
            );
            Ok(())
        }
        StaffResearchCommand::Label { id, label } => {
            let item = ctx
                .block_on(client.staff_label_research_item(&id, &label))
                .map_err(|e| session_error(ctx, e))?;
            if ctx.json {
                return print_json(&item);
            }
            println!(
                "Item {} is labelled {}.",
                clean(&item.id),
                clean(&item.labels.join(", "))
            );
            Ok(())
        }
    }
}

/// A server refusal told with a hint for people: the server's code and message, and what to
/// do about it. Other failures pass through as they are.
pub(super) fn with_hint(error: ClientError, hint: impl Into<String>) -> anyhow::Error {
    match &error {
        ClientError::Api { code, message, .. } if *code != ErrorCode::Throttled => {
            CliError::new(code.as_str(), message.clone())
                .with_hint(hint)
                .into()
        }
        _ => error.into(),
    }
}

/// A request's state as the wire spells it.
pub(super) fn state_name(state: AccessRequestState) -> &'static str {
    match state {
        AccessRequestState::Pending => "pending",
        AccessRequestState::Approved => "approved",
        AccessRequestState::Denied => "denied",
        AccessRequestState::Revoked => "revoked",
        AccessRequestState::Expired => "expired",
    }
}

/// "2 h", "90 min", "45 s".
pub(super) fn duration(secs: u64) -> String {
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

fn staff_home(ctx: &Ctx) -> anyhow::Result<StaffHome> {
    Ok(StaffHome::open(&ctx.home)?)
}

/// A client signed in with this home's staff session, talking to the server that issued it.
fn signed_in(ctx: &Ctx) -> anyhow::Result<(Client, StoredStaffSession)> {
    let session = staff_home(ctx)?.load_session()?.ok_or_else(|| {
        CliError::new("not_signed_in", "no staff member is signed in on this home")
            .with_hint(LOGIN_HINT)
    })?;
    ctx.require_same_server(&session.server_url)?;
    let client = ctx
        .client(&session.server_url)?
        .with_token(session.token.clone());
    Ok((client, session))
}

/// A staff call failed: a session the server no longer knows is forgotten here too, and the
/// hint is the staff sign-in, not the customer's.
fn session_error(ctx: &Ctx, error: ClientError) -> anyhow::Error {
    if error.code() == Some(ErrorCode::Unauthenticated) {
        if let Ok(home) = staff_home(ctx) {
            let _ = home.clear_session();
        }
        return with_hint(error, format!("the staff session has ended: {LOGIN_HINT}"));
    }
    error.into()
}

/// What `staff login --json` prints: the session without its token.
#[derive(Serialize)]
struct SignedIn<'a> {
    staff_id: &'a str,
    email: &'a str,
    role: &'a str,
    expires_at_ms: i64,
}

fn login(ctx: &Ctx, args: StaffLoginArgs) -> anyhow::Result<()> {
    let mut secrets = Secrets::from_stdin()?;
    let password = secrets.next("Staff password: ", "the password")?;
    let server_url = ctx.server_url()?;
    let client = ctx.client(&server_url)?;
    let email = args.email.trim().to_lowercase();
    let mut request = proto::StaffLoginRequest {
        email: email.clone(),
        password: password.expose().to_owned(),
        totp_code: args.totp,
    };
    let answer = ctx.block_on(client.staff_login(&request));
    request.password.zeroize();
    let mut created = answer?;
    let session = StoredStaffSession {
        server_url,
        token: Secret::new(std::mem::take(&mut created.token)),
        staff_id: created.staff_id,
        email,
        role: created.role,
        expires_at_ms: created.expires_at_ms,
    };
    // There is no staff sign-out route: a session this replaces simply expires.
    staff_home(ctx)?.save_session(&session)?;
    if ctx.json {
        return print_json(&SignedIn {
            staff_id: &session.staff_id,
            email: &session.email,
            role: &session.role,
            expires_at_ms: session.expires_at_ms,
        });
    }
    println!(
        "Signed in as staff: {} (role {}), until {}.",
        clean(&session.email),
        clean(&session.role),
        rfc3339(session.expires_at_ms)
    );
    println!("Customer data only under a grant the customer approved: porchlight staff request …");
    Ok(())
}

fn figures(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _) = signed_in(ctx)?;
    let figures = ctx
        .block_on(client.staff_figures())
        .map_err(|e| session_error(ctx, e))?;
    if ctx.json {
        return print_json(&figures);
    }
    println!("accounts    {}", figures.accounts);
    println!("clips       {}", figures.clips);
    println!("clip bytes  {}", figures.clip_bytes);
    println!("log size    {}", figures.log_size);
    Ok(())
}

fn request(ctx: &Ctx, args: StaffRequestArgs) -> anyhow::Result<()> {
    let (client, _) = signed_in(ctx)?;
    let request = proto::AccessRequestCreate {
        email: args.email,
        scopes: args.scopes,
        justification: args.justification,
        ticket: args.ticket,
        duration_secs: args.hours * 3600,
        break_glass: args.break_glass,
    };
    let info = ctx
        .block_on(client.staff_request_access(&request))
        .map_err(|e| match e.code() {
            Some(ErrorCode::Forbidden) if request.break_glass => {
                with_hint(e, "break-glass requests are made by security staff")
            }
            Some(ErrorCode::Forbidden) => with_hint(
                e,
                "asking a customer for access needs a support or security role",
            ),
            _ => session_error(ctx, e),
        })?;
    if ctx.json {
        return print_json(&info);
    }
    println!("Access request {} opened.", clean(&info.id));
    print_request(&info);
    println!();
    if info.break_glass {
        println!(
            "Break-glass: a second security staff member approves it with\n  porchlight staff \
             approve-break-glass {}\nand the customer is told at once.",
            clean(&info.id)
        );
    } else {
        println!(
            "The customer approves or denies it with their second factor. See its state: \
             porchlight staff requests"
        );
    }
    Ok(())
}

fn requests(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _) = signed_in(ctx)?;
    let list = ctx
        .block_on(client.staff_requests())
        .map_err(|e| session_error(ctx, e))?;
    if ctx.json {
        return print_json(&list);
    }
    if list.requests.is_empty() {
        println!("No access requests.");
        return Ok(());
    }
    let mut table = Table::new(&[
        "ID", "STATE", "SCOPES", "TICKET", "DURATION", "ASKED", "EXPIRES", "KIND",
    ]);
    for r in &list.requests {
        table.row(&[
            &r.id,
            state_name(r.state),
            &r.scopes.join(","),
            &r.ticket,
            &duration(r.duration_secs),
            &rfc3339(r.created_at_ms),
            &r.expires_at_ms.map(rfc3339).unwrap_or_default(),
            if r.break_glass { "break-glass" } else { "" },
        ]);
    }
    print!("{}", table.render());
    Ok(())
}

fn approve_break_glass(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    let (client, _) = signed_in(ctx)?;
    let info = ctx
        .block_on(client.staff_approve_break_glass(id))
        .map_err(|e| match e.code() {
            Some(ErrorCode::NotFound) => with_hint(
                e,
                "no break-glass request has that id (ordinary requests are approved by the \
                 customer)",
            ),
            _ => session_error(ctx, e),
        })?;
    if ctx.json {
        return print_json(&info);
    }
    println!(
        "Break-glass request {} approved; the customer has been told.",
        clean(&info.id)
    );
    print_request(&info);
    Ok(())
}

fn alerts(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _) = signed_in(ctx)?;
    let list = ctx
        .block_on(client.staff_alerts())
        .map_err(|e| session_error(ctx, e))?;
    if ctx.json {
        return print_json(&list);
    }
    if list.alerts.is_empty() {
        println!("No alerts.");
        return Ok(());
    }
    let mut table = Table::new(&["TIME", "KIND", "STAFF ID", "REASON"]);
    for a in &list.alerts {
        table.row(&[&rfc3339(a.created_at_ms), &a.kind, &a.staff_id, &a.reason]);
    }
    print!("{}", table.render());
    Ok(())
}

fn access(ctx: &Ctx, grant: &str, what: GrantRead) -> anyhow::Result<()> {
    let (client, _) = signed_in(ctx)?;
    let refused = |e: ClientError| match e.code() {
        Some(ErrorCode::Forbidden) => with_hint(
            e,
            format!(
                "this read needs a live grant (approved, neither expired nor revoked) that \
                 carries {}, and a support or security role; see your requests: porchlight \
                 staff requests",
                what.scope()
            ),
        ),
        Some(ErrorCode::NotFound) => with_hint(
            e,
            "you have no access request with that id: porchlight staff requests",
        ),
        _ => session_error(ctx, e),
    };
    match what {
        GrantRead::Devices => {
            let list = ctx
                .block_on(client.staff_grant_devices(grant))
                .map_err(refused)?;
            if ctx.json {
                return print_json(&list);
            }
            let mut table = Table::new(&["ID", "NAME", "STATE", "CREATED", "SIGNING KEY"]);
            for d in &list.devices {
                table.row(&[
                    &d.id,
                    &d.name,
                    match d.state {
                        DeviceState::Active => "active",
                        DeviceState::Pending => "pending",
                        DeviceState::Removed => "removed",
                    },
                    &rfc3339(d.created_at_ms),
                    &d.sign_key,
                ]);
            }
            print!("{}", table.render());
        }
        GrantRead::Cameras => {
            let list = ctx
                .block_on(client.staff_grant_cameras(grant))
                .map_err(refused)?;
            if ctx.json {
                return print_json(&list);
            }
            let mut table = Table::new(&["ID", "NAME", "HUB", "RETENTION"]);
            for c in &list.cameras {
                table.row(&[
                    &c.id,
                    &c.name,
                    &c.hub_id,
                    &format!("{} days", c.retention_days),
                ]);
            }
            print!("{}", table.render());
        }
        GrantRead::Clips => {
            let list = ctx
                .block_on(client.staff_grant_clips(grant))
                .map_err(refused)?;
            if ctx.json {
                return print_json(&list);
            }
            let mut table = Table::new(&["ID", "CAMERA", "START", "DURATION", "SIZE"]);
            for c in &list.clips {
                table.row(&[
                    &c.id,
                    &c.camera_name,
                    &rfc3339(c.start_ms),
                    &format!("{:.1} s", c.duration_ms as f64 / 1000.0),
                    &format!("{} B", c.payload_size),
                ]);
            }
            print!("{}", table.render());
        }
    }
    println!("This read is on record in the customer's transparency log.");
    Ok(())
}

/// A request's details, one per line (the justification can be long).
pub(super) fn print_request(r: &AccessRequestInfo) {
    let mut state = state_name(r.state).to_owned();
    if r.break_glass {
        state.push_str(" (break-glass)");
    }
    println!("  state     {state}");
    println!(
        "  from      {} ({})",
        clean(&r.staff_email),
        clean(&r.staff_role)
    );
    println!("  scopes    {}", clean(&r.scopes.join(", ")));
    println!("  why       {}", clean(&r.justification));
    println!("  ticket    {}", clean(&r.ticket));
    println!("  duration  {}", duration(r.duration_secs));
    println!("  asked     {}", rfc3339(r.created_at_ms));
    if let Some(at) = r.decided_at_ms {
        println!("  decided   {}", rfc3339(at));
    }
    if let Some(at) = r.expires_at_ms {
        println!("  expires   {}", rfc3339(at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(3600), "1 h");
        assert_eq!(duration(86_400), "24 h");
        assert_eq!(duration(5400), "90 min");
        assert_eq!(duration(45), "45 s");
    }

    #[test]
    fn refusals_keep_the_servers_code_and_message_and_add_a_hint() {
        let error = ClientError::Api {
            status: 403,
            code: ErrorCode::Forbidden,
            message: "no live grant covers this".into(),
            retry_after_secs: None,
        };
        let told = with_hint(error, "ask for it");
        let cli = told.downcast_ref::<CliError>();
        assert!(cli.is_some_and(|e| e.code == "forbidden"
            && e.message == "no live grant covers this"
            && e.hint.as_deref() == Some("ask for it")));
        let throttled = ClientError::Api {
            status: 429,
            code: ErrorCode::Throttled,
            message: "slow down".into(),
            retry_after_secs: Some(3),
        };
        let told = with_hint(throttled, "ignored");
        assert!(told.downcast_ref::<ClientError>().is_some());
    }
}
