//! GIF output, written by rfbplay with the `gif` crate rather than FFmpeg's
//! GIF encoder, on the encoder thread.
//!
//! FFmpeg 5.1's encoder takes either a fixed 3-3-2 palette (into which
//! swscale dithers: a black 1-pixel border became a yellow band) or one
//! palette for a whole frame, and then re-encodes the whole frame and
//! compares palette indices across palettes. Here each frame is only the
//! rectangle that changed, with its own palette of exactly its colours
//! ([`super::palette`]), and pixels that did not change are transparent.
//! Frames wait until the next one arrives, which tells their delay; GIF
//! counts delays in centiseconds, so frame times are rounded to them.

use super::encode::Setup;
use super::{palette, EncodeStats, Job, VideoError};
use ffmpeg_next::{format, frame, software::scaling};
use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

/// The longest delay one GIF frame can carry, in centiseconds.
const MAX_DELAY: i64 = u16::MAX as i64;

/// The shortest delay browsers honour: they play 0 and 1 centisecond as
/// 10, and so does FFmpeg's GIF reader.
const MIN_DELAY: i64 = 2;

/// swscale's area-averaging scaler, for `--scale`, in BGRX.
struct Scaler {
    context: scaling::Context,
    src: frame::Video,
    dst: frame::Video,
}

pub(super) struct GifOutput {
    path: PathBuf,
    encoder: ::gif::Encoder<BufWriter<File>>,
    width: usize,
    height: usize,
    scaler: Option<Scaler>,
    fps: f64,
    /// The picture written last; unchanged pixels are compared with it.
    last: Option<Arc<Vec<u8>>>,
    /// The picture waiting for its delay, and its time in centiseconds.
    held: Option<(Arc<Vec<u8>>, i64)>,
    stats: EncodeStats,
}

/// The thread body for GIF (see [`super::encode::run`]).
pub(super) fn run(
    setup: Setup,
    jobs: Receiver<Job>,
    pending: Arc<AtomicUsize>,
    ready: Sender<Result<(), VideoError>>,
) -> Result<EncodeStats, VideoError> {
    let mut out = match GifOutput::open(&setup) {
        Ok(out) => {
            let _ = ready.send(Ok(()));
            out
        }
        Err(e) => {
            let _ = ready.send(Err(e));
            return Err(VideoError::EncoderStopped);
        }
    };
    let mut end = None;
    for job in jobs {
        pending.fetch_sub(1, Ordering::Relaxed);
        match job {
            Job::Frame(frame) => {
                let started = Instant::now();
                out.encode(frame.pixels, frame.pts)?;
                out.stats.busy += started.elapsed();
            }
            // GIF has no chapters.
            Job::End { end_pts, .. } => {
                end = Some(end_pts);
                break;
            }
        }
    }
    out.finish(end)
}

impl GifOutput {
    fn open(setup: &Setup) -> Result<GifOutput, VideoError> {
        let path = setup.path.clone();
        let g = setup.geometry;
        let (width, height) = (g.out_width, g.out_height);
        let file =
            crate::output::creating(|| File::create(&path)).map_err(|source| VideoError::Io {
                path: path.clone(),
                what: "creating the file",
                source,
            })?;
        let gif_error = |source| VideoError::Gif {
            path: path.clone(),
            what: "writing the header",
            source,
        };
        // Geometry keeps sizes within 16384, which GIF's 16 bits hold.
        let mut encoder = ::gif::Encoder::new(
            BufWriter::new(file),
            width.min(65535) as u16,
            height.min(65535) as u16,
            &[],
        )
        .map_err(gif_error)?;
        encoder
            .set_repeat(::gif::Repeat::Infinite)
            .map_err(gif_error)?;
        let scaler = if (g.src_width, g.src_height) == (width, height) {
            None
        } else {
            let bgrx = format::Pixel::BGRZ;
            let context = scaling::Context::get(
                bgrx,
                g.src_width,
                g.src_height,
                bgrx,
                width,
                height,
                scaling::Flags::AREA,
            )
            .map_err(|source| VideoError::Ffmpeg {
                path: path.clone(),
                what: "setting up scaling",
                source,
            })?;
            Some(Scaler {
                context,
                src: frame::Video::new(bgrx, g.src_width, g.src_height),
                dst: frame::Video::new(bgrx, width, height),
            })
        };
        Ok(GifOutput {
            path,
            encoder,
            width: width as usize,
            height: height as usize,
            scaler,
            fps: setup.fps,
            last: None,
            held: None,
            stats: EncodeStats::default(),
        })
    }

    /// A frame number as centiseconds.
    fn centis(&self, frames: i64) -> i64 {
        (frames as f64 * 100.0 / self.fps).round() as i64
    }

