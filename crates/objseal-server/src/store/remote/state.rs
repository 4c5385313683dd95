//! Authentication of the gateway's state in the backend (FORMAT.md §17.5).
//!
//! Anyone who may write the backend bucket — with no key of the gateway's — could otherwise
//! forge what the gateway keeps there: an `upload.json` whose metadata the layer would then sign
//! into a valid upload id, a part sidecar acknowledging a part, a late sidecar or trailer giving
//! an object's entries, a `bucket.json` removing a bucket's encryption or policy. So every
//! sidecar carries an HMAC-SHA-256 tag under the **state key** `K_state` (HKDF-SHA-256 of the
//! server's root key, `info` `objseal/gateway/state/v1`), shared by the gateways of a fleet as
//! the root key is:
//!
//! ```text
//! tag = HMAC-SHA-256(K_state, "objseal/gateway/state/v1" ‖ 0x00
//!                             ‖ LP(kind) ‖ LP(bucket) ‖ LP(name) ‖ LP(context) ‖ LP(body))
//! LP(x) = BE64(byte length of x) ‖ x
//! ```
//!
//! `kind` is `upload`, `part`, `late` or `bucket`; `name` the sidecar's backend key; `context`
//! is empty (reserved for binding further values, such as an object's `objseal-header`, to a
//! kind of state that needs it); `body` the exact JSON bytes. A sidecar is stored as the
//! envelope `{"mac":"<64 lowercase hex digits>","body":<the JSON>}`; tags are compared in
//! constant time. A sidecar without a valid tag is *not the gateway's*: see
//! [`Found::Forged`] and the callers for what each kind then means.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The domain-separation prefix of every tag (also the state key's HKDF label,
/// [`GATEWAY_STATE_KEY_LABEL`](crate::server::GATEWAY_STATE_KEY_LABEL)).
const DOMAIN: &[u8] = b"objseal/gateway/state/v1";

/// The HKDF label of the trailer key (FORMAT.md §17).
const TRAILER_LABEL: &[u8] = b"objseal/gateway/trailer/v1";

/// What a tagged piece of state is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `.objseal/uploads/<hex(id)>/upload.json`.
    Upload,
    /// `.objseal/uploads/<hex(id)>/<part, 5 digits>`.
    Part,
    /// `.objseal/late/<token>`.
    Late,
    /// `.objseal/bucket.json`.
    Bucket,
}

impl Kind {
    fn label(self) -> &'static [u8] {
        match self {
            Kind::Upload => b"upload",
            Kind::Part => b"part",
            Kind::Late => b"late",
            Kind::Bucket => b"bucket",
        }
    }
}

/// The key that authenticates the gateway's state. Never printed; zeroed when dropped.
pub struct StateKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for StateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StateKey(<redacted>)")
    }
}

/// What the tag binds a piece of state to.
#[derive(Clone, Copy)]
pub(super) struct Binding<'a> {
    pub kind: Kind,
    pub bucket: &'a str,
    pub name: &'a str,
    pub context: &'a str,
}

impl<'a> Binding<'a> {
    /// A sidecar's binding: its kind, bucket and backend key.
    pub fn sidecar(kind: Kind, bucket: &'a str, key: &'a str) -> Self {
        Binding {
            kind,
            bucket,
            name: key,
            context: "",
        }
    }
}

/// A sidecar as found: the gateway's, or not (no valid tag).
#[derive(Debug)]
pub(super) enum Found<T> {
    Valid(T),
    Forged,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    mac: String,
    body: Box<RawValue>,
}

impl StateKey {
    pub(super) fn new(key: &[u8; 32]) -> Self {
        StateKey(Zeroizing::new(*key))
    }

