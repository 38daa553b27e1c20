//! ZRLE unit tests, kept apart from the decoder so both files stay short:
//! one hand-built stream per tile type and CPIXEL layout, and one per way a
//! stream can be wrong.

use super::super::testutil::{
    decode, decode_stream, mutations, pixel, solid, survive, update, zlib_payload, MAPPED8,
    RGB565_BE,
};
use super::*;
use crate::decode::Malformation;
use crate::limits::{LimitError, Measure};
use crate::wire::Encoding;

const BGRX: PixelFormat = PixelFormat::BGRX;

/// The native format's CPIXEL for `pixel(n)`: B, G, R.
fn cp(n: u8) -> Vec<u8> {
    pixel(n)[..3].to_vec()
}

fn zrle(rect: Rect, tiles: &[u8]) -> Vec<(Rect, Encoding, Vec<u8>)> {
    let mut z = flate2::Compress::new(flate2::Compression::default(), true);
    vec![(rect, Encoding::ZRLE, zlib_payload(&mut z, tiles))]
}

fn run(pf: PixelFormat, w: u32, h: u32, tiles: &[u8]) -> Result<Framebuffer, RectError> {
    decode(pf, w, h, &zrle(Rect::new(0, 0, w as u16, h as u16), tiles))
}

#[test]
fn raw_tile_with_three_byte_cpixels() {
    let tiles = [vec![0], cp(1), cp(2), cp(3), cp(4)].concat();
    let fb = run(BGRX, 2, 2, &tiles).unwrap();
    let mut want = Framebuffer::new(2, 2);
    for i in 0..4u8 {
        want.set(u32::from(i % 2), u32::from(i / 2), pixel(i + 1));
    }
    assert_eq!(fb, want);
}

#[test]
fn solid_tiles_in_order_over_a_partial_grid() {
    // 70x66 at (1,1): tiles 64x64, 6x64, 64x2, 6x2.
    let rect = Rect::new(1, 1, 70, 66);
    let tiles = [
        vec![1],
        cp(1),
        vec![1],
        cp(2),
        vec![1],
        cp(3),
        vec![1],
        cp(4),
    ]
    .concat();
    let fb = decode(BGRX, 72, 68, &zrle(rect, &tiles)).unwrap();
    let mut want = Framebuffer::new(72, 68);
    want.fill(Rect::new(1, 1, 64, 64), pixel(1));
    want.fill(Rect::new(65, 1, 6, 64), pixel(2));
    want.fill(Rect::new(1, 65, 64, 2), pixel(3));
    want.fill(Rect::new(65, 65, 6, 2), pixel(4));
    assert_eq!(fb, want);
}

/// A 3x2 tile of palette indices `idx`, packed with `bits` per pixel.
fn packed(size: u8, bits: usize, idx: [[u8; 3]; 2]) -> Vec<u8> {
    let mut t = vec![size];
    for i in 0..size {
        t.extend(cp(10 + i));
    }
    for row in idx {
        let mut acc = 0u16;
        for (x, i) in row.iter().enumerate() {
            acc |= u16::from(*i) << (16 - bits * (x + 1));
        }
        let bytes = (3 * bits).div_ceil(8);
        t.extend_from_slice(&acc.to_be_bytes()[..bytes]);
    }
    t
}

#[test]
fn packed_palettes_of_one_two_and_four_bits() {
    for (size, bits, idx) in [
        (2, 1, [[1, 0, 1], [0, 0, 1]]),
        (3, 2, [[2, 0, 1], [1, 2, 0]]),
        (4, 2, [[3, 3, 0], [1, 2, 3]]),
        (5, 4, [[4, 0, 1], [2, 3, 4]]),
        (16, 4, [[15, 0, 9], [7, 14, 1]]),
    ] {
        let fb = run(BGRX, 3, 2, &packed(size, bits, idx)).unwrap();
        let mut want = Framebuffer::new(3, 2);
        for (y, row) in idx.iter().enumerate() {
            for (x, i) in row.iter().enumerate() {
                want.set(x as u32, y as u32, pixel(10 + i));
            }
        }
        assert_eq!(fb, want, "palette of {size}");
    }
}

#[test]
fn plain_rle_runs_wrap_rows_and_use_long_lengths() {
    // 64x5 = 320 pixels: 300 (255 + 44 + 1), then 19 (18 + 1), then 1.
    let tiles = [
        vec![128],
        cp(1),
        vec![255, 44],
        cp(2),
        vec![18],
        cp(3),
        vec![0],
    ]
    .concat();
    let fb = run(BGRX, 64, 5, &tiles).unwrap();
    let mut want = solid(64, 5, pixel(1));
    want.fill(Rect::new(44, 4, 19, 1), pixel(2));
    want.set(63, 4, pixel(3));
    assert_eq!(fb, want);
}

