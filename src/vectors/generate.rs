//! The deterministic generator of the vectors: fixed keys and salts, no randomness, so the same
//! build always writes the same bytes.

use objseal_core::format::container::write_prefix;
use objseal_core::format::manifest::{SegmentEntry, encode_manifest, manifest_len};
use objseal_core::format::wrapped_key::MAX_WRAPPED_KEY_LEN;
use objseal_core::gcm::TAG_LEN;
use objseal_core::range::ciphertext_len;
use objseal_core::wrap::{KeyWrap, LocalKek};
use objseal_core::{Dek, Kek, ObjectKey, ObjectParams, SEGMENT_SALT_LEN, context_hash, stream};

use super::{ChunkRef, GENERATOR_COMMAND, SegmentVector, Vector, VectorFile};

/// Key id of the vectors' local KEK.
const KEK_ID: &str = "objseal-vectors/kek-1";
/// Key id of the SSE-C vector's customer key (by convention a fingerprint, never the key).
const CUSTOMER_KEY_ID: &str = "sse-c/fingerprint-0001";

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
        let kek = Kek::from_bytes(self.kek);
        let wrapper = match self.wrap {
            WrapKind::Local => LocalKek::new(kek, KEK_ID, 1),
            WrapKind::Customer => LocalKek::customer_key(kek, CUSTOMER_KEY_ID),
        }
        .expect("short key id");
        let mut out = vec![0u8; MAX_WRAPPED_KEY_LEN];
        let n = wrapper
            .wrap_key(
                &Dek::from_bytes(self.dek),
                &hash(context),
                &self.wrap_salt,
                &mut out,
            )
            .expect("wrap");
        out.truncate(n);
        out
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

    fn vector(&self) -> Vector {
        let context = self
            .context
            .iter()
            .map(|(k, v)| [k.clone(), v.clone()])
            .collect();
        let container = self.with_container.then(|| {
            let mut out = vec![0u8; 104 + 4 + self.wrapped_key.len()];
            let header: [u8; 104] = self.header.as_slice().try_into().expect("104-byte header");
            let header = objseal_core::Header::parse(&header).expect("valid header");
            let n = write_prefix(&header, &[&self.wrapped_key], &mut out).expect("prefix");
            out.truncate(n);
            out.extend_from_slice(&self.body);
            hex::encode(out)
        });
        Vector {
            name: self.name.clone(),
            description: self.description.clone(),
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
            wrapped_key: hex::encode(&self.wrapped_key),
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

/// The two vector files, in memory. Deterministic: the same bytes on every run and machine.
///
/// # Panics
/// If the core refuses the fixed inputs (a bug).
pub fn generate() -> (VectorFile, VectorFile) {
    let file = |kind: &str, description: &str, vectors| VectorFile {
        format: "OSE1".to_owned(),
        kind: kind.to_owned(),
        generator: GENERATOR_COMMAND.to_owned(),
        description: description.to_owned(),
        vectors,
    };
    (
        file(
            "positive",
            "Objects a conforming decoder must decrypt to `plaintext`, given `kek` and `context`. \
             Byte strings are hex. See docs/FORMAT.md section 12.",
            positive(),
        ),
        file(
            "negative",
            "Objects a conforming decoder must refuse, given `kek` and `context`, reporting \
             `expected_error` (and `error_chunk` for ChunkAuth) when it follows the check order of \
             docs/FORMAT.md section 9. Byte strings are hex. See docs/FORMAT.md section 12.",
            negative(),
        ),
    )
}
