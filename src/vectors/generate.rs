//! The deterministic generator of the vectors: fixed keys and salts, no randomness, so the same
//! build always writes the same bytes.

use objseal_core::format::container::write_prefix;
use objseal_core::format::manifest::{
    SegmentEntry, encode_manifest, encode_manifest_with_key, manifest_len,
};
use objseal_core::format::wrapped_key::{MAX_WRAPPED_KEY_LEN, WrapAlgorithm, WrappedKey};
use objseal_core::gcm::TAG_LEN;
use objseal_core::range::ciphertext_len;
use objseal_core::wrap::{KeyWrap, LocalKek};
use objseal_core::{Dek, Kek, ObjectKey, ObjectParams, SEGMENT_SALT_LEN, context_hash, stream};

use super::{
    ChunkRef, GENERATOR_COMMAND, NEGATIVE_PATH, POSITIVE_PATH, RANGE_PATH, RangeSpec,
    SegmentVector, Vector, VectorFile,
};

/// Key id of the vectors' local KEK.
const KEK_ID: &str = "objseal-vectors/kek-1";
/// Key id of the other local KEKs of the several-blob vectors (`kek-2`, `kek-3`).
const OTHER_KEK_ID: &str = "objseal-vectors/kek-";
/// Key id of the SSE-C vector's customer key (by convention a fingerprint, never the key).
const CUSTOMER_KEY_ID: &str = "sse-c/fingerprint-0001";
/// Key id of the several-blob vectors' KMS blob.
const KMS_KEY_ID: &str =
    "arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555";

/// Arbitrary but fixed bytes named by `label`: FNV-1a of the label seeds a splitmix64 stream.
/// Not random and not secret; only distinct and reproducible.
fn fixed<const N: usize>(label: &str) -> [u8; N] {
    let mut state = label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let mut out = [0u8; N];
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_be_bytes()[..chunk.len()]);
    }
    out
}

/// SHA-256 (FIPS 180-4), for the one thing the core refuses to make: a manifest whose tag is valid but
/// whose content breaks the rules (see [`forge_manifest`]). Checked against the core on every run.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&(data.len() as u64 * 8).to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes(word.try_into().expect("4 bytes"));
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (state, value) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *state = state.wrapping_add(value);
        }
    }
    let mut out = [0u8; 32];
    for (slot, word) in out.chunks_exact_mut(4).zip(h) {
        slot.copy_from_slice(&word.to_be_bytes());
    }
    out
}

/// HMAC-SHA-256 (RFC 2104) with a 32-byte key.
fn hmac_sha256(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let pad = |byte: u8| -> Vec<u8> {
        let mut block = [byte; 64];
        for (slot, k) in block.iter_mut().zip(key) {
            *slot ^= k;
        }
        block.to_vec()
    };
    let inner = sha256(&[pad(0x36).as_slice(), message].concat());
    sha256(&[pad(0x5c).as_slice(), &inner].concat())
}

/// A manifest of `entries` for `object` with a valid tag, whatever the entries say (the core's
/// encoder refuses non-increasing numbers; a reader must refuse them after the tag verifies).
fn forge_manifest(object: &ObjectKey, entries: &[SegmentEntry]) -> Vec<u8> {
    let key = object.manifest_key();
    // The home-made HMAC must agree with the core's on a well-formed manifest first.
    let probe = [SegmentEntry {
        number: 1,
        salt: [7; SEGMENT_SALT_LEN],
        plaintext_len: 1,
    }];
    let mut reference = vec![0u8; manifest_len(1)];
    encode_manifest_with_key(&key, &probe, &mut reference).expect("manifest");
    let (content, tag) = reference.split_at(manifest_len(1) - 32);
    assert_eq!(
        hmac_sha256(key.expose_secret(), content),
        tag,
        "the generator's HMAC-SHA-256 disagrees with objseal-core"
    );
    let mut out = b"OSM\x01".to_vec();
    out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
    for entry in entries {
        out.extend_from_slice(&entry.number.to_be_bytes());
        out.extend_from_slice(&entry.salt);
        out.extend_from_slice(&entry.plaintext_len.to_be_bytes());
    }
    let tag = hmac_sha256(key.expose_secret(), &out);
    out.extend_from_slice(&tag);
    out
}

/// A local wrap (algorithm 1, or 3 for a customer key) of `dek` under `kek` for `context`.
fn local_blob(
    kek: [u8; 32],
    wrap: WrapKind,
    key_id: &str,
    dek: [u8; 32],
    context: &[(String, String)],
    wrap_salt: &[u8; 32],
) -> Vec<u8> {
    let kek = Kek::from_bytes(kek);
    let wrapper = match wrap {
        WrapKind::Local => LocalKek::new(kek, key_id, 1),
        WrapKind::Customer => LocalKek::customer_key(kek, key_id),
    }
    .expect("short key id");
    let mut out = vec![0u8; MAX_WRAPPED_KEY_LEN];
    let n = wrapper
        .wrap_key(&Dek::from_bytes(dek), &hash(context), wrap_salt, &mut out)
        .expect("wrap");
    out.truncate(n);
    out
}

/// An algorithm-2 (KMS) blob: structurally valid, its ciphertext opaque (laid out like the embedded
/// KMS's `OSKB` blob, but not a real one). A local-KEK reader does not handle it.
fn kms_blob(label: &str) -> Vec<u8> {
    let mut ciphertext = b"OSKB\x01".to_vec();
    ciphertext.extend_from_slice(&fixed::<84>(&format!("{label}/kms-ciphertext")));
    let blob = WrappedKey {
        algorithm: WrapAlgorithm::Kms,
        key_id: KMS_KEY_ID,
        key_version: 1,
        wrap_salt: fixed(&format!("{label}/kms-wrap-salt")),
        ciphertext: &ciphertext,
    };
    let mut out = vec![0u8; blob.encoded_len()];
    blob.encode(&mut out).expect("kms blob");
    out
}

