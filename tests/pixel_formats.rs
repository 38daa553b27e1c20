//! Pixel formats other than the recorders' 32 bpp little-endian BGRX
//! (RFC 6143 7.4): 8 bpp with a colour map set by SetColorMapEntries, 16 bpp
//! 5-6-5 and 5-5-5 in both byte orders, 32 bpp big-endian, through Raw and
//! CopyRect, checked against colours computed here from the wire values.
//! Formats RFC 6143 does not allow are refused with a typed error.

use rfbplay::decode::RectError;
use rfbplay::limits::Limits;
use rfbplay::rfb::{ParseErrorKind, Parser, PixelFormat};
use rfbplay::Time;

fn parser(pf: PixelFormat, w: u32, h: u32) -> Parser {
    let mut p = Parser::new(pf, Limits::default(), true);
    p.set_screen_size(w, h).unwrap();
    p
}

fn rgb_at(p: &Parser, x: u32, y: u32) -> [u8; 3] {
    let px = p.screen().shown().row(x, y, 1);
    [px[2], px[1], px[0]]
}

/// A FramebufferUpdate with one Raw rectangle then one CopyRect of it.
fn raw_then_copy(w: u16, h: u16, pixels: &[u8], copy_to: (u16, u16)) -> Vec<u8> {
    let mut out = vec![0, 0, 0, 2];
    for v in [0u16, 0, w, h] {
        out.extend(v.to_be_bytes());
    }
    out.extend(0i32.to_be_bytes());
    out.extend_from_slice(pixels);
    for v in [copy_to.0, copy_to.1, w, h] {
        out.extend(v.to_be_bytes());
    }
    out.extend(1i32.to_be_bytes());
    out.extend([0u16, 0].iter().flat_map(|v| v.to_be_bytes()));
    out
}

/// Decodes `stream` whole and in 1-byte pieces; both must give one screen.
fn decode(pf: PixelFormat, w: u32, h: u32, stream: &[u8]) -> Parser {
    let mut whole = parser(pf, w, h);
    whole.feed(stream, Time::ZERO, &mut |_, _| {}).unwrap();
    let mut bytewise = parser(pf, w, h);
    for b in stream.chunks(1) {
        bytewise.feed(b, Time::ZERO, &mut |_, _| {}).unwrap();
    }
    assert_eq!(whole.screen().shown(), bytewise.screen().shown());
    whole
}

/// Components scaled to 8 bits the way RFC 6143 true colour means them.
fn scale(v: u32, max: u32) -> u8 {
    ((v * 255 + max / 2) / max) as u8
}

#[test]
fn eight_bpp_colour_map_pixels_use_set_colour_map_entries() {
    let pf = PixelFormat::COLOUR_MAP_8;
    // SetColorMapEntries: type 1, padding, first-colour 10, 3 colours.
    let mut stream = vec![1, 0, 0, 10, 0, 3];
    for rgb in [
        [0xffffu16, 0, 0],
        [0, 0x8000, 0xffff],
        [0x1234, 0x5678, 0x9abc],
    ] {
        for c in rgb {
            stream.extend(c.to_be_bytes());
        }
    }
    // 3x2 of indices 10, 11, 12 and one never set (200, black).
    stream.extend(raw_then_copy(3, 2, &[10, 11, 12, 12, 200, 10], (4, 2)));
    let p = decode(pf, 8, 4, &stream);
    let want = [
        [[255, 0, 0], [0, 128, 255], [0x12, 0x56, 0x9a]],
        [[0x12, 0x56, 0x9a], [0, 0, 0], [255, 0, 0]],
    ];
    for (y, row) in want.iter().enumerate() {
        for (x, c) in row.iter().enumerate() {
            assert_eq!(rgb_at(&p, x as u32, y as u32), *c, "raw {x},{y}");
            assert_eq!(rgb_at(&p, 4 + x as u32, 2 + y as u32), *c, "copy {x},{y}");
        }
    }
}

