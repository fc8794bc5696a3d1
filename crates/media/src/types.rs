//! The two values every camera source produces.

/// Timestamps are in a 90 kHz clock, RTP's video clock, so RTSP timestamps pass through
/// unchanged and fMP4 uses the same timescale.
pub const TIMESCALE: u32 = 90_000;

/// The video codec of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    H264,
    H265,
}

/// What a decoder needs before the first frame: the codec, the picture size and the codec's
/// configuration record as it goes into the MP4 sample entry (`avcC` for H.264: an
/// AVCDecoderConfigurationRecord holding the SPS and PPS; `hvcC` for H.265).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoParams {
    pub codec: Codec,
    pub width: u16,
    pub height: u16,
    /// The configuration record, as it is stored inside `avcC`/`hvcC`.
    pub config_record: Vec<u8>,
    /// The RFC 6381 codec string (`avc1.64001f`), for a browser's MediaSource.
    pub rfc6381: String,
}

/// One access unit (one picture): its NAL units each prefixed with a 4-byte big-endian length
/// (the MP4 sample format, which is also what `retina` hands out), a presentation time in
/// [`TIMESCALE`] units, and whether a decoder can start here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Presentation time, 90 kHz units, monotonic within one source session.
    pub pts: i64,
    pub keyframe: bool,
    /// Length-prefixed NAL units (4-byte lengths).
    pub data: Vec<u8>,
}