#[test]
fn palette_rle_single_pixels_and_runs() {
    // 4x2: index 1 alone, index 0 for 6 pixels, index 2 alone.
    let tiles = [vec![128 + 3], cp(1), cp(2), cp(3), vec![1, 0x80, 5, 2]].concat();
    let fb = run(BGRX, 4, 2, &tiles).unwrap();
    let mut want = solid(4, 2, pixel(1));
    want.set(0, 0, pixel(2));
    want.set(3, 1, pixel(3));
    assert_eq!(fb, want);
}

#[test]
fn one_zlib_stream_serves_every_rectangle() {
    let mut z = flate2::Compress::new(flate2::Compression::default(), true);
    let a = zlib_payload(&mut z, &[vec![1], cp(7)].concat());
    let b = zlib_payload(&mut z, &[vec![1], cp(8)].concat());
    let mut stream = update(&[(Rect::new(0, 0, 1, 1), Encoding::ZRLE, a)]);
    stream.extend(update(&[(Rect::new(1, 0, 1, 1), Encoding::ZRLE, b)]));
    let fb = decode_stream(BGRX, 2, 1, &stream).unwrap();
    let mut want = solid(2, 1, pixel(7));
    want.set(1, 0, pixel(8));
    assert_eq!(fb, want);
}

#[test]
fn tiles_are_counted_by_kind() {
    // A 64x1 solid tile, then a 1x1 plain RLE tile.
    let tiles = [vec![1], cp(1), vec![128], cp(1), vec![0]].concat();
    let mut z = flate2::Compress::new(flate2::Compression::default(), true);
    let stream = update(&[(
        Rect::new(0, 0, 65, 1),
        Encoding::ZRLE,
        zlib_payload(&mut z, &tiles),
    )]);
    let mut p = crate::rfb::Parser::new(BGRX, Default::default(), false);
    p.set_screen_size(65, 1).unwrap();
    p.feed(&stream, crate::Time::ZERO, &mut |_, _| {}).unwrap();
    let stats = p.context().stats();
    let subs = &stats.subencodings["ZRLE"];
    assert_eq!(subs.get("solid"), Some(&1));
    assert_eq!(subs.get("rle"), Some(&1));
}

/// A 32-bit format with the given byte order and shifts, depth 24.
fn pf32(big_endian: bool, shifts: [u8; 3], depth: u8) -> PixelFormat {
    PixelFormat {
        bits_per_pixel: 32,
        depth,
        big_endian,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: shifts[0],
        green_shift: shifts[1],
        blue_shift: shifts[2],
    }
}

#[test]
fn cpixel_layouts_follow_the_format() {
    // Red 0x11, green 0x22, blue 0x33 as a solid tile in each layout.
    let want = solid(1, 1, [0x33, 0x22, 0x11, 0]);
    let cases: [(PixelFormat, &[u8]); 5] = [
        // Low three bytes, little-endian: the first three wire bytes.
        (pf32(false, [16, 8, 0], 24), &[0x33, 0x22, 0x11]),
        // Low three bytes, big-endian: the last three wire bytes.
        (pf32(true, [16, 8, 0], 24), &[0x11, 0x22, 0x33]),
        // High three bytes, little-endian: the last three wire bytes.
        (pf32(false, [24, 16, 8], 24), &[0x33, 0x22, 0x11]),
        // High three bytes, big-endian: the first three wire bytes.
        (pf32(true, [24, 16, 8], 24), &[0x11, 0x22, 0x33]),
        // Depth 32 keeps the full four bytes.
        (pf32(false, [16, 8, 0], 32), &[0x33, 0x22, 0x11, 0]),
    ];
    for (pf, px) in cases {
        assert_eq!(run(pf, 1, 1, &[&[1], px].concat()).unwrap(), want, "{pf:?}");
    }
    let white = 0xffffu16.to_be_bytes();
    let fb = run(RGB565_BE, 1, 1, &[&[1][..], &white].concat()).unwrap();
    assert_eq!(fb, solid(1, 1, [255, 255, 255, 0]));
}

#[test]
fn colour_map_pixels_are_one_byte() {
    let mut stream = super::super::testutil::colour_map(0, &[[0, 0, 0xffff], [0xffff, 0, 0]]);
    let mut z = flate2::Compress::new(flate2::Compression::default(), true);
    let tiles = [130u8, 0, 1, 0x81, 1, 0];
    stream.extend(update(&[(
        Rect::new(0, 0, 3, 1),
        Encoding::ZRLE,
        zlib_payload(&mut z, &tiles),
    )]));
    let fb = decode_stream(MAPPED8, 3, 1, &stream).unwrap();
    let mut want = solid(3, 1, [0, 0, 255, 0]);
    want.set(2, 0, [255, 0, 0, 0]);
    assert_eq!(fb, want);
}

