//! `rfbplay find`: needles cut from corpus recordings at known times and
//! places are found there, in the right spans, and not after the screen
//! changes; colour matters; openQA needles work; exit codes and the JSON
//! schema hold for every outcome, errors included.

mod common;

use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use rfbplay::sampler::{sample, Moment, Shot};
use rfbplay::time::Time;
use rfbplay::Framebuffer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn screen_at(file: &Path, secs: f64) -> Framebuffer {
    let mut p = Player::open(file, PlayOptions::default()).unwrap();
    match sample(&mut p, Moment::At(Time::from_secs_f64(secs)), &NoProgress).0 {
        Shot::Screen(fb) => fb,
        other => panic!("no screen at {secs}: {other:?}"),
    }
}

/// Cuts w x h at (x, y) out of `fb` as an RGB image.
fn cut(fb: &Framebuffer, x: u32, y: u32, w: u32, h: u32) -> image::RgbImage {
    let rgb = fb.to_rgb_image();
    image::imageops::crop_imm(&rgb, x, y, w, h).to_image()
}

fn save(img: &image::RgbImage, dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    img.save(&p).unwrap();
    p
}

/// Whether `needle` is at (x, y) of `fb`, pixel for pixel.
fn is_at(fb: &Framebuffer, needle: &image::RgbImage, x: u32, y: u32) -> bool {
    let rgb = fb.to_rgb_image();
    if x + needle.width() > rgb.width() || y + needle.height() > rgb.height() {
        return false;
    }
    image::imageops::crop_imm(&rgb, x, y, needle.width(), needle.height()).to_image() == *needle
}

