//! Recordings that come and go while the recorder runs: `rfbplay record
//! --control SOCK --dir DIR`, driven with `rfbplay ctl SOCK list`, `add
//! NAME=TARGET`, `stop NAME` and `stop --all`.
//!
//! Each recording is an ordinary [`record`](super::record) on its own
//! thread with its own stop flag, so it keeps every guarantee of a
//! recording started on the command line (refused outputs, end mark,
//! crash-safe file); one that fails shows in `list` with its error and
//! touches no other. The socket is a Unix socket only its owner can use;
//! one request line gets one answer line (`ok: ...`, `error: ...`, or the
//! JSON of `list`), so `socat` can drive it too. The recorder removes only
//! the socket it made, and replaces only a stale socket (a socket file
//! nobody answers on), never any other file.

use super::kb_sessions::KbSessions;
use super::{check_output, path_in_dir, record, Job, Note, Observer, RecordError, RecordOptions};
use super::{Status, Summary};
use crate::client::{Chain, Target};
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Requests longer than this are refused.
const MAX_REQUEST: u64 = 4096;

/// What a recording is doing, for `list`.
#[derive(Debug, Default)]
struct Shared {
    status: Option<Status>,
    /// Connected at least once.
    connected: bool,
    /// The last connection problem, while retrying.
    retrying: Option<String>,
    /// How it ended, once it has.
    result: Option<Result<Summary, RecordError>>,
}

struct Session {
    job: Job,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    handle: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Passes everything on, keeping what `list` shows.
struct Tracking {
    shared: Arc<Mutex<Shared>>,
    inner: Arc<dyn Observer + Send>,
}

impl Observer for Tracking {
    fn status(&self, name: &str, status: &Status) {
        lock(&self.shared).status = Some(status.clone());
        self.inner.status(name, status);
    }

    fn note(&self, job: &Job, note: &Note<'_>) {
        {
            let mut s = lock(&self.shared);
            match note {
                Note::Recording { .. } => {
                    s.connected = true;
                    s.retrying = None;
                }
                Note::Retrying { error, .. } => {
                    let error: &(dyn std::error::Error + 'static) = *error;
                    s.retrying = Some(Chain(error).to_string());
                }
                _ => {}
            }
        }
        self.inner.note(job, note);
    }
}

/// The recordings of one recorder process.
pub struct Sessions {
    dir: PathBuf,
    opts: Arc<RecordOptions>,
    observer: Arc<dyn Observer + Send>,
    map: Mutex<BTreeMap<String, Session>>,
    kb: KbSessions,
}

/// How one recording went, for the final report.
pub struct Ended {
    pub job: Job,
    /// None if its thread panicked.
    pub result: Option<Result<Summary, RecordError>>,
}

impl Sessions {
    /// Recordings go to `dir/NAME.fb`.
    pub fn new(dir: &Path, opts: RecordOptions, observer: Arc<dyn Observer + Send>) -> Sessions {
        Sessions {
            dir: dir.to_path_buf(),
            opts: Arc::new(opts),
            observer,
            map: Mutex::new(BTreeMap::new()),
            kb: KbSessions::default(),
        }
    }

    /// Starts recording `target` to `dir/name.fb`; the file it writes.
    /// A name in use by a running recording, or a file that may not be
    /// written, is refused before connecting.
    pub fn add(&self, name: &str, target: Target) -> Result<PathBuf, String> {
        check_name(name)?;
        let mut map = lock(&self.map);
        if let Some(s) = map.get(name) {
            if lock(&s.shared).result.is_none() {
                return Err(format!("{name} is already recording {}", s.job.target));
            }
        }
        let job = Job {
            name: name.to_string(),
            target,
            out: path_in_dir(&self.dir, name),
        };
        check_output(&job, &self.opts).map_err(|e| Chain(&e).to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let handle = {
            let (job, stop, opts) = (job.clone(), Arc::clone(&stop), Arc::clone(&self.opts));
            let observer = Tracking {
                shared: Arc::clone(&shared),
                inner: Arc::clone(&self.observer),
            };
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("record {name}"))
                .spawn(move || {
                    let r = record(&job, &opts, &stop, &observer);
                    lock(&shared).result = Some(r);
                })
                .map_err(|e| format!("cannot start a thread: {e}"))?
        };
        let out = job.out.clone();
        map.insert(
            name.to_string(),
            Session {
                job,
                stop,
                shared,
                handle: Some(handle),
            },
        );
        Ok(out)
    }

