//! The sending end of a source: never blocks a camera session on a slow receiver.
//!
//! Frames go out with `try_send`; when the channel is full the frame is dropped and so is every
//! frame after it until the next keyframe, so what the receiver gets always decodes. `Params`
//! and `Status` must not be lost: they wait in a small queue (at most one of each, the newest)
//! that is flushed before any further frame, and frames are dropped while it is not empty.

use std::collections::VecDeque;
use std::pin::Pin;

use porchlight_media::Frame;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::time::Instant;

use super::{SourceEvent, SourceStats};

/// The receiver has gone: nobody wants this camera's events any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReceiverGone;

/// Why frames are being held back until a keyframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gate {
    Open,
    /// A new session: its first frames may depend on pictures the receiver never saw.
    SessionStart,
    /// Frames were dropped because the receiver was slow.
    Dropped {
        since_count: u64,
    },
}

#[derive(Debug)]
pub(crate) struct EventSink {
    tx: mpsc::Sender<SourceEvent>,
    pending: VecDeque<SourceEvent>,
    gate: Gate,
    stats: SourceStats,
}

impl EventSink {
    pub(crate) fn new(tx: mpsc::Sender<SourceEvent>) -> Self {
        Self {
            tx,
            pending: VecDeque::new(),
            gate: Gate::SessionStart,
            stats: SourceStats::default(),
        }
    }

    pub(crate) fn stats_mut(&mut self) -> &mut SourceStats {
        &mut self.stats
    }

    pub(crate) fn into_stats(self) -> SourceStats {
        self.stats
    }

    /// A new session starts: hold frames back until its first keyframe.
    pub(crate) fn begin_session(&mut self) {
        if self.gate == Gate::Open {
            self.gate = Gate::SessionStart;
        }
    }

    /// Queues a `Params` or `Status` event, replacing an undelivered one of the same kind, and
    /// sends what the channel has room for.
    pub(crate) fn control(&mut self, event: SourceEvent) -> Result<(), ReceiverGone> {
        let same_kind =
            |queued: &SourceEvent| std::mem::discriminant(queued) == std::mem::discriminant(&event);
        self.pending.retain(|queued| !same_kind(queued));
        self.pending.push_back(event);
        self.flush()
    }

    /// Sends a frame if the receiver keeps up, else drops it and skips to the next keyframe.
    pub(crate) fn frame(&mut self, frame: Frame) -> Result<(), ReceiverGone> {
        self.flush()?;
        if !self.pending.is_empty() {
            self.drop_frame();
            return Ok(());
        }
        if self.gate != Gate::Open && !frame.keyframe {
            if matches!(self.gate, Gate::Dropped { .. }) {
                self.stats.frames_dropped += 1;
            }
            return Ok(());
        }
        match self.tx.try_send(SourceEvent::Frame(frame)) {
            Ok(()) => {
                self.stats.frames_sent += 1;
                if let Gate::Dropped { since_count } = self.gate {
                    let dropped = self.stats.frames_dropped - since_count;
                    tracing::warn!(
                        dropped,
                        "receiver was slow: frames dropped up to a keyframe"
                    );
                }
                self.gate = Gate::Open;
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.drop_frame();
                Ok(())
            }
            Err(TrySendError::Closed(_)) => Err(ReceiverGone),
        }
    }

    fn drop_frame(&mut self) {
        if !matches!(self.gate, Gate::Dropped { .. }) {
            self.gate = Gate::Dropped {
                since_count: self.stats.frames_dropped,
            };
        }
        self.stats.frames_dropped += 1;
    }

    fn flush(&mut self) -> Result<(), ReceiverGone> {
        while let Some(event) = self.pending.pop_front() {
            match self.tx.try_send(event) {
                Ok(()) => {}
                Err(TrySendError::Full(event)) => {
                    self.pending.push_front(event);
                    return Ok(());
                }
                Err(TrySendError::Closed(_)) => return Err(ReceiverGone),
            }
        }
        Ok(())
    }

