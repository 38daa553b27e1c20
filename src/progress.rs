//! Progress reporting from long work. The library reports through this
//! trait; only the command line draws bars, and only on a terminal.

use crate::time::Time;

/// Receives progress of a long job. Every method has a no-op default.
pub trait Progress {
    /// Work starts; `total_bytes` is the size of the input file.
    fn start(&self, _total_bytes: u64) {}
    /// `bytes` of the input are read and the recording is at `time`.
    fn update(&self, _bytes: u64, _time: Time) {}
    fn finish(&self) {}
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {}
