//! The picture handed to the encoder: the screen placed top-left on a black
//! canvas of the video's one size, in the framebuffer's B, G, R, X layout.
//!
//! Canvases are shared with the encoder thread through `Arc`s from a small
//! pool, so a frame is copied once on this side and memory stays at a few
//! canvases whatever the recording's length. The last canvas is kept to tell
//! whether a new frame differs from it: minimega's recorder resends the whole
//! screen ten times a second, so most of its updates change nothing.
//!
//! Which rows each draw changed is remembered for the last few draws, so a
//! pooled canvas coming back from the encoder gets only the rows that
//! changed since it was drawn, not a copy of the whole screen.

use crate::framebuffer::{Framebuffer, BYTES_PER_PIXEL};
use std::collections::VecDeque;
use std::sync::Arc;

/// Draws whose changed rows are remembered: more than the canvases the
/// encoder holds at once, so a canvas back from it is nearly always
/// brought up to date row by row.
const REMEMBERED_DRAWS: usize = 16;

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
    /// The pooled canvases and the draw (counted from 1) each holds.
    pool: Vec<(Arc<Vec<u8>>, u64)>,
    /// The last canvas drawn and the size of the screen drawn on it.
    last: Option<(Arc<Vec<u8>>, u32, u32)>,
    /// Draws so far.
    draws: u64,
    /// The latest draws, oldest first: each one's number and the canvas
    /// rows that differ from the draw before (None: unknown, all of them).
    changes: VecDeque<(u64, Option<Vec<bool>>)>,
}

impl Canvas {
    pub fn new(geometry: Geometry) -> Canvas {
        Canvas {
            geometry,
            pool: Vec::new(),
            last: None,
            draws: 0,
            changes: VecDeque::new(),
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
        let free = self
            .pool
            .iter()
            .position(|(a, _)| Arc::strong_count(a) == 1);
        let index = match free {
            Some(i) => i,
            None => {
                // Draw 0 is none: a new canvas is drawn in full.
                self.pool.push((Arc::new(vec![0; len]), 0));
                self.pool.len() - 1
            }
        };
        let (mut buf, held) = std::mem::take(&mut self.pool[index]);
        let last = self
            .last
            .as_ref()
            .map(|(a, _, _)| a.as_slice())
            .filter(|_| track);
        let stale = last.and_then(|_| self.changed_since(held));
        let rows = if let Some(pixels) = Arc::get_mut(&mut buf) {
            fill_tracked(pixels, g, fb, last, stale.as_deref())
        } else {
            // Not reachable while the pool is the only one cloning; stay
            // correct anyway with a fresh canvas.
            let mut pixels = vec![0; len];
            let rows = fill_tracked(&mut pixels, g, fb, last, None);
            buf = Arc::new(pixels);
            rows
        };
        self.draws += 1;
        self.changes.push_back((self.draws, rows.clone()));
        if self.changes.len() > REMEMBERED_DRAWS {
            self.changes.pop_front();
        }
        self.pool[index] = (Arc::clone(&buf), self.draws);
        self.last = Some((Arc::clone(&buf), fb.width(), fb.height()));
        (buf, rows)
    }

    /// The canvas rows that changed after draw `held` up to the last draw,
    /// when every draw since is remembered with its rows.
    fn changed_since(&self, held: u64) -> Option<Vec<bool>> {
        if held == 0 {
            return None;
        }
        let mut rows = vec![false; self.geometry.src_height as usize];
        let mut next = held + 1;
        for (draw, changed) in &self.changes {
            if *draw < next {
                continue;
            }
            let changed = changed
                .as_ref()
                .filter(|c| *draw == next && c.len() == rows.len())?;
            for (r, &c) in rows.iter_mut().zip(changed) {
                *r |= c;
            }
            next += 1;
        }
        (next == self.draws + 1).then_some(rows)
    }

    /// Canvases allocated so far (for tests of bounded memory).
    pub fn pool_len(&self) -> usize {
        self.pool.len()
    }
}

/// Fills the canvas and, given the last one, marks the rows that differ
/// from it. A screen the size of the canvas is compared and copied a row
/// at a time, while the row is in cache; given `stale`, the rows where
/// this canvas differs from the last one, it copies only those and the
/// rows that differ from the last.
fn fill_tracked(
    pixels: &mut Vec<u8>,
    g: Geometry,
    fb: &Framebuffer,
    last: Option<&[u8]>,
    stale: Option<&[bool]>,
) -> Option<Vec<bool>> {
    let Some(last) = last.filter(|l| l.len() == g.src_len()) else {
        fill(pixels, g, fb);
        return None;
    };
    let stride = g.src_width as usize * BYTES_PER_PIXEL;
    if (fb.width(), fb.height()) == (g.src_width, g.src_height) {
        let stale =
            stale.filter(|s| pixels.len() == g.src_len() && s.len() * stride == g.src_len());
        pixels.resize(g.src_len(), 0);
        let rows = pixels
            .chunks_exact_mut(stride)
            .zip(fb.data().chunks_exact(stride))
            .zip(last.chunks_exact(stride))
            .enumerate()
            .map(|(y, ((dst, src), old))| {
                let changed = src != old;
                if changed || stale.is_none_or(|s| s[y]) {
                    dst.copy_from_slice(src);
                }
                changed
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
    fn canvases_back_from_the_encoder_get_every_row_changed_since() {
        // The encoder holds up to four canvases for a while; every canvas
        // drawn must show the screen exactly, and its rows must be those
        // that differ from the canvas before.
        let (w, h) = (6u32, 8u32);
        let mut c = Canvas::new(Geometry::new(w, h, 1.0));
        let mut fb = Framebuffer::new(w, h);
        let mut held: VecDeque<Arc<Vec<u8>>> = VecDeque::new();
        let mut before: Option<Vec<u8>> = None;
        let mut seed = 7u32;
        let mut next = |n: u32| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 16) % n
        };
        for _ in 0..500 {
            for _ in 0..next(3) {
                let v = next(4) as u8;
                fb.set(next(w), next(h), [v, v, v, 0]);
            }
            let (drawn, rows) = c.draw_tracked(&fb);
            assert_eq!(drawn.as_slice(), fb.data());
            let stride = (w * 4) as usize;
            let want = before.as_ref().map(|b| {
                b.chunks(stride)
                    .zip(fb.data().chunks(stride))
                    .map(|(x, y)| x != y)
                    .collect::<Vec<_>>()
            });
            assert_eq!(rows, want);
            before = Some(fb.data().to_vec());
            held.push_back(drawn);
            while held.len() > next(5) as usize {
                held.pop_front();
            }
        }
        assert!(c.pool_len() <= 7, "pool grew to {}", c.pool_len());
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
