//! The `rfbplay` command as a user runs it: info, frame, frames, exit
//! codes and messages for truncated, damaged and foreign files.

mod common;

use common::TempDir;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rfbplay(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(args)
        .output()
        .expect("run rfbplay")
}

fn sample() -> PathBuf {
    common::testdata().join("synthetic_core.fb")
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn info_json_describes_the_recording() {
    let out = rfbplay(&[os("info"), sample().as_os_str(), os("--json")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["updates"], 7);
    assert_eq!(v["messages"]["Bell"], 1);
    assert_eq!(v["messages"]["ServerCutText"], 1);
    assert_eq!(v["stats"]["rects"]["Zlib"], 4);
    assert_eq!(v["stats"]["rects"]["CopyRect"], 2);
    assert!((v["duration_s"].as_f64().unwrap() - 1.005).abs() < 1e-9);
    let sizes: Vec<(u64, u64)> = v["sizes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap()))
        .collect();
    assert_eq!(sizes, [(48, 32), (64, 40), (40, 24)]);
    assert!(v["truncated"].is_null());
    let text = rfbplay(&[os("info"), sample().as_os_str()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("duration:    1.005s") && text.contains("Zlib"),
        "{text}"
    );
}

#[test]
fn frame_at_end_and_at_a_time() {
    let tmp = TempDir::new("frame");
    let end = tmp.path().join("end.png");
    let out = rfbplay(&[
        os("frame"),
        sample().as_os_str(),
        end.as_os_str(),
        os("--at"),
        os("end"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        common::read_rgb(&end),
        common::read_rgb(&common::testdata().join("synthetic_core.png"))
    );
    // At 0.05 s only the first update (0.012 s) has arrived: 48x32.
    let early = tmp.path().join("early.png");
    let out = rfbplay(&[
        os("frame"),
        sample().as_os_str(),
        early.as_os_str(),
        os("--at"),
        os("50ms"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (w, h, _) = common::read_rgb(&early);
    assert_eq!((w, h), (48, 32));
    let out = rfbplay(&[
        os("frame"),
        sample().as_os_str(),
        early.as_os_str(),
        os("--at"),
        os("1m"),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("past the end of the recording (1.005s)"),
        "{}",
        stderr(&out)
    );
}

fn pngs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn frames_writes_a_numbered_sequence() {
    let tmp = TempDir::new("frames");
    let dir = tmp.path().join("all");
    let out = rfbplay(&[os("frames"), sample().as_os_str(), dir.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // 1.005 s at 10 fps: frames 0 to 10.
    let names = pngs(&dir);
    assert_eq!(names.len(), 11, "{names:?}");
    assert_eq!(names[0], "frame_000000.png");
    assert_eq!(names[10], "frame_000010.png");
    // Frame 0 comes before the first update: black at the first size.
    let (w, h, px) = common::read_rgb(&dir.join("frame_000000.png"));
    assert_eq!((w, h), (48, 32));
    assert!(px.iter().all(|&b| b == 0));
    // Frame 10 is at 1.000 s, before the last update (the shrink at 1.005 s).
    let (w, h, _) = common::read_rgb(&dir.join("frame_000010.png"));
    assert_eq!((w, h), (64, 40));

    let part = tmp.path().join("part");
    let out = rfbplay(&[
        os("frames"),
        sample().as_os_str(),
        part.as_os_str(),
        os("--fps"),
        os("20"),
        os("--from"),
        os("0.5"),
        os("--to"),
        os("800ms"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let names = pngs(&part);
    assert_eq!(names.first().map(String::as_str), Some("frame_000010.png"));
    assert_eq!(names.len(), 7, "{names:?}");
}

#[test]
fn a_truncated_recording_warns_and_succeeds() {
    let tmp = TempDir::new("trunc");
    let bytes = std::fs::read(sample()).unwrap();
    let cut = tmp.path().join("cut.fb");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let png = tmp.path().join("cut.png");
    let out = rfbplay(&[os("frame"), cut.as_os_str(), png.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.matches("warning").count(), 1, "{err}");
    assert!(
        err.contains("cut.fb") && err.contains("truncated") && err.contains("decompressed byte"),
        "{err}"
    );
    assert!(err.contains("recording time"), "{err}");
    assert!(png.is_file());
}

#[test]
fn a_damaged_recording_keeps_earlier_frames_and_fails() {
    let tmp = TempDir::new("damage");
    // Re-write the sample uncompressed with one rectangle's encoding broken.
    let scene = rfbplay::synth::core_scene();
    let mut stream: Vec<u8> = scene.iter().flat_map(|m| m.bytes.clone()).collect();
    let at: usize = scene[..3].iter().map(|m| m.bytes.len()).sum::<usize>() + 4 + 8;
    stream[at..at + 4].copy_from_slice(&77i32.to_be_bytes());
    let mut w = rfbplay::container::FbWriter::new(Vec::new(), 6);
    w.chunk(200_000_000, &stream).unwrap();
    let bad = tmp.path().join("bad.fb");
    std::fs::write(&bad, w.finish().unwrap()).unwrap();
    // All bytes arrive at 0.2 s: frames 0 and 1 come before them, and
    // frame 2 (0.2 s) shows the two updates decoded before the damage.
    let dir = tmp.path().join("frames");
    let out = rfbplay(&[os("frames"), bad.as_os_str(), dir.as_os_str()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("bad.fb")
            && err.contains("unknown encoding 77")
            && err.contains("recording time 0.200s"),
        "{err}"
    );
    assert_eq!(pngs(&dir).len(), 3, "frames up to the damage are written");
}

#[test]
fn a_foreign_file_is_named_in_the_error() {
    let tmp = TempDir::new("foreign");
    let f = tmp.path().join("notes.txt");
    std::fs::write(&f, "hello").unwrap();
    let out = rfbplay(&[os("info"), f.as_os_str()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("notes.txt") && err.contains("not a recording"),
        "{err}"
    );
}

#[test]
fn a_cut_recording_yields_no_frames_past_its_last_complete_update() {
    // The real minimega sample ends inside an update, chunks after the last
    // complete one carry later times: no frame may come from them.
    let file = common::testdata().join("minimega_qemu_ipxe.fb");
    let info = rfbplay(&[os("info"), file.as_os_str(), os("--json")]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let duration = v["duration_s"].as_f64().unwrap();
    let cut_at = v["truncated"]["time_s"].as_f64().unwrap();
    assert!(
        cut_at > duration + 0.1,
        "the sample's tail spans a frame time"
    );
    let tmp = TempDir::new("cuttail");
    let dir = tmp.path().join("f");
    let out = rfbplay(&[os("frames"), file.as_os_str(), dir.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let last = (duration * 10.0).floor() as usize;
    let names = pngs(&dir);
    assert_eq!(
        names.len(),
        last + 1,
        "frames 0..={last} for a {duration}s recording"
    );
}

/// The decompressed bytes of a gzip `.fb` file.
fn gunzip(path: &Path) -> Vec<u8> {
    let mut plain = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap()),
        &mut plain,
    )
    .unwrap();
    plain
}

fn gzip_to(path: &Path, plain: &[u8]) {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, plain).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

/// The decompressed file byte of RFB stream byte `s` in a `.fb` file's
/// decompressed bytes, found by walking its chunk records.
fn file_byte(plain: &[u8], s: usize) -> usize {
    let (mut pos, mut stream) = (0usize, 0usize);
    loop {
        let nl = pos + plain[pos..].iter().position(|&b| b == b'\n').unwrap();
        let header = std::str::from_utf8(&plain[pos..nl - 1]).unwrap();
        let len: usize = header.split(' ').nth(1).unwrap().parse().unwrap();
        if s < stream + len {
            return nl + 1 + (s - stream);
        }
        stream += len;
        pos = nl + 1 + len + 2;
    }
}

/// The updates `rfbplay updates --json` lists.
fn updates_of(path: &Path) -> Vec<serde_json::Value> {
    let out = rfbplay(&[os("updates"), path.as_os_str(), os("--json")]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "update")
        .collect()
}

/// A rectangle whose data spans several chunks and fails only once all of
/// it is in is reported at the decompressed file byte where it starts (its
/// header), in the update `updates` numbers it by. A ZRLE rectangle's data
/// is held until complete, so the pieces read meanwhile must not be taken
/// for where it starts.
#[test]
fn a_broken_rectangle_is_placed_where_it_starts() {
    let good = common::testdata().join("zrle_all.fb");
    let mut plain = gunzip(&good);
    // The first rectangle: ZRLE, 8887 bytes from stream byte 4, so over
    // several chunks. Its zlib stream's first byte (after the 12-byte
    // header and the 4-byte length) made invalid: inflate fails at once,
    // once the rectangle's data is all in.
    let rect = &updates_of(&good)[0]["rects"][0];
    assert_eq!(
        (rect["encoding"].as_str(), rect["stream_offset"].as_u64()),
        (Some("ZRLE"), Some(4))
    );
    let (start, end) = (file_byte(&plain, 4), file_byte(&plain, 8000));
    assert!(end > start + 8000, "the rectangle spans chunks: {rect}");
    let zlib = file_byte(&plain, 4 + 16);
    assert_eq!(plain[zlib], 0x78, "a zlib header");
    plain[zlib] = 0x07;
    let tmp = TempDir::new("broken-rect");
    let bad = tmp.path().join("bad.fb");
    gzip_to(&bad, &plain);
    let out = rfbplay(&[os("info"), bad.as_os_str()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let want = format!("at decompressed file byte {start}:");
    assert!(err.contains(&want), "want {want:?} in {err}");
    assert!(err.contains("of update 1:"), "{err}");
}

/// What can be read of a damaged recording ends at its last update before
/// the damage: a time after it is refused with that update's time named
/// (and no file written), one at it gives its screen.
#[test]
fn a_frame_after_the_last_update_before_damage_names_that_update() {
    let good = common::testdata().join("zrle_all.fb");
    let mut plain = gunzip(&good);
    // Update 2's first rectangle gets an unknown encoding.
    let updates = updates_of(&good);
    let at = updates[1]["rects"][0]["stream_offset"].as_u64().unwrap() as usize;
    for (k, b) in 99i32.to_be_bytes().into_iter().enumerate() {
        let byte = file_byte(&plain, at + 8 + k);
        plain[byte] = b;
    }
    let tmp = TempDir::new("after-damage");
    let bad = tmp.path().join("bad.fb");
    gzip_to(&bad, &plain);
    let first = rfbplay::time::Time::from_secs_f64(updates[0]["time_s"].as_f64().unwrap());
    let png = tmp.path().join("f.png");
    for at in ["1.3", "end"] {
        let out = rfbplay(&[
            os("frame"),
            bad.as_os_str(),
            png.as_os_str(),
            os("--at"),
            os(at),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "--at {at}: {err}");
        assert!(
            err.contains(&format!("{first}, the last update read before the damage"))
                || err.contains(&format!("update read before it is at {first}")),
            "--at {at}: {err}"
        );
        assert!(err.contains("--salvage"), "{err}");
        assert!(!png.exists(), "--at {at}");
    }
    // The time named, typed back, gives update 1's screen.
    let out = rfbplay(&[
        os("frame"),
        bad.as_os_str(),
        png.as_os_str(),
        os("--at"),
        os(first.to_string().trim_end_matches('s')),
    ]);
    // Decoding stops once the frame is in hand, before the damage.
    assert!(out.status.success(), "{}", stderr(&out));
    let want = tmp.path().join("u1.png");
    let out = rfbplay(&[
        os("frame"),
        good.as_os_str(),
        want.as_os_str(),
        os("--update"),
        os("1"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(common::read_rgb(&png), common::read_rgb(&want));
}
