//! The screen as the client sees it: a 32-bit B, G, R, X pixel buffer in the
//! layout recorders request, so Raw rows copy in with `copy_from_slice`.
//! Colour is converted once, when a frame is exported.
//!
//! What the parser draws into is a [`Screen`] ([`screen`]): framebuffers
//! plus the state between updates.

use crate::wire::Rect;

mod screen;
pub use screen::{Cursor, CursorGap, Damage, Screen};

pub const BYTES_PER_PIXEL: usize = 4;

/// What one piece of a Raw row changed ([`Framebuffer::write_rect_bytes_measured`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PieceChange {
    /// The row of the rectangle, counted from 0.
    pub row: u32,
    /// First and last differing pixels, counted from the rectangle's left.
    pub lo: u32,
    pub hi: u32,
    /// Differing pixels; one split between pieces counts in the first
    /// piece where a part of it differs.
    pub pixels: u64,
}

/// A width x height screen of B, G, R, X pixels, rows top to bottom.
#[derive(Default, PartialEq, Eq)]
pub struct Framebuffer {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl Clone for Framebuffer {
    fn clone(&self) -> Self {
        Framebuffer {
            width: self.width,
            height: self.height,
            data: self.data.clone(),
        }
    }

    /// Copies into the existing allocation: the derived `clone_from` would
    /// allocate a new screen before freeing the old one, a third screen at
    /// the end of every update that resized.
    fn clone_from(&mut self, source: &Self) {
        self.width = source.width;
        self.height = source.height;
        self.data.clone_from(&source.data);
    }
}

impl std::fmt::Debug for Framebuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Framebuffer({}x{})", self.width, self.height)
    }
}

impl Framebuffer {
    /// A black screen. Callers check the size against their limits first.
    pub fn new(width: u32, height: u32) -> Framebuffer {
        Framebuffer {
            width,
            height,
            data: vec![0; width as usize * height as usize * BYTES_PER_PIXEL],
        }
    }

