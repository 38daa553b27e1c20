//! [`Screen`] pairs the framebuffer being drawn with the one last shown: an
//! update is drawn piece by piece as its bytes arrive, but a frame must show
//! the state between updates (docs/formats.md section 4), so the shown copy is
//! brought up to date from the drawn one, rectangle by rectangle, when an
//! update completes. It also keeps the cursor (drawn over the shown copy on
//! request) and measures what each update really changed ([`Damage`]).
//!
//! A screen that nobody takes frames from mid-update (`find`) can measure
//! the damage without the second copy: Raw rows are compared as they are
//! written, and the other decoders' rectangles are saved just before they
//! are drawn and compared at the commit (see [`Screen::new`]).

use super::{Framebuffer, BYTES_PER_PIXEL};
use crate::wire::Rect;

/// A cursor shape: B, G, R, X pixels, a mask row per row, and the hotspot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub width: u16,
    pub height: u16,
    pub hotspot: (u16, u16),
    pub pixels: Vec<u8>,
    /// One bit per pixel, rows padded to whole bytes, most significant first.
    pub mask: Vec<u8>,
}

impl Cursor {
    /// Whether the pixel at (x, y) of the shape is drawn.
    pub fn opaque(&self, x: usize, y: usize) -> bool {
        let row = usize::from(self.width).div_ceil(8);
        self.mask
            .get(y * row + x / 8)
            .is_some_and(|b| b & (0x80 >> (x % 8)) != 0)
    }
}

/// What one update changed on the shown screen: pixels that really differ,
/// not the rectangles the server sent (minimega repaints the whole screen
/// every 100 ms).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Damage {
    /// Pixels whose value changed. Without a shown copy, where rectangles
    /// of one update overlap, a pixel changed by one and changed back by
    /// the next may count (and be boxed), and counts once per rectangle.
    pub pixels: u64,
    /// Bounding boxes of the changes, one per changed rectangle the update
    /// drew (boxes may overlap when rectangles did).
    pub boxes: Vec<Rect>,
    /// The screen changed size: every pixel counts as changed.
    pub resized: bool,
}

/// Why `--cursor` draws nothing into a recording's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CursorGap {
    /// The usual case: a server tells the position (PointerPos) only when
    /// something other than the recording client moves the pointer.
    #[error("this recording has a cursor shape but never tells the pointer's position")]
    NoPosition,
    #[error("this recording has no cursor shape: any pointer is part of the screen")]
    NoShape,
}

/// The framebuffer being drawn and, when frames are wanted, the one shown
/// between updates.
#[derive(Debug, Default)]
pub struct Screen {
    drawn: Framebuffer,
    shown: Option<Framebuffer>,
    dirty: Vec<Rect>,
    resized: bool,
    /// The last cursor shape the stream sent (Cursor pseudo-encoding).
    pub cursor: Option<Cursor>,
    /// The last pointer position the stream showed (PointerPos).
    pub pointer: Option<(u16, u16)>,
    /// Draw the cursor into the shown screen (`--cursor`).
    pub draw_cursor: bool,
    /// Where the cursor was drawn into the shown screen last time.
    overlay: Option<Rect>,
    /// Commits that changed the shown screen (see [`Screen::generation`]).
    generation: u64,
    /// Measure what each commit changed ([`Screen::damage`]); costs a
    /// pixel comparison of the rows that differ.
    pub measure_damage: bool,
    damage: Damage,
    /// Without a shown copy: the damage being measured for this update,
    /// the columns (x, width) of the Raw rectangle whose rows the last box
    /// grows from, and whether the pixel the last Raw piece ended inside
    /// already counted.
    pending: Damage,
    band_of: Option<(u16, u16)>,
    split_open: bool,
    /// Without a shown copy: the pixels of rectangles as they were before
    /// this update drew them, row after row; where each starts, and how
    /// many Raw boxes came before it (boxes keep the rectangles' order).
    before: Vec<u8>,
    befores: Vec<(Rect, usize, usize)>,
    /// This update saved more than [`Screen::before_cap`] (or a rectangle
    /// off the screen): it counts as changing the whole screen.
    unmeasured: bool,
}

