//! Limits on sizes taken from files and sockets, checked before any memory
//! is reserved, so a tiny hostile file cannot claim gigabytes.

use crate::decode::RectError;

/// Bounds on what a stream may ask the decoder to allocate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_width: u32,
    pub max_height: u32,
    /// Width x height at most; 8192x8192 is past any real display.
    pub max_pixels: u64,
    /// Container chunks longer than this are refused.
    pub max_chunk: u64,
    /// A gap between chunks longer than this is damage, not a pause: it
    /// would turn one corrupt number into billions of frames.
    pub max_gap_ns: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_width: 16384,
            max_height: 16384,
            max_pixels: 8192 * 8192,
            max_chunk: 64 << 20,
            max_gap_ns: 24 * 3600 * 1_000_000_000,
        }
    }
}

impl Limits {
    pub fn check_screen(&self, width: u32, height: u32) -> Result<(), RectError> {
        if width > self.max_width
            || height > self.max_height
            || u64::from(width) * u64::from(height) > self.max_pixels
        {
            return Err(RectError::ScreenTooLarge {
                width,
                height,
                max_width: self.max_width,
                max_height: self.max_height,
                max_pixels: self.max_pixels,
            });
        }
        Ok(())
    }

    /// Compressed data for a rectangle may not be much longer than the raw
    /// pixels it stands for: zlib's worst case adds 5 bytes per 16 KiB block
    /// and a few bytes of framing.
    pub fn check_compressed(&self, len: usize, raw_len: usize) -> Result<(), RectError> {
        let max = raw_len + raw_len / 1000 + 1024;
        if len > max {
            return Err(RectError::TooLong {
                what: "compressed data",
                len: len as u64,
                max: max as u64,
            });
        }
        Ok(())
    }
}
