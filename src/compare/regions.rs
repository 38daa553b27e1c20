//! Where the differences are, as a few rectangles a reviewer can look at:
//! the 8x8 cells holding counted differences are grouped into 8-connected
//! components, each reported as the exact bounding box of its changed
//! pixels. When there are more components than asked for, the grid is
//! coarsened (2x2 cells become one) and labelled again, so nearby specks
//! merge instead of being dropped; boxes that still overlap are merged.

use super::areas::Rect;
use super::scan::{Cell, CELL};

/// Inclusive pixel bounds and the number of changed pixels inside.
#[derive(Clone, Copy, Debug)]
struct Bx {
    x0: u32,
    y0: u32,
    x1: u32,
    y1: u32,
}

impl Bx {
    fn join(self, o: Bx) -> Bx {
        Bx {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }

    fn rect(self) -> Rect {
        Rect::new(
            self.x0,
            self.y0,
            self.x1 - self.x0 + 1,
            self.y1 - self.y0 + 1,
        )
    }
}

/// The bounding box of every counted difference.
pub(crate) fn bbox(cells: &[Cell], cells_w: usize) -> Option<Rect> {
    grid(cells, cells_w)
        .into_iter()
        .flatten()
        .reduce(Bx::join)
        .map(Bx::rect)
}

fn grid(cells: &[Cell], cells_w: usize) -> Vec<Option<Bx>> {
    cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (c.n > 0).then(|| {
                let (ox, oy) = (((i % cells_w) * CELL) as u32, ((i / cells_w) * CELL) as u32);
                Bx {
                    x0: ox + u32::from(c.x0),
                    y0: oy + u32::from(c.y0),
                    x1: ox + u32::from(c.x1),
                    y1: oy + u32::from(c.y1),
                }
            })
        })
        .collect()
}

/// At most `max` regions, sorted top to bottom, then left to right.
pub(crate) fn regions(cells: &[Cell], cells_w: usize, max: usize) -> Vec<Rect> {
    if max == 0 || cells_w == 0 {
        return Vec::new();
    }
    let mut g = grid(cells, cells_w);
    let (mut gw, mut gh) = (cells_w, cells.len() / cells_w);
    let mut found = label(&g, gw, gh);
    while found.len() > max && (gw > 1 || gh > 1) {
        (g, gw, gh) = coarsen(&g, gw, gh);
        found = label(&g, gw, gh);
    }
    // Components of a coarse grid can still have overlapping boxes (an L
    // around a dot); one box per place reads better.
    loop {
        let mut merged = false;
        'outer: for i in 0..found.len() {
            for j in i + 1..found.len() {
                if found[i].rect().overlaps(&found[j].rect()) {
                    found[i] = found[i].join(found[j]);
                    found.swap_remove(j);
                    merged = true;
                    break 'outer;
                }
            }
        }
        if !merged {
            break;
        }
    }
    let mut rects: Vec<Rect> = found.into_iter().map(Bx::rect).collect();
    rects.sort_by_key(|r| (r.y, r.x));
    rects
}

fn coarsen(g: &[Option<Bx>], gw: usize, gh: usize) -> (Vec<Option<Bx>>, usize, usize) {
    let (nw, nh) = (gw.div_ceil(2), gh.div_ceil(2));
    let mut out: Vec<Option<Bx>> = vec![None; nw * nh];
    for (i, c) in g.iter().enumerate() {
        if let Some(b) = c {
            let slot = &mut out[(i / gw / 2) * nw + (i % gw) / 2];
            *slot = Some(slot.map_or(*b, |s| s.join(*b)));
        }
    }
    (out, nw, nh)
}

/// 8-connected components of the non-empty cells.
fn label(g: &[Option<Bx>], gw: usize, gh: usize) -> Vec<Bx> {
    let mut seen = vec![false; g.len()];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for start in 0..g.len() {
        let Some(first) = g[start] else { continue };
        if seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut acc = first;
        while let Some(i) = stack.pop() {
            let (cx, cy) = (i % gw, i / gw);
            for ny in cy.saturating_sub(1)..=(cy + 1).min(gh - 1) {
                for nx in cx.saturating_sub(1)..=(cx + 1).min(gw - 1) {
                    let j = ny * gw + nx;
                    if let (false, Some(b)) = (seen[j], g[j]) {
                        seen[j] = true;
                        acc = acc.join(b);
                        stack.push(j);
                    }
                }
            }
        }
        out.push(acc);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells_with(points: &[(usize, usize)], w: usize, h: usize) -> (Vec<Cell>, usize) {
        let cw = w.div_ceil(CELL);
        let mut cells = vec![Cell::default(); cw * h.div_ceil(CELL)];
        for &(x, y) in points {
            cells[(y / CELL) * cw + x / CELL].add(x, y);
        }
        (cells, cw)
    }

    #[test]
    fn separate_specks_are_separate_until_too_many() {
        let (cells, cw) = cells_with(&[(1, 1), (2, 2), (40, 3), (9, 9)], 64, 64);
        assert_eq!(
            regions(&cells, cw, 10),
            vec![Rect::new(1, 1, 9, 9), Rect::new(40, 3, 1, 1)]
        );
        assert_eq!(regions(&cells, cw, 1), vec![Rect::new(1, 1, 40, 9)]);
        assert_eq!(bbox(&cells, cw), Some(Rect::new(1, 1, 40, 9)));
        assert_eq!(regions(&cells, cw, 0), vec![]);
    }
}
