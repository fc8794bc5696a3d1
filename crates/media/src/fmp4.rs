//! Fragmented MP4 (ISO/IEC 14496-12 with `moof`/`mdat` fragments), the format of every clip and
//! of live view: an init segment ([`init_segment`]) then fragments ([`fragment`]).
//!
//! Assumptions, which hold for the cameras the hub supports (and are checked where they can
//! be):
//!
//! - **No B-frames.** Decode order is presentation order, so composition offsets are zero,
//!   `trun` is version 0 and a frame's duration is the gap to the next frame's pts. Frames
//!   whose pts do not strictly increase are refused ([`Error::PtsNotIncreasing`]).
//! - **One video track** (track ID 1), times in [`TIMESCALE`] (90 kHz).
//! - **Nothing about the recording in the file.** `mvhd`, `tkhd` and `mdhd` creation and
//!   modification times are zero, the sample entry's compressor name is empty, the handler
//!   name is a plain `VideoHandler`, and there is no `udta` or `meta` box (no encoder, software,
//!   location or date). The clip's time lives only in the sealed envelope the hub uploads.
//! - **What made the clip travels sealed, in a box no tool reads.** The hub's event list goes
//!   in one top-level `uuid` box ([`metadata_box`], user type [`METADATA_UUID`]) right after
//!   `moov`; players skip it, a remux drops it, and [`read_metadata`] finds it again. The
//!   contract is in `docs/MEDIA.md`.
//!
//! The boxes are written with a small big-endian writer below rather than `mp4-atom`: the file
//! needs about twenty boxes, every byte of which we want to choose ourselves for the privacy
//! rule above (a general-purpose box library fills in defaults we would then have to audit
//! and pin on each upgrade), and the moof/mdat streaming in [`ClipWriter`] wants the `moof`
//! header without copying the samples into one buffer.

use std::io::Write;

use crate::{Codec, Error, Frame, TIMESCALE, VideoParams};

/// The MP4 track ID of the one video track.
pub const TRACK_ID: u32 = 1;

/// The duration given to a clip's last frame when nothing says how long it lasts (a clip of a
/// single frame): one frame at 15 fps, a typical camera rate.
pub const FALLBACK_FRAME_DURATION_90K: u32 = TIMESCALE / 15;

/// A [`ClipWriter`] ends a fragment early (before the next keyframe) once it holds this many
/// frames, so a camera that stops sending keyframes cannot grow its memory without bound.
pub const MAX_FRAGMENT_FRAMES: usize = 1024;

/// As [`MAX_FRAGMENT_FRAMES`], in bytes of sample data.
pub const MAX_FRAGMENT_BYTES: usize = 32 * 1024 * 1024;

/// `trun` sample flags (ISO/IEC 14496-12 §8.8.3.1): a sync sample depends on no other.
const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;
/// A non-sync sample: depends on others, `sample_is_non_sync_sample` set.
const NON_SYNC_SAMPLE_FLAGS: u32 = 0x0101_0000;

/// The unity transformation matrix of `mvhd` and `tkhd`.
const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// How long the last frame of a fragment lasts: the gap to the frame that follows it (when the
/// caller already has it), or an explicit duration in [`TIMESCALE`] units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentEnd {
    /// The pts of the frame after the last one.
    NextPts(i64),
    /// The last frame's duration, 90 kHz units (must be positive).
    LastDuration(u32),
}

/// A big-endian box writer: boxes are closures so nesting in the code mirrors nesting in the
/// file, and each box's size is patched in when its closure returns.
#[derive(Debug, Default)]
struct BoxWriter {
    buf: Vec<u8>,
}

impl BoxWriter {
    fn write_box(
        &mut self,
        kind: &[u8; 4],
        body: impl FnOnce(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0; 4]);
        self.buf.extend_from_slice(kind);
        body(self)?;
        let size = u32::try_from(self.buf.len() - start).map_err(|_| Error::TooLarge)?;
        self.buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
        Ok(())
    }

    fn write_full_box(
        &mut self,
        kind: &[u8; 4],
        version: u8,
        flags: u32,
        body: impl FnOnce(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        self.write_box(kind, |w| {
            w.u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
            body(w)
        })
    }

    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }
    fn matrix(&mut self) {
        for v in UNITY_MATRIX {
            self.u32(v);
        }
    }
}

/// The init segment: `ftyp` and a `moov` describing one video track with no samples of its own
/// (they all come in fragments), ready for a browser's `MediaSource` or as the head of a file.
pub fn init_segment(params: &VideoParams) -> Result<Vec<u8>, Error> {
    let mut w = BoxWriter::default();
    w.write_box(b"ftyp", |w| {
        w.bytes(b"iso5");
        w.u32(512);
        w.bytes(b"iso5iso6mp41");
        Ok(())
    })?;
    w.write_box(b"moov", |w| {
        write_mvhd(w)?;
        w.write_box(b"trak", |w| {
            write_tkhd(w, params)?;
            w.write_box(b"mdia", |w| {
                write_mdhd(w)?;
                write_hdlr(w)?;
                w.write_box(b"minf", |w| {
                    w.write_full_box(b"vmhd", 0, 1, |w| {
                        w.zeros(8); // graphicsmode, opcolor
                        Ok(())
                    })?;
                    write_dinf(w)?;
                    write_stbl(w, params)
                })
            })
        })?;
        w.write_box(b"mvex", |w| {
            w.write_full_box(b"trex", 0, 0, |w| {
                w.u32(TRACK_ID);
                w.u32(1); // default_sample_description_index
                w.u32(0); // default_sample_duration
                w.u32(0); // default_sample_size
                w.u32(0); // default_sample_flags
                Ok(())
            })
        })
    })?;
    Ok(w.buf)
}

