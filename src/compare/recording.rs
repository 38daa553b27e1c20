//! Comparing recordings, not only screenshots. Two runs of one GUI test
//! never have the same timing, so a recording is judged by its *stable*
//! screens: the screens that stayed unchanged for at least a settle time
//! (the final screen always counts). [`stable_screens`] plays a recording
//! and keeps them, in order; [`align`] lines two such sequences up the way
//! `diff` lines up text (a longest common subsequence, two screens being
//! "equal" when [`super::compare`] finds them the same), so a screen that
//! came later, or a transient one that showed only in one run, does not
//! make every later screen differ. [`Side::parse`] reads the command-line
//! form `FILE@12.5`, `FILE@end`, `FILE@update:42`.

use super::{compare, CompareError, Comparison, ImageView, Options, Tolerance};
use crate::framebuffer::{Framebuffer, Screen};
use crate::player::{PlayError, PlayOptions, Player, Summary, Watcher};
use crate::progress::Progress;
use crate::rfb::Event;
use crate::sampler::{self, Moment, Shot};
use crate::time::{parse_duration, Time};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Which screen of a recording a command-line side names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// The screen at this time (the sampler's rule).
    At(Time),
    /// The screen after the last complete update.
    End,
    /// The screen right after update N (numbered from 1).
    Update(u64),
}

impl std::str::FromStr for Pick {
    type Err = String;
    fn from_str(s: &str) -> Result<Pick, String> {
        if s.eq_ignore_ascii_case("end") {
            return Ok(Pick::End);
        }
        if let Some(n) = s.strip_prefix("update:") {
            return match n.parse::<u64>() {
                Ok(n) if n >= 1 => Ok(Pick::Update(n)),
                _ => Err(format!("'{n}' is not an update number (1 or more)")),
            };
        }
        parse_duration(s).map(Pick::At)
    }
}

/// One side of `rfbplay compare`: a file, and for a recording maybe a moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Side {
    pub path: PathBuf,
    pub pick: Option<Pick>,
}

impl Side {
    /// `FILE` or `FILE@MOMENT`. A file name may itself contain '@': an
    /// argument naming an existing file is that file; otherwise it is split
    /// at the last '@', and only when the part before names an existing file
    /// and the part after is a moment. Anything else is taken as a path
    /// (which then fails as a missing file).
    pub fn parse(arg: &str) -> Side {
        let whole = || Side {
            path: PathBuf::from(arg),
            pick: None,
        };
        if Path::new(arg).is_file() {
            return whole();
        }
        match arg.rsplit_once('@') {
            Some((file, moment)) if Path::new(file).is_file() => match moment.parse() {
                Ok(pick) => Side {
                    path: PathBuf::from(file),
                    pick: Some(pick),
                },
                Err(_) => whole(),
            },
            _ => whole(),
        }
    }
}

/// Whether a file is meant as a PNG: its name ends in .png or it starts
/// with the PNG signature (anything else is taken for a recording, so a
/// damaged PNG is reported as a damaged image).
pub fn is_png(path: &Path) -> bool {
    use std::io::Read;
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        return true;
    }
    let mut magic = [0u8; 8];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == *b"\x89PNG\r\n\x1a\n")
}

/// Why a recording has no screen at the moment asked for.
#[derive(Debug, thiserror::Error)]
pub enum ScreenError {
    /// The recording could not be opened, or damage stopped decoding first.
    #[error(transparent)]
    Unreadable(#[from] PlayError),
    #[error("{} has fewer than {n} updates", .file.display())]
    FewerUpdates { file: PathBuf, n: u64 },
    #[error("{}: {at} is after the recording's end at {duration}", .file.display())]
    PastEnd {
        file: PathBuf,
        at: Time,
        duration: Time,
    },
    #[error("{}: no update completed, so there is no screen", .file.display())]
    NoScreen { file: PathBuf },
    #[error("{} is damaged", .file.display())]
    Damaged { file: PathBuf },
}

impl ScreenError {
    /// The stable code `compare --json` and the folder report give it.
    pub fn code(&self) -> &'static str {
        match self {
            ScreenError::Unreadable(_) | ScreenError::Damaged { .. } => "unreadable_recording",
            ScreenError::FewerUpdates { .. } | ScreenError::PastEnd { .. } => "past_end",
            ScreenError::NoScreen { .. } => "no_screen",
        }
    }
}