#[test]
fn sixteen_bpp_565_and_555_in_both_byte_orders() {
    // (max, shift) for red, green, blue.
    let layouts = [
        ([(31u32, 11u8), (63, 5), (31, 0)], 16u8),
        ([(31, 10), (31, 5), (31, 0)], 15),
    ];
    for (chans, depth) in layouts {
        for big_endian in [false, true] {
            let pf = PixelFormat {
                bits_per_pixel: 16,
                depth,
                big_endian,
                true_colour: true,
                red_max: chans[0].0 as u16,
                green_max: chans[1].0 as u16,
                blue_max: chans[2].0 as u16,
                red_shift: chans[0].1,
                green_shift: chans[1].1,
                blue_shift: chans[2].1,
            };
            let comps: Vec<[u32; 3]> = (0..6u32)
                .map(|i| {
                    [
                        (i * 7) % (chans[0].0 + 1),
                        (i * 13 + 1) % (chans[1].0 + 1),
                        chans[2].0 - i,
                    ]
                })
                .collect();
            let mut pixels = Vec::new();
            for c in &comps {
                let v = (c[0] << chans[0].1 | c[1] << chans[1].1 | c[2] << chans[2].1) as u16;
                pixels.extend(if big_endian {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                });
            }
            let p = decode(pf, 8, 4, &raw_then_copy(3, 2, &pixels, (5, 2)));
            for (i, c) in comps.iter().enumerate() {
                let (x, y) = (i as u32 % 3, i as u32 / 3);
                let want = [
                    scale(c[0], chans[0].0),
                    scale(c[1], chans[1].0),
                    scale(c[2], chans[2].0),
                ];
                let what = format!("depth {depth} big-endian {big_endian} pixel {i}");
                assert_eq!(rgb_at(&p, x, y), want, "raw {what}");
                assert_eq!(rgb_at(&p, 5 + x, 2 + y), want, "copy {what}");
            }
        }
    }
}

#[test]
fn thirty_two_bpp_big_endian_with_either_shift_layout() {
    for (r, g, b) in [(16u8, 8u8, 0u8), (0, 8, 16), (24, 16, 8)] {
        let pf = PixelFormat {
            big_endian: true,
            red_shift: r,
            green_shift: g,
            blue_shift: b,
            ..PixelFormat::BGRX
        };
        let colours = [[255u8, 0, 0], [0, 255, 0], [0, 0, 255], [1, 2, 3]];
        let mut pixels = Vec::new();
        for c in colours {
            let v = u32::from(c[0]) << r | u32::from(c[1]) << g | u32::from(c[2]) << b;
            pixels.extend(v.to_be_bytes());
        }
        let p = decode(pf, 6, 4, &raw_then_copy(2, 2, &pixels, (3, 2)));
        for (i, c) in colours.iter().enumerate() {
            let (x, y) = (i as u32 % 2, i as u32 / 2);
            assert_eq!(rgb_at(&p, x, y), *c, "raw shifts {r}/{g}/{b}");
            assert_eq!(rgb_at(&p, 3 + x, 2 + y), *c, "copy shifts {r}/{g}/{b}");
        }
    }
}

#[test]
fn formats_rfc_6143_does_not_allow_are_refused() {
    for bpp in [0u8, 1, 4, 24, 64] {
        let pf = PixelFormat {
            bits_per_pixel: bpp,
            ..PixelFormat::BGRX
        };
        // A Raw rectangle, then a Cursor one: both carry pixels.
        for encoding in [0i32, -239] {
            let mut p = parser(pf, 4, 4);
            let mut msg = vec![0, 0, 0, 1];
            for v in [0u16, 0, 2, 2] {
                msg.extend(v.to_be_bytes());
            }
            msg.extend(encoding.to_be_bytes());
            msg.extend([0u8; 64]);
            let e = p
                .feed(&msg, Time::ZERO, &mut |_, _| {})
                .expect_err("refused");
            assert!(
                matches!(
                    e.kind,
                    ParseErrorKind::Rect {
                        error: RectError::PixelFormat(_),
                        ..
                    }
                ),
                "{bpp} bpp, encoding {encoding}: {e}"
            );
        }
    }
}
