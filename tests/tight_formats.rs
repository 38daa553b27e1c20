//! Tight in pixel formats other than 32 bpp depth 24: 16 bpp 5-6-5 in
//! both byte orders (2-byte TPIXELs, gradient on 5- and 6-bit components),
//! 32 bpp depth 32 (4-byte TPIXELs) and 8 bpp colour maps, plus the filters
//! and compression types rfbproto forbids there.

mod tight_enc;

use rfbplay::decode::RectError;
use rfbplay::rfb::PixelFormat;
use tight_enc::check::{decode_error, feed, parser_with, rgb_at};
use tight_enc::{tight, update, Encoder};

#[test]
fn formats_without_intensities_refuse_gradient_and_jpeg() {
    let cmap = PixelFormat::COLOUR_MAP_8;
    assert!(matches!(
        decode_error(cmap, 4, 4, vec![0x40, 2]),
        RectError::Malformed(_)
    ));
    assert!(matches!(
        decode_error(cmap, 4, 4, vec![0x90, 0]),
        RectError::Malformed(_)
    ));
}

/// 16 bpp 5-6-5 (either byte order): TPIXELs are full 2-byte pixels and the
/// gradient works on 5- and 6-bit components.
#[test]
fn rgb565_pixels_in_both_byte_orders() {
    for big_endian in [false, true] {
        let pf = PixelFormat {
            big_endian,
            ..PixelFormat::RGB565
        };
        let (w, h) = (12usize, 6usize);
        let comp = |x: usize, y: usize| -> [u32; 3] {
            [
                (x * 5 + y) as u32 % 32,
                (x * y * 3) as u32 % 64,
                (31 - x - y) as u32 % 32,
            ]
        };
        let wire = |v: u32| -> [u8; 2] {
            if big_endian {
                (v as u16).to_be_bytes()
            } else {
                (v as u16).to_le_bytes()
            }
        };
        let value = |c: [u32; 3]| c[0] << 11 | c[1] << 5 | c[2];
        let scale = |v: u32, max: u32| ((v * 255 + max / 2) / max) as u8;
        let expect = |c: [u32; 3]| [scale(c[0], 31), scale(c[1], 63), scale(c[2], 31)];

        let mut enc = Encoder::default();
        // Copy filter.
        let mut copy = Vec::new();
        // Gradient on components.
        let mut comps = Vec::new();
        for y in 0..h {
            for x in 0..w {
                copy.extend(wire(value(comp(x, y))));
                comps.extend(comp(x, y));
            }
        }
        let diffs = tight_enc::gradient(&comps, w, h, 3, &[31, 63, 31]);
        let mut grad = Vec::new();
        for d in diffs.chunks_exact(3) {
            grad.extend(wire(value([d[0], d[1], d[2]])));
        }
        let mut copy_rect = vec![0x00];
        copy_rect.extend(enc.body(0, &copy));
        let mut grad_rect = vec![0x50, 2];
        grad_rect.extend(enc.body(1, &grad));
        let fill_colour = [3, 40, 17];
        let mut fill_rect = vec![0x80];
        fill_rect.extend(wire(value(fill_colour)));

        let mut p = parser_with(pf, 36, 6);
        let msg = update(&[
            tight(0, 0, w as u16, h as u16, copy_rect),
            tight(12, 0, w as u16, h as u16, grad_rect),
            tight(24, 0, 12, 6, fill_rect),
        ]);
        feed(&mut p, &msg).unwrap();
        for y in 0..h {
            for x in 0..w {
                let want = expect(comp(x, y));
                assert_eq!(
                    rgb_at(&p, x as u32, y as u32),
                    want,
                    "copy {x},{y} be={big_endian}"
                );
                assert_eq!(
                    rgb_at(&p, 12 + x as u32, y as u32),
                    want,
                    "gradient {x},{y} be={big_endian}"
                );
            }
        }
        assert_eq!(rgb_at(&p, 30, 3), expect(fill_colour));
    }
}

