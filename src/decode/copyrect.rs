//! CopyRect encoding (RFC 6143 7.7.2): copy an area of the screen the client
//! already has. The source position is checked against the screen before use.

use super::{RectCx, RectError, Step};

pub fn step(input: &[u8], cx: &mut RectCx<'_>) -> Result<Step, RectError> {
    if input.len() < 4 {
        return Ok(Step::Need(4));
    }
    let src_x = u16::from_be_bytes([input[0], input[1]]);
    let src_y = u16::from_be_bytes([input[2], input[3]]);
    let rect = cx.rect;
    let fb = cx.screen.drawn();
    let src_fits = u32::from(src_x) + u32::from(rect.w) <= fb.width()
        && u32::from(src_y) + u32::from(rect.h) <= fb.height();
    if !src_fits {
        return Err(RectError::CopySourceOutside {
            src_x,
            src_y,
            width: fb.width(),
            height: fb.height(),
        });
    }
    fb.copy_within(src_x, src_y, rect);
    Ok(Step::Done(4))
}
