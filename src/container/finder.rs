//! Access points found beside playback, for seek index builds.
//!
//! An index build must know, at each checkpoint, a deflate block boundary
//! before it (see [`super::access`]); only miniz_oxide's inflater can say
//! where those are, and it inflates more slowly than the zlib-rs one that
//! plain playback runs on a thread of its own ([`super::gzip_thread`]).
//! So an index build reads the file twice at once: playback as usual, and
//! on a third thread a tracking inflater that keeps no output (it only
//! counts it) and sets aside an access point, with its 32 KiB window,
//! about every [`SPACING`] bytes of output. The playing reader takes the
//! last one before the place it asks about, waiting if the finder has not
//! got there yet; the finder keeps at most [`LEAD`] bytes ahead of the
//! reader, so the points it holds stay few.
//!
//! On two cores the three threads share the work: an index build then
//! costs about as much as plain playback plus the finder's inflate spread
//! over both cores, instead of playback on the slower inflater alone.

use super::access::AccessPoint;
use super::gzip::GzipReader;
use std::collections::VecDeque;
use std::io::{BufRead, ErrorKind, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Output between the access points set aside: a seek from one inflates
/// at most about this much (plus a block) before the checkpoint.
const SPACING: u64 = 1 << 20;
/// How far the finder may inflate ahead of the reader.
const LEAD: u64 = 96 << 20;

#[derive(Default)]
struct State {
    /// Ascending by output offset.
    points: VecDeque<AccessPoint>,
    /// Output the finder has inflated.
    reached: u64,
    /// The finder ended: end of stream, cut, damage or a failed thread.
    done: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    /// How far the reader has read (output bytes), for the finder's lead.
    reader_at: AtomicU64,
    stop: AtomicBool,
}

/// A thread that finds access points in a gzip stream.
pub struct AccessFinder {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl AccessFinder {
    /// Starts finding access points in `src`, a second reader of the same
    /// gzip file from its first byte.
    pub fn spawn<R: BufRead + Send + 'static>(src: R) -> AccessFinder {
        let shared = Arc::new(Shared::default());
        let mine = shared.clone();
        let thread = std::thread::Builder::new()
            .name("rfbplay-access".into())
            .spawn(move || {
                find(GzipReader::counting(src), &mine);
                mine.state.lock().unwrap_or_else(|e| e.into_inner()).done = true;
                mine.changed.notify_all();
            });
        let thread = match thread {
            Ok(t) => Some(t),
            Err(_) => {
                shared.state.lock().unwrap_or_else(|e| e.into_inner()).done = true;
                None
            }
        };
        AccessFinder { shared, thread }
    }

    /// The reader has read up to output offset `out`.
    pub fn reader_at(&self, out: u64) {
        self.shared.reader_at.store(out, Ordering::Relaxed);
    }

    /// The last access point set aside at or before output offset `out`,
    /// waiting until the finder has passed it; None when the finder
    /// stopped before (damage the reader has not reached yet, say).
    pub fn access_point_before(&self, out: u64) -> Option<AccessPoint> {
        self.reader_at(out);
        let mut st = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        while st.reached < out && !st.done {
            st = self
                .shared
                .changed
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
        let k = st.points.partition_point(|p| p.out <= out).checked_sub(1)?;
        // Points before it will not be asked for again: the reader only
        // moves on.
        st.points.drain(..k);
        st.points.front().cloned()
    }
}

impl Drop for AccessFinder {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn find<R: BufRead>(mut gz: GzipReader<R>, shared: &Shared) {
    let mut scratch = vec![0u8; 1 << 20];
    let mut reached = 0u64;
    let mut next = 0;
    while !shared.stop.load(Ordering::Relaxed) {
        if reached
            > shared
                .reader_at
                .load(Ordering::Relaxed)
                .saturating_add(LEAD)
        {
            std::thread::park_timeout(Duration::from_millis(2));
            continue;
        }
        let n = match gz.read(&mut scratch) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        reached += n as u64;
        let point = (reached >= next)
            .then(|| gz.access_point_before(reached))
            .flatten();
        let mut st = shared.state.lock().unwrap_or_else(|e| e.into_inner());
        st.reached = reached;
        if let Some(p) = point {
            next = reached + SPACING;
            if st.points.back().is_none_or(|last| last.out < p.out) {
                st.points.push_back(p);
            }
        }
        drop(st);
        shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::{BufReader, Write};

    fn data(n: usize) -> Vec<u8> {
        let mut x = 7u32;
        (0..n)
            .map(|i| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if (i / 7000) % 3 == 0 {
                    (x >> 24) as u8
                } else {
                    (i % 11) as u8
                }
            })
            .collect()
    }

    #[test]
    fn points_found_beside_reading_resume_to_the_same_bytes() {
        let d = data(6_000_000);
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(&d).unwrap();
        let file = e.finish().unwrap();
        let finder = AccessFinder::spawn(BufReader::new(std::io::Cursor::new(file.clone())));
        let mut seen = 0;
        for at in (500_000..d.len() as u64).step_by(700_000) {
            let ap = finder.access_point_before(at).expect("a point");
            assert!(
                ap.out <= at && at - ap.out < 3 * SPACING,
                "{} for {at}",
                ap.out
            );
            let src = BufReader::new(&file[ap.compressed as usize..]);
            let mut rest = Vec::new();
            GzipReader::resume(src, &ap).read_to_end(&mut rest).unwrap();
            assert_eq!(rest, d[ap.out as usize..], "resumed at {}", ap.out);
            seen += 1;
        }
        assert!(seen >= 7);
        // Past the end: the finder is done and answers with its last point.
        assert!(finder.access_point_before(u64::MAX).is_some());
    }

    #[test]
    fn a_finder_dropped_early_stops() {
        let d = data(3_000_000);
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::new(1));
        e.write_all(&d).unwrap();
        let file = e.finish().unwrap();
        let finder = AccessFinder::spawn(BufReader::new(std::io::Cursor::new(file)));
        drop(finder);
    }
}
