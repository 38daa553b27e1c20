//! Plays a recording file: container pieces into the stream parser, with a
//! [`Watcher`] told of every piece's time and every event. It is the one
//! loop every command shares (`info`, `frame`, `frames`, exports).
//!
//! A damaged stream stops the loop with an error, but whatever the watcher
//! did before the damage stands: frames already written stay written.

use crate::container::{self, Container, ContainerError, End, Piece, Truncation, TruncationCause};
use crate::framebuffer::Screen;
use crate::limits::Limits;
use crate::progress::Progress;
use crate::rfb::{Event, ParseError, Parser, PixelFormat};
use crate::time::Time;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// What a watcher of the playback sees.
pub trait Watcher {
    /// Called before the bytes of a piece that arrived at `time` are applied.
    fn before_piece(&mut self, _time: Time, _screen: &Screen) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
    /// Called for each event, after the screen reflects it.
    fn event(&mut self, _event: &Event, _screen: &Screen) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// A recording that could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    #[error("{}", file.display())]
    Container {
        file: PathBuf,
        #[source]
        source: ContainerError,
    },
    /// `container_offset` is the decompressed file byte where the failing
    /// message or rectangle starts.
    #[error("{}: at decompressed file byte {container_offset}", file.display())]
    Stream {
        file: PathBuf,
        container_offset: u64,
        #[source]
        source: ParseError,
    },
}

/// How far a playback got.
#[derive(Debug)]
pub struct Summary {
    pub format: &'static str,
    pub end: End,
    /// A fatal error, after which nothing more was decoded.
    pub error: Option<PlayError>,
    /// The watcher asked to stop before the end.
    pub stopped: bool,
    /// Time of the last complete update: the recording's duration.
    pub last_update: Option<Time>,
    /// Time of the last chunk read.
    pub last_time: Time,
    /// With salvage: every damaged stretch that was skipped.
    pub damaged: Vec<crate::salvage::Damage>,
    /// Where an unfinished message starts, when the stream ends inside one.
    pub unfinished_message_at: Option<u64>,
    pub stream_bytes: u64,
    /// The file byte where data that is not part of the recording follows
    /// a complete stream.
    pub trailing_data_at: Option<u64>,
}

impl Summary {
    /// One line for the user about a cut recording, naming the file, the
    /// decompressed offset and the time reached.
    pub fn truncation_warning(&self, file: &Path) -> Option<String> {
        let End::Truncated(Truncation {
            offset,
            time,
            cause,
        }) = &self.end
        else {
            return None;
        };
        let mut msg = format!(
            "{}: recording is truncated {cause}, at decompressed byte {offset}, recording time {time}",
            file.display()
        );
        match (self.unfinished_message_at, cause) {
            (_, TruncationCause::UnfinishedMessage { .. }) => {
                msg.push_str("; that message is incomplete and was dropped")
            }
            (Some(at), _) => msg.push_str(&format!(
                "; the message starting at RFB stream byte {at} is incomplete and was dropped"
            )),
            (None, _) => {}
        }
        Some(msg)
    }

    /// One line for the user about bytes after the end of the recording.
    pub fn trailing_data_warning(&self, file: &Path) -> Option<String> {
        self.trailing_data_at.map(|at| {
            format!(
                "{}: the data from file byte {at} on is not part of the recording and was ignored; \
                 everything before it was read",
                file.display()
            )
        })
    }

    /// The recording's duration: the time of its last complete update.
    pub fn duration(&self) -> Option<Time> {
        self.last_update
    }
}

/// Options for playing a file.
#[derive(Clone, Copy, Debug)]
pub struct PlayOptions {
    pub limits: Limits,
    /// Keep the screen as shown between updates (needed for frames).
    pub keep_shown: bool,
    /// Draw the cursor into frames where its shape and position are known.
    pub draw_cursor: bool,
    /// Measure the pixels each update really changed; without `keep_shown`,
    /// as each update draws (see [`crate::framebuffer::Screen::new`]).
    pub measure_damage: bool,
    /// Play on past damage (see [`crate::salvage`]); damage is reported in
    /// [`Summary::damaged`] instead of ending the playback.
    pub salvage: bool,
}

