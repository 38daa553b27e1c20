//! The self-contained RRE, Hextile and ZRLE recordings in `testdata/`
//! (made by `tools/gen_testdata.rs` from a painted picture) decode to the
//! picture, cover every tile kind, and decode the same whatever the piece
//! size the stream arrives in.

mod common;

use rfbplay::container::{self, Piece};
use rfbplay::limits::Limits;
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use rfbplay::rfb::{Event, Parser, PixelFormat};
use rfbplay::Time;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;

/// Decodes `NAME.fb`, compares the end frame to `NAME.png`, and returns the
/// subencoding counts.
fn decode_to_png(
    name: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<&'static str, u64>> {
    let dir = common::testdata();
    let mut player = Player::open(&dir.join(format!("{name}.fb")), PlayOptions::default()).unwrap();
    let (shot, summary) = rfbplay::export::screen_at(&mut player, None, &NoProgress);
    assert!(summary.error.is_none(), "{name}: {:?}", summary.error);
    let shot = shot.expect("an update");
    let (w, h, want) = common::read_rgb(&dir.join(format!("{name}.png")));
    assert_eq!((shot.width(), shot.height()), (w, h));
    assert!(
        shot.to_rgb() == want,
        "{name} does not decode to {name}.png"
    );
    player.parser().context().stats().subencodings
}

#[test]
fn rre_testdata_matches_its_picture() {
    decode_to_png("rre");
}

#[test]
fn hextile_testdata_matches_its_picture_and_covers_every_tile_kind() {
    let stats = decode_to_png("hextile_all");
    for kind in ["raw", "solid", "subrects"] {
        assert!(
            stats["Hextile"].get(kind).is_some_and(|n| *n > 0),
            "{kind}: {stats:?}"
        );
    }
}

#[test]
fn zrle_testdata_matches_its_picture_and_covers_every_tile_type() {
    let stats = decode_to_png("zrle_all");
    for kind in ["raw", "solid", "packed_palette", "rle", "palette_rle"] {
        assert!(
            stats["ZRLE"].get(kind).is_some_and(|n| *n > 0),
            "{kind}: {stats:?}"
        );
    }
}

/// The server-to-client stream a recording holds, in one piece.
fn stream_of(path: &Path) -> Vec<u8> {
    let mut c = container::open(path).unwrap();
    let mut out = vec![];
    while let Piece::Data { bytes, .. } = c.next_piece().unwrap() {
        out.extend_from_slice(bytes);
    }
    out
}

/// A hash of the shown screen after every update, feeding `stream` in
/// pieces of `size` bytes.
fn frames(stream: &[u8], size: usize) -> Vec<u64> {
    let mut p = Parser::new(PixelFormat::BGRX, Limits::default(), true);
    let mut out = vec![];
    for piece in stream.chunks(size) {
        p.feed(piece, Time::ZERO, &mut |e, screen| {
            if let Event::Update { .. } = e {
                let mut h = DefaultHasher::new();
                screen.shown().data().hash(&mut h);
                out.push(h.finish());
            }
        })
        .unwrap();
    }
    out
}

fn assert_split_independent(path: &Path) {
    let stream = stream_of(path);
    let whole = frames(&stream, stream.len().max(1));
    assert!(!whole.is_empty(), "{}: no updates", path.display());
    for size in [1, 13] {
        assert_eq!(
            frames(&stream, size),
            whole,
            "{} in {size}-byte pieces",
            path.display()
        );
    }
}

#[test]
fn testdata_decodes_the_same_in_one_byte_pieces() {
    for name in ["rre", "hextile_all", "zrle_all"] {
        assert_split_independent(&common::testdata().join(format!("{name}.fb")));
    }
}

#[test]
fn corpus_rre_hextile_zrle_decode_the_same_in_one_byte_pieces() {
    let Some(dir) = common::corpus() else {
        return;
    };
    for name in ["enc_xvnc_rre", "enc_xvnc_hextile", "enc_xvnc_zrle"] {
        assert_split_independent(&dir.join(format!("{name}.fb")));
    }
}