    /// Stops `name` and waits for its file to be closed.
    pub fn stop(&self, name: &str) -> Result<(), String> {
        let handle = {
            let mut map = lock(&self.map);
            let s = map
                .get_mut(name)
                .ok_or_else(|| format!("no recording is named {name:?}"))?;
            s.stop.store(true, Ordering::Relaxed);
            s.handle.take()
        };
        if let Some(h) = handle {
            let _ = h.join();
        }
        Ok(())
    }

    /// Starts recording the keys and pointer of viewers that connect to
    /// `listen`, proxied to `target` (or, without one, to the server of
    /// the screen recording `name`), into `dir/name.kb`.
    pub fn add_kb(
        &self,
        name: &str,
        target: Option<Target>,
        listen: &str,
    ) -> Result<String, String> {
        check_name(name)?;
        let target = match target {
            Some(t) => t,
            None => lock(&self.map)
                .get(name)
                .map(|s| s.job.target.clone())
                .ok_or_else(|| {
                    format!("no screen recording is named {name:?}: give add-kb {name}=TARGET")
                })?,
        };
        let started = self.kb.add(&self.dir, name, target.clone(), listen)?;
        let mut answer = format!(
            "ok: {name}: point a VNC viewer at {} (it reaches {target}); keys and pointer go to {}",
            started.listen,
            started.file.display()
        );
        if !started.listen.ip().is_loopback() {
            let warning = format!(
                "warning: listening on {}, which other machines can reach: whoever connects uses {target} through it (--listen 127.0.0.1:PORT keeps it local)",
                started.listen
            );
            eprintln!("rfbplay: {name}: {warning}");
            answer = format!("{answer} ({warning})");
        }
        Ok(answer)
    }

    /// Stops the kb recording `name`.
    pub fn stop_kb(&self, name: &str) -> Result<(), String> {
        self.kb.stop(name)
    }

    /// Stops every recording, screen and kb; how many were still running.
    pub fn stop_all(&self) -> usize {
        self.stop_all_fb() + self.kb.stop_all()
    }

    fn stop_all_fb(&self) -> usize {
        let names: Vec<String> = lock(&self.map).keys().cloned().collect();
        let mut running = 0;
        for n in names {
            let was_running = lock(&self.map)
                .get(&n)
                .is_some_and(|s| s.handle.is_some() && lock(&s.shared).result.is_none());
            if self.stop(&n).is_ok() && was_running {
                running += 1;
            }
        }
        running
    }

    /// Every recording, as one JSON object: `{"recordings": [...]}`.
    pub fn list(&self) -> serde_json::Value {
        let map = lock(&self.map);
        let rows: Vec<serde_json::Value> = map
            .values()
            .map(|s| {
                let sh = lock(&s.shared);
                let (state, error) = match &sh.result {
                    Some(Ok(summary)) => match &summary.end {
                        super::ConnEnd::ServerGone(Some(e)) => {
                            ("failed", Some(Chain(e).to_string()))
                        }
                        _ => ("ended", None),
                    },
                    Some(Err(e)) => ("failed", Some(Chain(e).to_string())),
                    None if sh.status.as_ref().is_some_and(|st| st.connected) => {
                        ("recording", None)
                    }
                    None if sh.connected => ("reconnecting", sh.retrying.clone()),
                    None => ("connecting", sh.retrying.clone()),
                };
                let st = sh.status.as_ref();
                serde_json::json!({
                    "type": "fb",
                    "name": s.job.name,
                    "target": s.job.target.to_string(),
                    "file": st.map_or(&s.job.out, |st| &st.file),
                    "state": state,
                    "error": error,
                    "updates": st.map_or(0, |st| st.updates),
                    "file_bytes": st.map_or(0, |st| st.file_bytes),
                    "elapsed_s": st.map_or(0.0, |st| st.elapsed.as_secs_f64()),
                    "width": st.map_or(0, |st| st.width),
                    "height": st.map_or(0, |st| st.height),
                })
            })
            .chain(self.kb.rows())
            .collect();
        serde_json::json!({ "recordings": rows })
    }

    /// Stops everything and hands back how each recording went.
    pub fn finish(&self) -> Vec<Ended> {
        self.stop_all();
        let mut map = lock(&self.map);
        std::mem::take(&mut *map)
            .into_values()
            .map(|s| Ended {
                result: lock(&s.shared).result.take(),
                job: s.job,
            })
            .collect()
    }

