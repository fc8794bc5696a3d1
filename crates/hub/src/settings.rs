//! Settings signed by the owner's device (`porchlight_crypto::hub_settings`): which cameras
//! record, their motion sensitivity, their pre- and post-roll. The hub fetches the latest
//! statement from the server when told it changed (`SettingsChanged` on the control
//! connection), when that connection opens, and every [`POLL`]; it applies a statement only
//! if it names this hub and the owner's chain, a current device of the verified chain signed
//! it, and its counter is above the one in use. Anything else is refused, logged by reason
//! (never with the statement's bytes) and reported to the server for the owner's apps, and
//! the settings in use stay. Applied settings are kept in the state folder, so a restart
//! keeps them; until the first arrives, `hub.toml` decides.
//!
//! Camera tasks watch [`Hub::settings`] and change their recorder and motion detector in
//! place: no restart, no lost pre-roll.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use porchlight_client::crypto::{HubSettings, SignedHubSettings, check_hub_settings};
use porchlight_client::hub as hubs;
use porchlight_client::proto::HubSettingsReportBody;
use porchlight_media::{MotionConfig, RecorderConfig};
use serde::Serialize;
use tokio::sync::watch;

use crate::config::CameraConfig;
use crate::run::{Hub, now_ms, stopped};

/// How often the hub asks for its settings without being told they changed: the bound on
/// how long settings changed behind the control connection's back (a lost hint, a server
/// restarted) take to arrive.
pub const POLL: Duration = Duration::from_secs(10);

/// What one camera runs with now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CameraBehaviour {
    /// Off: nothing is recorded or streamed live (the camera stays connected, so turning it
    /// back on is immediate).
    pub enabled: bool,
    pub recording: RecorderConfig,
    /// `None` when `hub.toml` turns motion off for the camera (signed settings choose the
    /// sensitivity, not whether the camera's picture is used for motion at all).
    pub motion: Option<MotionConfig>,
}

/// `hub.toml`'s values for `camera`, replaced by what `signed` says of it (a camera the
/// statement does not name keeps `hub.toml`'s). The longest clip is always `hub.toml`'s.
pub fn behaviour(
    camera: &CameraConfig,
    defaults: RecorderConfig,
    signed: Option<&HubSettings>,
) -> CameraBehaviour {
    let local = CameraBehaviour {
        enabled: true,
        recording: defaults,
        motion: camera.motion.then(MotionConfig::default),
    };
    let Some(chosen) = signed.and_then(|s| s.camera(&camera.name)) else {
        return local;
    };
    CameraBehaviour {
        enabled: chosen.enabled,
        recording: RecorderConfig {
            pre_roll: Duration::from_millis(chosen.pre_roll_ms),
            post_roll: Duration::from_millis(chosen.post_roll_ms),
            max_clip: defaults.max_clip,
        },
        motion: camera
            .motion
            .then(|| MotionConfig::with_sensitivity(chosen.sensitivity)),
    }
}

/// The settings part of `GET /status`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SettingsStatus {
    /// `hub.toml` until signed settings are applied, then `signed`.
    pub source: String,
    /// The counter of the signed settings applied.
    pub counter: Option<u64>,
    /// The last statement refused, and why (cleared when newer settings are applied).
    pub refused: Option<String>,
}

/// What the hub knows of its signed settings.
#[derive(Debug)]
pub(crate) struct SettingsState {
    pub(crate) current: watch::Sender<Option<Arc<SignedHubSettings>>>,
    /// Set by the control connection: fetch now.
    pub(crate) wanted: tokio::sync::Notify,
    status: std::sync::Mutex<SettingsStatus>,
}

impl SettingsState {
    pub(crate) fn new(kept: Option<SignedHubSettings>) -> Self {
        let status = SettingsStatus {
            source: if kept.is_some() { "signed" } else { "hub.toml" }.to_owned(),
            counter: kept.as_ref().map(|s| s.settings().counter),
            refused: None,
        };
        Self {
            current: watch::channel(kept.map(Arc::new)).0,
            wanted: tokio::sync::Notify::new(),
            status: std::sync::Mutex::new(status),
        }
    }

