//! The segment manifest of a segmented (multipart) object.
//!
//! ```text
//! offset    size field
//!      0       4 magic "OSM" ‖ version 0x01
//!      4       4 n = segment count (BE32, ≥ 1)
//!      8   28·n  n entries: segment number (BE32) ‖ segment_salt (16) ‖ plaintext length (BE64)
//! 8+28·n      32 manifest_tag = HMAC-SHA-256(K_manifest, bytes 0..8+28·n)
//! ```
//! Segment numbers are strictly increasing (they are S3 part numbers, so gaps are allowed); each
//! segment's key is derived from its number and salt, so a segment moved to another position, another
//! object or another upload of the same part does not open.

use crate::format::{be32, be64};
use crate::kdf;
use crate::key::DerivedKey;
use crate::object::ObjectKey;
use crate::range::ciphertext_len;
use crate::{Error, ManifestKey, SEGMENT_SALT_LEN};

/// Manifest magic and version.
pub const MANIFEST_MAGIC: [u8; 4] = *b"OSM\x01";
/// Bytes per manifest entry.
pub const ENTRY_LEN: usize = 4 + SEGMENT_SALT_LEN + 8;
/// Bytes of the manifest tag.
pub const MANIFEST_TAG_LEN: usize = 32;

/// Serialized length of a manifest of `segments` entries.
///
/// ```
/// assert_eq!(objseal_core::format::manifest::manifest_len(3), 8 + 3 * 28 + 32);
/// ```
pub const fn manifest_len(segments: usize) -> usize {
    8 + segments * ENTRY_LEN + MANIFEST_TAG_LEN
}

/// One segment as the manifest records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentEntry {
    /// Segment number (the S3 part number for multipart uploads).
    pub number: u32,
    /// The segment's random salt, fresh for every upload of the segment.
    pub salt: [u8; SEGMENT_SALT_LEN],
    /// Plaintext bytes in the segment.
    pub plaintext_len: u64,
}

impl SegmentEntry {
    fn encode(&self, out: &mut [u8]) {
        out[..4].copy_from_slice(&self.number.to_be_bytes());
        out[4..20].copy_from_slice(&self.salt);
        out[20..28].copy_from_slice(&self.plaintext_len.to_be_bytes());
    }

    fn decode(bytes: &[u8]) -> Self {
        let mut salt = [0u8; SEGMENT_SALT_LEN];
        salt.copy_from_slice(&bytes[4..20]);
        Self {
            number: be32(bytes, 0),
            salt,
            plaintext_len: be64(bytes, 20),
        }
    }
}

/// Writes the manifest of `entries` for `object` into `out` and returns its length.
///
/// # Errors
/// [`Error::BadManifest`] for no entries or segment numbers not strictly increasing,
/// [`Error::BadFlags`] for an unsegmented object, [`Error::BufferTooSmall`].
///
/// ```
/// use objseal_core::{Dek, ObjectKey, ObjectParams};
/// use objseal_core::format::manifest::{encode_manifest, manifest_len, ManifestView, SegmentEntry};
/// let object = ObjectKey::create(&Dek::from_bytes([1; 32]), &ObjectParams::new([2; 32], [3; 32]).segmented(true)).unwrap();
/// let entries = [SegmentEntry { number: 1, salt: [4; 16], plaintext_len: 10 },
///                SegmentEntry { number: 2, salt: [5; 16], plaintext_len: 7 }];
/// let mut out = [0u8; manifest_len(2)];
/// encode_manifest(&object, &entries, &mut out).unwrap();
/// let view = ManifestView::verify(&object, &out).unwrap();
/// assert_eq!(view.plaintext_len(), 17);
/// ```
pub fn encode_manifest(
    object: &ObjectKey,
    entries: &[SegmentEntry],
    out: &mut [u8],
) -> Result<usize, Error> {
    if !object.header().segmented {
        return Err(Error::BadFlags(0));
    }
    encode_with(&object.manifest_mac_key(), entries, out)
}

/// [`encode_manifest`] with the object's [`ManifestKey`] alone, for writers that hold it but not
/// the data key. The caller vouches that the object is segmented.
///
/// # Errors
/// As [`encode_manifest`], but for the flags check.
///
/// ```
/// use objseal_core::{Dek, ObjectKey, ObjectParams};
/// use objseal_core::format::manifest::{encode_manifest, encode_manifest_with_key, manifest_len, SegmentEntry};
/// let object = ObjectKey::create(&Dek::from_bytes([1; 32]), &ObjectParams::new([2; 32], [3; 32]).segmented(true)).unwrap();
/// let entries = [SegmentEntry { number: 1, salt: [4; 16], plaintext_len: 10 }];
/// let (mut a, mut b) = ([0u8; manifest_len(1)], [0u8; manifest_len(1)]);
/// encode_manifest(&object, &entries, &mut a).unwrap();
/// encode_manifest_with_key(&object.manifest_key(), &entries, &mut b).unwrap();
/// assert_eq!(a, b);
/// ```
pub fn encode_manifest_with_key(
    key: &ManifestKey,
    entries: &[SegmentEntry],
    out: &mut [u8],
) -> Result<usize, Error> {
    encode_with(&DerivedKey(*key.expose_secret()), entries, out)
}

