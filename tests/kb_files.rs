//! .kb files from disk: the corpus files parse and round-trip through the
//! writer, LoadFile follows relative paths, and every error names its file
//! and line, including cycles, depth and bad template images.

mod common;

use rfbplay::kb::write::write_script;
use rfbplay::kb::{self, Action, Event, Item, Keysym, LoadErrorKind, LoadOptions};
use std::path::Path;

fn items(s: &kb::Script) -> Vec<Item> {
    s.lines.iter().map(|l| l.item.clone()).collect()
}

/// The key steps of a program, with their delays.
fn keys_of(p: &kb::load::Program) -> Vec<(u64, Keysym)> {
    p.steps
        .iter()
        .filter_map(|s| match s.action {
            Action::Key { keysym, .. } => Some((s.delay_ns, keysym)),
            _ => None,
        })
        .collect()
}

#[test]
fn corpus_files_round_trip() {
    let Some(dir) = common::corpus() else { return };
    for name in [
        "xterm_echo_hello.kb",
        "pointer_select_paste.kb",
        "durations_loadfile.kb",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let first = kb::parse_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut out = Vec::new();
        write_script(&first, &mut out).unwrap();
        let second = kb::parse_str(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(items(&first), items(&second), "{name}");
        // Files a recorder wrote (integer delays, known key names) come
        // back byte for byte.
        if name != "durations_loadfile.kb" {
            assert_eq!(String::from_utf8(out).unwrap(), text, "{name}");
        }
    }
}

#[test]
fn corpus_loadfile_expands_in_place() {
    let Some(dir) = common::corpus() else { return };
    let program = kb::load(&dir.join("durations_loadfile.kb"), &LoadOptions::default()).unwrap();
    assert_eq!(program.files.len(), 2);
    assert!(program.files[1].ends_with("xterm_echo_hello.kb"));
    let c = program.counts();
    // 41 events of its own (one is the LoadFile) + 49 of the included file.
    assert_eq!(
        (c.keys, c.pointers, c.loads, c.comments),
        (34 + 42, 3 + 7, 1, 6)
    );
    // The included steps come right after the LoadFile marker, with the
    // included file's own line numbers.
    let enter = program
        .steps
        .iter()
        .position(|s| s.action == Action::Enter { file: 1 })
        .unwrap();
    assert_eq!(program.steps[enter].delay_ns, 1_000_000_000);
    assert_eq!(
        program.location(&program.steps[enter]).rsplit(':').next(),
        Some("20")
    );
    let first_inner = &program.steps[enter + 1];
    assert_eq!(
        (first_inner.file, first_inner.line, first_inner.delay_ns),
        (1, 1, 812_345_678)
    );
    // Durations: the hand-written delays plus the included file's integers.
    let own: u64 = [
        500, 250, 1000, 80, 120, 75, 140, 70, 110, 85, 130, 60, 250, 90, 1000, 1500, 80, 130, 70,
        115, 65, 150, 60, 140, 75, 120, 70, 110, 80, 125, 70, 135, 65, 160, 75, 250, 90, 2000,
    ]
    .iter()
    .map(|ms| ms * 1_000_000)
    .sum();
    let echo = kb::load(&dir.join("xterm_echo_hello.kb"), &LoadOptions::default()).unwrap();
    assert_eq!(program.duration_ns(), own + echo.duration_ns());
    assert_eq!(echo.steps.len(), 49);
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn relative_paths_resolve_against_the_including_file() {
    let tmp = common::TempDir::new("kb-rel");
    let top = write(
        tmp.path(),
        "top.kb",
        "1:LoadFile,sub/a.kb\n2:KeyEvent,true,z\n",
    );
    write(tmp.path(), "sub/a.kb", "3:LoadFile,b.kb\n");
    write(tmp.path(), "sub/b.kb", "4:KeyEvent,true,b\n");
    let p = kb::load(&top, &LoadOptions::default()).unwrap();
    let keys = keys_of(&p);
    assert_eq!(keys, [(4, Keysym(0x62)), (2, Keysym(0x7a))]);
    assert_eq!(p.duration_ns(), 10);
}

/// An injected LoadFile (`inject LoadFile,a.kb`, or `ctl SOCKET inject
/// LoadFile,a.kb`) plays the file, and the files it loads, in place: the
/// injected event is a file of its own, which the loaded ones follow.
#[test]
fn an_injected_loadfile_plays_the_file_it_names() {
    let tmp = common::TempDir::new("kb-inject-load");
    write(
        tmp.path(),
        "sub/a.kb",
        "3:LoadFile,b.kb\n5:KeyEvent,true,a\n",
    );
    write(tmp.path(), "sub/b.kb", "4:KeyEvent,true,b\n");
    let p =
        kb::load::parse_inject("LoadFile,sub/a.kb", tmp.path(), &LoadOptions::default()).unwrap();
    let keys = keys_of(&p);
    assert_eq!(keys, [(4, Keysym(0x62)), (5, Keysym(0x61))]);
    assert_eq!(p.files.len(), 3, "{:?}", p.files);
    // A missing file is an error naming it, not a crash.
    let e = kb::load::parse_inject("LoadFile,nowhere.kb", tmp.path(), &LoadOptions::default())
        .unwrap_err();
    assert!(e.to_string().contains("nowhere.kb"), "{e}");
}

/// A control socket that closes without answering is an error for the
/// asker, not an empty success.
#[test]
fn a_control_socket_that_answers_nothing_is_an_error() {
    let tmp = common::TempDir::new("kb-ctl-silent");
    let sock = tmp.path().join("s.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let server = std::thread::spawn(move || {
        // Reads the request, then goes away without a word.
        let (conn, _) = listener.accept().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(&conn), &mut line).unwrap();
        assert!(line.starts_with("inject"), "{line}");
        drop(conn);
    });
    let e = rfbplay::kb::control::request(&sock, "inject KeyEvent,true,a").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");
    server.join().unwrap();
}

