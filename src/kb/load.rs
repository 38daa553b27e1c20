//! Loading a .kb file for playback: read it, follow every `LoadFile`, decode
//! every template image, and flatten it all into one list of steps.
//!
//! Everything is checked here, before the player connects, so a typo on
//! line 900 of an included file cannot stop a playback halfway (issue 6).
//! Errors name the file and line. Limits (nesting depth, file size, step
//! count, template size) are checked before memory is taken: a file that
//! includes another twice at each of 16 levels would otherwise expand to
//! 65536 copies.

use super::parse::{parse_event, parse_str, LineError};
use super::{Event, Item, Keysym};
use base64::Engine as _;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The largest template the search can take (see `decode_template`).
pub const MAX_TEMPLATE_PIXELS: u64 = 4096 * 4096;

#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// How deep LoadFile may nest (the top file is depth 0).
    pub max_depth: usize,
    /// Largest .kb or image file read, in bytes.
    pub max_file_bytes: u64,
    /// Most steps after LoadFile expansion.
    pub max_steps: usize,
    /// Largest template image, in pixels.
    pub max_template_pixels: u64,
    /// When set (a canonical folder), every file read (included .kb files,
    /// template images) must lie inside it, links resolved: `rfbplay serve`
    /// shows the events of a .kb beside a recording without letting a
    /// `LoadFile` read anything outside the served folder.
    pub within: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_depth: 16,
            max_file_bytes: 256 << 20,
            max_steps: 10_000_000,
            max_template_pixels: MAX_TEMPLATE_PIXELS,
            within: None,
        }
    }
}

/// Template images live with the searcher that looks for them.
pub use crate::search::Template;

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Key {
        down: bool,
        keysym: Keysym,
    },
    Pointer {
        mask: u8,
        x: u16,
        y: u16,
    },
    /// Wait until the template is on screen; then click its centre if `click`.
    Wait {
        click: bool,
        timeout_ns: u64,
        template: Arc<Template>,
    },
    /// The start of an included file (`Program::files[file]`); its events follow.
    Enter {
        file: usize,
    },
    /// A comment line, for the log.
    Comment(String),
}

/// One step of a flattened playback, with where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Index into [`Program::files`].
    pub file: usize,
    pub line: u32,
    pub delay_ns: u64,
    pub action: Action,
}

/// A whole playback: the top file with its LoadFile targets expanded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    pub files: Vec<PathBuf>,
    pub steps: Vec<Step>,
}

/// Event counts for `play --check`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub keys: usize,
    pub pointers: usize,
    pub waits: usize,
    pub clicks: usize,
    pub loads: usize,
    pub comments: usize,
}

impl Program {
    /// The sum of all delays: the playback time without waiting for images.
    pub fn duration_ns(&self) -> u64 {
        self.steps
            .iter()
            .fold(0u64, |t, s| t.saturating_add(s.delay_ns))
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in &self.steps {
            match &s.action {
                Action::Key { .. } => c.keys += 1,
                Action::Pointer { .. } => c.pointers += 1,
                Action::Wait { click: false, .. } => c.waits += 1,
                Action::Wait { click: true, .. } => c.clicks += 1,
                Action::Enter { .. } => c.loads += 1,
                Action::Comment(_) => c.comments += 1,
            }
        }
        c
    }

