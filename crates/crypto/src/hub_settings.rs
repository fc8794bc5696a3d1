//! Hub settings an owner's device signs: which cameras record, how sensitive their motion
//! detection is, and how much video a clip keeps before and after its events. They are the
//! hub's behaviour, so the server only stores and passes them on: a hub applies a statement
//! only if a current device of its verified chain signed it for this hub, and only if it is
//! newer than the one it applies now (so an old statement cannot be replayed).
//!
//! Statement bytes: `version (1) ‖ hub_key (32) ‖ chain_root (32) ‖ counter (u64 BE) ‖
//! issued_at_ms (i64 BE) ‖ camera_count (1) ‖ cameras ‖ signer (32) ‖ signature (64)`; each
//! camera is `name_len (1) ‖ name ‖ enabled (1: 0 or 1) ‖ sensitivity (1) ‖ pre_roll_ms (u64
//! BE) ‖ post_roll_ms (u64 BE)`, in ascending byte order of name, each name once. The
//! signature is the signer's Ed25519 over `"porchlight hub-settings v1\0" ‖ every byte
//! before the signature`.
//!
//! Bounds (what [`SignedHubSettings::from_bytes`] refuses outside them): at most
//! [`MAX_CAMERAS`] cameras; sensitivity 1 (only a large change of the picture) to 10 (the
//! slightest), mapped to the motion detector's thresholds by the media crate
//! (`MotionConfig::with_sensitivity`); pre-roll 0 to [`MAX_PRE_ROLL_MS`]; post-roll
//! [`MIN_POST_ROLL_MS`] to [`MAX_POST_ROLL_MS`]; a counter of at least 1.

use std::fmt;

use crate::chain::{LinkHash, VerifiedChain};
use crate::keys::{DeviceSecret, HubKey, verify_strict};
use crate::statement::{MAX_CAMERA_ID_BYTES, check_camera_id};
use crate::wire::{Reader, WireError, Writer};

/// Prefix of every message a hub-settings signature covers.
pub const HUB_SETTINGS_DOMAIN: &[u8] = b"porchlight hub-settings v1\0";
/// The encoding version this code writes and reads.
pub const HUB_SETTINGS_VERSION: u8 = 1;
/// Most cameras one statement names.
pub const MAX_CAMERAS: usize = 32;
/// Lowest and highest motion sensitivity.
pub const MIN_SENSITIVITY: u8 = 1;
pub const MAX_SENSITIVITY: u8 = 10;
/// Longest pre-roll: the hub holds it in memory for every camera.
pub const MAX_PRE_ROLL_MS: u64 = 30_000;
/// Shortest and longest post-roll.
pub const MIN_POST_ROLL_MS: u64 = 1_000;
pub const MAX_POST_ROLL_MS: u64 = 300_000;

/// Why a statement cannot be made, read or applied. [`HubSettingsError::code`] names the
/// reason for a report (to the server, the apps).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HubSettingsError {
    #[error("hub settings version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("the hub settings are truncated")]
    Truncated,
    #[error("the hub settings have {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("hub settings name 1 to {MAX_CAMERAS} cameras")]
    CameraCount,
    #[error(
        "a camera name is 1 to {MAX_CAMERA_ID_BYTES} bytes of UTF-8 without control characters or outer spaces"
    )]
    BadCameraName,
    #[error("cameras must be listed once each, in order of name")]
    CameraOrder,
    #[error("a camera's on/off flag must be 0 or 1")]
    BadFlag,
    #[error("motion sensitivity is {MIN_SENSITIVITY} to {MAX_SENSITIVITY}")]
    Sensitivity,
    #[error("pre-roll is 0 to {} seconds", MAX_PRE_ROLL_MS / 1000)]
    PreRoll,
    #[error("post-roll is {} to {} seconds", MIN_POST_ROLL_MS / 1000, MAX_POST_ROLL_MS / 1000)]
    PostRoll,
    #[error("the settings counter starts at 1")]
    ZeroCounter,
    #[error("the hub settings' signature does not verify")]
    BadSignature,
    #[error("the hub settings are signed by a key that is not a current device of the chain")]
    SignerNotInChain,
    #[error("the hub settings name another account's chain")]
    WrongChain,
    #[error("the hub settings are for another hub")]
    WrongHub,
    #[error("the hub settings are number {found}, not newer than number {applied} in use")]
    NotNewer { applied: u64, found: u64 },
}

