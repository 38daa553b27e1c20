//! BGRX to yuv420p colour conversion, of the rows that changed.
//!
//! Screen recordings change a few lines at a time (a clock, a line of
//! typing), yet converting a whole 1024x768 picture costs about 2 ms, as
//! much as x264 takes to encode it. The encoder thread keeps the last
//! picture it converted and converts again only the pairs of rows (one
//! chroma row each) holding a row that differs from the previous picture.
//! Which rows differ is found by comparing the pictures themselves, while
//! the playing thread copies them (see `Canvas::draw_tracked`), not from
//! what the decoder reported, so CopyRect, resizes and cursor drawing
//! cannot leave a stale row behind.
//!
//! The matrix is BT.601 into limited range, as swscale's default and as the
//! stream says (SMPTE 170M, MPEG range); each chroma sample is the mean of
//! its 2x2 block of pixels.

/// A yuv420p picture kept up to date with a stream of BGRX pictures of one
/// even size, with the row pairs each update converted.
#[derive(Debug)]
pub struct Incremental {
    width: usize,
    height: usize,
    /// The Y plane, then U, then V, each tightly packed.
    data: Vec<u8>,
    /// Whether `data` shows a picture yet.
    started: bool,
    /// Row pairs the last [`Incremental::update`] converted.
    changed: Vec<usize>,
}

impl Incremental {
    /// For pictures of even `width` x `height` (rows of `width * 4` bytes).
    pub fn new(width: u32, height: u32) -> Incremental {
        let (w, h) = (width as usize, height as usize);
        Incremental {
            width: w,
            height: h,
            data: vec![0; w * h + 2 * ((w / 2) * (h / 2))],
            started: false,
            changed: Vec::new(),
        }
    }

    /// Takes the next picture: converts the row pairs holding a row that
    /// `rows` marks as changed since the previous picture (every pair the
    /// first time, or when `rows` is `None`). [`Incremental::changed`]
    /// then lists them: pair p is luma rows 2p and 2p+1 and chroma row p.
    pub fn update(&mut self, bgrx: &[u8], rows: Option<&[bool]>) {
        let (w, h) = (self.width, self.height);
        let row = w * 4;
        self.changed.clear();
        if w < 2 || h < 2 || bgrx.len() < row * h {
            return;
        }
        let rows = rows.filter(|r| self.started && r.len() == h);
        let (y_plane, rest) = self.data.split_at_mut(w * h);
        let cw = w / 2;
        let (u_plane, v_plane) = rest.split_at_mut(cw * (h / 2));
        for p in 0..h / 2 {
            let pair = &bgrx[2 * p * row..(2 * p + 2) * row];
            if rows.is_some_and(|r| !r[2 * p] && !r[2 * p + 1]) {
                continue;
            }
            let (top, bottom) = pair.split_at(row);
            let (y0, y1) = y_plane[2 * p * w..(2 * p + 2) * w].split_at_mut(w);
            luma_row(top, y0);
            luma_row(bottom, y1);
            chroma_row(
                top,
                bottom,
                &mut u_plane[p * cw..(p + 1) * cw],
                &mut v_plane[p * cw..(p + 1) * cw],
            );
            self.changed.push(p);
        }
        self.started = true;
    }

    /// Row pairs the last [`Incremental::update`] converted.
    pub fn changed(&self) -> &[usize] {
        &self.changed
    }

    /// The three planes and their row lengths.
    pub fn planes(&self) -> [(&[u8], usize); 3] {
        let (w, h) = (self.width, self.height);
        let (y, rest) = self.data.split_at(w * h);
        let (u, v) = rest.split_at((w / 2) * (h / 2));
        [(y, w), (u, w / 2), (v, w / 2)]
    }
}

/// The whole yuv420p picture (Y, U and V planes back to back) of a BGRX
/// picture of even `width` x `height`.
pub fn yuv420_of(bgrx: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut fresh = Incremental::new(width, height);
    fresh.update(bgrx, None);
    fresh.data
}

/// BT.601 limited-range luma of a row of BGRX pixels, each read as one
/// little-endian word so the loop vectorises on whole pixels.
fn luma_row(src: &[u8], out: &mut [u8]) {
    for (y, p) in out.iter_mut().zip(src.chunks_exact(4)) {
        let v = match p {
            [b, g, r, x] => u32::from_le_bytes([*b, *g, *r, *x]),
            _ => 0,
        };
        let (b, g, r) = (v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff);
        *y = ((66 * r + 129 * g + 25 * b + 128 + (16 << 8)) >> 8) as u8;
    }
}

