//! The sums behind the searcher's bounds for a loose limit: each window
//! column's per-channel sum over the template's height, slid down a row
//! at a time, their B + G + R totals and running sums along the row, and
//! from those the whole-template bound of every position of a row at once
//! and the column bound of a single position.

use crate::framebuffer::Framebuffer;

/// Turns `v` into its running sums (wrapping), as two chains of additions
/// side by side, one per half, and the first half's total added to the
/// second after (vector code): a chain is one addition per element, which
/// its latency, not the core's width, limits.
#[inline]
pub(super) fn running_sums(v: &mut [u32]) {
    let (a, b) = v.split_at_mut(v.len() / 2);
    let (mut ra, mut rb) = (0u32, 0u32);
    for (pa, pb) in a.iter_mut().zip(b.iter_mut()) {
        ra = ra.wrapping_add(*pa);
        *pa = ra;
        rb = rb.wrapping_add(*pb);
        *pb = rb;
    }
    for pb in &mut b[a.len()..] {
        rb = rb.wrapping_add(*pb);
        *pb = rb;
    }
    for pb in b {
        *pb = pb.wrapping_add(ra);
    }
}

/// Marks in `passes` (one per position of a row) whether the position's
/// whole-template bound, the difference between its window's B + G + R
/// total and the template's, is at most `most`. `prefix` holds running
/// sums of the window's column totals along the row (wrapping, exact as
/// long as a window's total is below 2^32: see [`Searcher::whole_total`]).
/// A plain loop over slices, so the compiler makes vector instructions of
/// it: a few per eight positions.
#[inline]
pub(super) fn whole_bounds(prefix: &[u32], tw: usize, t: u32, most: u32, passes: &mut [u8]) {
    let n = passes.len();
    let (lo, hi) = (&prefix[..n], &prefix[tw..tw + n]);
    for ((p, &l), &h) in passes.iter_mut().zip(lo).zip(hi) {
        *p = u8::from(h.wrapping_sub(l).abs_diff(t) <= most);
    }
}

/// Per-channel sums of each window column over the template's height at
/// the current row of positions (B, G, R, X lanes per column), and the
/// template's own laid out alike (B, G, R, and 0 for X): a position's
/// window columns against the template's give the column bound, the sum
/// over columns of the differences of their sums. It lies between the
/// whole-template bound and the full comparison and costs a few vector
/// instructions per column. Templates up to 257 rows tall keep their sums
/// in 16 bits (255 x 257 is 65535), which halves the memory that sliding
/// the sums down a row touches; taller ones in 32.
#[derive(Debug)]
pub(super) enum Columns {
    Narrow(Vec<u16>, Vec<u16>),
    Wide(Vec<u32>, Vec<u32>),
}

/// A column sum's integer type.
trait Lane: Copy + Default + Into<u32> {
    /// A sum that fits (saturating otherwise).
    fn of_sum(sum: u32) -> Self;
    /// `self + inn - out`.
    fn slide(self, inn: u8, out: u8) -> Self;
    fn diff(self, other: Self) -> u32;
}

impl Lane for u16 {
    fn of_sum(sum: u32) -> u16 {
        u16::try_from(sum).unwrap_or(u16::MAX)
    }
    fn slide(self, inn: u8, out: u8) -> u16 {
        self.wrapping_add(u16::from(inn))
            .wrapping_sub(u16::from(out))
    }
    fn diff(self, other: u16) -> u32 {
        u32::from(self.abs_diff(other))
    }
}

impl Lane for u32 {
    fn of_sum(sum: u32) -> u32 {
        sum
    }
    fn slide(self, inn: u8, out: u8) -> u32 {
        self.wrapping_add(u32::from(inn))
            .wrapping_sub(u32::from(out))
    }
    fn diff(self, other: u32) -> u32 {
        self.abs_diff(other)
    }
}

/// The template's column sums, X lanes left at 0.
#[inline]
fn template_columns<'a, L: Lane>(rows: impl Iterator<Item = &'a [u8]>) -> Vec<L> {
    let mut sums: Vec<u32> = Vec::new();
    for row in rows {
        sums.resize(row.len(), 0);
        for (i, (c, &p)) in sums.iter_mut().zip(row).enumerate() {
            if i % 4 != 3 {
                *c += u32::from(p);
            }
        }
    }
    // At most 255 per row, and the caller picked L for the row count.
    sums.into_iter().map(L::of_sum).collect()
}

