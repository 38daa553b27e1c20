//! A Tight encoder for tests (rfbproto "Tight Encoding"), written from the
//! specification independently of the decoder: it builds compression-control
//! bytes, filters pictures (copy, palette, gradient), compresses on four
//! zlib streams with a sync flush per rectangle as servers do, and wraps
//! rectangles in FramebufferUpdate messages. Tests and the testdata
//! generator use it to make streams whose intended picture is known.

#![allow(dead_code)]

pub mod check;

use flate2::write::ZlibEncoder;
use flate2::Compression;
use std::io::Write;

/// An RGB picture, row after row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    pub w: usize,
    pub h: usize,
    pub rgb: Vec<u8>,
}

impl Picture {
    pub fn new(w: usize, h: usize, f: impl Fn(usize, usize) -> [u8; 3]) -> Picture {
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                rgb.extend_from_slice(&f(x, y));
            }
        }
        Picture { w, h, rgb }
    }

    pub fn at(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.w + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// The distinct colours, in order of first appearance.
    pub fn colours(&self) -> Vec<[u8; 3]> {
        let mut out: Vec<[u8; 3]> = Vec::new();
        for c in self.rgb.chunks_exact(3) {
            let c = [c[0], c[1], c[2]];
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }
}

/// Which filter a BasicCompression rectangle uses, and how it says so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// No filter-id byte: the copy filter by default.
    Implicit,
    Copy,
    Palette,
    Gradient,
}

/// rfbproto compact length: 7 bits per byte, low first; 8 in the third.
pub fn compact_len(n: usize) -> Vec<u8> {
    assert!(n < 1 << 22);
    if n < 128 {
        vec![n as u8]
    } else if n < 16384 {
        vec![(n & 0x7f) as u8 | 0x80, (n >> 7) as u8]
    } else {
        vec![
            (n & 0x7f) as u8 | 0x80,
            ((n >> 7) & 0x7f) as u8 | 0x80,
            (n >> 14) as u8,
        ]
    }
}

/// The gradient filter on components (rfbproto "GradientFilter"): each value
/// becomes its difference from the clamped prediction, modulo max + 1.
/// `values` holds `channels` components per pixel.
pub fn gradient(values: &[u32], w: usize, h: usize, channels: usize, max: &[u32]) -> Vec<u32> {
    let at = |x: isize, y: isize, c: usize| -> i64 {
        if x < 0 || y < 0 {
            0
        } else {
            i64::from(values[(y as usize * w + x as usize) * channels + c])
        }
    };
    let mut out = Vec::with_capacity(values.len());
    for y in 0..h as isize {
        for x in 0..w as isize {
            for (c, &m) in max.iter().enumerate().take(channels) {
                let p =
                    (at(x - 1, y, c) + at(x, y - 1, c) - at(x - 1, y - 1, c)).clamp(0, m.into());
                let d = (at(x, y, c) - p).rem_euclid(i64::from(m) + 1);
                out.push(d as u32);
            }
        }
    }
    out
}

/// Compresses rectangles on the four streams of a connection.
pub struct Encoder {
    streams: [ZlibEncoder<Vec<u8>>; 4],
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder {
            streams: std::array::from_fn(|_| ZlibEncoder::new(Vec::new(), Compression::new(6))),
        }
    }
}

impl Encoder {
    /// Starts stream `id` afresh; the next rectangle must set its reset bit.
    pub fn reset(&mut self, id: usize) {
        self.streams[id] = ZlibEncoder::new(Vec::new(), Compression::new(6));
    }

    /// Deflates `data` on stream `id`, ending with a sync flush.
    pub fn deflate(&mut self, id: usize, data: &[u8]) -> Vec<u8> {
        let z = &mut self.streams[id];
        z.write_all(data).unwrap();
        z.flush().unwrap();
        std::mem::take(z.get_mut())
    }

    /// Data after the BasicCompression header: raw when under 12 bytes,
    /// else compact length and zlib data.
    pub fn body(&mut self, stream: usize, filtered: &[u8]) -> Vec<u8> {
        if filtered.len() < 12 {
            return filtered.to_vec();
        }
        let z = self.deflate(stream, filtered);
        let mut out = compact_len(z.len());
        out.extend_from_slice(&z);
        out
    }

