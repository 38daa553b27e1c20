//! Tight encoding (rfbproto "Tight Encoding"): a compression-control byte,
//! then a solid fill, a JPEG image, or BasicCompression (copy, palette or
//! gradient filter, then zlib on one of four connection-long streams, or
//! raw when the filtered data is under 12 bytes).
//!
//! The decoder is a small state machine that asks the parser for each
//! field in one piece: the control byte, the filter id, the palette, the
//! 1-3 byte compact length, then the whole data. Lengths are checked against
//! the rectangle's size before the parser buffers anything; the pixel work
//! lives in `tight_filters.rs`.

use super::tight_filters::{Filter, Tpixel};
use super::{
    inflate_exact, ImageError, JpegError, Malformation, RectCx, RectError, RectWarning, Step, Sub,
};
use crate::limits::{LimitError, Measure};

/// rfbproto "Tight Encoding": "the width of any Tight-encoded rectangle
/// cannot exceed 2048 pixels". Servers split wider areas, except solid
/// fills, which cost nothing per pixel, so the check is on the encodings
/// that carry pixels: BasicCompression (and JPEG, which servers tile too).
pub const MAX_WIDTH: u16 = 2048;

/// rfbproto "BasicCompression": filtered data shorter than this is sent
/// as is, without a length or zlib.
const MIN_TO_COMPRESS: usize = 12;

/// Deflate produces at most 1032 bytes per input byte (a 258-byte match in
/// 2 bits); zlib data claiming more is refused before the output buffer is
/// reserved.
const MAX_DEFLATE_RATIO: usize = 1032;

/// The four zlib streams of rfbproto "Tight Encoding", which live for the
/// whole connection. A stream is created on first use, so a reset is
/// "forget the stream": the next use starts a fresh `Decompress`.
#[derive(Default)]
pub struct Streams([Option<super::resumable::Inflater>; 4]);

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for s in &self.0 {
            match s {
                Some(d) => list.entry(&format_args!("{} in, {} out", d.total_in(), d.total_out())),
                None => list.entry(&format_args!("fresh")),
            };
        }
        list.finish()
    }
}

impl Streams {
    /// Resets the streams whose bits are set in the low four bits of
    /// `mask` (rfbproto [NOTE1]).
    pub fn reset(&mut self, mask: u8) {
        for (i, s) in self.0.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *s = None;
            }
        }
    }

    pub fn get(&mut self, id: u8) -> &mut super::resumable::Inflater {
        self.0[usize::from(id & 3)].get_or_insert_with(Default::default)
    }

    /// The four streams as the seek index saves them (see
    /// [`super::zlib::Stream::saved`]).
    #[allow(clippy::result_unit_err)]
    pub fn saved(&self) -> Result<[Option<Vec<u8>>; 4], ()> {
        let mut out: [Option<Vec<u8>>; 4] = Default::default();
        for (o, s) in out.iter_mut().zip(&self.0) {
            if let Some(i) = s {
                *o = Some(i.window().ok_or(())?);
            }
        }
        Ok(out)
    }

    /// Brings back streams [`Streams::saved`] described.
    pub fn restore(saved: [Option<&[u8]>; 4]) -> Result<Streams, flate2::DecompressError> {
        let mut s = Streams::default();
        for (slot, w) in s.0.iter_mut().zip(saved) {
            *slot = w.map(super::resumable::Inflater::resume).transpose()?;
        }
        Ok(s)
    }
}

/// What the data after the compact length is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Payload {
    Jpeg,
    Basic { stream: u8, filter: Filter },
}

/// Where a Tight rectangle is in its wire layout.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
enum State {
    #[default]
    Control,
    FilterId {
        stream: u8,
    },
    PaletteSize {
        stream: u8,
    },
    Palette {
        stream: u8,
        colours: usize,
    },
    Fill,
    Length(Payload),
    Data {
        payload: Payload,
        len: usize,
        compressed: bool,
    },
}

/// A Tight rectangle in progress.
#[derive(Debug, Default)]
pub struct Tight {
    state: State,
}

