//! PNG output: single frames and numbered sequences, 8-bit RGB.
//!
//! A sequence names its files by frame number k (`frame_000050.png` is at
//! 5 s at 10 fps), so a name says when it was on screen. PNG compression is
//! the slow part, so sequences compress on a worker thread while the next
//! frames decode, and use fast compression: the files stay lossless.

use super::{ExportError, Exporter};
use crate::framebuffer::Framebuffer;
use crate::output::{image_kind, ImageKind, Inputs, Staged};
use crate::timeline::Frame;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::ImageEncoder;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Writes a framebuffer to a PNG file.
pub fn write_png(fb: &Framebuffer, path: &Path, fast: bool) -> Result<(), ExportError> {
    write_rgb(
        &fb.to_rgb(),
        fb.width(),
        fb.height(),
        path,
        ImageKind::Png,
        fast,
    )
}

/// Writes a framebuffer as the image format its path's extension names
/// (PNG, JPEG or lossless WebP); `-` writes PNG to standard output.
pub fn write_image(fb: &Framebuffer, path: &Path) -> Result<(), ExportError> {
    let kind = image_kind(path)?;
    let rgb = fb.to_rgb();
    if path.as_os_str() == "-" {
        let stdout = std::io::stdout().lock();
        let mut out = BufWriter::with_capacity(1 << 16, stdout);
        encode(&mut out, &rgb, fb.width(), fb.height(), kind, false, path)?;
        return out.flush().map_err(|source| ExportError::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    write_rgb(&rgb, fb.width(), fb.height(), path, kind, false)
}

/// 8-bit RGB pixels encoded as PNG in memory (for `rfbplay serve`), with
/// fast compression: the pixels stay exact, the encoding stays quick.
pub fn png_bytes(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ExportError> {
    let mut out = Vec::with_capacity(rgb.len() / 4 + 1024);
    encode(
        &mut out,
        rgb,
        width,
        height,
        ImageKind::Png,
        true,
        Path::new("(in memory)"),
    )?;
    Ok(out)
}

fn encode(
    out: &mut dyn Write,
    rgb: &[u8],
    width: u32,
    height: u32,
    kind: ImageKind,
    fast: bool,
    path: &Path,
) -> Result<(), ExportError> {
    let color = image::ExtendedColorType::Rgb8;
    let result = match kind {
        ImageKind::Png => {
            let (compression, filter) = if fast {
                (CompressionType::Fast, FilterType::Sub)
            } else {
                (CompressionType::Default, FilterType::Adaptive)
            };
            PngEncoder::new_with_quality(out, compression, filter)
                .write_image(rgb, width, height, color)
        }
        ImageKind::Jpeg => {
            JpegEncoder::new_with_quality(out, 92).write_image(rgb, width, height, color)
        }
        ImageKind::WebP => WebPEncoder::new_lossless(out).write_image(rgb, width, height, color),
    };
    result.map_err(|source| ExportError::Image {
        path: path.to_path_buf(),
        source,
    })
}

/// Encodes into a temporary file beside `path`, renamed into place when
/// complete.
fn write_rgb(
    rgb: &[u8],
    width: u32,
    height: u32,
    path: &Path,
    kind: ImageKind,
    fast: bool,
) -> Result<(), ExportError> {
    let (staged, file) = Staged::create(path)?;
    let mut out = BufWriter::with_capacity(1 << 16, file);
    encode(&mut out, rgb, width, height, kind, fast, path)?;
    out.into_inner()
        .map_err(|e| e.into_error())
        .map_err(|source| ExportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    staged.commit()?;
    Ok(())
}

/// A frame for the PNG worker: where it goes, RGB pixels, width, height.
type PngJob = (PathBuf, Vec<u8>, u32, u32);

/// A numbered PNG sequence in a folder.
pub struct PngSequence {
    dir: PathBuf,
    digits: usize,
    written: u64,
    jobs: Option<mpsc::SyncSender<PngJob>>,
    worker: Option<JoinHandle<Result<(), ExportError>>>,
    /// Files no frame may be written over.
    inputs: Inputs,
}

impl PngSequence {
    /// Creates `dir` if needed. `last_index` sets the zero padding (at
    /// least six digits).
    pub fn create(
        dir: &Path,
        last_index: Option<u64>,
        inputs: Inputs,
    ) -> Result<PngSequence, ExportError> {
        std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let digits = last_index.map_or(6, |k| k.to_string().len().max(6));
        // Two frames in flight keep both cores busy and memory bounded.
        let (tx, rx) = mpsc::sync_channel::<PngJob>(2);
        let worker = std::thread::spawn(move || {
            for (path, rgb, w, h) in rx {
                write_rgb(&rgb, w, h, &path, ImageKind::Png, true)?;
            }
            Ok(())
        });
        Ok(PngSequence {
            dir: dir.to_path_buf(),
            digits,
            written: 0,
            jobs: Some(tx),
            worker: Some(worker),
            inputs,
        })
    }

    pub fn path_of(&self, index: u64) -> PathBuf {
        self.dir
            .join(format!("frame_{index:0width$}.png", width = self.digits))
    }

    /// Writes `fb` under `file_name` in the folder, on the worker thread.
    pub fn frame_named(&mut self, file_name: &str, fb: &Framebuffer) -> Result<(), ExportError> {
        let path = self.dir.join(file_name);
        self.send(path, fb)
    }

    fn send(&mut self, path: PathBuf, fb: &Framebuffer) -> Result<(), ExportError> {
        self.inputs.check(&path)?;
        let job = (path, fb.to_rgb(), fb.width(), fb.height());
        let sent = self
            .jobs
            .as_ref()
            .map(|tx| tx.send(job).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err(self.worker_error());
        }
        self.written += 1;
        Ok(())
    }

    fn worker_error(&mut self) -> ExportError {
        self.jobs = None;
        match self.worker.take().map(|w| w.join()) {
            Some(Ok(Err(e))) => e,
            _ => ExportError::WorkerLost,
        }
    }
}

impl Exporter for PngSequence {
    fn frame(&mut self, frame: &Frame<'_>) -> Result<(), ExportError> {
        let path = self.path_of(frame.index);
        self.send(path, frame.screen)
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        self.jobs = None;
        match self.worker.take().map(|w| w.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ExportError::WorkerLost),
            None => Ok(()),
        }
    }

    fn frames_written(&self) -> u64 {
        self.written
    }
}

/// One frame, the last one it is given, written at `finish`.
pub struct SingleFrame {
    path: PathBuf,
    last: Option<Framebuffer>,
    written: u64,
}

impl SingleFrame {
    pub fn new(path: &Path) -> SingleFrame {
        SingleFrame {
            path: path.to_path_buf(),
            last: None,
            written: 0,
        }
    }
}

impl Exporter for SingleFrame {
    fn frame(&mut self, frame: &Frame<'_>) -> Result<(), ExportError> {
        match &mut self.last {
            Some(fb) => fb.clone_from(frame.screen),
            None => self.last = Some(frame.screen.clone()),
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        match &self.last {
            Some(fb) => {
                write_png(fb, &self.path, false)?;
                self.written = 1;
                Ok(())
            }
            None => Err(ExportError::NoFrame),
        }
    }

    fn frames_written(&self) -> u64 {
        self.written
    }
}
