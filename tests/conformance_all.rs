//! Every recording in the corpus, judged by its own metadata: the screen at
//! the end equals the server's screenshot pixel for pixel (within a mean
//! absolute difference of 2 per channel for lossy Tight JPEG, and in the
//! recorded area only where minimega never asked for the rest), and the
//! rectangles per encoding and subencoding, updates and Bell messages are
//! those an independent parser counted. Mandatory when CI=true.

mod common;

use rfbplay::container::End;
use rfbplay::export::screen_at;
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use serde_json::Value;
use std::path::Path;

fn check(dir: &Path, name: &str) -> Result<(), String> {
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let mut player = Player::open(&dir.join(format!("{name}.fb")), PlayOptions::default())
        .map_err(|e| e.to_string())?;
    let (shot, summary) = screen_at(&mut player, None, &NoProgress);
    if let Some(e) = summary.error {
        return Err(format!("decoding failed: {e}"));
    }
    let complete = meta["container"]["gzip_complete"].as_bool().unwrap();
    if matches!(summary.end, End::Complete) != complete {
        return Err(format!(
            "ended {:?}, metadata says gzip_complete={complete}",
            summary.end
        ));
    }
    let parser = player.parser();
    let stream = &meta["stream"];
    if parser.updates() != stream["framebuffer_updates"].as_u64().unwrap() {
        return Err(format!(
            "{} updates, metadata says {}",
            parser.updates(),
            stream["framebuffer_updates"]
        ));
    }
    let stats = parser.context().stats();
    for (enc, n) in stream["rects_per_encoding"].as_object().unwrap() {
        let got = stats.rects.get(enc).copied().unwrap_or(0);
        if got != n.as_u64().unwrap() {
            return Err(format!("{got} {enc} rectangles, metadata says {n}"));
        }
    }
    for (enc, subs) in stream["subencodings"].as_object().unwrap() {
        for (sub, n) in subs.as_object().unwrap() {
            let got = stats
                .subencodings
                .get(enc)
                .and_then(|m| m.get(sub.as_str()))
                .copied()
                .unwrap_or(0);
            if got != n.as_u64().unwrap() {
                return Err(format!("{got} {enc} {sub}, metadata says {n}"));
            }
        }
    }
    let bells = stream["messages"]["Bell"].as_u64().unwrap_or(0);
    if parser.messages().get("Bell").copied().unwrap_or(0) != bells {
        return Err(format!("Bell count differs from {bells}"));
    }

    let shot = shot.ok_or("no screen")?;
    let (tw, th, truth) = common::read_rgb(&dir.join(format!("{name}.truth.png")));
    if (shot.width(), shot.height()) != (tw, th) {
        return Err(format!(
            "{}x{} screen, truth is {tw}x{th}",
            shot.width(),
            shot.height()
        ));
    }
    let got = shot.to_rgb();
    let lossy = meta["lossy"].as_bool().unwrap_or(false);
    let exact = meta["truth"]["final_frame_equals_truth"].as_bool().unwrap();
    // The one recording that cannot match whole: minimega asked for the
    // first 1024x768 only, so compare that area.
    let (rw, rh) = if !exact && !lossy {
        (1024.min(tw), 768.min(th))
    } else {
        (tw, th)
    };
    let (mut diff_sum, mut mismatched) = (0u64, 0u64);
    for y in 0..rh as usize {
        let row = y * tw as usize * 3;
        for i in row..row + rw as usize * 3 {
            let d = got[i].abs_diff(truth[i]);
            diff_sum += u64::from(d);
            mismatched += u64::from(d != 0);
        }
    }
    let mad = diff_sum as f64 / (f64::from(rw) * f64::from(rh) * 3.0);
    if lossy {
        if mad > 2.0 {
            return Err(format!(
                "lossy: mean absolute difference {mad:.3} per channel is over 2"
            ));
        }
    } else if mismatched != 0 {
        return Err(format!(
            "{mismatched} channel values differ from the truth in {rw}x{rh}"
        ));
    }
    eprintln!(
        "{name}: ok{}",
        if lossy {
            format!(" (mean abs diff {mad:.3})")
        } else {
            String::new()
        }
    );
    Ok(())
}

#[test]
fn every_corpus_recording_matches_its_truth_and_metadata() {
    let Some(dir) = common::corpus() else { return };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "fb").then(|| p.file_stem().unwrap().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    assert!(
        names.len() >= 23,
        "the corpus holds {} recordings",
        names.len()
    );
    let failures: Vec<String> = names
        .iter()
        .filter_map(|n| check(&dir, n).err().map(|e| format!("{n}: {e}")))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} recordings fail:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}
