//! Inflating a gzip `.fb` on its own thread changes nothing a user sees:
//! the same bytes, the same end (complete, cut, trailing data), the same
//! error with the same decompressed and file byte for damage anywhere; a
//! reader dropped early ends its thread, even one waiting for a followed
//! file to grow; and a growing file is read to its end.

mod common;

use flate2::write::GzEncoder;
use rfbplay::container::{self, Container, ContainerError, End, FbReader, FbWriter, Piece};
use std::io::{BufRead, BufReader, Cursor, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A few MiB of records whose payloads compress like screen data: runs
/// of repeated pixels with some noise.
fn records(chunks: u64) -> Vec<u8> {
    let mut w = FbWriter::new(Vec::new(), 6);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for i in 0..chunks {
        let mut payload = vec![0u8; 4096 + (i as usize * 37) % 9000];
        let mut at = 0;
        while at < payload.len() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let run = (seed % 40) as usize + 1;
            let end = (at + run).min(payload.len());
            payload[at..end].fill((seed >> 32) as u8);
            at = end;
        }
        w.chunk(i * 1_000_000, &payload).unwrap();
    }
    w.finish().unwrap()
}

/// What a reader hands out, in order: the payload bytes (where a chunk's
/// payload is split into pieces is not part of it), then how it ended.
#[derive(PartialEq)]
struct Outcome {
    bytes: Vec<u8>,
    end: Result<End, String>,
    corrupt_at: Option<(u64, u64)>,
    trailing: Option<u64>,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.bytes.hash(&mut h);
        f.debug_struct("Outcome")
            .field("bytes", &(self.bytes.len(), h.finish()))
            .field("end", &self.end)
            .field("corrupt_at", &self.corrupt_at)
            .field("trailing", &self.trailing)
            .finish()
    }
}

fn drain(c: FbReader) -> Outcome {
    drain_pausing(c, 0)
}

/// [`drain`], pausing a millisecond after each of the first `slow`
/// pieces: a reader that falls behind the inflate thread.
fn drain_pausing(mut c: FbReader, slow: usize) -> Outcome {
    let mut bytes = Vec::new();
    let mut next = 0;
    let mut pieces = 0;
    loop {
        if pieces < slow {
            pieces += 1;
            std::thread::sleep(Duration::from_millis(1));
        }
        match c.next_piece() {
            Ok(Piece::Data {
                offset, bytes: b, ..
            }) => {
                assert!(offset >= next, "pieces overlap");
                next = offset + b.len() as u64;
                bytes.extend_from_slice(b);
            }
            Ok(Piece::End(end)) => {
                let trailing = c.trailing_data_at();
                return Outcome {
                    bytes,
                    end: Ok(end),
                    corrupt_at: None,
                    trailing,
                };
            }
            Ok(Piece::Gap(g)) => panic!("a gap without salvage: {g:?}"),
            Err(e) => {
                let corrupt_at = match &e {
                    ContainerError::Corrupt {
                        offset,
                        file_offset,
                        ..
                    } => Some((*offset, *file_offset)),
                    _ => None,
                };
                return Outcome {
                    bytes,
                    end: Err(rfbplay::error_chain(&e)),
                    corrupt_at,
                    trailing: None,
                };
            }
        }
    }
}

fn both(file: &[u8]) -> (Outcome, Outcome) {
    let src = || BufReader::with_capacity(1 << 16, Cursor::new(file.to_vec()));
    (
        drain(FbReader::gzip(src())),
        drain(FbReader::gzip_threaded(src())),
    )
}

#[test]
fn damage_anywhere_is_reported_alike_with_the_thread() {
    let file = records(1500);
    assert!(
        file.len() > 1 << 18,
        "several input buffers: {}",
        file.len()
    );
    let mut corrupt = 0;
    for at in (40..file.len() - 8).step_by(file.len() / 97) {
        let mut bad = file.clone();
        bad[at] ^= 0x5a;
        let (one, threaded) = both(&bad);
        assert_eq!(one.end, threaded.end, "damage at {at}");
        assert_eq!(one.corrupt_at, threaded.corrupt_at, "damage at {at}");
        assert!(one.bytes == threaded.bytes, "damage at {at}: bytes differ");
        if let Some((offset, file_offset)) = one.corrupt_at {
            corrupt += 1;
            assert!(
                file_offset >= at as u64,
                "{file_offset} before the damage at {at}"
            );
            let msg = one.end.as_ref().unwrap_err();
            assert!(
                msg.contains(&format!(
                    "at file byte {file_offset} (after decompressed byte {offset}"
                )),
                "{msg}"
            );
        }
    }
    assert!(
        corrupt > 10,
        "only {corrupt} damaged files failed to inflate"
    );
}

