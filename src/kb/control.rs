//! The control socket of a running playback (`play --control PATH`) and
//! its client (`rfbplay ctl PATH ...`), after minimega's `vnc pause`,
//! `continue`, `step`, `getstep` and `inject`, plus `stop`.
//!
//! A Unix socket, one line per request and one line per answer, so shell
//! scripts can also drive it with `socat`. Commands become [`Control`]
//! messages on the same channel the terminal keys use.

use super::load::{parse_inject, LoadOptions};
use super::play::Control;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

/// Requests longer than this are refused (an inline image is the largest
/// thing a request carries).
const MAX_REQUEST: u64 = 64 << 20;

/// Listens on a socket path until dropped; the path is removed then.
pub struct ControlServer {
    path: PathBuf,
}

impl ControlServer {
    /// Binds `path`; a stale socket file left by a killed playback is
    /// replaced, a live one is an error.
    pub fn start(path: &Path, tx: Sender<Control>) -> io::Result<ControlServer> {
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("{} is in use by another playback", path.display()),
                ));
            }
            std::fs::remove_file(path)?;
        }
        let listener = UnixListener::bind(path)?;
        std::thread::Builder::new()
            .name("kb-control".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    // A client that hangs up early is its own problem.
                    let _ = serve(conn, &tx);
                }
            })?;
        Ok(ControlServer {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Answers one request on one connection.
fn serve(conn: UnixStream, tx: &Sender<Control>) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new((&conn).take(MAX_REQUEST)).read_line(&mut line)?;
    let answer = answer(line.trim_end_matches(['\r', '\n']), tx);
    (&conn).write_all(format!("{answer}\n").as_bytes())
}

fn answer(line: &str, tx: &Sender<Control>) -> String {
    let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
    let gone = || "error: the playback has ended".to_string();
    let simple = |c| {
        if tx.send(c).is_ok() {
            "ok".into()
        } else {
            gone()
        }
    };
    let ask = |make: &dyn Fn(Sender<String>) -> Control| {
        let (rtx, rrx) = mpsc::channel();
        if tx.send(make(rtx)).is_err() {
            return gone();
        }
        rrx.recv_timeout(Duration::from_secs(600))
            .unwrap_or_else(|_| gone())
    };
    match cmd {
        "pause" => simple(Control::Pause),
        "continue" => simple(Control::Continue),
        "step" => simple(Control::Step),
        "stop" => simple(Control::Stop),
        "getstep" => ask(&|r| Control::GetStep(r)),
        "inject" => {
            // The ctl client made paths absolute; "/" is only a fallback.
            match parse_inject(arg, Path::new("/"), &LoadOptions::default()) {
                Ok(program) => {
                    let program = std::sync::Mutex::new(Some(program));
                    ask(&|r| {
                        let p = program.lock().ok().and_then(|mut g| g.take());
                        Control::Inject(p.unwrap_or_default(), r)
                    })
                }
                Err(e) => format!("error: {e}"),
            }
        }
        other => format!(
            "error: unknown command '{other}' (pause, continue, step, getstep, stop, inject EVENT)"
        ),
    }
}

/// Sends one request to a playback's control socket; returns the answer.
pub fn request(path: &Path, line: &str) -> io::Result<String> {
    let mut conn = UnixStream::connect(path)?;
    conn.write_all(format!("{}\n", line.trim_end()).as_bytes())?;
    let mut answer = String::new();
    BufReader::new(conn.take(1 << 20)).read_line(&mut answer)?;
    Ok(answer.trim_end().to_string())
}