impl HubSettingsError {
    /// A stable name for the reason, for reports: `malformed`, `wrong_signer`,
    /// `bad_signature`, `wrong_chain`, `wrong_hub` or `not_newer`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadSignature => "bad_signature",
            Self::SignerNotInChain => "wrong_signer",
            Self::WrongChain => "wrong_chain",
            Self::WrongHub => "wrong_hub",
            Self::NotNewer { .. } => "not_newer",
            _ => "malformed",
        }
    }
}

/// What one camera does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CameraSettings {
    /// The camera's name on the hub (what its clip statements carry).
    pub camera: String,
    /// Off: the hub keeps the camera connected (live view works) but records nothing.
    pub enabled: bool,
    /// 1 (least sensitive) to 10.
    pub sensitivity: u8,
    pub pre_roll_ms: u64,
    pub post_roll_ms: u64,
}

/// What a camera gets when a statement first names it: `hub.toml`'s defaults.
pub const DEFAULT_SENSITIVITY: u8 = 6;
pub const DEFAULT_PRE_ROLL_MS: u64 = 5_000;
pub const DEFAULT_POST_ROLL_MS: u64 = 10_000;

impl CameraSettings {
    /// Camera `camera` on, with the defaults.
    pub fn new(camera: &str) -> Self {
        Self {
            camera: camera.to_owned(),
            enabled: true,
            sensitivity: DEFAULT_SENSITIVITY,
            pre_roll_ms: DEFAULT_PRE_ROLL_MS,
            post_roll_ms: DEFAULT_POST_ROLL_MS,
        }
    }

    fn check(&self) -> Result<(), HubSettingsError> {
        check_camera_id(&self.camera).map_err(|_| HubSettingsError::BadCameraName)?;
        if !(MIN_SENSITIVITY..=MAX_SENSITIVITY).contains(&self.sensitivity) {
            return Err(HubSettingsError::Sensitivity);
        }
        if self.pre_roll_ms > MAX_PRE_ROLL_MS {
            return Err(HubSettingsError::PreRoll);
        }
        if !(MIN_POST_ROLL_MS..=MAX_POST_ROLL_MS).contains(&self.post_roll_ms) {
            return Err(HubSettingsError::PostRoll);
        }
        Ok(())
    }
}

/// What a statement says: for which hub and account, which number it is, and each camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSettings {
    /// The hub's Ed25519 key: the statement is for this hub only.
    pub hub_key: [u8; 32],
    pub chain_root: LinkHash,
    /// Higher than every earlier statement for this hub; the hub applies only a higher one.
    pub counter: u64,
    /// Milliseconds since the Unix epoch, by the signing device's clock (shown, not trusted).
    pub issued_at_ms: i64,
    pub cameras: Vec<CameraSettings>,
}

impl HubSettings {
    fn check(&self) -> Result<(), HubSettingsError> {
        if self.counter == 0 {
            return Err(HubSettingsError::ZeroCounter);
        }
        if self.cameras.is_empty() || self.cameras.len() > MAX_CAMERAS {
            return Err(HubSettingsError::CameraCount);
        }
        for camera in &self.cameras {
            camera.check()?;
        }
        let ordered = self
            .cameras
            .windows(2)
            .all(|w| w[0].camera.as_bytes() < w[1].camera.as_bytes());
        if !ordered {
            return Err(HubSettingsError::CameraOrder);
        }
        Ok(())
    }

    /// Sets `camera`'s settings, in place of any the statement had for it.
    pub fn set_camera(&mut self, camera: CameraSettings) {
        self.cameras.retain(|c| c.camera != camera.camera);
        self.cameras.push(camera);
        self.cameras
            .sort_by(|a, b| a.camera.as_bytes().cmp(b.camera.as_bytes()));
    }

    /// The settings of camera `name`, if the statement names it.
    pub fn camera(&self, name: &str) -> Option<&CameraSettings> {
        self.cameras.iter().find(|c| c.camera == name)
    }

