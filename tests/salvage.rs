//! `--salvage` on damage at fixed places: a bad rectangle header, an
//! unknown message type, a broken chunk header, corrupt compressed bytes.
//! Frames before the damage are the undamaged file's; frames from the
//! first update after it are too (minimega's full Raw updates repaint
//! everything); nothing panics or hangs. With CI=true, every corpus
//! recording is damaged the same ways.

mod common;

use flate2::write::GzEncoder;
use rfbplay::player::{PlayOptions, Player, Summary};
use rfbplay::progress::NoProgress;
use rfbplay::sampler::drive;
use rfbplay::timeline::{Sampling, Timeline};
use rfbplay::Time;
use std::io::{Read, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Frame times and a hash of each frame's pixels, at 10 fps.
fn frames(path: &Path, salvage: bool) -> (Vec<(Time, u64)>, Summary) {
    let options = PlayOptions {
        salvage,
        ..Default::default()
    };
    let mut player = Player::open(path, options).unwrap();
    let mut out = Vec::new();
    let sampling = Sampling {
        fps: 10.0,
        from: Time::ZERO,
        to: None,
    };
    let (summary, _) = drive(
        &mut player,
        Timeline::new(sampling),
        |f, _| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            f.screen.data().hash(&mut h);
            (f.screen.width(), f.screen.height()).hash(&mut h);
            out.push((f.time, h.finish()));
            Ok(ControlFlow::Continue(()))
        },
        &NoProgress,
    );
    (out, summary)
}

