//! PNG output: single frames and numbered sequences, 8-bit RGB.
//!
//! A sequence names its files by frame number k (`frame_000050.png` is at
//! 5 s at 10 fps), so a name says when it was on screen. PNG compression is
//! the slow part, so sequences compress on worker threads while the next
//! frames decode, encode a still screen once for all its frames, and use
//! fast compression: the files stay lossless.

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
use std::sync::{mpsc, Arc, Mutex};
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

/// One screen for the PNG workers: its B, G, R, X pixels, and every file
/// that shows it (a still screen spans many frames, encoded once).
struct PngJob {
    pixels: Arc<Vec<u8>>,
    width: u32,
    height: u32,
    paths: Vec<PathBuf>,
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

/// A worker's buffers, kept from one job to the next.
#[derive(Default)]
struct Scratch {
    rgb: Vec<u8>,
    png: Vec<u8>,
}

fn work(job: &PngJob, scratch: &mut Scratch) -> Result<(), ExportError> {
    let Some(first) = job.paths.first() else {
        return Ok(());
    };
    let len = job.width as usize * job.height as usize * 3;
    scratch.rgb.resize(len, 0);
    crate::framebuffer::bgrx_to_rgb(&job.pixels, &mut scratch.rgb);
    scratch.png.clear();
    encode(
        &mut scratch.png,
        &scratch.rgb,
        job.width,
        job.height,
        ImageKind::Png,
        true,
        first,
    )?;
    for path in &job.paths {
        write_bytes(path, &scratch.png)?;
    }
    Ok(())
}

/// A screen waiting for the frames that repeat it, before it goes to the
/// workers.
struct Pending {
    /// The frame content number, when the sampler gave one.
    content: Option<u64>,
    job: PngJob,
}

/// A numbered PNG sequence in a folder.
///
/// The playing thread only copies each new screen (a few hundred
/// microseconds for 1024x768); the workers convert colour, compress and
/// write, one per core. Frames that repeat the last screen (the sampler's
/// content number says so) add a file name to its job, so a still screen
/// is encoded once and written under every name asked for.
pub struct PngSequence {
    dir: PathBuf,
    digits: usize,
    written: u64,
    jobs: Option<mpsc::SyncSender<PngJob>>,
    workers: Vec<JoinHandle<Result<(), ExportError>>>,
    /// Files no frame may be written over.
    inputs: Inputs,
    pending: Option<Pending>,
    /// Screen copies, reused once the workers have dropped them.
    pool: Vec<Arc<Vec<u8>>>,
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
        // couple of screens in flight each, keeps every core busy and
        // memory bounded.
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (tx, rx) = mpsc::sync_channel::<PngJob>(2 * n);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..n)
            .map(|_| {
                let rx = Arc::clone(&rx);
                std::thread::spawn(move || {
                    let mut scratch = Scratch::default();
                    loop {
                        let job = rx.lock().map_err(|_| ExportError::WorkerLost)?.recv();
                        match job {
                            Ok(job) => work(&job, &mut scratch)?,
                            Err(_) => return Ok(()),
                        }
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
            pending: None,
            pool: Vec::new(),
        })
    }

    pub fn path_of(&self, index: u64) -> PathBuf {
        self.dir
            .join(format!("frame_{index:0width$}.png", width = self.digits))
    }

    /// Writes `fb` under `file_name` in the folder, on a worker thread.
    pub fn frame_named(&mut self, file_name: &str, fb: &Framebuffer) -> Result<(), ExportError> {
        let path = self.dir.join(file_name);
        self.send_content(path, fb, None)
    }

    /// A copy of `fb`'s pixels in a buffer no worker holds.
    fn snapshot(&mut self, fb: &Framebuffer) -> Arc<Vec<u8>> {
        let free = self.pool.iter().position(|a| Arc::strong_count(a) == 1);
        let mut buf = match free {
            Some(i) => self.pool.swap_remove(i),
            None => Arc::new(Vec::new()),
        };
        match Arc::get_mut(&mut buf) {
            Some(pixels) => {
                pixels.clear();
                pixels.extend_from_slice(fb.data());
            }
            None => buf = Arc::new(fb.data().to_vec()),
        }
        self.pool.push(Arc::clone(&buf));
        buf
    }

    /// Takes a frame; a frame whose `content` equals the pending screen's
    /// is one more file of it (every file is still written). A frame
    /// without a content number is always a new screen.
    fn send_content(
        &mut self,
        path: PathBuf,
        fb: &Framebuffer,
        content: Option<u64>,
    ) -> Result<(), ExportError> {
        self.inputs.check(&path)?;
        match &mut self.pending {
            Some(p) if content.is_some() && p.content == content => p.job.paths.push(path),
            _ => {
                self.flush()?;
                let job = PngJob {
                    pixels: self.snapshot(fb),
                    width: fb.width(),
                    height: fb.height(),
                    paths: vec![path],
                };
                self.pending = Some(Pending { content, job });
            }
        }
        self.written += 1;
        Ok(())
    }

    /// Hands the pending screen to the workers.
    fn flush(&mut self) -> Result<(), ExportError> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let sent = self
            .jobs
            .as_ref()
            .map(|tx| tx.send(p.job).is_ok())
            .unwrap_or(false);
        if !sent {
            return Err(self.worker_error());
        }
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
        self.send_content(path, frame.screen, None)
    }

    fn frame_with_content(&mut self, frame: &Frame<'_>, content: u64) -> Result<(), ExportError> {
        let path = self.path_of(frame.index);
        self.send_content(path, frame.screen, Some(content))
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        let flushed = self.flush();
        let joined = self.join();
        flushed.and(joined)
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