/// Boxes kept per update without a shown copy; past them, changes grow
/// the last box.
const MAX_BOXES: usize = 4096;

impl Screen {
    /// Why `--cursor` drew nothing, if it did not, once a recording has
    /// played to its end: every command that draws the cursor asks here.
    pub fn cursor_gap(&self) -> Option<CursorGap> {
        match (&self.cursor, self.pointer) {
            (None, _) => Some(CursorGap::NoShape),
            (Some(_), None) => Some(CursorGap::NoPosition),
            (Some(_), Some(_)) => None,
        }
    }

    /// `keep_shown` is false when nobody looks at frames (`info`, `find`,
    /// benches), which saves the copy at the end of every update. The
    /// screen between updates is then the drawn one; [`Screen::damage`]
    /// is still measured when asked, as each update draws.
    pub fn new(keep_shown: bool) -> Screen {
        Screen {
            shown: keep_shown.then(Framebuffer::default),
            ..Screen::default()
        }
    }

    /// A screen between updates as the seek index saved it: `drawn` is
    /// what every update so far drew, and the shown screen is made from it
    /// as the last update's commit made it (cursor included when drawn).
    pub fn restore(
        drawn: Framebuffer,
        cursor: Option<Cursor>,
        pointer: Option<(u16, u16)>,
        generation: u64,
        keep_shown: bool,
        draw_cursor: bool,
    ) -> Screen {
        let mut s = Screen::new(keep_shown);
        s.drawn = drawn;
        s.cursor = cursor;
        s.pointer = pointer;
        s.draw_cursor = draw_cursor;
        s.resized = true;
        s.commit();
        s.generation = generation;
        s
    }

    /// The framebuffer decoders draw into.
    pub fn drawn(&mut self) -> &mut Framebuffer {
        &mut self.drawn
    }

    pub fn drawn_ref(&self) -> &Framebuffer {
        &self.drawn
    }

    /// The screen as of the last complete update.
    pub fn shown(&self) -> &Framebuffer {
        self.shown.as_ref().unwrap_or(&self.drawn)
    }

    /// Takes the shown screen out, for a caller that is done playing and
    /// wants the picture without copying it (`frame` at the end). The
    /// screen is left empty.
    pub fn take_shown(&mut self) -> Framebuffer {
        let drawn = std::mem::take(&mut self.drawn);
        self.shown.take().unwrap_or(drawn)
    }

    /// Resizes the drawn screen; a resize to the size it has changes
    /// nothing (servers resend their size with desktop changes).
    pub fn resize(&mut self, width: u32, height: u32) {
        if (width, height) != (self.drawn.width, self.drawn.height) {
            self.drawn.resize(width, height);
            self.resized = true;
        }
    }

    /// Writes Raw bytes in the framebuffer's layout into `rect` of the
    /// drawn screen from byte `offset` of the rectangle on. Unlike the other
    /// decoders' rectangles, which [`Screen::touch`] marks whole before
    /// drawing, only the rows these bytes really change are marked: a
    /// repaint that changes nothing costs a comparison here and nothing at
    /// the commit.
    pub fn write_raw(&mut self, rect: Rect, offset: usize, bytes: &[u8]) {
        if self.shown.is_none() && self.measure_damage && !self.resized && !self.unmeasured {
            self.write_raw_measured(rect, offset, bytes);
            return;
        }
        if self.resized {
            // All of it is copied at the commit anyway.
            self.drawn.write_rect_bytes(rect, offset, bytes);
            return;
        }
        if self.shown.is_none() {
            // Nobody keeps a shown screen: still, bytes that are there
            // already are compared, not written (a repaint mostly is).
            self.drawn
                .write_rect_bytes_changed(rect, offset, bytes, &mut |_| {});
            return;
        }
        let (dirty, resized) = (&mut self.dirty, &mut self.resized);
        self.drawn
            .write_rect_bytes_changed(rect, offset, bytes, &mut |row| {
                let y = rect.y.saturating_add(row as u16);
                let end = |l: &Rect| u32::from(l.y) + u32::from(l.h);
                if let Some(l) = dirty.last_mut().filter(|l| (l.x, l.w) == (rect.x, rect.w)) {
                    if end(l) == u32::from(y) + 1 {
                        // The same row again (bytes split inside it).
                        return;
                    }
                    if end(l) == u32::from(y) && l.h < u16::MAX {
                        // The next row: the band grows.
                        l.h += 1;
                        return;
                    }
                }
                if dirty.len() < 512 {
                    dirty.push(Rect::new(rect.x, y, rect.w, 1));
                } else {
                    *resized = true;
                }
            });
    }