fn write_mvhd(w: &mut BoxWriter) -> Result<(), Error> {
    w.write_full_box(b"mvhd", 0, 0, |w| {
        w.u32(0); // creation_time: deliberately zero (privacy)
        w.u32(0); // modification_time
        w.u32(TIMESCALE);
        w.u32(0); // duration: known only from the fragments
        w.u32(0x0001_0000); // rate 1.0
        w.u16(0x0100); // volume 1.0
        w.zeros(2 + 8); // reserved
        w.matrix();
        w.zeros(24); // pre_defined
        w.u32(TRACK_ID + 1); // next_track_ID
        Ok(())
    })
}

fn write_tkhd(w: &mut BoxWriter, params: &VideoParams) -> Result<(), Error> {
    // flags: track_enabled | track_in_movie
    w.write_full_box(b"tkhd", 0, 0x3, |w| {
        w.u32(0); // creation_time: deliberately zero (privacy)
        w.u32(0); // modification_time
        w.u32(TRACK_ID);
        w.u32(0); // reserved
        w.u32(0); // duration
        w.zeros(8); // reserved
        w.u16(0); // layer
        w.u16(0); // alternate_group
        w.u16(0); // volume: 0 for video
        w.u16(0); // reserved
        w.matrix();
        w.u32(u32::from(params.width) << 16); // 16.16 fixed point
        w.u32(u32::from(params.height) << 16);
        Ok(())
    })
}

fn write_mdhd(w: &mut BoxWriter) -> Result<(), Error> {
    w.write_full_box(b"mdhd", 0, 0, |w| {
        w.u32(0); // creation_time: deliberately zero (privacy)
        w.u32(0); // modification_time
        w.u32(TIMESCALE);
        w.u32(0); // duration
        w.u16(0x55c4); // language "und", packed ISO-639-2/T
        w.u16(0); // pre_defined
        Ok(())
    })
}

fn write_hdlr(w: &mut BoxWriter) -> Result<(), Error> {
    w.write_full_box(b"hdlr", 0, 0, |w| {
        w.u32(0); // pre_defined
        w.bytes(b"vide");
        w.zeros(12); // reserved
        w.bytes(b"VideoHandler\0");
        Ok(())
    })
}

fn write_dinf(w: &mut BoxWriter) -> Result<(), Error> {
    w.write_box(b"dinf", |w| {
        w.write_full_box(b"dref", 0, 0, |w| {
            w.u32(1); // entry_count
            // flags 1: the media is in this file.
            w.write_full_box(b"url ", 0, 1, |_| Ok(()))
        })
    })
}

fn write_stbl(w: &mut BoxWriter, params: &VideoParams) -> Result<(), Error> {
    w.write_box(b"stbl", |w| {
        w.write_full_box(b"stsd", 0, 0, |w| {
            w.u32(1); // entry_count
            write_sample_entry(w, params)
        })?;
        // Empty tables: every sample is described by the fragments.
        for kind in [b"stts", b"stsc", b"stco"] {
            w.write_full_box(kind, 0, 0, |w| {
                w.u32(0);
                Ok(())
            })?;
        }
        w.write_full_box(b"stsz", 0, 0, |w| {
            w.u32(0); // sample_size
            w.u32(0); // sample_count
            Ok(())
        })
    })
}

fn write_sample_entry(w: &mut BoxWriter, params: &VideoParams) -> Result<(), Error> {
    let (entry, config) = match params.codec {
        Codec::H264 => (b"avc1", b"avcC"),
        Codec::H265 => (b"hvc1", b"hvcC"),
    };
    w.write_box(entry, |w| {
        w.zeros(6); // reserved
        w.u16(1); // data_reference_index
        w.zeros(16); // pre_defined, reserved
        w.u16(params.width);
        w.u16(params.height);
        w.u32(0x0048_0000); // 72 dpi
        w.u32(0x0048_0000);
        w.u32(0); // reserved
        w.u16(1); // frame_count
        w.zeros(32); // compressorname: deliberately empty (no encoder name)
        w.u16(0x0018); // depth
        w.u16(0xffff); // pre_defined = -1
        w.write_box(config, |w| {
            w.bytes(&params.config_record);
            Ok(())
        })
    })
}

/// One fragment (`moof` + `mdat`) holding `frames`, numbered `sequence_number` (start at 1 and
/// count up within a stream). Each frame's pts is used as its decode time, so they must not be
/// negative; see [`fragment_since`] to measure from another origin.
///
/// Refuses an empty list and pts that do not strictly increase (see the module docs: no
/// B-frames).
pub fn fragment(
    sequence_number: u32,
    frames: &[Frame],
    end: FragmentEnd,
) -> Result<Vec<u8>, Error> {
    fragment_since(0, sequence_number, frames, end)
}

