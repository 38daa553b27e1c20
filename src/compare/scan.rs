//! The per-pixel metric and the scan that applies it to two images.
//!
//! The metric is pixelmatch's, so thresholds mean the same as in
//! pixelmatch, odiff and BlazeDiff: the squared distance between two
//! colours in YIQ space, weighted 0.5053 Y, 0.299 I, 0.1957 Q, against
//! `35215 * threshold^2` (35215 being the largest possible distance).
//! Semi-transparent pixels are blended onto white first. A pixel over the
//! threshold may still be anti-aliasing: the detector of V. Vyšniauskas
//! (2009), as pixelmatch applies it, looks at the 3x3 neighbourhood for
//! both a darker and a brighter neighbour, one of which sits in a flat area
//! of both images.
//!
//! Speed comes from not computing the metric where bytes are equal: each
//! row is compared as one byte slice first, a differing row in runs of 16
//! pixels, and only differing pixels reach the colour maths. Rows are
//! split into bands of 64 that run on all cores; each band owns its rows
//! of the 8x8 cell grid that [`super::regions`] labels, and its rows of
//! the diff image, so bands share nothing mutable.

use super::areas::{RowAreas, Runs};
use super::view::{Pixels, Typed};
use rayon::prelude::*;
use std::any::TypeId;

/// Side of the square cells differences are gathered in for regions.
pub(crate) const CELL: usize = 8;
/// Rows of cells per band of work.
const BAND_CELLS: usize = 8;
const BAND_ROWS: usize = CELL * BAND_CELLS;
/// Pixels compared as one byte slice inside a differing row.
const RUN: usize = 16;

pub(crate) const RED: [u8; 3] = [255, 0, 0];
pub(crate) const YELLOW: [u8; 3] = [255, 255, 0];
/// A change inside a mask or outside the selected areas: shown, not counted.
pub(crate) const IGNORED_CHANGE: [u8; 3] = [255, 170, 170];
pub(crate) const HATCH: [u8; 3] = [0, 96, 255];
/// Opacity of the expected image under the marks, as in pixelmatch.
const FADE: f64 = 0.1;

/// Differences gathered in one 8x8 cell: how many, and where within it.
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct Cell {
    pub n: u32,
    pub x0: u8,
    pub y0: u8,
    pub x1: u8,
    pub y1: u8,
}

impl Cell {
    /// Counts a difference at (x, y) of the image: it lands in the cell
    /// that holds it, at its place within that cell.
    #[inline]
    pub fn add(&mut self, x: usize, y: usize) {
        let (cx, cy) = ((x % CELL) as u8, (y % CELL) as u8);
        if self.n == 0 {
            *self = Cell {
                n: 1,
                x0: cx,
                y0: cy,
                x1: cx,
                y1: cy,
            };
        } else {
            self.n += 1;
            self.x0 = self.x0.min(cx);
            self.y0 = self.y0.min(cy);
            self.x1 = self.x1.max(cx);
            self.y1 = self.y1.max(cy);
        }
    }
}

pub(crate) struct Params {
    pub max_delta: f64,
    pub detect_aa: bool,
    pub exact: bool,
}

#[derive(Default)]
pub(crate) struct Totals {
    pub diff: u64,
    pub aa: u64,
    /// Changed pixels under each mask (counted whether or not they count).
    pub masked: Vec<u64>,
}

/// The scan's answer: totals and the cell grid, `cells_w` cells a row.
pub(crate) struct Scan {
    pub totals: Totals,
    pub cells: Vec<Cell>,
    pub cells_w: usize,
}

