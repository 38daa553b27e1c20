//! Playback timing as the X server sees it: a generated .kb file of pointer
//! moves is played into a real Xvnc, `xev` prints each MotionNotify with
//! the server's timestamp (milliseconds), and each event's arrival is
//! compared with its scheduled time. Prints the mean and maximum error per
//! event and the drift from start to end; asserts only that every event
//! arrived in order (timing figures are measurements, not pass/fail; see
//! CONVENTIONS.md). The 60-second run is `--ignored` to keep the suite
//! short: `cargo test --test kb_timing -- --ignored --nocapture`.
//! Kept in its own test binary so no other test loads the CPU meanwhile.

mod common;
#[path = "common/xvnc.rs"]
mod xvnc;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Stats {
    events: usize,
    mean_ms: f64,
    max_ms: f64,
    drift_ms: f64,
    slope_ms_per_min: f64,
}

/// A pointer walk with delays from 5 to 195 ms, about `secs` long.
fn generate(secs: u64) -> (String, Vec<(u64, u16, u16)>) {
    let mut text = String::new();
    let mut events = Vec::new();
    let (mut t, mut seed, mut i) = (0u64, 12345u32, 0u32);
    while t < secs * 1_000_000_000 {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let delay = 5_000_000 + ((u64::from(seed) * 190_000_000) >> 32);
        t += delay;
        let x = 20 + (i * 37 % 940) as u16;
        let y = 20 + (i * 53 % 680) as u16;
        text += &format!("{delay}:PointerEvent,0,{x},{y}\n");
        events.push((t, x, y));
        i += 1;
    }
    (text, events)
}

/// (time ms, x, y) of each MotionNotify in xev's output.
fn parse_xev(out: &str) -> Vec<(u64, u16, u16)> {
    let mut v = Vec::new();
    let mut lines = out.lines();
    while let Some(l) = lines.next() {
        if !l.starts_with("MotionNotify") {
            continue;
        }
        let Some(l) = lines.next() else { break };
        let time = l
            .split("time ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|n| n.parse().ok());
        let root = l
            .split("root:(")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .and_then(|r| {
                let (x, y) = r.split_once(',')?;
                Some((x.parse().ok()?, y.parse().ok()?))
            });
        if let (Some(t), Some((x, y))) = (time, root) {
            v.push((t, x, y));
        }
    }
    v
}

fn measure(secs: u64, spin: &str) -> Option<Stats> {
    common::tool("xev")?;
    common::tool("xdotool")?;
    let x = xvnc::Xvnc::start(&["-SecurityTypes", "None"])?;
    let dir = common::TempDir::new("kb-timing");
    let out_path = dir.path().join("xev.out");
    let mut xev = Command::new("xev")
        .args(["-geometry", "1000x740+0+0", "-event", "mouse"])
        .env("DISPLAY", x.display_env())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let (text, sent) = generate(secs);
    let kb = dir.path().join("walk.kb");
    std::fs::write(&kb, text).unwrap();
    let played = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args([
            "play",
            &x.target(),
            kb.to_str().unwrap(),
            "--spin",
            spin,
            "--timing",
        ])
        .output()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = xev.kill();
    let _ = xev.wait();
    assert!(
        played.status.success(),
        "{}",
        String::from_utf8_lossy(&played.stderr)
    );
    let seen = parse_xev(&std::fs::read_to_string(&out_path).unwrap());
    // Pair events in order by position (each move goes somewhere new).
    let mut pairs = Vec::new();
    let mut it = seen.iter();
    for &(t, sx, sy) in &sent {
        let found = it.by_ref().find(|&&(_, x, y)| (x, y) == (sx, sy));
        let Some(&(ms, _, _)) = found else {
            panic!("event to {sx},{sy} never arrived")
        };
        pairs.push((t as f64 / 1e6, ms as f64));
    }
    // The constant latency is the median of arrival - schedule.
    let mut diffs: Vec<f64> = pairs.iter().map(|(s, a)| a - s).collect();
    let mut sorted = diffs.clone();
    sorted.sort_by(f64::total_cmp);
    let offset = sorted[sorted.len() / 2];
    for d in &mut diffs {
        *d -= offset;
    }
    let n = diffs.len() as f64;
    let mean_ms = diffs.iter().map(|d| d.abs()).sum::<f64>() / n;
    let max_ms = diffs.iter().fold(0.0f64, |m, d| m.max(d.abs()));
    let tenth = (diffs.len() / 10).max(1);
    let avg = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    // Medians, so one preempted event does not pass for drift.
    let median = |s: &[f64]| {
        let mut v = s.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let drift_ms = median(&diffs[diffs.len() - tenth..]) - median(&diffs[..tenth]);
    // Least-squares slope of error against schedule time.
    let xs: Vec<f64> = pairs.iter().map(|p| p.0).collect();
    let (mx, my) = (avg(&xs), avg(&diffs));
    let cov: f64 = xs
        .iter()
        .zip(&diffs)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum();
    let var: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    let slope_ms_per_min = cov / var * 60_000.0;
    eprintln!("{}", String::from_utf8_lossy(&played.stderr).trim());
    Some(Stats {
        events: pairs.len(),
        mean_ms,
        max_ms,
        drift_ms,
        slope_ms_per_min,
    })
}

fn report(label: &str, s: &Stats) {
    eprintln!(
        "{label}: {} events, error per event mean {:.3} ms, max {:.3} ms; drift (median of last tenth minus first tenth) {:+.3} ms, slope {:+.3} ms/min (X timestamps are whole ms)",
        s.events, s.mean_ms, s.max_ms, s.drift_ms, s.slope_ms_per_min
    );
}

#[test]
fn ten_seconds_with_and_without_spinning() {
    let t = Instant::now();
    let Some(spin) = measure(10, "200us") else {
        return;
    };
    report("10 s, spin 200us", &spin);
    let Some(sleep) = measure(10, "0") else {
        return;
    };
    report("10 s, spin 0 (sleep only)", &sleep);
    assert!(spin.events > 50 && sleep.events > 50);
    eprintln!("took {:.1}s", t.elapsed().as_secs_f64());
}

#[test]
#[ignore = "60 s; run with --ignored for the drift figure"]
fn sixty_seconds_drift() {
    let Some(s) = measure(60, "200us") else {
        return;
    };
    report("60 s, spin 200us", &s);
}
