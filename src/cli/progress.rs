//! An indicatif bar for the library's progress trait, drawn only when
//! stderr is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rfbplay::progress::Progress;
use rfbplay::Time;
use std::io::IsTerminal;

pub struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    pub fn new(what: &str) -> Bar {
        if !std::io::stderr().is_terminal() {
            return Bar { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {percent:>3}% {msg} ETA {eta}")
                .expect("template is valid")
                .progress_chars("=> "),
        );
        bar.set_prefix(what.to_string());
        Bar { bar: Some(bar) }
    }
}

impl Progress for Bar {
    fn start(&self, total_bytes: u64) {
        if let Some(b) = &self.bar {
            b.set_length(total_bytes);
        }
    }

    fn update(&self, bytes: u64, time: Time) {
        if let Some(b) = &self.bar {
            b.set_position(bytes);
            let elapsed = b.elapsed().as_secs_f64();
            let speed = if elapsed > 0.0 {
                time.as_secs_f64() / elapsed
            } else {
                0.0
            };
            // The recording's length is unknown until its end; estimate it
            // from the share of the file read.
            let total = if bytes > 0 {
                let share = b.length().unwrap_or(0) as f64 / bytes as f64;
                format!(
                    " of ~{}",
                    Time::from_secs_f64(time.as_secs_f64() * share.max(1.0))
                )
            } else {
                String::new()
            };
            b.set_message(format!(
                "recording time {time}{total}, {speed:.0}x real time"
            ));
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