    /// Every file this playback reads: the .kb files and the template
    /// images. Outputs such as the control socket must not be one of them.
    pub fn inputs(&self) -> Vec<PathBuf> {
        let mut out = self.files.clone();
        for s in &self.steps {
            if let Action::Wait { template, .. } = &s.action {
                if let Some(p) = &template.path {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
            }
        }
        out
    }

    /// `file:line` of a step, for status lines and errors.
    pub fn location(&self, step: &Step) -> String {
        let file = self.files.get(step.file).map(|p| p.display().to_string());
        format!("{}:{}", file.as_deref().unwrap_or("?"), step.line)
    }
}

/// A .kb file that cannot be played, with the file and line to look at
/// (line 0: the file as a whole).
#[derive(Debug, thiserror::Error)]
pub struct LoadError {
    pub file: PathBuf,
    pub line: u32,
    pub kind: LoadErrorKind,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names_file = match &self.kind {
            LoadErrorKind::Read { path, .. }
            | LoadErrorKind::TooBig { path, .. }
            | LoadErrorKind::NotText { path }
            | LoadErrorKind::Outside { path } => *path == self.file,
            _ => false,
        };
        match self.line {
            // The kind names the file already: say it once.
            0 if names_file => write!(f, "{}", self.kind),
            0 => write!(f, "{}: {}", self.file.display(), self.kind),
            n => write!(f, "{}:{n}: {}", self.file.display(), self.kind),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadErrorKind {
    #[error("{0}")]
    Syntax(#[from] LineError),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is {len} bytes, more than the {limit}-byte limit", path.display())]
    TooBig { path: PathBuf, len: u64, limit: u64 },
    #[error("{} is not UTF-8 text", path.display())]
    NotText { path: PathBuf },
    #[error("{} is outside the folder files may be read from", path.display())]
    Outside { path: PathBuf },
    #[error("LoadFile nests deeper than {limit} files")]
    TooDeep { limit: usize },
    #[error("LoadFile cycle: {chain}")]
    Cycle { chain: String },
    #[error("more than {limit} steps after LoadFile expansion")]
    TooManySteps { limit: usize },
    #[error("template {source_name}: {error}")]
    Image {
        source_name: String,
        error: image::ImageError,
    },
    #[error("template {source_name} is {width}x{height}, empty or over {limit} pixels")]
    TemplateSize {
        source_name: String,
        width: u32,
        height: u32,
        limit: u64,
    },
}

/// Loads `path` and everything it includes.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Program, LoadError> {
    let mut loader = Loader::new(options);
    let top = loader.file_index(path).map_err(|e| match e {
        FileError::Own(e) => e,
        FileError::At(kind) => LoadError {
            file: path.to_path_buf(),
            line: 0,
            kind,
        },
    })?;
    loader.expand(top, 0)?;
    Ok(loader.program)
}

/// Loads one event given on its own (`inject`), with relative paths
/// resolved against `base`; `name` stands for the file in messages.
pub fn load_event(
    event: &Event,
    base: &Path,
    name: &str,
    options: &LoadOptions,
) -> Result<Program, LoadError> {
    let mut loader = Loader::new(options);
    // The event stands as line 1 of a file of its own, index 0: every
    // file index has its folder and its script (a LoadFile it names is
    // file 1, and is looked up by that index).
    loader.program.files.push(PathBuf::from(name));
    loader.dirs.push(base.to_path_buf());
    loader.scripts.push(Arc::new(super::Script::default()));
    loader.step(0, 1, 0, 0, event)?;
    Ok(loader.program)
}

enum FileError {
    /// Report at the LoadFile line that names the file.
    At(LoadErrorKind),
    /// Already placed in the file itself.
    Own(LoadError),
}

struct Loader<'a> {
    options: &'a LoadOptions,
    program: Program,
    /// Folder of each file in `program.files`, for relative paths.
    dirs: Vec<PathBuf>,
    /// Parsed text per file index (parsed once, however often included).
    scripts: Vec<Arc<super::Script>>,
    by_canonical: HashMap<PathBuf, usize>,
    templates: HashMap<String, Arc<Template>>,
    /// Files being expanded, outermost first, for cycle reports.
    stack: Vec<usize>,
}

impl<'a> Loader<'a> {
    fn new(options: &'a LoadOptions) -> Self {
        Loader {
            options,
            program: Program::default(),
            dirs: Vec::new(),
            scripts: Vec::new(),
            by_canonical: HashMap::new(),
            templates: HashMap::new(),
            stack: Vec::new(),
        }
    }

