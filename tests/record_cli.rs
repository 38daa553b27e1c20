//! `rfbplay record` as users run it, against real TigerVNC Xvnc servers:
//! the length it reports is the wall time recorded and what `rfbplay info`
//! reads back, it never replaces a file without `--force`, and every way a
//! recording can fail prints the target, the place and the cause once.

mod common;
#[path = "common/xvnc.rs"]
mod xvnc;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};
use xvnc::Xvnc;

fn rfbplay() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rfbplay"));
    c.env_remove("VNC_PASSWORD");
    c
}

/// The binary, killed by PID if a test fails before it ends.
struct Bin(Child);

impl Bin {
    /// Waits for the end and collects stderr.
    fn output(&mut self) -> Output {
        use std::io::Read;
        let mut err = vec![];
        if let Some(mut e) = self.0.stderr.take() {
            e.read_to_end(&mut err).unwrap();
        }
        let status = self.0.wait().unwrap();
        Output {
            status,
            stdout: vec![],
            stderr: err,
        }
    }
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Sends `sig` (STOP, CONT) to a process we started.
fn signal(pid: u32, sig: &str) {
    assert!(Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap()
        .success());
}

/// Seconds in "NAME: FILE complete: 1.992s of recording, ..." for `file`.
fn reported_length(err: &str, file: &Path) -> f64 {
    let name = file.display().to_string();
    let line = err
        .lines()
        .find(|l| l.contains(&format!("{name} complete: ")))
        .unwrap_or_else(|| panic!("no report for {name} in:\n{err}"));
    let secs = line
        .split("complete: ")
        .nth(1)
        .and_then(|r| r.split("s of recording").next())
        .unwrap_or_else(|| panic!("{line}"));
    secs.parse().unwrap_or_else(|_| panic!("{line}"))
}

/// Seconds on `rfbplay info`'s "duration:" line.
fn info_length(file: &Path) -> f64 {
    let o = rfbplay().arg("info").arg(file).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let line = out
        .lines()
        .find(|l| l.starts_with("duration:"))
        .unwrap_or_else(|| panic!("no duration in:\n{out}"));
    let secs = line["duration:".len()..].trim();
    let secs = secs.split('s').next().unwrap();
    secs.parse().unwrap_or_else(|_| panic!("{line}"))
}

/// An idle screen whose server stops answering just before the end (a
/// frozen VM, or a busy one): no closing update can come, and the file
/// still lasts the 2 s recorded, as the report and `info` both say.
#[test]
fn idle_frozen_server_file_lasts_the_wall_time_recorded() {
    let Some(x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let dir = common::TempDir::new("reccli-frozen");
    let out = dir.path().join("idle.fb");
    let mut bin = Bin(rfbplay()
        .args(["record", "--reconnect", &x.target()])
        .arg(&out)
        .args(["--duration", "2s"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    sleep(Duration::from_millis(1500));
    signal(x.pid(), "STOP");
    let o = bin.output();
    signal(x.pid(), "CONT");
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    let reported = reported_length(&err, &out);
    assert!((1.8..=2.2).contains(&reported), "{err}");
    let decoded = info_length(&out);
    assert!(
        (decoded - reported).abs() < 0.0015,
        "info {decoded} s, {err}"
    );
}

/// With `--reconnect`, a server that dies leaves a file that lasts until
/// it died, though the screen was idle since the first update.
#[test]
fn reconnect_file_lasts_until_the_server_went_away() {
    let Some(mut x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let dir = common::TempDir::new("reccli-gone");
    let out = dir.path().join("gone.fb");
    let mut bin = Bin(rfbplay()
        .args(["record", "--reconnect", &x.target()])
        .arg(&out)
        .args(["--duration", "3s"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    // File time starts when the recorder says it is recording.
    let mut lines = std::io::BufReader::new(bin.0.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut lines, &mut first).unwrap();
    assert!(first.contains("recording"), "{first}");
    let connected = Instant::now();
    sleep(Duration::from_millis(1500));
    x.kill();
    let killed = connected.elapsed().as_secs_f64();
    let mut err = first;
    std::io::Read::read_to_string(&mut lines, &mut err).unwrap();
    let status = bin.0.wait().unwrap();
    assert!(status.success(), "{err}");
    let reported = reported_length(&err, &out);
    assert!(
        (killed - 0.2..=killed + 0.2).contains(&reported),
        "killed at {killed:.3} s; {err}"
    );
    let decoded = info_length(&out);
    assert!(
        (decoded - reported).abs() < 0.0015,
        "info {decoded} s, {err}"
    );
}
