//! Helpers shared by the integration tests: building objects, sealing bodies, and a reference
//! "open the whole object" pipeline that every tamper test drives.
#![allow(dead_code)]

use objseal_core::format::manifest::{ManifestView, SegmentEntry, encode_manifest, manifest_len};
use objseal_core::gcm::{Backend, TAG_LEN};
use objseal_core::range::ciphertext_len;
use objseal_core::{Dek, Error, HEADER_LEN, Header, ObjectKey, ObjectParams, stream};

pub const DEK: [u8; 32] = [0x42; 32];
pub const SALT: [u8; 32] = [0x17; 32];

/// The context hash every test object is bound to.
pub fn ctx() -> [u8; 32] {
    objseal_core::context_hash(&[("bucket", "b"), ("key", "k")]).unwrap()
}

pub fn dek() -> Dek {
    Dek::from_bytes(DEK)
}

/// A writer for a fresh object.
pub fn object(chunk_log2: u8, segmented: bool) -> ObjectKey {
    ObjectKey::create(
        &dek(),
        &ObjectParams::new(SALT, ctx())
            .chunk_log2(chunk_log2)
            .segmented(segmented),
    )
    .unwrap()
}

/// Deterministic, position-dependent plaintext (no two chunks alike).
pub fn plaintext(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_left(7) as u8 ^ seed)
        .collect()
}

pub fn sealed_chunk(chunk_log2: u8) -> usize {
    (1usize << chunk_log2) + TAG_LEN
}

/// Seals `pt` as the body of an unsegmented object.
pub fn seal_body(object: &ObjectKey, pt: &[u8]) -> Vec<u8> {
    let key = object.body_key().unwrap();
    let mut body = vec![0u8; ciphertext_len(pt.len() as u64, key.chunk_log2()).unwrap() as usize];
    stream::seal_segment(&key, pt, &mut body).unwrap();
    body
}

/// A stored object: header bytes, optional manifest, body.
#[derive(Clone, Debug)]
pub struct Stored {
    pub header: Vec<u8>,
    pub manifest: Option<Vec<u8>>,
    pub body: Vec<u8>,
}

/// Seals an unsegmented object.
pub fn store_plain(chunk_log2: u8, pt: &[u8]) -> Stored {
    let object = object(chunk_log2, false);
    Stored {
        header: object.header().to_bytes().to_vec(),
        manifest: None,
        body: seal_body(&object, pt),
    }
}

/// Seals a segmented object whose segments hold `pt` split at `cuts` (sorted offsets into `pt`).
/// Segment numbers are 1, 3, 5, … (gaps allowed), salts differ per segment.
pub fn store_segmented(chunk_log2: u8, pt: &[u8], cuts: &[usize]) -> Stored {
    let object = object(chunk_log2, true);
    let mut bounds = vec![0];
    bounds.extend(cuts.iter().copied());
    bounds.push(pt.len());
    let mut entries = Vec::new();
    let mut body = Vec::new();
    for (i, w) in bounds.windows(2).enumerate() {
        let part = &pt[w[0]..w[1]];
        let number = 1 + 2 * i as u32;
        let salt = [i as u8 ^ 0xa5; 16];
        let key = object.segment_key(number, &salt);
        let mut ct = vec![0u8; ciphertext_len(part.len() as u64, chunk_log2).unwrap() as usize];
        stream::seal_segment(&key, part, &mut ct).unwrap();
        body.extend_from_slice(&ct);
        entries.push(SegmentEntry {
            number,
            salt,
            plaintext_len: part.len() as u64,
        });
    }
    let mut manifest = vec![0u8; manifest_len(entries.len())];
    encode_manifest(&object, &entries, &mut manifest).unwrap();
    Stored {
        header: object.header().to_bytes().to_vec(),
        manifest: Some(manifest),
        body,
    }
}

/// The full reader pipeline: parse and verify the header (key commitment and context), verify the
/// manifest if any, then open every segment. Returns the plaintext only if everything verified.
pub fn open_stored(stored: &Stored, dek: &Dek, ctx: &[u8; 32]) -> Result<Vec<u8>, Error> {
    if stored.header.len() != HEADER_LEN {
        return Err(Error::TooShort { what: "header" });
    }
    let header = Header::parse(&stored.header)?;
    let object = ObjectKey::open_with_context(dek, &header, ctx)?;
    match (&stored.manifest, header.segmented) {
        (None, false) => {
            let key = object.body_key()?;
            let mut out = vec![0u8; stored.body.len()];
            let result = stream::open_segment(&key, &stored.body, &mut out);
            if result.is_err() {
                assert!(
                    out.iter().all(|&b| b == 0),
                    "open_segment left bytes behind"
                );
            }
            let n = result?;
            out.truncate(n);
            Ok(out)
        }
        (Some(manifest), true) => {
            let view = ManifestView::verify(&object, manifest)?;
            let total = view.ciphertext_len();
            if (stored.body.len() as u64) < total {
                return Err(Error::Truncated);
            }
            if (stored.body.len() as u64) > total {
                return Err(Error::TrailingData);
            }
            let mut out = Vec::new();
            for loc in view.locations() {
                let key = object.segment_key(loc.entry.number, &loc.entry.salt);
                let ct_len = ciphertext_len(loc.entry.plaintext_len, header.chunk_log2)? as usize;
                let start = loc.ciphertext_start as usize;
                let ct = &stored.body[start..start + ct_len];
                let mut seg = vec![0u8; loc.entry.plaintext_len as usize];
                stream::open_segment(&key, ct, &mut seg)?;
                out.extend_from_slice(&seg);
            }
            Ok(out)
        }
        _ => Err(Error::BadFlags(0)),
    }
}

/// Opens `body` chunk by chunk with a `Decryptor`, the last chunk flagged by position.
pub fn open_with_decryptor(object: &ObjectKey, body: &[u8]) -> Result<Vec<u8>, Error> {
    let key = object.body_key()?;
    let sealed = key.sealed_chunk_size();
    let mut dec = stream::Decryptor::new(key);
    let mut out = Vec::new();
    let chunks = body.len().div_ceil(sealed).max(1);
    for i in 0..chunks {
        let mut chunk =
            body[(i * sealed).min(body.len())..((i + 1) * sealed).min(body.len())].to_vec();
        let n = dec.open_next(&mut chunk, i + 1 == chunks)?;
        out.extend_from_slice(&chunk[..n]);
    }
    dec.finish()?;
    Ok(out)
}

/// Every backend this CPU runs, Portable first.
pub fn backends() -> Vec<Backend> {
    Backend::available().collect()
}

/// xorshift64*: deterministic inputs without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
