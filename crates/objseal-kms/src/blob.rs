//! The embedded keystore's ciphertext blob: self-describing (it names its key and key version),
//! bound to its encryption context, sealed under a key used for this one blob only.
//!
//! Layout (`docs/FORMAT.md` §14):
//!
//! ```text
//! offset size
//!      0    4  magic "OSKB"
//!      4    1  version 0x01
//!      5   16  key id: the key's UUID as 16 bytes
//!     21    4  key version, BE32, ≥ 1
//!     25   16  salt: 16 random bytes, fresh for every blob
//!     41    n  AES-256-GCM ciphertext, 1 ≤ n ≤ 4096
//! 41 + n   16  GCM tag
//!
//! header   = blob[0..41]
//! ctx_hash = SHA-256 of the canonical encryption context (FORMAT.md §3)
//! PRK      = HKDF-Extract(salt, IKM = the key version's 32-byte material)
//! blob_key = HKDF-Expand(PRK, "objseal/v1 kms blob\0" ‖ header, 32)
//! C ‖ T    = AES-256-GCM-Seal(blob_key, nonce = 0x00 × 12, AAD = header ‖ ctx_hash, plaintext)
//! ```
//!
//! Every blob has its own key (fresh salt), so the fixed nonce is never reused and there is no
//! random-nonce birthday bound on the number of blobs per key version.
//!
//! ```
//! use objseal_kms::blob;
//! use objseal_kms::EncryptionContext;
//! let material = [7u8; 32];
//! let key_id = [1u8; 16];
//! let ctx = EncryptionContext::from([("bucket".to_string(), "photos".to_string())]);
//! let sealed = blob::seal(&key_id, 3, &material, &ctx, b"data key bytes").unwrap();
//! let parsed = blob::parse(&sealed).unwrap();
//! assert_eq!(parsed.header().key_version, 3);
//! assert_eq!(parsed.open(&material, &ctx).unwrap().as_bytes(), b"data key bytes");
//! assert!(parsed.open(&material, &EncryptionContext::new()).is_err());
//! ```

use hkdf::Hkdf;
use objseal_core::gcm::{Aes256Gcm, NONCE_LEN, TAG_LEN};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::keystore::ids::{fill_random, format_uuid};
use crate::{EncryptionContext, KmsError, SecretBytes};

/// The blob's first four bytes.
pub const MAGIC: [u8; 4] = *b"OSKB";
/// The format version this code writes and reads.
pub const VERSION: u8 = 1;
/// Length of the random salt.
pub const SALT_LEN: usize = 16;
/// Length of the header (magic, version, key id, key version, salt).
pub const HEADER_LEN: usize = 4 + 1 + 16 + 4 + SALT_LEN;
/// Most plaintext bytes a blob holds (AWS `Encrypt`'s limit; data keys hold at most 1024).
pub const MAX_PLAINTEXT_LEN: usize = 4096;
/// Shortest valid blob: header, one byte, tag.
pub const MIN_BLOB_LEN: usize = HEADER_LEN + 1 + TAG_LEN;
/// Longest valid blob.
pub const MAX_BLOB_LEN: usize = HEADER_LEN + MAX_PLAINTEXT_LEN + TAG_LEN;
/// HKDF-Expand label of the per-blob key.
pub const LABEL_BLOB: &[u8] = b"objseal/v1 kms blob\0";

/// What a blob's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobHeader {
    /// The key's UUID as bytes.
    pub key_id: [u8; 16],
    /// The key version that sealed the blob (≥ 1).
    pub key_version: u32,
    /// The blob's random salt.
    pub salt: [u8; SALT_LEN],
}

impl BlobHeader {
    /// The key id as text (`xxxxxxxx-xxxx-…`, lowercase).
    pub fn key_id_string(&self) -> String {
        format_uuid(&self.key_id)
    }

    /// The 41 header bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..4].copy_from_slice(&MAGIC);
        h[4] = VERSION;
        h[5..21].copy_from_slice(&self.key_id);
        h[21..25].copy_from_slice(&self.key_version.to_be_bytes());
        h[25..41].copy_from_slice(&self.salt);
        h
    }
}

/// A parsed (not yet authenticated) blob, borrowing the caller's bytes.
#[derive(Clone, Copy, Debug)]
pub struct Blob<'a> {
    header: BlobHeader,
    header_bytes: &'a [u8],
    ciphertext: &'a [u8],
    tag: &'a [u8],
}

