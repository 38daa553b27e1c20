//! Where recordings go: the `.fb` file of each connection, and a byte
//! count of what reached it for the status line.
//!
//! A reconnection starts new zlib streams on the server (Zlib, Tight and
//! ZRLE keep theirs for a whole connection, docs/formats.md section 5), so its
//! bytes cannot continue the previous file: each connection gets its own
//! file, numbered `lin1.fb`, `lin1.1.fb`, `lin1.2.fb`, ...

use crate::container::writer::FbWriter;
use std::fs::File;
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

/// Creates (or truncates) `path` for a new recording.
pub fn create(path: &Path, level: u32) -> io::Result<FileWriter> {
    let file = File::create(path)?;
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
}
