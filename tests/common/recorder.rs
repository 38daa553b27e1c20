//! Shared support for tests that drive a running `rfbplay record
//! --control SOCK`: the command without a stray VNC_PASSWORD, the recorder
//! process killed by PID if a test fails first, and `ctl` requests.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command};

pub fn rfbplay() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rfbplay"));
    c.env_remove("VNC_PASSWORD");
    c
}

/// The recorder, killed by PID if the test fails first.
pub struct Bin(pub Child);

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `rfbplay ctl SOCK words...`: (success, answer line).
pub fn ctl(sock: &Path, words: &[&str]) -> (bool, String) {
    let o = rfbplay().arg("ctl").arg(sock).args(words).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).trim().to_string(),
    )
}

/// The rows of `ctl SOCK list --json`.
pub fn list(sock: &Path) -> Vec<serde_json::Value> {
    let (ok, answer) = ctl(sock, &["list", "--json"]);
    assert!(ok, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    v["recordings"].as_array().unwrap().clone()
}