/// As [`fragment`], with decode times measured from `origin_pts` (the pts that is time zero of
/// the stream, usually its first frame's), so a clip's timeline starts at 0.
pub fn fragment_since(
    origin_pts: i64,
    sequence_number: u32,
    frames: &[Frame],
    end: FragmentEnd,
) -> Result<Vec<u8>, Error> {
    let mut out = fragment_head(origin_pts, sequence_number, frames, end)?;
    for frame in frames {
        out.extend_from_slice(&frame.data);
    }
    Ok(out)
}

/// The `moof` box and the `mdat` header of a fragment: the fragment minus its sample data,
/// which follows as the frames' `data` in order.
fn fragment_head(
    origin_pts: i64,
    sequence_number: u32,
    frames: &[Frame],
    end: FragmentEnd,
) -> Result<Vec<u8>, Error> {
    let first = frames.first().ok_or(Error::EmptyFragment)?;
    let decode_time = first
        .pts
        .checked_sub(origin_pts)
        .and_then(|t| u64::try_from(t).ok())
        .ok_or(Error::TimeOutOfRange("decode time before the origin"))?;
    let durations = sample_durations(frames, end)?;
    let sizes = frames
        .iter()
        .map(|f| u32::try_from(f.data.len()).map_err(|_| Error::TooLarge))
        .collect::<Result<Vec<u32>, Error>>()?;
    let sample_count = u32::try_from(frames.len()).map_err(|_| Error::TooLarge)?;
    let mdat_size = sizes
        .iter()
        .try_fold(8u32, |acc, &s| acc.checked_add(s))
        .ok_or(Error::TooLarge)?;

    let mut w = BoxWriter::default();
    let mut data_offset_at = 0;
    w.write_box(b"moof", |w| {
        w.write_full_box(b"mfhd", 0, 0, |w| {
            w.u32(sequence_number);
            Ok(())
        })?;
        w.write_box(b"traf", |w| {
            // default-base-is-moof: data offsets count from this moof, as MSE requires.
            w.write_full_box(b"tfhd", 0, 0x02_0000, |w| {
                w.u32(TRACK_ID);
                Ok(())
            })?;
            w.write_full_box(b"tfdt", 1, 0, |w| {
                w.u64(decode_time);
                Ok(())
            })?;
            // data-offset, sample-duration, sample-size and sample-flags present.
            w.write_full_box(b"trun", 0, 0x00_0701, |w| {
                w.u32(sample_count);
                data_offset_at = w.buf.len();
                w.u32(0); // data_offset, patched below
                for ((frame, duration), size) in frames.iter().zip(&durations).zip(&sizes) {
                    w.u32(*duration);
                    w.u32(*size);
                    w.u32(if frame.keyframe {
                        SYNC_SAMPLE_FLAGS
                    } else {
                        NON_SYNC_SAMPLE_FLAGS
                    });
                }
                Ok(())
            })
        })
    })?;
    // The first sample starts right after the moof and the 8-byte mdat header.
    let data_offset = w
        .buf
        .len()
        .checked_add(8)
        .and_then(|o| u32::try_from(o).ok())
        .ok_or(Error::TooLarge)?;
    w.buf[data_offset_at..data_offset_at + 4].copy_from_slice(&data_offset.to_be_bytes());
    w.u32(mdat_size);
    w.bytes(b"mdat");
    Ok(w.buf)
}

/// Each frame's duration: the gap to the next frame's pts, and for the last one whatever `end`
/// says.
fn sample_durations(frames: &[Frame], end: FragmentEnd) -> Result<Vec<u32>, Error> {
    let mut durations = Vec::with_capacity(frames.len());
    for pair in frames.windows(2) {
        durations.push(gap(pair[0].pts, pair[1].pts)?);
    }
    if let Some(last) = frames.last() {
        durations.push(match end {
            FragmentEnd::NextPts(next) => gap(last.pts, next)?,
            FragmentEnd::LastDuration(0) => {
                return Err(Error::TimeOutOfRange("last frame duration is zero"));
            }
            FragmentEnd::LastDuration(d) => d,
        });
    }
    Ok(durations)
}

fn gap(previous: i64, pts: i64) -> Result<u32, Error> {
    if pts <= previous {
        return Err(Error::PtsNotIncreasing { previous, pts });
    }
    pts.checked_sub(previous)
        .and_then(|d| u32::try_from(d).ok())
        .ok_or(Error::TimeOutOfRange("gap between frames over 32 bits"))
}

/// What a finished clip holds, as [`ClipWriter::finish`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipSummary {
    /// The pts of the first frame (time zero of the file), or 0 for a clip with no frames.
    pub start_pts: i64,
    /// First frame's pts to the last frame's pts plus its duration, 90 kHz units.
    pub duration_90k: u64,
    /// Frames written.
    pub frames: u64,
    /// Fragments written.
    pub fragments: u32,
    /// Bytes written to the output, init segment included.
    pub bytes_written: u64,
}