impl Tight {
    pub fn step(&mut self, input: &[u8], cx: &mut RectCx<'_>) -> Result<Step, RectError> {
        let tpixel = Tpixel::of(&cx.ctx.pixel_format);
        match std::mem::take(&mut self.state) {
            State::Control => {
                let Some(&control) = input.first() else {
                    return Ok(Step::Need(1));
                };
                // [NOTE1]: resets apply whatever the compression type.
                cx.ctx.tight.reset(control & 0x0f);
                self.state = match control >> 4 {
                    0x8 => {
                        cx.ctx.counters.add_sub(Sub::TightFill);
                        State::Fill
                    }
                    0x9 => {
                        // "JpegCompression may only be used when
                        // bits-per-pixel is either 16 or 32".
                        if !matches!(cx.ctx.pixel_format.bits_per_pixel, 16 | 32) {
                            return Err(RectError::Malformed(Malformation::TightJpegDepth));
                        }
                        check_width(cx)?;
                        cx.ctx.counters.add_sub(Sub::TightJpeg);
                        State::Length(Payload::Jpeg)
                    }
                    high @ 0..=7 => {
                        check_width(cx)?;
                        let stream = high & 3;
                        if high & 4 != 0 {
                            State::FilterId { stream }
                        } else {
                            basic(stream, Filter::Copy, cx, tpixel)
                        }
                    }
                    _ => return Err(RectError::BadSubencoding(control)),
                };
                Ok(Step::Advance(1))
            }
            State::FilterId { stream } => {
                let Some(&id) = input.first() else {
                    self.state = State::FilterId { stream };
                    return Ok(Step::Need(1));
                };
                self.state = match id {
                    0 => basic(stream, Filter::Copy, cx, tpixel),
                    1 => State::PaletteSize { stream },
                    2 => {
                        let pf = cx.ctx.pixel_format;
                        // "The GradientFilter may only be used when
                        // bits-per-pixel is either 16 or 32."
                        if !matches!(pf.bits_per_pixel, 16 | 32) || !pf.true_colour {
                            return Err(RectError::Malformed(Malformation::TightGradientFormat));
                        }
                        basic(stream, Filter::Gradient, cx, tpixel)
                    }
                    other => return Err(RectError::BadSubencoding(other)),
                };
                Ok(Step::Advance(1))
            }
            State::PaletteSize { stream } => {
                let Some(&n) = input.first() else {
                    self.state = State::PaletteSize { stream };
                    return Ok(Step::Need(1));
                };
                // "a palette which can consist of 2..256 colors"; the byte
                // is the count minus one.
                if n == 0 {
                    return Err(RectError::Malformed(Malformation::TightPaletteOfOne));
                }
                self.state = State::Palette {
                    stream,
                    colours: usize::from(n) + 1,
                };
                Ok(Step::Advance(1))
            }
            State::Palette { stream, colours } => {
                let len = colours * tpixel.size;
                if input.len() < len {
                    self.state = State::Palette { stream, colours };
                    return Ok(Step::Need(len));
                }
                let pf = cx.ctx.pixel_format;
                let palette = input[..len]
                    .chunks_exact(tpixel.size)
                    .map(|p| tpixel.to_bgrx(p, &pf, &cx.ctx.colour_map))
                    .collect();
                self.state = basic(stream, Filter::Palette(palette), cx, tpixel);
                Ok(Step::Advance(len))
            }
            State::Fill => {
                if input.len() < tpixel.size {
                    self.state = State::Fill;
                    return Ok(Step::Need(tpixel.size));
                }
                let pf = cx.ctx.pixel_format;
                let colour = tpixel.to_bgrx(input, &pf, &cx.ctx.colour_map);
                cx.screen.drawn().fill(cx.rect, colour);
                Ok(Step::Done(tpixel.size))
            }
            State::Length(payload) => {
                let Some((len, used)) = compact_len(input) else {
                    let need = input.len() + 1;
                    self.state = State::Length(payload);
                    return Ok(Step::Need(need));
                };
                let area = cx.rect.area() as usize;
                let raw_len = match &payload {
                    Payload::Basic { filter, .. } => {
                        let raw_len =
                            filter.data_len(usize::from(cx.rect.w), usize::from(cx.rect.h), tpixel);
                        if raw_len / MAX_DEFLATE_RATIO > len {
                            return Err(RectError::Malformed(Malformation::TightZlibTooShort));
                        }
                        raw_len
                    }
                    // A JPEG may outgrow the RGB pixels it codes (headers,
                    // noisy content at high quality): allow twice as much.
                    Payload::Jpeg => area * 6,
                };
                cx.ctx.limits.check_compressed(len, raw_len)?;
                self.state = State::Data {
                    payload,
                    len,
                    compressed: true,
                };
                Ok(Step::Advance(used))
            }
            State::Data {
                payload,
                len,
                compressed,
            } => {
                if input.len() < len {
                    self.state = State::Data {
                        payload,
                        len,
                        compressed,
                    };
                    return Ok(Step::Need(len));
                }
                let data = &input[..len];
                match payload {
                    Payload::Jpeg => jpeg(data, cx)?,
                    Payload::Basic { filter, .. } if !compressed => filter.apply(data, cx)?,
                    Payload::Basic { stream, filter } => {
                        let rect = cx.rect;
                        let raw_len =
                            filter.data_len(usize::from(rect.w), usize::from(rect.h), tpixel);
                        let mut out = std::mem::take(&mut cx.ctx.scratch);
                        out.clear();
                        out.resize(raw_len, 0);
                        let result = inflate_exact(cx.ctx.tight.get(stream), data, &mut out)
                            .and_then(|()| filter.apply(&out, cx));
                        cx.ctx.put_scratch(out);
                        result?;
                    }
                }
                Ok(Step::Done(len))
            }
        }
    }
}

