//! Makes a long recording from a short one, for benchmarks: the source's
//! stream, cut after its last complete message, is written again and again
//! with shifted times until the result lasts at least the wanted length.
//!
//! ```text
//! cargo run --release --example loop_recording -- IN.fb OUT.fb [SECONDS] [LEVEL]
//! ```
//!
//! Looping is sound for Raw, CopyRect and DesktopSize streams (minimega's
//! own and TigerVNC's Zlib/RRE fallbacks), whose rectangles carry no state
//! from one update to the next; zlib-based encodings would break at the seam.

use rfbplay::container::{self, FbWriter, Piece};
use rfbplay::limits::Limits;
use rfbplay::rfb::{Parser, PixelFormat};
use std::io::BufWriter;
use std::path::Path;
use std::process::ExitCode;

/// Stream bytes up to the end of the last piece that ends on a message
/// boundary after at least one update, and that piece's time in ns. Bytes,
/// not pieces: where a chunk is split into pieces depends on the reader's
/// buffers, which an inflate thread hands over as they come.
fn cut_point(path: &Path) -> Result<(u64, u64), String> {
    let mut src = container::open(path).map_err(|e| e.to_string())?;
    let mut parser = Parser::new(PixelFormat::BGRX, Limits::default(), false);
    let (mut pieces, mut cut) = (0u64, None);
    loop {
        match src.next_piece().map_err(|e| e.to_string())? {
            Piece::End(_) | Piece::Gap(_) => break,
            Piece::Data { time, bytes, .. } => {
                pieces += bytes.len() as u64;
                if parser.feed(bytes, time, &mut |_, _| {}).is_err() {
                    break;
                }
                if parser.at_message_boundary() && parser.updates() > 0 {
                    cut = Some((pieces, time.0));
                }
            }
        }
    }
    cut.ok_or_else(|| format!("{}: no complete update", path.display()))
}

fn run(input: &Path, output: &Path, seconds: f64, level: u32) -> Result<(), String> {
    let (bytes, last_ns) = cut_point(input)?;
    // A tenth of a second between loops, as between minimega's requests.
    let period = last_ns + 100_000_000;
    let loops = ((seconds * 1e9) / period as f64).ceil().max(1.0) as u64;
    let file = std::fs::File::create(output).map_err(|e| e.to_string())?;
    let mut writer = FbWriter::new(BufWriter::with_capacity(1 << 20, file), level);
    for i in 0..loops {
        let mut src = container::open(input).map_err(|e| e.to_string())?;
        let mut left = bytes;
        while left > 0 {
            match src.next_piece().map_err(|e| e.to_string())? {
                Piece::Data { time, bytes, .. } => {
                    let n = (bytes.len() as u64).min(left) as usize;
                    left -= n as u64;
                    writer
                        .chunk(i * period + time.0, &bytes[..n])
                        .map_err(|e| e.to_string())?;
                }
                Piece::End(_) | Piece::Gap(_) => break,
            }
        }
    }
    writer.finish().map_err(|e| e.to_string())?;
    eprintln!(
        "{}: {loops} loops of {bytes} stream bytes, {:.1} s",
        output.display(),
        (loops * period) as f64 / 1e9
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: loop_recording IN.fb OUT.fb [SECONDS=60] [GZIP_LEVEL=6]");
        return ExitCode::from(2);
    }
    let seconds = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let level = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(6);
    match run(Path::new(&args[0]), Path::new(&args[1]), seconds, level) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loop_recording: {e}");
            ExitCode::FAILURE
        }
    }
}
