//! Pixel formats (RFC 6143 section 7.4) and conversion to the framebuffer's
//! own layout.
//!
//! The framebuffer keeps the layout recorders ask for: 32 bits per pixel,
//! little-endian, red at bit 16, green at 8, blue at 0, so in memory a pixel
//! is the bytes B, G, R, X. Streams in that format copy straight in; any
//! other true-colour or colour-map format is converted pixel by pixel.

/// A PIXEL_FORMAT as sent in ServerInit or SetPixelFormat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PixelFormat {
    pub bits_per_pixel: u8,
    pub depth: u8,
    pub big_endian: bool,
    pub true_colour: bool,
    pub red_max: u16,
    pub green_max: u16,
    pub blue_max: u16,
    pub red_shift: u8,
    pub green_shift: u8,
    pub blue_shift: u8,
}

impl PixelFormat {
    /// The format minimega's recorder and rfbplay's recorder set
    /// (FORMATS.md section 1): 32 bpp, depth 24, little-endian, BGRX.
    pub const BGRX: PixelFormat = PixelFormat {
        bits_per_pixel: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        red_max: 255,
        green_max: 255,
        blue_max: 255,
        red_shift: 16,
        green_shift: 8,
        blue_shift: 0,
    };

    /// 16 bpp "565" true colour, little-endian, as many servers offer.
    pub const RGB565: PixelFormat = PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: false,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };

    /// 8 bpp through a colour map set by SetColorMapEntries.
    pub const COLOUR_MAP_8: PixelFormat = PixelFormat {
        bits_per_pixel: 8,
        depth: 8,
        big_endian: false,
        true_colour: false,
        red_max: 0,
        green_max: 0,
        blue_max: 0,
        red_shift: 0,
        green_shift: 0,
        blue_shift: 0,
    };

    pub fn bytes_per_pixel(&self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }

    /// Whether wire pixels are byte-for-byte the framebuffer's layout.
    pub fn is_native(&self) -> bool {
        self.bits_per_pixel == 32
            && !self.big_endian
            && self.true_colour
            && self.red_max == 255
            && self.green_max == 255
            && self.blue_max == 255
            && self.red_shift == 16
            && self.green_shift == 8
            && self.blue_shift == 0
    }

    /// Parses the 16-byte PIXEL_FORMAT structure (RFC 6143 section 7.4).
    pub fn from_wire(b: &[u8; 16]) -> PixelFormat {
        PixelFormat {
            bits_per_pixel: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            red_max: u16::from_be_bytes([b[4], b[5]]),
            green_max: u16::from_be_bytes([b[6], b[7]]),
            blue_max: u16::from_be_bytes([b[8], b[9]]),
            red_shift: b[10],
            green_shift: b[11],
            blue_shift: b[12],
        }
    }

    pub fn to_wire(&self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bits_per_pixel;
        b[1] = self.depth;
        b[2] = u8::from(self.big_endian);
        b[3] = u8::from(self.true_colour);
        b[4..6].copy_from_slice(&self.red_max.to_be_bytes());
        b[6..8].copy_from_slice(&self.green_max.to_be_bytes());
        b[8..10].copy_from_slice(&self.blue_max.to_be_bytes());
        b[10] = self.red_shift;
        b[11] = self.green_shift;
        b[12] = self.blue_shift;
        b
    }

    /// Refuses a format rfbplay cannot decode (RFC 6143 7.4 allows 8, 16
    /// and 32 bits per pixel; a true-colour component needs a maximum and a
    /// shift inside the pixel).
    pub fn check(&self) -> Result<(), PixelFormatError> {
        if !matches!(self.bits_per_pixel, 8 | 16 | 32) {
            return Err(PixelFormatError::BitsPerPixel(self.bits_per_pixel));
        }
        if self.true_colour {
            for (colour, max, shift) in [
                (Colour::Red, self.red_max, self.red_shift),
                (Colour::Green, self.green_max, self.green_shift),
                (Colour::Blue, self.blue_max, self.blue_shift),
            ] {
                if max == 0 || shift >= 32 {
                    return Err(PixelFormatError::Component { colour, max, shift });
                }
            }
        }
        Ok(())
    }

    /// Why this format cannot be decoded, if it cannot ([`Self::check`]).
    pub fn unsupported_reason(&self) -> Option<String> {
        self.check().err().map(|e| e.to_string())
    }

    /// Reads one wire pixel value (bytes_per_pixel bytes) in this format's
    /// byte order. A slice too short for the format, or a size RFC 6143 does
    /// not allow, reads as 0 rather than panicking: callers check formats
    /// with [`PixelFormat::unsupported_reason`] first, this is the backstop.
    #[inline]
    pub fn read_value(&self, b: &[u8]) -> u32 {
        match (self.bits_per_pixel, self.big_endian, b) {
            (8, _, [a, ..]) => u32::from(*a),
            (16, false, [a, c, ..]) => u32::from(u16::from_le_bytes([*a, *c])),
            (16, true, [a, c, ..]) => u32::from(u16::from_be_bytes([*a, *c])),
            (32, false, [a, c, d, e, ..]) => u32::from_le_bytes([*a, *c, *d, *e]),
            (32, true, [a, c, d, e, ..]) => u32::from_be_bytes([*a, *c, *d, *e]),
            _ => 0,
        }
    }

    /// Converts a pixel value to framebuffer bytes B, G, R, X, looking colour
    /// map formats up in `map`.
    #[inline]
    pub fn value_to_bgrx(&self, v: u32, map: &ColourMap) -> [u8; 4] {
        if !self.true_colour {
            return map.get(v);
        }
        // A shift of 32 or more leaves nothing of the value (and would
        // overflow a plain shift); such formats are refused upstream too.
        let sh = |shift: u8| v.checked_shr(u32::from(shift)).unwrap_or(0);
        let r = scale(sh(self.red_shift), self.red_max);
        let g = scale(sh(self.green_shift), self.green_max);
        let b = scale(sh(self.blue_shift), self.blue_max);
        [b, g, r, 0]
    }

    #[inline]
    pub fn to_bgrx(&self, b: &[u8], map: &ColourMap) -> [u8; 4] {
        if let (true, [blue, green, red, ..]) = (self.is_native(), b) {
            return [*blue, *green, *red, 0];
        }
        self.value_to_bgrx(self.read_value(b), map)
    }
}

