//! An independent OSE1 decoder, written from `docs/FORMAT.md` alone with generic crates only (`sha2`,
//! `hmac`, `hkdf`, `aes-gcm`; `serde_json` and `hex` to read the files). It uses nothing of
//! `objseal-core` or of the vector generator, and proves the document suffices: every positive vector
//! decrypts to its plaintext, every negative vector fails with exactly the error the document's order
//! of checks (§9) gives, every range vector reads its range or fails as §10 says, and the worked
//! examples in the document are right.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

// ---------------------------------------------------------------- primitives (FORMAT.md §1)

fn hkdf_extract(salt: &[u8], ikm: &[u8]) -> [u8; 32] {
    let (prk, _) = Hkdf::<Sha256>::extract(Some(salt), ikm);
    prk.into()
}

fn hkdf_expand(prk: &[u8; 32], info: &[&[u8]]) -> [u8; 32] {
    let mut okm = [0u8; 32];
    Hkdf::<Sha256>::from_prk(prk)
        .expect("32-byte PRK")
        .expand(&info.concat(), &mut okm)
        .expect("32-byte output");
    okm
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Constant-time tag check.
fn hmac_verify(key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    mac.update(message);
    mac.verify_slice(tag).is_ok()
}

fn gcm_open(key: &[u8; 32], nonce: [u8; 12], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let cipher = Aes256Gcm::new_from_slice(key).expect("32-byte key");
    cipher
        .decrypt(&nonce.into(), Payload { msg: sealed, aad })
        .ok()
}

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn be64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

// ---------------------------------------------------------------- labels (§4)

const LABEL_HEADER: &[u8] = b"objseal/v1 header\0";
const LABEL_MANIFEST: &[u8] = b"objseal/v1 manifest\0";
const LABEL_SEGMENT: &[u8] = b"objseal/v1 segment\0";
const LABEL_WRAP: &[u8] = b"objseal/v1 wrap\0";
const LABEL_CONTEXT: &[u8] = b"objseal/v1 context\0";

/// A refusal, named as §9 names it.
#[derive(Debug, PartialEq, Eq)]
enum Fail {
    Named(&'static str),
    Chunk { segment: u32, chunk: u64 },
}

use Fail::Named;

impl Fail {
    fn name(&self) -> &'static str {
        match self {
            Named(name) => name,
            Fail::Chunk { .. } => "ChunkAuth",
        }
    }
}

// ---------------------------------------------------------------- §3 context

fn context_hash(pairs: &[(String, String)]) -> Result<[u8; 32], Fail> {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    if sorted.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(Named("BadContext"));
    }
    let mut canonical = LABEL_CONTEXT.to_vec();
    canonical.extend((sorted.len() as u32).to_be_bytes());
    for (k, v) in sorted {
        for field in [k, v] {
            canonical.extend((field.len() as u32).to_be_bytes());
            canonical.extend(field.as_bytes());
        }
    }
    Ok(Sha256::digest(&canonical).into())
}

// ---------------------------------------------------------------- §5 lengths and chunks

/// Plaintext length and chunk count of a segment of `ct` ciphertext bytes.
fn plaintext_len(ct: u64, k: u8) -> Result<(u64, u64), Fail> {
    let c = 1u64 << k;
    let s = c + 16;
    let (f, r) = (ct / s, ct % s);
    let (n, p) = if r == 0 && f == 0 {
        return Err(Named("BadLength"));
    } else if r == 0 {
        (f, f * c)
    } else if r < 16 || (r == 16 && f > 0) {
        return Err(Named("BadLength"));
    } else {
        (f + 1, f * c + r - 16)
    };
    if n > 1 << 32 {
        return Err(Named("LimitExceeded"));
    }
    Ok((p, n))
}

fn ciphertext_len(p: u64, k: u8) -> u64 {
    let n = p.div_ceil(1 << k).max(1);
    p + 16 * n
}

