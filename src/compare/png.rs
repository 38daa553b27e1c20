//! Reading the two images from PNG files and writing the diff image: the
//! only file I/O of `compare`, kept beside its core so the core stays a
//! function of two pixel buffers.
//!
//! RGB and RGBA 8-bit PNGs decode straight into the buffer the comparison
//! reads; other colour types (grey, 16-bit) are converted to RGBA once.
//! The size is checked before the pixels are allocated. The diff image is
//! written to a temporary file in the target's folder and renamed into
//! place, and never over either input.

use super::view::{Layout, OwnedImage};
use image::ImageDecoder;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Screenshots are screens: the size limits are the recordings' own
/// (16384 a side, 8192x8192 pixels in all), checked before any pixel
/// buffer is allocated, so a small PNG cannot claim gigabytes.
fn limits() -> crate::limits::Limits {
    crate::limits::Limits::default()
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The decoder's message is shown, not chained: it already carries
    /// its own cause's text.
    #[error("{} is not a readable PNG: {cause}", .path.display())]
    Decode {
        path: PathBuf,
        cause: image::ImageError,
    },
    #[error("{} is {width}x{height}, larger than {max_side} a side or {max_pixels} pixels", .path.display())]
    TooLarge {
        path: PathBuf,
        width: u32,
        height: u32,
        max_side: u32,
        max_pixels: u64,
    },
}

