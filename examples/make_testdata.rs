//! Writes rfbplay's synthetic test recordings to `testdata/`: each scene as
//! a `.fb` file and the picture its last update must show, drawn by the
//! model rather than by the decoder. Run: `cargo run --example make_testdata`.

use rfbplay::synth;
use std::path::Path;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    std::fs::create_dir_all(&dir)?;
    let scene = synth::core_scene();
    // Odd chunk sizes, so messages and headers straddle chunks.
    std::fs::write(
        dir.join("synthetic_core.fb"),
        synth::fb_file(&scene, &[61, 300, 7]),
    )?;
    // The same scene as an FBS file (times in whole milliseconds), named
    // .rbs as vnc2video does; rfbplay detects it by content.
    std::fs::write(
        dir.join("synthetic_core.rbs"),
        synth::fbs_file(&scene, &[61, 300, 7], 48, 32),
    )?;
    let last = scene
        .iter()
        .rev()
        .find_map(|m| m.screen_after.as_ref())
        .expect("the scene has updates");
    last.to_rgb_image().save(dir.join("synthetic_core.png"))?;
    println!("wrote {}", dir.display());
    Ok(())
}
