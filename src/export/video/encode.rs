//! The encoder thread: colour conversion (swscale), encoding and muxing
//! through FFmpeg, for every format but GIF (see [`super::gif`]).
//!
//! It runs on the second core while the first plays the recording. Frames
//! arrive only when the screen changed, each stamped with its frame number
//! as pts; a frame lasts until the next one, so packet durations are known
//! only once the next frame (or the end) arrives. Packets wait in a queue
//! until then: a packet written without its duration makes mp4 drop the
//! last frame. A keyframe is forced at least every [`KEYFRAME_SECONDS`] of
//! video time, so seeking stays cheap even when frames last long.

use super::yuv::Incremental;
use super::{EncodeStats, Geometry, Job, VideoError, VideoFormat};
use ffmpeg_next::{
    codec, encoder, format, frame, picture, software::scaling, util::color, Dictionary, Packet,
    Rational,
};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Instant;

/// Longest stretch of video between keyframes.
pub const KEYFRAME_SECONDS: f64 = 10.0;

/// What the default `screen` preset means to x264: ultrafast, whose cost
/// is a third of veryfast's on screen recordings (CAVLC instead of CABAC,
/// no subpixel search, no deblocking: at the high bit rates of changing
/// text, entropy coding alone costs more than the rest), with back the
/// options that pay for themselves on screens. Intra 8x8 and 4x4
/// partitions keep text edges cheap; adaptive quantisation and the
/// macroblock tree (which needs the lookahead) move bits from still areas
/// to changing ones. Measured on a 66.7 s 1024x768 incremental recording:
/// 1.35 times veryfast's file size (ultrafast alone: 2.0), at 0.55 of its
/// CPU time; 1.8 times on minimega's raw full-frame recording. Adding
/// `me=hex:subme=2` brings both to 1.2 times but costs a third more
/// time, which misses 100x real time on two cores.
const SCREEN_X264: (&str, &str) = (
    "ultrafast",
    "partitions=i8x8,i4x4:8x8dct=1:aq-mode=1:rc-lookahead=10:mbtree=1",
);

/// Everything the thread needs to open the output.
pub(super) struct Setup {
    pub path: PathBuf,
    pub format: VideoFormat,
    pub geometry: Geometry,
    pub fps: f64,
    pub crf: u8,
    pub preset: String,
    /// Encoder threads; 0: the encoder's choice.
    pub threads: usize,
    /// Repeat unchanged pictures so every frame is in the file.
    pub constant_rate: bool,
}

/// The frame rate as an exact fraction (to a thousandth of a frame).
fn fps_rational(fps: f64) -> Rational {
    fn gcd(a: i32, b: i32) -> i32 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }
    let milli = ((fps * 1000.0).round() as i32).max(1);
    let g = gcd(milli, 1000).max(1);
    Rational(milli / g, 1000 / g)
}

struct Output {
    path: PathBuf,
    octx: format::context::Output,
    encoder: encoder::Video,
    scaler: scaling::Context,
    src: frame::Video,
    dst: frame::Video,
    reuse_dst: bool,
    /// Unscaled yuv420p: the converted picture, kept to convert only the
    /// rows that change (swscale converts everything else).
    incremental: Option<Incremental>,
    /// Encoder time base: one tick per frame.
    tb: Rational,
    stream_tb: Rational,
    gop_ticks: i64,
    constant_rate: bool,
    /// Every frame is a keyframe (MJPEG).
    intra_only: bool,
    last_key: Option<i64>,
    last_pts: Option<i64>,
    durations: HashMap<i64, i64>,
    queue: VecDeque<Packet>,
    stats: EncodeStats,
}

