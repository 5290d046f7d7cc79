//! Secrets at rest: the key that encrypts the secret properties of accounts created through the
//! admin API, and the sealing of one value.
//!
//! ChaCha20-Poly1305 (an AEAD): each value gets a fresh random 96-bit nonce, and the place the value
//! belongs to (`account:<name>:<property>`) is authenticated with it, so a ciphertext copied into
//! another account or property does not open. A sealed value is text:
//! `enc:v1:<base64 of nonce ‖ ciphertext ‖ tag>`.
//!
//! The key is 32 random bytes written as base64, from the environment variable
//! `WFM_BRIDGE_SECRET_KEY` or from `[secrets] key_file`. Neither the key nor a plaintext is ever
//! printed: `Debug` shows `<secret key>`, errors name the place, never the value.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::Rng as _;

/// The environment variable holding the key (base64 of 32 bytes).
pub const KEY_ENV: &str = "WFM_BRIDGE_SECRET_KEY";

/// The prefix of a sealed value of this format.
const SEALED_PREFIX: &str = "enc:v1:";

/// Bytes of a nonce.
const NONCE_LEN: usize = 12;

/// Why a sealed value cannot be opened, or a key cannot be read. Never holds a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The key text is not base64 of 32 bytes.
    #[error(
        "the secrets key is not base64 of 32 bytes ({0}); create one with `wfm-bridge secrets generate-key`"
    )]
    BadKey(String),
    /// The value is not of the sealed format.
    #[error("{place}: the stored secret is not an encrypted value (expected enc:v1:…)")]
    NotSealed {
        /// Where the value belongs.
        place: String,
    },
    /// The value does not open with this key (another key, or tampered with).
    #[error(
        "{place}: the stored secret does not decrypt with the configured key (was it encrypted with another key? see `wfm-bridge secrets rotate-key`)"
    )]
    WrongKey {
        /// Where the value belongs.
        place: String,
    },
}

/// A 256-bit key. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; 32]);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<secret key>")
    }
}

impl SecretKey {
    /// Reads a key written as base64 (surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<SecretKey, SecretError> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|e| SecretError::BadKey(e.to_string()))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| SecretError::BadKey(format!("{} bytes", b.len())))?;
        Ok(SecretKey(key))
    }

    /// A new random key.
    pub fn generate() -> SecretKey {
        let mut key = [0u8; 32];
        rand::rng().fill(&mut key);
        SecretKey(key)
    }

    /// The key as base64, for writing a new key file.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&Key::from(self.0))
    }

    /// Encrypts `plaintext` for `place` (`account:<name>:<property>`).
    pub fn seal(&self, plaintext: &str, place: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: place.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 encrypts any message of a sane length");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED_PREFIX}{}", BASE64.encode(bytes))
    }

    /// Decrypts a value sealed for `place`.
    pub fn open(&self, sealed: &str, place: &str) -> Result<String, SecretError> {
        let not_sealed = || SecretError::NotSealed {
            place: place.to_string(),
        };
        let wrong_key = || SecretError::WrongKey {
            place: place.to_string(),
        };
        let encoded = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(not_sealed)?;
        let bytes = BASE64.decode(encoded).map_err(|_| not_sealed())?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(not_sealed());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().expect("split at the nonce length");
        let plain = self
            .cipher()
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| wrong_key())?;
        String::from_utf8(plain).map_err(|_| wrong_key())
    }
}

/// Whether a stored value is sealed (and so needs a key to be read).
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(SEALED_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_place() {
        let key = SecretKey::generate();
        let sealed = key.seal("hunter2", "account:a:token");
        assert!(is_sealed(&sealed));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(key.open(&sealed, "account:a:token").unwrap(), "hunter2");
        // Fresh nonce each time: the same secret never seals to the same text.
        assert_ne!(sealed, key.seal("hunter2", "account:a:token"));
        assert_eq!(
            key.open(&sealed, "account:b:token"),
            Err(SecretError::WrongKey {
                place: "account:b:token".into()
            })
        );
        let other = SecretKey::generate();
        assert!(matches!(
            other.open(&sealed, "account:a:token"),
            Err(SecretError::WrongKey { .. })
        ));
        assert!(matches!(
            key.open("hunter2", "account:a:token"),
            Err(SecretError::NotSealed { .. })
        ));
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(key.open(&tampered, "account:a:token").is_err());
    }

    #[test]
    fn keys_read_from_base64_of_32_bytes() {
        let key = SecretKey::generate();
        assert_eq!(
            SecretKey::from_base64(&format!(" {}\n", key.to_base64())).unwrap(),
            key
        );
        assert!(matches!(
            SecretKey::from_base64("c2hvcnQ="),
            Err(SecretError::BadKey(_))
        ));
        assert!(SecretKey::from_base64("not base64!").is_err());
        assert_eq!(format!("{key:?}"), "<secret key>");
    }
}
