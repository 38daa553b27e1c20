//! RRE encoding (RFC 6143 7.7.3): a background pixel fills the rectangle,
//! then a list of solid subrectangles is drawn over it. The list can be long
//! and each entry stands alone, so entries are drawn in batches as their
//! bytes arrive and nothing is buffered or reserved for the whole list.

use super::{RectCx, RectError, Step, Within};
use crate::limits::{LimitError, Measure};
use crate::wire::Rect;

#[derive(Debug, Default)]
pub struct Rre {
    /// Once the header is read: the subrectangle count and how many are drawn.
    progress: Option<(u32, u32)>,
}

impl Rre {
    pub fn step(&mut self, input: &[u8], cx: &mut RectCx<'_>) -> Result<Step, RectError> {
        let bpp = cx.ctx.bpp();
        let rect = cx.rect;
        let pf = cx.ctx.pixel_format;
        let header = 4 + bpp;
        let Some((count, done)) = self.progress else {
            if input.len() < header {
                return Ok(Step::Need(header));
            }
            let count = u32::from_be_bytes([input[0], input[1], input[2], input[3]]);
            // Servers send Raw when RRE would be larger (each subrectangle
            // costs more than the pixel it covers), so a count above the
            // rectangle's area is not a real stream; refusing it here stops a
            // tiny file from holding the decoder in a 4-billion-entry loop.
            if u64::from(count) > rect.area() {
                return Err(LimitError::TooLong {
                    what: Measure::RreSubrects,
                    len: u64::from(count),
                    max: rect.area(),
                }
                .into());
            }
            let bg = pf.to_bgrx(&input[4..header], &cx.ctx.colour_map);
            cx.screen.drawn().fill(rect, bg);
            self.progress = Some((count, 0));
            return Ok(if count == 0 {
                Step::Done(header)
            } else {
                Step::Advance(header)
            });
        };
        let size = bpp + 8;
        if input.len() < size {
            return Ok(Step::Need(size));
        }
        let batch = (input.len() / size).min((count - done) as usize);
        for (i, entry) in input[..batch * size].chunks_exact(size).enumerate() {
            let (px, geo) = entry.split_at(bpp);
            let be = |i: usize| u16::from_be_bytes([geo[i], geo[i + 1]]);
            let sub = Rect::new(be(0), be(2), be(4), be(6));
            // RFC 6143 7.7.3: positions are relative to the rectangle, and a
            // subrectangle is part of it.
            if sub.right() > u32::from(rect.w) || sub.bottom() > u32::from(rect.h) {
                let index = u64::from(done) + i as u64;
                return Err(RectError::At {
                    within: Within::Data,
                    offset: header as u64 + index * size as u64,
                    error: Box::new(RectError::SubrectOutside { sub }),
                });
            }
            let on_screen = Rect::new(rect.x + sub.x, rect.y + sub.y, sub.w, sub.h);
            cx.paint(sub.area(), (i + 1) * size)?;
            let colour = pf.to_bgrx(px, &cx.ctx.colour_map);
            cx.screen.drawn().fill(on_screen, colour);
        }
        let done = done + batch as u32;
        self.progress = Some((count, done));
        let used = batch * size;
        Ok(if done == count {
            Step::Done(used)
        } else {
            Step::Advance(used)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{decode, mutations, pixel, solid, survive, update, RGB565_BE};
    use super::*;
    use crate::limits::LimitError;
    use crate::rfb::{Encoding, PixelFormat};

    fn rre(bg: [u8; 4], subs: &[([u8; 4], [u16; 4])]) -> Vec<u8> {
        let mut b = (subs.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(&bg);
        for (px, geo) in subs {
            b.extend_from_slice(px);
            for v in geo {
                b.extend_from_slice(&v.to_be_bytes());
            }
        }
        b
    }

    #[test]
    fn background_then_subrectangles_relative_to_the_rectangle() {
        let data = rre(
            [1, 1, 1, 0],
            &[([9, 0, 0, 0], [0, 0, 2, 1]), ([0, 9, 0, 0], [3, 2, 1, 2])],
        );
        let rect = Rect::new(2, 1, 4, 4);
        let fb = decode(PixelFormat::BGRX, 8, 6, &[(rect, Encoding::RRE, data)]).unwrap();
        let mut want = solid(8, 6, [0, 0, 0, 0]);
        want.fill(rect, [1, 1, 1, 0]);
        want.fill(Rect::new(2, 1, 2, 1), [9, 0, 0, 0]);
        want.fill(Rect::new(5, 3, 1, 2), [0, 9, 0, 0]);
        assert_eq!(fb, want);
    }

    #[test]
    fn no_subrectangles_is_a_fill() {
        let rect = Rect::new(0, 0, 3, 2);
        let fb = decode(
            PixelFormat::BGRX,
            3,
            2,
            &[(rect, Encoding::RRE, rre([4, 5, 6, 7], &[]))],
        )
        .unwrap();
        assert_eq!(fb, solid(3, 2, [4, 5, 6, 0]));
    }

    #[test]
    fn sixteen_bit_big_endian_pixels_convert() {
        let white = 0xffffu16.to_be_bytes();
        let red = (31u16 << 11).to_be_bytes();
        let mut data = 1u32.to_be_bytes().to_vec();
        data.extend_from_slice(&white);
        data.extend_from_slice(&red);
        data.extend_from_slice(&[0, 1, 0, 0, 0, 1, 0, 1]);
        let rect = Rect::new(0, 0, 2, 2);
        let fb = decode(RGB565_BE, 2, 2, &[(rect, Encoding::RRE, data)]).unwrap();
        let mut want = solid(2, 2, [255, 255, 255, 0]);
        want.set(1, 0, [0, 0, 255, 0]);
        assert_eq!(fb, want);
    }

    #[test]
    fn subrectangle_past_the_rectangle_is_refused() {
        let data = rre(pixel(1), &[(pixel(2), [3, 0, 2, 1])]);
        let err = decode(
            PixelFormat::BGRX,
            8,
            8,
            &[(Rect::new(0, 0, 4, 4), Encoding::RRE, data)],
        )
        .unwrap_err();
        assert_eq!(
            err.root(),
            &RectError::SubrectOutside {
                sub: Rect::new(3, 0, 2, 1)
            }
        );
    }

    #[test]
    fn pixel_formats_rfc_6143_forbids_are_refused_not_panicked_on() {
        let pf = PixelFormat {
            bits_per_pixel: 24,
            ..PixelFormat::BGRX
        };
        for enc in [Encoding::RRE, Encoding::HEXTILE, Encoding::ZRLE] {
            let err = decode(pf, 4, 4, &[(Rect::new(0, 0, 2, 2), enc, vec![0; 16])]).unwrap_err();
            assert!(matches!(err, RectError::PixelFormat(_)), "{enc}: {err}");
        }
    }

    #[test]
    fn count_above_the_area_is_refused_before_reading_entries() {
        let mut data = u32::MAX.to_be_bytes().to_vec();
        data.extend_from_slice(&pixel(0));
        let err = decode(
            PixelFormat::BGRX,
            4,
            4,
            &[(Rect::new(0, 0, 2, 2), Encoding::RRE, data)],
        )
        .unwrap_err();
        assert!(matches!(
            err.root(),
            RectError::Limit(LimitError::TooLong { len, max: 4, .. }) if *len == u64::from(u32::MAX)
        ));
    }

    #[test]
    fn damaged_streams_never_panic() {
        let data = rre(
            pixel(1),
            &[
                (pixel(2), [0, 0, 2, 1]),
                (pixel(3), [3, 2, 1, 2]),
                (pixel(4), [1, 1, 3, 3]),
            ],
        );
        let stream = update(&[(Rect::new(2, 1, 4, 4), Encoding::RRE, data)]);
        for pf in [PixelFormat::BGRX, RGB565_BE] {
            mutations(&stream, 3000, |s| survive(pf, 8, 6, s));
        }
    }
}
