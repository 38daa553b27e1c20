//! VNC Authentication's challenge/response (RFC 6143 section 7.2.2).
//!
//! The server sends 16 random bytes; the client encrypts them with DES in
//! ECB mode (two 8-byte blocks) under a key made from the password's first
//! eight bytes, zero-padded. The historical twist every implementation must
//! copy: each key byte is used with its bits in reverse order, a quirk of
//! the original VNC code that RFC 6143 section 7.2.2 notes in an erratum.
//! DES is weak and this scheme gives no real protection on an open network;
//! rfbplay speaks it because Xvnc and QEMU servers are set up with it.
//!
//! Also here: reading a `--password-file`, the one place every command
//! that connects takes a password from a file.

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::Des;
use std::path::{Path, PathBuf};

/// Length of the challenge and of the response.
pub const CHALLENGE_LEN: usize = 16;

/// The DES key for `password`: its first eight bytes (the rest is ignored,
/// as every VNC server does), zero-padded, each byte bit-reversed.
pub fn key(password: &[u8]) -> [u8; 8] {
    let mut key = [0u8; 8];
    for (k, p) in key.iter_mut().zip(password) {
        *k = p.reverse_bits();
    }
    key
}

/// The response to a challenge.
pub fn respond(challenge: &[u8; CHALLENGE_LEN], password: &[u8]) -> [u8; CHALLENGE_LEN] {
    let cipher = Des::new(GenericArray::from_slice(&key(password)));
    let mut out = *challenge;
    for block in out.chunks_exact_mut(8) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    out
}

/// The fixed key with which `vncpasswd` hides a password in its file (it
/// is obfuscation, not protection; every VNC implementation shares it).
const VNCPASSWD_KEY: [u8; 8] = [23, 82, 107, 6, 35, 78, 88, 7];

/// Recovers the password from the 8 bytes `vncpasswd -f` writes. Trailing
/// zero bytes are padding and are dropped.
pub fn unobfuscate(stored: &[u8; 8]) -> Vec<u8> {
    let cipher = Des::new(GenericArray::from_slice(&key(&VNCPASSWD_KEY)));
    let mut block = *stored;
    cipher.decrypt_block(GenericArray::from_mut_slice(&mut block));
    let len = block.iter().position(|&b| b == 0).unwrap_or(8);
    block[..len].to_vec()
}

/// A password read from a file, and whether other users can read it too.
#[derive(Clone, Debug)]
pub struct PasswordFile {
    pub password: String,
    /// The file's permission bits when group or others have any access
    /// (as ssh refuses for private keys): the password is not private.
    pub too_open: Option<u32>,
}

/// A password file that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the password file {}", path.display())]
pub struct PasswordFileError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Reads a password file: a text file's first line, or the 8 (16 with a
/// view-only password) obfuscated bytes `vncpasswd` writes. See
/// [`PasswordFile::too_open`] for the permission check.
pub fn read_password_file(path: &Path) -> Result<PasswordFile, PasswordFileError> {
    let err = |source| PasswordFileError {
        path: path.to_path_buf(),
        source,
    };
    let bytes = std::fs::read(path).map_err(err)?;
    let meta = std::fs::metadata(path).map_err(err)?;
    Ok(PasswordFile {
        password: password_from_bytes(&bytes),
        too_open: too_open(&meta),
    })
}

#[cfg(unix)]
fn too_open(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
fn too_open(_: &std::fs::Metadata) -> Option<u32> {
    None
}

/// A vncpasswd file is 8 bytes (16 with a view-only password) of DES
/// output, which is almost never printable text; anything else is text and
/// its first line is the password.
pub fn password_from_bytes(bytes: &[u8]) -> String {
    let is_text = std::str::from_utf8(bytes).is_ok_and(|s| {
        !s.chars()
            .any(|c| c.is_control() && !matches!(c, '\r' | '\n' | '\t'))
    });
    if !is_text && matches!(bytes.len(), 8 | 16) {
        let mut block = [0u8; 8];
        block.copy_from_slice(&bytes[..8]);
        return String::from_utf8_lossy(&unobfuscate(&block)).into_owned();
    }
    let text = String::from_utf8_lossy(bytes);
    text.lines().next().unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_bytes_are_bit_reversed_and_padded() {
        assert_eq!(key(b"\x01\x80"), [0x80, 0x01, 0, 0, 0, 0, 0, 0]);
        assert_eq!(key(b"abcdefghij"), key(b"abcdefgh"));
    }

    #[test]
    fn known_des_vector_through_the_reversed_key() {
        // FIPS 81 / the classic DES test: key 0x0123456789ABCDEF encrypts
        // "Now is t" (4E6F772069732074) to 3FA40E8A984D4815. Reversing the
        // bits of each key byte gives the password that yields that key.
        let want_key = [0x01u8, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
        let password: Vec<u8> = want_key.iter().map(|b| b.reverse_bits()).collect();
        assert_eq!(key(&password), want_key);
        let mut challenge = [0u8; 16];
        challenge[..8].copy_from_slice(b"Now is t");
        challenge[8..].copy_from_slice(b"Now is t");
        let r = respond(&challenge, &password);
        let want = [0x3f, 0xa4, 0x0e, 0x8a, 0x98, 0x4d, 0x48, 0x15];
        assert_eq!(r[..8], want);
        assert_eq!(r[8..], want, "ECB: equal blocks encrypt equally");
    }

    #[test]
    fn vncpasswd_files_unobfuscate() {
        // `printf 's3cret!\ns3cret!\n' | vncpasswd -f`, first block.
        let stored = [0xff, 0x99, 0xc2, 0xcc, 0x4f, 0x80, 0xab, 0xab];
        assert_eq!(unobfuscate(&stored), b"s3cret!");
        let stored = [0xdb, 0x8a, 0xb0, 0x25, 0x65, 0xe3, 0xb4, 0xc2];
        assert_eq!(unobfuscate(&stored), b"abcdefgh");
    }

    #[test]
    fn password_files() {
        assert_eq!(password_from_bytes(b"hunter2\n"), "hunter2");
        assert_eq!(password_from_bytes(b"hunter2\r\nmore\n"), "hunter2");
        assert_eq!(password_from_bytes(b"password"), "password");
        let vncpasswd = [0xff, 0x99, 0xc2, 0xcc, 0x4f, 0x80, 0xab, 0xab];
        assert_eq!(password_from_bytes(&vncpasswd), "s3cret!");
        let mut two = vncpasswd.to_vec();
        two.extend_from_slice(&vncpasswd);
        assert_eq!(password_from_bytes(&two), "s3cret!");
    }

    #[cfg(unix)]
    #[test]
    fn open_password_files_are_flagged() {
        use std::os::unix::fs::PermissionsExt;
        let path = std::env::temp_dir().join(format!("rfbplay-pw-{}", std::process::id()));
        std::fs::write(&path, "pw\n").unwrap();
        for (mode, flagged) in [
            (0o600, None),
            (0o400, None),
            (0o644, Some(0o644)),
            (0o640, Some(0o640)),
            (0o604, Some(0o604)),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let f = read_password_file(&path).unwrap();
            assert_eq!(f.password, "pw");
            assert_eq!(f.too_open, flagged, "{mode:o}");
        }
        std::fs::remove_file(&path).unwrap();
        let e = read_password_file(&path).unwrap_err().to_string();
        assert!(e.starts_with("cannot read the password file "), "{e}");
    }
}
