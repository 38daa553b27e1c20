//! A seek index that does not fit its recording is never trusted: a
//! recording that grew, was cut, replaced or edited in place; an index
//! file that is damaged, cut, hostile (huge counts and lengths with valid
//! checksums) or made for another file; a cache that cannot be written.
//! Each time `frame --at` still writes the frame a decode from the start
//! gives, with a note, and nothing panics.

mod common;

use common::TempDir;
use rfbplay::index::Index;
use rfbplay::player::PlayOptions;
use rfbplay::progress::NoProgress;
use rfbplay::sampler::{Moment, Shot};
use rfbplay::Time;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REC: &str = "minimega_qemu_ipxe.fb";

fn rfbplay(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .env("RFBPLAY_CACHE", cache)
        .args(args)
        .output()
        .unwrap()
}

/// The PNG bytes `frame --at` writes, and its standard error.
fn frame(cache: &Path, rec: &Path, at: &str, extra: &[&str]) -> (Option<Vec<u8>>, String) {
    let out = cache.parent().unwrap().join("frame.png");
    let _ = std::fs::remove_file(&out);
    let mut args = vec![
        "frame",
        rec.to_str().unwrap(),
        out.to_str().unwrap(),
        "--at",
        at,
    ];
    args.extend(extra);
    let o = rfbplay(cache, &args);
    (
        std::fs::read(&out).ok(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

struct Setup {
    _dir: TempDir,
    cache: PathBuf,
    rec: PathBuf,
}

fn setup(tag: &str) -> Setup {
    let dir = TempDir::new(tag);
    let cache = dir.path().join("cache");
    let rec = dir.path().join(REC);
    std::fs::copy(common::testdata().join(REC), &rec).unwrap();
    let o = rfbplay(&cache, &["index", rec.to_str().unwrap(), "--every", "1"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Setup {
        _dir: dir,
        cache,
        rec,
    }
}

fn index_file(cache: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "idx"))
        .collect();
    assert_eq!(files.len(), 1);
    files[0].clone()
}

/// `frame --at` with the index in whatever state it is equals the frame
/// without it; returns the standard error.
fn same_as_without_index(s: &Setup, at: &str) -> String {
    let (with, err) = frame(&s.cache, &s.rec, at, &[]);
    let (without, _) = frame(&s.cache, &s.rec, at, &["--no-index"]);
    assert!(without.is_some(), "no frame at {at}");
    assert!(
        with == without,
        "frame --at {at} differs with the index: {err}"
    );
    err
}

#[test]
fn a_recording_that_changed_gets_a_new_index() {
    // Grew by bytes that are not part of the stream: the index still
    // holds for what it covered and is extended past it.
    let s = setup("grew");
    let mut bytes = std::fs::read(&s.rec).unwrap();
    bytes.extend_from_slice(&[0u8; 100]);
    std::fs::write(&s.rec, &bytes).unwrap();
    let err = same_as_without_index(&s, "10");
    assert!(!err.contains("index not used"), "{err}");

    // Grew, but the bytes before the old end changed too: rebuilt.
    let s = setup("rewritten");
    let mut bytes = std::fs::read(&s.rec).unwrap();
    let n = bytes.len();
    bytes[n - 10] ^= 0x55;
    bytes.extend_from_slice(&[0u8; 100]);
    std::fs::write(&s.rec, &bytes).unwrap();
    let (_, err) = frame(&s.cache, &s.rec, "3", &[]);
    assert!(err.contains("other bytes before its old end"), "{err}");

    // Cut: the index's checkpoints near the end point past the new end.
    let s = setup("cut");
    let bytes = std::fs::read(&s.rec).unwrap();
    std::fs::write(&s.rec, &bytes[..bytes.len() * 2 / 3]).unwrap();
    same_as_without_index(&s, "5");

    // Edited in place: same size, same modification time.
    let s = setup("edited");
    let meta = std::fs::metadata(&s.rec).unwrap();
    let mut bytes = std::fs::read(&s.rec).unwrap();
    bytes[40_000] ^= 0x01;
    std::fs::write(&s.rec, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&s.rec)
        .unwrap()
        .set_modified(meta.modified().unwrap())
        .unwrap();
    let (_, err) = frame(&s.cache, &s.rec, "3", &[]);
    assert!(err.contains("first 64 KiB"), "{err}");

    // Replaced by another recording.
    let s = setup("replaced");
    std::fs::copy(common::testdata().join("tight_copy.fb"), &s.rec).unwrap();
    same_as_without_index(&s, "end");
}

#[test]
fn an_index_of_another_file_is_not_used() {
    let s = setup("foreign");
    let idx = index_file(&s.cache);
    let other = s.rec.with_file_name("other.fb");
    std::fs::copy(&s.rec, &other).unwrap();
    // The copy has its own index file name; put this one's there.
    let o = rfbplay(&s.cache, &["index", other.to_str().unwrap()]);
    assert!(o.status.success());
    let theirs: Vec<PathBuf> = std::fs::read_dir(&s.cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| *p != idx && p.extension().is_some_and(|e| e == "idx"))
        .collect();
    std::fs::copy(&idx, &theirs[0]).unwrap();
    let err = Index::load_file(&other, theirs[0].clone()).unwrap_err();
    assert!(err.to_string().contains("another file"), "{err}");
    // Not an index at all.
    std::fs::write(&idx, b"GIF89a not an index").unwrap();
    let err = same_as_without_index(&s, "12.5");
    assert!(err.contains("not an rfbplay index"), "{err}");
}

/// Every cut and many single-byte changes of an index file: loading
/// fails or the frame through it is still right (checksums catch the
/// damage, and a checkpoint that fails falls back to the start).
#[test]
fn damaged_and_cut_index_files_fall_back() {
    let s = setup("damaged");
    let idx = index_file(&s.cache);
    let good = std::fs::read(&idx).unwrap();
    let want = {
        let (fb, _) = rfbplay::sampler::screen_at(
            &mut rfbplay::player::Player::open(&s.rec, PlayOptions::default()).unwrap(),
            Some(Time::from_secs_f64(14.0)),
            &NoProgress,
        );
        fb.unwrap()
    };
    let check = |bytes: &[u8], what: &str| {
        std::fs::write(&idx, bytes).unwrap();
        let Ok(index) = Index::load_file(&s.rec, idx.clone()) else {
            return;
        };
        let mut notes = vec![];
        let (shot, _, _) = index
            .screen_at(
                Moment::At(Time::from_secs_f64(14.0)),
                PlayOptions::default(),
                &NoProgress,
                &mut notes,
            )
            .unwrap();
        match shot {
            Shot::Screen(fb) => assert!(fb == want, "{what}: wrong frame"),
            other => panic!("{what}: {other:?}"),
        }
    };
    let mut cut = 0;
    while cut < good.len() {
        check(&good[..cut], &format!("cut at {cut}"));
        cut += 1 + cut / 3;
    }
    let mut at = 0;
    while at < good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x5a;
        check(&bad, &format!("byte {at} changed"));
        at += 1 + at / 2;
    }
    // The command line says so once and still writes the right frame.
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 10] ^= 0xff;
    std::fs::write(&idx, &bad).unwrap();
    // (The last checkpoint is the one `end` starts from.)
    let err = same_as_without_index(&s, "end");
    assert_eq!(err.matches("index not used").count(), 1, "{err}");
}

/// Lengths that would allocate gigabytes, behind valid checksums.
#[test]
fn hostile_lengths_are_refused_before_allocation() {
    let s = setup("hostile");
    let idx = index_file(&s.cache);
    let good = std::fs::read(&idx).unwrap();
    // Header: magic, version, size, mtime, head and tail hashes, path
    // length + path, count.
    let path_len = u64::from_le_bytes(good[44..52].try_into().unwrap()) as usize;
    let count_at = 52 + path_len;
    let count = u64::from_le_bytes(good[count_at..count_at + 8].try_into().unwrap()) as usize;
    let table = count_at + 8;
    let crc_at = table + count * 36;
    let reseal = |b: &mut Vec<u8>, crc_at: usize| {
        let crc = crc32fast::hash(&b[..crc_at]);
        b[crc_at..crc_at + 4].copy_from_slice(&crc.to_le_bytes());
    };
    // A count of 2^60 entries.
    let mut b = good.clone();
    b[count_at..count_at + 8].copy_from_slice(&(1u64 << 60).to_le_bytes());
    assert!(Index::load_file(&s.rec, {
        std::fs::write(&idx, &b).unwrap();
        idx.clone()
    })
    .is_err());
    // A path of 2^62 bytes.
    let mut b = good.clone();
    b[36..44].copy_from_slice(&(1u64 << 62).to_le_bytes());
    std::fs::write(&idx, &b).unwrap();
    assert!(Index::load_file(&s.rec, idx.clone()).is_err());
    // A checkpoint claiming to inflate to 2^40 bytes, or lying past the
    // end, sealed with a valid header checksum.
    for (field, value) in [(24, 1u64 << 40), (16, 1u64 << 50), (8, u64::MAX - 3)] {
        let mut b = good.clone();
        let e = table + field;
        b[e..e + 8].copy_from_slice(&value.to_le_bytes());
        reseal(&mut b, crc_at);
        std::fs::write(&idx, &b).unwrap();
        assert!(
            Index::load_file(&s.rec, idx.clone()).is_err(),
            "field {field}"
        );
    }
    // A checkpoint whose record says its screen is 60000x60000, with valid
    // checksums: refused by the screen limits, and the frame still right.
    let mut raw = Vec::new();
    raw.extend_from_slice(&5u64.to_le_bytes());
    raw.extend_from_slice(&[0u8; 9]);
    raw.extend_from_slice(&[0u8; 40]);
    raw.push(0);
    raw.extend_from_slice(&[0u8; 24]);
    raw.extend_from_slice(&rfbplay::rfb::PixelFormat::BGRX.to_wire());
    raw.extend_from_slice(&0u64.to_le_bytes());
    raw.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0]);
    raw.extend_from_slice(&60000u32.to_le_bytes());
    raw.extend_from_slice(&60000u32.to_le_bytes());
    let blob = {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&raw).unwrap();
        e.finish().unwrap()
    };
    let mut b = good[..crc_at + 4].to_vec();
    let off = b.len() as u64;
    for k in 0..count {
        let e = table + k * 36;
        b[e + 8..e + 16].copy_from_slice(&off.to_le_bytes());
        b[e + 16..e + 24].copy_from_slice(&(blob.len() as u64).to_le_bytes());
        b[e + 24..e + 32].copy_from_slice(&(raw.len() as u64).to_le_bytes());
        b[e + 32..e + 36].copy_from_slice(&crc32fast::hash(&blob).to_le_bytes());
    }
    reseal(&mut b, crc_at);
    b.extend_from_slice(&blob);
    std::fs::write(&idx, &b).unwrap();
    let index = Index::load_file(&s.rec, idx.clone()).unwrap();
    assert!(index.checkpoint(0).is_err());
    let err = same_as_without_index(&s, "9");
    assert!(err.contains("over the limits"), "{err}");
}

