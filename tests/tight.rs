//! Tight decoder tests through the public stream parser: each compression
//! type and filter, the four zlib streams and their resets, the uncompressed
//! short-data case, malformed rectangles (typed errors, never a panic), and
//! split independence (any chunking, same screen).

mod tight_enc;

use rfbplay::decode::RectError;
use rfbplay::limits::LimitError;
use rfbplay::rfb::PixelFormat;
use tight_enc::check::{assert_picture, decode_error, feed, parser, rect_error, rgb_at};
use tight_enc::{fill, pictures, tight, update, Encoder, Filter, Picture};

#[test]
fn fill_paints_the_whole_rectangle_from_an_rgb_tpixel() {
    let mut p = parser(8, 8);
    feed(&mut p, &update(&[tight(2, 3, 4, 2, fill([10, 20, 30], 0))])).unwrap();
    for y in 0..8 {
        for x in 0..8 {
            let inside = (2..6).contains(&x) && (3..5).contains(&y);
            let want = if inside { [10, 20, 30] } else { [0, 0, 0] };
            assert_eq!(rgb_at(&p, x, y), want, "{x},{y}");
        }
    }
    let stats = p.context().stats();
    let subs = &stats.subencodings["Tight"];
    assert_eq!(subs.get("fill"), Some(&1));
}

#[test]
fn copy_filter_implicit_and_explicit_on_two_streams() {
    let pic = pictures::ramp(21, 9);
    let mut enc = Encoder::default();
    let mut p = parser(21, 18);
    let msg = update(&[
        tight(0, 0, 21, 9, enc.basic(&pic, 0, Filter::Implicit, 0)),
        tight(0, 9, 21, 9, enc.basic(&pic, 1, Filter::Copy, 0)),
    ]);
    feed(&mut p, &msg).unwrap();
    assert_picture(&p, 0, 0, &pic);
    assert_picture(&p, 0, 9, &pic);
    assert_eq!(
        p.context().stats().subencodings["Tight"].get("copy"),
        Some(&2)
    );
}

#[test]
fn two_colour_palette_unpacks_padded_bit_rows() {
    // 13 wide: each row is 2 bytes with 3 padding bits.
    let pic = pictures::two_colours(13, 7);
    let mut enc = Encoder::default();
    let mut p = parser(13, 7);
    feed(
        &mut p,
        &update(&[tight(0, 0, 13, 7, enc.basic(&pic, 2, Filter::Palette, 0))]),
    )
    .unwrap();
    assert_picture(&p, 0, 0, &pic);
    assert_eq!(
        p.context().stats().subencodings["Tight"].get("palette2"),
        Some(&1)
    );
}

#[test]
fn palettes_of_three_to_256_colours_use_a_byte_per_pixel() {
    for n in [3, 17, 256] {
        let mut enc = Encoder::default();
        let pic = pictures::stripes(32, 16, n);
        assert_eq!(pic.colours().len(), n);
        let mut p = parser(32, 16);
        feed(
            &mut p,
            &update(&[tight(0, 0, 32, 16, enc.basic(&pic, 3, Filter::Palette, 0))]),
        )
        .unwrap();
        assert_picture(&p, 0, 0, &pic);
        assert_eq!(
            p.context().stats().subencodings["Tight"].get("palette"),
            Some(&1)
        );
    }
}

#[test]
fn gradient_filter_reconstructs_with_clamped_prediction() {
    let pic = pictures::ramp(40, 12);
    let mut enc = Encoder::default();
    let mut p = parser(40, 12);
    feed(
        &mut p,
        &update(&[tight(0, 0, 40, 12, enc.basic(&pic, 0, Filter::Gradient, 0))]),
    )
    .unwrap();
    assert_picture(&p, 0, 0, &pic);
    // Extremes force the prediction out of 0..=255 in both directions.
    let harsh = Picture::new(9, 9, |x, y| {
        if (x + y) % 2 == 0 {
            [255, 0, 255]
        } else {
            [0, 255, 1]
        }
    });
    let mut p = parser(9, 9);
    let mut enc = Encoder::default();
    feed(
        &mut p,
        &update(&[tight(0, 0, 9, 9, enc.basic(&harsh, 0, Filter::Gradient, 0))]),
    )
    .unwrap();
    assert_picture(&p, 0, 0, &harsh);
    assert_eq!(
        p.context().stats().subencodings["Tight"].get("gradient"),
        Some(&1)
    );
}

