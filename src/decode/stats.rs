//! What a stream held, counted for `rfbplay info` and the conformance
//! tests: rectangles and bytes per encoding, tiles and rectangles per
//! subencoding. The decoders count in fixed arrays indexed by encoding and
//! subencoding, so a tile costs an increment, not a map lookup or a String;
//! [`Counters::stats`] turns them into named maps when someone asks.

use crate::wire::Encoding;
use std::collections::BTreeMap;

/// The subencodings rfbplay counts, named as `rfbplay info` and the corpus
/// metadata name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sub {
    HextileRaw,
    HextileSolid,
    HextileSubrects,
    ZrleRaw,
    ZrleSolid,
    ZrlePackedPalette,
    ZrleRle,
    ZrlePaletteRle,
    TightFill,
    TightJpeg,
    TightCopy,
    TightPalette,
    TightPalette2,
    TightGradient,
}

impl Sub {
    pub const ALL: [Sub; 14] = [
        Sub::HextileRaw,
        Sub::HextileSolid,
        Sub::HextileSubrects,
        Sub::ZrleRaw,
        Sub::ZrleSolid,
        Sub::ZrlePackedPalette,
        Sub::ZrleRle,
        Sub::ZrlePaletteRle,
        Sub::TightFill,
        Sub::TightJpeg,
        Sub::TightCopy,
        Sub::TightPalette,
        Sub::TightPalette2,
        Sub::TightGradient,
    ];

    /// The encoding this is a subencoding of.
    pub fn encoding(self) -> Encoding {
        use Sub::*;
        match self {
            HextileRaw | HextileSolid | HextileSubrects => Encoding::HEXTILE,
            ZrleRaw | ZrleSolid | ZrlePackedPalette | ZrleRle | ZrlePaletteRle => Encoding::ZRLE,
            TightFill | TightJpeg | TightCopy | TightPalette | TightPalette2 | TightGradient => {
                Encoding::TIGHT
            }
        }
    }

    pub fn name(self) -> &'static str {
        use Sub::*;
        match self {
            HextileRaw | ZrleRaw => "raw",
            HextileSolid | ZrleSolid => "solid",
            HextileSubrects => "subrects",
            ZrlePackedPalette => "packed_palette",
            ZrleRle => "rle",
            ZrlePaletteRle => "palette_rle",
            TightFill => "fill",
            TightJpeg => "jpeg",
            TightCopy => "copy",
            TightPalette => "palette",
            TightPalette2 => "palette2",
            TightGradient => "gradient",
        }
    }
}

/// Rectangles and bytes of one encoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PerEncoding {
    rects: u64,
    bytes: u64,
}

const KNOWN: usize = Encoding::ALL.len();

/// The running counts, cheap to bump.
#[derive(Clone, Debug, Default)]
pub struct Counters {
    known: [PerEncoding; KNOWN],
    /// Encodings outside [`Encoding::ALL`]: each stops decoding at its
    /// first rectangle, so there are few.
    other: BTreeMap<i32, PerEncoding>,
    subs: [u64; Sub::ALL.len()],
}

impl Counters {
    fn slot(&mut self, encoding: Encoding) -> &mut PerEncoding {
        match encoding.index() {
            Some(i) => &mut self.known[i],
            None => self.other.entry(encoding.0).or_default(),
        }
    }

    pub fn add_rect(&mut self, encoding: Encoding) {
        self.slot(encoding).rects += 1;
    }

    pub fn add_bytes(&mut self, encoding: Encoding, n: u64) {
        self.slot(encoding).bytes += n;
    }

    #[inline]
    pub fn add_sub(&mut self, sub: Sub) {
        self.subs[sub as usize] += 1;
    }

    /// The counts by name.
    pub fn stats(&self) -> Stats {
        let mut stats = Stats::default();
        let known = Encoding::ALL.iter().zip(&self.known);
        let other = self.other.iter().map(|(n, c)| (Encoding(*n), c));
        for (encoding, c) in known.map(|(e, c)| (*e, c)).chain(other) {
            if *c == PerEncoding::default() {
                continue;
            }
            // A header counts its bytes before its rectangle completes.
            if c.rects > 0 {
                stats.rects.insert(Stats::key(encoding), c.rects);
            }
            stats.bytes.insert(Stats::key(encoding), c.bytes);
        }
        for (sub, &n) in Sub::ALL.iter().zip(&self.subs) {
            if n > 0 {
                stats
                    .subencodings
                    .entry(Stats::key(sub.encoding()))
                    .or_default()
                    .insert(sub.name(), n);
            }
        }
        stats
    }
}

/// Counts of what a stream held, for `rfbplay info`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Rectangles per encoding name (or number when unnamed).
    pub rects: BTreeMap<String, u64>,
    /// Payload bytes per encoding, rectangle headers included.
    pub bytes: BTreeMap<String, u64>,
    /// Subencodings per encoding: Hextile tiles, ZRLE tiles, Tight rectangles.
    pub subencodings: BTreeMap<String, BTreeMap<&'static str, u64>>,
}

impl Stats {
    pub fn key(encoding: Encoding) -> String {
        match encoding.name() {
            Some(n) => n.to_string(),
            None => encoding.0.to_string(),
        }
    }
}
