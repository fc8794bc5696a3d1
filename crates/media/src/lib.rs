//! Porchlight's media handling on the hub, free of I/O and async: what a camera source hands
//! over ([`VideoParams`] and [`Frame`]), and what a clip or a live stream is made of.
//!
//! Every source (RTSP through `retina`, the [`SyntheticCamera`]) produces the same two types,
//! so the recorder, the motion detector and the fMP4 writer never know where video came from.
//!
//! What it owns:
//!
//! - [`h264`]: NAL units in Annex B and length-prefixed form, the `avcC` record, the SPS fields
//!   a muxer needs, and [`VideoParams::h264`].
//! - [`fmp4`]: fragmented MP4 — [`init_segment`], [`fragment`], and [`ClipWriter`] for a whole
//!   clip streamed to any [`std::io::Write`]; the sealed clip-metadata `uuid` box
//!   ([`fmp4::metadata_box`], [`fmp4::read_metadata`]); and [`boxes`], a walker to check files.
//! - [`strip`]: [`strip_metadata`], the MP4 without times, names, `udta`/`meta`/`uuid`
//!   boxes, for clips that leave their owner (research items).
//! - [`Recorder`]: the pre-roll buffer and clip cutter, and [`MotionDetector`], motion from
//!   P-frame sizes.
//!
//! What it does not: network, files, clocks, async, decoding pictures, sealing. The hub opens
//! files and sockets, seals clips (`porchlight-crypto`) and uploads them. Time here is frame
//! pts in [`TIMESCALE`] units, never the wall clock.
//!
//! Every parser is total: malformed bytes give an [`Error`], never a panic (each has a property
//! test on random input). `docs/MEDIA.md` describes the formats, the clip cutting and the
//! motion rule; `tests/ffprobe.rs` checks the files with ffprobe and ffmpeg.

pub mod boxes;
mod error;
pub mod fmp4;
pub mod h264;
mod motion;
mod recorder;
pub mod strip;
mod synthetic;
mod types;

pub use error::Error;
pub use fmp4::{ClipSummary, ClipWriter, FragmentEnd, fragment, fragment_since, init_segment};
pub use motion::{
    DEFAULT_SENSITIVITY, MotionConfig, MotionDetector, MotionEvent, SENSITIVITY_RANGE,
};
pub use recorder::{
    ClipEnd, ClipEvent, ClipInfo, ClipStart, EventKind, Recorder, RecorderConfig, RecorderOutput,
};
pub use strip::strip_metadata;
pub use synthetic::{SAMPLE_FRAMES, SAMPLE_MOVING_FRAMES, SyntheticCamera};
pub use types::{Codec, Frame, TIMESCALE, VideoParams};
