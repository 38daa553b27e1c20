//! Makes the small self-contained recordings in `testdata/` that cover RRE,
//! every Hextile subencoding bit and every ZRLE tile type, each with the
//! PNG of the picture it was made from.
//!
//! The picture comes first: shapes are painted on an RGB canvas, then small
//! encoders written here (independent of the decoders under test) turn the
//! canvas into RFB rectangles, choosing per tile the cheapest subencoding as
//! real servers do. After writing, the recording is decoded with the crate's
//! player and must equal the painted canvas, and the encoders assert that
//! every subencoding they were meant to cover was emitted.
//!
//! Run: `cargo run --example gen_testdata -- testdata`

use rfbplay::container::FbWriter;
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

type Rgb = [u8; 3];

/// What was drawn, as 8-bit RGB.
#[derive(Clone)]
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<Rgb>,
}

impl Canvas {
    fn new(w: usize, h: usize, c: Rgb) -> Canvas {
        Canvas {
            w,
            h,
            px: vec![c; w * h],
        }
    }
    fn get(&self, x: usize, y: usize) -> Rgb {
        self.px[y * self.w + x]
    }
    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, c: Rgb) {
        for yy in y..(y + h).min(self.h) {
            for xx in x..(x + w).min(self.w) {
                self.px[yy * self.w + xx] = c;
            }
        }
    }
    /// Paints each pixel of an area with `f(x, y)` (area coordinates).
    fn paint(&mut self, x: usize, y: usize, w: usize, h: usize, f: impl Fn(usize, usize) -> Rgb) {
        for yy in 0..h.min(self.h - y) {
            for xx in 0..w.min(self.w - x) {
                self.px[(y + yy) * self.w + x + xx] = f(xx, yy);
            }
        }
    }
    fn png(&self, path: &Path) {
        let raw: Vec<u8> = self.px.iter().flatten().copied().collect();
        image::RgbImage::from_raw(self.w as u32, self.h as u32, raw)
            .expect("size matches")
            .save(path)
            .expect("write png");
    }
}

/// The recorders' wire pixel: B, G, R, X.
fn wire(c: Rgb) -> [u8; 4] {
    [c[2], c[1], c[0], 0]
}

fn rect_header(out: &mut Vec<u8>, x: usize, y: usize, w: usize, h: usize, enc: i32) {
    for v in [x, y, w, h] {
        out.extend_from_slice(&(v as u16).to_be_bytes());
    }
    out.extend_from_slice(&enc.to_be_bytes());
}

fn update_header(out: &mut Vec<u8>, rects: u16) {
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&rects.to_be_bytes());
}

/// Solid areas of one colour covering every pixel of `area` that differs
/// from `bg`: grow right, then down, over uncovered pixels of one colour.
fn subrects(
    c: &Canvas,
    (x0, y0, w, h): (usize, usize, usize, usize),
    bg: Rgb,
) -> Vec<(Rgb, [usize; 4])> {
    let mut covered = vec![false; w * h];
    let mut out = vec![];
    for y in 0..h {
        for x in 0..w {
            let col = c.get(x0 + x, y0 + y);
            if covered[y * w + x] || col == bg {
                continue;
            }
            let same =
                |xx: usize, yy: usize| !covered[yy * w + xx] && c.get(x0 + xx, y0 + yy) == col;
            let mut sw = 1;
            while x + sw < w && same(x + sw, y) {
                sw += 1;
            }
            let mut sh = 1;
            while y + sh < h && (x..x + sw).all(|xx| same(xx, y + sh)) {
                sh += 1;
            }
            for yy in y..y + sh {
                for xx in x..x + sw {
                    covered[yy * w + xx] = true;
                }
            }
            out.push((col, [x, y, sw, sh]));
        }
    }
    out
}

/// Colours of an area, most frequent first (ties by colour, so the output
/// does not depend on hashing).
fn colours(c: &Canvas, (x0, y0, w, h): (usize, usize, usize, usize)) -> Vec<Rgb> {
    let mut n: HashMap<Rgb, usize> = HashMap::new();
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            *n.entry(c.get(x, y)).or_default() += 1;
        }
    }
    let mut v: Vec<(usize, Rgb)> = n.into_iter().map(|(c, k)| (k, c)).collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    v.into_iter().map(|(_, c)| c).collect()
}

