//! Which files `rfbplay serve` may read: only recordings under its folder.
//! A request names a file by its path relative to that folder; anything
//! that could step outside it (`..`, an absolute path, a backslash, a link
//! whose target lies outside) is refused before the file is opened.

use std::path::{Component, Path, PathBuf};

/// Why a requested path is not served.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// Nothing servable there (missing, not a file, not a recording).
    #[error("no recording at this path")]
    NotFound,
    /// The path leaves the served folder.
    #[error("the path leaves the served folder")]
    Outside,
}

/// The recording `relative` names under `root` (which must already be
/// canonical), resolved through links.
pub fn resolve(root: &Path, relative: &str) -> Result<PathBuf, Refused> {
    if relative.is_empty() || relative.contains('\0') {
        return Err(Refused::NotFound);
    }
    if relative.starts_with('/') || relative.contains('\\') {
        return Err(Refused::Outside);
    }
    let rel = Path::new(relative);
    for c in rel.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(Refused::Outside)
            }
        }
    }
    let real = root
        .join(rel)
        .canonicalize()
        .map_err(|_| Refused::NotFound)?;
    if !real.starts_with(root) {
        return Err(Refused::Outside);
    }
    if !real.is_file() || !crate::batch::is_recording(&real) {
        return Err(Refused::NotFound);
    }
    Ok(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escapes() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .canonicalize()
            .unwrap();
        assert!(resolve(&root, "rre.fb").is_ok());
        assert_eq!(resolve(&root, "../Cargo.toml"), Err(Refused::Outside));
        assert_eq!(resolve(&root, "a/../../x"), Err(Refused::Outside));
        assert_eq!(resolve(&root, "/etc/passwd"), Err(Refused::Outside));
        assert_eq!(resolve(&root, "..\\x"), Err(Refused::Outside));
        assert_eq!(resolve(&root, "nope.fb"), Err(Refused::NotFound));
        assert_eq!(resolve(&root, "rre.png"), Err(Refused::NotFound));
    }
}
