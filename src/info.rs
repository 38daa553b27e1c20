//! `rfbplay info`: what a recording holds, gathered in one pass without
//! keeping frames.

use crate::container::End;
use crate::decode::Stats;
use crate::framebuffer::Screen;
use crate::player::{Player, Summary, Watcher};
use crate::progress::Progress;
use crate::rfb::{Event, PixelFormat};
use crate::time::Time;
use serde::Serialize;
use std::collections::BTreeMap;
use std::ops::ControlFlow;

/// A screen size from a time on.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SizeChange {
    pub time_s: f64,
    pub width: u32,
    pub height: u32,
}

/// Everything `info` reports.
#[derive(Debug, Serialize)]
pub struct Info {
    pub file: String,
    pub format: &'static str,
    /// What the handshake said, for formats that record it (FBS).
    pub server_init: Option<ServerInitInfo>,
    pub pixel_format: PixelFormat,
    /// Time of the last complete update.
    pub duration_s: f64,
    pub first_update_s: Option<f64>,
    pub updates: u64,
    pub sizes: Vec<SizeChange>,
    pub messages: BTreeMap<&'static str, u64>,
    pub bells_s: Vec<f64>,
    pub stats: Stats,
    pub stream_bytes: u64,
    pub truncated: Option<TruncationInfo>,
    /// A fatal error that stopped decoding, if any, in words.
    pub error: Option<String>,
    /// The file byte where data that is not part of the recording starts.
    pub trailing_data_at: Option<u64>,
    /// With `--salvage`: every damaged stretch that was skipped.
    pub damaged: Vec<DamageInfo>,
}

/// A damaged stretch, as `info --json` lists it (see
/// [`crate::salvage::Damage`]).
#[derive(Clone, Debug, Serialize)]
pub struct DamageInfo {
    pub cause: String,
    pub decompressed_offset: u64,
    pub resumed_decompressed_offset: Option<u64>,
    pub file_offset: Option<u64>,
    pub resumed_file_offset: Option<u64>,
    pub stream_offset: u64,
    pub resumed_stream_offset: Option<u64>,
    pub updates_before: u64,
    pub last_update_before_s: Option<f64>,
    pub found_at_s: f64,
    pub next_update_s: Option<f64>,
    pub uncertain_bytes: u64,
    pub zlib_history_lost: bool,
}

impl From<&crate::salvage::Damage> for DamageInfo {
    fn from(d: &crate::salvage::Damage) -> Self {
        DamageInfo {
            cause: d.cause.clone(),
            decompressed_offset: d.offset,
            resumed_decompressed_offset: d.resumed_offset,
            file_offset: d.file_offset,
            resumed_file_offset: d.resumed_file_offset,
            stream_offset: d.stream_offset,
            resumed_stream_offset: d.resumed_stream_offset,
            updates_before: d.updates_before,
            last_update_before_s: d.time_before.map(Time::as_secs_f64),
            found_at_s: d.time_found.as_secs_f64(),
            next_update_s: d.time_after.map(Time::as_secs_f64),
            uncertain_bytes: d.uncertain_bytes,
            zlib_history_lost: d.zlib_history_lost,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ServerInitInfo {
    pub width: u32,
    pub height: u32,
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct TruncationInfo {
    pub decompressed_offset: u64,
    pub time_s: f64,
    /// The cause, with a stable `code`.
    pub cause: crate::container::TruncationCause,
    /// The cause in words.
    pub message: String,
    pub unfinished_message_at: Option<u64>,
}

#[derive(Default)]
struct Gather {
    sizes: Vec<SizeChange>,
    bells: Vec<f64>,
    first_update: Option<Time>,
}

impl Watcher for Gather {
    fn event(&mut self, event: &Event, _screen: &Screen) -> ControlFlow<()> {
        match *event {
            Event::Resize {
                width,
                height,
                time,
            } if self
                .sizes
                .last()
                .is_none_or(|s| (s.width, s.height) != (width, height)) =>
            {
                self.sizes.push(SizeChange {
                    time_s: time.as_secs_f64(),
                    width,
                    height,
                });
            }
            Event::Bell { time } => self.bells.push(time.as_secs_f64()),
            Event::Update { time, .. } => {
                self.first_update.get_or_insert(time);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Reads the whole recording and reports on it.
pub fn gather(player: &mut Player, progress: &dyn Progress) -> (Info, Summary) {
    let mut g = Gather::default();
    let summary = player.run(&mut g, progress);
    let parser = player.parser();
    let truncated = match &summary.end {
        End::Truncated(t) => Some(TruncationInfo {
            decompressed_offset: t.offset,
            time_s: t.time.as_secs_f64(),
            cause: t.cause.clone(),
            message: t.cause.to_string(),
            unfinished_message_at: summary.unfinished_message_at,
        }),
        End::Complete => None,
    };
    let info = Info {
        file: player.path().display().to_string(),
        format: summary.format,
        server_init: player.container().server_init().map(|i| ServerInitInfo {
            width: i.width,
            height: i.height,
            name: i.name.clone(),
        }),
        pixel_format: parser.context().pixel_format,
        duration_s: summary.last_update.unwrap_or_default().as_secs_f64(),
        first_update_s: g.first_update.map(Time::as_secs_f64),
        updates: parser.updates(),
        sizes: g.sizes,
        messages: parser.messages().clone(),
        bells_s: g.bells,
        stats: parser.context().stats(),
        stream_bytes: summary.stream_bytes,
        truncated,
        error: summary.error.as_ref().map(|e| crate::error_chain(e)),
        trailing_data_at: summary.trailing_data_at,
        damaged: summary.damaged.iter().map(DamageInfo::from).collect(),
    };
    (info, summary)
}