    fn gif_error(
        &self,
        what: &'static str,
    ) -> impl FnOnce(::gif::EncodingError) -> VideoError + '_ {
        move |source| VideoError::Gif {
            path: self.path.clone(),
            what,
            source,
        }
    }

    /// Takes the picture shown from frame `pts` on.
    fn encode(&mut self, pixels: Arc<Vec<u8>>, pts: i64) -> Result<(), VideoError> {
        let started = Instant::now();
        let picture = match self.scaler.as_mut() {
            Some(s) => Arc::new(s.scale(&pixels).map_err(|source| VideoError::Ffmpeg {
                path: self.path.clone(),
                what: "scaling",
                source,
            })?),
            None => pixels,
        };
        self.stats.convert += started.elapsed();
        let at = self.centis(pts);
        match self.held.take() {
            Some((held, held_at)) if at < held_at + MIN_DELAY || held == picture => {
                // A picture shown for less than the shortest delay gives
                // way to the next; an unchanged one (after scaling)
                // lengthens the held frame.
                let keep = if held == picture { held } else { picture };
                self.held = Some((keep, held_at));
            }
            Some((held, held_at)) => {
                self.write(held, at - held_at)?;
                self.held = Some((picture, at));
            }
            None => self.held = Some((picture, at)),
        }
        Ok(())
    }

    /// Writes `picture` as a frame lasting `delay` centiseconds.
    fn write(&mut self, picture: Arc<Vec<u8>>, delay: i64) -> Result<(), VideoError> {
        let started = Instant::now();
        let mut delays = split_delay(delay).into_iter();
        let first = delays.next().unwrap_or(MIN_DELAY as u16);
        let last = self.last.as_deref().map(Vec::as_slice);
        let frame = match changed(last, &picture, self.width, self.height) {
            Some(rect) => self.frame(&picture, rect, first),
            // Only when a short-lived picture gave way to the one before.
            None => still(first),
        };
        self.stats.convert += started.elapsed();
        if self.last.is_none() {
            self.stats.keyframes += 1;
        }
        self.encoder
            .write_frame(&frame)
            .map_err(self.gif_error("writing a frame"))?;
        self.stats.encoded += 1;
        // Delays beyond one frame's 655.35 s continue in empty frames.
        for d in delays {
            self.encoder
                .write_frame(&still(d))
                .map_err(self.gif_error("writing a frame"))?;
        }
        self.last = Some(picture);
        Ok(())
    }

    /// The frame for the changed rectangle of `picture`.
    fn frame(&self, picture: &[u8], rect: Rect, delay: u16) -> ::gif::Frame<'static> {
        let Rect { x, y, w, h } = rect;
        let mut pixels = Vec::with_capacity(w * h * 4);
        let mut unchanged = Vec::with_capacity(if self.last.is_some() { w * h } else { 0 });
        for row in y..y + h {
            let start = (row * self.width + x) * 4;
            let line = &picture[start..start + w * 4];
            pixels.extend_from_slice(line);
            if let Some(last) = self.last.as_deref() {
                let before = &last[start..start + w * 4];
                unchanged.extend(
                    line.chunks_exact(4)
                        .zip(before.chunks_exact(4))
                        .map(|(a, b)| a[..3] == b[..3]),
                );
            }
        }
        let indexed = palette::index(&pixels, &unchanged);
        ::gif::Frame {
            delay,
            dispose: ::gif::DisposalMethod::Keep,
            transparent: indexed.transparent,
            left: x as u16,
            top: y as u16,
            width: w as u16,
            height: h as u16,
            palette: Some(indexed.palette),
            buffer: Cow::Owned(indexed.indices),
            ..Default::default()
        }
    }

    fn finish(mut self, end_pts: Option<i64>) -> Result<EncodeStats, VideoError> {
        if let Some((held, held_at)) = self.held.take() {
            let end = end_pts.map_or(held_at + 1, |e| self.centis(e));
            self.write(held, end - held_at)?;
        }
        let path = self.path.clone();
        let writer = self
            .encoder
            .into_inner()
            .map_err(|source| VideoError::Gif {
                path: path.clone(),
                what: "writing the trailer",
                source,
            })?;
        writer
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|mut f| f.flush())
            .map_err(|source| VideoError::Io {
                path: path.clone(),
                what: "writing the file",
                source,
            })?;
        self.stats.output_bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        Ok(self.stats)
    }
}

