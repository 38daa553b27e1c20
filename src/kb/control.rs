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
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::time::Duration;

/// Requests longer than this are refused (an inline image is the largest
/// thing a request carries).
const MAX_REQUEST: u64 = 64 << 20;

/// Why a control socket could not be opened. Each names the path; the
/// CLI adds nothing, so the message says its cause once.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("--control {}: that is {}, an input of this playback; give a new path", path.display(), input.display())]
    IsInput { path: PathBuf, input: PathBuf },
    #[error("--control {}: that is not a socket, and rfbplay replaces only a stale socket; give a new path", path.display())]
    NotSocket { path: PathBuf },
    #[error("--control {}: another playback answers on that socket", path.display())]
    InUse { path: PathBuf },
    #[error("--control {}: cannot {action}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: io::Error,
    },
}

/// Listens on a socket path until dropped; the path is removed then, if
/// it is still the socket this server made.
pub struct ControlServer {
    path: PathBuf,
    /// (device, inode) of the socket file made by `bind`.
    made: Option<(u64, u64)>,
}

/// (device, inode) of a path, following symlinks.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl ControlServer {
    /// Binds `path`. Refused when `path` is one of `inputs` (compared by
    /// device and inode, so another spelling of the same file is caught),
    /// when something other than a socket is there, and when a playback
    /// answers on the socket there; a socket nothing answers on (left by a
    /// killed playback) is replaced.
    pub fn start(
        path: &Path,
        inputs: &[PathBuf],
        tx: Sender<Control>,
    ) -> Result<ControlServer, ControlError> {
        let io_err = |action, source| ControlError::Io {
            path: path.to_path_buf(),
            action,
            source,
        };
        if let Some(id) = file_id(path) {
            if let Some(input) = inputs.iter().find(|i| file_id(i) == Some(id)) {
                return Err(ControlError::IsInput {
                    path: path.to_path_buf(),
                    input: input.clone(),
                });
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if !m.file_type().is_socket() => {
                return Err(ControlError::NotSocket {
                    path: path.to_path_buf(),
                })
            }
            Ok(_) => match UnixStream::connect(path) {
                Ok(_) => {
                    return Err(ControlError::InUse {
                        path: path.to_path_buf(),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                    std::fs::remove_file(path).map_err(|e| io_err("remove the stale socket", e))?;
                }
                Err(e) => return Err(io_err("connect to the socket there", e)),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("look at the path", e)),
        }
        let listener = UnixListener::bind(path).map_err(|e| io_err("listen", e))?;
        let made = std::fs::symlink_metadata(path)
            .ok()
            .map(|m| (m.dev(), m.ino()));
        std::thread::Builder::new()
            .name("kb-control".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    // A client that hangs up early is its own problem.
                    let _ = serve(conn, &tx);
                }
            })
            .map_err(|e| io_err("start its thread", e))?;
        Ok(ControlServer {
            path: path.to_path_buf(),
            made,
        })
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        // Remove only what was made here: not a file someone put in its
        // place meanwhile.
        let now = std::fs::symlink_metadata(&self.path)
            .ok()
            .filter(|m| m.file_type().is_socket())
            .map(|m| (m.dev(), m.ino()));
        if now.is_some() && now == self.made {
            let _ = std::fs::remove_file(&self.path);
        }
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
    // Every request gets an answer line: none means the other side went
    // away before it answered, which is no success.
    if answer.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection closed without an answer",
        ));
    }
    Ok(answer.trim_end().to_string())
}
