//! Which clips of a listing the app may show: each listed clip through the crypto crate's
//! one listing check (`porchlight_crypto::check_listed_clip`), with the reason for each one
//! that fails. The TypeScript fetches the listing and draws the verdicts; it decides nothing.

use porchlight_crypto::{
    ListingField, ListingRefusal, VerifiedChain, WireListedClip, check_wire_listed_clip,
};
use serde::{Deserialize, Serialize};

type Result<T> = std::result::Result<T, String>;

/// One entry of `GET /api/clips` (`id`) or `GET /api/shared` (`share_id`): the fields the
/// check reads. Anything else in the entry is ignored.
#[derive(Deserialize)]
struct Listed {
    #[serde(alias = "share_id")]
    id: String,
    camera_name: String,
    start_ms: i64,
    duration_ms: u64,
    payload_sha256: String,
    statement: String,
    signature: String,
    hub_key: String,
}

#[derive(Serialize)]
struct Refused {
    code: &'static str,
    reason: String,
}

#[derive(Serialize)]
struct Verdict {
    id: String,
    verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    hub_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<Refused>,
}

fn refused(id: String, refusal: ListingRefusal, of_owner: bool) -> Verdict {
    Verdict {
        id,
        verified: false,
        hub_name: None,
        refused: Some(Refused {
            code: refusal.code(),
            reason: if of_owner {
                refusal.reason_under_owner()
            } else {
                refusal.to_string()
            },
        }),
    }
}

/// Checks every clip of a listing (a JSON array of its entries) under `chain`; answers a JSON
/// array in the same order: `{"id", "verified": true, "hub_name"}` or
/// `{"id", "verified": false, "refused": {"code", "reason"}}`. An entry without the fields the
/// check needs is refused as malformed (its id kept when it has one). `of_owner`: `chain` is
/// another account's (a share's owner), and the reasons say so.
pub fn check_listing(chain: &VerifiedChain, clips_json: &str, of_owner: bool) -> Result<String> {
    check_listing_with(clips_json, |_, _| (chain, of_owner))
}

/// As [`check_listing`], with the chain to check each clip under chosen by `choose` from the
/// clip's listed hub key (hex) and camera name; it also says whether that chain is another
/// account's (for the wording of a refusal).
pub(crate) fn check_listing_with<'c>(
    clips_json: &str,
    choose: impl Fn(&str, &str) -> (&'c VerifiedChain, bool),
) -> Result<String> {
    let entries: Vec<serde_json::Value> = serde_json::from_str(clips_json)
        .map_err(|_| "the clip listing is not in the expected form".to_owned())?;
    let verdicts: Vec<Verdict> = entries
        .into_iter()
        .map(|entry| {
            let id = entry
                .get("id")
                .or_else(|| entry.get("share_id"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned();
            let Ok(listed) = serde_json::from_value::<Listed>(entry) else {
                return refused(
                    id,
                    ListingRefusal::Malformed {
                        field: ListingField::Statement,
                        statement: None,
                    },
                    choose("", "").1,
                );
            };
            let (chain, of_owner) = choose(&listed.hub_key, &listed.camera_name);
            let verdict = check_wire_listed_clip(
                chain,
                &WireListedClip {
                    camera: &listed.camera_name,
                    start_ms: listed.start_ms,
                    duration_ms: listed.duration_ms,
                    payload_sha256: &listed.payload_sha256,
                    statement: &listed.statement,
                    signature: &listed.signature,
                    hub_key: &listed.hub_key,
                },
            );
            match verdict {
                Ok(checked) => Verdict {
                    id: listed.id,
                    verified: true,
                    hub_name: Some(checked.hub_name),
                    refused: None,
                },
                Err(refusal) => refused(listed.id, refusal, of_owner),
            }
        })
        .collect();
    serde_json::to_string(&verdicts).map_err(|e| e.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use porchlight_crypto::{ClipStatement, DeviceSecret, HubSecret, sign_clip};

    use super::*;

    #[test]
    fn a_listing_comes_back_with_a_verdict_per_clip_and_why() {
        let device = DeviceSecret::generate();
        let hub = HubSecret::generate();
        let chain = crate::fixtures::chain_of(&device, Some(&hub));
        let (real, _) = crate::fixtures::sealed_clip(&chain, &hub, b"footage", 1_000, 2_000);
        // Sealed to the account's keys like any clip, but signed by a key of no hub of it.
        let stranger = HubSecret::generate();
        let mut planted = real.clone();
        planted["id"] = "planted".into();
        let statement = ClipStatement::from_bytes(
            &STANDARD
                .decode(planted["statement"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        planted["signature"] = STANDARD
            .encode(sign_clip(&statement, &stranger).to_bytes())
            .into();
        planted["hub_key"] = stranger.public().to_hex().into();
        let mut moved = real.clone();
        moved["id"] = "moved".into();
        moved["start_ms"] = 5_000.into();
        let shared = serde_json::json!({
            "share_id": "s1",
            "owner_root": "00",
            "camera_name": real["camera_name"],
            "start_ms": real["start_ms"],
            "duration_ms": real["duration_ms"],
            "payload_size": real["payload_size"],
            "shared_at_ms": 0,
            "payload_sha256": real["payload_sha256"],
            "statement": real["statement"],
            "signature": real["signature"],
            "hub_key": real["hub_key"],
        });
        let listing = serde_json::json!([real, planted, moved, {"id": "bare"}, shared]);
        let verdicts: serde_json::Value =
            serde_json::from_str(&check_listing(&chain, &listing.to_string(), false).unwrap())
                .unwrap();
        assert_eq!(verdicts[0]["verified"], true);
        assert_eq!(verdicts[0]["hub_name"], "porch hub");
        assert_eq!(verdicts[1]["id"], "planted");
        assert_eq!(verdicts[1]["verified"], false);
        assert_eq!(verdicts[1]["refused"]["code"], "not_signed_by_chain_hub");
        assert_eq!(
            verdicts[1]["refused"]["reason"],
            "it is not signed by a hub of your device chain"
        );
        assert_eq!(verdicts[2]["refused"]["code"], "listing_mismatch");
        assert!(
            verdicts[2]["refused"]["reason"]
                .as_str()
                .unwrap()
                .contains("start time")
        );
        assert_eq!(verdicts[3]["id"], "bare");
        assert_eq!(verdicts[3]["refused"]["code"], "statement_malformed");
        assert_eq!(verdicts[4]["id"], "s1");
        assert_eq!(verdicts[4]["verified"], true);
        assert!(check_listing(&chain, "not json", false).is_err());
        let theirs: serde_json::Value =
            serde_json::from_str(&check_listing(&chain, &listing.to_string(), true).unwrap())
                .unwrap();
        assert_eq!(
            theirs[1]["refused"]["reason"],
            "it is not signed by a hub of its owner's device chain"
        );
    }
}
