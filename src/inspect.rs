//! Inspection: what each message of a recording did, for `rfbplay updates`
//! and `frames --on-change`. For every update: its time, its rectangles as
//! they arrived (encoding, place, stream offset, bytes) and the region whose
//! pixels really changed (minimega repaints the whole screen every 100 ms,
//! so what the server sent says little about what a user saw change).

use crate::framebuffer::{Framebuffer, Screen};
use crate::player::{Player, Summary, Watcher};
use crate::progress::Progress;
use crate::rfb::{Event, Rect};
use crate::time::Time;
use serde::Serialize;
use std::ops::ControlFlow;

/// One rectangle of an update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RectEntry {
    /// The encoding's name, or "unknown".
    pub encoding: &'static str,
    pub encoding_number: i32,
    pub x: u16,
    pub y: u16,
    pub w: u16,
    pub h: u16,
    /// Where its header starts in the RFB stream.
    pub stream_offset: u64,
    /// Stream bytes it took, its 12-byte header included.
    pub bytes: u64,
}

/// A box as `[x, y, width, height]`.
pub type BoxXywh = [u16; 4];

fn xywh(r: &Rect) -> BoxXywh {
    [r.x, r.y, r.w, r.h]
}

/// One message of the recording, as `updates --json` prints it (one JSON
/// object per line; `type` tells which).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    Update {
        /// Updates are numbered from 1, as `frame --update N` takes them.
        update: u64,
        time_s: f64,
        width: u32,
        height: u32,
        rects: Vec<RectEntry>,
        /// Pixels whose value changed.
        changed_pixels: u64,
        /// Bounding boxes of the changed pixels, one per band of changed rows.
        changed: Vec<BoxXywh>,
        /// The screen changed size with this update.
        resized: bool,
    },
    Bell {
        time_s: f64,
    },
    CutText {
        time_s: f64,
        len: u32,
    },
    Resize {
        time_s: f64,
        width: u32,
        height: u32,
    },
    ColourMap {
        time_s: f64,
        first: u16,
        count: u16,
    },
}

impl Entry {
    pub fn time(&self) -> Time {
        let s = match self {
            Entry::Update { time_s, .. }
            | Entry::Bell { time_s }
            | Entry::CutText { time_s, .. }
            | Entry::Resize { time_s, .. }
            | Entry::ColourMap { time_s, .. } => *time_s,
        };
        Time::from_secs_f64(s)
    }
}

impl std::fmt::Display for Entry {
    /// One line of `rfbplay updates`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.time().to_string();
        match self {
            Entry::Update {
                update,
                width,
                height,
                rects,
                changed_pixels,
                changed,
                resized,
                ..
            } => {
                write!(f, "{t:>11}  update {update}  {width}x{height}  ")?;
                let n = rects.len();
                write!(f, "{n} rect{}", if n == 1 { "" } else { "s" })?;
                for (i, r) in rects.iter().enumerate() {
                    if i == 4 {
                        write!(f, " ...")?;
                        break;
                    }
                    let sep = if i == 0 { ": " } else { ", " };
                    write!(
                        f,
                        "{sep}{} {}x{}+{}+{} {}B",
                        r.encoding, r.w, r.h, r.x, r.y, r.bytes
                    )?;
                }
                write!(f, "  changed {changed_pixels} px")?;
                for (i, b) in changed.iter().enumerate() {
                    if i == 4 {
                        write!(f, " ... ({} boxes)", changed.len())?;
                        break;
                    }
                    let sep = if i == 0 { " in " } else { ", " };
                    write!(f, "{sep}{}x{}+{}+{}", b[2], b[3], b[0], b[1])?;
                }
                if *resized {
                    write!(f, " (resized)")?;
                }
                Ok(())
            }
            Entry::Bell { .. } => write!(f, "{t:>11}  bell"),
            Entry::CutText { len, .. } => write!(f, "{t:>11}  cut text, {len} bytes"),
            Entry::Resize { width, height, .. } => {
                write!(f, "{t:>11}  resize to {width}x{height}")
            }
            Entry::ColourMap { first, count, .. } => {
                write!(f, "{t:>11}  colour map, {count} entries from {first}")
            }
        }
    }
}

