//! The web player's additions, over HTTP and in a real headless Chromium
//! (tools/browser_player.js): markers from a .kb file beside a recording
//! (real corpus recordings paired with the corpus's real .kb files), needle
//! finds from a dragged region or a PNG (against `rfbplay find`), live
//! follow of a recording being written (copied in pieces, and recorded by
//! `rfbplay record` from a real Xvnc), and the background seek index. Every
//! screen shown must equal `rfbplay frame --at T`.

mod common;
#[path = "common/serve.rs"]
mod serve;
#[path = "common/xvnc.rs"]
mod xvnc;

use common::TempDir;
use serve::Server;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs tools/browser_player.js; returns its JSON.
fn drive(
    node: &Path,
    server: &Server,
    mode: &str,
    rec: &str,
    tag: &str,
    extra: &[&str],
) -> serde_json::Value {
    let out = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/serve-artifacts")
        .join(tag);
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(node)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/browser_player.js"))
        .arg(mode)
        .arg(server.url())
        .arg(rec)
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "browser check failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(
        result["notes"].as_array().unwrap().is_empty(),
        "{}",
        result["notes"]
    );
    result
}

/// Every capture equals `rfbplay frame FILE --at T`.
fn check_frames(file: &Path, result: &serde_json::Value) -> usize {
    let checks = result["checks"].as_array().unwrap();
    for c in checks {
        let t = c["t"].to_string();
        let shown = std::fs::read(c["file"].as_str().unwrap()).unwrap();
        let (w, h, want) = serve::frame_at(file, &t);
        assert_eq!(
            (c["w"].as_u64().unwrap(), c["h"].as_u64().unwrap()),
            (w as u64, h as u64)
        );
        assert!(
            shown == want,
            "{}: the canvas at {t} differs from `rfbplay frame --at {t}` in {} of {} bytes",
            c["name"],
            shown.iter().zip(&want).filter(|(a, b)| a != b).count(),
            want.len()
        );
    }
    checks.len()
}

/// lin1.fb (a real xterm recording) with lin1.kb (the corpus's
/// durations_loadfile.kb, which includes xterm_echo_hello.kb); p.fb with
/// p.sent.kb (pointer_select_paste.kb); none.fb with no .kb.
fn kb_folder(corpus: &Path) -> TempDir {
    let tmp = TempDir::new("serve-kb");
    let copy = |from: &str, to: &str| {
        std::fs::copy(corpus.join(from), tmp.path().join(to)).unwrap();
    };
    copy("mm_xvnc_xterm.fb", "lin1.fb");
    copy("durations_loadfile.kb", "lin1.kb");
    copy("xterm_echo_hello.kb", "xterm_echo_hello.kb");
    copy("mm_xvnc_bell.fb", "p.fb");
    copy("pointer_select_paste.kb", "p.sent.kb");
    copy("mm_qemu_ipxe.fb", "none.fb");
    tmp
}

fn get_json(server: &Server, target: &str) -> serde_json::Value {
    let (status, head, body) = server.get(target);
    assert_eq!(status, 200, "{target}: {head}");
    serde_json::from_slice(&body).unwrap()
}

/// The key-press lines of a .kb text, in order.
fn presses(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split_once(":KeyEvent,true,").map(|(_, k)| k.to_string()))
        .collect()
}

