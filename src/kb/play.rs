//! Replaying a loaded [`Program`] on a [`Session`], on an absolute clock.
//!
//! Step i is due at `origin + (sum of delays up to i) / speed`, not "delay
//! after the previous send", so the time spent sending and the sleep's own
//! lateness never add up over a long file. The thread sleeps until shortly
//! before the target and spins the rest (see [`PlayOptions::spin`]), while
//! still answering control commands (pause, continue, step, get step, stop,
//! inject), which come through one channel from the terminal and the
//! control socket alike. A pause or a WaitForIt moves the origin, so the
//! steps after it keep their recorded spacing.

use super::live::{Session, WaitError};
use super::load::{Action, Program, Step};
use crate::client::ClientError;
use crate::search::Match;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, TryRecvError};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct PlayOptions {
    /// Delays are divided by this (2.0 plays twice as fast).
    pub speed: f64,
    /// Send every event as soon as the previous one is out.
    pub no_delays: bool,
    /// The last part of each delay is spent spinning instead of sleeping.
    /// Measured on a loaded 2-core Linux box against Xvnc: sleeping alone
    /// sends a median 0.14 ms late (wake-up latency and timer slack); a
    /// 200 us spin brings the median to 0.001 ms, and 1 ms spins did no
    /// better while burning five times the CPU. Preemption outliers (a few
    /// ms under load) are the same either way.
    pub spin: Duration,
    /// Largest mean difference per channel that still counts as a match.
    pub tolerance: f64,
    /// Keep [`Report::sent`].
    pub log_sent: bool,
}

impl Default for PlayOptions {
    fn default() -> Self {
        PlayOptions {
            speed: 1.0,
            no_delays: false,
            spin: Duration::from_micros(200),
            tolerance: 12.0,
            log_sent: false,
        }
    }
}

/// A command for a running playback (minimega's vnc pause/continue/step/
/// getstep/inject, and stop). Replies go back on the given sender.
#[derive(Debug)]
pub enum Control {
    Pause,
    Continue,
    /// Send the next event now (and stay paused).
    Step,
    Stop,
    GetStep(Sender<String>),
    /// Play a loaded event (or LoadFile) now, then carry on.
    Inject(Program, Sender<String>),
}

/// What the playback tells its user interface.
pub trait Observer {
    /// Step `index` of the program is next; `left_ns` of delays remain.
    fn next(&mut self, _program: &Program, _index: usize, _left_ns: u64) {}
    fn comment(&mut self, _text: &str) {}
    fn paused(&mut self, _paused: bool) {}
    fn found(&mut self, _program: &Program, _step: &Step, _m: &Match) {}
}

/// An observer that shows nothing.
pub struct Quiet;
impl Observer for Quiet {}

#[derive(Debug, thiserror::Error)]
pub enum PlayError {
    // The causes print after these, as the error chain.
    #[error("{location}")]
    Send {
        location: String,
        source: ClientError,
    },
    #[error("{location}: {what} for {template}")]
    Wait {
        location: String,
        what: &'static str,
        template: String,
        source: Box<WaitError>,
    },
}

/// How a playback went.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub events_sent: usize,
    pub stopped: bool,
    /// How late each timed send was against its target, in ns.
    pub lateness_ns: Vec<u64>,
    /// Each key and pointer event with the instant it was written to the
    /// server (injected ones too), when [`PlayOptions::log_sent`] is set.
    pub sent: Vec<(Instant, super::Event)>,
}

impl Report {
    /// The `q`-quantile (0.0..=1.0) of the send lateness, in ns.
    pub fn lateness_quantile_ns(&self, q: f64) -> u64 {
        let mut v = self.lateness_ns.clone();
        v.sort_unstable();
        let i = ((v.len().saturating_sub(1)) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        v.get(i).copied().unwrap_or(0)
    }

    pub fn mean_max_lateness_ns(&self) -> (f64, u64) {
        let n = self.lateness_ns.len().max(1) as f64;
        let sum: u64 = self.lateness_ns.iter().sum();
        (
            sum as f64 / n,
            self.lateness_ns.iter().copied().max().unwrap_or(0),
        )
    }
}

enum Woke {
    Due,
    Command(Control),
    /// Every sender is gone: no more commands can come.
    Alone,
}

/// Sleeps until `target`, spinning the last `spin`, unless a command comes.
fn wait_until(target: Instant, spin: Duration, rx: &Receiver<Control>, alone: bool) -> Woke {
    loop {
        let now = Instant::now();
        if now >= target {
            return Woke::Due;
        }
        let left = target - now;
        if left > spin {
            if alone {
                std::thread::sleep(left - spin);
                continue;
            }
            match rx.recv_timeout(left - spin) {
                Ok(c) => return Woke::Command(c),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Woke::Alone,
            }
        }
        if !alone {
            match rx.try_recv() {
                Ok(c) => return Woke::Command(c),
                Err(TryRecvError::Disconnected) => return Woke::Alone,
                Err(TryRecvError::Empty) => {}
            }
        }
        std::hint::spin_loop();
    }
}

/// Plays `program` on `session`.
pub fn play(
    session: &mut Session,
    program: &Program,
    opts: &PlayOptions,
    rx: &Receiver<Control>,
    observer: &mut dyn Observer,
) -> Result<Report, PlayError> {
    let mut p = Playback {
        session,
        opts,
        rx,
        alone: false,
        paused: false,
        stop: false,
        report: Report::default(),
        current: String::new(),
    };
    p.run(program, observer, true)?;
    Ok(p.report)
}

struct Playback<'a> {
    session: &'a mut Session,
    opts: &'a PlayOptions,
    rx: &'a Receiver<Control>,
    alone: bool,
    paused: bool,
    stop: bool,
    report: Report,
    /// What `getstep` answers.
    current: String,
}