impl Default for PlayOptions {
    fn default() -> Self {
        PlayOptions {
            limits: Limits::default(),
            keep_shown: true,
            draw_cursor: false,
            measure_damage: false,
            salvage: false,
        }
    }
}

/// A recording file ready to play.
pub struct Player {
    path: PathBuf,
    container: Box<dyn Container>,
    parser: Parser,
    file_len: u64,
    /// The last update before the place a resumed player starts at.
    resumed_after: Option<Time>,
    options: PlayOptions,
}

/// Called after each piece is applied, with the parser, the container and
/// the piece's time: how the seek index builder takes checkpoints during
/// the one playback loop.
pub type PieceHook<'a> = &'a mut dyn FnMut(&Parser, &dyn Container, Time);

impl Player {
    pub fn open(path: &Path, options: PlayOptions) -> Result<Player, PlayError> {
        Player::open_with(path, options, false)
    }

    /// Opens a file for a seek index build: the container keeps access
    /// points (see [`Container::seek_point`]).
    pub fn open_tracking(path: &Path, options: PlayOptions) -> Result<Player, PlayError> {
        Player::open_with(path, options, true)
    }

    /// A player that starts at a place the seek index saved: the container
    /// reads on from `point`, the parser from `saved`, and `last_update`
    /// is the time of the last update before it.
    pub fn resume(
        path: &Path,
        options: PlayOptions,
        point: &container::SeekPoint,
        saved: crate::rfb::parser::Saved,
        last_update: Option<Time>,
    ) -> Result<Player, PlayError> {
        let wrap = |source| PlayError::Container {
            file: path.to_path_buf(),
            source,
        };
        let file_len = std::fs::metadata(path).map_err(|e| wrap(e.into()))?.len();
        let container = container::resume(path, point).map_err(wrap)?;
        let parser = Parser::restore(
            saved,
            options.limits,
            options.keep_shown,
            options.draw_cursor,
        )
        .map_err(|e| {
            wrap(ContainerError::Io(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e,
            )))
        })?;
        Ok(Player {
            path: path.to_path_buf(),
            container,
            parser,
            file_len,
            resumed_after: last_update,
            options,
        })
    }

    /// Opens a recording that may still be written: at the end of what is
    /// there, `keep` decides whether to wait for more (see
    /// [`container::KeepFollowing`]).
    pub fn open_following(
        path: &Path,
        options: PlayOptions,
        keep: container::KeepFollowing,
    ) -> Result<Player, PlayError> {
        Player::open_from(path, options, |p| container::open_following(p, keep))
    }

    fn open_with(path: &Path, options: PlayOptions, tracking: bool) -> Result<Player, PlayError> {
        Player::open_from(path, options, |p| {
            if tracking {
                container::open_tracking(p)
            } else if options.salvage {
                container::open_salvage(p)
            } else {
                container::open(p)
            }
        })
    }

    fn open_from(
        path: &Path,
        options: PlayOptions,
        open: impl FnOnce(&Path) -> Result<Box<dyn Container>, ContainerError>,
    ) -> Result<Player, PlayError> {
        let wrap = |source| PlayError::Container {
            file: path.to_path_buf(),
            source,
        };
        let file_len = std::fs::metadata(path).map_err(|e| wrap(e.into()))?.len();
        let container = open(path).map_err(wrap)?;
        let (pf, size) = match container.server_init() {
            Some(init) => (
                init.pixel_format.unwrap_or(PixelFormat::BGRX),
                Some((init.width, init.height)),
            ),
            None => (PixelFormat::BGRX, None),
        };
        let mut parser = Parser::new(pf, options.limits, options.keep_shown);
        parser.set_draw_cursor(options.draw_cursor);
        parser.set_measure_damage(options.measure_damage);
        if let Some((w, h)) = size {
            parser
                .set_screen_size(w, h)
                .map_err(|e| wrap(ContainerError::ServerInit(e)))?;
        }
        Ok(Player {
            path: path.to_path_buf(),
            container,
            parser,
            file_len,
            resumed_after: None,
            options,
        })
    }

    /// For a resumed player, the time of the last update before where it
    /// starts.
    pub fn resumed_after(&self) -> Option<Time> {
        self.resumed_after
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn parser(&self) -> &Parser {
        &self.parser
    }

    pub fn container(&self) -> &dyn Container {
        self.container.as_ref()
    }

    /// Salvage found where to go on: a parser from there, fed the pieces
    /// gathered since, as if they came now. Damage among them starts a new
    /// search with the rest.
    fn resume_after_damage(
        &mut self,
        s: &mut crate::salvage::Salvage,
        resume: crate::salvage::Resume,
        watcher: &mut dyn Watcher,
        last_update: &mut Option<Time>,
        stop: &mut bool,
        starts: &mut std::collections::VecDeque<(u64, u64)>,
    ) {
        let o = self.options;
        let mut next = Some(resume);
        while let Some(resume) = next.take() {
            let (parser, lost) =
                self.parser
                    .after_damage(resume.stream_offset, o.keep_shown, o.draw_cursor);
            self.parser = parser;
            s.resumed(resume.stream_offset, lost);
            starts.clear();
            let mut pieces = resume.pieces.into_iter();
            while let Some((bytes, time, offset)) = pieces.next() {
                if s.searching() {
                    if let Some(mut again) =
                        s.search(Some((&bytes, time, offset)), &self.parser, false)
                    {
                        again.pieces.extend(pieces.by_ref());
                        next = Some(again);
                        break;
                    }
                    continue;
                }
                if watcher.before_piece(time, self.parser.screen()).is_break() {
                    *stop = true;
                    return;
                }
                s.keep(&bytes, time, offset);
                starts.push_back((self.parser.received(), offset));
                let mut on_event = |event: Event, screen: &Screen| {
                    if let Event::Update { time, .. } = event {
                        *last_update = Some(time);
                        s.update(time);
                    }
                    if watcher.event(&event, screen).is_break() {
                        *stop = true;
                    }
                };
                let fed = self.parser.feed(&bytes, time, &mut on_event);
                if *stop {
                    return;
                }
                match fed {
                    Ok(()) => s.fed(&self.parser),
                    Err(e) => {
                        let at = starts
                            .iter()
                            .rev()
                            .find(|(st, _)| *st <= e.offset)
                            .map_or(offset, |(st, c)| c + (e.offset - st));
                        s.bad_message(&self.parser, &e, at, *last_update);
                        starts.clear();
                        if let Some(mut again) = s.search(None, &self.parser, false) {
                            again.pieces.extend(pieces.by_ref());
                            next = Some(again);
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Plays to the end, to damage, or until the watcher stops it.
    pub fn run(&mut self, watcher: &mut dyn Watcher, progress: &dyn Progress) -> Summary {
        self.run_hooked(watcher, progress, &mut |_, _, _| {})
    }

    /// [`Player::run`], calling `hook` after each piece is applied.
    pub fn run_hooked(
        &mut self,
        watcher: &mut dyn Watcher,
        progress: &dyn Progress,
        hook: PieceHook<'_>,
    ) -> Summary {
        progress.start(self.file_len);
        let mut last_update = self.resumed_after;
        let mut last_time = Time::ZERO;
        let mut stop = false;
        let mut pieces: u32 = 0;
        // Where recent pieces start, in the RFB stream and in the
        // decompressed file, back to the start of the current message: an
        // error names the file byte where its message or rectangle starts,
        // even when that is many pieces back.
        let mut starts: std::collections::VecDeque<(u64, u64)> = Default::default();
        let mut last_end = 0;
        let mut salvage = self.options.salvage.then(crate::salvage::Salvage::default);
        let outcome = loop {
            let piece = match self.container.next_piece() {
                Ok(p) => p,
                Err(source) => {
                    break Err(PlayError::Container {
                        file: self.path.clone(),
                        source,
                    })
                }
            };
            let (time, offset, bytes) = match piece {
                Piece::End(end) => break Ok(end),
                Piece::Gap(gap) => {
                    if let Some(s) = salvage.as_mut() {
                        s.gap(&self.parser, gap, last_update);
                        starts.clear();
                    }
                    continue;
                }
                Piece::Data {
                    time,
                    offset,
                    bytes,
                } => (time, offset, bytes),
            };
            last_time = time;
            last_end = offset + bytes.len() as u64;
            if let Some(s) = salvage.as_mut() {
                if s.searching() {
                    let found = s.search(Some((bytes, time, offset)), &self.parser, false);
                    if let Some(resume) = found {
                        self.resume_after_damage(
                            s,
                            resume,
                            watcher,
                            &mut last_update,
                            &mut stop,
                            &mut starts,
                        );
                    }
                    if stop {
                        break Ok(End::Complete);
                    }
                    continue;
                }
                s.keep(bytes, time, offset);
            }
            if watcher.before_piece(time, self.parser.screen()).is_break() {
                stop = true;
                break Ok(End::Complete);
            }
            let mut on_event = |event: Event, screen: &Screen| {
                if let Event::Update { time, .. } = event {
                    last_update = Some(time);
                }
                if watcher.event(&event, screen).is_break() {
                    stop = true;
                }
            };
            starts.push_back((self.parser.received(), offset));
            if let Err(source) = self.parser.feed(bytes, time, &mut on_event) {
                let container_offset = starts
                    .iter()
                    .rev()
                    .find(|(s, _)| *s <= source.offset)
                    .map_or(offset, |(s, c)| c + (source.offset - s));
                if let Some(s) = salvage.as_mut() {
                    s.bad_message(&self.parser, &source, container_offset, last_update);
                    starts.clear();
                    if let Some(resume) = s.search(None, &self.parser, false) {
                        self.resume_after_damage(
                            s,
                            resume,
                            watcher,
                            &mut last_update,
                            &mut stop,
                            &mut starts,
                        );
                    }
                    if stop {
                        break Ok(End::Complete);
                    }
                    continue;
                }
                break Err(PlayError::Stream {
                    file: self.path.clone(),
                    container_offset,
                    source,
                });
            }
            if stop {
                break Ok(End::Complete);
            }
            if let Some(s) = salvage.as_mut() {
                s.fed(&self.parser);
            }
            hook(&self.parser, self.container.as_ref(), time);
            let unit = self.parser.unit_offset();
            while starts.len() > 1 && starts[1].0 <= unit {
                starts.pop_front();
            }
            pieces = pieces.wrapping_add(1);
            if pieces.is_multiple_of(256) {
                progress.update(self.container.bytes_read(), time);
            }
        };
        // The stream ended during a search: the last candidates are judged
        // on what there is.
        if let (Some(s), Ok(_), false) = (salvage.as_mut(), &outcome, stop) {
            while s.searching() {
                match s.search(None, &self.parser, true) {
                    Some(resume) => self.resume_after_damage(
                        s,
                        resume,
                        watcher,
                        &mut last_update,
                        &mut stop,
                        &mut starts,
                    ),
                    None => s.finish(),
                }
            }
        }
        progress.finish();
        let (mut end, error) = match outcome {
            Ok(end) => (end, None),
            Err(e) => (End::Complete, Some(e)),
        };
        let damaged = salvage.map(|s| s.damaged).unwrap_or_default();
        let unfinished = (!self.parser.at_message_boundary() && !stop && error.is_none())
            .then(|| self.parser.message_offset());
        // A complete container whose stream stops inside a message is cut
        // all the same: the message is lost.
        if let (End::Complete, Some(at)) = (&end, unfinished) {
            end = End::Truncated(Truncation {
                offset: last_end,
                time: last_time,
                cause: TruncationCause::UnfinishedMessage { stream_offset: at },
            });
        }
        Summary {
            format: self.container.format_name(),
            end,
            error,
            stopped: stop,
            last_update,
            last_time,
            unfinished_message_at: unfinished,
            damaged,
            stream_bytes: self.parser.offset(),
            trailing_data_at: self.container.trailing_data_at(),
        }
    }
}
