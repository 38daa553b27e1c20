//! Video output (mp4, mkv, mov, webm, gif, avi) through the system FFmpeg
//! libraries, linked in-process with `ffmpeg-next`.
//!
//! The work is split across two threads so both cores are used: the caller's
//! thread plays the recording and hands changed frames (BGRX canvases)
//! through a small bounded channel to an encoder thread, which converts
//! colour (only the rows that changed, [`yuv`], or with swscale when
//! scaling), encodes and muxes ([`encode`]), or writes a GIF
//! with palettes made from each frame's colours ([`gif`]). Screen recordings are
//! mostly still, so a frame identical to the previous one is never sent:
//! each encoded frame simply lasts until the next change (variable frame
//! durations), which keeps the video's length and frame times exact.
//!
//! The output has one size for the whole video: the smallest that holds
//! every screen sampled (the widest width by the tallest height: 640x480
//! then 720x400 makes 720x480), found optimistically: the first screen's
//! size is assumed, and only if a screen outgrows it later is the recording
//! played a second time with the size now known ([`export_file`]).

mod canvas;
mod encode;
mod gif;
mod options;
mod palette;
mod yuv;

pub use canvas::{Canvas, Geometry};
pub use options::{
    known_preset, within, VideoFormat, VideoOptions, MAX_CRF, MAX_FPS, MAX_SCALE, MAX_SPEED,
    PRESETS, SCREEN_PRESET, SUPPORTED_EXTENSIONS,
};
/// The conversion unscaled mp4, mkv, mov and webm exports apply (BT.601,
/// limited range), for checking videos against screens.
pub use yuv::yuv420_of;

use super::{ExportError, ExportReport, Exporter};
use crate::framebuffer::Framebuffer;
use crate::player::{PlayError, PlayOptions, Player};
use crate::progress::Progress;
use crate::time::Time;
use crate::timeline::Frame;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

/// What can go wrong making a video. Each variant names the output and
/// the step; the cause is its `source`, printed after it.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    #[error(
        "{}: unknown video extension {ext:?}; supported: {SUPPORTED_EXTENSIONS}",
        path.display()
    )]
    UnknownExtension { path: PathBuf, ext: String },
    #[error("{what}: {detail}")]
    BadOption { what: &'static str, detail: String },
    #[error("{}: {what}", path.display())]
    Ffmpeg {
        path: PathBuf,
        what: &'static str,
        source: ffmpeg_next::Error,
    },
    #[error("{}: {what}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{}: {what}", path.display())]
    Gif {
        path: PathBuf,
        what: &'static str,
        source: ::gif::EncodingError,
    },
    #[error(
        "{}: no frame to write: the recording has no complete update in the chosen time range",
        path.display()
    )]
    NoFrame { path: PathBuf },
    #[error("this FFmpeg build has no {0} encoder")]
    NoEncoder(&'static str),
    #[error("the video encoder thread stopped unexpectedly")]
    EncoderStopped,
    #[error(
        "this program was built without FFmpeg's encoders (call export::video::link_encoders)"
    )]
    NotLinked,
    #[error(transparent)]
    Play(#[from] PlayError),
}

/// The encoder thread's body: FFmpeg's encoders, or the GIF writer
/// (which scales with swscale).
type EncoderFn = fn(
    encode::Setup,
    mpsc::Receiver<Job>,
    Arc<AtomicUsize>,
    mpsc::Sender<Result<(), VideoError>>,
) -> Result<EncodeStats, VideoError>;

/// Set by [`link_encoders`]: the only path from this module to FFmpeg's
/// code, so that a program that never calls it (the `rfbplay` binary)
/// leaves FFmpeg's libraries out of its link and starts in a few
/// milliseconds instead of loading over a hundred shared libraries.
static ENCODER: std::sync::OnceLock<EncoderFn> = std::sync::OnceLock::new();

