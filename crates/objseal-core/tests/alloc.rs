//! The core allocates nothing: a counting global allocator (in this test binary only) sees zero
//! allocations, reallocations or frees on the measuring thread across key setup, streaming, whole
//! segments, range reads, manifests and key wrapping.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use objseal_core::format::manifest::{ManifestView, SegmentEntry, encode_manifest, manifest_len};
use objseal_core::format::wrapped_key::WrappedKey;
use objseal_core::gcm::{Aes256Gcm, Backend, TAG_LEN};
use objseal_core::range::{ByteRange, ciphertext_len, open_span_in_place, plan_range};
use objseal_core::stream::{self, Decryptor, Encryptor};
use objseal_core::wrap::{KeyUnwrap, KeyWrap, LocalKek};
use objseal_core::{Dek, Header, Kek, ObjectKey, ObjectParams, context_hash};

struct Counting;

thread_local! {
    /// Whether this thread is inside a measured region, and what it has allocated there.
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = MEASURING.try_with(|m| {
        if m.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: forwards every call to `System` unchanged; the bookkeeping touches only const-initialized
// thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with counting on, and returns its result with the number of allocator calls it made.
fn count<T>(f: impl FnOnce() -> T) -> (T, usize) {
    COUNT.with(|c| c.set(0));
    MEASURING.with(|m| m.set(true));
    let out = f();
    MEASURING.with(|m| m.set(false));
    (out, COUNT.with(|c| c.get()))
}

#[track_caller]
fn assert_no_alloc<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let (out, n) = count(f);
    assert_eq!(n, 0, "{what}: {n} allocator calls");
    out
}

#[test]
fn the_counter_counts() {
    let (v, n) = count(|| vec![1u8; 100]);
    assert!(n >= 1);
    drop(v);
}

const K: u8 = 12;
const C: usize = 1 << K;

#[test]
fn core_paths_allocate_nothing() {
    // Every buffer is allocated up front, outside the measured regions.
    let pt = plaintext(5 * C + 321, 1);
    let ct_len = ciphertext_len(pt.len() as u64, K).unwrap() as usize;
    let mut body = vec![0u8; ct_len];
    let mut out = vec![0u8; pt.len()];
    let mut chunk = vec![0u8; C + TAG_LEN];
    let mut scratch = vec![0u8; ct_len];
    let mut manifest = vec![0u8; manifest_len(3)];
    let mut blob = vec![0u8; 512];

    let dek = Dek::from_bytes([9; 32]);
    let ctx = assert_no_alloc("context_hash", || {
        context_hash(&[("bucket", "b"), ("key", "some/object"), ("tenant", "t")]).unwrap()
    });
    let params = ObjectParams::new([3; 32], ctx).chunk_log2(K);

    // Key schedule, header commitment and parsing.
    let writer = assert_no_alloc("ObjectKey::create", || {
        ObjectKey::create(&dek, &params).unwrap()
    });
    let header_bytes = writer.header().to_bytes();
    let header = assert_no_alloc("Header::parse", || Header::parse(&header_bytes).unwrap());
    let reader = assert_no_alloc("ObjectKey::open", || {
        ObjectKey::open(&dek, &header).unwrap()
    });
    assert_no_alloc("ObjectKey::open_with_context", || {
        ObjectKey::open_with_context(&dek, &header, &ctx).unwrap()
    });
    assert_no_alloc("ObjectKey::open, wrong key", || {
        ObjectKey::open(&Dek::from_bytes([8; 32]), &header).unwrap_err()
    });
    assert_no_alloc("segment_key", || writer.segment_key(5, &[7; 16]));
    for backend in Backend::available() {
        assert_no_alloc("with_backend", || {
            let gcm = Aes256Gcm::with_backend(&[1; 32], backend).unwrap();
            let mut b = [0u8; 100];
            let tag = gcm.seal_in_place(&[0; 12], b"aad", &mut b);
            gcm.open_in_place(&[0; 12], b"aad", &mut b, &tag).unwrap();
        });
    }

    // Whole segments.
    let wkey = writer.body_key().unwrap();
    let rkey = reader.body_key().unwrap();
    assert_no_alloc("stream::seal_segment", || {
        stream::seal_segment(&wkey, &pt, &mut body).unwrap()
    });
    assert_no_alloc("stream::open_segment", || {
        stream::open_segment(&rkey, &body, &mut out).unwrap()
    });
    assert_eq!(out, pt);
    scratch.copy_from_slice(&body);
    scratch[C + 40] ^= 1;
    assert_no_alloc("stream::open_segment, tampered", || {
        stream::open_segment(&rkey, &scratch, &mut out).unwrap_err()
    });

    // Chunk by chunk through the state machines.
    let sealed = C + TAG_LEN;
    let chunks = ct_len.div_ceil(sealed);
    assert_no_alloc("Encryptor", || {
        let mut enc = Encryptor::new(writer.body_key().unwrap());
        for i in 0..chunks {
            let part = &pt[i * C..((i + 1) * C).min(pt.len())];
            chunk[..part.len()].copy_from_slice(part);
            let n = enc
                .seal_next_in_place(&mut chunk, part.len(), i + 1 == chunks)
                .unwrap();
            scratch[i * sealed..i * sealed + n].copy_from_slice(&chunk[..n]);
        }
        assert!(enc.is_finished());
    });
    assert_eq!(scratch, body);
    assert_no_alloc("Decryptor", || {
        let mut dec = Decryptor::new(reader.body_key().unwrap());
        for i in 0..chunks {
            let end = ((i + 1) * sealed).min(ct_len);
            let n = dec
                .open_next(&mut scratch[i * sealed..end], i + 1 == chunks)
                .unwrap();
            out[i * C..i * C + n].copy_from_slice(&scratch[i * sealed..i * sealed + n]);
        }
        dec.finish().unwrap();
    });
    assert_eq!(out, pt);

    // Range reads.
    for range in [
        ByteRange::Suffix(1000),
        ByteRange::Inclusive {
            first: 10,
            last: 2 * C as u64,
        },
        ByteRange::From(3 * C as u64 + 1),
    ] {
        let span = assert_no_alloc("plan_range", || {
            plan_range(pt.len() as u64, K, range).unwrap()
        });
        let (a, b) = (span.ciphertext.start as usize, span.ciphertext.end as usize);
        scratch[a..b].copy_from_slice(&body[a..b]);
        let got = assert_no_alloc("open_span_in_place", || {
            open_span_in_place(&rkey, &span, &mut scratch[a..b]).unwrap()
        });
        assert_eq!(
            &scratch[a..b][got],
            &pt[span.plaintext.start as usize..span.plaintext.end as usize]
        );
    }

    // Manifests.
    let segmented = ObjectKey::create(&dek, &params.clone().segmented(true)).unwrap();
    let entries = [
        SegmentEntry {
            number: 1,
            salt: [1; 16],
            plaintext_len: 5 << 20,
        },
        SegmentEntry {
            number: 2,
            salt: [2; 16],
            plaintext_len: 5 << 20,
        },
        SegmentEntry {
            number: 9,
            salt: [3; 16],
            plaintext_len: 12345,
        },
    ];
    assert_no_alloc("encode_manifest", || {
        encode_manifest(&segmented, &entries, &mut manifest).unwrap()
    });
    assert_no_alloc("ManifestView::verify", || {
        let view = ManifestView::verify(&segmented, &manifest).unwrap();
        assert_eq!(view.plaintext_len(), (10 << 20) + 12345);
        assert_eq!(view.locate(6 << 20).unwrap().entry.number, 2);
        assert!(view.locations().count() == 3);
    });
    manifest[10] ^= 1;
    assert_no_alloc("ManifestView::verify, tampered", || {
        ManifestView::verify(&segmented, &manifest).unwrap_err()
    });

    // Key wrapping.
    let kek = assert_no_alloc("LocalKek::new", || {
        LocalKek::new(Kek::from_bytes([4; 32]), "root-key", 3).unwrap()
    });
    let n = assert_no_alloc("LocalKek::wrap_key", || {
        kek.wrap_key(&dek, &ctx, &[5; 32], &mut blob).unwrap()
    });
    let unwrapped = assert_no_alloc("LocalKek::unwrap_key", || {
        let parsed = WrappedKey::parse(&blob[..n]).unwrap();
        kek.unwrap_key(&parsed, &ctx).unwrap()
    });
    assert_eq!(unwrapped, dek);
    assert_no_alloc("LocalKek::unwrap_key, wrong context", || {
        let parsed = WrappedKey::parse(&blob[..n]).unwrap();
        kek.unwrap_key(&parsed, &[0; 32]).unwrap_err()
    });
}