#[test]
fn an_unwritable_cache_still_gives_the_frame() {
    let dir = TempDir::new("rocache");
    // A cache "directory" below a plain file cannot be created, even by
    // root (whom permission bits do not stop).
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let cache = blocker.join("cache");
    let rec = common::testdata().join(REC);
    let out = dir.path().join("a.png");
    let o = rfbplay(
        &cache,
        &[
            "frame",
            rec.to_str().unwrap(),
            out.to_str().unwrap(),
            "--at",
            "11",
        ],
    );
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("could not be saved"), "{err}");
    let with = std::fs::read(&out).unwrap();
    let o = rfbplay(
        &cache,
        &[
            "frame",
            rec.to_str().unwrap(),
            out.to_str().unwrap(),
            "--at",
            "11",
            "--no-index",
        ],
    );
    assert!(o.status.success());
    assert_eq!(with, std::fs::read(&out).unwrap());
    // `rfbplay index` itself fails, saying where.
    let o = rfbplay(&cache, &["index", rec.to_str().unwrap()]);
    assert!(!o.status.success());
}

/// The number of checkpoints `rfbplay index` says it wrote.
fn checkpoints(stderr: &str) -> u64 {
    let at = stderr.find(" checkpoint").expect(stderr);
    let digits: String = stderr[..at]
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits
        .chars()
        .rev()
        .collect::<String>()
        .parse()
        .expect(stderr)
}

