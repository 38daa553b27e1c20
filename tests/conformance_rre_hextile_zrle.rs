//! Conformance of the RRE, Hextile and ZRLE decoders on real recordings:
//! the frame at the end of each must equal the server's own screenshot, and
//! the tiles counted per subencoding must equal what an independent parser
//! counted (the corpus `.json` "stream"."subencodings").

mod common;

use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use std::path::Path;

const FILES: [&str; 7] = [
    "enc_xvnc_rre",
    "enc_xvnc_hextile",
    "enc_qemu_modes_hextile",
    "enc_xvnc_zrle",
    "enc_qemu_modes_zrle",
    "enc_xvnc_kb_cursor_zrle",
    "enc_xvnc_randr_grow_zrle",
];

fn check(dir: &Path, name: &str) {
    let fb_path = dir.join(format!("{name}.fb"));
    let mut player =
        Player::open(&fb_path, PlayOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (shot, summary) = rfbplay::export::screen_at(&mut player, None, &NoProgress);
    assert!(summary.error.is_none(), "{name}: {:?}", summary.error);
    let shot = shot.unwrap_or_else(|| panic!("{name}: no complete update"));

    let (w, h, truth) = common::read_rgb(&dir.join(format!("{name}.truth.png")));
    assert_eq!((shot.width(), shot.height()), (w, h), "{name}: size");
    let got = shot.to_rgb();
    let mismatched = got
        .chunks_exact(3)
        .zip(truth.chunks_exact(3))
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        mismatched, 0,
        "{name}: {mismatched} pixels differ from the truth"
    );

    let facts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join(format!("{name}.json"))).expect("corpus json"),
    )
    .expect("corpus json parses");
    let want = &facts["stream"]["subencodings"];
    let stats = &player.parser().context().stats;
    let want_rects = &facts["stream"]["rects_per_encoding"];
    for enc in ["RRE", "Hextile", "ZRLE"] {
        assert_eq!(
            stats.rects.get(enc).copied().unwrap_or(0),
            want_rects[enc].as_u64().unwrap_or(0),
            "{name}: {enc} rectangles"
        );
        let got: serde_json::Value = stats
            .subencodings
            .get(enc)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                    .collect()
            })
            .unwrap_or_else(|| serde_json::Value::Object(Default::default()));
        let want = want
            .get(enc)
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}));
        assert_eq!(got, want, "{name}: {enc} subencodings");
    }
    eprintln!(
        "{name}: {} updates, final frame equals the truth",
        player.parser().updates()
    );
}

#[test]
fn rre_hextile_zrle_recordings_match_their_truth() {
    let Some(dir) = common::corpus() else {
        return;
    };
    for name in FILES {
        check(&dir, name);
    }
}