/// Makes video export work in this program by linking FFmpeg into it.
/// The `rfbplay-video` binary calls it first thing; a library user who
/// exports videos calls it once before.
pub fn link_encoders() {
    ENCODER.get_or_init(|| {
        |setup, jobs, pending, ready| match setup.format {
            VideoFormat::Gif => gif::run(setup, jobs, pending, ready),
            _ => encode::run(setup, jobs, pending, ready),
        }
    });
}

/// Whether [`link_encoders`] was called in this program.
pub fn encoders_linked() -> bool {
    ENCODER.get().is_some()
}

/// A frame for the encoder thread, or the end of the video.
enum Job {
    /// A BGRX canvas shown from `pts` (in frames) until the next job.
    Frame(Held),
    /// The video ends at `end_pts`, with these chapters.
    End {
        end_pts: i64,
        chapters: Vec<Chapter>,
    },
}

/// A canvas on its way to the encoder.
struct Held {
    pixels: Arc<Vec<u8>>,
    /// Shown from this frame number until the next canvas.
    pts: i64,
    /// The canvas rows that differ from the previous canvas sent; `None`
    /// when not known (every row is then converted).
    rows: Option<Vec<bool>>,
}

/// The rows changed by two successive canvases, when the first is not
/// sent.
fn merge_rows(first: Option<Vec<bool>>, second: Option<Vec<bool>>) -> Option<Vec<bool>> {
    let (mut a, b) = (first?, second?);
    if a.len() != b.len() {
        return None;
    }
    a.iter_mut().zip(b).for_each(|(x, y)| *x |= y);
    Some(a)
}

/// A chapter of the video, in its own seconds: `export --salvage` marks
/// each damaged stretch with one.
#[derive(Clone, Debug)]
pub struct Chapter {
    pub start_s: f64,
    pub end_s: f64,
    pub title: String,
}

/// What the encoder thread did.
#[derive(Clone, Copy, Debug, Default)]
pub struct EncodeStats {
    /// Frames given to the encoder.
    pub encoded: u64,
    pub keyframes: u64,
    pub output_bytes: u64,
    /// Length of the video in seconds.
    pub duration: f64,
    /// Time spent converting colour and encoding, on the encoder thread.
    pub busy: std::time::Duration,
    /// Time spent converting colour: swscale's part of `busy`, or, for
    /// unscaled yuv420p, converting the changed rows.
    pub convert: std::time::Duration,
}

struct Worker {
    jobs: mpsc::SyncSender<Job>,
    /// Jobs sent and not yet taken by the encoder thread.
    pending: Arc<AtomicUsize>,
    handle: JoinHandle<Result<EncodeStats, VideoError>>,
}

/// The [`Exporter`] for video files.
pub struct VideoExporter {
    path: PathBuf,
    format: VideoFormat,
    options: VideoOptions,
    first_index: u64,
    /// Fixed by `--size` or a previous pass; otherwise the first screen's.
    fixed: bool,
    canvas: Option<Canvas>,
    worker: Option<Worker>,
    /// The smallest size holding every screen sampled, and whether it
    /// outgrew the canvas.
    largest: (u32, u32),
    outgrown: bool,
    last_content: Option<u64>,
    last_index: Option<u64>,
    /// Changed frames not yet sent, at most two: the recording's end may
    /// still drop or move the last (see [`Exporter::recording_end`]).
    held: std::collections::VecDeque<Held>,
    /// Whether the encoder converts only changed rows, so canvases are
    /// sent with the rows that differ from the previous one.
    track_rows: bool,
    /// The last frame at or before the last complete update.
    end_index: Option<u64>,
    frames: u64,
    stats: EncodeStats,
    /// Damaged stretches to mark (see [`Exporter::damaged`]).
    chapters: Vec<Chapter>,
}