    /// [`Screen::write_raw`] without a shown copy: each changed piece of a
    /// row grows this update's boxes as it is written.
    fn write_raw_measured(&mut self, rect: Rect, offset: usize, bytes: &[u8]) {
        let (pending, band_of) = (&mut self.pending, &mut self.band_of);
        self.drawn
            .write_rect_bytes_measured(rect, offset, bytes, &mut self.split_open, &mut |c| {
                pending.pixels += c.pixels;
                let y = u32::from(rect.y) + c.row;
                let (x0, x1) = (u32::from(rect.x) + c.lo, u32::from(rect.x) + c.hi);
                let grow = pending.boxes.len() >= MAX_BOXES
                    || (*band_of == Some((rect.x, rect.w))
                        && pending.boxes.last().is_some_and(|b| {
                            let end = u32::from(b.y) + u32::from(b.h);
                            y + 1 == end || y == end
                        }));
                let c = |v: u32| v.min(65535) as u16;
                match pending.boxes.last_mut().filter(|_| grow) {
                    Some(b) => {
                        let left = u32::from(b.x).min(x0);
                        let right = (u32::from(b.x) + u32::from(b.w)).max(x1 + 1);
                        let top = u32::from(b.y).min(y);
                        let bottom = (u32::from(b.y) + u32::from(b.h)).max(y + 1);
                        *b = Rect::new(c(left), c(top), c(right - left), c(bottom - top));
                    }
                    None => {
                        pending
                            .boxes
                            .push(Rect::new(c(x0), c(y), c(x1 - x0 + 1), 1));
                        *band_of = Some((rect.x, rect.w));
                    }
                }
            });
    }

    /// The most bytes of earlier pixels an update saves without a shown
    /// copy: twice the screen (rectangles rarely overlap), and at least
    /// 1 MiB.
    fn before_cap(&self) -> usize {
        (self.drawn.data().len() * 2).max(1 << 20)
    }

    /// Notes that a rectangle of the drawn screen changes in this update.
    pub fn touch(&mut self, rect: Rect) {
        if self.shown.is_none() {
            if self.measure_damage && !self.resized && !self.unmeasured && !rect.is_empty() {
                self.save_before(rect);
            }
            return;
        }
        if !self.resized && !rect.is_empty() {
            // Many small rectangles are cheaper to copy one by one; past a
            // few hundred, a full copy is simpler and no slower.
            if self.dirty.len() < 512 {
                self.dirty.push(rect);
            } else {
                self.resized = true;
            }
        }
    }

    /// Saves the pixels of `rect` before the update draws them (without a
    /// shown copy); past [`Screen::before_cap`], the update counts as
    /// changing everything instead.
    fn save_before(&mut self, rect: Rect) {
        let bytes = usize::from(rect.w) * usize::from(rect.h) * BYTES_PER_PIXEL;
        // Decoders check their rectangles against the screen first.
        if !rect.fits(self.drawn.width(), self.drawn.height())
            || self.before.len() + bytes > self.before_cap()
        {
            self.unmeasured = true;
            return;
        }
        let at = self.before.len();
        for y in u32::from(rect.y)..rect.bottom() {
            let row = self.drawn.row(u32::from(rect.x), y, u32::from(rect.w));
            self.before.extend_from_slice(row);
        }
        self.befores.push((rect, at, self.pending.boxes.len()));
        self.band_of = None;
    }

    /// Counts the commits that changed the shown screen's pixels or size:
    /// two frames with the same generation show the same picture, which
    /// lets exporters skip unchanged frames without comparing them.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// What the last commit changed, when [`Screen::measure_damage`] is on.
    pub fn damage(&self) -> &Damage {
        &self.damage
    }

