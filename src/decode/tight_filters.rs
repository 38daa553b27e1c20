//! Tight's pixel layer (rfbproto "Tight Encoding"): the TPIXEL type and the
//! copy, palette and gradient filters of BasicCompression, which turn the
//! filtered (already inflated) bytes of a rectangle into framebuffer pixels.
//! It is apart from the state machine in `tight.rs` because this is where
//! the per-pixel work happens, and it never looks at the wire framing.

use super::{Malformation, RectCx, RectError, Sub};
use crate::wire::{ColourMap, PixelFormat};

/// How a TPIXEL is laid out for the connection's pixel format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tpixel {
    /// Three bytes R, G, B instead of a full pixel.
    pub rgb: bool,
    /// Bytes per TPIXEL.
    pub size: usize,
}

impl Tpixel {
    /// rfbproto "Tight Encoding": a TPIXEL is 3 bytes (red, green, blue)
    /// when the format is true colour, 32 bits per pixel, depth 24 and every
    /// component is exactly 8 bits wide, whatever the shifts and byte order;
    /// otherwise it is a PIXEL.
    pub fn of(pf: &PixelFormat) -> Tpixel {
        let rgb = pf.true_colour
            && pf.bits_per_pixel == 32
            && pf.depth == 24
            && pf.red_max == 255
            && pf.green_max == 255
            && pf.blue_max == 255;
        Tpixel {
            rgb,
            size: if rgb { 3 } else { pf.bytes_per_pixel() },
        }
    }

    /// Converts one TPIXEL (`b` holds at least `size` bytes) to framebuffer
    /// bytes B, G, R, X. The 3-byte form is in colour order R, G, B, the
    /// reverse of the framebuffer's memory order.
    #[inline]
    pub fn to_bgrx(self, b: &[u8], pf: &PixelFormat, map: &ColourMap) -> [u8; 4] {
        if self.rgb {
            [b[2], b[1], b[0], 0]
        } else {
            pf.to_bgrx(b, map)
        }
    }
}

/// The filter a BasicCompression rectangle's data went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    Copy,
    /// The palette, already converted to framebuffer pixels (2..=256).
    Palette(Vec<[u8; 4]>),
    Gradient,
}

impl Filter {
    /// Length of the filtered data for a `w` x `h` rectangle: TPIXELs for
    /// copy and gradient; for a palette, 1 bit per pixel in byte-aligned rows
    /// when it has 2 colours, 1 byte per pixel otherwise.
    pub fn data_len(&self, w: usize, h: usize, tpixel: Tpixel) -> usize {
        match self {
            Filter::Copy | Filter::Gradient => w * h * tpixel.size,
            Filter::Palette(colours) if colours.len() == 2 => w.div_ceil(8) * h,
            Filter::Palette(_) => w * h,
        }
    }

    /// The subencoding `rfbplay info` counts.
    pub fn sub(&self) -> Sub {
        match self {
            Filter::Copy => Sub::TightCopy,
            Filter::Palette(colours) if colours.len() == 2 => Sub::TightPalette2,
            Filter::Palette(_) => Sub::TightPalette,
            Filter::Gradient => Sub::TightGradient,
        }
    }

    /// Draws the rectangle from its filtered data.
    pub fn apply(&self, data: &[u8], cx: &mut RectCx<'_>) -> Result<(), RectError> {
        let rect = cx.rect;
        let (w, h) = (usize::from(rect.w), usize::from(rect.h));
        let tpixel = Tpixel::of(&cx.ctx.pixel_format);
        let len = self.data_len(w, h, tpixel);
        let Some(data) = data.get(..len) else {
            return Err(RectError::Malformed(Malformation::TightDataShort));
        };
        if len == 0 {
            return Ok(());
        }
        match self {
            Filter::Copy if tpixel.rgb => {
                let fb = cx.screen.drawn();
                for (y, src) in data.chunks_exact(w * 3).enumerate() {
                    let dst = fb.row_mut(u32::from(rect.x), u32::from(rect.y) + y as u32, w as u32);
                    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(3)) {
                        d.copy_from_slice(&[s[2], s[1], s[0], 0]);
                    }
                }
            }
            Filter::Copy => super::raw::write_pixels(cx, data),
            Filter::Palette(colours) if colours.len() == 2 => {
                let fb = cx.screen.drawn();
                for (y, src) in data.chunks_exact(w.div_ceil(8)).enumerate() {
                    let dst = fb.row_mut(u32::from(rect.x), u32::from(rect.y) + y as u32, w as u32);
                    for (x, d) in dst.chunks_exact_mut(4).enumerate() {
                        let bit = (src[x / 8] >> (7 - x % 8)) & 1;
                        d.copy_from_slice(&colours[usize::from(bit)]);
                    }
                }
            }
            Filter::Palette(colours) => {
                let fb = cx.screen.drawn();
                for (y, src) in data.chunks_exact(w).enumerate() {
                    let dst = fb.row_mut(u32::from(rect.x), u32::from(rect.y) + y as u32, w as u32);
                    for (d, &i) in dst.chunks_exact_mut(4).zip(src) {
                        // rfbproto: indices point into the palette just sent.
                        let Some(c) = colours.get(usize::from(i)) else {
                            return Err(RectError::PaletteIndex {
                                index: usize::from(i),
                                size: colours.len(),
                            });
                        };
                        d.copy_from_slice(c);
                    }
                }
            }
            Filter::Gradient if tpixel.rgb => gradient_rgb(data, cx),
            Filter::Gradient => gradient_values(data, cx)?,
        }
        Ok(())
    }
}