    pub(crate) fn status(&self) -> SettingsStatus {
        self.status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn set_status(&self, change: impl FnOnce(&mut SettingsStatus)) {
        change(
            &mut self
                .status
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    }
}

impl Hub {
    /// The signed settings in force, if any.
    pub(crate) fn signed_settings(&self) -> Option<Arc<SignedHubSettings>> {
        self.settings.current.borrow().clone()
    }

    /// Whether camera `name` is on (signed settings can turn it off; `hub.toml` cannot).
    pub(crate) fn camera_enabled(&self, name: &str) -> bool {
        self.signed_settings()
            .and_then(|s| s.settings().camera(name).map(|c| c.enabled))
            .unwrap_or(true)
    }

    /// The server said the settings changed: fetch them now.
    pub(crate) fn settings_changed(&self) {
        self.settings.wanted.notify_one();
    }
}

/// Fetches and applies the hub's settings until `shutdown`.
pub(crate) async fn settings_loop(hub: Arc<Hub>, mut shutdown: watch::Receiver<bool>) {
    // The bytes of the last statement refused, so it is reported once, not every poll.
    let mut refused: Option<Vec<u8>> = None;
    loop {
        check_once(&hub, &mut refused).await;
        tokio::select! {
            () = hub.settings.wanted.notified() => {}
            () = tokio::time::sleep(POLL) => {}
            () = stopped(&mut shutdown) => return,
        }
    }
}

async fn check_once(hub: &Hub, refused: &mut Option<Vec<u8>>) {
    let (client, chain) = match hubs::connect(&hub.home, now_ms()).await {
        Ok(connected) => connected,
        Err(e) => {
            tracing::debug!(error = %e, "hub settings not checked: the server is out of reach");
            return;
        }
    };
    let served = match client.hub_own_settings().await {
        Ok(served) => served,
        Err(e) => {
            tracing::debug!(error = %e, "hub settings not fetched");
            return;
        }
    };
    let Some(statement) = served.statement else {
        return;
    };
    let current = hub.signed_settings();
    let bytes = match STANDARD.decode(statement.as_bytes()) {
        Ok(bytes) => bytes,
        Err(_) => b"not base64".to_vec(),
    };
    if let Some(current) = &current
        && current.to_bytes() == bytes
    {
        let counter = current.settings().counter;
        if served.applied_counter != Some(counter) {
            report(&client, HubSettingsReportBody::Applied { counter }).await;
        }
        return;
    }
    if refused.as_deref() == Some(bytes.as_slice()) {
        return;
    }
    let applied = current.as_ref().map(|c| c.settings().counter);
    match check_hub_settings(&bytes, &chain, &hub.secret.public(), applied) {
        Ok(signed) => {
            let counter = signed.settings().counter;
            let home = hub.home.clone();
            let kept = signed.clone();
            let saved = tokio::task::spawn_blocking(move || hubs::keep_settings(&home, &kept))
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
            if let Err(error) = saved {
                // Not applied either: what runs must be what a restart would run.
                tracing::error!(%error, counter, "could not keep new hub settings; not applied");
                return;
            }
            hub.settings.current.send_replace(Some(Arc::new(signed)));
            hub.settings.set_status(|s| {
                s.source = "signed".to_owned();
                s.counter = Some(counter);
                s.refused = None;
            });
            *refused = None;
            tracing::info!(counter, "signed hub settings applied");
            report(&client, HubSettingsReportBody::Applied { counter }).await;
        }
        Err(error) => {
            let counter = SignedHubSettings::from_bytes(&bytes)
                .ok()
                .map(|s| s.settings().counter);
            tracing::warn!(
                code = error.code(),
                counter,
                %error,
                "hub settings refused; keeping the ones in use"
            );
            hub.settings
                .set_status(|s| s.refused = Some(format!("{}: {error}", error.code())));
            *refused = Some(bytes);
            report(
                &client,
                HubSettingsReportBody::Refused {
                    counter,
                    code: error.code().to_owned(),
                    message: error.to_string(),
                },
            )
            .await;
        }
    }
}

async fn report(client: &porchlight_client::Client, body: HubSettingsReportBody) {
    if let Err(e) = client.hub_report_settings(&body).await {
        tracing::debug!(error = %e, "could not report the hub settings' outcome");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::config::CameraSource;
    use porchlight_client::crypto::{CameraSettings, LinkHash};

    fn camera(name: &str, motion: bool) -> CameraConfig {
        CameraConfig {
            name: name.to_owned(),
            source: CameraSource::Synthetic,
            motion,
        }
    }

    #[test]
    fn signed_settings_replace_hub_toml_for_the_cameras_they_name() {
        let defaults = RecorderConfig::default();
        let signed = HubSettings {
            hub_key: [1; 32],
            chain_root: LinkHash::from_bytes([2; 32]),
            counter: 3,
            issued_at_ms: 0,
            cameras: vec![CameraSettings {
                camera: "porch".into(),
                enabled: false,
                sensitivity: 1,
                pre_roll_ms: 2_000,
                post_roll_ms: 4_000,
            }],
        };
        let porch = behaviour(&camera("porch", true), defaults, Some(&signed));
        assert!(!porch.enabled);
        assert_eq!(porch.recording.pre_roll, Duration::from_secs(2));
        assert_eq!(porch.recording.post_roll, Duration::from_secs(4));
        assert_eq!(porch.recording.max_clip, defaults.max_clip);
        assert_eq!(porch.motion, Some(MotionConfig::with_sensitivity(1)));
        // Not named: hub.toml's.
        let yard = behaviour(&camera("yard", true), defaults, Some(&signed));
        assert_eq!(yard, behaviour(&camera("yard", true), defaults, None));
        assert!(yard.enabled);
        assert_eq!(yard.motion, Some(MotionConfig::default()));
        // hub.toml's "motion = false" stays.
        assert_eq!(
            behaviour(&camera("porch", false), defaults, Some(&signed)).motion,
            None
        );
    }
}
