//! Finding a template image on the screen, for WaitForIt and ClickItEvent.
//!
//! minimega scans every position in grey levels once a second. Here a
//! position is scored by the mean absolute difference per colour channel
//! (0 = identical, 255 = opposite), and positions are ruled out cheaply
//! first: the difference between the sums of a block of the template and
//! the same block of the screen can never exceed the sum of the pixel
//! differences (triangle inequality), so block sums from an integral image
//! give exact lower bounds. Coarse blocks (the whole template) come first,
//! finer grids (2x2 .. 16x16) next, and only the few positions left are
//! compared pixel by pixel, stopping as soon as the running sum passes the
//! limit. The result is the same as a full scan, at a fraction of its cost.
//! The caller re-searches only the area that changed.

use super::load::Template;
use crate::framebuffer::Framebuffer;
use std::sync::Arc;

/// Where a template was found and how well it matched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Match {
    pub x: u32,
    pub y: u32,
    /// Mean absolute difference per channel, 0..=255.
    pub score: f64,
}

/// Top-left positions to try, `x0..x1` by `y0..y1` (exclusive ends).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Area {
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
}

/// One block of the template with its per-channel sums.
#[derive(Clone, Copy, Debug)]
struct Block {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    sum: [u32; 3],
}

/// A template prepared for searching, with reusable buffers.
#[derive(Debug)]
pub struct Searcher {
    template: Arc<Template>,
    tw: usize,
    th: usize,
    levels: Vec<Vec<Block>>,
    /// Integral images per channel over the searched window, in wrapping
    /// u32: the totals overflow on big screens, but a block sum is exact
    /// modulo 2^32 and a block is at most 4096x4096 pixels of at most 255
    /// (LoadOptions::max_template_pixels), which is below 2^32.
    integral: [Vec<u32>; 3],
}

impl Searcher {
    pub fn new(template: Arc<Template>) -> Searcher {
        let tw = template.width as usize;
        // A hand-built Template may hold fewer rows than it claims; search
        // with the rows it has rather than index past its end.
        let th = (template.height as usize).min(template.bgrx.len() / (tw * 4).max(1));
        let mut levels = Vec::new();
        for g in [1usize, 2, 4, 8, 16] {
            if g > tw || g > th {
                break;
            }
            let mut blocks = Vec::with_capacity(g * g);
            for by in 0..g {
                for bx in 0..g {
                    let (x0, x1) = (bx * tw / g, (bx + 1) * tw / g);
                    let (y0, y1) = (by * th / g, (by + 1) * th / g);
                    let mut sum = [0u32; 3];
                    for y in y0..y1 {
                        let row = &template.bgrx[(y * tw + x0) * 4..(y * tw + x1) * 4];
                        for p in row.chunks_exact(4) {
                            for c in 0..3 {
                                sum[c] = sum[c].wrapping_add(u32::from(p[c]));
                            }
                        }
                    }
                    blocks.push(Block {
                        x0,
                        y0,
                        x1,
                        y1,
                        sum,
                    });
                }
            }
            levels.push(blocks);
        }
        Searcher {
            template,
            tw,
            th,
            levels,
            integral: Default::default(),
        }
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Every top-left position where the template fits on `fb`.
    pub fn whole(&self, fb: &Framebuffer) -> Option<Area> {
        let (w, h) = (fb.width() as usize, fb.height() as usize);
        (self.tw <= w && self.th <= h).then(|| Area {
            x0: 0,
            y0: 0,
            x1: (w - self.tw + 1) as u32,
            y1: (h - self.th + 1) as u32,
        })
    }

    /// The positions whose window overlaps `changed` (a screen rectangle
    /// given as x0, y0, x1, y1 exclusive), clipped to where it fits.
    pub fn touching(&self, fb: &Framebuffer, changed: Area) -> Option<Area> {
        let all = self.whole(fb)?;
        let a = Area {
            x0: changed.x0.saturating_sub(self.tw as u32 - 1).max(all.x0),
            y0: changed.y0.saturating_sub(self.th as u32 - 1).max(all.y0),
            x1: changed.x1.min(all.x1),
            y1: changed.y1.min(all.y1),
        };
        (a.x0 < a.x1 && a.y0 < a.y1).then_some(a)
    }

    /// The best position in `area` scoring at most `max_score`.
    pub fn search(&mut self, fb: &Framebuffer, area: Area, max_score: f64) -> Option<Match> {
        let (w, h) = (fb.width() as usize, fb.height() as usize);
        let (x0, y0) = (area.x0 as usize, area.y0 as usize);
        let (x1, y1) = (area.x1 as usize, area.y1 as usize);
        if x0 >= x1 || y0 >= y1 || x1 - 1 + self.tw > w || y1 - 1 + self.th > h {
            return None;
        }
        // The window of screen pixels any position in the area can see.
        let (ww, wh) = (x1 - x0 + self.tw - 1, y1 - y0 + self.th - 1);
        self.build_integral(fb, x0, y0, ww, wh);
        let n = (self.tw * self.th * 3) as f64;
        let mut limit = (max_score.max(0.0) * n).min(u64::MAX as f64 / 2.0) as u64;
        let mut best: Option<(usize, usize, u64)> = None;
        let stride = ww + 1;
        for y in y0..y1 {
            'pos: for x in x0..x1 {
                let (lx, ly) = (x - x0, y - y0);
                for level in &self.levels {
                    let mut bound = 0u64;
                    for b in level {
                        for (c, integral) in self.integral.iter().enumerate() {
                            let at = |xx: usize, yy: usize| integral[(ly + yy) * stride + lx + xx];
                            let s = at(b.x1, b.y1)
                                .wrapping_sub(at(b.x1, b.y0))
                                .wrapping_sub(at(b.x0, b.y1))
                                .wrapping_add(at(b.x0, b.y0));
                            bound += u64::from(s.abs_diff(b.sum[c]));
                        }
                        if bound > limit {
                            continue 'pos;
                        }
                    }
                }
                if let Some(sad) = self.sad(fb, x, y, limit) {
                    if best.is_none_or(|(_, _, b)| sad < b) {
                        best = Some((x, y, sad));
                        limit = sad;
                    }
                }
            }
        }
        best.map(|(x, y, sad)| Match {
            x: x as u32,
            y: y as u32,
            score: sad as f64 / n,
        })
    }

