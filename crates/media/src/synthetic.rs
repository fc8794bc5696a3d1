//! The synthetic camera: a short bundled H.264 sample, looped for ever with timestamps that
//! keep increasing, for demos and tests on a machine without a camera.
//!
//! The sample (`assets/sample.h264`, Annex B, 640×360, Constrained Baseline, 15 fps, a
//! keyframe every 15 frames, no B-frames) is 6 s long: 3 s of a still picture, then 3 s of
//! moving test pattern, so the motion detector has something to find once per loop. It was
//! made once with ffmpeg; the command is in `docs/MEDIA.md`.

use std::ops::Range;

use crate::h264::{access_units, nal_type, nal_unit_type, split_annex_b, to_length_prefixed};
use crate::{Error, Frame, TIMESCALE, VideoParams};

/// The bundled sample, as ffmpeg wrote it.
pub(crate) const SAMPLE_H264: &[u8] = include_bytes!("../assets/sample.h264");

/// Pictures in one loop of the sample.
pub const SAMPLE_FRAMES: usize = 90;

/// The pictures of each loop (by index within the loop) that show movement.
pub const SAMPLE_MOVING_FRAMES: Range<usize> = 45..90;

/// One picture of the sample: length-prefixed NAL units without parameter sets.
#[derive(Debug, Clone)]
struct Picture {
    keyframe: bool,
    data: Vec<u8>,
}

/// An endless camera made of the bundled sample. Each call to `next` gives the next picture;
/// pacing it in real time is the caller's business.
#[derive(Debug, Clone)]
pub struct SyntheticCamera {
    params: VideoParams,
    pictures: Vec<Picture>,
    frame_duration: i64,
    next: u64,
}

impl SyntheticCamera {
    /// A camera whose pictures are `fps` a second apart (the sample was encoded at 15; other
    /// rates play it faster or slower). `fps` must divide 90 000 so every timestamp is exact.
    pub fn new(fps: u32) -> Result<Self, Error> {
        if fps == 0 || !TIMESCALE.is_multiple_of(fps) {
            return Err(Error::UnsupportedFrameRate);
        }
        let nals = split_annex_b(SAMPLE_H264)?;
        let mut sps = None;
        let mut pps = None;
        let mut pictures = Vec::new();
        for unit in access_units(&nals) {
            let mut keep = Vec::with_capacity(unit.len());
            let mut keyframe = false;
            for nal in unit {
                match nal_unit_type(nal) {
                    // Parameter sets go in the sample entry (`avcC`), not in samples.
                    Some(nal_type::SPS) => {
                        sps.get_or_insert(nal);
                    }
                    Some(nal_type::PPS) => {
                        pps.get_or_insert(nal);
                    }
                    // Access unit delimiters carry nothing an MP4 sample needs.
                    Some(nal_type::AUD) => {}
                    Some(t) => {
                        keyframe |= t == nal_type::IDR_SLICE;
                        keep.push(nal);
                    }
                    None => return Err(Error::BadNalHeader),
                }
            }
            pictures.push(Picture {
                keyframe,
                data: to_length_prefixed(keep)?,
            });
        }
        let (Some(sps), Some(pps)) = (sps, pps) else {
            return Err(Error::BadSample("no SPS or PPS"));
        };
        if pictures.len() != SAMPLE_FRAMES || !pictures.first().is_some_and(|p| p.keyframe) {
            return Err(Error::BadSample("not the expected pictures"));
        }
        Ok(Self {
            params: VideoParams::h264(sps, pps)?,
            pictures,
            frame_duration: i64::from(TIMESCALE / fps),
            next: 0,
        })
    }

    /// The stream's parameters (the same for every picture).
    pub fn params(&self) -> &VideoParams {
        &self.params
    }

    /// The time between pictures, in [`TIMESCALE`] units.
    pub fn frame_duration_90k(&self) -> i64 {
        self.frame_duration
    }

    /// Whether the picture `next` will give next shows movement.
    pub fn next_is_moving(&self) -> bool {
        SAMPLE_MOVING_FRAMES.contains(&((self.next % SAMPLE_FRAMES as u64) as usize))
    }
}

impl Iterator for SyntheticCamera {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        let index = (self.next % SAMPLE_FRAMES as u64) as usize;
        let picture = self.pictures.get(index)?;
        let pts = i64::try_from(self.next)
            .ok()?
            .checked_mul(self.frame_duration)?;
        self.next += 1;
        Some(Frame {
            pts,
            keyframe: picture.keyframe,
            data: picture.data.clone(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::h264::split_length_prefixed;
    use crate::{Codec, MotionConfig, MotionDetector};

    #[test]
    fn the_sample_loops_with_increasing_timestamps_and_a_keyframe_each_second() {
        let camera = SyntheticCamera::new(15).unwrap();
        let params = camera.params().clone();
        assert_eq!(params.codec, Codec::H264);
        assert_eq!((params.width, params.height), (640, 360));
        assert!(params.rfc6381.starts_with("avc1.42"), "{}", params.rfc6381);
        let frames: Vec<Frame> = camera.take(3 * SAMPLE_FRAMES).collect();
        for (i, frame) in frames.iter().enumerate() {
            assert_eq!(frame.pts, i as i64 * 6000);
            assert_eq!(frame.keyframe, i % 15 == 0, "frame {i}");
            let nals = split_length_prefixed(&frame.data).unwrap();
            assert!(nals.iter().all(|n| {
                !matches!(
                    nal_unit_type(n),
                    Some(nal_type::SPS | nal_type::PPS | nal_type::AUD)
                )
            }));
        }
        assert_eq!(frames[5].data, frames[5 + SAMPLE_FRAMES].data);
    }

    #[test]
    fn frame_rates_must_divide_the_clock() {
        assert!(matches!(
            SyntheticCamera::new(0),
            Err(Error::UnsupportedFrameRate)
        ));
        assert!(matches!(
            SyntheticCamera::new(7),
            Err(Error::UnsupportedFrameRate)
        ));
        let camera = SyntheticCamera::new(30).unwrap();
        assert_eq!(camera.frame_duration_90k(), 3000);
    }

    #[test]
    fn the_moving_half_sets_off_the_motion_detector() {
        let mut camera = SyntheticCamera::new(15).unwrap();
        let mut detector = MotionDetector::new(MotionConfig::default());
        let mut fired = Vec::new();
        for i in 0..3 * SAMPLE_FRAMES {
            let moving = camera.next_is_moving();
            let frame = camera.next().unwrap();
            if detector.observe(&frame).is_some() {
                fired.push((i, moving));
            }
        }
        assert!(!fired.is_empty(), "motion was never detected");
        assert!(
            fired.iter().all(|&(_, moving)| moving),
            "motion detected in the still half: {fired:?}"
        );
    }
}
