//! A recording playing forward on its own thread, answering "the screen at
//! t" for a rising sequence of times: real-time playback then costs only the
//! bytes between two frames, not a replay from the start.
//!
//! The session does not decide what the screen at t is: it runs the
//! sampler's [`drive`] over a 1000 fps timeline (frame k at k ms, the rule
//! every command shares) and hands out the frame whose time is the one
//! asked. So it answers only times on the millisecond grid, and only times
//! at or after the last one it answered; for anything else it says None
//! and the caller asks the sampler directly.

use crate::framebuffer::Framebuffer;
use crate::player::{PlayOptions, Player};
use crate::progress::NoProgress;
use crate::sampler::drive;
use crate::sampler::Moment;
use crate::time::Time;
use crate::timeline::{Sampling, Timeline};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

const MS: u64 = 1_000_000;
/// A session nobody asks anything for this long ends, freeing its thread.
const IDLE: Duration = Duration::from_secs(120);

struct Ask {
    t: Time,
    reply: SyncSender<Option<Framebuffer>>,
}

/// A playing recording. Dropping it ends its thread.
pub struct Session {
    asks: SyncSender<Ask>,
    /// The earliest time it can still answer.
    pub at: Time,
}

impl Session {
    /// Whether a session can answer `t` at all: times on the ms grid.
    pub fn can_answer(t: Time) -> bool {
        t.0.is_multiple_of(MS)
    }

    /// Starts playing `file` so that `from` is the first time it answers.
    /// With a saved, valid seek index (`rfbplay index`), playing starts
    /// at the checkpoint before `from` instead of the file's start; the
    /// sampler resumes there exactly as the index's own seeks do.
    pub fn start(file: &Path, from: Time) -> Option<Session> {
        let options = PlayOptions::default();
        let resumed = crate::index::Index::load(file)
            .ok()
            .and_then(|index| index.player_at(Moment::At(from), options).ok().flatten());
        let player = match resumed {
            Some(p) => p,
            None => Player::open(file, options).ok()?,
        };
        let (asks, rx) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("rfbplay-session".into())
            .spawn(move || play(player, from, rx))
            .ok()?;
        Some(Session { asks, at: from })
    }

    /// The screen at `t` (on the grid, not before [`Session::at`]), or None
    /// when this session cannot give it (it went past, or the recording
    /// ended first); the session is then of no more use for `t`.
    pub fn screen_at(&mut self, t: Time) -> Option<Framebuffer> {
        if t < self.at || !Session::can_answer(t) {
            return None;
        }
        let (reply, answer) = mpsc::sync_channel(1);
        self.asks.send(Ask { t, reply }).ok()?;
        let fb = answer.recv().ok().flatten()?;
        self.at = t;
        Some(fb)
    }
}

fn play(mut player: Player, from: Time, asks: Receiver<Ask>) {
    let sampling = Sampling {
        fps: 1000.0,
        from,
        to: None,
    };
    let mut pending: Option<Ask> = None;
    drive(
        &mut player,
        Timeline::new(sampling),
        |frame, _| loop {
            let ask = match pending.take() {
                Some(a) => a,
                None => match asks.recv_timeout(IDLE) {
                    Ok(a) => a,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                        return Ok(ControlFlow::Break(()))
                    }
                },
            };
            if frame.time < ask.t {
                pending = Some(ask);
                return Ok(ControlFlow::Continue(()));
            }
            let answer = (frame.time == ask.t).then(|| frame.screen.clone());
            let _ = ask.reply.send(answer);
        },
        &NoProgress,
    );
    // The recording ended (or this session was dropped): whoever waits
    // hears None when `pending` and `asks` drop.
}
