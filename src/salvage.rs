//! `--salvage`: playing on past damage. The player hands every stream
//! byte to a [`Salvage`]: while decoding goes well it keeps the bytes of
//! the message in progress; after a bad message or a gap in the container
//! it gathers what follows and looks for the next place where a
//! FramebufferUpdate starts (a header whose first rectangle fits the screen
//! with a known encoding), confirmed by decoding two updates from there on
//! a copy of the parser without error (or one, when the next fails inside
//! a rectangle's data rather than in the stream's structure). The player then goes on from there,
//! and each skipped stretch becomes a [`Damage`] in the playback summary.

use crate::container::Gap;
use crate::rfb::{Candidate, Event, ParseError, Parser};
use crate::time::Time;

/// Updates a candidate must decode without error to be believed.
const CONFIRM: u32 = 2;
/// Stream bytes held for a search or the message in progress; past this,
/// the oldest are dropped (a search then starts later).
const MAX_HELD: usize = 64 << 20;

/// One damaged stretch of a recording, as `--salvage` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct Damage {
    /// What was wrong where the damage was found, in words.
    pub cause: String,
    /// Decompressed container byte where the damage was found, and where
    /// decoding went on (None: nothing decodable followed).
    pub offset: u64,
    pub resumed_offset: Option<u64>,
    /// Compressed file bytes, for damage inside the gzip stream.
    pub file_offset: Option<u64>,
    pub resumed_file_offset: Option<u64>,
    /// RFB stream byte where the first lost message starts, and where the
    /// first update after the damage starts.
    pub stream_offset: u64,
    pub resumed_stream_offset: Option<u64>,
    /// Updates complete before the damage, and the time of the last one.
    pub updates_before: u64,
    pub time_before: Option<Time>,
    /// Recording time reached when the damage was found, and the time of
    /// the first update after it.
    pub time_found: Time,
    pub time_after: Option<Time>,
    /// Decoded bytes after the resume point that may be wrong because they
    /// copy from a gzip window lost with the damage.
    pub uncertain_bytes: u64,
    /// Zlib, ZRLE or Tight rectangles after the damage decode against a
    /// history of zeros: their pixels may be wrong until painted again.
    pub zlib_history_lost: bool,
}

/// Stream bytes with the time and container byte each piece came with.
#[derive(Default)]
struct Held {
    bytes: Vec<u8>,
    /// Stream offset of `bytes[0]`.
    at: u64,
    /// Where each piece starts in `bytes`, its time and container offset.
    pieces: Vec<(usize, Time, u64)>,
}

impl Held {
    fn push(&mut self, bytes: &[u8], time: Time, container: u64) {
        self.pieces.push((self.bytes.len(), time, container));
        self.bytes.extend_from_slice(bytes);
    }

    /// Drops everything before stream offset `from`.
    fn keep_from(&mut self, from: u64) {
        let cut = (from.saturating_sub(self.at) as usize).min(self.bytes.len());
        if cut == 0 {
            return;
        }
        self.bytes.drain(..cut);
        self.at += cut as u64;
        let first = self
            .pieces
            .partition_point(|p| p.0 <= cut)
            .saturating_sub(1);
        self.pieces.drain(..first);
        for p in &mut self.pieces {
            p.2 += (cut.saturating_sub(p.0)) as u64;
            p.0 = p.0.saturating_sub(cut);
        }
    }

    fn bound(&mut self) {
        if self.bytes.len() > MAX_HELD {
            let from = self.at + (self.bytes.len() - MAX_HELD) as u64;
            self.keep_from(from);
        }
    }

    /// The pieces from byte `from` on, each as (bytes, time, container
    /// offset).
    fn segments(&self, from: usize) -> Vec<(std::ops::Range<usize>, Time, u64)> {
        let mut out = Vec::new();
        for (i, &(start, time, c)) in self.pieces.iter().enumerate() {
            let end = self.pieces.get(i + 1).map_or(self.bytes.len(), |p| p.0);
            if end <= from {
                continue;
            }
            let s = start.max(from);
            out.push((s..end, time, c + (s - start) as u64));
        }
        out
    }
}

/// A candidate being confirmed.
struct Trial {
    pos: usize,
    parser: Parser,
    fed: usize,
    updates: u32,
}

/// Looking for the place to go on after damage.
struct Search {
    held: Held,
    pos: usize,
    trial: Option<Trial>,
}

/// The salvage state of one playback.
#[derive(Default)]
pub struct Salvage {
    pub damaged: Vec<Damage>,
    /// While decoding goes well: the bytes of the message in progress.
    tail: Held,
    search: Option<Search>,
    /// Stream bytes received, skipped ones included.
    received: u64,
}

