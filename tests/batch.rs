//! Folders of recordings: good, cut, damaged and foreign files side by
//! side. Every good one is done, each bad one reported, the exit status
//! says so, a rerun skips what is done, and --shard splits cover every
//! file exactly once.

mod common;

use common::TempDir;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

fn rfbplay(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(args)
        .output()
        .expect("run rfbplay")
}

fn lab(root: &Path) {
    let t = common::testdata();
    std::fs::create_dir_all(root.join("lab1/sub")).unwrap();
    std::fs::create_dir_all(root.join("lab2")).unwrap();
    for (from, to) in [
        ("synthetic_core.fb", "lab1/vm1.fb"),
        ("rre.fb", "lab1/sub/vm2.recording"),
        ("zrle_all.fb", "lab2/vm3.fb"),
        ("synthetic_core.rbs", "lab2/vm4.rbs"),
        ("minimega_qemu_ipxe.fb", "lab2/vm5.fb"),
    ] {
        std::fs::copy(t.join(from), root.join(to)).unwrap();
    }
    let mut bad = std::fs::read(t.join("synthetic_core.fb")).unwrap();
    bad[50] ^= 0xff;
    std::fs::write(root.join("lab1/damaged.fb"), &bad).unwrap();
    std::fs::write(root.join("lab1/notes.txt"), b"not a recording").unwrap();
    // minimega's keyboard/mouse file beside its recording starts with a
    // number too: not a recording.
    std::fs::write(
        root.join("lab1/vm1.kb"),
        b"812345678:PointerEvent,0,612,540\n17271422:KeyEvent,true,a\n",
    )
    .unwrap();
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn frame_and_info_over_a_folder() {
    let tmp = TempDir::new("batch");
    let input = tmp.path().join("in");
    lab(&input);
    let thumbs = tmp.path().join("thumbs");
    let args = |extra: &[&str]| {
        let mut v: Vec<std::ffi::OsString> = vec![
            "frame".into(),
            input.clone().into(),
            thumbs.clone().into(),
            "--json".into(),
        ];
        v.extend(extra.iter().map(|s| s.into()));
        v
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        let r: Vec<&std::ffi::OsStr> = a.iter().map(|s| s.as_os_str()).collect();
        rfbplay(&r)
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "one file is damaged");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("damaged.fb") && err.contains("corrupt"),
        "{err}"
    );
    // The cut iPXE recording's warning is counted, not printed.
    assert!(
        err.contains("5 files done (1 with a warning in its record)"),
        "{err}"
    );
    assert!(!err.contains("truncated"), "{err}");
    let lines = json_lines(&out);
    assert_eq!(
        lines.len(),
        6,
        "5 good and 1 damaged; notes.txt and vm1.kb are not recordings"
    );
    assert_eq!(lines.iter().filter(|l| l["status"] == "ok").count(), 5);
    for rel in [
        "lab1/vm1.png",
        "lab1/sub/vm2.png",
        "lab2/vm3.png",
        "lab2/vm4.png",
        "lab2/vm5.png",
    ] {
        assert!(thumbs.join(rel).is_file(), "{rel}");
    }
    assert_eq!(
        common::read_rgb(&thumbs.join("lab1/vm1.png")),
        common::read_rgb(&common::testdata().join("synthetic_core.png"))
    );
    // A rerun skips what is up to date.
    let again = json_lines(&run(&[]));
    assert_eq!(again.iter().filter(|l| l["status"] == "skipped").count(), 5);
    // Shards cover every file once.
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        for l in json_lines(&run(&["--shard", &shard, "--force"])) {
            total += 1;
            seen.insert(l["file"].as_str().unwrap().to_string());
        }
    }
    assert_eq!((seen.len(), total), (6, 6));

    let info = rfbplay(&["info".as_ref(), input.as_os_str(), "--json".as_ref()]);
    assert_eq!(info.status.code(), Some(1));
    let infos = json_lines(&info);
    assert_eq!(infos.len(), 6);
    assert!(infos.iter().any(|i| i["error"].is_string()));
    assert!(infos.iter().any(|i| i["updates"] == 115));
}

#[test]
fn export_over_a_folder_mirrors_the_tree() {
    let tmp = TempDir::new("batchexport");
    let input = tmp.path().join("in");
    lab(&input);
    // The same name with two extensions: both kept.
    std::fs::copy(
        common::testdata().join("rre.fb"),
        input.join("lab2/vm3.rbs"),
    )
    .unwrap();
    let videos = tmp.path().join("videos");
    let run = || {
        rfbplay(&[
            "export".as_ref(),
            input.as_os_str(),
            videos.as_os_str(),
            "--json".as_ref(),
            "--jobs".as_ref(),
            "2".as_ref(),
        ])
    };
    let out = run();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);
    assert_eq!(lines.iter().filter(|l| l["status"] == "ok").count(), 6);
    assert_eq!(lines.iter().filter(|l| l["status"] == "failed").count(), 1);
    for rel in [
        "lab1/vm1.mp4",
        "lab1/sub/vm2.mp4",
        "lab2/vm3.fb.mp4",
        "lab2/vm3.rbs.mp4",
        "lab2/vm4.mp4",
        "lab2/vm5.mp4",
    ] {
        assert!(videos.join(rel).is_file(), "{rel}");
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("damaged.fb") && err.contains("corrupt"),
        "{err}"
    );
    assert!(!err.contains("partial"), "messages name final paths: {err}");
    let leftovers = walk(&videos)
        .into_iter()
        .filter(|p| p.contains("partial"))
        .count();
    assert_eq!(leftovers, 0);
    let again = json_lines(&run());
    assert_eq!(again.iter().filter(|l| l["status"] == "skipped").count(), 6);
}

fn walk(dir: &Path) -> Vec<String> {
    let mut v = vec![];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p.to_string_lossy().into_owned());
        }
    }
    v
}

#[test]
fn index_over_a_folder_skips_valid_indexes() {
    let tmp = TempDir::new("batchindex");
    let input = tmp.path().join("in");
    lab(&input);
    let cache = tmp.path().join("cache");
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_rfbplay"))
            .args(["index".as_ref(), input.as_os_str(), "--json".as_ref()])
            .env("RFBPLAY_CACHE", &cache)
            .output()
            .unwrap()
    };
    let first = run();
    assert_eq!(first.status.code(), Some(1), "the damaged file fails");
    let lines = json_lines(&first);
    assert_eq!(lines.iter().filter(|l| l["status"] == "ok").count(), 5);
    // The damaged file's index reaches up to its damage and is kept, so a
    // rerun finds every index valid.
    let again = json_lines(&run());
    assert_eq!(again.iter().filter(|l| l["status"] == "skipped").count(), 6);
}
