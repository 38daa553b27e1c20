//! `rfbplay compare` with recordings: a side may be a recording at a
//! moment (FILE@1.5, FILE@end, FILE@update:N), and two recordings are
//! compared by their stable screens, lined up as diff lines up text. The
//! recordings are synthetic, written with rfbplay's own .fb writer, so the
//! screens and their timing are known exactly.

mod common;

use common::TempDir;
use rfbplay::container::FbWriter;
use rfbplay::rfb::encode::UpdateBuilder;
use rfbplay::rfb::Rect;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const W: u16 = 64;
const H: u16 = 48;

/// A screen: picture `seed`, with an 8x8 block inverted when `marked`.
fn screen(seed: u32, marked: bool) -> Vec<u8> {
    let mut px = rfbplay::synth::pattern(seed, W, H);
    if marked {
        for y in 10..18usize {
            for x in 20..28usize {
                let i = (y * usize::from(W) + x) * 4;
                for c in &mut px[i..i + 3] {
                    *c = !*c;
                }
            }
        }
    }
    px
}

/// Writes a recording of full-screen updates `(ms, picture)`.
fn recording(dir: &Path, name: &str, updates: &[(u64, Vec<u8>)]) -> PathBuf {
    let mut w = FbWriter::new(Vec::new(), 6);
    for (ms, px) in updates {
        let mut u = UpdateBuilder::new();
        u.raw(Rect::new(0, 0, W, H), px);
        w.chunk(ms * 1_000_000, &u.finish()).unwrap();
    }
    let path = dir.join(name);
    std::fs::write(&path, w.finish().unwrap()).unwrap();
    path
}

fn json(args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .arg("compare")
        .args(args)
        .arg("--json")
        .output()
        .expect("run rfbplay");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap(), v, err)
}

struct Runs {
    _tmp: TempDir,
    golden: String,
    slower: String,
    changed: String,
}

/// Screens A, B, C in three runs: the golden one; a slower one with a
/// transient screen (100 ms) between A and B and repaints that change
/// nothing; and one whose B has a changed block.
fn runs() -> Runs {
    let tmp = TempDir::new("compare-rec");
    let (a, b, c) = (screen(1, false), screen(2, false), screen(3, false));
    let golden = recording(
        tmp.path(),
        "golden.fb",
        &[
            (0, a.clone()),
            (1000, b.clone()),
            (2500, c.clone()),
            (3500, c.clone()),
        ],
    );
    let slower = recording(
        tmp.path(),
        "slower.fb",
        &[
            (100, a.clone()),
            (400, a.clone()),
            (900, screen(9, false)),
            (1000, b.clone()),
            (1600, b.clone()),
            (3100, c.clone()),
        ],
    );
    let changed = recording(
        tmp.path(),
        "changed.fb",
        &[
            (0, a),
            (1200, screen(2, true)),
            (2000, c.clone()),
            (3000, c),
        ],
    );
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    Runs {
        golden: s(golden),
        slower: s(slower),
        changed: s(changed),
        _tmp: tmp,
    }
}

fn kinds(v: &Value) -> Vec<&str> {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect()
}

#[test]
fn two_runs_with_other_timing_match_screen_for_screen() {
    let r = runs();
    let (code, v, err) = json(&[&r.golden, &r.slower]);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["mode"], "recordings");
    assert_eq!(v["result"], "same");
    assert_eq!(kinds(&v), ["matched", "matched", "matched"], "{v}");
    assert_eq!(
        (v["expected_screens"].as_u64(), v["actual_screens"].as_u64()),
        (Some(3), Some(3))
    );
    // Times in both files: B is shown from 1 s to 2.5 s in the golden run,
    // from 1 s to 3.1 s in the slower one (the repaint at 1.6 s changes
    // nothing).
    assert_eq!(v["steps"][1]["expected_s"], serde_json::json!([1.0, 2.5]));
    assert_eq!(v["steps"][1]["actual_s"], serde_json::json!([1.0, 3.1]));
    // The final screen counts even when it is shown only at the end.
    assert_eq!(v["steps"][2]["actual_s"], serde_json::json!([3.1, 3.1]));
}