    /// Waits until `deadline`, delivering queued events meanwhile (there is no session to hold
    /// up now, so this may wait for room). Returns `false` if `shutdown` fired or the receiver
    /// has gone.
    pub(crate) async fn wait_until<F: Future<Output = ()>>(
        &mut self,
        deadline: Instant,
        shutdown: &mut Pin<&mut F>,
    ) -> bool {
        while let Some(event) = self.pending.pop_front() {
            tokio::select! {
                biased;
                () = shutdown.as_mut() => return false,
                permit = self.tx.reserve() => match permit {
                    Ok(permit) => permit.send(event),
                    Err(_) => return false,
                },
                () = tokio::time::sleep_until(deadline) => {
                    self.pending.push_front(event);
                    return true;
                }
            }
        }
        tokio::select! {
            biased;
            () = shutdown.as_mut() => false,
            () = self.tx.closed() => false,
            () = tokio::time::sleep_until(deadline) => true,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::source::SourceStatus;

    fn frame(pts: i64, keyframe: bool) -> Frame {
        Frame {
            pts,
            keyframe,
            data: vec![0, 0, 0, 1, 0x65],
        }
    }

    fn drain(rx: &mut mpsc::Receiver<SourceEvent>) -> Vec<SourceEvent> {
        let mut out = Vec::new();
        while let Ok(event) = rx.try_recv() {
            out.push(event);
        }
        out
    }

    #[test]
    fn waits_for_a_keyframe_at_session_start() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut sink = EventSink::new(tx);
        sink.frame(frame(0, false)).unwrap();
        sink.frame(frame(1, true)).unwrap();
        sink.frame(frame(2, false)).unwrap();
        let got = drain(&mut rx);
        assert_eq!(
            got,
            vec![
                SourceEvent::Frame(frame(1, true)),
                SourceEvent::Frame(frame(2, false))
            ]
        );
        assert_eq!(
            sink.stats.frames_dropped, 0,
            "skipping to the first keyframe is no drop"
        );
    }

    #[test]
    fn a_full_channel_drops_frames_until_the_next_keyframe() {
        let (tx, mut rx) = mpsc::channel(2);
        let mut sink = EventSink::new(tx);
        sink.frame(frame(0, true)).unwrap();
        sink.frame(frame(1, false)).unwrap();
        sink.frame(frame(2, false)).unwrap(); // full: dropped
        assert_eq!(drain(&mut rx).len(), 2);
        sink.frame(frame(3, false)).unwrap(); // room, but not a keyframe: dropped
        sink.frame(frame(4, true)).unwrap();
        sink.frame(frame(5, false)).unwrap();
        let pts: Vec<i64> = drain(&mut rx)
            .into_iter()
            .map(|e| match e {
                SourceEvent::Frame(f) => f.pts,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(pts, vec![4, 5]);
        assert_eq!(sink.stats.frames_dropped, 2);
        assert_eq!(sink.stats.frames_sent, 4);
    }

    #[test]
    fn control_events_are_kept_newest_of_each_kind_and_go_before_frames() {
        let (tx, mut rx) = mpsc::channel(1);
        let mut sink = EventSink::new(tx);
        sink.control(SourceEvent::Status(SourceStatus::Connecting))
            .unwrap();
        sink.control(SourceEvent::Status(SourceStatus::Streaming))
            .unwrap(); // full: queued
        sink.control(SourceEvent::Status(SourceStatus::Connecting))
            .unwrap(); // replaces the queued one
        sink.frame(frame(0, true)).unwrap(); // dropped: a status is waiting
        assert_eq!(
            drain(&mut rx),
            vec![SourceEvent::Status(SourceStatus::Connecting)]
        );
        sink.frame(frame(1, false)).unwrap(); // the status goes; this frame is dropped
        sink.frame(frame(2, true)).unwrap();
        assert_eq!(
            drain(&mut rx),
            vec![SourceEvent::Status(SourceStatus::Connecting)]
        );
        sink.frame(frame(3, true)).unwrap();
        assert_eq!(drain(&mut rx), vec![SourceEvent::Frame(frame(3, true))]);
    }

    #[test]
    fn a_closed_receiver_stops_the_source() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        let mut sink = EventSink::new(tx);
        assert_eq!(sink.frame(frame(0, true)), Err(ReceiverGone));
        assert_eq!(
            sink.control(SourceEvent::Status(SourceStatus::Streaming)),
            Err(ReceiverGone)
        );
    }
}
