//! The shortcuts exports take must never show a wrong frame: `frames`
//! encodes a screen once and writes its bytes under every frame that
//! repeats it, and video exports convert colour only for the rows that
//! changed since the previous picture. A synthetic recording changes one
//! pixel, one odd row, scrolls with CopyRect, moves a drawn cursor, shrinks
//! and grows the screen and ends with two updates between frame times;
//! every PNG must equal the sampler's screen at its frame time, and every
//! picture of a lossless video (--crf 0) must equal the from-scratch
//! yuv420p conversion of the screen it shows.

mod common;

use ffmpeg::{codec, format, media};
use ffmpeg_next as ffmpeg;
use rfbplay::container::FbWriter;
use rfbplay::export::{ExportError, Exporter};
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use rfbplay::rfb::encode::UpdateBuilder;
use rfbplay::rfb::Rect;
use rfbplay::synth::pattern;
use rfbplay::timeline::{Frame, Sampling};
use rfbplay::wire::Encoding;
use rfbplay::Framebuffer;
use std::path::{Path, PathBuf};
use std::process::Command;

const W: u16 = 64;
const H: u16 = 48;

/// The recording described above, at 10 frames a second.
fn recording(dir: &Path) -> PathBuf {
    let mut updates: Vec<(f64, Vec<u8>)> = Vec::new();
    let mut u = UpdateBuilder::new();
    u.desktop_size(W, H);
    u.raw(Rect::new(0, 0, W, H), &pattern(1, W, H));
    updates.push((0.0, u.finish()));
    // One pixel of row 17 (an odd row: the second of its pair).
    let mut u = UpdateBuilder::new();
    u.raw(Rect::new(5, 17, 1, 1), &[9, 200, 40, 0]);
    updates.push((0.15, u.finish()));
    // A scroll: rows 16..48 move up by 8.
    let mut u = UpdateBuilder::new();
    u.copy_rect(Rect::new(0, 8, W, 32), 0, 16);
    updates.push((0.25, u.finish()));
    // A cursor shape and its position: drawn with --cursor.
    let mut u = UpdateBuilder::new();
    let shape: Vec<u8> = (0..16).flat_map(|i| [250, i * 10, 20, 0]).collect();
    u.cursor(
        (1, 1),
        4,
        4,
        &shape,
        &[0b1111_0000, 0b0110_0000, 0b1111_0000, 0b1001_0000],
    );
    u.header(Rect::new(10, 10, 0, 0), Encoding::POINTER_POS);
    updates.push((0.35, u.finish()));
    // Only the pointer moves.
    let mut u = UpdateBuilder::new();
    u.header(Rect::new(30, 33, 0, 0), Encoding::POINTER_POS);
    updates.push((0.45, u.finish()));
    // The screen shrinks, then grows back with new pixels at the bottom.
    let mut u = UpdateBuilder::new();
    u.desktop_size(32, 24);
    updates.push((0.55, u.finish()));
    let mut u = UpdateBuilder::new();
    u.desktop_size(W, H);
    u.raw(Rect::new(0, 40, W, 8), &pattern(7, W, 8));
    updates.push((0.65, u.finish()));
    // The last row alone.
    let mut u = UpdateBuilder::new();
    u.raw(Rect::new(63, 47, 1, 1), &[1, 2, 3, 0]);
    updates.push((0.75, u.finish()));
    // Two updates after the last frame time but one: the video's last
    // picture replaces the frame showing the first of them.
    let mut u = UpdateBuilder::new();
    u.raw(Rect::new(0, 30, 8, 1), &[77; 32]);
    updates.push((0.85, u.finish()));
    let mut u = UpdateBuilder::new();
    u.raw(Rect::new(0, 2, 8, 1), &[33; 32]);
    updates.push((0.95, u.finish()));

    let path = dir.join("shortcuts.fb");
    let mut writer = FbWriter::new(std::fs::File::create(&path).unwrap(), 1);
    for (t, bytes) in &updates {
        writer.chunk((t * 1e9) as u64, bytes).unwrap();
    }
    writer.finish().unwrap();
    path
}

/// Every sampled frame's screen, taken without content hints, and the
/// screen at the recording's end.
#[derive(Default)]
struct Screens {
    frames: Vec<(u64, Framebuffer)>,
    last: Option<Framebuffer>,
}

impl Exporter for Screens {
    fn frame(&mut self, f: &Frame<'_>) -> Result<(), ExportError> {
        self.frames.push((f.index, f.screen.clone()));
        Ok(())
    }
    fn recording_end(
        &mut self,
        _: rfbplay::Time,
        screen: &Framebuffer,
        _: u64,
    ) -> Result<(), ExportError> {
        self.last = Some(screen.clone());
        Ok(())
    }
    fn finish(&mut self) -> Result<(), ExportError> {
        Ok(())
    }
    fn frames_written(&self) -> u64 {
        self.frames.len() as u64
    }
}

