//! Every accelerated AES-GCM backend must agree byte for byte with `Backend::Portable`.
//!
//! Every test runs each backend this CPU supports (`AesNiClmul`, `Vaes256`, …) against `Portable`.
//! Covers every message length 0..=300 (all tail shapes around one and two 128-byte groups of the
//! AES-NI kernel) and 300..=800 (every tail after one to three 256-byte groups of the VAES kernel),
//! AAD lengths 0..=40 and around 256-byte groups, large messages, unaligned buffers, and tampering
//! (tag, ciphertext and AAD bit flips must fail and leave no plaintext behind). NIST GCM test cases
//! 13–16 (AES-256) pin the answers. On x86-64 the VAES backend's CPU detection (CPUID and XGETBV by
//! hand, for `no_std`) is checked against `std`'s.

use objseal_core::gcm::{Aes256Gcm, Backend};

/// xorshift64*: a tiny deterministic generator, enough to vary inputs (not for keys in real use).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next_u64() as u8;
        }
    }
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        self.fill(&mut a);
        a
    }
}

/// The accelerated backends this CPU can run (everything but `Portable`), with a note when none.
fn accelerated() -> Vec<Backend> {
    let backends: Vec<Backend> = Backend::available()
        .filter(|b| *b != Backend::Portable)
        .collect();
    if backends.is_empty() {
        eprintln!(
            "note: no accelerated AES-GCM backend on this CPU; only the portable one is tested"
        );
    }
    backends
}

/// Seals `msg` with both `backend` and `Portable`, the former in a buffer starting `offset` bytes into
/// a larger array; checks they agree, that `backend` opens both results, and that tampering fails.
fn check_one(
    backend: Backend,
    rng: &mut Rng,
    msg_len: usize,
    aad_len: usize,
    offset: usize,
    tamper: bool,
) {
    let key: [u8; 32] = rng.array();
    let nonce: [u8; 12] = rng.array();
    let mut aad = vec![0u8; aad_len];
    rng.fill(&mut aad);
    let mut msg = vec![0u8; msg_len];
    rng.fill(&mut msg);

    let fast = Aes256Gcm::with_backend(&key, backend).unwrap();
    let reference = Aes256Gcm::with_backend(&key, Backend::Portable).unwrap();
    let ctx = format!("{backend} len {msg_len} aad {aad_len} offset {offset}");

    let mut expected = msg.clone();
    let expected_tag = reference.seal_in_place(&nonce, &aad, &mut expected);

    let mut storage = vec![0u8; msg_len + 32];
    let buf = &mut storage[offset..offset + msg_len];
    buf.copy_from_slice(&msg);
    let tag = fast.seal_in_place(&nonce, &aad, buf);
    assert_eq!(buf, &expected[..], "ciphertext differs: {ctx}");
    assert_eq!(tag, expected_tag, "tag differs: {ctx}");

    // Open in place at another alignment.
    let offset2 = (offset + 7) % 16;
    let buf = &mut storage[offset2..offset2 + msg_len];
    buf.copy_from_slice(&expected);
    fast.open_in_place(&nonce, &aad, buf, &tag)
        .unwrap_or_else(|e| panic!("open failed ({e:?}): {ctx}"));
    assert_eq!(buf, &msg[..], "plaintext differs: {ctx}");

    if !tamper {
        return;
    }
    // A flipped tag bit.
    let mut bad_tag = tag;
    bad_tag[rng.below(16)] ^= 1 << rng.below(8);
    let mut buf = expected.clone();
    assert!(
        fast.open_in_place(&nonce, &aad, &mut buf, &bad_tag)
            .is_err(),
        "bad tag accepted: {ctx}"
    );
    assert_no_plaintext(&buf, &expected, &ctx);
    // A flipped ciphertext bit.
    if msg_len > 0 {
        let mut bad_ct = expected.clone();
        bad_ct[rng.below(msg_len)] ^= 1 << rng.below(8);
        let mut buf = bad_ct.clone();
        assert!(
            fast.open_in_place(&nonce, &aad, &mut buf, &tag).is_err(),
            "bad ciphertext accepted: {ctx}"
        );
        assert_no_plaintext(&buf, &bad_ct, &ctx);
    }
    // A flipped AAD bit.
    if aad_len > 0 {
        let mut bad_aad = aad.clone();
        bad_aad[rng.below(aad_len)] ^= 1 << rng.below(8);
        let mut buf = expected.clone();
        assert!(
            fast.open_in_place(&nonce, &bad_aad, &mut buf, &tag)
                .is_err(),
            "bad AAD accepted: {ctx}"
        );
        assert_no_plaintext(&buf, &expected, &ctx);
    }
}

