//! What a user asks of a video: the format (from the output's extension),
//! the options, and their limits. Each limit is written once here; the
//! command line checks the same numbers while parsing arguments.

use super::VideoError;
use crate::time::Time;
use crate::timeline::Sampling;
use std::path::Path;

/// A container and the codec rfbplay puts in it, chosen by file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoFormat {
    /// H.264 in yuv420p: plays everywhere. `+faststart` puts the index first.
    Mp4,
    Mkv,
    Mov,
    /// VP9 (VP8 when the FFmpeg build lacks libvpx-vp9).
    Webm,
    /// GIF, each frame with a palette of its own colours (see `palette`).
    Gif,
    /// Motion JPEG, for tools that want every frame intra-coded.
    Avi,
}

/// The default `--preset`: x264 tuned for screen recordings (see
/// `encode::SCREEN_X264`); every other name is given to x264 as it is.
pub const SCREEN_PRESET: &str = "screen";

/// The presets `--preset` takes: rfbplay's own, then x264's, fastest first.
pub const PRESETS: &[&str] = &[
    SCREEN_PRESET,
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];

/// The most frames per second of video: well beyond any screen's refresh,
/// and a bound on the work a short recording can ask for.
pub const MAX_FPS: f64 = 240.0;
/// The largest time-lapse factor.
pub const MAX_SPEED: f64 = 10_000.0;
/// The largest scale factor.
pub const MAX_SCALE: f64 = 4.0;
/// The largest (worst) quality number, x264's.
pub const MAX_CRF: u8 = 51;

/// The one check of `--fps`, `--speed` and `--scale`: above 0 and at most
/// `max`. The command line runs it while parsing arguments, so its message
/// is the one users see; [`VideoOptions::validate`] runs it again for
/// library callers.
pub fn within(value: f64, max: f64) -> Result<f64, String> {
    if value > 0.0 && value <= max {
        Ok(value)
    } else {
        Err(format!("must be above 0 and at most {max}"))
    }
}

/// The check of `--preset`, before anything is decoded or created.
pub fn known_preset(name: &str) -> Result<&str, String> {
    if PRESETS.contains(&name) {
        Ok(name)
    } else {
        Err(format!(
            "unknown preset {name:?}; valid: {}",
            PRESETS.join(", ")
        ))
    }
}

/// Extensions `export` understands, for error messages and `--help`.
pub const SUPPORTED_EXTENSIONS: &str = "mp4, mkv, mov, webm, gif, avi";

impl VideoFormat {
    /// The format for an output path, from its extension (case-insensitive).
    pub fn from_path(path: &Path) -> Result<VideoFormat, VideoError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .unwrap_or_default();
        Ok(match ext.as_str() {
            "mp4" | "m4v" => VideoFormat::Mp4,
            "mkv" => VideoFormat::Mkv,
            "mov" => VideoFormat::Mov,
            "webm" => VideoFormat::Webm,
            "gif" => VideoFormat::Gif,
            "avi" => VideoFormat::Avi,
            _ => {
                return Err(VideoError::UnknownExtension {
                    path: path.to_path_buf(),
                    ext,
                })
            }
        })
    }
}

/// How to make the video.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoOptions {
    /// Output frames per second of video time.
    pub fps: f64,
    /// Recording time of the first and last frames.
    pub from: Time,
    pub to: Option<Time>,
    /// Time-lapse factor: video time is recording time divided by this.
    pub speed: f64,
    /// Quality for H.264 and VP9 (lower is better; x264's scale).
    pub crf: u8,
    /// x264 preset, or [`SCREEN_PRESET`] for rfbplay's own tuning.
    pub preset: String,
    /// Scale factor applied to the canvas.
    pub scale: f64,
    /// Canvas size in recording pixels; default: the smallest size that
    /// holds every screen sampled.
    pub size: Option<(u32, u32)>,
    /// Encode every frame even when unchanged (constant frame rate).
    pub constant_rate: bool,
    /// Draw the cursor where the recording tells its shape and position.
    pub cursor: bool,
    /// Play on past damage (see [`crate::salvage`]).
    pub salvage: bool,
    /// Threads the encoder may use; 0 lets it pick (x264: about 1.5 per
    /// core). A folder export running a file per core gives each one.
    pub encoder_threads: usize,
}

impl Default for VideoOptions {
    fn default() -> Self {
        VideoOptions {
            fps: 10.0,
            from: Time::ZERO,
            to: None,
            speed: 1.0,
            crf: 23,
            preset: SCREEN_PRESET.into(),
            scale: 1.0,
            size: None,
            constant_rate: false,
            cursor: false,
            salvage: false,
            encoder_threads: 0,
        }
    }
}

impl VideoOptions {
    /// Checks the numbers a user gave before any work starts.
    pub fn validate(&self) -> Result<(), VideoError> {
        let bad = |what, detail: &str| {
            Err(VideoError::BadOption {
                what,
                detail: detail.into(),
            })
        };
        for (what, value, max) in [
            ("--fps", self.fps, MAX_FPS),
            ("--speed", self.speed, MAX_SPEED),
            ("--scale", self.scale, MAX_SCALE),
        ] {
            if let Err(e) = within(value, max) {
                return bad(what, &e);
            }
        }
        if self.crf > MAX_CRF {
            return bad("--crf", &format!("must be 0 to {MAX_CRF}"));
        }
        if let Err(e) = known_preset(&self.preset) {
            return bad("--preset", &e);
        }
        if let Some((w, h)) = self.size {
            if w == 0 || h == 0 || crate::limits::Limits::default().check_screen(w, h).is_err() {
                return bad(
                    "--size",
                    "must be WxH within 16384x16384 and 8192*8192 pixels",
                );
            }
        }
        Ok(())
    }

    /// Recording-time sampling: frame k of the video, at k/fps video time,
    /// shows the recording at k*speed/fps.
    pub fn sampling(&self) -> Sampling {
        Sampling {
            fps: self.fps / self.speed,
            from: self.from,
            to: self.to,
        }
    }
}