/// The decompressed container of a gzip `.fb` (minimega's are cut short).
fn inflate(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut d = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let _ = d.read_to_end(&mut out);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Where full-screen updates start in the decompressed container (their
/// first 8 bytes: type, padding, one rectangle, at 0,0).
fn update_headers(d: &[u8]) -> Vec<usize> {
    let pat = [0u8, 0, 0, 1, 0, 0, 0, 0];
    d.windows(pat.len())
        .enumerate()
        .filter(|(_, w)| *w == pat)
        .map(|(i, _)| i)
        .collect()
}

/// Plays `damaged` with salvage and checks it against `clean`: the same
/// frames up to the damage and from the first update after it, one
/// damaged stretch that was resynchronised, in bounded time.
fn check_recovers(clean: &Path, damaged: &Path, what: &str) -> Summary {
    let (good, _) = frames(clean, false);
    let started = Instant::now();
    let (got, summary) = frames(damaged, true);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{what}: salvage took {:?}",
        started.elapsed()
    );
    assert!(summary.error.is_none(), "{what}: {:?}", summary.error);
    assert_eq!(summary.damaged.len(), 1, "{what}: {:#?}", summary.damaged);
    let d = &summary.damaged[0];
    let after = d
        .time_after
        .unwrap_or_else(|| panic!("{what}: no resync: {d:#?}"));
    let before = d.time_found;
    let mut same_after = 0;
    for (k, (t, h)) in got.iter().enumerate() {
        let Some((gt, gh)) = good.get(k) else { break };
        assert_eq!(t, gt);
        if *t < before {
            assert_eq!(h, gh, "{what}: frame {k} at {t} before the damage differs");
        } else if *t >= after {
            assert_eq!(h, gh, "{what}: frame {k} at {t} after the resync differs");
            same_after += 1;
        }
    }
    assert!(same_after > 10, "{what}: only {same_after} frames after");
    assert!(
        got.len() + 2 >= good.len(),
        "{what}: {} of {} frames",
        got.len(),
        good.len()
    );
    summary
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The fixed damages on one minimega recording.
fn damage_minimega(clean: &Path) {
    let dir = common::TempDir::new("salvage");
    let d = inflate(clean);
    let heads = update_headers(&d);
    assert!(
        heads.len() > 4,
        "{}: too few updates found",
        clean.display()
    );
    let h = heads[heads.len() / 2];
    let cases: [(&str, usize, u8); 4] = [
        // Width byte: the rectangle no longer fits the screen.
        ("width", h + 8, 0x40),
        // The message type.
        ("type", h, 0x5a),
        // The encoding: unknown.
        ("encoding", h + 15, 0x5a),
        // The number of rectangles: the next ones are read from pixels.
        ("count", h + 2, 0x01),
    ];
    for (what, at, xor) in cases {
        let mut b = d.clone();
        b[at] ^= xor;
        let damaged = write(dir.path(), &format!("{what}.fb"), &gzip(&b));
        let (_, plain) = frames(&damaged, false);
        assert!(plain.error.is_some(), "{what}: damage not noticed");
        check_recovers(clean, &damaged, what);
    }
    // A chunk header's digits: the container skips to the next records.
    let chunk = d[h..]
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| h + p + 2)
        .unwrap();
    let mut b = d.clone();
    b[chunk] = b'x';
    let damaged = write(dir.path(), "chunk.fb", &gzip(&b));
    let s = check_recovers(clean, &damaged, "chunk header");
    assert!(
        s.damaged[0].cause.contains("chunk"),
        "{}",
        s.damaged[0].cause
    );
}

#[test]
fn minimega_recording_recovers_after_damaged_headers() {
    damage_minimega(&common::testdata().join("minimega_qemu_ipxe.fb"));
}

/// Corrupt compressed bytes: no panic, no hang, every frame before the
/// damage as in the clean file, and the damage listed with its file byte.
#[test]
fn corrupt_gzip_bytes_end_in_a_listed_gap() {
    let clean = common::testdata().join("minimega_qemu_ipxe.fb");
    let dir = common::TempDir::new("salvage-gz");
    let mut raw = std::fs::read(&clean).unwrap();
    let at = raw.len() / 2;
    for b in &mut raw[at..at + 64] {
        *b ^= 0x5a;
    }
    let damaged = write(dir.path(), "gz.fb", &raw);
    let (good, _) = frames(&clean, false);
    let started = Instant::now();
    let (got, summary) = frames(&damaged, true);
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(summary.error.is_none(), "{:?}", summary.error);
    let d = summary.damaged.first().expect("the damage is listed");
    for (k, (t, h)) in got.iter().enumerate() {
        if *t < d.time_found {
            assert_eq!(Some(h), good.get(k).map(|g| &g.1), "frame {k}");
        }
    }
}

/// With CI=true: every recording of the corpus, damaged at a rectangle
/// header, recovers; a damaged compressed byte never panics or hangs.
#[test]
fn corpus_recordings_survive_damage() {
    let Some(dir) = common::corpus() else { return };
    let tmp = common::TempDir::new("salvage-corpus");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "fb"))
        .collect();
    names.sort();
    for clean in names {
        let name = clean.file_name().unwrap().to_string_lossy().to_string();
        let mut raw = std::fs::read(&clean).unwrap();
        let at = raw.len() / 2;
        for b in &mut raw[at..at + 64] {
            *b ^= 0x5a;
        }
        let damaged = write(tmp.path(), &name, &raw);
        let started = Instant::now();
        let (_, s) = frames(&damaged, true);
        assert!(s.error.is_none(), "{name}: {:?}", s.error);
        assert!(started.elapsed() < Duration::from_secs(120), "{name}");
        // Xvnc's minimega updates come as several rectangles; the fixed
        // header damages aim at one-rectangle full-screen updates.
        if name.starts_with("mm_") && update_headers(&inflate(&clean)).len() > 4 {
            damage_minimega(&clean);
        }
    }
}

/// The RFB stream a container hands out, cut at each damaged stretch.
fn stream_parts(path: &Path, salvage: bool) -> Vec<Vec<u8>> {
    use rfbplay::container::Piece;
    let mut c = if salvage {
        rfbplay::container::open_salvage(path)
    } else {
        rfbplay::container::open(path)
    }
    .unwrap();
    let mut parts = vec![Vec::new()];
    loop {
        match c.next_piece() {
            Ok(Piece::Data { bytes, .. }) => parts.last_mut().unwrap().extend_from_slice(bytes),
            Ok(Piece::Gap(_)) => parts.push(Vec::new()),
            Ok(Piece::End(_)) | Err(_) => return parts,
        }
    }
}

