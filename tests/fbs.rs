//! FBS files (`.fbs`/`.rbs`): the handshake is read by the container, the
//! rest decodes like a `.fb` file, and files are recognised by content.

mod common;

use rfbplay::container::fbs::{parse_handshake, write_fbs};
use rfbplay::container::End;
use rfbplay::export::screen_at;
use rfbplay::player::{PlayOptions, Player};
use rfbplay::progress::NoProgress;
use rfbplay::rfb::PixelFormat;

#[test]
fn fbs_sample_decodes_to_the_same_picture_as_the_fb_sample() {
    let dir = common::testdata();
    let mut player = Player::open(&dir.join("synthetic_core.rbs"), PlayOptions::default()).unwrap();
    assert_eq!(player.container().format_name(), "FBS (FramebufferStream)");
    let (shot, summary) = screen_at(&mut player, None, &NoProgress);
    assert!(summary.error.is_none(), "{:?}", summary.error);
    assert_eq!(summary.end, End::Complete);
    assert_eq!(player.parser().updates(), 7);
    let shot = shot.unwrap();
    let (w, h, rgb) = common::read_rgb(&dir.join("synthetic_core.png"));
    assert_eq!((shot.width(), shot.height()), (w, h));
    assert!(shot.to_rgb() == rgb, "picture differs");
}

#[test]
fn content_not_name_decides_the_format() {
    let tmp = common::TempDir::new("fbsname");
    let f = tmp.path().join("recording.fb");
    std::fs::copy(common::testdata().join("synthetic_core.rbs"), &f).unwrap();
    let player = Player::open(&f, PlayOptions::default()).unwrap();
    assert_eq!(player.container().format_name(), "FBS (FramebufferStream)");
    let g = tmp.path().join("recording.fbs");
    std::fs::copy(common::testdata().join("synthetic_core.fb"), &g).unwrap();
    let player = Player::open(&g, PlayOptions::default()).unwrap();
    assert_eq!(player.container().format_name(), "minimega .fb (gzip)");
}

#[test]
fn a_cut_fbs_file_keeps_what_came_before() {
    let tmp = common::TempDir::new("fbscut");
    let bytes = std::fs::read(common::testdata().join("synthetic_core.rbs")).unwrap();
    let f = tmp.path().join("cut.rbs");
    std::fs::write(&f, &bytes[..bytes.len() - 300]).unwrap();
    let mut player = Player::open(&f, PlayOptions::default()).unwrap();
    let (shot, summary) = screen_at(&mut player, None, &NoProgress);
    assert!(
        matches!(summary.end, End::Truncated(_)),
        "{:?}",
        summary.end
    );
    assert!(summary.error.is_none());
    assert!(player.parser().updates() >= 5);
    assert!(shot.is_some());
}

fn server_init(w: u16, h: u16, pf: &PixelFormat) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&w.to_be_bytes());
    b.extend_from_slice(&h.to_be_bytes());
    b.extend_from_slice(&pf.to_wire());
    b.extend_from_slice(&4u32.to_be_bytes());
    b.extend_from_slice(b"name");
    b
}

#[test]
fn handshakes_of_every_version_and_security_type_parse() {
    let pf16 = PixelFormat {
        big_endian: true,
        ..PixelFormat::RGB565
    };
    let init = server_init(800, 600, &pf16);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "3.3 None",
            [
                b"RFB 003.003\n".to_vec(),
                1u32.to_be_bytes().to_vec(),
                init.clone(),
            ]
            .concat(),
        ),
        (
            "3.3 VncAuth",
            [
                b"RFB 003.003\n".to_vec(),
                2u32.to_be_bytes().to_vec(),
                vec![7; 16],
                0u32.to_be_bytes().to_vec(),
                init.clone(),
            ]
            .concat(),
        ),
        (
            "3.7 None",
            [b"RFB 003.007\n".to_vec(), vec![2, 1, 2], init.clone()].concat(),
        ),
        (
            "3.7 VncAuth",
            [
                b"RFB 003.007\n".to_vec(),
                vec![1, 2],
                vec![9; 16],
                0u32.to_be_bytes().to_vec(),
                init.clone(),
            ]
            .concat(),
        ),
        (
            "3.8 None",
            [
                b"RFB 003.008\n".to_vec(),
                vec![1, 1],
                0u32.to_be_bytes().to_vec(),
                init.clone(),
            ]
            .concat(),
        ),
        (
            "3.8 VncAuth",
            [
                b"RFB 003.008\n".to_vec(),
                vec![2, 1, 2],
                vec![3; 16],
                0u32.to_be_bytes().to_vec(),
                init.clone(),
            ]
            .concat(),
        ),
    ];
    for (name, mut stream) in cases {
        let hs_len = stream.len();
        stream.extend_from_slice(&[2]); // a Bell after the handshake
        let (si, used) = parse_handshake(&stream)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .unwrap_or_else(|| panic!("{name}: incomplete"));
        assert_eq!(used, hs_len, "{name}");
        assert_eq!(
            (si.width, si.height, si.pixel_format),
            (800, 600, Some(pf16)),
            "{name}"
        );
        assert_eq!(si.name, "name");
        // Every strict prefix asks for more rather than failing.
        for cut in 0..hs_len {
            assert!(
                matches!(parse_handshake(&stream[..cut]), Ok(None)),
                "{name} cut at {cut}"
            );
        }
    }
    let refused = [b"RFB 003.008\n".to_vec(), vec![0, 0, 0, 0, 4]].concat();
    assert!(parse_handshake(&refused).unwrap_err().contains("refused"));
}

#[test]
fn a_16bpp_fbs_recording_decodes_in_its_own_pixel_format() {
    let pf16 = PixelFormat::RGB565;
    let hs = [
        b"RFB 003.008\n".to_vec(),
        vec![1, 1],
        0u32.to_be_bytes().to_vec(),
        server_init(2, 1, &pf16),
    ]
    .concat();
    // One Raw update: a red pixel and a white one, RGB565 little-endian.
    let mut upd = vec![0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0];
    upd.extend_from_slice(&(31u16 << 11).to_le_bytes());
    upd.extend_from_slice(&0xffffu16.to_le_bytes());
    let tmp = common::TempDir::new("fbs16");
    let f = tmp.path().join("rgb565.fbs");
    std::fs::write(&f, write_fbs(&[(0, &hs), (40, &upd)])).unwrap();
    let mut player = Player::open(&f, PlayOptions::default()).unwrap();
    let (shot, summary) = screen_at(&mut player, None, &NoProgress);
    assert!(summary.error.is_none(), "{:?}", summary.error);
    assert_eq!(summary.last_update, Some(rfbplay::Time(40_000_000)));
    assert_eq!(shot.unwrap().to_rgb(), vec![255, 0, 0, 255, 255, 255]);
}

#[test]
fn info_shows_what_serverinit_said() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rfbplay"))
        .args(["info", "--json"])
        .arg(common::testdata().join("synthetic_core.rbs"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["format"], "FBS (FramebufferStream)");
    assert_eq!(v["server_init"]["name"], "synthetic");
    assert_eq!(
        (
            v["server_init"]["width"].as_u64(),
            v["server_init"]["height"].as_u64()
        ),
        (Some(48), Some(32))
    );
    assert_eq!(v["pixel_format"]["bits_per_pixel"], 32);
}