/// RRE (RFC 6143 7.7.3) of an area: the most frequent colour as background.
fn rre(out: &mut Vec<u8>, c: &Canvas, area: (usize, usize, usize, usize)) {
    let bg = colours(c, area)[0];
    let subs = subrects(c, area, bg);
    rect_header(out, area.0, area.1, area.2, area.3, 2);
    out.extend_from_slice(&(subs.len() as u32).to_be_bytes());
    out.extend_from_slice(&wire(bg));
    for (col, [x, y, w, h]) in subs {
        out.extend_from_slice(&wire(col));
        for v in [x, y, w, h] {
            out.extend_from_slice(&(v as u16).to_be_bytes());
        }
    }
}

/// Hextile (RFC 6143 7.7.4) of an area; counts the mask bits it used.
fn hextile(
    out: &mut Vec<u8>,
    c: &Canvas,
    area: (usize, usize, usize, usize),
    used: &mut BTreeMap<&'static str, usize>,
) {
    rect_header(out, area.0, area.1, area.2, area.3, 5);
    let (mut bg, mut fg): (Option<Rgb>, Option<Rgb>) = (None, None);
    for ty in (0..area.3).step_by(16) {
        for tx in (0..area.2).step_by(16) {
            let t = (
                area.0 + tx,
                area.1 + ty,
                (area.2 - tx).min(16),
                (area.3 - ty).min(16),
            );
            let cols = colours(c, t);
            let tbg = cols[0];
            let subs = subrects(c, t, tbg);
            let raw_len = t.2 * t.3 * 4;
            let mut mask = 0u8;
            let mut body = vec![];
            if bg != Some(tbg) {
                mask |= 2;
                body.extend_from_slice(&wire(tbg));
            }
            if cols.len() == 2 {
                if fg != Some(cols[1]) {
                    mask |= 4;
                    body.extend_from_slice(&wire(cols[1]));
                }
                mask |= 8;
                body.push(subs.len() as u8);
            } else if cols.len() > 2 {
                mask |= 8 | 16;
                body.push(subs.len() as u8);
            }
            for (col, [x, y, w, h]) in &subs {
                if cols.len() > 2 {
                    body.extend_from_slice(&wire(*col));
                }
                body.push((*x as u8) << 4 | *y as u8);
                body.push(((*w - 1) as u8) << 4 | (*h - 1) as u8);
            }
            if subs.len() > 255 || body.len() >= raw_len {
                out.push(1);
                for y in 0..t.3 {
                    for x in 0..t.2 {
                        out.extend_from_slice(&wire(c.get(t.0 + x, t.1 + y)));
                    }
                }
                *used.entry("Raw").or_default() += 1;
                // Like real servers, assume nothing about colours after a
                // raw tile.
                (bg, fg) = (None, None);
                continue;
            }
            for (bit, name) in [
                (2, "BackgroundSpecified"),
                (4, "ForegroundSpecified"),
                (8, "AnySubrects"),
                (16, "SubrectsColoured"),
            ] {
                if mask & bit != 0 {
                    *used.entry(name).or_default() += 1;
                }
            }
            if mask & 2 == 0 {
                *used.entry("background carried over").or_default() += 1;
            }
            if mask & 8 != 0 && mask & 20 == 0 {
                *used.entry("foreground carried over").or_default() += 1;
            }
            out.push(mask);
            out.extend_from_slice(&body);
            bg = Some(tbg);
            if mask & 16 != 0 {
                fg = None;
            } else if cols.len() == 2 {
                fg = Some(cols[1]);
            }
        }
    }
}

/// A ZRLE run length (RFC 6143 7.7.6): 255s, then the rest, for len - 1.
fn run_length(out: &mut Vec<u8>, len: usize) {
    let mut n = len - 1;
    while n >= 255 {
        out.push(255);
        n -= 255;
    }
    out.push(n as u8);
}

