//! The seek index: the screen at any moment of a long recording without
//! decoding it from the start. One playback pass takes checkpoints (the
//! parser's whole state between messages, and where the container can
//! resume reading) every few seconds of recording or megabytes of stream;
//! the index is kept in a cache directory, one file per recording.
//!
//! A seek restores the last checkpoint at or before the wanted time into
//! a [`Player`] and then runs the same sampler as a playback from the start
//! ([`crate::sampler::sample`]), so the two cannot disagree. An index that
//! does not match its recording (size, modification time, first 64 KiB),
//! or that is damaged, is never trusted: the caller plays from the start.

pub mod codec;
mod store;

use codec::Storage;
pub use codec::{Checkpoint, CodecError};
pub use store::{cache_dir, cache_file, Identity};

use crate::player::{PlayError, PlayOptions, Player, Summary, Watcher};
use crate::progress::Progress;
use crate::rfb::Event;
use crate::sampler::{sample, Moment, Shot};
use crate::time::Time;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// A checkpoint is taken once this much recording time has passed since
/// the last one...
pub const SPAN_TIME: Time = Time(60 * Time::NANOS_PER_SEC);
/// ...or this many bytes of RFB stream, whichever comes first.
pub const SPAN_BYTES: u64 = 32 << 20;
/// A checkpoint's screen is stored whole at most this many checkpoints
/// apart, and as a difference from the last whole one in between: a seek
/// inflates at most two screens, and an index of a Raw recording (where
/// SPAN_BYTES puts checkpoints a fraction of a second apart) stays small.
const KEY_EVERY: u64 = 16;

/// Why an index cannot be used (the caller then plays from the start).
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not an rfbplay index (or one of another version)", path.display())]
    Foreign { path: PathBuf },
    #[error("{}: made for {what} than the recording has now", path.display())]
    Stale { path: PathBuf, what: &'static str },
    #[error("{}: {what}", path.display())]
    Damaged { path: PathBuf, what: String },
    #[error("{}: checkpoint {index}", path.display())]
    Checkpoint {
        path: PathBuf,
        index: usize,
        #[source]
        source: CodecError,
    },
    #[error("resuming at a checkpoint")]
    Resume(#[source] PlayError),
}

/// One checkpoint's place in the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub time: Time,
    pub offset: u64,
    pub len: u64,
    pub raw_len: u64,
    pub crc: u32,
}

/// Where the checkpoints' bytes are.
#[derive(Debug)]
enum Bytes {
    /// The whole index file image (just built).
    Memory(Vec<u8>),
    /// The index file on disk, read one checkpoint at a time.
    File(PathBuf),
}

/// A recording's seek index, in memory (header and checkpoint table; the
/// checkpoints themselves stay on disk when it was loaded from there).
#[derive(Debug)]
pub struct Index {
    recording: PathBuf,
    entries: Vec<Entry>,
    bytes: Bytes,
    /// The recording grew since the index was made (its checkpoints are
    /// right, but none covers what was added).
    grew: bool,
}

/// What building an index found.
pub struct Built {
    pub index: Index,
    pub summary: Summary,
}

/// What the build's playback has seen: update times, and whether the last
/// update repainted the whole screen with pixels of its own.
#[derive(Default)]
struct Seen {
    last_update: Option<Time>,
    /// Rectangles of the update under way that set every pixel they cover
    /// without reading the screen (any pixel encoding but CopyRect).
    opaque: Vec<crate::rfb::Rect>,
    /// The update under way resized the screen or had a warning.
    spoiled: bool,
    /// The number of the last update that repainted the whole screen.
    full: Option<u64>,
}

/// Rectangles of one update followed before it is judged; more than this
/// and the update is not taken for a repaint.
const MAX_OPAQUE: usize = 256;

/// Watches the build's playback for [`Seen`].
struct Watch<'a>(&'a std::cell::RefCell<Seen>);