impl VideoExporter {
    /// A video to `path`; `canvas` is the size in recording pixels when it
    /// is known beforehand.
    pub fn new(
        path: &Path,
        options: &VideoOptions,
        canvas: Option<(u32, u32)>,
    ) -> Result<VideoExporter, VideoError> {
        options.validate()?;
        let format = VideoFormat::from_path(path)?;
        Ok(VideoExporter {
            path: path.to_path_buf(),
            format,
            options: options.clone(),
            first_index: options.sampling().first_index(),
            fixed: canvas.is_some(),
            canvas: canvas.map(|(w, h)| Canvas::new(Geometry::new(w, h, options.scale))),
            worker: None,
            largest: (0, 0),
            outgrown: false,
            last_content: None,
            last_index: None,
            held: Default::default(),
            track_rows: false,
            end_index: None,
            frames: 0,
            stats: EncodeStats::default(),
            chapters: Vec::new(),
        })
    }

    /// When the screen outgrew the size assumed from the first frame, the
    /// size a second pass must use; the file written so far is incomplete.
    pub fn restart_size(&self) -> Option<(u32, u32)> {
        self.outgrown.then_some(self.largest)
    }

    /// The output geometry, once the first frame fixed it.
    pub fn geometry(&self) -> Option<Geometry> {
        self.canvas.as_ref().map(|c| c.geometry())
    }

    pub fn stats(&self) -> EncodeStats {
        self.stats
    }

    fn start_worker(&mut self, geometry: Geometry) -> Result<(), VideoError> {
        let setup = encode::Setup {
            path: self.path.clone(),
            format: self.format,
            geometry,
            fps: self.options.fps,
            crf: self.options.crf,
            preset: self.options.preset.clone(),
            threads: self.options.encoder_threads,
            constant_rate: self.options.constant_rate,
        };
        // Three frames in flight keep the encoder busy while the decoder
        // runs ahead, and bound memory to a few canvases; of large screens,
        // fewer: at most about 256 MiB of canvases wait.
        let canvas = u64::from(geometry.out_width) * u64::from(geometry.out_height) * 4;
        let depth = (256 << 20) / canvas.max(1);
        let (jobs, rx) = mpsc::sync_channel(depth.clamp(1, 3) as usize);
        let (ready_tx, ready_rx) = mpsc::channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let taken = Arc::clone(&pending);
        let run = *ENCODER.get().ok_or(VideoError::NotLinked)?;
        let handle = std::thread::Builder::new()
            .name("rfbplay-encode".into())
            .spawn(move || run(setup, rx, taken, ready_tx))
            .map_err(|_| VideoError::EncoderStopped)?;
        match ready_rx.recv() {
            Ok(Ok(())) => {
                self.track_rows = encode::converts_rows(self.format, geometry);
                self.worker = Some(Worker {
                    jobs,
                    pending,
                    handle,
                });
                Ok(())
            }
            Ok(Err(e)) => {
                let _ = handle.join();
                Err(e)
            }
            Err(_) => Err(join_error(handle)),
        }
    }

    fn send_frame(&mut self, frame: Held) -> Result<(), VideoError> {
        self.send(Job::Frame(frame))
    }

    fn send(&mut self, job: Job) -> Result<(), VideoError> {
        let sent = self.worker.as_ref().map(|w| {
            w.pending.fetch_add(1, Ordering::Relaxed);
            w.jobs.send(job).is_ok()
        });
        match sent {
            Some(true) => Ok(()),
            Some(false) => match self.worker.take() {
                Some(w) => Err(join_error(w.handle)),
                None => Err(VideoError::EncoderStopped),
            },
            None => Err(VideoError::EncoderStopped),
        }
    }
}

/// The encoder thread's own error, when it stopped early.
fn join_error(handle: JoinHandle<Result<EncodeStats, VideoError>>) -> VideoError {
    match handle.join() {
        Ok(Err(e)) => e,
        _ => VideoError::EncoderStopped,
    }
}