fn nonce(i: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[7..11].copy_from_slice(&(i as u32).to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Whether a chunk of `len` sealed bytes fits position `i` with flag `last` (§5 geometry).
fn fits(len: usize, k: u8, i: u64, last: bool) -> bool {
    let Some(p) = len.checked_sub(16) else {
        return false;
    };
    if last {
        p <= 1 << k && (p > 0 || i == 0)
    } else {
        p == 1 << k
    }
}

/// Opens chunk `i` of `segment` with flag `last`, classifying a failure (§9 "Opening chunk i").
fn open_chunk(
    key: &[u8; 32],
    segment: u32,
    k: u8,
    i: u64,
    last: bool,
    chunk: &[u8],
) -> Result<Vec<u8>, Fail> {
    if !fits(chunk.len(), k, i, last) {
        return Err(Named("BadLength"));
    }
    if let Some(p) = gcm_open(key, nonce(i, last), &[], chunk) {
        return Ok(p);
    }
    let opposite =
        fits(chunk.len(), k, i, !last) && gcm_open(key, nonce(i, !last), &[], chunk).is_some();
    Err(match (opposite, last) {
        (true, true) => Named("Truncated"),
        (true, false) => Named("TrailingData"),
        (false, _) => Fail::Chunk { segment, chunk: i },
    })
}

/// Opens one segment's chunks in order (§9 step 6).
fn open_segment(key: &[u8; 32], segment: u32, k: u8, ct: &[u8]) -> Result<Vec<u8>, Fail> {
    let (_, n) = plaintext_len(ct.len() as u64, k)?;
    let mut out = Vec::new();
    for (i, chunk) in ct.chunks((1 << k) + 16).enumerate() {
        let i = i as u64;
        out.extend(open_chunk(key, segment, k, i, i + 1 == n, chunk)?);
    }
    Ok(out)
}

/// §10: plaintext bytes `a..b` of one segment of `pt_len` bytes whose stored ciphertext is `ct`.
/// Only the span's bytes are taken from `ct`; the segment's final chunk, when in the span, is opened
/// before any other.
fn read_span(
    key: &[u8; 32],
    segment: u32,
    k: u8,
    pt_len: u64,
    ct: &[u8],
    (a, b): (u64, u64),
) -> Result<Vec<u8>, Fail> {
    let c = 1u64 << k;
    let sealed = c + 16;
    let final_chunk = pt_len.div_ceil(c).max(1) - 1;
    let (first, last) = (a >> k, (b - 1) >> k);
    let start = (first * sealed) as usize;
    let end = ((last + 1) * sealed).min(ct.len() as u64) as usize;
    let fetched = &ct[start..end];
    let chunk_at = |i: u64| {
        let from = ((i - first) * sealed) as usize;
        &fetched[from..(from + sealed as usize).min(fetched.len())]
    };
    let mut final_plaintext = None;
    if last == final_chunk {
        final_plaintext = Some(open_chunk(key, segment, k, last, true, chunk_at(last))?);
    }
    let mut plaintext = Vec::new();
    for i in first..=last {
        match (i == final_chunk, &final_plaintext) {
            (true, Some(p)) => plaintext.extend_from_slice(p),
            _ => plaintext.extend(open_chunk(key, segment, k, i, false, chunk_at(i))?),
        }
    }
    let offset = first * c;
    Ok(plaintext[(a - offset) as usize..(b - offset) as usize].to_vec())
}

// ---------------------------------------------------------------- §2 header, §7 blob, §6 manifest

struct Header {
    prefix: [u8; 72],
    chunk_log2: u8,
    segmented: bool,
    object_salt: [u8; 32],
    ctx_hash: [u8; 32],
    tag: [u8; 32],
}

fn parse_header(h: &[u8]) -> Result<Header, Fail> {
    if h.len() > 104 {
        return Err(Named("BadLength"));
    }
    if h.len() < 104 {
        return Err(Named("TooShort"));
    }
    if &h[..3] != b"OSE" {
        return Err(Named("BadMagic"));
    }
    if h[3] != 1 {
        return Err(Named("UnsupportedVersion"));
    }
    if be16(h, 4) != 1 {
        return Err(Named("UnknownSuite"));
    }
    if !(12..=24).contains(&h[6]) {
        return Err(Named("BadChunkSize"));
    }
    if h[7] & !1 != 0 {
        return Err(Named("BadFlags"));
    }
    Ok(Header {
        prefix: h[..72].try_into().expect("72"),
        chunk_log2: h[6],
        segmented: h[7] & 1 == 1,
        object_salt: h[8..40].try_into().expect("32"),
        ctx_hash: h[40..72].try_into().expect("32"),
        tag: h[72..104].try_into().expect("32"),
    })
}

/// §7 blob checks. `Ok(None)`: an algorithm byte none of 1, 2, 3 (not parsed further, §9 step 3);
/// `Ok(Some(algorithm))` for a well-formed blob.
fn check_blob(blob: &[u8]) -> Result<Option<u8>, Fail> {
    let bad = Named("BadWrappedKey");
    if blob.len() < 3 || blob[0] != 1 {
        return Err(bad);
    }
    let algorithm = blob[1];
    if !(1..=3).contains(&algorithm) {
        return Ok(None);
    }
    let l = usize::from(blob[2]);
    if blob.len() < 41 + l {
        return Err(bad);
    }
    if std::str::from_utf8(&blob[3..3 + l]).is_err() {
        return Err(bad);
    }
    let m = be16(blob, 39 + l);
    if m == 0 || m > 4096 || blob.len() != 41 + l + m {
        return Err(bad);
    }
    if algorithm != 2 && m != 48 {
        return Err(bad);
    }
    Ok(Some(algorithm))
}

/// Local unwrap (§7, algorithms 1 and 3 alike) of a well-formed blob under `kek` for `ctx_hash`.
fn unwrap_local(blob: &[u8], kek: &[u8; 32], ctx_hash: &[u8; 32]) -> Option<[u8; 32]> {
    let l = usize::from(blob[2]);
    let prefix = &blob[..41 + l];
    let wrap_salt = &blob[7 + l..39 + l];
    let wrap_key = hkdf_expand(
        &hkdf_extract(wrap_salt, kek),
        &[LABEL_WRAP, prefix, ctx_hash],
    );
    let aad = [prefix, ctx_hash].concat();
    let dek = gcm_open(&wrap_key, [0; 12], &aad, &blob[41 + l..])?;
    Some(dek.try_into().expect("48-byte ciphertext holds 32 bytes"))
}

struct Entry {
    number: u32,
    salt: [u8; 16],
    plaintext_len: u64,
}

fn verify_manifest(m: &[u8], k_manifest: &[u8; 32], k: u8) -> Result<Vec<Entry>, Fail> {
    if m.len() < 8 + 28 + 32 {
        return Err(Named("BadManifest"));
    }
    if m[..4] != *b"OSM\x01" {
        return Err(Named("BadMagic"));
    }
    let n = be32(m, 4) as usize;
    if n == 0 || m.len() != 8 + 28 * n + 32 {
        return Err(Named("BadManifest"));
    }
    let body = m.len() - 32;
    if !hmac_verify(k_manifest, &m[..body], &m[body..]) {
        return Err(Named("ManifestAuth"));
    }
    let entries: Vec<Entry> = m[8..body]
        .chunks(28)
        .map(|e| Entry {
            number: be32(e, 0),
            salt: e[4..20].try_into().expect("16"),
            plaintext_len: be64(e, 20),
        })
        .collect();
    if entries.windows(2).any(|w| w[0].number >= w[1].number) {
        return Err(Named("BadManifest"));
    }
    let (mut total_pt, mut total_ct) = (0u64, 0u64);
    for e in &entries {
        if e.plaintext_len.div_ceil(1 << k) > 1 << 32 {
            return Err(Named("LimitExceeded"));
        }
        total_pt = total_pt
            .checked_add(e.plaintext_len)
            .ok_or(Named("LimitExceeded"))?;
        let ct = e
            .plaintext_len
            .checked_add(16 * e.plaintext_len.div_ceil(1 << k).max(1));
        total_ct = ct
            .and_then(|ct| total_ct.checked_add(ct))
            .ok_or(Named("LimitExceeded"))?;
    }
    Ok(entries)
}

// ---------------------------------------------------------------- §9 the decoder

struct Input {
    kek: [u8; 32],
    context: Vec<(String, String)>,
    header: Vec<u8>,
    wrapped_keys: Vec<Vec<u8>>,
    manifest: Option<Vec<u8>>,
    body: Vec<u8>,
}

/// One segment of the body: its number, key and plaintext and ciphertext extents.
struct Segment {
    number: u32,
    key: [u8; 32],
    pt_start: u64,
    pt_len: u64,
    ct_start: usize,
    ct_len: usize,
}

/// §9 steps 1–5: everything before the chunks. Returns the chunk size and the segments.
fn open_object(input: &Input) -> Result<(u8, Vec<Segment>), Fail> {
    // 1. Context.
    let ctx_hash = context_hash(&input.context)?;
    // 2. Header structure.
    let header = parse_header(&input.header)?;
    // 3. The structure of every blob first; then, in order, each blob of algorithm 1 or 3 (a local
    // KEK handles both, the same way), its DEK taken through step 4. The first to pass wins.
    if input.wrapped_keys.is_empty() {
        return Err(Named("BadWrappedKey"));
    }
    let mut algorithms = Vec::new();
    for blob in &input.wrapped_keys {
        algorithms.push(check_blob(blob)?);
    }
    let (mut tried, mut unwrapped) = (false, false);
    let mut prk = None;
    for (blob, algorithm) in input.wrapped_keys.iter().zip(algorithms) {
        if !matches!(algorithm, Some(1 | 3)) {
            continue; // KMS or unknown: not a blob this reader handles
        }
        tried = true;
        let Some(dek) = unwrap_local(blob, &input.kek, &ctx_hash) else {
            continue;
        };
        unwrapped = true;
        // 4. Header tag, then context.
        let candidate = hkdf_extract(&header.object_salt, &dek);
        let k_hdr = hkdf_expand(&candidate, &[LABEL_HEADER, &header.prefix]);
        if hmac_verify(&k_hdr, &header.prefix, &header.tag) && header.ctx_hash == ctx_hash {
            prk = Some(candidate);
            break;
        }
    }
    let Some(prk) = prk else {
        return Err(Named(if unwrapped {
            "HeaderAuth"
        } else if tried {
            "UnwrapFailed"
        } else {
            "UnknownWrapAlgorithm"
        }));
    };
    let k = header.chunk_log2;
    let segment_key = |number: u32, salt: &[u8; 16]| {
        hkdf_expand(
            &prk,
            &[LABEL_SEGMENT, &header.prefix, &number.to_be_bytes(), salt],
        )
    };
    // 5.
    if !header.segmented {
        if input.manifest.is_some() {
            return Err(Named("BadFlags"));
        }
        let (pt_len, _) = plaintext_len(input.body.len() as u64, k)?;
        let segment = Segment {
            number: 0,
            key: segment_key(0, &[0; 16]),
            pt_start: 0,
            pt_len,
            ct_start: 0,
            ct_len: input.body.len(),
        };
        return Ok((k, vec![segment]));
    }
    let manifest = input.manifest.as_deref().ok_or(Named("BadManifest"))?;
    let k_manifest = hkdf_expand(&prk, &[LABEL_MANIFEST, &header.prefix]);
    let entries = verify_manifest(manifest, &k_manifest, k)?;
    let total: u64 = entries
        .iter()
        .map(|e| ciphertext_len(e.plaintext_len, k))
        .sum();
    match (input.body.len() as u64).cmp(&total) {
        std::cmp::Ordering::Less => return Err(Named("Truncated")),
        std::cmp::Ordering::Greater => return Err(Named("TrailingData")),
        std::cmp::Ordering::Equal => {}
    }
    let (mut pt_start, mut ct_start) = (0, 0);
    let mut segments = Vec::new();
    for e in &entries {
        let ct_len = ciphertext_len(e.plaintext_len, k) as usize;
        segments.push(Segment {
            number: e.number,
            key: segment_key(e.number, &e.salt),
            pt_start,
            pt_len: e.plaintext_len,
            ct_start,
            ct_len,
        });
        pt_start += e.plaintext_len;
        ct_start += ct_len;
    }
    Ok((k, segments))
}

fn decrypt(input: &Input) -> Result<Vec<u8>, Fail> {
    let (k, segments) = open_object(input)?;
    // 6.
    let mut out = Vec::new();
    for s in &segments {
        let ct = &input.body[s.ct_start..s.ct_start + s.ct_len];
        let plaintext = open_segment(&s.key, s.number, k, ct)?;
        assert_eq!(plaintext.len() as u64, s.pt_len);
        out.extend(plaintext);
    }
    Ok(out)
}

// ---------------------------------------------------------------- §10 range reads

/// An HTTP byte range over the plaintext.
#[derive(Clone, Copy, Debug)]
enum Range {
    Inclusive(u64, u64),
    From(u64),
    Suffix(u64),
}

/// The plaintext bytes `[a, b)` a range selects from `p` bytes (§10 "The range").
fn select(range: Range, p: u64) -> Result<(u64, u64), Fail> {
    let unsatisfiable = Named("RangeNotSatisfiable");
    match range {
        Range::Inclusive(first, last) if first <= last && first < p => {
            Ok((first, (last + 1).min(p)))
        }
        Range::From(first) if first < p => Ok((first, p)),
        Range::Suffix(n) if n > 0 && p > 0 => Ok((p - n.min(p), p)),
        _ => Err(unsatisfiable),
    }
}

/// §10: §9 steps 1–5, then the range, then the span of every segment it touches, in order.
fn read_range(input: &Input, range: Range) -> Result<Vec<u8>, Fail> {
    let (k, segments) = open_object(input)?;
    let p: u64 = segments.iter().map(|s| s.pt_len).sum();
    let (a, b) = select(range, p)?;
    let mut out = Vec::new();
    for s in &segments {
        let (lo, hi) = (a.max(s.pt_start), b.min(s.pt_start + s.pt_len));
        if lo >= hi {
            continue;
        }
        let ct = &input.body[s.ct_start..s.ct_start + s.ct_len];
        let span = (lo - s.pt_start, hi - s.pt_start);
        out.extend(read_span(&s.key, s.number, k, s.pt_len, ct, span)?);
    }
    Ok(out)
}

/// §8: header ‖ BE16(n) ‖ n × (BE16(len) ‖ blob) ‖ body. Returns (header, blobs, body).
fn parse_container(file: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>, Vec<u8>) {
    let header = file[..104].to_vec();
    assert_eq!(header[7] & 1, 0, "files hold unsegmented objects");
    let n = be16(file, 104);
    assert!((1..=16).contains(&n));
    let mut at = 106;
    let mut blobs = Vec::new();
    for _ in 0..n {
        let len = be16(file, at);
        assert!((1..=4392).contains(&len));
        blobs.push(file[at + 2..at + 2 + len].to_vec());
        at += 2 + len;
    }
    (header, blobs, file[at..].to_vec())
}

// ---------------------------------------------------------------- reading the vector files

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("JSON")
}

fn bytes(v: &Value, field: &str) -> Vec<u8> {
    hex::decode(
        v[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} missing")),
    )
    .expect("hex")
}

fn input(v: &Value) -> Input {
    Input {
        kek: bytes(v, "kek").try_into().expect("32-byte kek"),
        context: v["context"]
            .as_array()
            .expect("context")
            .iter()
            .map(|p| {
                (
                    p[0].as_str().expect("key").to_owned(),
                    p[1].as_str().expect("value").to_owned(),
                )
            })
            .collect(),
        header: bytes(v, "header"),
        wrapped_keys: match v.get("wrapped_keys") {
            Some(several) => several
                .as_array()
                .expect("wrapped_keys")
                .iter()
                .map(|b| hex::decode(b.as_str().expect("hex string")).expect("hex"))
                .collect(),
            None => vec![bytes(v, "wrapped_key")],
        },
        manifest: v.get("manifest").map(|_| bytes(v, "manifest")),
        body: bytes(v, "body"),
    }
}

fn vectors(file: &Value) -> &Vec<Value> {
    assert_eq!(file["format"], "OSE1");
    file["vectors"].as_array().expect("vectors")
}

#[test]
fn positive_vectors_decrypt_from_the_spec_alone() {
    let file = load("positive");
    for v in vectors(&file) {
        let name = v["name"].as_str().expect("name");
        let input = input(v);
        assert_eq!(
            context_hash(&input.context)
                .expect("valid context")
                .to_vec(),
            bytes(v, "ctx_hash"),
            "{name}: ctx_hash"
        );
        let plaintext = decrypt(&input).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(plaintext, bytes(v, "plaintext"), "{name}: plaintext");
        if v.get("container").is_some() {
            let (header, blobs, body) = parse_container(&bytes(v, "container"));
            let from_file = Input {
                header,
                wrapped_keys: blobs,
                body,
                manifest: None,
                ..input
            };
            assert_eq!(
                decrypt(&from_file).expect(name),
                bytes(v, "plaintext"),
                "{name}: container"
            );
        }
    }
}

/// The error is the vector's `expected_error` (and `error_chunk`).
fn check_failure(v: &Value, error: &Fail) {
    let name = v["name"].as_str().expect("name");
    let expected = v["expected_error"].as_str().expect("expected_error");
    assert_eq!(error.name(), expected, "{name}: {error:?}");
    if let Fail::Chunk { segment, chunk } = *error {
        assert_eq!(v["error_chunk"]["segment"], segment, "{name}");
        assert_eq!(v["error_chunk"]["chunk"], chunk, "{name}");
    } else {
        assert!(v.get("error_chunk").is_none(), "{name}");
    }
}

#[test]
fn negative_vectors_fail_as_the_spec_says() {
    let file = load("negative");
    for v in vectors(&file) {
        let name = v["name"].as_str().expect("name");
        let error = decrypt(&input(v)).map(|_| ()).expect_err(name);
        check_failure(v, &error);
    }
}

#[test]
fn range_vectors_read_as_the_spec_says() {
    let file = load("range");
    assert_eq!(file["kind"], "range");
    let mut read = 0;
    for v in vectors(&file) {
        let name = v["name"].as_str().expect("name");
        let r = &v["range"];
        let number = |field: &str| r[field].as_u64();
        let range = match (
            number("first"),
            number("last"),
            number("from"),
            number("suffix"),
        ) {
            (Some(first), Some(last), None, None) => Range::Inclusive(first, last),
            (None, None, Some(from), None) => Range::From(from),
            (None, None, None, Some(n)) => Range::Suffix(n),
            _ => panic!("{name}: bad range {r}"),
        };
        match (read_range(&input(v), range), v.get("range_plaintext")) {
            (Ok(plaintext), Some(_)) => {
                assert_eq!(plaintext, bytes(v, "range_plaintext"), "{name}");
                read += 1;
            }
            (Err(error), None) => check_failure(v, &error),
            (got, _) => panic!("{name}: {:?}", got.map(|p| p.len())),
        }
    }
    assert!(read >= 10);
}

/// §1: HKDF-Expand with L = 32 is one HMAC block; the document's examples are what the vectors hold.
#[test]
fn the_documents_formulas_and_examples_hold() {
    let prk = hkdf_extract(b"salt", b"ikm");
    assert_eq!(prk, hmac_sha256(b"salt", b"ikm"));
    assert_eq!(
        hkdf_expand(&prk, &[b"info"]),
        hmac_sha256(&prk, b"info\x01")
    );

    let doc = std::fs::read_to_string(format!("{}/docs/FORMAT.md", env!("CARGO_MANIFEST_DIR")))
        .expect("FORMAT.md");
    let mentions = |what: &str, value: &[u8]| {
        assert!(
            doc.contains(&hex::encode(value)),
            "FORMAT.md lacks {what} = {}",
            hex::encode(value)
        );
    };
    for label in [
        LABEL_HEADER,
        LABEL_MANIFEST,
        LABEL_SEGMENT,
        LABEL_WRAP,
        LABEL_CONTEXT,
    ] {
        mentions("a label", label);
    }
    mentions("the empty context hash", &context_hash(&[]).expect("empty"));

    let file = load("positive");
    let v = vectors(&file)
        .iter()
        .find(|v| v["name"] == "one-byte")
        .expect("one-byte vector");
    let input = input(v);
    let header = parse_header(&input.header).expect("header");
    let dek = bytes(v, "dek");
    let prk = hkdf_extract(&header.object_salt, &dek);
    mentions("PRK", &prk);
    mentions("K_hdr", &hkdf_expand(&prk, &[LABEL_HEADER, &header.prefix]));
    mentions(
        "the body key",
        &hkdf_expand(&prk, &[LABEL_SEGMENT, &header.prefix, &[0; 4], &[0; 16]]),
    );
    mentions("ctx_hash", &header.ctx_hash);
    mentions("header_tag", &header.tag);
    let blob = &input.wrapped_keys[0];
    let l = usize::from(blob[2]);
    let wrap_key = hkdf_expand(
        &hkdf_extract(&blob[7 + l..39 + l], &input.kek),
        &[LABEL_WRAP, &blob[..41 + l], &header.ctx_hash],
    );
    mentions("wrap_key", &wrap_key);
    mentions("the body's tag", &input.body[1..]);
}