/// Writes a whole clip as fragmented MP4 to `W` as frames arrive: the init segment at once, then
/// one fragment per GOP (a new fragment at each keyframe), so it holds at most one GOP in
/// memory (and at most [`MAX_FRAGMENT_FRAMES`] / [`MAX_FRAGMENT_BYTES`], ending a fragment early
/// if a camera sends keyframes too rarely).
///
/// The file's timeline starts at 0 at the first frame. To keep the output (to `fsync` a file,
/// say), pass `&mut W`. After an error from `W` the output is incomplete and should be
/// discarded.
pub struct ClipWriter<W: Write> {
    out: W,
    gop: Vec<Frame>,
    gop_bytes: usize,
    next_sequence: u32,
    start_pts: Option<i64>,
    last_pts: Option<i64>,
    last_interval: Option<u32>,
    frames: u64,
    fragments: u32,
    bytes_written: u64,
}

impl<W: Write> std::fmt::Debug for ClipWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipWriter")
            .field("buffered_frames", &self.gop.len())
            .field("frames", &self.frames)
            .field("fragments", &self.fragments)
            .field("bytes_written", &self.bytes_written)
            .finish_non_exhaustive()
    }
}

impl<W: Write> ClipWriter<W> {
    /// Starts a clip: writes the init segment for `params` to `out`.
    pub fn new(mut out: W, params: &VideoParams) -> Result<Self, Error> {
        let init = init_segment(params)?;
        out.write_all(&init)?;
        Ok(ClipWriter {
            out,
            gop: Vec::new(),
            gop_bytes: 0,
            next_sequence: 1,
            start_pts: None,
            last_pts: None,
            last_interval: None,
            frames: 0,
            fragments: 0,
            bytes_written: init.len() as u64,
        })
    }

    /// Adds the next frame. The first must be a keyframe ([`Error::NotKeyframe`]) and pts must
    /// strictly increase ([`Error::PtsNotIncreasing`]); a refused frame leaves the writer as it
    /// was. A keyframe first writes out the fragment of the frames before it.
    pub fn push(&mut self, frame: Frame) -> Result<(), Error> {
        let interval = match self.last_pts {
            None if !frame.keyframe => return Err(Error::NotKeyframe),
            None => None,
            Some(previous) => Some(gap(previous, frame.pts)?),
        };
        let full = self.gop.len() >= MAX_FRAGMENT_FRAMES || self.gop_bytes >= MAX_FRAGMENT_BYTES;
        if !self.gop.is_empty() && (frame.keyframe || full) {
            self.write_fragment(FragmentEnd::NextPts(frame.pts))?;
        }
        self.start_pts.get_or_insert(frame.pts);
        self.last_pts = Some(frame.pts);
        if interval.is_some() {
            self.last_interval = interval;
        }
        self.gop_bytes += frame.data.len();
        self.gop.push(frame);
        self.frames += 1;
        Ok(())
    }

    /// Ends the clip, giving the last frame the same duration as the gap before it (or
    /// [`FALLBACK_FRAME_DURATION_90K`] for a single frame), and flushes `W`.
    pub fn finish(self) -> Result<ClipSummary, Error> {
        let last = self.last_interval.unwrap_or(FALLBACK_FRAME_DURATION_90K);
        self.finish_with(FragmentEnd::LastDuration(last))
    }

    /// Ends the clip at `end_pts` (the last frame lasts until then; it must come after the
    /// last frame's pts), and flushes `W`. Use it with [`crate::ClipInfo::end_pts`] so the
    /// file lasts exactly as long as the recorder says.
    pub fn finish_at(self, end_pts: i64) -> Result<ClipSummary, Error> {
        self.finish_with(FragmentEnd::NextPts(end_pts))
    }

    fn finish_with(mut self, end: FragmentEnd) -> Result<ClipSummary, Error> {
        let mut end_pts = self.start_pts.unwrap_or(0);
        if let Some(last) = self.last_pts {
            end_pts = match end {
                FragmentEnd::NextPts(next) => {
                    gap(last, next)?;
                    next
                }
                FragmentEnd::LastDuration(d) => last.saturating_add(i64::from(d)),
            };
            self.write_fragment(end)?;
        }
        self.out.flush()?;
        let start_pts = self.start_pts.unwrap_or(0);
        Ok(ClipSummary {
            start_pts,
            duration_90k: u64::try_from(end_pts.saturating_sub(start_pts)).unwrap_or(0),
            frames: self.frames,
            fragments: self.fragments,
            bytes_written: self.bytes_written,
        })
    }

    fn write_fragment(&mut self, end: FragmentEnd) -> Result<(), Error> {
        let origin = self.start_pts.unwrap_or(0);
        let head = fragment_head(origin, self.next_sequence, &self.gop, end)?;
        self.out.write_all(&head)?;
        self.bytes_written += head.len() as u64;
        for frame in self.gop.drain(..) {
            self.out.write_all(&frame.data)?;
            self.bytes_written += frame.data.len() as u64;
        }
        self.gop_bytes = 0;
        self.next_sequence = self.next_sequence.wrapping_add(1);
        self.fragments += 1;
        Ok(())
    }
}

/// The user type of the clip-metadata `uuid` box (ISO/IEC 14496-12 §4.2): a random (version 4)
/// UUID chosen for Porchlight, `c696d644-516d-4624-984b-3cbf10c93eae`. It never changes; a new
/// layout of the payload is a new `version` inside the JSON, not a new UUID.
pub const METADATA_UUID: [u8; 16] = [
    0xc6, 0x96, 0xd6, 0x44, 0x51, 0x6d, 0x46, 0x24, 0x98, 0x4b, 0x3c, 0xbf, 0x10, 0xc9, 0x3e, 0xae,
];

