//! One camera's recording task: its source's frames go through the motion detector and the
//! recorder; a clip is written as fMP4 to a private file while it records, then sealed into
//! the spool with its events, and the plaintext is deleted.

use std::fs::File;
use std::io::{BufWriter, Cursor, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

use porchlight_client::hub::seal_clip;
use porchlight_media::{
    ClipInfo, ClipWriter, EventKind, Frame, MotionDetector, Recorder, RecorderConfig,
    RecorderOutput, TIMESCALE, VideoParams, init_segment,
};
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::config::{CameraConfig, CameraSource};
use crate::run::{Hub, now_ms, stopped};
use crate::settings::{CameraBehaviour, behaviour};
use crate::source::{self, RtspSource, SourceEvent, SourceStatus};
use crate::spool::{ClipMeta, Spool, SpoolEntry, SpoolError};
use porchlight_client::crypto::{DevicePublic, HubSecret};

/// Frames a camera's source may queue before it starts dropping (up to a keyframe).
const SOURCE_QUEUE: usize = 256;

/// The sealed description of a clip, inside the MP4 (`porchlight_media::fmp4::metadata_box`):
/// the server never sees it.
#[derive(Debug, Serialize)]
struct ClipMetadata<'a> {
    version: u32,
    camera: &'a str,
    start_ms: i64,
    duration_ms: u64,
    events: Vec<EventMetadata>,
    /// Set when this clip carries straight on from one cut at the longest clip length.
    continues: bool,
}

#[derive(Debug, Serialize)]
struct EventMetadata {
    kind: &'static str,
    offset_ms: i64,
}

/// A clip being written.
struct OpenClip {
    writer: ClipWriter<BufWriter<File>>,
    path: PathBuf,
    init_len: u64,
    /// Wall-clock time of the clip's first frame.
    start_ms: i64,
}

/// Maps frame pts to the wall clock: the arrival time of the latest frame, less its pts.
#[derive(Debug, Default)]
struct WallClock {
    offset_ms: Option<i64>,
}

impl WallClock {
    fn observe(&mut self, pts: i64) {
        self.offset_ms = Some(now_ms() - pts_to_ms(pts));
    }

    fn at(&self, pts: i64) -> i64 {
        self.offset_ms.unwrap_or_else(now_ms) + pts_to_ms(pts)
    }
}

fn pts_to_ms(pts: i64) -> i64 {
    pts.saturating_mul(1000) / i64::from(TIMESCALE)
}

struct Camera {
    hub: Arc<Hub>,
    name: String,
    /// Off by the owner's signed settings: frames are neither recorded nor streamed.
    enabled: bool,
    recorder: Recorder,
    motion: Option<MotionDetector>,
    params: Option<VideoParams>,
    clip: Option<OpenClip>,
    clock: WallClock,
    next_file: u64,
}

/// Records `camera` until `shutdown`, cutting clips on motion and on `triggers`.
pub(crate) async fn record_camera(
    hub: Arc<Hub>,
    camera: CameraConfig,
    recording: RecorderConfig,
    mut triggers: mpsc::Receiver<EventKind>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (tx, mut events) = mpsc::channel(SOURCE_QUEUE);
    let mut stop_source = shutdown.clone();
    let source_stopped = async move { stopped(&mut stop_source).await };
    let source_task = match camera.source.clone() {
        CameraSource::Rtsp { url, transport } => {
            let mut config = RtspSource::new(url);
            config.transport = transport;
            tokio::spawn(source::run(config, tx, source_stopped))
        }
        CameraSource::Synthetic => tokio::spawn(source::run_synthetic(tx, source_stopped)),
    };
    let mut settings = hub.settings.current.subscribe();
    let now = {
        let signed = settings.borrow_and_update().clone();
        behaviour(&camera, recording, signed.as_deref().map(|s| s.settings()))
    };
    let mut cam = Camera {
        hub,
        name: camera.name.clone(),
        enabled: now.enabled,
        recorder: Recorder::new(now.recording),
        motion: now.motion.map(MotionDetector::new),
        params: None,
        clip: None,
        clock: WallClock::default(),
        next_file: 0,
    };
    let off = !cam.enabled;
    cam.hub.camera_status(&cam.name, |s| {
        s.state = "connecting".to_owned();
        s.off = off;
    });
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) => cam.source_event(event).await,
                None => break,
            },
            Some(kind) = triggers.recv() => {
                cam.note_event(kind);
                if cam.enabled {
                    let outputs = cam.recorder.trigger(kind);
                    cam.handle(outputs).await;
                } else {
                    tracing::info!(camera = %cam.name, event = %kind, "the camera is off; nothing recorded");
                }
            }
            Ok(()) = settings.changed() => {
                let signed = settings.borrow_and_update().clone();
                let now = behaviour(&camera, recording, signed.as_deref().map(|s| s.settings()));
                cam.apply(now).await;
            }
            () = stopped(&mut shutdown) => break,
        }
    }
    // What was recording is sealed before the hub stops.
    let outputs = cam.recorder.flush();
    cam.handle(outputs).await;
    let _ = source_task.await;
}

