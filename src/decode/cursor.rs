//! Cursor pseudo-encoding (RFC 6143 7.8.1): the pointer's shape as pixels
//! and a bitmask, with the hotspot in the rectangle's position. It does not
//! draw; it is kept as state so exports can draw it when asked.

use super::{RectCx, RectError, Step};
use crate::limits::{LimitError, Measure};

pub use crate::framebuffer::Cursor;

/// Cursors beyond this size are refused; real ones are 16 to 256 pixels.
pub const MAX_CURSOR_SIDE: u16 = 1024;

#[derive(Debug)]
pub struct CursorRect {
    len: usize,
}

impl CursorRect {
    pub fn begin(cx: &mut RectCx<'_>) -> Result<CursorRect, RectError> {
        super::check_pixel_format(cx)?;
        let r = cx.rect;
        if r.w > MAX_CURSOR_SIDE || r.h > MAX_CURSOR_SIDE {
            return Err(LimitError::TooLong {
                what: Measure::CursorSide,
                len: u64::from(r.w.max(r.h)),
                max: u64::from(MAX_CURSOR_SIDE),
            }
            .into());
        }
        let pixels = r.area() as usize * cx.ctx.bpp();
        let mask = usize::from(r.w).div_ceil(8) * usize::from(r.h);
        Ok(CursorRect { len: pixels + mask })
    }

    pub fn step(&mut self, input: &[u8], cx: &mut RectCx<'_>) -> Result<Step, RectError> {
        if input.len() < self.len {
            return Ok(Step::Need(self.len));
        }
        let r = cx.rect;
        let bpp = cx.ctx.bpp();
        let n = r.area() as usize;
        let (px, mask) = input[..self.len].split_at(n * bpp);
        let pf = cx.ctx.pixel_format;
        let mut pixels = Vec::with_capacity(n * 4);
        for p in px.chunks_exact(bpp) {
            pixels.extend_from_slice(&pf.to_bgrx(p, &cx.ctx.colour_map));
        }
        cx.screen.cursor = Some(Cursor {
            width: r.w,
            height: r.h,
            hotspot: (r.x, r.y),
            pixels,
            mask: mask.to_vec(),
        });
        Ok(Step::Done(self.len))
    }
}