/// Why a pixel format cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PixelFormatError {
    #[error("{0} bits per pixel (RFC 6143 allows 8, 16, 32)")]
    BitsPerPixel(u8),
    #[error("{colour} max {max} shift {shift}")]
    Component { colour: Colour, max: u16, shift: u8 },
}

/// A colour component of a true-colour format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Red,
    Green,
    Blue,
}

impl std::fmt::Display for Colour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Colour::Red => "red",
            Colour::Green => "green",
            Colour::Blue => "blue",
        })
    }
}

/// Scales a colour component in 0..=max to 0..=255.
#[inline]
fn scale(v: u32, max: u16) -> u8 {
    let max = u32::from(max);
    if max == 255 {
        return (v & 0xff) as u8;
    }
    if max == 0 {
        return 0;
    }
    let c = (v % (max + 1)) & 0xffff;
    ((c * 255 + max / 2) / max) as u8
}

/// A colour map set by SetColorMapEntries, for formats that are not true
/// colour. Entries hold framebuffer bytes B, G, R, X.
#[derive(Clone, Debug)]
pub struct ColourMap {
    entries: Vec<[u8; 4]>,
}

impl Default for ColourMap {
    fn default() -> Self {
        ColourMap {
            entries: vec![[0, 0, 0, 0]; 256],
        }
    }
}

impl ColourMap {
    /// The entries as B, G, R, X (what the seek index saves).
    pub fn entries(&self) -> &[[u8; 4]] {
        &self.entries
    }

    /// A map with these entries (as [`ColourMap::entries`] gave them).
    pub fn from_entries(entries: Vec<[u8; 4]>) -> ColourMap {
        ColourMap { entries }
    }

    /// Looks up an entry; values outside the map are black, since a server
    /// may draw before it has sent the map.
    #[inline]
    pub fn get(&self, index: u32) -> [u8; 4] {
        self.entries
            .get(index as usize)
            .copied()
            .unwrap_or([0, 0, 0, 0])
    }

    /// Sets entries from 16-bit RGB triples (RFC 6143 section 7.6.2).
    pub fn set(&mut self, first: u16, colours: &[[u16; 3]]) {
        let end = usize::from(first) + colours.len();
        if self.entries.len() < end {
            self.entries.resize(end, [0, 0, 0, 0]);
        }
        for (slot, [r, g, b]) in self.entries[usize::from(first)..end]
            .iter_mut()
            .zip(colours)
        {
            *slot = [(b >> 8) as u8, (g >> 8) as u8, (r >> 8) as u8, 0];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_format_round_trips_the_wire() {
        let pf = PixelFormat::BGRX;
        assert!(pf.is_native());
        assert_eq!(PixelFormat::from_wire(&pf.to_wire()), pf);
        assert_eq!(
            pf.to_bgrx(&[1, 2, 3, 4], &ColourMap::default()),
            [1, 2, 3, 0]
        );
    }

    #[test]
    fn rgb565_big_endian_scales_to_eight_bits() {
        let pf = PixelFormat {
            big_endian: true,
            ..PixelFormat::RGB565
        };
        let white = 0xffffu16.to_be_bytes();
        assert_eq!(
            pf.to_bgrx(&white, &ColourMap::default()),
            [255, 255, 255, 0]
        );
        let red = (31u16 << 11).to_be_bytes();
        assert_eq!(pf.to_bgrx(&red, &ColourMap::default()), [0, 0, 255, 0]);
    }
}