#[test]
fn data_under_12_bytes_comes_uncompressed_and_12_does_not() {
    let mut enc = Encoder::default();
    // 3x1 copy = 9 bytes, raw; 2x2 two-colour palette = 2 bytes, raw.
    let small = pictures::ramp(3, 1);
    let checker = pictures::two_colours(2, 2);
    let copy = enc.basic(&small, 0, Filter::Implicit, 0);
    assert_eq!(copy.len(), 1 + 9, "control byte and raw TPIXELs");
    // 2x2 copy = 12 bytes: compressed, with a compact length.
    let four = pictures::ramp(2, 2);
    let compressed = enc.basic(&four, 0, Filter::Implicit, 0);
    assert_ne!(compressed.len(), 13);
    let mut p = parser(8, 4);
    let msg = update(&[
        tight(0, 0, 3, 1, copy),
        tight(4, 0, 2, 2, enc.basic(&checker, 1, Filter::Palette, 0)),
        tight(0, 2, 2, 2, compressed),
    ]);
    feed(&mut p, &msg).unwrap();
    assert_picture(&p, 0, 0, &small);
    assert_picture(&p, 4, 0, &checker);
    assert_picture(&p, 0, 2, &four);
}

#[test]
fn reset_bits_restart_streams_even_on_fill_and_jpeg() {
    let pic = pictures::ramp(16, 8);
    let mut enc = Encoder::default();
    let mut p = parser(16, 8);
    feed(
        &mut p,
        &update(&[tight(0, 0, 16, 8, enc.basic(&pic, 0, Filter::Copy, 0))]),
    )
    .unwrap();
    // The encoder starts stream 0 afresh and says so on a fill rectangle:
    // the decoder must reset then, not at the next basic rectangle.
    enc.reset(0);
    let other = pictures::stripes(16, 8, 5);
    let msg = update(&[
        tight(0, 0, 1, 1, fill([1, 2, 3], 0b0001)),
        tight(0, 0, 16, 8, enc.basic(&other, 0, Filter::Copy, 0)),
    ]);
    feed(&mut p, &msg).unwrap();
    assert_picture(&p, 0, 0, &other);
    // Without the reset bit, a fresh zlib stream (with its header) cannot
    // continue the old one.
    enc.reset(0);
    let e = feed(
        &mut p,
        &update(&[tight(0, 0, 16, 8, enc.basic(&pic, 0, Filter::Copy, 0))]),
    )
    .expect_err("stream was not reset");
    assert!(matches!(rect_error(e), RectError::Zlib(_)));
}

#[test]
fn four_streams_keep_their_own_dictionaries() {
    let mut enc = Encoder::default();
    let mut p = parser(64, 8);
    for round in 0..3 {
        let pics: Vec<Picture> = (0..4)
            .map(|s| pictures::stripes(16, 8, 3 + s + round))
            .collect();
        let rects: Vec<_> = pics
            .iter()
            .enumerate()
            .map(|(s, pic)| {
                tight(
                    16 * s as u16,
                    0,
                    16,
                    8,
                    enc.basic(pic, s, Filter::Palette, 0),
                )
            })
            .collect();
        feed(&mut p, &update(&rects)).unwrap();
        for (s, pic) in pics.iter().enumerate() {
            assert_picture(&p, 16 * s as u32, 0, pic);
        }
    }
}

#[test]
fn jpeg_decodes_within_a_small_error() {
    let pic = pictures::smooth(48, 24);
    let mut p = parser(48, 24);
    feed(
        &mut p,
        &update(&[tight(0, 0, 48, 24, Encoder::jpeg(&pic, 95, 0))]),
    )
    .unwrap();
    let mut total = 0u64;
    for y in 0..24 {
        for x in 0..48 {
            let got = rgb_at(&p, x, y);
            let want = pic.at(x as usize, y as usize);
            total += got
                .iter()
                .zip(want)
                .map(|(a, b)| u64::from(a.abs_diff(b)))
                .sum::<u64>();
        }
    }
    let mean = total as f64 / (48.0 * 24.0 * 3.0);
    assert!(mean <= 2.0, "mean absolute difference {mean}");
    assert_eq!(
        p.context().stats().subencodings["Tight"].get("jpeg"),
        Some(&1)
    );
}

