//! The seek index never changes a frame: for every testdata and corpus
//! recording, the screen reached through an index built by `rfbplay index`
//! in another process and loaded back from disk equals the screen a
//! playback from the start gives, byte for byte, at many times (random
//! ones, exactly at updates, 1 ns before and after, before the first
//! update, past the end, and the end). A few of those go through `rfbplay
//! frame` in a new process. Abuse: stale, damaged, hostile and foreign
//! index files, and a read-only cache, all fall back to decoding from the
//! start and still give the right frame.

mod common;

use common::TempDir;
use rfbplay::framebuffer::Screen;
use rfbplay::index::Index;
use rfbplay::player::{PlayOptions, Player, Watcher};
use rfbplay::rfb::Event;
use rfbplay::sampler::{sample, Moment, Shot};
use rfbplay::timeline::{Frame, Timeline};
use rfbplay::{Framebuffer, Time};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rfbplay")
}

/// A playback from the start that answers many `--at` times at once: one
/// timeline per time, driven exactly as the sampler drives its one.
struct ManyAt {
    at: Vec<(Timeline, Option<Framebuffer>)>,
    updates: Vec<Time>,
}

impl ManyAt {
    fn emit(slot: &mut Option<Framebuffer>) -> impl FnMut(Frame<'_>) -> Result<(), ()> + '_ {
        move |f| {
            slot.get_or_insert_with(|| f.screen.clone());
            Ok(())
        }
    }
}

impl Watcher for ManyAt {
    fn before_piece(&mut self, time: Time, screen: &Screen) -> ControlFlow<()> {
        for (t, slot) in &mut self.at {
            if slot.is_none() {
                t.before_piece(time, screen.shown(), &mut Self::emit(slot))
                    .unwrap();
            }
        }
        ControlFlow::Continue(())
    }
    fn event(&mut self, event: &Event, screen: &Screen) -> ControlFlow<()> {
        match *event {
            Event::Completing { time, .. } => {
                for (t, slot) in &mut self.at {
                    if slot.is_none() {
                        t.completing(
                            time,
                            screen.shown(),
                            screen.drawn_ref(),
                            &mut Self::emit(slot),
                        )
                        .unwrap();
                    }
                }
            }
            Event::Update { time, .. } => self.updates.push(time),
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// What a playback from the start says the screen is at each of `times`:
/// the sampler's rule, including the end (None: past the end or no
/// screen).
fn from_start(file: &Path, times: &[Time]) -> (Vec<Option<Framebuffer>>, Option<Framebuffer>) {
    let mut player = Player::open(file, PlayOptions::default()).unwrap();
    let mut w = ManyAt {
        at: times.iter().map(|&t| (Timeline::at(t), None)).collect(),
        updates: vec![],
    };
    let summary = player.run(&mut w, &rfbplay::progress::NoProgress);
    let shown = player.parser().screen().shown().clone();
    let last = summary.last_update.filter(|_| summary.error.is_none());
    let out =
        w.at.into_iter()
            .zip(times)
            .map(|((mut t, mut slot), &at)| {
                if let (None, Some(last)) = (&slot, summary.last_update) {
                    if summary.error.is_none() {
                        t.finish(last, &shown, &mut ManyAt::emit(&mut slot))
                            .unwrap();
                        if slot.is_none() && at <= last.ceil_ms() {
                            slot = Some(shown.clone());
                        }
                    }
                }
                slot
            })
            .collect();
    (out, last.map(|_| shown))
}

fn update_times(file: &Path) -> Vec<Time> {
    let mut player = Player::open(
        file,
        PlayOptions {
            keep_shown: false,
            ..Default::default()
        },
    )
    .unwrap();
    let mut w = ManyAt {
        at: vec![],
        updates: vec![],
    };
    player.run(&mut w, &rfbplay::progress::NoProgress);
    w.updates
}

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 11
    }
}

fn times_for(updates: &[Time], random: usize, seed: u64) -> Vec<Time> {
    let mut times = vec![Time(0)];
    let mut rng = Lcg(seed);
    let end = updates.last().map_or(0, |t| t.0);
    if let Some(first) = updates.first() {
        times.push(Time(first.0.saturating_sub(1)));
    }
    let span = end + 2_000_000_000;
    for _ in 0..random {
        times.push(Time(rng.next() % span));
    }
    // Exactly at, 1 ns before and 1 ns after some updates.
    for _ in 0..random / 2 {
        if updates.is_empty() {
            break;
        }
        let u = updates[(rng.next() % updates.len() as u64) as usize].0;
        times.extend([Time(u), Time(u.saturating_sub(1)), Time(u + 1)]);
    }
    times.extend([Time(end), Time(end + 1_500_000), Time(end + 999_999)]);
    times
}

/// Runs `rfbplay` with the cache in `cache`.
fn run(cache: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(bin())
        .env("RFBPLAY_CACHE", cache)
        .args(args)
        .output()
        .unwrap()
}

fn build(cache: &Path, file: &Path, every: &str) -> PathBuf {
    let out = run(
        cache,
        &[
            "index".as_ref(),
            file.as_os_str(),
            "--every".as_ref(),
            every.as_ref(),
        ],
    );
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let files: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "idx"))
        .collect();
    assert_eq!(files.len(), 1, "one index file per recording");
    files[0].clone()
}