/// Rectangles carrying pixels may be at most [`MAX_WIDTH`] wide.
fn check_width(cx: &RectCx<'_>) -> Result<(), RectError> {
    if cx.rect.w > MAX_WIDTH {
        return Err(LimitError::TooLong {
            what: Measure::TightWidth,
            len: u64::from(cx.rect.w),
            max: u64::from(MAX_WIDTH),
        }
        .into());
    }
    Ok(())
}

/// The state after a BasicCompression header: short data comes raw,
/// longer data after a compact length.
fn basic(stream: u8, filter: Filter, cx: &mut RectCx<'_>, tpixel: Tpixel) -> State {
    cx.ctx.counters.add_sub(filter.sub());
    let len = filter.data_len(usize::from(cx.rect.w), usize::from(cx.rect.h), tpixel);
    let payload = Payload::Basic { stream, filter };
    if len < MIN_TO_COMPRESS {
        State::Data {
            payload,
            len,
            compressed: false,
        }
    } else {
        State::Length(payload)
    }
}

/// Reads a compact length (rfbproto "JpegCompression"): 7 bits per byte,
/// low bits first, a set top bit meaning another byte follows; the third
/// byte gives 8 bits. Returns the value and the bytes used, or None when
/// `input` stops before the length does.
pub fn compact_len(input: &[u8]) -> Option<(usize, usize)> {
    let mut value = 0usize;
    for (i, &b) in input.iter().enumerate().take(3) {
        if i == 2 {
            return Some((value | usize::from(b) << 14, 3));
        }
        value |= usize::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Decodes a JPEG rectangle, whose image must be exactly the rectangle's
/// size, into the framebuffer.
fn jpeg(data: &[u8], cx: &mut RectCx<'_>) -> Result<(), RectError> {
    use image::ImageDecoder;
    let err = |e: image::ImageError| JpegError::Corrupt(ImageError(std::sync::Arc::new(e)));
    let decoder = image::codecs::jpeg::JpegDecoder::new(std::io::Cursor::new(data)).map_err(err)?;
    let rect = cx.rect;
    let (w, h) = decoder.dimensions();
    // Checked before the pixels are decoded, so a header claiming a huge
    // image reserves nothing.
    if (w, h) != (u32::from(rect.w), u32::from(rect.h)) {
        return Err(JpegError::Size {
            width: w,
            height: h,
            rect_w: rect.w,
            rect_h: rect.h,
        }
        .into());
    }
    let channels = usize::from(decoder.color_type().channel_count());
    if !matches!(channels, 1..=4) || decoder.color_type().bytes_per_pixel() as usize != channels {
        return Err(JpegError::Colour(decoder.color_type()).into());
    }
    let mut pixels = vec![0u8; rect.area() as usize * channels];
    decoder.read_image(&mut pixels).map_err(err)?;
    // The decoder fills what a cut JPEG lacks with grey and says nothing.
    if !data.ends_with(&[0xff, 0xd9]) {
        cx.ctx
            .warnings
            .push(RectWarning::JpegEnd { len: data.len() });
    }
    let fb = cx.screen.drawn();
    let w = usize::from(rect.w);
    for (y, src) in pixels.chunks_exact(w * channels).enumerate() {
        let dst = fb.row_mut(u32::from(rect.x), u32::from(rect.y) + y as u32, w as u32);
        for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(channels)) {
            // Grey images (1 or 2 channels) repeat their one intensity.
            let (r, g, b) = if channels >= 3 {
                (s[0], s[1], s[2])
            } else {
                (s[0], s[0], s[0])
            };
            d.copy_from_slice(&[b, g, r, 0]);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_lengths_decode_as_rfbproto_shows() {
        assert_eq!(compact_len(&[0x05]), Some((5, 1)));
        assert_eq!(compact_len(&[0x90, 0x4e]), Some((10000, 2)));
        assert_eq!(compact_len(&[0xff, 0xff, 0xff]), Some((4_194_303, 3)));
        assert_eq!(compact_len(&[0x80, 0x80, 0x01]), Some((16384, 3)));
        assert_eq!(compact_len(&[]), None);
        assert_eq!(compact_len(&[0x80]), None);
        assert_eq!(compact_len(&[0x80, 0x80]), None);
    }

    #[test]
    fn reset_forgets_only_the_named_streams() {
        let mut s = Streams::default();
        for id in 0..4 {
            s.get(id);
        }
        s.reset(0b0101);
        assert!(s.0[0].is_none() && s.0[2].is_none());
        assert!(s.0[1].is_some() && s.0[3].is_some());
    }
}