#[test]
fn jpeg_of_another_size_is_a_jpeg_error() {
    let pic = pictures::smooth(8, 8);
    let e = decode_error(PixelFormat::BGRX, 16, 8, Encoder::jpeg(&pic, 90, 0));
    assert!(matches!(e, RectError::Jpeg(_)), "{e:?}");
    let mut junk = vec![0x90];
    junk.extend(tight_enc::compact_len(20));
    junk.extend([0xffu8; 20]);
    let e = decode_error(PixelFormat::BGRX, 16, 8, junk);
    assert!(matches!(e, RectError::Jpeg(_)), "{e:?}");
}

#[test]
fn malformed_rectangles_give_typed_errors() {
    let pf = PixelFormat::BGRX;
    // Compression types 1010..1111 are invalid.
    for c in [0xa0u8, 0xb3, 0xff] {
        assert_eq!(
            decode_error(pf, 4, 4, vec![c, 0, 0, 0]),
            RectError::BadSubencoding(c)
        );
    }
    // Filter ids past 2.
    assert_eq!(
        decode_error(pf, 4, 4, vec![0x40, 3]),
        RectError::BadSubencoding(3)
    );
    // A palette of one colour.
    assert!(matches!(
        decode_error(pf, 4, 4, vec![0x40, 1, 0, 1, 2, 3]),
        RectError::Malformed(_)
    ));
    // Index 3 in a 3-colour palette (4x2: 8 index bytes, sent raw).
    let mut bad = vec![0x40, 1, 2, 0, 0, 0, 1, 1, 1, 2, 2, 2];
    bad.extend([0, 1, 2, 3, 0, 0, 0, 0]);
    assert_eq!(
        decode_error(pf, 4, 2, bad),
        RectError::PaletteIndex { index: 3, size: 3 }
    );
    // Wider than 2048 (rfbproto "Tight Encoding").
    assert!(matches!(
        decode_error(pf, 2049, 1, vec![0x00]),
        RectError::Limit(LimitError::TooLong {
            len: 2049,
            max: 2048,
            ..
        })
    ));
    // A compact length far beyond what 4x4 pixels can need.
    assert!(matches!(
        decode_error(pf, 4, 4, vec![0x00, 0xff, 0xff, 0x7f]),
        RectError::Limit(LimitError::TooLong { .. })
    ));
    // A length too short for a large rectangle (over 1032:1).
    assert!(matches!(
        decode_error(pf, 2048, 64, vec![0x00, 10]),
        RectError::Malformed(_)
    ));
    // Zlib data that is not zlib.
    let mut junk = vec![0x00, 20];
    junk.extend([0x55u8; 20]);
    assert!(matches!(decode_error(pf, 4, 4, junk), RectError::Zlib(_)));
    // Zlib data that stops short of the rectangle.
    let mut enc = Encoder::default();
    let z = enc.deflate(0, &[7u8; 24]);
    let mut short = vec![0x00];
    short.extend(tight_enc::compact_len(z.len()));
    short.extend(z);
    assert!(matches!(
        decode_error(pf, 4, 4, short),
        RectError::ZlibShort { .. }
    ));
}

/// A stream touching every path, for chunking and truncation tests.
fn everything() -> (Vec<u8>, u32, u32) {
    let mut enc = Encoder::default();
    let ramp = pictures::ramp(30, 10);
    let mut out = update(&[
        tight(0, 0, 64, 32, fill([9, 99, 199], 0)),
        tight(0, 0, 30, 10, enc.basic(&ramp, 0, Filter::Implicit, 0)),
        tight(30, 0, 30, 10, enc.basic(&ramp, 1, Filter::Gradient, 0)),
        tight(
            0,
            10,
            13,
            5,
            enc.basic(&pictures::two_colours(13, 5), 2, Filter::Palette, 0),
        ),
        tight(
            13,
            10,
            40,
            8,
            enc.basic(&pictures::stripes(40, 8, 9), 3, Filter::Palette, 0),
        ),
        tight(
            0,
            20,
            3,
            1,
            enc.basic(&pictures::ramp(3, 1), 0, Filter::Copy, 0),
        ),
        tight(
            8,
            20,
            32,
            12,
            Encoder::jpeg(&pictures::smooth(32, 12), 80, 0),
        ),
    ]);
    enc.reset(1);
    out.extend(update(&[tight(
        40,
        20,
        20,
        10,
        enc.basic(&pictures::ramp(20, 10), 1, Filter::Copy, 0b0010),
    )]));
    (out, 64, 32)
}

