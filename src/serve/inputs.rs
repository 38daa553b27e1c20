//! The keyboard and mouse events of a recording, as markers on the web
//! player's seek bar: a `.kb` file beside the recording with the same stem
//! (`lin1.kb` for `lin1.fb`, or `lin1.sent.kb`, which `play --record`
//! writes) is read with [`crate::kb::load`], confined to the served folder,
//! and each key press and each pointer button press becomes a marker.
//!
//! Alignment: time t in the .kb (the sum of the delays before an event,
//! `LoadFile` followed) is time t in the recording. That is exact for
//! `run.sent.kb` (its first delay counts from the recording's time 0) and
//! for minimega, which starts a .kb and an .fb of one viewer together; a
//! `WaitForIt` takes no time here, since the file does not say how long it
//! waited. Key releases and pointer motion are not marked (motion alone
//! would bury the bar), but counted.

use crate::kb::{self, Action, LoadOptions};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// At most this many markers are sent; the rest are counted.
const MAX_MARKERS: usize = 20_000;

/// One marked event.
#[derive(Clone, Debug, Serialize)]
pub struct Marker {
    pub time_s: f64,
    /// `key` or `pointer`.
    pub kind: &'static str,
    /// The key's name, or the buttons pressed and where.
    pub text: String,
}

/// What the seek bar shows of a recording's .kb file.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Inputs {
    /// The .kb file, relative to the served folder; None when there is none.
    pub kb: Option<String>,
    pub markers: Vec<Marker>,
    /// Key and pointer events in the file, marked or not.
    pub events: usize,
    /// Marked events left out beyond the limit.
    pub left_out: usize,
    /// Why the .kb file could not be read (it names the file and line).
    pub error: Option<String>,
}

/// The .kb file beside `recording`: same folder, same stem, `.kb` first,
/// then `.sent.kb`.
pub fn companion(recording: &Path) -> Option<PathBuf> {
    let stem = recording.file_stem()?.to_str()?;
    let dir = recording.parent()?;
    [format!("{stem}.kb"), format!("{stem}.sent.kb")]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// The markers of `recording` (canonical, under the canonical `root`).
/// Blocking: reads the .kb file and what it includes.
pub fn read(root: &Path, recording: &Path) -> Inputs {
    let Some(path) = companion(recording) else {
        return Inputs::default();
    };
    let name = path
        .strip_prefix(root)
        .unwrap_or(&path)
        .to_string_lossy()
        .into_owned();
    let options = LoadOptions {
        within: Some(root.to_path_buf()),
        ..LoadOptions::default()
    };
    let program = match kb::load(&path, &options) {
        Ok(p) => p,
        Err(e) => {
            // Paths in the message are shown relative to the folder.
            let message = e.to_string().replace(&format!("{}/", root.display()), "");
            return Inputs {
                kb: Some(name),
                error: Some(message),
                ..Inputs::default()
            };
        }
    };
    let mut out = Inputs {
        kb: Some(name),
        ..Inputs::default()
    };
    let mut t: u64 = 0;
    let mut mask = 0u8;
    for step in &program.steps {
        t = t.saturating_add(step.delay_ns);
        let marker = match &step.action {
            Action::Key { down, keysym } => {
                out.events += 1;
                down.then(|| {
                    let name = keysym
                        .name()
                        .map_or_else(|| format!("U+{:04X}", keysym.0), str::to_string);
                    ("key", name)
                })
            }
            Action::Pointer { mask: m, x, y } => {
                out.events += 1;
                let pressed = *m & !mask;
                mask = *m;
                (pressed != 0).then(|| ("pointer", format!("{} at {x},{y}", buttons(pressed))))
            }
            Action::Wait {
                click: true,
                template,
                ..
            } => {
                out.events += 1;
                let name = Path::new(&template.source)
                    .file_name()
                    .map_or(template.source.clone(), |n| n.to_string_lossy().into());
                Some(("pointer", format!("click on {name} (ClickItEvent)")))
            }
            _ => None,
        };
        if let Some((kind, text)) = marker {
            if out.markers.len() < MAX_MARKERS {
                out.markers.push(Marker {
                    time_s: t as f64 / 1e9,
                    kind,
                    text,
                });
            } else {
                out.left_out += 1;
            }
        }
    }
    out
}

/// The buttons of an RFB pointer mask (RFC 6143 section 7.5.5), by name.
fn buttons(mask: u8) -> String {
    const NAMES: [&str; 8] = [
        "left",
        "middle",
        "right",
        "wheel up",
        "wheel down",
        "button 6",
        "button 7",
        "button 8",
    ];
    NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_are_named() {
        assert_eq!(buttons(1), "left");
        assert_eq!(buttons(5), "left+right");
        assert_eq!(buttons(16), "wheel down");
    }
}
