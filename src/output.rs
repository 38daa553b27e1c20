//! Outputs never harm inputs. Every file rfbplay writes goes through here:
//! the output path is resolved (links followed) and compared with every
//! input by path and by inode, and the bytes go to a temporary file in the
//! same folder that is renamed into place only when complete, so an
//! interrupted run never leaves half a file under the final name and a
//! failed one leaves the old file as it was.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The temporary files being written now, removed if a signal ends the
/// process ([`clean_up_on_signals`]).
static PARTIALS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn partials() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    PARTIALS.lock().unwrap_or_else(|e| e.into_inner())
}

/// From now on, SIGINT, SIGTERM or SIGHUP removes every temporary file
/// being written and ends the process (exit status 128 + the signal), so
/// an interrupted run leaves neither half a file under the final name nor
/// a temporary one beside it. For commands that have no shutdown of their
/// own (the recorders keep theirs).
pub fn clean_up_on_signals() -> io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("rfbplay-signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                // The list stays locked until the process is gone, so no
                // thread creates a listed file again after it is removed
                // (see [`creating`]).
                let mut list = partials();
                for path in list.drain(..) {
                    let _ = std::fs::remove_file(path);
                }
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

/// Runs `create`, which creates the temporary file of a staged output by
/// itself (FFmpeg opening it by name), so that a signal's clean-up either
/// comes after it, and removes the file, or stops the process before it.
pub fn creating<T>(create: impl FnOnce() -> T) -> T {
    let _list = partials();
    create()
}

/// Why an output cannot be written where asked.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("{}: refusing to write over the input {}", out.display(), input.display())]
    IsInput { out: PathBuf, input: PathBuf },
    #[error("{}: cannot create a temporary file beside it", path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: cannot move the finished file into place", path.display())]
    Commit {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "{}: unknown image format {ext:?}; use .png, .jpg, .jpeg or .webp (or - for PNG on standard output)",
        path.display()
    )]
    ImageFormat { path: PathBuf, ext: String },
}

/// A file identity: where it really is, and its device and inode.
#[derive(Debug)]
struct Identity {
    given: PathBuf,
    canonical: Option<PathBuf>,
    inode: Option<(u64, u64)>,
}

fn inode(meta: &std::fs::Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// Where `path` would land: its canonical form if it exists (links
/// followed), else its folder's canonical form plus its name.
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(c) = path.canonicalize() {
        return Some(c);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    parent.canonicalize().ok().map(|p| p.join(name))
}

/// The inputs of one command, to keep outputs off them.
#[derive(Debug, Default)]
pub struct Inputs {
    files: Vec<Identity>,
}

impl Inputs {
    pub fn new<P: AsRef<Path>>(paths: &[P]) -> Inputs {
        let mut inputs = Inputs::default();
        for p in paths {
            inputs.add(p.as_ref());
        }
        inputs
    }

    pub fn add(&mut self, path: &Path) {
        self.files.push(Identity {
            given: path.to_path_buf(),
            canonical: resolve(path),
            inode: std::fs::metadata(path).ok().as_ref().and_then(inode),
        });
    }

    /// Refuses an output that is, or leads to, one of the inputs.
    pub fn check(&self, out: &Path) -> Result<(), OutputError> {
        let canonical = resolve(out);
        let ino = std::fs::metadata(out).ok().as_ref().and_then(inode);
        for input in &self.files {
            let same_path = canonical.is_some() && canonical == input.canonical;
            let same_inode = ino.is_some() && ino == input.inode;
            if same_path || same_inode {
                return Err(OutputError::IsInput {
                    out: out.to_path_buf(),
                    input: input.given.clone(),
                });
            }
        }
        Ok(())
    }
}

/// A file being written under a temporary name beside its final one.
/// Dropped without [`Staged::commit`], it removes the temporary file and
/// leaves the final name untouched.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    temp: PathBuf,
    committed: bool,
}

