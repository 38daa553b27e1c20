//! A connection-long zlib inflater that the seek index can save and bring
//! back. RFB servers end every rectangle's zlib data with a sync flush
//! (an empty stored block, `00 00 ff ff`), so between rectangles each stream
//! sits at a byte-aligned deflate block boundary: all it needs to go on is
//! the last 32 KiB it produced. A raw inflater primed with that window
//! (`set_dictionary`, which zlib-rs accepts on raw streams at any time)
//! continues the stream exactly, so [`Inflater`] keeps that window in a
//! ring and remembers whether the input it last took ended a sync flush.

use flate2::{Decompress, DecompressError, FlushDecompress, Status};

/// Deflate looks back at most this far (RFC 1951 section 3.2.5).
pub const WINDOW: usize = 32 * 1024;

/// The empty stored block a sync flush ends with.
const SYNC_MARK: [u8; 4] = [0, 0, 0xff, 0xff];

/// A zlib inflater that keeps what it needs to be resumed.
pub struct Inflater {
    inner: Decompress,
    /// The last [`WINDOW`] bytes of output, as a ring starting at `ring_at`
    /// once full.
    ring: Vec<u8>,
    ring_at: usize,
    /// The last four input bytes consumed, oldest first.
    last_in: [u8; 4],
    /// Input bytes consumed, counted from creation (or resumption).
    taken: u64,
    /// Resumed inflaters are raw; new ones parse the zlib header first.
    resumed: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "zlib stream ({} bytes in, {} out)",
            self.total_in(),
            self.total_out()
        )
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater::new()
    }
}

impl Inflater {
    /// A fresh zlib stream.
    pub fn new() -> Inflater {
        Inflater {
            inner: Decompress::new(true),
            ring: Vec::new(),
            ring_at: 0,
            last_in: [1; 4],
            taken: 0,
            resumed: false,
        }
    }

    /// Continues a stream saved by [`Inflater::window`] at a sync flush.
    pub fn resume(window: &[u8]) -> Result<Inflater, DecompressError> {
        let window = &window[window.len().saturating_sub(WINDOW)..];
        let mut inner = Decompress::new(false);
        if !window.is_empty() {
            inner.set_dictionary(window)?;
        }
        let mut i = Inflater {
            inner,
            ring: Vec::new(),
            ring_at: 0,
            last_in: SYNC_MARK,
            taken: 0,
            resumed: true,
        };
        i.keep(window);
        Ok(i)
    }

    /// The stream's last 32 KiB of output, when it stands at a sync flush
    /// (so that [`Inflater::resume`] continues it); None in the middle of a
    /// block, or before the zlib header and a first flush were read.
    pub fn window(&self) -> Option<Vec<u8>> {
        if self.last_in != SYNC_MARK || (!self.resumed && self.taken < 6) {
            return None;
        }
        let mut w = Vec::with_capacity(self.ring.len());
        w.extend_from_slice(&self.ring[self.ring_at..]);
        w.extend_from_slice(&self.ring[..self.ring_at]);
        Some(w)
    }

    pub fn total_in(&self) -> u64 {
        self.inner.total_in()
    }

    pub fn total_out(&self) -> u64 {
        self.inner.total_out()
    }

    pub fn decompress(
        &mut self,
        input: &[u8],
        output: &mut [u8],
        flush: FlushDecompress,
    ) -> Result<Status, DecompressError> {
        let (in0, out0) = (self.total_in(), self.total_out());
        let status = self.inner.decompress(input, output, flush);
        let used = (self.total_in() - in0) as usize;
        let made = (self.total_out() - out0) as usize;
        self.took(&input[..used]);
        self.keep(&output[..made]);
        status
    }

    pub fn decompress_vec(
        &mut self,
        input: &[u8],
        output: &mut Vec<u8>,
        flush: FlushDecompress,
    ) -> Result<Status, DecompressError> {
        let (in0, len0) = (self.total_in(), output.len());
        let status = self.inner.decompress_vec(input, output, flush);
        let used = (self.total_in() - in0) as usize;
        self.took(&input[..used]);
        let made = output.len().saturating_sub(len0);
        let tail = output.len() - made;
        // Split borrow: copy out of the Vec into the ring.
        let new = output[tail..].to_vec();
        self.keep(&new);
        status
    }

