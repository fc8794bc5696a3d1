//! `hub.toml`: the cameras a hub records, how clips are cut, how much disk the upload queue
//! may take, and where the hub's local endpoint listens.
//!
//! ```toml
//! [recording]
//! pre_roll_secs = 5      # video kept before an event
//! post_roll_secs = 10    # video kept after the last event
//! max_clip_secs = 300    # a longer clip is cut and continued
//!
//! [spool]
//! max_mb = 2048          # sealed clips waiting for upload; the oldest go first when full
//!
//! [local]
//! listen = "127.0.0.1:8089"   # doorbell presses, manual triggers, status; "" turns it off
//!
//! [[cameras]]
//! name = "porch"
//! url = "rtsp://user:password@192.168.1.20:554/stream1"   # or "synthetic"
//! motion = true          # cut clips on motion (default true)
//! transport = "tcp"      # or "udp"
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use porchlight_crypto::ClipStatement;
use porchlight_media::RecorderConfig;
use serde::Deserialize;

use crate::source::{CameraUrl, RtspTransport};

/// The camera URL that selects the bundled synthetic camera.
pub const SYNTHETIC: &str = "synthetic";

/// What is wrong with a hub configuration. The text never holds a camera's credentials.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    recording: Recording,
    #[serde(default)]
    spool: SpoolSection,
    #[serde(default)]
    local: Local,
    #[serde(default)]
    cameras: Vec<CameraFile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Recording {
    pre_roll_secs: f64,
    post_roll_secs: f64,
    max_clip_secs: f64,
}

