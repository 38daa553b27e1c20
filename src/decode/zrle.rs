//! ZRLE encoding (RFC 6143 7.7.6): a length, then zlib data from a stream
//! that lasts the whole connection, inflating to 64x64 tiles that are raw,
//! solid, bit-packed palette, or run-length coded, with 3-byte compressed
//! pixels (CPIXEL) for 32-bit formats whose colours fit in three bytes.
//!
//! The inflated length is not sent, so it is bounded by the most a valid
//! rectangle of this size can take, and every run, index and tile is checked
//! against the tile before a pixel is written.

use super::{inflate_bounded, Malformation, RectCx, RectError, Step, Sub, Within};
use crate::framebuffer::Framebuffer;
use crate::wire::ColourMap;
use crate::wire::{PixelFormat, Rect};

const TILE: u16 = 64;
/// Palette RLE tiles carry up to 127 colours (subencodings 130 to 255).
const MAX_PALETTE: usize = 127;

#[derive(Debug, Default)]
pub struct Zrle {
    /// The zlib data's length, once read.
    len: Option<usize>,
}

impl Zrle {
    pub fn step(&mut self, input: &[u8], cx: &mut RectCx<'_>) -> Result<Step, RectError> {
        let cpixel = CPixel::new(cx.ctx.pixel_format);
        let max = max_inflated(cx.rect, cpixel.len);
        let Some(len) = self.len else {
            if input.len() < 4 {
                return Ok(Step::Need(4));
            }
            let len = u32::from_be_bytes([input[0], input[1], input[2], input[3]]) as usize;
            cx.ctx.limits.check_compressed(len, max)?;
            self.len = Some(len);
            return Ok(Step::Advance(4));
        };
        if input.len() < len {
            return Ok(Step::Need(len));
        }
        let mut data = std::mem::take(&mut cx.ctx.scratch);
        let result = inflate_bounded(cx.ctx.zrle.get(), &input[..len], &mut data, max)
            .and_then(|()| decode_tiles(&data, cpixel, cx));
        cx.ctx.put_scratch(data);
        result.map(|()| Step::Done(len))
    }
}

/// The most inflated data a valid rectangle can hold: per tile, the
/// subencoding byte and the largest palette; per pixel, a plain RLE run of
/// one (a CPIXEL and a length byte), the costliest way to say a pixel.
fn max_inflated(rect: Rect, cpixel_len: usize) -> usize {
    let tiles = u64::from(rect.w.div_ceil(TILE)) * u64::from(rect.h.div_ceil(TILE));
    let len = cpixel_len as u64;
    let max = tiles * (1 + MAX_PALETTE as u64 * len) + rect.area() * (len + 1);
    usize::try_from(max).unwrap_or(usize::MAX)
}

/// How a CPIXEL becomes a pixel (RFC 6143 7.7.6).
#[derive(Clone, Copy, Debug)]
struct CPixel {
    pf: PixelFormat,
    /// Bytes per CPIXEL.
    len: usize,
    /// For 3-byte CPIXELs: whether the dropped wire byte was the first one
    /// (it holds the value's low byte in big-endian, or its high byte in a
    /// little-endian format whose colours sit in the top three bytes).
    zero_first: bool,
    /// The recorders' format, whose CPIXEL is simply B, G, R.
    native: bool,
}

