//! The picture handed to the encoder: the screen placed top-left on a black
//! canvas of the video's one size, in the framebuffer's B, G, R, X layout.
//!
//! Canvases are shared with the encoder thread through `Arc`s from a small
//! pool, so a frame is copied once on this side and memory stays at a few
//! canvases whatever the recording's length. The last canvas is kept to tell
//! whether a new frame differs from it: minimega's recorder resends the whole
//! screen ten times a second, so most of its updates change nothing.

use crate::framebuffer::{Framebuffer, BYTES_PER_PIXEL};
use std::sync::Arc;

/// Sizes of a video: the canvas in recording pixels, the padded source
/// picture given to swscale, and the encoded picture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// The area of the recording shown; screens beyond it are cropped.
    pub width: u32,
    pub height: u32,
    /// The BGRX picture: the canvas, padded to even sizes when unscaled.
    pub src_width: u32,
    pub src_height: u32,
    /// The encoded picture; always even, as yuv420p needs.
    pub out_width: u32,
    pub out_height: u32,
}

fn even_up(v: u32) -> u32 {
    v.saturating_add(v & 1).max(2)
}

impl Geometry {
    /// Odd sizes are padded with one black column or row rather than
    /// stretched, so an unscaled video keeps pixels sharp.
    pub fn new(width: u32, height: u32, scale: f64) -> Geometry {
        if scale == 1.0 {
            let (w, h) = (even_up(width), even_up(height));
            return Geometry {
                width,
                height,
                src_width: w,
                src_height: h,
                out_width: w,
                out_height: h,
            };
        }
        let scaled = |v: u32| even_up((f64::from(v) * scale).round().clamp(2.0, 16384.0) as u32);
        Geometry {
            width,
            height,
            src_width: width,
            src_height: height,
            out_width: scaled(width),
            out_height: scaled(height),
        }
    }

    fn src_len(&self) -> usize {
        self.src_width as usize * self.src_height as usize * BYTES_PER_PIXEL
    }
}

/// Draws frames onto pooled canvases and remembers the last one.
pub struct Canvas {
    geometry: Geometry,
    pool: Vec<Arc<Vec<u8>>>,
    /// The last canvas drawn and the size of the screen drawn on it.
    last: Option<(Arc<Vec<u8>>, u32, u32)>,
}

impl Canvas {
    pub fn new(geometry: Geometry) -> Canvas {
        Canvas {
            geometry,
            pool: Vec::new(),
            last: None,
        }
    }

    pub fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// The last canvas drawn.
    pub fn last(&self) -> Option<Arc<Vec<u8>>> {
        self.last.as_ref().map(|(a, _, _)| Arc::clone(a))
    }

    /// Whether the last canvas shows exactly `fb`.
    pub fn shows(&self, fb: &Framebuffer) -> bool {
        let Some((last, w, h)) = &self.last else {
            return false;
        };
        if (*w, *h) != (fb.width(), fb.height()) {
            return false;
        }
        let g = self.geometry;
        if (fb.width(), fb.height()) == (g.src_width, g.src_height) {
            return last.as_slice() == fb.data();
        }
        let (cols, rows) = (fb.width().min(g.src_width), fb.height().min(g.src_height));
        let row_len = cols as usize * BYTES_PER_PIXEL;
        let stride = g.src_width as usize * BYTES_PER_PIXEL;
        (0..rows).all(|y| {
            let start = y as usize * stride;
            last.get(start..start + row_len) == Some(fb.row(0, y, cols))
        })
    }

    /// Draws `fb` top-left on a free canvas, black elsewhere, and returns it.
    pub fn draw(&mut self, fb: &Framebuffer) -> Arc<Vec<u8>> {
        self.draw_rows(fb, false).0
    }

    /// [`Canvas::draw`], also telling which canvas rows differ from the
    /// last canvas drawn (`None`: all of them, as for the first).
    pub fn draw_tracked(&mut self, fb: &Framebuffer) -> (Arc<Vec<u8>>, Option<Vec<bool>>) {
        self.draw_rows(fb, true)
    }

    fn draw_rows(&mut self, fb: &Framebuffer, track: bool) -> (Arc<Vec<u8>>, Option<Vec<bool>>) {
        let g = self.geometry;
        let len = g.src_len();
        // A canvas only the pool holds is free: the encoder has dropped it.
        let free = self.pool.iter().position(|a| Arc::strong_count(a) == 1);
        let index = match free {
            Some(i) => i,
            None => {
                self.pool.push(Arc::new(vec![0; len]));
                self.pool.len() - 1
            }
        };
        let mut buf = std::mem::take(&mut self.pool[index]);
        let last = self
            .last
            .as_ref()
            .map(|(a, _, _)| a.as_slice())
            .filter(|_| track);
        let rows = if let Some(pixels) = Arc::get_mut(&mut buf) {
            fill_tracked(pixels, g, fb, last)
        } else {
            // Not reachable while the pool is the only one cloning; stay
            // correct anyway with a fresh canvas.
            let mut pixels = vec![0; len];
            let rows = fill_tracked(&mut pixels, g, fb, last);
            buf = Arc::new(pixels);
            rows
        };
        self.pool[index] = Arc::clone(&buf);
        self.last = Some((Arc::clone(&buf), fb.width(), fb.height()));
        (buf, rows)
    }