/// Whether `part` is a stretch of `stream`.
fn is_within(part: &[u8], stream: &[u8]) -> bool {
    let head = &part[..part.len().min(64)];
    stream
        .windows(head.len())
        .enumerate()
        .filter(|(_, w)| *w == head)
        .any(|(k, _)| stream[k..].starts_with(part))
}

/// With CI=true: damage in the compressed bytes of corpus recordings whose
/// chunk headers copy each other through the lost window. Salvage reads on
/// where the headers tell the window bytes they copy, and only where
/// every byte is the file's own: each stretch it hands out after the
/// damage is a stretch of the undamaged recording's stream (before the
/// damage, inflate may hand out a few wrong bytes before it fails, as
/// without salvage), and the QEMU
/// recording (incremental updates) gets most of its updates back. A
/// resumed read that ends before a whole record still lists the damage.
#[test]
fn gzip_damage_reads_on_with_the_files_own_bytes() {
    let Some(dir) = common::corpus() else { return };
    let tmp = common::TempDir::new("salvage-exact");
    for name in ["mm_qemu_modes", "enc_xvnc_tight", "enc_xvnc_zrle"] {
        let clean = dir.join(format!("{name}.fb"));
        let stream = stream_parts(&clean, false).concat();
        for frac in [0.17, 0.5, 0.83] {
            let mut raw = std::fs::read(&clean).unwrap();
            let at = (raw.len() as f64 * frac) as usize;
            raw[at] ^= 0x5a;
            let damaged = write(tmp.path(), &format!("{name}.fb"), &raw);
            let parts = stream_parts(&damaged, true);
            for (k, part) in parts.iter().enumerate().skip(1) {
                assert!(
                    part.is_empty() || is_within(part, &stream),
                    "{name} at {frac}: stretch {k} ({} bytes) is not the file's own",
                    part.len()
                );
            }
            if name == "mm_qemu_modes" && frac == 0.5 {
                let (got, s) = frames(&damaged, true);
                let (good, _) = frames(&clean, false);
                assert_eq!(s.damaged.len(), 1, "{:#?}", s.damaged);
                let after = s.damaged[0].time_after.expect("read on after the damage");
                let read_on = got.iter().filter(|(t, _)| *t >= after).count();
                assert!(read_on > 30, "{read_on} frames after the damage");
                assert!(
                    got.len() + 3 >= good.len(),
                    "{} of {} frames",
                    got.len(),
                    good.len()
                );
            }
        }
    }
    // Raw minimega screens copy pixels from the lost window all through:
    // nothing after the damage decodes for certain, and the damage is
    // listed even though reading resumed at the end of the file.
    let clean = dir.join("mm_xvnc_randr.fb");
    let mut raw = std::fs::read(&clean).unwrap();
    let at = (raw.len() - 1) / 2;
    raw[at] ^= 0x5a;
    let damaged = write(tmp.path(), "randr.fb", &raw);
    let (_, s) = frames(&damaged, true);
    assert_eq!(s.damaged.len(), 1, "{:#?}", s.damaged);
}

