//! The pre-roll buffer and clip cutter: one [`Recorder`] per camera, fed every frame, turns
//! events into clips that begin a little before the event and end a little after the last one.
//!
//! Time comes only from frame pts (there is no wall clock here): an event happens at the pts
//! of the latest frame pushed. Nothing is held beyond the pre-roll: while a clip records, each
//! frame comes straight back out of [`Recorder::push`] for the caller to write (to a
//! [`crate::ClipWriter`] on disk, say), so a ten-minute clip costs no more memory than a
//! ten-second one.
//!
//! # Driving it
//!
//! ```
//! use porchlight_media::{ClipWriter, EventKind, Recorder, RecorderConfig, RecorderOutput};
//! # use porchlight_media::SyntheticCamera;
//! # fn main() -> Result<(), porchlight_media::Error> {
//! # let mut camera = SyntheticCamera::new(15)?;
//! # let params = camera.params().clone();
//! let mut recorder = Recorder::new(RecorderConfig::default());
//! let mut writer = None;
//! # let mut finished = Vec::new();
//! for (i, frame) in camera.by_ref().take(300).enumerate() {
//!     let mut outputs = recorder.push(frame)?;
//!     if i == 100 {
//!         // A doorbell press, a motion event, a button in the app...
//!         outputs.extend(recorder.trigger(EventKind::Doorbell));
//!     }
//!     for output in outputs {
//!         match output {
//!             // The hub would open a file in its spool here.
//!             RecorderOutput::Start(_) => writer = Some(ClipWriter::new(Vec::new(), &params)?),
//!             RecorderOutput::Frame(frame) => {
//!                 if let Some(w) = writer.as_mut() {
//!                     w.push(frame)?;
//!                 }
//!             }
//!             RecorderOutput::End(info) => {
//!                 if let Some(w) = writer.take() {
//!                     let summary = w.finish_at(info.end_pts)?;
//!                     # finished.push((info, summary));
//!                     // ... then seal and queue the file for upload with `info`.
//!                 }
//!             }
//!         }
//!     }
//! }
//! # assert_eq!(finished.len(), 1);
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::time::Duration;

use crate::fmp4::FALLBACK_FRAME_DURATION_90K;
use crate::{Error, Frame, TIMESCALE};

/// If a camera sends keyframes so rarely that the pre-roll buffer passes this many bytes, the
/// oldest GOPs are dropped regardless of the pre-roll (and a single oversized GOP entirely), so
/// memory stays bounded.
pub const MAX_BUFFER_BYTES: usize = 64 * 1024 * 1024;

/// What made a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The motion detector fired.
    Motion,
    /// Someone pressed the doorbell.
    Doorbell,
    /// Someone asked for a recording.
    Manual,
}

impl EventKind {
    /// Every kind, in a stable order.
    pub const ALL: [EventKind; 3] = [EventKind::Motion, EventKind::Doorbell, EventKind::Manual];

    /// The kind's name on the wire and in storage: `motion`, `doorbell` or `manual`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Motion => "motion",
            EventKind::Doorbell => "doorbell",
            EventKind::Manual => "manual",
        }
    }

    /// The kind named by [`EventKind::as_str`]; anything else is [`Error::UnknownEventKind`].
    pub fn parse(name: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == name)
            .ok_or(Error::UnknownEventKind)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How clips are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderConfig {
    /// At least this much video before an event is kept and starts its clip (rounded out to
    /// whole GOPs: a clip always starts at a keyframe, so up to one GOP more).
    pub pre_roll: Duration,
    /// A clip goes on until this long after its last event.
    pub post_roll: Duration,
    /// A clip longer than this ends at the next keyframe, and a new clip (marked
    /// [`ClipStart::continues`]) carries on from that keyframe if events are still recent.
    pub max_clip: Duration,
}

