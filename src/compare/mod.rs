//! Screenshot comparison: does `actual` look like `expected`, and where
//! not? This is the core of `rfbplay compare` and of any check that holds a
//! screen (a decoded PNG, or a framebuffer in memory) against a reference.
//!
//! [`compare`] takes two [`ImageView`]s and [`Options`] and returns a
//! [`Comparison`]: how many pixels differ beyond the perceptual threshold
//! (pixelmatch's YIQ metric, as `scan.rs` describes), how many were only
//! anti-aliasing, their bounding box, a few regions, and the changes under
//! each mask. [`compare_in`] also takes the rectangles a caller knows to be
//! the only ones that may differ (a recording's dirty rectangles), and
//! [`compare_and_draw`] also draws the diff image. [`Tolerance`] turns the
//! counts into same or different. Files are [`png`]'s business.

pub mod areas;
pub mod png;
pub mod recording;
mod regions;
mod scan;
pub mod suite;
pub mod view;

pub use areas::{parse_mask_file, AreaError, MaskFile, Rect};
pub use view::{ImageView, Layout, OwnedImage};

use view::{Bgrx, Pixels, Rgb, Rgba, Typed};

/// Errors of the in-memory comparison (files have their own, in [`png`]).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CompareError {
    #[error("a {width}x{height} {layout:?} image with a stride of {stride} bytes does not fit in {len} bytes")]
    BadView {
        width: u32,
        height: u32,
        stride: usize,
        layout: Layout,
        len: usize,
    },
    #[error("threshold {0} is outside 0..=1")]
    BadThreshold(f64),
}

/// How to compare.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// 0 to 1, the scale of pixelmatch and odiff: two pixels differ when
    /// their YIQ distance exceeds `35215 * threshold^2`. 0.1 by default.
    pub threshold: f64,
    /// Whether pixels that look like anti-aliasing in either image are
    /// left out of the count (pixelmatch's default, `includeAA: false`).
    pub detect_aa: bool,
    /// Every pixel whose R, G, B or A differs counts; no threshold, no
    /// anti-aliasing detection.
    pub exact: bool,
    /// Areas whose pixels never count (they are still counted per mask).
    pub masks: Vec<Rect>,
    /// When not empty, only these areas are compared (an openQA needle's
    /// `match` areas).
    pub select: Vec<Rect>,
    /// At most this many regions are reported (neighbours merge).
    pub max_regions: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threshold: 0.1,
            detect_aa: true,
            exact: false,
            masks: Vec::new(),
            select: Vec::new(),
            max_regions: 32,
        }
    }
}

/// When a comparison counts as "same". With neither limit, no pixel may
/// differ; with one or both, each given one must hold. Different sizes
/// are never the same.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Tolerance {
    pub max_diff_pixels: Option<u64>,
    pub max_diff_ratio: Option<f64>,
}

/// The two sizes when they differ: a layout change, not a pixel count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SizeMismatch {
    pub expected: [u32; 2],
    pub actual: [u32; 2],
}

/// Changed pixels under one mask (they do not count in `diff_pixels`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MaskCount {
    pub rect: Rect,
    pub diff_pixels: u64,
}

/// What a comparison found.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// The expected image's size.
    pub width: u32,
    pub height: u32,
    /// Set when the sizes differ; the pixel fields are then empty.
    pub size_mismatch: Option<SizeMismatch>,
    /// Pixels over the threshold, not anti-aliasing, not masked, selected.
    pub diff_pixels: u64,
    /// Pixels over the threshold that were taken for anti-aliasing.
    pub aa_pixels: u64,
    /// Bounding box of the counted pixels.
    pub bbox: Option<Rect>,
    /// Bounding boxes of groups of counted pixels, top to bottom.
    pub regions: Vec<Rect>,
    /// One entry per mask of the options, in their order (clipped).
    pub masks: Vec<MaskCount>,
}

