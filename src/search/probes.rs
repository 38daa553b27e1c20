//! The searcher's way for a small limit (exact and near-exact needles): a
//! few probe pixels of the template, its rarest colours and the edges of
//! its text, tested 16 positions at a time in vector instructions, rule
//! out nearly every position before any is compared pixel by pixel.

use super::{better, to_match, Budget, Match, Scan, Searcher, CHECK_EVERY_PIXELS, NO_X};
use crate::framebuffer::Framebuffer;

/// Limits (sums of differences over the template) at or below which the
/// probe pixels rule positions out: one pixel differs by more than this
/// at most positions that do not match, while the block sums need the
/// whole window's colours to shift. An exact search has a limit of 0.
pub(super) const PROBE_LIMIT: u64 = 96;

/// How many probe pixels a position must pass before it is compared.
const PROBES: usize = 8;

/// The template pixels to probe: one of each of its rarest colours (the
/// middle one of its pixels of that colour), then, for templates of few
/// colours (text), pixels spread over the template where the colour
/// changes from the pixel on the left: each has about the odds of the
/// screen's text of matching, so together they rule out nearly all.
pub(super) fn choose_probes(bgrx: &[u8], tw: usize, th: usize) -> Vec<(usize, usize, [u8; 3])> {
    let colour = |i: usize| [bgrx[i * 4], bgrx[i * 4 + 1], bgrx[i * 4 + 2]];
    let pixels = (tw * th).min(bgrx.len() / 4);
    let mut colours: std::collections::HashMap<[u8; 3], Vec<usize>> = Default::default();
    for i in 0..pixels {
        colours.entry(colour(i)).or_default().push(i);
    }
    let mut by_rarity: Vec<([u8; 3], Vec<usize>)> = colours.into_iter().collect();
    by_rarity.sort_by_key(|(c, at)| (at.len(), *c));
    let mut chosen: Vec<usize> = by_rarity
        .iter()
        .take(PROBES / 2)
        .map(|(_, at)| at[at.len() / 2])
        .collect();
    let edges: Vec<usize> = (0..pixels)
        .filter(|&i| i % tw > 0 && colour(i) != colour(i - 1) && !chosen.contains(&i))
        .collect();
    let more = PROBES - chosen.len();
    for k in 0..more.min(edges.len()) {
        let i = edges[(2 * k + 1) * edges.len() / (2 * more)];
        if !chosen.contains(&i) {
            chosen.push(i);
        }
    }
    chosen
        .into_iter()
        .map(|i| (i % tw, i / tw, colour(i)))
        .collect()
}