    /// Sum of absolute differences at (x, y), or None once it passes `limit`.
    fn sad(&self, fb: &Framebuffer, x: usize, y: usize, limit: u64) -> Option<u64> {
        let mut sum = 0u64;
        for ty in 0..self.th {
            let screen = fb.row(x as u32, (y + ty) as u32, self.tw as u32);
            let tmpl = &self.template.bgrx[ty * self.tw * 4..(ty + 1) * self.tw * 4];
            let mut row = 0u32;
            for (a, b) in screen.chunks_exact(4).zip(tmpl.chunks_exact(4)) {
                row += u32::from(a[0].abs_diff(b[0]))
                    + u32::from(a[1].abs_diff(b[1]))
                    + u32::from(a[2].abs_diff(b[2]));
            }
            sum += u64::from(row);
            if sum > limit {
                return None;
            }
        }
        Some(sum)
    }

    fn build_integral(&mut self, fb: &Framebuffer, x0: usize, y0: usize, ww: usize, wh: usize) {
        let stride = ww + 1;
        for integral in &mut self.integral {
            integral.clear();
            integral.resize(stride * (wh + 1), 0);
        }
        for y in 0..wh {
            let row = fb.row(x0 as u32, (y0 + y) as u32, ww as u32);
            let mut run = [0u32; 3];
            for (x, p) in row.chunks_exact(4).enumerate() {
                for c in 0..3 {
                    run[c] = run[c].wrapping_add(u32::from(p[c]));
                    let above = self.integral[c][y * stride + x + 1];
                    self.integral[c][(y + 1) * stride + x + 1] = above.wrapping_add(run[c]);
                }
            }
        }
    }
}