    /// A screen of these pixels, when there are exactly enough of them.
    pub fn from_bgrx(width: u32, height: u32, data: Vec<u8>) -> Option<Framebuffer> {
        let len = (width as usize)
            .checked_mul(height as usize)?
            .checked_mul(BYTES_PER_PIXEL)?;
        (data.len() == len).then_some(Framebuffer {
            width,
            height,
            data,
        })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn stride(&self) -> usize {
        self.width as usize * BYTES_PER_PIXEL
    }

    /// The pixels, B, G, R, X, row after row.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Changes the size, keeping the overlapping top-left area and filling
    /// new area with black: servers redraw after a resize, and minimega's
    /// recorder never asks for area beyond the first size.
    pub fn resize(&mut self, width: u32, height: u32) {
        if width == self.width && height == self.height {
            return;
        }
        if width == self.width {
            // Rows stay where they are: minimega files, which have no
            // ServerInit, grow the screen rectangle by rectangle down the
            // first update, and Vec's doubling keeps that linear.
            self.data
                .resize(width as usize * height as usize * BYTES_PER_PIXEL, 0);
            self.height = height;
            return;
        }
        let mut next = Framebuffer::new(width, height);
        let keep_w = self.width.min(width) as usize * BYTES_PER_PIXEL;
        for y in 0..self.height.min(height) as usize {
            let src = y * self.stride();
            let dst = y * next.stride();
            next.data[dst..dst + keep_w].copy_from_slice(&self.data[src..src + keep_w]);
        }
        *self = next;
    }

    /// Byte range of row `y` from column `x` for `w` pixels. The caller has
    /// checked the rectangle against the screen.
    #[inline]
    fn span(&self, x: u32, y: u32, w: u32) -> std::ops::Range<usize> {
        let start = y as usize * self.stride() + x as usize * BYTES_PER_PIXEL;
        start..start + w as usize * BYTES_PER_PIXEL
    }

    /// Mutable pixels of row `y`, columns `x..x+w`.
    #[inline]
    pub fn row_mut(&mut self, x: u32, y: u32, w: u32) -> &mut [u8] {
        let r = self.span(x, y, w);
        &mut self.data[r]
    }

    #[inline]
    pub fn row(&self, x: u32, y: u32, w: u32) -> &[u8] {
        &self.data[self.span(x, y, w)]
    }

    /// Writes bytes into the rectangle as if it were one contiguous run of
    /// rows, starting `offset` bytes into it. Used by Raw, which arrives in
    /// pieces that may split rows and even pixels.
    pub fn write_rect_bytes(&mut self, rect: Rect, offset: usize, bytes: &[u8]) {
        self.rect_pieces(rect, offset, bytes, |dst, src, _, _| {
            dst.copy_from_slice(src)
        });
    }

    /// [`Framebuffer::write_rect_bytes`] that leaves alone the pieces of
    /// rows already holding those bytes, and calls `changed` with each row
    /// of the rectangle (counted from 0) where it wrote something. Comparing
    /// costs what copying does, and minimega's recorder resends the whole
    /// screen ten times a second, mostly unchanged.
    pub fn write_rect_bytes_changed(
        &mut self,
        rect: Rect,
        offset: usize,
        bytes: &[u8],
        changed: &mut dyn FnMut(u32),
    ) {
        self.rect_pieces(rect, offset, bytes, |dst, src, row, _| {
            if *dst != *src {
                dst.copy_from_slice(src);
                changed(row);
            }
        });
    }

    /// [`Framebuffer::write_rect_bytes_changed`] that also measures what
    /// each piece changes, before writing it: `changed` gets one
    /// [`PieceChange`] per piece of a row whose bytes differ. What a
    /// screen kept without a second copy needs to know its damage.
    /// `open` carries, from one call to the next, whether the pixel the
    /// bytes so far end inside already counted as changed.
    pub fn write_rect_bytes_measured(
        &mut self,
        rect: Rect,
        offset: usize,
        bytes: &[u8],
        open: &mut bool,
        changed: &mut dyn FnMut(PieceChange),
    ) {
        const PX: usize = BYTES_PER_PIXEL;
        self.rect_pieces(rect, offset, bytes, |dst, src, row, col| {
            // A piece may start and end inside a pixel: the parts of
            // pixels at its ends are compared apart from the whole pixels.
            let was_open = *open && col % PX != 0;
            let ends_inside = (col + dst.len()) % PX != 0;
            let head = ((PX - col % PX) % PX).min(dst.len());
            if *dst == *src {
                // Still inside the same pixel, or past it.
                *open = was_open && head == dst.len() && ends_inside;
                return;
            }
            let whole = (dst.len() - head) / PX * PX;
            let first = (col / PX) as u32;
            let head_px = (head > 0 && dst[..head] != src[..head]).then_some(first);
            let mid = head..head + whole;
            let mid_first = ((col + head) / PX) as u32;
            let middle = (dst[mid.clone()] != src[mid.clone()])
                .then(|| differing_pixels(&dst[mid.clone()], &src[mid.clone()]))
                .map(|(lo, hi, n)| (mid_first + lo, mid_first + hi, n));
            let tail_px = (head + whole < dst.len() && dst[head + whole..] != src[head + whole..])
                .then_some(mid_first + (whole / PX) as u32);
            let ends = [head_px, middle.map(|m| m.0), middle.map(|m| m.1), tail_px];
            let lo = ends.iter().flatten().copied().min().unwrap_or(first);
            let hi = ends.iter().flatten().copied().max().unwrap_or(first);
            *open = ends_inside
                && if head == dst.len() {
                    was_open || head_px.is_some()
                } else {
                    tail_px.is_some()
                };
            changed(PieceChange {
                row,
                lo,
                hi,
                pixels: middle.map_or(0, |m| m.2)
                    + u64::from(head_px.is_some() && !was_open)
                    + u64::from(tail_px.is_some()),
            });
            dst.copy_from_slice(src);
        });
    }

    /// Cuts `bytes`, which continue the rectangle's rows from `offset`
    /// bytes into it, at row ends, and hands each piece with the screen
    /// bytes it lands on, its row (counted from 0) and its byte offset
    /// within that row to `put`.
    fn rect_pieces(
        &mut self,
        rect: Rect,
        offset: usize,
        mut bytes: &[u8],
        mut put: impl FnMut(&mut [u8], &[u8], u32, usize),
    ) {
        let row_len = usize::from(rect.w) * BYTES_PER_PIXEL;
        if row_len == 0 {
            return;
        }
        let mut row = offset / row_len;
        let mut col = offset % row_len;
        while !bytes.is_empty() && row < usize::from(rect.h) {
            let n = (row_len - col).min(bytes.len());
            let start = self
                .span(u32::from(rect.x), u32::from(rect.y) + row as u32, 0)
                .start
                + col;
            put(
                &mut self.data[start..start + n],
                &bytes[..n],
                row as u32,
                col,
            );
            bytes = &bytes[n..];
            col += n;
            if col == row_len {
                col = 0;
                row += 1;
            }
        }
    }

    /// Fills a rectangle with one pixel.
    pub fn fill(&mut self, rect: Rect, pixel: [u8; 4]) {
        if rect.is_empty() {
            return;
        }
        let first = self.span(u32::from(rect.x), u32::from(rect.y), u32::from(rect.w));
        for px in self.data[first.clone()].chunks_exact_mut(BYTES_PER_PIXEL) {
            px.copy_from_slice(&pixel);
        }
        let stride = self.stride();
        for row in 1..usize::from(rect.h) {
            let dst = first.start + row * stride;
            self.data.copy_within(first.clone(), dst);
        }
    }

    /// Sets one pixel.
    #[inline]
    pub fn set(&mut self, x: u32, y: u32, pixel: [u8; 4]) {
        let r = self.span(x, y, 1);
        self.data[r].copy_from_slice(&pixel);
    }

    /// Copies `rect`-sized area whose top-left is (src_x, src_y) to `rect`
    /// (CopyRect, RFC 6143 7.7.2). Overlapping areas copy as if through a
    /// temporary: rows are walked away from the overlap.
    pub fn copy_within(&mut self, src_x: u16, src_y: u16, rect: Rect) {
        let h = u32::from(rect.h);
        let w = u32::from(rect.w);
        let downwards = src_y >= rect.y;
        for i in 0..h {
            let row = if downwards { i } else { h - 1 - i };
            let src = self.span(u32::from(src_x), u32::from(src_y) + row, w);
            let dst = self
                .span(u32::from(rect.x), u32::from(rect.y) + row, w)
                .start;
            self.data.copy_within(src, dst);
        }
    }

    /// Copies a rectangle from another framebuffer of the same size.
    pub fn copy_rect_from(&mut self, other: &Framebuffer, rect: Rect) {
        for row in 0..u32::from(rect.h) {
            let r = self.span(
                u32::from(rect.x),
                u32::from(rect.y) + row,
                u32::from(rect.w),
            );
            self.data[r.clone()].copy_from_slice(&other.data[r]);
        }
    }

    /// Copies the rows of a rectangle that differ from `other`'s, which
    /// has the same size; returns whether any did. Comparing first costs
    /// about what copying does, and tells exporters whether the screen
    /// changed at all: minimega's recorder resends the whole screen ten
    /// times a second, mostly unchanged.
    pub fn update_rect_from(&mut self, other: &Framebuffer, rect: Rect) -> bool {
        let mut changed = false;
        for row in 0..u32::from(rect.h) {
            let r = self.span(
                u32::from(rect.x),
                u32::from(rect.y) + row,
                u32::from(rect.w),
            );
            if self.data[r.clone()] != other.data[r.clone()] {
                self.data[r.clone()].copy_from_slice(&other.data[r]);
                changed = true;
            }
        }
        changed
    }

    /// [`Framebuffer::update_rect_from`] that also measures what changed:
    /// returns how many pixels differ and pushes one box per band of
    /// consecutive changed rows. Equal rows are skipped as whole slices;
    /// only differing rows are compared pixel by pixel.
    pub fn update_rect_measured(
        &mut self,
        other: &Framebuffer,
        rect: Rect,
        boxes: &mut Vec<Rect>,
    ) -> u64 {
        measure_bands(rect, boxes, |y| {
            let r = self.span(u32::from(rect.x), y, u32::from(rect.w));
            if self.data[r.clone()] == other.data[r.clone()] {
                return None;
            }
            let found = differing_pixels(&self.data[r.clone()], &other.data[r.clone()]);
            self.data[r.clone()].copy_from_slice(&other.data[r]);
            Some(found)
        })
    }

    /// What `rect` of this screen changed since `before`, its earlier
    /// pixels row after row: the differing pixel count, and one box per
    /// band of consecutive changed rows pushed on `boxes`.
    pub fn measure_against(&self, rect: Rect, before: &[u8], boxes: &mut Vec<Rect>) -> u64 {
        let row_len = usize::from(rect.w) * BYTES_PER_PIXEL;
        let mut rows = before.chunks_exact(row_len.max(1));
        measure_bands(rect, boxes, |y| {
            let old = rows.next()?;
            let now = self.row(u32::from(rect.x), y, u32::from(rect.w));
            (now != old).then(|| differing_pixels(old, now))
        })
    }

    /// The screen as 8-bit RGB, row after row.
    pub fn to_rgb(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.width as usize * self.height as usize * 3];
        bgrx_to_rgb(&self.data, &mut out);
        out
    }