/// Scans `a` (expected) against `b` (actual), same size, and draws the
/// overlay into `out` (RGB, `a.width * 3` bytes a row) when given.
pub(crate) fn scan<A: Pixels, B: Pixels>(
    a: Typed<'_, A>,
    b: Typed<'_, B>,
    p: &Params,
    areas: &RowAreas,
    out: Option<&mut [u8]>,
) -> Scan {
    let (w, h) = (a.width, a.height);
    let cells_w = w.div_ceil(CELL);
    let cells_h = h.div_ceil(CELL);
    let mut cells = vec![Cell::default(); cells_w * cells_h];
    let masks = areas.masks.len();
    if w == 0 || h == 0 {
        return Scan {
            totals: Totals {
                masked: vec![0; masks],
                ..Totals::default()
            },
            cells,
            cells_w,
        };
    }
    let band = |i: usize, cells: &mut [Cell], out: Option<&mut [u8]>| {
        let y0 = i * BAND_ROWS;
        scan_band(&a, &b, p, areas, y0, (y0 + BAND_ROWS).min(h), cells, out)
    };
    let bands: Vec<Totals> = match out {
        Some(out) => cells
            .par_chunks_mut(cells_w * BAND_CELLS)
            .zip(out.par_chunks_mut(BAND_ROWS * w * 3))
            .enumerate()
            .map(|(i, (c, o))| band(i, c, Some(o)))
            .collect(),
        None => cells
            .par_chunks_mut(cells_w * BAND_CELLS)
            .enumerate()
            .map(|(i, c)| band(i, c, None))
            .collect(),
    };
    let mut totals = Totals {
        masked: vec![0; masks],
        ..Totals::default()
    };
    for t in bands {
        totals.diff += t.diff;
        totals.aa += t.aa;
        for (sum, n) in totals.masked.iter_mut().zip(t.masked) {
            *sum += n;
        }
    }
    Scan {
        totals,
        cells,
        cells_w,
    }
}

#[allow(clippy::too_many_arguments)]
fn scan_band<A: Pixels, B: Pixels>(
    a: &Typed<'_, A>,
    b: &Typed<'_, B>,
    p: &Params,
    areas: &RowAreas,
    y0: usize,
    y1: usize,
    cells: &mut [Cell],
    mut out: Option<&mut [u8]>,
) -> Totals {
    let same_layout = TypeId::of::<A>() == TypeId::of::<B>();
    let w = a.width;
    let cells_w = w.div_ceil(CELL);
    let mut t = Totals {
        masked: vec![0; areas.masks.len()],
        ..Totals::default()
    };
    let mut looked: Runs = Vec::new();
    let mut ignored: Runs = Vec::new();
    let mut mrow: Vec<(u32, u32, usize)> = Vec::new();
    for y in y0..y1 {
        let mut orow = out
            .as_deref_mut()
            .map(|o| &mut o[(y - y0) * w * 3..(y - y0 + 1) * w * 3]);
        if let Some(o) = orow.as_deref_mut() {
            draw_faded_row(a, y, o);
            for pick in [RowAreas::masked, RowAreas::unselected] {
                pick(areas, y as u32, &mut ignored);
                hatch(o, y, &ignored);
            }
        }
        areas.looked(y as u32, &mut looked);
        if areas.has_masks() {
            areas.masks_on_row(y as u32, &mut mrow);
        }
        let crow = &mut cells[((y - y0) / CELL) * cells_w..][..cells_w];
        for &(x0, x1) in &looked {
            let (x0, x1) = (x0 as usize, x1 as usize);
            if same_layout && a.row(y, x0, x1) == b.row(y, x0, x1) {
                continue;
            }
            let mut rx = x0;
            while rx < x1 {
                let re = (rx + RUN).min(x1);
                if !run_equal::<A, B>(same_layout, a.row(y, rx, re), b.row(y, rx, re)) {
                    for x in rx..re {
                        let pa = a.px(x, y);
                        let pb = b.px(x, y);
                        if pa == pb {
                            continue;
                        }
                        let aa = if p.exact {
                            false
                        } else {
                            if color_delta(pa, pb) <= p.max_delta {
                                continue;
                            }
                            p.detect_aa && (antialiased(a, x, y, b) || antialiased(b, x, y, a))
                        };
                        let mut in_mask = false;
                        for &(m0, m1, i) in &mrow {
                            if (m0 as usize..m1 as usize).contains(&x) {
                                in_mask = true;
                                if !aa {
                                    t.masked[i] += 1;
                                }
                            }
                        }
                        let colour = if aa {
                            if !in_mask {
                                t.aa += 1;
                            }
                            YELLOW
                        } else if in_mask {
                            IGNORED_CHANGE
                        } else {
                            t.diff += 1;
                            crow[x / CELL].add(x, y);
                            RED
                        };
                        if let Some(o) = orow.as_deref_mut() {
                            o[x * 3..x * 3 + 3].copy_from_slice(&colour);
                        }
                    }
                }
                rx = re;
            }
        }
        if let Some(o) = orow {
            // Changes outside the selected areas are not looked at above;
            // show them too, so a reviewer sees what the selection hid.
            areas.unselected(y as u32, &mut ignored);
            for &(x0, x1) in &ignored {
                for x in x0 as usize..x1 as usize {
                    if a.px(x, y) != b.px(x, y)
                        && (p.exact || color_delta(a.px(x, y), b.px(x, y)) > p.max_delta)
                    {
                        o[x * 3..x * 3 + 3].copy_from_slice(&IGNORED_CHANGE);
                    }
                }
            }
        }
    }
    t
}