#[test]
fn the_index_of_a_recording_still_being_written_is_extended() {
    let dir = TempDir::new("growing");
    let cache = dir.path().join("cache");
    let rec = dir.path().join(REC);
    let full = std::fs::read(common::testdata().join(REC)).unwrap();
    let index = |extra: &[&str]| {
        let mut args = vec!["index", rec.to_str().unwrap()];
        args.extend(extra);
        let o = rfbplay(&cache, &args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        checkpoints(&String::from_utf8_lossy(&o.stderr))
    };
    let grow = |to: usize| {
        let have = std::fs::metadata(&rec).map_or(0, |m| m.len() as usize);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&rec)
            .unwrap()
            .write_all(&full[have..to])
            .unwrap();
    };
    // A third is written: the file ends inside the gzip stream.
    grow(full.len() / 3);
    let before = index(&["--every", "1"]);
    assert!(before >= 2, "{before} checkpoints");
    // More arrives; `index` goes on from the last checkpoint.
    grow(full.len() * 2 / 3);
    let after = index(&[]);
    assert!(after > before, "{before} then {after} checkpoints");
    let s = Setup {
        _dir: dir,
        cache,
        rec,
    };
    for at in ["1", "5", "end"] {
        let err = same_as_without_index(&s, at);
        assert!(!err.contains("index"), "{at}: {err}");
    }
    // The rest arrives and a seek extends the index itself, without a note.
    let rec = s.rec.clone();
    let grow = |to: usize| {
        let have = std::fs::metadata(&rec).unwrap().len() as usize;
        std::fs::OpenOptions::new()
            .append(true)
            .open(&rec)
            .unwrap()
            .write_all(&full[have..to])
            .unwrap();
    };
    grow(full.len());
    for at in ["12.5", "end"] {
        let err = same_as_without_index(&s, at);
        assert!(!err.contains("index"), "{at}: {err}");
    }
    // The seek saved the extended index: it fits the whole file now.
    let extended = Index::load_file(&s.rec, index_file(&s.cache)).unwrap();
    assert!(!extended.grew());
    assert!(
        extended.len() as u64 >= after,
        "{after} then {}",
        extended.len()
    );
}
