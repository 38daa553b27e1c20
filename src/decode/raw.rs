//! Raw encoding (RFC 6143 7.7.1): width x height pixels, left to right, top
//! to bottom. In the recorders' pixel format the bytes go straight into the
//! framebuffer rows as they arrive, whatever the chunking.

use super::{RectCx, RectError, Step};

#[derive(Debug, Default)]
pub struct Raw {
    /// Bytes of the rectangle received so far.
    done: usize,
}

impl Raw {
    pub fn step(&mut self, input: &[u8], cx: &mut RectCx<'_>) -> Result<Step, RectError> {
        let rect = cx.rect;
        let bpp = cx.ctx.bpp();
        let total = rect.area() as usize * bpp;
        let left = total - self.done;
        if left == 0 {
            return Ok(Step::Done(0));
        }
        let pf = cx.ctx.pixel_format;
        let n = if pf.is_native() {
            if input.is_empty() {
                return Ok(Step::Need(1));
            }
            let n = left.min(input.len());
            cx.screen.write_raw(rect, self.done, &input[..n]);
            n
        } else {
            let n = left.min(input.len() / bpp * bpp);
            if n == 0 {
                return Ok(Step::Need(bpp));
            }
            let w = usize::from(rect.w);
            let fb = cx.screen.drawn();
            for (i, px) in input[..n].chunks_exact(bpp).enumerate() {
                let p = self.done / bpp + i;
                let (x, y) = (p % w, p / w);
                let bgrx = pf.to_bgrx(px, &cx.ctx.colour_map);
                fb.set(
                    u32::from(rect.x) + x as u32,
                    u32::from(rect.y) + y as u32,
                    bgrx,
                );
            }
            n
        };
        self.done += n;
        Ok(if self.done == total {
            Step::Done(n)
        } else {
            Step::Advance(n)
        })
    }
}

/// Writes a whole rectangle of wire pixels (Raw after inflating: Zlib, Tight
/// copy filter, ZRLE raw tiles use their own layouts). Rows are copied when
/// the format is the framebuffer's own.
pub fn write_pixels(cx: &mut RectCx<'_>, pixels: &[u8]) {
    write_pixels_at(cx, cx.rect, pixels);
}

/// Writes `pixels` (wire format, rows of `rect.w`) into `rect`.
pub fn write_pixels_at(cx: &mut RectCx<'_>, rect: crate::wire::Rect, pixels: &[u8]) {
    write_pixels_from(cx, rect, 0, pixels);
}

/// Writes `pixels` (wire format) into `rect` from its pixel `first` on,
/// counted left to right, top to bottom.
pub fn write_pixels_from(
    cx: &mut RectCx<'_>,
    rect: crate::wire::Rect,
    first: usize,
    pixels: &[u8],
) {
    let pf = cx.ctx.pixel_format;
    let fb = cx.screen.drawn();
    let bpp = pf.bytes_per_pixel();
    if pf.is_native() {
        fb.write_rect_bytes(rect, first * bpp, pixels);
        return;
    }
    let w = usize::from(rect.w).max(1);
    let area = rect.area() as usize;
    for (i, px) in pixels
        .chunks_exact(bpp)
        .take(area.saturating_sub(first))
        .enumerate()
    {
        let i = first + i;
        let bgrx = pf.to_bgrx(px, &cx.ctx.colour_map);
        fb.set(
            u32::from(rect.x) + (i % w) as u32,
            u32::from(rect.y) + (i / w) as u32,
            bgrx,
        );
    }
}