/// Whether two runs of pixels hold the same colours: one byte comparison
/// for equal layouts, else a branch-free pass the compiler can vectorise.
#[inline(always)]
fn run_equal<A: Pixels, B: Pixels>(same_layout: bool, ra: &[u8], rb: &[u8]) -> bool {
    if same_layout {
        return ra == rb;
    }
    ra.chunks_exact(A::BPP)
        .zip(rb.chunks_exact(B::BPP))
        .fold(true, |eq, (p, q)| eq & (A::rgba(p) == B::rgba(q)))
}

/// The expected image in grey, faded towards white.
fn draw_faded_row<A: Pixels>(a: &Typed<'_, A>, y: usize, o: &mut [u8]) {
    let row = a.row(y, 0, a.width);
    for (src, dst) in row.chunks_exact(A::BPP).zip(o.chunks_exact_mut(3)) {
        let [r, g, b, al] = A::rgba(src);
        let luma = rgb2y(f64::from(r), f64::from(g), f64::from(b));
        let v = blend(luma, FADE * f64::from(al) / 255.0);
        dst.fill(v.clamp(0.0, 255.0) as u8);
    }
}

/// Diagonal stripes over ignored columns.
fn hatch(o: &mut [u8], y: usize, runs: &Runs) {
    for &(x0, x1) in runs {
        for x in x0 as usize..x1 as usize {
            if (x + y) % 8 < 2 {
                o[x * 3..x * 3 + 3].copy_from_slice(&HATCH);
            }
        }
    }
}

#[inline(always)]
fn rgb2y(r: f64, g: f64, b: f64) -> f64 {
    r * 0.29889531 + g * 0.58662247 + b * 0.11448223
}

#[inline(always)]
fn rgb2i(r: f64, g: f64, b: f64) -> f64 {
    r * 0.59597799 - g * 0.2741761 - b * 0.32180189
}

#[inline(always)]
fn rgb2q(r: f64, g: f64, b: f64) -> f64 {
    r * 0.21147017 - g * 0.52261711 + b * 0.31114694
}

/// A colour channel of a semi-transparent pixel, seen over white.
#[inline(always)]
fn blend(c: f64, alpha: f64) -> f64 {
    255.0 + (c - 255.0) * alpha
}

#[inline(always)]
fn opaque(p: [u8; 4]) -> (f64, f64, f64) {
    let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
    if p[3] == 255 {
        (r, g, b)
    } else {
        let al = f64::from(p[3]) / 255.0;
        (blend(r, al), blend(g, al), blend(b, al))
    }
}

/// Squared, weighted YIQ distance between two pixels (0 when equal).
#[inline]
pub(crate) fn color_delta(p: [u8; 4], q: [u8; 4]) -> f64 {
    if p == q {
        return 0.0;
    }
    let (r1, g1, b1) = opaque(p);
    let (r2, g2, b2) = opaque(q);
    let y = rgb2y(r1, g1, b1) - rgb2y(r2, g2, b2);
    let i = rgb2i(r1, g1, b1) - rgb2i(r2, g2, b2);
    let q = rgb2q(r1, g1, b1) - rgb2q(r2, g2, b2);
    0.5053 * y * y + 0.299 * i * i + 0.1957 * q * q
}