impl Scaler {
    fn scale(&mut self, pixels: &[u8]) -> Result<Vec<u8>, ffmpeg_next::Error> {
        copy_rows(pixels, &mut self.src);
        self.context.run(&self.src, &mut self.dst)?;
        let row = self.dst.width() as usize * 4;
        let stride = self.dst.stride(0);
        let data = self.dst.data(0);
        Ok((0..self.dst.height() as usize)
            .flat_map(|y| &data[y * stride..y * stride + row])
            .copied()
            .collect())
    }
}

fn copy_rows(pixels: &[u8], frame: &mut frame::Video) {
    let row = frame.width() as usize * 4;
    let stride = frame.stride(0);
    let data = frame.data_mut(0);
    for (y, line) in pixels.chunks_exact(row).enumerate() {
        if let Some(dst) = data.get_mut(y * stride..y * stride + row) {
            dst.copy_from_slice(line);
        }
    }
}

/// `delay` centiseconds (at least [`MIN_DELAY`]) as frame delays, each
/// from [`MIN_DELAY`] to [`MAX_DELAY`].
fn split_delay(delay: i64) -> Vec<u16> {
    let mut rest = delay.max(MIN_DELAY);
    let mut parts = Vec::new();
    while rest > 0 {
        let mut part = rest.min(MAX_DELAY);
        if (1..MIN_DELAY).contains(&(rest - part)) {
            part -= MIN_DELAY;
        }
        parts.push(part as u16);
        rest -= part;
    }
    parts
}

/// A transparent 1x1 frame: the picture stays as it is for `delay`.
fn still(delay: u16) -> ::gif::Frame<'static> {
    ::gif::Frame {
        delay,
        dispose: ::gif::DisposalMethod::Keep,
        transparent: Some(0),
        width: 1,
        height: 1,
        palette: Some(vec![0, 0, 0]),
        buffer: Cow::Owned(vec![0]),
        ..Default::default()
    }
}

/// A rectangle of pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rect {
    x: usize,
    y: usize,
    w: usize,
    h: usize,
}

/// The smallest rectangle holding every pixel of `now` that differs from
/// `before` (the whole picture when there is none), or None when equal.
/// Pictures are B, G, R, X rows of `width` pixels; X is ignored.
fn changed(before: Option<&[u8]>, now: &[u8], width: usize, height: usize) -> Option<Rect> {
    let whole = Rect {
        x: 0,
        y: 0,
        w: width,
        h: height,
    };
    let Some(before) = before else {
        return Some(whole);
    };
    let row = width * 4;
    let same = |a: &[u8], b: &[u8]| a[..3] == b[..3];
    let (mut x0, mut x1, mut y0, mut y1) = (width, 0, height, 0);
    for y in 0..height {
        let (a, b) = (&before[y * row..][..row], &now[y * row..][..row]);
        if a == b {
            continue;
        }
        let mut px = a.chunks_exact(4).zip(b.chunks_exact(4));
        let Some(first) = px.position(|(p, q)| !same(p, q)) else {
            continue;
        };
        let last = a
            .chunks_exact(4)
            .zip(b.chunks_exact(4))
            .rposition(|(p, q)| !same(p, q))
            .unwrap_or(first);
        x0 = x0.min(first);
        x1 = x1.max(last);
        y0 = y0.min(y);
        y1 = y;
    }
    (y0 < height).then(|| Rect {
        x: x0,
        y: y0,
        w: x1 + 1 - x0,
        h: y1 + 1 - y0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_split_into_parts_browsers_honour() {
        assert_eq!(split_delay(1), vec![2]);
        assert_eq!(split_delay(10), vec![10]);
        assert_eq!(split_delay(65535), vec![65535]);
        assert_eq!(split_delay(65536), vec![65533, 3]);
        assert_eq!(split_delay(2 * 65535 + 7), vec![65535, 65535, 7]);
        for total in [2, 65537, 200_001] {
            let parts = split_delay(total);
            assert_eq!(parts.iter().map(|&p| i64::from(p)).sum::<i64>(), total);
            assert!(parts.iter().all(|&p| p >= 2), "{parts:?}");
        }
    }

    #[test]
    fn the_changed_rectangle_bounds_every_change() {
        let (w, h) = (5, 4);
        let before = vec![0u8; w * h * 4];
        let mut now = before.clone();
        assert_eq!(changed(Some(&before), &now, w, h), None);
        // The padding byte is no colour.
        now[3] = 9;
        assert_eq!(changed(Some(&before), &now, w, h), None);
        now[(w + 3) * 4] = 1;
        now[(2 * w + 1) * 4 + 2] = 1;
        let r = changed(Some(&before), &now, w, h);
        assert_eq!(
            r,
            Some(Rect {
                x: 1,
                y: 1,
                w: 3,
                h: 2
            })
        );
        assert_eq!(changed(None, &now, w, h), Some(Rect { x: 0, y: 0, w, h }));
    }
}