/// The smallest rectangle (x0, y0, x1, y1 exclusive) where two screens of
/// the same size differ, by comparing rows; None when they are equal.
pub fn changed_area(a: &Framebuffer, b: &Framebuffer) -> Option<Area> {
    if a.width() != b.width() || a.height() != b.height() {
        return Some(Area {
            x0: 0,
            y0: 0,
            x1: b.width(),
            y1: b.height(),
        });
    }
    let (w, stride) = (a.width(), a.stride());
    let mut out: Option<Area> = None;
    for (y, (ra, rb)) in a
        .data()
        .chunks_exact(stride)
        .zip(b.data().chunks_exact(stride))
        .enumerate()
    {
        if ra == rb {
            continue;
        }
        let first = ra
            .chunks_exact(4)
            .zip(rb.chunks_exact(4))
            .position(|(p, q)| p != q);
        let last = ra
            .chunks_exact(4)
            .zip(rb.chunks_exact(4))
            .rposition(|(p, q)| p != q);
        let (Some(first), Some(last)) = (first, last) else {
            continue;
        };
        let (fx, lx, y) = (first as u32, last as u32 + 1, y as u32);
        out = Some(match out {
            None => Area {
                x0: fx,
                y0: y,
                x1: lx.min(w),
                y1: y + 1,
            },
            Some(o) => Area {
                x0: o.x0.min(fx),
                y0: o.y0,
                x1: o.x1.max(lx),
                y1: y + 1,
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise_screen(w: u32, h: u32, seed: u32) -> Framebuffer {
        let mut fb = Framebuffer::new(w, h);
        let mut s = seed;
        for y in 0..h {
            for x in 0..w {
                s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let v = (s >> 24) as u8;
                fb.set(x, y, [v, v / 2, 255 - v, 0]);
            }
        }
        fb
    }

    fn cut(fb: &Framebuffer, x: u32, y: u32, w: u32, h: u32) -> Arc<Template> {
        let mut bgrx = Vec::new();
        for yy in y..y + h {
            bgrx.extend_from_slice(fb.row(x, yy, w));
        }
        Arc::new(Template {
            width: w,
            height: h,
            bgrx,
            source: "test".into(),
            path: None,
        })
    }

    #[test]
    fn finds_an_exact_cut_out() {
        let fb = noise_screen(200, 120, 7);
        let mut s = Searcher::new(cut(&fb, 137, 61, 23, 17));
        let all = s.whole(&fb).unwrap();
        let m = s.search(&fb, all, 0.0).unwrap();
        assert_eq!((m.x, m.y, m.score), (137, 61, 0.0));
    }

    #[test]
    fn tolerates_noise_and_reports_its_score() {
        let fb = noise_screen(160, 100, 3);
        let t = cut(&fb, 40, 30, 32, 20);
        // A lossy copy: every channel off by up to 3.
        let mut noisy = (*t).clone();
        for (i, b) in noisy.bgrx.iter_mut().enumerate() {
            *b = b.saturating_add((i % 4) as u8);
        }
        let mut s = Searcher::new(Arc::new(noisy));
        let all = s.whole(&fb).unwrap();
        let m = s.search(&fb, all, 4.0).unwrap();
        assert_eq!((m.x, m.y), (40, 30));
        assert!(m.score > 0.5 && m.score < 2.0, "{}", m.score);
        assert_eq!(s.search(&fb, all, 0.1), None);
    }

    #[test]
    fn agrees_with_a_brute_force_scan() {
        // A blocky screen, where many positions share block sums.
        let mut fb = Framebuffer::new(64, 48);
        for y in 0..48 {
            for x in 0..64 {
                let v = if (x / 5 + y / 3) % 3 == 0 { 200 } else { 30 };
                fb.set(x, y, [v, v, v, 0]);
            }
        }
        let t = cut(&fb, 11, 9, 9, 7);
        let mut s = Searcher::new(t.clone());
        let all = s.whole(&fb).unwrap();
        let found = s.search(&fb, all, f64::INFINITY).unwrap();
        let mut best = (u64::MAX, 0, 0);
        for y in 0..=48 - 7 {
            for x in 0..=64 - 9 {
                let sad = s.sad(&fb, x, y, u64::MAX).unwrap();
                if sad < best.0 {
                    best = (sad, x, y);
                }
            }
        }
        assert_eq!((found.x as usize, found.y as usize), (best.1, best.2));
        assert_eq!(found.score, 0.0);
    }

    #[test]
    fn changed_area_and_touching_positions() {
        let a = noise_screen(50, 40, 1);
        let mut b = a.clone();
        assert_eq!(changed_area(&a, &b), None);
        b.set(10, 12, [1, 2, 3, 0]);
        b.set(20, 30, [1, 2, 3, 0]);
        let c = changed_area(&a, &b).unwrap();
        assert_eq!(
            c,
            Area {
                x0: 10,
                y0: 12,
                x1: 21,
                y1: 31
            }
        );
        let s = Searcher::new(cut(&a, 0, 0, 8, 4));
        assert_eq!(
            s.touching(&b, c),
            Some(Area {
                x0: 3,
                y0: 9,
                x1: 21,
                y1: 31
            })
        );
        // A template larger than the screen fits nowhere.
        assert!(Searcher::new(cut(&noise_screen(60, 5, 1), 0, 0, 60, 5))
            .whole(&a)
            .is_none());
    }
}