#[test]
fn kb_events_beside_a_recording_are_markers() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let tmp = kb_folder(&corpus);
    let server = Server::start(tmp.path());

    // Keys, through LoadFile: the included file's presses sit where the
    // LoadFile line is, in order, and times are the sums of the delays.
    let v = get_json(&server, "/api/inputs?path=lin1.fb");
    assert_eq!(v["kb"], "lin1.kb");
    assert!(v["error"].is_null(), "{}", v["error"]);
    let top = std::fs::read_to_string(corpus.join("durations_loadfile.kb")).unwrap();
    let inner = std::fs::read_to_string(corpus.join("xterm_echo_hello.kb")).unwrap();
    let (before, after) = top.split_once(":LoadFile,").unwrap();
    let want: Vec<String> = [presses(before), presses(&inner), presses(after)].concat();
    let markers = v["markers"].as_array().unwrap();
    let keys: Vec<&str> = markers
        .iter()
        .filter(|m| m["kind"] == "key")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(keys, want);
    // 500ms + 250ms + 1s before the first press of c.
    assert_eq!(markers[0]["time_s"], 1.75);
    assert_eq!(markers[0]["text"], "c");
    assert!(markers
        .windows(2)
        .all(|w| w[0]["time_s"].as_f64() <= w[1]["time_s"].as_f64()));

    // Pointer button presses from NAME.sent.kb; motion and releases are
    // counted but not marked.
    let v = get_json(&server, "/api/inputs?path=p.fb");
    assert_eq!(v["kb"], "p.sent.kb");
    let texts: Vec<&str> = v["markers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "left at 166,23",
            "left at 166,23",
            "middle at 104,46",
            "right at 361,141",
            "wheel up at 361,141",
            "wheel down at 361,141"
        ]
    );
    let text = std::fs::read_to_string(corpus.join("pointer_select_paste.kb")).unwrap();
    assert_eq!(v["events"], text.lines().count());
    let first_press: u64 = text
        .lines()
        .take_while(|l| !l.contains("PointerEvent,1,"))
        .chain(text.lines().find(|l| l.contains("PointerEvent,1,")))
        .map(|l| l.split(':').next().unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(v["markers"][0]["time_s"], first_press as f64 / 1e9);

    let v = get_json(&server, "/api/inputs?path=none.fb");
    assert!(v["kb"].is_null() && v["markers"].as_array().unwrap().is_empty());
}

#[test]
fn a_kb_file_cannot_read_outside_the_served_folder() {
    let tmp = TempDir::new("serve-kb-outside");
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(common::testdata().join("rre.fb"), root.join("rre.fb")).unwrap();
    std::fs::write(
        tmp.path().join("secret.kb"),
        "1:KeyEvent,true,a\nnot an event\n",
    )
    .unwrap();
    std::fs::write(
        root.join("rre.kb"),
        "1:KeyEvent,true,b\n1:LoadFile,../secret.kb\n",
    )
    .unwrap();
    let server = Server::start(&root);
    let v = get_json(&server, "/api/inputs?path=rre.fb");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("outside the folder files may be read from"),
        "{error}"
    );
    // Nothing of the outside file shows, not even its syntax error.
    assert!(
        !error.contains("not an event") && !error.contains("line 2"),
        "{error}"
    );
    assert!(v["markers"].as_array().unwrap().is_empty());
}

#[test]
fn browser_steps_through_kb_markers() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let Some(node) = common::browser() else {
        return;
    };
    let tmp = kb_folder(&corpus);
    let server = Server::start(tmp.path());
    let result = drive(&node, &server, "markers", "lin1.fb", "markers", &[]);
    let titles: Vec<&str> = result["marker_titles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(titles.contains(&"key at 1.750: c"), "{titles:?}");
    assert!(
        titles.iter().any(|t| t.ends_with(": greater")),
        "{titles:?}"
    );
    let kinds = result["markers"].as_array().unwrap();
    assert!(kinds.iter().any(|m| m["kind"] == "key"));
    let n = check_frames(&tmp.path().join("lin1.fb"), &result);
    assert!(n >= 20, "only {n} frames checked");
}

/// A folder with z.fb, a real ZRLE xterm recording with a picture that
/// appears, stays and goes.
fn find_folder(corpus: &Path) -> TempDir {
    let tmp = TempDir::new("serve-find");
    std::fs::copy(corpus.join("enc_xvnc_zrle.fb"), tmp.path().join("z.fb")).unwrap();
    tmp
}

/// The needle of the find tests: 64x40 of the picture at 6 s, as a PNG cut
/// from `rfbplay frame --at 6`.
const REGION: (u32, u32, u32, u32) = (640, 80, 64, 40);

fn needle_png(file: &Path, out: &Path) {
    let (w, h, rgb) = serve::frame_at(file, "6");
    let img = image::RgbImage::from_raw(w, h, rgb).unwrap();
    let (x, y, nw, nh) = REGION;
    image::imageops::crop_imm(&img, x, y, nw, nh)
        .to_image()
        .save(out)
        .unwrap();
}