/// One ZRLE tile, the cheapest of the types that can hold it.
fn zrle_tile(
    c: &Canvas,
    t: (usize, usize, usize, usize),
    used: &mut BTreeMap<&'static str, usize>,
) -> Vec<u8> {
    let cp = |col: Rgb| [col[2], col[1], col[0]];
    let pixels: Vec<Rgb> = (0..t.3)
        .flat_map(|y| (0..t.2).map(move |x| (x, y)))
        .map(|(x, y)| c.get(t.0 + x, t.1 + y))
        .collect();
    let mut runs: Vec<(Rgb, usize)> = vec![];
    for p in &pixels {
        match runs.last_mut() {
            Some((col, n)) if col == p => *n += 1,
            _ => runs.push((*p, 1)),
        }
    }
    let palette: Vec<Rgb> = colours(c, t);
    let index = |col: &Rgb| palette.iter().position(|p| p == col).expect("in palette") as u8;
    let mut options: Vec<(&'static str, Vec<u8>)> = vec![];
    let mut raw = vec![0u8];
    pixels.iter().for_each(|p| raw.extend_from_slice(&cp(*p)));
    options.push(("raw", raw));
    if palette.len() == 1 {
        options.push(("solid", [&[1u8][..], &cp(palette[0])].concat()));
    }
    if (2..=16).contains(&palette.len()) {
        let bits = match palette.len() {
            2 => 1,
            3 | 4 => 2,
            _ => 4,
        };
        let mut b = vec![palette.len() as u8];
        palette.iter().for_each(|p| b.extend_from_slice(&cp(*p)));
        for row in pixels.chunks(t.2) {
            let mut packed = vec![0u8; (t.2 * bits).div_ceil(8)];
            for (x, p) in row.iter().enumerate() {
                packed[x * bits / 8] |= index(p) << (8 - bits - (x * bits) % 8);
            }
            b.extend_from_slice(&packed);
        }
        options.push((
            ["", "", "packed 1-bit", "packed 2-bit", "packed 2-bit"]
                .get(palette.len())
                .copied()
                .unwrap_or("packed 4-bit"),
            b,
        ));
    }
    let mut b = vec![128u8];
    for (col, n) in &runs {
        b.extend_from_slice(&cp(*col));
        run_length(&mut b, *n);
    }
    options.push(("plain RLE", b));
    if (2..=127).contains(&palette.len()) {
        let mut b = vec![128 + palette.len() as u8];
        palette.iter().for_each(|p| b.extend_from_slice(&cp(*p)));
        for (col, n) in &runs {
            if *n == 1 {
                b.push(index(col));
            } else {
                b.push(index(col) | 128);
                run_length(&mut b, *n);
            }
        }
        options.push(("palette RLE", b));
    }
    let (name, best) = options
        .into_iter()
        .min_by_key(|(_, b)| b.len())
        .expect("raw is always there");
    *used.entry(name).or_default() += 1;
    if name.contains("RLE") && runs.iter().any(|r| r.1 > 255) {
        *used.entry("run over 255").or_default() += 1;
    }
    best
}

/// ZRLE (RFC 6143 7.7.6) of an area, through the connection's zlib stream.
fn zrle(
    out: &mut Vec<u8>,
    c: &Canvas,
    area: (usize, usize, usize, usize),
    z: &mut flate2::Compress,
    used: &mut BTreeMap<&'static str, usize>,
) {
    rect_header(out, area.0, area.1, area.2, area.3, 16);
    let mut tiles = vec![];
    for ty in (0..area.3).step_by(64) {
        for tx in (0..area.2).step_by(64) {
            let t = (
                area.0 + tx,
                area.1 + ty,
                (area.2 - tx).min(64),
                (area.3 - ty).min(64),
            );
            tiles.extend(zrle_tile(c, t, used));
        }
    }
    let before = z.total_in();
    let mut packed = Vec::with_capacity(tiles.len() * 2 + 1024);
    z.compress_vec(&tiles, &mut packed, flate2::FlushCompress::Sync)
        .expect("deflate");
    assert_eq!(
        (z.total_in() - before) as usize,
        tiles.len(),
        "output space ran out"
    );
    assert!(packed.len() < packed.capacity(), "output space ran out");
    out.extend_from_slice(&(packed.len() as u32).to_be_bytes());
    out.extend_from_slice(&packed);
}

/// Writes the stream as a recording in 7-byte chunks a millisecond apart,
/// so messages, headers and pixels all straddle chunks.
fn write_fb(path: &Path, stream: &[u8]) {
    let mut w = FbWriter::new(Vec::new(), 9);
    for (i, chunk) in stream.chunks(7).enumerate() {
        w.chunk(i as u64 * 1_000_000, chunk).expect("in memory");
    }
    std::fs::write(path, w.finish().expect("in memory")).expect("write fb");
}

/// Decodes the written file with the crate and checks it shows `want`.
fn verify(path: &Path, want: &Canvas) -> BTreeMap<String, BTreeMap<&'static str, u64>> {
    let mut player = Player::open(path, PlayOptions::default()).expect("open");
    let (shot, summary) = rfbplay::export::screen_at(&mut player, None, &NoProgress);
    assert!(
        summary.error.is_none(),
        "{}: {:?}",
        path.display(),
        summary.error
    );
    let shot = shot.expect("an update");
    let want_rgb: Vec<u8> = want.px.iter().flatten().copied().collect();
    assert_eq!(
        (shot.width() as usize, shot.height() as usize),
        (want.w, want.h)
    );
    assert!(
        shot.to_rgb() == want_rgb,
        "{} does not decode to the painted picture",
        path.display()
    );
    player.parser().context().stats().subencodings
}