impl LoadError {
    /// True when the file does not exist (as opposed to being unreadable).
    pub fn is_missing(&self) -> bool {
        matches!(self, LoadError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Decodes a PNG file.
pub fn load_png(path: &Path) -> Result<OwnedImage, LoadError> {
    decode_file(path, &read(path)?)
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Decodes PNG bytes that came from elsewhere than a file (an upload to
/// `rfbplay serve`); `path` names them in errors.
pub fn decode_bytes(path: &Path, bytes: &[u8]) -> Result<OwnedImage, LoadError> {
    decode_file(path, bytes)
}

fn decode_file(path: &Path, bytes: &[u8]) -> Result<OwnedImage, LoadError> {
    decode_png(bytes).map_err(|e| match e {
        Decoded::Image(cause) => LoadError::Decode {
            path: path.to_path_buf(),
            cause,
        },
        Decoded::TooLarge(width, height) => LoadError::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
            max_side: limits().max_width.min(limits().max_height),
            max_pixels: limits().max_pixels,
        },
    })
}

enum Decoded {
    Image(image::ImageError),
    TooLarge(u32, u32),
}

fn decode_png(bytes: &[u8]) -> Result<OwnedImage, Decoded> {
    let decoder =
        image::codecs::png::PngDecoder::new(std::io::Cursor::new(bytes)).map_err(Decoded::Image)?;
    let (width, height) = decoder.dimensions();
    if limits().check_screen(width, height).is_err() {
        return Err(Decoded::TooLarge(width, height));
    }
    let layout = match decoder.color_type() {
        image::ColorType::Rgb8 => Some(Layout::Rgb),
        image::ColorType::Rgba8 => Some(Layout::Rgba),
        _ => None,
    };
    let data = match layout {
        Some(_) => {
            let mut buf = vec![0; decoder.total_bytes() as usize];
            decoder.read_image(&mut buf).map_err(Decoded::Image)?;
            buf
        }
        None => image::DynamicImage::from_decoder(decoder)
            .map_err(Decoded::Image)?
            .into_rgba8()
            .into_raw(),
    };
    Ok(OwnedImage {
        width,
        height,
        layout: layout.unwrap_or(Layout::Rgba),
        data,
    })
}

/// Decodes two PNG files at once, on two cores. Two files with the same
/// bytes (the usual case in a passing screenshot suite) are decoded once.
pub fn load_pair(
    a: &Path,
    b: &Path,
) -> (Result<OwnedImage, LoadError>, Result<OwnedImage, LoadError>) {
    let (bytes_a, bytes_b) = rayon::join(|| read(a), || read(b));
    match (bytes_a, bytes_b) {
        (Ok(x), Ok(y)) if x == y => {
            let img = decode_file(a, &x);
            let twin = match &img {
                Ok(i) => Ok(i.clone()),
                Err(_) => decode_file(b, &y),
            };
            (img, twin)
        }
        (Ok(x), Ok(y)) => rayon::join(|| decode_file(a, &x), || decode_file(b, &y)),
        (x, y) => (
            x.and_then(|x| decode_file(a, &x)),
            y.and_then(|y| decode_file(b, &y)),
        ),
    }
}

/// Two PNG files read for a comparison.
pub enum Pair {
    /// The same bytes: only the header was decoded, for the size.
    Identical {
        width: u32,
        height: u32,
    },
    Decoded(Result<OwnedImage, LoadError>, Result<OwnedImage, LoadError>),
}

/// Reads two PNG files; when their bytes are equal (most pairs of a
/// passing screenshot suite) the pixels are not decoded at all, since the
/// images are equal whatever they hold; otherwise both decode at once.
pub fn load_pair_unless_identical(a: &Path, b: &Path) -> Pair {
    let (bytes_a, bytes_b) = rayon::join(|| read(a), || read(b));
    match (bytes_a, bytes_b) {
        (Ok(x), Ok(y)) if x == y => match header(&x) {
            Ok((width, height)) => Pair::Identical { width, height },
            Err(_) => Pair::Decoded(decode_file(a, &x), decode_file(b, &y)),
        },
        (Ok(x), Ok(y)) => {
            let (p, q) = rayon::join(|| decode_file(a, &x), || decode_file(b, &y));
            Pair::Decoded(p, q)
        }
        (x, y) => Pair::Decoded(
            x.and_then(|x| decode_file(a, &x)),
            y.and_then(|y| decode_file(b, &y)),
        ),
    }
}

/// A PNG's size from its header, within the limits.
fn header(bytes: &[u8]) -> Result<(u32, u32), Decoded> {
    let decoder =
        image::codecs::png::PngDecoder::new(std::io::Cursor::new(bytes)).map_err(Decoded::Image)?;
    let (width, height) = decoder.dimensions();
    if limits().check_screen(width, height).is_err() {
        return Err(Decoded::TooLarge(width, height));
    }
    Ok((width, height))
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("refusing to write the diff image over the input {}", .path.display())]
    IsInput { path: PathBuf },
    #[error("cannot write {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The temporary file could not be made or moved into place.
    #[error(transparent)]
    Staged(#[from] crate::output::OutputError),
    #[error("cannot encode {}: {cause}", .path.display())]
    Encode {
        path: PathBuf,
        cause: image::ImageError,
    },
}

/// Fails when `out` names the same file as one of `inputs` (by canonical
/// path, or by device and inode when it exists).
pub fn refuse_inputs(out: &Path, inputs: &[&Path]) -> Result<(), WriteError> {
    let resolved = resolve(out);
    for input in inputs {
        let same_path = match (&resolved, std::fs::canonicalize(input)) {
            (Some(o), Ok(i)) => *o == i,
            _ => false,
        };
        if same_path || same_inode(out, input) {
            return Err(WriteError::IsInput {
                path: input.to_path_buf(),
            });
        }
    }
    Ok(())
}

/// The canonical form of a path that may not exist yet.
fn resolve(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Some(c);
    }
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(parent).ok()?.join(p.file_name()?))
}

#[cfg(unix)]
fn same_inode(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_inode(_: &Path, _: &Path) -> bool {
    false
}

/// Writes 8-bit RGB pixels as a PNG through a temporary file renamed into
/// place ([`crate::output::Staged`]), refusing to replace any of `inputs`.
pub fn write_png(
    path: &Path,
    width: u32,
    height: u32,
    rgb: &[u8],
    inputs: &[&Path],
) -> Result<(), WriteError> {
    refuse_inputs(path, inputs)?;
    let io = |source| WriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let (staged, file) = crate::output::Staged::create(path)?;
    let mut w = std::io::BufWriter::new(file);
    let enc = image::codecs::png::PngEncoder::new_with_quality(
        &mut w,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Adaptive,
    );
    image::ImageEncoder::write_image(enc, rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|cause| WriteError::Encode {
            path: path.to_path_buf(),
            cause,
        })?;
    w.flush().map_err(io)?;
    drop(w);
    Ok(staged.commit()?)
}
