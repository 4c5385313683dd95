//! Multipart upload ids that carry the upload's sealing.
//!
//! Every UploadPart and the Complete need the upload's header and wrapped data key, and S3 has
//! no call that returns a pending upload's metadata. So the id the client gets is the store's id,
//! a `.`, and the sealing in base64url: the layer stays stateless (any number of servers can
//! serve one upload) and works over any store. Nothing in it is secret: the data key is wrapped,
//! and the header's tag commits to the key and the object's context.
//!
//! ```text
//! state = 0x01 ‖ kind (1) ‖ bucket_key (1)
//!         [ header (104) ‖ u16 len ‖ wrapped key ‖ u16 len ‖ KMS context JSON ‖ u16 len ‖ wrapped manifest key ]
//!         ‖ tag (16)
//! ```
//!
//! The state ends in a 16-byte tag: HMAC-SHA-256 under the server's upload-id key (derived from
//! its root key) of the store's id, the bucket, the object key and the state, so a client can
//! neither forge a state (one that turns encryption off, say) nor move one to another upload.
//!
//! The wrapped manifest key is there for SSE-C uploads only: Amazon S3 does not require the
//! customer key on CompleteMultipartUpload (rclone and older SDKs never send it), yet the manifest
//! must be MAC'd under the object's manifest key. So the server keeps that key — which opens no
//! data — wrapped under its own key-encryption key, bound to the object, for the upload's life.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use hmac::{Hmac, KeyInit, Mac};
use objseal_core::format::wrapped_key::WrappedKey;
use objseal_core::{HEADER_LEN, Header};
use s3s::{S3Error, S3ErrorCode};
use sha2::Sha256;

use super::record::{Sealing, SseKind};

const VERSION: u8 = 1;

fn no_such_upload() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
    )
}

/// What an upload id is bound to: the server's key and the object it will become.
pub(crate) struct IdBinding<'a> {
    pub key: &'a [u8; 32],
    pub bucket: &'a str,
    pub object: &'a str,
}

const TAG_LEN: usize = 16;

impl IdBinding<'_> {
    fn mac(&self, inner_id: &str, state: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"objseal upload id v1\0");
        for part in [
            inner_id.as_bytes(),
            self.bucket.as_bytes(),
            self.object.as_bytes(),
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.update(state);
        mac
    }
}

/// The client's id for an upload; `manifest_key` is the wrapped manifest key (SSE-C) or empty.
///
/// # Errors
/// `InvalidArgument` when a part does not fit its 16-bit length (a KMS context that large is
/// refused before this, so it is not expected).
pub(crate) fn encode(
    inner_id: &str,
    sealing: &Sealing,
    manifest_key: &[u8],
    binding: &IdBinding<'_>,
) -> Result<String, S3Error> {
    let mut state = vec![VERSION];
    state.push(match sealing.kind {
        SseKind::None => 0,
        SseKind::S3 => 1,
        SseKind::Kms => 2,
        SseKind::Customer => 3,
    });
    state.push(u8::from(sealing.bucket_key));
    if let Some(h) = &sealing.header {
        state.extend_from_slice(&h.to_bytes());
        let ctx = if sealing.kms_context.is_empty() {
            Vec::new()
        } else {
            serde_json::to_vec(&sealing.kms_context).unwrap_or_default()
        };
        for part in [sealing.wrapped.as_slice(), ctx.as_slice(), manifest_key] {
            let len = u16::try_from(part.len()).map_err(|_| {
                super::errors::invalid_argument("The upload's encryption parameters are too large.")
            })?;
            state.extend_from_slice(&len.to_be_bytes());
            state.extend_from_slice(part);
        }
    }
    let tag = binding.mac(inner_id, &state).finalize().into_bytes();
    state.extend_from_slice(&tag[..TAG_LEN]);
    Ok(format!("{inner_id}.{}", B64URL.encode(state)))
}

/// A client's upload id, decoded.
#[derive(Debug)]
pub(crate) struct Upload {
    /// The store's id.
    pub inner_id: String,
    pub sealing: Sealing,
    /// The wrapped manifest key (SSE-C uploads), else empty.
    pub manifest_key: Vec<u8>,
}

