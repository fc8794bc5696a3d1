//! Motion from the codec's own signals: the size of inter-coded (P) frames against a running
//! baseline, with no video decoder.
//!
//! # Why codec signals rather than decoded pixels
//!
//! - **The hub is small hardware.** Decoding every camera's H.264 to compare pixels costs a
//!   core per 1080p stream; reading a frame's length costs nothing.
//! - **No decoder dependency.** H.264 decoders are large, mostly C, and a steady source of
//!   memory-safety bugs; this crate stays pure Rust with no `unsafe` anywhere near camera input.
//! - **The encoder already did the work.** A P-frame codes each macroblock as a difference
//!   from the previous picture; an unchanged macroblock is skipped in a few bits, a changed one
//!   costs residual and motion vectors. The frame's size therefore tracks how much of the
//!   picture changed — what a pixel-difference detector would measure, already computed by the
//!   camera.
//!
//! # Limits
//!
//! - **Noise.** Sensor noise (worse at night, with gain up) makes P-frames bigger and jumpier;
//!   the baseline absorbs a steady level of it, but bursts can look like motion. Requiring
//!   several frames over the threshold ([`MotionConfig::frames_on`]) filters single spikes.
//! - **The camera's rate control.** A camera in constant-bitrate mode pads quiet frames and
//!   starves busy ones, flattening the very signal used here; variable bitrate (or capped VBR)
//!   works best. The first P-frame after a keyframe is often larger; keyframes themselves say
//!   nothing about motion and are ignored.
//! - **Lighting.** A light switched on, a cloud passing, or the day/night IR switch changes
//!   every macroblock at once and is indistinguishable from motion filling the picture.
//!   The cooldown stops a flickering light from firing over and over, and the baseline adapts
//!   (slowly, while active) to a scene that stays busy.
//! - **No location or size.** It says *that* something changed, not where or what; a tree in
//!   the wind counts. Zones and object classes need pixels, and belong on a client that has a
//!   decoder, if anywhere.

use std::time::Duration;

use crate::{Frame, TIMESCALE};

/// Tuning for [`MotionDetector`]. The defaults suit a 10–30 fps camera in variable-bitrate
/// mode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotionConfig {
    /// Motion starts when P-frames are at least this many times the baseline size.
    pub ratio_on: f64,
    /// Motion ends when P-frames fall back to at most this many times the baseline (lower than
    /// `ratio_on`: hysteresis, so a level near the threshold does not flicker on and off).
    pub ratio_off: f64,
    /// Consecutive P-frames over `ratio_on` needed to start.
    pub frames_on: u32,
    /// Consecutive P-frames under `ratio_off` needed to end.
    pub frames_off: u32,
    /// P-frames to learn the baseline from before any event can fire.
    pub warmup_frames: u32,
    /// Weight of each new quiet P-frame in the baseline (an exponentially weighted moving
    /// average); while motion is active the weight is a tenth of this, so a scene that stays
    /// busy becomes the new normal slowly.
    pub alpha: f64,
    /// The baseline counts as at least this many bytes, so a perfectly still scene (P-frames of
    /// a few bytes) does not turn a little noise into a huge ratio.
    pub min_baseline_bytes: f64,
    /// After an event, no new event for this long (by frame pts).
    pub cooldown: Duration,
}

impl Default for MotionConfig {
    fn default() -> Self {
        MotionConfig {
            ratio_on: 3.0,
            ratio_off: 1.5,
            frames_on: 2,
            frames_off: 15,
            warmup_frames: 30,
            alpha: 0.05,
            min_baseline_bytes: 256.0,
            cooldown: Duration::from_secs(10),
        }
    }
}

/// The lowest and highest motion sensitivity an owner can choose.
pub const SENSITIVITY_RANGE: std::ops::RangeInclusive<u8> = 1..=10;

/// The sensitivity that gives [`MotionConfig::default`]'s thresholds.
pub const DEFAULT_SENSITIVITY: u8 = 6;

/// `ratio_on` for sensitivity 1 (least sensitive) to 10 (most): roughly halving every two or
/// three steps, so each step is a change a person can notice. 6 is the default, 3.0.
const RATIO_ON_BY_SENSITIVITY: [f64; 10] = [20.0, 14.0, 9.0, 6.0, 4.0, 3.0, 2.5, 2.0, 1.75, 1.5];