impl Default for RecorderConfig {
    /// 5 s of pre-roll, 10 s of post-roll, clips of at most 5 minutes.
    fn default() -> Self {
        RecorderConfig {
            pre_roll: Duration::from_secs(5),
            post_roll: Duration::from_secs(10),
            max_clip: Duration::from_secs(300),
        }
    }
}

/// An event inside a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipEvent {
    /// What happened.
    pub kind: EventKind,
    /// When, from the clip's start, 90 kHz units (0 for events that came before any video).
    pub offset_90k: i64,
}

/// Why a clip ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipEnd {
    /// The post-roll after the last event ran out.
    PostRoll,
    /// The clip reached `max_clip`; a continuation may follow.
    MaxClip,
    /// The caller ended it ([`Recorder::flush`] or [`Recorder::reset`]).
    Flushed,
}

/// A clip begins; its frames follow as [`RecorderOutput::Frame`], the first a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipStart {
    /// Counts clips from 0 within one recorder.
    pub sequence: u64,
    /// The pts of the clip's first frame.
    pub start_pts: i64,
    /// True when this clip carries straight on from the previous one, cut at `max_clip`.
    pub continues: bool,
}

/// A clip is complete: what it spans and why it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipInfo {
    /// As in [`ClipStart::sequence`].
    pub sequence: u64,
    /// The pts of the clip's first frame.
    pub start_pts: i64,
    /// Where the clip ends: the pts of the frame after its last (or, when flushed, the last
    /// frame's pts plus the gap before it). Pass it to [`crate::ClipWriter::finish_at`].
    pub end_pts: i64,
    /// Frames the clip holds.
    pub frames: u64,
    /// The events during the clip, in order.
    pub events: Vec<ClipEvent>,
    /// Why it ended.
    pub ended_by: ClipEnd,
    /// As in [`ClipStart::continues`].
    pub continues: bool,
}

impl ClipInfo {
    /// The clip's length, 90 kHz units.
    pub fn duration_90k(&self) -> i64 {
        self.end_pts.saturating_sub(self.start_pts)
    }

    /// The clip's length.
    pub fn duration(&self) -> Duration {
        from_90k(self.duration_90k())
    }
}

/// What the recorder hands back, in order: a `Start`, that clip's frames, its `End`; then the
/// next clip. An `End` and the next `Start` can come from the same call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecorderOutput {
    /// A clip begins.
    Start(ClipStart),
    /// The next frame of the current clip.
    Frame(Frame),
    /// The current clip is complete.
    End(ClipInfo),
}

#[derive(Debug)]
struct Active {
    sequence: u64,
    start_pts: i64,
    /// The clip ends at the first frame after this pts.
    deadline_pts: i64,
    /// From this pts on, the clip ends at the next keyframe.
    cap_pts: i64,
    frames: u64,
    events: Vec<ClipEvent>,
    continues: bool,
}

#[derive(Debug)]
enum State {
    Idle,
    /// An event came before any keyframe: the clip starts at the first one.
    Armed {
        events: Vec<EventKind>,
        deadline_pts: Option<i64>,
    },
    Recording(Active),
}

/// The pre-roll buffer and clip cutter for one camera (see the module docs for how to drive
/// it).
#[derive(Debug)]
pub struct Recorder {
    pre_roll_90k: i64,
    post_roll_90k: i64,
    max_clip_90k: i64,
    /// Whole GOPs, oldest first, always starting at a keyframe.
    buffer: VecDeque<Frame>,
    buffer_bytes: usize,
    last_pts: Option<i64>,
    last_interval: Option<i64>,
    state: State,
    next_sequence: u64,
    last_clip_end_pts: Option<i64>,
}

impl Recorder {
    /// A recorder with nothing buffered.
    pub fn new(config: RecorderConfig) -> Self {
        Recorder {
            pre_roll_90k: to_90k(config.pre_roll),
            post_roll_90k: to_90k(config.post_roll),
            max_clip_90k: to_90k(config.max_clip),
            buffer: VecDeque::new(),
            buffer_bytes: 0,
            last_pts: None,
            last_interval: None,
            state: State::Idle,
            next_sequence: 0,
            last_clip_end_pts: None,
        }
    }

