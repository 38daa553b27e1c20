//! Hextile encoding (RFC 6143 7.7.4): the rectangle is cut into 16x16
//! tiles, left to right and top to bottom, each sent raw or as a background
//! with subrectangles. A tile's length follows from its first bytes, so each
//! step waits for exactly one tile and draws it: nothing beyond one tile is
//! ever buffered, whatever the rectangle's size.

use super::{raw, Malformation, RectCx, RectError, Step, Sub, Within};
use crate::wire::Rect;

/// Subencoding mask bits (RFC 6143 7.7.4).
pub const RAW: u8 = 1;
pub const BACKGROUND_SPECIFIED: u8 = 2;
pub const FOREGROUND_SPECIFIED: u8 = 4;
pub const ANY_SUBRECTS: u8 = 8;
pub const SUBRECTS_COLOURED: u8 = 16;

const TILE: u16 = 16;

#[derive(Debug, Default)]
pub struct Hextile {
    /// The next tile, counted left to right, top to bottom.
    tile: u32,
    /// Payload bytes used so far, for error offsets.
    offset: u64,
    /// Background and foreground carry over from tile to tile within one
    /// rectangle (RFC 6143 7.7.4), as B, G, R, X. Raw tiles leave them as
    /// they were, as the reference decoders do.
    background: Option<[u8; 4]>,
    foreground: Option<[u8; 4]>,
}

impl Hextile {
    pub fn step(&mut self, input: &[u8], cx: &mut RectCx<'_>) -> Result<Step, RectError> {
        let rect = cx.rect;
        let cols = u32::from(rect.w.div_ceil(TILE));
        let total = cols * u32::from(rect.h.div_ceil(TILE));
        if self.tile >= total {
            return Ok(Step::Done(0));
        }
        let (tx, ty) = (
            (self.tile % cols) as u16 * TILE,
            (self.tile / cols) as u16 * TILE,
        );
        let tile = Rect::new(
            rect.x + tx,
            rect.y + ty,
            (rect.w - tx).min(TILE),
            (rect.h - ty).min(TILE),
        );
        let len = match self.tile_len(input, tile, cx.ctx.bpp()) {
            Ok(Some(len)) if input.len() >= len => len,
            Ok(Some(len)) => return Ok(Step::Need(len)),
            Ok(None) => return Ok(Step::Need(1)),
            Err(e) => return Err(self.at(e)),
        };
        self.draw(&input[..len], tile, cx).map_err(|e| self.at(e))?;
        self.tile += 1;
        self.offset += len as u64;
        Ok(if self.tile == total {
            Step::Done(len)
        } else {
            Step::Advance(len)
        })
    }

    fn at(&self, error: RectError) -> RectError {
        RectError::At {
            within: Within::Data,
            offset: self.offset,
            error: Box::new(error),
        }
    }

    /// The length of the tile that `input` starts, as far as `input` tells:
    /// a length past its end means "read again with this much", and None
    /// means `input` is empty.
    fn tile_len(&self, input: &[u8], tile: Rect, bpp: usize) -> Result<Option<usize>, RectError> {
        let Some(&mask) = input.first() else {
            return Ok(None);
        };
        // Bits 32 and 64 belong to ZlibHex (rfbproto "zlibhex"); in Hextile
        // they mean the stream is not what it claims, and guessing on would
        // draw garbage from then on.
        if mask > 0x1f {
            return Err(RectError::BadSubencoding(mask));
        }
        if mask & RAW != 0 {
            return Ok(Some(1 + tile.area() as usize * bpp));
        }
        let mut len = 1;
        if mask & BACKGROUND_SPECIFIED != 0 {
            len += bpp;
        }
        if mask & FOREGROUND_SPECIFIED != 0 {
            len += bpp;
        }
        if mask & ANY_SUBRECTS == 0 {
            return Ok(Some(len));
        }
        let Some(&count) = input.get(len) else {
            return Ok(Some(len + 1));
        };
        let each = if mask & SUBRECTS_COLOURED != 0 {
            bpp + 2
        } else {
            2
        };
        Ok(Some(len + 1 + usize::from(count) * each))
    }