/// The largest payload [`metadata_box`] writes and [`read_metadata`] accepts: far more than an
/// event list needs, and small enough that a reader can hold the start of a clip in memory.
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;

/// Boxes that hold or describe samples: once one starts, the metadata box can no longer come.
const MEDIA_BOXES: [&[u8; 4]; 2] = [b"moof", b"mdat"];

/// The clip-metadata box: a `uuid` box with [`METADATA_UUID`] whose payload is `json` as given
/// (the bytes are not checked; the hub writes its event list as UTF-8 JSON). It goes at the top
/// level right after the init segment's `moov` and before the first `moof`, so it is sealed
/// with the clip. Refuses a payload over [`MAX_METADATA_BYTES`].
pub fn metadata_box(json: &[u8]) -> Result<Vec<u8>, Error> {
    if json.len() > MAX_METADATA_BYTES {
        return Err(Error::MetadataTooLarge);
    }
    let mut w = BoxWriter::default();
    w.write_box(b"uuid", |w| {
        w.bytes(&METADATA_UUID);
        w.bytes(json);
        Ok(())
    })?;
    Ok(w.buf)
}

/// The payload of the clip-metadata box ([`metadata_box`]), read from the beginning of a file
/// (the whole file, or any prefix that reaches past the box).
///
/// Walks top-level boxes and returns the first `uuid` box with [`METADATA_UUID`]. `None` when
/// the media starts (a `moof` or `mdat`) or the bytes end at a box boundary before it. Total:
/// malformed boxes, or bytes that end inside a box before the media, are an
/// [`Error::InvalidBox`] (pass more of the file), never a panic.
pub fn read_metadata(file_start: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    let mut next_offset = 0u64;
    for item in crate::boxes::top_level(file_start) {
        // Checked before the box itself: a prefix of a clip may well end inside its first
        // fragment, and the metadata comes before it.
        if box_kind_at(file_start, next_offset).is_some_and(|kind| MEDIA_BOXES.contains(&kind)) {
            return Ok(None);
        }
        let b = item?;
        if let Some(payload) = metadata_payload(file_start, &b)? {
            return Ok(Some(payload.to_vec()));
        }
        next_offset = b.offset.saturating_add(b.size);
    }
    Ok(None)
}

/// The type of the box that starts at `offset`, if its header is there.
fn box_kind_at(data: &[u8], offset: u64) -> Option<&[u8; 4]> {
    let start = usize::try_from(offset).ok()?;
    data.get(start..)?.get(4..8)?.try_into().ok()
}