impl CPixel {
    fn new(pf: PixelFormat) -> CPixel {
        let full = CPixel {
            pf,
            len: pf.bytes_per_pixel(),
            zero_first: false,
            native: false,
        };
        // RFC 6143 7.7.6: 3 bytes when true colour, 32 bpp, depth 24 or
        // less, and the colour bits fit in the low or the high 3 bytes.
        if !pf.true_colour || pf.bits_per_pixel != 32 || pf.depth > 24 {
            return full;
        }
        let used = [
            (pf.red_max, pf.red_shift),
            (pf.green_max, pf.green_shift),
            (pf.blue_max, pf.blue_shift),
        ]
        .iter()
        .fold(0u64, |acc, &(max, shift)| {
            acc | u64::from(max)
                .checked_shl(u32::from(shift))
                .unwrap_or(u64::MAX)
        });
        let fits_low = used <= 0x00ff_ffff;
        let fits_high = used <= 0xffff_ffff && used & 0xff == 0;
        // rfbproto: the low three bytes win when both would do.
        let zero_first = if fits_low {
            pf.big_endian
        } else if fits_high {
            !pf.big_endian
        } else {
            return full;
        };
        CPixel {
            pf,
            len: 3,
            zero_first,
            native: pf.is_native(),
        }
    }

    #[inline]
    fn to_bgrx(self, b: &[u8], map: &ColourMap) -> [u8; 4] {
        if self.len != 3 {
            return self.pf.to_bgrx(b, map);
        }
        if self.native {
            return [b[0], b[1], b[2], 0];
        }
        let wire = if self.zero_first {
            [0, b[0], b[1], b[2]]
        } else {
            [b[0], b[1], b[2], 0]
        };
        self.pf.to_bgrx(&wire, map)
    }
}

/// Bounds-checked reading of the inflated data.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], RectError> {
        let end = self.pos.saturating_add(n);
        let got = self
            .data
            .get(self.pos..end)
            .ok_or(RectError::Malformed(Malformation::ZrleEndsInTile))?;
        self.pos = end;
        Ok(got)
    }

    fn byte(&mut self) -> Result<u8, RectError> {
        Ok(self.take(1)?[0])
    }

    /// A run length: bytes of 255 and a final byte below 255, summed, plus
    /// one (RFC 6143 7.7.6). Runs never outgrow the tile, so reading stops
    /// once the sum passes `max` rather than walking a long line of 255s.
    fn run_length(&mut self, max: usize) -> Result<usize, RectError> {
        let mut len = 1;
        loop {
            let b = self.byte()?;
            len += usize::from(b);
            if len > max {
                return Err(RectError::Malformed(Malformation::ZrleRunPastTile));
            }
            if b != 255 {
                return Ok(len);
            }
        }
    }

    fn palette(
        &mut self,
        size: usize,
        cpixel: &CPixel,
        map: &ColourMap,
    ) -> Result<[[u8; 4]; MAX_PALETTE], RectError> {
        let mut palette = [[0u8; 4]; MAX_PALETTE];
        let bytes = self.take(size * cpixel.len)?;
        for (slot, c) in palette.iter_mut().zip(bytes.chunks_exact(cpixel.len)) {
            *slot = cpixel.to_bgrx(c, map);
        }
        Ok(palette)
    }
}

fn decode_tiles(data: &[u8], cpixel: CPixel, cx: &mut RectCx<'_>) -> Result<(), RectError> {
    let rect = cx.rect;
    let mut r = Reader { data, pos: 0 };
    let at = |offset: usize, error| RectError::At {
        within: Within::Inflated,
        offset: offset as u64,
        error: Box::new(error),
    };
    for ty in (0..rect.h).step_by(usize::from(TILE)) {
        for tx in (0..rect.w).step_by(usize::from(TILE)) {
            let tile = Rect::new(
                rect.x + tx,
                rect.y + ty,
                (rect.w - tx).min(TILE),
                (rect.h - ty).min(TILE),
            );
            let kind = decode_tile(&mut r, tile, &cpixel, cx).map_err(|e| at(r.pos, e))?;
            cx.ctx.counters.add_sub(kind);
        }
    }
    if r.pos != data.len() {
        return Err(at(r.pos, RectError::Malformed(Malformation::ZrleTooLong)));
    }
    Ok(())
}

