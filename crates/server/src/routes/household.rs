//! Household chains (DESIGN §4, §6): the chains on the other side of an `AddMember` link.
//! A hub needs its owner's members' chains to seal the cameras given to them to their devices
//! and to answer their live offers; the owner's device needs them to keep members in clip
//! headers when it re-wraps; a member's device needs the owner's chain to check the hub that
//! signed a clip or answers a live view. Each reader verifies every chain from the root it
//! already trusts; the server only looks the chains up.

use axum::Json;
use axum::extract::State;
use porchlight_proto::{AccountChain, ErrorBody, HouseholdChains};

use crate::chain::encode_link;
use crate::error::ApiResult;
use crate::extract::{DeviceAuthed, HubAuthed};
use crate::state::AppState;

async fn chains(state: &AppState, accounts: Vec<(Vec<u8>, String)>) -> ApiResult<HouseholdChains> {
    let mut chains = Vec::with_capacity(accounts.len());
    for (root, account_id) in accounts {
        let rows = state.store.chain_of(&account_id).await?;
        chains.push(AccountChain {
            root: hex::encode(root),
            links: rows.iter().map(|r| encode_link(&r.link)).collect(),
        });
    }
    Ok(HouseholdChains { chains })
}

/// The chains of the hub's owner's household members (those with an account here).
#[utoipa::path(get, path = "/api/hub/members", tag = "hubs", security(("bearer" = [])),
    responses((status = 200, body = HouseholdChains), (status = 401, body = ErrorBody)))]
pub async fn hub_members(
    State(state): State<AppState>,
    hub: HubAuthed,
) -> ApiResult<Json<HouseholdChains>> {
    let members = state
        .store
        .household_members_of(&hub.hub.account_id)
        .await?;
    Ok(Json(chains(&state, members).await?))
}

/// The chains of the caller's household members: what the owner's device re-wraps to.
#[utoipa::path(get, path = "/api/household/members", tag = "devices", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = HouseholdChains), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn members(
    State(state): State<AppState>,
    authed: DeviceAuthed,
) -> ApiResult<Json<HouseholdChains>> {
    let members = state.store.household_members_of(&authed.account.id).await?;
    Ok(Json(chains(&state, members).await?))
}

/// The chains of the accounts whose households the caller belongs to: what a member's device
/// checks a shared camera's hub against.
#[utoipa::path(get, path = "/api/household/owners", tag = "devices", security(("bearer" = []), ("cookie" = [])),
    responses((status = 200, body = HouseholdChains), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn owners(
    State(state): State<AppState>,
    authed: DeviceAuthed,
) -> ApiResult<Json<HouseholdChains>> {
    let owners = state.store.households_of(&authed.account.id).await?;
    Ok(Json(chains(&state, owners).await?))
}
