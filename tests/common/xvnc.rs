//! A real TigerVNC `Xvnc` on loopback for integration tests: started on a
//! free display and port, stopped by PID when the guard drops, with helpers
//! to run X clients on it and take the server's own screenshot.
//!
//! Include it next to `mod common;` with
//! `#[path = "common/xvnc.rs"] mod xvnc;`.

#![allow(dead_code)]

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on loopback (bound then released; small race accepted).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running Xvnc and the X clients started on it; all killed on drop.
pub struct Xvnc {
    pub display: u32,
    pub port: u16,
    server: Child,
    clients: Vec<Child>,
}

impl Xvnc {
    /// Starts `Xvnc` with `security` arguments (e.g. `["-SecurityTypes",
    /// "None"]`). None when the tools are missing (see `common::tool`).
    pub fn start(security: &[&str]) -> Option<Xvnc> {
        Self::start_with(security, "1024x768")
    }

    pub fn start_with(security: &[&str], geometry: &str) -> Option<Xvnc> {
        Self::start_on(security, geometry, None)
    }

    /// On a given RFB port (a restarted server), else a free one.
    pub fn start_on(security: &[&str], geometry: &str, port: Option<u16>) -> Option<Xvnc> {
        let xvnc = crate::common::tool("Xvnc")?;
        let seed = std::process::id() as u64 * 7919
            + std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos() as u64;
        for attempt in 0..20u64 {
            let display = 200 + ((seed + attempt * 131) % 700) as u32;
            if stale(display) {
                // Left by a server killed before it could clean up.
                remove_display_files(display);
            }
            if Path::new(&format!("/tmp/.X{display}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{display}")).exists()
            {
                continue;
            }
            let port = port.unwrap_or_else(free_port);
            let server = Command::new(&xvnc)
                .arg(format!(":{display}"))
                .args(["-geometry", geometry, "-depth", "24"])
                .args(security)
                .args([
                    "-rfbport",
                    &port.to_string(),
                    "-localhost",
                    "-nolisten",
                    "tcp",
                ])
                .args(["-AlwaysShared", "-desktop", "rfbplay-test"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn Xvnc");
            let mut x = Xvnc {
                display,
                port,
                server,
                clients: vec![],
            };
            if x.wait_ready() {
                return Some(x);
            }
        }
        panic!("could not start Xvnc on any display");
    }

    /// Waits for the RFB port and the X socket; false if Xvnc died.
    fn wait_ready(&mut self) -> bool {
        let start = Instant::now();
        let sock = PathBuf::from(format!("/tmp/.X11-unix/X{}", self.display));
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.server.try_wait() {
                return false;
            }
            if sock.exists() && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn pid(&self) -> u32 {
        self.server.id()
    }

    /// `127.0.0.1::port`, in rfbplay's target syntax.
    pub fn target(&self) -> String {
        format!("127.0.0.1::{}", self.port)
    }

    pub fn display_env(&self) -> String {
        format!(":{}", self.display)
    }

    /// Runs an X client to completion (xdotool, xrandr...); its success.
    pub fn run(&self, program: &str, args: &[&str]) -> bool {
        Command::new(program)
            .args(args)
            .env("DISPLAY", self.display_env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    }

    /// Starts a long-running X client (xterm), killed on drop.
    pub fn spawn(&mut self, program: &str, args: &[&str]) {
        let c = Command::new(program)
            .args(args)
            .env("DISPLAY", self.display_env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn X client");
        self.clients.push(c);
    }

    /// The server's own screenshot as a PNG (xwd piped to ImageMagick).
    pub fn screenshot(&self, out: &Path) {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "xwd -root -silent -display :{} | convert xwd:- png:'{}'",
                self.display,
                out.display()
            ))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "xwd | convert failed");
    }

    /// Kills the server now (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
        // Killed, it could not remove its lock and socket: without this,
        // every test run would leave a display taken.
        remove_display_files(self.display);
    }
}

impl Drop for Xvnc {
    fn drop(&mut self) {
        for c in &mut self.clients {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
        // Killed, it could not remove its lock and socket: without this,
        // every test run would leave a display taken.
        remove_display_files(self.display);
    }
}

/// Whether display `n`'s lock file names a process that no longer runs.
fn stale(n: u32) -> bool {
    std::fs::read_to_string(format!("/tmp/.X{n}-lock"))
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

fn remove_display_files(n: u32) {
    let _ = std::fs::remove_file(format!("/tmp/.X{n}-lock"));
    let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{n}"));
}

/// Writes a VNC password file as `vncpasswd -f` makes it.
pub fn password_file(dir: &Path, password: &str) -> Option<PathBuf> {
    use std::io::Write;
    let vncpasswd = crate::common::tool("vncpasswd")?;
    let mut child = Command::new(vncpasswd)
        .arg("-f")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn vncpasswd");
    writeln!(child.stdin.take().unwrap(), "{password}\n{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.len() >= 8,
        "vncpasswd -f failed"
    );
    let path = dir.join("passwd");
    std::fs::write(&path, out.stdout).unwrap();
    Some(path)
}
