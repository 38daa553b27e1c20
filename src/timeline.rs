//! Sampling the screen at a frame rate (docs/formats.md section 4): frame k at f
//! fps shows the screen after every update whose time is <= k/f, and a
//! recording lasts until its last complete update.
//!
//! The player calls [`Timeline::before_piece`] before the bytes of each
//! piece are applied: no update in or after that piece can be earlier than
//! its time, so every frame time strictly before it shows the screen as it
//! is between updates. A frame after the last complete update is held,
//! though, until the next update completes ([`Timeline::completing`], just
//! before that update is shown): a cut recording's unfinished tail then
//! yields no frames. Frames before the first update are black at the first
//! update's size, since `.fb` files store no ServerInit.

use crate::framebuffer::Framebuffer;
use crate::time::Time;

/// One sampled frame.
pub struct Frame<'a> {
    /// Frame number k, counted from the start of the recording.
    pub index: u64,
    /// k / fps.
    pub time: Time,
    pub screen: &'a Framebuffer,
}

/// Which frames to sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    pub fps: f64,
    pub from: Time,
    pub to: Option<Time>,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            fps: 10.0,
            from: Time::ZERO,
            to: None,
        }
    }
}

impl Sampling {
    pub fn time_of(&self, index: u64) -> Time {
        Time((index as f64 * 1e9 / self.fps).round() as u64)
    }

    /// The first frame at or after `from`.
    pub fn first_index(&self) -> u64 {
        let k = (self.from.0 as f64 * self.fps / 1e9).ceil() as u64;
        // Guard against rounding putting frame k-1 at `from` exactly.
        if k > 0 && self.time_of(k - 1) >= self.from {
            k - 1
        } else {
            k
        }
    }
}

/// The frame times a [`Timeline`] emits: a rate, or one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Schedule {
    Rate(Sampling),
    /// One frame, index 0, at this time (`frame --at`).
    At(Time),
    /// No frames: the playback is watched for its end only.
    Nothing,
}

impl Schedule {
    fn first_index(&self) -> u64 {
        match self {
            Schedule::Rate(s) => s.first_index(),
            Schedule::At(_) | Schedule::Nothing => 0,
        }
    }

    /// Frame `index`'s time, or None when it is not wanted.
    fn time_of(&self, index: u64) -> Option<Time> {
        match self {
            Schedule::Rate(s) => {
                let t = s.time_of(index);
                s.to.is_none_or(|to| t <= to).then_some(t)
            }
            Schedule::At(t) => (index == 0).then_some(*t),
            Schedule::Nothing => None,
        }
    }
}

/// Emits frames as the recording is played.
pub struct Timeline {
    schedule: Schedule,
    /// The first frame neither emitted nor held.
    next: u64,
    /// Frames due before the latest piece but after the last complete
    /// update, emitted when an update completes.
    held: u64,
    last_update: Option<Time>,
}

impl Timeline {
    pub fn new(sampling: Sampling) -> Timeline {
        Timeline::with(Schedule::Rate(sampling))
    }

    /// A timeline of one frame, index 0, showing the screen at `time`.
    pub fn at(time: Time) -> Timeline {
        Timeline::with(Schedule::At(time))
    }

    /// A timeline that samples nothing.
    pub fn nothing() -> Timeline {
        Timeline::with(Schedule::Nothing)
    }

    fn with(schedule: Schedule) -> Timeline {
        Timeline {
            schedule,
            next: schedule.first_index(),
            held: 0,
            last_update: None,
        }
    }

    /// Starts after an update at `last` that this timeline did not see (a
    /// player resumed by the seek index): frames after it show the screen.
    pub fn resume_after(&mut self, last: Option<Time>) {
        if last.is_some() {
            self.last_update = last;
        }
    }

    /// Whether every wanted frame is out. Held frames are not: playback must
    /// go on until an update confirms them.
    pub fn done(&self) -> bool {
        self.schedule != Schedule::Nothing
            && self.held == 0
            && self.schedule.time_of(self.next).is_none()
    }

