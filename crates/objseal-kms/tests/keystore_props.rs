//! Properties of the keystore's blobs: parsing never panics, contexts are bound exactly, and any
//! change of a blob is refused.

mod keystore_util;

use std::sync::OnceLock;

use keystore_util::*;
use objseal_kms::{EncryptionContext, Kms, blob};
use proptest::prelude::*;

struct Shared {
    env: Env,
    key: String,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let env = Env::new();
        let key = env.key();
        Shared { env, key }
    })
}

fn context_strategy() -> impl Strategy<Value = EncryptionContext> {
    prop::collection::btree_map("[a-zA-Z0-9é]{0,6}", "[a-zA-Z0-9 ]{0,6}", 0..5)
}

/// A change of a context: add a pair, remove one, change a value, or change the case of a key or
/// value.
#[derive(Clone, Debug)]
enum Change {
    Add(String, String),
    Remove(usize),
    SetValue(usize, String),
    FlipKeyCase(usize),
    FlipValueCase(usize),
}

fn change_strategy() -> impl Strategy<Value = Change> {
    prop_oneof![
        ("[a-zA-Z]{0,4}", "[a-z]{0,4}").prop_map(|(k, v)| Change::Add(k, v)),
        any::<usize>().prop_map(Change::Remove),
        (any::<usize>(), "[a-z]{0,4}").prop_map(|(i, v)| Change::SetValue(i, v)),
        any::<usize>().prop_map(Change::FlipKeyCase),
        any::<usize>().prop_map(Change::FlipValueCase),
    ]
}

fn flip_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_lowercase() {
                c.to_uppercase().next().unwrap_or(c)
            } else {
                c.to_lowercase().next().unwrap_or(c)
            }
        })
        .collect()
}

/// Applies `change`; `None` when it changes nothing (e.g. removing from an empty context).
fn apply(ctx: &EncryptionContext, change: &Change) -> Option<EncryptionContext> {
    let mut out = ctx.clone();
    let nth = |i: usize| {
        ctx.iter()
            .nth(i % ctx.len().max(1))
            .map(|(k, v)| (k.clone(), v.clone()))
    };
    match change {
        Change::Add(k, v) => {
            if ctx.contains_key(k) {
                return None;
            }
            out.insert(k.clone(), v.clone());
        }
        Change::Remove(i) => {
            let (k, _) = nth(*i)?;
            out.remove(&k);
        }
        Change::SetValue(i, v) => {
            let (k, _) = nth(*i)?;
            out.insert(k, v.clone());
        }
        Change::FlipKeyCase(i) => {
            let (k, v) = nth(*i)?;
            out.remove(&k);
            out.insert(flip_case(&k), v);
        }
        Change::FlipValueCase(i) => {
            let (k, v) = nth(*i)?;
            out.insert(k, flip_case(&v));
        }
    }
    (out != *ctx).then_some(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = blob::parse(&bytes);
        let _ = blob::key_id_of(&bytes);
        let s = shared();
        let r = b(s.env.kms.decrypt(&bytes, &EncryptionContext::new(), None));
        prop_assert!(r.is_err());
    }

    #[test]
    fn parse_never_panics_on_blob_like_input(
        tail in prop::collection::vec(any::<u8>(), 0..120),
        version in any::<u8>(),
    ) {
        let mut bytes = b"OSKB".to_vec();
        bytes.push(version);
        bytes.extend_from_slice(&tail);
        if let Ok(p) = blob::parse(&bytes) {
            prop_assert!(p.open(&[0u8; 32], &EncryptionContext::new()).is_err());
        }
        let s = shared();
        let r = b(s.env.kms.decrypt(&bytes, &EncryptionContext::new(), None));
        prop_assert!(r.is_err());
    }

    #[test]
    fn any_context_change_is_refused(ctx in context_strategy(), change in change_strategy()) {
        let s = shared();
        let ct = b(s.env.kms.encrypt(&s.key, b"bound", &ctx)).unwrap();
        let back = b(s.env.kms.decrypt(&ct.ciphertext_blob, &ctx, None)).unwrap();
        prop_assert_eq!(back.plaintext.as_bytes(), b"bound");
        if let Some(changed) = apply(&ctx, &change) {
            let e = b(s.env.kms.decrypt(&ct.ciphertext_blob, &changed, None)).unwrap_err();
            prop_assert_eq!(e.aws_type(), "InvalidCiphertextException");
        }
    }

    #[test]
    fn any_blob_change_is_refused(
        len in 1usize..64,
        position in any::<usize>(),
        mask in 1u8..,
    ) {
        let s = shared();
        let ctx = ctx(&[("p", "q")]);
        let ct = b(s.env.kms.encrypt(&s.key, &vec![0x5a; len], &ctx)).unwrap();
        let mut t = ct.ciphertext_blob.clone();
        let i = position % t.len();
        t[i] ^= mask;
        let e = b(s.env.kms.decrypt(&t, &ctx, None)).unwrap_err();
        prop_assert_eq!(e.aws_type(), "InvalidCiphertextException");
    }
}
