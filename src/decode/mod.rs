//! Rectangle decoders and the state they share for a whole connection.
//!
//! The stream parser hands each rectangle to [`begin`], which checks it and
//! returns a [`RectState`]; the parser then calls [`RectState::step`] with
//! whatever bytes it has. A step either consumes bytes or says how many it
//! needs in one piece ([`Step::Need`]); "need more" is a normal answer, so
//! the same code serves files, sockets and fuzzers whatever the chunking.
//! Zlib streams live here, in [`DecodeContext`], because they span every
//! rectangle of a connection (rfbproto "Zlib", "Tight", "ZRLE").

pub mod copyrect;
pub mod cursor;
pub mod hextile;
pub mod raw;
pub mod resumable;
pub mod rre;
pub mod stats;
#[cfg(test)]
mod testutil;
pub mod tight;
mod tight_filters;
pub mod zlib;
pub mod zrle;

use crate::framebuffer::Screen;
use crate::limits::{LimitError, Limits, Measure};
use crate::wire::pixel::PixelFormatError;
use crate::wire::ColourMap;
use crate::wire::{Encoding, PixelFormat, Rect};

pub use cursor::Cursor;
pub use stats::{Counters, Stats, Sub};

/// What a decoder step did with the bytes it was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Call again with at least this many bytes in one slice.
    Need(usize),
    /// Consumed this many bytes; the rectangle is not finished.
    Advance(usize),
    /// Consumed this many bytes; the rectangle is finished.
    Done(usize),
}

/// Why a rectangle could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RectError {
    #[error("rectangle lies outside the {width}x{height} screen")]
    OutsideScreen { width: u32, height: u32 },
    #[error("source area {src_x},{src_y} lies outside the {width}x{height} screen")]
    CopySourceOutside {
        src_x: u16,
        src_y: u16,
        width: u32,
        height: u32,
    },
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error("zlib data is corrupt")]
    Zlib(#[source] ZlibError),
    #[error("zlib data ended after {got} of {want} bytes")]
    ZlibShort { got: usize, want: usize },
    #[error("unknown subencoding 0x{0:02x}")]
    BadSubencoding(u8),
    #[error("{0}")]
    Malformed(Malformation),
    #[error("palette index {index} is past the {size}-colour palette")]
    PaletteIndex { index: usize, size: usize },
    #[error("subrectangle {sub} lies outside the rectangle")]
    SubrectOutside { sub: Rect },
    /// A Hextile subrectangle past its tile (RFC 6143 7.7.4); both are in
    /// screen coordinates.
    #[error("subrectangle {sub} lies outside its tile {tile}")]
    SubrectOutsideTile { sub: Rect, tile: Rect },
    /// An error inside a rectangle's data, with where it happened: bytes
    /// from the start of the rectangle's payload, or of its inflated data.
    #[error("{} (byte {offset} of the rectangle's {within})", Chain(&**error))]
    At {
        within: Within,
        offset: u64,
        error: Box<RectError>,
    },
    #[error(transparent)]
    Jpeg(#[from] JpegError),
    #[error("pixel format is not supported")]
    PixelFormat(#[source] PixelFormatError),
    #[error("no decoder for this encoding")]
    Unsupported,
}

/// Ways a rectangle's data breaks its encoding's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformation {
    /// RFC 6143 7.7.4: "The first non-raw tile in a rectangle must have
    /// this bit set".
    #[error("the first non-raw Hextile tile of a rectangle gives no background")]
    NoBackground,
    #[error("Hextile subrectangles use a foreground no tile of the rectangle gave")]
    NoForeground,
    #[error("zlib data holds more than the rectangle")]
    ZlibTooLong,
    #[error("zlib data stops short")]
    ZlibStopsShort,
    #[error("Tight JPEG needs 16 or 32 bits per pixel")]
    TightJpegDepth,
    #[error("Tight gradient filter needs a 16 or 32 bpp true-colour format")]
    TightGradientFormat,
    #[error("Tight palette of 1 colour (rfbproto allows 2..256)")]
    TightPaletteOfOne,
    #[error("Tight zlib data is too short to inflate to the rectangle")]
    TightZlibTooShort,
    #[error("Tight data is shorter than the filter needs")]
    TightDataShort,
    #[error("ZRLE data ends inside a tile")]
    ZrleEndsInTile,
    #[error("ZRLE run goes past the end of its tile")]
    ZrleRunPastTile,
    #[error("ZRLE data goes on past the rectangle's last tile")]
    ZrleTooLong,
}

/// flate2's error, kept as it came (its message says what broke). Two are
/// equal when they say the same.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ZlibError(pub flate2::DecompressError);

impl PartialEq for ZlibError {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for ZlibError {}

/// Why a Tight JPEG rectangle could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpegError {
    #[error("JPEG data is corrupt")]
    Corrupt(#[source] ImageError),
    /// Checked before the pixels are decoded, so a header claiming a huge
    /// image reserves nothing.
    #[error("JPEG image is {width}x{height}, the rectangle {rect_w}x{rect_h}")]
    Size {
        width: u32,
        height: u32,
        rect_w: u16,
        rect_h: u16,
    },
    #[error("JPEG colour type {0:?} is neither grey nor RGB")]
    Colour(image::ColorType),
}

/// The `image` crate's error, shared so that errors stay cloneable. Two
/// are equal when they say the same.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ImageError(pub std::sync::Arc<image::ImageError>);

impl PartialEq for ImageError {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_string() == other.0.to_string()
    }
}

impl Eq for ImageError {}

/// Prints an error followed by its sources, for a layer that embeds a lower
/// error in its own message rather than chaining it.
pub struct Chain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

/// What a [`RectError::At`] offset counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Within {
    /// Bytes of the stream after the rectangle header.
    Data,
    /// Bytes of what the rectangle's zlib data inflated to.
    Inflated,
}

