//! `rfbplay updates` and `frames --on-change`: rectangles per encoding
//! agree with the corpus metadata, and the changed region of every update
//! equals a pixel diff of the screens before and after it.

mod common;

use common::TempDir;
use rfbplay::framebuffer::Framebuffer;
use rfbplay::inspect::{entries, Entry};
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use rfbplay::Time;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;

/// Checks every update's damage against a brute-force diff (for the first
/// `most` updates) and returns rectangles per encoding.
fn check_damage(path: &Path, most: u64) -> BTreeMap<String, u64> {
    let mut player = Player::open(
        path,
        PlayOptions {
            measure_damage: true,
            ..Default::default()
        },
    )
    .unwrap();
    let mut counts = BTreeMap::new();
    let mut before: Option<Framebuffer> = None;
    let mut emit = |e: &Entry, screen: &rfbplay::framebuffer::Screen| {
        if let Entry::Update {
            update,
            rects,
            changed_pixels,
            changed,
            resized,
            ..
        } = e
        {
            for r in rects {
                *counts.entry(r.encoding.to_string()).or_insert(0) += 1;
            }
            let now = screen.shown();
            if *update <= most {
                match &before {
                    Some(b) if (b.width(), b.height()) == (now.width(), now.height()) => {
                        assert!(!resized);
                        let mut n = 0;
                        for y in 0..now.height() {
                            for x in 0..now.width() {
                                let (p, q) = (b.row(x, y, 1), now.row(x, y, 1));
                                if p != q {
                                    n += 1;
                                    let inside = changed.iter().any(|c| {
                                        (c[0] as u32..c[0] as u32 + c[2] as u32).contains(&x)
                                            && (c[1] as u32..c[1] as u32 + c[3] as u32).contains(&y)
                                    });
                                    assert!(
                                        inside,
                                        "{}: update {update}: ({x},{y}) outside {changed:?}",
                                        path.display()
                                    );
                                }
                            }
                        }
                        assert_eq!(n, *changed_pixels, "{}: update {update}", path.display());
                    }
                    _ => assert!(*resized || before.is_none(), "{}", path.display()),
                }
                before = Some(now.clone());
            }
        }
        ControlFlow::Continue(())
    };
    let s = entries(&mut player, Time::ZERO, None, &mut emit, &NoProgress);
    assert!(s.error.is_none());
    counts
}

/// Rectangles per encoding, as the parser reports them.
fn rect_events(path: &Path) -> BTreeMap<String, u64> {
    struct Count(BTreeMap<String, u64>);
    impl rfbplay::player::Watcher for Count {
        fn event(
            &mut self,
            e: &rfbplay::rfb::Event,
            _: &rfbplay::framebuffer::Screen,
        ) -> ControlFlow<()> {
            if let rfbplay::rfb::Event::Rect { encoding, .. } = e {
                *self
                    .0
                    .entry(encoding.name().unwrap_or("?").to_string())
                    .or_insert(0) += 1;
            }
            ControlFlow::Continue(())
        }
    }
    let mut c = Count(BTreeMap::new());
    let mut p = Player::open(path, PlayOptions::default()).unwrap();
    p.run(&mut c, &NoProgress);
    c.0
}

#[test]
fn damage_equals_a_pixel_diff_on_testdata() {
    for name in [
        "synthetic_core.fb",
        "minimega_qemu_ipxe.fb",
        "hextile_all.fb",
        "zrle_all.fb",
    ] {
        check_damage(&common::testdata().join(name), u64::MAX);
    }
}

#[test]
fn updates_agree_with_the_corpus_metadata() {
    let Some(dir) = common::corpus() else {
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "fb").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    for name in names {
        let meta: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        let path = dir.join(format!("{name}.fb"));
        let listed = check_damage(&path, 60);
        let events = rect_events(&path);
        for (enc, n) in meta["stream"]["rects_per_encoding"].as_object().unwrap() {
            if enc == "LastRect" {
                continue; // a marker, not a rectangle of the screen
            }
            let n = n.as_u64().unwrap();
            assert_eq!(events.get(enc).copied().unwrap_or(0), n, "{name}: {enc}");
            // `updates` lists complete updates: a cut recording's unfinished
            // last update keeps its rectangles out.
            let l = listed.get(enc).copied().unwrap_or(0);
            assert!(l <= n && n - l <= 64, "{name}: {enc}: {l} listed of {n}");
        }
    }
}

#[test]
fn cli_updates_frame_update_and_on_change_agree() {
    let bin = env!("CARGO_BIN_EXE_rfbplay");
    let file = common::testdata().join("minimega_qemu_ipxe.fb");
    let out = Command::new(bin)
        .args([
            "updates".as_ref(),
            file.as_os_str(),
            "--json".as_ref(),
            "--to".as_ref(),
            "5".as_ref(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let updates: Vec<&serde_json::Value> = lines.iter().filter(|v| v["type"] == "update").collect();
    assert!(updates.len() > 10);
    assert!(lines.iter().all(|v| v["time_s"].as_f64().unwrap() <= 5.0));
    assert_eq!(updates[0]["update"], 1);
    // Idle repaints change nothing.
    assert!(updates
        .iter()
        .any(|u| u["changed_pixels"] == 0 && u["rects"][0]["encoding"] == "Raw"));

    let tmp = TempDir::new("onchange");
    let dir = tmp.path().join("changes");
    let out = Command::new(bin)
        .args([
            "frames".as_ref(),
            file.as_os_str(),
            dir.as_os_str(),
            "--on-change".as_ref(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let index: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("frames.json")).unwrap()).unwrap();
    // Every update that changed pixels, and no other, has a file.
    let all = Command::new(bin)
        .args(["updates".as_ref(), file.as_os_str(), "--json".as_ref()])
        .output()
        .unwrap();
    let changed: Vec<u64> = String::from_utf8_lossy(&all.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "update" && v["changed_pixels"].as_u64().unwrap() > 0)
        .map(|v| v["update"].as_u64().unwrap())
        .collect();
    let listed: Vec<u64> = index
        .iter()
        .map(|v| v["update"].as_u64().unwrap())
        .collect();
    assert_eq!(listed, changed);
    let mut names: Vec<&str> = index.iter().map(|v| v["file"].as_str().unwrap()).collect();
    let sorted = {
        let mut s = names.clone();
        s.sort();
        s
    };
    assert_eq!(names, sorted, "names sort in time order");
    names.truncate(3);
    for v in index.iter().take(3) {
        let n = v["update"].as_u64().unwrap();
        let png = tmp.path().join(format!("u{n}.png"));
        let out = Command::new(bin)
            .args([
                "frame".as_ref(),
                file.as_os_str(),
                png.as_os_str(),
                "--update".as_ref(),
                n.to_string().as_ref(),
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            common::read_rgb(&png),
            common::read_rgb(&dir.join(v["file"].as_str().unwrap())),
            "update {n}"
        );
    }
}