/// (start, end, x, y) of each span of a find report (the CLI's or the server's).
fn spans(v: &serde_json::Value) -> Vec<(f64, Option<f64>, u64, u64)> {
    v["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["start_s"].as_f64().unwrap(),
                s["end_s"].as_f64(),
                s["x"].as_u64().unwrap(),
                s["y"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn find_from_a_region_or_a_png_gives_what_rfbplay_find_gives() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let tmp = find_folder(&corpus);
    let file = tmp.path().join("z.fb");
    let png = tmp.path().join("needle.png");
    needle_png(&file, &png);
    let cli = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(["-q", "find"])
        .arg(&file)
        .arg(&png)
        .arg("--json")
        .output()
        .unwrap();
    let cli: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    let want = spans(&cli);
    assert!(!want.is_empty(), "{cli}");
    // The span holding 6 s is where the region was cut from.
    assert!(want
        .iter()
        .any(|s| s.0 <= 6.0 && s.1.is_none_or(|e| e > 6.0) && (s.2, s.3) == (640, 80)));

    let server = Server::start(tmp.path());
    let (x, y, w, h) = REGION;
    let region = format!("/api/find?path=z.fb&t=6&x={x}&y={y}&w={w}&h={h}");
    let (status, _, body) = server.request_with("POST", &region, &[]);
    assert_eq!(status, 200);
    let by_region: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(spans(&by_region), want);
    // The document of `find --json`, field for field, with the needle's
    // size.
    for key in cli.as_object().unwrap().keys() {
        assert!(by_region.get(key).is_some(), "{key} missing: {by_region}");
    }
    assert_eq!(
        (
            &by_region["schema"],
            &by_region["found"],
            &by_region["file"]
        ),
        (
            &serde_json::json!(1),
            &serde_json::json!(true),
            &serde_json::json!("z.fb")
        )
    );
    assert_eq!(by_region["spans"], cli["spans"]);
    assert_eq!(
        (by_region["width"].as_u64(), by_region["height"].as_u64()),
        (Some(64), Some(40))
    );

    let (status, _, body) =
        server.request_with("POST", "/api/find?path=z.fb", &std::fs::read(&png).unwrap());
    assert_eq!(status, 200);
    let by_png: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(spans(&by_png), want);

    // Mistakes are the caller's, and say what is wrong.
    let (status, _, body) =
        server.request_with("POST", "/api/find?path=z.fb&t=6&x=1000&y=0&w=64&h=40", &[]);
    assert_eq!(status, 422);
    assert!(String::from_utf8_lossy(&body).contains("not inside the 1024x768 screen"));
    let (status, _, body) = server.request_with("POST", "/api/find?path=z.fb", b"not a png");
    assert_eq!(status, 422);
    assert!(String::from_utf8_lossy(&body).contains("the uploaded PNG is not a readable PNG"));
    assert_eq!(
        server.request_with("POST", "/api/find?path=z.fb", &[]).0,
        400
    );
    assert_eq!(
        server.request_with("POST", "/api/find?path=../z.fb", &[]).0,
        403
    );

    // A second find while one runs is told to come back. The first is a
    // slow one: a needle of noise at a loose threshold, which few places
    // can be ruled out for (seconds even in a release build; the server
    // is stopped before it ends).
    let mut noise = image::RgbImage::new(120, 40);
    let mut seed = 12345u32;
    for p in noise.pixels_mut() {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        p.0 = (seed >> 8).to_le_bytes()[..3].try_into().unwrap();
    }
    let noise_png = tmp.path().join("noise.png");
    noise.save(&noise_png).unwrap();
    // At the default threshold it is simply not there: no near miss.
    let (status, _, body) = server.request_with(
        "POST",
        "/api/find?path=z.fb",
        &std::fs::read(&noise_png).unwrap(),
    );
    assert_eq!(status, 200);
    let absent: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(spans(&absent).is_empty(), "{absent}");
    assert!(absent["best"].is_null(), "{absent}");
    assert_eq!(absent["closest_within"], 7.0, "{absent}");
    let slow = server.send(
        "POST",
        "/api/find?path=z.fb&threshold=60",
        &std::fs::read(&noise_png).unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let (status, head, _) = server.request_with("POST", &region, &[]);
    assert_eq!(status, 503, "{head}");
    assert!(head.to_ascii_lowercase().contains("retry-after"), "{head}");
    drop(slow);
}

#[test]
fn browser_finds_a_dragged_region() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let Some(node) = common::browser() else {
        return;
    };
    let tmp = find_folder(&corpus);
    let file = tmp.path().join("z.fb");
    let server = Server::start(tmp.path());
    let (x, y, w, h) = REGION;
    let (status, _, body) = server.request_with(
        "POST",
        &format!("/api/find?path=z.fb&t=6&x={x}&y={y}&w={w}&h={h}"),
        &[],
    );
    assert_eq!(status, 200);
    let want: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let png = tmp.path().join("needle.png");
    needle_png(&file, &png);
    let mut args: Vec<String> = [x, y, w, h].map(|v| v.to_string()).into();
    args.push(png.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = drive(&node, &server, "find", "z.fb#t=6", "find", &args);
    assert_eq!(spans(&result["found"]), spans(&want), "{result}");
    assert_eq!(spans(&result["found_by_upload"]), spans(&want), "{result}");
    let hits = result["hit_markers"].as_array().unwrap();
    assert_eq!(hits.len(), spans(&want).len());
    assert!(
        hits[0]["title"].as_str().unwrap().starts_with("hit at "),
        "{hits:?}"
    );
    let status = result["find_status"].as_str().unwrap();
    assert!(status.contains("found"), "{status}");
    // ] from 0 reaches the first hit.
    let reached = result["reached_first_hit"].as_f64().unwrap();
    let start = spans(&want)[0].0;
    assert!(
        (reached - (start * 1000.0 - 1e-6).ceil() / 1000.0).abs() < 1e-6,
        "{reached} vs {start}"
    );
    check_frames(&file, &result);
}

/// Writes `from` into `to` as a recorder would: the first `head` bytes at
/// once, then the rest in `pieces` pieces `pause` apart, each flushed.
fn write_slowly(
    from: &Path,
    to: &Path,
    head: usize,
    pieces: usize,
    pause: std::time::Duration,
) -> std::thread::JoinHandle<std::time::Instant> {
    use std::io::Write;
    let bytes = std::fs::read(from).unwrap();
    let mut out = std::fs::File::create(to).unwrap();
    out.write_all(&bytes[..head]).unwrap();
    out.flush().unwrap();
    std::thread::spawn(move || {
        let step = (bytes.len() - head).div_ceil(pieces);
        for piece in bytes[head..].chunks(step) {
            std::thread::sleep(pause);
            out.write_all(piece).unwrap();
            out.flush().unwrap();
        }
        std::time::Instant::now()
    })
}

/// `rfbplay info --json`'s duration.
fn duration_of(file: &Path) -> f64 {
    let out = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(["-q", "info", "--json"])
        .arg(file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["duration_s"].as_f64().unwrap()
}

fn ceil_ms(t: f64) -> f64 {
    (t * 1000.0 - 1e-6).ceil() / 1000.0
}

/// minimega_qemu_ipxe.fb (a real minimega recording: its gzip stream never
/// ends) written in 12 pieces half a second apart.
const LIVE_SOURCE: &str = "minimega_qemu_ipxe.fb";

#[test]
fn a_growing_recording_is_followed_live() {
    let tmp = TempDir::new("serve-live");
    let source = common::testdata().join(LIVE_SOURCE);
    let file = tmp.path().join("live.fb");
    let len = std::fs::metadata(&source).unwrap().len() as usize;
    let writer = write_slowly(
        &source,
        &file,
        len / 5,
        12,
        std::time::Duration::from_millis(500),
    );
    let server = Server::start(tmp.path());
    let mut durations = Vec::new();
    let mut live_frames = 0;
    while !writer.is_finished() {
        let v = get_json(&server, "/api/timeline?path=live.fb");
        assert_eq!(v["live"], true, "a file being written is live");
        let d = v["duration_s"].as_f64().unwrap();
        durations.push(d);
        // The live end, from the follower once it has reached the end.
        let (status, head, body) = server.get("/api/frame?path=live.fb&t=end");
        assert_eq!(status, 200, "{head}");
        let t: f64 = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("x-frame-time: ")
                    .map(|v| v.trim().parse().unwrap())
            })
            .unwrap();
        assert!(t >= d, "the end shown ({t}) is before the duration ({d})");
        if head.to_ascii_lowercase().contains("x-frame-source: live") {
            live_frames += 1;
            let img = image::load_from_memory(&body).unwrap().to_rgb8();
            // Compared once the file is whole: kept as (t, pixels).
            std::fs::write(
                tmp.path().join(format!("live_{live_frames}.rgb")),
                img.as_raw(),
            )
            .unwrap();
            std::fs::write(
                tmp.path().join(format!("live_{live_frames}.t")),
                format!("{t:.9}"),
            )
            .unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(400));
    }
    let finished = writer.join().unwrap();
    assert!(durations.len() >= 5, "{durations:?}");
    assert!(durations.windows(2).all(|w| w[0] <= w[1]), "{durations:?}");
    assert!(
        durations.last() > durations.first(),
        "the duration never grew: {durations:?}"
    );
    assert!(
        live_frames >= 2,
        "the follower answered {live_frames} frames"
    );
    for i in 1..=live_frames {
        let t = std::fs::read_to_string(tmp.path().join(format!("live_{i}.t"))).unwrap();
        let shown = std::fs::read(tmp.path().join(format!("live_{i}.rgb"))).unwrap();
        let (_, _, want) = serve::frame_at(&file, &t);
        assert!(
            shown == want,
            "the live end at {t} differs from `rfbplay frame --at {t}`"
        );
    }
    // Once it stops growing it is a cut recording like any other.
    let v = loop {
        let v = get_json(&server, "/api/timeline?path=live.fb&brief=1");
        if v["live"] == false || finished.elapsed().as_secs() > 30 {
            break v;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(v["live"], false, "{v}");
    assert!(
        finished.elapsed().as_secs_f64() >= 8.0,
        "live ended too soon: {:?} {v}",
        finished.elapsed()
    );
    assert!(!v["cut"].is_null());
    assert_eq!(v["duration_s"].as_f64().unwrap(), duration_of(&file));
}

#[test]
fn browser_follows_a_growing_recording() {
    let Some(node) = common::browser() else {
        return;
    };
    let tmp = TempDir::new("serve-live-browser");
    let source = common::testdata().join(LIVE_SOURCE);
    let file = tmp.path().join("live.fb");
    let len = std::fs::metadata(&source).unwrap().len() as usize;
    let writer = write_slowly(
        &source,
        &file,
        len / 5,
        12,
        std::time::Duration::from_millis(600),
    );
    let server = Server::start(tmp.path());
    let result = drive(&node, &server, "live", "live.fb", "live", &["6"]);
    writer.join().unwrap();
    assert_eq!(result["live_flag"], true, "{result}");
    let durations: Vec<f64> = result["durations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap())
        .collect();
    assert!(durations.windows(2).all(|w| w[0] <= w[1]), "{durations:?}");
    assert!(
        durations.last() > durations.first(),
        "the duration never grew: {durations:?}"
    );
    // At the end, the page followed it: what it showed was the end then.
    let checks = result["checks"].as_array().unwrap();
    let followed = checks
        .iter()
        .filter(|c| c["name"] == "live")
        .filter(|c| c["t"].as_f64() == Some(ceil_ms(c["duration"].as_f64().unwrap())))
        .count();
    assert!(followed >= 3, "{checks:?}");
    let last = checks.last().unwrap();
    assert_eq!(last["name"], "live_final");
    let d = duration_of(&file);
    assert_eq!(result["final_duration"].as_f64().unwrap(), d);
    assert_eq!(last["t"].as_f64().unwrap(), ceil_ms(d));
    check_frames(&file, &result);
}

/// minimega_qemu_ipxe.fb with every time multiplied by `stretch`: the same
/// Raw updates (which carry no state from one to the next), over longer.
fn stretched(from: &Path, to: &Path, stretch: u64) {
    use rfbplay::container::{self, FbWriter, Piece};
    let mut src = container::open(from).unwrap();
    let out = std::fs::File::create(to).unwrap();
    let mut writer = FbWriter::new(std::io::BufWriter::new(out), 1);
    while let Piece::Data { time, bytes, .. } = src.next_piece().unwrap() {
        writer.chunk(time.0 * stretch, bytes).unwrap();
    }
    writer.finish().unwrap();
}

fn index_files(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "idx"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_seek_in_a_long_recording_builds_its_index_in_the_background() {
    let tmp = TempDir::new("serve-indexer");
    let (root, cache) = (tmp.path().join("root"), tmp.path().join("cache"));
    std::fs::create_dir_all(&root).unwrap();
    let source = common::testdata().join("minimega_qemu_ipxe.fb");
    stretched(&source, &root.join("long.fb"), 4);
    std::fs::copy(&source, root.join("short.fb")).unwrap();
    let server = Server::start_env(
        &["serve".as_ref(), root.as_os_str()],
        &[("RFBPLAY_CACHE", &cache)],
    );
    // A short one is not worth an index.
    let v = get_json(&server, "/api/timeline?path=short.fb");
    assert!(v["duration_s"].as_f64().unwrap() < 60.0);
    assert_eq!(server.get("/api/frame?path=short.fb&t=10").0, 200);
    let v = get_json(&server, "/api/timeline?path=long.fb");
    assert!(
        v["duration_s"].as_f64().unwrap() > 60.0,
        "{}",
        v["duration_s"]
    );
    let (status, _, before) = server.get("/api/frame?path=long.fb&t=65");
    assert_eq!(status, 200);
    let started = std::time::Instant::now();
    while index_files(&cache).is_empty() && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(index_files(&cache).len(), 1, "one index, for long.fb");
    // Seeks now start at its checkpoints; frames stay exactly the sampler's.
    for t in ["65", "30.5", "69"] {
        let (status, _, png) = server.get(&format!("/api/frame?path=long.fb&t={t}"));
        assert_eq!(status, 200);
        let img = image::load_from_memory(&png).unwrap().to_rgb8();
        assert!(
            img.into_raw() == serve::frame_at(&root.join("long.fb"), t).2,
            "at {t}"
        );
    }
    let again = server.get("/api/frame?path=long.fb&t=65").2;
    assert!(again == before);
}

/// The recorder, killed by its PID when dropped.
struct Recorder(std::process::Child);

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_recording_made_by_rfbplay_record_is_followed_live() {
    if common::tool("xterm").is_none() {
        return;
    }
    let Some(mut x) = xvnc::Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    // A screen that changes all the time: a clock with milliseconds.
    x.spawn(
        "xterm",
        &[
            "-geometry",
            "40x5+0+0",
            "-e",
            "sh",
            "-c",
            "while :; do date +%T.%N; sleep 0.1; done",
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(800));
    let tmp = TempDir::new("serve-live-xvnc");
    let file = tmp.path().join("rec.fb");
    let recorder = Recorder(
        Command::new(env!("CARGO_BIN_EXE_rfbplay"))
            .args(["record", &x.target()])
            .arg(&file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let server = Server::start(tmp.path());
    let mut durations = Vec::new();
    let mut shown = Vec::new();
    for _ in 0..8 {
        let v = get_json(&server, "/api/timeline?path=rec.fb");
        assert_eq!(v["live"], true, "{v}");
        durations.push(v["duration_s"].as_f64().unwrap());
        let (status, head, body) = server.get("/api/frame?path=rec.fb&t=end");
        assert_eq!(status, 200, "{head}");
        let head = head.to_ascii_lowercase();
        if head.contains("x-frame-source: live") {
            let t = head
                .lines()
                .find_map(|l| l.strip_prefix("x-frame-time: "))
                .unwrap()
                .trim()
                .to_string();
            shown.push((
                t,
                image::load_from_memory(&body).unwrap().to_rgb8().into_raw(),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(700));
    }
    drop(recorder);
    x.kill();
    assert!(durations.windows(2).all(|w| w[0] <= w[1]), "{durations:?}");
    assert!(
        durations.last().unwrap() - durations.first().unwrap() > 3.0,
        "{durations:?}"
    );
    assert!(shown.len() >= 3, "the follower showed {} ends", shown.len());
    for (t, pixels) in &shown {
        assert!(
            *pixels == serve::frame_at(&file, t).2,
            "the live end at {t} differs from `rfbplay frame --at {t}`"
        );
    }
}