    /// Reads and parses a file once; returns its index. A read error is
    /// the including line's to report; a syntax error is reported at its
    /// own file and line, since that is the line to fix.
    fn file_index(&mut self, path: &Path) -> Result<usize, FileError> {
        let read_err = |source| {
            FileError::At(LoadErrorKind::Read {
                path: path.to_path_buf(),
                source,
            })
        };
        let canonical = path.canonicalize().map_err(read_err)?;
        check_within(&canonical, path, self.options).map_err(FileError::At)?;
        if let Some(&i) = self.by_canonical.get(&canonical) {
            return Ok(i);
        }
        let bytes = read_limited(path, self.options.max_file_bytes).map_err(FileError::At)?;
        let text = String::from_utf8(bytes).map_err(|_| {
            FileError::At(LoadErrorKind::NotText {
                path: path.to_path_buf(),
            })
        })?;
        let script = parse_str(&text).map_err(|e| {
            FileError::Own(LoadError {
                file: path.to_path_buf(),
                line: e.line,
                kind: LoadErrorKind::Syntax(e.error),
            })
        })?;
        let index = self.program.files.len();
        self.program.files.push(path.to_path_buf());
        self.dirs
            .push(path.parent().map(Path::to_path_buf).unwrap_or_default());
        self.scripts.push(Arc::new(script));
        self.by_canonical.insert(canonical, index);
        Ok(index)
    }

    fn expand(&mut self, file: usize, depth: usize) -> Result<(), LoadError> {
        self.stack.push(file);
        let script = Arc::clone(&self.scripts[file]);
        for line in &script.lines {
            match &line.item {
                Item::Comment(text) => {
                    self.push(
                        file,
                        line.number,
                        Step {
                            file,
                            line: line.number,
                            delay_ns: 0,
                            action: Action::Comment(text.clone()),
                        },
                    )?;
                }
                Item::Event { delay_ns, event } => {
                    self.step(file, line.number, depth, *delay_ns, event)?;
                }
            }
        }
        self.stack.pop();
        Ok(())
    }

    fn push(&mut self, file: usize, line: u32, step: Step) -> Result<(), LoadError> {
        if self.program.steps.len() >= self.options.max_steps {
            return Err(self.error(
                file,
                line,
                LoadErrorKind::TooManySteps {
                    limit: self.options.max_steps,
                },
            ));
        }
        self.program.steps.push(step);
        Ok(())
    }

    fn error(&self, file: usize, line: u32, kind: LoadErrorKind) -> LoadError {
        LoadError {
            file: self.program.files.get(file).cloned().unwrap_or_default(),
            line,
            kind,
        }
    }

    fn step(
        &mut self,
        file: usize,
        line: u32,
        depth: usize,
        delay_ns: u64,
        event: &Event,
    ) -> Result<(), LoadError> {
        let base = self.dirs.get(file).cloned().unwrap_or_default();
        let action = match event {
            Event::Key { down, keysym } => Action::Key {
                down: *down,
                keysym: *keysym,
            },
            Event::Pointer { mask, x, y } => Action::Pointer {
                mask: *mask,
                x: *x,
                y: *y,
            },
            Event::Wait {
                click,
                timeout_ns,
                image,
            } => {
                let template = self
                    .template(image, &base)
                    .map_err(|kind| self.error(file, line, kind))?;
                Action::Wait {
                    click: *click,
                    timeout_ns: *timeout_ns,
                    template,
                }
            }
            Event::LoadFile { path } => {
                if depth + 1 > self.options.max_depth {
                    let limit = self.options.max_depth;
                    return Err(self.error(file, line, LoadErrorKind::TooDeep { limit }));
                }
                let target = base.join(path);
                let inner = match self.file_index(&target) {
                    Ok(i) => i,
                    Err(FileError::Own(e)) => return Err(e),
                    Err(FileError::At(kind)) => return Err(self.error(file, line, kind)),
                };
                if self.stack.contains(&inner) {
                    let mut chain: Vec<String> = self
                        .stack
                        .iter()
                        .skip_while(|&&f| f != inner)
                        .filter_map(|&f| self.program.files.get(f))
                        .map(|p| p.display().to_string())
                        .collect();
                    chain.push(target.display().to_string());
                    let chain = chain.join(" -> ");
                    return Err(self.error(file, line, LoadErrorKind::Cycle { chain }));
                }
                self.push(
                    file,
                    line,
                    Step {
                        file,
                        line,
                        delay_ns,
                        action: Action::Enter { file: inner },
                    },
                )?;
                return self.expand(inner, depth + 1);
            }
        };
        self.push(
            file,
            line,
            Step {
                file,
                line,
                delay_ns,
                action,
            },
        )
    }