impl MotionConfig {
    /// The default tuning with the thresholds of a sensitivity from 1 (only a large change
    /// of the picture, P-frames 20 times the baseline) to 10 (P-frames 1.5 times the
    /// baseline); outside 1–10 the nearest end. Motion ends at half the starting ratio (at
    /// least 1.2), as in the default.
    pub fn with_sensitivity(sensitivity: u8) -> Self {
        let level = sensitivity.clamp(*SENSITIVITY_RANGE.start(), *SENSITIVITY_RANGE.end());
        let ratio_on = RATIO_ON_BY_SENSITIVITY[usize::from(level - 1)];
        MotionConfig {
            ratio_on,
            ratio_off: (ratio_on / 2.0).max(1.2),
            ..MotionConfig::default()
        }
    }
}

/// Motion began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MotionEvent {
    /// The pts of the frame that confirmed it.
    pub pts: i64,
    /// That frame's size over the baseline.
    pub ratio: f64,
}

/// Watches one camera's frame sizes for motion. Feed it every frame, in order.
#[derive(Debug, Clone)]
pub struct MotionDetector {
    config: MotionConfig,
    cooldown_90k: i64,
    baseline: f64,
    learned: u32,
    active: bool,
    over: u32,
    under: u32,
    last_event_pts: Option<i64>,
}

impl MotionDetector {
    /// A detector that has seen nothing yet.
    pub fn new(config: MotionConfig) -> Self {
        let cooldown_90k = i64::try_from(
            config
                .cooldown
                .as_millis()
                .saturating_mul(u128::from(TIMESCALE))
                / 1000,
        )
        .unwrap_or(i64::MAX);
        MotionDetector {
            config,
            cooldown_90k,
            baseline: 0.0,
            learned: 0,
            active: false,
            over: 0,
            under: 0,
            last_event_pts: None,
        }
    }

    /// Takes new thresholds and keeps what was learned (the baseline, whether motion is
    /// going on, the cooldown), so a change of sensitivity needs no new warm-up.
    pub fn set_config(&mut self, config: MotionConfig) {
        let learned = self.clone();
        *self = MotionDetector::new(config);
        self.baseline = learned.baseline;
        self.learned = learned.learned;
        self.active = learned.active;
        self.over = learned.over;
        self.under = learned.under;
        self.last_event_pts = learned.last_event_pts;
    }

    /// Looks at the next frame; `Some` when motion starts (and the cooldown has passed).
    pub fn observe(&mut self, frame: &Frame) -> Option<MotionEvent> {
        if frame.keyframe {
            return None;
        }
        let size = frame.data.len() as f64;
        if self.learned < self.config.warmup_frames {
            self.learned += 1;
            // A plain mean while warming up, so the first frame does not dominate.
            self.baseline += (size - self.baseline) / f64::from(self.learned);
            return None;
        }
        let ratio = size / self.baseline.max(self.config.min_baseline_bytes).max(1.0);
        if self.active {
            self.update_baseline(size, self.config.alpha / 10.0);
            if ratio <= self.config.ratio_off {
                self.under += 1;
                if self.under >= self.config.frames_off {
                    self.active = false;
                    self.over = 0;
                }
            } else {
                self.under = 0;
            }
            return None;
        }
        if ratio < self.config.ratio_on {
            self.over = 0;
            self.update_baseline(size, self.config.alpha);
            return None;
        }
        self.over += 1;
        if self.over < self.config.frames_on {
            return None;
        }
        self.active = true;
        self.under = 0;
        let cooled = self
            .last_event_pts
            .is_none_or(|last| frame.pts.saturating_sub(last) >= self.cooldown_90k);
        if !cooled {
            return None;
        }
        self.last_event_pts = Some(frame.pts);
        Some(MotionEvent {
            pts: frame.pts,
            ratio,
        })
    }

    /// Whether motion is going on now (it may have started during a cooldown, without an
    /// event).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The running baseline P-frame size, in bytes (0 before any P-frame).
    pub fn baseline_bytes(&self) -> f64 {
        self.baseline
    }

