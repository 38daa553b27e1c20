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
use std::sync::{mpsc, Arc, Mutex, OnceLock};
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

/// The encoded bytes of one screen, filled by the worker that encodes it
/// (`Err` when that failed), waited for by the jobs that repeat it.
type Encoded = Arc<OnceLock<Result<Arc<Vec<u8>>, ()>>>;

/// Work for the PNG workers.
enum PngJob {
    /// Encode these RGB pixels (width, height) and write them to a path.
    Encode(PathBuf, Vec<u8>, u32, u32, Encoded),
    /// Write the bytes another job encodes (an unchanged screen).
    Repeat(PathBuf, Encoded),
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let (staged, mut file) = Staged::create(path)?;
    file.write_all(bytes).map_err(|source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    staged.commit()?;
    Ok(())
}

fn work(job: PngJob) -> Result<(), ExportError> {
    match job {
        PngJob::Encode(path, rgb, w, h, slot) => {
            let mut bytes = Vec::with_capacity(rgb.len() / 8);
            let encoded = encode(&mut bytes, &rgb, w, h, ImageKind::Png, true, &path);
            let _ = slot.set(
                encoded
                    .as_ref()
                    .map(|_| Arc::new(bytes.clone()))
                    .map_err(|_| ()),
            );
            encoded?;
            write_bytes(&path, &bytes)
        }
        PngJob::Repeat(path, slot) => match slot.wait() {
            Ok(bytes) => write_bytes(&path, bytes),
            Err(()) => Err(ExportError::WorkerLost),
        },
    }
}

/// A numbered PNG sequence in a folder.
pub struct PngSequence {
    dir: PathBuf,
    digits: usize,
    written: u64,
    jobs: Option<mpsc::SyncSender<PngJob>>,
    workers: Vec<JoinHandle<Result<(), ExportError>>>,
    /// Files no frame may be written over.
    inputs: Inputs,
    /// The last screen sent, by content number, to repeat without encoding.
    last: Option<(u64, Encoded)>,
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
        // PNG compression is the slow part: one worker per core, with a
        // couple of frames in flight each, keeps every core busy and memory
        // bounded.
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (tx, rx) = mpsc::sync_channel::<PngJob>(2 * n);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..n)
            .map(|_| {
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || loop {
                    let job = rx.lock().map_err(|_| ExportError::WorkerLost)?.recv();
                    match job {
                        Ok(job) => work(job)?,
                        Err(_) => return Ok(()),
                    }
                })
            })
            .collect();
        Ok(PngSequence {
            dir: dir.to_path_buf(),
            digits,
            written: 0,
            jobs: Some(tx),
            workers,
            inputs,
            last: None,
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
        self.send_content(path, fb, None)
    }

    /// Sends a frame; a frame whose `content` equals the last one's reuses
    /// its encoded bytes (every file is still written).
    fn send_content(
        &mut self,
        path: PathBuf,
        fb: &Framebuffer,
        content: Option<u64>,
    ) -> Result<(), ExportError> {
        self.inputs.check(&path)?;
        let job = match (&self.last, content) {
            (Some((c, slot)), Some(now)) if *c == now => PngJob::Repeat(path, Arc::clone(slot)),
            _ => {
                let slot: Encoded = Arc::new(OnceLock::new());
                self.last = content.map(|c| (c, Arc::clone(&slot)));
                PngJob::Encode(path, fb.to_rgb(), fb.width(), fb.height(), slot)
            }
        };
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
        self.join().err().unwrap_or(ExportError::WorkerLost)
    }

    /// Closes the queue and waits for every worker; the first error wins.
    fn join(&mut self) -> Result<(), ExportError> {
        self.jobs = None;
        let mut first = Ok(());
        for w in self.workers.drain(..) {
            let r = w.join().unwrap_or(Err(ExportError::WorkerLost));
            if first.is_ok() {
                first = r;
            }
        }
        first
    }
}

impl Exporter for PngSequence {
    fn frame(&mut self, frame: &Frame<'_>) -> Result<(), ExportError> {
        let path = self.path_of(frame.index);
        self.send(path, frame.screen)
    }

    fn frame_with_content(&mut self, frame: &Frame<'_>, content: u64) -> Result<(), ExportError> {
        let path = self.path_of(frame.index);
        self.send_content(path, frame.screen, Some(content))
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        self.join()
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