/// The screen of a recording at `pick`, and the time it stands for (the
/// time asked for, the last update's time for the end, the update's own
/// time for `update:N`). Every `compare` form takes its screens here.
pub fn screen_at(
    path: &Path,
    pick: Pick,
    progress: &dyn Progress,
) -> Result<(Framebuffer, Time), ScreenError> {
    screen_at_with(path, pick, PlayOptions::default(), progress).map(|(fb, t, _)| (fb, t))
}

/// [`screen_at`] played with `options` (`salvage` reads on past damage),
/// with the playback's summary, whose warnings the caller shows.
pub fn screen_at_with(
    path: &Path,
    pick: Pick,
    options: PlayOptions,
    progress: &dyn Progress,
) -> Result<(Framebuffer, Time, Summary), ScreenError> {
    let mut player = Player::open(path, options)?;
    let file = path.to_path_buf();
    if let Pick::Update(n) = pick {
        let (shot, mut summary) = crate::inspect::screen_after_update(&mut player, n, progress);
        return match (shot, summary.error.take()) {
            (Some((fb, t)), error) => {
                summary.error = error;
                Ok((fb, t, summary))
            }
            (None, Some(e)) => Err(e.into()),
            (None, None) => Err(ScreenError::FewerUpdates { file, n }),
        };
    }
    let moment = match pick {
        Pick::At(t) => Moment::At(t),
        _ => Moment::End,
    };
    let (shot, summary) = sampler::sample(&mut player, moment, progress);
    match shot {
        Shot::Screen(fb) => {
            let t = match pick {
                Pick::At(t) => t,
                _ => summary.last_update.unwrap_or(Time::ZERO),
            };
            Ok((fb, t, summary))
        }
        Shot::PastEnd { duration } => Err(ScreenError::PastEnd {
            file,
            at: match pick {
                Pick::At(t) => t,
                _ => duration,
            },
            duration,
        }),
        Shot::NoUpdate => Err(ScreenError::NoScreen { file }),
        Shot::Damaged => Err(match summary.error {
            Some(e) => e.into(),
            None => ScreenError::Damaged { file },
        }),
    }
}

/// A screen that stayed unchanged from `start` to `end`.
#[derive(Clone, Debug)]
pub struct Stable {
    /// The time of the update that drew it.
    pub start: Time,
    /// The time of the next update that changed a pixel, or the
    /// recording's end for the final screen.
    pub end: Time,
    pub screen: Framebuffer,
}

/// Plays `player` and returns its stable screens in order: every screen
/// that stayed unchanged for at least `settle`, and the final screen.
/// Updates that change no pixel (minimega repaints the whole screen every
/// 100 ms) do not end a screen. A screen is copied only once it has proved
/// stable, so a recording of many short-lived screens costs no copies.
pub fn stable_screens(
    player: &mut Player,
    settle: Time,
    progress: &dyn Progress,
) -> (Vec<Stable>, Summary) {
    struct Keep {
        settle: Time,
        /// When the current screen appeared, and its generation.
        current: Option<(Time, u64)>,
        /// The current screen was copied into `out` (its end still open).
        kept: bool,
        out: Vec<Stable>,
    }
    impl Keep {
        fn close(&mut self, now: Time) {
            if self.kept {
                if let Some(last) = self.out.last_mut() {
                    last.end = now;
                }
            }
        }
    }
    impl Watcher for Keep {
        fn before_piece(&mut self, time: Time, screen: &Screen) -> ControlFlow<()> {
            if let Some((start, _)) = self.current {
                if !self.kept && time.0.saturating_sub(start.0) >= self.settle.0 {
                    self.out.push(Stable {
                        start,
                        end: time,
                        screen: screen.shown().clone(),
                    });
                    self.kept = true;
                }
            }
            ControlFlow::Continue(())
        }
        fn event(&mut self, event: &Event, screen: &Screen) -> ControlFlow<()> {
            if let Event::Update { time, .. } = *event {
                let generation = screen.generation();
                if self.current.is_none_or(|(_, g)| g != generation) {
                    self.close(time);
                    self.current = Some((time, generation));
                    self.kept = false;
                }
            }
            ControlFlow::Continue(())
        }
    }
    let mut keep = Keep {
        settle,
        current: None,
        kept: false,
        out: Vec::new(),
    };
    let summary = player.run(&mut keep, progress);
    if let (Some(last), Some((start, _))) = (summary.last_update, keep.current) {
        if keep.kept {
            keep.close(last);
        } else {
            keep.out.push(Stable {
                start,
                end: last,
                screen: player.parser().screen().shown().clone(),
            });
        }
    }
    (keep.out, summary)
}