impl Comparison {
    /// A comparison of `width` x `height` that has found no difference
    /// yet, with a zero count for each of `areas`' masks.
    fn nothing_yet(width: u32, height: u32, areas: &areas::RowAreas) -> Comparison {
        Comparison {
            width,
            height,
            size_mismatch: None,
            diff_pixels: 0,
            aa_pixels: 0,
            bbox: None,
            regions: Vec::new(),
            masks: areas
                .masks
                .iter()
                .map(|&rect| MaskCount {
                    rect,
                    diff_pixels: 0,
                })
                .collect(),
        }
    }

    /// Counted pixels over all pixels of the image (0 for an empty one).
    pub fn diff_ratio(&self) -> f64 {
        let all = u64::from(self.width) * u64::from(self.height);
        if all == 0 {
            0.0
        } else {
            self.diff_pixels as f64 / all as f64
        }
    }

    pub fn is_same(&self, t: &Tolerance) -> bool {
        if self.size_mismatch.is_some() {
            return false;
        }
        match (t.max_diff_pixels, t.max_diff_ratio) {
            (None, None) => self.diff_pixels == 0,
            (p, r) => {
                p.is_none_or(|p| self.diff_pixels <= p) && r.is_none_or(|r| self.diff_ratio() <= r)
            }
        }
    }
}

/// How the diff image is laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DiffMode {
    /// Marks over a faded grey copy of the expected image.
    #[default]
    Overlay,
    /// expected | overlay | actual, side by side.
    SideBySide,
}

/// An 8-bit RGB image, rows packed.
#[derive(Clone, PartialEq, Eq)]
pub struct DiffImage {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

impl std::fmt::Debug for DiffImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DiffImage({}x{})", self.width, self.height)
    }
}

/// Compares `actual` against `expected`.
pub fn compare(
    expected: &ImageView<'_>,
    actual: &ImageView<'_>,
    options: &Options,
) -> Result<Comparison, CompareError> {
    compare_in(expected, actual, options, None)
}

/// What [`compare`] finds for two images known to be identical (the same
/// file bytes) of this size, without reading a pixel: nothing differs, and
/// each mask is reported, clipped, with no change under it.
pub fn identical(width: u32, height: u32, options: &Options) -> Result<Comparison, CompareError> {
    if !(0.0..=1.0).contains(&options.threshold) {
        return Err(CompareError::BadThreshold(options.threshold));
    }
    let areas = areas::RowAreas::new(width, height, &options.select, None, &options.masks);
    Ok(Comparison::nothing_yet(width, height, &areas))
}

/// Compares only inside `dirty` when given: the caller knows the images
/// are equal elsewhere (a framebuffer's damage since the reference), so
/// the rest is not read. The result is the same as [`compare`]'s whenever
/// that holds.
pub fn compare_in(
    expected: &ImageView<'_>,
    actual: &ImageView<'_>,
    options: &Options,
    dirty: Option<&[Rect]>,
) -> Result<Comparison, CompareError> {
    run(expected, actual, options, dirty, None).map(|(c, _)| c)
}

/// Compares and draws the diff image: changed pixels red, anti-aliasing
/// yellow, over the expected image in faded grey; masked and unselected
/// areas hatched blue, changes inside them pink. No image when the sizes
/// differ.
pub fn compare_and_draw(
    expected: &ImageView<'_>,
    actual: &ImageView<'_>,
    options: &Options,
    dirty: Option<&[Rect]>,
    mode: DiffMode,
) -> Result<(Comparison, Option<DiffImage>), CompareError> {
    run(expected, actual, options, dirty, Some(mode))
}

