//! When to ask the server for the next update, and for what (sans-IO).
//!
//! rfbplay's default: one non-incremental full-screen request first, so the
//! file starts with the whole screen (the file has no ServerInit, and a
//! player takes the size from the first update, docs/formats.md section 1);
//! then incremental requests at most every 1/fps, with at most one
//! outstanding, each for the current screen size. After a resize the next
//! request is again non-incremental and full-size, since the screen's
//! content is new.
//!
//! minimega's behaviour, for `--compat minimega`: a non-incremental request
//! for the ServerInit size every 1/fps, answered or not.
//!
//! When the recorder cannot follow the stream (no decoder for something the
//! server sent), it cannot see updates complete; it then asks incrementally
//! every 1/fps. Servers merge pending incremental requests, so this keeps
//! the recording going at the cost of the one-outstanding rule.

use crate::rfb::Rect;
use std::time::{Duration, Instant};

/// How requests are paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pacing {
    /// Wait for each update; incremental after the first.
    Tracked,
    /// minimega: full non-incremental requests on a fixed clock.
    Minimega,
    /// The stream can no longer be followed: incremental on a fixed clock.
    Blind,
}

/// A FramebufferUpdateRequest to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    pub incremental: bool,
    pub rect: Rect,
}

/// Request scheduling state, printable for debugging.
#[derive(Clone, Debug)]
pub struct Pacer {
    pacing: Pacing,
    period: Duration,
    /// Size requested: the current screen, or ServerInit's for minimega.
    size: (u16, u16),
    outstanding: bool,
    /// The next request must be a full non-incremental one.
    full: bool,
    last_request: Option<Instant>,
    requests: u64,
}

impl Pacer {
    /// `fps` is clamped to 0.1..=1000.
    pub fn new(pacing: Pacing, fps: f64, width: u16, height: u16) -> Pacer {
        let fps = if fps.is_finite() {
            fps.clamp(0.1, 1000.0)
        } else {
            10.0
        };
        Pacer {
            pacing,
            period: Duration::from_secs_f64(1.0 / fps),
            size: (width, height),
            outstanding: false,
            full: true,
            last_request: None,
            requests: 0,
        }
    }

    pub fn pacing(&self) -> Pacing {
        self.pacing
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    pub fn outstanding(&self) -> bool {
        self.outstanding
    }

    /// When the next request may go out: None while waiting for an update.
    pub fn next_due(&self) -> Option<Instant> {
        if self.pacing == Pacing::Tracked && self.outstanding {
            return None;
        }
        Some(match self.last_request {
            Some(t) => t + self.period,
            None => return Some(Instant::now()),
        })
    }

    /// The request to send now, if one is due; it counts as sent.
    pub fn poll(&mut self, now: Instant) -> Option<Request> {
        if self.pacing == Pacing::Tracked && self.outstanding {
            return None;
        }
        if let Some(t) = self.last_request {
            if now < t + self.period {
                return None;
            }
        }
        let incremental = match self.pacing {
            Pacing::Minimega => false,
            Pacing::Tracked | Pacing::Blind => !self.full,
        };
        self.full = false;
        self.outstanding = true;
        // Keep to the fps grid unless we fell more than a period behind
        // (a slow update), so the rate does not drift down.
        self.last_request = Some(match self.last_request {
            Some(t) if now.saturating_duration_since(t) < 2 * self.period => t + self.period,
            _ => now,
        });
        self.requests += 1;
        Some(Request {
            incremental,
            rect: Rect::new(0, 0, self.size.0, self.size.1),
        })
    }

    /// A FramebufferUpdate was completely received.
    pub fn update_done(&mut self) {
        self.outstanding = false;
    }

    /// The screen size changed. minimega keeps asking for the old size;
    /// rfbplay asks for the new one, non-incrementally.
    pub fn resize(&mut self, width: u32, height: u32) {
        if self.pacing == Pacing::Minimega {
            return;
        }
        let size = (
            u16::try_from(width).unwrap_or(u16::MAX),
            u16::try_from(height).unwrap_or(u16::MAX),
        );
        if size != self.size {
            self.size = size;
            self.full = true;
        }
    }

    /// The stream can no longer be followed (see the module docs).
    pub fn go_blind(&mut self) {
        if self.pacing == Pacing::Tracked {
            self.pacing = Pacing::Blind;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn full_first_then_incremental_one_at_a_time() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::Tracked, 10.0, 1024, 768);
        let r = p.poll(t0).unwrap();
        assert_eq!(
            r,
            Request {
                incremental: false,
                rect: Rect::new(0, 0, 1024, 768)
            }
        );
        assert_eq!(p.poll(t0 + 500 * MS), None, "one outstanding");
        assert_eq!(p.next_due(), None);
        p.update_done();
        // Answered after 500 ms: the next may go at once.
        let r = p.poll(t0 + 500 * MS).unwrap();
        assert!(r.incremental);
        p.update_done();
        // Answered at once: wait for the period.
        assert_eq!(p.poll(t0 + 550 * MS), None);
        assert_eq!(p.next_due(), Some(t0 + 600 * MS));
        assert!(p.poll(t0 + 600 * MS).is_some());
        assert_eq!(p.requests(), 3);
    }

    #[test]
    fn rate_holds_to_the_grid() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::Tracked, 10.0, 8, 8);
        let mut sent = 0;
        // Poll every 30 ms for a second; answer at once.
        for i in 0..=33 {
            if p.poll(t0 + i * 30 * MS).is_some() {
                sent += 1;
                p.update_done();
            }
        }
        assert_eq!(sent, 10, "10 fps over 0..990 ms");
    }

    #[test]
    fn resize_makes_the_next_request_full_at_the_new_size() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::Tracked, 10.0, 1024, 768);
        p.poll(t0);
        p.update_done();
        p.resize(1280, 1024);
        let r = p.poll(t0 + 100 * MS).unwrap();
        assert_eq!(
            r,
            Request {
                incremental: false,
                rect: Rect::new(0, 0, 1280, 1024)
            }
        );
        p.update_done();
        assert!(p.poll(t0 + 200 * MS).unwrap().incremental);
    }

    #[test]
    fn minimega_asks_full_frames_on_a_clock_at_the_old_size() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::Minimega, 10.0, 1024, 768);
        for i in 0..5 {
            let r = p.poll(t0 + i * 100 * MS).unwrap();
            assert_eq!(
                r,
                Request {
                    incremental: false,
                    rect: Rect::new(0, 0, 1024, 768)
                }
            );
        }
        p.resize(1280, 1024);
        assert_eq!(
            p.poll(t0 + 500 * MS).unwrap().rect,
            Rect::new(0, 0, 1024, 768)
        );
    }

    #[test]
    fn blind_pacing_asks_without_waiting() {
        let t0 = Instant::now();
        let mut p = Pacer::new(Pacing::Tracked, 10.0, 64, 64);
        p.poll(t0);
        p.go_blind();
        assert!(p.poll(t0 + 100 * MS).unwrap().incremental);
        assert!(p.poll(t0 + 200 * MS).is_some());
    }
}
