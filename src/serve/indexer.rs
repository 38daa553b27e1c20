//! Seek indexes built by the server: when a viewer seeks in a long
//! recording that has no saved index, the server builds one in the
//! background (the same [`Index::build`] and cache as `rfbplay index`), so
//! that later seeks start at the checkpoint before the time asked for
//! instead of the file's start. One build runs at a time in the whole
//! server; a recording is tried once per run; live recordings, which
//! change, are not indexed.

use crate::index::Index;
use crate::progress::NoProgress;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Recordings shorter than this gain nothing from an index: it takes a
/// checkpoint every 60 s of recording.
pub const MIN_SECONDS: f64 = 60.0;

#[derive(Default)]
pub struct Indexer {
    busy: AtomicBool,
    tried: Mutex<HashSet<PathBuf>>,
}

impl Indexer {
    /// A viewer sought in `file`, which lasts `duration_s`: start building
    /// its index unless it has one, was tried, or another build runs.
    pub fn sought(self: &Arc<Self>, file: &Path, duration_s: f64) {
        if duration_s < MIN_SECONDS || self.tried.lock().expect("not poisoned").contains(file) {
            return;
        }
        if self
            .busy
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        self.tried
            .lock()
            .expect("not poisoned")
            .insert(file.to_path_buf());
        let (me, file) = (self.clone(), file.to_path_buf());
        let started = std::thread::Builder::new()
            .name("rfbplay-index".into())
            .spawn(move || {
                if Index::load(&file).is_err() {
                    // A failed build or save leaves seeks as they were:
                    // decoding from the start, never a wrong frame.
                    if let Ok(built) = Index::build(&file, &NoProgress) {
                        let _ = built.index.save();
                    }
                }
                me.busy.store(false, Ordering::SeqCst);
            });
        if started.is_err() {
            self.busy.store(false, Ordering::SeqCst);
        }
    }
}