fn encode_with(key: &DerivedKey, entries: &[SegmentEntry], out: &mut [u8]) -> Result<usize, Error> {
    let count = u32::try_from(entries.len()).map_err(|_| Error::LimitExceeded)?;
    if count == 0 {
        return Err(Error::BadManifest("no segments"));
    }
    if entries.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(Error::BadManifest(
            "segment numbers not strictly increasing",
        ));
    }
    let len = manifest_len(entries.len());
    let out = out
        .get_mut(..len)
        .ok_or(Error::BufferTooSmall { needed: len })?;
    out[..4].copy_from_slice(&MANIFEST_MAGIC);
    out[4..8].copy_from_slice(&count.to_be_bytes());
    for (entry, slot) in entries.iter().zip(out[8..].chunks_exact_mut(ENTRY_LEN)) {
        entry.encode(slot);
    }
    let body = len - MANIFEST_TAG_LEN;
    let tag = kdf::hmac(key, &[&out[..body]]);
    out[body..].copy_from_slice(&tag);
    Ok(len)
}

/// A manifest whose tag has verified, borrowed from its bytes.
#[derive(Clone, Copy, Debug)]
pub struct ManifestView<'a> {
    entries: &'a [u8],
    chunk_log2: u8,
}

/// Where a plaintext offset falls in a segmented object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentLocation {
    /// Position of the segment in the manifest.
    pub position: usize,
    /// The segment's entry.
    pub entry: SegmentEntry,
    /// Plaintext offset of the segment's first byte in the object.
    pub plaintext_start: u64,
    /// Ciphertext offset of the segment's first byte in the object body.
    pub ciphertext_start: u64,
}

impl<'a> ManifestView<'a> {
    /// Parses `bytes` (exactly one manifest) and verifies its tag under `object`'s manifest key.
    ///
    /// # Errors
    /// [`Error::BadMagic`], [`Error::BadManifest`] for a malformed one, [`Error::ManifestAuth`] if the tag
    /// does not verify, [`Error::BadFlags`] if the object is not segmented, [`Error::LimitExceeded`] if a
    /// segment or the object's plaintext or ciphertext total exceeds the format's limits.
    pub fn verify(object: &ObjectKey, bytes: &'a [u8]) -> Result<Self, Error> {
        if !object.header().segmented {
            return Err(Error::BadFlags(0));
        }
        if bytes.len() < manifest_len(1) {
            return Err(Error::BadManifest("too short"));
        }
        if bytes[..4] != MANIFEST_MAGIC {
            return Err(Error::BadMagic);
        }
        let count = be32(bytes, 4) as usize;
        if count == 0 {
            return Err(Error::BadManifest("no segments"));
        }
        if count
            .checked_mul(ENTRY_LEN)
            .and_then(|n| n.checked_add(8 + MANIFEST_TAG_LEN))
            != Some(bytes.len())
        {
            return Err(Error::BadManifest("length does not match segment count"));
        }
        let body = bytes.len() - MANIFEST_TAG_LEN;
        let mut tag = [0u8; MANIFEST_TAG_LEN];
        tag.copy_from_slice(&bytes[body..]);
        if !kdf::hmac_verify(&object.manifest_mac_key(), &[&bytes[..body]], &tag) {
            return Err(Error::ManifestAuth);
        }
        let view = Self {
            entries: &bytes[8..body],
            chunk_log2: object.header().chunk_log2,
        };
        // Authenticated, so these only fail for a writer that broke the rules.
        // Both totals must fit in a u64, so the accessors below never overflow.
        let mut previous: Option<u32> = None;
        let mut total: u64 = 0;
        let mut total_ct: u64 = 0;
        for entry in view.entries() {
            if previous.is_some_and(|p| p >= entry.number) {
                return Err(Error::BadManifest(
                    "segment numbers not strictly increasing",
                ));
            }
            previous = Some(entry.number);
            total = total
                .checked_add(entry.plaintext_len)
                .ok_or(Error::LimitExceeded)?;
            total_ct = total_ct
                .checked_add(ciphertext_len(entry.plaintext_len, view.chunk_log2)?)
                .ok_or(Error::LimitExceeded)?;
        }
        Ok(view)
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.entries.len() / ENTRY_LEN
    }

    /// Always false: a verified manifest has at least one segment.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The segments in object order.
    pub fn entries(&self) -> impl Iterator<Item = SegmentEntry> + 'a {
        self.entries
            .chunks_exact(ENTRY_LEN)
            .map(SegmentEntry::decode)
    }

    /// Total plaintext length of the object.
    pub fn plaintext_len(&self) -> u64 {
        self.entries().map(|e| e.plaintext_len).sum()
    }

    /// Total ciphertext length of the object body (all segments, back to back).
    pub fn ciphertext_len(&self) -> u64 {
        self.entries()
            .map(|e| ciphertext_len(e.plaintext_len, self.chunk_log2).unwrap_or(0))
            .sum()
    }

    /// Each segment with its plaintext and ciphertext offsets, in order.
    pub fn locations(&self) -> impl Iterator<Item = SegmentLocation> + 'a {
        let chunk_log2 = self.chunk_log2;
        self.entries()
            .enumerate()
            .scan((0u64, 0u64), move |(pt, ct), (position, entry)| {
                let location = SegmentLocation {
                    position,
                    entry,
                    plaintext_start: *pt,
                    ciphertext_start: *ct,
                };
                *pt += entry.plaintext_len;
                *ct += ciphertext_len(entry.plaintext_len, chunk_log2).unwrap_or(0);
                Some(location)
            })
    }

    /// The segment holding plaintext byte `offset`.
    ///
    /// # Errors
    /// [`Error::RangeNotSatisfiable`] if `offset` is past the end.
    pub fn locate(&self, offset: u64) -> Result<SegmentLocation, Error> {
        self.locations()
            .find(|l| offset < l.plaintext_start + l.entry.plaintext_len)
            .ok_or(Error::RangeNotSatisfiable)
    }
}