/// One row of U and V from two rows of BGRX pixels: each sample from the
/// mean of its 2x2 block.
fn chroma_row(top: &[u8], bottom: &[u8], us: &mut [u8], vs: &mut [u8]) {
    let blocks = top
        .chunks_exact(8)
        .zip(bottom.chunks_exact(8))
        .zip(us.iter_mut().zip(vs.iter_mut()));
    for ((t, b), (u, v)) in blocks {
        let sum = |i: usize| {
            i32::from(t[i]) + i32::from(t[i + 4]) + i32::from(b[i]) + i32::from(b[i + 4])
        };
        let (bl, g, r) = (sum(0), sum(1), sum(2));
        // Sums of four: shifting by 10 instead of 8 takes the mean.
        *u = (((-38 * r - 74 * g + 112 * bl + 512) >> 10) + 128) as u8;
        *v = (((112 * r - 94 * g - 18 * bl + 512) >> 10) + 128) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(bgrx: &[u8], w: u32, h: u32) -> Vec<u8> {
        yuv420_of(bgrx, w, h)
    }

    /// Rows of two pictures that differ, as the canvas marks them.
    fn rows_between(old: &[u8], new: &[u8], w: u32) -> Vec<bool> {
        let row = w as usize * 4;
        old.chunks(row)
            .zip(new.chunks(row))
            .map(|(a, b)| a != b)
            .collect()
    }

    #[test]
    fn black_white_and_primaries_map_to_limited_range() {
        // 2x2 blocks: black, white, red, blue side by side (8x2 pixels).
        let colours: [[u8; 4]; 4] = [
            [0, 0, 0, 0],
            [255, 255, 255, 0],
            [0, 0, 255, 0],
            [255, 0, 0, 0],
        ];
        let mut bgrx = Vec::new();
        for _ in 0..2 {
            for c in colours {
                bgrx.extend_from_slice(&c);
                bgrx.extend_from_slice(&c);
            }
        }
        let out = full(&bgrx, 8, 2);
        assert_eq!(&out[..8], &[16, 16, 235, 235, 82, 82, 41, 41]);
        assert_eq!(&out[16..20], &[128, 128, 90, 240]);
        assert_eq!(&out[20..24], &[128, 128, 240, 110]);
    }

    /// A picture changed in one pixel, in a whole row, or everywhere:
    /// the kept picture always equals a conversion from scratch, and
    /// only the pairs holding a change are converted.
    #[test]
    fn converting_changed_rows_equals_converting_everything() {
        let (w, h) = (16u32, 10u32);
        let mut pixels: Vec<u8> = (0..w * h * 4).map(|i| (i * 37 % 251) as u8).collect();
        let mut inc = Incremental::new(w, h);
        // The first picture is converted whole, whatever the rows say.
        inc.update(&pixels, Some(&[false; 10]));
        assert_eq!(inc.changed(), &[0, 1, 2, 3, 4]);
        assert_eq!(inc.data, full(&pixels, w, h));
        let step = |inc: &mut Incremental, old: &[u8], new: &[u8]| {
            inc.update(new, Some(&rows_between(old, new, w)));
            assert_eq!(inc.data, full(new, w, h));
            inc.changed().to_vec()
        };
        let same = pixels.clone();
        assert!(step(&mut inc, &pixels, &same).is_empty());
        // One pixel in row 7 (pair 3).
        let old = pixels.clone();
        pixels[(7 * w as usize + 5) * 4 + 1] ^= 0x55;
        assert_eq!(step(&mut inc, &old, &pixels), [3]);
        // Row 0 (pair 0) and row 9 (pair 4), the last one.
        let old = pixels.clone();
        for x in 0..w as usize {
            pixels[x * 4] = 7;
            pixels[(9 * w as usize + x) * 4 + 2] = 200;
        }
        assert_eq!(step(&mut inc, &old, &pixels), [0, 4]);
        // Everything.
        let old = pixels.clone();
        for b in pixels.iter_mut() {
            *b = b.wrapping_add(1);
        }
        assert_eq!(step(&mut inc, &old, &pixels).len(), 5);
        // Rows unknown: everything again.
        inc.update(&pixels, None);
        assert_eq!(inc.changed().len(), 5);
    }
}
