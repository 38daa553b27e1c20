//! Conformance of the Tight decoder on real recordings: the last frame of
//! each Tight recording in the corpus equals the server's own screenshot,
//! pixel for pixel for lossless files and within a mean absolute difference
//! of 2 per channel for the JPEG ones (the `.json` says which), and the
//! subencoding counts equal the ones the `.json` lists.

mod common;

use rfbplay::player::{PlayOptions, Player};
use std::path::Path;

const LOSSLESS: &[&str] = &[
    "enc_xvnc_tight",
    "enc_xvnc_randr_tight",
    "enc_qemu_modes_tight",
    "enc_qemu_modes_tight_lossy_q6",
    "enc_qemu_ipxe_tight",
];
const LOSSY: &[&str] = &["enc_xvnc_tight_jpeg", "enc_qemu_modes_tight_lossy_q4"];

/// What a recording's final frame was compared with.
struct Outcome {
    mismatched: usize,
    mean_abs: f64,
}

fn check(dir: &Path, name: &str) -> Outcome {
    let facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).expect("json"))
            .expect("json parses");
    let mut player =
        Player::open(&dir.join(format!("{name}.fb")), PlayOptions::default()).expect("opens");
    let (frame, summary) =
        rfbplay::export::screen_at(&mut player, None, &rfbplay::progress::NoProgress);
    assert!(summary.error.is_none(), "{name}: {:?}", summary.error);
    let frame = frame.expect("a frame");

    // Subencodings, as the corpus counted them.
    let stats = &player.parser().context().stats;
    let want = &facts["stream"]["subencodings"]["Tight"];
    let got = stats.subencodings.get("Tight").expect("Tight counts");
    let want_map = want.as_object().expect("Tight subencodings in json");
    assert_eq!(got.len(), want_map.len(), "{name}: {got:?} vs {want}");
    for (k, v) in want_map {
        assert_eq!(
            got.get(k.as_str()).copied(),
            v.as_u64(),
            "{name}: subencoding {k}"
        );
    }
    let rects = facts["stream"]["rects_per_encoding"]["Tight"].as_u64();
    assert_eq!(stats.rects.get("Tight").copied(), rects, "{name}: rects");

    let (w, h, truth) = common::read_rgb(&dir.join(format!("{name}.truth.png")));
    assert_eq!((frame.width(), frame.height()), (w, h), "{name}: size");
    let got = frame.to_rgb();
    let mismatched = got
        .chunks_exact(3)
        .zip(truth.chunks_exact(3))
        .filter(|(a, b)| a != b)
        .count();
    let total: u64 = got
        .iter()
        .zip(&truth)
        .map(|(&a, &b)| u64::from(a.abs_diff(b)))
        .sum();
    Outcome {
        mismatched,
        mean_abs: total as f64 / got.len() as f64,
    }
}

fn lossy(dir: &Path, name: &str) -> bool {
    let facts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    facts["lossy"].as_bool().unwrap_or(false)
}

#[test]
fn lossless_tight_recordings_match_their_truth_exactly() {
    let Some(dir) = common::corpus() else { return };
    for name in LOSSLESS {
        assert!(!lossy(&dir, name), "{name} is marked lossy");
        let o = check(&dir, name);
        assert_eq!(o.mismatched, 0, "{name}: {} pixels differ", o.mismatched);
    }
}

#[test]
fn jpeg_tight_recordings_are_within_two_per_channel() {
    let Some(dir) = common::corpus() else { return };
    for name in LOSSY {
        assert!(lossy(&dir, name), "{name} is not marked lossy");
        let o = check(&dir, name);
        eprintln!(
            "{name}: mean absolute difference {:.4}, {} pixels differ",
            o.mean_abs, o.mismatched
        );
        assert!(o.mean_abs <= 2.0, "{name}: mean {}", o.mean_abs);
    }
}
