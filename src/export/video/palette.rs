//! Colour palettes for GIF frames, made from each frame's own colours.
//!
//! A GIF frame holds at most 256 colours. Screen content nearly always has
//! fewer: then every colour is kept exactly, so a 1-pixel black border stays
//! one black pixel wide. Only frames with more colours (photographs,
//! gradients, scaled pictures) are reduced, and without dithering, which on
//! screen content smears hard edges into bands: the most frequent colours
//! (the window backgrounds, borders and text) stay exact and NeuQuant
//! (`color_quant`) finds the rest. Pixels the previous frame already shows
//! become transparent, which keeps them as they are and compresses well.

use std::collections::HashMap;

/// Colours a GIF frame can hold.
const MAX_COLOURS: usize = 256;

/// Colours kept exactly, by frequency, in a frame that has too many.
const EXACT_WHEN_REDUCED: usize = 127;

/// NeuQuant's sampling factor for large areas: 1 learns from every pixel,
/// 30 from one in thirty; 10 is its authors' balance of speed and quality.
const NEUQUANT_SAMPLING: i32 = 10;

/// Pixels NeuQuant should learn from at least.
const MIN_SAMPLES: usize = 65_536;

/// A frame's pixels as palette indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indexed {
    /// R, G, B of each entry.
    pub palette: Vec<u8>,
    pub indices: Vec<u8>,
    /// The entry that lets the previous frame show through.
    pub transparent: Option<u8>,
    /// Whether every pixel kept its colour exactly.
    pub exact: bool,
}

/// The key of a B, G, R, X pixel: its colour, the padding byte ignored.
fn key(px: &[u8]) -> u32 {
    u32::from(px[0]) | u32::from(px[1]) << 8 | u32::from(px[2]) << 16
}

fn push_rgb(palette: &mut Vec<u8>, colour: u32) {
    palette.extend_from_slice(&[(colour >> 16) as u8, (colour >> 8) as u8, colour as u8]);
}

/// Indexes `bgrx` pixels; where `unchanged` is true the pixel already
/// shows and becomes transparent.
pub fn index(bgrx: &[u8], unchanged: &[bool]) -> Indexed {
    let keep = |i: usize| unchanged.get(i).copied().unwrap_or(false);
    let transparent = (0..bgrx.len() / 4).any(keep);
    let limit = MAX_COLOURS - usize::from(transparent);
    exact(bgrx, &keep, transparent, limit)
        .unwrap_or_else(|| reduced(bgrx, &keep, transparent, limit))
}

/// One entry per colour, in order of first appearance, when they fit.
fn exact(
    bgrx: &[u8],
    keep: &dyn Fn(usize) -> bool,
    transparent: bool,
    limit: usize,
) -> Option<Indexed> {
    let mut entries: HashMap<u32, u8> = HashMap::new();
    let mut palette = Vec::new();
    let mut indices = Vec::with_capacity(bgrx.len() / 4);
    // Screen content comes in runs of one colour: most pixels skip the map.
    let mut run: Option<(u32, u8)> = None;
    // Kept pixels take the entry after the colours, known at the end;
    // until then they hold 255, which no colour has when one is kept.
    for (i, px) in bgrx.chunks_exact(4).enumerate() {
        if keep(i) {
            indices.push(u8::MAX);
            continue;
        }
        let k = key(px);
        let index = match run {
            Some((c, index)) if c == k => index,
            _ => {
                let index = match entries.get(&k) {
                    Some(&index) => index,
                    None if entries.len() >= limit => return None,
                    None => {
                        let index = entries.len() as u8;
                        entries.insert(k, index);
                        push_rgb(&mut palette, k);
                        index
                    }
                };
                run = Some((k, index));
                index
            }
        };
        indices.push(index);
    }
    let clear = transparent.then_some(entries.len() as u8);
    if let Some(t) = clear {
        // A small palette makes small LZW codes.
        if t != u8::MAX {
            for index in indices.iter_mut().filter(|i| **i == u8::MAX) {
                *index = t;
            }
        }
        palette.extend_from_slice(&[0, 0, 0]);
    }
    if palette.is_empty() {
        palette.extend_from_slice(&[0, 0, 0]);
    }
    Some(Indexed {
        palette,
        indices,
        transparent: clear,
        exact: true,
    })
}

