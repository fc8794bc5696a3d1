//! The crate's one error type.

/// Everything that can go wrong in this crate. Parsers return it for malformed input (never
/// panic); writers return it for inputs they refuse (such as timestamps that go backwards).
///
/// Messages name the problem, never the media's content.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An Annex B stream did not start with a start code (`00 00 01` or `00 00 00 01`).
    #[error("H.264 Annex B stream does not start with a start code")]
    NoStartCode,
    /// A NAL unit had no bytes (not even the header).
    #[error("empty H.264 NAL unit")]
    EmptyNal,
    /// A length-prefixed NAL unit claimed more bytes than remained.
    #[error("length-prefixed NAL unit is truncated")]
    TruncatedNal,
    /// A NAL unit is too large for a 4-byte length prefix.
    #[error("NAL unit too large for a 4-byte length")]
    NalTooLarge,
    /// The NAL unit's forbidden bit is set.
    #[error("H.264 NAL header has the forbidden bit set")]
    BadNalHeader,
    /// A NAL unit was not of the type the caller expected.
    #[error("expected H.264 NAL unit type {expected}, found {found}")]
    UnexpectedNalType {
        /// The type the caller asked for.
        expected: u8,
        /// The type found.
        found: u8,
    },
    /// The sequence parameter set could not be parsed.
    #[error("invalid H.264 sequence parameter set: {0}")]
    InvalidSps(String),
    /// The picture size does not fit the 16-bit width and height of an MP4 sample entry.
    #[error("picture size {width}x{height} is not supported")]
    UnsupportedPictureSize {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// A parameter set is too large for an AVCDecoderConfigurationRecord (16-bit lengths).
    #[error("parameter set too large for an avcC record")]
    ParameterSetTooLarge,
    /// An AVCDecoderConfigurationRecord is malformed.
    #[error("invalid avcC record: {0}")]
    InvalidAvcConfig(&'static str),
    /// An MP4 box header is malformed (size smaller than its header, or past the end).
    #[error("invalid MP4 box at offset {offset}: {reason}")]
    InvalidBox {
        /// Byte offset of the box within the walked buffer.
        offset: u64,
        /// What was wrong.
        reason: &'static str,
    },
    /// Frames were given whose presentation times do not strictly increase.
    #[error("frame pts {pts} does not follow previous pts {previous}")]
    PtsNotIncreasing {
        /// The pts before.
        previous: i64,
        /// The offending pts.
        pts: i64,
    },
    /// A time does not fit the MP4 field it has to go in (negative decode time, a duration over
    /// 32 bits, ...).
    #[error("time value out of range for MP4: {0}")]
    TimeOutOfRange(&'static str),
    /// A fragment was asked for with no frames.
    #[error("a fragment needs at least one frame")]
    EmptyFragment,
    /// A frame or fragment is too large for the 32-bit fields of an MP4 fragment.
    #[error("sample or fragment too large for MP4")]
    TooLarge,
    /// A clip must start with a keyframe.
    #[error("a clip must start with a keyframe")]
    NotKeyframe,
    /// The frame rate given was zero or does not divide into the 90 kHz clock usefully.
    #[error("unsupported frame rate")]
    UnsupportedFrameRate,
    /// An event kind string was not one of the known kinds.
    #[error("unknown event kind")]
    UnknownEventKind,
    /// The bundled sample video could not be read (a broken build).
    #[error("bundled sample video is invalid: {0}")]
    BadSample(&'static str),
    /// Clip metadata is larger than [`crate::fmp4::MAX_METADATA_BYTES`].
    #[error("clip metadata is too large")]
    MetadataTooLarge,
    /// Writing to the output failed.
    #[error("writing media failed")]
    Io(#[from] std::io::Error),
}
