//! What a new user hits first, command by command: `frame --at` at ordinary
//! times, outputs that never harm inputs, ranges with one rule, times shown
//! one way, and error messages that say each cause once.

mod common;

use common::TempDir;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn rfbplay<S: AsRef<OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rfbplay")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ipxe() -> PathBuf {
    common::testdata().join("minimega_qemu_ipxe.fb")
}

fn synthetic() -> PathBuf {
    common::testdata().join("synthetic_core.fb")
}

/// Fails when any phrase of three or more words appears twice in a line of
/// `text`, or any `: `-separated part repeats.
fn assert_says_each_cause_once(text: &str) {
    for line in text.lines() {
        let parts: Vec<&str> = line.split(": ").map(str::trim).collect();
        for (i, p) in parts.iter().enumerate() {
            assert!(
                !parts[i + 1..].contains(p),
                "repeated part {p:?} in {line:?}"
            );
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        for n in [4usize] {
            let mut seen = std::collections::HashSet::new();
            for w in words.windows(n) {
                let phrase = w.join(" ");
                assert!(
                    seen.insert(phrase.clone()),
                    "repeated {phrase:?} in {line:?}"
                );
            }
        }
    }
}

#[test]
fn frame_at_ordinary_times_equals_frames() {
    let tmp = TempDir::new("frameat");
    let dir = tmp.path().join("frames");
    let out = rfbplay(&[OsStr::new("frames"), ipxe().as_os_str(), dir.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for (at, k) in [("5", 50), ("12.5", 125), ("0.05", 0), ("1m", usize::MAX)] {
        let png = tmp.path().join(format!("at{at}.png"));
        let out = rfbplay(&[
            OsStr::new("frame"),
            ipxe().as_os_str(),
            png.as_os_str(),
            OsStr::new("--at"),
            OsStr::new(at),
        ]);
        let err = stderr(&out);
        assert_says_each_cause_once(&err);
        if k == usize::MAX {
            assert_eq!(out.status.code(), Some(1), "{err}");
            assert!(
                err.contains("past the end of the recording (17.566s)"),
                "{err}"
            );
            continue;
        }
        assert!(out.status.success(), "--at {at}: {err}");
        assert!(err.contains("wrote"), "{err}");
        let want = dir.join(format!("frame_{k:06}.png"));
        assert_eq!(common::read_rgb(&png), common::read_rgb(&want), "--at {at}");
    }
}

#[test]
fn every_time_info_prints_is_accepted() {
    let info = rfbplay(&[OsStr::new("info"), ipxe().as_os_str()]);
    let text = String::from_utf8_lossy(&info.stdout).into_owned();
    let duration = text
        .lines()
        .find_map(|l| l.strip_prefix("duration:"))
        .and_then(|l| l.split_whitespace().next())
        .expect("a duration line")
        .trim_end_matches('s')
        .to_string();
    let tmp = TempDir::new("infotimes");
    let at = tmp.path().join("at.png");
    let end = tmp.path().join("end.png");
    let out = rfbplay(&[
        OsStr::new("frame"),
        ipxe().as_os_str(),
        at.as_os_str(),
        OsStr::new("--at"),
        OsStr::new(&duration),
    ]);
    assert!(out.status.success(), "--at {duration}: {}", stderr(&out));
    let out = rfbplay(&[OsStr::new("frame"), ipxe().as_os_str(), end.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(common::read_rgb(&at), common::read_rgb(&end));
    // The warning names the cut's time as info does.
    let cut = text
        .lines()
        .find(|l| l.starts_with("truncated:"))
        .and_then(|l| l.split("recording time ").nth(1))
        .map(|t| t.trim_end_matches(')').to_string())
        .expect("a truncation line");
    assert!(
        stderr(&out).contains(&format!("recording time {cut}")),
        "{}",
        stderr(&out)
    );
}

/// The time `frame --update N` prints for an update, typed back to
/// `--at`, shows the screen that update drew: times are shown rounded up to
/// the millisecond. Update 42 of the iPXE recording comes at 5.4762 s and
/// changes pixels, so a time rounded down (5.476) shows the screen before it.
#[test]
fn a_time_printed_for_an_update_typed_back_shows_that_update() {
    let tmp = TempDir::new("typedback");
    for n in ["2", "42", "97", "115"] {
        let by_update = tmp.path().join(format!("u{n}.png"));
        let out = rfbplay(&[
            OsStr::new("frame"),
            ipxe().as_os_str(),
            by_update.as_os_str(),
            OsStr::new("--update"),
            OsStr::new(n),
        ]);
        let err = stderr(&out);
        assert!(out.status.success(), "--update {n}: {err}");
        let at = err
            .split(&format!("after update {n}, at "))
            .nth(1)
            .and_then(|t| t.split("s)").next())
            .unwrap_or_else(|| panic!("no time in: {err}"))
            .to_string();
        let by_time = tmp.path().join(format!("t{n}.png"));
        let out = rfbplay(&[
            OsStr::new("frame"),
            ipxe().as_os_str(),
            by_time.as_os_str(),
            OsStr::new("--at"),
            OsStr::new(&at),
        ]);
        assert!(out.status.success(), "--at {at}: {}", stderr(&out));
        assert!(
            common::read_rgb(&by_update) == common::read_rgb(&by_time),
            "update {n} printed at {at}, but --at {at} shows another screen"
        );
    }
}

#[test]
fn outputs_never_overwrite_inputs() {
    let tmp = TempDir::new("inputs");
    let a = tmp.path().join("a.fb");
    let b = tmp.path().join("b.fb");
    std::fs::copy(synthetic(), &a).unwrap();
    std::fs::copy(synthetic(), &b).unwrap();
    let before = std::fs::read(&a).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&a, tmp.path().join("link.mp4")).unwrap();
    let cases: Vec<Vec<PathBuf>> = vec![
        vec!["frame".into(), a.clone(), a.clone()],
        vec!["export".into(), a.clone(), tmp.path().join("link.mp4")],
        vec!["frames".into(), a.clone(), a.clone()],
    ];
    for args in cases {
        let out = rfbplay(&args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} must fail");
        assert_says_each_cause_once(&err);
        assert!(
            std::fs::read(&a).unwrap() == before,
            "{args:?} changed the input: {err}"
        );
    }
    // A file that is not an input (b.fb) is not an image name either.
    let out = rfbplay(&[OsStr::new("frame"), a.as_os_str(), b.as_os_str()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("unknown image format"),
        "{}",
        stderr(&out)
    );
    assert!(std::fs::read(&b).unwrap() == before);
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn image_formats_follow_the_extension_and_dash_is_stdout() {
    let tmp = TempDir::new("formats");
    for (name, magic) in [
        ("s.png", &b"\x89PNG"[..]),
        ("s.jpg", &b"\xff\xd8\xff"[..]),
        ("s.JPEG", &b"\xff\xd8\xff"[..]),
        ("s.webp", &b"RIFF"[..]),
    ] {
        let p = tmp.path().join(name);
        let out = rfbplay(&[OsStr::new("frame"), synthetic().as_os_str(), p.as_os_str()]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(std::fs::read(&p).unwrap().starts_with(magic), "{name}");
    }
    let out = rfbplay(&[
        OsStr::new("frame"),
        synthetic().as_os_str(),
        OsStr::new("-"),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.starts_with(b"\x89PNG"));
    assert!(!Path::new("-").exists());
    let bmp = tmp.path().join("s.bmp");
    let out = rfbplay(&[
        OsStr::new("frame"),
        synthetic().as_os_str(),
        bmp.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("use .png, .jpg"), "{}", stderr(&out));
    assert!(!bmp.exists());
}

#[test]
fn ranges_follow_one_rule() {
    let tmp = TempDir::new("ranges");
    let dir = tmp.path().join("f");
    let run = |extra: &[&str]| {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("frames"),
            ipxe().into_os_string().leak(),
            dir.as_os_str(),
        ];
        args.extend(extra.iter().map(OsStr::new));
        rfbplay(&args)
    };
    // from > to: a usage error.
    let out = run(&["--from", "5", "--to", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--from 5.000s is after --to 2.000s"));
    // Entirely past the end: an error naming the duration.
    let out = run(&["--from", "20"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--from 20.000s is past the end of the recording (17.566s)"),
        "{}",
        stderr(&out)
    );
    // Running past the end: clamped, with a note.
    let out = run(&["--from", "17", "--to", "1m"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("frames stop there"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("wrote 6 frames"), "{}", stderr(&out));
    let out = run(&["--from", "17.5", "--to", "17.5", "-q"]);
    assert!(out.status.success());
    assert!(stderr(&out).is_empty(), "--quiet: {}", stderr(&out));
    let out = run(&["--fps", "1001"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at most 240"), "{}", stderr(&out));
    // export follows the same rule.
    let mp4 = tmp.path().join("r.mp4");
    let export = |extra: &[&str]| {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("export"),
            ipxe().into_os_string().leak(),
            mp4.as_os_str(),
        ];
        args.extend(extra.iter().map(OsStr::new));
        rfbplay(&args)
    };
    let out = export(&["--from", "10", "--to", "5"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = export(&["--from", "20"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("--from 20.000s is past the end of the recording (17.566s)"),
        "{}",
        stderr(&out)
    );
    let out = export(&["--from", "15", "--to", "1m"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("frames stop there"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn error_paths_say_each_cause_once() {
    let tmp = TempDir::new("errors");
    let empty = tmp.path().join("empty.fb");
    std::fs::write(&empty, b"").unwrap();
    let foreign = tmp.path().join("notes.txt");
    std::fs::write(&foreign, b"hello").unwrap();
    let mut flipped = std::fs::read(synthetic()).unwrap();
    flipped[50] ^= 0xff;
    let flip = tmp.path().join("flip.fb");
    std::fs::write(&flip, &flipped).unwrap();
    let missing = tmp.path().join("nonexist.fb");
    let out_png = tmp.path().join("o.png");
    let no_dir = tmp.path().join("no/such/dir/o.png");
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["info".into(), s(&missing)], "No such file"),
        (
            vec!["info".into(), s(&empty)],
            "not a recording: the file is empty",
        ),
        (vec!["info".into(), s(&foreign)], "not a recording"),
        (
            vec!["info".into(), s(&flip)],
            "corrupt compressed data at file byte",
        ),
        (
            vec!["frame".into(), s(&missing), s(&out_png)],
            "No such file",
        ),
        (
            vec!["frame".into(), s(&synthetic()), s(&no_dir)],
            "cannot create",
        ),
        (
            vec!["frames".into(), s(&flip), s(&tmp.path().join("d"))],
            "corrupt",
        ),
        (
            vec![s(&missing), s(&tmp.path().join("o.mp4"))],
            "No such file",
        ),
        (
            vec!["export".into(), s(&missing), s(&tmp.path().join("o.mp4"))],
            "No such file",
        ),
        (
            vec![
                "frame".into(),
                s(&synthetic()),
                s(&out_png),
                "--at".into(),
                "x".into(),
            ],
            "not a time",
        ),
    ];
    for (args, want) in cases {
        let out = rfbplay(&args);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert_says_each_cause_once(&err);
        assert!(!err.contains("panicked"), "{err}");
        let errors = err
            .lines()
            .filter(|l| l.starts_with("rfbplay: error") || l.starts_with("error:"))
            .count();
        assert_eq!(errors, 1, "{args:?}: one error line: {err}");
    }
}

#[test]
fn damage_is_placed_and_trailing_bytes_only_warn() {
    let tmp = TempDir::new("place");
    let mut flipped = std::fs::read(synthetic()).unwrap();
    flipped[50] ^= 0xff;
    let flip = tmp.path().join("flip.fb");
    std::fs::write(&flip, &flipped).unwrap();
    let out = rfbplay(&[OsStr::new("info"), flip.as_os_str(), OsStr::new("--json")]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let err = v["error"].as_str().unwrap();
    let at: u64 = err
        .split("at file byte ")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        (50..200).contains(&at),
        "damage at byte 50 is reported at {at}"
    );

    let mut trailing = std::fs::read(synthetic()).unwrap();
    let len = trailing.len();
    trailing.extend_from_slice(b"garbage after the stream\n");
    let t = tmp.path().join("trailing.fb");
    std::fs::write(&t, &trailing).unwrap();
    let out = rfbplay(&[OsStr::new("info"), t.as_os_str(), OsStr::new("--json")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!(
        "from file byte {len} on is not part of the recording"
    )));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["updates"], 7, "every update was read");
    assert_eq!(v["trailing_data_at"], len);
}

#[test]
fn a_stream_cut_inside_a_complete_gzip_is_truncated() {
    use std::io::Write;
    // The synthetic recording's stream, rewritten with its last chunk cut in
    // half but the gzip stream properly finished.
    let gz = std::fs::read(synthetic()).unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::MultiGzDecoder::new(&gz[..]), &mut plain)
        .unwrap();
    let mut records = Vec::new();
    let mut i = 0;
    while i < plain.len() {
        let nl = plain[i..].windows(2).position(|w| w == b"\r\n").unwrap() + i;
        let head = std::str::from_utf8(&plain[i..nl]).unwrap();
        let (d, n) = head.split_once(' ').unwrap();
        let n: usize = n.parse().unwrap();
        records.push((
            d.parse::<u64>().unwrap(),
            plain[nl + 2..nl + 2 + n].to_vec(),
        ));
        i = nl + 2 + n + 2;
    }
    let last = records.len() - 1;
    let half = records[last].1.len() / 2;
    records[last].1.truncate(half);
    let mut w = rfbplay::container::FbWriter::new(Vec::new(), 6);
    for (d, p) in &records {
        w.chunk(*d, p).unwrap();
    }
    let tmp = TempDir::new("cutrfb");
    let f = tmp.path().join("cut.fb");
    std::fs::File::create(&f)
        .unwrap()
        .write_all(&w.finish().unwrap())
        .unwrap();
    let out = rfbplay(&[OsStr::new("info"), f.as_os_str(), OsStr::new("--json")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["truncated"]["cause"]["code"], "unfinished_message", "{v}");
    assert_eq!(
        stderr(&out).matches("warning").count(),
        1,
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_closed_stdout_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args([OsStr::new("info"), ipxe().as_os_str(), OsStr::new("--json")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn help_for_help_and_minimega_forms() {
    let out = rfbplay(&["help", "--help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = rfbplay(&["nonexist.fb", "out.mp4"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("nonexist.fb") && stderr(&out).contains("No such file"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("unrecognized subcommand"));
}
