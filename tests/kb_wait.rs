//! WaitForIt deadlines against a real Xvnc whose screen is a busy
//! 1920x1080 picture (the corpus screenshots tiled over the root window, or
//! a synthetic pattern without the corpus): a wait for a template that is
//! not there ends at its timeout, not seconds after it, and Ctrl-C/SIGTERM
//! and `ctl stop` end it at once while the template search runs. All
//! checks run in one test, in turn, so they do not load the CPU for each
//! other. Margins are generous for a loaded 2-core machine, and far below
//! the overruns rfbplay used to have (a 2 s wait took 7 to 56 s there).

mod common;
#[path = "common/xvnc.rs"]
mod xvnc;

use common::TempDir;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A 1920x1080 picture with text and edges everywhere.
fn background(path: &Path) {
    let mut img = image::RgbImage::new(1920, 1080);
    let shots: Vec<image::RgbImage> = common::corpus()
        .map(|dir| {
            [
                "enc_xvnc_zrle.truth.png",
                "enc_qemu_modes_zrle.truth.png",
                "enc_xvnc_hextile.truth.png",
            ]
            .iter()
            .filter_map(|n| image::open(dir.join(n)).ok())
            .map(|i| i.to_rgb8())
            .collect()
        })
        .unwrap_or_default();
    if shots.is_empty() {
        for (x, y, p) in img.enumerate_pixels_mut() {
            let v = ((x * 7 + y * 13) ^ (x / 3 * y / 5)) as u8;
            *p = image::Rgb([v, v.wrapping_mul(3), 255 - v]);
        }
    } else {
        let (mut x, mut y, mut i) = (0, 0, 0);
        while y < 1080 {
            let s = &shots[i % shots.len()];
            i += 1;
            image::imageops::replace(&mut img, s, x as i64, y as i64);
            x += s.width();
            if x >= 1920 {
                x = 0;
                y += s.height().min(768);
            }
        }
    }
    img.save(path).unwrap();
}

/// A w x h template that is on no screen: a smooth colour ramp.
fn absent_template(path: &Path, w: u32, h: u32) {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 128])
    });
    img.save(path).unwrap();
}

fn play(dir: &Path, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .arg("play")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (bool, String) {
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Waits until `child` has shown the screen search is running: the wait
/// has had time to get the first screen and start searching.
fn settle() {
    std::thread::sleep(Duration::from_millis(1500));
}

#[test]
fn waits_end_at_their_deadline_and_on_stop() {
    let Some(_) = common::tool("display") else {
        return;
    };
    let Some(x) = xvnc::Xvnc::start_with(&["-SecurityTypes", "None"], "1920x1080") else {
        return;
    };
    let dir = TempDir::new("kb-wait");
    let d = dir.path();
    background(&d.join("bg.png"));
    // ImageMagick's display sets the root window's background and exits 1
    // even when it worked; the closest scores below show it did.
    x.run(
        "display",
        &["-window", "root", d.join("bg.png").to_str().unwrap()],
    );
    let t = x.target();
    for (w, h) in [(16, 16), (64, 64), (200, 100)] {
        absent_template(&d.join(format!("t{w}x{h}.png")), w, h);
    }

    // A failed wait ends at its timeout (it took 1.7 s longer, and up to
    // 54 s longer on this screen).
    for (timeout, (w, h), within) in [
        (1.0, (64, 64), 1.6),
        (2.0, (16, 16), 2.6),
        (2.0, (200, 100), 2.6),
    ] {
        let kb = format!("w{w}.kb");
        std::fs::write(
            d.join(&kb),
            format!("0:WaitForIt,{timeout}s,t{w}x{h}.png\n"),
        )
        .unwrap();
        let start = Instant::now();
        let (ok, err) = finish(play(d, &[&t, &kb]));
        let took = start.elapsed().as_secs_f64();
        eprintln!("WaitForIt,{timeout}s with a {w}x{h} template failed after {took:.2} s: {err}");
        assert!(!ok, "{err}");
        assert!(err.contains("not found within"), "{err}");
        // What the closest-match search got to in the time left (a slow
        // test build may get to no position at all).
        assert!(
            err.contains("closest match: mean difference")
                || err.contains("no position was compared in full in time"),
            "{err}"
        );
        assert!(
            took >= timeout && took < within,
            "{timeout} s wait took {took:.2} s"
        );
    }

    // SIGTERM and ctl stop end a wait while its search runs (SIGTERM was
    // ignored for about 35 s during the search).
    std::fs::write(d.join("long.kb"), "0:WaitForIt,60s,t200x100.png\n").unwrap();
    let child = play(d, &[&t, "long.kb"]);
    settle();
    let sent = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (_, err) = finish(child);
    let late = sent.elapsed().as_secs_f64();
    eprintln!("SIGTERM during a wait: exited {late:.2} s later");
    assert!(late < 1.0, "SIGTERM took {late:.2} s: {err}");
    assert!(err.contains("stopped"), "{err}");

    let sock = d.join("c.sock");
    let child = play(d, &[&t, "long.kb", "--control", sock.to_str().unwrap()]);
    settle();
    let sent = Instant::now();
    let answer = Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(["ctl", sock.to_str().unwrap(), "stop"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&answer.stdout).trim(), "ok");
    let (_, err) = finish(child);
    let late = sent.elapsed().as_secs_f64();
    eprintln!("ctl stop during a wait: exited {late:.2} s later");
    assert!(late < 1.0, "ctl stop took {late:.2} s: {err}");
}