impl Camera {
    async fn source_event(&mut self, event: SourceEvent) {
        match event {
            SourceEvent::Params(params) => {
                if let Some(tap) = self.hub.live.get(&self.name) {
                    tap.params(&params);
                }
                if self.params.as_ref() != Some(&params) {
                    // A clip cannot change resolution or codec midway: end it, start afresh.
                    let outputs = self.recorder.reset();
                    self.handle(outputs).await;
                    if let Some(motion) = &mut self.motion {
                        motion.reset();
                    }
                    self.params = Some(params);
                }
            }
            SourceEvent::Frame(frame) => self.frame(frame).await,
            SourceEvent::Status(status) => {
                if matches!(status, SourceStatus::Failed { .. }) {
                    if let Some(tap) = self.hub.live.get(&self.name) {
                        tap.offline();
                    }
                    // The camera is gone for now: end the clip at the last frame it sent.
                    let outputs = self.recorder.flush();
                    self.handle(outputs).await;
                }
                let text = status.to_string();
                self.hub.camera_status(&self.name, |s| s.state = text);
            }
        }
    }

    /// Takes new settings while running: the recorder and the motion detector keep what they
    /// buffered and learned; a camera turned off ends its clip and forgets its pre-roll.
    async fn apply(&mut self, now: CameraBehaviour) {
        self.recorder.set_config(now.recording);
        match (&mut self.motion, now.motion) {
            (Some(motion), Some(config)) => motion.set_config(config),
            (_, config) => self.motion = config.map(MotionDetector::new),
        }
        if self.enabled && !now.enabled {
            let outputs = self.recorder.reset();
            self.handle(outputs).await;
            if let Some(motion) = &mut self.motion {
                motion.reset();
            }
            if let Some(tap) = self.hub.live.get(&self.name) {
                tap.offline();
            }
        }
        self.enabled = now.enabled;
        self.hub.camera_status(&self.name, |s| s.off = !now.enabled);
        tracing::info!(
            camera = %self.name,
            on = now.enabled,
            pre_roll_ms = now.recording.pre_roll.as_millis() as u64,
            post_roll_ms = now.recording.post_roll.as_millis() as u64,
            motion_ratio = now.motion.map(|m| m.ratio_on),
            "camera settings changed"
        );
    }

    async fn frame(&mut self, frame: Frame) {
        self.clock.observe(frame.pts);
        if !self.enabled {
            return;
        }
        if let Some(tap) = self.hub.live.get(&self.name) {
            tap.frame(&frame);
        }
        let moved = self
            .motion
            .as_mut()
            .and_then(|m| m.observe(&frame))
            .is_some();
        let mut outputs = match self.recorder.push(frame) {
            Ok(outputs) => outputs,
            Err(e) => {
                tracing::warn!(camera = %self.name, error = %e, "frame refused; starting afresh");
                self.recorder.reset()
            }
        };
        if moved {
            outputs.extend(self.recorder.trigger(EventKind::Motion));
            self.note_event(EventKind::Motion);
        }
        self.handle(outputs).await;
    }

    fn note_event(&self, kind: EventKind) {
        tracing::info!(camera = %self.name, event = %kind, "event");
        if kind == EventKind::Doorbell {
            self.hub.notify(&self.name, kind);
        }
        self.hub.camera_status(&self.name, |s| {
            s.last_event = Some(kind.as_str().to_owned())
        });
    }

    async fn handle(&mut self, outputs: Vec<RecorderOutput>) {
        for output in outputs {
            match output {
                RecorderOutput::Start(start) => {
                    self.clip = None;
                    match self.open_clip(start.start_pts) {
                        Ok(clip) => {
                            self.clip = Some(clip);
                            self.hub.camera_status(&self.name, |s| s.recording = true);
                        }
                        Err(e) => self.failed("start a recording", &e),
                    }
                }
                RecorderOutput::Frame(frame) => {
                    if let Some(clip) = &mut self.clip
                        && let Err(e) = clip.writer.push(frame)
                    {
                        self.failed("write a frame", &e.to_string());
                        self.discard();
                    }
                }
                RecorderOutput::End(info) => {
                    self.hub.camera_status(&self.name, |s| s.recording = false);
                    if let Some(clip) = self.clip.take() {
                        self.seal(clip, info).await;
                    }
                }
            }
        }
    }

