//! The index file: where it lives (a cache directory, one file per
//! recording, named by a hash of the recording's canonical path), what it
//! records of the recording so a stale one is never used (size,
//! modification time, a hash of the first 64 KiB), and its layout:
//!
//! ```text
//! "RFBPIDX" 0x01, version u32, size u64, mtime_ns u64, head_hash u64,
//! tail_hash u64, path (u64 length, bytes), count u64,
//! count x (time u64, offset u64, len u64, raw_len u64, crc32 u32),
//! crc32 of all the above, then the deflated checkpoints
//! ```
//!
//! All numbers are little-endian. Every length is checked against the
//! file's size and fixed limits before anything is allocated.
//!
//! A recording that only grew since (one still being written: the same
//! first 64 KiB, and the same 64 KiB before the size the index was made
//! for) keeps its index: every checkpoint in it is still right, and
//! [`super::Index::extend`] adds the ones for what was added.

use super::codec::In;
use super::{Entry, IndexError};
use crate::time::Time;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"RFBPIDX\x01";
const VERSION: u32 = 3;
const HEAD: usize = 64 * 1024;
const MAX_PATH: u64 = 64 * 1024;
const MAX_ENTRIES: u64 = 1 << 22;
const ENTRY_LEN: u64 = 36;
/// A checkpoint inflates to at most a 16384x16384 screen and its windows.
const MAX_RAW: u64 = 16384 * 16384 * 4 + (8 << 20);

/// What an index records of its recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub size: u64,
    pub mtime_ns: u64,
    pub head_hash: u64,
    /// Hash of the 64 KiB before `size`.
    pub tail_hash: u64,
    pub path: PathBuf,
}

impl Identity {
    pub fn of(recording: &Path) -> std::io::Result<Identity> {
        let path = std::fs::canonicalize(recording)?;
        let meta = std::fs::metadata(&path)?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|m| m.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        let mut head = Vec::with_capacity(HEAD);
        File::open(&path)?
            .take(HEAD as u64)
            .read_to_end(&mut head)?;
        Ok(Identity {
            size: meta.len(),
            mtime_ns,
            head_hash: fnv1a(&head),
            tail_hash: tail_hash(&path, meta.len())?,
            path,
        })
    }
}

/// Hash of the (at most) 64 KiB of `path` before byte `end`.
fn tail_hash(path: &Path, end: u64) -> std::io::Result<u64> {
    let start = end.saturating_sub(HEAD as u64);
    let mut f = File::open(path)?;
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity(HEAD);
    f.take(end - start).read_to_end(&mut tail)?;
    Ok(fnv1a(&tail))
}

/// How an index's recording is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fit {
    /// As it was when the index was made.
    Same,
    /// It grew: the index covers its first `.0` bytes.
    Grew(u64),
}

/// FNV-1a, 64 bits: stable across Rust versions, unlike std's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `$RFBPLAY_CACHE`, else `$XDG_CACHE_HOME/rfbplay`, else
/// `~/.cache/rfbplay`.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("RFBPLAY_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("rfbplay")))
        .or_else(|| var("HOME").map(|d| d.join(".cache").join("rfbplay")))
}

/// The index file for a recording.
pub fn cache_file(recording: &Path) -> std::io::Result<PathBuf> {
    let canonical = std::fs::canonicalize(recording)?;
    let dir = cache_dir().ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no cache directory: set RFBPLAY_CACHE, XDG_CACHE_HOME or HOME",
        )
    })?;
    let key = fnv1a(canonical.as_os_str().as_encoded_bytes());
    Ok(dir.join(format!("{key:016x}.idx")))
}

pub(super) fn deflate(raw: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(raw.len() / 8),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = e.write_all(raw);
    e.finish().unwrap_or_default()
}

