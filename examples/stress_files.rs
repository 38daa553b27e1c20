//! Writes recordings that stress rfbplay's bounds, for measuring its peak
//! memory and checking its work limits by hand:
//! `raw_WxH.fb` (one full-screen Raw update, then a few small ones),
//! `zlib_WxH.fb` (the same picture as one Zlib rectangle),
//! `tight_fill_bomb.fb` (65,535 full-screen Tight fills on an 8192x8192
//! screen) and `rre_bomb.fb` (65,535 full-screen RRE subrectangles).
//! Run: `cargo run --release --example stress_files -- DIR`.

use rfbplay::container::writer::FbWriter;
use rfbplay::rfb::encode::UpdateBuilder;
use rfbplay::rfb::{Encoding, Rect};
use std::path::{Path, PathBuf};

fn write(path: &Path, updates: &[Vec<u8>]) -> std::io::Result<()> {
    let mut w = FbWriter::new(std::fs::File::create(path)?, 9);
    // Pieces of 1 MiB at most, as a recorder reads them off a socket.
    for (i, u) in updates.iter().enumerate() {
        for piece in u.chunks(1 << 20) {
            w.chunk(i as u64 * 100_000_000, piece)?;
        }
    }
    w.finish()?;
    println!("wrote {}", path.display());
    Ok(())
}

/// A full-screen Raw update of a gradient, then ten small Raw updates.
fn raw(dir: &Path, w: u16, h: u16) -> std::io::Result<()> {
    let mut px = Vec::with_capacity(usize::from(w) * usize::from(h) * 4);
    for y in 0..h {
        for x in 0..w {
            px.extend_from_slice(&[x as u8, y as u8, (x ^ y) as u8, 0]);
        }
    }
    let mut updates = Vec::new();
    let mut u = UpdateBuilder::new();
    u.raw(Rect::new(0, 0, w, h), &px);
    updates.push(u.finish());
    for i in 0..10u16 {
        let mut u = UpdateBuilder::new();
        u.raw(Rect::new(i * 8, i * 8, 8, 8), &[i as u8; 256]);
        updates.push(u.finish());
    }
    write(&dir.join(format!("raw_{w}x{h}.fb")), &updates)?;
    // The same picture as one Zlib rectangle.
    let mut z = flate2::Compress::new(flate2::Compression::fast(), true);
    let mut u = UpdateBuilder::new();
    u.zlib(Rect::new(0, 0, w, h), &px, &mut z);
    write(&dir.join(format!("zlib_{w}x{h}.fb")), &[u.finish()])
}

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&dir)?;
    raw(&dir, 1024, 768)?;
    raw(&dir, 8192, 8192)?;
    let full = Rect::new(0, 0, 8192, 8192);
    // Tight fills: control byte 0x80, then a 3-byte TPIXEL.
    let mut u = UpdateBuilder::new();
    for i in 0..65_535u32 {
        u.header(full, Encoding::TIGHT)
            .extend_from_slice(&[0x80, i as u8, 0, 0]);
    }
    write(&dir.join("tight_fill_bomb.fb"), &[u.finish()])?;
    // One RRE rectangle whose 65,535 subrectangles each cover it all.
    let mut u = UpdateBuilder::new();
    let b = u.header(full, Encoding::RRE);
    b.extend_from_slice(&65_535u32.to_be_bytes());
    b.extend_from_slice(&[0; 4]);
    for i in 0..65_535u32 {
        b.extend_from_slice(&[i as u8, 0, 0, 0]);
        for v in [0u16, 0, 8192, 8192] {
            b.extend_from_slice(&v.to_be_bytes());
        }
    }
    write(&dir.join("rre_bomb.fb"), &[u.finish()])?;
    Ok(())
}
