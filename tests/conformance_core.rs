//! `info` against real recordings' metadata, and the real minimega sample
//! shipped in testdata/ against its truth without the corpus. Every corpus
//! recording's truth is checked in conformance_all.rs.

mod common;

use rfbplay::container::End;
use rfbplay::export::screen_at;
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;

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
