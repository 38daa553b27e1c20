//! Batch work over a folder of recordings: find them by content (not by
//! name), give each an output path that mirrors the input tree, take this
//! machine's share of a larger job (`--shard K/N`), skip outputs that are
//! already up to date so an interrupted batch resumes, and run the files on
//! all cores through rayon's work-stealing pool. A file that fails never
//! stops the others; every file gets an outcome for the summary.

use crate::container::Format;
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// One recording found under the input folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub input: PathBuf,
    /// Its path below the input folder.
    pub relative: PathBuf,
}

/// Whether a file starts like a recording rfbplay reads.
pub fn is_recording(path: &Path) -> bool {
    let mut head = [0u8; 12];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got > 0 && Format::detect(&head[..got]).is_some()
}

/// Every recording below `root`, recursively, in path order. Hidden files
/// and folders (rfbplay's own partial outputs among them) are passed over;
/// links are followed only to files.
pub fn discover(root: &Path) -> std::io::Result<Vec<Job>> {
    let mut jobs = files_below(root)?;
    jobs.retain(|j| is_recording(&j.input));
    Ok(jobs)
}

/// Every file below `root`, recursively, in path order, by the rules of
/// [`discover`] but whatever its content.
pub fn files_below(root: &Path) -> std::io::Result<Vec<Job>> {
    let mut jobs = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
                let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
                jobs.push(Job {
                    input: path,
                    relative,
                });
            }
        }
    }
    jobs.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(jobs)
}

/// This machine's share of a job split N ways: `K/N`, K from 1 to N. Files
/// are assigned by a hash of their relative path, so a share does not move
/// when other files come and go, and the N shares cover every file once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub k: u32,
    pub n: u32,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not K/N (for example 3/16)"))?;
        let k: u32 = k
            .trim()
            .parse()
            .map_err(|_| format!("'{k}' is not a number"))?;
        let n: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("'{n}' is not a number"))?;
        if n == 0 || k == 0 || k > n {
            return Err(format!("'{s}': K must be from 1 to N, and N at least 1"));
        }
        Ok(Shard { k, n })
    }
}

impl Shard {
    /// Whether `job` belongs to this share.
    pub fn has(&self, job: &Job) -> bool {
        // FNV-1a over the path's bytes: stable across runs and machines.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in job.relative.to_string_lossy().bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h % u64::from(self.n) == u64::from(self.k - 1)
    }
}

/// Where `job`'s output goes: the same relative path under `out_root`, with
/// its extension replaced by `ext`.
pub fn output_for(job: &Job, out_root: &Path, ext: &str) -> PathBuf {
    out_root.join(&job.relative).with_extension(ext)
}

/// Whether `output` exists and is no older than `input`.
pub fn up_to_date(input: &Path, output: &Path) -> bool {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    match (modified(input), modified(output)) {
        (Some(i), Some(o)) => o >= i,
        _ => false,
    }
}

/// How one file went.
#[derive(Clone, Debug, Serialize, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Done; `warning` when the recording was cut (as minimega's all are).
    Ok,
    /// The output was already up to date.
    Skipped,
    Failed,
}

/// One line of the batch summary (`--json`).
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub file: PathBuf,
    pub output: Option<PathBuf>,
    pub status: Status,
    /// The recording's duration, when it was read.
    pub duration_s: Option<f64>,
    pub seconds: f64,
    pub warning: Option<String>,
    pub error: Option<String>,
}

/// What the work on one file reports.
pub struct Done {
    pub duration_s: Option<f64>,
    pub warning: Option<String>,
    /// The work failed: the error, in words.
    pub error: Option<String>,
    /// Nothing needed doing (the output was already up to date).
    pub skipped: bool,
}

/// A work-stealing pool of `threads` threads (0: one per core), for every
/// command that takes many files at once.
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool")
}

/// The order to start jobs in: largest input first. A pool that takes the
/// next file as each one ends then finishes with short files, instead of
/// one core working through a long recording while the others idle.
pub fn largest_first(jobs: &[(Job, Option<PathBuf>)]) -> Vec<usize> {
    let size = |j: &Job| std::fs::metadata(&j.input).map_or(0, |m| m.len());
    let sizes: Vec<u64> = jobs.iter().map(|(j, _)| size(j)).collect();
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i]));
    order
}