    /// Takes new pre-roll, post-roll and longest-clip lengths (the owner changed them while
    /// the camera runs). They count from the next frame and the next event on: what is
    /// buffered stays, and a clip being recorded keeps the end its last event gave it.
    pub fn set_config(&mut self, config: RecorderConfig) {
        self.pre_roll_90k = to_90k(config.pre_roll);
        self.post_roll_90k = to_90k(config.post_roll);
        self.max_clip_90k = to_90k(config.max_clip);
    }

    /// Takes the camera's next frame. Returns what the caller must act on, in order: possibly
    /// the end of the current clip, the start of a new one, and this frame if a clip is
    /// recording.
    ///
    /// Refuses a frame whose pts does not come after the previous one
    /// ([`Error::PtsNotIncreasing`]) and leaves everything as it was; when a source restarts
    /// (a new RTSP session), call [`Recorder::reset`] first.
    pub fn push(&mut self, frame: Frame) -> Result<Vec<RecorderOutput>, Error> {
        if let Some(previous) = self.last_pts {
            if frame.pts <= previous {
                return Err(Error::PtsNotIncreasing {
                    previous,
                    pts: frame.pts,
                });
            }
            self.last_interval = Some(frame.pts.saturating_sub(previous));
        }
        self.last_pts = Some(frame.pts);

        let mut out = Vec::new();
        self.end_clip_before(&frame, &mut out);
        if frame.keyframe {
            self.start_armed_clip(frame.pts, &mut out);
        }
        if let State::Recording(active) = &mut self.state {
            active.frames += 1;
            out.push(RecorderOutput::Frame(frame.clone()));
        }
        self.buffer_frame(frame);
        Ok(out)
    }

    /// An event happened now (at the latest frame's pts). If no clip is recording, one starts
    /// from the oldest keyframe in the pre-roll and the returned outputs hold its `Start` and
    /// the buffered frames; otherwise the current clip is extended to `post_roll` after now.
    /// Before any keyframe has arrived the clip starts at the first one.
    pub fn trigger(&mut self, kind: EventKind) -> Vec<RecorderOutput> {
        let mut out = Vec::new();
        let post_roll = self.post_roll_90k;
        let now = self.last_pts;
        match &mut self.state {
            State::Recording(active) => {
                let now = now.unwrap_or(active.start_pts);
                active.deadline_pts = active.deadline_pts.max(now.saturating_add(post_roll));
                active.events.push(ClipEvent {
                    kind,
                    offset_90k: now.saturating_sub(active.start_pts).max(0),
                });
            }
            State::Armed {
                events,
                deadline_pts,
            } => {
                events.push(kind);
                if let Some(now) = now {
                    let deadline = now.saturating_add(post_roll);
                    *deadline_pts = Some(deadline_pts.map_or(deadline, |d| d.max(deadline)));
                }
            }
            State::Idle => match (self.choose_start(), now) {
                (Some(index), Some(now)) => self.start_from_buffer(index, kind, now, &mut out),
                _ => {
                    self.state = State::Armed {
                        events: vec![kind],
                        deadline_pts: now.map(|now| now.saturating_add(post_roll)),
                    };
                }
            },
        }
        out
    }

    /// Ends the clip being recorded, if any (the camera stopped, the hub is shutting down).
    /// An event still waiting for a first keyframe keeps waiting.
    pub fn flush(&mut self) -> Vec<RecorderOutput> {
        let state = std::mem::replace(&mut self.state, State::Idle);
        let State::Recording(active) = state else {
            self.state = state;
            return Vec::new();
        };
        let last = self.last_pts.unwrap_or(active.start_pts);
        let gap = self
            .last_interval
            .unwrap_or(i64::from(FALLBACK_FRAME_DURATION_90K));
        let end_pts = last.saturating_add(gap);
        vec![RecorderOutput::End(self.close(
            active,
            end_pts,
            ClipEnd::Flushed,
        ))]
    }