/// After a failed open the buffer must hold no unauthenticated plaintext: either the ciphertext it was
/// given (restored) or zeros.
fn assert_no_plaintext(buf: &[u8], ciphertext: &[u8], ctx: &str) {
    assert!(
        buf == ciphertext || buf.iter().all(|&b| b == 0),
        "plaintext left in the buffer after a failed open: {ctx}"
    );
}

#[test]
fn every_length_up_to_300() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for backend in accelerated() {
        for msg_len in 0..=300 {
            for _ in 0..3 {
                let aad_len = rng.below(41);
                let offset = rng.below(16);
                check_one(backend, &mut rng, msg_len, aad_len, offset, true);
            }
        }
    }
}

#[test]
fn every_length_around_256_byte_groups() {
    let mut rng = Rng(0x5eed_0256_0256_5eed);
    for backend in accelerated() {
        for msg_len in 301..=800 {
            let aad_len = rng.below(41);
            let offset = rng.below(16);
            check_one(
                backend,
                &mut rng,
                msg_len,
                aad_len,
                offset,
                msg_len % 4 == 0,
            );
        }
    }
}

#[test]
fn every_aad_length_up_to_40() {
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    for backend in accelerated() {
        for aad_len in 0..=40 {
            for msg_len in [0, 1, 15, 16, 17, 127, 128, 129, 255, 256, 257] {
                check_one(backend, &mut rng, msg_len, aad_len, aad_len % 16, true);
            }
        }
        // Long AAD too: several 128-byte groups plus a partial block.
        for aad_len in [127, 128, 129, 255, 256, 257, 511, 512, 513, 1000, 4096 + 3] {
            check_one(backend, &mut rng, 100, aad_len, 3, true);
        }
    }
}

#[test]
fn large_messages() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for backend in accelerated() {
        for msg_len in [1023, 1024, 1025, 4096 + 17, 65536, 65536 + 5, (1 << 20) + 3] {
            for offset in [0, 1, 15] {
                let aad_len = rng.below(41);
                check_one(backend, &mut rng, msg_len, aad_len, offset, true);
            }
        }
    }
}