impl Searcher {
    /// [`Searcher::scan`] for a small limit: each position's probe pixels
    /// first, and only positions they leave within the limit compared.
    pub(super) fn scan_probed(
        &mut self,
        fb: &Framebuffer,
        scan: &mut Scan,
        mut limit: u64,
        budget: &mut Budget<'_>,
    ) -> Option<Match> {
        let area = scan.area;
        let (x0, x1) = (area.x0 as usize, area.x1 as usize);
        let n = (self.tw * self.th * 3) as f64;
        let mut best: Option<(usize, usize, u64)> = None;
        // Each probe's colour repeated over a run of positions, so that a
        // run is ruled out probe by probe in vector instructions, and only
        // the positions every probe leaves in are bounded one by one. They
        // stay made for the limit the scan starts with; as it finds better
        // positions and lowers its limit, the bound below holds them to it.
        if self
            .near
            .as_ref()
            .is_none_or(|(made_for, _)| *made_for != limit)
        {
            let near = self
                .probes
                .iter()
                .map(|&(tx, ty, c)| (tx, ty, Near::new(c, limit)))
                .collect();
            self.near = Some((limit, near));
        }
        let near: &[Probe] = self.near.as_ref().map_or(&[], |(_, near)| near);
        let Some((fx, fy, first)) = near.first() else {
            // No probes (the caller checks first): nothing to rule out
            // with, and the scan ends rather than stay undone.
            scan.next_y = area.y1;
            return None;
        };
        // A copy on the stack, which the compiler keeps in registers
        // through the rows.
        let (fx, fy, first) = (*fx, *fy, first.clone());
        let mut x = scan.next_x as usize;
        let mut compared = 0usize;
        for y in scan.next_y as usize..area.y1 as usize {
            if best.is_some_and(|(_, _, sad)| sad == 0) {
                // Nothing after an exact match beats it.
                break;
            }
            if budget.over() {
                scan.next_x = x as u32;
                scan.next_y = y as u32;
                return best.map(|b| to_match(b, n));
            }
            let first_row = fb.row((x + fx) as u32, (y + fy) as u32, (x1 - x) as u32);
            let mut lx = 0;
            while lx < x1 - x {
                let end = (lx + PROBE_RUN).min(x1 - x);
                // Which of the run's positions have every probe within the
                // limit in each channel, probe by probe while any is left.
                // A partial run at the row's end keeps all its positions
                // for the bound below.
                let mut far = [0u8; PROBE_RUN * 4];
                if end - lx == PROBE_RUN {
                    // Most runs have no position near in the first probe:
                    // that probe's row is fetched once per row of positions,
                    // and its test stays in registers.
                    let first_run = &first_row[lx * 4..end * 4];
                    if !any_near(&far_from(first_run, &first)) {
                        lx = end;
                        continue;
                    }
                    add_far(first_run, &first, &mut far);
                    // A position or two are cheaper to bound one by one
                    // than a run probe by probe.
                    if count_near(&far) > 2 {
                        for (tx, ty, near) in &near[1..] {
                            let run =
                                fb.row((x + lx + tx) as u32, (y + ty) as u32, PROBE_RUN as u32);
                            add_far(run, near, &mut far);
                            if !any_near(&far) {
                                break;
                            }
                        }
                        if !any_near(&far) {
                            lx = end;
                            continue;
                        }
                    }
                }
                for (i, f) in far.chunks_exact(4).enumerate().take(end - lx) {
                    if f != [0; 4] {
                        continue;
                    }
                    let px = x + lx + i;
                    let mut bound = 0;
                    for &(tx, ty, c) in &self.probes {
                        let q = fb.row((px + tx) as u32, (y + ty) as u32, 1);
                        bound += u64::from(q[0].abs_diff(c[0]))
                            + u64::from(q[1].abs_diff(c[1]))
                            + u64::from(q[2].abs_diff(c[2]));
                        if bound > limit {
                            break;
                        }
                    }
                    if bound > limit {
                        continue;
                    }
                    compared += self.tw * self.th;
                    if compared >= CHECK_EVERY_PIXELS {
                        compared = 0;
                        if budget.over() {
                            scan.next_x = px as u32;
                            scan.next_y = y as u32;
                            return best.map(|b| to_match(b, n));
                        }
                    }
                    if let Some(sad) = self.sad(fb, px, y, limit) {
                        if best.is_none_or(|b| better((px, y, sad), b)) {
                            best = Some((px, y, sad));
                            // The positions left come later: only a lower
                            // score beats this one.
                            limit = sad.saturating_sub(1);
                        }
                    }
                }
                lx = end;
            }
            x = x0;
        }
        scan.next_x = area.x0;
        scan.next_y = area.y1;
        best.map(|b| to_match(b, n))
    }
}

/// Positions whose probes [`add_far`] looks at in one go.
const PROBE_RUN: usize = 16;

/// A probe's place in the template (x, y) and its colour as [`Near`].
pub(super) type Probe = (usize, usize, Near);

/// A probe pixel repeated over [`PROBE_RUN`] pixels, with the
/// largest difference per channel a position within the limit can have.
#[derive(Clone, Debug)]
pub(super) struct Near {
    pixels: [u8; PROBE_RUN * 4],
    /// 255 for B, G and R, 0 for X: the X byte is near whatever it holds.
    mask: [u8; PROBE_RUN * 4],
    most: u8,
}

impl Near {
    fn new(c: [u8; 3], limit: u64) -> Near {
        let mut pixels = [0u8; PROBE_RUN * 4];
        for p in pixels.chunks_exact_mut(4) {
            p[..3].copy_from_slice(&c);
        }
        let mut mask = [0u8; PROBE_RUN * 4];
        for m in mask.chunks_exact_mut(16) {
            m.copy_from_slice(&NO_X);
        }
        Near {
            pixels,
            mask,
            most: limit.min(255) as u8,
        }
    }
}