    /// For a source that restarted with a new timeline: ends the current clip
    /// ([`Recorder::flush`]) and forgets the buffer and past timestamps. Events still waiting
    /// for video get `post_roll` from the first new keyframe.
    pub fn reset(&mut self) -> Vec<RecorderOutput> {
        let out = self.flush();
        self.buffer.clear();
        self.buffer_bytes = 0;
        self.last_pts = None;
        self.last_interval = None;
        self.last_clip_end_pts = None;
        if let State::Armed { deadline_pts, .. } = &mut self.state {
            *deadline_pts = None;
        }
        out
    }

    /// Whether a clip is being recorded.
    pub fn is_recording(&self) -> bool {
        matches!(self.state, State::Recording(_))
    }

    /// Frames in the pre-roll buffer.
    pub fn buffered_frames(&self) -> usize {
        self.buffer.len()
    }

    /// From the oldest buffered frame (a keyframe) to the newest, 90 kHz units.
    pub fn buffered_span_90k(&self) -> i64 {
        match (self.buffer.front(), self.buffer.back()) {
            (Some(first), Some(last)) => last.pts.saturating_sub(first.pts),
            _ => 0,
        }
    }

    /// Ends the current clip before `frame` if its post-roll has run out, or if it has passed
    /// `max_clip` and `frame` is a keyframe — in which case a continuation starts at `frame`
    /// when the post-roll has not run out.
    fn end_clip_before(&mut self, frame: &Frame, out: &mut Vec<RecorderOutput>) {
        let State::Recording(active) = &self.state else {
            return;
        };
        let post_roll_over = frame.pts > active.deadline_pts;
        let capped = frame.keyframe && frame.pts >= active.cap_pts;
        if !(post_roll_over || capped) {
            return;
        }
        let State::Recording(active) = std::mem::replace(&mut self.state, State::Idle) else {
            return;
        };
        let deadline_pts = active.deadline_pts;
        let ended_by = if post_roll_over {
            ClipEnd::PostRoll
        } else {
            ClipEnd::MaxClip
        };
        out.push(RecorderOutput::End(self.close(active, frame.pts, ended_by)));
        if !post_roll_over {
            self.begin(frame.pts, deadline_pts, Vec::new(), true, out);
        }
    }

    /// Starts the clip an early event asked for, at this keyframe.
    fn start_armed_clip(&mut self, pts: i64, out: &mut Vec<RecorderOutput>) {
        if !matches!(self.state, State::Armed { .. }) {
            return;
        }
        let State::Armed {
            events,
            deadline_pts,
        } = std::mem::replace(&mut self.state, State::Idle)
        else {
            return;
        };
        let from_now = pts.saturating_add(self.post_roll_90k);
        let deadline = deadline_pts.map_or(from_now, |d| d.max(from_now));
        let events = events
            .into_iter()
            .map(|kind| ClipEvent {
                kind,
                offset_90k: 0,
            })
            .collect();
        self.begin(pts, deadline, events, false, out);
    }

    /// Starts a clip at buffer[index] for an event at `now`, handing out the buffered frames.
    fn start_from_buffer(
        &mut self,
        index: usize,
        kind: EventKind,
        now: i64,
        out: &mut Vec<RecorderOutput>,
    ) {
        let Some(start_pts) = self.buffer.get(index).map(|f| f.pts) else {
            return;
        };
        let event = ClipEvent {
            kind,
            offset_90k: now.saturating_sub(start_pts).max(0),
        };
        let deadline = now.saturating_add(self.post_roll_90k);
        self.begin(start_pts, deadline, vec![event], false, out);
        let frames: Vec<RecorderOutput> = self
            .buffer
            .iter()
            .skip(index)
            .map(|f| RecorderOutput::Frame(f.clone()))
            .collect();
        if let State::Recording(active) = &mut self.state {
            active.frames = frames.len() as u64;
        }
        out.extend(frames);
    }

