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
/// frozen VM, or a busy one): no update can come from it, and the file
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

/// Fails when a line of `err` says a phrase twice: the same three words
/// in a row, or `target` more than once.
fn assert_no_repeats(err: &str, target: &str) {
    for line in err.lines() {
        assert!(
            line.matches(target).count() <= 1,
            "{target} twice in: {line}"
        );
        let words: Vec<String> = line
            .split(|c: char| c.is_whitespace())
            .map(|w| {
                w.trim_matches(|c: char| !c.is_alphanumeric())
                    .to_lowercase()
            })
            .filter(|w| !w.is_empty())
            .collect();
        let triples: Vec<&[String]> = words.windows(3).collect();
        for (i, t) in triples.iter().enumerate() {
            assert!(
                !triples[i + 1..].contains(t),
                "\"{}\" twice in: {line}",
                t.join(" ")
            );
        }
    }
}

/// The line of `err` that says what went wrong, checked to name `target`
/// (or the file) and `cause`, once each.
fn error_line<'a>(err: &'a str, names: &str, cause: &str) -> &'a str {
    let line = err
        .lines()
        .find(|l| l.starts_with("rfbplay: error: "))
        .unwrap_or_else(|| panic!("no error line in:\n{err}"));
    assert_eq!(line.matches(names).count(), 1, "{line}");
    assert_eq!(line.matches(cause).count(), 1, "{line}");
    line
}

#[test]
fn every_failure_names_target_place_and_cause_once() {
    let dir = common::TempDir::new("reccli-errors");
    let out = dir.path().join("e.fb");
    let run = |args: &[&str], password: Option<&str>| {
        let mut c = rfbplay();
        c.arg("record").args(args);
        if let Some(p) = password {
            c.env("VNC_PASSWORD", p);
        }
        let o = c.output().unwrap();
        (o.status.code(), stderr(&o))
    };
    let out_s = out.to_str().unwrap();

    // Refused: nothing listens on the port.
    let port = xvnc::free_port();
    let target = format!("127.0.0.1::{port}");
    let (code, err) = run(&[&target, out_s], None);
    assert_eq!(code, Some(1), "{err}");
    error_line(&err, &target, "connection refused");
    assert_no_repeats(&err, &target);
    // The same through --reconnect, whose retries are notes.
    let (code, err) = run(&["--reconnect", &target, out_s, "--duration", "1s"], None);
    assert_eq!(code, Some(1), "nothing was recorded: {err}");
    assert_no_repeats(&err, &target);
    // And with a name for the recording.
    let (code, err) = run(
        &[
            "--reconnect",
            &format!("vm={target}"),
            out_s,
            "--duration",
            "1s",
        ],
        None,
    );
    assert_eq!(code, Some(1), "nothing was recorded: {err}");
    assert!(err.contains("trying again in 0.5 s"), "{err}");
    let line = error_line(&err, &target, "connection refused");
    assert!(line.starts_with("rfbplay: error: vm: "), "{line}");
    assert_no_repeats(&err, &target);
    assert!(!out.exists());

    // Bad target syntax.
    let (code, err) = run(&["h:x", out_s], None);
    assert_eq!(code, Some(1), "{err}");
    error_line(&err, "\"h:x\"", "is not a display number or port");
    assert_no_repeats(&err, "h:x");

    // A password file that is not there: the OS's cause, said once.
    let missing = dir.path().join("nope");
    let (code, err) = run(
        &[&target, out_s, "--password-file", missing.to_str().unwrap()],
        None,
    );
    assert_eq!(code, Some(1), "{err}");
    error_line(&err, "nope", "cannot read the password file");
    assert_eq!(err.matches("(os error 2)").count(), 1, "{err}");
    assert_no_repeats(&err, "nope");

    let Some(mut x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let target = x.target();

    // A file that cannot be created.
    let nowhere = dir.path().join("no-such-folder").join("e.fb");
    let (code, err) = run(&[&target, nowhere.to_str().unwrap()], None);
    assert_eq!(code, Some(1), "{err}");
    error_line(&err, "no-such-folder", "cannot create");
    assert_eq!(err.matches("(os error 2)").count(), 1, "{err}");
    assert_no_repeats(&err, &target);

    // A dead (stopped) server: it accepts, then never answers.
    signal(x.pid(), "STOP");
    let (code, err) = run(&[&target, out_s, "--timeout", "1s"], None);
    signal(x.pid(), "CONT");
    assert_eq!(code, Some(1), "{err}");
    error_line(
        &err,
        &target,
        "stopped answering during the protocol version",
    );
    assert_no_repeats(&err, &target);

    // The server goes away mid-stream: a normal end, said once.
    let mut bin = Bin(rfbplay()
        .args(["record", &target, out_s])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap());
    sleep(Duration::from_millis(1000));
    x.kill();
    let o = bin.output();
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        err.matches("the server closed the connection").count(),
        1,
        "{err}"
    );
    assert_no_repeats(&err, &target);

    // An existing file, without --force.
    let (code, err) = run(&[&target, out_s], None);
    assert_eq!(code, Some(1), "{err}");
    error_line(&err, out_s, "already exists; use --force");
    assert_no_repeats(&err, out_s);

    // Wrong password.
    let Some(pw) = xvnc::password_file(dir.path(), "s3cret!") else {
        return;
    };
    let pw_s = pw.to_str().unwrap();
    let Some(x) = Xvnc::start(&["-SecurityTypes", "VncAuth", "-PasswordFile", pw_s]) else {
        return;
    };
    let target = x.target();
    let new = dir.path().join("new.fb");
    let (code, err) = run(&[&target, new.to_str().unwrap()], Some("wrong"));
    assert_eq!(code, Some(1), "{err}");
    error_line(&err, &target, "authentication failed");
    assert_no_repeats(&err, &target);
    assert!(!new.exists());
}

/// `--force` replaces a recording (through a new file, so a hard link to
/// the old one keeps it), never the password file; a password file others
/// can read gets a warning.
#[test]
fn force_replaces_recordings_but_never_the_password_file() {
    let Some(x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return;
    };
    let dir = common::TempDir::new("reccli-force");
    let out = dir.path().join("r.fb");
    let old = dir.path().join("old.fb");
    std::fs::write(&out, b"old recording").unwrap();
    std::fs::hard_link(&out, &old).unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "anything\n").unwrap();
    let record = |out: &Path, extra: &[&str]| {
        rfbplay()
            .args(["record", &x.target()])
            .arg(out)
            .args(["--duration", "1s", "--password-file"])
            .arg(&pw)
            .args(extra)
            .output()
            .unwrap()
    };

    let o = record(&out, &[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("already exists; use --force"), "{err}");
    assert!(err.contains("can be read by other users"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"old recording");

    let o = record(&out, &["--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!((0.8..1.2).contains(&info_length(&out)));
    assert_eq!(std::fs::read(&old).unwrap(), b"old recording");

    let o = record(&pw, &["--force"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("is the password file"), "{err}");
    assert_eq!(std::fs::read_to_string(&pw).unwrap(), "anything\n");

    // A private password file: no warning.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let o = record(&dir.path().join("quiet.fb"), &[]);
        let err = stderr(&o);
        assert!(o.status.success(), "{err}");
        assert!(!err.contains("warning"), "{err}");
    }
}
