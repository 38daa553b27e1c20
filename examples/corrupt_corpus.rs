//! The corruption set for `--salvage`: damages recordings at many places
//! and measures how many of the updates after the damage
//! `rfbplay info --salvage --json` gets back.
//!
//! For each recording and each of N evenly spread places it writes four
//! damaged copies: 1 and 64 bytes flipped in the decompressed container
//! (the RFB stream and its chunk headers; the file is compressed again),
//! and 1 and 64 bytes flipped in the compressed file. Each copy is read
//! with and without `--salvage`. A damage that ends plain playback early
//! is "noticed"; for those it prints the share of the updates that follow
//! the damage in the undamaged file which salvage recovered. Damage in
//! Raw pixels goes unnoticed by design (nothing can tell), and is counted
//! apart.
//!
//! Run it through tools/salvage_corpus.sh.

use flate2::write::GzEncoder;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    updates: u64,
    error: bool,
    damaged: usize,
}

fn info(bin: &Path, file: &Path, salvage: bool) -> Run {
    let mut cmd = Command::new(bin);
    cmd.arg("-q").arg("info").arg("--json").arg(file);
    if salvage {
        cmd.arg("--salvage");
    }
    let out = cmd.output().expect("rfbplay runs");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON ({e}): {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        updates: j["updates"].as_u64().unwrap_or(0),
        error: !j["error"].is_null(),
        damaged: j["damaged"].as_array().map_or(0, Vec::len),
    }
}

fn inflate(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut d = flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap());
    let _ = d.read_to_end(&mut out);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Counts per kind of damage.
#[derive(Default)]
struct Tally {
    cases: u64,
    noticed: u64,
    /// Updates after the damage in the undamaged file, and recovered.
    following: u64,
    recovered: u64,
    /// Noticed cases where salvage got at least one update back.
    resynced: u64,
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut places = 4usize;
    if args.first().is_some_and(|a| a == "--places") {
        places = args[1].parse().expect("--places N");
        args.drain(..2);
    }
    let bin = PathBuf::from(std::env::var("RFBPLAY").unwrap_or("target/debug/rfbplay".into()));
    let tmp = std::env::temp_dir().join(format!("rfbplay-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let kinds = ["stream 1", "stream 64", "gzip 1", "gzip 64"];
    let mut tally: Vec<Tally> = kinds.iter().map(|_| Tally::default()).collect();
    for file in &args {
        let clean = Path::new(file);
        let total = info(&bin, clean, false).updates;
        let raw = std::fs::read(clean).unwrap();
        let plain = inflate(clean);
        for k in 0..places {
            let frac = (k as f64 + 0.5) / places as f64;
            for (ki, kind) in kinds.iter().enumerate() {
                let n = if kind.ends_with("64") { 64 } else { 1 };
                let bytes = if kind.starts_with("stream") {
                    let mut b = plain.clone();
                    let at = ((b.len() - n) as f64 * frac) as usize;
                    b[at..at + n].iter_mut().for_each(|x| *x ^= 0x5a);
                    gzip(&b)
                } else {
                    let mut b = raw.clone();
                    let at = ((b.len() - n) as f64 * frac) as usize;
                    b[at..at + n].iter_mut().for_each(|x| *x ^= 0x5a);
                    b
                };
                let damaged = tmp.join("damaged.fb");
                std::fs::write(&damaged, &bytes).unwrap();
                let before = info(&bin, &damaged, false);
                let after = info(&bin, &damaged, true);
                let t = &mut tally[ki];
                t.cases += 1;
                if before.error && after.damaged > 0 {
                    t.noticed += 1;
                    let following = total.saturating_sub(before.updates);
                    let got = after.updates.saturating_sub(before.updates).min(following);
                    t.following += following;
                    t.recovered += got;
                    t.resynced += u64::from(got > 0);
                    println!(
                        "{file} {kind} at {:.0}%: {} updates before, {got} of {following} after recovered",
                        frac * 100.0,
                        before.updates
                    );
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    println!();
    println!("damage      cases  noticed  resynced  updates recovered / following");
    for (kind, t) in kinds.iter().zip(&tally) {
        let share = if t.following > 0 {
            format!("{:.1}%", 100.0 * t.recovered as f64 / t.following as f64)
        } else {
            "-".into()
        };
        println!(
            "{kind:<10} {:>6} {:>8} {:>9}  {:>8} / {:<8} {share}",
            t.cases, t.noticed, t.resynced, t.recovered, t.following
        );
    }
}