    fn open_clip(&mut self, start_pts: i64) -> Result<OpenClip, String> {
        let params = self
            .params
            .as_ref()
            .ok_or("frames came before the stream's parameters")?;
        let init_len = init_segment(params).map_err(|e| e.to_string())?.len() as u64;
        self.next_file += 1;
        let path =
            self.hub
                .recording_dir
                .join(format!("{}-{}.mp4", hex_name(&self.name), self.next_file));
        let file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?
        };
        let writer = ClipWriter::new(BufWriter::new(file), params).map_err(|e| e.to_string())?;
        Ok(OpenClip {
            writer,
            path,
            init_len,
            start_ms: self.clock.at(start_pts),
        })
    }

    fn discard(&mut self) {
        if let Some(clip) = self.clip.take() {
            let _ = std::fs::remove_file(&clip.path);
        }
    }

    fn failed(&self, what: &str, error: &str) {
        tracing::error!(camera = %self.name, error, "could not {what}");
        self.hub.camera_status(&self.name, |s| s.clips_failed += 1);
    }

    /// Finishes the file, seals it with its events into the spool, deletes the plaintext.
    async fn seal(&mut self, clip: OpenClip, info: ClipInfo) {
        let path = clip.path.clone();
        let summary = match clip.writer.finish_at(info.end_pts) {
            Ok(summary) => summary,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return self.failed("finish a recording", &e.to_string());
            }
        };
        let duration_ms = summary.duration_90k.saturating_mul(1000) / u64::from(TIMESCALE);
        let metadata = ClipMetadata {
            version: 1,
            camera: &self.name,
            start_ms: clip.start_ms,
            duration_ms,
            events: info
                .events
                .iter()
                .map(|e| EventMetadata {
                    kind: e.kind.as_str(),
                    offset_ms: pts_to_ms(e.offset_90k),
                })
                .collect(),
            continues: info.continues,
        };
        let hub = Arc::clone(&self.hub);
        let name = self.name.clone();
        let metadata = serde_json::to_vec(&metadata).unwrap_or_default();
        let (start_ms, init_len) = (clip.start_ms, clip.init_len);
        let sealed = tokio::task::spawn_blocking(move || {
            let result = seal_into_spool(
                &hub,
                &name,
                &path,
                init_len,
                &metadata,
                start_ms,
                duration_ms,
            );
            let _ = std::fs::remove_file(&path);
            result
        })
        .await
        .unwrap_or_else(|e| Err(format!("the sealing task failed: {e}")));
        match sealed {
            Ok(entry) => {
                tracing::info!(
                    camera = %self.name,
                    seq = entry.seq,
                    duration_ms,
                    bytes = entry.bytes,
                    "clip sealed and queued"
                );
                self.hub
                    .camera_status(&self.name, |s| s.clips_recorded += 1);
                self.hub.queued.notify_one();
            }
            Err(e) => self.failed("seal a clip", &e),
        }
    }
}

/// A file-name-safe spelling of a camera name.
fn hex_name(name: &str) -> String {
    name.bytes().take(32).map(|b| format!("{b:02x}")).collect()
}

/// The plaintext that is sealed: the recording's init segment, the metadata box, then the
/// recording's fragments.
fn seal_into_spool(
    hub: &Hub,
    camera: &str,
    recording: &std::path::Path,
    init_len: u64,
    metadata: &[u8],
    start_ms: i64,
    duration_ms: u64,
) -> Result<crate::spool::SpoolEntry, String> {
    let chain = hub.chain().ok_or("no verified chain to seal to")?;
    let meta_box = porchlight_media::fmp4::metadata_box(metadata).map_err(|e| e.to_string())?;
    let open = || File::open(recording).map_err(|e| format!("{}: {e}", recording.display()));
    let head = open()?.take(init_len);
    let mut rest = open()?;
    rest.seek(SeekFrom::Start(init_len))
        .map_err(|e| format!("{}: {e}", recording.display()))?;
    let plaintext = head.chain(Cursor::new(meta_box)).chain(rest);
    let recipients =
        chain.recipients_for_camera(hub.secret.public().as_bytes(), camera, &hub.members());
    seal_to_spool(
        &hub.spool,
        &hub.secret,
        &recipients,
        plaintext,
        camera,
        start_ms,
        duration_ms,
    )
    .map_err(|e| e.to_string())
}

/// Seals `plaintext` to `recipients` (`VerifiedChain::recipients_for_camera`: the owner's
/// devices and recovery key, and the devices of household members given this camera) into the
/// spool, with a fresh upload key and the hub's signed statement.
pub fn seal_to_spool(
    spool: &Spool,
    secret: &HubSecret,
    recipients: &[DevicePublic],
    plaintext: impl Read,
    camera: &str,
    start_ms: i64,
    duration_ms: u64,
) -> Result<SpoolEntry, SpoolError> {
    let mut key = [0u8; 16];
    rand::fill(&mut key);
    let upload_key: String = key.iter().map(|b| format!("{b:02x}")).collect();
    spool.add(|out: &File| {
        let sealed = seal_clip(
            secret,
            recipients,
            std::io::BufReader::new(plaintext),
            out,
            camera,
            start_ms,
            duration_ms,
        )?;
        Ok::<_, porchlight_client::E2eError>(ClipMeta {
            upload_key,
            statement: sealed.statement,
            camera: camera.to_owned(),
            start_ms,
            duration_ms,
        })
    })
}
