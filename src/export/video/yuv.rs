//! BGRX to yuv420p colour conversion on the playing thread.
//!
//! swscale's BGRA to yuv420p path ran on the encoder thread, the critical
//! one, and cost about a fifth of it. Converting here instead, on the thread
//! that plays the recording and is mostly idle for incremental recordings,
//! lets the conversion overlap with x264 on the other core, and hands the
//! encoder 1.5 bytes a pixel instead of 4. Only unscaled pictures take this
//! path, and only while the encoder thread is the busier one (it has jobs
//! waiting): with minimega's raw full frames inflating is the bottleneck,
//! and swscale on the idle encoder thread converts instead.
//!
//! The matrix is BT.601 into limited range, as swscale's default and as the
//! stream says (SMPTE 170M, MPEG range); each chroma sample is the mean of
//! its 2x2 block of pixels.

use std::sync::Arc;

/// A yuv420p picture: the Y plane, then U, then V, each tightly packed.
#[derive(Debug)]
pub struct Yuv420 {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Yuv420 {
    /// Bytes of the Y plane and of each chroma plane.
    pub fn plane_lens(width: u32, height: u32) -> (usize, usize) {
        let (w, h) = (width as usize, height as usize);
        (w * h, (w / 2) * (h / 2))
    }

    /// The three planes and their row lengths.
    pub fn planes(&self) -> [(&[u8], usize); 3] {
        let (y_len, c_len) = Self::plane_lens(self.width, self.height);
        let (y, rest) = self.data.split_at(y_len.min(self.data.len()));
        let (u, v) = rest.split_at(c_len.min(rest.len()));
        let (w, cw) = (self.width as usize, self.width as usize / 2);
        [(y, w), (u, cw), (v, cw)]
    }
}

/// Reuses pictures the encoder thread has dropped, so memory stays at the
/// few pictures in flight.
#[derive(Default)]
pub struct YuvPool {
    pool: Vec<Arc<Yuv420>>,
}

impl YuvPool {
    /// Converts a BGRX picture of even `width` x `height` (rows of
    /// `width * 4` bytes) into a free pooled picture.
    pub fn convert(&mut self, bgrx: &[u8], width: u32, height: u32) -> Arc<Yuv420> {
        let (y_len, c_len) = Yuv420::plane_lens(width, height);
        let len = y_len + 2 * c_len;
        let free = self.pool.iter().position(|a| Arc::strong_count(a) == 1);
        let index = match free {
            Some(i) => i,
            None => {
                self.pool.push(Arc::new(Yuv420 {
                    width,
                    height,
                    data: vec![0; len],
                }));
                self.pool.len() - 1
            }
        };
        let mut pic = std::mem::replace(
            &mut self.pool[index],
            Arc::new(Yuv420 {
                width: 0,
                height: 0,
                data: Vec::new(),
            }),
        );
        match Arc::get_mut(&mut pic) {
            Some(p) => {
                p.width = width;
                p.height = height;
                p.data.resize(len, 0);
                bgrx_to_yuv420(bgrx, width, height, &mut p.data);
            }
            None => {
                // Not reachable while only the pool clones; stay correct.
                let mut data = vec![0; len];
                bgrx_to_yuv420(bgrx, width, height, &mut data);
                pic = Arc::new(Yuv420 {
                    width,
                    height,
                    data,
                });
            }
        }
        self.pool[index] = Arc::clone(&pic);
        pic
    }
}

/// BT.601 limited-range luma of one BGRX pixel, read as one
/// little-endian word so the loop vectorises on whole pixels.
#[inline(always)]
fn luma(p: &[u8]) -> u8 {
    let v = match p {
        [b, g, r, x] => u32::from_le_bytes([*b, *g, *r, *x]),
        _ => 0,
    };
    let (b, g, r) = (v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff);
    ((66 * r + 129 * g + 25 * b + 128 + (16 << 8)) >> 8) as u8
}

/// Converts `bgrx` (even `width` x `height`) into `out`, the Y, U and V
/// planes back to back. Missing input rows are left as they were.
pub fn bgrx_to_yuv420(bgrx: &[u8], width: u32, height: u32, out: &mut [u8]) {
    let (w, h) = (width as usize, height as usize);
    let (y_len, c_len) = Yuv420::plane_lens(width, height);
    if out.len() < y_len + 2 * c_len || w < 2 || h < 2 {
        return;
    }
    let (y_plane, rest) = out.split_at_mut(y_len);
    let (u_plane, v_plane) = rest.split_at_mut(c_len);
    let row = w * 4;
    for (ys, src) in y_plane.chunks_exact_mut(w).zip(bgrx.chunks_exact(row)) {
        for (y, p) in ys.iter_mut().zip(src.chunks_exact(4)) {
            *y = luma(p);
        }
    }
    let cw = w / 2;
    let rows = u_plane
        .chunks_exact_mut(cw)
        .zip(v_plane.chunks_exact_mut(cw))
        .zip(bgrx.chunks_exact(2 * row));
    for ((us, vs), src) in rows {
        let (top, bottom) = src.split_at(row);
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let mut out = vec![0; 8 * 2 + 2 * 4];
        bgrx_to_yuv420(&bgrx, 8, 2, &mut out);
        assert_eq!(&out[..8], &[16, 16, 235, 235, 82, 82, 41, 41]);
        assert_eq!(&out[16..20], &[128, 128, 90, 240]);
        assert_eq!(&out[20..24], &[128, 128, 240, 110]);
    }

    #[test]
    fn pool_reuses_pictures_the_encoder_dropped() {
        let mut pool = YuvPool::default();
        let bgrx = vec![200; 4 * 4 * 4];
        for _ in 0..5 {
            let pic = pool.convert(&bgrx, 4, 4);
            assert_eq!(pic.data.len(), 16 + 4 + 4);
            let [(y, yw), (u, cw), (v, _)] = pic.planes();
            assert_eq!((y.len(), yw, u.len(), cw, v.len()), (16, 4, 4, 2, 4));
        }
        assert_eq!(pool.pool.len(), 1);
    }
}
