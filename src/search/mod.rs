//! Finding a template image on the screen: the one searcher behind the
//! .kb player's WaitForIt and ClickItEvent and behind `rfbplay find`.
//!
//! minimega scans every position in grey levels once a second. Here a
//! position is scored by the mean absolute difference per colour channel
//! (0 = identical, 255 = opposite), and positions are ruled out cheaply
//! first: the difference between the sums of a block of the template and
//! the same block of the screen can never exceed the sum of the pixel
//! differences (triangle inequality), so block sums from an integral image
//! give exact lower bounds. Coarse blocks (the whole template) come first,
//! finer grids (2x2 .. 16x16) next, and only the few positions left are
//! compared pixel by pixel (rows spread over the template first, 16 bytes
//! at a time), stopping as soon as the running sum passes the limit. An
//! exact or near-exact search (a small limit: `find`'s openQA needles at
//! match 100, and every search once an exact match is known) skips the
//! sums: a few probe pixels of the template's rarest colours, compared 16
//! positions at a time, rule out nearly every position for less than a
//! nanosecond each, since one pixel's difference is a lower bound too. The
//! result is the same as a full scan, at a fraction of its cost. The caller
//! re-searches only the area that changed.
//!
//! Some searches cannot be made cheap (a closest match on a photo-like
//! screen), so every search takes a [`Budget`]: it looks at the clock and a
//! stop check between rows of positions and returns its best so far, and a
//! [`Scan`] can resume where it stopped. `rfbplay play` and `rfbplay find`
//! share [`Searcher`]; neither owns it, so it sits beside them rather than
//! inside either.
//!
//! Here: the searcher, its block sums and its pixel comparison. The probe
//! pixels' way for small limits is in `probes`, the column sums behind the
//! bounds for loose ones in `columns`.

mod columns;
mod probes;

use crate::framebuffer::Framebuffer;
use columns::{running_sums, whole_bounds, Columns};
use probes::{choose_probes, Probe, PROBE_LIMIT};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// An image to find on the screen (a .kb WaitForIt/ClickItEvent template,
/// or the anchor of a `find` needle), in the framebuffer's BGRX layout.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    pub width: u32,
    pub height: u32,
    /// B, G, R, X per pixel, rows of `width * 4` bytes.
    pub bgrx: Vec<u8>,
    /// The file it came from, or `inline base64 (N bytes)`.
    pub source: String,
    /// The image file, when it came from one (not inline base64).
    pub path: Option<PathBuf>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Template({}x{} from {})",
            self.width, self.height, self.source
        )
    }
}

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

impl Area {
    /// The smallest area holding both.
    pub fn union(&self, o: Area) -> Area {
        Area {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    /// How many positions it holds.
    pub fn positions(&self) -> u64 {
        u64::from(self.x1.saturating_sub(self.x0)) * u64::from(self.y1.saturating_sub(self.y0))
    }
}

/// When a search gives up and returns what it has.
pub struct Budget<'a> {
    /// The search returns its best so far once this passes.
    pub deadline: Option<Instant>,
    /// Asked with the clock before every row of candidate positions, and
    /// after about a million pixel comparisons within a row; true stops.
    pub stop: &'a mut dyn FnMut() -> bool,
}

impl Budget<'_> {
    /// A budget that never runs out, for tests and small searches.
    pub fn unlimited(stop: &mut dyn FnMut() -> bool) -> Budget<'_> {
        Budget {
            deadline: None,
            stop,
        }
    }

    fn over(&mut self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d) || (self.stop)()
    }
}

/// The outcome of [`search`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Found {
    /// The best position scoring at most the threshold, among those tried.
    pub best: Option<Match>,
    /// Whether every position was tried (false: the deadline passed or
    /// the stop check said so first).
    pub complete: bool,
}

/// A search over an area that can be interrupted and resumed: it
/// remembers the next position to try.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scan {
    pub area: Area,
    next_x: u32,
    next_y: u32,
}