    /// Forgets everything (the camera restarted or changed its settings).
    pub fn reset(&mut self) {
        *self = MotionDetector::new(self.config);
    }

    fn update_baseline(&mut self, size: f64, alpha: f64) {
        self.baseline += alpha * (size - self.baseline);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FRAME: i64 = 6000;

    /// Feeds 15 fps frames of the given sizes (a keyframe every 15th, of 20 kB) and returns the
    /// indices where events fired.
    fn events(detector: &mut MotionDetector, sizes: &[usize]) -> Vec<usize> {
        let mut fired = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            let keyframe = i % 15 == 0;
            let frame = Frame {
                pts: i as i64 * FRAME,
                keyframe,
                data: vec![0; if keyframe { 20_000 } else { size }],
            };
            if detector.observe(&frame).is_some() {
                fired.push(i);
            }
        }
        fired
    }

    /// A noisy quiet level around `level` bytes, deterministic.
    fn quiet(n: usize, level: usize) -> Vec<usize> {
        (0..n).map(|i| level + (i * 37 % 11) * level / 20).collect()
    }

    #[test]
    fn sensitivity_six_is_the_default_and_the_scale_is_monotonic() {
        assert_eq!(
            MotionConfig::with_sensitivity(DEFAULT_SENSITIVITY),
            MotionConfig::default()
        );
        let ratios: Vec<f64> = SENSITIVITY_RANGE
            .map(|s| MotionConfig::with_sensitivity(s).ratio_on)
            .collect();
        assert!(ratios.windows(2).all(|w| w[0] > w[1]), "{ratios:?}");
        assert_eq!(MotionConfig::with_sensitivity(0).ratio_on, ratios[0]);
        assert_eq!(MotionConfig::with_sensitivity(200).ratio_on, ratios[9]);
    }

    #[test]
    fn a_new_sensitivity_keeps_the_baseline() {
        let mut d = MotionDetector::new(MotionConfig::default());
        assert!(events(&mut d, &quiet(150, 1000)).is_empty());
        let learned = d.baseline_bytes();
        d.set_config(MotionConfig::with_sensitivity(1));
        assert_eq!(d.baseline_bytes(), learned);
        let busy = |from: i64| -> Vec<Frame> {
            (0..4)
                .map(|i| Frame {
                    pts: (from + i) * FRAME,
                    keyframe: false,
                    data: vec![0; 5000],
                })
                .collect()
        };
        assert!(
            busy(151).iter().all(|f| d.observe(f).is_none()),
            "5x is not motion at sensitivity 1"
        );
        // Raised at once, without learning again: the same change is motion now.
        d.set_config(MotionConfig::with_sensitivity(8));
        assert!(busy(155).iter().any(|f| d.observe(f).is_some()));
    }

    #[test]
    fn fires_once_when_frames_grow() {
        let mut d = MotionDetector::new(MotionConfig::default());
        let mut sizes = quiet(150, 1000);
        sizes.extend(vec![6000; 60]);
        sizes.extend(quiet(150, 1000));
        let fired = events(&mut d, &sizes);
        // frames_on = 2: the second large P-frame confirms (151 is not a keyframe, 150 is).
        assert_eq!(fired, [152]);
        assert!(!d.is_active());
    }

    #[test]
    fn quiet_noise_never_fires() {
        let mut d = MotionDetector::new(MotionConfig::default());
        assert!(events(&mut d, &quiet(2000, 800)).is_empty());
        assert!(d.baseline_bytes() > 900.0 && d.baseline_bytes() < 1100.0);
    }

    #[test]
    fn a_single_spike_is_not_motion() {
        let mut d = MotionDetector::new(MotionConfig::default());
        let mut sizes = quiet(100, 1000);
        sizes[70] = 10_000;
        sizes[80] = 10_000;
        assert!(events(&mut d, &sizes).is_empty());
    }

    #[test]
    fn keyframes_are_ignored() {
        let mut d = MotionDetector::new(MotionConfig::default());
        let mut sizes = quiet(100, 1000);
        sizes.extend(quiet(100, 1000));
        // Every 15th frame is a 20 kB keyframe in `events`: never motion.
        assert!(events(&mut d, &sizes).is_empty());
    }