/// [`add_far`] for one probe.
#[inline]
fn far_from(run: &[u8], near: &Near) -> [u8; PROBE_RUN * 4] {
    let mut far = [0u8; PROBE_RUN * 4];
    add_far(run, near, &mut far);
    far
}

/// Ors into `far`, for each of the [`PROBE_RUN`] pixels of `run`, by how
/// much it is farther than `near.most` from the probe colour in each of B,
/// G and R (0 where it is near). Over several probes, a pixel's four bytes
/// stay 0 only where every probe is near. A run of another length changes
/// nothing, so its positions are all kept. Written as plain loops over
/// fixed-size arrays so the compiler makes vector instructions of them.
#[inline]
fn add_far(run: &[u8], near: &Near, far: &mut [u8; PROBE_RUN * 4]) {
    let Ok(run) = <&[u8; PROBE_RUN * 4]>::try_from(run) else {
        return;
    };
    for (((f, &a), &b), &m) in far.iter_mut().zip(run).zip(&near.pixels).zip(&near.mask) {
        // Saturating subtractions rather than abs_diff and a comparison:
        // the form that becomes vector instructions without AVX.
        let d = (a.saturating_sub(b) | b.saturating_sub(a)) & m;
        *f |= d.saturating_sub(near.most);
    }
}

/// How many pixels of `far` (see [`add_far`]) are near.
#[inline]
fn count_near(far: &[u8; PROBE_RUN * 4]) -> u32 {
    let mut count = 0;
    for p in far.chunks_exact(4) {
        count += u32::from(u32::from_le_bytes([p[0], p[1], p[2], p[3]]) == 0);
    }
    count
}

/// Whether any pixel of `far` (see [`add_far`]) is near.
#[inline]
fn any_near(far: &[u8; PROBE_RUN * 4]) -> bool {
    let mut any = false;
    for p in far.chunks_exact(4) {
        any |= u32::from_le_bytes([p[0], p[1], p[2], p[3]]) == 0;
    }
    any
}

#[cfg(test)]
mod tests {
    use super::super::tests::{brute_force, closest, cut, noise_screen};
    use super::super::Area;
    use super::*;
    use std::sync::Arc;

    #[test]
    fn small_limits_probe_pixels_and_agree_with_a_brute_force_scan() {
        // Text-like screen whose X bytes hold noise (a server may send
        // anything there): the probes must ignore X as the scores do.
        let mut fb = noise_screen(70, 30, 9);
        for y in 0..30 {
            for x in 0..70 {
                let v = if (x * 5 + y * 3) % 7 < 4 { 250 } else { 10 };
                let x_byte = ((x * 31 + y * 17) % 255) as u8 + 1;
                let p = fb.row(x, y, 1);
                let mut px = [p[0], p[1], p[2], x_byte];
                if (x + y) % 5 != 0 {
                    px = [v, v, v, x_byte];
                }
                fb.set(x, y, px);
            }
        }
        // One cut inside the first run of PROBE_RUN positions, one from the
        // last columns (among the positions after the last full run).
        for (cx, cy) in [(3, 13), (70 - 11, 5)] {
            probe_search_agrees(&fb, cx, cy);
        }
    }