/// Every piece a reader hands out, as (time, offset, bytes), with
/// pieces that follow on from each other joined: where a payload is cut
/// into pieces is not part of it, where its bytes lie is.
fn placed(mut c: FbReader) -> Vec<(u64, u64, Vec<u8>)> {
    let mut out: Vec<(u64, u64, Vec<u8>)> = Vec::new();
    loop {
        match c.next_piece().unwrap() {
            Piece::Data {
                time,
                offset,
                bytes,
            } => {
                let time = time.0;
                match out.last_mut() {
                    Some((t, o, b)) if *t == time && *o + b.len() as u64 == offset => {
                        b.extend_from_slice(bytes)
                    }
                    _ => out.push((time, offset, bytes.to_vec())),
                }
            }
            Piece::End(end) => {
                assert_eq!(end, End::Complete);
                return out;
            }
            Piece::Gap(g) => panic!("a gap without salvage: {g:?}"),
        }
    }
}

/// The inflate thread hands over 1 MiB at a time; where a record's
/// header or trailer is cut by a buffer's end, the reader keeps the cut
/// part in front of the next buffer. Each of 1 to 30 bytes of header, and
/// 1 of trailer, left at a buffer's end gives the same pieces, at the same
/// offsets and times, as the single-thread reader.
#[test]
fn records_cut_at_the_threads_buffer_ends_are_read_alike() {
    const MIB: usize = 1 << 20;
    let mut w = FbWriter::new(Vec::new(), 1);
    let mut written = 0usize;
    let mut time = 0u64;
    let mut record = |w: &mut FbWriter<Vec<u8>>, len: usize, written: &mut usize| {
        time += 123_456_789;
        let payload: Vec<u8> = (0..len).map(|i| (i * 7 + len) as u8).collect();
        let before = w.chunks();
        w.chunk(time, &payload).unwrap();
        assert_eq!(w.chunks(), before + 1);
        // The record's bytes in the decompressed stream.
        let delta = 123_456_789u64;
        *written += format!("{delta} {len}\r\n").len() + len + 2;
    };
    // Header "123456789 N\r\n" (at least 13 bytes with N of 2 digits or
    // more) and trailer "\r\n": the record that ends the k-th buffer is
    // sized so that `k` bytes of the next header (or 1 of this record's
    // trailer) are before the buffer's end.
    for k in 1..=31usize {
        let boundary = k * MIB;
        // Small records up to near the boundary, then one sized to it.
        while boundary - written > 200_000 {
            record(&mut w, 150_000, &mut written);
        }
        let header = |len: usize| format!("123456789 {len}\r\n").len();
        let room = boundary - written;
        // Bytes before the boundary: this record whole, then `k` bytes of
        // the next record's header (the last case: all but 1 byte of this
        // record's trailer).
        let before = if k == 31 { room + 1 } else { room - k };
        let mut len = before - 2 - header(before);
        while header(len) + len + 2 != before {
            len -= 1;
        }
        record(&mut w, len, &mut written);
    }
    record(&mut w, 5000, &mut written);
    let file = w.finish().unwrap();
    let src = || BufReader::with_capacity(1 << 16, Cursor::new(file.clone()));
    let one = placed(FbReader::gzip(src()));
    let threaded = placed(FbReader::gzip_threaded(src()));
    assert!(one.len() > 200, "{}", one.len());
    assert_eq!(one.len(), threaded.len());
    for (a, b) in one.iter().zip(&threaded) {
        assert_eq!((a.0, a.1, a.2.len()), (b.0, b.1, b.2.len()));
        assert!(a.2 == b.2, "bytes differ at offset {}", a.1);
    }
}

#[test]
fn cuts_trailing_data_and_members_end_alike_with_the_thread() {
    let file = records(300);
    for cut in [3, 11, 100, file.len() / 3, file.len() - 9, file.len() - 1] {
        let (one, threaded) = both(&file[..cut]);
        assert_eq!(one, threaded, "cut at {cut}");
        assert!(matches!(one.end, Ok(End::Truncated(_))), "{:?}", one.end);
    }
    let mut trailing = file.clone();
    trailing.extend_from_slice(b"not gzip");
    let (one, threaded) = both(&trailing);
    assert_eq!(one, threaded);
    assert_eq!(threaded.trailing, Some(file.len() as u64));
    assert_eq!(threaded.end, Ok(End::Complete));

    // Two members: a recording continued with another gzip stream.
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(&file[..])
        .read_to_end(&mut plain)
        .unwrap();
    let mut members = Vec::new();
    for part in [&plain[..plain.len() / 2], &plain[plain.len() / 2..]] {
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::new(1));
        e.write_all(part).unwrap();
        members.extend(e.finish().unwrap());
    }
    let (one, threaded) = both(&members);
    assert_eq!(one, threaded);
    assert_eq!(threaded.end, Ok(End::Complete));
    assert!(threaded.bytes == drain(FbReader::gzip(Cursor::new(file.clone()))).bytes);
    let mut bad_crc = members.clone();
    let crc_at = members.len() - 8;
    bad_crc[crc_at] ^= 1;
    let (one, threaded) = both(&bad_crc);
    assert_eq!(one, threaded);
    assert_eq!(threaded.corrupt_at.map(|c| c.1), Some(crc_at as u64));
    let mut bad_len = members.clone();
    bad_len[crc_at + 5] ^= 1;
    let (one, threaded) = both(&bad_len);
    assert_eq!(one, threaded);
    assert_eq!(threaded.corrupt_at.map(|c| c.1), Some(crc_at as u64 + 4));
    assert!(threaded.end.unwrap_err().contains("length mismatch"));
}