/// Plaintext bytes `start..start + len` of the vectors' pattern: byte i = (31·i + 7) mod 251.
fn pattern(start: usize, len: usize) -> Vec<u8> {
    (start..start + len)
        .map(|i| ((i * 31 + 7) % 251) as u8)
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum WrapKind {
    Local,
    Customer,
}

/// Everything a writer chooses.
#[derive(Clone)]
struct Writer {
    kek: [u8; 32],
    wrap: WrapKind,
    dek: [u8; 32],
    object_salt: [u8; 32],
    wrap_salt: [u8; 32],
    context: Vec<(String, String)>,
    chunk_log2: u8,
}

/// An object as stored, plus the reader's keys and context.
#[derive(Clone)]
struct Case {
    name: String,
    description: String,
    kek: [u8; 32],
    dek: [u8; 32],
    object_salt: [u8; 32],
    wrap_salt: [u8; 32],
    context: Vec<(String, String)>,
    chunk_log2: u8,
    segmented: bool,
    header: Vec<u8>,
    wrapped_key: Vec<u8>,
    manifest: Option<Vec<u8>>,
    segments: Vec<(u32, [u8; SEGMENT_SALT_LEN], Vec<u8>)>,
    body: Vec<u8>,
    plaintext: Vec<u8>,
    with_container: bool,
    /// Several stored blobs (then `wrapped_key` is only the writer's own, informative).
    wrapped_keys: Option<Vec<Vec<u8>>>,
}

fn pairs(context: &[(String, String)]) -> Vec<(&str, &str)> {
    context
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn hash(context: &[(String, String)]) -> [u8; 32] {
    context_hash(&pairs(context)).expect("vector contexts have unique keys")
}

fn ctx(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Writer {
    /// A writer with keys and salts named after `label`, 4 KiB chunks, context bucket/key.
    fn new(label: &str) -> Self {
        Self {
            kek: fixed("kek-1"),
            wrap: WrapKind::Local,
            dek: fixed(&format!("{label}/dek")),
            object_salt: fixed(&format!("{label}/object-salt")),
            wrap_salt: fixed(&format!("{label}/wrap-salt")),
            context: ctx(&[("bucket", "vectors"), ("key", label)]),
            chunk_log2: 12,
        }
    }

    fn chunk_log2(mut self, chunk_log2: u8) -> Self {
        self.chunk_log2 = chunk_log2;
        self
    }

    fn context(mut self, context: &[(&str, &str)]) -> Self {
        self.context = ctx(context);
        self
    }

    fn object(&self, segmented: bool) -> ObjectKey {
        let params = ObjectParams::new(self.object_salt, hash(&self.context))
            .chunk_log2(self.chunk_log2)
            .segmented(segmented);
        ObjectKey::create(&Dek::from_bytes(self.dek), &params).expect("valid chunk size")
    }

    /// The DEK wrapped under the KEK for `context`.
    fn wrap_for(&self, context: &[(String, String)]) -> Vec<u8> {
        let key_id = match self.wrap {
            WrapKind::Local => KEK_ID,
            WrapKind::Customer => CUSTOMER_KEY_ID,
        };
        local_blob(
            self.kek,
            self.wrap,
            key_id,
            self.dek,
            context,
            &self.wrap_salt,
        )
    }

    /// The DEK wrapped under another local KEK (`kek-2`, `kek-3`, …), as another reader's blob.
    fn wrap_for_other_kek(&self, which: u32) -> Vec<u8> {
        local_blob(
            fixed(&format!("kek-{which}")),
            WrapKind::Local,
            &format!("{OTHER_KEK_ID}{which}"),
            self.dek,
            &self.context,
            &fixed(&format!(
                "{}/wrap-salt-kek-{which}",
                hex::encode(self.object_salt)
            )),
        )
    }

    fn case(&self, object: &ObjectKey) -> Case {
        Case {
            name: String::new(),
            description: String::new(),
            kek: self.kek,
            dek: self.dek,
            object_salt: self.object_salt,
            wrap_salt: self.wrap_salt,
            context: self.context.clone(),
            chunk_log2: self.chunk_log2,
            segmented: object.header().segmented,
            header: object.header().to_bytes().to_vec(),
            wrapped_key: self.wrap_for(&self.context),
            manifest: None,
            segments: Vec::new(),
            body: Vec::new(),
            plaintext: Vec::new(),
            with_container: false,
            wrapped_keys: None,
        }
    }

    /// An unsegmented object holding `plaintext`.
    fn seal(&self, plaintext: Vec<u8>) -> Case {
        let object = self.object(false);
        let mut body = vec![
            0u8;
            ciphertext_len(plaintext.len() as u64, self.chunk_log2).expect("small")
                as usize
        ];
        stream::seal_segment(
            &object.body_key().expect("unsegmented"),
            &plaintext,
            &mut body,
        )
        .expect("seal");
        Case {
            body,
            plaintext,
            ..self.case(&object)
        }
    }

    /// A segmented object of segments `(number, plaintext length)`, each with the salt of its first
    /// upload; the plaintext is the pattern across the whole object.
    fn seal_parts(&self, parts: &[(u32, usize)]) -> Case {
        let object = self.object(true);
        let total: usize = parts.iter().map(|(_, len)| len).sum();
        let plaintext = pattern(0, total);
        let mut segments = Vec::new();
        let mut at = 0;
        for &(number, len) in parts {
            let salt = self.segment_salt(number, 1);
            segments.push((
                number,
                salt,
                seal_segment(&object, number, &salt, &plaintext[at..at + len]),
            ));
            at += len;
        }
        let entries: Vec<SegmentEntry> = parts
            .iter()
            .zip(&segments)
            .map(|(&(number, len), (_, salt, _))| SegmentEntry {
                number,
                salt: *salt,
                plaintext_len: len as u64,
            })
            .collect();
        let mut manifest = vec![0u8; manifest_len(entries.len())];
        encode_manifest(&object, &entries, &mut manifest).expect("manifest");
        Case {
            manifest: Some(manifest),
            body: segments.iter().flat_map(|(_, _, ct)| ct.clone()).collect(),
            segments,
            plaintext,
            ..self.case(&object)
        }
    }

    /// The salt of upload number `upload` of segment `number` (fresh for every upload).
    fn segment_salt(&self, number: u32, upload: u32) -> [u8; SEGMENT_SALT_LEN] {
        fixed(&format!(
            "{}/segment-{number}/upload-{upload}",
            hex::encode(self.object_salt)
        ))
    }
}

fn seal_segment(
    object: &ObjectKey,
    number: u32,
    salt: &[u8; SEGMENT_SALT_LEN],
    plaintext: &[u8],
) -> Vec<u8> {
    let key = object.segment_key(number, salt);
    let mut out = vec![
        0u8;
        ciphertext_len(plaintext.len() as u64, object.header().chunk_log2).expect("small")
            as usize
    ];
    stream::seal_segment(&key, plaintext, &mut out).expect("seal");
    out
}

impl Case {
    fn named(mut self, name: &str, description: &str) -> Self {
        self.name = name.to_owned();
        self.description = description.to_owned();
        self
    }

    fn container(mut self) -> Self {
        self.with_container = true;
        self
    }

    fn sealed_chunk(&self) -> usize {
        (1usize << self.chunk_log2) + TAG_LEN
    }

    /// The body split into sealed chunks.
    fn chunks(&self) -> Vec<Vec<u8>> {
        self.body
            .chunks(self.sealed_chunk())
            .map(<[u8]>::to_vec)
            .collect()
    }

    fn with_chunks(mut self, chunks: &[Vec<u8>]) -> Self {
        self.body = chunks.concat();
        self
    }

    /// Stores these blobs, in this order, instead of the writer's one.
    fn with_blobs(mut self, blobs: Vec<Vec<u8>>) -> Self {
        self.wrapped_keys = Some(blobs);
        self
    }

    /// The stored blobs.
    fn blobs(&self) -> Vec<&[u8]> {
        match &self.wrapped_keys {
            Some(blobs) => blobs.iter().map(Vec::as_slice).collect(),
            None => vec![self.wrapped_key.as_slice()],
        }
    }

    /// A range vector that reads `range` of this object and gets the writer's plaintext there.
    fn reads(&self, range: RangeSpec) -> Vector {
        let span = range
            .resolve(self.plaintext.len() as u64)
            .expect("a satisfiable range");
        let expected = &self.plaintext[span.start as usize..span.end as usize];
        Vector {
            range: Some(range),
            range_plaintext: Some(hex::encode(expected)),
            segments: Vec::new(),
            container: None,
            plaintext: None,
            ..self.vector()
        }
    }

    /// A range vector whose read of `range` fails with `error`.
    fn range_fails(&self, range: RangeSpec, error: &str, chunk: Option<(u32, u64)>) -> Vector {
        Vector {
            range: Some(range),
            ..self.fails(error, chunk)
        }
    }

    fn vector(&self) -> Vector {
        let context = self
            .context
            .iter()
            .map(|(k, v)| [k.clone(), v.clone()])
            .collect();
        let blobs = self.blobs();
        let container = self.with_container.then(|| {
            let mut out = vec![0u8; 104 + 2 + blobs.iter().map(|b| 2 + b.len()).sum::<usize>()];
            let header: [u8; 104] = self.header.as_slice().try_into().expect("104-byte header");
            let header = objseal_core::Header::parse(&header).expect("valid header");
            let n = write_prefix(&header, &blobs, &mut out).expect("prefix");
            out.truncate(n);
            out.extend_from_slice(&self.body);
            hex::encode(out)
        });
        let (wrapped_key, wrapped_keys) = match &self.wrapped_keys {
            Some(several) => (None, several.iter().map(hex::encode).collect()),
            None => (Some(hex::encode(&self.wrapped_key)), Vec::new()),
        };
        Vector {
            name: self.name.clone(),
            description: self.description.clone(),
            range: None,
            expected_error: None,
            error_chunk: None,
            kek: hex::encode(self.kek),
            dek: hex::encode(self.dek),
            object_salt: hex::encode(self.object_salt),
            wrap_salt: hex::encode(self.wrap_salt),
            context,
            ctx_hash: hex::encode(hash(&self.context)),
            chunk_log2: self.chunk_log2,
            segmented: self.segmented,
            header: hex::encode(&self.header),
            wrapped_key,
            wrapped_keys,
            manifest: self.manifest.as_ref().map(hex::encode),
            segments: self
                .segments
                .iter()
                .map(|(number, salt, ct)| SegmentVector {
                    number: *number,
                    salt: hex::encode(salt),
                    ciphertext: hex::encode(ct),
                })
                .collect(),
            body: hex::encode(&self.body),
            container,
            plaintext: Some(hex::encode(&self.plaintext)),
            range_plaintext: None,
        }
    }

    /// A negative vector: no plaintext, no informative segments, the expected error.
    fn fails(&self, error: &str, chunk: Option<(u32, u64)>) -> Vector {
        Vector {
            expected_error: Some(error.to_owned()),
            error_chunk: chunk.map(|(segment, chunk)| ChunkRef { segment, chunk }),
            segments: Vec::new(),
            container: None,
            plaintext: None,
            ..self.vector()
        }
    }
}

fn flip(bytes: &mut [u8], at: usize, mask: u8) {
    bytes[at] ^= mask;
}

fn positive() -> Vec<Vector> {
    let c = 4096;
    let mut out = Vec::new();
    let mut add = |case: Case| out.push(case.vector());

    add(Writer::new("empty").seal(Vec::new()).named(
        "empty",
        "An empty object: one final chunk with no plaintext, so the body is just its 16-byte tag.",
    ));
    add(Writer::new("one-byte")
        .seal(pattern(0, 1))
        .container()
        .named(
            "one-byte",
            "One byte: a single final chunk of 1 + 16 bytes. Also given as a file container.",
        ));
    add(Writer::new("one-full-chunk").seal(pattern(0, c)).named(
        "one-full-chunk",
        "Exactly one full 4 KiB chunk, which is final (nonce flag 0x01); no empty chunk follows.",
    ));
    add(Writer::new("one-chunk-plus-one").seal(pattern(0, c + 1)).container().named(
        "one-chunk-plus-one",
        "4097 bytes: a full non-final chunk 0 and a final chunk 1 of one byte. Also given as a file container.",
    ));
    add(Writer::new("several-chunks")
        .seal(pattern(0, 3 * c + 1000))
        .named(
            "several-chunks",
            "Three full chunks and a final chunk of 1000 bytes.",
        ));
    add(Writer::new("exact-chunk-multiple")
        .seal(pattern(0, 3 * c))
        .named(
            "exact-chunk-multiple",
            "Three full chunks; the third is the final one.",
        ));
    add(Writer::new("chunk-log2-13").chunk_log2(13).seal(pattern(0, 2 * 8192 + 500)).named(
        "chunk-log2-13",
        "8 KiB chunks (chunk_log2 = 13): two full chunks of 8192 + 16 bytes and a final chunk of 500.",
    ));
    add(Writer::new("default-chunk-size")
        .chunk_log2(16)
        .seal(pattern(0, 3000))
        .named(
            "default-chunk-size",
            "The default 64 KiB chunks (chunk_log2 = 16), with an object smaller than one chunk.",
        ));
    add(Writer::new("max-chunk-size")
        .chunk_log2(24)
        .seal(pattern(0, 100))
        .named(
            "max-chunk-size",
            "The largest chunks (chunk_log2 = 24, 16 MiB), with a 100-byte object.",
        ));
    add(Writer::new("empty-context")
        .context(&[])
        .seal(pattern(0, 100))
        .named("empty-context", "An empty encryption context (zero pairs)."));
    add(Writer::new("unsorted-unicode-context")
        .context(&[
            ("key", "données/été.txt"),
            ("tenant", ""),
            ("bucket", "vectors"),
            ("Key", "upper case sorts first"),
            ("app", "objseal"),
        ])
        .seal(pattern(0, 100))
        .named(
            "unsorted-unicode-context",
            "A context given out of order, with UTF-8, an empty value and keys differing only in case: \
             the canonical form sorts by key bytes (Key < app < bucket < key < tenant).",
        ));
    let mut customer = Writer::new("sse-c-customer-key");
    customer.wrap = WrapKind::Customer;
    customer.kek = fixed("sse-c/customer-key");
    add(customer.seal(pattern(0, 5000)).named(
        "sse-c-customer-key",
        "The DEK wrapped under an SSE-C customer key (wrap algorithm 3, same construction as a local KEK).",
    ));
    add(Writer::new("multipart-3-segments")
        .seal_parts(&[(1, 2 * c), (2, c + 300), (3, 777)])
        .named(
            "multipart-3-segments",
            "A segmented object of three segments (S3 parts 1, 2, 3) of 8192, 4396 and 777 bytes, each with \
             its own salt and key, and the manifest that lists them.",
        ));
    add(Writer::new("multipart-gaps").seal_parts(&[(3, c), (10, 1)]).named(
        "multipart-gaps",
        "Segment numbers are S3 part numbers and may have gaps: parts 3 (one full chunk) and 10 (one byte).",
    ));
    add(Writer::new("multipart-one-segment")
        .seal_parts(&[(1, 100)])
        .named(
            "multipart-one-segment",
            "A segmented object with a single segment (a multipart upload of one part).",
        ));
    add(Writer::new("context-prefix-and-non-ascii-keys")
        .context(&[
            ("é", "non-ASCII key: 0xc3 0xa9 sorts after every ASCII key"),
            ("b", "2"),
            ("ab", "a proper prefix sorts first: a < ab < b"),
            ("Z", "0x5a sorts before every lower-case key"),
            ("", "the empty key sorts first of all"),
            ("a", "1"),
        ])
        .seal(pattern(0, 100))
        .named(
            "context-prefix-and-non-ascii-keys",
            "Context keys that are proper prefixes of one another, non-ASCII, upper case and empty, given \
             out of order: the canonical form sorts them by their UTF-8 bytes as unsigned bytes, \
             \"\" < \"Z\" < \"a\" < \"ab\" < \"b\" < \"é\".",
        ));

    // --- Several blobs: the reader tries, in order, every blob of algorithm 1 or 3.
    let several = Writer::new("several-blobs-other-kek-first");
    let case = several.seal(pattern(0, 300));
    let blobs = vec![several.wrap_for_other_kek(2), case.wrapped_key.clone()];
    add(case.with_blobs(blobs).container().named(
        "several-blobs-other-kek-first",
        "Two blobs: the first wraps the DEK under another KEK (key id objseal-vectors/kek-2), the second \
         under the reader's. The first fails to unwrap and the reader goes on to the second. Also given \
         as a file container with both blobs.",
    ));
    let several = Writer::new("several-blobs-foreign-dek-first");
    let case = several.seal(pattern(0, 300));
    let foreign = Writer {
        context: several.context.clone(),
        ..Writer::new("several-blobs-foreign-dek-first/other-object")
    }
    .wrap_for(&several.context);
    let blobs = vec![foreign, case.wrapped_key.clone()];
    add(case.with_blobs(blobs).named(
        "several-blobs-foreign-dek-first",
        "Two blobs under the reader's KEK and context: the first holds another object's DEK, so it \
         unwraps but the header tag does not verify under it; the reader goes on to the second, whose \
         DEK verifies. A DEK is the object's only once the header verifies under it.",
    ));
    let several = Writer::new("several-blobs-kms-and-unknown-first");
    let case = several.seal(pattern(0, 300));
    let mut unknown = several.wrap_for_other_kek(2);
    unknown[1] = 9;
    let blobs = vec![
        kms_blob("several-blobs-kms-and-unknown-first"),
        unknown,
        case.wrapped_key.clone(),
    ];
    add(case.with_blobs(blobs).named(
        "several-blobs-kms-and-unknown-first",
        "Three blobs: a KMS blob (algorithm 2), one of an unknown algorithm (9), then the reader's. A \
         local-KEK reader handles neither of the first two and skips them; they are not errors.",
    ));
    out
}

fn negative() -> Vec<Vector> {
    let c = 4096;
    let mut out = Vec::new();

    // --- Header and key negatives: a small object, rejected before the body is read.
    let small_writer = Writer::new("negative/small");
    let small = small_writer.seal(pattern(0, 100));
    let header_case = |name: &str, description: &str, at: usize, mask: u8| {
        let mut case = small.clone().named(name, description);
        flip(&mut case.header, at, mask);
        case
    };
    out.push(
        header_case(
            "header-salt-bit-flipped",
            "Bit 0 of the first object_salt byte (offset 8) flipped.",
            8,
            0x01,
        )
        .fails("HeaderAuth", None),
    );
    out.push(
        header_case(
            "header-tag-bit-flipped",
            "Bit 7 of the last header_tag byte (offset 103) flipped.",
            103,
            0x80,
        )
        .fails("HeaderAuth", None),
    );
    out.push(
        header_case(
            "header-ctx-hash-bit-flipped",
            "A bit of the header's ctx_hash (offset 40) flipped. The DEK still unwraps (the blob binds the \
             reader's context), but the header tag no longer verifies.",
            40,
            0x04,
        )
        .fails("HeaderAuth", None),
    );
    out.push(
        header_case(
            "header-chunk-size-changed",
            "chunk_log2 (offset 6) changed from 12 to 13: still valid, but \
             not what the tag covers.",
            6,
            12 ^ 13,
        )
        .fails("HeaderAuth", None),
    );
    out.push(
        header_case(
            "header-segmented-flag-set",
            "The segmented flag (offset 7, bit 0) set on an unsegmented \
             object's header.",
            7,
            0x01,
        )
        .fails("HeaderAuth", None),
    );
    out.push(
        header_case(
            "header-reserved-flag-set",
            "Reserved flag bit 1 (offset 7) set.",
            7,
            0x02,
        )
        .fails("BadFlags", None),
    );
    out.push(
        header_case(
            "header-chunk-size-out-of-range",
            "chunk_log2 (offset 6) set to 25, above the maximum 24.",
            6,
            12 ^ 25,
        )
        .fails("BadChunkSize", None),
    );
    out.push(
        header_case(
            "header-bad-magic",
            "The magic \"OSE\" changed to \"OSF\".",
            2,
            b'E' ^ b'F',
        )
        .fails("BadMagic", None),
    );
    out.push(
        header_case(
            "header-unsupported-version",
            "The version byte (offset 3) set to 2.",
            3,
            0x03,
        )
        .fails("UnsupportedVersion", None),
    );
    out.push(
        header_case(
            "header-unknown-suite",
            "The suite id (offsets 4..6) set to 0x0002.",
            5,
            0x03,
        )
        .fails("UnknownSuite", None),
    );
    let mut short = small
        .clone()
        .named("header-truncated", "The header cut to 103 bytes.");
    short.header.truncate(103);
    out.push(short.fails("TooShort", None));
    let mut long = small.clone().named(
        "header-too-long",
        "One byte (0x00) appended to the header: a header stored on its own is exactly 104 bytes.",
    );
    long.header.push(0);
    out.push(long.fails("BadLength", None));
    out.push(
        header_case(
            "header-chunk-size-below-minimum",
            "chunk_log2 (offset 6) set to 11, below the minimum 12.",
            6,
            12 ^ 11,
        )
        .fails("BadChunkSize", None),
    );

    // Wrapped keys.
    let other_object = Writer {
        context: small_writer.context.clone(),
        ..Writer::new("negative/other-object")
    }
    .seal(pattern(0, 100));
    let mut swapped = small.clone().named(
        "wrapped-key-swapped",
        "The wrapped-key blob of another object (another DEK) under the same KEK and context. It unwraps \
         fine (the blob is not bound to the header), but to the other DEK, so the header tag refuses it: \
         this is why the header tag is checked after every unwrap.",
    );
    swapped.wrapped_key.clone_from(&other_object.wrapped_key);
    out.push(swapped.fails("HeaderAuth", None));
    let blob_case = |name: &str, description: &str, at: usize, mask: u8| {
        let mut case = small.clone().named(name, description);
        let at = if at == usize::MAX {
            case.wrapped_key.len() - 1
        } else {
            at
        };
        flip(&mut case.wrapped_key, at, mask);
        case
    };
    let id_len = KEK_ID.len();
    out.push(
        blob_case(
            "wrapped-key-ciphertext-bit-flipped",
            "A bit of the blob's GCM tag (its last byte) flipped.",
            usize::MAX,
            0x01,
        )
        .fails("UnwrapFailed", None),
    );
    out.push(
        blob_case(
            "wrapped-key-id-changed",
            "One byte of the key id changed (the blob prefix is in the wrap key's derivation and the AAD).",
            3,
            0x20,
        )
        .fails("UnwrapFailed", None),
    );
    out.push(
        blob_case(
            "wrapped-key-version-changed",
            "The key version changed from 1 to 3.",
            3 + id_len + 3,
            0x02,
        )
        .fails("UnwrapFailed", None),
    );
    out.push(
        blob_case(
            "wrapped-key-salt-changed",
            "A bit of the wrap salt flipped.",
            7 + id_len,
            0x01,
        )
        .fails("UnwrapFailed", None),
    );
    out.push(
        blob_case(
            "wrapped-key-algorithm-changed",
            "The wrap algorithm changed from 1 (local KEK) to 3 (SSE-C customer key): same construction, \
             but the algorithm byte is in the blob prefix.",
            1,
            0x02,
        )
        .fails("UnwrapFailed", None),
    );
    out.push(
        blob_case(
            "wrapped-key-unknown-algorithm",
            "The wrap algorithm byte set to 9.",
            1,
            0x08,
        )
        .fails("UnknownWrapAlgorithm", None),
    );
    let mut bad_len = small.clone().named(
        "wrapped-key-bad-length",
        "A local-KEK blob whose ciphertext is 47 bytes (last byte dropped, length field adjusted).",
    );
    bad_len.wrapped_key.pop();
    let len_at = 39 + id_len;
    bad_len.wrapped_key[len_at + 1] -= 1;
    out.push(bad_len.fails("BadWrappedKey", None));
    let edit_blob = |name: &str, description: &str, edit: &dyn Fn(&mut Vec<u8>)| {
        let mut case = small.clone().named(name, description);
        edit(&mut case.wrapped_key);
        case.fails("BadWrappedKey", None)
    };
    out.push(edit_blob(
        "wrapped-key-too-short",
        "The blob cut to its first 2 bytes (fewer than 3).",
        &|blob| blob.truncate(2),
    ));
    out.push(edit_blob(
        "wrapped-key-unsupported-version",
        "The blob's version byte (offset 0) set to 2.",
        &|blob| blob[0] = 2,
    ));
    out.push(edit_blob(
        "wrapped-key-id-length-too-long",
        "The key id length (offset 2) set to 255: the 110-byte blob is shorter than 41 + 255.",
        &|blob| blob[2] = 255,
    ));
    out.push(edit_blob(
        "wrapped-key-id-length-changed",
        "The key id length (offset 2) lowered from 21 to 20: every later field shifts, and the \
         ciphertext length read at the new offset does not fit the blob.",
        &|blob| blob[2] -= 1,
    ));
    out.push(edit_blob(
        "wrapped-key-id-not-utf8",
        "A key id byte (offset 3) set to 0xff: the key id is not UTF-8.",
        &|blob| blob[3] = 0xff,
    ));
    out.push(edit_blob(
        "wrapped-key-ciphertext-length-zero",
        "M = 0: the length field zeroed and the ciphertext removed (the total length is consistent).",
        &|blob| {
            blob.truncate(39 + id_len);
            blob.extend_from_slice(&[0, 0]);
        },
    ));
    out.push(edit_blob(
        "wrapped-key-ciphertext-length-over-max",
        "M = 4097: the length field set to 4097 and the ciphertext padded to 4097 bytes with 0x00 (the \
         total length is consistent).",
        &|blob| {
            blob[39 + id_len..41 + id_len].copy_from_slice(&4097u16.to_be_bytes());
            blob.resize(41 + id_len + 4097, 0);
        },
    ));
    out.push(edit_blob(
        "wrapped-key-trailing-byte",
        "One byte (0x00) appended to the blob: its length is no longer 41 + L + M.",
        &|blob| blob.push(0),
    ));
    let mut kms_only = small.clone().named(
        "wrapped-key-kms-only",
        "The only blob is a KMS blob (algorithm 2, well formed, opaque ciphertext): a reader holding \
         only a local KEK handles no blob of the object.",
    );
    kms_only.wrapped_key = kms_blob("negative/small");
    out.push(kms_only.fails("UnknownWrapAlgorithm", None));
    let mut wrong_kek = small
        .clone()
        .named("wrong-kek", "The reader holds another KEK.");
    wrong_kek.kek = fixed("kek-2");
    out.push(wrong_kek.fails("UnwrapFailed", None));
    let mut wrong_ctx = small.clone().named(
        "wrong-context",
        "The reader supplies another context (key \"negative/other\"); the blob binds the writer's, so \
         the unwrap fails first.",
    );
    wrong_ctx.context = ctx(&[("bucket", "vectors"), ("key", "negative/other")]);
    out.push(wrong_ctx.fails("UnwrapFailed", None));
    let mut mismatch = small.clone().named(
        "header-context-mismatch",
        "The blob was wrapped for the reader's context (key \"negative/other\") but the header binds the \
         writer's (key \"negative/small\"): the DEK unwraps, the header's ctx_hash differs, HeaderAuth.",
    );
    mismatch.context = ctx(&[("bucket", "vectors"), ("key", "negative/other")]);
    mismatch.wrapped_key = small_writer.wrap_for(&mismatch.context);
    out.push(mismatch.fails("HeaderAuth", None));

    // Several blobs, none of which gives the object's DEK.
    let mut unknown = small_writer.wrap_for_other_kek(2);
    unknown[1] = 9;
    let blobs = vec![
        kms_blob("negative/small"),
        small_writer.wrap_for_other_kek(2),
        small_writer.wrap_for_other_kek(3),
        unknown,
    ];
    out.push(
        small
            .clone()
            .named(
                "several-blobs-none-unwraps",
                "Four blobs: a KMS blob (not handled), the DEK under two other KEKs (key ids \
                 objseal-vectors/kek-2 and -3), and a blob of an unknown algorithm (9, not handled). \
                 Blobs were tried and none unwrapped: UnwrapFailed, whatever the first or last blob.",
            )
            .with_blobs(blobs)
            .fails("UnwrapFailed", None),
    );
    let blobs = vec![
        small_writer.wrap_for_other_kek(2),
        other_object.wrapped_key.clone(),
    ];
    out.push(
        small
            .clone()
            .named(
                "several-blobs-foreign-dek",
                "Two blobs: the DEK under another KEK, then another object's DEK under the reader's KEK \
                 and context. The second unwraps but its DEK does not verify the header, and no blob \
                 is left: HeaderAuth, since a blob did unwrap.",
            )
            .with_blobs(blobs)
            .fails("HeaderAuth", None),
    );
    let blobs = vec![
        other_object.wrapped_key.clone(),
        small_writer.wrap_for_other_kek(2),
    ];
    out.push(
        small
            .clone()
            .named(
                "several-blobs-foreign-dek-then-other-kek",
                "The blobs of several-blobs-foreign-dek in the other order: the foreign DEK first, then \
                 the blob of another KEK. Still HeaderAuth: a blob unwrapped, whichever failed last.",
            )
            .with_blobs(blobs)
            .fails("HeaderAuth", None),
    );
    let mut unknown = small_writer.wrap_for_other_kek(2);
    unknown[1] = 9;
    let blobs = vec![kms_blob("negative/small"), unknown];
    out.push(
        small
            .clone()
            .named(
                "several-blobs-none-handled",
                "Two blobs, a KMS blob (algorithm 2) and one of an unknown algorithm (9): a local-KEK \
                 reader handles neither and tries nothing.",
            )
            .with_blobs(blobs)
            .fails("UnknownWrapAlgorithm", None),
    );
    let mut malformed = small_writer.wrap_for_other_kek(2);
    malformed[0] = 2;
    let blobs = vec![small.wrapped_key.clone(), malformed];
    out.push(
        small
            .clone()
            .named(
                "several-blobs-one-malformed",
                "Two blobs: the reader's own, which would unwrap, then one with version 2. The structure \
                 of every blob is checked before any is used, so the object is refused.",
            )
            .with_blobs(blobs)
            .fails("BadWrappedKey", None),
    );

    // --- Chunk negatives. `two`: a full chunk 0 and a final chunk 1 of 100 bytes; `three`: two full
    // chunks and a final chunk of 100 bytes (for reordering); `exact`: one full chunk, final.
    let two = Writer::new("negative/two-chunks").seal(pattern(0, c + 100));
    let three_writer = Writer::new("negative/three-chunks");
    let three = three_writer.seal(pattern(0, 2 * c + 100));
    let exact = Writer::new("negative/exact").seal(pattern(0, c));
    let sealed = two.sealed_chunk();
    let chunks = three.chunks();
    let mut case = two.clone().named(
        "chunk-ciphertext-bit-flipped",
        "A bit of chunk 0's ciphertext (byte 100) flipped.",
    );
    flip(&mut case.body, 100, 0x10);
    out.push(case.fails("ChunkAuth", Some((0, 0))));
    let mut case = two.clone().named(
        "chunk-tag-bit-flipped",
        "A bit of chunk 0's GCM tag flipped.",
    );
    flip(&mut case.body, c + 3, 0x01);
    out.push(case.fails("ChunkAuth", Some((0, 0))));
    let mut case = two.clone().named(
        "final-chunk-bit-flipped",
        "A bit of the final chunk's tag (the body's last byte) flipped.",
    );
    let last = case.body.len() - 1;
    flip(&mut case.body, last, 0x40);
    out.push(case.fails("ChunkAuth", Some((0, 1))));
    out.push(
        three
            .clone()
            .named(
                "truncated-at-chunk-boundary",
                "Of three chunks, only chunk 0 kept: a valid length, but chunk 0 was not sealed as final.",
            )
            .with_chunks(&chunks[..1])
            .fails("Truncated", None),
    );
    out.push(
        two.clone()
            .named(
                "dropped-final-chunk",
                "The final chunk dropped: chunk 0 now ends the body but was sealed as non-final.",
            )
            .with_chunks(&two.chunks()[..1])
            .fails("Truncated", None),
    );
    let mut case = two.clone().named(
        "truncated-inside-final-chunk",
        "The last 10 bytes cut off: the final chunk (now 90 + 16 bytes) fails authentication.",
    );
    case.body.truncate(case.body.len() - 10);
    out.push(case.fails("ChunkAuth", Some((0, 1))));
    let mut case = two.clone().named(
        "truncated-inside-final-tag",
        "The body cut 10 bytes into the final chunk: a last chunk of 1..=16 bytes cannot hold a tag and \
         a non-empty plaintext, so no plaintext length maps to this ciphertext length.",
    );
    case.body.truncate(sealed + 10);
    out.push(case.fails("BadLength", None));
    let mut case = two.clone().named(
        "empty-body",
        "The body is empty (even an empty object has a 16-byte chunk).",
    );
    case.body.clear();
    out.push(case.fails("BadLength", None));
    out.push(
        three
            .clone()
            .named("swapped-chunks", "Chunks 0 and 1 (both full) swapped.")
            .with_chunks(&[chunks[1].clone(), chunks[0].clone(), chunks[2].clone()])
            .fails("ChunkAuth", Some((0, 0))),
    );
    out.push(
        three
            .clone()
            .named("replayed-chunk", "Chunk 0 repeated in place of chunk 1.")
            .with_chunks(&[chunks[0].clone(), chunks[0].clone(), chunks[2].clone()])
            .fails("ChunkAuth", Some((0, 1))),
    );
    // Chunk 1 sealed with the final flag by a (buggy or malicious) key holder; chunk 2 follows it.
    let mut case = three.clone().named(
        "final-flag-on-middle-chunk",
        "Chunk 1 of 3 was sealed with the final flag (nonce byte 11 = 0x01) and chunk 2 follows it. Chunk 1 \
         only opens as a final chunk, so data follows the end of the stream.",
    );
    let key = three_writer.object(false).body_key().expect("unsegmented");
    let mut flagged = Vec::new();
    for (i, pt) in three.plaintext.chunks(c).enumerate() {
        let mut slot = pt.to_vec();
        slot.resize(pt.len() + TAG_LEN, 0);
        key.seal_chunk_in_place(i as u64, i == 1 || i == 2, &mut slot, pt.len())
            .expect("seal");
        flagged.push(slot);
    }
    case.body = flagged.concat();
    out.push(case.fails("TrailingData", None));
    let mut case = exact.clone().named(
        "trailing-chunk",
        "100 bytes appended after an object of one full chunk: the genuine final chunk 0 is now followed \
         by data, fails as a non-final chunk and opens as a final one.",
    );
    case.body.extend(std::iter::repeat_n(0xa5, 100));
    out.push(case.fails("TrailingData", None));
    let mut case = exact.clone().named(
        "trailing-bytes-short",
        "7 bytes appended after an object of one full chunk: a last chunk of 7 bytes is impossible.",
    );
    case.body.extend(std::iter::repeat_n(0xa5, 7));
    out.push(case.fails("BadLength", None));
    let mut case = two.clone().named(
        "trailing-bytes-after-partial-final",
        "5 bytes appended to an object whose final chunk is partial: they lengthen the final chunk \
         (100 + 5 + 16 bytes), which then fails authentication under both flags (a non-final chunk must \
         be full), so this is ChunkAuth, not TrailingData.",
    );
    case.body.extend(std::iter::repeat_n(0xa5, 5));
    out.push(case.fails("ChunkAuth", Some((0, 1))));

    // --- Segmented negatives: parts 1 and 2 of 100 bytes, part 3 of 50 (one chunk each).
    let mp_writer = Writer::new("negative/multipart");
    let parts = [(1, 100), (2, 100), (3, 50)];
    let mp = mp_writer.seal_parts(&parts);
    let seg = |i: usize| mp.segments[i].2.clone();
    let manifest = mp.manifest.clone().expect("segmented");
    let mut case = mp.clone().named(
        "multipart-manifest-entry-dropped",
        "The manifest entry of segment 2 removed (count 3 → 2, tag kept) and segment 2 dropped from the body.",
    );
    let mut m = manifest[..8].to_vec();
    m[7] = 2;
    m.extend_from_slice(&manifest[8..36]);
    m.extend_from_slice(&manifest[64..]);
    case.manifest = Some(m);
    case.body = [seg(0), seg(2)].concat();
    out.push(case.fails("ManifestAuth", None));
    let mut case = mp.clone().named(
        "multipart-manifest-tag-bit-flipped",
        "A bit of the manifest tag flipped.",
    );
    let m = case.manifest.as_mut().expect("segmented");
    let last = m.len() - 1;
    flip(m, last, 0x01);
    out.push(case.fails("ManifestAuth", None));
    let mut case = mp.clone().named(
        "multipart-manifest-length-changed",
        "A bit of the first entry's plaintext length flipped (100 → 101): the tag refuses it before any \
         length is used.",
    );
    flip(case.manifest.as_mut().expect("segmented"), 35, 0x01);
    out.push(case.fails("ManifestAuth", None));
    let mut case = mp.clone().named(
        "multipart-manifest-from-other-object",
        "The manifest of another object made with the same DEK (another object salt, so another header) \
         that lists the very same segments: the manifest key is per object.",
    );
    let mut other = mp_writer.clone();
    other.object_salt = fixed("negative/multipart-other/object-salt");
    let other_object = other.object(true);
    let entries: Vec<SegmentEntry> = mp
        .segments
        .iter()
        .zip(parts)
        .map(|((number, salt, _), (_, len))| SegmentEntry {
            number: *number,
            salt: *salt,
            plaintext_len: len as u64,
        })
        .collect();
    let mut m = vec![0u8; manifest_len(3)];
    encode_manifest(&other_object, &entries, &mut m).expect("manifest");
    case.manifest = Some(m);
    out.push(case.fails("ManifestAuth", None));
    let mut case = mp.clone().named(
        "multipart-manifest-count-mismatch",
        "The manifest's segment count changed from 3 to 4: its length no longer matches.",
    );
    case.manifest.as_mut().expect("segmented")[7] = 4;
    out.push(case.fails("BadManifest", None));
    let mut case = mp.clone().named(
        "multipart-manifest-too-short",
        "The manifest cut to 67 bytes, one short of the smallest manifest (one entry: 8 + 28 + 32).",
    );
    case.manifest.as_mut().expect("segmented").truncate(67);
    out.push(case.fails("BadManifest", None));
    let mut case = mp.clone().named(
        "multipart-manifest-zero-segments",
        "The manifest's segment count set to 0 (length unchanged).",
    );
    case.manifest.as_mut().expect("segmented")[7] = 0;
    out.push(case.fails("BadManifest", None));
    let mut case = mp.clone().named(
        "multipart-manifest-trailing-byte",
        "One byte (0x00) appended to the manifest: its length is no longer 8 + 28·n + 32.",
    );
    case.manifest.as_mut().expect("segmented").push(0);
    out.push(case.fails("BadManifest", None));
    let mut case = mp.clone().named(
        "multipart-manifest-bad-version",
        "The manifest's version byte (offset 3) set to 2: \"OSM\" ‖ 0x02 is not the magic.",
    );
    case.manifest.as_mut().expect("segmented")[3] = 2;
    out.push(case.fails("BadMagic", None));
    let mut case = mp.clone().named(
        "multipart-manifest-numbers-not-increasing",
        "A manifest with a valid tag (made by a holder of the DEK) listing the segments as 1, 3, 2: \
         the tag verifies, then the numbers are refused.",
    );
    let mut disordered = entries.clone();
    disordered.swap(1, 2);
    case.manifest = Some(forge_manifest(&mp_writer.object(true), &disordered));
    out.push(case.fails("BadManifest", None));
    let mut case = mp.clone().named(
        "multipart-manifest-numbers-repeated",
        "A manifest with a valid tag listing segment numbers 1, 2, 2 (the third entry renumbered): \
         numbers must be strictly increasing.",
    );
    let mut repeated = entries.clone();
    repeated[2].number = 2;
    case.manifest = Some(forge_manifest(&mp_writer.object(true), &repeated));
    out.push(case.fails("BadManifest", None));
    let mut case = mp.clone().named(
        "multipart-manifest-segment-too-long",
        "A manifest with a valid tag whose last segment claims 2^44 + 1 plaintext bytes: at 4 KiB \
         chunks that is 2^32 + 1 chunks, over the per-segment limit.",
    );
    let mut huge = entries.clone();
    huge[2].plaintext_len = (1u64 << 44) + 1;
    case.manifest = Some(forge_manifest(&mp_writer.object(true), &huge));
    out.push(case.fails("LimitExceeded", None));
    let mut case = mp.clone().named(
        "multipart-manifest-missing",
        "A segmented header with no manifest.",
    );
    case.manifest = None;
    out.push(case.fails("BadManifest", None));
    let mut case = mp.clone().named(
        "multipart-manifest-bad-magic",
        "The manifest magic \"OSM\" changed to \"OSN\".",
    );
    flip(case.manifest.as_mut().expect("segmented"), 2, b'M' ^ b'N');
    out.push(case.fails("BadMagic", None));
    let mut case = mp.clone().named(
        "multipart-segments-swapped",
        "Segments 1 and 2 (same length) swapped in the body; the manifest is intact.",
    );
    case.body = [seg(1), seg(0), seg(2)].concat();
    out.push(case.fails("ChunkAuth", Some((1, 0))));
    let mut case = mp.clone().named(
        "multipart-stale-part-upload",
        "Part 2 was uploaded twice with different data; the manifest lists the second upload's salt, but \
         the body holds the first upload (its own fresh salt). Without per-upload salts both uploads \
         would have used the same key and nonces.",
    );
    // Upload 2 of part 2 gets a fresh salt and (here) other data; Complete lists that upload.
    let current_salt = mp_writer.segment_salt(2, 2);
    let current = seal_segment(
        &mp_writer.object(true),
        2,
        &current_salt,
        &pattern(5000, 100),
    );
    debug_assert_eq!(current.len(), seg(1).len());
    let mut current_entries = entries.clone();
    current_entries[1].salt = current_salt;
    let mut m = vec![0u8; manifest_len(3)];
    encode_manifest(&mp_writer.object(true), &current_entries, &mut m).expect("manifest");
    case.manifest = Some(m);
    // The body still holds upload 1 of part 2 (its own salt).
    case.body = [seg(0), seg(1), seg(2)].concat();
    out.push(case.fails("ChunkAuth", Some((2, 0))));
    let mut case = mp.clone().named(
        "multipart-segment-from-other-object",
        "Segment 2 replaced by segment 2 of another object sealed with the same DEK, the same segment \
         number and the same segment salt; only the object (header) differs.",
    );
    let foreign = seal_segment(&other_object, 2, &mp.segments[1].1, &mp.plaintext[100..200]);
    case.body = [seg(0), foreign, seg(2)].concat();
    out.push(case.fails("ChunkAuth", Some((2, 0))));
    let mut case = mp.clone().named(
        "multipart-body-truncated",
        "The last segment is missing from the body: the body is shorter than the manifest says.",
    );
    case.body = [seg(0), seg(1)].concat();
    out.push(case.fails("Truncated", None));
    let mut case = mp.clone().named(
        "multipart-body-trailing",
        "32 bytes appended to the body: it is longer than the manifest says.",
    );
    case.body.extend(std::iter::repeat_n(0x5a, 32));
    out.push(case.fails("TrailingData", None));
    out
}

fn inclusive(first: u64, last: u64) -> RangeSpec {
    RangeSpec::Inclusive { first, last }
}

fn range() -> Vec<Vector> {
    let c = 4096u64;
    let cu = c as usize;
    let mut out = Vec::new();

    // `four`: chunks 0..=2 full, final chunk 3 of 1000 bytes (P = 13288). `exact`: three full chunks.
    let four = Writer::new("range/four-chunks").seal(pattern(0, 3 * cu + 1000));
    let p = four.plaintext.len() as u64;
    let exact = Writer::new("range/exact").seal(pattern(0, 3 * cu));
    let empty = Writer::new("range/empty").seal(Vec::new());
    let reads = |case: &Case, name: &str, description: &str, range: RangeSpec| {
        case.clone().named(name, description).reads(range)
    };
    let d = "An object of 13288 bytes in 4 KiB chunks: chunks 0, 1, 2 full, final chunk 3 of 1000 \
             bytes.";
    for (name, what, range) in [
        (
            "range-inside-one-chunk",
            "Bytes 5000..=5099, inside chunk 1: only chunk 1 is fetched and opened (as non-final).",
            inclusive(5000, 5099),
        ),
        (
            "range-one-whole-chunk",
            "Bytes 4096..=8191: exactly chunk 1, starting and ending at chunk boundaries.",
            inclusive(4096, 8191),
        ),
        (
            "range-across-chunk-boundary",
            "Bytes 4090..=4105: the last 6 bytes of chunk 0 and the first 10 of chunk 1.",
            inclusive(4090, 4105),
        ),
        (
            "range-last-byte-of-a-chunk",
            "Byte 4095 alone, the last byte of chunk 0.",
            inclusive(4095, 4095),
        ),
        (
            "range-first-byte-of-a-chunk",
            "Byte 8192 alone, the first byte of chunk 2.",
            inclusive(8192, 8192),
        ),
        (
            "range-whole-object",
            "Bytes 0..=13287: every chunk, the final one verified first.",
            inclusive(0, p - 1),
        ),
        (
            "range-suffix",
            "The last 1500 bytes (bytes=-1500): chunks 2 and 3; the final chunk is opened first.",
            RangeSpec::Suffix { suffix: 1500 },
        ),
        (
            "range-suffix-longer-than-object",
            "The last 20000 bytes of a 13288-byte object: the whole object.",
            RangeSpec::Suffix { suffix: 20_000 },
        ),
        (
            "range-from",
            "From byte 3000 to the end (bytes=3000-): chunks 0 to 3.",
            RangeSpec::From { from: 3000 },
        ),
        (
            "range-from-final-chunk-start",
            "From byte 12288, the first byte of the final chunk: only the final chunk.",
            RangeSpec::From { from: 12288 },
        ),
        (
            "range-last-past-end",
            "Bytes 13000..=99999: the end is clamped to the object's last byte, 13287.",
            inclusive(13_000, 99_999),
        ),
        (
            "range-last-byte",
            "Byte 13287 alone, the object's last byte.",
            inclusive(p - 1, p - 1),
        ),
    ] {
        out.push(reads(&four, name, &format!("{d} {what}"), range));
    }
    let d = "An object of three full 4 KiB chunks (12288 bytes); the third is the final one.";
    out.push(reads(
        &exact,
        "range-exact-multiple-suffix",
        &format!("{d} The last byte (bytes=-1): the full final chunk 2."),
        RangeSpec::Suffix { suffix: 1 },
    ));
    out.push(reads(
        &exact,
        "range-exact-multiple-final-chunk",
        &format!("{d} Bytes 8192..=12287: exactly the final chunk."),
        inclusive(8192, 12287),
    ));

    // `mp`: segments 1 and 2 of two full chunks each, segment 5 of 777 bytes (P = 17161).
    let mp = Writer::new("range/multipart").seal_parts(&[(1, 2 * cu), (2, 2 * cu), (5, 777)]);
    let mp_p = mp.plaintext.len() as u64;
    let d = "A segmented object: segments 1 and 2 of 8192 bytes (two full chunks each) and segment 5 of \
             777 bytes; plaintext offsets 0, 8192 and 16384.";
    for (name, what, range) in [
        (
            "range-multipart-within-segment",
            "Bytes 100..=199, inside chunk 0 of segment 1.",
            inclusive(100, 199),
        ),
        (
            "range-multipart-across-segments",
            "Bytes 8000..=8300: the end of segment 1 (its final chunk 1) and the start of segment 2 \
             (chunk 0), each opened with its own segment's key.",
            inclusive(8000, 8300),
        ),
        (
            "range-multipart-segment-boundary",
            "Bytes 8191..=8192: the last byte of segment 1 and the first of segment 2.",
            inclusive(8191, 8192),
        ),
        (
            "range-multipart-whole-segment",
            "Bytes 8192..=16383: exactly segment 2.",
            inclusive(8192, 16383),
        ),
        (
            "range-multipart-three-segments",
            "Bytes 4000..=16500: the end of segment 1, all of segment 2 and the start of segment 5.",
            inclusive(4000, 16500),
        ),
        (
            "range-multipart-suffix",
            "The last 1000 bytes: the end of segment 2 and all of segment 5.",
            RangeSpec::Suffix { suffix: 1000 },
        ),
    ] {
        out.push(reads(&mp, name, &format!("{d} {what}"), range));
    }

    // A range read verifies only what it reads.
    let four_chunks = four.chunks();
    let truncated = four.clone().with_chunks(&four_chunks[..2]);
    out.push(reads(
        &truncated,
        "range-before-truncation",
        "The 13288-byte object cut after chunk 1 (chunks 2 and 3 dropped), read at bytes 0..=99: the span \
         (chunk 0) does not reach the apparent final chunk, so the read succeeds. A range read says \
         nothing about the parts of the object it does not read.",
        inclusive(0, 99),
    ));

    // Unsatisfiable ranges: the object is intact.
    let d = "The intact 13288-byte object of range-inside-one-chunk.";
    for (name, what, range) in [
        (
            "range-start-at-end",
            "From byte 13288, one past the last (bytes=13288-).",
            RangeSpec::From { from: p },
        ),
        (
            "range-start-past-end",
            "Bytes 20000..=20099, wholly past the end.",
            inclusive(20_000, 20_099),
        ),
        (
            "range-first-after-last",
            "first 10 > last 9.",
            inclusive(10, 9),
        ),
        (
            "range-empty-suffix",
            "The last 0 bytes (bytes=-0).",
            RangeSpec::Suffix { suffix: 0 },
        ),
    ] {
        out.push(
            four.clone()
                .named(name, &format!("{d} {what}"))
                .range_fails(range, "RangeNotSatisfiable", None),
        );
    }
    let case = empty.clone().named(
        "range-of-empty-object",
        "An empty object (its body one 16-byte final chunk) has no byte to return, even for a suffix \
         range (bytes=-10).",
    );
    out.push(case.range_fails(
        RangeSpec::Suffix { suffix: 10 },
        "RangeNotSatisfiable",
        None,
    ));
    let case = mp.clone().named(
        "range-multipart-past-end",
        "The segmented object of range-multipart-within-segment (17161 bytes), read at bytes \
         17161..=17171.",
    );
    out.push(case.range_fails(inclusive(mp_p, mp_p + 10), "RangeNotSatisfiable", None));

    // Truncated and extended objects: the final chunk, when in the span, is opened first.
    let case = truncated.clone().named(
        "range-suffix-of-truncated-object",
        "The 13288-byte object cut after chunk 1 (a valid length: P looks like 8192), read with \
         bytes=-10. The span is chunk 1, which the length makes final; it was sealed as non-final, so \
         it opens only with the flag cleared: Truncated.",
    );
    out.push(case.range_fails(RangeSpec::Suffix { suffix: 10 }, "Truncated", None));
    let case = truncated.clone().named(
        "range-reaching-truncated-end",
        "The same cut object read at bytes 100..=4200 (chunks 0 and 1): chunk 1, the apparent final \
         chunk, is opened first and refused, so nothing of chunk 0 is returned either.",
    );
    out.push(case.range_fails(inclusive(100, 4200), "Truncated", None));
    let mut case = truncated.clone().named(
        "range-truncated-end-checked-first",
        "The cut object of range-reaching-truncated-end with, in addition, a bit of chunk 0 flipped, \
         read at bytes 100..=4200: chunk 1, the apparent final chunk, is opened first, so the error is \
         Truncated, not ChunkAuth for chunk 0.",
    );
    flip(&mut case.body, 10, 0x01);
    out.push(case.range_fails(inclusive(100, 4200), "Truncated", None));
    let mut cut = four.clone().named(
        "range-suffix-of-object-cut-inside-final-chunk",
        "The last 10 bytes of the 13288-byte object's body cut off: the final chunk (now 990 + 16 bytes) \
         opens under neither flag. Read with bytes=-100.",
    );
    cut.body.truncate(cut.body.len() - 10);
    let suffix = RangeSpec::Suffix { suffix: 100 };
    out.push(cut.range_fails(suffix, "ChunkAuth", Some((0, 3))));
    let mut extended = exact.clone();
    extended.body.extend(std::iter::repeat_n(0xa5, 100));
    let case = extended.clone().named(
        "range-suffix-of-extended-object",
        "100 bytes (0xa5) appended to the object of three full chunks: the length now says a final \
         chunk 3 of 84 bytes, and a suffix read (bytes=-10) opens that first: it is no chunk at all.",
    );
    let suffix = RangeSpec::Suffix { suffix: 10 };
    out.push(case.range_fails(suffix, "ChunkAuth", Some((0, 3))));
    let case = extended.named(
        "range-reaching-genuine-end-of-extended-object",
        "The same extended object read at bytes 8192..=8200: the span is chunk 2, the genuine final \
         chunk, which the length makes non-final. It opens only with the final flag set: \
         TrailingData.",
    );
    out.push(case.range_fails(inclusive(8192, 8200), "TrailingData", None));
    let mut tampered = four.clone().named(
        "range-final-chunk-tampered",
        "A bit of the final chunk's tag flipped; bytes=10000- spans chunks 2 and 3. The final chunk is \
         opened first and fails, so chunk 2 (intact) is not returned either.",
    );
    let last = tampered.body.len() - 1;
    flip(&mut tampered.body, last, 0x01);
    let from = RangeSpec::From { from: 10_000 };
    out.push(tampered.range_fails(from, "ChunkAuth", Some((0, 3))));
    let mut moved = four_chunks.clone();
    moved.swap(1, 2);
    let case = four.clone().with_chunks(&moved).named(
        "range-chunk-moved",
        "Chunks 1 and 2 (both full) swapped; bytes 5000..=5099 are read from position 1, where chunk 2 \
         now lies: every chunk is opened with the index of its position.",
    );
    out.push(case.range_fails(inclusive(5000, 5099), "ChunkAuth", Some((0, 1))));

    // The §9 checks come before any chunk.
    let mut case = four.clone().named(
        "range-header-tampered",
        "A bit of the header's object_salt flipped; bytes 0..=99 asked for. The header tag is checked \
         before any chunk is read.",
    );
    flip(&mut case.header, 8, 0x01);
    out.push(case.range_fails(inclusive(0, 99), "HeaderAuth", None));
    let mut case = four.clone().named(
        "range-wrong-context",
        "The reader supplies another context (key \"range/other\"); bytes 0..=99 asked for.",
    );
    case.context = ctx(&[("bucket", "vectors"), ("key", "range/other")]);
    out.push(case.range_fails(inclusive(0, 99), "UnwrapFailed", None));
    let mut case = mp.clone().named(
        "range-multipart-manifest-tampered",
        "The segmented object with a bit of its manifest tag flipped; bytes 100..=199 asked for. The \
         manifest is verified before any chunk.",
    );
    let m = case.manifest.as_mut().expect("segmented");
    let last = m.len() - 1;
    flip(m, last, 0x01);
    out.push(case.range_fails(inclusive(100, 199), "ManifestAuth", None));
    let seg = |i: usize| mp.segments[i].2.clone();
    let mut case = mp.clone().named(
        "range-multipart-segments-swapped",
        "Segments 1 and 2 (same length) swapped in the body; bytes 8000..=8300 asked for. Segment 1's \
         final chunk 1 is read from segment 1's place, which holds segment 2's chunk 1.",
    );
    case.body = [seg(1), seg(0), seg(2)].concat();
    out.push(case.range_fails(inclusive(8000, 8300), "ChunkAuth", Some((1, 1))));
    let mut case = mp.clone().named(
        "range-multipart-body-truncated",
        "Segment 5 dropped from the body; bytes 100..=199 (in segment 1) asked for. The stored length \
         is checked against the manifest before any chunk.",
    );
    case.body = [seg(0), seg(1)].concat();
    out.push(case.range_fails(inclusive(100, 199), "Truncated", None));
    let mut case = mp.clone().named(
        "range-multipart-body-trailing",
        "32 bytes appended to the body; bytes 100..=199 asked for.",
    );
    case.body.extend(std::iter::repeat_n(0x5a, 32));
    out.push(case.range_fails(inclusive(100, 199), "TrailingData", None));
    out
}

/// The vector files, in memory, each with its path relative to the repository root.
/// Deterministic: the same bytes on every run and machine.
///
/// # Panics
/// If the core refuses the fixed inputs (a bug).
pub fn generate() -> [(&'static str, VectorFile); 3] {
    let file = |kind: &str, description: &str, vectors| VectorFile {
        format: "OSE1".to_owned(),
        kind: kind.to_owned(),
        generator: GENERATOR_COMMAND.to_owned(),
        description: description.to_owned(),
        vectors,
    };
    [
        (
            POSITIVE_PATH,
            file(
                "positive",
                "Objects a conforming decoder must decrypt to `plaintext`, given `kek` and `context`. \
                 Byte strings are hex. See docs/FORMAT.md section 12.",
                positive(),
            ),
        ),
        (
            NEGATIVE_PATH,
            file(
                "negative",
                "Objects a conforming decoder must refuse, given `kek` and `context`, reporting \
                 `expected_error` (and `error_chunk` for ChunkAuth) when it follows the check order \
                 of docs/FORMAT.md section 9. Byte strings are hex. See docs/FORMAT.md section 12.",
                negative(),
            ),
        ),
        (
            RANGE_PATH,
            file(
                "range",
                "Range reads: given `kek` and `context`, a reader asking for `range` of the object \
                 (HTTP Range semantics) must return `range_plaintext`, or fail with `expected_error` \
                 (and `error_chunk` for ChunkAuth) when it follows docs/FORMAT.md sections 9 and 10. \
                 `body` is the whole stored body; the reader fetches only what its span needs. Byte \
                 strings are hex. See docs/FORMAT.md section 12.",
                range(),
            ),
        ),
    ]
}