fn screens(path: &Path) -> Screens {
    let options = PlayOptions {
        draw_cursor: true,
        ..Default::default()
    };
    let mut player = Player::open(path, options).unwrap();
    let mut screens = Screens::default();
    let report = rfbplay::export::run(&mut player, Sampling::default(), &mut screens, &NoProgress);
    assert!(report.output_error.is_none());
    assert!(report.summary.error.is_none());
    screens
}

fn rfbplay(args: &[&str]) {
    let out = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(args)
        .output()
        .expect("running rfbplay");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "rfbplay {args:?} failed: {stderr}");
}

#[test]
fn every_png_of_a_sequence_is_its_own_frame() {
    let dir = common::TempDir::new("shortcuts-png");
    let input = recording(dir.path());
    let out = dir.path().join("frames");
    rfbplay(&[
        "frames",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--cursor",
    ]);
    let want = screens(&input);
    assert_eq!(want.frames.len(), 10, "frames 0 to 9");
    let mut distinct = std::collections::HashSet::new();
    for (k, fb) in &want.frames {
        let path = out.join(format!("frame_{k:06}.png"));
        let (w, h, rgb) = common::read_rgb(&path);
        assert_eq!((w, h), (fb.width(), fb.height()), "frame {k} size");
        assert!(
            rgb == fb.to_rgb(),
            "frame {k} differs from the screen at its time"
        );
        distinct.insert(rgb);
    }
    assert!(distinct.len() >= 8, "{} distinct frames", distinct.len());
    let files = std::fs::read_dir(&out).unwrap().count();
    assert_eq!(files, want.frames.len(), "one file per frame, nothing else");
}

/// Every decoded picture of a video as its pts (in frames) and its
/// yuv420p planes back to back.
fn decode_yuv(path: &Path) -> Vec<(i64, Vec<u8>)> {
    ffmpeg::init().unwrap();
    let mut ictx = format::input(&path).unwrap();
    let stream = ictx.streams().best(media::Type::Video).unwrap();
    let (index, tb) = (stream.index(), f64::from(stream.time_base()));
    let mut decoder = codec::context::Context::from_parameters(stream.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let mut out = Vec::new();
    let mut take = |decoder: &mut ffmpeg::decoder::Video| {
        let mut frame = ffmpeg::frame::Video::empty();
        while decoder.receive_frame(&mut frame).is_ok() {
            assert_eq!(frame.format(), format::Pixel::YUV420P);
            let (w, h) = (frame.width() as usize, frame.height() as usize);
            let mut planes = Vec::new();
            for (plane, (pw, ph)) in [(w, h), (w / 2, h / 2), (w / 2, h / 2)]
                .into_iter()
                .enumerate()
            {
                let stride = frame.stride(plane);
                for y in 0..ph {
                    planes.extend_from_slice(&frame.data(plane)[y * stride..][..pw]);
                }
            }
            let t = frame.timestamp().or(frame.pts()).unwrap_or(0) as f64 * tb;
            out.push(((t * 10.0).round() as i64, planes));
        }
    };
    for (s, packet) in ictx.packets() {
        if s.index() == index {
            decoder.send_packet(&packet).unwrap();
            take(&mut decoder);
        }
    }
    decoder.send_eof().unwrap();
    take(&mut decoder);
    out
}

/// `fb` top-left on a black `W` x `H` canvas, as B, G, R, X.
fn canvas(fb: &Framebuffer) -> Vec<u8> {
    let mut px = vec![0u8; usize::from(W) * usize::from(H) * 4];
    let (cols, rows) = (fb.width().min(W.into()), fb.height().min(H.into()));
    for y in 0..rows {
        let at = y as usize * usize::from(W) * 4;
        px[at..at + cols as usize * 4].copy_from_slice(fb.row(0, y, cols));
    }
    px
}

#[test]
fn every_picture_of_a_lossless_video_is_its_whole_screen_converted() {
    let dir = common::TempDir::new("shortcuts-video");
    let input = recording(dir.path());
    let out = dir.path().join("lossless.mp4");
    rfbplay(&[
        "export",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--cursor",
        "--crf",
        "0",
        "-q",
    ]);
    let want = screens(&input);
    let video = decode_yuv(&out);
    assert!(video.len() >= 8, "{} pictures", video.len());
    let last_pts = video.iter().map(|(pts, _)| *pts).max().unwrap();
    for (pts, planes) in &video {
        // The last picture shows the recording's final screen (see
        // `VideoExporter::finish`); the others the frame at their time.
        let fb = if *pts == last_pts {
            want.last.as_ref().unwrap()
        } else {
            &want
                .frames
                .iter()
                .find(|(k, _)| *k as i64 == *pts)
                .unwrap()
                .1
        };
        let expected = rfbplay::export::video::yuv420_of(&canvas(fb), W.into(), H.into());
        let wrong_rows: Vec<usize> = (0..usize::from(H))
            .filter(|&y| {
                let row = &planes[y * usize::from(W)..][..usize::from(W)];
                row != &expected[y * usize::from(W)..][..usize::from(W)]
            })
            .collect();
        assert!(
            wrong_rows.is_empty(),
            "picture {pts}: luma rows {wrong_rows:?} differ"
        );
        assert!(planes == &expected, "picture {pts}: chroma differs");
    }
}