/// Damage in the first of two gzip members: salvage reads on inside it
/// (its trailer cannot be checked: its sums cover only what came after
/// the damage) and through the second, whose trailer is checked as usual,
/// to the end, with one damaged stretch and the file's own bytes.
#[test]
fn gzip_damage_in_a_first_member_reads_on_through_the_next() {
    use rfbplay::container::Piece;
    let dir = common::TempDir::new("salvage-members");
    let first = gzip(&rfbplay::synth::noise_records(1200, 5));
    let clean = [first.clone(), gzip(&rfbplay::synth::noise_records(300, 9))].concat();
    let stream = stream_parts(&write(dir.path(), "clean.fb", &clean), false).concat();
    let mut file = clean.clone();
    let damage = first.len() / 5;
    for b in &mut file[damage..damage + 64] {
        *b ^= 0x5a;
    }
    let path = write(dir.path(), "members.fb", &file);
    let mut c = rfbplay::container::open_salvage(&path).unwrap();
    let (mut gaps, mut after) = (Vec::new(), Vec::new());
    loop {
        match c.next_piece().unwrap() {
            Piece::Data { bytes, .. } if !gaps.is_empty() => after.extend_from_slice(bytes),
            Piece::Data { .. } => {}
            Piece::Gap(g) => gaps.push(g),
            Piece::End(e) => {
                assert_eq!(e, rfbplay::container::End::Complete);
                break;
            }
        }
    }
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    let resumed = gaps[0].file_resumed_at.expect("read on");
    assert!(
        resumed < first.len() as u64,
        "read on only at the next member: {gaps:#?}"
    );
    assert!(
        stream.ends_with(&after),
        "{} bytes after the damage",
        after.len()
    );
    assert!(
        after.len() > stream.len() / 2,
        "{} bytes after the damage",
        after.len()
    );
}

/// Damaged data after which no chunk records come, only screen-like rows
/// that copy each other back to the lost window (the costliest case for
/// guessing the window from headers): salvage gives up in bounded time.
/// Without a budget for the guessing, this took 39 s in a release build
/// (much longer in a debug one); with it, under 2 s.
#[test]
fn gzip_damage_followed_by_no_records_ends_in_bounded_time() {
    let dir = common::TempDir::new("salvage-bounded");
    let mut data = b"1000 4096\r\n".to_vec();
    data.extend_from_slice(&[0; 4096]);
    data.extend_from_slice(b"\r\n");
    let mut x = 3u32;
    let mut row: Vec<u8> = (0..4096)
        .map(|i| if i % 4 == 3 { 255 } else { 0 })
        .collect();
    for i in 0..10_000 {
        if i % 50 == 0 {
            for k in (0..row.len()).step_by(97) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                row[k] = (x >> 24) as u8;
            }
        }
        data.extend_from_slice(&row);
    }
    let mut file = gzip(&data);
    let at = file.len() / 10;
    for b in &mut file[at..at + 64] {
        *b ^= 0x5a;
    }
    let path = write(dir.path(), "rows.fb", &file);
    let started = Instant::now();
    let (_, s) = frames(&path, true);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "salvage took {:?}",
        started.elapsed()
    );
    assert_eq!(s.damaged.len(), 1, "{:#?}", s.damaged);
    assert!(s.damaged[0].time_after.is_none(), "{:#?}", s.damaged);
}

/// A ZRLE recording whose stream breaks again after each resync (its zlib
/// history is lost): salvage goes on, each stretch once, and ends. It
/// used to replay the same bytes forever, placing them at the wrong
/// stream offset after a resync.
#[test]
fn repeated_damage_in_a_zrle_recording_ends() {
    let Some(dir) = common::corpus() else { return };
    let clean = dir.join("enc_xvnc_zrle.fb");
    let tmp = common::TempDir::new("salvage-zrle");
    let mut d = inflate(&clean);
    let at = (d.len() - 1) * 3 / 4;
    d[at] ^= 0x5a;
    let damaged = write(tmp.path(), "zrle.fb", &gzip(&d));
    let (good, _) = frames(&clean, false);
    let started = Instant::now();
    let (got, s) = frames(&damaged, true);
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(s.error.is_none(), "{:?}", s.error);
    assert!(!s.damaged.is_empty());
    assert!(
        s.damaged.iter().all(|d| d.zlib_history_lost),
        "{:#?}",
        s.damaged
    );
    let updates = |sum: &Summary| sum.last_update;
    assert!(updates(&s).is_some() && got.len() + 2 >= good.len());
    let first = s.damaged[0].time_found;
    for (k, (t, h)) in got.iter().enumerate() {
        if *t < first {
            assert_eq!(h, &good[k].1, "frame {k} before the damage");
        }
    }
}

