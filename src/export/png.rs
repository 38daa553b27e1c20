//! PNG output: single frames and numbered sequences, 8-bit RGB.
//!
//! A sequence names its files by frame number k (`frame_000050.png` is at
//! 5 s at 10 fps), so a name says when it was on screen. PNG compression is
//! the slow part, so sequences compress on a worker thread while the next
//! frames decode, and use fast compression: the files stay lossless.

use super::{ExportError, Exporter};
use crate::framebuffer::Framebuffer;
use crate::timeline::Frame;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::ImageEncoder;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Writes a framebuffer to a PNG file.
pub fn write_png(fb: &Framebuffer, path: &Path, fast: bool) -> Result<(), ExportError> {
    write_rgb_png(&fb.to_rgb(), fb.width(), fb.height(), path, fast)
}

fn write_rgb_png(
    rgb: &[u8],
    width: u32,
    height: u32,
    path: &Path,
    fast: bool,
) -> Result<(), ExportError> {
    let file = std::fs::File::create(path).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let out = BufWriter::with_capacity(1 << 16, file);
    let (compression, filter) = if fast {
        (CompressionType::Fast, FilterType::Sub)
    } else {
        (CompressionType::Default, FilterType::Adaptive)
    };
    PngEncoder::new_with_quality(out, compression, filter)
        .write_image(rgb, width, height, image::ExtendedColorType::Rgb8)
        .map_err(|source| ExportError::Image {
            path: path.to_path_buf(),
            source,
        })
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
}

impl PngSequence {
    /// Creates `dir` if needed. `last_index` sets the zero padding (at
    /// least six digits).
    pub fn create(dir: &Path, last_index: Option<u64>) -> Result<PngSequence, ExportError> {
        std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let digits = last_index.map_or(6, |k| k.to_string().len().max(6));
        // Two frames in flight keep both cores busy and memory bounded.
        let (tx, rx) = mpsc::sync_channel::<PngJob>(2);
        let worker = std::thread::spawn(move || {
            for (path, rgb, w, h) in rx {
                write_rgb_png(&rgb, w, h, &path, true)?;
            }
            Ok(())
        });
        Ok(PngSequence {
            dir: dir.to_path_buf(),
            digits,
            written: 0,
            jobs: Some(tx),
            worker: Some(worker),
        })
    }

    pub fn path_of(&self, index: u64) -> PathBuf {
        self.dir
            .join(format!("frame_{index:0width$}.png", width = self.digits))
    }

    fn worker_error(&mut self) -> ExportError {
        self.jobs = None;
        match self.worker.take().map(|w| w.join()) {
            Some(Ok(Err(e))) => e,
            _ => ExportError::Other("the PNG writer stopped".into()),
        }
    }
}

impl Exporter for PngSequence {
    fn frame(&mut self, frame: &Frame<'_>) -> Result<(), ExportError> {
        let path = self.path_of(frame.index);
        let fb = frame.screen;
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

    fn finish(&mut self) -> Result<(), ExportError> {
        self.jobs = None;
        match self.worker.take().map(|w| w.join()) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(ExportError::Other("the PNG writer panicked".into())),
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
            None => Err(ExportError::Other("no frame to write".into())),
        }
    }

    fn frames_written(&self) -> u64 {
        self.written
    }
}