    /// Brings the shown screen up to date at the end of an update.
    pub fn commit(&mut self) {
        let Some(shown) = self.shown.as_mut() else {
            if self.measure_damage {
                self.commit_measured();
            }
            // The next update is drawn on what this one left.
            self.resized = false;
            return;
        };
        let mut changed = false;
        self.damage.pixels = 0;
        self.damage.boxes.clear();
        self.damage.resized = false;
        if self.resized || shown.width != self.drawn.width || shown.height != self.drawn.height {
            let size_changed = shown.width != self.drawn.width || shown.height != self.drawn.height;
            if self.measure_damage && !size_changed {
                let (w, h) = (self.drawn.width.min(65535), self.drawn.height.min(65535));
                let all = Rect::new(0, 0, w as u16, h as u16);
                self.damage.pixels =
                    shown.update_rect_measured(&self.drawn, all, &mut self.damage.boxes);
            } else if self.measure_damage {
                let (w, h) = (self.drawn.width, self.drawn.height);
                self.damage.pixels = u64::from(w) * u64::from(h);
                self.damage.resized = true;
                self.damage
                    .boxes
                    .push(Rect::new(0, 0, w.min(65535) as u16, h.min(65535) as u16));
            }
            shown.clone_from(&self.drawn);
            self.overlay = None;
            changed = true;
        } else {
            // The area under last time's cursor comes back from the drawn
            // screen along with what this update changed.
            let overlay = self.overlay.take();
            for rect in &self.dirty {
                if self.measure_damage {
                    let n = shown.update_rect_measured(&self.drawn, *rect, &mut self.damage.boxes);
                    self.damage.pixels += n;
                    changed |= n > 0;
                } else {
                    changed |= shown.update_rect_from(&self.drawn, *rect);
                }
            }
            if let Some(rect) = overlay {
                changed |= shown.update_rect_from(&self.drawn, rect);
            }
        }
        self.dirty.clear();
        self.resized = false;
        if self.draw_cursor {
            if let (Some(cursor), Some(pointer)) = (&self.cursor, self.pointer) {
                self.overlay = cursor.draw(shown, pointer);
                // Drawn again over the restored area: cheaper to count as a
                // change than to compare.
                changed |= self.overlay.is_some();
            }
        }
        if changed {
            self.generation += 1;
        }
    }
}

impl Screen {
    /// [`Screen::commit`] without a shown copy: this update's damage is
    /// what its Raw rows measured as they were written, and what the saved
    /// rectangles differ from the screen now.
    fn commit_measured(&mut self) {
        let size = (self.drawn.width(), self.drawn.height());
        let damage = &mut self.damage;
        damage.boxes.clear();
        // Without a shown copy, only a change of size sets `resized`.
        damage.resized = self.resized;
        if self.resized || self.unmeasured {
            let all = Rect::new(0, 0, size.0.min(65535) as u16, size.1.min(65535) as u16);
            damage.boxes.push(all);
            damage.pixels = u64::from(size.0) * u64::from(size.1);
        } else {
            // The Raw boxes, with each saved rectangle's measured in its place.
            damage.pixels = self.pending.pixels;
            let raw = &self.pending.boxes;
            let mut next = 0;
            for &(rect, at, raw_before) in &self.befores {
                damage.boxes.extend_from_slice(&raw[next..raw_before]);
                next = raw_before;
                let before = &self.before[at..];
                damage.pixels += self.drawn.measure_against(rect, before, &mut damage.boxes);
            }
            damage.boxes.extend_from_slice(&raw[next..]);
        }
        self.pending.pixels = 0;
        self.pending.boxes.clear();
        if self.damage.pixels > 0 || self.resized {
            self.generation += 1;
        }
        self.before.clear();
        self.befores.clear();
        self.band_of = None;
        self.split_open = false;
        self.unmeasured = false;
        self.resized = false;
    }
}