/// The frame `rfbplay frame --at` writes in a new process, as RGB; None
/// when it writes none.
fn cli_frame(cache: &Path, file: &Path, at: Option<Time>, extra: &[&str]) -> Option<Vec<u8>> {
    let out_png = cache.join("out.png");
    let _ = std::fs::remove_file(&out_png);
    let at = at.map_or("end".to_string(), |t| format!("{}ns", t.0));
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "frame".as_ref(),
        file.as_os_str(),
        out_png.as_os_str(),
        "--at".as_ref(),
        at.as_ref(),
    ];
    args.extend(extra.iter().map(|s| std::ffi::OsStr::new(*s)));
    let out = run(cache, &args);
    if !out_png.exists() {
        return None;
    }
    let _ = out;
    Some(common::read_rgb(&out_png).2)
}

fn check(file: &Path, random: usize, every: &str) {
    let cache = TempDir::new("index");
    let idx = build(cache.path(), file, every);
    let index = Index::load_file(file, idx.clone()).unwrap();
    assert!(
        !index.is_empty(),
        "{}: no checkpoint was taken",
        file.display()
    );
    let updates = update_times(file);
    let times = times_for(&updates, random, updates.len() as u64 ^ 0x5eed);
    let (want, end) = from_start(file, &times);
    let options = PlayOptions::default();
    let mut notes = vec![];
    // The oracle is the sampler itself, at a few times.
    for (t, want) in times.iter().zip(&want).step_by(times.len() / 4 + 1) {
        let mut player = Player::open(file, options).unwrap();
        let (shot, _) = sample(&mut player, Moment::At(*t), &rfbplay::progress::NoProgress);
        let got = match shot {
            Shot::Screen(fb) => Some(fb),
            _ => None,
        };
        assert!(got == *want, "{}: oracle at {t}", file.display());
    }
    for (t, want) in times.iter().zip(&want) {
        let (shot, _, _) = index
            .screen_at(
                Moment::At(*t),
                options,
                &rfbplay::progress::NoProgress,
                &mut notes,
            )
            .unwrap();
        let got = match shot {
            Shot::Screen(fb) => Some(fb),
            _ => None,
        };
        assert!(
            got == *want,
            "{}: the screen at {t} ({} ns) through the index differs from the one from the start",
            file.display(),
            t.0
        );
    }
    let (shot, _, _) = index
        .screen_at(
            Moment::End,
            options,
            &rfbplay::progress::NoProgress,
            &mut notes,
        )
        .unwrap();
    assert_eq!(
        match shot {
            Shot::Screen(fb) => Some(fb),
            _ => None,
        },
        end,
        "{}: end",
        file.display()
    );
    assert!(notes.is_empty(), "{}: {notes:?}", file.display());
    // A few through the command line, each in a new process that loads
    // the index from disk.
    let picks = [0, times.len() / 3, times.len() / 2, times.len() - 2];
    for &k in &picks {
        let got = cli_frame(cache.path(), file, Some(times[k]), &[]);
        assert_eq!(
            got,
            want[k].as_ref().map(|f| f.to_rgb()),
            "{}: frame --at {}ns",
            file.display(),
            times[k].0
        );
    }
    assert_eq!(
        cli_frame(cache.path(), file, None, &[]),
        end.as_ref().map(|f| f.to_rgb()),
        "{}: frame --at end",
        file.display()
    );
}

fn testdata_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::testdata())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "fb"))
        .collect();
    v.sort();
    v
}

#[test]
fn index_matches_decoding_from_the_start_on_testdata() {
    let files = testdata_files();
    assert!(files.len() >= 10);
    for f in files {
        // A checkpoint wherever the stream allows one: the most restores.
        check(&f, 200, "0");
    }
}

#[test]
fn index_matches_decoding_from_the_start_on_the_corpus() {
    let Some(dir) = common::corpus() else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "fb"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        check(&f, 50, "250ms");
    }
}