    /// The screen as an `image` RGB buffer.
    pub fn to_rgb_image(&self) -> image::RgbImage {
        image::RgbImage::from_raw(self.width, self.height, self.to_rgb())
            .expect("buffer length matches the size")
    }

    /// Builds a framebuffer from 8-bit RGB pixels (for comparisons and tests).
    pub fn from_rgb(width: u32, height: u32, rgb: &[u8]) -> Framebuffer {
        let mut fb = Framebuffer::new(width, height);
        for (dst, src) in fb.data.chunks_exact_mut(4).zip(rgb.chunks_exact(3)) {
            dst.copy_from_slice(&[src[2], src[1], src[0], 0]);
        }
        fb
    }
}

/// Walks the rows of `rect` (screen row numbers) through `row`, which
/// gives a changed row's first and last differing pixels (from the
/// rectangle's left) and their count; pushes one box per band of
/// consecutive changed rows and returns the count in all.
fn measure_bands(
    rect: Rect,
    boxes: &mut Vec<Rect>,
    mut row: impl FnMut(u32) -> Option<(u32, u32, u64)>,
) -> u64 {
    let mut pixels = 0u64;
    // The band being grown: first row, last row, min x, max x.
    let mut band: Option<(u32, u32, u32, u32)> = None;
    let close = |band: &mut Option<(u32, u32, u32, u32)>, boxes: &mut Vec<Rect>| {
        if let Some((y0, y1, x0, x1)) = band.take() {
            let c = |v: u32| v.min(65535) as u16;
            boxes.push(Rect::new(c(x0), c(y0), c(x1 - x0 + 1), c(y1 - y0 + 1)));
        }
    };
    for y in u32::from(rect.y)..u32::from(rect.y) + u32::from(rect.h) {
        let Some((lo, hi, n)) = row(y) else {
            close(&mut band, boxes);
            continue;
        };
        pixels += n;
        let (x0, x1) = (u32::from(rect.x) + lo, u32::from(rect.x) + hi);
        band = Some(match band {
            Some((y0, _, bx0, bx1)) => (y0, y, bx0.min(x0), bx1.max(x1)),
            None => (y, y, x0, x1),
        });
    }
    close(&mut band, boxes);
    pixels
}

