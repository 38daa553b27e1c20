//! The screen at a time has one author: `frame --at t` (the sampler's one
//! instant) must equal frame k of `frames` (the sampler at a rate) for
//! t = k/10, at times between updates, before the first update and at the
//! end, on every recording in testdata/ and in the corpus.

mod common;

use rfbplay::export::{ExportError, Exporter};
use rfbplay::framebuffer::Framebuffer;
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use rfbplay::sampler::{sample, Moment, Shot};
use rfbplay::timeline::{Frame, Sampling};
use rfbplay::Time;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Keeps the frames whose index is wanted.
struct Keep {
    wanted: Vec<u64>,
    got: BTreeMap<u64, Framebuffer>,
    seen: u64,
}

impl Exporter for Keep {
    fn frame(&mut self, f: &Frame<'_>) -> Result<(), ExportError> {
        self.seen += 1;
        if self.wanted.contains(&f.index) {
            self.got.insert(f.index, f.screen.clone());
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), ExportError> {
        Ok(())
    }
    fn frames_written(&self) -> u64 {
        self.seen
    }
}

fn open(path: &Path) -> Player {
    Player::open(path, PlayOptions::default()).unwrap()
}

/// Update times and the duration, from one plain pass.
fn update_times(path: &Path) -> (Vec<Time>, Time) {
    struct Times(Vec<Time>);
    impl rfbplay::player::Watcher for Times {
        fn event(
            &mut self,
            e: &rfbplay::rfb::Event,
            _: &rfbplay::framebuffer::Screen,
        ) -> std::ops::ControlFlow<()> {
            if let rfbplay::rfb::Event::Update { time, .. } = e {
                self.0.push(*time);
            }
            std::ops::ControlFlow::Continue(())
        }
    }
    let mut t = Times(vec![]);
    let s = open(path).run(&mut t, &NoProgress);
    assert!(s.error.is_none(), "{}: {:?}", path.display(), s.error);
    (t.0, s.last_update.expect("an update"))
}

/// Frame indices at 10 fps to check: before the first update, between
/// updates spread over the recording, and the last frame.
fn chosen(updates: &[Time], end: Time, most: usize) -> Vec<u64> {
    let last = end.0 / 100_000_000;
    let mut ks: Vec<u64> = (0..=last).collect();
    // Frames strictly between two updates (not at one).
    ks.retain(|k| !updates.contains(&Time(k * 100_000_000)));
    if ks.len() > most {
        let step = ks.len() as f64 / most as f64;
        let mut pick: Vec<u64> = (0..most).map(|i| ks[(i as f64 * step) as usize]).collect();
        pick.push(*ks.last().unwrap());
        pick.dedup();
        ks = pick;
    }
    ks
}

fn check(path: &Path, most: usize) {
    let (updates, end) = update_times(path);
    let ks = chosen(&updates, end, most);
    let mut keep = Keep {
        wanted: ks.clone(),
        got: BTreeMap::new(),
        seen: 0,
    };
    let report = rfbplay::export::run(&mut open(path), Sampling::default(), &mut keep, &NoProgress);
    assert!(report.output_error.is_none());
    for k in ks {
        let t = Time(k * 100_000_000);
        let (shot, _) = sample(&mut open(path), Moment::At(t), &NoProgress);
        let Shot::Screen(fb) = shot else {
            panic!("{}: no screen at {t}: {shot:?}", path.display());
        };
        let want = keep
            .got
            .get(&k)
            .unwrap_or_else(|| panic!("{}: frames has no frame {k} (end {end})", path.display()));
        assert!(
            fb == *want,
            "{}: frame --at {t} differs from frame {k} of frames",
            path.display()
        );
    }
    // The end: the screen after the last update, also at the time shown as
    // the duration (rounded down to the millisecond).
    let (at_end, _) = sample(&mut open(path), Moment::End, &NoProgress);
    let (at_shown, _) = sample(
        &mut open(path),
        Moment::At(Time(end.0 / 1_000_000 * 1_000_000).max(Time(end.0))),
        &NoProgress,
    );
    match (at_end, at_shown) {
        (Shot::Screen(a), Shot::Screen(b)) => assert!(a == b, "{}", path.display()),
        other => panic!("{}: {other:?}", path.display()),
    }
    let (past, _) = sample(
        &mut open(path),
        Moment::At(Time(end.0 + 2_000_000)),
        &NoProgress,
    );
    assert!(
        matches!(past, Shot::PastEnd { duration } if duration == end),
        "{}",
        path.display()
    );
}

fn recordings(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("fb" | "rbs")))
        .collect();
    v.sort();
    v
}

#[test]
fn frame_at_equals_frames_on_testdata() {
    for path in recordings(&common::testdata()) {
        check(&path, 40);
    }
}

#[test]
fn frame_at_equals_frames_on_the_corpus() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    for path in recordings(&corpus) {
        check(&path, 6);
    }
}

#[test]
fn before_the_first_update_the_screen_is_black_at_its_size() {
    let path = common::testdata().join("minimega_qemu_ipxe.fb");
    let (updates, _) = update_times(&path);
    let first = updates[0];
    assert!(first > Time(10_000_000), "first update at {first}");
    let (shot, _) = sample(&mut open(&path), Moment::At(Time(first.0 - 1)), &NoProgress);
    let Shot::Screen(fb) = shot else {
        panic!("{shot:?}")
    };
    assert!(fb.width() > 0 && fb.to_rgb().iter().all(|&b| b == 0));
    let (shot, _) = sample(&mut open(&path), Moment::At(first), &NoProgress);
    let Shot::Screen(at) = shot else {
        panic!("{shot:?}")
    };
    assert!(
        at.to_rgb().iter().any(|&b| b != 0),
        "at the update it shows"
    );
}
