//! Keyboard/mouse recordings that come and go while `record --control`
//! runs: `rfbplay ctl SOCK add-kb NAME --listen ADDR` and `stop-kb NAME`.
//!
//! Each is the `record-kb` proxy ([`crate::kb::record::Recorder`]) on its
//! own thread: a viewer connects to the listen address, reaches the
//! server through it, and its events go to `DIR/NAME.kb` (`NAME.1.kb`,
//! ... when that exists, so nothing is written over). Viewers are served
//! one at a time, as with `record-kb`; a server that turns one viewer
//! away is noted and the next viewer is tried. A failing session touches
//! no other.

use crate::client::{Chain, Target};
use crate::kb::record::{RecordError, Recorder};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// What a kb recording has done, for `list`.
#[derive(Debug, Default)]
struct Shared {
    viewers: u32,
    keys: u64,
    pointers: u64,
    /// The last problem with a viewer or the server.
    error: Option<String>,
    /// Set when it has ended, with its fatal error if any.
    ended: Option<Option<String>>,
}

struct KbSession {
    target: Target,
    listen: SocketAddr,
    file: PathBuf,
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Shared>>,
    handle: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The first of `DIR/NAME.kb`, `DIR/NAME.1.kb`, ... that does not exist,
/// created (never opened if it exists, so a race cannot write over one).
fn create_numbered(dir: &Path, name: &str) -> io::Result<(PathBuf, File)> {
    let base = dir.join(format!("{name}.kb"));
    for n in 0..10_000 {
        let path = super::output::numbered(&base, n);
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((path, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("{} and 9999 numbered siblings exist", base.display()),
    ))
}

/// A kb recording just started.
pub struct Started {
    pub listen: SocketAddr,
    pub file: PathBuf,
}

/// The kb recordings of one recorder process.
#[derive(Default)]
pub struct KbSessions {
    map: Mutex<BTreeMap<String, KbSession>>,
}

impl KbSessions {
    /// Listens on `listen` and records the viewers that connect there to
    /// `target` into `dir/name.kb` (numbered if it exists). A name in use
    /// by a running kb recording, or an address that cannot be listened
    /// on, is refused.
    pub fn add(
        &self,
        dir: &Path,
        name: &str,
        target: Target,
        listen: &str,
    ) -> Result<Started, String> {
        let mut map = lock(&self.map);
        if let Some(s) = map.get(name) {
            if lock(&s.shared).ended.is_none() {
                return Err(format!(
                    "{name} is already recording keys from {} (stop-kb {name} first)",
                    s.listen
                ));
            }
        }
        let listener = TcpListener::bind(listen)
            .map_err(|e| format!("--listen {listen}: cannot listen: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("--listen {listen}: {e}"))?;
        let (file, out) = create_numbered(dir, name)
            .map_err(|e| format!("{}: cannot create: {e}", dir.join(name).display()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let handle = {
            let (stop, shared, target) = (Arc::clone(&stop), Arc::clone(&shared), target.clone());
            std::thread::Builder::new()
                .name(format!("record-kb {name}"))
                .spawn(move || {
                    let fatal = serve(listener, out, &target, &stop, &shared);
                    lock(&shared).ended = Some(fatal);
                })
                .map_err(|e| format!("cannot start a thread: {e}"))?
        };
        map.insert(
            name.to_string(),
            KbSession {
                target,
                listen: addr,
                file: file.clone(),
                stop,
                shared,
                handle: Some(handle),
            },
        );
        Ok(Started { listen: addr, file })
    }

    /// Stops `name` (a connected viewer is disconnected) and waits for
    /// its file to be closed.
    pub fn stop(&self, name: &str) -> Result<(), String> {
        let handle = {
            let mut map = lock(&self.map);
            let s = map
                .get_mut(name)
                .ok_or_else(|| format!("no kb recording is named {name:?}"))?;
            s.stop.store(true, Ordering::Relaxed);
            s.handle.take()
        };
        if let Some(h) = handle {
            let _ = h.join();
        }
        Ok(())
    }

    /// Stops every kb recording; how many were still running.
    pub fn stop_all(&self) -> usize {
        let names: Vec<String> = lock(&self.map).keys().cloned().collect();
        let mut running = 0;
        for n in names {
            let was_running = lock(&self.map)
                .get(&n)
                .is_some_and(|s| s.handle.is_some() && lock(&s.shared).ended.is_none());
            if self.stop(&n).is_ok() && was_running {
                running += 1;
            }
        }
        running
    }

    /// One `list` row per kb recording.
    pub fn rows(&self) -> Vec<serde_json::Value> {
        lock(&self.map)
            .iter()
            .map(|(name, s)| {
                let sh = lock(&s.shared);
                let (state, error) = match &sh.ended {
                    Some(Some(e)) => ("failed", Some(e.clone())),
                    Some(None) => ("ended", sh.error.clone()),
                    None => ("recording", sh.error.clone()),
                };
                serde_json::json!({
                    "type": "kb",
                    "name": name,
                    "target": s.target.to_string(),
                    "listen": s.listen.to_string(),
                    "file": s.file,
                    "state": state,
                    "error": error,
                    "viewers": sh.viewers,
                    "keys": sh.keys,
                    "pointers": sh.pointers,
                    "file_bytes": std::fs::metadata(&s.file).map_or(0, |m| m.len()),
                })
            })
            .collect()
    }
}

/// Records viewers until `stop`; the error that ended it, if one did.
fn serve(
    listener: TcpListener,
    mut out: File,
    target: &Target,
    stop: &AtomicBool,
    shared: &Mutex<Shared>,
) -> Option<String> {
    let mut rec = Recorder::new(&mut out);
    while !stop.load(Ordering::Relaxed) {
        match rec.record_viewer(&listener, target, stop) {
            Ok(Some(s)) => {
                let mut sh = lock(shared);
                sh.viewers += 1;
                sh.keys += s.keys;
                sh.pointers += s.pointers;
                if let Some(lost) = s.lost {
                    sh.error = Some(format!("viewer {}: stopped logging: {lost}", s.viewer));
                }
            }
            Ok(None) => break,
            // A server that refused one viewer may take the next.
            Err(e @ RecordError::Connect { .. }) => {
                let mut sh = lock(shared);
                sh.viewers += 1;
                sh.error = Some(Chain(&e).to_string());
            }
            Err(e) => return Some(Chain(&e).to_string()),
        }
    }
    None
}