/// A place found to go on from: the bytes from there, as pieces.
pub struct Resume {
    pub stream_offset: u64,
    pub pieces: Vec<(Vec<u8>, Time, u64)>,
}

impl Salvage {
    pub fn searching(&self) -> bool {
        self.search.is_some()
    }

    /// Notes a piece that decodes normally, before it is fed.
    pub fn keep(&mut self, bytes: &[u8], time: Time, container: u64) {
        self.tail.push(bytes, time, container);
        self.received += bytes.len() as u64;
    }

    /// After a piece was fed without error: forgets bytes before the
    /// message in progress.
    pub fn fed(&mut self, parser: &Parser) {
        let from = if parser.at_message_boundary() {
            parser.offset()
        } else {
            parser.message_offset()
        };
        self.tail.keep_from(from);
        self.tail.bound();
    }

    /// Decoding failed with `error`: the message it is in is lost; the
    /// search starts at its second byte, over the bytes kept since.
    pub fn bad_message(
        &mut self,
        parser: &Parser,
        error: &ParseError,
        container_offset: u64,
        last_update: Option<Time>,
    ) {
        let start = parser.message_offset();
        let mut held = std::mem::take(&mut self.tail);
        held.keep_from(start + 1);
        self.begin(
            Damage {
                cause: error.to_string(),
                offset: container_offset,
                resumed_offset: None,
                file_offset: None,
                resumed_file_offset: None,
                stream_offset: start,
                resumed_stream_offset: None,
                updates_before: parser.updates(),
                time_before: last_update,
                time_found: error.time,
                time_after: None,
                uncertain_bytes: 0,
                zlib_history_lost: false,
            },
            held,
        );
    }

    /// The container skipped damaged bytes: the message in progress is
    /// lost, and the search starts after the gap.
    pub fn gap(&mut self, parser: &Parser, gap: Gap, last_update: Option<Time>) {
        if let Some(s) = self.search.as_mut() {
            // Damage inside damage: one stretch; what was gathered does
            // not join what follows.
            let d = self.damaged.last_mut().expect("a search has its damage");
            d.file_offset = d.file_offset.or(gap.file_offset);
            d.uncertain_bytes += gap.uncertain_bytes;
            s.held = Held {
                at: self.received,
                ..Held::default()
            };
            s.pos = 0;
            s.trial = None;
            return;
        }
        let start = if parser.at_message_boundary() {
            parser.offset()
        } else {
            parser.message_offset()
        };
        self.tail = Held::default();
        self.begin(
            Damage {
                cause: gap.cause,
                offset: gap.offset,
                resumed_offset: None,
                file_offset: gap.file_offset,
                resumed_file_offset: gap.file_resumed_at,
                stream_offset: start,
                resumed_stream_offset: None,
                updates_before: parser.updates(),
                time_before: last_update,
                time_found: gap.time,
                time_after: None,
                uncertain_bytes: gap.uncertain_bytes,
                zlib_history_lost: false,
            },
            Held {
                at: self.received,
                ..Held::default()
            },
        );
    }

    fn begin(&mut self, damage: Damage, held: Held) {
        self.damaged.push(damage);
        self.search = Some(Search {
            held,
            pos: 0,
            trial: None,
        });
    }

    /// Gathers a piece during a search; Some when the search found where
    /// to go on (`at_end`: no more pieces come).
    pub fn search(
        &mut self,
        piece: Option<(&[u8], Time, u64)>,
        parser: &Parser,
        at_end: bool,
    ) -> Option<Resume> {
        let s = self.search.as_mut()?;
        if let Some((bytes, time, container)) = piece {
            s.held.push(bytes, time, container);
            self.received += bytes.len() as u64;
        }
        let pos = s.advance(parser, at_end)?;
        let search = self.search.take().expect("searching");
        let held = search.held;
        let stream_offset = held.at + pos as u64;
        let pieces: Vec<_> = held
            .segments(pos)
            .into_iter()
            .map(|(r, t, c)| (held.bytes[r].to_vec(), t, c))
            .collect();
        let d = self.damaged.last_mut().expect("a search has its damage");
        d.resumed_stream_offset = Some(stream_offset);
        d.resumed_offset = pieces.first().map(|p| p.2);
        Some(Resume {
            stream_offset,
            pieces,
        })
    }

    /// The playback ended during a search: the damage runs to the end.
    pub fn finish(&mut self) {
        self.search = None;
    }

    /// Decoding goes on at `stream_offset`: notes whether zlib history was
    /// lost.
    pub fn resumed(&mut self, stream_offset: u64, zlib_lost: bool) {
        if let Some(d) = self.damaged.last_mut() {
            d.zlib_history_lost |= zlib_lost;
        }
        // The pieces from `stream_offset` on are fed again from here.
        self.tail = Held {
            at: stream_offset,
            ..Held::default()
        };
    }