/// The file image for `blobs` (time, deflated checkpoint, raw length).
pub(super) fn write_image(id: &Identity, blobs: &[(Time, Vec<u8>, u64)]) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    for v in [id.size, id.mtime_ns, id.head_hash, id.tail_hash] {
        h.extend_from_slice(&v.to_le_bytes());
    }
    let p = id.path.as_os_str().as_encoded_bytes();
    h.extend_from_slice(&(p.len() as u64).to_le_bytes());
    h.extend_from_slice(p);
    h.extend_from_slice(&(blobs.len() as u64).to_le_bytes());
    let mut offset = (h.len() + blobs.len() * ENTRY_LEN as usize + 4) as u64;
    for (time, blob, raw) in blobs {
        h.extend_from_slice(&time.0.to_le_bytes());
        h.extend_from_slice(&offset.to_le_bytes());
        h.extend_from_slice(&(blob.len() as u64).to_le_bytes());
        h.extend_from_slice(&raw.to_le_bytes());
        h.extend_from_slice(&crc32fast::hash(blob).to_le_bytes());
        offset += blob.len() as u64;
    }
    let crc = crc32fast::hash(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    for (_, blob, _) in blobs {
        h.extend_from_slice(blob);
    }
    h
}

fn damaged(path: &Path, what: impl Into<String>) -> IndexError {
    IndexError::Damaged {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Reads the header and table from the start of an index file of
/// `file_len` bytes; checks the recording's identity unless `recording`
/// is empty (the builder reads back its own image).
pub(super) fn read_table(
    head: &[u8],
    file_len: u64,
    recording: &Path,
    path: &Path,
) -> Result<(Vec<Entry>, Fit), IndexError> {
    let short = |_| damaged(path, "the index file ends early");
    let mut i = In::new(head);
    if i.take(8).map_err(|_| IndexError::Foreign {
        path: path.to_path_buf(),
    })? != MAGIC
        || i.u32().map_err(short)? != VERSION
    {
        return Err(IndexError::Foreign {
            path: path.to_path_buf(),
        });
    }
    let (size, mtime_ns, head_hash, tail) = (
        i.u64().map_err(short)?,
        i.u64().map_err(short)?,
        i.u64().map_err(short)?,
        i.u64().map_err(short)?,
    );
    let p = i
        .bytes("a path", MAX_PATH)
        .map_err(|e| damaged(path, e.to_string()))?;
    let id = Identity {
        size,
        mtime_ns,
        head_hash,
        tail_hash: tail,
        path: PathBuf::from(String::from_utf8_lossy(p).into_owned()),
    };
    let count = i.u64().map_err(short)?;
    if count > MAX_ENTRIES || count * ENTRY_LEN > file_len {
        return Err(damaged(path, format!("{count} checkpoints cannot fit")));
    }
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let e = Entry {
            time: Time(i.u64().map_err(short)?),
            offset: i.u64().map_err(short)?,
            len: i.u64().map_err(short)?,
            raw_len: i.u64().map_err(short)?,
            crc: i.u32().map_err(short)?,
        };
        let fits = e
            .offset
            .checked_add(e.len)
            .is_some_and(|end| end <= file_len);
        if !fits || e.raw_len > MAX_RAW || entries.last().is_some_and(|l: &Entry| l.time > e.time) {
            return Err(damaged(
                path,
                "a checkpoint's place is out of bounds or order",
            ));
        }
        entries.push(e);
    }
    let table_len = head.len() - i.rest();
    let crc = i.u32().map_err(short)?;
    if crc != crc32fast::hash(&head[..table_len]) {
        return Err(damaged(path, "the header checksum does not match"));
    }
    if !recording.as_os_str().is_empty() {
        let now = Identity::of(recording).map_err(|source| IndexError::Io {
            path: recording.to_path_buf(),
            source,
        })?;
        let stale = |what| IndexError::Stale {
            path: path.to_path_buf(),
            what,
        };
        if now.path != id.path {
            return Err(stale("another file"));
        }
        if now.head_hash != id.head_hash {
            return Err(stale("other first 64 KiB"));
        }
        if now.size > id.size {
            let before = tail_hash(recording, id.size).map_err(|source| IndexError::Io {
                path: recording.to_path_buf(),
                source,
            })?;
            if before != id.tail_hash {
                return Err(stale("another size and other bytes before its old end"));
            }
            return Ok((entries, Fit::Grew(id.size)));
        }
        if now.size != id.size {
            return Err(stale("another size"));
        }
        if now.mtime_ns != id.mtime_ns {
            return Err(stale("another modification time"));
        }
        if now.tail_hash != id.tail_hash {
            return Err(stale("other last 64 KiB"));
        }
    }
    Ok((entries, Fit::Same))
}

/// Where the table ends (its checksum included), from the header at the
/// start of `head`; None when the header is not whole or not an index's
/// ([`read_table`] then says what is wrong).
fn table_end(head: &[u8]) -> Option<u64> {
    let mut i = In::new(head);
    i.take(8 + 4 + 4 * 8).ok()?;
    i.bytes("a path", MAX_PATH).ok()?;
    let count = i.u64().ok()?.min(MAX_ENTRIES);
    Some((head.len() - i.rest()) as u64 + count * ENTRY_LEN + 4)
}

/// Loads the table of the index file `path` made for `recording`.
pub(super) fn load(
    recording: &Path,
    path: PathBuf,
) -> Result<(PathBuf, Vec<Entry>, Fit), IndexError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| IndexError::Io { path, source }
    };
    let mut f = File::open(&path).map_err(io(&path))?;
    let file_len = f.metadata().map_err(io(&path))?.len();
    // The header (with the path) first, then exactly the table it
    // announces: a seek reads the table and one or two checkpoints, not
    // the whole file.
    let mut head = Vec::new();
    (&mut f)
        .take(file_len.min(64 + MAX_PATH))
        .read_to_end(&mut head)
        .map_err(io(&path))?;
    if let Some(end) = table_end(&head).filter(|&end| end > head.len() as u64) {
        (&mut f)
            .take(end.min(file_len) - head.len() as u64)
            .read_to_end(&mut head)
            .map_err(io(&path))?;
    }
    let (entries, fit) = read_table(&head, file_len, recording, &path)?;
    Ok((path, entries, fit))
}