impl std::fmt::Display for Within {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Within::Data => "data",
            Within::Inflated => "inflated data",
        })
    }
}

/// Something odd in a rectangle that did not stop its decoding; the parser
/// reports it as a [`crate::rfb::Event::Warning`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RectWarning {
    /// rfbproto "JpegCompression": the data is one JPEG image. One that
    /// does not end with its end-of-image marker is cut short (its missing
    /// part decodes grey) or followed by bytes that belong to no image.
    #[error("the JPEG data of {len} bytes does not end with the image's end marker: the picture is cut short or the length is wrong")]
    JpegEnd { len: usize },
}

impl RectError {
    /// The error itself, without the [`RectError::At`] wrappers that say
    /// where it happened.
    pub fn root(&self) -> &RectError {
        match self {
            RectError::At { error, .. } => error.root(),
            other => other,
        }
    }
}

/// The largest inflate buffer kept between rectangles (a full 1920x1080
/// screen of ZRLE needs about 8 MiB).
const MAX_IDLE_SCRATCH: usize = 16 << 20;

/// Decoder state that lasts for the whole connection.
#[derive(Debug)]
pub struct DecodeContext {
    pub pixel_format: PixelFormat,
    pub colour_map: ColourMap,
    pub limits: Limits,
    /// The Zlib encoding's stream (rfbproto "Zlib encoding").
    pub zlib: zlib::Stream,
    /// The Tight encoding's four streams (rfbproto "Tight Encoding").
    pub tight: tight::Streams,
    /// Whether the screen size is known (ServerInit, DesktopSize, or the
    /// first update done). Until then rectangles grow the screen: minimega
    /// files store no ServerInit, and their first update covers the screen.
    pub size_known: bool,
    /// What the stream held so far ([`DecodeContext::stats`]).
    pub counters: Counters,
    /// Reused buffer for inflated data.
    pub scratch: Vec<u8>,
    /// The ZRLE encoding's stream (RFC 6143 7.7.6), separate from Zlib's.
    pub zrle: zlib::Stream,
    /// What the current update has cost so far.
    pub work: Work,
    /// Warnings of the step being run, for the parser to report.
    pub warnings: Vec<RectWarning>,
}