/// Runs `work` on every job on `threads` threads (0: all cores), largest
/// input first (see [`largest_first`]), each thread taking the next file as
/// it finishes one, calling `finished` as each file ends (for progress).
/// Outcomes come back in job order.
pub fn run<W, F>(
    jobs: &[(Job, Option<PathBuf>)],
    threads: usize,
    skip_up_to_date: bool,
    work: W,
    finished: F,
) -> Vec<Outcome>
where
    W: Fn(&Job, Option<&Path>) -> Done + Sync,
    F: Fn(&Outcome) + Sync,
{
    let pool = pool(threads);
    let order = largest_first(jobs);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(jobs.len()));
    let take = || {
        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        order.get(k).map(|&i| (i, &jobs[i]))
    };
    pool.broadcast(|_| {
        while let Some((i, (job, out))) = take() {
            let started = Instant::now();
            let outcome =
                if skip_up_to_date && out.as_deref().is_some_and(|o| up_to_date(&job.input, o)) {
                    Outcome {
                        file: job.input.clone(),
                        output: out.clone(),
                        status: Status::Skipped,
                        duration_s: None,
                        seconds: 0.0,
                        warning: None,
                        error: None,
                    }
                } else {
                    let done = work(job, out.as_deref());
                    Outcome {
                        file: job.input.clone(),
                        output: out.clone(),
                        status: if done.error.is_some() {
                            Status::Failed
                        } else if done.skipped {
                            Status::Skipped
                        } else {
                            Status::Ok
                        },
                        duration_s: done.duration_s,
                        seconds: started.elapsed().as_secs_f64(),
                        warning: done.warning,
                        error: done.error,
                    }
                };
            finished(&outcome);
            results.lock().expect("not poisoned").push((i, outcome));
        }
    });
    let mut results = results.into_inner().expect("not poisoned");
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, o)| o).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_files_start_first_and_outcomes_keep_job_order() {
        let dir = std::env::temp_dir().join(format!("rfbplay-batch-order-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let jobs: Vec<(Job, Option<PathBuf>)> = [3usize, 10, 1, 7]
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                let input = dir.join(format!("{i}.fb"));
                std::fs::write(&input, vec![0u8; len]).unwrap();
                let relative = PathBuf::from(format!("{i}.fb"));
                (Job { input, relative }, None)
            })
            .collect();
        assert_eq!(largest_first(&jobs), [1, 3, 0, 2]);
        let started = Mutex::new(Vec::new());
        let outcomes = run(
            &jobs,
            1,
            false,
            |job, _| {
                started.lock().unwrap().push(job.relative.clone());
                Done {
                    duration_s: None,
                    warning: None,
                    error: None,
                    skipped: false,
                }
            },
            |_| {},
        );
        let names = |v: &[PathBuf]| {
            v.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&started.into_inner().unwrap()),
            ["1.fb", "3.fb", "0.fb", "2.fb"]
        );
        let files: Vec<PathBuf> = outcomes.iter().map(|o| o.file.clone()).collect();
        assert_eq!(
            files,
            jobs.iter()
                .map(|(j, _)| j.input.clone())
                .collect::<Vec<_>>()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shards_cover_every_file_once() {
        let jobs: Vec<Job> = (0..200)
            .map(|i| Job {
                input: PathBuf::from(format!("/r/{i}.fb")),
                relative: PathBuf::from(format!("lab{}/vm{i}.fb", i % 7)),
            })
            .collect();
        for n in [1u32, 2, 3, 16] {
            let mut count = vec![0; jobs.len()];
            for k in 1..=n {
                let s = Shard { k, n };
                for (i, j) in jobs.iter().enumerate() {
                    if s.has(j) {
                        count[i] += 1;
                    }
                }
            }
            assert!(count.iter().all(|&c| c == 1), "n={n}");
        }
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert_eq!("3/16".parse::<Shard>().unwrap(), Shard { k: 3, n: 16 });
    }

    #[test]
    fn outputs_mirror_the_tree() {
        let job = Job {
            input: PathBuf::from("/in/lab/vm1.fb"),
            relative: PathBuf::from("lab/vm1.fb"),
        };
        assert_eq!(
            output_for(&job, Path::new("/out"), "mp4"),
            PathBuf::from("/out/lab/vm1.mp4")
        );
    }
}