/// The thread body: opens the output, reports readiness on `ready`, then
/// encodes jobs until the end. A closed channel without `End` still ends
/// the file properly, so a damaged recording leaves a playable video.
pub(super) fn run(
    setup: Setup,
    jobs: Receiver<Job>,
    pending: Arc<AtomicUsize>,
    ready: Sender<Result<(), VideoError>>,
) -> Result<EncodeStats, VideoError> {
    let mut out = match Output::open(&setup) {
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
    let mut chapters = Vec::new();
    for job in jobs {
        pending.fetch_sub(1, Ordering::Relaxed);
        match job {
            Job::Frame(frame) => {
                let started = Instant::now();
                out.encode(&frame.pixels, frame.rows.as_deref(), frame.pts)?;
                out.stats.busy += started.elapsed();
            }
            Job::End {
                end_pts,
                chapters: c,
            } => {
                end = Some(end_pts);
                chapters = c;
                break;
            }
        }
    }
    out.finish(end, &chapters)
}

impl Output {
    fn open(setup: &Setup) -> Result<Output, VideoError> {
        let path = setup.path.clone();
        let fail = |what| {
            let path = path.clone();
            move |source| VideoError::Ffmpeg { path, what, source }
        };
        ffmpeg_next::init().map_err(fail("initialising FFmpeg"))?;
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Error);
        let (muxer, codec, pixel) = choose(setup.format)?;
        let mut octx = crate::output::creating(|| format::output_as(&path, muxer))
            .map_err(fail("creating the file"))?;
        let global_header = octx.format().flags().contains(format::Flags::GLOBAL_HEADER);
        let g = setup.geometry;
        let fps = fps_rational(setup.fps);
        let tb = fps.invert();
        let mut enc = codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(fail("setting up the encoder"))?;
        enc.set_width(g.out_width);
        enc.set_height(g.out_height);
        enc.set_format(pixel);
        enc.set_time_base(tb);
        enc.set_frame_rate(Some(fps));
        let gop_ticks = (KEYFRAME_SECONDS * setup.fps).round().max(1.0) as i64;
        enc.set_gop(gop_ticks as u32);
        // Every core, unless the caller runs other exports beside this
        // one. x264's own choice is 1.5 frame threads per core: on two
        // cores, one per core was faster (a 60 s ZRLE typing session: 0.37
        // against 0.41-0.42 s, medians of 7-9; the busy session 1.09
        // against 1.14 s; minimega's full frames unchanged at 0.73 s), with
        // files of the same size. libvpx picks its own.
        let count = match (setup.threads, codec.name()) {
            (0, "libx264") => std::thread::available_parallelism().map_or(0, |n| n.get()),
            (n, _) => n,
        };
        enc.set_threading(codec::threading::Config {
            kind: codec::threading::Type::Frame,
            count,
            ..Default::default()
        });
        if pixel == format::Pixel::YUVJ420P {
            enc.set_color_range(color::Range::JPEG);
        } else if pixel == format::Pixel::YUV420P {
            // swscale converts with the BT.601 matrix into limited range;
            // say so, or players guess BT.709 for larger pictures.
            enc.set_colorspace(color::Space::SMPTE170M);
            enc.set_color_range(color::Range::MPEG);
        }
        if global_header {
            enc.set_flags(codec::Flags::GLOBAL_HEADER);
        }
        let mut opts = Dictionary::new();
        match setup.format {
            VideoFormat::Mp4 | VideoFormat::Mkv | VideoFormat::Mov => {
                if setup.preset == super::SCREEN_PRESET {
                    opts.set("preset", SCREEN_X264.0);
                    // x264 keeps rc-lookahead pictures in memory: ten of an
                    // 8192x8192 screen are about a gigabyte. Past 4K, look
                    // ahead by two.
                    let pixels =
                        u64::from(setup.geometry.out_width) * u64::from(setup.geometry.out_height);
                    if pixels > 3840 * 2160 {
                        opts.set(
                            "x264-params",
                            &SCREEN_X264.1.replace("rc-lookahead=10", "rc-lookahead=2"),
                        );
                    } else {
                        opts.set("x264-params", SCREEN_X264.1);
                    }
                } else {
                    // Any other name is x264's own, passed on untouched.
                    opts.set("preset", &setup.preset);
                }
                opts.set("crf", &setup.crf.to_string());
                // No B-frames: with frames that last seconds, reordering
                // pushes decode times far below zero, which some players
                // and ffprobe's stream duration get wrong.
                enc.set_max_b_frames(0);
            }
            VideoFormat::Webm => {
                // Realtime settings: VP9's default good-quality mode runs
                // at a few frames per second.
                opts.set("crf", &(u32::from(setup.crf) + 8).min(63).to_string());
                opts.set("b", if codec.name() == "libvpx" { "2M" } else { "0" });
                opts.set("deadline", "realtime");
                opts.set("cpu-used", "8");
                opts.set("row-mt", "1");
            }
            VideoFormat::Avi => {
                enc.set_qmin(2);
                enc.set_qmax(4);
            }
            VideoFormat::Gif => {}
        }
        let encoder = enc
            .open_as_with(codec, opts)
            .map_err(fail("opening the encoder"))?;
        {
            let mut ost = octx
                .add_stream(codec)
                .map_err(fail("adding the video stream"))?;
            ost.set_parameters(&encoder);
            ost.set_time_base(tb);
        }
        let mut header_opts = Dictionary::new();
        if matches!(setup.format, VideoFormat::Mp4 | VideoFormat::Mov) {
            header_opts.set("movflags", "+faststart");
        }
        octx.write_header_with(header_opts)
            .map_err(fail("writing the header"))?;
        // The muxer may change the stream's time base in write_header.
        let stream_tb = octx.stream(0).map(|s| s.time_base()).unwrap_or(tb);
        let scale_flags = if (g.src_width, g.src_height) == (g.out_width, g.out_height) {
            scaling::Flags::POINT
        } else {
            scaling::Flags::AREA
        };
        let scaler = scaling::Context::get(
            format::Pixel::BGRZ,
            g.src_width,
            g.src_height,
            pixel,
            g.out_width,
            g.out_height,
            scale_flags,
        )
        .map_err(fail("setting up colour conversion"))?;
        Ok(Output {
            path,
            octx,
            encoder,
            scaler,
            src: frame::Video::new(format::Pixel::BGRZ, g.src_width, g.src_height),
            dst: frame::Video::new(pixel, g.out_width, g.out_height),
            reuse_dst: setup.format != VideoFormat::Avi,
            incremental: converts_rows(setup.format, g)
                .then(|| Incremental::new(g.out_width, g.out_height)),
            tb,
            stream_tb,
            gop_ticks,
            constant_rate: setup.constant_rate,
            intra_only: setup.format == VideoFormat::Avi,
            last_key: None,
            last_pts: None,
            durations: HashMap::new(),
            queue: VecDeque::new(),
            stats: EncodeStats::default(),
        })
    }

    /// A frame number as a timestamp in the encoder's time base.
    fn fail(&self, what: &'static str) -> impl FnOnce(ffmpeg_next::Error) -> VideoError + '_ {
        move |source| VideoError::Ffmpeg {
            path: self.path.clone(),
            what,
            source,
        }
    }

    /// Encodes a canvas shown from `pts`; `rows` marks the canvas rows that
    /// differ from the previous canvas (`None`: unknown, all of them).
    fn encode(&mut self, pixels: &[u8], rows: Option<&[bool]>, pts: i64) -> Result<(), VideoError> {
        if self.constant_rate {
            self.repeat_until(pts)?;
        }
        // The last picture is still in `dst`: keyframes repeating it go
        // first.
        self.keyframes_until(pts)?;
        let started = Instant::now();
        if let Some(inc) = self.incremental.as_mut() {
            // x264 and libvpx copy the picture within send_frame, so `dst`
            // still holds the last one: only the changed rows are written.
            inc.update(pixels, rows);
            let pairs = inc.changed();
            for (plane, (src, row)) in inc.planes().into_iter().enumerate() {
                let stride = self.dst.stride(plane);
                let data = self.dst.data_mut(plane);
                let rows_per_pair = if plane == 0 { 2 } else { 1 };
                for &p in pairs {
                    for y in p * rows_per_pair..(p + 1) * rows_per_pair {
                        let line = src.get(y * row..(y + 1) * row);
                        let dst = data.get_mut(y * stride..y * stride + row);
                        if let (Some(line), Some(dst)) = (line, dst) {
                            dst.copy_from_slice(line);
                        }
                    }
                }
            }
            self.stats.convert += started.elapsed();
            return self.submit(pts);
        }
        let row = self.src.width() as usize * 4;
        let stride = self.src.stride(0);
        let data = self.src.data_mut(0);
        for (y, line) in pixels.chunks_exact(row).enumerate() {
            if let Some(dst) = data.get_mut(y * stride..y * stride + row) {
                dst.copy_from_slice(line);
            }
        }
        if !self.reuse_dst {
            // A fresh picture: frame-threaded encoders (MJPEG) keep a
            // reference to the last one while they work on it. x264 and
            // libvpx copy it within send_frame, so theirs is reused, which
            // spares the kernel zeroing a new picture's pages every frame.
            self.dst = frame::Video::new(self.dst.format(), self.dst.width(), self.dst.height());
        }
        self.scaler
            .run(&self.src, &mut self.dst)
            .map_err(self.fail("converting colour"))?;
        self.stats.convert += started.elapsed();
        self.submit(pts)
    }

    /// A still screen makes one frame last long: the last picture is
    /// encoded again as a keyframe every [`KEYFRAME_SECONDS`] of it, so a
    /// seek anywhere decodes from a keyframe at most that far back.
    fn keyframes_until(&mut self, pts: i64) -> Result<(), VideoError> {
        if self.intra_only {
            return Ok(());
        }
        while let (Some(key), Some(last)) = (self.last_key, self.last_pts) {
            let due = key + self.gop_ticks;
            if due >= pts || due <= last {
                break;
            }
            self.submit(due)?;
        }
        Ok(())
    }

    /// Constant rate: the last picture again for every frame before `pts`.
    fn repeat_until(&mut self, pts: i64) -> Result<(), VideoError> {
        if let Some(last) = self.last_pts {
            for t in last + 1..pts {
                self.submit(t)?;
            }
        }
        Ok(())
    }

    /// Encodes the converted picture at `pts`; it lasts until the next.
    fn submit(&mut self, pts: i64) -> Result<(), VideoError> {
        if let Some(prev) = self.last_pts {
            self.durations.insert(prev, (pts - prev).max(1));
        }
        self.last_pts = Some(pts);
        self.dst.set_pts(Some(pts));
        let force = self.last_key.is_none_or(|k| pts - k >= self.gop_ticks);
        self.dst.set_kind(if force {
            self.last_key = Some(pts);
            picture::Type::I
        } else {
            picture::Type::None
        });
        self.encoder
            .send_frame(&self.dst)
            .map_err(self.fail("encoding"))?;
        self.stats.encoded += 1;
        self.drain()
    }

    /// Moves finished packets to the queue and writes those whose
    /// duration is known, in order.
    fn drain(&mut self) -> Result<(), VideoError> {
        let mut packet = Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            if packet.is_key() {
                self.stats.keyframes += 1;
                if let Some(pts) = packet.pts() {
                    self.last_key = Some(self.last_key.map_or(pts, |k| k.max(pts)));
                }
            }
            self.queue
                .push_back(std::mem::replace(&mut packet, Packet::empty()));
        }
        while let Some(front) = self.queue.front() {
            let pts = front.pts().or(front.dts()).unwrap_or(0);
            let Some(duration) = self.durations.remove(&pts) else {
                break;
            };
            if let Some(mut p) = self.queue.pop_front() {
                self.write(&mut p, duration)?;
            }
        }
        Ok(())
    }

    fn write(&mut self, packet: &mut Packet, duration: i64) -> Result<(), VideoError> {
        packet.set_stream(0);
        // The duration first, in the encoder's time base, so the rescale
        // converts it too.
        packet.set_duration(duration);
        packet.rescale_ts(self.tb, self.stream_tb);
        packet
            .write_interleaved(&mut self.octx)
            .map_err(self.fail("writing a packet"))
    }

    fn finish(
        mut self,
        end_pts: Option<i64>,
        chapters: &[super::Chapter],
    ) -> Result<EncodeStats, VideoError> {
        if let Some(end) = end_pts {
            if self.constant_rate {
                self.repeat_until(end)?;
            }
            self.keyframes_until(end)?;
        }
        if let Some(last) = self.last_pts {
            let end = end_pts.unwrap_or(last + 1);
            self.durations.insert(last, (end - last).max(1));
        }
        self.encoder.send_eof().map_err(self.fail("flushing"))?;
        self.drain()?;
        // Every frame's duration is known now; anything left is written
        // with a one-frame duration rather than lost.
        while let Some(mut p) = self.queue.pop_front() {
            self.write(&mut p, 1)?;
        }
        // Chapters, in microseconds, so that they start and stop at the
        // updates they name (Matroska writes them with the trailer); one
        // that runs past the end stops there.
        let end_us = end_pts.map_or(f64::MAX, |e| e as f64 * 1e6 * f64::from(self.tb));
        for (i, c) in chapters.iter().enumerate() {
            let start = (c.start_s * 1e6).round() as i64;
            let stop = ((c.end_s * 1e6).min(end_us).round() as i64).max(start);
            let added = self
                .octx
                .add_chapter(i as i64 + 1, (1, 1_000_000), start, stop, &c.title)
                .map(|_| ());
            added.map_err(self.fail("adding a chapter"))?;
        }
        self.octx
            .write_trailer()
            .map_err(self.fail("writing the trailer"))?;
        self.stats.output_bytes = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        Ok(self.stats)
    }
}

