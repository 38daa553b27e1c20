//! Whether a parallel gzip decoder would inflate rfbplay's recordings
//! faster than the single-threaded zlib-ng inflate it uses (through
//! flate2): times zlib-ng against zlib-rs (which rfbplay's index builds
//! use), rapidgzip-core and gzippy on 1 and 2 threads, on one file, with wall and CPU seconds and what each decoded
//! (minimega's own files end in a cut gzip stream, which a decoder must
//! read up to the cut). Built and run by tools/bench_parallel_inflate.sh,
//! outside rfbplay's crate: neither decoder is a dependency of rfbplay.
use std::io::{self, Read, Write};
use std::time::Instant;

struct Sink(u64);
impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0 += b.len() as u64;
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// User + system CPU seconds of this process so far.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// zlib-ng through flate2 (gzippy also asks flate2 for zlib-ng, so this
/// crate could not time flate2's zlib-rs backend beside it).
fn zlib_ng(data: &[u8]) -> Result<u64, String> {
    let mut d = flate2::bufread::MultiGzDecoder::new(data);
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        match d.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k as u64,
            Err(e) => return Err(format!("{e} after {n} bytes")),
        }
    }
}

/// Where a gzip member's deflate data starts (RFC 1952 header fields).
fn skip_header(d: &[u8]) -> Option<usize> {
    if d.len() < 10 || d[0] != 0x1f || d[1] != 0x8b {
        return None;
    }
    let flags = d[3];
    let mut at = 10;
    if flags & 4 != 0 {
        let n = u16::from_le_bytes([*d.get(at)?, *d.get(at + 1)?]) as usize;
        at += 2 + n;
    }
    for bit in [8u8, 16] {
        if flags & bit != 0 {
            at += d.get(at..)?.iter().position(|&b| b == 0)? + 1;
        }
    }
    if flags & 2 != 0 {
        at += 2;
    }
    (at <= d.len()).then_some(at)
}

/// zlib-rs's own inflate, member by member, into a 1 MiB buffer.
fn zlib_rs(data: &[u8]) -> Result<u64, String> {
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    let mut at = 0;
    while at < data.len() {
        at += skip_header(&data[at..]).ok_or(format!("bad header after {n} bytes"))?;
        let mut z = zlib_rs::Inflate::new(false, 15);
        loop {
            let (i0, o0) = (z.total_in(), z.total_out());
            let st = z
                .decompress(&data[at..], &mut buf, zlib_rs::InflateFlush::NoFlush)
                .map_err(|e| format!("{e:?} after {n} bytes"))?;
            at += (z.total_in() - i0) as usize;
            let made = z.total_out() - o0;
            n += made;
            match st {
                zlib_rs::Status::StreamEnd => break,
                _ if made == 0 && at >= data.len() => {
                    return Err(format!("incomplete deflate stream after {n} bytes"))
                }
                _ => {}
            }
        }
        at += 8;
    }
    Ok(n)
}

fn rapidgzip(path: &str, threads: usize) -> Result<u64, String> {
    let dec = rapidgzip_core::Decoder::builder()
        .decoder_threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    let mut sink = Sink(0);
    match dec.decode_path(path, &mut sink) {
        Ok(_) => Ok(sink.0),
        Err(e) => Err(format!("{e} after {} bytes", sink.0)),
    }
}

fn gzippy(data: &[u8], threads: usize) -> Result<u64, String> {
    let mut sink = Sink(0);
    match gzippy::decompress_to_writer_with_threads(data, &mut sink, threads) {
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{e} after {} bytes", sink.0)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = &args[1];
    let runs: usize = args.get(2).map_or(5, |r| r.parse().unwrap());
    let data = std::fs::read(path).unwrap();
    println!("file: {path} ({} bytes compressed)", data.len());
    println!("{:<22} {:>9} {:>8} {:>8} {:>9}  result", "decoder", "wall_s", "cpu_s", "GB/s", "vs_zlib");
    let mut base = None;
    let cases: Vec<(&str, Box<dyn Fn() -> Result<u64, String>>)> = vec![
        ("zlib-ng (flate2), 1", Box::new(|| zlib_ng(&data))),
        ("zlib-rs, 1", Box::new(|| zlib_rs(&data))),
        ("rapidgzip-core, 1", Box::new(|| rapidgzip(path, 1))),
        ("rapidgzip-core, 2", Box::new(|| rapidgzip(path, 2))),
        ("gzippy, 1", Box::new(|| gzippy(&data, 1))),
        ("gzippy, 2", Box::new(|| gzippy(&data, 2))),
    ];
    for (name, f) in &cases {
        let mut best = (f64::MAX, 0.0, Ok(0));
        for _ in 0..runs {
            let (c0, t0) = (cpu(), Instant::now());
            let r = f();
            let (wall, c) = (t0.elapsed().as_secs_f64(), cpu() - c0);
            if wall < best.0 {
                best = (wall, c, r);
            }
        }
        let (wall, c, r) = best;
        let bytes = *r.as_ref().unwrap_or(&0);
        let b = *base.get_or_insert(wall);
        println!(
            "{name:<22} {wall:>9.3} {c:>8.2} {:>8.2} {:>8.2}x  {}",
            bytes as f64 / wall / 1e9,
            b / wall,
            match &r {
                Ok(n) => format!("ok, {n} bytes"),
                Err(e) => format!("error: {e}"),
            }
        );
    }
    println!("best wall of {runs} runs; load average: {}", std::fs::read_to_string("/proc/loadavg").unwrap().trim());
}
