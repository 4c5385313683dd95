//! Differential: every AES-256-GCM kernel this CPU runs (`Backend::available()`: portable,
//! AES-NI/PCLMULQDQ, VAES 256/512) against the portable backend and against RustCrypto's `aes-gcm`,
//! on the same arbitrary key, nonce, AAD and message (any length, so every tail and block-count
//! path is reached). Sealing must give identical ciphertext and tag everywhere; opening the sealed
//! message must restore the plaintext with every kernel; a flipped tag or ciphertext bit must be
//! refused by every kernel, with the buffer holding the ciphertext again (never plaintext).
#![no_main]

use aes_gcm::aead::{AeadInOut, KeyInit};
use libfuzzer_sys::fuzz_target;
use objseal_core::gcm::{Aes256Gcm, Backend};

fuzz_target!(|data: &[u8]| {
    // key ‖ nonce ‖ aad length ‖ flip position (2 bytes) ‖ aad and message.
    if data.len() < 32 + 12 + 3 {
        return;
    }
    let (key, rest) = data.split_at(32);
    let (nonce, rest) = rest.split_at(12);
    let aad_len = usize::from(rest[0]).min(rest.len() - 3);
    let flip = usize::from(u16::from_le_bytes([rest[1], rest[2]]));
    let (aad, message) = rest[3..].split_at(aad_len);
    let key: [u8; 32] = key.try_into().unwrap();
    let nonce: [u8; 12] = nonce.try_into().unwrap();

    // The reference: RustCrypto's aes-gcm.
    let mut expected = message.to_vec();
    let reference = aes_gcm::Aes256Gcm::new(&key.into());
    let expected_tag: [u8; 16] = reference
        .encrypt_inout_detached(&nonce.into(), aad, expected.as_mut_slice().into())
        .expect("aes-gcm seals any message this short")
        .into();

    for backend in Backend::available() {
        let gcm = Aes256Gcm::with_backend(&key, backend).expect("an available backend");
        let mut sealed = message.to_vec();
        let tag = gcm.seal_in_place(&nonce, aad, &mut sealed);
        assert_eq!(sealed, expected, "{}: ciphertext", backend.name());
        assert_eq!(tag, expected_tag, "{}: tag", backend.name());

        let mut opened = sealed.clone();
        gcm.open_in_place(&nonce, aad, &mut opened, &tag)
            .unwrap_or_else(|e| panic!("{}: its own message refused: {e}", backend.name()));
        assert_eq!(opened, message, "{}: opened", backend.name());

        // One flipped bit of the ciphertext or the tag.
        let mut bad = sealed.clone();
        let mut bad_tag = tag;
        let bit = flip % ((bad.len() + 16) * 8);
        if bit / 8 < bad.len() {
            bad[bit / 8] ^= 1 << (bit % 8);
        } else {
            bad_tag[bit / 8 - bad.len()] ^= 1 << (bit % 8);
        }
        let before = bad.clone();
        assert!(
            gcm.open_in_place(&nonce, aad, &mut bad, &bad_tag).is_err(),
            "{}: a flipped bit was accepted",
            backend.name()
        );
        assert_eq!(bad, before, "{}: a refused open left other bytes", backend.name());
    }
});