/// Parses a blob's structure. Never panics; authenticates nothing (see [`Blob::open`]).
///
/// # Errors
/// [`KmsError::InvalidCiphertext`] when the blob is shorter than [`MIN_BLOB_LEN`] or longer than
/// [`MAX_BLOB_LEN`], its magic is not `OSKB`, its version is not 1, or its key version is 0.
pub fn parse(blob: &[u8]) -> Result<Blob<'_>, KmsError> {
    let bad = |why: &str| KmsError::InvalidCiphertext(format!("ciphertext blob {why}"));
    if blob.len() < 5 || blob[0..4] != MAGIC {
        return Err(bad("is not an objseal KMS ciphertext blob"));
    }
    if blob[4] != VERSION {
        return Err(bad("has an unsupported format version"));
    }
    if blob.len() < MIN_BLOB_LEN {
        return Err(bad("is truncated"));
    }
    if blob.len() > MAX_BLOB_LEN {
        return Err(bad("is too long"));
    }
    let (header_bytes, rest) = blob.split_at(HEADER_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let mut key_id = [0u8; 16];
    key_id.copy_from_slice(&header_bytes[5..21]);
    let mut version = [0u8; 4];
    version.copy_from_slice(&header_bytes[21..25]);
    let key_version = u32::from_be_bytes(version);
    if key_version == 0 {
        return Err(bad("names key version 0"));
    }
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&header_bytes[25..41]);
    Ok(Blob {
        header: BlobHeader {
            key_id,
            key_version,
            salt,
        },
        header_bytes,
        ciphertext,
        tag,
    })
}

impl Blob<'_> {
    /// The header: which key and version sealed it.
    pub fn header(&self) -> &BlobHeader {
        &self.header
    }

    /// Authenticates and decrypts with the key version's `material` under `context`.
    ///
    /// # Errors
    /// [`KmsError::InvalidCiphertext`] when the tag does not verify (a tampered blob, another
    /// key's material, or another context); [`KmsError::Validation`] for a context with more than
    /// 256 pairs.
    pub fn open(
        &self,
        material: &[u8; 32],
        context: &EncryptionContext,
    ) -> Result<SecretBytes, KmsError> {
        let ctx_hash = context_digest(context)?;
        let gcm = Aes256Gcm::new(&blob_key(material, &self.header.salt, self.header_bytes));
        let mut buf = Zeroizing::new(self.ciphertext.to_vec());
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(self.tag);
        let aad = aad(self.header_bytes, &ctx_hash);
        gcm.open_in_place(&[0u8; NONCE_LEN], &aad, &mut buf, &tag)
            .map_err(|_| {
                KmsError::InvalidCiphertext(
                    "ciphertext blob does not authenticate: it was altered, or the encryption \
                     context differs from the one it was made with"
                        .into(),
                )
            })?;
        Ok(SecretBytes::from(core::mem::take(&mut *buf)))
    }
}

/// Seals `plaintext` (1 to 4096 bytes) under a key version's `material`, with a fresh random salt.
///
/// # Errors
/// [`KmsError::Validation`] for an empty or too long plaintext or a context of more than 256 pairs;
/// [`KmsError::Internal`] if the random source fails.
pub fn seal(
    key_id: &[u8; 16],
    key_version: u32,
    material: &[u8; 32],
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let mut salt = [0u8; SALT_LEN];
    fill_random(&mut salt)?;
    seal_with_salt(key_id, key_version, material, &salt, context, plaintext)
}