impl VideoExporter {
    /// Takes a sampled frame: sends it to the encoder if it changed.
    fn take(&mut self, frame: &Frame<'_>, content: Option<u64>) -> Result<(), ExportError> {
        let fb = frame.screen;
        self.largest = (
            self.largest.0.max(fb.width()),
            self.largest.1.max(fb.height()),
        );
        if self.outgrown {
            return Ok(());
        }
        if self.canvas.is_none() {
            let size = (fb.width().max(1), fb.height().max(1));
            self.canvas = Some(Canvas::new(Geometry::new(
                size.0,
                size.1,
                self.options.scale,
            )));
        }
        let Some(canvas) = self.canvas.as_mut() else {
            return Ok(());
        };
        let geometry = canvas.geometry();
        if !self.fixed && (fb.width() > geometry.width || fb.height() > geometry.height) {
            // Stop encoding; the caller plays the file again at the
            // size holding every screen, which the rest of this pass
            // finds out.
            self.outgrown = true;
            if let Some(w) = self.worker.take() {
                // Wait for the thread to let go of the file before the
                // next pass creates it again.
                drop(w.jobs);
                let _ = w.handle.join();
            }
            return Ok(());
        }
        if self.worker.is_none() {
            self.start_worker(geometry)?;
        }
        let pts = frame.index.saturating_sub(self.first_index) as i64;
        self.last_index = Some(frame.index);
        self.frames += 1;
        let Some(canvas) = self.canvas.as_mut() else {
            return Ok(());
        };
        // A new content is new pixels, or so nearly always that comparing
        // every changed frame would cost more than the rare duplicate.
        let unchanged = match content {
            Some(c) => self.last_content == Some(c),
            None => canvas.shows(fb),
        };
        self.last_content = content;
        if unchanged {
            // The encoder thread repeats pictures itself at constant rate.
            return Ok(());
        }
        let (pixels, rows) = if self.track_rows {
            canvas.draw_tracked(fb)
        } else {
            (canvas.draw(fb), None)
        };
        self.held.push_back(Held { pixels, pts, rows });
        while self.held.len() > 2 {
            if let Some(frame) = self.held.pop_front() {
                self.send_frame(frame)?;
            }
        }
        Ok(())
    }
}

impl Exporter for VideoExporter {
    fn frame(&mut self, frame: &Frame<'_>) -> Result<(), ExportError> {
        // Without a content hint every frame is compared by its pixels.
        self.take(frame, None)
    }

    fn frame_with_content(&mut self, frame: &Frame<'_>, content: u64) -> Result<(), ExportError> {
        self.take(frame, Some(content))
    }

    fn recording_end(
        &mut self,
        last_update: Time,
        screen: &Framebuffer,
        content: u64,
    ) -> Result<(), ExportError> {
        let sampling = self.options.sampling();
        let mut k = (last_update.0 as f64 * sampling.fps / 1e9).floor() as u64;
        while sampling.time_of(k) > last_update && k > 0 {
            k -= 1;
        }
        while sampling.time_of(k + 1) <= last_update {
            k += 1;
        }
        self.end_index = Some(k);
        // The final screen goes in the last frame (see `finish`) unless
        // `--to` ended the video before the recording's end.
        if self.last_index.is_some_and(|last| last >= k) && !self.outgrown {
            let frame = Frame {
                index: k + 1,
                time: sampling.time_of(k + 1),
                screen,
            };
            let was = self.frames;
            self.take(&frame, Some(content))?;
            self.frames = was;
        }
        Ok(())
    }

