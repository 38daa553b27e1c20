//! Where recordings go: the `.fb` file of each connection, and a byte
//! count of what reached it for the status line.
//!
//! An existing file is never replaced unless asked (`--force`), and never
//! when it is one of the recorder's inputs (the password file). A replaced
//! file is not written through: the new recording is created beside it and
//! renamed over it, so a symlink or a second hard link to the old file is
//! left alone. The recording is written in place from the first chunk on,
//! so a killed recorder leaves a decodable (truncated) file under its name.
//!
//! A reconnection starts new zlib streams on the server (Zlib, Tight and
//! ZRLE keep theirs for a whole connection, docs/formats.md section 5), so its
//! bytes cannot continue the previous file: each connection gets its own
//! file, numbered `lin1.fb`, `lin1.1.fb`, `lin1.2.fb`, ...

use super::RecordError;
use crate::container::writer::FbWriter;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The file for the `n`th connection (0 is `path` itself).
pub fn numbered(path: &Path, n: u32) -> PathBuf {
    if n == 0 {
        return path.to_path_buf();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    let name = match (stem, path.extension()) {
        (Some(stem), Some(ext)) => format!("{stem}.{n}.{}", ext.to_string_lossy()),
        (Some(stem), None) => format!("{stem}.{n}"),
        (None, _) => format!("{n}.fb"),
    };
    path.with_file_name(name)
}

/// A writer that counts the bytes passed through it.
#[derive(Debug)]
pub struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Counting<W> {
    pub fn new(inner: W) -> Counting<W> {
        Counting { inner, written: 0 }
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(b)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The container writer the recorder uses.
pub type FileWriter = FbWriter<Counting<File>>;

/// What may happen to existing files.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Replace an existing recording (`--force`).
    pub replace: bool,
    /// Files never to write over, whatever `replace` says, each with what
    /// it is for messages ("the password file").
    pub inputs: Vec<(PathBuf, &'static str)>,
}

/// Whether `a` and `b` name the same file: the same inode when both exist,
/// else the same absolute path (`..` and symlinks in the folders resolved).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    match (resolve(a), resolve(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// The absolute path of `p`, its folder resolved (the file may not exist).
fn resolve(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let name = p.file_name()?;
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

/// Refuses `path` as an output: an input, a folder, or an existing file
/// without `policy.replace`. Called before connecting, and again when the
/// file is created.
pub fn check(path: &Path, policy: &Policy) -> Result<(), RecordError> {
    if let Some((_, what)) = policy.inputs.iter().find(|(i, _)| same_file(i, path)) {
        return Err(RecordError::IsInput {
            path: path.to_path_buf(),
            what,
        });
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(RecordError::IsFolder {
            path: path.to_path_buf(),
        }),
        Ok(_) if !policy.replace => Err(RecordError::Exists {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Before connecting: `path`, and with `numbered` the files a reconnection
/// would continue into (see [`numbered`]), must be free to write.
pub fn check_all(path: &Path, numbered_too: bool, policy: &Policy) -> Result<(), RecordError> {
    check(path, policy)?;
    if numbered_too && !policy.replace {
        if let Some(taken) = first_numbered_existing(path) {
            return Err(RecordError::Exists { path: taken });
        }
    }
    Ok(())
}

/// An existing `stem.N.ext` beside `path`, as an earlier recording with
/// `--reconnect` leaves.
fn first_numbered_existing(path: &Path) -> Option<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = number_of(path, &name)?;
            Some((n, dir.join(name)))
        })
        .collect();
    found.sort();
    found.into_iter().next().map(|(_, p)| p)
}

/// N when `name` is what [`numbered`] makes of `path` for N >= 1.
fn number_of(path: &Path, name: &str) -> Option<u32> {
    let stem = path.file_stem()?.to_string_lossy();
    let rest = name.strip_prefix(&*stem)?.strip_prefix('.')?;
    let digits = match path.extension() {
        Some(ext) => rest
            .strip_suffix(&*ext.to_string_lossy())?
            .strip_suffix('.')?,
        None => rest,
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|&n| n >= 1)
}

/// Creates `path` for a new recording, following `policy` (see the
/// module docs).
pub fn create(path: &Path, level: u32, policy: &Policy) -> Result<FileWriter, RecordError> {
    check(path, policy)?;
    let created = |source| RecordError::Create {
        path: path.to_path_buf(),
        source,
    };
    let new = |p: &Path| OpenOptions::new().write(true).create_new(true).open(p);
    let file = match new(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && policy.replace => {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let tmp = path.with_file_name(format!(
                ".{}.rfbplay-{}.tmp",
                name.unwrap_or_default(),
                std::process::id()
            ));
            let f = new(&tmp).map_err(created)?;
            if let Err(e) = std::fs::rename(&tmp, path) {
                let _ = std::fs::remove_file(&tmp);
                return Err(created(e));
            }
            f
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            return Err(RecordError::Exists {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(created(e)),
    };
    Ok(FbWriter::new(Counting::new(file), level))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering() {
        let p = Path::new("rec/lin1.fb");
        assert_eq!(numbered(p, 0), Path::new("rec/lin1.fb"));
        assert_eq!(numbered(p, 1), Path::new("rec/lin1.1.fb"));
        assert_eq!(numbered(p, 12), Path::new("rec/lin1.12.fb"));
        assert_eq!(numbered(Path::new("out"), 2), Path::new("out.2"));
    }

    #[test]
    fn counts_bytes() {
        let mut c = Counting::new(Vec::new());
        c.write_all(b"hello").unwrap();
        assert_eq!(c.written(), 5);
        assert_eq!(c.into_inner(), b"hello");
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("rfbplay-out-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn numbers_of_siblings() {
        let p = Path::new("rec/lin1.fb");
        assert_eq!(number_of(p, "lin1.1.fb"), Some(1));
        assert_eq!(number_of(p, "lin1.12.fb"), Some(12));
        assert_eq!(number_of(p, "lin1.fb"), None);
        assert_eq!(number_of(p, "lin1.x.fb"), None);
        assert_eq!(number_of(p, "lin10.1.fb"), None);
        assert_eq!(number_of(Path::new("out"), "out.3"), Some(3));
    }

    #[test]
    fn existing_files_are_refused_unless_replaced_and_inputs_always() {
        let d = tempdir("policy");
        let out = d.join("a.fb");
        let pw = d.join("pw");
        std::fs::write(&out, b"old").unwrap();
        std::fs::write(&pw, b"secret").unwrap();
        let keep = Policy::default();
        let e = create(&out, 6, &keep).err().unwrap();
        assert!(matches!(e, RecordError::Exists { .. }), "{e}");
        assert_eq!(std::fs::read(&out).unwrap(), b"old");

        // Replacing leaves a second hard link to the old file alone.
        let link = d.join("link.fb");
        std::fs::hard_link(&out, &link).unwrap();
        let replace = Policy {
            replace: true,
            inputs: vec![(pw.clone(), "the password file")],
        };
        let w = create(&out, 6, &replace).unwrap();
        w.finish().unwrap();
        assert_eq!(std::fs::read(&link).unwrap(), b"old");
        assert_ne!(std::fs::read(&out).unwrap(), b"old");

        // An input, even through another name, never.
        let alias = d.join("alias");
        std::fs::hard_link(&pw, &alias).unwrap();
        for p in [&pw, &alias, &d.join(".").join("pw")] {
            let e = create(p, 6, &replace).err().unwrap();
            assert!(matches!(e, RecordError::IsInput { .. }), "{e}");
        }
        assert_eq!(std::fs::read(&pw).unwrap(), b"secret");
        let e = create(&d, 6, &replace).err().unwrap();
        assert!(matches!(e, RecordError::IsFolder { .. }), "{e}");

        // A recording with --reconnect checks its numbered files too.
        std::fs::write(d.join("b.2.fb"), b"old").unwrap();
        let e = check_all(&d.join("b.fb"), true, &keep).unwrap_err();
        assert!(e.to_string().contains("b.2.fb"), "{e}");
        assert!(check_all(&d.join("b.fb"), false, &keep).is_ok());
        std::fs::remove_dir_all(d).unwrap();
    }
}
