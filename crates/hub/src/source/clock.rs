//! Presentation times for a source's frames: 90 kHz, increasing across reconnects.

use porchlight_media::TIMESCALE;
use tokio::time::Instant;

use super::SourceFailure;

/// Maps each session's RTP time onto one 90 kHz timeline for the whole life of a source.
///
/// Within a session, frames keep the camera's own spacing. A new session starts after the last
/// frame of the previous one by the wall-clock time that passed between them, so an outage shows
/// as a gap rather than vanishing from a recording.
#[derive(Debug, Default)]
pub(crate) struct SourceClock {
    /// The last frame's pts and when it arrived.
    last: Option<(i64, Instant)>,
    /// Added to this session's elapsed RTP time; set by its first frame.
    session_offset_90k: Option<i64>,
}

impl SourceClock {
    pub(crate) fn begin_session(&mut self) {
        self.session_offset_90k = None;
    }

    /// The pts of a frame `elapsed` ticks of `clock_rate_hz` after the session's start, which
    /// arrived at `now`.
    pub(crate) fn stamp(
        &mut self,
        elapsed: i64,
        clock_rate_hz: u32,
        now: Instant,
    ) -> Result<i64, SourceFailure> {
        let elapsed_90k = to_90k(elapsed, clock_rate_hz);
        let offset = *self.session_offset_90k.get_or_insert_with(|| {
            let first_pts = match self.last {
                None => 0,
                Some((pts, at)) => {
                    let gap = now.saturating_duration_since(at);
                    let gap_90k =
                        i64::try_from(gap.as_micros() * u128::from(TIMESCALE) / 1_000_000)
                            .unwrap_or(i64::MAX / 4);
                    pts.saturating_add(gap_90k.max(1))
                }
            };
            first_pts.saturating_sub(elapsed_90k)
        });
        let pts = offset.saturating_add(elapsed_90k);
        if let Some((last, _)) = self.last
            && pts < last
        {
            return Err(SourceFailure::TimestampWentBack { by_90k: last - pts });
        }
        self.last = Some((pts, now));
        Ok(pts)
    }
}

fn to_90k(ticks: i64, clock_rate_hz: u32) -> i64 {
    if clock_rate_hz == TIMESCALE || clock_rate_hz == 0 {
        return ticks;
    }
    let scaled = i128::from(ticks) * i128::from(TIMESCALE) / i128::from(clock_rate_hz);
    i64::try_from(scaled).unwrap_or(if scaled < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn first_session_starts_at_zero_and_keeps_the_camera_spacing() {
        let t0 = Instant::now();
        let mut c = SourceClock::default();
        c.begin_session();
        assert_eq!(c.stamp(12_000, 90_000, t0).unwrap(), 0);
        assert_eq!(c.stamp(18_000, 90_000, t0).unwrap(), 6_000);
        assert_eq!(c.stamp(24_000, 90_000, t0).unwrap(), 12_000);
    }

    #[test]
    fn a_new_session_continues_after_the_wall_clock_gap() {
        let t0 = Instant::now();
        let mut c = SourceClock::default();
        c.begin_session();
        c.stamp(0, 90_000, t0).unwrap();
        c.stamp(6_000, 90_000, t0).unwrap();
        c.begin_session();
        // The new session's RTP clock starts anywhere; two seconds passed.
        let t1 = t0 + Duration::from_secs(2);
        assert_eq!(c.stamp(-77_777, 90_000, t1).unwrap(), 6_000 + 180_000);
        assert_eq!(c.stamp(-71_777, 90_000, t1).unwrap(), 6_000 + 186_000);
    }

    #[test]
    fn a_new_session_at_the_same_instant_still_moves_forward() {
        let t0 = Instant::now();
        let mut c = SourceClock::default();
        c.begin_session();
        c.stamp(500, 90_000, t0).unwrap();
        c.begin_session();
        assert_eq!(c.stamp(0, 90_000, t0).unwrap(), 1);
    }

    #[test]
    fn going_back_within_a_session_fails() {
        let t0 = Instant::now();
        let mut c = SourceClock::default();
        c.begin_session();
        c.stamp(9_000, 90_000, t0).unwrap();
        assert_eq!(
            c.stamp(3_000, 90_000, t0),
            Err(SourceFailure::TimestampWentBack { by_90k: 6_000 })
        );
    }

    #[test]
    fn other_clock_rates_are_rescaled() {
        let t0 = Instant::now();
        let mut c = SourceClock::default();
        c.begin_session();
        assert_eq!(c.stamp(0, 1_000, t0).unwrap(), 0);
        assert_eq!(c.stamp(1_000, 1_000, t0).unwrap(), 90_000);
    }
}