#[test]
fn any_chunking_gives_the_same_screen() {
    let (stream, w, h) = everything();
    let mut whole = parser(w, h);
    feed(&mut whole, &stream).unwrap();
    for size in [1usize, 2, 3, 7, 64, 1000] {
        let mut p = parser(w, h);
        for piece in stream.chunks(size) {
            feed(&mut p, piece).unwrap();
        }
        assert_eq!(p.updates(), 2, "chunks of {size}");
        assert_eq!(
            p.screen().shown(),
            whole.screen().shown(),
            "chunks of {size}"
        );
    }
}

#[test]
fn every_prefix_decodes_without_panic_and_keeps_finished_updates() {
    let (stream, w, h) = everything();
    for cut in 0..stream.len() {
        let mut p = parser(w, h);
        feed(&mut p, &stream[..cut]).unwrap();
        assert!(p.updates() <= 1);
    }
}

#[test]
fn corrupted_streams_never_panic() {
    let (stream, w, h) = everything();
    // Flip each byte in turn: errors are fine, panics are not.
    for i in 0..stream.len() {
        let mut bad = stream.clone();
        bad[i] ^= 0x5a;
        let mut p = parser(w, h);
        let _ = feed(&mut p, &bad);
    }
}

/// Random rectangles after a valid compression-control byte of each kind:
/// errors are expected, panics and runaway allocations are not.
#[test]
fn random_payloads_never_panic() {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let controls = [0x00u8, 0x40, 0x5f, 0x6a, 0x7f, 0x80, 0x8f, 0x90, 0x9f];
    for i in 0..3000 {
        let (w, h) = (1 + next() % 40, 1 + next() % 20);
        let mut payload = vec![controls[i % controls.len()]];
        match i % 4 {
            // Filter id, palette size, then noise.
            0 => payload.extend([(next() % 3) as u8, (next() % 256) as u8]),
            // A plausible compact length.
            1 => payload.extend(tight_enc::compact_len((next() % 300) as usize)),
            _ => {}
        }
        let len = next() % 400;
        payload.extend((0..len).map(|_| next() as u8));
        let mut p = parser(64, 32);
        let msg = update(&[tight(0, 0, w as u16, h as u16, payload)]);
        let _ = feed(&mut p, &msg);
    }
}

/// Feeds one Tight JPEG rectangle of `pic` whose JPEG data is `edit`ed,
/// and returns the warnings reported.
fn jpeg_warnings(pic: &Picture, edit: impl Fn(&mut Vec<u8>)) -> Vec<rfbplay::rfb::Warning> {
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode(
            &pic.rgb,
            pic.w as u32,
            pic.h as u32,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    edit(&mut jpeg);
    let mut payload = vec![0x90];
    payload.extend(tight_enc::compact_len(jpeg.len()));
    payload.extend(jpeg);
    let mut p = parser(pic.w as u32, pic.h as u32);
    let mut warnings = Vec::new();
    let stream = update(&[tight(0, 0, pic.w as u16, pic.h as u16, payload)]);
    p.feed(&stream, rfbplay::Time::ZERO, &mut |e, _| {
        if let rfbplay::rfb::Event::Warning(w) = e {
            warnings.push(w);
        }
    })
    .expect("a cut JPEG still decodes");
    assert_eq!(p.updates(), 1);
    warnings
}

#[test]
fn a_jpeg_cut_short_decodes_with_a_warning_naming_its_place() {
    // Noise, so that most of the JPEG is scan data after its headers.
    let pic = Picture::new(64, 32, |x, y| {
        let v = (x * 7919 + y * 104_729) as u32;
        let v = v ^ (v >> 5) ^ (v << 3);
        [v as u8, (v >> 8) as u8, (v >> 16) as u8]
    });
    assert_eq!(jpeg_warnings(&pic, |_| {}), []);
    let cut = jpeg_warnings(&pic, |j| j.truncate(j.len() * 3 / 4));
    assert_eq!(cut.len(), 1, "{cut:?}");
    let w = &cut[0];
    // The update header is 4 bytes; the rectangle starts after it.
    assert_eq!(w.offset, 4);
    assert!(
        matches!(
            w.kind,
            rfbplay::rfb::WarningKind::Rect {
                update: 1,
                warning: rfbplay::decode::RectWarning::JpegEnd { .. },
                ..
            }
        ),
        "{w}"
    );
    let text = w.to_string();
    assert!(
        text.contains("Tight (7) rectangle 64x32+0+0 of update 1") && text.contains("byte 4"),
        "{text}"
    );
    // Bytes after the image: the length and the image disagree too.
    let long = jpeg_warnings(&pic, |j| j.extend_from_slice(&[0; 7]));
    assert_eq!(long.len(), 1, "{long:?}");
}