/// One step of an alignment, with indices into the two sequences.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Both recordings show this screen (within tolerance).
    Matched {
        expected: usize,
        actual: usize,
        comparison: Comparison,
    },
    /// A screen of the expected recording took the place of one of the
    /// actual recording, and they differ.
    Changed {
        expected: usize,
        actual: usize,
        comparison: Comparison,
    },
    /// Only the expected recording shows this screen.
    Missing { expected: usize },
    /// Only the actual recording shows this screen.
    Extra { actual: usize },
}

impl Step {
    pub fn is_matched(&self) -> bool {
        matches!(self, Step::Matched { .. })
    }
}

/// Lines up two sequences of screens as `diff` lines up text: the longest
/// common subsequence of screens that compare the same, then, between two
/// matches, the left-over screens of both sides paired in order as
/// changed, and the rest missing or extra. Common beginnings and ends are
/// matched one to one first, so two runs that agree cost one comparison
/// per screen.
pub fn align(
    expected: &[&Framebuffer],
    actual: &[&Framebuffer],
    options: &Options,
    tolerance: &Tolerance,
) -> Result<Vec<Step>, CompareError> {
    let cmp = |i: usize, j: usize| {
        compare(
            &ImageView::from(expected[i]),
            &ImageView::from(actual[j]),
            options,
        )
    };
    let (n, m) = (expected.len(), actual.len());
    let mut head = Vec::new();
    let mut lo = 0;
    while lo < n.min(m) {
        let c = cmp(lo, lo)?;
        if !c.is_same(tolerance) {
            break;
        }
        head.push(Step::Matched {
            expected: lo,
            actual: lo,
            comparison: c,
        });
        lo += 1;
    }
    let mut tail = Vec::new();
    let (mut hi_e, mut hi_a) = (n, m);
    while hi_e > lo && hi_a > lo {
        let c = cmp(hi_e - 1, hi_a - 1)?;
        if !c.is_same(tolerance) {
            break;
        }
        hi_e -= 1;
        hi_a -= 1;
        tail.push(Step::Matched {
            expected: hi_e,
            actual: hi_a,
            comparison: c,
        });
    }
    tail.reverse();
    // The middle: a plain LCS table over the remaining screens, each pair
    // compared once.
    let (rows, cols) = (hi_e - lo, hi_a - lo);
    let mut same: Vec<Option<Comparison>> = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        for j in 0..cols {
            let c = cmp(lo + i, lo + j)?;
            same.push(c.is_same(tolerance).then_some(c));
        }
    }
    let mut len = vec![0u32; (rows + 1) * (cols + 1)];
    let at = |i: usize, j: usize| i * (cols + 1) + j;
    for i in (0..rows).rev() {
        for j in (0..cols).rev() {
            len[at(i, j)] = if same[i * cols + j].is_some() {
                len[at(i + 1, j + 1)] + 1
            } else {
                len[at(i + 1, j)].max(len[at(i, j + 1)])
            };
        }
    }
    let mut middle = Vec::new();
    let (mut gap_e, mut gap_a) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < rows || j < cols {
        if i < rows && j < cols && same[i * cols + j].is_some() {
            flush_gap(&mut middle, &mut gap_e, &mut gap_a, &cmp)?;
            middle.push(Step::Matched {
                expected: lo + i,
                actual: lo + j,
                comparison: same[i * cols + j].take().expect("checked"),
            });
            i += 1;
            j += 1;
        } else if j == cols || (i < rows && len[at(i + 1, j)] >= len[at(i, j + 1)]) {
            gap_e.push(lo + i);
            i += 1;
        } else {
            gap_a.push(lo + j);
            j += 1;
        }
    }
    flush_gap(&mut middle, &mut gap_e, &mut gap_a, &cmp)?;
    head.extend(middle);
    head.extend(tail);
    Ok(head)
}

