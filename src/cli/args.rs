//! Argument checks and options shared by several commands, so each limit is
//! checked once, while clap parses, with the library's own numbers, and
//! `--help` and the error say the same thing.

use rfbplay::export::video::{within, MAX_FPS, MAX_SCALE, MAX_SPEED};

fn number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("{s:?} is not a number"))
}

/// `--fps`, of `frames` and `export`: above 0 and at most 240.
pub fn fps(s: &str) -> Result<f64, String> {
    within(number(s)?, MAX_FPS)
}

/// `--speed`: above 0 and at most 10000.
pub fn speed(s: &str) -> Result<f64, String> {
    within(number(s)?, MAX_SPEED)
}

/// `--scale`: above 0 and at most 4.
pub fn scale(s: &str) -> Result<f64, String> {
    within(number(s)?, MAX_SCALE)
}

/// What a command prints besides its results and errors.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Verbosity {
    /// Print only errors: no progress bar, no warnings (such as the one
    /// every minimega recording gets for its cut end), no summary line.
    #[arg(short, long)]
    pub quiet: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_has_one_message() {
        assert_eq!(fps("10"), Ok(10.0));
        assert_eq!(fps("240"), Ok(240.0));
        for bad in ["0", "-1", "240.5", "1000", "1001", "NaN", "inf"] {
            assert_eq!(
                fps(bad),
                Err("must be above 0 and at most 240".to_string()),
                "{bad}"
            );
        }
        assert!(fps("ten").unwrap_err().contains("not a number"));
        assert!(speed("10001").is_err() && speed("2").is_ok());
        assert!(scale("4.5").is_err() && scale("0.5").is_ok());
    }
}
