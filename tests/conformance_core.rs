//! Conformance on real recordings for the core encodings (Raw, CopyRect,
//! Zlib, DesktopSize): the screen at the end equals the server's own
//! screenshot pixel for pixel. Mandatory when CI=true.

mod common;

use rfbplay::container::End;
use rfbplay::export::screen_at;
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use std::path::Path;

/// Decodes `name` to its end and compares with its truth image; `region`
/// limits the comparison to a top-left area.
fn check(dir: &Path, name: &str, region: Option<(u32, u32)>) {
    let file = dir.join(format!("{name}.fb"));
    let mut player = Player::open(&file, PlayOptions::default()).unwrap();
    let (shot, summary) = screen_at(&mut player, None, &NoProgress);
    assert!(summary.error.is_none(), "{name}: {:?}", summary.error);
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let complete = meta["container"]["gzip_complete"].as_bool().unwrap();
    assert_eq!(
        matches!(summary.end, End::Complete),
        complete,
        "{name}: truncation as the metadata says"
    );
    assert_eq!(
        player.parser().updates(),
        meta["stream"]["framebuffer_updates"].as_u64().unwrap(),
        "{name}: update count"
    );
    let shot = shot.expect("a screen");
    let (tw, th, truth) = common::read_rgb(&dir.join(format!("{name}.truth.png")));
    assert_eq!((shot.width(), shot.height()), (tw, th), "{name}: size");
    let got = shot.to_rgb();
    let (rw, rh) = region.unwrap_or((tw, th));
    let mut mismatched = 0;
    for y in 0..rh as usize {
        let row = y * tw as usize * 3;
        let span = row..row + rw as usize * 3;
        mismatched += got[span.clone()]
            .chunks(3)
            .zip(truth[span].chunks(3))
            .filter(|(a, b)| a != b)
            .count();
    }
    assert_eq!(
        mismatched, 0,
        "{name}: {mismatched} pixels differ from the truth"
    );
}

#[test]
fn minimega_recordings_match_their_truth() {
    let Some(dir) = common::corpus() else { return };
    for name in [
        "mm_xvnc_xterm",
        "mm_xvnc_bell",
        "mm_xvnc_randr",
        "mm_qemu_modes",
        "mm_qemu_ipxe",
    ] {
        check(&dir, name, None);
    }
}

#[test]
fn minimega_grown_screen_matches_in_the_area_it_recorded() {
    // minimega keeps asking for 1024x768 after the screen grows to
    // 1280x1024, so only that area was ever sent (mm_xvnc_randr_grow.json).
    let Some(dir) = common::corpus() else { return };
    check(&dir, "mm_xvnc_randr_grow", Some((1024, 768)));
}

#[test]
fn raw_copyrect_zlib_recordings_match_their_truth() {
    let Some(dir) = common::corpus() else { return };
    for name in [
        "enc_xvnc_copyrect_raw",
        "enc_xvnc_zlib_fallback",
        "enc_qemu_modes_zlib",
    ] {
        check(&dir, name, None);
    }
}

#[test]
fn info_reports_what_the_metadata_says() {
    let Some(dir) = common::corpus() else { return };
    let mut player = Player::open(
        &dir.join("mm_xvnc_bell.fb"),
        PlayOptions {
            keep_shown: false,
            ..Default::default()
        },
    )
    .unwrap();
    let (info, _) = rfbplay::info::gather(&mut player, &NoProgress);
    assert_eq!(info.messages.get("Bell"), Some(&3));
    assert_eq!(info.stats.rects.get("Raw"), Some(&2499));
    assert!(info.truncated.is_some());
    let mut player = Player::open(
        &dir.join("mm_qemu_modes.fb"),
        PlayOptions {
            keep_shown: false,
            ..Default::default()
        },
    )
    .unwrap();
    let (info, _) = rfbplay::info::gather(&mut player, &NoProgress);
    let sizes: Vec<(u32, u32)> = info.sizes.iter().map(|s| (s.width, s.height)).collect();
    assert_eq!(
        sizes,
        [(640, 480), (720, 400), (640, 400), (800, 600), (1024, 768)]
    );
}

#[test]
fn shipped_minimega_sample_matches_its_truth() {
    // A copy of a real minimega recording (truncated, as they all are)
    // ships in testdata/, so this runs without the corpus.
    let dir = common::testdata();
    let mut player =
        Player::open(&dir.join("minimega_qemu_ipxe.fb"), PlayOptions::default()).unwrap();
    let (shot, summary) = screen_at(&mut player, None, &NoProgress);
    assert!(summary.error.is_none());
    assert!(matches!(summary.end, End::Truncated(_)));
    let shot = shot.unwrap();
    let (w, h, truth) = common::read_rgb(&dir.join("minimega_qemu_ipxe.truth.png"));
    assert_eq!((shot.width(), shot.height()), (w, h));
    assert!(
        shot.to_rgb() == truth,
        "the last frame differs from the server's screenshot"
    );
}