/// The first and last differing pixels of two rows that differ, and how
/// many pixels differ: the ends found a 64-byte block at a time from each
/// side, the count over 4-byte words between them (vector instructions).
/// A text line or a cursor changes a few pixels of a long row.
fn differing_pixels(a: &[u8], b: &[u8]) -> (u32, u32, u64) {
    const BLOCK: usize = 64;
    let first_block = a
        .chunks(BLOCK)
        .zip(b.chunks(BLOCK))
        .position(|(p, q)| p != q)
        .unwrap_or(0);
    let lo = first_block * BLOCK / 4
        + a[first_block * BLOCK..]
            .chunks_exact(4)
            .zip(b[first_block * BLOCK..].chunks_exact(4))
            .position(|(p, q)| word(p) != word(q))
            .unwrap_or(0);
    let pixels = a.len() / 4;
    let last_block = a
        .rchunks(BLOCK)
        .zip(b.rchunks(BLOCK))
        .position(|(p, q)| p != q)
        .unwrap_or(0);
    // Bytes after the last block that differs.
    let tail = (last_block * BLOCK).min(a.len());
    let end = a.len() - tail;
    let start = end.saturating_sub(BLOCK).max(lo * 4) / 4 * 4;
    let hi = start / 4
        + a[start..end]
            .chunks_exact(4)
            .zip(b[start..end].chunks_exact(4))
            .rposition(|(p, q)| word(p) != word(q))
            .unwrap_or(0);
    let hi = hi.min(pixels.saturating_sub(1)).max(lo);
    let n: u64 = a[lo * 4..(hi + 1) * 4]
        .chunks_exact(4)
        .zip(b[lo * 4..(hi + 1) * 4].chunks_exact(4))
        .map(|(p, q)| u64::from(word(p) != word(q)))
        .sum();
    (lo as u32, hi as u32, n)
}