    #[test]
    fn nothing_fires_during_warm_up() {
        let mut d = MotionDetector::new(MotionConfig::default());
        let mut sizes = quiet(10, 1000);
        sizes.extend(vec![9000; 20]);
        assert!(events(&mut d, &sizes).is_empty());
    }

    #[test]
    fn hysteresis_holds_between_the_thresholds() {
        // 3000 bytes is about 2.4x the quiet level: under ratio_on, over ratio_off.
        let mut idle = MotionDetector::new(MotionConfig::default());
        let mut sizes = quiet(100, 1000);
        sizes.extend(vec![3000; 30]);
        assert!(events(&mut idle, &sizes).is_empty());
        assert!(!idle.is_active());

        let mut d = MotionDetector::new(MotionConfig::default());
        let mut sizes = quiet(100, 1000);
        sizes.extend(vec![5000; 5]); // on
        sizes.extend(vec![3000; 30]); // stays on
        assert_eq!(events(&mut d, &sizes).len(), 1);
        assert!(d.is_active());
    }

    #[test]
    fn cooldown_suppresses_repeats() {
        let config = MotionConfig {
            cooldown: Duration::from_secs(20),
            ..MotionConfig::default()
        };
        let mut d = MotionDetector::new(config);
        let mut sizes = quiet(100, 1000);
        for _ in 0..5 {
            // 4 s of motion, 4 s of quiet: a burst every 8 s.
            sizes.extend(vec![8000; 60]);
            sizes.extend(quiet(60, 1000));
        }
        let fired = events(&mut d, &sizes);
        // Bursts start at 100, 220, 340, 460, 580 (8 s apart); with a 20 s cooldown only
        // the first and the fourth (24 s later) fire.
        assert_eq!(fired.len(), 2, "{fired:?}");
        assert!((fired[1] - fired[0]) as i64 * FRAME >= 20 * 90_000);
    }

    #[test]
    fn a_still_scene_uses_the_floor() {
        let mut d = MotionDetector::new(MotionConfig::default());
        let mut sizes = vec![10; 100];
        sizes.extend(vec![200; 30]); // 20x the baseline, but under the 256-byte floor's 3x
        assert!(events(&mut d, &sizes).is_empty());
        sizes.extend(vec![2500; 30]);
        d.reset();
        assert_eq!(events(&mut d, &sizes).len(), 1);
    }

    #[test]
    fn lasting_activity_becomes_the_new_normal() {
        let mut d = MotionDetector::new(MotionConfig {
            cooldown: Duration::ZERO,
            ..MotionConfig::default()
        });
        let mut sizes = quiet(100, 1000);
        sizes.extend(vec![4000; 3000]);
        let fired = events(&mut d, &sizes);
        assert_eq!(fired.len(), 1);
        assert!(
            !d.is_active(),
            "a scene busy for minutes is no longer motion"
        );
    }

    proptest! {
        #[test]
        fn any_camera_input_is_safe_and_respects_warm_up_and_cooldown(
            frames in proptest::collection::vec(
                (0usize..40_000, proptest::bool::weighted(0.1), 1i64..20_000), 0..400),
            cooldown_s in 0u64..20,
        ) {
            let config = MotionConfig {
                cooldown: Duration::from_secs(cooldown_s),
                ..MotionConfig::default()
            };
            let mut d = MotionDetector::new(config);
            let mut pts = 0i64;
            let mut p_frames = 0u32;
            let mut last_event: Option<i64> = None;
            for (size, keyframe, gap) in frames {
                pts += gap;
                p_frames += u32::from(!keyframe);
                let frame = Frame { pts, keyframe, data: vec![0; size] };
                if let Some(event) = d.observe(&frame) {
                    prop_assert!(!keyframe);
                    prop_assert!(p_frames > config.warmup_frames);
                    prop_assert!(event.ratio >= config.ratio_on);
                    if let Some(last) = last_event {
                        prop_assert!(event.pts - last >= cooldown_s as i64 * 90_000);
                    }
                    last_event = Some(event.pts);
                }
                prop_assert!(d.baseline_bytes().is_finite() && d.baseline_bytes() >= 0.0);
            }
        }
    }
}