    /// The cipher of the trailer with salt `salt` (see [`super::trailer`]): AES-256-GCM under
    /// `HMAC-SHA-256(K_trailer, salt)`, `K_trailer = HKDF-Expand(K_state, TRAILER_LABEL, 32)`.
    pub(super) fn trailer_cipher(&self, salt: &[u8; 32]) -> objseal_core::gcm::Aes256Gcm {
        let hkdf = hkdf::Hkdf::<Sha256>::from_prk(&self.0[..])
            .unwrap_or_else(|_| unreachable!("a 32-byte PRK is long enough for HKDF-SHA-256"));
        let mut k_trailer = Zeroizing::new([0u8; 32]);
        hkdf.expand(TRAILER_LABEL, &mut k_trailer[..])
            .unwrap_or_else(|_| unreachable!("32 bytes are a valid HKDF-SHA-256 output length"));
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&k_trailer[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(salt);
        let key = Zeroizing::new(<[u8; 32]>::from(mac.finalize().into_bytes()));
        objseal_core::gcm::Aes256Gcm::new(&key)
    }

    /// The tag of `body` under `binding`.
    pub(super) fn tag(&self, binding: Binding<'_>, body: &[u8]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0[..])
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(DOMAIN);
        mac.update(&[0]);
        for part in [
            binding.kind.label(),
            binding.bucket.as_bytes(),
            binding.name.as_bytes(),
            binding.context.as_bytes(),
            body,
        ] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Whether `tag` is `body`'s under `binding` (constant time).
    pub(super) fn verify(&self, binding: Binding<'_>, body: &[u8], tag: &[u8]) -> bool {
        tag.len() == 32 && bool::from(self.tag(binding, body)[..].ct_eq(tag))
    }

    /// The stored form of the sidecar `json`: the envelope with its tag.
    pub(super) fn seal(&self, binding: Binding<'_>, json: &[u8]) -> Vec<u8> {
        let tag = hex::encode(self.tag(binding, json));
        let mut out = Vec::with_capacity(json.len() + 90);
        out.extend_from_slice(b"{\"mac\":\"");
        out.extend_from_slice(tag.as_bytes());
        out.extend_from_slice(b"\",\"body\":");
        out.extend_from_slice(json);
        out.push(b'}');
        out
    }

    /// The JSON of a stored sidecar, if its tag is valid (`None`: not the gateway's — no
    /// envelope, no tag, another sidecar's tag or a changed body).
    pub(super) fn open(&self, binding: Binding<'_>, stored: &[u8]) -> Option<Vec<u8>> {
        let envelope: Envelope = serde_json::from_slice(stored).ok()?;
        let tag = hex::decode(&envelope.mac).ok()?;
        let body = envelope.body.get().as_bytes();
        self.verify(binding, body, &tag).then(|| body.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_sidecars_open_only_where_they_were_sealed() {
        let k = StateKey::new(&[7; 32]);
        let b = Binding::sidecar(Kind::Upload, "bkt", ".objseal/uploads/78/upload.json");
        let json = br#"{"v":1,"key":"k"}"#;
        let sealed = k.seal(b, json);
        assert!(sealed.starts_with(b"{\"mac\":\""));
        assert_eq!(k.open(b, &sealed).as_deref(), Some(&json[..]));
        // Another key, kind, bucket, name; a changed body; no envelope.
        assert!(StateKey::new(&[8; 32]).open(b, &sealed).is_none());
        for other in [
            Binding::sidecar(Kind::Part, "bkt", b.name),
            Binding::sidecar(Kind::Upload, "bkt2", b.name),
            Binding::sidecar(Kind::Upload, "bkt", ".objseal/uploads/79/upload.json"),
            Binding { context: "x", ..b },
        ] {
            assert!(k.open(other, &sealed).is_none());
        }
        let changed = String::from_utf8(sealed.clone())
            .unwrap()
            .replace("\"k\"", "\"j\"");
        assert!(k.open(b, changed.as_bytes()).is_none());
        assert!(k.open(b, json).is_none());
        // Length prefixes: shifting bytes between fields changes the tag.
        let t1 = k.tag(Binding::sidecar(Kind::Late, "ab", "c"), b"");
        let t2 = k.tag(Binding::sidecar(Kind::Late, "a", "bc"), b"");
        assert_ne!(t1, t2);
        assert!(!k.verify(b, json, &t1[..31]));
        assert_eq!(format!("{k:?}"), "StateKey(<redacted>)");
    }
}