#[test]
fn unaligned_offsets() {
    let mut rng = Rng(42);
    for backend in accelerated() {
        for offset in 0..16 {
            for msg_len in [5, 16, 100, 128, 200, 1000] {
                check_one(backend, &mut rng, msg_len, 13, offset, false);
            }
        }
    }
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// NIST GCM spec (McGrew & Viega) test cases 13–16, the AES-256 ones, on every available backend.
#[test]
fn nist_gcm_aes256_known_answers() {
    let k0 = "0000000000000000000000000000000000000000000000000000000000000000";
    let k1 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    let p15 = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
               1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    let c15 = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
               8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
    let cases: [(&str, &str, &str, &str, &str, &str); 4] = [
        (
            k0,
            "000000000000000000000000",
            "",
            "",
            "",
            "530f8afbc74536b9a963b4f1c4cb738b",
        ),
        (
            k0,
            "000000000000000000000000",
            "00000000000000000000000000000000",
            "",
            "cea7403d4d606b6e074ec5d3baf39d18",
            "d0d1c8a799996bf0265b98b5d48ab919",
        ),
        (
            k1,
            "cafebabefacedbaddecaf888",
            p15,
            "",
            c15,
            "b094dac5d93471bdec1a502270e3cc6c",
        ),
        (
            k1,
            "cafebabefacedbaddecaf888",
            &p15[..120],
            "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            &c15[..120],
            "76fc6ece0f4e1768cddf8853bb2d551b",
        ),
    ];
    for backend in Backend::available() {
        for (i, (key, nonce, pt, aad, ct, tag)) in cases.iter().enumerate() {
            let key: [u8; 32] = unhex(key).try_into().unwrap();
            let nonce: [u8; 12] = unhex(nonce).try_into().unwrap();
            let gcm = Aes256Gcm::with_backend(&key, backend).unwrap();
            let mut buf = unhex(pt);
            let got = gcm.seal_in_place(&nonce, &unhex(aad), &mut buf);
            assert_eq!(buf, unhex(ct), "{backend}: test case {} ciphertext", 13 + i);
            assert_eq!(
                got.to_vec(),
                unhex(tag),
                "{backend}: test case {} tag",
                13 + i
            );
            gcm.open_in_place(&nonce, &unhex(aad), &mut buf, &got)
                .unwrap();
            assert_eq!(buf, unhex(pt), "{backend}: test case {} open", 13 + i);
        }
    }
}

#[test]
fn keys_differ_per_backend_instance() {
    // Two keys sealing the same input give different outputs on every backend (no shared state).
    let mut rng = Rng(7);
    for backend in Backend::available() {
        let a = Aes256Gcm::with_backend(&rng.array(), backend).unwrap();
        let b = Aes256Gcm::with_backend(&rng.array(), backend).unwrap();
        let (mut x, mut y) = ([0u8; 64], [0u8; 64]);
        let tx = a.seal_in_place(&[0; 12], b"", &mut x);
        let ty = b.seal_in_place(&[0; 12], b"", &mut y);
        assert_ne!(x, y);
        assert_ne!(tx, ty);
    }
}

#[test]
fn vaes_backends_are_listed_last_widest_last() {
    assert_eq!(
        &Backend::ALL[Backend::ALL.len() - 2..],
        &[Backend::Vaes256, Backend::Vaes512]
    );
    assert_eq!(Backend::Vaes256.name(), "vaes256");
    assert_eq!(Backend::Vaes256.to_string(), "vaes256");
    assert_eq!(Backend::Vaes512.name(), "vaes512");
    assert_eq!(Backend::Vaes512.to_string(), "vaes512");
}

/// The AVX-512 backend also reads CPUID and XCR0 itself; it must agree with `std`, which checks the
/// OS-enabled `zmm` state as well.
#[cfg(target_arch = "x86_64")]
#[test]
fn vaes512_detection_matches_std() {
    let std_says = std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("vaes")
        && std::is_x86_feature_detected!("vpclmulqdq")
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("aes")
        && std::is_x86_feature_detected!("pclmulqdq")
        && std::is_x86_feature_detected!("sse4.1")
        && std::is_x86_feature_detected!("ssse3");
    assert_eq!(Backend::Vaes512.is_supported(), std_says);
    assert_eq!(Backend::Vaes512.is_supported(), std_says);
    assert_eq!(
        Aes256Gcm::with_backend(&[0; 32], Backend::Vaes512).is_ok(),
        std_says
    );
    if std_says {
        assert!(Backend::available().any(|b| b == Backend::Vaes512));
        assert_eq!(Backend::detect(), Backend::Vaes512);
    } else {
        eprintln!("note: this CPU has no AVX-512 + VAES; the vaes512 backend is not tested");
    }
}

/// The VAES backend reads CPUID and XCR0 itself (no `std` in the core); it must agree with `std`.
#[cfg(target_arch = "x86_64")]
#[test]
fn vaes256_detection_matches_std() {
    let std_says = std::is_x86_feature_detected!("vaes")
        && std::is_x86_feature_detected!("vpclmulqdq")
        && std::is_x86_feature_detected!("avx2")
        && std::is_x86_feature_detected!("avx")
        && std::is_x86_feature_detected!("aes")
        && std::is_x86_feature_detected!("pclmulqdq")
        && std::is_x86_feature_detected!("sse4.2")
        && std::is_x86_feature_detected!("sse4.1")
        && std::is_x86_feature_detected!("ssse3")
        && std::is_x86_feature_detected!("sse3");
    assert_eq!(Backend::Vaes256.is_supported(), std_says);
    // Asking twice gives the cached answer.
    assert_eq!(Backend::Vaes256.is_supported(), std_says);
    assert_eq!(
        Aes256Gcm::with_backend(&[0; 32], Backend::Vaes256).is_ok(),
        std_says
    );
    if std_says {
        assert!(Backend::available().any(|b| b == Backend::Vaes256));
    } else {
        eprintln!(
            "note: this CPU has no VAES + VPCLMULQDQ + AVX2; the vaes256 backend is not tested"
        );
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[test]
fn vaes_backends_are_x86_64_only() {
    for backend in [Backend::Vaes256, Backend::Vaes512] {
        assert!(!backend.is_supported());
        assert!(Aes256Gcm::with_backend(&[0; 32], backend).is_err());
    }
}