/// The most frequent colours exactly, NeuQuant's colours for the rest,
/// each pixel given its nearest entry: no dithering.
fn reduced(bgrx: &[u8], keep: &dyn Fn(usize) -> bool, transparent: bool, limit: usize) -> Indexed {
    let mut counts: HashMap<u32, u32> = HashMap::new();
    for (i, px) in bgrx.chunks_exact(4).enumerate() {
        if !keep(i) {
            *counts.entry(key(px)).or_insert(0) += 1;
        }
    }
    let mut by_count: Vec<(u32, u32)> = counts.into_iter().collect();
    // Ties by colour, so the same frame always gets the same palette.
    by_count.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut entries: HashMap<u32, u8> = HashMap::new();
    let mut palette = Vec::with_capacity(MAX_COLOURS * 3);
    for &(colour, _) in by_count.iter().take(EXACT_WHEN_REDUCED) {
        entries.insert(colour, entries.len() as u8);
        push_rgb(&mut palette, colour);
    }
    // NeuQuant learns from the pixels the exact entries do not cover, as
    // R, G, B, A.
    let mut rest = Vec::new();
    for (i, px) in bgrx.chunks_exact(4).enumerate() {
        if !keep(i) && !entries.contains_key(&key(px)) {
            rest.extend_from_slice(&[px[2], px[1], px[0], 255]);
        }
    }
    let learned = limit - EXACT_WHEN_REDUCED;
    // NeuQuant learns from a fixed share of its input: a small area is
    // repeated so the network sees enough samples to settle.
    let pixels = rest.len() / 4;
    let samples = pixels * 4 * MIN_SAMPLES.div_ceil(pixels.max(1));
    let rest = rest.repeat(samples / rest.len().max(1));
    let sampling = (pixels / MIN_SAMPLES).clamp(1, NEUQUANT_SAMPLING as usize) as i32;
    let nq = color_quant::NeuQuant::new(sampling, learned, &rest);
    let first_learned = EXACT_WHEN_REDUCED as u8;
    for i in 0..learned {
        let [r, g, b, _] = nq.lookup(i).unwrap_or([0, 0, 0, 255]);
        palette.extend_from_slice(&[r, g, b]);
    }
    let clear = transparent.then_some(limit as u8);
    if clear.is_some() {
        palette.extend_from_slice(&[0, 0, 0]);
    }
    let mut indices = Vec::with_capacity(bgrx.len() / 4);
    for (i, px) in bgrx.chunks_exact(4).enumerate() {
        if keep(i) {
            indices.push(limit as u8);
            continue;
        }
        let k = key(px);
        let index = *entries
            .entry(k)
            .or_insert_with(|| first_learned + nq.index_of(&[px[2], px[1], px[0], 255]) as u8);
        indices.push(index);
    }
    Indexed {
        palette,
        indices,
        transparent: clear,
        exact: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bgrx(colours: &[[u8; 3]]) -> Vec<u8> {
        colours.iter().flat_map(|&[r, g, b]| [b, g, r, 0]).collect()
    }

    fn rgb_of(ix: &Indexed, i: usize) -> [u8; 3] {
        let e = usize::from(ix.indices[i]) * 3;
        [ix.palette[e], ix.palette[e + 1], ix.palette[e + 2]]
    }

    #[test]
    fn few_colours_are_kept_exactly_and_unchanged_pixels_are_transparent() {
        let px = [[0, 0, 0], [255, 255, 0], [0, 0, 0], [192, 192, 192]];
        let ix = index(&bgrx(&px), &[false, false, false, true]);
        assert!(ix.exact);
        for (i, want) in px.iter().enumerate().take(3) {
            assert_eq!(&rgb_of(&ix, i), want);
        }
        assert_eq!(Some(ix.indices[3]), ix.transparent);
        // Two colours and the transparent entry: no more.
        assert_eq!(ix.palette.len(), 3 * 3);
    }

    #[test]
    fn many_colours_keep_the_frequent_ones_exact() {
        // A black and grey window around a 32x32 gradient (1024 colours).
        let mut px = vec![[0u8, 0, 0]; 2000];
        px.extend(vec![[192u8, 192, 192]; 2000]);
        for y in 0..32u8 {
            for x in 0..32u8 {
                px.push([x * 8, y * 8, 128]);
            }
        }
        let ix = index(&bgrx(&px), &[]);
        assert!(!ix.exact);
        assert!(ix.palette.len() / 3 <= 256);
        assert_eq!(rgb_of(&ix, 0), [0, 0, 0]);
        assert_eq!(rgb_of(&ix, 2000), [192, 192, 192]);
        // The gradient is close: no channel off by more than a few steps.
        let worst = (4000..px.len())
            .map(|i| {
                let got = rgb_of(&ix, i);
                (0..3)
                    .map(|c| (i32::from(got[c]) - i32::from(px[i][c])).abs())
                    .max()
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0);
        assert!(worst <= 24, "worst channel error {worst}");
    }
}