    /// A BasicCompression rectangle of `pic` for the 32 bpp depth 24 format
    /// (3-byte TPIXELs R, G, B). `reset` is the low nibble of the control.
    pub fn basic(&mut self, pic: &Picture, stream: usize, filter: Filter, reset: u8) -> Vec<u8> {
        let mut control = reset | (stream as u8) << 4;
        if filter != Filter::Implicit {
            control |= 0x40;
        }
        let mut out = vec![control];
        let filtered = match filter {
            Filter::Implicit | Filter::Copy => {
                if filter == Filter::Copy {
                    out.push(0);
                }
                pic.rgb.clone()
            }
            Filter::Palette => {
                let colours = pic.colours();
                assert!(
                    (2..=256).contains(&colours.len()),
                    "{} colours",
                    colours.len()
                );
                out.push(1);
                out.push((colours.len() - 1) as u8);
                for c in &colours {
                    out.extend_from_slice(c);
                }
                let index = |x, y| colours.iter().position(|c| *c == pic.at(x, y)).unwrap() as u8;
                palette_indices(pic.w, pic.h, colours.len(), index)
            }
            Filter::Gradient => {
                out.push(2);
                let values: Vec<u32> = pic.rgb.iter().map(|&b| u32::from(b)).collect();
                gradient(&values, pic.w, pic.h, 3, &[255, 255, 255])
                    .into_iter()
                    .map(|d| d as u8)
                    .collect()
            }
        };
        out.extend(self.body(stream, &filtered));
        out
    }

    /// A JpegCompression rectangle of `pic`.
    pub fn jpeg(pic: &Picture, quality: u8, reset: u8) -> Vec<u8> {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, quality)
            .encode(
                &pic.rgb,
                pic.w as u32,
                pic.h as u32,
                image::ExtendedColorType::Rgb8,
            )
            .unwrap();
        let mut out = vec![0x90 | reset];
        out.extend(compact_len(jpeg.len()));
        out.extend(jpeg);
        out
    }
}

/// Palette indices as rfbproto packs them: 1 bit per pixel, most significant
/// first, rows padded to a byte, for 2 colours; 1 byte per pixel otherwise.
pub fn palette_indices(
    w: usize,
    h: usize,
    colours: usize,
    index: impl Fn(usize, usize) -> u8,
) -> Vec<u8> {
    let mut out = Vec::new();
    for y in 0..h {
        if colours == 2 {
            let mut row = vec![0u8; w.div_ceil(8)];
            for x in 0..w {
                row[x / 8] |= index(x, y) << (7 - x % 8);
            }
            out.extend(row);
        } else {
            out.extend((0..w).map(|x| index(x, y)));
        }
    }
    out
}

/// A fill rectangle in the 3-byte TPIXEL form.
pub fn fill(rgb: [u8; 3], reset: u8) -> Vec<u8> {
    vec![0x80 | reset, rgb[0], rgb[1], rgb[2]]
}

/// One rectangle of an update: position, size, encoding and payload.
pub struct Rect {
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
    pub encoding: i32,
    pub payload: Vec<u8>,
}

pub fn tight(x: u16, y: u16, w: u16, h: u16, payload: Vec<u8>) -> Rect {
    Rect {
        x,
        y,
        w,
        h,
        encoding: 7,
        payload,
    }
}

/// A FramebufferUpdate message holding `rects`.
pub fn update(rects: &[Rect]) -> Vec<u8> {
    let mut out = vec![0, 0];
    out.extend_from_slice(&(rects.len() as u16).to_be_bytes());
    for r in rects {
        for v in [r.x, r.y, r.w, r.h] {
            out.extend_from_slice(&v.to_be_bytes());
        }
        out.extend_from_slice(&r.encoding.to_be_bytes());
        out.extend_from_slice(&r.payload);
    }
    out
}

/// Some test pictures with known properties.
pub mod pictures {
    use super::Picture;

    /// Many colours: a smooth diagonal ramp with a hard edge, so the copy
    /// and gradient filters both see varied data, and clamping happens.
    pub fn ramp(w: usize, h: usize) -> Picture {
        Picture::new(w, h, |x, y| {
            let edge = if x > w / 2 { 200 } else { 0 };
            [
                ((x * 255) / w.max(1)) as u8,
                ((y * 255) / h.max(1)) as u8,
                (((x + y) * 7 + edge) % 256) as u8,
            ]
        })
    }

    /// Two colours in a checker with an odd width (row padding).
    pub fn two_colours(w: usize, h: usize) -> Picture {
        Picture::new(w, h, |x, y| {
            if (x / 3 + y) % 2 == 0 {
                [250, 240, 10]
            } else {
                [5, 20, 200]
            }
        })
    }

    /// `n` colours in stripes.
    pub fn stripes(w: usize, h: usize, n: usize) -> Picture {
        Picture::new(w, h, |x, y| {
            let i = (x + y * w) % n;
            [(i * 37 % 256) as u8, (i * 91 % 256) as u8, (255 - i) as u8]
        })
    }

    /// Smooth colour, for JPEG (which blurs sharp edges).
    pub fn smooth(w: usize, h: usize) -> Picture {
        Picture::new(w, h, |x, y| {
            [
                (64 + x * 128 / w.max(1)) as u8,
                (64 + y * 128 / h.max(1)) as u8,
                128,
            ]
        })
    }
}
