//! Hub settings in the browser, as `porchlight-client`'s `hub_settings` module does it for the
//! CLI: the statement the server holds, checked against the verified chain before it is shown
//! or built on, and a new one signed with this device's key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use porchlight_crypto::{
    CameraSettings, DeviceSecret, HubKey, HubSettings, SignedHubSettings, VerifiedChain,
    check_hub_settings,
};
use serde::{Deserialize, Serialize};

type Result<T> = std::result::Result<T, String>;

/// One camera's settings, as the page shows and edits them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraJson {
    pub camera: String,
    pub enabled: bool,
    pub sensitivity: u8,
    pub pre_roll_ms: u64,
    pub post_roll_ms: u64,
}

impl From<&CameraSettings> for CameraJson {
    fn from(c: &CameraSettings) -> Self {
        Self {
            camera: c.camera.clone(),
            enabled: c.enabled,
            sensitivity: c.sensitivity,
            pre_roll_ms: c.pre_roll_ms,
            post_roll_ms: c.post_roll_ms,
        }
    }
}

impl From<CameraJson> for CameraSettings {
    fn from(c: CameraJson) -> Self {
        Self {
            camera: c.camera,
            enabled: c.enabled,
            sensitivity: c.sensitivity,
            pre_roll_ms: c.pre_roll_ms,
            post_roll_ms: c.post_roll_ms,
        }
    }
}

/// What the page is told of the server's statement.
#[derive(Debug, Serialize)]
struct Served {
    /// `none` (the hub uses its hub.toml), `verified`, or `refused` (not to be shown).
    status: &'static str,
    counter: Option<u64>,
    issued_at_ms: Option<i64>,
    cameras: Vec<CameraJson>,
    /// Why a statement was refused here.
    reason: Option<String>,
    /// What a camera the statement does not name runs with until one does.
    defaults: CameraJson,
}

fn hub_key(hex_key: &str) -> Result<HubKey> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(hex_key, &mut bytes).map_err(|_| "the hub's key is not hex".to_owned())?;
    HubKey::from_bytes(bytes).map_err(|e| format!("the hub's key: {e}"))
}

/// The server's statement (base64, or empty when there is none) for the hub whose key is
/// `hub_key_hex`, checked against `chain`: JSON of [`Served`].
pub fn served(chain: &VerifiedChain, hub_key_hex: &str, statement: &str) -> Result<String> {
    let hub = hub_key(hub_key_hex)?;
    let mut out = Served {
        status: "none",
        counter: None,
        issued_at_ms: None,
        cameras: Vec::new(),
        reason: None,
        defaults: CameraJson::from(&CameraSettings::new("")),
    };
    if !statement.is_empty() {
        let checked = STANDARD
            .decode(statement)
            .map_err(|_| "not base64".to_owned())
            .and_then(|bytes| {
                check_hub_settings(&bytes, chain, &hub, None).map_err(|e| e.to_string())
            });
        match checked {
            Ok(signed) => {
                let s = signed.settings();
                out.status = "verified";
                out.counter = Some(s.counter);
                out.issued_at_ms = Some(s.issued_at_ms);
                out.cameras = s.cameras.iter().map(CameraJson::from).collect();
            }
            Err(reason) => {
                out.status = "refused";
                out.reason = Some(reason);
            }
        }
    }
    serde_json::to_string(&out).map_err(|e| e.to_string())
}

/// New settings for the hub `hub_key_hex`, numbered `counter`, for `cameras` (JSON array of
/// [`CameraJson`]), signed with this device's key, which must be a current device of
/// `chain`: base64 of the statement, for `PUT /api/hubs/{id}/settings`.
pub fn sign(
    chain: &VerifiedChain,
    secret: &[u8],
    hub_key_hex: &str,
    counter: u64,
    now_ms: i64,
    cameras: &str,
) -> Result<String> {
    let hub = hub_key(hub_key_hex)?;
    let cameras: Vec<CameraJson> =
        serde_json::from_str(cameras).map_err(|e| format!("the cameras' settings: {e}"))?;
    let me =
        DeviceSecret::from_bytes(secret).map_err(|e| format!("this browser's device key: {e}"))?;
    if !chain
        .devices()
        .iter()
        .any(|d| d.key.sign() == me.public().sign())
    {
        return Err("this browser is not an approved device of the account".to_owned());
    }
    let settings = HubSettings {
        hub_key: *hub.as_bytes(),
        chain_root: chain.root(),
        counter,
        issued_at_ms: now_ms,
        cameras: cameras.into_iter().map(CameraSettings::from).collect(),
    };
    let signed = SignedHubSettings::sign(settings, &me).map_err(|e| e.to_string())?;
    Ok(STANDARD.encode(signed.to_bytes()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use porchlight_crypto::{ChainBuilder, ChainOp, HubSecret, Name, RecoveryKey};

    #[test]
    fn signed_here_verifies_and_a_stranger_is_refused() {
        let phone = DeviceSecret::generate();
        let hub = HubSecret::generate();
        let (recovery, _) = RecoveryKey::generate();
        let mut builder =
            ChainBuilder::genesis(&phone, Name::new("phone").unwrap(), recovery.public()).unwrap();
        builder
            .append(
                ChainOp::AddHub {
                    name: Name::new("hall").unwrap(),
                    hub: hub.public(),
                },
                &phone,
            )
            .unwrap();
        let chain = builder.chain();
        let cameras = r#"[{"camera":"porch","enabled":true,"sensitivity":2,"pre_roll_ms":0,"post_roll_ms":5000}]"#;
        let key = hub.public().to_hex();
        let statement = sign(chain, &phone.to_bytes()[..], &key, 4, 1, cameras).unwrap();
        let shown: serde_json::Value =
            serde_json::from_str(&served(chain, &key, &statement).unwrap()).unwrap();
        assert_eq!(shown["status"], "verified");
        assert_eq!(shown["counter"], 4);
        assert_eq!(shown["cameras"][0]["sensitivity"], 2);
        assert_eq!(shown["defaults"]["sensitivity"], 6);

        let stranger = DeviceSecret::generate();
        assert!(sign(chain, &stranger.to_bytes()[..], &key, 5, 1, cameras).is_err());
        let none: serde_json::Value =
            serde_json::from_str(&served(chain, &key, "").unwrap()).unwrap();
        assert_eq!(none["status"], "none");
        let bad: serde_json::Value =
            serde_json::from_str(&served(chain, &key, "AAAA").unwrap()).unwrap();
        assert_eq!(bad["status"], "refused");
    }
}
