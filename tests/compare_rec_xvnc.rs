//! `rfbplay compare GOLDEN.fb NEW.fb` on recordings of a real session: a
//! TigerVNC Xvnc on loopback, an xterm, text typed by xdotool, recorded by
//! `rfbplay record`. Two runs of one script with other typing speeds and
//! pauses compare as the same; a run that types one other word reports
//! exactly the screen that shows it.

mod common;
#[path = "common/xvnc.rs"]
mod xvnc;

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::Duration;
use xvnc::Xvnc;

fn rfbplay() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
}

/// Records one session on a fresh server: an xterm running sh, then each
/// word typed at `delay_ms` a key and followed by a `pause_ms` pause.
/// Returns false when the tools are missing.
fn session(out: &Path, words: &[&str], delay_ms: u64, pause_ms: u64) -> bool {
    if ["xterm", "xdotool"]
        .iter()
        .any(|t| common::tool(t).is_none())
    {
        return false;
    }
    let Some(mut x) = Xvnc::start(&["-SecurityTypes", "None"]) else {
        return false;
    };
    x.spawn(
        "xterm",
        &["-geometry", "40x6+0+0", "-e", "env", "PS1=$ ", "sh"],
    );
    sleep(Duration::from_millis(1000));
    assert!(x.run("xdotool", &["mousemove", "100", "40"]));
    let mut rec = rfbplay()
        .args(["record", &x.target()])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    sleep(Duration::from_millis(pause_ms));
    for w in words {
        let delay = delay_ms.to_string();
        assert!(x.run("xdotool", &["type", "--delay", &delay, &format!("{w} ")]));
        sleep(Duration::from_millis(pause_ms));
    }
    // SIGINT: the recorder closes the file cleanly.
    let pid = rec.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let status = rec.wait().unwrap();
    assert!(status.success(), "{status:?}");
    true
}

fn compare(a: &Path, b: &Path) -> (i32, Value) {
    let out = rfbplay()
        .arg("compare")
        .args([a, b])
        .arg("--json")
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

fn kinds(v: &Value) -> Vec<&str> {
    v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect()
}

#[test]
fn runs_of_one_session_match_and_a_changed_word_is_found() {
    let dir = common::TempDir::new("cmp-rec-xvnc");
    let (golden, slower, other) = (
        dir.path().join("golden.fb"),
        dir.path().join("slower.fb"),
        dir.path().join("other.fb"),
    );
    if !session(&golden, &["hello", "world"], 20, 1200) {
        return;
    }
    assert!(session(&slower, &["hello", "world"], 90, 1800));
    assert!(session(&other, &["hello", "there"], 20, 1200));

    let (code, v) = compare(&golden, &slower);
    // The prompt, "hello", "hello world": three stable screens each.
    assert_eq!(kinds(&v), ["matched", "matched", "matched"], "{v}");
    assert_eq!(code, 0, "{v}");

    let (code, v) = compare(&golden, &other);
    assert_eq!(code, 1, "{v}");
    assert_eq!(kinds(&v), ["matched", "matched", "changed"], "{v}");
    // The changed screen is the last one, and the change is on the
    // prompt's line, in the xterm at the top left.
    let step = &v["steps"][2];
    let bbox: Vec<u64> = step["bbox"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert!(bbox[0] < 300 && bbox[1] < 120 && bbox[3] < 40, "{v}");
}
