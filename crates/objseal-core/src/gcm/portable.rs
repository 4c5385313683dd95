//! Portable AES-256-GCM: the `aes` and `ghash` crates.
//!
//! This is the reference every accelerated backend is tested against. Both crates are constant time in
//! their software paths (bitsliced AES, carry-less multiplication by masking), so no table is ever
//! indexed by secret data. On CPUs with AES instructions those crates pick their own accelerated code;
//! building with `RUSTFLAGS='--cfg aes_backend="soft" --cfg polyval_backend="soft"'` pins them to software
//! (CI runs the backend-equivalence tests that way too).

use aes::Aes256;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;

use super::{BLOCK, TAG_LEN, lengths_block};

/// Counter blocks encrypted per call into the block cipher; lets the `aes` crate use its parallel path.
const BATCH: usize = 8;

/// Expanded key: the AES key schedule and the GHASH key `H`.
pub(crate) struct PortableKey {
    aes: Aes256,
    h: [u8; BLOCK],
}

impl Drop for PortableKey {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.h);
        // The `aes` crate zeroizes its own key schedule on drop.
    }
}

impl PortableKey {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let aes = Aes256::new(&Array::from(*key));
        let mut h = Array::from([0u8; BLOCK]);
        aes.encrypt_block(&mut h);
        Self { aes, h: h.into() }
    }

    fn ghash(&self) -> GHash {
        GHash::new(&Array::from(self.h))
    }

    /// E(K, J0): the mask applied to the GHASH output.
    fn tag_mask(&self, nonce: &[u8; 12]) -> [u8; BLOCK] {
        let mut j0 = Array::from(counter_block(nonce, 1));
        self.aes.encrypt_block(&mut j0);
        j0.into()
    }

    /// XOR the keystream for counters 2, 3, … into `buf`.
    fn ctr(&self, nonce: &[u8; 12], buf: &mut [u8]) {
        let mut counter: u32 = 2;
        for batch in buf.chunks_mut(BATCH * BLOCK) {
            let mut ks = [Array::from([0u8; BLOCK]); BATCH];
            let n = batch.len().div_ceil(BLOCK);
            for block in ks.iter_mut().take(n) {
                *block = Array::from(counter_block(nonce, counter));
                counter = counter.wrapping_add(1);
            }
            self.aes.encrypt_blocks(&mut ks[..n]);
            for (chunk, k) in batch.chunks_mut(BLOCK).zip(ks.iter()) {
                for (b, k) in chunk.iter_mut().zip(k.iter()) {
                    *b ^= k;
                }
            }
        }
    }

    fn tag(&self, nonce: &[u8; 12], aad: &[u8], ciphertext: &[u8]) -> [u8; TAG_LEN] {
        let mut ghash = self.ghash();
        ghash.update_padded(aad);
        ghash.update_padded(ciphertext);
        ghash.update(&[Array::from(lengths_block(aad.len(), ciphertext.len()))]);
        let s: [u8; BLOCK] = ghash.finalize().into();
        let mask = self.tag_mask(nonce);
        core::array::from_fn(|i| s[i] ^ mask[i])
    }

    pub(crate) fn encrypt(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        self.ctr(nonce, buf);
        self.tag(nonce, aad, buf)
    }

    pub(crate) fn decrypt(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let tag = self.tag(nonce, aad, buf);
        self.ctr(nonce, buf);
        tag
    }
}

fn counter_block(nonce: &[u8; 12], counter: u32) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block[..12].copy_from_slice(nonce);
    block[12..].copy_from_slice(&counter.to_be_bytes());
    block
}