impl Scan {
    pub fn new(area: Area) -> Scan {
        Scan {
            area,
            next_x: area.x0,
            next_y: area.y0,
        }
    }

    /// Whether every position has been tried.
    pub fn done(&self) -> bool {
        self.next_y >= self.area.y1 || self.area.x0 >= self.area.x1
    }

    /// Makes the rows from `y` on be searched again (the screen changed
    /// there), if the search has passed them.
    pub fn rewind_to(&mut self, y: u32) {
        let y = y.max(self.area.y0);
        if y < self.next_y || (y == self.next_y && self.next_x > self.area.x0) {
            self.next_y = y;
            self.next_x = self.area.x0;
        }
    }

    /// How many positions are left.
    pub fn left(&self) -> u64 {
        if self.done() {
            return 0;
        }
        let row = u64::from(self.area.x1 - self.next_x);
        let rows = u64::from(self.area.y1 - self.next_y - 1);
        row + rows * u64::from(self.area.x1 - self.area.x0)
    }
}

/// Searches `region` of `screen` (every position where the template fits,
/// when None) for the position where `template` differs least, among those
/// scoring at most `threshold` (mean difference per channel; `f64::INFINITY`
/// for the closest match wherever it is). Gives up when the budget says
/// so, returning the best found by then.
pub fn search(
    screen: &Framebuffer,
    template: Arc<Template>,
    region: Option<Area>,
    threshold: f64,
    budget: &mut Budget<'_>,
) -> Found {
    let mut searcher = Searcher::new(template);
    let Some(area) = region.or_else(|| searcher.whole(screen)) else {
        return Found {
            best: None,
            complete: true,
        };
    };
    searcher.search(screen, area, threshold, budget)
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

/// Blocks smaller than this many pixels cost more to bound (12 lookups)
/// than to compare (3 differences per pixel), so finer grids stop here.
const MIN_BLOCK_PIXELS: usize = 16;

/// Scores (mean difference per channel) above which a search first tries
/// a sparse grid of positions to tighten its limit.
const GRID_FROM_SCORE: f64 = 16.0;

/// Pixel comparisons between two looks at the clock and the stop check.
pub(super) const CHECK_EVERY_PIXELS: usize = 1 << 20;

/// A template prepared for searching, with reusable buffers.
#[derive(Debug)]
pub struct Searcher {
    template: Arc<Template>,
    tw: usize,
    th: usize,
    levels: Vec<Vec<Block>>,
    /// Template rows in the order they are compared: the busiest rows
    /// first (a row of plain background matches most places on a screen,
    /// a row through text almost none), then spread over the template
    /// (every 4th row first), so a mismatch passes the limit after few rows.
    row_order: Vec<usize>,
    /// Integral images per channel over the searched window, in wrapping
    /// u32: the totals overflow on big screens, but a block sum is exact
    /// modulo 2^32 and a block is at most 4096x4096 pixels of at most 255
    /// (LoadOptions::max_template_pixels), which is below 2^32.
    integral: [Vec<u32>; 3],
    /// The window's and the template's column sums.
    columns: Columns,
    /// Running sums along the row of the columns' B + G + R, so that
    /// every position's window total is one subtraction, and whether each
    /// position of the row passes the whole-template bound: computed for
    /// the whole row in loops the compiler turns into vector code.
    prefix: Vec<u32>,
    passes: Vec<u8>,
    /// A few template pixels (x, y, B, G, R), the rarest colours of the
    /// template first, tried before anything else when the limit is small:
    /// their differences are a lower bound of the whole sum too.
    probes: Vec<(usize, usize, [u8; 3])>,
    /// The probes repeated over a run of positions, for the limit they
    /// were made for: a search made of many small scans makes them once.
    near: Option<(u64, Vec<Probe>)>,
}

impl Searcher {
    pub fn new(template: Arc<Template>) -> Searcher {
        let tw = template.width as usize;
        // A hand-built Template may hold fewer rows than it claims; search
        // with the rows it has rather than index past its end.
        let th = (template.height as usize).min(template.bgrx.len() / (tw * 4).max(1));
        let mut levels = Vec::new();
        for g in [1usize, 2, 4, 8, 16] {
            if g > tw || g > th || (g > 1 && (tw / g) * (th / g) < MIN_BLOCK_PIXELS) {
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
        let mut row_order: Vec<usize> = (0..4).flat_map(|k| (k..th).step_by(4)).collect();
        // How busy a row is: the differences between neighbouring pixels.
        let busy = |ty: usize| -> u64 {
            let row = &template.bgrx[ty * tw * 4..(ty + 1) * tw * 4];
            row.chunks_exact(4)
                .zip(row.chunks_exact(4).skip(1))
                .map(|(p, q)| (0..3).map(|c| u64::from(p[c].abs_diff(q[c]))).sum::<u64>())
                .sum()
        };
        row_order.sort_by_cached_key(|&ty| std::cmp::Reverse(busy(ty)));
        let probes = choose_probes(&template.bgrx, tw, th);
        let columns = Columns::of_template(&template.bgrx, tw, th);
        Searcher {
            probes,
            near: None,
            template,
            tw,
            th,
            levels,
            row_order,
            integral: Default::default(),
            columns,
            prefix: Vec::new(),
            passes: Vec::new(),
        }
    }

    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The template's B + G + R total, for the whole-template bound, when
    /// every window's total fits in 32 bits (templates up to 5.6 million
    /// pixels); larger ones go straight to the column bound.
    fn whole_total(&self) -> Option<u32> {
        let most = (self.tw * self.th) as u64 * 3 * 255;
        let [b, g, r] = self.levels.first()?.first()?.sum;
        (most < 1 << 32).then(|| b.wrapping_add(g).wrapping_add(r))
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

    /// Whether searches scoring at most `max_score` rule positions out by
    /// a few probe pixels (an exact or near-exact needle): a scan then
    /// costs little next to decoding the update it follows.
    pub fn probes_rule_out(&self, max_score: f64) -> bool {
        let n = (self.tw * self.th * 3) as f64;
        let limit = (max_score.max(0.0) * n).min(u64::MAX as f64 / 2.0) as u64;
        limit <= PROBE_LIMIT && !self.probes.is_empty()
    }

    /// The best position in `area` scoring at most `max_score`; see [`search`].
    pub fn search(
        &mut self,
        fb: &Framebuffer,
        area: Area,
        max_score: f64,
        budget: &mut Budget<'_>,
    ) -> Found {
        let mut scan = Scan::new(area);
        let best = self.scan(fb, &mut scan, max_score, budget);
        Found {
            best,
            complete: scan.done(),
        }
    }

    /// Goes on with `scan` on `fb` until it is done or the budget runs
    /// out; the best position it tried this time scoring at most
    /// `max_score`. A caller after the closest match over several calls
    /// passes the best score so far, so only better positions come back.
    pub fn scan(
        &mut self,
        fb: &Framebuffer,
        scan: &mut Scan,
        max_score: f64,
        budget: &mut Budget<'_>,
    ) -> Option<Match> {
        let (w, h) = (fb.width() as usize, fb.height() as usize);
        let area = scan.area;
        let (x0, x1, y1) = (area.x0 as usize, area.x1 as usize, area.y1 as usize);
        let y0 = scan.next_y as usize;
        if scan.done() || x1 - 1 + self.tw > w || y1 - 1 + self.th > h {
            scan.next_y = area.y1;
            return None;
        }
        // The window of screen pixels any position left can see.
        let ww = x1 - x0 + self.tw - 1;
        let n = (self.tw * self.th * 3) as f64;
        let mut limit = (max_score.max(0.0) * n).min(u64::MAX as f64 / 2.0) as u64;
        let mut best: Option<(usize, usize, u64)> = None;
        let check_every = (CHECK_EVERY_PIXELS / (self.tw * self.th)).max(1);
        let mut x = scan.next_x as usize;
        if limit <= PROBE_LIMIT && !self.probes.is_empty() {
            return self.scan_probed(fb, scan, limit, budget);
        }
        // A fresh search with a loose limit first tries a sparse grid of
        // positions (1 in 256), so the limit is near the best score before
        // the full pass and its bounds rule out far more. Not under a
        // threshold of a few levels (find's default, 2): the bounds alone
        // rule out nearly every position there, and the grid's full
        // comparisons would be most of the work.
        let loose = max_score > GRID_FROM_SCORE;
        if loose && (x, y0) == (x0, area.y0 as usize) && area.positions() >= 4096 {
            let mut since_check = 0;
            for gy in (y0..y1).step_by(16) {
                for gx in (x0..x1).step_by(16) {
                    since_check += 1;
                    if since_check >= check_every {
                        since_check = 0;
                        if budget.over() {
                            return best.map(|b| to_match(b, n));
                        }
                    }
                    if let Some(sad) = self.sad(fb, gx, gy, limit) {
                        if best.is_none_or(|b| better((gx, gy, sad), b)) {
                            best = Some((gx, gy, sad));
                            limit = sad;
                        }
                    }
                }
            }
        }
        // The whole-template bound comes from column sums slid down the
        // window a row at a time and across it a position at a time: a few
        // additions per position, in a buffer that stays in the cache. It
        // compares B + G + R totals: one running sum instead of three, and
        // the column bound that follows holds each channel to account. The
        // finer grids need the integral images, built only once enough
        // positions pass the coarse bound to be worth it (a loose limit);
        // until then the few that pass are compared directly.
        let whole = self.whole_total();
        self.columns.start(fb, x0, y0, ww, self.th);
        let count = x1 - x0;
        self.prefix.clear();
        self.prefix.resize(ww + 1, 0);
        self.passes.clear();
        self.passes.resize(count, 1);
        // Row where the integral images start, once built.
        let mut integral_at: Option<usize> = None;
        let mut passed = 0u64;
        for y in y0..y1 {
            if best.is_some_and(|(bx, by, sad)| sad == 0 && (by, bx) < (y, x)) {
                // Nothing after an exact match beats it.
                break;
            }
            if budget.over() {
                scan.next_x = x as u32;
                scan.next_y = y as u32;
                return best.map(|b| to_match(b, n));
            }
            if let Some((bx, by, sad)) = best {
                // Past the grid's best, an equal score no longer wins.
                if (by, bx) < (y, x0) && sad > 0 {
                    limit = limit.min(sad - 1);
                }
            }
            if y > y0 {
                let out = fb.row(x0 as u32, (y - 1) as u32, ww as u32);
                let inn = fb.row(x0 as u32, (y - 1 + self.th) as u32, ww as u32);
                self.columns.slide(out, inn);
            }
            // Which positions of the row the whole-template bound leaves in:
            // a running sum along the row, then each window's total as a
            // difference of two, for the whole row at once.
            if let Some(t) = whole {
                // Each column's B + G + R, then their running sums along
                // the row.
                self.columns.totals(&mut self.prefix[1..]);
                running_sums(&mut self.prefix[1..]);
                let most = u32::try_from(limit).unwrap_or(u32::MAX);
                whole_bounds(&self.prefix, self.tw, t, most, &mut self.passes);
            }
            let mut since_check = 0;
            let mut lx = x.saturating_sub(x0);
            while lx < count {
                // Eight positions at a time past runs ruled out.
                if let Some(eight) = self.passes.get(lx..lx + 8) {
                    if u64::from_le_bytes(eight.try_into().unwrap_or([1; 8])) == 0 {
                        lx += 8;
                        continue;
                    }
                }
                lx += 1;
                if self.passes[lx - 1] == 0 {
                    continue;
                }
                let px = x0 + lx - 1;
                if !self.columns.bound_passes(lx - 1, self.tw, limit) {
                    continue;
                }
                since_check += 1;
                if since_check == check_every {
                    since_check = 0;
                    if budget.over() {
                        scan.next_x = px as u32;
                        scan.next_y = y as u32;
                        return best.map(|b| to_match(b, n));
                    }
                }
                passed += 1;
                let tried = ((y - y0) * (x1 - x0) + lx) as u64;
                if integral_at.is_none() && self.levels.len() > 1 && passed > 256 + tried / 64 {
                    let wh = y1 - y + self.th - 1;
                    self.build_integral(fb, x0, y, ww, wh);
                    integral_at = Some(y);
                }
                if let Some(iy) = integral_at {
                    if !self.fine_bounds_pass(px - x0, y - iy, ww + 1, limit) {
                        continue;
                    }
                }
                if let Some(sad) = self.sad(fb, px, y, limit) {
                    if best.is_none_or(|b| better((px, y, sad), b)) {
                        best = Some((px, y, sad));
                        // Every position left comes later, so only a lower
                        // score beats this one: on an even screen, where
                        // every bound equals the full sum, the bounds then
                        // rule out all the rest.
                        limit = sad.saturating_sub(1);
                    }
                }
            }
            x = x0;
        }
        scan.next_x = area.x0;
        scan.next_y = area.y1;
        best.map(|b| to_match(b, n))
    }

    /// Whether the block sums of the grids finer than the whole template
    /// leave the position at (lx, ly) of the integral images within `limit`.
    fn fine_bounds_pass(&self, lx: usize, ly: usize, stride: usize, limit: u64) -> bool {
        for level in &self.levels[1..] {
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
                    return false;
                }
            }
        }
        true
    }

    /// Sum of absolute differences at (x, y), or None once it passes `limit`.
    #[inline]
    fn sad(&self, fb: &Framebuffer, x: usize, y: usize, limit: u64) -> Option<u64> {
        let mut sum = 0u64;
        let tw4 = self.tw * 4;
        for &ty in &self.row_order {
            let screen = fb.row(x as u32, (y + ty) as u32, self.tw as u32);
            let tmpl = &self.template.bgrx[ty * tw4..(ty + 1) * tw4];
            sum += u64::from(row_sad(screen, tmpl));
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

/// Keeps B, G and R of four pixels and clears X.
pub(super) const NO_X: [u8; 16] = [
    255, 255, 255, 0, 255, 255, 255, 0, 255, 255, 255, 0, 255, 255, 255, 0,
];

/// Sum of absolute differences of the B, G and R bytes of two rows. The
/// X byte is masked out rather than skipped, so the loop works on 16 bytes
/// at a time and the compiler turns it into vector instructions (four
/// times faster than pixel by pixel).
#[inline]
fn row_sad(screen: &[u8], tmpl: &[u8]) -> u32 {
    const MASK: [u8; 16] = NO_X;
    let mut acc = [0u32; 16];
    let (mut a, mut b) = (screen.chunks_exact(16), tmpl.chunks_exact(16));
    for (p, q) in (&mut a).zip(&mut b) {
        for i in 0..16 {
            acc[i] += u32::from(p[i].abs_diff(q[i]) & MASK[i]);
        }
    }
    let mut sum: u32 = acc.iter().sum();
    for (p, q) in a
        .remainder()
        .chunks_exact(4)
        .zip(b.remainder().chunks_exact(4))
    {
        sum += u32::from(p[0].abs_diff(q[0]))
            + u32::from(p[1].abs_diff(q[1]))
            + u32::from(p[2].abs_diff(q[2]));
    }
    sum
}

/// Whether (x, y, sad) beats `b`: a lower sum, or the same sum earlier
/// in reading order, so ties go to the top-left one whatever the order of
/// the search.
#[inline]
pub(super) fn better(
    (x, y, sad): (usize, usize, u64),
    (bx, by, bsad): (usize, usize, u64),
) -> bool {
    sad < bsad || (sad == bsad && (y, x) < (by, bx))
}

#[inline]
pub(super) fn to_match((x, y, sad): (usize, usize, u64), n: f64) -> Match {
    Match {
        x: x as u32,
        y: y as u32,
        score: sad as f64 / n,
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

    pub(super) fn noise_screen(w: u32, h: u32, seed: u32) -> Framebuffer {
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

    pub(super) fn cut(fb: &Framebuffer, x: u32, y: u32, w: u32, h: u32) -> Arc<Template> {
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

    /// Pixel by pixel, independent of the searcher's vector rows: the sum
    /// of differences of the template at every position of `area`, and
    /// the lowest with its place (the first in reading order among equals).
    pub(super) fn brute_force(fb: &Framebuffer, t: &Template, area: Area) -> (u64, u32, u32) {
        let mut best = (u64::MAX, 0, 0);
        for y in area.y0..area.y1 {
            for x in area.x0..area.x1 {
                let mut sad = 0u64;
                for j in 0..t.height {
                    for i in 0..t.width {
                        let p = fb.row(x + i, y + j, 1);
                        let q = &t.bgrx[((j * t.width + i) * 4) as usize..][..3];
                        sad += (0..3).map(|c| u64::from(p[c].abs_diff(q[c]))).sum::<u64>();
                    }
                }
                if sad < best.0 {
                    best = (sad, x, y);
                }
            }
        }
        best
    }

    /// The searcher's best position in `area` scoring at most `max_score`.
    pub(super) fn closest(
        s: &mut Searcher,
        fb: &Framebuffer,
        area: Area,
        max_score: f64,
    ) -> Option<Match> {
        s.search(fb, area, max_score, &mut Budget::unlimited(&mut || false))
            .best
    }

    #[test]
    fn finds_an_exact_cut_out() {
        let fb = noise_screen(200, 120, 7);
        let mut s = Searcher::new(cut(&fb, 137, 61, 23, 17));
        let all = s.whole(&fb).unwrap();
        let m = s
            .search(&fb, all, 0.0, &mut Budget::unlimited(&mut || false))
            .best
            .unwrap();
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
        let m = s
            .search(&fb, all, 4.0, &mut Budget::unlimited(&mut || false))
            .best
            .unwrap();
        assert_eq!((m.x, m.y), (40, 30));
        assert!(m.score > 0.5 && m.score < 2.0, "{}", m.score);
        assert_eq!(
            s.search(&fb, all, 0.1, &mut Budget::unlimited(&mut || false))
                .best,
            None
        );
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
        let found = closest(&mut s, &fb, all, f64::INFINITY).unwrap();
        let best = brute_force(&fb, &t, all);
        assert_eq!((found.x, found.y), (best.1, best.2));
        assert_eq!(found.score, 0.0);
        // Away from the exact match, the closest one agrees too.
        let area = Area {
            x0: 20,
            y0: 20,
            x1: 56,
            y1: 42,
        };
        let near = closest(&mut s, &fb, area, f64::INFINITY).unwrap();
        let best = brute_force(&fb, &t, area);
        assert_eq!((near.x, near.y), (best.1, best.2));
        assert_eq!(near.score, best.0 as f64 / (9 * 7 * 3) as f64);
    }

    #[test]
    fn an_even_screen_gives_its_first_position() {
        // Every position scores the same: the first in reading order wins,
        // after the sparse grid and the full pass alike.
        let mut fb = Framebuffer::new(160, 120);
        for y in 0..120 {
            for x in 0..160 {
                fb.set(x, y, [40, 50, 60, 0]);
            }
        }
        let t = cut(&noise_screen(30, 20, 5), 0, 0, 30, 20);
        let want: u64 = t
            .bgrx
            .chunks_exact(4)
            .map(|p| {
                u64::from(p[0].abs_diff(40))
                    + u64::from(p[1].abs_diff(50))
                    + u64::from(p[2].abs_diff(60))
            })
            .sum();
        let mut s = Searcher::new(t);
        let all = s.whole(&fb).unwrap();
        assert!(all.positions() >= 4096, "large enough for the grid");
        for area in [
            all,
            Area {
                x0: 7,
                y0: 9,
                x1: 20,
                y1: 30,
            },
        ] {
            let m = closest(&mut s, &fb, area, f64::INFINITY).unwrap();
            assert_eq!((m.x, m.y), (area.x0, area.y0));
            assert_eq!(m.score, want as f64 / (30.0 * 20.0 * 3.0));
        }
    }

    #[test]
    fn tall_and_short_templates_agree_with_a_brute_force_scan() {
        // 257 rows keep their column sums in 16 bits, 258 need 32: both
        // must find the closest position a pixel-by-pixel scan finds.
        let fb = noise_screen(40, 300, 11);
        for th in [257u32, 258] {
            let mut t = (*cut(&fb, 13, 21, 6, th)).clone();
            for (i, b) in t.bgrx.iter_mut().enumerate() {
                *b = b.saturating_add((i % 7) as u8);
            }
            let t = Arc::new(t);
            let mut s = Searcher::new(t.clone());
            assert_eq!(matches!(s.columns, Columns::Narrow(..)), th == 257);
            let all = s.whole(&fb).unwrap();
            let found = closest(&mut s, &fb, all, 8.0).unwrap();
            let best = brute_force(&fb, &t, all);
            assert_eq!((found.x, found.y), (best.1, best.2), "{th} rows");
            assert_eq!(found.score, best.0 as f64 / f64::from(6 * th * 3));
        }
    }

    #[test]
    fn every_limit_agrees_with_a_brute_force_scan() {
        // Text-like content: few positions share the template's sums, so
        // tight limits compare the survivors directly and loose ones build
        // the finer grids; both must give the brute-force answer.
        let mut fb = noise_screen(90, 60, 5);
        for y in 0..60 {
            for x in 0..90 {
                if (x * 7 + y * 3) % 11 < 6 {
                    fb.set(x, y, [240, 240, 240, 0]);
                }
            }
        }
        let t = cut(&fb, 31, 17, 16, 12);
        let mut noisy = (*t).clone();
        for (i, b) in noisy.bgrx.iter_mut().enumerate() {
            *b = b.wrapping_add((i % 7) as u8);
        }
        let t = Arc::new(noisy);
        let mut sads = Vec::new();
        for y in 0..=60 - 12 {
            for x in 0..=90 - 16 {
                let mut sad = 0u64;
                for j in 0..12 {
                    let p = fb.row(x, y + j, 16);
                    let q = &t.bgrx[(j * 16 * 4) as usize..][..64];
                    for (a, b) in p.chunks_exact(4).zip(q.chunks_exact(4)) {
                        sad += (0..3).map(|c| u64::from(a[c].abs_diff(b[c]))).sum::<u64>();
                    }
                }
                sads.push((sad, y, x));
            }
        }
        let n = (16 * 12 * 3) as f64;
        let mut s = Searcher::new(t);
        let all = s.whole(&fb).unwrap();
        for limit in [
            0.0,
            0.05,
            0.15,
            1.0,
            3.0,
            6.0,
            20.0,
            60.0,
            120.0,
            f64::INFINITY,
        ] {
            let want = sads
                .iter()
                .filter(|(sad, _, _)| *sad as f64 / n <= limit)
                .min()
                .map(|&(sad, y, x)| (x, y, sad as f64 / n));
            let got = s
                .search(&fb, all, limit, &mut Budget::unlimited(&mut || false))
                .best
                .map(|m| (m.x, m.y, m.score));
            assert_eq!(got, want, "limit {limit}");
        }
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
