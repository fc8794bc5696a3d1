//! The synthetic camera as a source: the bundled sample (`porchlight_media::SyntheticCamera`)
//! paced in real time, with the same events an RTSP camera gives, for demos and tests on a
//! machine without a camera.

use std::pin::pin;

use porchlight_media::SyntheticCamera;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant, MissedTickBehavior, interval_at};

use super::sink::EventSink;
use super::{SourceEvent, SourceFailure, SourceStats, SourceStatus, Stage};

/// The sample's frame rate.
const FPS: u32 = 15;

/// Streams the synthetic camera into `sink` until `shutdown` completes or the receiver is
/// dropped.
pub async fn run_synthetic(
    sink: mpsc::Sender<SourceEvent>,
    shutdown: impl Future<Output = ()>,
) -> SourceStats {
    let mut shutdown = pin!(shutdown);
    let mut events = EventSink::new(sink);
    let mut camera = match SyntheticCamera::new(FPS) {
        Ok(camera) => camera,
        Err(e) => {
            // Only a damaged build gets here; say so the way a broken camera would.
            let _ = events.control(SourceEvent::Status(SourceStatus::Failed {
                reason: SourceFailure::BadParameters(e.to_string()),
                retry_in: Duration::MAX,
            }));
            let _ = events.wait_until(Instant::now(), &mut shutdown).await;
            return events.into_stats();
        }
    };
    events.stats_mut().sessions += 1;
    events.begin_session();
    if events
        .control(SourceEvent::Params(camera.params().clone()))
        .and_then(|()| events.control(SourceEvent::Status(SourceStatus::Streaming)))
        .is_err()
    {
        return events.into_stats();
    }
    let period = Duration::from_micros(1_000_000 / u64::from(FPS));
    let mut ticks = interval_at(Instant::now(), period);
    // After a stall (a suspended laptop), carry on from now rather than bursting.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = shutdown.as_mut() => break,
            _ = ticks.tick() => {}
        }
        let Some(frame) = camera.next() else {
            let _ = events.control(SourceEvent::Status(SourceStatus::Failed {
                reason: SourceFailure::Other {
                    stage: Stage::Streaming,
                    detail: "the synthetic camera's clock ran out".to_owned(),
                },
                retry_in: Duration::MAX,
            }));
            break;
        };
        if events.frame(frame).is_err() {
            break;
        }
    }
    events.into_stats()
}