impl Staged {
    /// Prepares to write `path`; the temporary name keeps the extension,
    /// so tools that pick a format by it (FFmpeg) still can.
    pub fn new(path: &Path) -> Staged {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (stem, ext) = match name.rsplit_once('.') {
            Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
            _ => (name.clone(), String::new()),
        };
        let temp = path.with_file_name(format!(
            ".{stem}.rfbplay-{}-partial{ext}",
            std::process::id()
        ));
        Staged {
            path: path.to_path_buf(),
            temp,
            committed: false,
        }
    }

    /// Creates the temporary file, listed for removal if a signal ends
    /// the process ([`clean_up_on_signals`]).
    pub fn create(path: &Path) -> Result<(Staged, File), OutputError> {
        let staged = Staged::new(path);
        let mut list = partials();
        list.push(staged.temp.clone());
        let file = File::create(&staged.temp).map_err(|source| OutputError::Create {
            path: path.to_path_buf(),
            source,
        });
        drop(list);
        Ok((staged, file?))
    }

    /// Where the bytes go until commit.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// The final name.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves the finished file to its final name.
    pub fn commit(mut self) -> Result<(), OutputError> {
        std::fs::rename(&self.temp, &self.path).map_err(|source| OutputError::Commit {
            path: self.path.clone(),
            source,
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
        let mut partials = partials();
        if let Some(i) = partials.iter().position(|p| *p == self.temp) {
            partials.swap_remove(i);
        }
    }
}

/// Where a single image goes, and in which format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    /// Lossless WebP.
    WebP,
}

/// The image format a path asks for by its extension; `-` (standard
/// output) and a path without an extension mean PNG.
pub fn image_kind(path: &Path) -> Result<ImageKind, OutputError> {
    if path.as_os_str() == "-" {
        return Ok(ImageKind::Png);
    }
    let Some(ext) = path.extension() else {
        return Ok(ImageKind::Png);
    };
    let ext = ext.to_string_lossy().to_ascii_lowercase();
    match ext.as_str() {
        "png" => Ok(ImageKind::Png),
        "jpg" | "jpeg" => Ok(ImageKind::Jpeg),
        "webp" => Ok(ImageKind::WebP),
        _ => Err(OutputError::ImageFormat {
            path: path.to_path_buf(),
            ext,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rfbplay-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn refuses_the_input_by_path_link_and_hard_link() {
        let d = tmpdir("refuse");
        let input = d.join("a.fb");
        std::fs::write(&input, b"x").unwrap();
        let inputs = Inputs::new(&[&input]);
        assert!(inputs.check(&input).is_err());
        assert!(inputs.check(&d.join(".").join("a.fb")).is_err());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&input, d.join("link.mp4")).unwrap();
            assert!(inputs.check(&d.join("link.mp4")).is_err());
            std::fs::hard_link(&input, d.join("hard.png")).unwrap();
            assert!(inputs.check(&d.join("hard.png")).is_err());
        }
        assert!(inputs.check(&d.join("other.png")).is_ok());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn staged_files_appear_only_on_commit() {
        let d = tmpdir("staged");
        let out = d.join("shot.png");
        {
            let (staged, _f) = Staged::create(&out).unwrap();
            assert!(staged.temp_path().exists());
            assert!(staged.temp_path().to_string_lossy().ends_with(".png"));
        }
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 0, "temp removed");
        let (staged, _f) = Staged::create(&out).unwrap();
        staged.commit().unwrap();
        assert!(out.exists());
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn image_kind_by_extension() {
        assert_eq!(image_kind(Path::new("a.PNG")).unwrap(), ImageKind::Png);
        assert_eq!(image_kind(Path::new("a.jpeg")).unwrap(), ImageKind::Jpeg);
        assert_eq!(image_kind(Path::new("-")).unwrap(), ImageKind::Png);
        assert!(image_kind(Path::new("a.bmp")).is_err());
    }
}