#[inline]
fn word(p: &[u8]) -> u32 {
    u32::from_ne_bytes([p[0], p[1], p[2], p[3]])
}

/// Converts B, G, R, X pixels to R, G, B.
pub fn bgrx_to_rgb(src: &[u8], dst: &mut [u8]) {
    for (d, s) in dst.chunks_exact_mut(3).zip(src.chunks_exact(4)) {
        d[0] = s[2];
        d[1] = s[1];
        d[2] = s[0];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differing_pixels_agrees_with_a_pixel_by_pixel_walk() {
        let mut seed = 5u32;
        for len in [1usize, 2, 15, 16, 17, 31, 33, 100, 1024] {
            for _ in 0..40 {
                let a: Vec<u8> = (0..len * 4).map(|i| (i * 7 % 251) as u8).collect();
                let mut b = a.clone();
                // One to three changed bytes, X bytes included.
                for _ in 0..1 + seed as usize % 3 {
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let at = (seed >> 8) as usize % (len * 4);
                    b[at] ^= 1 + (seed >> 24) as u8 % 200;
                }
                let diff: Vec<usize> = (0..len)
                    .filter(|&i| a[i * 4..i * 4 + 4] != b[i * 4..i * 4 + 4])
                    .collect();
                let want = (
                    diff[0] as u32,
                    *diff.last().unwrap() as u32,
                    diff.len() as u64,
                );
                assert_eq!(differing_pixels(&a, &b), want, "len {len}");
            }
        }
    }

    #[test]
    fn resize_keeps_top_left() {
        let mut fb = Framebuffer::new(2, 2);
        fb.set(1, 1, [9, 9, 9, 0]);
        fb.resize(3, 3);
        assert_eq!(fb.row(1, 1, 1), &[9, 9, 9, 0]);
        assert_eq!(fb.row(2, 2, 1), &[0, 0, 0, 0]);
        fb.resize(1, 1);
        assert_eq!(fb.data().len(), 4);
    }

    #[test]
    fn overlapping_copy_behaves_as_through_a_temporary() {
        let mut fb = Framebuffer::new(1, 4);
        for y in 0..4 {
            fb.set(0, y, [y as u8, 0, 0, 0]);
        }
        fb.copy_within(0, 0, Rect::new(0, 1, 1, 3));
        let col: Vec<u8> = (0..4).map(|y| fb.row(0, y, 1)[0]).collect();
        assert_eq!(col, [0, 0, 1, 2]);
        fb.copy_within(0, 1, Rect::new(0, 0, 1, 3));
        let col: Vec<u8> = (0..4).map(|y| fb.row(0, y, 1)[0]).collect();
        assert_eq!(col, [0, 1, 2, 2]);
    }

    #[test]
    fn raw_bytes_split_anywhere_land_in_place() {
        let rect = Rect::new(1, 1, 2, 2);
        let bytes: Vec<u8> = (0..16).collect();
        let mut whole = Framebuffer::new(4, 4);
        whole.write_rect_bytes(rect, 0, &bytes);
        let mut split = Framebuffer::new(4, 4);
        for (i, b) in bytes.iter().enumerate() {
            split.write_rect_bytes(rect, i, std::slice::from_ref(b));
        }
        assert_eq!(whole, split);
        assert_eq!(whole.row(1, 2, 2), &bytes[8..16]);
    }
}