/// Turns the screens between two matches into steps: pairs in order are
/// changed, the rest of the longer side missing or extra.
fn flush_gap(
    out: &mut Vec<Step>,
    gap_e: &mut Vec<usize>,
    gap_a: &mut Vec<usize>,
    cmp: &dyn Fn(usize, usize) -> Result<Comparison, CompareError>,
) -> Result<(), CompareError> {
    let pairs = gap_e.len().min(gap_a.len());
    for k in 0..pairs {
        out.push(Step::Changed {
            expected: gap_e[k],
            actual: gap_a[k],
            comparison: cmp(gap_e[k], gap_a[k])?,
        });
    }
    out.extend(
        gap_e[pairs..]
            .iter()
            .map(|&e| Step::Missing { expected: e }),
    );
    out.extend(gap_a[pairs..].iter().map(|&a| Step::Extra { actual: a }));
    gap_e.clear();
    gap_a.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(v: u8) -> Framebuffer {
        let mut fb = Framebuffer::new(8, 4);
        fb.fill(crate::rfb::Rect::new(0, 0, 8, 4), [v, v, v, 0]);
        fb
    }

    fn kinds(steps: &[Step]) -> String {
        steps
            .iter()
            .map(|s| match s {
                Step::Matched { .. } => 'm',
                Step::Changed { .. } => 'c',
                Step::Missing { .. } => '-',
                Step::Extra { .. } => '+',
            })
            .collect()
    }

    fn run(e: &[u8], a: &[u8]) -> String {
        let e: Vec<_> = e.iter().map(|&v| solid(v)).collect();
        let a: Vec<_> = a.iter().map(|&v| solid(v)).collect();
        let (e, a): (Vec<_>, Vec<_>) = (e.iter().collect(), a.iter().collect());
        kinds(&align(&e, &a, &Options::default(), &Tolerance::default()).unwrap())
    }

    #[test]
    fn alignment_is_diffs() {
        assert_eq!(run(&[0, 100, 200], &[0, 100, 200]), "mmm");
        assert_eq!(run(&[0, 100, 200], &[0, 150, 200]), "mcm");
        assert_eq!(run(&[0, 100, 200], &[0, 200]), "m-m");
        assert_eq!(run(&[0, 200], &[0, 50, 200]), "m+m");
        assert_eq!(run(&[0, 100, 200], &[100, 200, 250]), "-mm+");
        assert_eq!(run(&[], &[0]), "+");
    }

    #[test]
    fn sides_split_at_the_last_at_sign_of_an_existing_file() {
        assert_eq!("12.5".parse(), Ok(Pick::At(Time::from_secs_f64(12.5))));
        assert_eq!("1m3s".parse(), Ok(Pick::At(Time(63_000_000_000))));
        assert_eq!("END".parse(), Ok(Pick::End));
        assert_eq!("update:42".parse(), Ok(Pick::Update(42)));
        assert!("update:0".parse::<Pick>().is_err());
        let dir = std::env::temp_dir().join(format!("rfbplay-side-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a@b.fb");
        std::fs::write(&f, b"x").unwrap();
        let s = f.to_str().unwrap();
        assert_eq!(Side::parse(s).pick, None);
        let side = Side::parse(&format!("{s}@end"));
        assert_eq!((side.path, side.pick), (f.clone(), Some(Pick::End)));
        // Not a moment: the whole argument is the (missing) path.
        assert_eq!(Side::parse(&format!("{s}@soon")).pick, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