fn need(used: &BTreeMap<&'static str, usize>, names: &[&str]) {
    let missing: BTreeSet<&&str> = names.iter().filter(|n| !used.contains_key(**n)).collect();
    assert!(
        missing.is_empty(),
        "not covered: {missing:?} (used {used:?})"
    );
}

const NAVY: Rgb = [20, 30, 90];
const WHITE: Rgb = [250, 250, 250];
const RED: Rgb = [220, 40, 40];
const GREEN: Rgb = [40, 200, 80];
const YELLOW: Rgb = [240, 220, 30];

/// A few-colour palette indexed by `i`.
fn tint(i: usize) -> Rgb {
    [
        (i * 53 % 256) as u8,
        (i * 97 % 256) as u8,
        (i * 151 % 256) as u8,
    ]
}

fn gen_rre(dir: &Path) {
    let mut c = Canvas::new(64, 48, NAVY);
    c.fill(4, 4, 20, 10, RED);
    c.fill(10, 8, 30, 6, GREEN);
    c.fill(60, 40, 4, 8, YELLOW);
    c.fill(0, 47, 64, 1, WHITE);
    let mut s = vec![];
    update_header(&mut s, 1);
    rre(&mut s, &c, (0, 0, 64, 48));
    c.fill(20, 10, 30, 20, WHITE);
    c.fill(22, 12, 3, 3, RED);
    c.fill(45, 25, 5, 5, NAVY);
    c.fill(2, 30, 9, 9, GREEN);
    update_header(&mut s, 2);
    rre(&mut s, &c, (20, 10, 30, 20));
    rre(&mut s, &c, (2, 30, 9, 9));
    let path = dir.join("rre.fb");
    write_fb(&path, &s);
    let stats = verify(&path, &c);
    assert!(stats.is_empty());
    c.png(&dir.join("rre.png"));
}

