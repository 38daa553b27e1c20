//! Zlib encoding (rfbproto "Zlib encoding"): a 4-byte length, then zlib data
//! that inflates to the rectangle's Raw pixels. One zlib stream serves every
//! Zlib rectangle of the connection.

use super::resumable::Inflater;
use super::{Malformation, RectCx, RectError, Step};

/// The connection-long inflater, created on first use.
#[derive(Default)]
pub struct Stream(Option<Inflater>);

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(d) => write!(
                f,
                "zlib stream ({} bytes in, {} out)",
                d.total_in(),
                d.total_out()
            ),
            None => f.write_str("zlib stream (unused)"),
        }
    }
}

impl Stream {
    pub fn get(&mut self) -> &mut Inflater {
        self.0.get_or_insert_with(Inflater::new)
    }

    /// What the seek index saves: `Ok(None)` for an unused stream, the
    /// window for one at a sync flush, `Err(())` for one that cannot be
    /// saved here.
    #[allow(clippy::result_unit_err)]
    pub fn saved(&self) -> Result<Option<Vec<u8>>, ()> {
        match &self.0 {
            None => Ok(None),
            Some(i) => i.window().map(Some).ok_or(()),
        }
    }

    /// Brings back a stream [`Stream::saved`] described.
    pub fn restore(saved: Option<&[u8]>) -> Result<Stream, flate2::DecompressError> {
        Ok(Stream(saved.map(Inflater::resume).transpose()?))
    }
}

/// Output is inflated in pieces of this size at most, straight into the
/// screen, so a full-screen rectangle needs no screen-sized buffer.
const PIECE: usize = 64 << 10;

/// A Zlib rectangle in progress: its data is inflated as it arrives, so
/// the parser never holds the whole of it either.
#[derive(Debug, Default)]
pub struct Zlib {
    /// Compressed bytes still to come, once the length is read.
    left: Option<usize>,
    /// Bytes of the rectangle's pixels inflated so far.
    made: usize,
    /// The bytes of a pixel split between two pieces (non-native formats).
    carry: Vec<u8>,
}

impl Zlib {
    pub fn step(&mut self, input: &[u8], cx: &mut RectCx<'_>) -> Result<Step, RectError> {
        let total = cx.rect.area() as usize * cx.ctx.bpp();
        let Some(left) = self.left else {
            if input.len() < 4 {
                return Ok(Step::Need(4));
            }
            let len = u32::from_be_bytes([input[0], input[1], input[2], input[3]]) as usize;
            cx.ctx.limits.check_compressed(len, total)?;
            self.left = Some(len);
            return Ok(if len == 0 && total == 0 {
                Step::Done(4)
            } else {
                Step::Advance(4)
            });
        };
        if left > 0 && input.is_empty() {
            return Ok(Step::Need(1));
        }
        let mut data = &input[..left.min(input.len())];
        let used = data.len();
        let mut buf = std::mem::take(&mut cx.ctx.scratch);
        let result = (|| loop {
            let want = (total - self.made).min(PIECE);
            // Room for a little more than the rectangle needs, so that data
            // holding more shows; grown once and never zeroed again, since
            // pieces may be a byte long.
            let room = want.max(64);
            if buf.len() < room {
                buf.resize(room, 0);
            }
            let stream = cx.ctx.zlib.get();
            let (before_in, before_out) = (stream.total_in(), stream.total_out());
            stream
                .decompress(data, &mut buf[..room], flate2::FlushDecompress::Sync)
                .map_err(|e| RectError::Zlib(super::ZlibError(e)))?;
            let took = (stream.total_in() - before_in) as usize;
            let made = (stream.total_out() - before_out) as usize;
            data = &data[took..];
            if made > want {
                return Err(RectError::Malformed(Malformation::ZlibTooLong));
            }
            self.write(&buf[..made], cx);
            if took == 0 && made == 0 {
                return Ok(());
            }
        })();
        cx.ctx.put_scratch(buf);
        result?;
        let left = left - used;
        self.left = Some(left);
        if left > 0 {
            return Ok(Step::Advance(used));
        }
        if self.made < total {
            return Err(RectError::ZlibShort {
                got: self.made,
                want: total,
            });
        }
        Ok(Step::Done(used))
    }

