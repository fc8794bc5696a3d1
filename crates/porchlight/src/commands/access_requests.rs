//! `access-requests`: the customer's side of staff access (DESIGN §7). See who asked for what
//! and why; approve or deny with the second factor; end a grant at any time.

use porchlight_client::ClientError;
use porchlight_client::proto::{self, AccessRequestState, ErrorCode};
use zeroize::Zeroize;

use super::Ctx;
use super::staff::{print_request, with_hint};
use crate::cli::{AccessRequestsArgs, AccessRequestsCommand};
use crate::output::{clean, print_json};

const LIST_HINT: &str = "see the requests and their states: porchlight access-requests";

pub(super) fn access_requests(ctx: &Ctx, args: AccessRequestsArgs) -> anyhow::Result<()> {
    match args.command.unwrap_or(AccessRequestsCommand::List) {
        AccessRequestsCommand::List => list(ctx),
        AccessRequestsCommand::Approve { id, totp } => decide(ctx, &id, totp, true),
        AccessRequestsCommand::Deny { id, totp } => decide(ctx, &id, totp, false),
        AccessRequestsCommand::Revoke { id } => revoke(ctx, &id),
    }
}

fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let (client, _) = ctx.signed_in()?;
    let list = ctx
        .block_on(client.access_requests())
        .map_err(|e| ctx.session_error(e))?;
    if ctx.json {
        return print_json(&list);
    }
    if list.requests.is_empty() {
        println!("No staff have asked for access to this account.");
        return Ok(());
    }
    for (i, r) in list.requests.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("{}", clean(&r.id));
        print_request(r);
    }
    let pending = list
        .requests
        .iter()
        .any(|r| r.state == AccessRequestState::Pending && !r.break_glass);
    let live = list
        .requests
        .iter()
        .any(|r| r.state == AccessRequestState::Approved);
    if pending || live {
        println!();
    }
    if pending {
        println!("Approve: porchlight access-requests approve ID --totp CODE");
        println!("Deny:    porchlight access-requests deny ID --totp CODE");
    }
    if live {
        println!("End a grant now: porchlight access-requests revoke ID");
    }
    Ok(())
}

/// A refusal of a decision or revocation, with what to do about it.
fn refused(ctx: &Ctx, error: ClientError) -> anyhow::Error {
    match error.code() {
        Some(ErrorCode::InvalidCode) => with_hint(
            error,
            "use the code your authenticator shows now; each code works once",
        ),
        Some(ErrorCode::NotFound) => with_hint(
            error,
            format!("this account has no access request with that id; {LIST_HINT}"),
        ),
        Some(ErrorCode::Conflict) => with_hint(error, LIST_HINT),
        _ => ctx.session_error(error),
    }
}

fn decide(ctx: &Ctx, id: &str, totp: String, approve: bool) -> anyhow::Result<()> {
    let (client, _) = ctx.signed_in()?;
    let mut decision = proto::AccessDecision { totp_code: totp };
    let answer = if approve {
        ctx.block_on(client.approve_access_request(id, &decision))
    } else {
        ctx.block_on(client.deny_access_request(id, &decision))
    };
    decision.totp_code.zeroize();
    let info = answer.map_err(|e| refused(ctx, e))?;
    if ctx.json {
        return print_json(&info);
    }
    if approve {
        println!(
            "Approved: {} may read {} until the grant ends.",
            clean(&info.staff_email),
            clean(&info.scopes.join(", "))
        );
    } else {
        println!("Denied.");
    }
    println!("{}", clean(&info.id));
    print_request(&info);
    if approve {
        println!();
        println!(
            "Each read is in your transparency log (porchlight access-log). End it now: \
             porchlight access-requests revoke {}",
            clean(&info.id)
        );
    }
    Ok(())
}

fn revoke(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    let (client, _) = ctx.signed_in()?;
    let info = ctx
        .block_on(client.revoke_access_grant(id))
        .map_err(|e| refused(ctx, e))?;
    if ctx.json {
        return print_json(&info);
    }
    println!(
        "Revoked: {} can no longer read this account under it.",
        clean(&info.staff_email)
    );
    println!("{}", clean(&info.id));
    print_request(&info);
    Ok(())
}