    #[test]
    fn probed_runs_over_any_area_agree_with_a_brute_force_scan() {
        // Two colours, as in a terminal: every probe colour is common, so
        // runs of positions pass some probes and fail others.
        let (w, h) = (93, 41);
        let mut fb = Framebuffer::new(w, h);
        let mut seed = 5u32;
        for y in 0..h {
            for x in 0..w {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let v = if (seed >> 28) < 5 { 230 } else { 20 };
                fb.set(x, y, [v, v, v, 0]);
            }
        }
        let mut areas = Vec::new();
        for k in 0..12u32 {
            let x0 = (k * 7) % 40;
            let y0 = (k * 5) % 20;
            areas.push((x0, y0, x0 + 1 + (k * 13) % 50, y0 + 1 + (k * 3) % 12));
        }
        for (cx, cy) in [(17, 9), (61, 22), (70, 30)] {
            let (tw, th) = (12, 8);
            let mut t = (*cut(&fb, cx, cy, tw, th)).clone();
            // One pixel off by 1 in one channel: exact searches miss it.
            t.bgrx[(3 * tw as usize + 7) * 4 + 2] ^= 1;
            let t = Arc::new(t);
            let n = f64::from(tw * th * 3);
            let mut s = Searcher::new(t.clone());
            let all = s.whole(&fb).unwrap();
            for (x0, y0, x1, y1) in areas.clone() {
                let area = Area {
                    x0,
                    y0,
                    x1: x1.min(all.x1),
                    y1: y1.min(all.y1),
                };
                let (sad, x, y) = brute_force(&fb, &t, area);
                for sum_limit in [0u64, 1, 40, PROBE_LIMIT] {
                    let want = (sad <= sum_limit).then_some((x, y, sad as f64 / n));
                    let limit = sum_limit as f64 / n;
                    let got = closest(&mut s, &fb, area, limit).map(|m| (m.x, m.y, m.score));
                    assert_eq!(got, want, "at {cx},{cy} in {area:?}, sum limit {sum_limit}");
                    // Stopped before every other row and resumed, passing
                    // the best score so far, as find does.
                    let mut scan = Scan::new(area);
                    let mut best: Option<Match> = None;
                    let mut calls = 0;
                    while !scan.done() {
                        let mut stop = || {
                            calls += 1;
                            calls % 2 == 0
                        };
                        let most = best.map_or(limit, |m| m.score);
                        let mut budget = Budget::unlimited(&mut stop);
                        if let Some(m) = s.scan(&fb, &mut scan, most, &mut budget) {
                            if best.is_none_or(|b| m.score < b.score) {
                                best = Some(m);
                            }
                        }
                    }
                    let got = best.map(|m| (m.x, m.y, m.score));
                    assert_eq!(
                        got, want,
                        "resumed, at {cx},{cy} in {area:?}, sum limit {sum_limit}"
                    );
                }
            }
        }
    }

    fn probe_search_agrees(fb: &Framebuffer, cx: u32, cy: u32) {
        let (tw, th) = (11, 9);
        let mut t = (*cut(fb, cx, cy, tw, th)).clone();
        for p in t.bgrx.chunks_exact_mut(4) {
            p[3] = 0;
        }
        // One pixel off by 2 in one channel: sum of differences 2.
        t.bgrx[(4 * tw as usize + 5) * 4 + 1] ^= 2;
        let t = Arc::new(t);
        let n = f64::from(tw * th * 3);
        let mut sads = Vec::new();
        for y in 0..=30 - th {
            for x in 0..=70 - tw {
                let mut sad = 0u64;
                for j in 0..th {
                    let p = fb.row(x, y + j, tw);
                    let q = &t.bgrx[(j * tw * 4) as usize..][..(tw * 4) as usize];
                    for (a, b) in p.chunks_exact(4).zip(q.chunks_exact(4)) {
                        sad += (0..3).map(|c| u64::from(a[c].abs_diff(b[c]))).sum::<u64>();
                    }
                }
                sads.push((sad, y, x));
            }
        }
        let mut s = Searcher::new(t);
        let all = s.whole(fb).unwrap();
        for sum_limit in [0u64, 1, 2, 3, 50, PROBE_LIMIT] {
            let limit = sum_limit as f64 / n;
            let want = sads
                .iter()
                .filter(|(sad, _, _)| *sad <= sum_limit)
                .min()
                .map(|&(sad, y, x)| (x, y, sad as f64 / n));
            let got = s
                .search(fb, all, limit, &mut Budget::unlimited(&mut || false))
                .best
                .map(|m| (m.x, m.y, m.score));
            assert_eq!(got, want, "sum limit {sum_limit}");
        }
        let exact = s
            .search(fb, all, 2.0 / n, &mut Budget::unlimited(&mut || false))
            .best
            .unwrap();
        assert_eq!((exact.x, exact.y), (cx, cy));
        assert!(s
            .search(fb, all, 1.0 / n, &mut Budget::unlimited(&mut || false))
            .best
            .is_none_or(|m| (m.x, m.y) != (cx, cy)));
    }
}