    /// The answer to one request line.
    pub fn answer(&self, line: &str) -> String {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["list"] | ["list", "--json"] => self.list().to_string(),
            ["add-kb", spec, "--listen", listen] | ["add-kb", "--listen", listen, spec] => {
                let (name, target) = match spec.split_once('=') {
                    Some((name, target)) => match target.parse::<Target>() {
                        Ok(t) => (name, Some(t)),
                        Err(e) => return format!("error: {e}"),
                    },
                    None => (*spec, None),
                };
                match self.add_kb(name, target, listen) {
                    Ok(answer) => answer,
                    Err(e) => format!("error: {e}"),
                }
            }
            ["add-kb", ..] => "error: add-kb takes NAME[=TARGET] --listen HOST:PORT".into(),
            ["stop-kb", name] => match self.stop_kb(name) {
                Ok(()) => format!("ok: stopped {name}'s kb recording"),
                Err(e) => format!("error: {e}"),
            },
            ["add", spec] => {
                let Some((name, target)) = spec.split_once('=') else {
                    return "error: add takes NAME=TARGET".into();
                };
                let target: Target = match target.parse() {
                    Ok(t) => t,
                    Err(e) => return format!("error: {e}"),
                };
                match self.add(name, target.clone()) {
                    Ok(file) => format!("ok: {name} records {target} to {}", file.display()),
                    Err(e) => format!("error: {e}"),
                }
            }
            ["stop", "--all"] => match self.stop_all() {
                1 => "ok: stopped 1 recording".into(),
                n => format!("ok: stopped {n} recordings"),
            },
            ["stop", name] => match self.stop(name) {
                Ok(()) => format!("ok: stopped {name}"),
                Err(e) => format!("error: {e}"),
            },
            _ => format!(
                "error: unknown request {line:?} (list, add NAME=TARGET, stop NAME, add-kb NAME[=TARGET] --listen ADDR, stop-kb NAME, stop --all)"
            ),
        }
    }
}

/// A name becomes NAME.fb and NAME.kb in the recording directory.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\', ':', '=', ' ']) {
        return Err(format!(
            "{name:?} cannot name a recording (it becomes NAME.fb: no '/', ':', '=', spaces, or leading '.')"
        ));
    }
    Ok(())
}

/// A control socket being served; the socket file is removed on drop if
/// it is still the one made here.
pub struct ControlSocket {
    path: PathBuf,
    ino: u64,
}

/// A control socket that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{} is in use by another recorder or playback", path.display())]
    InUse { path: PathBuf },
    #[error("{} exists and is not a socket; it is left alone", path.display())]
    NotASocket { path: PathBuf },
    #[error("cannot make the control socket {}", path.display())]
    Bind { path: PathBuf, source: io::Error },
}

impl ControlSocket {
    /// Listens on `path` (owner-only) and answers each connection's one
    /// request from `sessions`, on a thread of its own.
    pub fn serve(path: &Path, sessions: Arc<Sessions>) -> Result<ControlSocket, ControlError> {
        let bind_err = |source| ControlError::Bind {
            path: path.to_path_buf(),
            source,
        };
        if let Ok(m) = std::fs::symlink_metadata(path) {
            if !m.file_type().is_socket() {
                return Err(ControlError::NotASocket {
                    path: path.to_path_buf(),
                });
            }
            if UnixStream::connect(path).is_ok() {
                return Err(ControlError::InUse {
                    path: path.to_path_buf(),
                });
            }
            // A stale socket, left by a recorder that was killed.
            std::fs::remove_file(path).map_err(bind_err)?;
        }
        // Made private under another name, then renamed into place, so
        // the socket is never reachable with looser permissions.
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let tmp = path.with_file_name(format!(
            ".{}.{}.tmp",
            name.unwrap_or_default(),
            std::process::id()
        ));
        let listener = UnixListener::bind(&tmp).map_err(bind_err)?;
        let placed = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&tmp);
            return Err(bind_err(e));
        }
        let ino = std::fs::symlink_metadata(path).map_err(bind_err)?.ino();
        std::thread::Builder::new()
            .name("record-control".into())
            .spawn(move || {
                for conn in listener.incoming().flatten() {
                    let sessions = Arc::clone(&sessions);
                    // Each on its own thread: `stop` waits for a file to close.
                    let _ = std::thread::Builder::new()
                        .name("record-control-conn".into())
                        .spawn(move || serve_one(conn, &sessions));
                }
            })
            .map_err(bind_err)?;
        Ok(ControlSocket {
            path: path.to_path_buf(),
            ino,
        })
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_socket() && m.ino() == self.ino);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn serve_one(conn: UnixStream, sessions: &Sessions) -> io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut line = String::new();
    BufReader::new((&conn).take(MAX_REQUEST)).read_line(&mut line)?;
    let answer = sessions.answer(line.trim_end_matches(['\r', '\n']));
    (&conn).write_all(format!("{answer}\n").as_bytes())
}