    /// Draws one complete tile.
    fn draw(&mut self, t: &[u8], tile: Rect, cx: &mut RectCx<'_>) -> Result<(), RectError> {
        let mask = t[0];
        if mask & RAW != 0 {
            cx.ctx.counters.add_sub(Sub::HextileRaw);
            raw::write_pixels_at(cx, tile, &t[1..]);
            return Ok(());
        }
        let bpp = cx.ctx.bpp();
        let pf = cx.ctx.pixel_format;
        let mut p = 1;
        if mask & BACKGROUND_SPECIFIED != 0 {
            self.background = Some(pf.to_bgrx(&t[p..p + bpp], &cx.ctx.colour_map));
            p += bpp;
        }
        // ForegroundSpecified together with SubrectsColoured breaks a "must"
        // of the spec aimed at servers, but the bytes still parse one way
        // only: the foreground is read and kept for later tiles.
        if mask & FOREGROUND_SPECIFIED != 0 {
            self.foreground = Some(pf.to_bgrx(&t[p..p + bpp], &cx.ctx.colour_map));
            p += bpp;
        }
        // RFC 6143 7.7.4: "The first non-raw tile in a rectangle must have
        // this bit set"; without it the background is undefined.
        let bg = self
            .background
            .ok_or(RectError::Malformed(Malformation::NoBackground))?;
        cx.screen.drawn().fill(tile, bg);
        let count = if mask & ANY_SUBRECTS != 0 {
            p += 1;
            t[p - 1]
        } else {
            0
        };
        let kind = if count == 0 {
            Sub::HextileSolid
        } else {
            Sub::HextileSubrects
        };
        cx.ctx.counters.add_sub(kind);
        if count == 0 {
            return Ok(());
        }
        let coloured = mask & SUBRECTS_COLOURED != 0;
        let fg = match (coloured, self.foreground) {
            (true, _) => [0; 4],
            (false, Some(fg)) => fg,
            (false, None) => return Err(RectError::Malformed(Malformation::NoForeground)),
        };
        let each = if coloured { bpp + 2 } else { 2 };
        for sub in t[p..].chunks_exact(each) {
            let (colour, geo) = if coloured {
                let (px, geo) = sub.split_at(bpp);
                (pf.to_bgrx(px, &cx.ctx.colour_map), geo)
            } else {
                (fg, sub)
            };
            // x and y in the high and low nibbles, then width-1 and height-1.
            let (x, y) = (u16::from(geo[0] >> 4), u16::from(geo[0] & 15));
            let (w, h) = (u16::from(geo[1] >> 4) + 1, u16::from(geo[1] & 15) + 1);
            let on_screen = Rect::new(tile.x + x, tile.y + y, w, h);
            if x + w > tile.w || y + h > tile.h {
                return Err(RectError::SubrectOutsideTile {
                    sub: on_screen,
                    tile,
                });
            }
            cx.paint(on_screen.area(), t.len())?;
            cx.screen.drawn().fill(on_screen, colour);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{
        colour_map, decode, decode_stream, mutations, pixel, solid, survive, update, MAPPED8,
        RGB565_BE,
    };
    use super::*;
    use crate::framebuffer::Framebuffer;
    use crate::rfb::{Encoding, PixelFormat};

    const BGRX: PixelFormat = PixelFormat::BGRX;

    fn hex(rect: Rect, data: Vec<u8>) -> Vec<(Rect, Encoding, Vec<u8>)> {
        vec![(rect, Encoding::HEXTILE, data)]
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    #[test]
    fn raw_tile() {
        let px: Vec<u8> = (0..4).flat_map(pixel).collect();
        let fb = decode(BGRX, 2, 2, &hex(Rect::new(0, 0, 2, 2), cat(&[&[RAW], &px]))).unwrap();
        let mut want = Framebuffer::new(2, 2);
        for i in 0..4u8 {
            want.set(u32::from(i % 2), u32::from(i / 2), pixel(i));
        }
        assert_eq!(fb, want);
    }

    #[test]
    fn background_specified_fills_and_carries_to_the_next_tile() {
        // 20x3: two tiles, the second with mask 0 reuses the background.
        let data = cat(&[&[BACKGROUND_SPECIFIED], &pixel(7), &[0]]);
        let fb = decode(BGRX, 20, 3, &hex(Rect::new(0, 0, 20, 3), data)).unwrap();
        assert_eq!(fb, solid(20, 3, pixel(7)));
    }

    #[test]
    fn foreground_subrects_and_carry_over() {
        // Tile 1: bg 1, fg 2, one subrect 2x3 at (1,2). Tile 2: AnySubrects
        // only, so both colours carry over: subrect 1x1 at (0,0).
        let data = cat(&[
            &[BACKGROUND_SPECIFIED | FOREGROUND_SPECIFIED | ANY_SUBRECTS],
            &pixel(1),
            &pixel(2),
            &[1, 0x12, 0x12],
            &[ANY_SUBRECTS, 1, 0x00, 0x00],
        ]);
        let fb = decode(BGRX, 32, 16, &hex(Rect::new(0, 0, 32, 16), data)).unwrap();
        let mut want = solid(32, 16, pixel(1));
        want.fill(Rect::new(1, 2, 2, 3), pixel(2));
        want.set(16, 0, pixel(2));
        assert_eq!(fb, want);
    }

    #[test]
    fn coloured_subrects_relative_to_an_offset_tile() {
        let rect = Rect::new(3, 2, 17, 18);
        let data = cat(&[
            // Tile (3,2) 16x16: bg 1, two coloured subrects.
            &[BACKGROUND_SPECIFIED | ANY_SUBRECTS | SUBRECTS_COLOURED],
            &pixel(1),
            &[2],
            &pixel(5),
            &[0xf0, 0x0f], // 1x16 at x=15
            &pixel(6),
            &[0x0f, 0xf0], // 16x1 at y=15
            // Tile (19,2) 1x16, tile (3,18) 16x2, tile (19,18) 1x2: solid.
            &[BACKGROUND_SPECIFIED],
            &pixel(8),
            &[0],
            &[ANY_SUBRECTS, 0],
        ]);
        let fb = decode(BGRX, 24, 24, &hex(rect, data)).unwrap();
        let mut want = Framebuffer::new(24, 24);
        want.fill(Rect::new(3, 2, 16, 16), pixel(1));
        want.fill(Rect::new(18, 2, 1, 16), pixel(5));
        want.fill(Rect::new(3, 17, 16, 1), pixel(6));
        want.fill(Rect::new(19, 2, 1, 16), pixel(8));
        want.fill(Rect::new(3, 18, 17, 2), pixel(8));
        assert_eq!(fb, want);
    }

    #[test]
    fn tiles_are_counted_by_kind() {
        let stream = update(&hex(
            Rect::new(0, 0, 48, 1),
            cat(&[
                &[RAW],
                &[0; 64],
                &[BACKGROUND_SPECIFIED | ANY_SUBRECTS],
                &pixel(1),
                &[0],
                &[FOREGROUND_SPECIFIED | ANY_SUBRECTS],
                &pixel(2),
                &[1, 0, 0],
            ]),
        ));
        let mut p = crate::rfb::Parser::new(BGRX, Default::default(), false);
        p.set_screen_size(48, 1).unwrap();
        p.feed(&stream, crate::Time::ZERO, &mut |_, _| {}).unwrap();
        let stats = p.context().stats();
        let subs = &stats.subencodings["Hextile"];
        assert_eq!(
            subs.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
            [("raw", 1), ("solid", 1), ("subrects", 1)]
        );
    }

    #[test]
    fn sixteen_bit_and_colour_map_pixels_convert() {
        let white = 0xffffu16.to_be_bytes();
        let blue = 31u16.to_be_bytes();
        let data = cat(&[
            &[BACKGROUND_SPECIFIED | FOREGROUND_SPECIFIED | ANY_SUBRECTS],
            &white,
            &blue,
            &[1, 0x00, 0x00],
        ]);
        let fb = decode(RGB565_BE, 2, 1, &hex(Rect::new(0, 0, 2, 1), data)).unwrap();
        let mut want = solid(2, 1, [255, 255, 255, 0]);
        want.set(0, 0, [255, 0, 0, 0]);
        assert_eq!(fb, want);

        let mut stream = colour_map(3, &[[0xffff, 0, 0], [0, 0x8000, 0]]);
        stream.extend(update(&hex(
            Rect::new(0, 0, 2, 1),
            vec![
                BACKGROUND_SPECIFIED | ANY_SUBRECTS | SUBRECTS_COLOURED,
                3,
                1,
                4,
                0x10,
                0x00,
            ],
        )));
        let fb = decode_stream(MAPPED8, 2, 1, &stream).unwrap();
        let mut want = solid(2, 1, [0, 0, 255, 0]);
        want.set(1, 0, [0, 128, 0, 0]);
        assert_eq!(fb, want);
    }

    #[test]
    fn subrect_past_the_tile_is_refused() {
        // A 4x4 tile; a 2x1 subrect at x=3 sticks out.
        let data = cat(&[
            &[BACKGROUND_SPECIFIED | FOREGROUND_SPECIFIED | ANY_SUBRECTS],
            &pixel(1),
            &pixel(2),
            &[1, 0x30, 0x10],
        ]);
        let err = decode(BGRX, 8, 8, &hex(Rect::new(2, 2, 4, 4), data)).unwrap_err();
        assert_eq!(
            err.root(),
            &RectError::SubrectOutsideTile {
                sub: Rect::new(5, 2, 2, 1),
                tile: Rect::new(2, 2, 4, 4)
            }
        );
    }

    #[test]
    fn malformed_tiles_give_typed_errors() {
        let r = Rect::new(0, 0, 4, 4);
        let err = |data: Vec<u8>| {
            decode(BGRX, 4, 4, &hex(r, data))
                .unwrap_err()
                .root()
                .clone()
        };
        assert_eq!(err(vec![0x21]), RectError::BadSubencoding(0x21));
        assert!(matches!(
            err(vec![0]),
            RectError::Malformed(Malformation::NoBackground)
        ));
        assert!(matches!(
            err(cat(&[
                &[BACKGROUND_SPECIFIED | ANY_SUBRECTS],
                &pixel(1),
                &[1, 0, 0]
            ])),
            RectError::Malformed(Malformation::NoForeground)
        ));
    }

    #[test]
    fn truncated_tile_waits_for_its_exact_length() {
        let rect = Rect::new(0, 0, 4, 4);
        let data = cat(&[
            &[BACKGROUND_SPECIFIED | ANY_SUBRECTS | SUBRECTS_COLOURED],
            &pixel(1),
            &[1],
            &pixel(2),
            &[0x00],
        ]);
        let mut p = crate::rfb::Parser::new(BGRX, Default::default(), true);
        p.set_screen_size(4, 4).unwrap();
        let mut updates = 0;
        p.feed(&update(&hex(rect, data)), crate::Time::ZERO, &mut |_, _| {
            updates += 1
        })
        .unwrap();
        assert_eq!(updates, 0);
        assert!(!p.at_message_boundary());
        p.feed(&[0x00], crate::Time::ZERO, &mut |_, _| updates += 1)
            .unwrap();
        assert!(updates > 0);
        assert_eq!(p.screen().shown().row(0, 0, 1), &pixel(2));
    }

    #[test]
    fn damaged_tiles_never_panic() {
        let base = cat(&[
            &[BACKGROUND_SPECIFIED | FOREGROUND_SPECIFIED | ANY_SUBRECTS],
            &pixel(1),
            &pixel(2),
            &[2, 0x12, 0x12, 0xee, 0x11],
            &[RAW],
            &[7; 4 * 16 * 3],
            &[ANY_SUBRECTS | SUBRECTS_COLOURED, 1],
            &pixel(3),
            &[0x00, 0x21],
        ]);
        let stream = update(&hex(Rect::new(1, 1, 40, 3), base));
        for pf in [BGRX, RGB565_BE, MAPPED8] {
            mutations(&stream, 3000, |s| survive(pf, 44, 6, s));
        }
    }
}