#[test]
fn errors_name_file_and_line() {
    let tmp = common::TempDir::new("kb-err");
    // A syntax error inside an included file points at that file.
    let top = write(tmp.path(), "top.kb", "# c\n1:LoadFile,bad.kb\n");
    write(
        tmp.path(),
        "bad.kb",
        "1:KeyEvent,true,a\n\n1:KeyEvent,maybe,a\n",
    );
    let e = kb::load(&top, &LoadOptions::default()).unwrap_err();
    assert!(e.file.ends_with("bad.kb") && e.line == 3, "{e}");
    assert!(
        e.to_string()
            .ends_with("bad.kb:3: 'maybe' is not true or false"),
        "{e}"
    );

    // A missing include is the including line's error.
    let top = write(
        tmp.path(),
        "missing.kb",
        "1:KeyEvent,true,a\n1:LoadFile,nowhere.kb\n",
    );
    let e = kb::load(&top, &LoadOptions::default()).unwrap_err();
    assert!(e.file.ends_with("missing.kb") && e.line == 2, "{e}");
    assert!(matches!(e.kind, LoadErrorKind::Read { .. }));

    // Cycles are reported with the chain.
    let a = write(tmp.path(), "a.kb", "1:LoadFile,b.kb\n");
    write(tmp.path(), "b.kb", "1:KeyEvent,true,a\n2:LoadFile,a.kb\n");
    let e = kb::load(&a, &LoadOptions::default()).unwrap_err();
    assert!(e.file.ends_with("b.kb") && e.line == 2, "{e}");
    assert!(
        matches!(&e.kind, LoadErrorKind::Cycle { chain } if chain.contains("a.kb -> ")),
        "{e}"
    );

    // A file may include itself from a sibling twice (no cycle), and the
    // depth cap stops long chains.
    for i in 0..20 {
        write(
            tmp.path(),
            &format!("d{i}.kb"),
            &format!("1:LoadFile,d{}.kb\n", i + 1),
        );
    }
    write(tmp.path(), "d20.kb", "1:KeyEvent,true,a\n");
    let opts = LoadOptions {
        max_depth: 16,
        ..LoadOptions::default()
    };
    let e = kb::load(&tmp.path().join("d0.kb"), &opts).unwrap_err();
    assert!(
        matches!(e.kind, LoadErrorKind::TooDeep { limit: 16 }),
        "{e}"
    );
    assert!(e.file.ends_with("d16.kb"), "{e}");
    let deep = kb::load(&tmp.path().join("d4.kb"), &opts).unwrap();
    assert_eq!(deep.counts().keys, 1);

    // Exponential includes hit the step limit instead of eating memory.
    let twice = write(tmp.path(), "x0.kb", "1:LoadFile,x1.kb\n1:LoadFile,x1.kb\n");
    for i in 1..12 {
        write(
            tmp.path(),
            &format!("x{i}.kb"),
            &format!("1:LoadFile,x{0}.kb\n1:LoadFile,x{0}.kb\n", i + 1),
        );
    }
    write(tmp.path(), "x12.kb", "1:KeyEvent,true,a\n");
    let opts = LoadOptions {
        max_steps: 1000,
        ..LoadOptions::default()
    };
    let e = kb::load(&twice, &opts).unwrap_err();
    assert!(
        matches!(e.kind, LoadErrorKind::TooManySteps { limit: 1000 }),
        "{e}"
    );

    // A bad template image is found at load time.
    let top = write(
        tmp.path(),
        "img.kb",
        "1:KeyEvent,true,a\n2:WaitForIt,1s,notes.txt\n",
    );
    write(tmp.path(), "notes.txt", "not an image");
    let e = kb::load(&top, &LoadOptions::default()).unwrap_err();
    assert!(
        e.line == 2 && matches!(e.kind, LoadErrorKind::Image { .. }),
        "{e}"
    );
}

#[test]
fn templates_from_paths_and_base64() {
    use base64::Engine as _;
    let tmp = common::TempDir::new("kb-img");
    let img = image::RgbImage::from_fn(3, 2, |x, y| image::Rgb([x as u8 * 10, y as u8 * 20, 7]));
    let png = tmp.path().join("t.png");
    img.save(&png).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(std::fs::read(&png).unwrap());
    let top = write(
        tmp.path(),
        "w.kb",
        &format!("1:WaitForIt,2s,t.png\n2:ClickItEvent,500ms,{b64}\n"),
    );
    let p = kb::load(&top, &LoadOptions::default()).unwrap();
    let templates: Vec<_> = p
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::Wait {
                click,
                timeout_ns,
                template,
            } => Some((*click, *timeout_ns, template.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(templates.len(), 2);
    assert_eq!((templates[0].0, templates[0].1), (false, 2_000_000_000));
    assert_eq!((templates[1].0, templates[1].1), (true, 500_000_000));
    for (_, _, t) in &templates {
        assert_eq!((t.width, t.height), (3, 2));
        // Pixel (2,1) is R=20, G=20, B=7, stored B,G,R,X.
        assert_eq!(&t.bgrx[(3 + 2) * 4..(3 + 2) * 4 + 3], &[7, 20, 20]);
    }
    assert!(templates[1].2.source.starts_with("inline base64"));
    assert_eq!(
        kb::parse_event(&format!("ClickItEvent,1s,{b64}")).unwrap(),
        Event::Wait {
            click: true,
            timeout_ns: 1_000_000_000,
            image: b64
        }
    );
}