/// `export --salvage` to Matroska marks the damaged stretch as a chapter
/// from the last update before it to the first update after it.
#[test]
fn matroska_export_marks_the_damage_as_a_chapter() {
    let Some(ffprobe) = common::tool("ffprobe") else {
        return;
    };
    let clean = common::testdata().join("minimega_qemu_ipxe.fb");
    let tmp = common::TempDir::new("salvage-mkv");
    let mut d = inflate(&clean);
    let heads = update_headers(&d);
    d[heads[heads.len() / 2] + 8] ^= 0x40;
    let damaged = write(tmp.path(), "d.fb", &gzip(&d));
    let out = tmp.path().join("d.mkv");
    rfbplay::export::video::link_encoders();
    let options = rfbplay::export::video::VideoOptions {
        salvage: true,
        ..Default::default()
    };
    let report =
        rfbplay::export::video::export_file(&damaged, &out, &options, &NoProgress).unwrap();
    let span = &report.export.summary.damaged[0];
    let probe = std::process::Command::new(ffprobe)
        .args(["-v", "error", "-show_chapters", "-of", "json"])
        .arg(&out)
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&probe.stdout).unwrap();
    let ch = &j["chapters"][0];
    let secs = |v: &serde_json::Value| v.as_str().unwrap().parse::<f64>().unwrap();
    let before = span.time_before.unwrap().as_secs_f64();
    let after = span.time_after.unwrap().as_secs_f64();
    // To the microsecond: the updates' own times, not a millisecond
    // before them.
    assert!(
        (secs(&ch["start_time"]) - before).abs() < 2e-6,
        "{ch} {before}"
    );
    assert!((secs(&ch["end_time"]) - after).abs() < 2e-6, "{ch} {after}");
    assert!(ch["tags"]["title"].as_str().unwrap().starts_with("damaged"));
}

/// The testdata minimega recording, a temporary folder, and a copy of the
/// recording in it whose middle update has a rectangle that no longer
/// fits the screen.
fn damaged_testdata(tag: &str) -> (PathBuf, common::TempDir, PathBuf) {
    let clean = common::testdata().join("minimega_qemu_ipxe.fb");
    let dir = common::TempDir::new(tag);
    let mut d = inflate(&clean);
    let heads = update_headers(&d);
    d[heads[heads.len() / 2] + 8] ^= 0x40;
    let damaged = write(dir.path(), "d.fb", &gzip(&d));
    (clean, dir, damaged)
}

fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(args)
        .output()
        .unwrap()
}

/// `frame --at end` of `clean`, without an index, as end.png in `dir`.
fn end_screen(clean: &Path, dir: &Path) -> PathBuf {
    let end = dir.join("end.png");
    let out = run(&[
        "frame",
        clean.to_str().unwrap(),
        end.to_str().unwrap(),
        "--at",
        "end",
        "--no-index",
    ]);
    assert!(out.status.success());
    end
}

/// `updates --salvage` lists the updates after damage that `updates`
/// alone stops before, warns of the skipped stretch, and succeeds.
#[test]
fn updates_lists_past_damage_with_salvage() {
    let (_, _dir, damaged) = damaged_testdata("salvage-updates");
    let list = |salvage: bool| {
        let mut args = vec!["updates", damaged.to_str().unwrap(), "--json"];
        if salvage {
            args.push("--salvage");
        }
        run(&args)
    };
    let count = |o: &std::process::Output| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("\"update\""))
            .count()
    };
    let (plain, salvaged) = (list(false), list(true));
    assert_eq!(plain.status.code(), Some(1));
    assert_eq!(salvaged.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&salvaged.stderr);
    assert!(stderr.contains("d.fb"), "{stderr}");
    assert!(
        count(&salvaged) > count(&plain) + 10,
        "{} vs {}",
        count(&salvaged),
        count(&plain)
    );
}