/// [`seal`] with a given salt: deterministic, for test vectors. A salt MUST NOT be used twice with
/// the same material.
///
/// # Errors
/// As [`seal`], and [`KmsError::Validation`] for key version 0.
pub fn seal_with_salt(
    key_id: &[u8; 16],
    key_version: u32,
    material: &[u8; 32],
    salt: &[u8; SALT_LEN],
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, KmsError> {
    if plaintext.is_empty() || plaintext.len() > MAX_PLAINTEXT_LEN {
        return Err(KmsError::Validation(format!(
            "plaintext must be 1 to {MAX_PLAINTEXT_LEN} bytes, not {}",
            plaintext.len()
        )));
    }
    if key_version == 0 {
        return Err(KmsError::Validation("key versions start at 1".into()));
    }
    let ctx_hash = context_digest(context)?;
    let header = BlobHeader {
        key_id: *key_id,
        key_version,
        salt: *salt,
    }
    .to_bytes();
    let gcm = Aes256Gcm::new(&blob_key(material, salt, &header));
    let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(plaintext);
    let tag = gcm.seal_in_place(
        &[0u8; NONCE_LEN],
        &aad(&header, &ctx_hash),
        &mut out[HEADER_LEN..],
    );
    out.extend_from_slice(&tag);
    Ok(out)
}

/// SHA-256 of the canonical encoding of `context` (`docs/FORMAT.md` §3), as bound into every blob.
///
/// # Errors
/// [`KmsError::Validation`] for more than 256 pairs (or a key or value of 4 GiB or more).
///
/// ```
/// use objseal_kms::{blob, EncryptionContext};
/// assert_eq!(blob::context_digest(&EncryptionContext::new()).unwrap(), objseal_core::empty_context_hash());
/// ```
pub fn context_digest(context: &EncryptionContext) -> Result<[u8; 32], KmsError> {
    let pairs: Vec<(&str, &str)> = context
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    objseal_core::context_hash(&pairs)
        .map_err(|e| KmsError::Validation(format!("invalid encryption context: {e}")))
}

/// The key id a blob names, as text, without authenticating anything.
///
/// ```
/// use objseal_kms::blob;
/// assert!(blob::key_id_of(b"not a blob").is_none());
/// ```
pub fn key_id_of(blob: &[u8]) -> Option<String> {
    parse(blob).ok().map(|b| b.header.key_id_string())
}

fn blob_key(material: &[u8; 32], salt: &[u8], header: &[u8]) -> Zeroizing<[u8; 32]> {
    hkdf_sha256(salt, material, &[LABEL_BLOB, header])
}

fn aad(header: &[u8], ctx_hash: &[u8; 32]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + ctx_hash.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(ctx_hash);
    aad
}

/// HKDF-SHA-256 with a 32-byte output: Expand(Extract(salt, ikm), concatenation of `info`).
pub(crate) fn hkdf_sha256(salt: &[u8], ikm: &[u8], info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let hkdf = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut okm = Zeroizing::new([0u8; 32]);
    // 32 bytes are always a valid HKDF-SHA-256 output length.
    hkdf.expand_multi_info(info, &mut okm[..])
        .unwrap_or_else(|_| unreachable!("32-byte HKDF output"));
    okm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_binding() {
        let m = [9u8; 32];
        let id = [2u8; 16];
        let ctx = EncryptionContext::from([("a".to_string(), "b".to_string())]);
        let b = seal(&id, 1, &m, &ctx, &[5u8; 4096]).unwrap();
        assert_eq!(b.len(), MAX_BLOB_LEN);
        let p = parse(&b).unwrap();
        assert_eq!(p.header().key_id, id);
        assert_eq!(p.open(&m, &ctx).unwrap().as_bytes(), &[5u8; 4096][..]);
        assert!(p.open(&[8u8; 32], &ctx).is_err());
        assert!(seal(&id, 1, &m, &ctx, &[]).is_err());
        assert!(seal(&id, 1, &m, &ctx, &[0u8; 4097]).is_err());
        assert!(seal(&id, 0, &m, &ctx, &[0u8; 1]).is_err());
        // Two seals of the same plaintext differ (fresh salt).
        assert_ne!(
            seal(&id, 1, &m, &ctx, b"x").unwrap(),
            seal(&id, 1, &m, &ctx, b"x").unwrap()
        );
    }

    /// The example of `docs/FORMAT.md` §14.2, recomputed from the spec with plain HKDF.
    #[test]
    fn format_md_vector() {
        let material: [u8; 32] = core::array::from_fn(|i| i as u8);
        let key_id = [
            0x11, 0x11, 0x11, 0x11, 0x22, 0x22, 0x43, 0x33, 0x84, 0x44, 0x55, 0x55, 0x55, 0x55,
            0x55, 0x55,
        ];
        let salt: [u8; 16] = core::array::from_fn(|i| 0xa0 + i as u8);
        let ctx: EncryptionContext = [("bucket", "vectors"), ("key", "kms-blob")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let blob = seal_with_salt(&key_id, 2, &material, &salt, &ctx, b"objseal kms blob").unwrap();
        let hex = crate::keystore::ids::hex_encode;
        assert_eq!(
            hex(&blob),
            "4f534b42011111111122224333844455555555555500000002a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\
             841347c2051bbebfd164222601fe1d4026c50312ce47bfec918a827a3934d4a2"
        );
        assert_eq!(
            hex(&context_digest(&ctx).unwrap()),
            "3c1627f3dbe02a1b9a1713f4b5a4715150ec412a0ac6dc009fd8b5a91bacad10"
        );
        let (prk, hk) = Hkdf::<Sha256>::extract(Some(&salt), &material);
        assert_eq!(
            hex(&prk),
            "e923d7ce41cdafb9ff36e7d38e640888600785351ef83c5adb8ea0c403881a5d"
        );
        let mut key = [0u8; 32];
        hk.expand(&[LABEL_BLOB, &blob[..HEADER_LEN]].concat(), &mut key)
            .unwrap();
        assert_eq!(
            hex(&key),
            "ecfbd68f96e8f02c5c6e7ca8da1cfd45d20fbbbd02a76648369fa1167b6e54de"
        );
        assert_eq!(key, *blob_key(&material, &salt, &blob[..HEADER_LEN]));
        assert_eq!(
            parse(&blob)
                .unwrap()
                .open(&material, &ctx)
                .unwrap()
                .as_bytes(),
            b"objseal kms blob"
        );
        assert_eq!(
            key_id_of(&blob).as_deref(),
            Some("11111111-2222-4333-8444-555555555555")
        );
    }

    #[test]
    fn parse_rejects() {
        let b = seal(&[1; 16], 1, &[1; 32], &EncryptionContext::new(), b"x").unwrap();
        assert_eq!(b.len(), MIN_BLOB_LEN);
        for len in 0..b.len() {
            assert!(parse(&b[..len]).is_err());
        }
        let mut v = b.clone();
        v[4] = 2;
        assert!(parse(&v).is_err());
        let mut v = b.clone();
        v[21..25].copy_from_slice(&[0; 4]);
        assert!(parse(&v).is_err());
        assert!(parse(&[b"OSKB\x01".as_slice(), &[0u8; MAX_BLOB_LEN]].concat()).is_err());
    }
}