    /// Emits, or holds, the frames strictly before `time`.
    pub fn before_piece<E>(
        &mut self,
        time: Time,
        shown: &Framebuffer,
        emit: &mut dyn FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        loop {
            let index = self.next + self.held;
            let Some(t) = self.schedule.time_of(index) else {
                return Ok(());
            };
            if t >= time {
                return Ok(());
            }
            match self.last_update {
                Some(last) if t <= last && self.held == 0 => {
                    self.next += 1;
                    emit(Frame {
                        index,
                        time: t,
                        screen: shown,
                    })?;
                }
                _ => self.held += 1,
            }
        }
    }

    /// An update at `time` is complete but not yet shown: the held frames
    /// come before it, so they show `shown`, or black at `drawn`'s size
    /// before the first update.
    pub fn completing<E>(
        &mut self,
        time: Time,
        shown: &Framebuffer,
        drawn: &Framebuffer,
        emit: &mut dyn FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let black;
        let screen = if self.last_update.is_none() {
            black = Framebuffer::new(drawn.width(), drawn.height());
            &black
        } else {
            shown
        };
        self.last_update = Some(time);
        for _ in 0..std::mem::take(&mut self.held) {
            let index = self.next;
            self.next += 1;
            let Some(time) = self.schedule.time_of(index) else {
                break;
            };
            emit(Frame {
                index,
                time,
                screen,
            })?;
        }
        Ok(())
    }

    /// The recording ended with its last update at `last`: emits the frames
    /// up to and including it, and drops those held after it.
    pub fn finish<E>(
        &mut self,
        last: Time,
        shown: &Framebuffer,
        emit: &mut dyn FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.held > 0 {
            return Ok(());
        }
        loop {
            let index = self.next;
            let Some(t) = self.schedule.time_of(index) else {
                return Ok(());
            };
            if t > last {
                return Ok(());
            }
            self.next += 1;
            emit(Frame {
                index,
                time: t,
                screen: shown,
            })?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_index_respects_from() {
        let s = Sampling {
            fps: 10.0,
            from: Time(5_000_000_000),
            to: None,
        };
        assert_eq!(s.first_index(), 50);
        let s = Sampling {
            fps: 3.0,
            from: Time(1),
            to: None,
        };
        assert_eq!(s.first_index(), 1);
    }

    #[test]
    fn frames_before_first_update_are_black_and_a_cut_tail_yields_none() {
        let mut t = Timeline::new(Sampling::default());
        let empty = Framebuffer::default();
        let screen = Framebuffer::new(2, 2);
        let mut seen = vec![];
        let mut emit = |f: Frame<'_>| -> Result<(), ()> {
            seen.push((f.index, f.screen.width()));
            Ok(())
        };
        // Pieces up to 0.25 s; the first update completes at 0.25 s.
        t.before_piece(Time(250_000_000), &empty, &mut emit)
            .unwrap();
        t.completing(Time(250_000_000), &empty, &screen, &mut emit)
            .unwrap();
        // A piece at 0.45 s of an update that never completes.
        t.before_piece(Time(450_000_000), &screen, &mut emit)
            .unwrap();
        t.finish(Time(250_000_000), &screen, &mut emit).unwrap();
        assert_eq!(seen, vec![(0, 2), (1, 2), (2, 2)]);
    }

    #[test]
    fn frames_between_updates_show_the_earlier_one() {
        let mut t = Timeline::new(Sampling::default());
        let (a, b) = (Framebuffer::new(1, 1), Framebuffer::new(3, 1));
        let mut seen = vec![];
        let mut emit = |f: Frame<'_>| -> Result<(), ()> {
            seen.push((f.index, f.screen.width()));
            Ok(())
        };
        t.before_piece(Time(50_000_000), &a, &mut emit).unwrap();
        t.completing(Time(50_000_000), &a, &a, &mut emit).unwrap();
        t.before_piece(Time(320_000_000), &a, &mut emit).unwrap();
        t.completing(Time(330_000_000), &a, &b, &mut emit).unwrap();
        t.finish(Time(330_000_000), &b, &mut emit).unwrap();
        assert_eq!(seen, vec![(0, 1), (1, 1), (2, 1), (3, 1)]);
    }
}