/// Brightness difference between two pixels.
#[inline]
fn luma_delta(p: [u8; 4], q: [u8; 4]) -> f64 {
    if p == q {
        return 0.0;
    }
    let (r1, g1, b1) = opaque(p);
    let (r2, g2, b2) = opaque(q);
    rgb2y(r1, g1, b1) - rgb2y(r2, g2, b2)
}

/// The 3x3 neighbourhood of (x, y), clipped to the image, and whether the
/// pixel sits on the image's edge (an edge pixel starts with one "equal
/// neighbour" for the image border, as in pixelmatch).
#[inline]
fn around(x: usize, y: usize, w: usize, h: usize) -> (usize, usize, usize, usize, u32) {
    let (x0, y0) = (x.saturating_sub(1), y.saturating_sub(1));
    let (x2, y2) = ((x + 1).min(w - 1), (y + 1).min(h - 1));
    let edge = x == x0 || x == x2 || y == y0 || y == y2;
    (x0, y0, x2, y2, u32::from(edge))
}

/// Whether pixel (x1, y1) of `img` looks like anti-aliasing: among its
/// neighbours at most two equal it, and there is both a darker and a
/// brighter one, the darkest or the brightest of which lies in a flat area
/// (3+ equal neighbours) of both images.
fn antialiased<P: Pixels, Q: Pixels>(
    img: &Typed<'_, P>,
    x1: usize,
    y1: usize,
    other: &Typed<'_, Q>,
) -> bool {
    let (x0, y0, x2, y2, mut zeroes) = around(x1, y1, img.width, img.height);
    let centre = img.px(x1, y1);
    let (mut min, mut max) = (0.0f64, 0.0f64);
    let (mut min_at, mut max_at) = ((0, 0), (0, 0));
    // Columns outer, rows inner, as pixelmatch walks them: ties between
    // equally dark neighbours resolve the same way.
    for x in x0..=x2 {
        for y in y0..=y2 {
            if x == x1 && y == y1 {
                continue;
            }
            let d = luma_delta(centre, img.px(x, y));
            if d == 0.0 {
                zeroes += 1;
                if zeroes > 2 {
                    return false;
                }
            } else if d < min {
                min = d;
                min_at = (x, y);
            } else if d > max {
                max = d;
                max_at = (x, y);
            }
        }
    }
    if min == 0.0 || max == 0.0 {
        return false;
    }
    (many_siblings(img, min_at.0, min_at.1) && many_siblings(other, min_at.0, min_at.1))
        || (many_siblings(img, max_at.0, max_at.1) && many_siblings(other, max_at.0, max_at.1))
}

/// Whether 3+ neighbours of (x1, y1) have exactly its colour.
fn many_siblings<P: Pixels>(img: &Typed<'_, P>, x1: usize, y1: usize) -> bool {
    let (x0, y0, x2, y2, mut zeroes) = around(x1, y1, img.width, img.height);
    let centre = img.px(x1, y1);
    for x in x0..=x2 {
        for y in y0..=y2 {
            if x == x1 && y == y1 {
                continue;
            }
            if img.px(x, y) == centre {
                zeroes += 1;
            }
            if zeroes > 2 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn black_to_white_is_all_brightness() {
        // White and black have no chroma: the distance is the Y term alone.
        let d = color_delta([0, 0, 0, 255], [255, 255, 255, 255]);
        assert!((d - 0.5053 * 255.0 * 255.0).abs() < 0.01, "{d}");
        assert!(d < 35215.0);
        assert_eq!(color_delta([1, 2, 3, 255], [1, 2, 3, 255]), 0.0);
    }

    #[test]
    fn transparent_is_white() {
        assert!(color_delta([0, 0, 0, 0], [255, 255, 255, 255]) < 1e-9);
    }
}