    fn damaged(&mut self, spans: &[crate::salvage::Damage]) {
        // FFmpeg 5.1's MP4 muxer places chapters added after its header at
        // the start of the video; Matroska writes them where they belong.
        if self.format != VideoFormat::Mkv {
            return;
        }
        let (from, speed) = (self.options.from.as_secs_f64(), self.options.speed);
        let video_s = |t: crate::time::Time| ((t.as_secs_f64() - from) / speed).max(0.0);
        self.chapters = spans
            .iter()
            .map(|d| {
                let start = video_s(d.time_before.unwrap_or(d.time_found));
                let end = d.time_after.map_or(f64::MAX, video_s);
                Chapter {
                    start_s: start,
                    end_s: end.max(start),
                    title: match d.time_after {
                        Some(_) => format!("damaged: {}", d.cause),
                        None => format!("damaged to the end: {}", d.cause),
                    },
                }
            })
            .collect();
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        if self.outgrown {
            return Ok(());
        }
        let Some(last) = self.last_index else {
            return Err(VideoError::NoFrame {
                path: self.path.clone(),
            }
            .into());
        };
        // Frames after the last complete update come from the unfinished
        // tail of a cut recording: the video ends with the frame at or
        // before that update, and shows the final screen in it, so the
        // video lasts the recording's duration within one frame and ends
        // on its last picture.
        let last = self.end_index.map_or(last, |e| e.min(last));
        let last_pts = last.saturating_sub(self.first_index) as i64;
        if let Some(mut final_frame) = self.held.pop_back() {
            final_frame.pts = final_frame.pts.min(last_pts);
            // Frames the final one replaces are not sent: the rows they
            // changed become its own.
            let mut kept = std::collections::VecDeque::new();
            for frame in self.held.drain(..) {
                if frame.pts < final_frame.pts {
                    kept.push_back(frame);
                } else {
                    final_frame.rows = merge_rows(frame.rows, final_frame.rows);
                }
            }
            kept.push_back(final_frame);
            self.held = kept;
        }
        while let Some(frame) = self.held.pop_front() {
            self.send_frame(frame)?;
        }
        let end_pts = last_pts + 1;
        let chapters = std::mem::take(&mut self.chapters);
        self.send(Job::End { end_pts, chapters })?;
        let Some(worker) = self.worker.take() else {
            return Err(VideoError::EncoderStopped.into());
        };
        drop(worker.jobs);
        match worker.handle.join() {
            Ok(Ok(stats)) => {
                self.stats = stats;
                self.stats.duration = end_pts as f64 / self.options.fps;
                Ok(())
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(VideoError::EncoderStopped.into()),
        }
    }

    fn frames_written(&self) -> u64 {
        self.frames
    }
}

/// How a video export went.
pub struct VideoReport {
    pub export: ExportReport,
    /// 1, or 2 when the screen grew and the file was played again.
    pub passes: u32,
    /// Output geometry, when any frame was written.
    pub geometry: Option<Geometry>,
    pub stats: EncodeStats,
    /// With `cursor`, why no cursor was drawn, when the recording played
    /// to its end without telling where to draw it.
    pub cursor_gap: Option<crate::framebuffer::CursorGap>,
}

/// Plays `input` and writes a video to `output`. When the screen grows past
/// the first frame's size (and no size was given), the recording is played
/// a second time at the size holding every screen, so the whole video has
/// one size.
pub fn export_file(
    input: &Path,
    output: &Path,
    options: &VideoOptions,
    progress: &dyn Progress,
) -> Result<VideoReport, VideoError> {
    options.validate()?;
    VideoFormat::from_path(output)?;
    let mut size = options.size;
    let mut passes = 0;
    loop {
        passes += 1;
        let play = PlayOptions {
            draw_cursor: options.cursor,
            salvage: options.salvage,
            ..Default::default()
        };
        let mut player = Player::open(input, play)?;
        let mut exporter = VideoExporter::new(output, options, size)?;
        let report = super::run(&mut player, options.sampling(), &mut exporter, progress);
        match exporter.restart_size() {
            Some(largest) if passes == 1 => size = Some(largest),
            _ => {
                let played_through = !report.summary.stopped && report.summary.error.is_none();
                let cursor_gap = if options.cursor && played_through {
                    player.parser().screen().cursor_gap()
                } else {
                    None
                };
                return Ok(VideoReport {
                    export: report,
                    passes,
                    geometry: exporter.geometry(),
                    stats: exporter.stats(),
                    cursor_gap,
                });
            }
        }
    }
}
