//! The clips this crate writes, checked by the tools people will open them with: `ffprobe` must
//! describe each file as written (codec, size, duration, frame count) without a warning, `ffmpeg`
//! must decode every frame without a complaint, and nothing about the recording may be in the
//! file (no `udta`/`meta`, zeroed times, no date, encoder or location tags).
//!
//! Without `ffprobe`/`ffmpeg` on `PATH` each test prints `ffprobe leg skipped: <why>` and
//! passes; set `PORCHLIGHT_REQUIRE_FFMPEG=1` (as CI does) to make that a failure instead.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use porchlight_media::fmp4::{METADATA_UUID, init_segment, metadata_box, read_metadata};
use porchlight_media::{
    ClipEnd, ClipInfo, ClipSummary, ClipWriter, EventKind, Frame, MotionConfig, MotionDetector,
    Recorder, RecorderConfig, RecorderOutput, SyntheticCamera, TIMESCALE, VideoParams, boxes,
};
use serde_json::{Value, json};
use tempfile::NamedTempFile;

const FPS: u32 = 15;
const PRE_ROLL: Duration = Duration::from_secs(2);
const POST_ROLL: Duration = Duration::from_secs(3);
/// How far ffprobe's duration may be from the one the writer reports.
const DURATION_TOLERANCE_S: f64 = 0.5;
/// Tags that would tell who, when or where: none may appear.
const FORBIDDEN_TAGS: [&str; 3] = ["creation_time", "encoder", "location"];

/// Returns from the test, saying why, unless `ffprobe` and `ffmpeg` both run.
macro_rules! require_tools {
    () => {
        if let Err(why) = tools_available() {
            assert!(
                std::env::var_os("PORCHLIGHT_REQUIRE_FFMPEG").is_none(),
                "PORCHLIGHT_REQUIRE_FFMPEG is set but {why}"
            );
            println!("ffprobe leg skipped: {why}");
            return;
        }
    };
}

fn tools_available() -> Result<(), String> {
    for tool in ["ffprobe", "ffmpeg"] {
        match Command::new(tool).arg("-version").output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => return Err(format!("`{tool} -version` exited with {}", out.status)),
            Err(e) => return Err(format!("`{tool}` cannot be run: {e}")),
        }
    }
    Ok(())
}

fn run(tool: &str, args: &[&str], file: &Path) -> Output {
    let mut command = Command::new(tool);
    command.args(args.iter().copied().take_while(|a| *a != "FILE"));
    command.arg(file);
    command.args(args.iter().copied().skip_while(|a| *a != "FILE").skip(1));
    command.output().unwrap()
}

