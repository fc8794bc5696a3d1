//! Camera sources: tasks that pull video from a camera and hand it to the hub as
//! [`SourceEvent`]s on a bounded channel, one task per camera, so a failing or slow camera never
//! holds up another.
//!
//! A source sends [`SourceEvent::Params`] before the first frame of every session and again
//! whenever the parameters change; after `Params` the first frame is a keyframe. Frames are
//! dropped, never queued without bound, when the receiver falls behind: the source then skips to
//! the next keyframe, so what the receiver gets always decodes.

use std::fmt;
use std::time::Duration;

use porchlight_media::{Frame, VideoParams};

pub(crate) mod backoff;
mod camera_url;
mod clock;
pub mod rtsp;
mod sink;
mod synthetic;

pub use rtsp::{CameraUrl, CameraUrlError, RtspSource, RtspTransport, run};
pub use synthetic::run_synthetic;

/// What a camera source sends to the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceEvent {
    /// The stream's parameters: sent before the first frame of each session and whenever they
    /// change. Frames that follow use these.
    Params(VideoParams),
    /// One picture. Its `pts` keeps increasing across reconnects.
    Frame(Frame),
    /// The source's state changed, for the hub to show.
    Status(SourceStatus),
}

/// The state of one camera source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceStatus {
    /// Connecting (or reconnecting) to the camera.
    Connecting,
    /// Frames are flowing.
    Streaming,
    /// The session failed; the source tries again after `retry_in`.
    Failed {
        /// What went wrong. Never holds credentials.
        reason: SourceFailure,
        /// How long the source waits before connecting again.
        retry_in: Duration,
    },
}

impl fmt::Display for SourceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connecting => f.write_str("connecting"),
            Self::Streaming => f.write_str("streaming"),
            Self::Failed { reason, retry_in } => {
                write!(
                    f,
                    "failed: {reason}; retrying in {} ms",
                    retry_in.as_millis()
                )
            }
        }
    }
}

/// The step of a camera session that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stage {
    /// Connecting and asking what the camera offers (RTSP `DESCRIBE`).
    Describe,
    /// Choosing the video stream and its transport (RTSP `SETUP`).
    Setup,
    /// Starting the stream (RTSP `PLAY`).
    Play,
    /// Receiving frames.
    Streaming,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Describe => "DESCRIBE",
            Self::Setup => "SETUP",
            Self::Play => "PLAY",
            Self::Streaming => "streaming",
        })
    }
}

/// Why a camera session ended. The text is safe to show and log: it never holds the camera's
/// credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceFailure {
    /// The camera answered with an error status (401 for wrong credentials, 404 for a wrong
    /// path).
    #[error("camera refused {stage} with status {status}: {detail}")]
    Rejected {
        /// The step the camera refused.
        stage: Stage,
        /// The RTSP status code.
        status: u16,
        /// The camera's answer, as text.
        detail: String,
    },
    /// Nothing arrived in time: no answer to a request, or no video while streaming.
    #[error("{}", timeout_text(*.stage, *.after))]
    Timeout {
        /// The step that waited.
        stage: Stage,
        /// How long it waited.
        after: Duration,
    },
    /// The camera offers no video in a codec the hub records.
    #[error("unsupported codec: the camera offers no H.264 or H.265 video (it offers {offered})")]
    UnsupportedCodec {
        /// What the camera offers, as `media/encoding` pairs such as `video/jpeg`.
        offered: String,
    },
    /// The camera ended the stream.
    #[error("the camera ended the stream")]
    Ended,
    /// The video's timestamps went backwards.
    #[error("the camera's timestamps went backwards by {by_90k} ticks of 90 kHz")]
    TimestampWentBack {
        /// How far back, in 90 kHz units.
        by_90k: i64,
    },
    /// The stream's parameters cannot be used (a picture too large, a missing configuration).
    #[error("unusable video parameters: {0}")]
    BadParameters(String),
    /// Any other failure: the connection failed or closed, or the camera sent something that is
    /// not RTSP/RTP.
    #[error("{stage} failed: {detail}")]
    Other {
        /// The step that failed.
        stage: Stage,
        /// What happened, as text.
        detail: String,
    },
}

fn timeout_text(stage: Stage, after: Duration) -> String {
    match stage {
        Stage::Streaming => format!("stalled: no video for {} ms", after.as_millis()),
        _ => format!("no answer to {stage} within {} ms", after.as_millis()),
    }
}

/// Counters a source returns when it stops.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Sessions started (connection attempts).
    pub sessions: u64,
    /// Sessions that ended in failure.
    pub failures: u64,
    /// Frames handed to the receiver.
    pub frames_sent: u64,
    /// Frames dropped because the receiver was slow (the channel was full), including the
    /// frames skipped while waiting for the next keyframe.
    pub frames_dropped: u64,
}