/// Decodes a client's upload id for the object of `binding` (`NoSuchUpload` if it is malformed,
/// forged, or another object's).
pub(crate) fn decode(id: &str, binding: &IdBinding<'_>) -> Result<Upload, S3Error> {
    let (inner, state) = id.rsplit_once('.').ok_or_else(no_such_upload)?;
    let state = B64URL.decode(state).map_err(|_| no_such_upload())?;
    let split = state
        .len()
        .checked_sub(TAG_LEN)
        .ok_or_else(no_such_upload)?;
    let (state, tag) = state.split_at(split);
    binding
        .mac(inner, state)
        .verify_truncated_left(tag)
        .map_err(|_| no_such_upload())?;
    let (sealing, manifest_key) = parse_state(state).ok_or_else(no_such_upload)?;
    Ok(Upload {
        inner_id: inner.to_owned(),
        sealing,
        manifest_key,
    })
}

/// The store's id of a client's upload id, for calls that need no keys (abort); a bare store
/// id (as ListMultipartUploads shows) is accepted too.
pub(crate) fn inner_id(id: &str) -> &str {
    id.rsplit_once('.').map_or(id, |(inner, _)| inner)
}

fn parse_state(s: &[u8]) -> Option<(Sealing, Vec<u8>)> {
    let (&version, rest) = s.split_first()?;
    if version != VERSION {
        return None;
    }
    let (&kind, rest) = rest.split_first()?;
    let (&bucket_key, rest) = rest.split_first()?;
    let kind = match kind {
        0 => return rest.is_empty().then(|| (Sealing::none(), Vec::new())),
        1 => SseKind::S3,
        2 => SseKind::Kms,
        3 => SseKind::Customer,
        _ => return None,
    };
    let header = Header::parse_exact(rest.get(..HEADER_LEN)?).ok()?;
    let mut rest = &rest[HEADER_LEN..];
    let mut take = || -> Option<Vec<u8>> {
        let len = usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?));
        let v = rest.get(2..2 + len)?.to_vec();
        rest = &rest[2 + len..];
        Some(v)
    };
    let wrapped = take()?;
    let ctx = take()?;
    let manifest_key = take()?;
    if !rest.is_empty() {
        return None;
    }
    let kms_context = if ctx.is_empty() {
        Default::default()
    } else {
        serde_json::from_slice(&ctx).ok()?
    };
    let kms_key = (kind == SseKind::Kms)
        .then(|| {
            WrappedKey::parse(&wrapped)
                .ok()
                .map(|w| w.key_id.to_owned())
        })
        .flatten();
    let sealing = Sealing {
        kind,
        header: Some(header),
        wrapped,
        kms_key,
        kms_context,
        bucket_key: bucket_key == 1,
    };
    Some((sealing, manifest_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    fn binding(object: &str) -> IdBinding<'_> {
        IdBinding {
            key: &KEY,
            bucket: "b",
            object,
        }
    }

    #[test]
    fn garbage_forgeries_and_moved_ids_are_no_such_upload() {
        for id in [
            "", "abc", "abc.", "abc.!!!", "abc.AQ", "abc.AQQA", "abc.AQAA",
        ] {
            assert_eq!(
                decode(id, &binding("k")).unwrap_err().code().as_str(),
                "NoSuchUpload",
                "{id}"
            );
        }
        let plain = encode("inner", &Sealing::none(), &[], &binding("k")).unwrap();
        let u = decode(&plain, &binding("k")).unwrap();
        assert_eq!(
            (u.inner_id.as_str(), u.sealing.kind),
            ("inner", SseKind::None)
        );
        assert_eq!(inner_id(&plain), "inner");
        assert_eq!(inner_id("bare"), "bare");
        // Another object, another store id, another key: refused.
        assert!(decode(&plain, &binding("other")).is_err());
        assert!(decode(&plain.replacen("inner", "inneR", 1), &binding("k")).is_err());
        let other_key = IdBinding {
            key: &[8; 32],
            bucket: "b",
            object: "k",
        };
        assert!(decode(&plain, &other_key).is_err());
        // Any bit of the state flipped: refused.
        let (inner, state) = plain.rsplit_once('.').unwrap();
        let bytes = B64URL.decode(state).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 1;
            let forged = format!("{inner}.{}", B64URL.encode(&b));
            assert!(decode(&forged, &binding("k")).is_err(), "byte {i}");
        }
    }
}