    /// Writes the next inflated bytes of the rectangle's pixels.
    fn write(&mut self, bytes: &[u8], cx: &mut RectCx<'_>) {
        if bytes.is_empty() {
            return;
        }
        let rect = cx.rect;
        if cx.ctx.pixel_format.is_native() {
            cx.screen.drawn().write_rect_bytes(rect, self.made, bytes);
            self.made += bytes.len();
            return;
        }
        let bpp = cx.ctx.bpp();
        let first = self.made / bpp;
        self.made += bytes.len();
        let mut bytes = bytes;
        let mut pixel = first;
        if !self.carry.is_empty() {
            let n = (bpp - self.carry.len()).min(bytes.len());
            self.carry.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.carry.len() < bpp {
                return;
            }
            let carry = std::mem::take(&mut self.carry);
            super::raw::write_pixels_from(cx, rect, pixel, &carry);
            pixel += 1;
        }
        let whole = bytes.len() / bpp * bpp;
        super::raw::write_pixels_from(cx, rect, pixel, &bytes[..whole]);
        self.carry.extend_from_slice(&bytes[whole..]);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{decode, mutations, survive, update, zlib_payload, RGB565_BE};
    use super::*;
    use crate::framebuffer::Framebuffer;
    use crate::rfb::{Encoding, Parser, PixelFormat, Rect};

    /// Pixels that do not compress, so the zlib data is as long as they are.
    fn noise(n: usize) -> Vec<u8> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    #[test]
    fn pixels_split_across_pieces_land_in_place_in_any_format() {
        let rect = Rect::new(1, 2, 5, 3);
        for pf in [PixelFormat::BGRX, RGB565_BE] {
            let mut px = noise(rect.area() as usize * pf.bytes_per_pixel());
            if pf.is_native() {
                // The framebuffer keeps native pixels' fourth byte as sent.
                px.iter_mut().skip(3).step_by(4).for_each(|x| *x = 0);
            }
            let mut z = flate2::Compress::new(flate2::Compression::fast(), true);
            // Two rectangles on one stream; `decode` also feeds byte by byte.
            let data = zlib_payload(&mut z, &px);
            let again = zlib_payload(&mut z, &px);
            let fb = decode(
                pf,
                8,
                8,
                &[(rect, Encoding::ZLIB, data), (rect, Encoding::ZLIB, again)],
            )
            .unwrap();
            let mut want = Framebuffer::new(8, 8);
            for (i, p) in px.chunks_exact(pf.bytes_per_pixel()).enumerate() {
                let (x, y) = (1 + i as u32 % 5, 2 + i as u32 / 5);
                let map = Default::default();
                want.set(x, y, pf.to_bgrx(p, &map));
            }
            assert_eq!(fb, want, "{pf:?}");
        }
    }

    #[test]
    fn a_full_screen_rectangle_is_inflated_without_a_screen_sized_buffer() {
        let rect = Rect::new(0, 0, 1024, 1024);
        // Half noise: about 2 MiB of zlib data for 4 MiB of pixels.
        let mut px = noise(rect.area() as usize * 4);
        px.iter_mut().skip(2).step_by(4).for_each(|x| *x = 0);
        px.iter_mut().skip(3).step_by(4).for_each(|x| *x = 0);
        let mut z = flate2::Compress::new(flate2::Compression::default(), true);
        let stream = update(&[(rect, Encoding::ZLIB, zlib_payload(&mut z, &px))]);
        let mut p = Parser::new(PixelFormat::BGRX, Default::default(), true);
        p.set_screen_size(1024, 1024).unwrap();
        let mut most = 0;
        for piece in stream.chunks(64 << 10) {
            p.feed(piece, crate::Time::ZERO, &mut |_, _| {}).unwrap();
            most = most.max(p.buffered());
        }
        assert_eq!(p.updates(), 1);
        assert_eq!(p.screen().shown().row(0, 0, 1024), &px[..4096]);
        assert!(most < 512 << 10, "held {most} bytes");
    }

    #[test]
    fn short_and_overlong_data_are_refused() {
        let rect = Rect::new(0, 0, 4, 4);
        let mut z = flate2::Compress::new(flate2::Compression::fast(), true);
        let short = zlib_payload(&mut z, &[7; 40]);
        let err = decode(PixelFormat::BGRX, 4, 4, &[(rect, Encoding::ZLIB, short)]);
        assert_eq!(err, Err(RectError::ZlibShort { got: 40, want: 64 }));
        let mut z = flate2::Compress::new(flate2::Compression::fast(), true);
        let long = zlib_payload(&mut z, &[7; 80]);
        let err = decode(PixelFormat::BGRX, 4, 4, &[(rect, Encoding::ZLIB, long)]).unwrap_err();
        assert!(matches!(err, RectError::Malformed(_)), "{err}");
    }

    #[test]
    fn damaged_data_never_panics() {
        let rect = Rect::new(1, 1, 6, 3);
        let mut z = flate2::Compress::new(flate2::Compression::fast(), true);
        let stream = update(&[(rect, Encoding::ZLIB, zlib_payload(&mut z, &noise(72)))]);
        for pf in [PixelFormat::BGRX, RGB565_BE] {
            mutations(&stream, 2000, |s| survive(pf, 8, 6, s));
        }
    }
}
