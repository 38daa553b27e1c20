//! An indicatif bar for the library's progress trait, drawn only when
//! stderr is a terminal, and not with `--quiet`.
//!
//! The bar stays hidden until the work starts and tells its size, so it
//! never shows 100% of nothing first, and its line is at most
//! [`MAX_COLUMNS`] wide whatever the terminal's width.

use super::args::Verbosity;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rfbplay::progress::Progress;
use rfbplay::Time;
use std::io::IsTerminal;
use std::time::Duration;

/// The widest line the bar draws.
pub const MAX_COLUMNS: usize = 80;

/// Columns of the bar itself, between its brackets.
const BAR_COLUMNS: usize = 16;

pub struct Bar {
    bar: Option<ProgressBar>,
    /// Columns left for the message after the prefix, bar and percentage.
    message_columns: usize,
}

impl Bar {
    /// A bar on stderr when it is a terminal.
    pub fn new(what: &str) -> Bar {
        Bar::with_verbosity(
            what,
            Verbosity {
                quiet: super::is_quiet(),
            },
        )
    }

    /// A bar on stderr when it is a terminal and `--quiet` is not given.
    pub fn with_verbosity(what: &str, verbosity: Verbosity) -> Bar {
        let shown = !verbosity.quiet && std::io::stderr().is_terminal();
        Bar::to(what, shown)
    }

    fn to(what: &str, shown: bool) -> Bar {
        let prefix: String = what.chars().take(20).collect();
        // "PREFIX [BAR] 100% MESSAGE"
        let fixed = prefix.chars().count() + BAR_COLUMNS + 9;
        let message_columns = MAX_COLUMNS.saturating_sub(fixed);
        if !shown {
            return Bar {
                bar: None,
                message_columns,
            };
        }
        // Hidden and of unknown length until `start`.
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        let template = format!("{{prefix}} [{{bar:{BAR_COLUMNS}}}] {{percent:>3}}% {{msg}}");
        bar.set_style(
            ProgressStyle::with_template(&template)
                .expect("template is valid")
                .progress_chars("=> "),
        );
        bar.set_prefix(prefix);
        Bar {
            bar: Some(bar),
            message_columns,
        }
    }
}

/// `1:02:03`, `2:03` or `3s`: short, as a bar line needs.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}:{s:02}"),
        (h, m, s) => format!("{h}:{m:02}:{s:02}"),
    }
}

/// The bar's message: recording time done, the estimated total, speed as a
/// multiple of real time and time left, cut to `columns`.
fn message(time: Time, share_read: f64, speed: f64, left: Duration, columns: usize) -> String {
    let done = Duration::from_nanos(time.0);
    let mut text = short(done);
    if share_read > 0.0 {
        let total = done.as_secs_f64() / share_read.min(1.0);
        let total = Duration::try_from_secs_f64(total).unwrap_or(Duration::MAX);
        text += &format!(" of ~{}", short(total));
    }
    text += &format!(", {:.0}x, {} left", speed.min(99_999.0), short(left));
    text.chars().take(columns).collect()
}

impl Progress for Bar {
    fn start(&self, total_bytes: u64) {
        if let (Some(b), true) = (&self.bar, total_bytes > 0) {
            b.set_length(total_bytes);
            b.set_position(0);
            b.set_draw_target(ProgressDrawTarget::stderr());
            b.tick();
        }
    }

    fn update(&self, bytes: u64, time: Time) {
        let Some(b) = &self.bar else {
            return;
        };
        let Some(total) = b.length() else {
            return;
        };
        b.set_position(bytes.min(total));
        let elapsed = b.elapsed().as_secs_f64();
        let speed = if elapsed > 0.0 {
            time.as_secs_f64() / elapsed
        } else {
            0.0
        };
        // The recording's length is unknown until its end; estimate it
        // from the share of the file read.
        let share = bytes as f64 / total as f64;
        b.set_message(message(time, share, speed, b.eta(), self.message_columns));
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_fit_the_line() {
        let bar = Bar::to("writing PNGs", false);
        let long = Time(400 * 3600 * 1_000_000_000);
        let m = message(long, 0.001, 123_456.0, Duration::from_secs(99_999), 999);
        assert!(m.len() > bar.message_columns, "{m}");
        let m = message(long, 0.001, 123_456.0, Duration::MAX, bar.message_columns);
        // prefix, " [", bar, "] ", "100%", " ", message
        let line = 12 + 2 + BAR_COLUMNS + 2 + 4 + 1 + m.chars().count();
        assert!(line <= MAX_COLUMNS, "{line} columns: {m}");
        assert_eq!(
            message(Time(62_000_000_000), 0.5, 41.6, Duration::from_secs(3), 80),
            "1:02 of ~2:04, 42x, 3s left"
        );
    }

    #[test]
    fn nothing_is_drawn_before_the_work_starts() {
        let bar = Bar::to("encoding", true);
        let b = bar.bar.as_ref().expect("a bar");
        assert!(b.is_hidden());
        assert_eq!(b.length(), None);
        bar.start(0);
        assert!(b.is_hidden(), "an empty input shows no bar");
    }
}
