//! Virtual keys at rest: XChaCha20-Poly1305, stored as `nonce || ciphertext`.
//!
//! mama must read keys back (services ask for them), so they are encrypted, not hashed. The
//! 192-bit nonce is random per encryption, which is safe for any number of rows. The associated
//! data binds a ciphertext to its row (`b"mama:user-key:v1:" + user id`), so a ciphertext copied
//! onto another user's row does not decrypt. The key comes from a credential file that only the
//! daemon's user may read.
//!
//! Every key has a [`KeyFingerprint`], which the database records (`key_check`), so that a daemon
//! given another key refuses to start instead of serving unreadable keys and encrypting new ones
//! under a second key.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use blake2::digest::Mac;
use blake2::Blake2sMac256;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use zeroize::{Zeroize, Zeroizing};

use crate::auth::random_secret_bytes;
use crate::secret::SecretString;

/// Bytes of an XChaCha20-Poly1305 nonce.
const NONCE_LEN: usize = 24;
/// Bytes of the Poly1305 tag at the end of every ciphertext.
const TAG_LEN: usize = 16;
/// Bytes of the encryption key.
pub const KEY_LEN: usize = 32;
/// What a freshly minted virtual key starts with; LiteLLM requires it.
pub const VIRTUAL_KEY_PREFIX: &str = "sk-";
/// Permission bits that must be clear on a secret file: nothing for group or other.
const GROUP_OTHER_BITS: u32 = 0o077;
/// Longest secret file read; a larger file is certainly not a key and is not slurped.
const MAX_SECRET_FILE_BYTES: u64 = 4096;

/// Failures around the encryption key and ciphertexts. Never carries key or plaintext bytes.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("secret file {path} does not exist")]
    Missing { path: PathBuf },
    #[error("cannot read or create secret file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "secret file {path} has mode {mode:04o}: group or others may access it; \
         run `chmod 600 {path}` (or pass it with systemd LoadCredential=)"
    )]
    InsecurePermissions { path: PathBuf, mode: u32 },
    #[error("secret file {path} is not a regular file")]
    NotAFile { path: PathBuf },
    #[error(
        "secret file {path} must hold exactly {len} raw bytes or {hex_len} hex characters \
         (optionally followed by a newline)"
    )]
    BadSecretFile {
        path: PathBuf,
        len: usize,
        hex_len: usize,
    },
    #[error("stored ciphertext is too short to be valid")]
    Truncated,
    /// Wrong key, tampered bytes or a ciphertext that belongs to another row.
    #[error("stored ciphertext does not decrypt with this key for this row")]
    Decrypt,
    #[error("decrypted value is not UTF-8")]
    NotUtf8,
}

/// The AEAD used for virtual keys at rest. Its key is wiped when it is dropped.
#[derive(Clone)]
pub struct KeyCipher {
    aead: XChaCha20Poly1305,
    fingerprint: KeyFingerprint,
}

/// Names an encryption key without revealing it: BLAKE2s keyed with the key, over a constant
/// (a MAC of a fixed message, so it says nothing about the key but tells two keys apart).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyFingerprint([u8; 32]);

/// What the fingerprint MACs; a new scheme would change it (and need a migration).
const FINGERPRINT_MESSAGE: &[u8] = b"mama:encryption-key-check:v1";
/// BLAKE2s personalization (8 bytes at most) separating fingerprints from any other use.
const FINGERPRINT_PERSONA: &[u8] = b"mamakey1";

impl KeyFingerprint {
    fn of(key: &[u8; KEY_LEN]) -> KeyFingerprint {
        let mut mac = Blake2sMac256::new_with_salt_and_personal(key, &[], FINGERPRINT_PERSONA)
            .expect("a 32-byte key and an 8-byte persona fit BLAKE2s");
        mac.update(FINGERPRINT_MESSAGE);
        KeyFingerprint(mac.finalize().into_bytes().into())
    }

    /// The form stored in the database: 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads [`KeyFingerprint::to_hex`]'s form back; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<KeyFingerprint> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(KeyFingerprint(bytes))
    }
}

/// The first 16 hex characters: enough for an operator to tell key files apart.
impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0[..8]))
    }
}

impl fmt::Debug for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyFingerprint({self})")
    }
}

impl fmt::Debug for KeyCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyCipher([redacted])")
    }
}

impl KeyCipher {
    /// A cipher with the given 32-byte key.
    pub fn from_bytes(key: &[u8; KEY_LEN]) -> Self {
        Self {
            aead: XChaCha20Poly1305::new(Key::from_slice(key)),
            fingerprint: KeyFingerprint::of(key),
        }
    }