impl Watcher for Watch<'_> {
    fn event(&mut self, event: &Event, screen: &crate::framebuffer::Screen) -> ControlFlow<()> {
        let mut seen = self.0.borrow_mut();
        match event {
            Event::Rect { encoding, rect, .. } => {
                use crate::rfb::Encoding;
                if *encoding == Encoding::DESKTOP_SIZE
                    || *encoding == Encoding::EXTENDED_DESKTOP_SIZE
                    || seen.opaque.len() == MAX_OPAQUE
                {
                    seen.spoiled = true;
                } else if !encoding.is_pseudo() && *encoding != Encoding::COPY_RECT {
                    seen.opaque.push(*rect);
                }
            }
            Event::Warning(_) => seen.spoiled = true,
            Event::Update { index, time, .. } => {
                let fb = screen.drawn_ref();
                if !seen.spoiled && covers(&seen.opaque, fb.width(), fb.height()) {
                    seen.full = Some(*index);
                }
                seen.opaque.clear();
                seen.spoiled = false;
                seen.last_update = Some(*time);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Whether `rects` together cover every pixel of a `width` x `height`
/// screen: band by band between the rectangles' top and bottom edges, the
/// rectangles crossing a band must leave no gap from 0 to `width`.
fn covers(rects: &[crate::rfb::Rect], width: u32, height: u32) -> bool {
    if width == 0 || height == 0 {
        return false;
    }
    let mut edges: Vec<u32> = rects
        .iter()
        .flat_map(|r| [u32::from(r.y), u32::from(r.y) + u32::from(r.h)])
        .chain([0, height])
        .filter(|&y| y <= height)
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let mut spans: Vec<(u32, u32)> = Vec::with_capacity(rects.len());
    edges.windows(2).all(|band| {
        let (top, bottom) = (band[0], band[1]);
        spans.clear();
        spans.extend(
            rects
                .iter()
                .filter(|r| u32::from(r.y) <= top && u32::from(r.y) + u32::from(r.h) >= bottom)
                .map(|r| (u32::from(r.x), u32::from(r.x) + u32::from(r.w))),
        );
        spans.sort_unstable();
        let mut reach = 0;
        for &(a, b) in &spans {
            if a > reach {
                break;
            }
            reach = reach.max(b);
        }
        reach >= width
    })
}

/// A checkpoint taken at a message boundary and not yet stored: if the
/// message after it repaints the whole screen, its screen is not needed.
struct Pending {
    checkpoint: Checkpoint,
    /// Updates the parser had finished when it was taken.
    updates: u64,
}

fn identity(recording: &Path) -> Result<Identity, PlayError> {
    Identity::of(recording).map_err(|e| PlayError::Container {
        file: recording.to_path_buf(),
        source: e.into(),
    })
}

fn build_options() -> PlayOptions {
    PlayOptions {
        keep_shown: false,
        draw_cursor: false,
        ..Default::default()
    }
}

/// Takes checkpoints during one playback.
struct Builder {
    every: Time,
    /// The number of the first checkpoint it takes (an index being
    /// extended already has the ones before).
    first: u64,
    seen: std::cell::RefCell<Seen>,
    blobs: Vec<(Time, Vec<u8>, u64)>,
    /// Time and stream offset of the last checkpoint.
    last: Option<(Time, u64)>,
    /// The last checkpoint whose screen is stored whole, and that screen.
    key: Option<(u64, crate::Framebuffer)>,
    pending: Option<Pending>,
}

impl Builder {
    fn new(every: Time, first: u64) -> Builder {
        Builder {
            every,
            first,
            seen: Default::default(),
            blobs: Vec::new(),
            last: None,
            key: None,
            pending: None,
        }
    }

    fn run(&mut self, player: &mut Player, progress: &dyn Progress) -> Summary {
        let seen = std::mem::take(&mut self.seen);
        let summary = player.run_hooked(&mut Watch(&seen), progress, &mut |p, c, t| {
            self.at_piece(&seen, p, c, t)
        });
        self.seen = seen;
        summary
    }

    /// Stores a checkpoint: without its screen when the update after it
    /// repainted everything, else whole or as rows changed from the last
    /// whole one.
    fn keep(&mut self, mut c: Checkpoint, blank: bool) {
        let n = self.first + self.blobs.len() as u64;
        let base = self.key.as_ref().filter(|(k, fb)| {
            n - k < KEY_EVERY
                && fb.width() == c.saved.screen.width()
                && fb.height() == c.saved.screen.height()
        });
        let storage = if blank {
            Storage::Blank
        } else if let Some((k, fb)) = base {
            Storage::Rows(*k, fb)
        } else {
            Storage::Whole
        };
        let raw = codec::encode(&c, storage);
        if matches!(storage, Storage::Whole) {
            let screen = std::mem::replace(&mut c.saved.screen, crate::Framebuffer::new(0, 0));
            self.key = Some((n, screen));
        }
        self.blobs
            .push((c.time, store::deflate(&raw), raw.len() as u64));
    }

    /// After each piece of the recording.
    fn at_piece(
        &mut self,
        seen: &std::cell::RefCell<Seen>,
        parser: &crate::rfb::Parser,
        container: &dyn crate::container::Container,
        time: Time,
    ) {
        if !parser.at_message_boundary() {
            return;
        }
        if let Some(p) = self.pending.take() {
            // The message just finished decides how the one taken at the
            // boundary before it is stored.
            let repainted = parser.updates() == p.updates + 1
                && seen.borrow().full == Some(p.updates)
                && time >= p.checkpoint.time;
            let mut c = p.checkpoint;
            if repainted {
                // Valid from the repaint on: a seek to any earlier moment
                // picks an earlier checkpoint.
                c.time = time;
            }
            self.keep(c, repainted);
        }
        let due = self.last.is_none_or(|(t, off)| {
            time.0.saturating_sub(t.0) >= self.every.0
                || parser.offset().saturating_sub(off) >= SPAN_BYTES
        });
        if !due {
            return;
        }
        let (Some(point), Some(saved)) = (container.seek_point(), parser.save()) else {
            return;
        };
        self.pending = Some(Pending {
            checkpoint: Checkpoint {
                time,
                last_update: seen.borrow().last_update,
                point,
                saved,
                delta: None,
            },
            updates: parser.updates(),
        });
        self.last = Some((time, parser.offset()));
    }

    fn finish(mut self) -> Vec<(Time, Vec<u8>, u64)> {
        if let Some(p) = self.pending.take() {
            self.keep(p.checkpoint, false);
        }
        self.blobs
    }
}

impl Index {
    /// Plays `recording` once and takes checkpoints every [`SPAN_TIME`] or
    /// [`SPAN_BYTES`]; the index is in memory ([`Index::save`] writes it).
    pub fn build(recording: &Path, progress: &dyn Progress) -> Result<Built, PlayError> {
        Index::build_every(recording, SPAN_TIME, progress)
    }

    /// [`Index::build`] with checkpoints `every` recording time apart (or
    /// [`SPAN_BYTES`]); zero takes one wherever the stream allows.
    pub fn build_every(
        recording: &Path,
        every: Time,
        progress: &dyn Progress,
    ) -> Result<Built, PlayError> {
        let identity = identity(recording)?;
        let mut player = Player::open_tracking(recording, build_options())?;
        let mut builder = Builder::new(every, 0);
        let summary = builder.run(&mut player, progress);
        let blobs = builder.finish();
        Ok(Built {
            index: Index::from_image(recording, store::write_image(&identity, &blobs)),
            summary,
        })
    }

    /// The index of a recording that grew since it was made (one still
    /// being written): plays on from its last checkpoint only, and adds
    /// checkpoints for what was added.
    pub fn extend(&self, progress: &dyn Progress) -> Result<Built, PlayError> {
        let identity = identity(&self.recording)?;
        let last = self.entries.len().checked_sub(1);
        let resumed = last.map(|k| self.checkpoint(k));
        let (mut player, mut builder) = match resumed {
            Some(Ok(c)) => {
                let mut b = Builder::new(SPAN_TIME, self.entries.len() as u64);
                b.last = Some((c.time, c.saved.offset));
                b.seen.get_mut().last_update = c.last_update;
                let player = Player::resume(
                    &self.recording,
                    build_options(),
                    &c.point,
                    c.saved,
                    c.last_update,
                )?;
                (player, b)
            }
            // Nothing to go on from: build it again.
            _ => return Index::build(&self.recording, progress),
        };
        let summary = builder.run(&mut player, progress);
        let mut blobs = self.stored_blobs().map_err(|e| PlayError::Container {
            file: self.recording.clone(),
            source: std::io::Error::other(crate::error_chain(&e)).into(),
        })?;
        blobs.extend(builder.finish());
        Ok(Built {
            index: Index::from_image(&self.recording, store::write_image(&identity, &blobs)),
            summary,
        })
    }

    /// Every checkpoint as stored (deflated), for a new image.
    fn stored_blobs(&self) -> Result<Vec<(Time, Vec<u8>, u64)>, IndexError> {
        self.entries
            .iter()
            .map(|e| {
                let blob = match &self.bytes {
                    Bytes::Memory(image) => store::deflated_from(image, e, &self.path()),
                    Bytes::File(p) => store::deflated_from_file(p, e),
                }?;
                Ok((e.time, blob, e.raw_len))
            })
            .collect()
    }

    fn from_image(recording: &Path, image: Vec<u8>) -> Index {
        let (entries, _) =
            store::read_table(&image, image.len() as u64, Path::new(""), Path::new(""))
                .expect("an index just written reads back");
        Index {
            recording: recording.to_path_buf(),
            entries,
            bytes: Bytes::Memory(image),
            grew: false,
        }
    }

    /// Whether the recording grew since the index was made.
    pub fn grew(&self) -> bool {
        self.grew
    }

    /// Checkpoints in the index.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of the index's file form.
    pub fn file_size(&self) -> u64 {
        match &self.bytes {
            Bytes::Memory(v) => v.len() as u64,
            Bytes::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
        }
    }

    /// Writes the index to its cache file (a temporary file, then a
    /// rename, so a reader never sees half of one).
    pub fn save(&self) -> Result<PathBuf, IndexError> {
        let Bytes::Memory(image) = &self.bytes else {
            return cache_file(&self.recording).map_err(|source| IndexError::Io {
                path: self.recording.clone(),
                source,
            });
        };
        store::save(&self.recording, image)
    }

    /// The recording's index from the cache, if there is one that matches
    /// the recording as it is now.
    pub fn load(recording: &Path) -> Result<Index, IndexError> {
        let file = cache_file(recording).map_err(|source| IndexError::Io {
            path: recording.to_path_buf(),
            source,
        })?;
        Index::load_file(recording, file)
    }

    /// The index in file `file`, if it was made for `recording` as it is
    /// now.
    pub fn load_file(recording: &Path, file: PathBuf) -> Result<Index, IndexError> {
        let (path, entries, fit) = store::load(recording, file)?;
        Ok(Index {
            recording: recording.to_path_buf(),
            entries,
            bytes: Bytes::File(path),
            grew: fit != store::Fit::Same,
        })
    }

    /// The cached index, or a new one (saved when the cache can be
    /// written). `notes` gets one line for each thing a user should know.
    pub fn load_or_build(
        recording: &Path,
        progress: &dyn Progress,
        notes: &mut Vec<String>,
    ) -> Result<Index, PlayError> {
        match Index::load(recording) {
            Ok(i) if i.grew => {
                // A recording still being written: go on from the last
                // checkpoint rather than from the start.
                let built = i.extend(progress)?;
                if let Err(e) = built.index.save() {
                    notes.push(format!(
                        "the index could not be saved, so the next seek extends it again: {}",
                        crate::error_chain(&e)
                    ));
                }
                return Ok(built.index);
            }
            Ok(i) => return Ok(i),
            Err(IndexError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            }
            Err(e) => notes.push(format!(
                "index not used, rebuilt: {}",
                crate::error_chain(&e)
            )),
        }
        let built = Index::build(recording, progress)?;
        if let Err(e) = built.index.save() {
            notes.push(format!(
                "the index could not be saved, so the next seek builds it again: {}",
                crate::error_chain(&e)
            ));
        }
        Ok(built.index)
    }

    /// The checkpoint to start from for `moment`: the last one whose time
    /// is at or before it (every update applied before it is then at or
    /// before the moment), or the last one for the end.
    fn pick(&self, moment: Moment) -> Option<usize> {
        match moment {
            Moment::End => self.entries.len().checked_sub(1),
            Moment::At(t) => self.entries.partition_point(|e| e.time <= t).checked_sub(1),
        }
    }

    /// The time of the checkpoint a seek to `moment` starts from (None:
    /// from the recording's start).
    pub fn start_time(&self, moment: Moment) -> Option<Time> {
        self.pick(moment).map(|k| self.entries[k].time)
    }

    /// Reads checkpoint `k`.
    pub fn checkpoint(&self, k: usize) -> Result<Checkpoint, IndexError> {
        let bad = |source| IndexError::Checkpoint {
            path: self.path(),
            index: k,
            source,
        };
        let mut c = self.stored(k)?;
        if let Some(delta) = c.delta.take() {
            // The base comes earlier and must be whole: no chains.
            let j = usize::try_from(delta.base)
                .ok()
                .filter(|&j| j < k)
                .ok_or(bad(CodecError::Bad(
                    "a screen is a difference from a later one",
                )))?;
            let base = self.stored(j)?;
            if base.delta.is_some() {
                return Err(bad(CodecError::Bad(
                    "a screen's base is itself a difference",
                )));
            }
            let mut screen = base.saved.screen;
            delta.apply(&mut screen).map_err(bad)?;
            c.saved.screen = screen;
        }
        Ok(c)
    }

    /// Checkpoint `k` as stored (its screen maybe a difference).
    fn stored(&self, k: usize) -> Result<Checkpoint, IndexError> {
        let entry = self.entries.get(k).ok_or_else(|| IndexError::Damaged {
            path: self.path(),
            what: format!("no checkpoint {k}"),
        })?;
        let raw = match &self.bytes {
            Bytes::Memory(image) => store::blob_from(image, entry, &self.path()),
            Bytes::File(p) => store::blob_from_file(p, entry),
        }?;
        let bad = |source| IndexError::Checkpoint {
            path: self.path(),
            index: k,
            source,
        };
        codec::decode(&raw, &crate::limits::Limits::default()).map_err(bad)
    }

    fn path(&self) -> PathBuf {
        match &self.bytes {
            Bytes::File(p) => p.clone(),
            Bytes::Memory(_) => PathBuf::from("(index in memory)"),
        }
    }

    /// A player that starts at the checkpoint for `moment`, or None when
    /// the moment comes before the first checkpoint (play from the start).
    pub fn player_at(
        &self,
        moment: Moment,
        options: PlayOptions,
    ) -> Result<Option<Player>, IndexError> {
        let Some(k) = self.pick(moment) else {
            return Ok(None);
        };
        let c = self.checkpoint(k)?;
        let player = Player::resume(&self.recording, options, &c.point, c.saved, c.last_update)
            .map_err(IndexError::Resume)?;
        Ok(Some(player))
    }

    /// The screen at `moment`, through the index; a checkpoint that cannot
    /// be used falls back to playing from the start, with a note.
    pub fn screen_at(
        &self,
        moment: Moment,
        options: PlayOptions,
        progress: &dyn Progress,
        notes: &mut Vec<String>,
    ) -> Result<(Shot, Summary, Player), PlayError> {
        let mut player = match self.player_at(moment, options) {
            Ok(Some(p)) => p,
            Ok(None) => Player::open(&self.recording, options)?,
            Err(e) => {
                notes.push(format!(
                    "index not used, decoding from the start: {}",
                    crate::error_chain(&e)
                ));
                Player::open(&self.recording, options)?
            }
        };
        let (shot, summary) = sample(&mut player, moment, progress);
        Ok((shot, summary, player))
    }
}

#[cfg(test)]
mod tests {
    use super::covers;
    use crate::rfb::Rect;

    #[test]
    fn strips_that_tile_the_screen_cover_it_and_a_gap_does_not() {
        // Xvnc sends a full repaint as strips 48 rows high.
        let strips: Vec<Rect> = (0..16).map(|k| Rect::new(0, k * 48, 1024, 48)).collect();
        assert!(covers(&strips, 1024, 768));
        let mut short = strips.clone();
        short[7].h = 47;
        assert!(!covers(&short, 1024, 768));
        let mut narrow = strips.clone();
        narrow[15].w = 1023;
        assert!(!covers(&narrow, 1024, 768));
        // Overlapping and unordered pieces still cover.
        let pieces = [
            Rect::new(500, 0, 524, 768),
            Rect::new(0, 400, 600, 368),
            Rect::new(0, 0, 501, 401),
        ];
        assert!(covers(&pieces, 1024, 768));
        assert!(!covers(&pieces[..2], 1024, 768));
        assert!(!covers(&[], 1024, 768));
        // A rectangle past the screen's edge still covers what it crosses.
        assert!(covers(&[Rect::new(0, 0, 2000, 2000)], 1024, 768));
    }
}