impl Playback<'_> {
    fn scaled(&self, ns: u64) -> Duration {
        if self.opts.no_delays {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(ns as f64 / 1e9 / self.opts.speed.max(1e-6))
    }

    /// `top`: the main program (commands are taken); injected programs run
    /// with `top` false and do not take commands.
    fn run(
        &mut self,
        program: &Program,
        observer: &mut dyn Observer,
        top: bool,
    ) -> Result<(), PlayError> {
        let total = program.duration_ns();
        let mut origin = Instant::now();
        let mut logical = 0u64;
        let mut paused_at = Instant::now();
        for (index, step) in program.steps.iter().enumerate() {
            if self.stop {
                break;
            }
            logical = logical.saturating_add(step.delay_ns);
            if top {
                self.current = format!(
                    "{}/{} {}: {}",
                    index + 1,
                    program.steps.len(),
                    program.location(step),
                    describe(program, step)
                );
                observer.next(program, index, total.saturating_sub(logical));
            }
            // Wait for the step's time, answering commands meanwhile.
            loop {
                if !top {
                    let due = origin + self.scaled(logical);
                    wait_until(due, self.opts.spin, self.rx, true);
                    break;
                }
                if self.paused {
                    let cmd = match self.rx.recv_timeout(Duration::from_millis(200)) {
                        Ok(c) => Some(c),
                        Err(RecvTimeoutError::Timeout) => None,
                        // Nobody can say continue any more: carry on.
                        Err(RecvTimeoutError::Disconnected) => {
                            self.alone = true;
                            Some(Control::Continue)
                        }
                    };
                    match cmd {
                        Some(Control::Continue) => {
                            origin += paused_at.elapsed();
                            self.set_paused(false, observer);
                        }
                        Some(Control::Step) => {
                            let now = Instant::now();
                            origin = now.checked_sub(self.scaled(logical)).unwrap_or(now);
                            paused_at = now;
                            break;
                        }
                        Some(c) => self.command(c, observer)?,
                        None => {}
                    }
                    if self.stop {
                        return Ok(());
                    }
                    continue;
                }
                let due = origin + self.scaled(logical);
                match wait_until(due, self.opts.spin, self.rx, self.alone) {
                    Woke::Due => {
                        let late = Instant::now().saturating_duration_since(due);
                        if matches!(step.action, Action::Key { .. } | Action::Pointer { .. }) {
                            self.report.lateness_ns.push(late.as_nanos() as u64);
                        }
                        break;
                    }
                    Woke::Alone => self.alone = true,
                    Woke::Command(Control::Pause) => {
                        paused_at = Instant::now();
                        self.set_paused(true, observer);
                    }
                    Woke::Command(Control::Step) => {
                        let now = Instant::now();
                        origin = now.checked_sub(self.scaled(logical)).unwrap_or(now);
                        break;
                    }
                    Woke::Command(c) => {
                        let t = Instant::now();
                        self.command(c, observer)?;
                        // An injection took the time it took; keep the
                        // rest of the file's spacing.
                        origin += t.elapsed();
                    }
                }
                if self.stop {
                    return Ok(());
                }
            }
            if self.exec(program, step, observer)? {
                // A wait ends when it ends; what follows keeps its spacing.
                let now = Instant::now();
                origin = now.checked_sub(self.scaled(logical)).unwrap_or(now);
                if self.paused {
                    paused_at = now;
                }
            }
        }
        Ok(())
    }

    fn set_paused(&mut self, paused: bool, observer: &mut dyn Observer) {
        self.paused = paused;
        observer.paused(paused);
    }

    /// Handles a command other than the timing ones.
    fn command(&mut self, c: Control, observer: &mut dyn Observer) -> Result<(), PlayError> {
        match c {
            Control::Stop => {
                self.stop = true;
                self.report.stopped = true;
            }
            Control::Pause => self.set_paused(true, observer),
            Control::Continue | Control::Step => {}
            Control::GetStep(reply) => {
                let _ = reply.send(self.current.clone());
            }
            Control::Inject(program, reply) => {
                let saved = std::mem::take(&mut self.current);
                let result = self.run(&program, &mut Quiet, false);
                self.current = saved;
                let _ = reply.send(match &result {
                    Ok(()) => "ok".into(),
                    Err(e) => format!("error: {}", chain(e)),
                });
                // A failed injection is the injector's problem, not the
                // playback's.
            }
        }
        Ok(())
    }

    /// Sends one step; true when it was a wait (the clock moves on).
    fn exec(
        &mut self,
        program: &Program,
        step: &Step,
        observer: &mut dyn Observer,
    ) -> Result<bool, PlayError> {
        let send_err = |source| PlayError::Send {
            location: program.location(step),
            source,
        };
        match &step.action {
            Action::Key { down, keysym } => {
                self.session.key(*down, keysym.0).map_err(send_err)?;
                self.report.events_sent += 1;
                if self.opts.log_sent {
                    let event = super::Event::Key {
                        down: *down,
                        keysym: *keysym,
                    };
                    self.report.sent.push((Instant::now(), event));
                }
            }
            Action::Pointer { mask, x, y } => {
                self.session.pointer(*mask, *x, *y).map_err(send_err)?;
                self.report.events_sent += 1;
                if self.opts.log_sent {
                    let event = super::Event::Pointer {
                        mask: *mask,
                        x: *x,
                        y: *y,
                    };
                    self.report.sent.push((Instant::now(), event));
                }
            }
            Action::Comment(text) => observer.comment(text),
            Action::Enter { .. } => {}
            Action::Wait {
                click,
                timeout_ns,
                template,
            } => {
                let timeout = Duration::from_nanos(*timeout_ns);
                let (rx, current) = (self.rx, &self.current);
                let (alone, paused) = (&mut self.alone, &mut self.paused);
                let mut poll = || poll_while_waiting(rx, alone, paused, current);
                let found =
                    self.session
                        .wait_for(template, timeout, self.opts.tolerance, &mut poll);
                let m = match found {
                    Ok(m) => m,
                    Err(WaitError::Stopped) => {
                        self.stop = true;
                        self.report.stopped = true;
                        return Ok(true);
                    }
                    Err(source) => {
                        return Err(PlayError::Wait {
                            location: program.location(step),
                            what: if *click { "ClickItEvent" } else { "WaitForIt" },
                            template: template.source.clone(),
                            source: Box::new(source),
                        })
                    }
                };
                observer.found(program, step, &m);
                if *click {
                    let cx = (m.x + template.width / 2).min(65535) as u16;
                    let cy = (m.y + template.height / 2).min(65535) as u16;
                    // Move, press and release the left button (bit 0).
                    for mask in [0, 1, 0] {
                        self.session.pointer(mask, cx, cy).map_err(send_err)?;
                        self.report.events_sent += 1;
                    }
                }
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Commands during a wait: stop and get step act now; pause and continue
/// take effect after it; injections are refused.
fn poll_while_waiting(
    rx: &Receiver<Control>,
    alone: &mut bool,
    paused: &mut bool,
    current: &str,
) -> bool {
    if *alone {
        return false;
    }
    loop {
        match rx.try_recv() {
            Ok(Control::Stop) => return true,
            Ok(Control::GetStep(r)) => {
                let _ = r.send(format!("{current} (waiting for the image)"));
            }
            Ok(Control::Pause) => *paused = true,
            Ok(Control::Continue) => *paused = false,
            Ok(Control::Step) => {}
            Ok(Control::Inject(_, r)) => {
                let _ = r.send("error: busy waiting for an image; inject after it".into());
            }
            Err(TryRecvError::Empty) => return false,
            Err(TryRecvError::Disconnected) => {
                *alone = true;
                return false;
            }
        }
    }
}

/// An error and its causes, as the CLI prints them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text += &format!(": {c}");
        cause = c.source();
    }
    text
}

/// A step as a .kb line would say it, for status lines and `getstep`.
pub fn describe(program: &Program, step: &Step) -> String {
    match &step.action {
        Action::Key { down, keysym } => format!("KeyEvent,{down},{keysym}"),
        Action::Pointer { mask, x, y } => format!("PointerEvent,{mask},{x},{y}"),
        Action::Wait {
            click, template, ..
        } => format!(
            "{},{}",
            if *click { "ClickItEvent" } else { "WaitForIt" },
            template.source
        ),
        Action::Enter { file } => match program.files.get(*file) {
            Some(p) => format!("LoadFile,{}", p.display()),
            None => "LoadFile".into(),
        },
        Action::Comment(text) => text.clone(),
    }
}
