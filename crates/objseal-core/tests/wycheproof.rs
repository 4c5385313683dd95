//! AES-256-GCM correctness on every backend this CPU runs: the Wycheproof AES-GCM vectors (256-bit
//! keys, 96-bit nonces, 128-bit tags) and the NIST GCM spec known answers.

use objseal_core::gcm::{Aes256Gcm, Backend, Tag};
use wycheproof::TestResult;
use wycheproof::aead::{TestName, TestSet};

#[test]
fn wycheproof_aes_256_gcm_every_backend() {
    let set = TestSet::load(TestName::AesGcm).expect("wycheproof aes_gcm vectors");
    let backends: Vec<Backend> = Backend::available().collect();
    assert!(backends.contains(&Backend::Portable));
    let mut checked = 0usize;
    let mut invalid = 0usize;
    for group in set
        .test_groups
        .iter()
        .filter(|g| g.key_size == 256 && g.nonce_size == 96 && g.tag_size == 128)
    {
        for test in &group.tests {
            let key: [u8; 32] = test.key[..].try_into().unwrap();
            let nonce: [u8; 12] = test.nonce[..].try_into().unwrap();
            let tag: Tag = test.tag[..].try_into().unwrap();
            let id = test.tc_id;
            for &backend in &backends {
                let gcm = Aes256Gcm::with_backend(&key, backend).unwrap();
                match test.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        let mut buf = test.pt.to_vec();
                        let got = gcm.seal_in_place(&nonce, &test.aad, &mut buf);
                        assert_eq!(&buf[..], &test.ct[..], "{backend} tc {id}: ciphertext");
                        assert_eq!(got, tag, "{backend} tc {id}: tag");
                        gcm.open_in_place(&nonce, &test.aad, &mut buf, &tag)
                            .unwrap_or_else(|e| panic!("{backend} tc {id}: open failed: {e}"));
                        assert_eq!(&buf[..], &test.pt[..], "{backend} tc {id}: plaintext");
                    }
                    TestResult::Invalid => {
                        let mut buf = test.ct.to_vec();
                        let r = gcm.open_in_place(&nonce, &test.aad, &mut buf, &tag);
                        assert!(r.is_err(), "{backend} tc {id}: invalid vector opened");
                        // A failed open restores the ciphertext: no unverified plaintext is left.
                        assert_eq!(
                            &buf[..],
                            &test.ct[..],
                            "{backend} tc {id}: buffer not restored"
                        );
                    }
                }
            }
            checked += 1;
            invalid += usize::from(test.result == TestResult::Invalid);
        }
    }
    // The 0.7 data set has well over a hundred such vectors; make sure the filter did not empty it.
    assert!(checked >= 50, "only {checked} wycheproof vectors matched");
    assert!(invalid >= 10, "only {invalid} invalid vectors matched");
    eprintln!("wycheproof: {checked} vectors ({invalid} invalid) x {backends:?}");
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// NIST GCM spec (McGrew & Viega, "The Galois/Counter Mode of Operation") test cases 13–16: the AES-256
/// cases with 96-bit IVs. Cases 17 and 18 use 64- and 480-bit IVs, which this API (96-bit nonces
/// only, as the format uses) does not take.
#[test]
fn nist_gcm_test_cases_13_to_16_every_backend() {
    let k0 = "0000000000000000000000000000000000000000000000000000000000000000";
    let k1 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
    let p = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72\
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
    let c = "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa\
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad";
    // (case, key, iv, plaintext, aad, ciphertext, tag)
    let cases = [
        (
            13,
            k0,
            "000000000000000000000000",
            "",
            "",
            "",
            "530f8afbc74536b9a963b4f1c4cb738b",
        ),
        (
            14,
            k0,
            "000000000000000000000000",
            "00000000000000000000000000000000",
            "",
            "cea7403d4d606b6e074ec5d3baf39d18",
            "d0d1c8a799996bf0265b98b5d48ab919",
        ),
        (
            15,
            k1,
            "cafebabefacedbaddecaf888",
            p,
            "",
            c,
            "b094dac5d93471bdec1a502270e3cc6c",
        ),
        (
            16,
            k1,
            "cafebabefacedbaddecaf888",
            &p[..120],
            "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            &c[..120],
            "76fc6ece0f4e1768cddf8853bb2d551b",
        ),
    ];
    for backend in Backend::available() {
        for (case, key, iv, pt, aad, ct, tag) in cases {
            let key: [u8; 32] = unhex(key).try_into().unwrap();
            let nonce: [u8; 12] = unhex(iv).try_into().unwrap();
            let (pt, aad, ct) = (unhex(pt), unhex(aad), unhex(ct));
            let tag: Tag = unhex(tag).try_into().unwrap();
            let gcm = Aes256Gcm::with_backend(&key, backend).unwrap();

            let mut buf = pt.clone();
            assert_eq!(
                gcm.seal_in_place(&nonce, &aad, &mut buf),
                tag,
                "{backend} case {case}: tag"
            );
            assert_eq!(buf, ct, "{backend} case {case}: ciphertext");
            gcm.open_in_place(&nonce, &aad, &mut buf, &tag).unwrap();
            assert_eq!(buf, pt, "{backend} case {case}: open");

            // Any single flipped tag bit fails and leaves the ciphertext in place.
            for bit in [0, 63, 127] {
                let mut bad = tag;
                bad[bit / 8] ^= 1 << (bit % 8);
                let mut buf = ct.clone();
                assert!(gcm.open_in_place(&nonce, &aad, &mut buf, &bad).is_err());
                assert_eq!(buf, ct, "{backend} case {case}: buffer not restored");
            }
            if !aad.is_empty() {
                let mut buf = ct.clone();
                assert!(
                    gcm.open_in_place(&nonce, &aad[1..], &mut buf, &tag)
                        .is_err()
                );
            }
        }
    }
}