    pub fn update(&mut self, time: Time) {
        if let Some(d) = self.damaged.last_mut() {
            if d.resumed_stream_offset.is_some() && d.time_after.is_none() {
                d.time_after = Some(time);
            }
        }
    }
}

/// Whether a trial's error lies inside a rectangle's data rather than in
/// the stream's structure (message type, rectangle header).
fn data_damage(e: &ParseError) -> bool {
    use crate::decode::RectError;
    match &e.kind {
        crate::rfb::ParseErrorKind::Rect { error, .. } => !matches!(
            error.root(),
            RectError::OutsideScreen { .. } | RectError::Unsupported | RectError::Limit(_)
        ),
        _ => false,
    }
}

impl Search {
    /// Tries candidates from `pos` on; Some(position) once one is
    /// confirmed.
    fn advance(&mut self, parser: &Parser, at_end: bool) -> Option<usize> {
        loop {
            if self.pos > 1 << 20 && self.trial.is_none() {
                self.compact();
            }
            if self.trial.is_none() {
                let b = &self.held.bytes;
                loop {
                    if self.pos >= b.len() {
                        return None;
                    }
                    match parser.update_could_start(&b[self.pos..]) {
                        Candidate::Yes => break,
                        Candidate::No => self.pos += 1,
                        Candidate::NeedMore if at_end => self.pos += 1,
                        Candidate::NeedMore => return None,
                    }
                }
                let (p, _) = parser.after_damage(self.held.at + self.pos as u64, false, false);
                self.trial = Some(Trial {
                    pos: self.pos,
                    parser: p,
                    fed: self.pos,
                    updates: 0,
                });
            }
            let t = self.trial.as_mut().expect("set above");
            let mut failed = false;
            for (range, time, _) in self.held.segments(t.fed) {
                let updates = &mut t.updates;
                let r = t.parser.feed(&self.held.bytes[range], time, &mut |e, _| {
                    if matches!(e, Event::Update { .. }) {
                        *updates += 1;
                    }
                });
                if let Err(e) = r {
                    // An update decoded, and the next one starts with a
                    // well-formed header but has damaged data (bytes that
                    // a corrupt gzip stream copied on): the place is right.
                    if t.updates >= 1 && data_damage(&e) {
                        return Some(t.pos);
                    }
                    failed = true;
                    break;
                }
                if t.updates >= CONFIRM {
                    break;
                }
            }
            t.fed = self.held.bytes.len();
            let long = self.held.bytes.len() - t.pos > MAX_HELD;
            if !failed && (t.updates >= CONFIRM || ((at_end || long) && t.updates >= 1)) {
                return Some(t.pos);
            }
            if failed || at_end || long {
                self.trial = None;
                self.pos += 1;
                continue;
            }
            return None;
        }
    }

    /// Drops bytes no candidate can use any more.
    fn compact(&mut self) {
        let from = self.held.at + self.pos as u64;
        let before = self.held.at;
        self.held.keep_from(from);
        self.pos -= (self.held.at - before) as usize;
    }
}

impl Damage {
    /// One line for the user: where the damage is, what was skipped, and
    /// where decoding went on.
    pub fn describe(&self) -> String {
        let mut m = format!("damage at decompressed byte {}", self.offset);
        if let Some(f) = self.file_offset {
            m.push_str(&format!(" (file byte {f})"));
        }
        m.push_str(&format!(
            ", RFB stream byte {}, recording time {}: {}; ",
            self.stream_offset, self.time_found, self.cause
        ));
        match (self.resumed_stream_offset, self.time_after) {
            (Some(at), Some(t)) => {
                m.push_str(&format!(
                    "skipped to RFB stream byte {at}, decompressed byte {}",
                    self.resumed_offset.unwrap_or(at)
                ));
                if let Some(f) = self.resumed_file_offset {
                    m.push_str(&format!(" (file byte {f})"));
                }
                m.push_str(&format!(", next update at {t}"));
            }
            (Some(at), None) => m.push_str(&format!(
                "skipped to RFB stream byte {at}, where no update completed"
            )),
            (None, _) => m.push_str("nothing decodable follows; the rest is lost"),
        }
        if self.zlib_history_lost {
            m.push_str(
                "; zlib-compressed rectangles after it may show wrong pixels until repainted",
            );
        }
        if self.uncertain_bytes > 0 {
            m.push_str(&format!(
                "; {} bytes after it copy from lost compressed data and may be wrong",
                self.uncertain_bytes
            ));
        }
        m
    }
}
