//! Borrowed views of 32- and 24-bit pixel buffers, so `compare` reads a
//! decoded PNG (R, G, B or R, G, B, A) and rfbplay's own framebuffer
//! (B, G, R, X) in place, without converting either to a common layout.
//!
//! The hot loop is generic over `Pixels`: one copy of it is compiled per
//! pair of layouts, and each reads bytes straight from the caller's buffer.

use super::CompareError;
use crate::framebuffer::Framebuffer;

/// How the bytes of one pixel are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// R, G, B: 3 bytes, opaque (an RGB PNG).
    Rgb,
    /// R, G, B, A: 4 bytes, straight alpha (an RGBA PNG).
    Rgba,
    /// B, G, R, X: 4 bytes, opaque, the fourth byte ignored (rfbplay's
    /// framebuffer and the usual VNC pixel format).
    Bgrx,
}

impl Layout {
    pub const fn bytes_per_pixel(self) -> usize {
        match self {
            Layout::Rgb => 3,
            Layout::Rgba | Layout::Bgrx => 4,
        }
    }
}

/// A width x height image inside a byte slice: row `y` starts at
/// `y * stride`. Construction checks the slice is long enough, so reads
/// through the view never go out of bounds.
#[derive(Clone, Copy, Debug)]
pub struct ImageView<'a> {
    data: &'a [u8],
    width: u32,
    height: u32,
    stride: usize,
    layout: Layout,
}

impl<'a> ImageView<'a> {
    pub fn new(
        data: &'a [u8],
        width: u32,
        height: u32,
        stride: usize,
        layout: Layout,
    ) -> Result<ImageView<'a>, CompareError> {
        let row = width as usize * layout.bytes_per_pixel();
        let need = if height == 0 {
            Some(0)
        } else {
            (height as usize - 1)
                .checked_mul(stride)
                .and_then(|n| n.checked_add(row))
        };
        match need {
            Some(need) if stride >= row && data.len() >= need => Ok(ImageView {
                data,
                width,
                height,
                stride,
                layout,
            }),
            _ => Err(CompareError::BadView {
                width,
                height,
                stride,
                layout,
                len: data.len(),
            }),
        }
    }

    /// Rows packed without padding.
    pub fn packed(
        data: &'a [u8],
        width: u32,
        height: u32,
        layout: Layout,
    ) -> Result<ImageView<'a>, CompareError> {
        ImageView::new(
            data,
            width,
            height,
            width as usize * layout.bytes_per_pixel(),
            layout,
        )
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    pub fn stride(&self) -> usize {
        self.stride
    }

    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// The pixel at (x, y) as R, G, B, A (A is 255 for opaque layouts).
    /// Panics outside the image.
    pub fn rgba(&self, x: u32, y: u32) -> [u8; 4] {
        let bpp = self.layout.bytes_per_pixel();
        let at = y as usize * self.stride + x as usize * bpp;
        let s = &self.data[at..at + bpp];
        match self.layout {
            Layout::Rgb => Rgb::rgba(s),
            Layout::Rgba => Rgba::rgba(s),
            Layout::Bgrx => Bgrx::rgba(s),
        }
    }
}

impl<'a> From<&'a Framebuffer> for ImageView<'a> {
    fn from(fb: &'a Framebuffer) -> ImageView<'a> {
        ImageView {
            data: fb.data(),
            width: fb.width(),
            height: fb.height(),
            stride: fb.stride(),
            layout: Layout::Bgrx,
        }
    }
}

/// An image that owns its pixels, as decoded from a file.
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedImage {
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub data: Vec<u8>,
}

impl std::fmt::Debug for OwnedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OwnedImage({}x{} {:?})",
            self.width, self.height, self.layout
        )
    }
}

impl OwnedImage {
    /// Panics if `data` is shorter than the size says; decoders build
    /// these, and they know the length.
    pub fn view(&self) -> ImageView<'_> {
        ImageView::packed(&self.data, self.width, self.height, self.layout)
            .expect("an OwnedImage holds width * height pixels")
    }
}

/// One pixel layout, as the hot loop sees it.
pub(crate) trait Pixels: Copy + Send + Sync + 'static {
    const BPP: usize;
    /// R, G, B, A of the pixel whose bytes start `s` (at least BPP long).
    fn rgba(s: &[u8]) -> [u8; 4];
}

#[derive(Clone, Copy)]
pub(crate) struct Rgb;
#[derive(Clone, Copy)]
pub(crate) struct Rgba;
#[derive(Clone, Copy)]
pub(crate) struct Bgrx;

impl Pixels for Rgb {
    const BPP: usize = 3;
    #[inline(always)]
    fn rgba(s: &[u8]) -> [u8; 4] {
        [s[0], s[1], s[2], 255]
    }
}

impl Pixels for Rgba {
    const BPP: usize = 4;
    #[inline(always)]
    fn rgba(s: &[u8]) -> [u8; 4] {
        [s[0], s[1], s[2], s[3]]
    }
}

impl Pixels for Bgrx {
    const BPP: usize = 4;
    #[inline(always)]
    fn rgba(s: &[u8]) -> [u8; 4] {
        [s[2], s[1], s[0], 255]
    }
}

/// A view with its layout known at compile time.
#[derive(Clone, Copy)]
pub(crate) struct Typed<'a, P: Pixels> {
    pub data: &'a [u8],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
    _p: std::marker::PhantomData<P>,
}

impl<'a, P: Pixels> Typed<'a, P> {
    pub fn new(v: &ImageView<'a>) -> Typed<'a, P> {
        debug_assert_eq!(v.layout.bytes_per_pixel(), P::BPP);
        Typed {
            data: v.data,
            width: v.width as usize,
            height: v.height as usize,
            stride: v.stride,
            _p: std::marker::PhantomData,
        }
    }

    /// Row `y`, pixels `x0..x1`, as bytes.
    #[inline(always)]
    pub fn row(&self, y: usize, x0: usize, x1: usize) -> &'a [u8] {
        let s = y * self.stride;
        &self.data[s + x0 * P::BPP..s + x1 * P::BPP]
    }

    #[inline(always)]
    pub fn px(&self, x: usize, y: usize) -> [u8; 4] {
        let at = y * self.stride + x * P::BPP;
        P::rgba(&self.data[at..at + P::BPP])
    }
}