    /// Decodes a template given inline in base64 or as a path.
    fn template(&mut self, image: &str, base: &Path) -> Result<Arc<Template>, LoadErrorKind> {
        let (bytes, source_name, path) = match inline_image(image) {
            Some(bytes) => {
                let name = format!("inline base64 ({} bytes)", bytes.len());
                (bytes, name, None)
            }
            None => {
                let path = base.join(image);
                let key = path.display().to_string();
                if let Some(t) = self.templates.get(&key) {
                    return Ok(Arc::clone(t));
                }
                if self.options.within.is_some() {
                    let canonical = path.canonicalize().map_err(|source| LoadErrorKind::Read {
                        path: path.clone(),
                        source,
                    })?;
                    check_within(&canonical, &path, self.options)?;
                }
                (
                    read_limited(&path, self.options.max_file_bytes)?,
                    key,
                    Some(path),
                )
            }
        };
        if let Some(t) = self.templates.get(&source_name) {
            return Ok(Arc::clone(t));
        }
        let mut t = decode_template(&bytes, source_name.clone(), self.options)?;
        t.path = path;
        let t = Arc::new(t);
        self.templates.insert(source_name, Arc::clone(&t));
        Ok(t)
    }
}

/// The image bytes when `text` is base64 of a PNG or JPEG; a path otherwise.
fn inline_image(text: &str) -> Option<Vec<u8>> {
    let b64 = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if text.len() < 16 || !text.bytes().all(b64) {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    let png = bytes.starts_with(b"\x89PNG\r\n\x1a\n");
    let jpeg = bytes.starts_with(&[0xff, 0xd8, 0xff]);
    (png || jpeg).then_some(bytes)
}

/// Refuses a file outside [`LoadOptions::within`].
fn check_within(canonical: &Path, path: &Path, options: &LoadOptions) -> Result<(), LoadErrorKind> {
    match &options.within {
        Some(root) if !canonical.starts_with(root) => Err(LoadErrorKind::Outside {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, LoadErrorKind> {
    let read_err = |source| LoadErrorKind::Read {
        path: path.to_path_buf(),
        source,
    };
    let len = std::fs::metadata(path).map_err(read_err)?.len();
    if len > limit {
        return Err(LoadErrorKind::TooBig {
            path: path.to_path_buf(),
            len,
            limit,
        });
    }
    std::fs::read(path).map_err(read_err)
}

/// Decodes a PNG/JPEG into BGRX, checking its size before decoding pixels.
pub fn decode_template(
    bytes: &[u8],
    source_name: String,
    options: &LoadOptions,
) -> Result<Template, LoadErrorKind> {
    let image_err = |error| LoadErrorKind::Image {
        source_name: source_name.clone(),
        error,
    };
    let reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| image_err(image::ImageError::IoError(e)))?;
    let (width, height) = reader.into_dimensions().map_err(image_err)?;
    let pixels = u64::from(width) * u64::from(height);
    // The search sums a template's pixels in u32 (src/search/): 4096x4096
    // pixels of 255 is the most that fits, whatever the options say.
    let limit = options.max_template_pixels.min(MAX_TEMPLATE_PIXELS);
    if pixels == 0 || pixels > limit {
        return Err(LoadErrorKind::TemplateSize {
            source_name,
            width,
            height,
            limit,
        });
    }
    let rgb = image::load_from_memory(bytes).map_err(image_err)?.to_rgb8();
    let mut bgrx = Vec::with_capacity(rgb.as_raw().len() / 3 * 4);
    for p in rgb.as_raw().chunks_exact(3) {
        bgrx.extend_from_slice(&[p[2], p[1], p[0], 0]);
    }
    Ok(Template {
        width,
        height,
        bgrx,
        source: source_name,
        path: None,
    })
}

/// Parses and loads one event line given on its own, as `inject` does.
pub fn parse_inject(text: &str, base: &Path, options: &LoadOptions) -> Result<Program, LoadError> {
    let event = parse_event(text).map_err(|e| LoadError {
        file: PathBuf::from("<inject>"),
        line: 1,
        kind: LoadErrorKind::Syntax(e),
    })?;
    load_event(&event, base, "<inject>", options)
}