#[inline]
fn start_columns<'a, L: Lane>(cols: &mut Vec<L>, rows: impl Iterator<Item = &'a [u8]>, ww: usize) {
    cols.clear();
    cols.resize(ww * 4, L::default());
    for row in rows {
        for (c, &p) in cols.iter_mut().zip(row) {
            *c = c.slide(p, 0);
        }
    }
}

#[inline]
fn slide_columns<L: Lane>(cols: &mut [L], out: &[u8], inn: &[u8]) {
    for ((c, &o), &i) in cols.iter_mut().zip(out).zip(inn) {
        *c = c.slide(i, o);
    }
}

/// Each column's B + G + R from its per-channel sums (`out` has one
/// entry per column): at most 3 x 255 x the template's height, so exact
/// in 32 bits.
#[inline]
fn column_totals<L: Lane>(cols: &[L], out: &mut [u32]) {
    for (o, c) in out.iter_mut().zip(cols.chunks_exact(4)) {
        *o = c[0]
            .into()
            .wrapping_add(c[1].into())
            .wrapping_add(c[2].into());
    }
}

/// Whether the column bound of a position stays within `limit`, 16
/// columns at a time so a clear mismatch stops early.
#[inline]
fn column_bound_passes<L: Lane>(window: &[L], template: &[L], limit: u64) -> bool {
    const MASK: [u32; 64] = {
        let mut m = [u32::MAX; 64];
        let mut i = 3;
        while i < 64 {
            m[i] = 0;
            i += 4;
        }
        m
    };
    let mut total = 0u64;
    for (a, b) in window.chunks(64).zip(template.chunks(64)) {
        let mut sum = 0u32;
        for ((&p, &q), &m) in a.iter().zip(b).zip(&MASK) {
            sum = sum.wrapping_add(p.diff(q) & m);
        }
        total += u64::from(sum);
        if total > limit {
            return false;
        }
    }
    true
}

impl Columns {
    /// The template's column sums, in 16 bits when they fit.
    #[inline]
    pub(super) fn of_template(bgrx: &[u8], tw: usize, th: usize) -> Columns {
        let rows = bgrx.chunks_exact(tw * 4).take(th);
        if th <= usize::from(u16::MAX / 255) {
            Columns::Narrow(Vec::new(), template_columns(rows))
        } else {
            Columns::Wide(Vec::new(), template_columns(rows))
        }
    }

    /// The sums of the `th` rows from `y0` of the `ww` columns from `x0`.
    #[inline]
    pub(super) fn start(&mut self, fb: &Framebuffer, x0: usize, y0: usize, ww: usize, th: usize) {
        let rows = (y0..y0 + th).map(|y| fb.row(x0 as u32, y as u32, ww as u32));
        match self {
            Columns::Narrow(c, _) => start_columns(c, rows, ww),
            Columns::Wide(c, _) => start_columns(c, rows, ww),
        }
    }

    /// Down a row: `out` leaves the window, `inn` enters it.
    #[inline]
    pub(super) fn slide(&mut self, out: &[u8], inn: &[u8]) {
        match self {
            Columns::Narrow(c, _) => slide_columns(c, out, inn),
            Columns::Wide(c, _) => slide_columns(c, out, inn),
        }
    }

    /// Each column's B + G + R, into `out`.
    #[inline]
    pub(super) fn totals(&self, out: &mut [u32]) {
        match self {
            Columns::Narrow(c, _) => column_totals(c, out),
            Columns::Wide(c, _) => column_totals(c, out),
        }
    }

    /// The column bound of the position at window column `lx`.
    #[inline]
    pub(super) fn bound_passes(&self, lx: usize, tw: usize, limit: u64) -> bool {
        match self {
            Columns::Narrow(c, t) => column_bound_passes(&c[lx * 4..(lx + tw) * 4], t, limit),
            Columns::Wide(c, t) => column_bound_passes(&c[lx * 4..(lx + tw) * 4], t, limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_sums_are_a_plain_scan() {
        for n in 0..40u32 {
            let v: Vec<u32> = (0..n).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
            let mut got = v.clone();
            running_sums(&mut got);
            let mut run = 0u32;
            let want: Vec<u32> = v
                .iter()
                .map(|x| {
                    run = run.wrapping_add(*x);
                    run
                })
                .collect();
            assert_eq!(got, want, "{n} elements");
        }
    }
}