    /// Canvases allocated so far (for tests of bounded memory).
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }
}

/// Fills the canvas and, given the last one, marks the rows that differ
/// from it. A screen the size of the canvas is compared and copied a row
/// at a time, while the row is in cache.
fn fill_tracked(
    pixels: &mut Vec<u8>,
    g: Geometry,
    fb: &Framebuffer,
    last: Option<&[u8]>,
) -> Option<Vec<bool>> {
    let Some(last) = last.filter(|l| l.len() == g.src_len()) else {
        fill(pixels, g, fb);
        return None;
    };
    let stride = g.src_width as usize * BYTES_PER_PIXEL;
    if (fb.width(), fb.height()) == (g.src_width, g.src_height) {
        pixels.resize(g.src_len(), 0);
        let rows = pixels
            .chunks_exact_mut(stride)
            .zip(fb.data().chunks_exact(stride))
            .zip(last.chunks_exact(stride))
            .map(|((dst, src), old)| {
                dst.copy_from_slice(src);
                src != old
            })
            .collect();
        return Some(rows);
    }
    fill(pixels, g, fb);
    Some(
        pixels
            .chunks_exact(stride)
            .zip(last.chunks_exact(stride))
            .map(|(new, old)| new != old)
            .collect(),
    )
}

fn fill(pixels: &mut Vec<u8>, g: Geometry, fb: &Framebuffer) {
    pixels.resize(g.src_len(), 0);
    if (fb.width(), fb.height()) == (g.src_width, g.src_height) {
        pixels.copy_from_slice(fb.data());
        return;
    }
    pixels.fill(0);
    let (cols, rows) = (fb.width().min(g.src_width), fb.height().min(g.src_height));
    let row_len = cols as usize * BYTES_PER_PIXEL;
    let stride = g.src_width as usize * BYTES_PER_PIXEL;
    for (y, dst) in pixels
        .chunks_exact_mut(stride)
        .take(rows as usize)
        .enumerate()
    {
        dst[..row_len].copy_from_slice(fb.row(0, y as u32, cols));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_sizes_are_padded_not_stretched() {
        let g = Geometry::new(969, 729, 1.0);
        assert_eq!((g.src_width, g.src_height), (970, 730));
        assert_eq!((g.out_width, g.out_height), (970, 730));
        let g = Geometry::new(1024, 768, 0.5);
        assert_eq!((g.src_width, g.out_width, g.out_height), (1024, 512, 384));
        let g = Geometry::new(3, 3, 0.1);
        assert_eq!((g.out_width, g.out_height), (2, 2));
    }

    #[test]
    fn small_screens_sit_top_left_on_black_and_compare() {
        let mut c = Canvas::new(Geometry::new(4, 2, 1.0));
        let mut fb = Framebuffer::new(3, 1);
        fb.set(2, 0, [1, 2, 3, 0]);
        assert!(!c.shows(&fb));
        let drawn = c.draw(&fb);
        assert_eq!(drawn.len(), 4 * 2 * 4);
        assert_eq!(&drawn[8..12], &[1, 2, 3, 0]);
        assert!(drawn[12..].iter().all(|&b| b == 0));
        assert!(c.shows(&fb));
        fb.set(0, 0, [9, 9, 9, 0]);
        assert!(!c.shows(&fb));
    }

    #[test]
    fn tracked_rows_are_the_rows_that_differ_from_the_last_canvas() {
        let mut c = Canvas::new(Geometry::new(4, 4, 1.0));
        let mut fb = Framebuffer::new(4, 4);
        let (_, rows) = c.draw_tracked(&fb);
        assert_eq!(rows, None, "the first canvas is all new");
        fb.set(3, 2, [1, 0, 0, 0]);
        let (drawn, rows) = c.draw_tracked(&fb);
        assert_eq!(rows.as_deref(), Some(&[false, false, true, false][..]));
        assert_eq!(&drawn[(2 * 4 + 3) * 4..][..4], &[1, 0, 0, 0]);
        let (_, rows) = c.draw_tracked(&fb);
        assert_eq!(rows.as_deref(), Some(&[false; 4][..]));
        // A smaller screen: the rows it no longer covers turn black.
        let mut small = Framebuffer::new(2, 2);
        small.set(0, 0, [5, 5, 5, 0]);
        let (drawn, rows) = c.draw_tracked(&small);
        assert_eq!(rows.as_deref(), Some(&[true, false, true, false][..]));
        assert!(drawn[(2 * 4) * 4..].iter().all(|&b| b == 0));
    }

    #[test]
    fn pool_reuses_canvases_the_encoder_dropped() {
        let mut c = Canvas::new(Geometry::new(2, 2, 1.0));
        let fb = Framebuffer::new(2, 2);
        for _ in 0..10 {
            let sent = c.draw(&fb);
            drop(sent);
        }
        // One kept as the last, one being drawn.
        assert!(c.pool_len() <= 2, "pool grew to {}", c.pool_len());
    }
}