    fn begin(
        &mut self,
        start_pts: i64,
        deadline_pts: i64,
        events: Vec<ClipEvent>,
        continues: bool,
        out: &mut Vec<RecorderOutput>,
    ) {
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.state = State::Recording(Active {
            sequence,
            start_pts,
            deadline_pts,
            cap_pts: start_pts.saturating_add(self.max_clip_90k),
            frames: 0,
            events,
            continues,
        });
        out.push(RecorderOutput::Start(ClipStart {
            sequence,
            start_pts,
            continues,
        }));
    }

    fn close(&mut self, active: Active, end_pts: i64, ended_by: ClipEnd) -> ClipInfo {
        self.last_clip_end_pts = Some(end_pts);
        ClipInfo {
            sequence: active.sequence,
            start_pts: active.start_pts,
            end_pts,
            frames: active.frames,
            events: active.events,
            ended_by,
            continues: active.continues,
        }
    }

    /// Where a new clip starts in the buffer: the oldest keyframe not already in the previous
    /// clip, or failing that the newest keyframe (so consecutive clips overlap by less than a
    /// GOP rather than lose the moments before an event).
    fn choose_start(&self) -> Option<usize> {
        let mut keyframes = self
            .buffer
            .iter()
            .enumerate()
            .filter(|(_, f)| f.keyframe)
            .map(|(i, f)| (i, f.pts));
        match self.last_clip_end_pts {
            None => keyframes.next().map(|(i, _)| i),
            Some(end) => {
                let mut newest = None;
                for (i, pts) in keyframes {
                    if pts >= end {
                        return Some(i);
                    }
                    newest = Some(i);
                }
                newest
            }
        }
    }

    /// Adds a frame to the pre-roll and drops the oldest GOPs that are no longer needed to
    /// cover it.
    fn buffer_frame(&mut self, frame: Frame) {
        if self.buffer.is_empty() && !frame.keyframe {
            return; // a clip can only start at a keyframe
        }
        let newest = frame.pts;
        self.buffer_bytes += frame.data.len();
        self.buffer.push_back(frame);
        while let Some(second) = self.second_keyframe() {
            let still_covered = self
                .buffer
                .get(second)
                .is_some_and(|f| newest.saturating_sub(f.pts) >= self.pre_roll_90k);
            if !(still_covered || self.buffer_bytes > MAX_BUFFER_BYTES) {
                break;
            }
            self.drop_front(second);
        }
        if self.buffer_bytes > MAX_BUFFER_BYTES {
            self.drop_front(self.buffer.len());
        }
    }

    fn second_keyframe(&self) -> Option<usize> {
        self.buffer
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, f)| f.keyframe)
            .map(|(i, _)| i)
    }

    fn drop_front(&mut self, count: usize) {
        for frame in self.buffer.drain(..count) {
            self.buffer_bytes -= frame.data.len();
        }
    }
}

/// A duration in 90 kHz units, saturating.
fn to_90k(d: Duration) -> i64 {
    let ticks = d.as_nanos().saturating_mul(u128::from(TIMESCALE)) / 1_000_000_000;
    i64::try_from(ticks).unwrap_or(i64::MAX)
}

