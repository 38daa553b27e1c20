//! Shared test support: where the real-recording corpus and system tools
//! are, and the rule for when they are missing. Outside CI a missing corpus
//! or tool skips the test with a note; with CI=true it is a failure, so CI
//! can never pass by skipping.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (returns None) or fails, by the rule above.
pub fn require<T>(what: Option<T>, name: &str) -> Option<T> {
    match what {
        Some(v) => Some(v),
        None if in_ci() => panic!("{name} is required when CI=true but is missing"),
        None => {
            eprintln!("note: skipping, {name} is not available");
            None
        }
    }
}

/// The real-recording corpus: $RFBPLAY_CORPUS, else ../shared/corpus.
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("RFBPLAY_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    require(
        dir.join("README.md").is_file().then_some(dir),
        "the corpus (../shared/corpus)",
    )
}

/// A program on PATH, by the rule above.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    require(found, name)
}

/// The testdata folder shipped with the crate.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// Writes a `width` x `height` PNG screen: light, with a dark blue box at
/// each of `boxes` (x, y, w, h); its folder is made if needed.
pub fn boxes_png(path: &Path, width: u32, height: u32, boxes: &[(u32, u32, u32, u32)]) {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        let inside = boxes
            .iter()
            .any(|&(bx, by, w, h)| x >= bx && x < bx + w && y >= by && y < by + h);
        image::Rgb(if inside {
            [30, 40, 160]
        } else {
            [235, 235, 230]
        })
    });
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    img.save_with_format(path, image::ImageFormat::Png).unwrap();
}

/// Reads a PNG as 8-bit RGB: (width, height, pixels).
pub fn read_rgb(path: &Path) -> (u32, u32, Vec<u8>) {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    (img.width(), img.height(), img.into_raw())
}

/// A temporary folder removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("rfbplay-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Node, Chromium and puppeteer-core for the browser tests (tools/setup.sh
/// installs all three): the `node` to run, or None by the rule above.
pub fn browser() -> Option<PathBuf> {
    let node = tool("node")?;
    require(
        Path::new("/usr/bin/chromium").is_file().then_some(()),
        "chromium",
    )?;
    let tools = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools");
    require(
        tools
            .join("node_modules/puppeteer-core")
            .is_dir()
            .then_some(()),
        "puppeteer-core (tools/setup.sh installs it)",
    )?;
    Some(node)
}
