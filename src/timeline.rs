//! Sampling the screen at a frame rate (FORMATS.md section 4): frame k at f
//! fps shows the screen after every update whose time is <= k/f.
//!
//! The player calls [`Timeline::before_piece`] before the bytes of each
//! piece are applied: no update in or after that piece can be earlier than
//! its time, so every frame time strictly before it is settled and shows the
//! screen between updates. Frames before the first update show black at the
//! first update's size, since `.fb` files store no ServerInit.

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

/// Emits frames as the recording is played.
pub struct Timeline {
    sampling: Sampling,
    next: u64,
    /// Frames due before the first update, emitted once its size is known.
    waiting: u64,
    started: bool,
}

impl Timeline {
    pub fn new(sampling: Sampling) -> Timeline {
        Timeline {
            sampling,
            next: sampling.first_index(),
            waiting: 0,
            started: false,
        }
    }

    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// Whether every wanted frame is out.
    pub fn done(&self) -> bool {
        self.sampling
            .to
            .is_some_and(|to| self.sampling.time_of(self.next + self.waiting) > to)
    }

    /// Emits frames strictly before `time`.
    pub fn before_piece<E>(
        &mut self,
        time: Time,
        shown: &Framebuffer,
        emit: &mut dyn FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.emit_while(shown, emit, |t| t < time)
    }

    /// The first update is complete: frames that were waiting for a size
    /// are emitted black.
    pub fn first_update<E>(
        &mut self,
        shown: &Framebuffer,
        emit: &mut dyn FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.started = true;
        if self.waiting > 0 {
            let black = Framebuffer::new(shown.width(), shown.height());
            for _ in 0..std::mem::take(&mut self.waiting) {
                let index = self.next;
                self.next += 1;
                emit(Frame {
                    index,
                    time: self.sampling.time_of(index),
                    screen: &black,
                })?;
            }
        }
        Ok(())
    }

    /// The recording ended with its last update at `last`: emits the frames
    /// up to and including it.
    pub fn finish<E>(
        &mut self,
        last: Time,
        shown: &Framebuffer,
        emit: &mut dyn FnMut(Frame<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.emit_while(shown, emit, |t| t <= last)
    }

    fn emit_while<E>(
        &mut self,
        shown: &Framebuffer,
        emit: &mut dyn FnMut(Frame<'_>) -> Result<(), E>,
        due: impl Fn(Time) -> bool,
    ) -> Result<(), E> {
        loop {
            let index = self.next + self.waiting;
            let time = self.sampling.time_of(index);
            if !due(time) || self.sampling.to.is_some_and(|to| time > to) {
                return Ok(());
            }
            if !self.started {
                self.waiting += 1;
                continue;
            }
            self.next += 1;
            emit(Frame {
                index,
                time,
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
    fn frames_before_first_update_are_black_at_its_size() {
        let mut t = Timeline::new(Sampling::default());
        let screen = Framebuffer::new(2, 2);
        let mut seen = vec![];
        let mut emit = |f: Frame<'_>| -> Result<(), ()> {
            seen.push((f.index, f.screen.width()));
            Ok(())
        };
        t.before_piece(Time(250_000_000), &Framebuffer::default(), &mut emit)
            .unwrap();
        t.first_update(&screen, &mut emit).unwrap();
        t.finish(Time(300_000_000), &screen, &mut emit).unwrap();
        assert_eq!(seen, vec![(0, 2), (1, 2), (2, 2), (3, 2)]);
    }
}