    fn body(&self, signer: &[u8; 32]) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(HUB_SETTINGS_VERSION)
            .fixed(&self.hub_key)
            .fixed(self.chain_root.as_bytes())
            .u64(self.counter)
            .i64(self.issued_at_ms)
            .u8(u8::try_from(self.cameras.len()).unwrap_or(u8::MAX));
        for camera in &self.cameras {
            w.short(camera.camera.as_bytes())
                .u8(u8::from(camera.enabled))
                .u8(camera.sensitivity)
                .u64(camera.pre_roll_ms)
                .u64(camera.post_roll_ms);
        }
        w.fixed(signer);
        w.into_bytes()
    }
}

/// A signed statement. Only [`SignedHubSettings::sign`] and [`SignedHubSettings::from_bytes`]
/// make one, and both check the bounds; [`SignedHubSettings::verify`] checks the rest.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHubSettings {
    settings: HubSettings,
    signer: [u8; 32],
    signature: [u8; 64],
}

impl SignedHubSettings {
    /// Signs `settings` with `device` (cameras are put in order of name first).
    pub fn sign(
        mut settings: HubSettings,
        device: &DeviceSecret,
    ) -> Result<Self, HubSettingsError> {
        settings
            .cameras
            .sort_by(|a, b| a.camera.as_bytes().cmp(b.camera.as_bytes()));
        settings.check()?;
        let signer = *device.public().sign();
        let signature = device.sign(&signed_message(&settings.body(&signer)));
        Ok(Self {
            settings,
            signer,
            signature,
        })
    }

    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    /// The signing device's Ed25519 key.
    pub fn signer(&self) -> &[u8; 32] {
        &self.signer
    }

    /// The canonical encoding, signature last.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = self.settings.body(&self.signer);
        bytes.extend_from_slice(&self.signature);
        bytes
    }

    /// Parses [`Self::to_bytes`] strictly, bounds included; the signature is not checked
    /// here. Never panics, whatever the input.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HubSettingsError> {
        let mut r = Reader::new(bytes);
        let version = r.u8().map_err(wire)?;
        if version != HUB_SETTINGS_VERSION {
            return Err(HubSettingsError::UnsupportedVersion(version));
        }
        let hub_key = r.array().map_err(wire)?;
        let chain_root = LinkHash::from_bytes(r.array().map_err(wire)?);
        let counter = r.u64().map_err(wire)?;
        let issued_at_ms = r.i64().map_err(wire)?;
        let count = usize::from(r.u8().map_err(wire)?);
        if count == 0 || count > MAX_CAMERAS {
            return Err(HubSettingsError::CameraCount);
        }
        let mut cameras = Vec::with_capacity(count);
        for _ in 0..count {
            let name = r.short(MAX_CAMERA_ID_BYTES).map_err(wire)?;
            let camera = std::str::from_utf8(name)
                .map_err(|_| HubSettingsError::BadCameraName)?
                .to_owned();
            let enabled = match r.u8().map_err(wire)? {
                0 => false,
                1 => true,
                _ => return Err(HubSettingsError::BadFlag),
            };
            cameras.push(CameraSettings {
                camera,
                enabled,
                sensitivity: r.u8().map_err(wire)?,
                pre_roll_ms: r.u64().map_err(wire)?,
                post_roll_ms: r.u64().map_err(wire)?,
            });
        }
        let signer = r.array().map_err(wire)?;
        let signature = r.array().map_err(wire)?;
        r.finish().map_err(wire)?;
        let settings = HubSettings {
            hub_key,
            chain_root,
            counter,
            issued_at_ms,
            cameras,
        };
        settings.check()?;
        Ok(Self {
            settings,
            signer,
            signature,
        })
    }

    /// Whether hub `hub` may apply these settings now: they name `chain` and this hub, a
    /// current device of `chain` signed them (strict Ed25519), and their counter is above
    /// `applied` (the counter of the settings the hub applies now, if any).
    pub fn verify(
        &self,
        chain: &VerifiedChain,
        hub: &HubKey,
        applied: Option<u64>,
    ) -> Result<&HubSettings, HubSettingsError> {
        if self.settings.chain_root != chain.root() {
            return Err(HubSettingsError::WrongChain);
        }
        if self.settings.hub_key != *hub.as_bytes() {
            return Err(HubSettingsError::WrongHub);
        }
        let device = chain
            .devices()
            .iter()
            .find(|d| d.key.sign() == &self.signer)
            .ok_or(HubSettingsError::SignerNotInChain)?;
        let message = signed_message(&self.settings.body(&self.signer));
        if !verify_strict(device.key.verifying_key(), &message, &self.signature) {
            return Err(HubSettingsError::BadSignature);
        }
        if let Some(applied) = applied
            && self.settings.counter <= applied
        {
            return Err(HubSettingsError::NotNewer {
                applied,
                found: self.settings.counter,
            });
        }
        Ok(&self.settings)
    }
}

