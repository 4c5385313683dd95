//! AES-256-GCM throughput: every objseal backend this CPU supports, side by side with `ring`,
//! `aws-lc-rs` and RustCrypto's `aes-gcm`, sealing and opening one message in place (12-byte nonce,
//! no AAD, detached tag).
//!
//! Groups are `seal/<bytes>` and `open/<bytes>` for 1 KiB, 16 KiB, 64 KiB and 1 MiB; the function
//! name is the implementation (`objseal-<backend>`, `ring`, `aws-lc-rs`, `aes-gcm`). Compare within one
//! run: see `benches/README.md`. `OBJSEAL_BENCH_QUICK=1` shortens every measurement.
//!
//! Before measuring, every implementation's ciphertext and tag are checked against objseal's, so the
//! bench never compares implementations that do different work.

use std::hint::black_box;
use std::time::Duration;

use aes_gcm::aead::{AeadInOut, KeyInit};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use objseal_core::gcm::{Aes256Gcm, Backend, TAG_LEN};

const SIZES: [usize; 4] = [1 << 10, 16 << 10, 64 << 10, 1 << 20];
const KEY: [u8; 32] = [0x42; 32];
const NONCE: [u8; 12] = [0x24; 12];

/// `OBJSEAL_BENCH_QUICK=1` (or any value but `0` / empty): short warm-up and measurement.
fn quick() -> bool {
    std::env::var("OBJSEAL_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// One AES-256-GCM implementation, sealing and opening in place with a detached tag.
trait Gcm {
    fn name(&self) -> String;
    fn seal(&self, buf: &mut [u8]) -> [u8; TAG_LEN];
    /// Whether the tag verified (the buffer then holds the plaintext).
    fn open(&self, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool;
}

struct Objseal(Aes256Gcm);

impl Gcm for Objseal {
    fn name(&self) -> String {
        format!("objseal-{}", self.0.backend())
    }
    fn seal(&self, buf: &mut [u8]) -> [u8; TAG_LEN] {
        self.0.seal_in_place(&NONCE, &[], buf)
    }
    fn open(&self, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        self.0.open_in_place(&NONCE, &[], buf, tag).is_ok()
    }
}

struct Ring(ring::aead::LessSafeKey);

impl Gcm for Ring {
    fn name(&self) -> String {
        "ring".into()
    }
    fn seal(&self, buf: &mut [u8]) -> [u8; TAG_LEN] {
        use ring::aead::{Aad, Nonce};
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(NONCE), Aad::empty(), buf)
            .expect("ring seal");
        tag.as_ref().try_into().expect("16-byte tag")
    }
    fn open(&self, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        use ring::aead::{Aad, Nonce, Tag};
        self.0
            .open_in_place_separate_tag(
                Nonce::assume_unique_for_key(NONCE),
                Aad::empty(),
                Tag::from(*tag),
                buf,
                0..,
            )
            .is_ok()
    }
}

struct AwsLc(aws_lc_rs::aead::LessSafeKey);

impl Gcm for AwsLc {
    fn name(&self) -> String {
        "aws-lc-rs".into()
    }
    fn seal(&self, buf: &mut [u8]) -> [u8; TAG_LEN] {
        use aws_lc_rs::aead::{Aad, Nonce};
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(NONCE), Aad::empty(), buf)
            .expect("aws-lc-rs seal");
        tag.as_ref().try_into().expect("16-byte tag")
    }
    fn open(&self, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        use aws_lc_rs::aead::{Aad, Nonce};
        self.0
            .open_in_place_separate_tag(Nonce::assume_unique_for_key(NONCE), Aad::empty(), tag, buf)
            .is_ok()
    }
}

struct RustCrypto(aes_gcm::Aes256Gcm);

impl Gcm for RustCrypto {
    fn name(&self) -> String {
        "aes-gcm".into()
    }
    fn seal(&self, buf: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = self
            .0
            .encrypt_inout_detached(&NONCE.into(), &[], buf.into())
            .expect("aes-gcm seal");
        tag.into()
    }
    fn open(&self, buf: &mut [u8], tag: &[u8; TAG_LEN]) -> bool {
        self.0
            .decrypt_inout_detached(&NONCE.into(), &[], buf.into(), &(*tag).into())
            .is_ok()
    }
}

/// Every objseal backend this CPU runs, then the reference implementations.
fn implementations() -> Vec<Box<dyn Gcm>> {
    let mut all: Vec<Box<dyn Gcm>> = Backend::available()
        .map(|b| {
            Box::new(Objseal(
                Aes256Gcm::with_backend(&KEY, b).expect("available"),
            )) as Box<dyn Gcm>
        })
        .collect();
    let ring_key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &KEY).expect("ring key");
    all.push(Box::new(Ring(ring::aead::LessSafeKey::new(ring_key))));
    let aws_key = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, &KEY)
        .expect("aws-lc-rs key");
    all.push(Box::new(AwsLc(aws_lc_rs::aead::LessSafeKey::new(aws_key))));
    all.push(Box::new(RustCrypto(aes_gcm::Aes256Gcm::new(&KEY.into()))));
    all
}

fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

/// Every implementation must produce objseal's ciphertext and tag and open it again.
fn cross_check(impls: &[Box<dyn Gcm>]) {
    for len in [0, 1, 15, 16, 17, 255, 4096 + 3, 1 << 16] {
        let pt = message(len);
        let mut reference = pt.clone();
        let reference_tag = impls[0].seal(&mut reference);
        for imp in impls {
            let mut buf = pt.clone();
            let tag = imp.seal(&mut buf);
            assert!(
                buf == reference && tag == reference_tag,
                "{} disagrees with {} at {len} bytes",
                imp.name(),
                impls[0].name()
            );
            assert!(
                imp.open(&mut buf, &tag),
                "{} cannot open its own output",
                imp.name()
            );
            assert_eq!(buf, pt, "{} opened to the wrong plaintext", imp.name());
        }
    }
}

fn bench_gcm(c: &mut Criterion) {
    let impls = implementations();
    cross_check(&impls);

    for &size in &SIZES {
        let mut group = c.benchmark_group(format!("seal/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        for imp in &impls {
            let mut buf = message(size);
            group.bench_function(imp.name(), |b| {
                // Sealing re-encrypts the previous output each time: same work as fresh plaintext.
                b.iter(|| black_box(imp.seal(black_box(&mut buf))));
            });
        }
        group.finish();

        let mut group = c.benchmark_group(format!("open/{size}"));
        group.throughput(Throughput::Bytes(size as u64));
        // Opening in place consumes the ciphertext, and re-sealing it inside the timed closure would
        // time the sealer too. So every implementation, alike, opens a fresh clone of one prepared
        // ciphertext made by criterion's `iter_batched_ref` outside the timed region. (Restoring the
        // buffer with `copy_from_slice` inside the closure was tried and rejected: two heap buffers
        // of 4–64 KiB often sit 16 bytes apart modulo 4096, which on AMD Zen 3 hits a `rep movsb`
        // slow path — ~2 GB/s instead of ~50 — so the copy outweighed the decryption it was meant
        // to be negligible next to.)
        for imp in &impls {
            let mut ciphertext = message(size);
            let tag = imp.seal(&mut ciphertext);
            group.bench_function(imp.name(), |b| {
                b.iter_batched_ref(
                    || ciphertext.clone(),
                    |buf| assert!(imp.open(black_box(buf), &tag)),
                    BatchSize::SmallInput,
                );
            });
        }
        group.finish();
    }
}

fn config() -> Criterion {
    let c = Criterion::default();
    if quick() {
        c.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20)
    } else {
        c
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_gcm
}
criterion_main!(benches);