/// Runs `tool`, requiring exit status 0 and nothing at all on stderr; returns stdout.
fn run_cleanly(tool: &str, args: &[&str], file: &Path) -> String {
    let out = run(tool, args, file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{tool} {args:?} failed ({}): {stderr}",
        out.status
    );
    assert!(stderr.is_empty(), "{tool} {args:?} complained: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

/// What ffprobe said about a file.
#[derive(Debug)]
struct Probe {
    duration_s: f64,
    frames: u64,
}

/// Every check the real tools can make on one clip: ffprobe's description (codec, size,
/// duration within [`DURATION_TOLERANCE_S`] of `expected_90k`, no forbidden tags), the number
/// of frames it decodes, and a full decode by ffmpeg.
fn check_with_ffmpeg(path: &Path, expected_90k: u64, expected_frames: u64) -> Probe {
    let described = run_cleanly(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_format",
            "-show_streams",
            "-of",
            "json",
            "FILE",
        ],
        path,
    );
    let description: Value = serde_json::from_str(&described).unwrap();
    let streams = description["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 1, "{description:#}");
    let stream = &streams[0];
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(stream["width"], 640);
    assert_eq!(stream["height"], 360);
    let format = &description["format"];
    let duration_s: f64 = format["duration"].as_str().unwrap().parse().unwrap();
    let expected_s = expected_90k as f64 / f64::from(TIMESCALE);
    assert!(
        (duration_s - expected_s).abs() <= DURATION_TOLERANCE_S,
        "ffprobe says {duration_s} s, the writer {expected_s} s"
    );
    for tags in [&format["tags"], &stream["tags"]] {
        for key in tags.as_object().map(|t| t.keys()).into_iter().flatten() {
            let key = key.to_ascii_lowercase();
            assert!(
                !FORBIDDEN_TAGS.iter().any(|f| key.starts_with(f)),
                "tag {key} in {description:#}"
            );
        }
    }

    let counted = run_cleanly(
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
            "FILE",
        ],
        path,
    );
    let frames: u64 = counted.trim().parse().unwrap();
    assert_eq!(frames, expected_frames, "frames ffprobe decoded");

    let decoded = run_cleanly(
        "ffmpeg",
        &["-v", "error", "-i", "FILE", "-f", "null", "-"],
        path,
    );
    assert!(decoded.is_empty());

    let probe = Probe { duration_s, frames };
    println!(
        "ffprobe: {} h264 {}x{} {} ({}), {:.3} s (writer {expected_s:.3} s), {frames} frames; \
         format tags {}, stream tags {}",
        path.file_name().unwrap().to_string_lossy(),
        stream["width"],
        stream["height"],
        stream["profile"],
        format["format_name"],
        probe.duration_s,
        format["tags"],
        stream["tags"],
    );
    probe
}

/// The privacy rule, checked on the bytes: no `udta` or `meta` anywhere, and the movie, track
/// and media headers carry no creation or modification time.
fn check_nothing_about_the_recording(file: &[u8]) {
    let all = boxes::walk(file).unwrap();
    for b in &all {
        assert!(
            &b.kind != b"udta" && &b.kind != b"meta",
            "{} box at {}",
            b.kind_str(),
            b.offset
        );
    }
    for kind in [b"mvhd", b"tkhd", b"mdhd"] {
        let found: Vec<_> = all.iter().filter(|b| &b.kind == kind).collect();
        assert_eq!(found.len(), 1, "{kind:?}");
        let body = found[0].body;
        // Version 0: 32-bit creation and modification times after version and flags.
        assert_eq!(body[0], 0, "{} version", found[0].kind_str());
        assert_eq!(&body[4..12], &[0; 8], "{} times", found[0].kind_str());
    }
}

fn mp4_file() -> NamedTempFile {
    tempfile::Builder::new()
        .prefix("porchlight-clip-")
        .suffix(".mp4")
        .tempfile()
        .unwrap()
}

/// A clip the recorder cut, written to a file as the hub writes it.
#[derive(Debug)]
struct RecordedClip {
    info: ClipInfo,
    summary: ClipSummary,
    file: NamedTempFile,
}

/// Feeds `frames` frames of the synthetic camera through a recorder, calling `event` before
/// each frame is pushed (with the frame) to trigger events, and writes every clip to its own
/// file. Flushes the recorder at the end.
fn record(
    config: RecorderConfig,
    frames: usize,
    mut event: impl FnMut(usize, &Frame) -> Option<EventKind>,
) -> Vec<RecordedClip> {
    let mut camera = SyntheticCamera::new(FPS).unwrap();
    let params = camera.params().clone();
    let mut recorder = Recorder::new(config);
    let mut open: Option<(ClipWriter<BufWriter<File>>, NamedTempFile)> = None;
    let mut clips = Vec::new();
    for i in 0..frames {
        let frame = camera.next().unwrap();
        let kind = event(i, &frame);
        let mut outputs = recorder.push(frame).unwrap();
        if let Some(kind) = kind {
            outputs.extend(recorder.trigger(kind));
        }
        handle(outputs, &params, &mut open, &mut clips);
    }
    handle(recorder.flush(), &params, &mut open, &mut clips);
    assert!(open.is_none());
    clips
}

fn handle(
    outputs: Vec<RecorderOutput>,
    params: &VideoParams,
    open: &mut Option<(ClipWriter<BufWriter<File>>, NamedTempFile)>,
    clips: &mut Vec<RecordedClip>,
) {
    for output in outputs {
        match output {
            RecorderOutput::Start(_) => {
                assert!(open.is_none());
                let file = mp4_file();
                let out = BufWriter::new(file.reopen().unwrap());
                *open = Some((ClipWriter::new(out, params).unwrap(), file));
            }
            RecorderOutput::Frame(frame) => open.as_mut().unwrap().0.push(frame).unwrap(),
            RecorderOutput::End(info) => {
                let (writer, file) = open.take().unwrap();
                let summary = writer.finish_at(info.end_pts).unwrap();
                clips.push(RecordedClip {
                    info,
                    summary,
                    file,
                });
            }
        }
    }
}

/// Checks a recorder's clip against what the recorder and the writer said about it.
fn check_recorded_clip(clip: &RecordedClip) -> Probe {
    assert_eq!(clip.summary.frames, clip.info.frames);
    assert_eq!(
        clip.summary.duration_90k,
        u64::try_from(clip.info.duration_90k()).unwrap()
    );
    let bytes = std::fs::read(clip.file.path()).unwrap();
    assert_eq!(bytes.len() as u64, clip.summary.bytes_written);
    check_nothing_about_the_recording(&bytes);
    check_with_ffmpeg(
        clip.file.path(),
        clip.summary.duration_90k,
        clip.summary.frames,
    )
}

fn recorder_config(max_clip: Duration) -> RecorderConfig {
    RecorderConfig {
        pre_roll: PRE_ROLL,
        post_roll: POST_ROLL,
        max_clip,
    }
}

#[test]
fn clip_writer_output_plays_in_ffmpeg() {
    require_tools!();
    let camera = SyntheticCamera::new(FPS).unwrap();
    let params = camera.params().clone();
    let file = mp4_file();
    let mut writer = ClipWriter::new(BufWriter::new(file.reopen().unwrap()), &params).unwrap();
    // 4 s: the still half and one second of movement, four fragments.
    for frame in camera.take(4 * FPS as usize) {
        writer.push(frame).unwrap();
    }
    let summary = writer.finish().unwrap();
    assert_eq!(summary.frames, 60);
    assert_eq!(summary.fragments, 4);
    assert_eq!(summary.duration_90k, 4 * u64::from(TIMESCALE));

    let bytes = std::fs::read(file.path()).unwrap();
    assert_eq!(bytes.len() as u64, summary.bytes_written);
    check_nothing_about_the_recording(&bytes);
    let probe = check_with_ffmpeg(file.path(), summary.duration_90k, summary.frames);
    assert_eq!(probe.frames, 60);
}

#[test]
fn recorder_clip_plays_in_ffmpeg() {
    require_tools!();
    // The motion detector, watching the camera, makes the event: the sample starts moving at
    // 3 s. 8 s of video leaves the whole post-roll before the moving part of the next loop.
    let mut detector = MotionDetector::new(MotionConfig::default());
    let mut motion_at = None;
    let clips = record(
        recorder_config(Duration::from_secs(60)),
        8 * FPS as usize,
        |i, f| {
            let event = detector.observe(f).map(|_| EventKind::Motion);
            if event.is_some() {
                motion_at.get_or_insert(i);
            }
            event
        },
    );
    assert!(motion_at.is_some_and(|i| i >= 45), "{motion_at:?}");
    assert_eq!(clips.len(), 1, "{clips:?}");
    let clip = &clips[0];
    assert_eq!(clip.info.ended_by, ClipEnd::PostRoll);
    assert_eq!(clip.info.events.len(), 1);
    assert_eq!(clip.info.events[0].kind, EventKind::Motion);
    let at_least = PRE_ROLL + POST_ROLL;
    assert!(
        clip.info.duration() >= at_least,
        "{:?}",
        clip.info.duration()
    );

    let probe = check_recorded_clip(clip);
    assert!(probe.duration_s >= at_least.as_secs_f64() - DURATION_TOLERANCE_S);
    assert_eq!(probe.frames, clip.info.frames);
}

#[test]
fn a_clip_cut_at_max_clip_continues_and_both_play() {
    require_tools!();
    // Events every second from 3 s to 11 s: longer than the 4 s a clip may last.
    let clips = record(
        recorder_config(Duration::from_secs(4)),
        20 * FPS as usize,
        |i, _| ((45..=165).contains(&i) && i % 15 == 0).then_some(EventKind::Doorbell),
    );
    assert!(clips.len() >= 2, "{clips:?}");
    assert_eq!(clips[0].info.ended_by, ClipEnd::MaxClip);
    assert!(!clips[0].info.continues);
    assert!(clips[1].info.continues);
    assert_eq!(clips[1].info.start_pts, clips[0].info.end_pts);
    for pair in clips.windows(2) {
        assert_eq!(pair[0].info.ended_by, ClipEnd::MaxClip);
        assert!(pair[1].info.continues);
        assert_eq!(pair[1].info.start_pts, pair[0].info.end_pts, "seamless");
    }
    assert_eq!(clips.last().unwrap().info.ended_by, ClipEnd::PostRoll);
    for clip in &clips {
        check_recorded_clip(clip);
    }
}

#[test]
fn the_metadata_box_after_moov_plays_and_reads_back() {
    require_tools!();
    let clips = record(
        recorder_config(Duration::from_secs(60)),
        8 * FPS as usize,
        |i, _| {
            [(45, EventKind::Doorbell), (60, EventKind::Motion)]
                .into_iter()
                .find_map(|(at, kind)| (at == i).then_some(kind))
        },
    );
    assert_eq!(clips.len(), 1);
    let clip = &clips[0];
    let events: Vec<Value> = clip
        .info
        .events
        .iter()
        .map(|e| json!({ "kind": e.kind.as_str(), "offset_ms": e.offset_90k / 90 }))
        .collect();
    let metadata = serde_json::to_vec(&json!({ "version": 1, "events": events })).unwrap();

    // As the hub seals it: the init segment, the metadata box, the fragments.
    let recording = std::fs::read(clip.file.path()).unwrap();
    let params = SyntheticCamera::new(FPS).unwrap().params().clone();
    let init_len = init_segment(&params).unwrap().len();
    let sealed_plaintext = [
        &recording[..init_len],
        &metadata_box(&metadata).unwrap(),
        &recording[init_len..],
    ]
    .concat();
    let file = mp4_file();
    std::fs::write(file.path(), &sealed_plaintext).unwrap();

    let top: Vec<String> = boxes::top_level(&sealed_plaintext)
        .take(4)
        .map(|b| b.unwrap().kind_str())
        .collect();
    assert_eq!(top, ["ftyp", "moov", "uuid", "moof"]);
    let uuid = &boxes::find(&sealed_plaintext, b"uuid").unwrap()[0];
    let user_type_at = usize::try_from(uuid.body_offset).unwrap() - 16;
    assert_eq!(
        &sealed_plaintext[user_type_at..user_type_at + 16],
        &METADATA_UUID
    );
    check_nothing_about_the_recording(&sealed_plaintext);
    check_with_ffmpeg(file.path(), clip.summary.duration_90k, clip.summary.frames);

    assert_eq!(
        read_metadata(&sealed_plaintext).unwrap(),
        Some(metadata.clone())
    );
    // The first 64 KiB are enough: the box comes before any media.
    let start = &sealed_plaintext[..64 * 1024];
    let found: Value = serde_json::from_slice(&read_metadata(start).unwrap().unwrap()).unwrap();
    assert_eq!(found["events"][0]["kind"], "doorbell");
    assert_eq!(found["events"][1]["kind"], "motion");
    assert_eq!(read_metadata(&recording).unwrap(), None);

    // A remux by ffmpeg keeps the video and drops the box: no tool carries it further.
    let remuxed = mp4_file();
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(file.path())
        .args(["-c", "copy", "-f", "mp4"])
        .arg(remuxed.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let remuxed = std::fs::read(remuxed.path()).unwrap();
    assert!(boxes::find(&remuxed, b"uuid").unwrap().is_empty());
    assert_eq!(read_metadata(&remuxed).unwrap(), None);
}