fn find(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .arg("find")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    assert_schema(&v);
    (
        out.status.code().unwrap(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The fields every `--json` report has, whatever the outcome.
fn assert_schema(v: &Value) {
    assert_eq!(v["schema"], 1);
    for k in ["file", "needle"] {
        assert!(v[k].is_string(), "{k}: {v}");
    }
    assert!(v["found"].is_boolean());
    assert!(v["threshold"].is_number());
    assert!(v["spans"].is_array());
    for s in v["spans"].as_array().unwrap() {
        for k in ["start_s", "x", "y", "score"] {
            assert!(s[k].is_number(), "{k}: {s}");
        }
        assert!(s["end_s"].is_number() || s["end_s"].is_null());
        assert!(s["open"].is_boolean());
    }
    assert!(v["best"].is_null() || v["best"]["score"].is_number());
    assert!(v["error"].is_null() || v["error"].is_string());
    assert_eq!(v["found"], !v["spans"].as_array().unwrap().is_empty());
}

/// A time in seconds within the millisecond the corpus notes give.
fn near(v: &Value, secs: f64) -> bool {
    v.as_f64().is_some_and(|t| (t - secs).abs() < 0.001)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn corpus_file(name: &str) -> Option<PathBuf> {
    Some(common::corpus()?.join(name))
}

#[test]
fn found_in_its_spans_and_gone_after_the_screen_changes() {
    let Some(fb) = corpus_file("enc_xvnc_zrle.fb") else {
        return;
    };
    let dir = common::TempDir::new("find-spans");
    // The xterm text drawn by update 2 (0.404 s) at 600,40.
    let needle = cut(&screen_at(&fb, 0.5), 610, 50, 120, 40);
    let png = save(&needle, dir.path(), "needle.png");
    let (code, v, err) = find(&[s(&fb), s(&png)]);
    assert_eq!(code, 0, "{v} {err}");
    let spans = v["spans"].as_array().unwrap();
    assert!(!spans.is_empty());
    assert!(near(&spans[0]["start_s"], 0.404), "{v}");
    assert_eq!(
        (spans[0]["x"].as_u64(), spans[0]["y"].as_u64()),
        (Some(610), Some(50))
    );
    assert_eq!(spans[0]["score"], 0.0);
    // Every span holds the needle at its place from its start to just
    // before its end, and (unless it lasts to the end) not at its end.
    for sp in spans {
        let (x, y) = (
            sp["x"].as_u64().unwrap() as u32,
            sp["y"].as_u64().unwrap() as u32,
        );
        let start = sp["start_s"].as_f64().unwrap();
        let end = sp["end_s"].as_f64().unwrap();
        assert!(is_at(&screen_at(&fb, start), &needle, x, y), "{sp}");
        assert!(is_at(&screen_at(&fb, end - 0.0005), &needle, x, y), "{sp}");
        if sp["open"] == false {
            assert!(!is_at(&screen_at(&fb, end), &needle, x, y), "{sp}");
        }
    }
    // Before update 2, it is nowhere.
    assert!(!is_at(&screen_at(&fb, 0.3), &needle, 610, 50));
    // An exact search (probe pixels rather than colour sums) finds the
    // same spans in this lossless recording.
    let (code, exact, err) = find(&[s(&fb), s(&png), "--threshold", "0"]);
    assert_eq!(code, 0, "{exact} {err}");
    assert_eq!(exact["spans"], v["spans"]);
}

#[test]
fn a_needle_that_leaves_ends_its_span_and_first_stops_early() {
    let Some(fb) = corpus_file("enc_xvnc_zrle.fb") else {
        return;
    };
    let dir = common::TempDir::new("find-leaves");
    // The first letters typed on the bottom line: complete with update 10
    // (3.897 s); update 11 (3.997 s) types the next ones into its right
    // edge, so it is gone from then on.
    let screen = screen_at(&fb, 3.9);
    let needle = cut(&screen, 98, 630, 40, 28);
    let png = save(&needle, dir.path(), "typed.png");
    let (code, v, err) = find(&[s(&fb), s(&png)]);
    assert_eq!(code, 0, "{v} {err}");
    let first = &v["spans"][0];
    assert!(near(&first["start_s"], 3.897), "{v}");
    assert_eq!(
        (first["x"].as_u64(), first["y"].as_u64()),
        (Some(98), Some(630))
    );
    assert!(near(&first["end_s"], 3.997), "{v}");
    let end = first["end_s"].as_f64().unwrap();
    assert!(!is_at(&screen_at(&fb, end), &needle, 98, 630), "{v}");
    assert_eq!(first["open"], false);
    // --first: the same start, no end.
    let (code, v1, _) = find(&[s(&fb), s(&png), "--first"]);
    assert_eq!(code, 0);
    assert_eq!(v1["spans"].as_array().unwrap().len(), 1);
    assert!(near(&v1["spans"][0]["start_s"], 3.897), "{v1}");
    assert!(v1["spans"][0]["end_s"].is_null());
    // --region that leaves the needle's place out: not found there.
    let (code, v2, _) = find(&[s(&fb), s(&png), "--region", "0,0,500,400"]);
    assert_eq!(code, 1, "{v2}");
}

#[test]
fn colour_matters_not_just_grey_levels() {
    let Some(fb) = corpus_file("enc_xvnc_zrle.fb") else {
        return;
    };
    let dir = common::TempDir::new("find-colour");
    let screen = screen_at(&fb, 0.5);
    let needle = cut(&screen, 610, 50, 120, 40);
    // Same grey level per pixel (R+G+B kept), colours rotated: R->G->B->R.
    let mut swapped = needle.clone();
    for p in swapped.pixels_mut() {
        let [r, g, b] = p.0;
        p.0 = [b, r, g];
    }
    assert_ne!(swapped, needle, "the cut must hold colour");
    let png = save(&swapped, dir.path(), "swapped.png");
    let (code, v, _) = find(&[s(&fb), s(&png)]);
    assert_eq!(code, 1, "{v}");
    // Far from it: no near miss is reported, and the output says so.
    assert!(v["best"].is_null(), "{v}");
    assert_eq!(v["closest_within"], 7.0, "{v}");
    let out = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(["find", s(&fb), s(&png)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("not found (threshold 2); nothing scored 7 or less"),
        "{text}"
    );

    // A near miss: 200 of the 4800 pixels off by 128 in every channel
    // score 200 * 3 * 128 / (4800 * 3) = 5.333, above the threshold (2)
    // and within its margin (5), so the closest place is reported.
    let mut patched = needle.clone();
    for y in 10..20 {
        for x in 50..70 {
            let p = patched.get_pixel_mut(x, y);
            p.0 = p.0.map(|c| c.wrapping_add(128));
        }
    }
    let png = save(&patched, dir.path(), "patched.png");
    let (code, v, _) = find(&[s(&fb), s(&png)]);
    assert_eq!(code, 1, "{v}");
    assert!(
        (v["best"]["score"].as_f64().unwrap() - 5.333).abs() < 0.001,
        "{v}"
    );
    assert_eq!(
        (&v["best"]["x"], &v["best"]["y"]),
        (&610.into(), &50.into()),
        "{v}"
    );
    assert!(v["best"]["time_s"].as_f64().unwrap() <= 0.5, "{v}");
    // A threshold above it finds it there, with the same score.
    let (code, v6, _) = find(&[s(&fb), s(&png), "--threshold", "6"]);
    assert_eq!(code, 0, "{v6}");
    let first = &v6["spans"][0];
    assert_eq!(first["score"], v["best"]["score"], "{v6}");
    assert_eq!(
        (&first["x"], &first["y"]),
        (&610.into(), &50.into()),
        "{v6}"
    );
    assert_eq!(first["start_s"], v["best"]["time_s"], "{v6}");
    let out = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(["find", s(&fb), s(&png)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("closest: score 5.333 at 610,50"), "{text}");
}

#[test]
fn openqa_needle_with_match_and_exclude_areas() {
    let Some(fb) = corpus_file("enc_xvnc_zrle.fb") else {
        return;
    };
    let dir = common::TempDir::new("find-openqa");
    let screen = screen_at(&fb, 0.5);
    // A needle shot of a larger area, two match areas, and an exclude over
    // a part that is then scribbled on (so it must be ignored).
    let mut shot = cut(&screen, 580, 30, 200, 120);
    for y in 40..60 {
        for x in 60..90 {
            shot.put_pixel(x, y, image::Rgb([255, 0, 255]));
        }
    }
    save(&shot, dir.path(), "login.png");
    let json = dir.path().join("login.json");
    std::fs::write(
        &json,
        r#"{"area":[
            {"xpos":20,"ypos":15,"width":100,"height":60,"type":"match"},
            {"xpos":130,"ypos":80,"width":50,"height":30,"type":"match"},
            {"xpos":55,"ypos":35,"width":40,"height":30,"type":"exclude"}],
          "tags":["login"],"properties":[]}"#,
    )
    .unwrap();
    let (code, v, err) = find(&[s(&fb), s(&json)]);
    assert_eq!(code, 0, "{v} {err}");
    // The match areas' bounding box: (20,15) of the shot, at 600,45.
    assert_eq!(v["spans"][0]["x"], 600);
    assert_eq!(v["spans"][0]["y"], 45);
    assert!(near(&v["spans"][0]["start_s"], 0.404), "{v}");
    // Without the exclude area the scribble makes it fail at threshold 0.
    std::fs::write(
        &json,
        r#"{"area":[{"xpos":20,"ypos":15,"width":100,"height":60,"type":"match"}],"match":100}"#,
    )
    .unwrap();
    let (code, v, _) = find(&[s(&fb), s(&json)]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["threshold"], 0.0);
}

/// An openQA needle whose largest match area (the one searched first)
/// shows at two places, with its second area beside only the later one
/// (in reading order): the needle is found there, not missed because the
/// first place of its largest area fails the rest.
#[test]
fn openqa_needle_whose_largest_area_shows_twice() {
    use rfbplay::rfb::Rect;
    for repaint in [true, false] {
        let dir = common::TempDir::new("find-two-anchors");
        let button = needle_pixels();
        let label = rfbplay::synth::pattern(99, 6, 4);
        let mut shot = None;
        let file = scripted(repaint, |n, screen| match n {
            3 => {
                screen.write_rect_bytes(Rect::new(2, 2, 10, 8), 0, &button);
                screen.write_rect_bytes(Rect::new(20, 4, 10, 8), 0, &button);
                screen.write_rect_bytes(Rect::new(32, 4, 6, 4), 0, &label);
                shot = Some(cut(screen, 20, 4, 18, 8));
                Some(Rect::new(2, 2, 36, 10))
            }
            _ => None,
        });
        let fb = dir.path().join("two.fb");
        std::fs::write(&fb, file).unwrap();
        save(&shot.unwrap(), dir.path(), "dialog.png");
        let json = dir.path().join("dialog.json");
        std::fs::write(
            &json,
            r#"{"area":[
                {"xpos":0,"ypos":0,"width":10,"height":8,"type":"match"},
                {"xpos":12,"ypos":0,"width":6,"height":4,"type":"match"}],
              "match":100}"#,
        )
        .unwrap();
        let (code, v, err) = find(&[s(&fb), s(&json)]);
        assert_eq!(code, 0, "repaint {repaint}: {v} {err}");
        assert_eq!(
            spans_of(&v),
            [(0.3, 0.9, true, 20, 4)],
            "repaint {repaint}: {v}"
        );
    }
}

/// openQA puts a match level on each area, and each area must pass its
/// own: a label drawn 20 off in every channel passes beside an exact
/// button when the label's area allows 90% (threshold 25.5), and fails at
/// 95% (12.75); a button one value off fails its 100% area whatever the
/// label's. A level beside the areas serves those without one, and
/// `--threshold` holds every area to itself.
#[test]
fn openqa_match_levels_hold_per_area() {
    use rfbplay::rfb::Rect;
    let dir = common::TempDir::new("find-area-levels");
    let button = needle_pixels();
    let label = rfbplay::synth::pattern(99, 6, 4);
    let mut shot = None;
    let file = scripted(false, |n, screen| match n {
        3 => {
            screen.write_rect_bytes(Rect::new(20, 4, 10, 8), 0, &button);
            screen.write_rect_bytes(Rect::new(32, 4, 6, 4), 0, &label);
            shot = Some(cut(screen, 20, 4, 18, 8));
            // The screen's label: every channel 20 away from the needle's.
            let off: Vec<u8> = label
                .chunks_exact(4)
                .flat_map(|p| {
                    let f = |v: u8| if v < 128 { v + 20 } else { v - 20 };
                    [f(p[0]), f(p[1]), f(p[2]), 0]
                })
                .collect();
            screen.write_rect_bytes(Rect::new(32, 4, 6, 4), 0, &off);
            Some(Rect::new(20, 4, 18, 8))
        }
        6 => {
            // The button one value off in one channel of one pixel.
            let mut px = [0u8; 4];
            px.copy_from_slice(screen.row(25, 7, 1));
            px[1] = if px[1] < 255 { px[1] + 1 } else { px[1] - 1 };
            screen.set(25, 7, px);
            Some(Rect::new(25, 7, 1, 1))
        }
        _ => None,
    });
    let fb = dir.path().join("levels.fb");
    std::fs::write(&fb, file).unwrap();
    save(&shot.unwrap(), dir.path(), "dialog.png");
    let json = dir.path().join("dialog.json");
    let needle = |button: &str, label: &str, beside: &str| {
        let level = |l: &str| {
            if l.is_empty() {
                String::new()
            } else {
                format!(r#","match":{l}"#)
            }
        };
        let text = format!(
            r#"{{"area":[
                {{"xpos":0,"ypos":0,"width":10,"height":8,"type":"match"{}}},
                {{"xpos":12,"ypos":0,"width":6,"height":4,"type":"match"{}}}]{}}}"#,
            level(button),
            level(label),
            level(beside)
        );
        std::fs::write(&json, text).unwrap();
    };
    // Found from the label's update until the button breaks.
    needle("100", "90", "");
    let (code, v, err) = find(&[s(&fb), s(&json)]);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(spans_of(&v), [(0.3, 0.6, false, 20, 4)], "{v}");
    assert!(
        (v["threshold"].as_f64().unwrap() - 25.5).abs() < 1e-9,
        "{v}"
    );
    // The label's own 95% fails it; so does 100% beside the areas.
    for (button, label, beside) in [("100", "95", ""), ("", "", "100"), ("100", "", "")] {
        needle(button, label, beside);
        let (code, v, err) = find(&[s(&fb), s(&json)]);
        assert_eq!(code, 1, "{button}/{label}/{beside}: {v} {err}");
    }
    // A level beside the areas serves the one without its own.
    needle("100", "", "90");
    let (code, v, _) = find(&[s(&fb), s(&json)]);
    assert_eq!(spans_of(&v), [(0.3, 0.6, false, 20, 4)], "{v}");
    assert_eq!(code, 0);
    // --threshold holds both areas to 25: the button's one-value change
    // no longer breaks it.
    needle("100", "95", "");
    let (code, v, _) = find(&[s(&fb), s(&json), "--threshold", "25"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(spans_of(&v), [(0.3, 0.9, true, 20, 4)], "{v}");
    assert_eq!(v["threshold"], 25.0);
}

#[test]
fn errors_exit_2_with_the_schema() {
    let Some(fb) = corpus_file("enc_xvnc_zrle.fb") else {
        return;
    };
    let dir = common::TempDir::new("find-errors");
    let png = save(
        &cut(&screen_at(&fb, 0.5), 610, 50, 120, 40),
        dir.path(),
        "n.png",
    );
    // Missing recording, missing needle, unreadable PNG, bad needle JSON.
    let missing = dir.path().join("missing.fb");
    let (code, v, _) = find(&[s(&missing), s(&png)]);
    assert_eq!(code, 2);
    assert!(v["error"].is_string());
    let (code, v, _) = find(&[s(&fb), s(&dir.path().join("nope.png"))]);
    assert_eq!(code, 2, "{v}");
    let junk = dir.path().join("junk.png");
    std::fs::write(&junk, b"not a png").unwrap();
    let (code, v, _) = find(&[s(&fb), s(&junk)]);
    assert_eq!(code, 2);
    assert!(v["error"].as_str().unwrap().contains("junk.png"), "{v}");
    for bad in [
        "{",
        r#"{"area":[{"xpos":1}]}"#,
        r#"{"area":[{"xpos":0,"ypos":0,"width":5,"height":5,"type":"rainbow"}]}"#,
        r#"{"area":[{"xpos":0,"ypos":0,"width":5,"height":5}],"match":150}"#,
        r#"{"area":[{"xpos":900,"ypos":900,"width":5,"height":5}]}"#,
    ] {
        std::fs::write(dir.path().join("n.json"), bad).unwrap();
        let (code, v, _) = find(&[s(&fb), s(&dir.path().join("n.json"))]);
        assert_eq!(code, 2, "{bad}: {v}");
        assert!(v["error"].is_string());
    }
    // A damaged recording: the spans found before the damage, exit 2.
    let bytes = rfbplay_gunzip(&fb);
    let cut_at = bytes.len() * 3 / 4;
    let mut damaged = bytes[..cut_at].to_vec();
    damaged.extend(std::iter::repeat_n(0xEEu8, 4096));
    let bad_fb = dir.path().join("damaged.fb");
    std::fs::write(&bad_fb, &damaged).unwrap();
    let (code, v, _) = find(&[s(&bad_fb), s(&png)]);
    assert_eq!(code, 2, "{v}");
    assert!(v["error"].as_str().unwrap().contains("ZRLE"), "{v}");
    assert!(near(&v["spans"][0]["start_s"], 0.404), "{v}");
    assert_eq!(v["found"], true);
}

/// The decompressed bytes of a gzip .fb.
fn rfbplay_gunzip(p: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A 64x48 recording of pattern 1 with nine updates, one every 0.1 s:
/// `step(n, screen)` changes the screen before update n and returns the
/// rectangle it changed. With `repaint`, every update resends the whole
/// screen as Raw (minimega's recorder), mostly unchanged; without, updates
/// send only what changes (a pixel when nothing does).
fn scripted(
    repaint: bool,
    mut step: impl FnMut(u64, &mut Framebuffer) -> Option<rfbplay::rfb::Rect>,
) -> Vec<u8> {
    use rfbplay::rfb::encode::UpdateBuilder;
    use rfbplay::rfb::Rect;
    use rfbplay::synth::{self, Message};
    let all = Rect::new(0, 0, 64, 48);
    let mut screen = Framebuffer::from_bgrx(64, 48, synth::pattern(1, 64, 48)).unwrap();
    let mut messages = Vec::new();
    for n in 1..=9u64 {
        let changed = step(n, &mut screen);
        let mut u = UpdateBuilder::new();
        let r = if repaint || n == 1 {
            all
        } else {
            changed.unwrap_or(Rect::new(0, 47, 1, 1))
        };
        let mut px = Vec::new();
        for y in 0..r.h {
            px.extend_from_slice(screen.row(u32::from(r.x), u32::from(r.y + y), u32::from(r.w)));
        }
        u.raw(r, &px);
        messages.push(Message {
            time: Time::from_secs_f64(n as f64 / 10.0),
            bytes: u.finish(),
            screen_after: None,
        });
    }
    // One-byte chunks split rows and pixels, and keep every update at its
    // own time (a chunk takes the time of the message its last byte is in).
    synth::fb_file(&messages, &[1])
}

/// A 10x8 needle (pattern 77).
fn needle_pixels() -> Vec<u8> {
    rfbplay::synth::pattern(77, 10, 8)
}

/// The needle appears at (30, 20) at 0.4 s through a small change, is
/// broken by one pixel at 0.7 s and mended at 0.8 s.
fn appearing_needle(repaint: bool) -> (Vec<u8>, image::RgbImage) {
    use rfbplay::rfb::Rect;
    let patch = Rect::new(30, 20, 10, 8);
    let mut needle = None;
    let file = scripted(repaint, |n, screen| match n {
        4 | 8 => {
            screen.write_rect_bytes(patch, 0, &needle_pixels());
            if n == 4 {
                needle = Some(cut(screen, 30, 20, 10, 8));
            }
            Some(patch)
        }
        7 => {
            screen.set(35, 24, [1, 2, 3, 0]);
            Some(Rect::new(35, 24, 1, 1))
        }
        _ => None,
    });
    (file, needle.unwrap())
}

/// Writes a recording and its needle into `dir`: their paths.
fn write_case(dir: &Path, file: &[u8], needle: &image::RgbImage) -> (PathBuf, PathBuf) {
    let fb = dir.join("case.fb");
    std::fs::write(&fb, file).unwrap();
    (fb, save(needle, dir, "needle.png"))
}

/// The (start, end, open, x, y) of each span of a `--json` report.
fn spans_of(v: &Value) -> Vec<(f64, f64, bool, u64, u64)> {
    v["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|sp| {
            (
                sp["start_s"].as_f64().unwrap(),
                sp["end_s"].as_f64().unwrap(),
                sp["open"].as_bool().unwrap(),
                sp["x"].as_u64().unwrap(),
                sp["y"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The needle shows at two places: when the one its span follows breaks,
/// the span goes on at the other, which no change touched, rather than
/// ending while the needle is still on screen.
#[test]
fn a_needle_shown_twice_stays_found_when_one_copy_goes() {
    use rfbplay::rfb::Rect;
    for repaint in [true, false] {
        let dir = common::TempDir::new("find-twice");
        let (a, b) = (Rect::new(5, 5, 10, 8), Rect::new(40, 30, 10, 8));
        let mut needle = None;
        let file = scripted(repaint, |n, screen| match n {
            3 => {
                screen.write_rect_bytes(a, 0, &needle_pixels());
                needle = Some(cut(screen, 5, 5, 10, 8));
                Some(a)
            }
            4 => {
                screen.write_rect_bytes(b, 0, &needle_pixels());
                Some(b)
            }
            6 => {
                screen.set(9, 8, [1, 2, 3, 0]);
                Some(Rect::new(9, 8, 1, 1))
            }
            8 => {
                screen.set(44, 33, [1, 2, 3, 0]);
                Some(Rect::new(44, 33, 1, 1))
            }
            _ => None,
        });
        let (fb, png) = write_case(dir.path(), &file, &needle.unwrap());
        let (code, v, err) = find(&[s(&fb), s(&png), "--threshold", "0"]);
        assert_eq!(code, 0, "{v} {err}");
        assert_eq!(
            spans_of(&v),
            [(0.3, 0.6, false, 5, 5), (0.6, 0.8, false, 40, 30)],
            "repaint {repaint}: {v}"
        );
    }
}

#[test]
fn small_changes_start_and_end_spans_in_repaints_and_in_small_updates() {
    for repaint in [true, false] {
        let dir = common::TempDir::new("find-small");
        let (file, needle) = appearing_needle(repaint);
        let (fb, png) = write_case(dir.path(), &file, &needle);
        let (code, v, err) = find(&[s(&fb), s(&png), "--threshold", "0"]);
        assert_eq!(code, 0, "{v} {err}");
        assert_eq!(
            spans_of(&v),
            [(0.4, 0.7, false, 30, 20), (0.8, 0.9, true, 30, 20)],
            "repaint {repaint}: {v}"
        );
        // Where it never appears, the closest is a place of the pattern it
        // was drawn over, at 8.533: reported within the threshold's margin
        // (4 + 5), not past it (2 + 5).
        let region = ["--region", "0,0,64,20"];
        let (code, v, _) = find(&[&[s(&fb), s(&png)][..], &region, &["--threshold", "4"]].concat());
        assert_eq!(code, 1, "{v}");
        assert_eq!(v["best"]["score"], 8.533, "{v}");
        assert_eq!(
            (&v["best"]["x"], &v["best"]["y"]),
            (&44.into(), &0.into()),
            "{v}"
        );
        assert_eq!(v["best"]["time_s"], 0.1, "{v}");
        let (code, v, _) = find(&[&[s(&fb), s(&png)][..], &region].concat());
        assert_eq!(code, 1, "{v}");
        assert!(v["best"].is_null(), "{v}");
    }
}

/// `find … | head -0` and `compare … | head -0`: a closed standard output
/// ends the command quietly, as Unix tools do, never with a panic.
#[test]
fn a_closed_pipe_ends_find_and_compare_quietly() {
    let rec = common::testdata().join("minimega_qemu_ipxe.fb");
    let dir = common::TempDir::new("find-pipe");
    let shot = save(&screen_at(&rec, 5.0).to_rgb_image(), dir.path(), "shot.png");
    let needle = save(
        &cut(&screen_at(&rec, 5.0), 0, 0, 64, 32),
        dir.path(),
        "n.png",
    );
    for args in [
        vec!["find", s(&rec), s(&needle)],
        vec!["find", "--json", s(&rec), s(&needle)],
        vec!["compare", s(&shot), s(&shot)],
        vec!["compare", "--json", s(&shot), s(&shot)],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Nobody reads: the pipe is closed before the command writes.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
    }
}

/// The search runs on a thread beside decoding, with its own copy of the
/// screen kept up to date from each update's changed boxes: it finds
/// exactly what a search in turn on the decoding thread finds (spans, the
/// closest match, which updates it skipped), on every recording in
/// testdata/ and the corpus, for needles that are there (at the default
/// threshold and exact) and for one that is not. So does a search on a
/// player that keeps the shown copy of the screen and measures the damage
/// against it.
#[test]
fn searching_beside_decoding_finds_what_searching_in_turn_finds() {
    use rfbplay::find::{find_with, Needle, Options, Searching, DEFAULT_THRESHOLD};
    let mut files: Vec<PathBuf> = std::fs::read_dir(common::testdata())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "fb"))
        .collect();
    if let Some(corpus) = common::corpus() {
        // All but the 500 MB minimega file, which takes long unoptimised.
        for e in std::fs::read_dir(corpus).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".fb") && name != "mm_xvnc_xterm.fb" {
                files.push(p);
            }
        }
    }
    files.sort();
    let dir = common::TempDir::new("find-beside");
    let (small, small_needle) = appearing_needle(false);
    let small_fb = dir.path().join("small.fb");
    std::fs::write(&small_fb, small).unwrap();
    let small_png = save(&small_needle, dir.path(), "small.png");
    let mut cases = vec![(small_fb, small_png)];
    for (i, f) in files.iter().enumerate() {
        let mut p = Player::open(f, PlayOptions::default()).unwrap();
        let Shot::Screen(end) = sample(&mut p, Moment::End, &NoProgress).0 else {
            continue;
        };
        let (w, h) = (end.width().min(64), end.height().min(32));
        let (x, y) = ((end.width() - w) / 2, (end.height() - h) / 2);
        let png = save(&cut(&end, x, y, w, h), dir.path(), &format!("n{i}.png"));
        cases.push((f.clone(), png));
    }
    assert!(cases.len() > 8, "{cases:?}");
    // Not in any of them: a flat colour no screen is made of.
    let odd = image::RgbImage::from_pixel(24, 12, image::Rgb([3, 250, 7]));
    let odd = save(&odd, dir.path(), "odd.png");
    let mut found = 0;
    for (file, png) in &cases {
        for (needle, threshold) in [
            (png, DEFAULT_THRESHOLD),
            (png, 0.0),
            (&odd, DEFAULT_THRESHOLD),
        ] {
            let n = Needle::load(needle).unwrap();
            let opts = Options {
                threshold,
                region: None,
                first: false,
            };
            let play = |keep_shown| {
                let o = PlayOptions {
                    keep_shown,
                    measure_damage: true,
                    ..PlayOptions::default()
                };
                Player::open(file, o).unwrap()
            };
            // As `rfbplay find` plays: without the shown copy.
            let beside = find_with(&mut play(false), &n, opts, &NoProgress, Searching::Beside);
            let in_turn = find_with(&mut play(false), &n, opts, &NoProgress, Searching::InTurn);
            let what = format!("{} with {}", file.display(), needle.display());
            assert_eq!(beside.spans, in_turn.spans, "{what}");
            assert_eq!(beside.best, in_turn.best, "{what}");
            assert_eq!(beside.skipped, in_turn.skipped, "{what}");
            assert_eq!(beside.updates, in_turn.updates, "{what}");
            // The damage measured with the shown copy finds the same.
            let shown = find_with(&mut play(true), &n, opts, &NoProgress, Searching::InTurn);
            assert_eq!(shown.spans, in_turn.spans, "{what}");
            assert_eq!(shown.best, in_turn.best, "{what}");
            assert_eq!(shown.skipped, in_turn.skipped, "{what}");
            assert_eq!(shown.updates, in_turn.updates, "{what}");
            assert!(beside.updates > 0, "{what}");
            found += usize::from(!beside.spans.is_empty());
        }
    }
    // Every cut needle is found at least at the end, both ways.
    assert!(found >= 2 * cases.len(), "{found} of {}", cases.len());
}