fn inflate(blob: &[u8], entry: &Entry, path: &Path) -> Result<Vec<u8>, IndexError> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(blob)
        .take(entry.raw_len + 1)
        .read_to_end(&mut out)
        .map_err(|e| damaged(path, format!("a checkpoint does not inflate: {e}")))?;
    if out.len() as u64 != entry.raw_len {
        return Err(damaged(path, "a checkpoint inflates to the wrong length"));
    }
    Ok(out)
}

fn checked<'a>(blob: &'a [u8], entry: &Entry, path: &Path) -> Result<&'a [u8], IndexError> {
    if crc32fast::hash(blob) != entry.crc {
        return Err(damaged(path, "a checkpoint's checksum does not match"));
    }
    Ok(blob)
}

/// A checkpoint's stored (deflated, checked) bytes in an index image.
pub(super) fn deflated_from(
    image: &[u8],
    entry: &Entry,
    path: &Path,
) -> Result<Vec<u8>, IndexError> {
    let blob = usize::try_from(entry.offset)
        .ok()
        .zip(usize::try_from(entry.offset + entry.len).ok())
        .and_then(|(a, b)| image.get(a..b))
        .ok_or_else(|| damaged(path, "a checkpoint lies past the end"))?;
    Ok(checked(blob, entry, path)?.to_vec())
}

pub(super) fn blob_from(image: &[u8], entry: &Entry, path: &Path) -> Result<Vec<u8>, IndexError> {
    inflate(&deflated_from(image, entry, path)?, entry, path)
}

pub(super) fn blob_from_file(path: &Path, entry: &Entry) -> Result<Vec<u8>, IndexError> {
    inflate(&deflated_from_file(path, entry)?, entry, path)
}

/// A checkpoint's stored (deflated, checked) bytes in an index file.
pub(super) fn deflated_from_file(path: &Path, entry: &Entry) -> Result<Vec<u8>, IndexError> {
    let io = |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(io)?;
    let file_len = f.metadata().map_err(io)?.len();
    if entry
        .offset
        .checked_add(entry.len)
        .is_none_or(|e| e > file_len)
    {
        return Err(damaged(path, "a checkpoint lies past the end"));
    }
    f.seek(SeekFrom::Start(entry.offset)).map_err(io)?;
    let mut blob = Vec::with_capacity(entry.len as usize);
    f.take(entry.len).read_to_end(&mut blob).map_err(io)?;
    if blob.len() as u64 != entry.len {
        return Err(damaged(path, "the index file ends early"));
    }
    checked(&blob, entry, path)?;
    Ok(blob)
}

/// Writes `image` as `recording`'s index: a temporary file, then a rename.
pub(super) fn save(recording: &Path, image: &[u8]) -> Result<PathBuf, IndexError> {
    let path = cache_file(recording).map_err(|source| IndexError::Io {
        path: recording.to_path_buf(),
        source,
    })?;
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| IndexError::Io { path: p, source }
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(image)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&path)(e));
    }
    Ok(path)
}