/// The whole decision a hub makes about settings bytes from the server: parsed, bounded,
/// for this hub and chain, signed by a current device, newer than `applied`.
pub fn check_hub_settings(
    bytes: &[u8],
    chain: &VerifiedChain,
    hub: &HubKey,
    applied: Option<u64>,
) -> Result<SignedHubSettings, HubSettingsError> {
    let signed = SignedHubSettings::from_bytes(bytes)?;
    signed.verify(chain, hub, applied)?;
    Ok(signed)
}

impl fmt::Debug for SignedHubSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedHubSettings")
            .field("counter", &self.settings.counter)
            .field("cameras", &self.settings.cameras)
            .finish_non_exhaustive()
    }
}

fn signed_message(body: &[u8]) -> Vec<u8> {
    let mut message = HUB_SETTINGS_DOMAIN.to_vec();
    message.extend_from_slice(body);
    message
}

fn wire(e: WireError) -> HubSettingsError {
    match e {
        WireError::Truncated => HubSettingsError::Truncated,
        WireError::TooLong { .. } => HubSettingsError::BadCameraName,
        WireError::Trailing { count } => HubSettingsError::TrailingBytes(count),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::chain::{ChainBuilder, ChainOp, Name};
    use crate::keys::HubSecret;
    use crate::recovery::RecoveryKey;
    use proptest::prelude::*;

    struct Home {
        phone: DeviceSecret,
        laptop: DeviceSecret,
        hub: HubSecret,
        builder: ChainBuilder,
    }

    fn home() -> Home {
        let phone = DeviceSecret::generate();
        let laptop = DeviceSecret::generate();
        let hub = HubSecret::generate();
        let (recovery, _code) = RecoveryKey::generate();
        let mut builder =
            ChainBuilder::genesis(&phone, Name::new("phone").unwrap(), recovery.public()).unwrap();
        builder
            .append(
                ChainOp::AddDevice {
                    name: Name::new("laptop").unwrap(),
                    device: laptop.public(),
                },
                &phone,
            )
            .unwrap();
        builder
            .append(
                ChainOp::AddHub {
                    name: Name::new("hall").unwrap(),
                    hub: hub.public(),
                },
                &phone,
            )
            .unwrap();
        Home {
            phone,
            laptop,
            hub,
            builder,
        }
    }

    fn settings(home: &Home, counter: u64) -> HubSettings {
        HubSettings {
            hub_key: *home.hub.public().as_bytes(),
            chain_root: home.builder.chain().root(),
            counter,
            issued_at_ms: 1_700_000_000_000,
            cameras: vec![
                CameraSettings {
                    camera: "porch".into(),
                    enabled: true,
                    sensitivity: 3,
                    pre_roll_ms: 5_000,
                    post_roll_ms: 10_000,
                },
                CameraSettings {
                    camera: "garden".into(),
                    enabled: false,
                    sensitivity: 10,
                    pre_roll_ms: 0,
                    post_roll_ms: 1_000,
                },
            ],
        }
    }

    #[test]
    fn sign_parse_verify() {
        let home = home();
        let signed = SignedHubSettings::sign(settings(&home, 1), &home.laptop).unwrap();
        // Put in order of name when signed.
        assert_eq!(signed.settings().cameras[0].camera, "garden");
        let bytes = signed.to_bytes();
        let parsed = SignedHubSettings::from_bytes(&bytes).unwrap();
        assert_eq!(parsed, signed);
        let chain = home.builder.chain();
        let applied = check_hub_settings(&bytes, chain, &home.hub.public(), None).unwrap();
        assert_eq!(applied.settings().camera("porch").unwrap().sensitivity, 3);
        assert!(!applied.settings().camera("garden").unwrap().enabled);
        assert_eq!(
            check_hub_settings(&bytes, chain, &home.hub.public(), Some(0))
                .unwrap()
                .settings()
                .counter,
            1
        );
    }

    #[test]
    fn an_older_or_equal_counter_is_a_replay() {
        let home = home();
        let chain = home.builder.chain();
        let first = SignedHubSettings::sign(settings(&home, 4), &home.phone)
            .unwrap()
            .to_bytes();
        let err = check_hub_settings(&first, chain, &home.hub.public(), Some(4)).unwrap_err();
        assert_eq!(
            err,
            HubSettingsError::NotNewer {
                applied: 4,
                found: 4
            }
        );
        assert_eq!(err.code(), "not_newer");
        assert!(check_hub_settings(&first, chain, &home.hub.public(), Some(7)).is_err());
        assert!(check_hub_settings(&first, chain, &home.hub.public(), Some(3)).is_ok());
    }

    #[test]
    fn a_key_outside_the_chain_is_refused() {
        let home = home();
        let stranger = DeviceSecret::generate();
        let bytes = SignedHubSettings::sign(settings(&home, 1), &stranger)
            .unwrap()
            .to_bytes();
        let err =
            check_hub_settings(&bytes, home.builder.chain(), &home.hub.public(), None).unwrap_err();
        assert_eq!(err, HubSettingsError::SignerNotInChain);
        assert_eq!(err.code(), "wrong_signer");
    }

    #[test]
    fn a_removed_device_can_no_longer_sign() {
        let mut home = home();
        let bytes = SignedHubSettings::sign(settings(&home, 2), &home.laptop)
            .unwrap()
            .to_bytes();
        let before = home.builder.chain().clone();
        assert!(check_hub_settings(&bytes, &before, &home.hub.public(), None).is_ok());
        let laptop = *home.laptop.public().sign();
        home.builder
            .append(
                ChainOp::RemoveDevice {
                    device_sign_key: laptop,
                },
                &home.phone,
            )
            .unwrap();
        assert_eq!(
            check_hub_settings(&bytes, home.builder.chain(), &home.hub.public(), None).unwrap_err(),
            HubSettingsError::SignerNotInChain
        );
    }

    #[test]
    fn another_hub_or_chain_is_refused() {
        let home = home();
        let bytes = SignedHubSettings::sign(settings(&home, 1), &home.phone)
            .unwrap()
            .to_bytes();
        let other_hub = HubSecret::generate().public();
        assert_eq!(
            check_hub_settings(&bytes, home.builder.chain(), &other_hub, None).unwrap_err(),
            HubSettingsError::WrongHub
        );
        let elsewhere = self::home();
        assert_eq!(
            check_hub_settings(&bytes, elsewhere.builder.chain(), &home.hub.public(), None)
                .unwrap_err(),
            HubSettingsError::WrongChain
        );
    }

    #[test]
    fn any_tampered_field_breaks_the_signature() {
        let home = home();
        let chain = home.builder.chain();
        let signed = SignedHubSettings::sign(settings(&home, 9), &home.phone).unwrap();
        let bytes = signed.to_bytes();
        // Counter, issued-at, then the first camera's sensitivity and post-roll: each changed
        // to another value that is still in bounds.
        let counter_at = 1 + 32 + 32 + 7;
        let issued_at = counter_at + 8;
        let first_camera = issued_at + 1 + 1;
        let name_len = usize::from(bytes[first_camera]);
        let sensitivity_at = first_camera + 1 + name_len + 1;
        let post_roll_low_byte = sensitivity_at + 8 + 8;
        for at in [counter_at, issued_at, sensitivity_at, post_roll_low_byte] {
            let mut tampered = bytes.clone();
            tampered[at] ^= 2;
            let parsed = SignedHubSettings::from_bytes(&tampered).unwrap();
            assert_ne!(parsed.settings(), signed.settings(), "byte {at}");
            assert_eq!(
                parsed.verify(chain, &home.hub.public(), None).unwrap_err(),
                HubSettingsError::BadSignature,
                "byte {at}"
            );
        }
        // The on/off flag: 0 → 1 for "garden", which was off.
        let enabled_at = first_camera + 1 + name_len;
        let mut tampered = bytes.clone();
        tampered[enabled_at] = 1;
        assert_eq!(
            SignedHubSettings::from_bytes(&tampered)
                .unwrap()
                .verify(chain, &home.hub.public(), None)
                .unwrap_err(),
            HubSettingsError::BadSignature
        );
    }

    #[test]
    fn bounds_are_checked_when_signing_and_parsing() {
        let home = home();
        type Change = fn(&mut HubSettings);
        let out_of_bounds: [(Change, HubSettingsError); 7] = [
            (
                |s| s.cameras[0].sensitivity = 0,
                HubSettingsError::Sensitivity,
            ),
            (
                |s| s.cameras[0].sensitivity = 11,
                HubSettingsError::Sensitivity,
            ),
            (
                |s| s.cameras[0].pre_roll_ms = 30_001,
                HubSettingsError::PreRoll,
            ),
            (
                |s| s.cameras[0].post_roll_ms = 999,
                HubSettingsError::PostRoll,
            ),
            (
                |s| s.cameras[0].camera = " porch".into(),
                HubSettingsError::BadCameraName,
            ),
            (|s| s.cameras.clear(), HubSettingsError::CameraCount),
            (|s| s.counter = 0, HubSettingsError::ZeroCounter),
        ];
        for (change, want) in out_of_bounds {
            let mut s = settings(&home, 1);
            change(&mut s);
            assert_eq!(SignedHubSettings::sign(s, &home.phone).unwrap_err(), want);
        }
        let mut twice = settings(&home, 1);
        twice.cameras[1].camera = "porch".into();
        assert_eq!(
            SignedHubSettings::sign(twice, &home.phone).unwrap_err(),
            HubSettingsError::CameraOrder
        );
        // The parser applies the same bounds to bytes it did not make.
        let bytes = SignedHubSettings::sign(settings(&home, 1), &home.phone)
            .unwrap()
            .to_bytes();
        let sensitivity_at = 1 + 32 + 32 + 8 + 8 + 1 + 1 + "garden".len() + 1;
        let mut bad = bytes.clone();
        bad[sensitivity_at] = 11;
        assert_eq!(
            SignedHubSettings::from_bytes(&bad).unwrap_err(),
            HubSettingsError::Sensitivity
        );
        let mut bad = bytes.clone();
        bad[0] = 2;
        assert_eq!(
            SignedHubSettings::from_bytes(&bad).unwrap_err(),
            HubSettingsError::UnsupportedVersion(2)
        );
        assert_eq!(
            SignedHubSettings::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err(),
            HubSettingsError::Truncated
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            SignedHubSettings::from_bytes(&long).unwrap_err(),
            HubSettingsError::TrailingBytes(1)
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = SignedHubSettings::from_bytes(&bytes);
        }

        #[test]
        fn signed_settings_round_trip(
            counter in 1u64..,
            sensitivity in MIN_SENSITIVITY..=MAX_SENSITIVITY,
            pre in 0..=MAX_PRE_ROLL_MS,
            post in MIN_POST_ROLL_MS..=MAX_POST_ROLL_MS,
            enabled: bool,
            cut in 0usize..200,
        ) {
            let home = home();
            let mut s = settings(&home, counter);
            s.cameras[0] = CameraSettings { camera: "a".into(), enabled, sensitivity, pre_roll_ms: pre, post_roll_ms: post };
            let signed = SignedHubSettings::sign(s, &home.phone).unwrap();
            let bytes = signed.to_bytes();
            prop_assert_eq!(&SignedHubSettings::from_bytes(&bytes).unwrap(), &signed);
            // Every strict prefix is refused, without a panic.
            let cut = cut % bytes.len();
            prop_assert!(SignedHubSettings::from_bytes(&bytes[..cut]).is_err());
        }
    }
}