    /// Reads the key file at `path`; [`CryptoError::Missing`] when there is none. See
    /// [`load_or_create_secret_file`] for the rules the file must follow.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(CryptoError::Missing {
                    path: path.to_owned(),
                })
            }
            Err(source) => {
                return Err(CryptoError::Io {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        Ok(Self::from_secret(&Zeroizing::new(read_secret_file(
            path, file, KEY_LEN,
        )?)))
    }

    /// Reads the key file at `path`, or creates one with a random key (mode 0600) when missing.
    /// Only for a database that holds no encrypted key yet: the daemon decides that through
    /// `ops::encryption_key`, never by a missing file alone.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        let bytes = Zeroizing::new(load_or_create_secret_file(path, KEY_LEN)?);
        Ok(Self::from_secret(&bytes))
    }

    /// `secret` is exactly [`KEY_LEN`] bytes (the secret-file readers guarantee it).
    fn from_secret(secret: &[u8]) -> Self {
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(secret);
        let cipher = Self::from_bytes(&key);
        key.zeroize();
        cipher
    }

    /// Which key this is, as the database records it.
    pub fn fingerprint(&self) -> KeyFingerprint {
        self.fingerprint
    }

    /// Encrypts `plaintext` bound to `aad`, returning `nonce || ciphertext || tag`.
    ///
    /// # Panics
    /// Only if `plaintext` exceeds XChaCha20's 256 GiB message limit, which no key reaches.
    pub fn encrypt(&self, plaintext: &str, aad: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad,
        };
        let ciphertext = self
            .aead
            .encrypt(&nonce, payload)
            .expect("XChaCha20-Poly1305 fails only beyond 256 GiB of plaintext");
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        blob
    }

    /// Decrypts a blob made by [`KeyCipher::encrypt`] with the same `aad`. Any change to the
    /// blob, another key or another row's `aad` gives [`CryptoError::Decrypt`].
    pub fn decrypt(&self, blob: &[u8], aad: &[u8]) -> Result<SecretString, CryptoError> {
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Truncated);
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let plaintext = self
            .aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        match String::from_utf8(plaintext) {
            Ok(text) => Ok(SecretString::new(text)),
            Err(err) => {
                err.into_bytes().zeroize();
                Err(CryptoError::NotUtf8)
            }
        }
    }
}

/// The associated data that binds a user's key ciphertext to that user's row.
pub fn user_key_aad(user_id: &str) -> Vec<u8> {
    let mut aad = b"mama:user-key:v1:".to_vec();
    aad.extend_from_slice(user_id.as_bytes());
    aad
}