fn gen_hextile(dir: &Path) {
    let mut c = Canvas::new(100, 70, NAVY);
    // Text-like two-colour marks on white, a line across tiles, coloured
    // blocks, and a gradient no subrects can say.
    c.fill(0, 0, 100, 20, WHITE);
    for i in 0..12 {
        c.fill(3 + i * 8, 4 + (i % 3), 2 + i % 4, 7, NAVY);
    }
    c.fill(0, 33, 100, 2, YELLOW);
    c.fill(5, 40, 6, 6, RED);
    c.fill(9, 43, 6, 10, GREEN);
    c.fill(20, 40, 3, 3, WHITE);
    c.paint(64, 48, 36, 22, |x, y| {
        [(x * 7) as u8, (y * 11) as u8, ((x + y) * 5) as u8]
    });
    let mut used = BTreeMap::new();
    let mut s = vec![];
    update_header(&mut s, 1);
    hextile(&mut s, &c, (0, 0, 100, 70), &mut used);
    c.fill(10, 6, 30, 25, GREEN);
    c.fill(12, 8, 4, 4, RED);
    c.paint(30, 20, 10, 10, |x, y| tint(x * 3 + y * 7));
    update_header(&mut s, 1);
    hextile(&mut s, &c, (5, 3, 40, 30), &mut used);
    need(
        &used,
        &[
            "Raw",
            "BackgroundSpecified",
            "ForegroundSpecified",
            "AnySubrects",
            "SubrectsColoured",
            "background carried over",
            "foreground carried over",
        ],
    );
    let path = dir.join("hextile_all.fb");
    write_fb(&path, &s);
    let stats = verify(&path, &c);
    let h = &stats["Hextile"];
    assert!(
        ["raw", "solid", "subrects"]
            .iter()
            .all(|k| h.get(k).is_some_and(|n| *n > 0)),
        "{h:?}"
    );
    c.png(&dir.join("hextile_all.png"));
    eprintln!("hextile_all: {used:?}");
}

fn gen_zrle(dir: &Path) {
    let mut c = Canvas::new(200, 140, WHITE);
    // One kind of content per 64x64 tile of the first update.
    c.fill(0, 0, 64, 64, RED); // solid
    c.paint(64, 0, 64, 64, |x, y| {
        if (x / 3 + y / 2) % 2 == 0 {
            NAVY
        } else {
            WHITE
        }
    }); // 1-bit
    c.paint(128, 0, 64, 64, |x, y| tint((x ^ y) % 3)); // 2-bit
    c.paint(192, 0, 8, 64, |x, y| tint((x * 5 + y) % 4)); // 2-bit, narrow
    c.paint(0, 64, 64, 64, |x, y| tint((x * 7 + y * 3) % 11)); // 4-bit
    c.paint(64, 64, 64, 64, |_, y| tint(y / 5 % 3)); // palette RLE, long runs
    c.paint(128, 64, 64, 64, |x, y| tint(200 + (y * 64 + x) / 8)); // plain RLE
    c.paint(0, 128, 200, 12, |x, y| {
        [(x * 13 + y) as u8, (x * 7) as u8, (y * 29 + x) as u8]
    }); // raw
    let mut used = BTreeMap::new();
    let mut z = flate2::Compress::new(flate2::Compression::default(), true);
    let mut s = vec![];
    update_header(&mut s, 1);
    zrle(&mut s, &c, (0, 0, 200, 140), &mut z, &mut used);
    c.paint(30, 20, 100, 70, |x, y| {
        if (x + y) % 9 < 4 {
            GREEN
        } else {
            tint(x / 10)
        }
    });
    c.fill(60, 40, 1, 1, YELLOW);
    update_header(&mut s, 2);
    zrle(&mut s, &c, (30, 20, 100, 70), &mut z, &mut used);
    zrle(&mut s, &c, (60, 40, 1, 1), &mut z, &mut used);
    need(
        &used,
        &[
            "raw",
            "solid",
            "packed 1-bit",
            "packed 2-bit",
            "packed 4-bit",
            "plain RLE",
            "palette RLE",
            "run over 255",
        ],
    );
    let path = dir.join("zrle_all.fb");
    write_fb(&path, &s);
    let stats = verify(&path, &c);
    let z = &stats["ZRLE"];
    assert!(
        ["raw", "solid", "packed_palette", "rle", "palette_rle"]
            .iter()
            .all(|k| z.get(k).is_some_and(|n| *n > 0)),
        "{z:?}"
    );
    c.png(&dir.join("zrle_all.png"));
    eprintln!("zrle_all: {used:?}");
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "testdata".into());
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir).expect("create output folder");
    gen_rre(dir);
    gen_hextile(dir);
    gen_zrle(dir);
    eprintln!(
        "wrote rre, hextile_all and zrle_all (.fb and .png) to {}",
        dir.display()
    );
}