/// Draws one tile and returns its kind, as `rfbplay info` names it.
fn decode_tile(
    r: &mut Reader<'_>,
    tile: Rect,
    cpixel: &CPixel,
    cx: &mut RectCx<'_>,
) -> Result<Sub, RectError> {
    let map = &cx.ctx.colour_map;
    let fb = cx.screen.drawn();
    let area = tile.area() as usize;
    let w = usize::from(tile.w);
    let sub = r.byte()?;
    Ok(match sub {
        0 => {
            let px = r.take(area * cpixel.len)?;
            for (row, src) in px.chunks_exact(w * cpixel.len).enumerate() {
                let dst = fb.row_mut(
                    u32::from(tile.x),
                    u32::from(tile.y) + row as u32,
                    u32::from(tile.w),
                );
                for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(cpixel.len)) {
                    d.copy_from_slice(&cpixel.to_bgrx(s, map));
                }
            }
            Sub::ZrleRaw
        }
        1 => {
            let px = cpixel.to_bgrx(r.take(cpixel.len)?, map);
            fb.fill(tile, px);
            Sub::ZrleSolid
        }
        2..=16 => {
            let size = usize::from(sub);
            let palette = r.palette(size, cpixel, map)?;
            let bits = match size {
                2 => 1,
                3 | 4 => 2,
                _ => 4,
            };
            // Rows are padded to whole bytes; the leftmost pixel is in the
            // most significant bits.
            let row_bytes = (w * bits).div_ceil(8);
            let packed = r.take(row_bytes * usize::from(tile.h))?;
            let mask = (1u8 << bits) - 1;
            for (row, src) in packed.chunks_exact(row_bytes).enumerate() {
                let dst = fb.row_mut(
                    u32::from(tile.x),
                    u32::from(tile.y) + row as u32,
                    u32::from(tile.w),
                );
                for (x, d) in dst.chunks_exact_mut(4).enumerate() {
                    let bit = x * bits;
                    let index = usize::from((src[bit / 8] >> (8 - bits - bit % 8)) & mask);
                    if index >= size {
                        return Err(RectError::PaletteIndex { index, size });
                    }
                    d.copy_from_slice(&palette[index]);
                }
            }
            Sub::ZrlePackedPalette
        }
        128 => {
            let mut pos = 0;
            while pos < area {
                let px = cpixel.to_bgrx(r.take(cpixel.len)?, map);
                let run = r.run_length(area - pos)?;
                fill_run(fb, tile, pos, run, px);
                pos += run;
            }
            Sub::ZrleRle
        }
        130..=255 => {
            let size = usize::from(sub - 128);
            let palette = r.palette(size, cpixel, map)?;
            let mut pos = 0;
            while pos < area {
                let b = r.byte()?;
                let index = usize::from(b & 0x7f);
                if index >= size {
                    return Err(RectError::PaletteIndex { index, size });
                }
                let run = if b & 0x80 != 0 {
                    r.run_length(area - pos)?
                } else {
                    1
                };
                fill_run(fb, tile, pos, run, palette[index]);
                pos += run;
            }
            Sub::ZrlePaletteRle
        }
        // 17 to 127 and 129 are unused (RFC 6143 7.7.6).
        _ => return Err(RectError::BadSubencoding(sub)),
    })
}

/// Writes `run` pixels from pixel `pos` of the tile on; runs wrap from one
/// row to the next. The caller has checked the run ends inside the tile.
fn fill_run(fb: &mut Framebuffer, tile: Rect, mut pos: usize, mut run: usize, px: [u8; 4]) {
    let w = usize::from(tile.w);
    while run > 0 {
        let (x, y) = (pos % w, pos / w);
        let n = (w - x).min(run);
        let dst = fb.row_mut(
            u32::from(tile.x) + x as u32,
            u32::from(tile.y) + y as u32,
            n as u32,
        );
        for d in dst.chunks_exact_mut(4) {
            d.copy_from_slice(&px);
        }
        pos += n;
        run -= n;
    }
}

#[cfg(test)]
#[path = "zrle_tests.rs"]
mod tests;
