//! The reference decoder of the vectors: exactly the procedure `docs/FORMAT.md` §9 (whole objects)
//! and §10 (range reads) prescribe, built from `objseal-core`'s public API.

use core::ops::Range;

use objseal_core::format::container::ContainerPrefix;
use objseal_core::format::header::HEADER_LEN;
use objseal_core::format::manifest::ManifestView;
use objseal_core::format::wrapped_key::{WrapAlgorithm, WrappedKey};
use objseal_core::range::{
    ByteRange, ciphertext_len, open_span_in_place, plaintext_len, plan_range,
};
use objseal_core::wrap::{KeyUnwrap, LocalKek};
use objseal_core::{Dek, Error, Header, Kek, ObjectKey, SegmentKey, context_hash, stream};

use super::{RangeSpec, Vector, unhex, unhex_array};

/// A successful decryption.
#[derive(Debug)]
pub struct Decrypted {
    /// The object's plaintext (for a range read: the bytes of the range).
    pub plaintext: Vec<u8>,
    /// The data key recovered from the wrapped-key blob.
    pub dek: Dek,
    /// The parsed (and authenticated) header.
    pub header: Header,
    /// Which of the stored blobs gave the data key (its position, counting from 0).
    pub blob: usize,
}

/// The stable name of an error: its `objseal_core::Error` variant name (`"ChunkAuth"`, …).
///
/// ```
/// use objseal_suite::vectors::error_name;
/// assert_eq!(error_name(&objseal_core::Error::ChunkAuth { segment: 1, chunk: 2 }), "ChunkAuth");
/// assert_eq!(error_name(&objseal_core::Error::UnknownSuite(2)), "UnknownSuite");
/// ```
pub fn error_name(error: &Error) -> String {
    let debug = format!("{error:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// An object whose header tag and context have verified (§9 steps 1–4).
struct Opened {
    object: ObjectKey,
    dek: Dek,
    header: Header,
    blob: usize,
}

/// §9 steps 1–4: the context, the header's structure, the data key from the first blob that both
/// unwraps and verifies the header, and the header's context.
fn open_object(
    kek: &[u8; 32],
    context: &[(&str, &str)],
    header: &[u8],
    wrapped_keys: &[&[u8]],
) -> Result<Opened, Error> {
    // 1. The context the reader expects.
    let ctx_hash = context_hash(context)?;

    // 2. Header structure. Metadata holds exactly one header; more bytes are not a header.
    if header.len() > HEADER_LEN {
        return Err(Error::BadLength);
    }
    let header = Header::parse(header)?;

    // 3. The structure of every blob, before any is used. A blob of an algorithm this library does
    // not know is not parsed further: like a KMS blob for this local-KEK reader, it is not one the
    // reader handles.
    if wrapped_keys.is_empty() {
        return Err(Error::BadWrappedKey("no wrapped key"));
    }
    let mut blobs = Vec::with_capacity(wrapped_keys.len());
    for bytes in wrapped_keys {
        match WrappedKey::parse(bytes) {
            Ok(blob) => blobs.push(Some(blob)),
            Err(Error::UnknownWrapAlgorithm(_)) => blobs.push(None),
            Err(e) => return Err(e),
        }
    }

    // 3–4. In blob order, every blob of an algorithm this reader handles (1 and 3, both unwrapped
    // with the reader's KEK): the first that unwraps to a DEK under which the header tag and
    // context verify wins.
    let (mut tried, mut unwrapped) = (false, false);
    for (index, blob) in blobs.iter().enumerate() {
        let Some(blob) = blob else { continue };
        let kek = Kek::from_bytes(*kek);
        let unwrapper = match blob.algorithm {
            WrapAlgorithm::LocalKek => LocalKek::new(kek, blob.key_id, blob.key_version)?,
            WrapAlgorithm::CustomerKey => LocalKek::customer_key(kek, blob.key_id)?,
            _ => continue,
        };
        tried = true;
        let dek = match unwrapper.unwrap_key(blob, &ctx_hash) {
            Ok(dek) => dek,
            Err(Error::UnwrapFailed) => continue,
            Err(e) => return Err(e),
        };
        unwrapped = true;
        // 4. Key commitment and context binding.
        match ObjectKey::open_with_context(&dek, &header, &ctx_hash) {
            Ok(object) => {
                return Ok(Opened {
                    object,
                    dek,
                    header,
                    blob: index,
                });
            }
            Err(Error::HeaderAuth) => {}
            Err(e) => return Err(e),
        }
    }
    Err(if unwrapped {
        Error::HeaderAuth
    } else if tried {
        Error::UnwrapFailed
    } else {
        Error::UnknownWrapAlgorithm(wrapped_keys[0][1])
    })
}

/// One segment of the body: its key and where its plaintext and ciphertext lie.
struct Segment {
    key: SegmentKey,
    plaintext: Range<u64>,
    ciphertext: Range<u64>,
}

/// §9 step 5: the segments of the body (an unsegmented object: one), with the body length checked
/// against the manifest or mapped to a plaintext length.
fn layout(opened: &Opened, manifest: Option<&[u8]>, body_len: u64) -> Result<Vec<Segment>, Error> {
    let object = &opened.object;
    let k = opened.header.chunk_log2;
    if !opened.header.segmented {
        if manifest.is_some() {
            // A manifest beside an unsegmented header: the writer broke the rules or it was planted.
            return Err(Error::BadFlags(0));
        }
        let pt_len = plaintext_len(body_len, k)?;
        return Ok(vec![Segment {
            key: object.body_key()?,
            plaintext: 0..pt_len,
            ciphertext: 0..body_len,
        }]);
    }
    let manifest = manifest.ok_or(Error::BadManifest("missing"))?;
    let view = ManifestView::verify(object, manifest)?;
    match body_len.cmp(&view.ciphertext_len()) {
        core::cmp::Ordering::Less => return Err(Error::Truncated),
        core::cmp::Ordering::Greater => return Err(Error::TrailingData),
        core::cmp::Ordering::Equal => {}
    }
    view.locations()
        .map(|location| {
            let entry = location.entry;
            let ct_len = ciphertext_len(entry.plaintext_len, k)?;
            Ok(Segment {
                key: object.segment_key(entry.number, &entry.salt),
                plaintext: location.plaintext_start..location.plaintext_start + entry.plaintext_len,
                ciphertext: location.ciphertext_start..location.ciphertext_start + ct_len,
            })
        })
        .collect()
}

fn index(range: Range<u64>) -> Result<Range<usize>, Error> {
    let start = usize::try_from(range.start).map_err(|_| Error::LimitExceeded)?;
    let end = usize::try_from(range.end).map_err(|_| Error::LimitExceeded)?;
    Ok(start..end)
}

/// Decrypts one object the way a reader must (`docs/FORMAT.md` §9), checks in this order:
///
/// 1. the reader's context → `ctx_hash` (canonical encoding, SHA-256);
/// 2. the header: exactly 104 bytes, magic, version, suite, chunk size, flags;
/// 3. the structure of every wrapped-key blob; then, in order, each blob of algorithm 1 or 3 is
///    unwrapped under the KEK with `ctx_hash`, and
/// 4. the first DEK under which the header tag (key commitment) and the header's `ctx_hash` verify
///    is the object's; with none: `HeaderAuth` if some blob unwrapped, else `UnwrapFailed` if some
///    blob was tried, else `UnknownWrapAlgorithm`;
/// 5. segmented objects: the manifest (structure, tag), then the body length against it;
///    unsegmented ones: the body length maps to a plaintext length;
/// 6. the chunks of every segment in order, each segment ending with its final chunk.
///
/// # Errors
/// The first check that fails, as an [`Error`].
pub fn decrypt(
    kek: &[u8; 32],
    context: &[(&str, &str)],
    header: &[u8],
    wrapped_keys: &[&[u8]],
    manifest: Option<&[u8]>,
    body: &[u8],
) -> Result<Decrypted, Error> {
    let opened = open_object(kek, context, header, wrapped_keys)?;
    let segments = layout(&opened, manifest, body.len() as u64)?;
    let total = segments.last().map_or(0, |s| s.plaintext.end);
    let mut out = vec![0u8; usize::try_from(total).map_err(|_| Error::LimitExceeded)?];
    for segment in &segments {
        let dst = &mut out[index(segment.plaintext.clone())?];
        stream::open_segment(&segment.key, &body[index(segment.ciphertext.clone())?], dst)?;
    }
    Ok(Decrypted {
        plaintext: out,
        dek: opened.dek,
        header: opened.header,
        blob: opened.blob,
    })
}

/// Reads plaintext `range` of one object the way a range reader must (`docs/FORMAT.md` §10): §9
/// steps 1–5 first (the header, the data key, the manifest and the stored length), then the range
/// against the plaintext length (`RangeNotSatisfiable`), then, for each segment the range touches,
/// only the chunks that serve it, each opened at its own position, the segment's final chunk first
/// when the span reaches it. Nothing is returned unless every chunk read verified.
///
/// `body` is the whole stored body; the reader uses its length (the stored object size) and fetches
/// only the ciphertext bytes of the spans.
///
/// # Errors
/// The first check that fails, as an [`Error`].
pub fn decrypt_range(
    kek: &[u8; 32],
    context: &[(&str, &str)],
    header: &[u8],
    wrapped_keys: &[&[u8]],
    manifest: Option<&[u8]>,
    body: &[u8],
    range: RangeSpec,
) -> Result<Decrypted, Error> {
    let opened = open_object(kek, context, header, wrapped_keys)?;
    let segments = layout(&opened, manifest, body.len() as u64)?;
    let k = opened.header.chunk_log2;
    let wanted = if opened.header.segmented {
        let total = segments.last().map_or(0, |s| s.plaintext.end);
        range.resolve(total).ok_or(Error::RangeNotSatisfiable)?
    } else {
        // The core's planner decides for an unsegmented object (its one segment is the object).
        plan_range(segments[0].plaintext.end, k, ByteRange::from(range))?.plaintext
    };
    let mut out = Vec::new();
    for segment in &segments {
        let (lo, hi) = (
            wanted.start.max(segment.plaintext.start),
            wanted.end.min(segment.plaintext.end),
        );
        if lo >= hi {
            continue;
        }
        let seg_start = segment.plaintext.start;
        let span = plan_range(
            segment.plaintext.end - seg_start,
            k,
            ByteRange::Inclusive {
                first: lo - seg_start,
                last: hi - seg_start - 1,
            },
        )?;
        let fetch = segment.ciphertext.start + span.ciphertext.start
            ..segment.ciphertext.start + span.ciphertext.end;
        let mut buf = body[index(fetch)?].to_vec();
        let got = open_span_in_place(&segment.key, &span, &mut buf)?;
        out.extend_from_slice(&buf[got]);
    }
    Ok(Decrypted {
        plaintext: out,
        dek: opened.dek,
        header: opened.header,
        blob: opened.blob,
    })
}

/// The stored blobs of a vector: `wrapped_key`, or the several of `wrapped_keys`.
///
/// # Errors
/// A message for a vector with both, neither, bad hex or a `wrapped_keys` of fewer than two.
fn stored_blobs(v: &Vector) -> Result<Vec<Vec<u8>>, String> {
    match (&v.wrapped_key, v.wrapped_keys.as_slice()) {
        (Some(one), []) => Ok(vec![unhex("wrapped_key", one)?]),
        (None, several) if several.len() >= 2 => several
            .iter()
            .map(|blob| unhex("wrapped_keys", blob))
            .collect(),
        _ => Err(format!(
            "{}: exactly one of wrapped_key and wrapped_keys (two or more) must be present",
            v.name
        )),
    }
}

/// Decrypts a vector (or reads its `range`) as a reader holding its `kek` and `context` would.
///
/// # Errors
/// `Err(Err(message))` for a malformed vector (bad hex), `Err(Ok(error))` for a decryption failure.
fn decrypt_vector(v: &Vector) -> Result<Result<Decrypted, Error>, String> {
    let kek: [u8; 32] = unhex_array("kek", &v.kek)?;
    let header = unhex("header", &v.header)?;
    let blobs = stored_blobs(v)?;
    let blobs: Vec<&[u8]> = blobs.iter().map(Vec::as_slice).collect();
    let manifest = v
        .manifest
        .as_deref()
        .map(|m| unhex("manifest", m))
        .transpose()?;
    let body = unhex("body", &v.body)?;
    let context: Vec<(&str, &str)> = v
        .context
        .iter()
        .map(|[k, v]| (k.as_str(), v.as_str()))
        .collect();
    Ok(match v.range {
        None => decrypt(&kek, &context, &header, &blobs, manifest.as_deref(), &body),
        Some(range) => decrypt_range(
            &kek,
            &context,
            &header,
            &blobs,
            manifest.as_deref(),
            &body,
            range,
        ),
    })
}

/// Checks one vector against the reference decoder: a positive vector must decrypt to its plaintext
/// (and agree with its informative fields), a range vector must read `range_plaintext`, a negative
/// one (whole-object or range) must fail with exactly its error.
///
/// # Errors
/// A message saying what disagreed.
pub fn verify_vector(v: &Vector) -> Result<(), String> {
    let name = &v.name;
    let pairs: Vec<(&str, &str)> = v
        .context
        .iter()
        .map(|[k, v]| (k.as_str(), v.as_str()))
        .collect();
    let ctx_hash = context_hash(&pairs).map_err(|e| format!("{name}: context: {e}"))?;
    if hex::encode(ctx_hash) != v.ctx_hash {
        return Err(format!("{name}: ctx_hash is not the hash of context"));
    }
    let expected_plaintext = match v.range {
        None if v.range_plaintext.is_some() => {
            return Err(format!("{name}: range_plaintext without a range"));
        }
        None => &v.plaintext,
        Some(_) if v.plaintext.is_some() => {
            return Err(format!(
                "{name}: range vectors carry range_plaintext, not plaintext"
            ));
        }
        Some(_) => &v.range_plaintext,
    };
    match (expected_plaintext, &v.expected_error) {
        (Some(plaintext), None) => {
            let plaintext = unhex("plaintext", plaintext)?;
            let got =
                decrypt_vector(v)?.map_err(|e| format!("{name}: decryption failed: {e:?}"))?;
            if got.plaintext != plaintext {
                return Err(format!("{name}: wrong plaintext"));
            }
            if hex::encode(got.dek.expose_secret()) != v.dek {
                return Err(format!("{name}: unwrapped DEK differs from dek"));
            }
            let h = &got.header;
            if hex::encode(h.object_salt) != v.object_salt
                || h.chunk_log2 != v.chunk_log2
                || h.segmented != v.segmented
                || hex::encode(h.ctx_hash) != v.ctx_hash
            {
                return Err(format!("{name}: header fields disagree with the vector"));
            }
            let blobs = stored_blobs(v)?;
            let blob = WrappedKey::parse(&blobs[got.blob]).map_err(|e| format!("{name}: {e}"))?;
            if hex::encode(blob.wrap_salt) != v.wrap_salt {
                return Err(format!("{name}: wrap_salt differs from the winning blob's"));
            }
            if v.range.is_some() {
                if !v.segments.is_empty() || v.container.is_some() {
                    return Err(format!(
                        "{name}: range vectors carry no segments or container"
                    ));
                }
                return Ok(());
            }
            verify_segments(v)?;
            if let Some(container) = &v.container {
                verify_container(v, &unhex("container", container)?)?;
            }
            Ok(())
        }
        (None, Some(expected)) => {
            if !v.segments.is_empty() || v.container.is_some() {
                return Err(format!(
                    "{name}: negative vectors carry no segments or container"
                ));
            }
            match decrypt_vector(v)? {
                Ok(_) => Err(format!("{name}: decrypted, but {expected} was expected")),
                Err(error) => {
                    let got = error_name(&error);
                    if &got != expected {
                        return Err(format!("{name}: got {error:?}, expected {expected}"));
                    }
                    let chunk = match error {
                        Error::ChunkAuth { segment, chunk } => {
                            Some(super::ChunkRef { segment, chunk })
                        }
                        _ => None,
                    };
                    if chunk != v.error_chunk {
                        return Err(format!(
                            "{name}: got {error:?}, expected chunk {:?}",
                            v.error_chunk
                        ));
                    }
                    Ok(())
                }
            }
        }
        _ => Err(format!(
            "{name}: exactly one of {} and expected_error must be present",
            if v.range.is_some() {
                "range_plaintext"
            } else {
                "plaintext"
            }
        )),
    }
}

/// A positive segmented vector's body is its segments back to back, in manifest order.
fn verify_segments(v: &Vector) -> Result<(), String> {
    let name = &v.name;
    if !v.segmented {
        return if v.segments.is_empty() && v.manifest.is_none() {
            Ok(())
        } else {
            Err(format!(
                "{name}: unsegmented vector with segments or manifest"
            ))
        };
    }
    let mut body = Vec::new();
    for s in &v.segments {
        body.extend(unhex("segments.ciphertext", &s.ciphertext)?);
    }
    if hex::encode(body) != v.body {
        return Err(format!("{name}: body is not the segments back to back"));
    }
    let manifest = unhex("manifest", v.manifest.as_deref().unwrap_or_default())?;
    let entries = &manifest[8..manifest.len() - 32];
    if entries.len() != 28 * v.segments.len() {
        return Err(format!("{name}: manifest and segments disagree"));
    }
    for (entry, s) in entries.chunks(28).zip(&v.segments) {
        if entry[..4] != s.number.to_be_bytes() || hex::encode(&entry[4..20]) != s.salt {
            return Err(format!(
                "{name}: manifest entry differs from segment {}",
                s.number
            ));
        }
    }
    Ok(())
}

/// The container holds the same header, blobs and body, and parses back to them.
fn verify_container(v: &Vector, container: &[u8]) -> Result<(), String> {
    let name = &v.name;
    let prefix =
        ContainerPrefix::parse(container).map_err(|e| format!("{name}: container: {e}"))?;
    if hex::encode(prefix.header.to_bytes()) != v.header
        || hex::encode(&container[prefix.body_offset..]) != v.body
    {
        return Err(format!("{name}: container header or body differs"));
    }
    let in_file: Vec<_> = prefix
        .wrapped_keys()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{name}: container: {e}"))?;
    let stored = stored_blobs(v)?;
    let expected = stored
        .iter()
        .map(|blob| WrappedKey::parse(blob))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{name}: {e}"))?;
    if in_file != expected {
        return Err(format!("{name}: container key section differs"));
    }
    Ok(())
}