/// A new LiteLLM virtual key: `sk-` and 256 random bits in URL-safe base64 (46 characters).
pub fn mint_virtual_key() -> SecretString {
    let mut bytes = random_secret_bytes::<32>();
    let key = format!("{VIRTUAL_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    bytes.zeroize();
    SecretString::new(key)
}

/// Reads a secret of `len` bytes from `path`, creating the file with a random secret if it is
/// missing.
///
/// - A new file is created with mode 0600 and `create_new`, so a concurrent daemon or an
///   attacker-placed file is never overwritten; its parent directory must already exist.
/// - An existing file must be a regular file that group and others cannot access at all.
/// - Its content is `len` raw bytes, or `2 * len` hex characters with an optional trailing
///   newline (new files are written as hex, so they can be copied and backed up as text).
pub fn load_or_create_secret_file(path: &Path, len: usize) -> Result<Vec<u8>, CryptoError> {
    let io_err = |source| CryptoError::Io {
        path: path.to_owned(),
        source,
    };
    match File::open(path) {
        Ok(file) => read_secret_file(path, file, len),
        Err(err) if err.kind() == io::ErrorKind::NotFound => create_secret_file(path, len),
        Err(err) => Err(io_err(err)),
    }
}

/// Checks type and permissions of an open secret file, then parses it.
fn read_secret_file(path: &Path, file: File, len: usize) -> Result<Vec<u8>, CryptoError> {
    let io_err = |source| CryptoError::Io {
        path: path.to_owned(),
        source,
    };
    let metadata = file.metadata().map_err(io_err)?;
    if !metadata.is_file() {
        return Err(CryptoError::NotAFile {
            path: path.to_owned(),
        });
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & GROUP_OTHER_BITS != 0 {
        return Err(CryptoError::InsecurePermissions {
            path: path.to_owned(),
            mode,
        });
    }
    let mut content = Zeroizing::new(Vec::new());
    file.take(MAX_SECRET_FILE_BYTES)
        .read_to_end(&mut content)
        .map_err(io_err)?;
    parse_secret(&content, len).ok_or_else(|| CryptoError::BadSecretFile {
        path: path.to_owned(),
        len,
        hex_len: len * 2,
    })
}

/// `len` raw bytes, or `2 * len` hex characters followed by at most one newline.
fn parse_secret(content: &[u8], len: usize) -> Option<Vec<u8>> {
    if content.len() == len {
        return Some(content.to_vec());
    }
    let text = content
        .strip_suffix(b"\r\n")
        .or_else(|| content.strip_suffix(b"\n"))
        .unwrap_or(content);
    if text.len() != len * 2 {
        return None;
    }
    hex::decode(text).ok()
}

/// Creates `path` with a fresh random secret written as hex, mode 0600.
fn create_secret_file(path: &Path, len: usize) -> Result<Vec<u8>, CryptoError> {
    let io_err = |source| CryptoError::Io {
        path: path.to_owned(),
        source,
    };
    let mut secret = vec![0u8; len];
    rand::RngCore::fill_bytes(&mut OsRng, &mut secret);
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file,
        // Another daemon created it between our open and create: use theirs.
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {
            secret.zeroize();
            let file = File::open(path).map_err(io_err)?;
            return read_secret_file(path, file, len);
        }
        Err(err) => {
            secret.zeroize();
            return Err(io_err(err));
        }
    };
    let mut encoded = Zeroizing::new(hex::encode(&secret));
    encoded.push('\n');
    let written = file
        .write_all(encoded.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(err) = written {
        secret.zeroize();
        // Leave no half-written key behind: the next start would refuse it.
        let _ = fs::remove_file(path);
        return Err(io_err(err));
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> KeyCipher {
        KeyCipher::from_bytes(&[42u8; 32])
    }

    #[test]
    fn encrypt_then_decrypt_roundtrip() {
        let cipher = cipher();
        let aad = user_key_aad("kim@example.com");
        let blob = cipher.encrypt("sk-secret-value", &aad);
        assert_eq!(blob.len(), NONCE_LEN + "sk-secret-value".len() + TAG_LEN);
        assert_eq!(
            cipher.decrypt(&blob, &aad).unwrap().expose(),
            "sk-secret-value"
        );
        // Random nonces: same plaintext, different blobs.
        assert_ne!(blob, cipher.encrypt("sk-secret-value", &aad));
        assert_eq!(format!("{cipher:?}"), "KeyCipher([redacted])");
    }

    #[test]
    fn any_flipped_byte_fails() {
        let cipher = cipher();
        let aad = user_key_aad("kim");
        let blob = cipher.encrypt("sk-abc", &aad);
        for i in 0..blob.len() {
            let mut tampered = blob.clone();
            tampered[i] ^= 0x01;
            assert!(
                matches!(cipher.decrypt(&tampered, &aad), Err(CryptoError::Decrypt)),
                "byte {i}"
            );
        }
        assert!(matches!(
            cipher.decrypt(&blob[..NONCE_LEN + TAG_LEN - 1], &aad),
            Err(CryptoError::Truncated)
        ));
    }

    #[test]
    fn another_users_aad_or_another_key_fails() {
        let cipher = cipher();
        let blob = cipher.encrypt("sk-abc", &user_key_aad("김철수"));
        assert!(matches!(
            cipher.decrypt(&blob, &user_key_aad("이영희")),
            Err(CryptoError::Decrypt)
        ));
        let other = KeyCipher::from_bytes(&[43u8; 32]);
        assert!(matches!(
            other.decrypt(&blob, &user_key_aad("김철수")),
            Err(CryptoError::Decrypt)
        ));
    }

    #[test]
    fn fingerprint_tells_keys_apart_and_reveals_neither() {
        let key = [42u8; 32];
        let a = KeyCipher::from_bytes(&key).fingerprint();
        // Stable: the same key always gives the same check value (it is stored and compared).
        assert_eq!(a, KeyCipher::from_bytes(&key).fingerprint());
        assert_eq!(a, cipher().fingerprint());
        // Any other key, even one bit off, gives another.
        let mut near = key;
        near[31] ^= 1;
        assert_ne!(a, KeyCipher::from_bytes(&near).fingerprint());
        assert_ne!(a, KeyCipher::from_bytes(&[0u8; 32]).fingerprint());
        // Not the key, nor a plain hash of it.
        let hex = a.to_hex();
        assert_eq!(hex.len(), 64);
        assert_ne!(hex, hex::encode(key));
        use sha2::Digest;
        assert_ne!(hex, hex::encode(sha2::Sha256::digest(key)));
        // Round trip through the stored form; anything else is refused.
        assert_eq!(KeyFingerprint::from_hex(&hex), Some(a));
        assert_eq!(KeyFingerprint::from_hex(&hex[..62]), None);
        assert_eq!(KeyFingerprint::from_hex(&"zz".repeat(32)), None);
        // Shown short, and the cipher's Debug still shows no key material.
        assert_eq!(a.to_string(), hex[..16]);
        assert_eq!(format!("{a:?}"), format!("KeyFingerprint({})", &hex[..16]));
    }

    #[test]
    fn fingerprint_is_the_same_for_hex_and_raw_files() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        let text = dir.path().join("hex");
        fs::write(&raw, [7u8; 32]).unwrap();
        fs::write(&text, format!("{}\n", "07".repeat(32))).unwrap();
        for path in [&raw, &text] {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
        }
        let expected = KeyCipher::from_bytes(&[7u8; 32]).fingerprint();
        assert_eq!(KeyCipher::load(&raw).unwrap().fingerprint(), expected);
        assert_eq!(KeyCipher::load(&text).unwrap().fingerprint(), expected);
    }

    #[test]
    fn load_never_creates_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("encryption.key");
        let err = KeyCipher::load(&path).unwrap_err();
        assert!(matches!(err, CryptoError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("does not exist"));
        assert!(!path.exists());
        let created = KeyCipher::load_or_create(&path).unwrap();
        assert_eq!(
            KeyCipher::load(&path).unwrap().fingerprint(),
            created.fingerprint()
        );
    }

    #[test]
    fn minted_virtual_keys_fit_litellm() {
        let key = mint_virtual_key();
        let key = key.expose();
        assert!(key.starts_with("sk-"));
        assert_eq!(key.len(), 3 + 43);
        assert!(key[3..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(key, mint_virtual_key().expose());
    }

    #[test]
    fn key_file_is_created_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("encryption-key");
        let first = KeyCipher::load_or_create(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let content = fs::read_to_string(&path).unwrap();
        assert_eq!(content.trim_end().len(), 64);
        // Same key on the next start: what the first wrote, the second reads.
        let second = KeyCipher::load_or_create(&path).unwrap();
        let blob = first.encrypt("sk-x", b"aad");
        assert_eq!(second.decrypt(&blob, b"aad").unwrap().expose(), "sk-x");
    }

    #[test]
    fn group_or_world_readable_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        fs::write(&path, [1u8; 32]).unwrap();
        for mode in [0o640, 0o604, 0o660, 0o644] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let err = KeyCipher::load_or_create(&path).unwrap_err();
            assert!(
                matches!(err, CryptoError::InsecurePermissions { .. }),
                "{mode:o}"
            );
            assert!(err.to_string().contains("chmod 600"));
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(KeyCipher::load_or_create(&path).is_ok());
    }

    #[test]
    fn accepts_raw_or_hex_and_rejects_other_lengths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let write = |content: &[u8]| {
            fs::write(&path, content).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        };
        write(&[9u8; 32]);
        assert_eq!(
            load_or_create_secret_file(&path, 32).unwrap(),
            vec![9u8; 32]
        );
        write(format!("{}\n", "ab".repeat(32)).as_bytes());
        assert_eq!(
            load_or_create_secret_file(&path, 32).unwrap(),
            vec![0xab; 32]
        );
        write("ab".repeat(32).as_bytes());
        assert_eq!(
            load_or_create_secret_file(&path, 32).unwrap(),
            vec![0xab; 32]
        );
        for bad in [
            &b"short"[..],
            &[0u8; 33][..],
            "zz".repeat(32).as_bytes(),
            b"",
        ] {
            write(bad);
            assert!(matches!(
                load_or_create_secret_file(&path, 32),
                Err(CryptoError::BadSecretFile { .. })
            ));
        }
        // A 64-byte JWT key file works the same way.
        let jwt = dir.path().join("jwt-key");
        let created = load_or_create_secret_file(&jwt, 64).unwrap();
        assert_eq!(created.len(), 64);
        assert_eq!(load_or_create_secret_file(&jwt, 64).unwrap(), created);
    }

    #[test]
    fn missing_parent_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("key");
        assert!(matches!(
            load_or_create_secret_file(&path, 32),
            Err(CryptoError::Io { .. })
        ));
    }
}