#[test]
fn malformed_tiles_give_typed_errors() {
    let err = |w, h, tiles: Vec<u8>| run(BGRX, w, h, &tiles).unwrap_err().root().clone();
    assert_eq!(err(1, 1, vec![17]), RectError::BadSubencoding(17));
    assert_eq!(err(1, 1, vec![127]), RectError::BadSubencoding(127));
    assert_eq!(err(1, 1, vec![129]), RectError::BadSubencoding(129));
    // 2-bit index 3 in a 3-colour palette.
    assert_eq!(
        err(3, 2, packed(3, 2, [[3, 0, 0], [0, 0, 0]])),
        RectError::PaletteIndex { index: 3, size: 3 }
    );
    assert_eq!(
        err(2, 1, [vec![130], cp(1), cp(2), vec![2, 0]].concat()),
        RectError::PaletteIndex { index: 2, size: 2 }
    );
    let past = |e: RectError| matches!(e, RectError::Malformed(Malformation::ZrleRunPastTile));
    assert!(past(err(2, 1, [vec![128], cp(1), vec![2]].concat())));
    assert!(past(err(
        2,
        1,
        [vec![130], cp(1), cp(2), vec![0x81, 2]].concat()
    )));
    assert!(past(err(
        64,
        64,
        [vec![128], cp(1), vec![255; 17]].concat()
    )));
    let short = |e: RectError| matches!(e, RectError::Malformed(Malformation::ZrleEndsInTile));
    assert!(short(err(2, 2, [vec![0], cp(1), cp(2)].concat())));
    assert!(short(err(2, 2, vec![])));
    assert!(matches!(
        err(1, 1, [vec![1], cp(1), vec![1]].concat()),
        RectError::Malformed(Malformation::ZrleTooLong)
    ));
}

#[test]
fn bad_zlib_and_overlong_lengths_are_refused() {
    let rect = Rect::new(0, 0, 1, 1);
    let mut garbage = 5u32.to_be_bytes().to_vec();
    garbage.extend_from_slice(&[0xff; 5]);
    let err = decode(BGRX, 1, 1, &[(rect, Encoding::ZRLE, garbage)]).unwrap_err();
    assert!(matches!(err.root(), RectError::Zlib(_)), "{err}");
    let huge = u32::MAX.to_be_bytes().to_vec();
    let err = decode(BGRX, 1, 1, &[(rect, Encoding::ZRLE, huge)]).unwrap_err();
    assert!(
        matches!(err.root(), RectError::Limit(LimitError::TooLong { .. })),
        "{err}"
    );
    // A zlib bomb: 1 MiB of zeros for a 1x1 rectangle stops at the bound.
    let mut z = flate2::Compress::new(flate2::Compression::best(), true);
    let bomb = zlib_payload(&mut z, &vec![0u8; 1 << 20]);
    let err = decode(BGRX, 1, 1, &[(rect, Encoding::ZRLE, bomb)]).unwrap_err();
    assert!(
        matches!(
            err.root(),
            RectError::Limit(LimitError::TooLong {
                what: Measure::CompressedBytes | Measure::InflatedBytes,
                ..
            })
        ),
        "{err}"
    );
}

#[test]
fn bound_covers_the_costliest_valid_tiles() {
    assert_eq!(max_inflated(Rect::new(0, 0, 0, 0), 3), 0);
    // One 1x1 tile: subencoding, a 127-colour palette, one pixel.
    assert_eq!(max_inflated(Rect::new(0, 0, 1, 1), 3), 1 + 127 * 3 + 4);
}

#[test]
fn damaged_tiles_never_panic() {
    // A 67x3 rectangle: a palette RLE tile, then a packed palette tile.
    let base = [
        vec![128 + 3],
        cp(1),
        cp(2),
        cp(3),
        vec![0x81, 100, 2, 0x80 | 1, 255, 0],
        vec![4],
        cp(4),
        cp(5),
        cp(6),
        cp(7),
        vec![0b1110_0100, 0b0100_0000, 0x1b],
    ]
    .concat();
    let rect = Rect::new(0, 0, 67, 3);
    for pf in [BGRX, RGB565_BE, MAPPED8] {
        mutations(&base, 1500, |tiles| {
            let mut z = flate2::Compress::new(flate2::Compression::fast(), true);
            let stream = update(&[(rect, Encoding::ZRLE, zlib_payload(&mut z, tiles))]);
            survive(pf, 67, 3, &stream);
        });
    }
}
