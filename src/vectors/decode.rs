//! The reference decoder of the vectors: exactly the procedure `docs/FORMAT.md` §9 prescribes,
//! built from `objseal-core`'s public API.

use objseal_core::format::container::ContainerPrefix;
use objseal_core::format::header::HEADER_LEN;
use objseal_core::format::manifest::ManifestView;
use objseal_core::format::wrapped_key::{WrapAlgorithm, WrappedKey};
use objseal_core::range::{ciphertext_len, plaintext_len};
use objseal_core::wrap::{KeyUnwrap, LocalKek};
use objseal_core::{Dek, Error, Header, Kek, ObjectKey, context_hash, stream};

use super::{Vector, unhex, unhex_array};

/// A successful decryption.
#[derive(Debug)]
pub struct Decrypted {
    /// The object's plaintext.
    pub plaintext: Vec<u8>,
    /// The data key recovered from the wrapped-key blob.
    pub dek: Dek,
    /// The parsed (and authenticated) header.
    pub header: Header,
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

/// Decrypts one object the way a reader must (`docs/FORMAT.md` §9), checks in this order:
///
/// 1. the reader's context → `ctx_hash` (canonical encoding, SHA-256);
/// 2. the header: exactly 104 bytes, magic, version, suite, chunk size, flags;
/// 3. the wrapped-key blob: structure, then unwrap under the KEK with `ctx_hash`;
/// 4. the header tag under the unwrapped DEK (key commitment), then the header's `ctx_hash`;
/// 5. segmented objects: the manifest (structure, tag), then the body length against it;
/// 6. the chunks of every segment in order, each segment ending with its final chunk.
///
/// # Errors
/// The first check that fails, as an [`Error`].
pub fn decrypt(
    kek: &[u8; 32],
    context: &[(&str, &str)],
    header: &[u8],
    wrapped_key: &[u8],
    manifest: Option<&[u8]>,
    body: &[u8],
) -> Result<Decrypted, Error> {
    // 1. The context the reader expects.
    let ctx_hash = context_hash(context)?;

    // 2. Header structure. Metadata holds exactly one header; more bytes are not a header.
    if header.len() > HEADER_LEN {
        return Err(Error::BadLength);
    }
    let header = Header::parse(header)?;

    // 3. Unwrap the DEK, bound to the expected context.
    let blob = WrappedKey::parse(wrapped_key)?;
    let kek = Kek::from_bytes(*kek);
    let unwrapper = match blob.algorithm {
        WrapAlgorithm::LocalKek => LocalKek::new(kek, blob.key_id, blob.key_version)?,
        WrapAlgorithm::CustomerKey => LocalKek::customer_key(kek, blob.key_id)?,
        other => return Err(Error::UnknownWrapAlgorithm(other.id())),
    };
    let dek = unwrapper.unwrap_key(&blob, &ctx_hash)?;

    // 4. Key commitment and context binding.
    let object = ObjectKey::open_with_context(&dek, &header, &ctx_hash)?;

    // 5–6. The body.
    let plaintext = if header.segmented {
        let manifest = manifest.ok_or(Error::BadManifest("missing"))?;
        let view = ManifestView::verify(&object, manifest)?;
        let total = view.ciphertext_len();
        match (body.len() as u64).cmp(&total) {
            core::cmp::Ordering::Less => return Err(Error::Truncated),
            core::cmp::Ordering::Greater => return Err(Error::TrailingData),
            core::cmp::Ordering::Equal => {}
        }
        let mut out =
            vec![0u8; usize::try_from(view.plaintext_len()).map_err(|_| Error::LimitExceeded)?];
        for location in view.locations() {
            let entry = location.entry;
            let ct_len = ciphertext_len(entry.plaintext_len, header.chunk_log2)? as usize;
            let ct_start = location.ciphertext_start as usize;
            let pt_start = location.plaintext_start as usize;
            let key = object.segment_key(entry.number, &entry.salt);
            let dst = &mut out[pt_start..pt_start + entry.plaintext_len as usize];
            stream::open_segment(&key, &body[ct_start..ct_start + ct_len], dst)?;
        }
        out
    } else {
        if manifest.is_some() {
            // A manifest beside an unsegmented header: the writer broke the rules or it was planted.
            return Err(Error::BadFlags(0));
        }
        let key = object.body_key()?;
        let pt_len = plaintext_len(body.len() as u64, header.chunk_log2)?;
        let mut out = vec![0u8; usize::try_from(pt_len).map_err(|_| Error::LimitExceeded)?];
        stream::open_segment(&key, body, &mut out)?;
        out
    };
    Ok(Decrypted {
        plaintext,
        dek,
        header,
    })
}

/// Decrypts a vector as a reader holding its `kek` and `context` would.
///
/// # Errors
/// `Err(Err(message))` for a malformed vector (bad hex), `Err(Ok(error))` for a decryption failure.
fn decrypt_vector(v: &Vector) -> Result<Result<Decrypted, Error>, String> {
    let kek: [u8; 32] = unhex_array("kek", &v.kek)?;
    let header = unhex("header", &v.header)?;
    let wrapped = unhex("wrapped_key", &v.wrapped_key)?;
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
    Ok(decrypt(
        &kek,
        &context,
        &header,
        &wrapped,
        manifest.as_deref(),
        &body,
    ))
}

/// Checks one vector against the reference decoder: a positive vector must decrypt to its plaintext
/// (and agree with its informative fields), a negative one must fail with exactly its error.
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
    match (&v.plaintext, &v.expected_error) {
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
            let blob_bytes = unhex("wrapped_key", &v.wrapped_key)?;
            let blob = WrappedKey::parse(&blob_bytes).map_err(|e| format!("{name}: {e}"))?;
            if hex::encode(blob.wrap_salt) != v.wrap_salt {
                return Err(format!("{name}: wrap_salt differs from the blob's"));
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
            "{name}: exactly one of plaintext and expected_error must be present"
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

/// The container holds the same header, blob and body, and parses back to them.
fn verify_container(v: &Vector, container: &[u8]) -> Result<(), String> {
    let name = &v.name;
    let prefix =
        ContainerPrefix::parse(container).map_err(|e| format!("{name}: container: {e}"))?;
    if hex::encode(prefix.header.to_bytes()) != v.header
        || hex::encode(&container[prefix.body_offset..]) != v.body
    {
        return Err(format!("{name}: container header or body differs"));
    }
    let blobs: Vec<_> = prefix
        .wrapped_keys()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{name}: container: {e}"))?;
    let wrapped = unhex("wrapped_key", &v.wrapped_key)?;
    let expected = WrappedKey::parse(&wrapped).map_err(|e| format!("{name}: {e}"))?;
    if blobs != [expected] {
        return Err(format!("{name}: container key section differs"));
    }
    Ok(())
}
