//! Limits on what files and sockets may make rfbplay do, checked before the
//! memory is reserved or the work is done, so a tiny hostile file can claim
//! neither gigabytes nor hours. It sits at the bottom of the crate with the
//! wire vocabulary and imports nothing of the project.

use std::fmt;

/// Bounds on what a stream may ask the decoder to allocate and to do.
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
    /// Pixels one FramebufferUpdate may paint: this many times the screen's
    /// area, plus [`Limits::paint_per_byte`] per byte of the update.
    pub paint_screens: u32,
    pub paint_per_byte: u32,
    /// ServerCutText longer than this is reported as a warning: the parser
    /// skips it all the same, but a corrupt length swallows the stream.
    pub warn_cut_text: u32,
}

// Work per update. A real update paints each pixel of its rectangles once,
// and the rectangles of one update rarely overlap much, so 4 screens covers
// overdraw, a resize (which copies the screen) and CopyRect on top of the
// data it moves. The per-byte part lets byte-cheap drawing through: Hextile
// paints at most 256 pixels per 2-byte subrectangle (128 per byte), RRE
// far less per byte; a ZRLE or Tight rectangle paints its own area once,
// already inside the screen part. No update of the corpus paints more than
// 2.3 screens (tests/conformance_all.rs). A full-screen Tight fill costs 16
// bytes for 64 M pixels at 8192x8192, so 65,535 of them in one update are
// refused after the fourth instead of painting for half an hour.
const PAINT_SCREENS: u32 = 4;
const PAINT_PER_BYTE: u32 = 128;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_width: 16384,
            max_height: 16384,
            max_pixels: 8192 * 8192,
            max_chunk: 64 << 20,
            max_gap_ns: 24 * 3600 * 1_000_000_000,
            paint_screens: PAINT_SCREENS,
            paint_per_byte: PAINT_PER_BYTE,
            // Clipboards of a few MiB happen (a pasted image as text);
            // 64 MiB is past any real one.
            warn_cut_text: 64 << 20,
        }
    }
}

/// What a stream asked for beyond [`Limits`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    #[error("screen size {width}x{height} ({} pixels) is over the limit of {max_width}x{max_height} a side and {max_pixels} pixels in all", u64::from(*width) * u64::from(*height))]
    ScreenTooLarge {
        width: u32,
        height: u32,
        max_width: u32,
        max_height: u32,
        max_pixels: u64,
    },
    #[error("{what} of {len}{} is over the limit of {max}", what.unit())]
    TooLong { what: Measure, len: u64, max: u64 },
    /// Refused before painting: the update would paint `painted` pixels
    /// where `screens` screens of `screen_area` plus `per_byte` per byte of
    /// its `bytes` are allowed.
    #[error("painting {painted} pixels in one update is over the limit of {} ({screens} screens of {screen_area} pixels and {per_byte} per byte of its {bytes} bytes)", work_max(*screens, *screen_area, *per_byte, *bytes))]
    Work {
        painted: u64,
        screen_area: u64,
        bytes: u64,
        screens: u32,
        per_byte: u32,
    },
}

/// The length a [`LimitError::TooLong`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    CompressedBytes,
    InflatedBytes,
    TightWidth,
    CursorSide,
    RreSubrects,
}

impl Measure {
    fn unit(self) -> &'static str {
        match self {
            Measure::CompressedBytes | Measure::InflatedBytes => " bytes",
            _ => "",
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Measure::CompressedBytes => "compressed data",
            Measure::InflatedBytes => "inflated data",
            Measure::TightWidth => "Tight rectangle width",
            Measure::CursorSide => "cursor side",
            Measure::RreSubrects => "RRE subrectangle count",
        })
    }
}

impl Limits {
    pub fn check_screen(&self, width: u32, height: u32) -> Result<(), LimitError> {
        if width > self.max_width
            || height > self.max_height
            || u64::from(width) * u64::from(height) > self.max_pixels
        {
            return Err(LimitError::ScreenTooLarge {
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
    pub fn check_compressed(&self, len: usize, raw_len: usize) -> Result<(), LimitError> {
        let max = raw_len + raw_len / 1000 + 1024;
        if len > max {
            return Err(LimitError::TooLong {
                what: Measure::CompressedBytes,
                len: len as u64,
                max: max as u64,
            });
        }
        Ok(())
    }

    /// Checks that an update that has used `bytes` bytes of the stream on a
    /// screen of `screen_area` pixels may paint `painted` pixels in all.
    pub fn check_work(&self, painted: u64, screen_area: u64, bytes: u64) -> Result<(), LimitError> {
        let max = work_max(self.paint_screens, screen_area, self.paint_per_byte, bytes);
        if painted > max {
            return Err(LimitError::Work {
                painted,
                screens: self.paint_screens,
                screen_area,
                per_byte: self.paint_per_byte,
                bytes,
            });
        }
        Ok(())
    }
}

fn work_max(screens: u32, screen_area: u64, per_byte: u32, bytes: u64) -> u64 {
    u64::from(screens)
        .saturating_mul(screen_area)
        .saturating_add(u64::from(per_byte).saturating_mul(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_screen_over_the_area_limit_says_which_limit() {
        let e = Limits::default().check_screen(16384, 16384).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("16384x16384 (268435456 pixels)")
                && text.contains("67108864 pixels in all"),
            "{text}"
        );
    }
}