fn from_90k(ticks: i64) -> Duration {
    let ticks = u64::try_from(ticks).unwrap_or(0);
    let nanos = u128::from(ticks) * 1_000_000_000 / u128::from(TIMESCALE);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 15 fps, a keyframe every 15 frames (1 s GOPs).
    const FRAME: i64 = 6000;

    fn frame(i: i64) -> Frame {
        Frame {
            pts: i * FRAME,
            keyframe: i % 15 == 0,
            data: vec![0; 100],
        }
    }

    fn config(pre: u64, post: u64, max: u64) -> RecorderConfig {
        RecorderConfig {
            pre_roll: Duration::from_secs(pre),
            post_roll: Duration::from_secs(post),
            max_clip: Duration::from_secs(max),
        }
    }

    /// Pushes frames `from..to` and returns every output.
    fn run(rec: &mut Recorder, from: i64, to: i64) -> Vec<RecorderOutput> {
        (from..to)
            .flat_map(|i| rec.push(frame(i)).unwrap())
            .collect()
    }

    fn ends(outputs: &[RecorderOutput]) -> Vec<&ClipInfo> {
        outputs
            .iter()
            .filter_map(|o| match o {
                RecorderOutput::End(info) => Some(info),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn event_kinds_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()).unwrap(), kind);
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert!(matches!(
            EventKind::parse("Motion"),
            Err(Error::UnknownEventKind)
        ));
        assert!(EventKind::parse("").is_err());
    }

    #[test]
    fn pre_roll_keeps_whole_gops_covering_it() {
        let mut rec = Recorder::new(config(2, 3, 60));
        assert!(run(&mut rec, 0, 300).is_empty());
        assert!(rec.buffer.front().unwrap().keyframe);
        assert!(rec.buffered_span_90k() >= 2 * 90_000);
        assert!(rec.buffered_span_90k() < 3 * 90_000);
        assert!(rec.buffered_frames() <= 45);
    }

    #[test]
    fn trigger_cuts_pre_roll_to_post_roll() {
        let mut rec = Recorder::new(config(2, 3, 60));
        run(&mut rec, 0, 75); // last pts 444_000 (4.93 s)
        let started = rec.trigger(EventKind::Manual);
        // Keyframes at 2 s and 3 s: only from 2 s does the buffer still cover 2 s.
        assert_eq!(
            started[0],
            RecorderOutput::Start(ClipStart {
                sequence: 0,
                start_pts: 180_000,
                continues: false
            })
        );
        assert_eq!(started.len(), 1 + 45);
        assert!(matches!(&started[1], RecorderOutput::Frame(f) if f.keyframe && f.pts == 180_000));
        assert!(rec.is_recording());

        let rest = run(&mut rec, 75, 200);
        let info = ends(&rest)[0];
        // The event at 444_000 plus 3 s: the frame at 714_000 is the last one in.
        assert_eq!(info.end_pts, 720_000);
        assert_eq!(info.duration_90k(), 540_000);
        assert_eq!(info.duration(), Duration::from_secs(6));
        assert_eq!(info.frames, 90);
        assert_eq!(info.ended_by, ClipEnd::PostRoll);
        assert_eq!(
            info.events,
            [ClipEvent {
                kind: EventKind::Manual,
                offset_90k: 264_000
            }]
        );
        let frames_after_start = rest
            .iter()
            .take_while(|o| matches!(o, RecorderOutput::Frame(_)))
            .count();
        assert_eq!(45 + frames_after_start as u64, info.frames);
        assert!(!rec.is_recording());
    }

    #[test]
    fn a_second_trigger_extends_the_clip() {
        let mut rec = Recorder::new(config(2, 3, 60));
        run(&mut rec, 0, 75);
        rec.trigger(EventKind::Motion);
        let mut outputs = run(&mut rec, 75, 100); // 2 s into the post-roll
        outputs.extend(rec.trigger(EventKind::Doorbell));
        outputs.extend(run(&mut rec, 100, 300));
        let clips = ends(&outputs);
        assert_eq!(clips.len(), 1);
        let info = clips[0];
        assert_eq!(info.end_pts, 99 * FRAME + 270_000 + FRAME);
        let kinds: Vec<EventKind> = info.events.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventKind::Motion, EventKind::Doorbell]);
        assert_eq!(info.events[1].offset_90k, 99 * FRAME - 180_000);
    }

    #[test]
    fn long_events_are_cut_at_max_clip_and_continue() {
        let mut rec = Recorder::new(config(2, 3, 10));
        let mut outputs = run(&mut rec, 0, 45);
        // An event every second for 30 s.
        for second in 3..33 {
            outputs.extend(rec.trigger(EventKind::Motion));
            outputs.extend(run(&mut rec, second * 15, (second + 1) * 15));
        }
        outputs.extend(run(&mut rec, 33 * 15, 50 * 15));
        let clips = ends(&outputs);
        assert!(clips.len() >= 3, "{}", clips.len());
        for pair in clips.windows(2) {
            assert_eq!(pair[0].ended_by, ClipEnd::MaxClip);
            assert_eq!(
                pair[1].start_pts, pair[0].end_pts,
                "continuations are seamless"
            );
            assert!(pair[1].continues);
        }
        for clip in &clips {
            assert!(clip.duration_90k() <= 10 * 90_000 + 15 * FRAME);
        }
        assert_eq!(clips.last().unwrap().ended_by, ClipEnd::PostRoll);
        // Each Start is followed by a keyframe.
        for (i, o) in outputs.iter().enumerate() {
            if let RecorderOutput::Start(_) = o {
                assert!(matches!(&outputs[i + 1], RecorderOutput::Frame(f) if f.keyframe));
            }
        }
    }

    #[test]
    fn an_event_before_any_keyframe_waits_for_one() {
        let mut rec = Recorder::new(config(2, 3, 60));
        // Join mid-GOP: frames 5..15 are not keyframes.
        assert!(run(&mut rec, 5, 15).is_empty());
        assert_eq!(rec.buffered_frames(), 0);
        assert!(rec.trigger(EventKind::Doorbell).is_empty());
        let outputs = run(&mut rec, 15, 200);
        assert!(matches!(
            outputs[0],
            RecorderOutput::Start(ClipStart {
                start_pts: 90_000,
                ..
            })
        ));
        let info = ends(&outputs)[0];
        assert_eq!(info.start_pts, 90_000);
        assert_eq!(info.end_pts, 90_000 + 270_000 + FRAME);
        assert_eq!(info.events[0].offset_90k, 0);
        assert_eq!(info.events[0].kind, EventKind::Doorbell);
    }

    #[test]
    fn a_new_clip_does_not_repeat_the_previous_one() {
        let mut rec = Recorder::new(config(2, 1, 60));
        run(&mut rec, 0, 66);
        rec.trigger(EventKind::Manual); // at 390_000: ends after 480_000
        let first = run(&mut rec, 66, 86);
        assert_eq!(ends(&first)[0].end_pts, 486_000);
        // No keyframe since the first clip ended: start at the newest one, less than a GOP back.
        let second = rec.trigger(EventKind::Manual);
        assert!(matches!(
            second[0],
            RecorderOutput::Start(ClipStart {
                start_pts: 450_000,
                ..
            })
        ));
        let later = run(&mut rec, 86, 200);
        let second_end = ends(&later)[0].end_pts;
        run(&mut rec, 200, 260);
        // Keyframes after the previous clip exist now: the new clip starts after it.
        let third = rec.trigger(EventKind::Manual);
        let RecorderOutput::Start(start) = third[0] else {
            panic!("expected a start")
        };
        assert!(start.start_pts >= second_end);
    }

    #[test]
    fn refuses_pts_going_backwards() {
        let mut rec = Recorder::new(config(2, 3, 60));
        rec.push(frame(10)).unwrap();
        assert!(matches!(
            rec.push(frame(10)),
            Err(Error::PtsNotIncreasing { .. })
        ));
        assert!(rec.push(frame(9)).is_err());
        rec.push(frame(11)).unwrap();
    }

    #[test]
    fn flush_and_reset_end_the_clip() {
        let mut rec = Recorder::new(config(2, 3, 60));
        run(&mut rec, 0, 40);
        rec.trigger(EventKind::Manual);
        run(&mut rec, 40, 45);
        let flushed = rec.flush();
        let info = ends(&flushed)[0];
        assert_eq!(info.ended_by, ClipEnd::Flushed);
        assert_eq!(info.end_pts, 45 * FRAME);
        assert!(rec.flush().is_empty());

        rec.trigger(EventKind::Manual);
        assert!(rec.is_recording());
        let reset = rec.reset();
        assert_eq!(ends(&reset).len(), 1);
        assert_eq!(rec.buffered_frames(), 0);
        // A new timeline may start anywhere, even earlier.
        rec.push(frame(0)).unwrap();
    }

    #[test]
    fn buffer_stays_bounded_while_recording() {
        let mut rec = Recorder::new(config(2, 3, 600));
        run(&mut rec, 0, 45);
        for i in 45..2000 {
            if i % 30 == 0 {
                rec.trigger(EventKind::Motion);
            }
            rec.push(frame(i)).unwrap();
            assert!(rec.buffered_frames() <= 45);
        }
        assert!(rec.is_recording());
    }

    #[test]
    fn durations_convert_to_90k() {
        assert_eq!(to_90k(Duration::from_secs(2)), 180_000);
        assert_eq!(to_90k(Duration::from_millis(1)), 90);
        assert_eq!(to_90k(Duration::MAX), i64::MAX);
        assert_eq!(from_90k(45_000), Duration::from_millis(500));
        assert_eq!(from_90k(-5), Duration::ZERO);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Frame { gap: i64, keyframe: bool },
        Trigger,
        Flush,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            8 => (1i64..20_000, proptest::bool::weighted(0.1))
                .prop_map(|(gap, keyframe)| Step::Frame { gap, keyframe }),
            1 => Just(Step::Trigger),
            1 => Just(Step::Flush),
        ]
    }

    proptest! {
        #[test]
        fn event_kind_parser_is_total(name in any::<String>()) {
            if let Ok(kind) = EventKind::parse(&name) {
                prop_assert_eq!(kind.as_str(), name);
            }
        }

        #[test]
        fn clips_are_well_formed(
            steps in proptest::collection::vec(step(), 0..400),
            pre in 0u64..4, post in 0u64..4, max in 1u64..6,
        ) {
            let mut rec = Recorder::new(config(pre, post, max));
            let mut pts = 0;
            let mut outputs = Vec::new();
            for s in steps {
                match s {
                    Step::Frame { gap, keyframe } => {
                        pts += gap;
                        outputs.extend(rec.push(Frame { pts, keyframe, data: vec![1; 3] }).unwrap());
                    }
                    Step::Trigger => outputs.extend(rec.trigger(EventKind::Motion)),
                    Step::Flush => outputs.extend(rec.flush()),
                }
            }
            outputs.extend(rec.flush());

            let mut open: Option<(ClipStart, u64, Option<i64>)> = None;
            for o in outputs {
                match o {
                    RecorderOutput::Start(s) => {
                        prop_assert!(open.is_none(), "start inside a clip");
                        open = Some((s, 0, None));
                    }
                    RecorderOutput::Frame(f) => {
                        let Some((s, n, last)) = open.as_mut() else {
                            return Err(TestCaseError::fail("frame outside a clip"));
                        };
                        if *n == 0 {
                            prop_assert!(f.keyframe);
                            prop_assert_eq!(f.pts, s.start_pts);
                        }
                        if let Some(last) = last {
                            prop_assert!(f.pts > *last);
                        }
                        *n += 1;
                        *last = Some(f.pts);
                    }
                    RecorderOutput::End(info) => {
                        let Some((s, n, last)) = open.take() else {
                            return Err(TestCaseError::fail("end outside a clip"));
                        };
                        prop_assert_eq!(info.sequence, s.sequence);
                        prop_assert_eq!(info.frames, n);
                        prop_assert!(n > 0);
                        prop_assert!(info.end_pts > last.unwrap_or(i64::MIN));
                        for e in &info.events {
                            prop_assert!(e.offset_90k >= 0 && e.offset_90k <= info.duration_90k());
                        }
                    }
                }
            }
            prop_assert!(open.is_none());
        }
    }
}