/// The work an update has caused, against [`Limits::check_work`]. The
/// parser sets `bytes` before each step, so that the limit depends on where
/// in the stream a pixel is painted and never on how the stream was split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Work {
    /// Pixels painted (or moved, or allocated by a resize) in this update.
    pub painted: u64,
    /// Bytes of the update before the step being run.
    pub bytes: u64,
}

impl DecodeContext {
    pub fn new(pixel_format: PixelFormat, limits: Limits) -> DecodeContext {
        DecodeContext {
            pixel_format,
            colour_map: ColourMap::default(),
            limits,
            zlib: zlib::Stream::default(),
            tight: tight::Streams::default(),
            size_known: false,
            counters: Counters::default(),
            scratch: Vec::new(),
            zrle: zlib::Stream::default(),
            work: Work::default(),
            warnings: Vec::new(),
        }
    }

    /// Rectangles, bytes and subencodings counted so far, by name.
    pub fn stats(&self) -> Stats {
        self.counters.stats()
    }

    pub fn bpp(&self) -> usize {
        self.pixel_format.bytes_per_pixel()
    }

    /// Hands the inflate buffer back for the next rectangle, unless a large
    /// rectangle grew it past what ordinary ones need: then it is freed,
    /// rather than kept for the rest of the recording.
    pub fn put_scratch(&mut self, buf: Vec<u8>) {
        if buf.capacity() <= MAX_IDLE_SCRATCH {
            self.scratch = buf;
        }
    }
}

/// What a decoder works on for one rectangle.
pub struct RectCx<'a> {
    pub rect: Rect,
    pub encoding: Encoding,
    pub ctx: &'a mut DecodeContext,
    pub screen: &'a mut Screen,
}

impl RectCx<'_> {
    /// Counts `pixels` about to be painted by data that ends `through`
    /// bytes into the current step's input, and refuses them when the
    /// update would go past its work limit ([`Limits::check_work`]).
    pub fn paint(&mut self, pixels: u64, through: usize) -> Result<(), RectError> {
        let fb = self.screen.drawn_ref();
        let area = u64::from(fb.width()) * u64::from(fb.height());
        self.paint_on(pixels, through, area)
    }

    /// [`RectCx::paint`] against a screen of `area` pixels, for a resize
    /// weighed before it happens.
    fn paint_on(&mut self, pixels: u64, through: usize, area: u64) -> Result<(), RectError> {
        let work = &mut self.ctx.work;
        let painted = work.painted.saturating_add(pixels);
        self.ctx
            .limits
            .check_work(painted, area, work.bytes + through as u64)?;
        work.painted = painted;
        Ok(())
    }
}

/// A rectangle being decoded: one variant per encoding, each with the
/// progress it has made.
#[derive(Debug)]
pub enum RectState {
    Raw(raw::Raw),
    CopyRect,
    Zlib(zlib::Zlib),
    Tight(tight::Tight),
    Rre(rre::Rre),
    Hextile(hextile::Hextile),
    Zrle(zrle::Zrle),
    Cursor(cursor::CursorRect),
    /// ExtendedDesktopSize: a header, then 16 bytes per screen.
    ExtendedDesktopSize {
        screens: Option<u8>,
    },
    /// Pseudo-rectangles with no payload (DesktopSize, LastRect, PointerPos).
    Empty,
}