fn run(
    a: &ImageView<'_>,
    b: &ImageView<'_>,
    o: &Options,
    dirty: Option<&[Rect]>,
    draw: Option<DiffMode>,
) -> Result<(Comparison, Option<DiffImage>), CompareError> {
    if !(0.0..=1.0).contains(&o.threshold) {
        return Err(CompareError::BadThreshold(o.threshold));
    }
    let (w, h) = (a.width(), a.height());
    let areas = areas::RowAreas::new(w, h, &o.select, dirty, &o.masks);
    let mut result = Comparison::nothing_yet(w, h, &areas);
    if (w, h) != (b.width(), b.height()) {
        result.size_mismatch = Some(SizeMismatch {
            expected: [w, h],
            actual: [b.width(), b.height()],
        });
        return Ok((result, None));
    }
    let params = scan::Params {
        max_delta: 35215.0 * o.threshold * o.threshold,
        detect_aa: o.detect_aa && !o.exact,
        exact: o.exact,
    };
    let mut overlay = draw.map(|_| vec![0u8; w as usize * h as usize * 3]);
    let s = dispatch(a, b, &params, &areas, overlay.as_deref_mut());
    result.diff_pixels = s.totals.diff;
    result.aa_pixels = s.totals.aa;
    for (m, n) in result.masks.iter_mut().zip(&s.totals.masked) {
        m.diff_pixels = *n;
    }
    result.bbox = regions::bbox(&s.cells, s.cells_w);
    result.regions = regions::regions(&s.cells, s.cells_w, o.max_regions);
    let image = match (draw, overlay) {
        (Some(DiffMode::Overlay), Some(rgb)) => Some(DiffImage {
            width: w,
            height: h,
            rgb,
        }),
        (Some(DiffMode::SideBySide), Some(rgb)) => Some(side_by_side(a, &rgb, b)),
        _ => None,
    };
    Ok((result, image))
}

/// One compiled scan per pair of layouts.
fn dispatch(
    a: &ImageView<'_>,
    b: &ImageView<'_>,
    p: &scan::Params,
    areas: &areas::RowAreas,
    out: Option<&mut [u8]>,
) -> scan::Scan {
    fn go<A: Pixels, B: Pixels>(
        a: &ImageView<'_>,
        b: &ImageView<'_>,
        p: &scan::Params,
        areas: &areas::RowAreas,
        out: Option<&mut [u8]>,
    ) -> scan::Scan {
        scan::scan(Typed::<A>::new(a), Typed::<B>::new(b), p, areas, out)
    }
    use Layout as L;
    match (a.layout(), b.layout()) {
        (L::Rgb, L::Rgb) => go::<Rgb, Rgb>(a, b, p, areas, out),
        (L::Rgb, L::Rgba) => go::<Rgb, Rgba>(a, b, p, areas, out),
        (L::Rgb, L::Bgrx) => go::<Rgb, Bgrx>(a, b, p, areas, out),
        (L::Rgba, L::Rgb) => go::<Rgba, Rgb>(a, b, p, areas, out),
        (L::Rgba, L::Rgba) => go::<Rgba, Rgba>(a, b, p, areas, out),
        (L::Rgba, L::Bgrx) => go::<Rgba, Bgrx>(a, b, p, areas, out),
        (L::Bgrx, L::Rgb) => go::<Bgrx, Rgb>(a, b, p, areas, out),
        (L::Bgrx, L::Rgba) => go::<Bgrx, Rgba>(a, b, p, areas, out),
        (L::Bgrx, L::Bgrx) => go::<Bgrx, Bgrx>(a, b, p, areas, out),
    }
}

/// expected | overlay | actual, as one RGB image three times as wide.
fn side_by_side(a: &ImageView<'_>, overlay: &[u8], b: &ImageView<'_>) -> DiffImage {
    let (w, h) = (a.width() as usize, a.height() as usize);
    let mut rgb = vec![0u8; w * 3 * h * 3];
    for (y, row) in rgb.chunks_exact_mut(w * 9).enumerate() {
        let (left, rest) = row.split_at_mut(w * 3);
        let (mid, right) = rest.split_at_mut(w * 3);
        for x in 0..w {
            let p = a.rgba(x as u32, y as u32);
            left[x * 3..x * 3 + 3].copy_from_slice(&p[..3]);
            let q = b.rgba(x as u32, y as u32);
            right[x * 3..x * 3 + 3].copy_from_slice(&q[..3]);
        }
        mid.copy_from_slice(&overlay[y * w * 3..(y + 1) * w * 3]);
    }
    DiffImage {
        width: (w * 3) as u32,
        height: h as u32,
        rgb,
    }
}
