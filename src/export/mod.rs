//! Exporters: where sampled frames go. One trait, one module per format.

pub mod png;
pub mod video;

use crate::framebuffer::Framebuffer;
use crate::time::Time;
use crate::timeline::Frame;
use std::path::PathBuf;

/// A failure to write output.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Image {
        path: PathBuf,
        source: image::ImageError,
    },
    #[error("{0}")]
    Other(String),
    #[error(transparent)]
    Video(#[from] video::VideoError),
}

/// Receives frames in time order and writes them somewhere.
pub trait Exporter {
    fn frame(&mut self, frame: &Frame<'_>) -> Result<(), ExportError>;
    /// [`Exporter::frame`] with a hint: frames given the same `content`
    /// show identical pixels, and a new `content` almost always means new
    /// pixels (it is [`Screen::generation`] plus one, 0 being the black
    /// screen before the first update), so an exporter may skip comparing
    /// or encoding frames again. The default ignores the hint.
    fn frame_with_content(&mut self, frame: &Frame<'_>, content: u64) -> Result<(), ExportError> {
        let _ = content;
        self.frame(frame)
    }
    /// The recording ended (was played to its end or to damage) with its
    /// last complete update at `last_update`, leaving `screen`, whose
    /// content is `content` (as in [`Exporter::frame_with_content`]).
    /// Called once before [`Exporter::finish`] when there was an update.
    /// Sampled frames stop at or before that time (the timeline holds back
    /// frames after the last complete update), so the final screen may be
    /// in none of them: a video shows it in its last frame. The default
    /// ignores this.
    fn recording_end(
        &mut self,
        last_update: Time,
        screen: &Framebuffer,
        content: u64,
    ) -> Result<(), ExportError> {
        let _ = (last_update, screen, content);
        Ok(())
    }
    /// Finishes the output; called once, after the last frame.
    fn finish(&mut self) -> Result<(), ExportError>;
    /// Frames written so far.
    fn frames_written(&self) -> u64;
}

use crate::framebuffer::Screen;
use crate::player::{Player, Summary, Watcher};
use crate::progress::Progress;
use crate::rfb::Event;
use crate::timeline::{Sampling, Timeline};
use std::ops::ControlFlow;

/// How an export went: the playback summary and the output's fate.
pub struct ExportReport {
    pub summary: Summary,
    /// Failure writing the output (the recording may still be fine).
    pub output_error: Option<ExportError>,
    pub frames: u64,
}

/// Plays `player` and feeds the frames of `sampling` to `exporter`.
/// Frames up to a damaged place are written and the exporter is finished
/// even then, so a damaged recording still yields everything before it.
pub fn run(
    player: &mut Player,
    sampling: Sampling,
    exporter: &mut dyn Exporter,
    progress: &dyn Progress,
) -> ExportReport {
    struct Render<'a> {
        timeline: Timeline,
        exporter: &'a mut dyn Exporter,
        error: Option<ExportError>,
    }
    /// Names the shown screen's content for the exporter; 0 is reserved
    /// for the black frames before the first update.
    fn content(screen: &Screen) -> u64 {
        screen.generation().saturating_add(1)
    }
    impl Render<'_> {
        fn emit(
            exporter: &mut dyn Exporter,
            content: u64,
        ) -> impl FnMut(crate::timeline::Frame<'_>) -> Result<(), ExportError> + '_ {
            move |f| exporter.frame_with_content(&f, content)
        }
    }
    impl Watcher for Render<'_> {
        fn before_piece(&mut self, time: Time, screen: &Screen) -> ControlFlow<()> {
            let result = self.timeline.before_piece(
                time,
                screen.shown(),
                &mut Self::emit(self.exporter, content(screen)),
            );
            if let Err(e) = result {
                self.error = Some(e);
                return ControlFlow::Break(());
            }
            if self.timeline.done() {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        }

        fn event(&mut self, event: &Event, screen: &Screen) -> ControlFlow<()> {
            if let Event::Completing { index, time } = *event {
                // Held frames show the screen before this update; before
                // the first update they are black: content 0.
                let c = if index == 0 { 0 } else { content(screen) };
                let result = self.timeline.completing(
                    time,
                    screen.shown(),
                    screen.drawn_ref(),
                    &mut Self::emit(self.exporter, c),
                );
                if let Err(e) = result {
                    self.error = Some(e);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }

    let mut render = Render {
        timeline: Timeline::new(sampling),
        exporter,
        error: None,
    };
    let summary = player.run(&mut render, progress);
    if render.error.is_none() {
        if let Some(last) = summary.last_update {
            let shown: &Framebuffer = player.parser().screen().shown();
            if let Err(e) = render.timeline.finish(
                last,
                shown,
                &mut Render::emit(render.exporter, content(player.parser().screen())),
            ) {
                render.error = Some(e);
            }
        }
    }
    if let (Some(last), false, None) = (summary.last_update, summary.stopped, &render.error) {
        let shown = player.parser().screen().shown();
        let content = content(player.parser().screen());
        if let Err(e) = render.exporter.recording_end(last, shown, content) {
            render.error = Some(e);
        }
    }
    let finished = render.exporter.finish();
    let output_error = render.error.or(finished.err());
    ExportReport {
        summary,
        output_error,
        frames: render.exporter.frames_written(),
    }
}

/// Plays `player` and returns the screen at `at` (None: at the end), with
/// the playback summary. Before the first update the screen is black at
/// the first update's size.
pub fn screen_at(
    player: &mut Player,
    at: Option<Time>,
    progress: &dyn Progress,
) -> (Option<Framebuffer>, Summary) {
    struct At {
        at: Option<Time>,
        shot: Option<Framebuffer>,
        started: bool,
        want_black: bool,
    }
    impl Watcher for At {
        fn before_piece(&mut self, time: Time, screen: &Screen) -> ControlFlow<()> {
            match self.at {
                Some(at) if time > at => {
                    if self.started {
                        self.shot = Some(screen.shown().clone());
                        return ControlFlow::Break(());
                    }
                    self.want_black = true;
                    ControlFlow::Continue(())
                }
                _ => ControlFlow::Continue(()),
            }
        }
        fn event(&mut self, event: &Event, screen: &Screen) -> ControlFlow<()> {
            if let Event::Update { .. } = event {
                self.started = true;
                if self.want_black {
                    let fb = screen.shown();
                    self.shot = Some(Framebuffer::new(fb.width(), fb.height()));
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut w = At {
        at,
        shot: None,
        started: false,
        want_black: false,
    };
    let summary = player.run(&mut w, progress);
    let shot = w.shot.or_else(|| {
        summary
            .last_update
            .map(|_| player.parser().screen().shown().clone())
    });
    (shot, summary)
}