/// Checks a rectangle and returns its initial state (rfbproto
/// "FramebufferUpdate"; RFC 6143 7.6.1). Resizes happen here.
pub fn begin(encoding: Encoding, cx: &mut RectCx<'_>) -> Result<RectState, RectError> {
    let rect = cx.rect;
    Ok(match encoding {
        Encoding::RAW => {
            // In the framebuffer's own layout, Raw marks the rows it
            // changes as it writes them (Screen::write_raw).
            if cx.ctx.pixel_format.is_native() {
                check(cx)?;
            } else {
                prepare(cx)?;
            }
            RectState::Raw(raw::Raw::default())
        }
        Encoding::COPY_RECT => {
            prepare(cx)?;
            RectState::CopyRect
        }
        Encoding::ZLIB => {
            prepare(cx)?;
            RectState::Zlib(zlib::Zlib::default())
        }
        Encoding::TIGHT => {
            prepare(cx)?;
            RectState::Tight(tight::Tight::default())
        }
        Encoding::RRE => {
            prepare(cx)?;
            RectState::Rre(rre::Rre::default())
        }
        Encoding::HEXTILE => {
            prepare(cx)?;
            RectState::Hextile(hextile::Hextile::default())
        }
        Encoding::ZRLE => {
            prepare(cx)?;
            RectState::Zrle(zrle::Zrle::default())
        }
        Encoding::DESKTOP_SIZE => {
            resize(cx, u32::from(rect.w), u32::from(rect.h))?;
            RectState::Empty
        }
        Encoding::EXTENDED_DESKTOP_SIZE => RectState::ExtendedDesktopSize { screens: None },
        Encoding::CURSOR => RectState::Cursor(cursor::CursorRect::begin(cx)?),
        Encoding::POINTER_POS => {
            cx.screen.pointer = Some((rect.x, rect.y));
            RectState::Empty
        }
        Encoding::LAST_RECT => RectState::Empty,
        _ => return Err(RectError::Unsupported),
    })
}

impl RectState {
    /// Decodes from `input`, which the parser guarantees is at least as long
    /// as the last [`Step::Need`] asked for.
    pub fn step(&mut self, input: &[u8], cx: &mut RectCx<'_>) -> Result<Step, RectError> {
        match self {
            RectState::Raw(s) => s.step(input, cx),
            RectState::CopyRect => copyrect::step(input, cx),
            RectState::Zlib(s) => s.step(input, cx),
            RectState::Tight(s) => s.step(input, cx),
            RectState::Rre(s) => s.step(input, cx),
            RectState::Hextile(s) => s.step(input, cx),
            RectState::Zrle(s) => s.step(input, cx),
            RectState::Cursor(s) => s.step(input, cx),
            RectState::ExtendedDesktopSize { screens } => extended_desktop_size(screens, input, cx),
            RectState::Empty => Ok(Step::Done(0)),
        }
    }
}

/// ExtendedDesktopSize (rfbproto): number-of-screens, 3 padding bytes, then
/// 16 bytes per screen. The rectangle's size is the new screen size.
fn extended_desktop_size(
    screens: &mut Option<u8>,
    input: &[u8],
    cx: &mut RectCx<'_>,
) -> Result<Step, RectError> {
    match *screens {
        None => {
            if input.len() < 4 {
                return Ok(Step::Need(4));
            }
            *screens = Some(input[0]);
            Ok(Step::Advance(4))
        }
        Some(n) => {
            let len = usize::from(n) * 16;
            if input.len() < len {
                return Ok(Step::Need(len));
            }
            resize(cx, u32::from(cx.rect.w), u32::from(cx.rect.h))?;
            Ok(Step::Done(len))
        }
    }
}

/// Checks a pixel rectangle against the screen, growing a screen whose size
/// is not known yet, and marks it as changing in this update.
pub fn prepare(cx: &mut RectCx<'_>) -> Result<(), RectError> {
    check(cx)?;
    cx.screen.touch(cx.rect);
    Ok(())
}

/// [`prepare`] without marking the rectangle as changing, for a decoder
/// that marks what it changes itself.
fn check(cx: &mut RectCx<'_>) -> Result<(), RectError> {
    check_pixel_format(cx)?;
    let rect = cx.rect;
    let fb = cx.screen.drawn_ref();
    let (w, h) = (fb.width(), fb.height());
    if !rect.fits(w, h) {
        if cx.ctx.size_known {
            return Err(RectError::OutsideScreen {
                width: w,
                height: h,
            });
        }
        let (nw, nh) = (w.max(rect.right()), h.max(rect.bottom()));
        cx.ctx.limits.check_screen(nw, nh)?;
        let area = u64::from(nw) * u64::from(nh);
        cx.paint_on(resize_cost((w, h), (nw, nh)), 0, area)?;
        cx.screen.resize(nw, nh);
    }
    cx.paint(rect.area(), 0)?;
    Ok(())
}