/// 32 bpp at depth 32 is not the 3-byte TPIXEL case: pixels are 4 bytes.
#[test]
fn depth_32_uses_four_byte_pixels() {
    let pf = PixelFormat {
        depth: 32,
        ..PixelFormat::BGRX
    };
    let mut p = parser_with(pf, 4, 4);
    feed(
        &mut p,
        &update(&[tight(0, 0, 4, 4, vec![0x80, 30, 20, 10, 0])]),
    )
    .unwrap();
    assert_eq!(rgb_at(&p, 1, 1), [10, 20, 30]);
}

/// 8 bpp colour map: palette entries and copy pixels are map indices.
#[test]
fn colour_map_pixels_look_up_the_map() {
    let pf = PixelFormat::COLOUR_MAP_8;
    let mut p = parser_with(pf, 8, 2);
    // SetColorMapEntries: first 0, 3 colours, 16-bit components.
    let mut msg = vec![1, 0, 0, 0, 0, 3];
    for c in [[0xffffu16, 0, 0], [0, 0xffff, 0], [0, 0, 0x8000]] {
        for v in c {
            msg.extend(v.to_be_bytes());
        }
    }
    // 4x2 palette of map entries 2 and 0 (2 colours: 1 bit per pixel).
    let palette = vec![0x40, 1, 1, 2, 0, 0b1010_0000, 0b0101_0000];
    // 4x2 copy of map indices, 8 bytes (raw, under 12).
    let copy = vec![0x00, 0, 1, 2, 0, 1, 2, 0, 1];
    msg.extend(update(&[
        tight(0, 0, 4, 2, palette),
        tight(4, 0, 4, 2, copy),
    ]));
    feed(&mut p, &msg).unwrap();
    let (red, green, blue) = ([255, 0, 0], [0, 255, 0], [0, 0, 128]);
    assert_eq!(rgb_at(&p, 0, 0), red);
    assert_eq!(rgb_at(&p, 1, 0), blue);
    assert_eq!(rgb_at(&p, 1, 1), red);
    assert_eq!(rgb_at(&p, 4, 0), red);
    assert_eq!(rgb_at(&p, 5, 0), green);
    assert_eq!(rgb_at(&p, 6, 0), blue);
    assert_eq!(rgb_at(&p, 7, 1), green);
}

/// The gradient on 4-byte pixels (depth 32, so not the 3-byte TPIXEL form)
/// works on the 8-bit components at their shifts, in the wire byte order.
#[test]
fn gradient_on_four_byte_big_endian_pixels() {
    let pf = PixelFormat {
        depth: 32,
        big_endian: true,
        ..PixelFormat::BGRX
    };
    let (w, h) = (9usize, 5usize);
    let comp = |x: usize, y: usize| -> [u32; 3] {
        [
            (x * 40) as u32 % 256,
            (255 - y * 50) as u32,
            ((x ^ y) * 33) as u32 % 256,
        ]
    };
    let mut comps = Vec::new();
    for y in 0..h {
        for x in 0..w {
            comps.extend(comp(x, y));
        }
    }
    let diffs = tight_enc::gradient(&comps, w, h, 3, &[255, 255, 255]);
    let mut data = Vec::new();
    for d in diffs.chunks_exact(3) {
        data.extend((d[0] << 16 | d[1] << 8 | d[2]).to_be_bytes());
    }
    let mut enc = Encoder::default();
    let mut rect = vec![0x40, 2];
    rect.extend(enc.body(0, &data));
    let mut p = parser_with(pf, w as u32, h as u32);
    feed(&mut p, &update(&[tight(0, 0, w as u16, h as u16, rect)])).unwrap();
    for y in 0..h {
        for x in 0..w {
            let c = comp(x, y).map(|v| v as u8);
            assert_eq!(rgb_at(&p, x as u32, y as u32), c, "{x},{y}");
        }
    }
}
