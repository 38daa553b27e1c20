//! Writes the seed corpus for the fuzz targets to `fuzz/seeds/TARGET/`:
//! the synthetic scene in every container and chunking, and prefixes of
//! the real recordings in ../shared/corpus when it is there.
//! Run: `cargo run --release --example fuzz_seeds`.

use rfbplay::container::{Container, FbReader, Piece};
use rfbplay::synth;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("fuzz/seeds");
    let put = |target: &str, name: &str, bytes: &[u8]| -> std::io::Result<()> {
        let dir = seeds.join(target);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(name), bytes)
    };
    let scene = synth::core_scene();
    let stream: Vec<u8> = scene.iter().flat_map(|m| m.bytes.clone()).collect();
    put(
        "container_fb",
        "scene.fb",
        &synth::fb_file(&scene, &[61, 300, 7]),
    )?;
    let fbs = synth::fbs_file(&scene, &[200], 48, 32);
    put("container_fbs", "scene.fbs", &fbs[12..])?;
    for (sel, piece) in [(0u8, 7u8), (2, 1), (3, 200)] {
        put(
            "stream",
            &format!("scene_{sel}_{piece}"),
            &[&[sel, piece][..], &stream].concat(),
        )?;
    }
    // Each update of the scene as a rectangle seed for its encodings.
    for (i, m) in scene.iter().enumerate() {
        if m.bytes.first() == Some(&0) && m.bytes.len() > 16 {
            let header = &m.bytes[4..16];
            let mut seed = header[..8].to_vec();
            seed.push(0);
            seed.extend_from_slice(&m.bytes[16..]);
            let enc = i32::from_be_bytes([header[8], header[9], header[10], header[11]]);
            let target = match enc {
                0 => "rect_raw",
                1 => "rect_copyrect",
                6 => "rect_zlib",
                _ => continue,
            };
            put(target, &format!("scene_{i}"), &seed)?;
        }
    }
    // Real recordings: the first 64 KiB of each decompressed stream.
    let corpus = root.join("../shared/corpus");
    if let Ok(entries) = std::fs::read_dir(&corpus) {
        for e in entries.flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "fb") {
                let mut r = FbReader::gzip(std::io::BufReader::new(std::fs::File::open(&p)?));
                let mut s = vec![0u8, 255];
                while s.len() < 64 << 10 {
                    match r.next_piece() {
                        Ok(Piece::Data { bytes, .. }) => s.extend_from_slice(bytes),
                        _ => break,
                    }
                }
                let name = p
                    .file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                put("stream", &name, &s)?;
            }
        }
    }
    println!("wrote {}", seeds.display());
    Ok(())
}
