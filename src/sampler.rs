//! The sampler: the one place that decides what the screen at a time is
//! (the screen after every update whose time is <= t, the rule of
//! docs/formats.md section 4), and the loop that drives a recording into a sink of
//! frames. `frame`, `frames`, every exporter and `info`'s duration all go
//! through here, so two commands cannot disagree about a moment.

use crate::export::{ExportError, Exporter};
use crate::framebuffer::{Framebuffer, Screen};
use crate::player::{Player, Summary, Watcher};
use crate::progress::Progress;
use crate::rfb::Event;
use crate::time::Time;
use crate::timeline::{Frame, Sampling, Timeline};
use std::ops::ControlFlow;

/// How an export went: the playback summary and the output's fate.
pub struct ExportReport {
    pub summary: Summary,
    /// Failure writing the output (the recording may still be fine).
    pub output_error: Option<ExportError>,
    pub frames: u64,
}

/// Names the shown screen's content for an exporter; 0 is reserved for the
/// black frames before the first update.
fn content(screen: &Screen) -> u64 {
    screen.generation().saturating_add(1)
}

/// Watches a playback and hands a timeline's frames to `emit`.
struct Drive<F> {
    timeline: Timeline,
    emit: F,
    error: Option<ExportError>,
}

impl<F> Drive<F>
where
    F: FnMut(&Frame<'_>, u64) -> Result<ControlFlow<()>, ExportError>,
{
    fn check(&mut self, r: Result<ControlFlow<()>, ExportError>) -> ControlFlow<()> {
        match r {
            Ok(flow) => flow,
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    /// Emits frames through `emit`, stopping at the first Break or error.
    fn emit_all<'a>(
        emit: &'a mut F,
        content: u64,
        stop: &'a mut bool,
    ) -> impl FnMut(Frame<'_>) -> Result<(), ExportError> + 'a {
        move |f| {
            if *stop {
                return Ok(());
            }
            if emit(&f, content)?.is_break() {
                *stop = true;
            }
            Ok(())
        }
    }
}

impl<F> Watcher for Drive<F>
where
    F: FnMut(&Frame<'_>, u64) -> Result<ControlFlow<()>, ExportError>,
{
    fn before_piece(&mut self, time: Time, screen: &Screen) -> ControlFlow<()> {
        let mut stop = false;
        let r = self.timeline.before_piece(
            time,
            screen.shown(),
            &mut Self::emit_all(&mut self.emit, content(screen), &mut stop),
        );
        if self.check(r.map(|_| ControlFlow::Continue(()))).is_break()
            || stop
            || self.timeline.done()
        {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn event(&mut self, event: &Event, screen: &Screen) -> ControlFlow<()> {
        if let Event::Completing { index, time } = *event {
            // Held frames show the screen before this update; before the
            // first update they are black: content 0.
            let c = if index == 0 { 0 } else { content(screen) };
            let mut stop = false;
            let r = self.timeline.completing(
                time,
                screen.shown(),
                screen.drawn_ref(),
                &mut Self::emit_all(&mut self.emit, c, &mut stop),
            );
            if self.check(r.map(|_| ControlFlow::Continue(()))).is_break() || stop {
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }
}

/// Plays `player` through `timeline`, handing each frame and its content
/// number (see [`Exporter::frame_with_content`]) to `emit`, which may stop
/// the playback. Frames up to the recording's last complete update are
/// emitted; then `emit` is not called again. Returns the playback summary
/// and the first error `emit` returned.
pub fn drive<F>(
    player: &mut Player,
    timeline: Timeline,
    emit: F,
    progress: &dyn Progress,
) -> (Summary, Option<ExportError>)
where
    F: FnMut(&Frame<'_>, u64) -> Result<ControlFlow<()>, ExportError>,
{
    let mut timeline = timeline;
    timeline.resume_after(player.resumed_after());
    let mut d = Drive {
        timeline,
        emit,
        error: None,
    };
    let summary = player.run(&mut d, progress);
    if d.error.is_none() && !summary.stopped {
        if let Some(last) = summary.last_update {
            let screen = player.parser().screen();
            let mut stop = false;
            let r = d.timeline.finish(
                last,
                screen.shown(),
                &mut Drive::emit_all(&mut d.emit, content(screen), &mut stop),
            );
            d.error = r.err();
        }
    }
    (summary, d.error)
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
    let (summary, mut error) = drive(
        player,
        Timeline::new(sampling),
        |f, content| {
            exporter.frame_with_content(f, content)?;
            Ok(ControlFlow::Continue(()))
        },
        progress,
    );
    if let (Some(last), false, None) = (summary.last_update, summary.stopped, &error) {
        let screen = player.parser().screen();
        if let Err(e) = exporter.recording_end(last, screen.shown(), content(screen)) {
            error = Some(e);
        }
    }
    exporter.damaged(&summary.damaged);
    let finished = exporter.finish();
    ExportReport {
        summary,
        output_error: error.or(finished.err()),
        frames: exporter.frames_written(),
    }
}

/// A moment of a recording, as users name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// The screen at this time.
    At(Time),
    /// The screen after the last complete update.
    End,
}

/// What the screen at a moment turned out to be.
#[derive(Debug)]
pub enum Shot {
    Screen(Framebuffer),
    /// The time is after the recording's end (its last complete update),
    /// by more than the millisecond a displayed time may hide.
    PastEnd {
        duration: Time,
    },
    /// No update completed before the recording ended, so there is no
    /// screen at all.
    NoUpdate,
    /// Damage stopped decoding before the time was reached; the error is in
    /// the summary.
    Damaged,
}

/// The screen at `moment`, with the playback summary. Playback stops as
/// soon as the answer is known.
pub fn sample(player: &mut Player, moment: Moment, progress: &dyn Progress) -> (Shot, Summary) {
    let timeline = match moment {
        Moment::At(t) => Timeline::at(t),
        // Nothing is sampled; the final screen is taken below.
        Moment::End => Timeline::nothing(),
    };
    let mut shot = None;
    let (summary, _) = drive(
        player,
        timeline,
        |f, _| {
            shot = Some(f.screen.clone());
            Ok(ControlFlow::Break(()))
        },
        progress,
    );
    if let Some(fb) = shot {
        return (Shot::Screen(fb), summary);
    }
    let Some(last) = summary.last_update else {
        let shot = if summary.error.is_some() {
            Shot::Damaged
        } else {
            Shot::NoUpdate
        };
        return (shot, summary);
    };
    if summary.error.is_some() {
        return (Shot::Damaged, summary);
    }
    let final_screen = || Shot::Screen(player.parser().screen().shown().clone());
    let shot = match moment {
        Moment::End => final_screen(),
        // The duration is shown rounded up to the millisecond: every time
        // up to it gives the final screen.
        Moment::At(t) if t <= last.ceil_ms() => final_screen(),
        Moment::At(_) => Shot::PastEnd { duration: last },
    };
    (shot, summary)
}

/// [`sample`] for callers that only want a screen: `None` for the end.
pub fn screen_at(
    player: &mut Player,
    at: Option<Time>,
    progress: &dyn Progress,
) -> (Option<Framebuffer>, Summary) {
    let moment = at.map_or(Moment::End, Moment::At);
    let (shot, summary) = sample(player, moment, progress);
    match shot {
        Shot::Screen(fb) => (Some(fb), summary),
        _ => (None, summary),
    }
}