/// Refuses a pixel format RFC 6143 7.4 does not allow (bits per pixel
/// other than 8, 16, 32; a zero colour max; a shift past 31) before a
/// decoder reads pixels in it.
pub fn check_pixel_format(cx: &RectCx<'_>) -> Result<(), RectError> {
    cx.ctx.pixel_format.check().map_err(RectError::PixelFormat)
}

/// Applies a new screen size from DesktopSize or ExtendedDesktopSize
/// (RFC 6143 7.8.2).
pub fn resize(cx: &mut RectCx<'_>, width: u32, height: u32) -> Result<(), RectError> {
    cx.ctx.limits.check_screen(width, height)?;
    let fb = cx.screen.drawn_ref();
    let old = (fb.width(), fb.height());
    let area = u64::from(width) * u64::from(height);
    cx.paint_on(resize_cost(old, (width, height)), 0, area)?;
    cx.screen.resize(width, height);
    cx.ctx.size_known = true;
    Ok(())
}

/// Pixels a resize writes ([`crate::framebuffer::Framebuffer::resize`]):
/// a new width copies the screen into a new one; a new height alone only
/// adds or drops rows.
fn resize_cost(old: (u32, u32), new: (u32, u32)) -> u64 {
    let area = |(w, h): (u32, u32)| u64::from(w) * u64::from(h);
    if old == new {
        0
    } else if old.0 == new.0 {
        area(new).saturating_sub(area(old))
    } else {
        area(new)
    }
}

/// Inflates exactly `out.len()` bytes from `input` with a connection-long
/// zlib stream. Servers end each rectangle's data with a sync flush, so the
/// output is complete once the input is used up.
pub fn inflate_exact(
    stream: &mut resumable::Inflater,
    mut input: &[u8],
    out: &mut [u8],
) -> Result<(), RectError> {
    let mut filled = 0;
    while filled < out.len() {
        let before_in = stream.total_in();
        let before_out = stream.total_out();
        stream
            .decompress(input, &mut out[filled..], flate2::FlushDecompress::Sync)
            .map_err(|e| RectError::Zlib(ZlibError(e)))?;
        let used = (stream.total_in() - before_in) as usize;
        let made = (stream.total_out() - before_out) as usize;
        input = &input[used..];
        filled += made;
        if used == 0 && made == 0 {
            return Err(RectError::ZlibShort {
                got: filled,
                want: out.len(),
            });
        }
    }
    // Whatever input is left is the tail of the sync flush (an empty stored
    // block); run it through so the stream stays in step.
    if !input.is_empty() {
        let mut sink = [0u8; 64];
        let before_out = stream.total_out();
        stream
            .decompress(input, &mut sink, flate2::FlushDecompress::Sync)
            .map_err(|e| RectError::Zlib(ZlibError(e)))?;
        if stream.total_out() != before_out {
            return Err(RectError::Malformed(Malformation::ZlibTooLong));
        }
    }
    Ok(())
}

/// Inflates all of `input` into `out`, refusing to produce more than `max`
/// bytes (ZRLE and Tight, whose inflated length is not sent).
pub fn inflate_bounded(
    stream: &mut resumable::Inflater,
    mut input: &[u8],
    out: &mut Vec<u8>,
    max: usize,
) -> Result<(), RectError> {
    out.clear();
    while !input.is_empty() {
        if out.len() == out.capacity() {
            if out.len() >= max {
                return Err(LimitError::TooLong {
                    what: Measure::InflatedBytes,
                    len: out.len() as u64 + 1,
                    max: max as u64,
                }
                .into());
            }
            out.reserve((out.len().max(4096)).min(max - out.len()));
        }
        let before_in = stream.total_in();
        let before_len = out.len();
        stream
            .decompress_vec(input, out, flate2::FlushDecompress::Sync)
            .map_err(|e| RectError::Zlib(ZlibError(e)))?;
        let used = (stream.total_in() - before_in) as usize;
        input = &input[used..];
        if used == 0 && out.len() == before_len && out.len() < out.capacity() {
            return Err(RectError::Malformed(Malformation::ZlibStopsShort));
        }
    }
    Ok(())
}
