//! Hub settings on an owner's device: the statement the server holds, checked against this
//! device's verified chain before it is shown or built on, and a new one signed here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{
    HubKey, HubSettings, HubSettingsError, SignedHubSettings, VerifiedChain, check_hub_settings,
};
use porchlight_proto as proto;

/// The settings the server holds for a hub, as this device sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// None signed yet: the hub uses its `hub.toml`.
    None,
    /// Signed by a current device of `chain` for this hub.
    Verified(HubSettings),
    /// They do not verify here (the message says why); not to be shown or built on.
    Refused(String),
}

/// Checks `state.statement` against `chain` for the hub `hub`.
pub fn served(state: &proto::HubSettingsState, chain: &VerifiedChain, hub: &HubKey) -> Served {
    let Some(text) = &state.statement else {
        return Served::None;
    };
    let Ok(bytes) = STANDARD.decode(text.as_bytes()) else {
        return Served::Refused("the server's settings are not base64".to_owned());
    };
    match check_hub_settings(&bytes, chain, hub, None) {
        Ok(signed) => Served::Verified(signed.settings().clone()),
        Err(e) => Served::Refused(e.to_string()),
    }
}

/// The lowest counter a new statement may take: above everything the server and the hub
/// said they have.
pub fn next_counter(state: &proto::HubSettingsState, current: Option<&HubSettings>) -> u64 {
    [
        state.counter,
        state.applied_counter,
        current.map(|c| c.counter),
    ]
    .into_iter()
    .flatten()
    .max()
    .unwrap_or(0)
    .saturating_add(1)
}

/// The body that puts `signed`.
pub fn put_body(signed: &SignedHubSettings) -> proto::HubSettingsPut {
    proto::HubSettingsPut {
        statement: STANDARD.encode(signed.to_bytes()),
    }
}

/// Signs `settings` with this device's key.
pub fn sign(
    settings: HubSettings,
    device: &porchlight_crypto::DeviceSecret,
) -> Result<SignedHubSettings, HubSettingsError> {
    SignedHubSettings::sign(settings, device)
}