/// A reader that falls behind gets the inflate thread's help with the
/// CRC-32 (the thread sums the buffers it sends while several wait); a
/// buffer summed there or here, or a mix, checks alike: good
/// members pass and a wrong CRC in either of two members is caught at its
/// trailer, as the single-thread reader catches it.
#[test]
fn a_slow_reader_checks_the_crc_alike_with_the_thread() {
    let first = records(700);
    let second = records(700);
    let mut members = first.clone();
    members.extend_from_slice(&second);
    let mut cases = vec![(members.clone(), None)];
    for crc_at in [first.len() - 8, members.len() - 8] {
        let mut bad = members.clone();
        bad[crc_at] ^= 0x10;
        cases.push((bad, Some(crc_at as u64)));
    }
    let src = |file: &[u8]| BufReader::with_capacity(1 << 16, Cursor::new(file.to_vec()));
    for (file, crc_at) in cases {
        let one = drain(FbReader::gzip(src(&file)));
        for slow in [200, 100_000] {
            let threaded = drain_pausing(FbReader::gzip_threaded(src(&file)), slow);
            assert_eq!(one, threaded, "crc at {crc_at:?}, {slow} slow pieces");
        }
        assert_eq!(one.corrupt_at.map(|c| c.1), crc_at);
        match crc_at {
            None => assert_eq!(one.end, Ok(End::Complete)),
            Some(_) => assert!(one.end.unwrap_err().contains("checksum mismatch")),
        }
    }
}

/// A source that says when it is dropped, that is, when the thread that
/// owns it has ended.
struct Watched {
    inner: BufReader<Cursor<Vec<u8>>>,
    dropped: Arc<AtomicBool>,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf)
    }
}

impl BufRead for Watched {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.inner.consume(n)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_reader_dropped_early_ends_its_thread() {
    // 256 MiB of zeros: far more than the thread may read ahead.
    let mut w = FbWriter::new(Vec::new(), 1);
    let zeros = vec![0u8; 1 << 20];
    for i in 0..256 {
        w.chunk(i * 1000, &zeros).unwrap();
    }
    let file = w.finish().unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    let src = Watched {
        inner: BufReader::new(Cursor::new(file)),
        dropped: dropped.clone(),
    };
    let mut reader = FbReader::gzip_threaded(src);
    assert!(matches!(reader.next_piece(), Ok(Piece::Data { .. })));
    assert!(
        !dropped.load(Ordering::SeqCst),
        "the thread is still at work"
    );
    drop(reader);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the thread ended with its reader"
    );
}

/// A prefix of `file` in `path`, then the rest in steps each time the
/// reader reaches the end of what is written; no more once all is.
fn grow(
    path: std::path::PathBuf,
    file: Vec<u8>,
    first: usize,
    calls: Arc<AtomicU64>,
) -> container::KeepFollowing {
    std::fs::write(&path, &file[..first]).unwrap();
    let mut written = first;
    Box::new(move || {
        calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(2));
        if written == file.len() {
            return false;
        }
        let next = (written + 20_000).min(file.len());
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(&file[written..next]).unwrap();
        written = next;
        true
    })
}

#[test]
fn a_growing_file_is_followed_to_its_end() {
    let tmp = common::TempDir::new("follow_thread");
    let path = tmp.path().join("live.fb");
    let file = records(200);
    let whole = drain(FbReader::gzip(Cursor::new(file.clone())));
    let calls = Arc::new(AtomicU64::new(0));
    let keep = grow(path.clone(), file.clone(), 1000, calls.clone());
    let mut c = container::open_following(&path, keep).unwrap();
    let mut got = Vec::new();
    let end = loop {
        match c.next_piece().unwrap() {
            Piece::Data { bytes, .. } => got.extend_from_slice(bytes),
            Piece::End(end) => break end,
            Piece::Gap(g) => panic!("{g:?}"),
        }
    };
    assert_eq!(end, End::Complete);
    assert_eq!(Ok(end), whole.end);
    assert!(
        got == whole.bytes,
        "{} of {} bytes",
        got.len(),
        whole.bytes.len()
    );
    assert!(
        calls.load(Ordering::SeqCst) > 10,
        "the file grew while read"
    );
    assert_eq!(c.bytes_read(), file.len() as u64);
}

#[test]
fn a_followed_reader_dropped_while_waiting_stops_asking() {
    let tmp = common::TempDir::new("follow_drop");
    let path = tmp.path().join("live.fb");
    let file = records(300);
    std::fs::write(&path, &file[..file.len() / 2]).unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let counted = calls.clone();
    // A recording that never grows again but is never given up on.
    let keep = Box::new(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(2));
        true
    });
    let mut c = container::open_following(&path, keep).unwrap();
    assert!(matches!(c.next_piece(), Ok(Piece::Data { .. })));
    while calls.load(Ordering::SeqCst) < 3 {
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(c);
    let after = calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(calls.load(Ordering::SeqCst), after, "asked after the drop");
}