/// The gradient prediction of rfbproto "GradientFilter": left + above -
/// above-left, clamped to 0..=max, with pixels outside the rectangle zero.
#[inline]
fn predict(left: u32, up: u32, up_left: u32, max: u32) -> u32 {
    (i64::from(left) + i64::from(up) - i64::from(up_left)).clamp(0, i64::from(max)) as u32
}

/// Gradient over 3-byte TPIXELs: each of R, G, B is an 8-bit component and
/// the data holds the differences modulo 256.
fn gradient_rgb(data: &[u8], cx: &mut RectCx<'_>) {
    let rect = cx.rect;
    let w = usize::from(rect.w);
    // The row above, reconstructed, as R, G, B; zero above the first row.
    let mut above = vec![0u8; w * 3];
    let mut row = vec![0u8; w * 3];
    let fb = cx.screen.drawn();
    for (y, src) in data.chunks_exact(w * 3).enumerate() {
        // The first pixel has zero to its left and above-left, so its
        // prediction is the pixel above, which needs no clamping.
        for c in 0..3 {
            row[c] = src[c].wrapping_add(above[c]);
        }
        for i in 3..w * 3 {
            let p = i32::from(row[i - 3]) + i32::from(above[i]) - i32::from(above[i - 3]);
            row[i] = src[i].wrapping_add(p.clamp(0, 255) as u8);
        }
        let dst = fb.row_mut(u32::from(rect.x), u32::from(rect.y) + y as u32, w as u32);
        for (d, s) in dst.chunks_exact_mut(4).zip(row.chunks_exact(3)) {
            d.copy_from_slice(&[s[2], s[1], s[0], 0]);
        }
        std::mem::swap(&mut above, &mut row);
    }
}

/// Gradient over full pixels (16 or 32 bits, true colour): each pixel value
/// holds per-component differences at the format's shifts, and each
/// component is reconstructed modulo max + 1.
fn gradient_values(data: &[u8], cx: &mut RectCx<'_>) -> Result<(), RectError> {
    let pf = cx.ctx.pixel_format;
    // rfbproto: "The GradientFilter may only be used when bits-per-pixel is
    // either 16 or 32"; it works on intensities, so colour maps cannot use it.
    if !matches!(pf.bits_per_pixel, 16 | 32) || !pf.true_colour {
        return Err(RectError::Malformed(Malformation::TightGradientFormat));
    }
    let rect = cx.rect;
    let w = usize::from(rect.w);
    let bpp = pf.bytes_per_pixel();
    let comps = [
        (pf.red_shift, u32::from(pf.red_max)),
        (pf.green_shift, u32::from(pf.green_max)),
        (pf.blue_shift, u32::from(pf.blue_max)),
    ];
    let component = |v: u32, c: usize| {
        let (shift, max) = comps[c];
        v.checked_shr(u32::from(shift)).unwrap_or(0) % (max + 1)
    };
    let mut above = vec![0u32; w * 3];
    let mut row = vec![0u32; w * 3];
    let map = &cx.ctx.colour_map;
    let fb = cx.screen.drawn();
    for (y, src) in data.chunks_exact(w * bpp).enumerate() {
        for (x, px) in src.chunks_exact(bpp).enumerate() {
            let d = pf.read_value(px);
            for (c, &(_, max)) in comps.iter().enumerate() {
                let i = x * 3 + c;
                let (left, up_left) = if x == 0 {
                    (0, 0)
                } else {
                    (row[i - 3], above[i - 3])
                };
                let p = predict(left, above[i], up_left, max);
                row[i] = (component(d, c) + p) % (max + 1);
            }
        }
        let dst = fb.row_mut(u32::from(rect.x), u32::from(rect.y) + y as u32, w as u32);
        for (d, v) in dst.chunks_exact_mut(4).zip(row.chunks_exact(3)) {
            let value = comps.iter().zip(v).fold(0u32, |acc, (&(shift, _), &c)| {
                acc | c.checked_shl(u32::from(shift)).unwrap_or(0)
            });
            d.copy_from_slice(&pf.value_to_bgrx(value, map));
        }
        std::mem::swap(&mut above, &mut row);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tpixel_is_three_bytes_only_for_8_bit_components_at_depth_24() {
        assert_eq!(
            Tpixel::of(&PixelFormat::BGRX),
            Tpixel { rgb: true, size: 3 }
        );
        let mut be = PixelFormat::BGRX;
        be.big_endian = true;
        (be.red_shift, be.blue_shift) = (0, 16);
        assert!(Tpixel::of(&be).rgb);
        let mut deep = PixelFormat::BGRX;
        deep.depth = 32;
        assert_eq!(
            Tpixel::of(&deep),
            Tpixel {
                rgb: false,
                size: 4
            }
        );
        let rgb565 = PixelFormat::RGB565;
        assert_eq!(
            Tpixel::of(&rgb565),
            Tpixel {
                rgb: false,
                size: 2
            }
        );
    }

    #[test]
    fn prediction_clamps_to_the_component_range() {
        assert_eq!(predict(200, 200, 10, 255), 255);
        assert_eq!(predict(0, 5, 100, 255), 0);
        assert_eq!(predict(10, 20, 5, 255), 25);
        assert_eq!(predict(30, 30, 0, 31), 31);
    }

    #[test]
    fn filtered_lengths_follow_rfbproto() {
        let t = Tpixel { rgb: true, size: 3 };
        assert_eq!(Filter::Copy.data_len(5, 2, t), 30);
        assert_eq!(Filter::Gradient.data_len(5, 2, t), 30);
        assert_eq!(Filter::Palette(vec![[0; 4]; 2]).data_len(9, 3, t), 6);
        assert_eq!(Filter::Palette(vec![[0; 4]; 3]).data_len(9, 3, t), 27);
    }
}