impl Cursor {
    /// Draws the shape with its hotspot at `pointer`, clipped to the
    /// screen; pixels outside the mask stay as they are.
    /// Returns the area it covered.
    pub fn draw(&self, fb: &mut Framebuffer, pointer: (u16, u16)) -> Option<Rect> {
        let left = i64::from(pointer.0) - i64::from(self.hotspot.0);
        let top = i64::from(pointer.1) - i64::from(self.hotspot.1);
        let x0 = left.clamp(0, i64::from(fb.width()));
        let y0 = top.clamp(0, i64::from(fb.height()));
        let x1 = (left + i64::from(self.width)).clamp(0, i64::from(fb.width()));
        let y1 = (top + i64::from(self.height)).clamp(0, i64::from(fb.height()));
        if x1 <= x0 || y1 <= y0 {
            return None;
        }
        for cy in 0..usize::from(self.height) {
            let y = top + cy as i64;
            if y < 0 || y >= i64::from(fb.height()) {
                continue;
            }
            for cx in 0..usize::from(self.width) {
                let x = left + cx as i64;
                if x < 0 || x >= i64::from(fb.width()) || !self.opaque(cx, cy) {
                    continue;
                }
                let i = (cy * usize::from(self.width) + cx) * BYTES_PER_PIXEL;
                if let Some(px) = self.pixels.get(i..i + BYTES_PER_PIXEL) {
                    fb.set(x as u32, y as u32, [px[0], px[1], px[2], 0]);
                }
            }
        }
        Some(Rect::new(
            x0 as u16,
            y0 as u16,
            (x1 - x0) as u16,
            (y1 - y0) as u16,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_counts_pixels_that_differ_not_rectangles_sent() {
        let mut screen = measuring(true, 8, 8);
        assert!(screen.damage().resized);
        // A full repaint that changes two pixels.
        let all = Rect::new(0, 0, 8, 8);
        screen.touch(all);
        screen.drawn().set(2, 3, [1, 2, 3, 0]);
        screen.drawn().set(5, 4, [1, 2, 3, 0]);
        screen.commit();
        assert_eq!(screen.damage().pixels, 2);
        assert_eq!(screen.damage().boxes, [Rect::new(2, 3, 4, 2)]);
        // Changes far apart are separate bands.
        screen.touch(all);
        screen.drawn().set(0, 0, [9, 9, 9, 0]);
        screen.drawn().set(7, 7, [9, 9, 9, 0]);
        screen.commit();
        assert_eq!(screen.damage().pixels, 2);
        assert_eq!(
            screen.damage().boxes,
            [Rect::new(0, 0, 1, 1), Rect::new(7, 7, 1, 1)]
        );
        // The same repaint again: nothing changed.
        screen.touch(all);
        screen.commit();
        assert_eq!(screen.damage().pixels, 0);
        assert!(screen.damage().boxes.is_empty());
    }

    #[test]
    fn raw_writes_mark_only_the_rows_they_change() {
        let mut screen = measuring(true, 4, 6);
        let all = Rect::new(0, 0, 4, 6);
        let mut bytes = [0u8; 4 * 6 * 4];
        // The same screen again, in pieces that split rows and pixels.
        let before = screen.generation();
        for (i, piece) in bytes.chunks(7).enumerate() {
            screen.write_raw(all, i * 7, piece);
        }
        assert!(screen.dirty.is_empty());
        screen.commit();
        assert_eq!(screen.generation(), before);
        assert_eq!(screen.damage().pixels, 0);
        // Rows 1, 2 and 4 change: two bands, and the shown screen has them.
        bytes[16 + 4] = 9; // row 1, pixel 1
        bytes[2 * 16 + 8] = 9; // row 2, pixel 2
        bytes[4 * 16] = 9; // row 4, pixel 0
        for (i, piece) in bytes.chunks(7).enumerate() {
            screen.write_raw(all, i * 7, piece);
        }
        assert_eq!(screen.dirty, [Rect::new(0, 1, 4, 2), Rect::new(0, 4, 4, 1)]);
        screen.commit();
        assert_eq!(screen.generation(), before + 1);
        assert_eq!(screen.damage().pixels, 3);
        assert_eq!(
            screen.damage().boxes,
            [Rect::new(1, 1, 2, 2), Rect::new(0, 4, 1, 1)]
        );
        assert_eq!(screen.shown().row(2, 2, 1), &[9, 0, 0, 0]);
        assert_eq!(screen.shown(), screen.drawn_ref());
    }

    /// A screen measuring damage, sized and committed once.
    fn measuring(keep_shown: bool, width: u32, height: u32) -> Screen {
        let mut screen = Screen::new(keep_shown);
        screen.measure_damage = true;
        screen.resize(width, height);
        screen.commit();
        screen
    }

    /// A small random number source for the tests below.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u32) -> u32 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % u64::from(n.max(1))) as u32
        }
    }

    /// Draws one random update into both screens: Raw rectangles in
    /// pieces that split rows and pixels, mostly repeating what is there,
    /// and filled rectangles; overlapping each other only when `overlap`.
    fn random_update(rng: &mut Lcg, screens: &mut [&mut Screen; 2], overlap: bool) {
        let (w, h) = (
            screens[0].drawn_ref().width(),
            screens[0].drawn_ref().height(),
        );
        let mut drawn: Vec<Rect> = Vec::new();
        for _ in 0..1 + rng.below(4) {
            let (x, y) = (rng.below(w), rng.below(h));
            let r = Rect::new(
                x as u16,
                y as u16,
                1 + rng.below(w - x) as u16,
                1 + rng.below(h - y) as u16,
            );
            let apart = |d: &Rect| {
                d.right() <= u32::from(r.x)
                    || r.right() <= u32::from(d.x)
                    || d.bottom() <= u32::from(r.y)
                    || r.bottom() <= u32::from(d.y)
            };
            if !overlap && !drawn.iter().all(apart) {
                continue;
            }
            drawn.push(r);
            if rng.below(3) == 0 {
                let px = [rng.below(3) as u8, 7, 7, 0];
                for s in screens.iter_mut() {
                    s.touch(r);
                    s.drawn().fill(r, px);
                }
                continue;
            }
            let mut bytes = Vec::new();
            for yy in r.y..r.y + r.h {
                bytes.extend_from_slice(screens[0].drawn_ref().row(
                    u32::from(r.x),
                    u32::from(yy),
                    u32::from(r.w),
                ));
            }
            for _ in 0..rng.below(4) {
                let at = rng.below(bytes.len() as u32) as usize;
                bytes[at] ^= 1 + rng.below(200) as u8;
            }
            let mut at = 0;
            while at < bytes.len() {
                let n = (1 + rng.below(11) as usize).min(bytes.len() - at);
                for s in screens.iter_mut() {
                    s.write_raw(r, at, &bytes[at..at + n]);
                }
                at += n;
            }
        }
    }

    fn pixels_of(boxes: &[Rect]) -> std::collections::BTreeSet<(u16, u16)> {
        boxes
            .iter()
            .flat_map(|b| (b.y..b.y + b.h).flat_map(move |y| (b.x..b.x + b.w).map(move |x| (x, y))))
            .collect()
    }

    #[test]
    fn damage_without_a_shown_copy_is_the_damage_with_one() {
        for seed in 0..60u64 {
            let mut rng = Lcg(seed);
            let (w, h) = (1 + rng.below(23), 1 + rng.below(17));
            let mut with = measuring(true, w, h);
            let mut without = measuring(false, w, h);
            assert!(without.damage().resized);
            let overlap = seed % 2 == 1;
            for _ in 0..30 {
                let before = with.shown().clone();
                random_update(&mut rng, &mut [&mut with, &mut without], overlap);
                with.commit();
                without.commit();
                let what = format!("seed {seed}");
                assert_eq!(with.shown(), without.shown(), "{what}");
                // Every changed pixel is boxed, and the boxes are no
                // looser than with the copy.
                let boxed = pixels_of(&without.damage().boxes);
                for y in 0..h {
                    for x in 0..w {
                        if before.row(x, y, 1) != with.shown().row(x, y, 1) {
                            assert!(boxed.contains(&(x as u16, y as u16)), "{what}: {x},{y}");
                        }
                    }
                }
                if !overlap {
                    assert!(
                        boxed.len() <= pixels_of(&with.damage().boxes).len(),
                        "{what}"
                    );
                    assert_eq!(with.damage().pixels, without.damage().pixels, "{what}");
                    assert_eq!(with.generation(), without.generation(), "{what}");
                } else {
                    assert!(without.damage().pixels >= with.damage().pixels, "{what}");
                }
            }
        }
    }

    #[test]
    fn without_a_shown_copy_a_resize_counts_for_one_update_only() {
        // As `info` plays: the first update after a resize is written
        // whole, the next ones compare their Raw bytes first.
        let mut screen = Screen::new(false);
        screen.resize(4, 2);
        assert!(screen.resized);
        let all = Rect::new(0, 0, 4, 2);
        screen.write_raw(all, 0, &[7; 32]);
        screen.commit();
        assert!(!screen.resized);
        screen.write_raw(all, 0, &[7; 32]);
        screen.write_raw(all, 4, &[9; 4]);
        screen.commit();
        assert_eq!(screen.shown().row(1, 0, 1), &[9, 9, 9, 9]);
        assert_eq!(screen.shown().row(2, 0, 1), &[7, 7, 7, 7]);
    }

    #[test]
    fn an_update_saving_more_than_its_cap_counts_as_changing_everything() {
        let mut screen = measuring(false, 1024, 1024);
        let all = Rect::new(0, 0, 1024, 1024);
        // Three full-screen rectangles in one update: more than twice the
        // screen saved.
        for _ in 0..3 {
            screen.touch(all);
        }
        assert!(screen.before.len() <= screen.before_cap());
        screen.commit();
        assert_eq!(screen.damage().boxes, [all]);
        assert_eq!(screen.damage().pixels, 1024 * 1024);
        assert!(!screen.damage().resized);
        // The next update is measured again.
        screen.touch(Rect::new(0, 0, 2, 2));
        screen.drawn().set(1, 1, [1, 0, 0, 0]);
        screen.commit();
        assert_eq!(screen.damage().boxes, [Rect::new(1, 1, 1, 1)]);
        assert_eq!(screen.damage().pixels, 1);
    }

    #[test]
    fn shown_screen_changes_only_at_commit() {
        let mut screen = Screen::new(true);
        screen.resize(2, 2);
        screen.commit();
        let r = Rect::new(0, 0, 1, 1);
        screen.touch(r);
        screen.drawn().fill(r, [5, 5, 5, 0]);
        assert_eq!(screen.shown().row(0, 0, 1), &[0, 0, 0, 0]);
        let before = screen.generation();
        screen.commit();
        assert_eq!(screen.shown().row(0, 0, 1), &[5, 5, 5, 0]);
        assert_eq!(screen.generation(), before + 1);
        // The same pixels again: shown, but not a new picture.
        screen.touch(r);
        screen.drawn().fill(r, [5, 5, 5, 0]);
        screen.commit();
        assert_eq!(screen.generation(), before + 1);
    }

    #[test]
    fn a_commit_after_a_resize_copies_into_the_shown_screen_in_place() {
        // The derived clone_from allocated a new shown screen while the old
        // one still lived: three screens at the peak instead of two.
        let mut screen = Screen::new(true);
        screen.resize(4, 4);
        screen.commit();
        let before = screen.shown().data().as_ptr();
        screen.resize(8, 2);
        screen.drawn().fill(Rect::new(0, 0, 8, 2), [1, 2, 3, 0]);
        screen.commit();
        assert_eq!(screen.shown().width(), 8);
        assert_eq!(screen.shown().row(7, 1, 1), &[1, 2, 3, 0]);
        assert_eq!(screen.shown().data().as_ptr(), before);
    }

    #[test]
    fn take_shown_gives_the_last_complete_update_not_the_drawing() {
        let mut screen = Screen::new(true);
        screen.resize(2, 1);
        screen.commit();
        let r = Rect::new(0, 0, 1, 1);
        screen.touch(r);
        screen.drawn().fill(r, [9, 9, 9, 0]);
        let shown = screen.take_shown();
        assert_eq!(shown.row(0, 0, 1), &[0, 0, 0, 0]);
        let mut plain = Screen::new(false);
        plain.resize(1, 1);
        plain.drawn().fill(r, [4, 4, 4, 0]);
        assert_eq!(plain.take_shown().row(0, 0, 1), &[4, 4, 4, 0]);
    }
}