    fn took(&mut self, input: &[u8]) {
        self.taken += input.len() as u64;
        if input.len() >= 4 {
            self.last_in.copy_from_slice(&input[input.len() - 4..]);
        } else {
            for &b in input {
                self.last_in.rotate_left(1);
                self.last_in[3] = b;
            }
        }
    }

    fn keep(&mut self, out: &[u8]) {
        let out = &out[out.len().saturating_sub(WINDOW)..];
        if self.ring.len() < WINDOW {
            let room = WINDOW - self.ring.len();
            let (now, rest) = out.split_at(room.min(out.len()));
            self.ring.extend_from_slice(now);
            self.ring_at = 0;
            if rest.is_empty() {
                return;
            }
            return self.keep(rest);
        }
        let mut out = out;
        while !out.is_empty() {
            let n = (WINDOW - self.ring_at).min(out.len());
            self.ring[self.ring_at..self.ring_at + n].copy_from_slice(&out[..n]);
            self.ring_at = (self.ring_at + n) % WINDOW;
            out = &out[n..];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// Rectangles of data, each zlib-compressed on one stream with a sync
    /// flush, as an RFB server sends them.
    fn rects(n: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let mut c = Compress::new(Compression::default(), true);
        let (mut plain, mut packed) = (vec![], vec![]);
        for r in 0..n {
            let data: Vec<u8> = (0..20_000 + r * 3_001)
                .map(|i| (((i * (r + 7)) % 251) ^ (i / 97)) as u8)
                .collect();
            let mut out = Vec::with_capacity(data.len() * 2 + 64);
            c.compress_vec(&data, &mut out, FlushCompress::Sync)
                .unwrap();
            plain.push(data);
            packed.push(out);
        }
        (plain, packed)
    }

    fn inflate(i: &mut Inflater, packed: &[u8], len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        let mut filled = 0;
        let mut input = packed;
        while !input.is_empty() || filled < len {
            let (a, b) = (i.total_in(), i.total_out());
            i.decompress(input, &mut out[filled..], FlushDecompress::Sync)
                .unwrap();
            let used = (i.total_in() - a) as usize;
            let made = (i.total_out() - b) as usize;
            input = &input[used..];
            filled += made;
            if used == 0 && made == 0 {
                break;
            }
        }
        assert_eq!(filled, len);
        out
    }

    #[test]
    fn a_stream_resumed_from_its_window_inflates_the_rest_alike() {
        let (plain, packed) = rects(8);
        let mut whole = Inflater::new();
        assert!(whole.window().is_none(), "nothing read yet");
        for k in 0..8 {
            let out = inflate(&mut whole, &packed[k], plain[k].len());
            assert_eq!(out, plain[k]);
            let w = whole.window().expect("a sync flush ends every rectangle");
            let seen: Vec<u8> = plain[..=k].concat();
            assert_eq!(w, seen[seen.len().saturating_sub(WINDOW)..]);
            // Resumed here, the stream inflates every later rectangle, and
            // can itself be saved and resumed again.
            let mut resumed = Inflater::resume(&w).unwrap();
            for j in k + 1..8 {
                assert_eq!(inflate(&mut resumed, &packed[j], plain[j].len()), plain[j]);
                let again = resumed.window().unwrap();
                resumed = Inflater::resume(&again).unwrap();
            }
        }
    }

    #[test]
    fn no_window_in_the_middle_of_a_block() {
        let (plain, packed) = rects(2);
        let mut i = Inflater::new();
        let half = packed[0].len() / 2;
        let mut out = vec![0; plain[0].len()];
        i.decompress(&packed[0][..half], &mut out, FlushDecompress::None)
            .unwrap();
        assert!(i.window().is_none());
    }
}