/// The payload of `b` if it is the metadata box (`b` comes from walking `data` from its start,
/// so its offsets index `data`).
fn metadata_payload<'a>(
    data: &[u8],
    b: &crate::boxes::Mp4Box<'a>,
) -> Result<Option<&'a [u8]>, Error> {
    if &b.kind != b"uuid" {
        return Ok(None);
    }
    let user_type = usize::try_from(b.body_offset)
        .ok()
        .and_then(|end| data.get(end.checked_sub(16)?..end));
    if user_type != Some(&METADATA_UUID[..]) {
        return Ok(None);
    }
    let invalid = |reason| Error::InvalidBox {
        offset: b.offset,
        reason,
    };
    // A size of 0 means "to the end of the file", which a prefix cannot tell.
    let declared_size = usize::try_from(b.offset)
        .ok()
        .and_then(|start| data.get(start..)?.get(..4));
    if declared_size == Some(&[0; 4][..]) {
        return Err(invalid("metadata box without an explicit size"));
    }
    if b.body.len() > MAX_METADATA_BYTES {
        return Err(invalid("metadata box larger than the limit"));
    }
    Ok(Some(b.body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::boxes;
    use proptest::prelude::*;

    fn params() -> VideoParams {
        VideoParams {
            codec: Codec::H264,
            width: 640,
            height: 360,
            config_record: vec![1, 66, 0xc0, 30, 0xff, 0xe0, 0],
            rfc6381: "avc1.42c01e".into(),
        }
    }

    fn frame(pts: i64, keyframe: bool, len: usize) -> Frame {
        let mut data = (len as u32 - 4).to_be_bytes().to_vec();
        data.resize(len, if keyframe { 0x65 } else { 0x41 });
        Frame {
            pts,
            keyframe,
            data,
        }
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn init_segment_has_the_expected_boxes() {
        let init = init_segment(&params()).unwrap();
        let kinds: Vec<String> = boxes::walk(&init)
            .unwrap()
            .iter()
            .map(|b| b.kind_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "ftyp", "moov", "mvhd", "trak", "tkhd", "mdia", "mdhd", "hdlr", "minf", "vmhd",
                "dinf", "dref", "url ", "stbl", "stsd", "avc1", "avcC", "stts", "stsc", "stco",
                "stsz", "mvex", "trex"
            ]
        );
        let ftyp = &boxes::find(&init, b"ftyp").unwrap()[0];
        assert_eq!(ftyp.body, b"iso5\0\0\x02\0iso5iso6mp41");
        let avcc = &boxes::find(&init, b"avcC").unwrap()[0];
        assert_eq!(avcc.body, &params().config_record[..]);
        let tkhd = &boxes::find(&init, b"tkhd").unwrap()[0];
        assert_eq!(u32_at(tkhd.body, 76), 640 << 16);
        assert_eq!(u32_at(tkhd.body, 80), 360 << 16);
    }

    #[test]
    fn init_segment_carries_no_times_or_names() {
        let init = init_segment(&params()).unwrap();
        for kind in [b"mvhd", b"tkhd", b"mdhd"] {
            let b = &boxes::find(&init, kind).unwrap()[0];
            assert_eq!(b.body[0], 0, "{} version", b.kind_str());
            assert_eq!(&b.body[4..12], &[0; 8], "{} times", b.kind_str());
        }
        let avc1 = &boxes::find(&init, b"avc1").unwrap()[0];
        assert_eq!(&avc1.body[42..74], &[0; 32], "compressorname");
        assert!(boxes::find(&init, b"udta").unwrap().is_empty());
        assert!(boxes::find(&init, b"meta").unwrap().is_empty());
    }

    #[test]
    fn h265_uses_hvc1() {
        let mut p = params();
        p.codec = Codec::H265;
        let init = init_segment(&p).unwrap();
        assert_eq!(boxes::find(&init, b"hvcC").unwrap().len(), 1);
        assert!(boxes::find(&init, b"avc1").unwrap().is_empty());
    }

    #[test]
    fn fragment_layout() {
        let frames = [
            frame(9000, true, 100),
            frame(15000, false, 20),
            frame(21000, false, 30),
        ];
        let frag = fragment(7, &frames, FragmentEnd::NextPts(27000)).unwrap();
        let all = boxes::walk(&frag).unwrap();
        let kinds: Vec<String> = all.iter().map(|b| b.kind_str()).collect();
        assert_eq!(
            kinds,
            ["moof", "mfhd", "traf", "tfhd", "tfdt", "trun", "mdat"]
        );
        let get = |k: &[u8; 4]| all.iter().find(|b| &b.kind == k).unwrap();
        assert_eq!(u32_at(get(b"mfhd").body, 4), 7);
        assert_eq!(u32_at(get(b"tfhd").body, 0), 0x0002_0000);
        let tfdt = get(b"tfdt").body;
        assert_eq!(tfdt[0], 1);
        assert_eq!(u64::from_be_bytes(tfdt[4..12].try_into().unwrap()), 9000);
        let trun = get(b"trun").body;
        assert_eq!(u32_at(trun, 0), 0x0000_0701);
        assert_eq!(u32_at(trun, 4), 3);
        let mdat = get(b"mdat");
        assert_eq!(u32_at(trun, 8) as u64, mdat.body_offset);
        let samples: Vec<[u32; 3]> = (0..3)
            .map(|i| {
                let at = 12 + i * 12;
                [u32_at(trun, at), u32_at(trun, at + 4), u32_at(trun, at + 8)]
            })
            .collect();
        assert_eq!(
            samples,
            [
                [6000, 100, SYNC_SAMPLE_FLAGS],
                [6000, 20, NON_SYNC_SAMPLE_FLAGS],
                [6000, 30, NON_SYNC_SAMPLE_FLAGS]
            ]
        );
        assert_eq!(
            mdat.body,
            [&frames[0].data[..], &frames[1].data, &frames[2].data].concat()
        );
    }

    #[test]
    fn fragment_since_rebases_decode_time() {
        let frames = [frame(90_000, true, 10)];
        let frag = fragment_since(90_000, 1, &frames, FragmentEnd::LastDuration(3000)).unwrap();
        let tfdt = &boxes::find(&frag, b"tfdt").unwrap()[0];
        assert_eq!(&tfdt.body[4..], &[0; 8]);
        assert!(matches!(
            fragment(1, &[frame(-1, true, 10)], FragmentEnd::LastDuration(1)),
            Err(Error::TimeOutOfRange(_))
        ));
    }

    #[test]
    fn fragment_refuses_bad_timing() {
        let backwards = [frame(6000, true, 10), frame(3000, false, 10)];
        assert!(matches!(
            fragment(1, &backwards, FragmentEnd::LastDuration(3000)),
            Err(Error::PtsNotIncreasing {
                previous: 6000,
                pts: 3000
            })
        ));
        let repeated = [frame(6000, true, 10), frame(6000, false, 10)];
        assert!(fragment(1, &repeated, FragmentEnd::LastDuration(3000)).is_err());
        let frames = [frame(6000, true, 10)];
        assert!(fragment(1, &frames, FragmentEnd::NextPts(6000)).is_err());
        assert!(fragment(1, &frames, FragmentEnd::LastDuration(0)).is_err());
        assert!(matches!(
            fragment(1, &[], FragmentEnd::LastDuration(3000)),
            Err(Error::EmptyFragment)
        ));
        let huge_gap = [frame(0, true, 10), frame(1 << 40, false, 10)];
        assert!(fragment(1, &huge_gap, FragmentEnd::LastDuration(1)).is_err());
    }

    #[test]
    fn clip_writer_cuts_a_fragment_per_gop() {
        let mut out = Vec::new();
        let mut writer = ClipWriter::new(&mut out, &params()).unwrap();
        assert!(matches!(
            writer.push(frame(0, false, 10)),
            Err(Error::NotKeyframe)
        ));
        for i in 0..10 {
            writer.push(frame(1000 + i * 6000, i % 4 == 0, 50)).unwrap();
        }
        assert!(writer.push(frame(1000, false, 10)).is_err());
        let summary = writer.finish().unwrap();
        assert_eq!(summary.frames, 10);
        assert_eq!(summary.fragments, 3);
        assert_eq!(summary.start_pts, 1000);
        assert_eq!(summary.duration_90k, 60_000);
        assert_eq!(summary.bytes_written, out.len() as u64);

        let moofs = boxes::find(&out, b"moof").unwrap();
        assert_eq!(moofs.len(), 3);
        let tfdts: Vec<u64> = boxes::find(&out, b"tfdt")
            .unwrap()
            .iter()
            .map(|b| u64::from_be_bytes(b.body[4..12].try_into().unwrap()))
            .collect();
        assert_eq!(tfdts, [0, 24_000, 48_000]);
        let seqs: Vec<u32> = boxes::find(&out, b"mfhd")
            .unwrap()
            .iter()
            .map(|b| u32_at(b.body, 4))
            .collect();
        assert_eq!(seqs, [1, 2, 3]);
    }

    #[test]
    fn clip_writer_finish_at_sets_the_end() {
        let mut out = Vec::new();
        let mut writer = ClipWriter::new(&mut out, &params()).unwrap();
        writer.push(frame(0, true, 10)).unwrap();
        writer.push(frame(3000, false, 10)).unwrap();
        let summary = writer.finish_at(9000).unwrap();
        assert_eq!(summary.duration_90k, 9000);

        let mut out = Vec::new();
        let writer = ClipWriter::new(&mut out, &params()).unwrap();
        let summary = writer.finish().unwrap();
        assert_eq!((summary.frames, summary.duration_90k), (0, 0));
        assert!(boxes::find(&out, b"moof").unwrap().is_empty());

        let mut out = Vec::new();
        let mut writer = ClipWriter::new(&mut out, &params()).unwrap();
        writer.push(frame(0, true, 10)).unwrap();
        let summary = writer.finish().unwrap();
        assert_eq!(summary.duration_90k, u64::from(FALLBACK_FRAME_DURATION_90K));
    }

    #[test]
    fn clip_writer_bounds_a_gop_without_keyframes() {
        let mut out = Vec::new();
        let mut writer = ClipWriter::new(&mut out, &params()).unwrap();
        writer.push(frame(0, true, 10)).unwrap();
        for i in 1..=MAX_FRAGMENT_FRAMES as i64 + 5 {
            writer.push(frame(i * 10, false, 10)).unwrap();
        }
        assert!(writer.gop.len() <= MAX_FRAGMENT_FRAMES);
        let summary = writer.finish().unwrap();
        assert_eq!(summary.fragments, 2);
    }

    /// An init segment, a metadata box holding `json`, and one fragment of two frames.
    fn clip_with_metadata(json: &[u8]) -> (Vec<u8>, usize) {
        let init = init_segment(&params()).unwrap();
        let meta = metadata_box(json).unwrap();
        let frames = [frame(0, true, 40), frame(6000, false, 20)];
        let frag = fragment(1, &frames, FragmentEnd::LastDuration(6000)).unwrap();
        let metadata_end = init.len() + meta.len();
        ([init, meta, frag].concat(), metadata_end)
    }

    #[test]
    fn metadata_box_layout() {
        let json = br#"{"version":1,"events":[{"kind":"motion","offset_ms":2000}]}"#;
        let b = metadata_box(json).unwrap();
        assert_eq!(u32_at(&b, 0) as usize, b.len());
        assert_eq!(&b[4..8], b"uuid");
        assert_eq!(&b[8..24], &METADATA_UUID);
        assert_eq!(&b[24..], json);
        let walked = boxes::walk(&b).unwrap();
        assert_eq!(walked.len(), 1);
        assert_eq!(walked[0].body, json);
        assert_eq!(metadata_box(b"").unwrap().len(), 24);
        assert!(matches!(
            metadata_box(&vec![b' '; MAX_METADATA_BYTES + 1]),
            Err(Error::MetadataTooLarge)
        ));
        assert!(metadata_box(&vec![b' '; MAX_METADATA_BYTES]).is_ok());
    }

    #[test]
    fn read_metadata_finds_the_box_after_moov() {
        let json = br#"{"events":[]}"#;
        let (clip, metadata_end) = clip_with_metadata(json);
        let kinds: Vec<String> = boxes::top_level(&clip)
            .map(|b| b.unwrap().kind_str())
            .collect();
        assert_eq!(kinds, ["ftyp", "moov", "uuid", "moof", "mdat"]);
        assert_eq!(read_metadata(&clip).unwrap().as_deref(), Some(&json[..]));
        // Any prefix that holds the box will do.
        for len in metadata_end..clip.len() {
            assert_eq!(
                read_metadata(&clip[..len]).unwrap().as_deref(),
                Some(&json[..])
            );
        }
    }

    #[test]
    fn read_metadata_without_the_box() {
        let init = init_segment(&params()).unwrap();
        assert_eq!(read_metadata(&init).unwrap(), None);
        assert_eq!(read_metadata(&[]).unwrap(), None);
        let frag = fragment(1, &[frame(0, true, 40)], FragmentEnd::LastDuration(6000)).unwrap();
        // The media starts: no metadata can follow, even if the rest is cut off.
        let clip = [&init[..], &frag].concat();
        assert_eq!(read_metadata(&clip).unwrap(), None);
        assert_eq!(read_metadata(&clip[..init.len() + 8]).unwrap(), None);
        // A box after the media does not count.
        let late = [&clip[..], &metadata_box(b"{}").unwrap()].concat();
        assert_eq!(read_metadata(&late).unwrap(), None);
        // Another uuid box is skipped.
        let mut other = metadata_box(b"{}").unwrap();
        other[8] ^= 1;
        let with_other = [&init[..], &other, &metadata_box(b"[1]").unwrap()].concat();
        assert_eq!(
            read_metadata(&with_other).unwrap().as_deref(),
            Some(&b"[1]"[..])
        );
    }

    #[test]
    fn read_metadata_refuses_truncated_and_malformed_boxes() {
        let (clip, metadata_end) = clip_with_metadata(b"{\"events\":[]}");
        for len in [10, metadata_end - 1, metadata_end - 13] {
            assert!(
                matches!(read_metadata(&clip[..len]), Err(Error::InvalidBox { .. })),
                "{len}"
            );
        }
        // A size of zero ("to the end of the file") cannot be trusted in a prefix.
        let mut to_end = metadata_box(b"{}").unwrap();
        to_end[..4].copy_from_slice(&[0; 4]);
        assert!(read_metadata(&to_end).is_err());
        // Larger than a writer may make it.
        let mut huge = 0u32.to_be_bytes().to_vec();
        huge.extend_from_slice(b"uuid");
        huge.extend_from_slice(&METADATA_UUID);
        huge.resize(24 + MAX_METADATA_BYTES + 1, b' ');
        let size = u32::try_from(huge.len()).unwrap();
        huge[..4].copy_from_slice(&size.to_be_bytes());
        assert!(matches!(
            read_metadata(&huge),
            Err(Error::InvalidBox { .. })
        ));
    }

    proptest! {
        #[test]
        fn read_metadata_is_total(data in proptest::collection::vec(any::<u8>(), 0..1024)) {
            if let Ok(Some(payload)) = read_metadata(&data) {
                prop_assert!(payload.len() + 24 <= data.len());
            }
        }

        #[test]
        fn read_metadata_is_total_on_box_shaped_input(
            kinds in proptest::collection::vec(0usize..5, 1..8),
            sizes in proptest::collection::vec(any::<u32>(), 1..8),
            tail in proptest::collection::vec(any::<u8>(), 0..128),
        ) {
            // Headers of the boxes read_metadata looks at, with arbitrary sizes; a uuid header
            // carries the Porchlight user type half of the time.
            let mut data = Vec::new();
            for (k, s) in kinds.iter().zip(sizes.iter().cycle()) {
                data.extend_from_slice(&(s % 300).to_be_bytes());
                match k {
                    0 | 1 => {
                        data.extend_from_slice(b"uuid");
                        if *k == 0 {
                            data.extend_from_slice(&METADATA_UUID);
                        }
                    }
                    2 => data.extend_from_slice(b"moov"),
                    3 => data.extend_from_slice(b"moof"),
                    _ => data.extend_from_slice(b"mdat"),
                }
            }
            data.extend_from_slice(&tail);
            let _ = read_metadata(&data);
        }

        #[test]
        fn metadata_round_trips_and_prefixes_never_lie(
            json in proptest::collection::vec(any::<u8>(), 0..512),
            cut in any::<prop::sample::Index>(),
        ) {
            let (clip, metadata_end) = clip_with_metadata(&json);
            prop_assert_eq!(read_metadata(&clip).unwrap(), Some(json.clone()));
            let len = cut.index(clip.len() + 1);
            match read_metadata(&clip[..len]) {
                Ok(Some(found)) => {
                    prop_assert!(len >= metadata_end);
                    prop_assert_eq!(found, json);
                }
                Ok(None) | Err(_) => prop_assert!(len < metadata_end),
            }
        }

        #[test]
        fn fragment_is_total_on_any_timing(
            pts in proptest::collection::vec(any::<i64>(), 1..6),
            keyframes in proptest::collection::vec(any::<bool>(), 1..6),
            origin in any::<i64>(),
            end in any::<i64>(),
            last in any::<u32>(),
        ) {
            let frames: Vec<Frame> = pts
                .iter()
                .zip(keyframes.iter().cycle())
                .map(|(&pts, &keyframe)| Frame { pts, keyframe, data: vec![0, 0, 0, 1, 0x41] })
                .collect();
            let _ = fragment_since(origin, 1, &frames, FragmentEnd::NextPts(end));
            let _ = fragment_since(origin, 1, &frames, FragmentEnd::LastDuration(last));
            let mut writer = ClipWriter::new(Vec::new(), &params()).unwrap();
            for f in frames {
                let _ = writer.push(f);
            }
            let _ = writer.finish_at(end);
        }
    }
}