/// `find --salvage` searches on past damage: a needle cut from the
/// recording's last screen is found still on screen at the end, where
/// `find` alone stops at the damage with an error.
#[test]
fn find_searches_past_damage_with_salvage() {
    let (clean, dir, damaged) = damaged_testdata("salvage-find");
    let end = end_screen(&clean, dir.path());
    let needle = dir.path().join("needle.png");
    image::open(&end)
        .unwrap()
        .crop_imm(0, 0, 320, 48)
        .save(&needle)
        .unwrap();
    let find = |salvage: bool| {
        let mut args = vec![
            "find",
            damaged.to_str().unwrap(),
            needle.to_str().unwrap(),
            "--json",
        ];
        if salvage {
            args.push("--salvage");
        }
        let o = run(&args);
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (
            o.status.code(),
            json,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, json, _) = find(false);
    assert_eq!(code, Some(2), "{json}");
    // The last span: on screen until where reading ended.
    let last_end = |j: &serde_json::Value| {
        let last = j["spans"].as_array().unwrap().last().cloned().unwrap();
        assert_eq!(last["open"], true, "{j}");
        last["end_s"].as_f64().unwrap()
    };
    let damage_s = last_end(&json);
    let (code, json, stderr) = find(true);
    assert_eq!(code, Some(0), "{json} {stderr}");
    // The last update comes at 17.6 s; the damage at about 7.6 s.
    assert!(damage_s < 10.0 && last_end(&json) > 17.0, "{json}");
    assert!(stderr.contains("d.fb"), "{stderr}");
}

/// `compare --salvage` reads a damaged recording to its end: its last
/// screen equals the undamaged file's (the same PNG), where `compare`
/// alone fails at the damage; the skipped stretch is warned of, once.
/// Recording against recording, the damaged run matches the clean one.
#[test]
fn compare_reads_past_damage_with_salvage() {
    let (clean, dir, damaged) = damaged_testdata("salvage-compare");
    let end = end_screen(&clean, dir.path());
    let at_end = format!("{}@end", damaged.display());
    let compare = |extra: &[&str]| {
        let mut args = vec!["compare", at_end.as_str(), end.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        let o = run(&args);
        let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (
            o.status.code(),
            json,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, json, _) = compare(&[]);
    assert_eq!(code, Some(2), "{json}");
    let (code, json, stderr) = compare(&["--salvage"]);
    assert_eq!(code, Some(0), "{json} {stderr}");
    assert_eq!(json["diff_pixels"], 0, "{json}");
    assert_eq!(stderr.matches("d.fb").count(), 1, "{stderr}");
    assert!(stderr.contains("skipped"), "{stderr}");
    // Two runs, one damaged: their stable screens match with salvage.
    let rec = |extra: &[&str]| {
        let mut args = vec![
            "compare",
            clean.to_str().unwrap(),
            damaged.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    assert_eq!(rec(&[]).status.code(), Some(2));
    let o = rec(&["--salvage"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("d.fb"), "{stderr}");
    assert_ne!(o.status.code(), Some(2), "{stderr}");
}

/// `compare --baseline --actual --report --salvage`: a run folder whose
/// recording is damaged is checked at its sidecar's moments. Without
/// `--salvage` the moments past the damage are `unreadable_recording`
/// errors (exit 2); with it every moment matches the undamaged baseline,
/// the checks past the damage list the stretch in report.json, index.html
/// and junit.xml, and stderr warns of it once although two moments
/// played through it.
#[test]
fn compare_folders_read_past_damage_with_salvage() {
    let (clean, dir, damaged) = damaged_testdata("salvage-suite");
    let (golden, actual) = (dir.path().join("golden"), dir.path().join("run"));
    std::fs::create_dir_all(golden.join("vm")).unwrap();
    std::fs::create_dir_all(actual.join("vm")).unwrap();
    std::fs::copy(&clean, golden.join("vm/boot.fb")).unwrap();
    std::fs::copy(&damaged, actual.join("vm/boot.fb")).unwrap();
    // The damage is at about 7.6 s, the last update at 17.6 s.
    std::fs::write(golden.join("vm/boot.fb.times"), "2\n10\nend\n").unwrap();
    let suite = |report: &str, extra: &[&str]| {
        let report = dir.path().join(report);
        let mut args = vec![
            "compare",
            "--baseline",
            golden.to_str().unwrap(),
            "--actual",
            actual.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap();
        (
            o.status.code(),
            json,
            String::from_utf8_lossy(&o.stderr).into_owned(),
            report,
        )
    };
    let check = |j: &serde_json::Value, id: &str| {
        j["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("no check {id} in {j}"))
    };

    let (code, json, stderr, _) = suite("plain", &[]);
    assert_eq!(code, Some(2), "{json} {stderr}");
    assert_eq!(json["result"], "error");
    assert_eq!(json["settings"]["salvage"], false);
    assert_eq!(check(&json, "vm/boot.fb@2")["status"], "same", "{json}");
    for id in ["vm/boot.fb@10", "vm/boot.fb@end"] {
        let c = check(&json, id);
        assert_eq!(c["status"], "error", "{c}");
        assert_eq!(c["error"]["code"], "unreadable_recording", "{c}");
        assert_eq!(c["damaged"], serde_json::json!([]), "{c}");
    }
    assert!(!stderr.contains("warning:"), "{stderr}");

    let (code, json, stderr, report) = suite("salvaged", &["--salvage"]);
    assert_eq!(code, Some(0), "{json} {stderr}");
    assert_eq!(json["result"], "passed");
    assert_eq!(json["settings"]["salvage"], true);
    let before = check(&json, "vm/boot.fb@2");
    assert_eq!(before["status"], "same", "{before}");
    assert_eq!(before["damaged"], serde_json::json!([]), "{before}");
    let file = actual.join("vm").join("boot.fb").display().to_string();
    for id in ["vm/boot.fb@10", "vm/boot.fb@end"] {
        let c = check(&json, id);
        assert_eq!(c["status"], "same", "{c}");
        assert_eq!(c["diff_pixels"], 0, "{c}");
        let d = c["damaged"].as_array().unwrap();
        assert_eq!(d.len(), 1, "{c}");
        assert_eq!(d[0]["side"], "actual", "{c}");
        assert_eq!(d[0]["file"], file.as_str(), "{c}");
        assert!(d[0]["message"].as_str().unwrap().contains("skipped"), "{c}");
        let found = d[0]["found_at_s"].as_f64().unwrap();
        let next = d[0]["next_update_s"].as_f64().unwrap();
        assert!(found > 7.0 && found < 8.0 && next >= found, "{c}");
    }
    // One warning for the one stretch, naming the damaged file.
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(warnings[0].contains(&file), "{stderr}");
    assert!(warnings[0].contains("skipped"), "{stderr}");
    let junit = std::fs::read_to_string(report.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<system-err>").count(), 2, "{junit}");
    let line = |id: &str| {
        junit
            .lines()
            .find(|l| l.contains(&format!("name=\"{id}\"")))
            .unwrap_or_else(|| panic!("no {id}: {junit}"))
    };
    assert!(line("vm/boot.fb@2").ends_with("/>"), "{junit}");
    assert!(!line("vm/boot.fb@end").ends_with("/>"), "{junit}");
    if let Some(xmllint) = common::tool("xmllint") {
        let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/junit.xsd");
        let o = std::process::Command::new(xmllint)
            .arg("--noout")
            .arg("--schema")
            .arg(&xsd)
            .arg(report.join("junit.xml"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert_eq!(html.matches("1 damaged stretch skipped").count(), 2);
}