#[test]
fn a_changed_screen_is_reported_alone_with_its_place() {
    let r = runs();
    let (code, v, err) = json(&[&r.golden, &r.changed]);
    assert_eq!(code, 1, "{v} {err}");
    assert_eq!(v["result"], "different");
    assert_eq!(kinds(&v), ["matched", "changed", "matched"], "{v}");
    let step = &v["steps"][1];
    assert_eq!(step["expected_s"], serde_json::json!([1.0, 2.5]));
    assert_eq!(step["actual_s"], serde_json::json!([1.2, 2.0]));
    assert_eq!(step["bbox"], serde_json::json!([20, 10, 8, 8]));
    assert_eq!(step["diff_pixels"], 64);
    assert_eq!(
        (v["matched"].as_u64(), v["changed"].as_u64()),
        (Some(2), Some(1))
    );
}

#[test]
fn a_longer_settle_drops_screens_shown_briefly() {
    let r = runs();
    // With 1 s, B of the changed run (0.8 s) and A of the slower run
    // (0.8 s) are not stable: they go missing from the alignment.
    let (code, v, _) = json(&[&r.golden, &r.changed, "--settle", "1s"]);
    assert_eq!(code, 1);
    assert_eq!(kinds(&v), ["matched", "missing", "matched"], "{v}");
    assert_eq!(v["settle_s"], 1.0);
}

#[test]
fn recording_sides_at_moments() {
    let r = runs();
    // B at 1.5 s in the golden run is B at 2 s in the slower run.
    let (code, v, err) = json(&[&format!("{}@1.5", r.golden), &format!("{}@2s", r.slower)]);
    assert_eq!(code, 0, "{v} {err}");
    assert_eq!(v["result"], "same");
    assert_eq!(v["expected_time_s"], 1.5);
    assert_eq!(v["actual_time_s"], 2.0);
    assert_eq!(v["expected"], r.golden.as_str());
    // update:2 of the changed run is B with its block: different.
    let (code, v, _) = json(&[
        &format!("{}@1.5", r.golden),
        &format!("{}@update:2", r.changed),
    ]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["diff_pixels"], 64);
    assert_eq!(v["actual_time_s"], 1.2);
    // @end is the final screen, and a bare recording against a PNG too.
    let png = Path::new(&r.golden).with_file_name("c.png");
    rfbplay::framebuffer::Framebuffer::from_rgb(
        u32::from(W),
        u32::from(H),
        &rgb(&screen(3, false)),
    )
    .to_rgb_image()
    .save(&png)
    .unwrap();
    let png = png.to_str().unwrap();
    for side in [format!("{}@end", r.slower), r.slower.clone()] {
        let (code, v, err) = json(&[&side, png]);
        assert_eq!(code, 0, "{side}: {v} {err}");
        assert_eq!(v["expected_time_s"], 3.1);
        assert!(v.get("actual_time_s").is_none(), "{v}");
    }
}

fn rgb(bgrx: &[u8]) -> Vec<u8> {
    bgrx.chunks(4).flat_map(|p| [p[2], p[1], p[0]]).collect()
}

#[test]
fn a_moment_past_the_end_or_a_missing_file_is_an_error() {
    let r = runs();
    let (code, v, err) = json(&[&format!("{}@1m3s", r.golden), &r.slower]);
    assert_eq!(code, 2, "{v}");
    assert_eq!(v["result"], "error");
    assert_eq!(v["error"]["code"], "past_end");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("63.000s") && msg.contains("3.500s"), "{msg}");
    assert!(err.contains("3.500s"), "{err}");
    let (code, v, _) = json(&[&format!("{}@update:9", r.golden), &r.slower]);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("past_end")),
        "{v}"
    );
    let missing = Path::new(&r.golden).with_file_name("nothing.fb");
    let (code, v, _) = json(&[&format!("{}@end", missing.display()), &r.slower]);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("missing_file")),
        "{v}"
    );
    // A diff image needs one pair of screens, not a sequence.
    let png = Path::new(&r.golden).with_file_name("diff.png");
    let (code, v, _) = json(&[&r.golden, &r.slower, "--diff", png.to_str().unwrap()]);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("bad_option")),
        "{v}"
    );
    assert!(!png.exists());
    let (code, v, _) = json(&[&r.golden, missing.to_str().unwrap()]);
    assert_eq!(
        (code, v["error"]["code"].as_str()),
        (2, Some("missing_file")),
        "{v}"
    );
}