impl Default for Recording {
    fn default() -> Self {
        Self {
            pre_roll_secs: 5.0,
            post_roll_secs: 10.0,
            max_clip_secs: 300.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct SpoolSection {
    max_mb: u64,
}

impl Default for SpoolSection {
    fn default() -> Self {
        Self {
            max_mb: crate::run::DEFAULT_SPOOL_MAX_BYTES >> 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Local {
    listen: String,
}

impl Default for Local {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8089".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CameraFile {
    name: String,
    url: String,
    #[serde(default = "yes")]
    motion: bool,
    #[serde(default)]
    transport: Transport,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Transport {
    #[default]
    Tcp,
    Udp,
}

/// Where a camera's video comes from.
#[derive(Debug, Clone)]
pub enum CameraSource {
    Rtsp {
        url: CameraUrl,
        transport: RtspTransport,
    },
    /// The bundled sample, looped in real time.
    Synthetic,
}

/// One camera.
#[derive(Debug, Clone)]
pub struct CameraConfig {
    pub name: String,
    pub source: CameraSource,
    pub motion: bool,
}

/// A hub's whole configuration, checked.
#[derive(Debug, Clone)]
pub struct HubRunConfig {
    pub recording: RecorderConfig,
    pub spool_max_bytes: u64,
    /// The local endpoint; `None` when turned off.
    pub listen: Option<SocketAddr>,
    pub cameras: Vec<CameraConfig>,
}

impl HubRunConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        })
    }

    /// Parses and checks the text of a `hub.toml`.
    pub fn parse(text: &str) -> Result<Self, String> {
        // toml's messages quote the offending line, which may hold a camera password: say
        // only where it is.
        let file: File = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => format!(
                "not a valid hub configuration (near byte {}): {}",
                span.start,
                e.message()
            ),
            None => format!("not a valid hub configuration: {}", e.message()),
        })?;
        let secs = |name: &str, value: f64, min: f64| {
            if value.is_finite() && value >= min && value <= 3600.0 {
                Ok(Duration::from_secs_f64(value))
            } else {
                Err(format!("recording.{name} must be {min} to 3600 seconds"))
            }
        };
        let recording = RecorderConfig {
            pre_roll: secs("pre_roll_secs", file.recording.pre_roll_secs, 0.0)?,
            post_roll: secs("post_roll_secs", file.recording.post_roll_secs, 0.5)?,
            max_clip: secs("max_clip_secs", file.recording.max_clip_secs, 2.0)?,
        };
        if !(1..=1 << 30).contains(&file.spool.max_mb) {
            return Err("spool.max_mb must be at least 1".to_owned());
        }
        let listen = match file.local.listen.trim() {
            "" => None,
            text => Some(text.parse::<SocketAddr>().map_err(|_| {
                "local.listen must be an address such as 127.0.0.1:8089, or \"\"".to_owned()
            })?),
        };
        if file.cameras.is_empty() {
            return Err("no [[cameras]]: name at least one".to_owned());
        }
        let mut cameras: Vec<CameraConfig> = Vec::new();
        for (i, camera) in file.cameras.into_iter().enumerate() {
            if ClipStatement::new(&camera.name, 0, 0, [0; 32], [0; 32]).is_err() {
                return Err(format!(
                    "cameras[{i}].name must be 1 to 128 bytes without control characters"
                ));
            }
            if cameras.iter().any(|c| c.name == camera.name) {
                return Err(format!("two cameras are named {:?}", camera.name));
            }
            let source = if camera.url.trim() == SYNTHETIC {
                CameraSource::Synthetic
            } else {
                CameraSource::Rtsp {
                    url: CameraUrl::parse(&camera.url)
                        .map_err(|e| format!("camera {:?}: {e}", camera.name))?,
                    transport: match camera.transport {
                        Transport::Tcp => RtspTransport::Tcp,
                        Transport::Udp => RtspTransport::Udp,
                    },
                }
            };
            cameras.push(CameraConfig {
                name: camera.name,
                source,
                motion: camera.motion,
            });
        }
        Ok(Self {
            recording,
            spool_max_bytes: file.spool.max_mb * 1024 * 1024,
            listen,
            cameras,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_full_configuration_parses() {
        let config = HubRunConfig::parse(
            r#"
            [recording]
            pre_roll_secs = 2
            post_roll_secs = 3.5
            [spool]
            max_mb = 10
            [local]
            listen = ""
            [[cameras]]
            name = "porch"
            url = "rtsp://ann:hunter2@127.0.0.1:8554/cam"
            transport = "udp"
            [[cameras]]
            name = "garden"
            url = "synthetic"
            motion = false
            "#,
        )
        .unwrap();
        assert_eq!(config.recording.pre_roll, Duration::from_secs(2));
        assert_eq!(config.recording.post_roll, Duration::from_millis(3500));
        assert_eq!(config.spool_max_bytes, 10 << 20);
        assert_eq!(config.listen, None);
        assert_eq!(config.cameras.len(), 2);
        assert!(matches!(
            config.cameras[0].source,
            CameraSource::Rtsp {
                transport: RtspTransport::Udp,
                ..
            }
        ));
        assert!(matches!(config.cameras[1].source, CameraSource::Synthetic));
        assert!(!config.cameras[1].motion);
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn mistakes_are_named_and_never_echo_a_password() {
        let camera = r#"[[cameras]]
name = "porch"
url = "synthetic"
"#;
        for (text, expect) in [
            ("", "no [[cameras]]"),
            (&format!("{camera}{camera}") as &str, "two cameras"),
            (
                &format!("[recording]\npost_roll_secs = 0\n{camera}"),
                "post_roll_secs",
            ),
            (
                &format!("[local]\nlisten = \"nowhere\"\n{camera}"),
                "local.listen",
            ),
            (&format!("[spool]\nmax_mb = 0\n{camera}"), "spool.max_mb"),
            ("[[cameras]]\nname = \"\"\nurl = \"synthetic\"\n", "name"),
            (
                "[[cameras]]\nname = \"x\"\nurl = \"http://a:s3cret@h/\"\n",
                "camera \"x\"",
            ),
            (
                "[[cameras]]\nname = \"x\"\nurl = \"rtsp://a:s3cret@h/\"\ncolour = 1\n",
                "unknown field",
            ),
            (
                "[[cameras]]\nname = \"x\"\nurl = \"rtsp://a:s3cret@h/\" junk",
                "not a valid",
            ),
        ] {
            let err = HubRunConfig::parse(text).unwrap_err();
            assert!(err.contains(expect), "{text:?}: {err}");
            assert!(!err.contains("s3cret"), "{err}");
        }
    }
}