/// Whether pictures are converted row by row (see [`Incremental`]):
/// unscaled, for an encoder that takes yuv420p in limited range.
pub(super) fn converts_rows(f: VideoFormat, g: Geometry) -> bool {
    let unscaled = (g.src_width, g.src_height) == (g.out_width, g.out_height);
    unscaled
        && matches!(
            f,
            VideoFormat::Mp4 | VideoFormat::Mkv | VideoFormat::Mov | VideoFormat::Webm
        )
}

/// Muxer name, encoder and pixel format for a format.
fn choose(
    f: VideoFormat,
) -> Result<(&'static str, codec::codec::Codec, format::Pixel), VideoError> {
    let by_name =
        |name: &'static str| encoder::find_by_name(name).ok_or(VideoError::NoEncoder(name));
    Ok(match f {
        VideoFormat::Mp4 => ("mp4", by_name("libx264")?, format::Pixel::YUV420P),
        VideoFormat::Mkv => ("matroska", by_name("libx264")?, format::Pixel::YUV420P),
        VideoFormat::Mov => ("mov", by_name("libx264")?, format::Pixel::YUV420P),
        VideoFormat::Webm => {
            let c = by_name("libvpx-vp9").or_else(|_| by_name("libvpx"))?;
            ("webm", c, format::Pixel::YUV420P)
        }
        // rfbplay writes GIFs itself (see `super::gif`).
        VideoFormat::Gif => return Err(VideoError::NoEncoder("gif")),
        VideoFormat::Avi => (
            "avi",
            encoder::find(codec::Id::MJPEG).ok_or(VideoError::NoEncoder("mjpeg"))?,
            format::Pixel::YUVJ420P,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rates_become_exact_fractions() {
        assert_eq!(fps_rational(10.0), Rational(10, 1));
        assert_eq!(fps_rational(2.5), Rational(5, 2));
        assert_eq!(fps_rational(29.97), Rational(2997, 100));
    }
}
