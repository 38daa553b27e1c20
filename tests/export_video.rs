//! Video export end to end: recordings go through `rfbplay export` (the
//! binary, so exit codes and messages are covered too) and the files are
//! read back with ffmpeg-next: codec, pixel format, size, duration against
//! the recording's, and the last picture against the recording's last
//! screen. Synthetic recordings (odd sizes, damage) are written here with
//! the library's own FbWriter.

mod common;

use ffmpeg::{codec, format, media, software::scaling};
use ffmpeg_next as ffmpeg;
use rfbplay::container::FbWriter;
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use rfbplay::Framebuffer;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a video file holds, as a player sees it.
struct Probe {
    codec: codec::Id,
    pixel: format::Pixel,
    width: u32,
    height: u32,
    /// End of the last packet, in seconds.
    duration: f64,
    packets: usize,
    /// Times of keyframes, in seconds.
    keys: Vec<f64>,
    /// The last decoded picture as RGB.
    last: Vec<u8>,
}

fn probe(path: &Path) -> Probe {
    ffmpeg::init().unwrap();
    let mut ictx = format::input(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stream = ictx
        .streams()
        .best(media::Type::Video)
        .expect("a video stream");
    let index = stream.index();
    let tb = f64::from(stream.time_base());
    let mut decoder = codec::context::Context::from_parameters(stream.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let mut end = 0i64;
    let mut packets = 0;
    let mut keys = vec![];
    let mut last = None;
    let mut frame = ffmpeg::frame::Video::empty();
    let mut take = |decoder: &mut ffmpeg::decoder::Video,
                    last: &mut Option<ffmpeg::frame::Video>| {
        while decoder.receive_frame(&mut frame).is_ok() {
            *last = Some(frame.clone());
        }
    };
    for (s, packet) in ictx.packets() {
        if s.index() != index {
            continue;
        }
        packets += 1;
        if packet.is_key() {
            keys.push(packet.pts().unwrap_or(0) as f64 * tb);
        }
        end = end.max(packet.pts().or(packet.dts()).unwrap_or(0) + packet.duration());
        decoder.send_packet(&packet).unwrap();
        take(&mut decoder, &mut last);
    }
    decoder.send_eof().unwrap();
    take(&mut decoder, &mut last);
    // Matroska stores no packet durations: its segment duration says
    // how long the last frame lasts.
    let container = ictx.duration() as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE);
    let end = (end as f64 * tb).max(container);
    let last = last.expect("at least one decoded frame");
    let (w, h) = (decoder.width(), decoder.height());
    let mut rgb = ffmpeg::frame::Video::empty();
    scaling::Context::get(
        last.format(),
        w,
        h,
        format::Pixel::RGB24,
        w,
        h,
        scaling::Flags::BICUBIC,
    )
    .unwrap()
    .run(&last, &mut rgb)
    .unwrap();
    let stride = rgb.stride(0);
    let mut pixels = Vec::with_capacity(w as usize * h as usize * 3);
    for y in 0..h as usize {
        pixels.extend_from_slice(&rgb.data(0)[y * stride..y * stride + w as usize * 3]);
    }
    Probe {
        codec: decoder.id(),
        pixel: decoder.format(),
        width: w,
        height: h,
        duration: end,
        packets,
        keys,
        last: pixels,
    }
}

/// PSNR in dB of the top-left of `video` (RGB, `vw` wide) against `fb`.
fn psnr(video: &[u8], vw: u32, fb: &Framebuffer) -> f64 {
    let want = fb.to_rgb();
    let mut sum = 0f64;
    for y in 0..fb.height() as usize {
        let a = &video[y * vw as usize * 3..][..fb.width() as usize * 3];
        let b = &want[y * fb.width() as usize * 3..][..fb.width() as usize * 3];
        for (p, q) in a.iter().zip(b) {
            let d = f64::from(*p) - f64::from(*q);
            sum += d * d;
        }
    }
    let mse = sum / (fb.width() as f64 * fb.height() as f64 * 3.0);
    if mse == 0.0 {
        return 99.0;
    }
    10.0 * (255.0f64 * 255.0 / mse).log10()
}

/// The recording's duration and last screen.
fn recording_end(path: &Path) -> (f64, Framebuffer) {
    let mut player = Player::open(path, PlayOptions::default()).unwrap();
    let (fb, summary) = rfbplay::export::screen_at(&mut player, None, &NoProgress);
    (
        summary.last_update.expect("an update").as_secs_f64(),
        fb.expect("a screen"),
    )
}

fn rfbplay(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(args)
        .output()
        .expect("running rfbplay")
}

fn export(args: &[&str]) -> String {
    let out = rfbplay(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rfbplay {args:?} failed: {stderr}");
    stderr
}

/// Exports a corpus file to mp4 and checks what every player needs.
fn check_mp4(name: &str, extra: &[&str]) -> Option<Probe> {
    let corpus = common::corpus()?;
    let input = corpus.join(format!("{name}.fb"));
    let dir = common::TempDir::new("video");
    let out = dir.path().join(format!("{name}.mp4"));
    let mut args = vec![input.to_str().unwrap(), out.to_str().unwrap()];
    args.extend_from_slice(extra);
    export(&args);
    let p = probe(&out);
    let (duration, last) = recording_end(&input);
    assert_eq!(p.codec, codec::Id::H264);
    assert_eq!(p.pixel, format::Pixel::YUV420P);
    assert!(
        p.width.is_multiple_of(2) && p.height.is_multiple_of(2),
        "{}x{}",
        p.width,
        p.height
    );
    assert!(
        (p.duration - duration).abs() <= 0.1 + 1e-6,
        "{name}: video lasts {} s, recording {duration} s",
        p.duration
    );
    let db = psnr(&p.last, p.width, &last);
    assert!(db >= 35.0, "{name}: last frame PSNR {db:.1} dB");
    Some(p)
}

#[test]
fn incremental_recording_makes_a_playable_mp4() {
    let Some(p) = check_mp4("enc_xvnc_copyrect_raw", &[]) else {
        return;
    };
    assert_eq!((p.width, p.height), (1024, 768));
    // 42 updates over 11 s at 10 fps: only changed frames are encoded.
    assert!(p.packets < 111, "{} packets", p.packets);
}

#[test]
fn minimega_recording_with_bells_exports_whole() {
    check_mp4("mm_xvnc_bell", &[]);
}

#[test]
fn resolution_changes_export_at_the_largest_size() {
    if let Some(p) = check_mp4("mm_qemu_modes", &[]) {
        assert_eq!((p.width, p.height), (1024, 768));
    }
}

/// A synthetic Raw recording: full-screen updates of `w`x`h` at the given
/// times (seconds), each a smooth picture that differs per update, then
/// optionally a byte no server sends (damage).
fn synthetic(dir: &Path, w: u16, h: u16, times: &[f64], damage: bool) -> PathBuf {
    let path = dir.join(format!("synthetic_{w}x{h}.fb"));
    let file = std::fs::File::create(&path).unwrap();
    let mut writer = FbWriter::new(file, 1);
    for (i, t) in times.iter().enumerate() {
        let mut msg = vec![0u8, 0, 0, 1];
        for v in [0u16, 0, w, h] {
            msg.extend_from_slice(&v.to_be_bytes());
        }
        msg.extend_from_slice(&0i32.to_be_bytes());
        for y in 0..u32::from(h) {
            for x in 0..u32::from(w) {
                let shade = ((x / 8 + y / 8 + i as u32 * 7) % 32 * 8) as u8;
                msg.extend_from_slice(&[shade, (y / 3) as u8, (i * 80) as u8, 0]);
            }
        }
        let at = (t * 1e9) as u64;
        for piece in msg.chunks(4096) {
            writer.chunk(at, piece).unwrap();
        }
    }
    if damage {
        let last = times.last().copied().unwrap_or(0.0);
        writer.chunk(((last + 0.5) * 1e9) as u64, &[0x7f]).unwrap();
    }
    writer.finish().unwrap();
    path
}

#[test]
fn odd_sized_screens_are_padded_to_even() {
    let dir = common::TempDir::new("odd");
    let input = synthetic(dir.path(), 969, 729, &[0.0, 0.5, 1.23], false);
    let out = dir.path().join("odd.mp4");
    export(&[input.to_str().unwrap(), out.to_str().unwrap()]);
    let p = probe(&out);
    let (duration, last) = recording_end(&input);
    assert_eq!((p.width, p.height), (970, 730));
    assert_eq!(p.codec, codec::Id::H264);
    // Frames 0..=12: three distinct pictures, the last one lasting to 1.3 s.
    assert_eq!(p.packets, 3);
    assert!((p.duration - 1.3).abs() < 1e-6, "{}", p.duration);
    assert!((p.duration - duration).abs() <= 0.1);
    let db = psnr(&p.last, p.width, &last);
    assert!(db >= 35.0, "PSNR {db:.1} dB");
}

#[test]
fn constant_rate_repeats_frames_and_keeps_the_duration() {
    let dir = common::TempDir::new("cfr");
    let input = synthetic(dir.path(), 64, 48, &[0.0, 0.5, 1.23], false);
    let out = dir.path().join("cfr.mkv");
    export(&[input.to_str().unwrap(), out.to_str().unwrap(), "--cfr"]);
    let p = probe(&out);
    assert_eq!(p.packets, 13);
    assert!((p.duration - 1.3).abs() < 1e-3, "{}", p.duration);
}

#[test]
fn damaged_recording_keeps_what_came_before_and_fails() {
    let dir = common::TempDir::new("damage");
    let input = synthetic(dir.path(), 64, 48, &[0.0, 1.0], true);
    let out = dir.path().join("damaged.mp4");
    let run = rfbplay(&["export", input.to_str().unwrap(), out.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "damage must fail: {stderr}");
    assert!(stderr.contains("unknown server message type"), "{stderr}");
    let p = probe(&out);
    assert_eq!(p.packets, 2);
    assert!((p.duration - 1.1).abs() < 1e-6, "{}", p.duration);
}

#[test]
fn other_containers_get_their_codecs() {
    let dir = common::TempDir::new("formats");
    let input = synthetic(dir.path(), 97, 61, &[0.0, 0.3, 0.6], false);
    for (ext, codec) in [
        ("webm", codec::Id::VP9),
        ("gif", codec::Id::GIF),
        ("avi", codec::Id::MJPEG),
        ("mov", codec::Id::H264),
    ] {
        let out = dir.path().join(format!("out.{ext}"));
        export(&[input.to_str().unwrap(), out.to_str().unwrap()]);
        let p = probe(&out);
        assert_eq!(p.codec, codec, "{ext}");
        assert!(
            p.duration > 0.6 && p.duration <= 0.75,
            "{ext}: {}",
            p.duration
        );
    }
    let bad = rfbplay(&[
        "export",
        input.to_str().unwrap(),
        dir.path().join("out.xyz").to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("mp4, mkv, mov, webm, gif, avi"), "{stderr}");
}

#[test]
fn scale_size_speed_and_range_options() {
    let dir = common::TempDir::new("options");
    let input = synthetic(dir.path(), 969, 729, &[0.0, 1.0, 2.0, 3.0], false);
    let i = input.to_str().unwrap();
    let out = dir.path().join("o.mp4");
    let o = out.to_str().unwrap();
    export(&["export", i, o, "--scale", "0.5"]);
    let p = probe(&out);
    assert_eq!((p.width, p.height), (486, 366));
    export(&["export", i, o, "--size", "640x480"]);
    assert_eq!((probe(&out).width, probe(&out).height), (640, 480));
    export(&["export", i, o, "--speed", "2"]);
    assert!((probe(&out).duration - 1.6).abs() < 1e-6);
    export(&["export", i, o, "--from", "1", "--to", "2.5"]);
    // Frames 10..=25 of the recording.
    assert!((probe(&out).duration - 1.6).abs() < 1e-6);
}

#[test]
fn still_stretches_get_a_keyframe_every_ten_seconds() {
    let dir = common::TempDir::new("keys");
    let input = synthetic(dir.path(), 64, 48, &[0.0, 25.0], false);
    let out = dir.path().join("keys.mp4");
    export(&[input.to_str().unwrap(), out.to_str().unwrap()]);
    let p = probe(&out);
    assert!((p.duration - 25.1).abs() < 1e-6, "{}", p.duration);
    let mut keys = p.keys.clone();
    keys.push(p.duration);
    assert!(
        keys.windows(2).all(|w| w[1] - w[0] <= 10.0 + 1e-6),
        "keyframes at {:?}",
        p.keys
    );
}

/// A Raw recording of full-screen pictures (R, G, B rows of `w`x`h`) at
/// the given times (seconds).
fn recording_of(path: &Path, w: u16, h: u16, pictures: &[(f64, Vec<[u8; 3]>)]) {
    let file = std::fs::File::create(path).unwrap();
    let mut writer = FbWriter::new(file, 1);
    for (t, rgb) in pictures {
        let mut msg = vec![0u8, 0, 0, 1];
        for v in [0u16, 0, w, h] {
            msg.extend_from_slice(&v.to_be_bytes());
        }
        msg.extend_from_slice(&0i32.to_be_bytes());
        for &[r, g, b] in rgb {
            msg.extend_from_slice(&[b, g, r, 0]);
        }
        for piece in msg.chunks(4096) {
            writer.chunk((t * 1e9) as u64, piece).unwrap();
        }
    }
    writer.finish().unwrap();
}

/// A desktop: grey background, a window with a 1-pixel black border, a
/// navy title bar, a white inside with yellow and red "text" that moves.
fn desktop(w: usize, h: usize, step: usize) -> Vec<[u8; 3]> {
    let mut px = vec![[192u8, 192, 192]; w * h];
    let (x0, y0, x1, y1) = (20, 15, w - 30, h - 20);
    for y in y0..=y1 {
        for x in x0..=x1 {
            let border = x == x0 || x == x1 || y == y0 || y == y1;
            px[y * w + x] = if border {
                [0, 0, 0]
            } else if y < y0 + 12 {
                [0, 0, 128]
            } else {
                [255, 255, 255]
            };
        }
    }
    for i in 0..40 {
        let (x, y) = (
            x0 + 5 + (i * 7 + step * 11) % (x1 - x0 - 10),
            y0 + 20 + i % 9,
        );
        px[y * w + x] = if i % 3 == 0 {
            [255, 255, 0]
        } else {
            [200, 0, 0]
        };
    }
    px
}

/// Every decoded frame of a video, with its time in seconds, as RGB.
fn decode_all(path: &Path) -> Vec<(f64, Vec<u8>)> {
    ffmpeg::init().unwrap();
    let mut ictx = format::input(&path).unwrap();
    let stream = ictx.streams().best(media::Type::Video).unwrap();
    let (index, tb) = (stream.index(), f64::from(stream.time_base()));
    let mut decoder = codec::context::Context::from_parameters(stream.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let mut frames = vec![];
    let mut take = |decoder: &mut ffmpeg::decoder::Video| {
        let mut frame = ffmpeg::frame::Video::empty();
        while decoder.receive_frame(&mut frame).is_ok() {
            let (w, h) = (frame.width(), frame.height());
            let mut rgb = ffmpeg::frame::Video::empty();
            scaling::Context::get(
                frame.format(),
                w,
                h,
                format::Pixel::RGB24,
                w,
                h,
                scaling::Flags::POINT,
            )
            .unwrap()
            .run(&frame, &mut rgb)
            .unwrap();
            let stride = rgb.stride(0);
            let pixels = (0..h as usize)
                .flat_map(|y| rgb.data(0)[y * stride..][..w as usize * 3].to_vec())
                .collect();
            let t = frame.timestamp().or(frame.pts()).unwrap_or(0) as f64 * tb;
            frames.push((t, pixels));
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
    frames
}

/// Pixels of the top-left of `video` (RGB, `vw` wide) unlike `fb`'s.
fn differing(video: &[u8], vw: usize, fb: &Framebuffer) -> usize {
    let want = fb.to_rgb();
    let w = fb.width() as usize;
    (0..fb.height() as usize)
        .map(|y| {
            let a = &video[y * vw * 3..][..w * 3];
            let b = &want[y * w * 3..][..w * 3];
            a.chunks(3).zip(b.chunks(3)).filter(|(p, q)| p != q).count()
        })
        .sum()
}

#[test]
fn gif_frames_keep_screen_colours_exactly() {
    let dir = common::TempDir::new("gifcolours");
    let (w, h) = (160usize, 100usize);
    let times = [0.05, 0.42, 0.77, 1.23, 1.9];
    let pictures: Vec<_> = times
        .iter()
        .enumerate()
        .map(|(i, &t)| (t, desktop(w, h, i)))
        .collect();
    let input = dir.path().join("desktop.fb");
    recording_of(&input, w as u16, h as u16, &pictures);
    let out = dir.path().join("desktop.gif");
    export(&[input.to_str().unwrap(), out.to_str().unwrap()]);
    let frames = decode_all(&out);
    assert!(frames.len() >= times.len(), "{} frames", frames.len());
    for (t, rgb) in &frames {
        let mut player = Player::open(&input, PlayOptions::default()).unwrap();
        let at = rfbplay::Time::from_secs_f64(*t);
        let (fb, _) = rfbplay::export::screen_at(&mut player, Some(at), &NoProgress);
        let fb = fb.unwrap();
        let bad = differing(rgb, w, &fb);
        assert_eq!(bad, 0, "frame at {t} s: {bad} pixels differ");
    }
}

#[test]
fn gif_frames_with_many_colours_stay_close_and_keep_edges() {
    let dir = common::TempDir::new("gifgradient");
    let (w, h) = (160usize, 100usize);
    let mut rich = desktop(w, h, 0);
    // A 64x64 gradient (4096 colours) inside the window.
    for y in 0..64 {
        for x in 0..64 {
            rich[(y + 30) * w + x + 40] = [x as u8 * 4, y as u8 * 4, 100];
        }
    }
    let input = dir.path().join("rich.fb");
    recording_of(
        &input,
        w as u16,
        h as u16,
        &[(0.0, desktop(w, h, 1)), (0.5, rich)],
    );
    let out = dir.path().join("rich.gif");
    export(&[input.to_str().unwrap(), out.to_str().unwrap()]);
    let frames = decode_all(&out);
    let (_, last) = frames.last().expect("frames");
    let (_, fb) = recording_end(&input);
    let db = psnr(last, w as u32, &fb);
    assert!(db >= 35.0, "PSNR {db:.1} dB");
    // The window's black border is still black, one pixel wide.
    let at = |x: usize, y: usize| &last[(y * w + x) * 3..][..3];
    assert_eq!(at(20, 50), [0, 0, 0]);
    assert_eq!(at(21, 50), [255, 255, 255]);
    assert_eq!(at(19, 50), [192, 192, 192]);
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn each_limit_is_checked_once_while_parsing() {
    let dir = common::TempDir::new("limits");
    let input = synthetic(dir.path(), 64, 48, &[0.0, 0.5], false);
    let out = dir.path().join("o.mp4");
    let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
    let frames_dir = dir.path().join("pngs");
    for args in [
        vec!["export", i, o, "--fps", "1001"],
        vec!["export", i, o, "--fps", "1000"],
        vec!["export", i, o, "--fps", "0"],
        vec!["frames", i, frames_dir.to_str().unwrap(), "--fps", "1000"],
    ] {
        let run = rfbplay(&args);
        let stderr = stderr_of(&run);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("'--fps <FPS>': must be above 0 and at most 240"),
            "{args:?}: {stderr}"
        );
        assert!(
            !out.exists() && !frames_dir.exists(),
            "{args:?} made output"
        );
    }
    export(&["export", i, o, "--fps", "240"]);
    for (option, value, limit) in [
        ("--speed", "10001", "at most 10000"),
        ("--scale", "5", "at most 4"),
        ("--crf", "52", "0..=51"),
    ] {
        let stderr = stderr_of(&rfbplay(&["export", i, o, option, value]));
        assert!(stderr.contains(limit), "{option} {value}: {stderr}");
    }
    // A size out of range and an output whose name chooses no format are
    // usage errors too: exit 2, nothing made.
    let sized = dir.path().join("sized.mp4");
    let xyz = sized.with_extension("xyz");
    let bare = sized.with_extension("");
    for args in [
        vec!["export", i, sized.to_str().unwrap(), "--size", "0x0"],
        vec![
            "export",
            i,
            sized.to_str().unwrap(),
            "--size",
            "99999x99999",
        ],
        vec!["export", i, xyz.to_str().unwrap()],
        vec!["export", i, bare.to_str().unwrap()],
    ] {
        let run = rfbplay(&args);
        let stderr = stderr_of(&run);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("WxH within") || stderr.contains("extension"),
            "{args:?}: {stderr}"
        );
        assert!(
            !sized.exists() && !xyz.exists() && !bare.exists(),
            "{args:?} made output"
        );
    }
    let help = String::from_utf8_lossy(&rfbplay(&["export", "--help"]).stdout).into_owned();
    for said in [
        "at most 10000",
        "at most 4",
        "0 (lossless) to 51",
        "possible values: screen, ultrafast",
        "the smallest size that holds every screen",
        "-q, --quiet",
    ] {
        assert!(help.contains(said), "--help lacks {said:?}: {help}");
    }
}

#[test]
fn unknown_presets_are_refused_before_anything_is_made() {
    let dir = common::TempDir::new("preset");
    let input = synthetic(dir.path(), 64, 48, &[0.0, 0.5], false);
    let out = dir.path().join("o.mp4");
    let run = rfbplay(&[
        "export",
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--preset",
        "bogus",
    ]);
    let stderr = stderr_of(&run);
    assert_eq!(run.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("'bogus'"), "{stderr}");
    assert!(
        stderr.contains("screen, ultrafast, superfast, veryfast, faster, fast, medium, slow"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("Invalid argument") && !stderr.contains("x264"),
        "{stderr}"
    );
    assert!(!out.exists());
    // The library refuses it too, before creating the file.
    rfbplay::export::video::link_encoders();
    let options = rfbplay::export::video::VideoOptions {
        preset: "bogus".into(),
        ..Default::default()
    };
    let e = rfbplay::export::video::export_file(&input, &out, &options, &NoProgress)
        .err()
        .expect("refused");
    assert!(e.to_string().contains("valid: screen, ultrafast"), "{e}");
    assert!(!out.exists());
}

#[test]
fn a_cursor_that_cannot_be_drawn_is_reported_once() {
    let dir = common::TempDir::new("cursor");
    let input = synthetic(dir.path(), 64, 48, &[0.0, 0.5], false);
    let out = dir.path().join("o.mp4");
    let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
    let stderr = export(&["export", i, o, "--cursor"]);
    assert_eq!(
        stderr.matches("--cursor drew nothing").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("no cursor shape"), "{stderr}");
    assert!(!export(&["export", i, o]).contains("--cursor drew nothing"));
    assert!(export(&["export", i, o, "--cursor", "-q"]).is_empty());
    // TigerVNC sends a shape, and a position only when something other
    // than the recording client moves the pointer: never, here.
    let Some(corpus) = common::corpus() else {
        return;
    };
    let input = corpus.join("enc_xvnc_kb_cursor_zrle.fb");
    let stderr = export(&["export", input.to_str().unwrap(), o, "--cursor"]);
    let said = "--cursor drew nothing: this recording has a cursor shape but never tells \
                the pointer's position";
    assert_eq!(stderr.matches(said).count(), 1, "{stderr}");
}

#[test]
fn quiet_prints_only_errors() {
    let dir = common::TempDir::new("quiet");
    let whole = synthetic(dir.path(), 64, 48, &[0.0, 0.5, 1.0], false);
    // Cut like minimega's files: the gzip stream stops inside an update.
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.path().join("cut.fb");
    std::fs::write(&cut, &bytes[..bytes.len() - 3000]).unwrap();
    let out = dir.path().join("o.mp4");
    let (c, o) = (cut.to_str().unwrap(), out.to_str().unwrap());
    let loud = export(&["export", c, o]);
    assert!(
        loud.contains("warning:") && loud.contains("truncated"),
        "{loud}"
    );
    assert!(loud.contains("rfbplay: wrote"), "{loud}");
    assert_eq!(export(&["export", c, o, "--quiet"]), "");
    assert_eq!(export(&["export", c, o, "-q"]), "");
    assert!(probe(&out).packets >= 1);
    let damaged = synthetic(dir.path(), 32, 16, &[0.0, 1.0], true);
    let run = rfbplay(&["export", "-q", damaged.to_str().unwrap(), o]);
    let stderr = stderr_of(&run);
    assert!(!run.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("error:"), "{stderr}");
}

#[test]
fn export_errors_say_their_cause_once() {
    let dir = common::TempDir::new("errors");
    let input = synthetic(dir.path(), 64, 48, &[0.0, 1.0], false);
    let damaged = synthetic(dir.path(), 32, 16, &[0.0, 1.0], true);
    let garbage = dir.path().join("garbage.fb");
    std::fs::write(&garbage, b"this is not a recording at all").unwrap();
    let i = input.to_str().unwrap();
    let nowhere = dir.path().join("no/such/dir");
    let o = |name: &str| nowhere.join(name).to_str().unwrap().to_string();
    let here = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    for (args, cause) in [
        (
            vec![i.to_string(), here("o.xyz")],
            "unknown video extension",
        ),
        (
            vec![i.to_string(), here("o")],
            "give the output an extension",
        ),
        (vec![i.to_string(), o("o.mp4")], "No such file or directory"),
        (vec![i.to_string(), o("o.gif")], "No such file or directory"),
        (
            vec![garbage.to_str().unwrap().into(), here("g.mp4")],
            "not a recording",
        ),
        (
            vec![damaged.to_str().unwrap().into(), here("d.mp4")],
            "unknown server message type",
        ),
        (
            vec![here("missing.fb"), here("m.mp4")],
            "No such file or directory",
        ),
    ] {
        let mut all = vec!["export".to_string()];
        all.extend(args);
        let run = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
            .args(&all)
            .output()
            .unwrap();
        let stderr = stderr_of(&run);
        assert!(!run.status.success(), "{all:?}");
        assert_eq!(stderr.matches(cause).count(), 1, "{all:?}: {stderr}");
        let out = all.last().unwrap();
        assert!(
            stderr.matches(out.as_str()).count() <= 1,
            "{all:?}: {stderr}"
        );
    }
}

/// Runs `rfbplay ARGS` on a pseudo-terminal 200 columns wide (util-linux
/// `script`), returning what it drew.
fn on_terminal(args: &[&str]) -> Option<String> {
    let script = common::tool("script")?;
    let bin = env!("CARGO_BIN_EXE_rfbplay");
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    let command = format!("stty cols 200 rows 50; '{bin}' {}", quoted.join(" "));
    let out = Command::new(script)
        .args(["-qfec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The lines a terminal showed, escape sequences removed.
fn terminal_lines(raw: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            // CSI: ESC [ parameters final-byte
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        plain.push(c);
    }
    plain
        .split(['\r', '\n'])
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_progress_bar_fits_80_columns_and_starts_at_0() {
    let dir = common::TempDir::new("bar");
    let times: Vec<f64> = (0..40).map(|k| f64::from(k) * 0.25).collect();
    let input = synthetic(dir.path(), 320, 240, &times, false);
    let out = dir.path().join("o.mp4");
    let (i, o) = (input.to_str().unwrap(), out.to_str().unwrap());
    let Some(drawn) = on_terminal(&["export", i, o]) else {
        return;
    };
    let lines = terminal_lines(&drawn);
    let bars: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("encoding ["))
        .collect();
    assert!(!bars.is_empty(), "no bar drawn: {lines:?}");
    assert!(bars[0].contains("  0%"), "first bar: {:?}", bars[0]);
    // indicatif pads lines with spaces to clear the terminal's width.
    for l in &bars {
        let columns = l.trim_end().chars().count();
        assert!(columns <= 80, "{columns} columns: {l:?}");
    }
    // Not a terminal (as in every other test): no bar at all.
    assert!(!export(&["export", i, o]).contains("encoding ["));
    // --quiet: nothing, even on a terminal.
    let quiet = on_terminal(&["export", i, o, "-q"]).unwrap_or_default();
    assert!(terminal_lines(&quiet).is_empty(), "{quiet:?}");
}

/// Distinct colours of a screen.
fn colours(fb: &Framebuffer) -> usize {
    let rgb = fb.to_rgb();
    let set: std::collections::HashSet<&[u8]> = rgb.chunks(3).collect();
    set.len()
}

#[test]
fn gif_of_a_real_recording_matches_its_frames() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // Xvnc's desktop, with a photograph shown from 0.4 s on.
    let input = corpus.join("enc_xvnc_copyrect_raw.fb");
    let dir = common::TempDir::new("gifreal");
    let out = dir.path().join("real.gif");
    export(&[input.to_str().unwrap(), out.to_str().unwrap()]);
    let frames = decode_all(&out);
    assert!(frames.len() > 10, "{} frames", frames.len());
    let (end, _) = recording_end(&input);
    let (mut exact, mut close) = (0, 0);
    for (t, rgb) in frames.iter().filter(|(t, _)| *t <= end) {
        let mut player = Player::open(&input, PlayOptions::default()).unwrap();
        let at = rfbplay::Time::from_secs_f64(*t + 1e-6);
        let (fb, _) = rfbplay::export::screen_at(&mut player, Some(at), &NoProgress);
        let fb = fb.unwrap();
        let bad = differing(rgb, fb.width() as usize, &fb);
        if colours(&fb) <= 256 {
            // Screen content: every colour kept.
            assert_eq!(bad, 0, "frame at {t} s: {bad} pixels differ");
            exact += 1;
        } else {
            let db = psnr(rgb, fb.width(), &fb);
            assert!(db >= 37.0, "frame at {t} s: PSNR {db:.1} dB");
            close += 1;
        }
    }
    assert!(
        exact >= 2 && close >= 30,
        "{exact} exact frames, {close} close"
    );
}

#[test]
fn gif_at_high_frame_rates_keeps_its_length() {
    let dir = common::TempDir::new("giffps");
    // Changes 5 ms apart: browsers (and FFmpeg) play frames of less than
    // 2 centiseconds as 10.
    let times = [0.0, 0.005, 0.01, 0.015, 0.5, 0.505, 0.51, 1.0];
    let input = synthetic(dir.path(), 64, 48, &times, false);
    let out = dir.path().join("fast.gif");
    export(&[
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--fps",
        "240",
    ]);
    let p = probe(&out);
    // Frames 0..=240 at 240 fps.
    assert!((p.duration - 241.0 / 240.0).abs() <= 0.02, "{}", p.duration);
}

/// Checks each sampled frame against the video frame on screen at its
/// time, as it is delivered.
struct AgainstVideo<'a> {
    video: &'a [(f64, Vec<u8>)],
    width: u32,
    worst: f64,
    frames: u64,
}

impl rfbplay::export::Exporter for AgainstVideo<'_> {
    fn frame(
        &mut self,
        f: &rfbplay::timeline::Frame<'_>,
    ) -> Result<(), rfbplay::export::ExportError> {
        let t = f.time.as_secs_f64();
        // The last video frame that starts at or before t (half a
        // millisecond of rounding in the container's time base).
        let shown = self
            .video
            .iter()
            .rev()
            .find(|(vt, _)| *vt <= t + 0.0005)
            .unwrap_or(&self.video[0]);
        let p = psnr(&shown.1, self.width, f.screen);
        assert!(p >= 35.0, "frame {} at {t:.3}s: {p:.1} dB", f.index);
        self.worst = self.worst.min(p);
        self.frames += 1;
        Ok(())
    }
    fn finish(&mut self) -> Result<(), rfbplay::export::ExportError> {
        Ok(())
    }
    fn frames_written(&self) -> u64 {
        self.frames
    }
}

#[test]
fn every_video_frame_is_close_to_the_same_frame_of_frames() {
    // The video's frame at k/10 s against the sampler's frame k (what
    // `frames` writes), for every k, on the real minimega sample whose
    // screen changes size; and the video lasts as long as `info` says.
    let input = common::testdata().join("minimega_qemu_ipxe.fb");
    let dir = common::TempDir::new("videoframes");
    let out = dir.path().join("ipxe.mp4");
    export(&[input.to_str().unwrap(), out.to_str().unwrap(), "-q"]);
    let video = decode_all(&out);
    let probe = probe(&out);
    assert!(video.len() > 10, "{} frames decoded", video.len());
    let mut check = AgainstVideo {
        video: &video,
        width: probe.width,
        worst: 99.0,
        frames: 0,
    };
    let mut player = Player::open(&input, PlayOptions::default()).unwrap();
    let report = rfbplay::export::run(
        &mut player,
        rfbplay::timeline::Sampling::default(),
        &mut check,
        &NoProgress,
    );
    assert!(report.output_error.is_none());
    let (duration, _) = recording_end(&input);
    assert_eq!(check.frames, (duration * 10.0).floor() as u64 + 1);
    assert!(
        (probe.duration - duration).abs() <= 0.1,
        "video {}s, recording {duration}s",
        probe.duration
    );
    eprintln!(
        "worst frame: {:.1} dB over {} frames",
        check.worst, check.frames
    );
}

/// `rfbplay` runs exports in `rfbplay-video`, installed beside it (so that
/// its other commands need not load FFmpeg): both make the same video, and
/// an `rfbplay` copied alone says what is missing instead of failing
/// obscurely.
#[test]
fn exports_run_in_the_video_program_beside_rfbplay() {
    let input = common::testdata().join("minimega_qemu_ipxe.fb");
    let dir = common::TempDir::new("video-program");
    let via = dir.path().join("via.mp4");
    export(&[input.to_str().unwrap(), via.to_str().unwrap()]);
    let direct = dir.path().join("direct.mp4");
    let out = Command::new(env!("CARGO_BIN_EXE_rfbplay-video"))
        .args(["export", input.to_str().unwrap(), direct.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, b) = (probe(&via), probe(&direct));
    assert_eq!(
        (a.width, a.height, a.packets),
        (b.width, b.height, b.packets)
    );
    assert_eq!(a.last, b.last);

    let alone = dir.path().join("alone");
    std::fs::create_dir(&alone).unwrap();
    let copy = alone.join("rfbplay");
    std::fs::copy(env!("CARGO_BIN_EXE_rfbplay"), &copy).unwrap();
    let lost = dir.path().join("lost.mp4");
    let out = Command::new(&copy)
        .args([input.to_str().unwrap(), lost.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("rfbplay-video") && stderr.contains("cargo build --release"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!lost.exists());
    // Other commands work without it.
    let info = Command::new(&copy)
        .args(["info", input.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(info.status.success());
}

/// A signal that stops an export leaves no file behind: neither the video
/// under its final name nor the temporary file it was being written to.
#[test]
fn a_signal_stopping_an_export_leaves_no_file() {
    let dir = common::TempDir::new("signal");
    // 40 s of a changing 640x480 screen: seconds of encoding, so the signal
    // comes while the temporary file is being written.
    let times: Vec<f64> = (0..400).map(|i| f64::from(i) * 0.1).collect();
    let input = synthetic(dir.path(), 640, 480, &times, false);
    // Three times: the signal lands at once after the temporary file
    // appears, while the encoder may be opening it by name.
    for _ in 0..3 {
        let out = dir.path().join("out.mp4");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rfbplay"))
            .args([
                "export",
                input.to_str().unwrap(),
                out.to_str().unwrap(),
                "-q",
            ])
            .spawn()
            .unwrap();
        let partial = || {
            std::fs::read_dir(dir.path())
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().contains("partial"))
        };
        let started = std::time::Instant::now();
        while !partial() {
            assert!(
                child.try_wait().unwrap().is_none(),
                "the export ended before its temporary file was seen"
            );
            assert!(started.elapsed().as_secs() < 60, "no temporary file");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(128 + 15), "{status:?}");
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".fb"))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}