/// Plays `player` (opened with `measure_damage`) and hands every message
/// whose time is in `from..=to` to `emit`, in stream order. `emit` may stop
/// the playback by returning Break.
pub fn entries(
    player: &mut Player,
    from: Time,
    to: Option<Time>,
    emit: &mut dyn FnMut(&Entry, &Screen) -> ControlFlow<()>,
    progress: &dyn Progress,
) -> Summary {
    struct Collect<'a> {
        from: Time,
        to: Option<Time>,
        rects: Vec<RectEntry>,
        emit: &'a mut dyn FnMut(&Entry, &Screen) -> ControlFlow<()>,
    }
    impl Watcher for Collect<'_> {
        fn before_piece(&mut self, time: Time, _: &Screen) -> ControlFlow<()> {
            match self.to {
                Some(to) if time > to => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        }
        fn event(&mut self, event: &Event, screen: &Screen) -> ControlFlow<()> {
            let secs = |t: &Time| t.as_secs_f64();
            let entry = match event {
                Event::Rect {
                    encoding,
                    rect,
                    offset,
                    bytes,
                    ..
                } => {
                    self.rects.push(RectEntry {
                        encoding: encoding.name().unwrap_or("unknown"),
                        encoding_number: encoding.0,
                        x: rect.x,
                        y: rect.y,
                        w: rect.w,
                        h: rect.h,
                        stream_offset: *offset,
                        bytes: *bytes,
                    });
                    return ControlFlow::Continue(());
                }
                Event::Update { index, time, .. } => {
                    let d = screen.damage();
                    let fb = screen.shown();
                    Entry::Update {
                        update: index + 1,
                        time_s: secs(time),
                        width: fb.width(),
                        height: fb.height(),
                        rects: std::mem::take(&mut self.rects),
                        changed_pixels: d.pixels,
                        changed: d.boxes.iter().map(xywh).collect(),
                        resized: d.resized,
                    }
                }
                Event::Bell { time } => Entry::Bell { time_s: secs(time) },
                Event::CutText { len, time } => Entry::CutText {
                    time_s: secs(time),
                    len: *len,
                },
                Event::Resize {
                    width,
                    height,
                    time,
                } => Entry::Resize {
                    time_s: secs(time),
                    width: *width,
                    height: *height,
                },
                Event::ColourMap { first, count, time } => Entry::ColourMap {
                    time_s: secs(time),
                    first: *first,
                    count: *count,
                },
                _ => return ControlFlow::Continue(()),
            };
            let t = entry.time();
            if t < self.from || self.to.is_some_and(|to| t > to) {
                return ControlFlow::Continue(());
            }
            (self.emit)(&entry, screen)
        }
    }
    let mut c = Collect {
        from,
        to,
        rects: Vec::new(),
        emit,
    };
    player.run(&mut c, progress)
}

/// The screen right after update `n` (numbered from 1), or None when the
/// recording has fewer updates; with the playback summary.
pub fn screen_after_update(
    player: &mut Player,
    n: u64,
    progress: &dyn Progress,
) -> (Option<(Framebuffer, Time)>, Summary) {
    struct After {
        n: u64,
        shot: Option<(Framebuffer, Time)>,
    }
    impl Watcher for After {
        fn event(&mut self, event: &Event, screen: &Screen) -> ControlFlow<()> {
            match event {
                Event::Update { index, time, .. } if index + 1 == self.n => {
                    self.shot = Some((screen.shown().clone(), *time));
                    ControlFlow::Break(())
                }
                _ => ControlFlow::Continue(()),
            }
        }
    }
    let mut w = After { n, shot: None };
    let summary = player.run(&mut w, progress);
    (w.shot, summary)
}
