//! AES-NI + PCLMULQDQ backend: AES-256-GCM with eight blocks in flight and CTR and GHASH in one pass.
//!
//! # Layout of the kernel
//!
//! * **AES**: the AES-256 key schedule is expanded with `aeskeygenassist` into 15 round keys. Counter
//!   blocks are encrypted eight at a time so the `aesenc` pipeline stays full.
//! * **GHASH** is computed as POLYVAL (RFC 8452, appendix A): every block is byte-reversed on load, the
//!   hash key is `H·x` in POLYVAL's field, and the final state is byte-reversed back. In that
//!   representation a field product is a plain carry-less product followed by a Montgomery reduction
//!   by `x^128 + x^127 + x^126 + x^121 + 1`, done with two `pclmulqdq`s by the constant `0xc2…00`
//!   (the same trick as Intel's GCM whitepaper and BoringSSL). The key powers `H^1..H^8` are
//!   precomputed, together with the XOR of their halves for Karatsuba multiplication, so eight blocks
//!   are folded in with 24 carry-less multiplications and a single reduction:
//!   `S' = (S ⊕ X1)·H^8 ⊕ X2·H^7 ⊕ … ⊕ X8·H^1`.
//! * **Stitching**: each step of the main loop runs the 14 AES rounds of eight counter blocks and,
//!   between those rounds, the GHASH of eight ciphertext blocks: the previous group's when encrypting
//!   (its ciphertext is already written), the current group's when decrypting (read before it is
//!   overwritten). One pass over memory, and the out-of-order core overlaps the two dependency chains.
//!   Where `aesenc` and `pclmulqdq` issue on different ports (Intel) the hash is almost free; on
//!   AMD Zen 3 they share the two vector pipes, so a group costs about the sum of both (~112 `aesenc`
//!   at 0.5 cycle + 26 `pclmulqdq` at ~2 cycles).
//! * **Tail**: fewer than 128 remaining bytes are encrypted with 2, 4 or 8 blocks in flight and hashed
//!   with `H^n..H^1` and one reduction; only a partial last block goes through a 16-byte stack block
//!   (zero-padded, wiped afterwards).
//!
//! # Safety
//!
//! The kernels are `#[target_feature]` functions. They are only reachable through an [`AesNiKey`], and
//! [`AesNiKey::new`] returns `None` unless the CPU reports every feature they are compiled for, so an
//! `AesNiKey`'s existence proves that calling them is sound. Every memory access goes through
//! `load` and `store`, which take `&[u8; 16]` / `&mut [u8; 16]` and so can never go out of bounds;
//! unaligned addresses are fine because they use `loadu`/`storeu`.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use zeroize::Zeroize;

use super::{BLOCK, TAG_LEN, lengths_block};

cpufeatures::new!(
    cpuid_aes_clmul,
    "aes",
    "pclmulqdq",
    "sse2",
    "ssse3",
    "sse4.1"
);

/// Blocks in flight in the main loop, and GHASH key powers kept.
const LANES: usize = 8;
/// Bytes per main-loop step.
const GROUP: usize = LANES * BLOCK;
/// AES-256 round keys.
const ROUND_KEYS: usize = 15;

/// Whether this CPU has AES-NI, PCLMULQDQ, SSSE3 and SSE4.1. Detected once, then cached.
pub(crate) fn is_supported() -> bool {
    cpuid_aes_clmul::get()
}

/// An expanded AES-256-GCM key for the AES-NI kernel.
///
/// Holding one proves the CPU supports the kernel's target features (see [`AesNiKey::new`]). All of it
/// is secret and wiped on drop; there is deliberately no `Debug`.
pub(crate) struct AesNiKey {
    /// AES-256 encryption round keys.
    rk: [__m128i; ROUND_KEYS],
    /// `h[i]` = `H^(i+1)` in the POLYVAL representation.
    h: [__m128i; LANES],
    /// `hk[i]` = low half XOR high half of `h[i]`, in both halves: Karatsuba's middle operand.
    hk: [__m128i; LANES],
}

impl Drop for AesNiKey {
    fn drop(&mut self) {
        self.rk.zeroize();
        self.h.zeroize();
        self.hk.zeroize();
    }
}

impl AesNiKey {
    /// Expands `key`, or returns `None` when this CPU cannot run the kernel.
    pub(crate) fn new(key: &[u8; 32]) -> Option<Self> {
        if !is_supported() {
            return None;
        }
        // SAFETY: `is_supported()` just confirmed aes, pclmulqdq, sse2, ssse3 and sse4.1, the features
        // `expand` is compiled for.
        Some(unsafe { Self::expand(key) })
    }

    /// CTR-encrypts `buf` in place (counters 2, 3, …) and returns the tag over `aad` and the ciphertext.
    pub(crate) fn encrypt(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        // SAFETY: `self` exists, so `new` saw the CPU support every feature `seal` is compiled for.
        unsafe { self.seal(nonce, aad, buf) }
    }

    /// Returns the tag over `aad` and the ciphertext in `buf`, and CTR-decrypts `buf` in place.
    pub(crate) fn decrypt(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        // SAFETY: `self` exists, so `new` saw the CPU support every feature `open` is compiled for.
        unsafe { self.open(nonce, aad, buf) }
    }

    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn expand(key: &[u8; 32]) -> Self {
        let mut key = Self {
            rk: aes256_round_keys(key),
            h: [_mm_setzero_si128(); LANES],
            hk: [_mm_setzero_si128(); LANES],
        };
        let h = polyval_key(key.encrypt_block(_mm_setzero_si128()));
        key_powers(h, &mut key.h, &mut key.hk);
        key
    }

    /// AES-256 of one block.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn encrypt_block(&self, block: __m128i) -> __m128i {
        let mut x = _mm_xor_si128(block, self.rk[0]);
        for rk in &self.rk[1..ROUND_KEYS - 1] {
            x = _mm_aesenc_si128(x, *rk);
        }
        _mm_aesenclast_si128(x, self.rk[ROUND_KEYS - 1])
    }

    /// `N` consecutive counter blocks from `ctr` (counter in native order in lane 3), already XORed
    /// with the first round key; advances `ctr` by `N`.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn counters<const N: usize>(&self, ctr: &mut __m128i) -> [__m128i; N] {
        let mask = counter_swap_mask();
        let mut blocks = [_mm_setzero_si128(); N];
        for (j, b) in blocks.iter_mut().enumerate() {
            let c = _mm_add_epi32(*ctr, _mm_set_epi32(j as i32, 0, 0, 0));
            *b = _mm_xor_si128(_mm_shuffle_epi8(c, mask), self.rk[0]);
        }
        *ctr = _mm_add_epi32(*ctr, _mm_set_epi32(N as i32, 0, 0, 0));
        blocks
    }

    /// AES rounds `first..=last` (each `1..=13`) on every block.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn rounds<const N: usize>(&self, blocks: &mut [__m128i; N], first: usize, last: usize) {
        for rk in &self.rk[first..=last] {
            aes_round(blocks, *rk);
        }
    }

    /// The last AES round, then XOR of the keystream into `N` whole blocks of `data`.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn finish_xor<const N: usize>(&self, blocks: [__m128i; N], data: &mut [[u8; BLOCK]; N]) {
        let last = self.rk[ROUND_KEYS - 1];
        for (block, ks) in data.iter_mut().zip(blocks) {
            store(
                block,
                _mm_xor_si128(load(block), _mm_aesenclast_si128(ks, last)),
            );
        }
    }

    /// `N` blocks of keystream.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn keystream<const N: usize>(&self, ctr: &mut __m128i) -> [__m128i; N] {
        let mut blocks = self.counters::<N>(ctr);
        self.rounds(&mut blocks, 1, ROUND_KEYS - 2);
        let last = self.rk[ROUND_KEYS - 1];
        for b in &mut blocks {
            *b = _mm_aesenclast_si128(*b, last);
        }
        blocks
    }

    /// Folds `blocks` (1..=8 byte-reversed blocks) into the GHASH state `s` with `H^n..H^1` and one
    /// reduction.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ghash_blocks(&self, s: __m128i, blocks: &[__m128i]) -> __m128i {
        let n = blocks.len();
        let mut acc = Acc::new();
        for (j, &x) in blocks.iter().enumerate() {
            let x = if j == 0 { _mm_xor_si128(x, s) } else { x };
            acc.mul_add(x, self.h[n - 1 - j], self.hk[n - 1 - j]);
        }
        acc.reduce()
    }

    /// Folds one 128-byte group into `s`.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ghash_group(&self, s: __m128i, group: &[[u8; BLOCK]; LANES]) -> __m128i {
        let mut x = [_mm_setzero_si128(); LANES];
        for (x, block) in x.iter_mut().zip(group) {
            *x = bswap(load(block));
        }
        self.ghash_blocks(s, &x)
    }

    /// GHASH of `data`, zero-padded to whole blocks, starting from state `s`.
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ghash_padded(&self, mut s: __m128i, data: &[u8]) -> __m128i {
        let (groups, rest) = data.as_chunks::<GROUP>();
        for group in groups {
            s = self.ghash_group(s, as_blocks(group));
        }
        // Fewer than eight blocks left, the last maybe partial: one aggregated multiplication.
        let (blocks, partial) = rest.as_chunks::<BLOCK>();
        let mut x = [_mm_setzero_si128(); LANES];
        for (x, block) in x.iter_mut().zip(blocks) {
            *x = bswap(load(block));
        }
        let mut n = blocks.len();
        if !partial.is_empty() {
            let mut pad = [0u8; BLOCK];
            pad[..partial.len()].copy_from_slice(partial);
            x[n] = bswap(load(&pad));
            n += 1;
            pad.zeroize();
        }
        if n > 0 {
            s = self.ghash_blocks(s, &x[..n]);
        }
        s
    }

    /// One stitched main-loop step: encrypts eight counter blocks and XORs them into `data`, while
    /// folding eight ciphertext blocks into `s`: those of `hashed` when given (encryption hashes the
    /// previous group), otherwise `data`'s own, read before they are overwritten (decryption).
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ctr_ghash_group(
        &self,
        ctr: &mut __m128i,
        s: __m128i,
        data: &mut [[u8; BLOCK]; LANES],
        hashed: Option<&[[u8; BLOCK]; LANES]>,
    ) -> __m128i {
        let mut blocks = self.counters::<LANES>(ctr);
        let s = {
            let src = hashed.unwrap_or(data);
            let mut acc = Acc::new();
            // Rounds 1..=8, each next to one block's carry-less multiplications.
            for (j, block) in src.iter().enumerate() {
                aes_round(&mut blocks, self.rk[j + 1]);
                let mut x = bswap(load(block));
                if j == 0 {
                    x = _mm_xor_si128(x, s);
                }
                acc.mul_add(x, self.h[LANES - 1 - j], self.hk[LANES - 1 - j]);
            }
            aes_round(&mut blocks, self.rk[LANES + 1]);
            acc.reduce()
        };
        self.rounds(&mut blocks, LANES + 2, ROUND_KEYS - 2);
        self.finish_xor(blocks, data);
        s
    }

    /// Plain CTR over one group, no hashing (the first group when encrypting).
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ctr_group(&self, ctr: &mut __m128i, data: &mut [[u8; BLOCK]; LANES]) {
        let mut blocks = self.counters::<LANES>(ctr);
        self.rounds(&mut blocks, 1, ROUND_KEYS - 2);
        self.finish_xor(blocks, data);
    }

    /// CTR over the last `data.len()` < 128 bytes, with as few blocks in flight as will do.
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ctr_tail(&self, ctr: &mut __m128i, data: &mut [u8]) {
        match data.len() {
            0 => {}
            1..=32 => self.ctr_tail_n::<2>(ctr, data),
            33..=64 => self.ctr_tail_n::<4>(ctr, data),
            _ => self.ctr_tail_n::<LANES>(ctr, data),
        }
    }

    /// CTR over `data` of at most `16·N` bytes; a partial last block goes through a wiped stack block.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ctr_tail_n<const N: usize>(&self, ctr: &mut __m128i, data: &mut [u8]) {
        let ks = self.keystream::<N>(ctr);
        let (blocks, partial) = data.as_chunks_mut::<BLOCK>();
        for (block, &k) in blocks.iter_mut().zip(&ks) {
            store(block, _mm_xor_si128(load(block), k));
        }
        if !partial.is_empty() {
            let mut pad = [0u8; BLOCK];
            pad[..partial.len()].copy_from_slice(partial);
            let k = ks[blocks.len()];
            let x = _mm_xor_si128(load(&pad), k);
            store(&mut pad, x);
            partial.copy_from_slice(&pad[..partial.len()]);
            pad.zeroize();
        }
    }

    /// Counter block `J0` = nonce ‖ 1, in the counter-native layout, and `E(K, J0)`.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn initial_counter(&self, nonce: &[u8; 12]) -> (__m128i, __m128i) {
        let mut j0 = [0u8; BLOCK];
        j0[..12].copy_from_slice(nonce);
        j0[12..].copy_from_slice(&1u32.to_be_bytes());
        let j0 = load(&j0);
        (
            _mm_shuffle_epi8(j0, counter_swap_mask()),
            self.encrypt_block(j0),
        )
    }

    /// Folds in the lengths block and masks the GHASH output with `E(K, J0)`.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn finish(&self, s: __m128i, mask: __m128i, aad_len: usize, ct_len: usize) -> [u8; TAG_LEN] {
        let lengths = bswap(load(&lengths_block(aad_len, ct_len)));
        let s = gf_mul_k(_mm_xor_si128(s, lengths), self.h[0], self.hk[0]);
        let mut tag = [0u8; TAG_LEN];
        store(&mut tag, _mm_xor_si128(bswap(s), mask));
        tag
    }

    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let (j0, mask) = self.initial_counter(nonce);
        let mut ctr = _mm_add_epi32(j0, _mm_set_epi32(1, 0, 0, 0));
        let mut s = self.ghash_padded(_mm_setzero_si128(), aad);
        let len = buf.len();
        let (groups, tail) = buf.as_chunks_mut::<GROUP>();
        if let Some((first, rest)) = groups.split_first_mut() {
            let first = as_blocks_mut(first);
            self.ctr_group(&mut ctr, first);
            let mut prev: &[[u8; BLOCK]; LANES] = first;
            for group in rest {
                let group = as_blocks_mut(group);
                s = self.ctr_ghash_group(&mut ctr, s, group, Some(prev));
                prev = group;
            }
            s = self.ghash_group(s, prev);
        }
        self.ctr_tail(&mut ctr, tail);
        s = self.ghash_padded(s, tail);
        self.finish(s, mask, aad.len(), len)
    }

    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let (j0, mask) = self.initial_counter(nonce);
        let mut ctr = _mm_add_epi32(j0, _mm_set_epi32(1, 0, 0, 0));
        let mut s = self.ghash_padded(_mm_setzero_si128(), aad);
        let len = buf.len();
        let (groups, tail) = buf.as_chunks_mut::<GROUP>();
        for group in groups {
            s = self.ctr_ghash_group(&mut ctr, s, as_blocks_mut(group), None);
        }
        s = self.ghash_padded(s, tail);
        self.ctr_tail(&mut ctr, tail);
        self.finish(s, mask, aad.len(), len)
    }
}

/// The AES-256 key schedule: the 15 encryption round keys of `key`, expanded with
/// `aeskeygenassist`. Shared with the VAES backend.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
pub(super) fn aes256_round_keys(key: &[u8; 32]) -> [__m128i; ROUND_KEYS] {
    let (halves, _) = key.as_chunks::<BLOCK>();
    let mut rk = [_mm_setzero_si128(); ROUND_KEYS];
    rk[0] = load(&halves[0]);
    rk[1] = load(&halves[1]);
    rk[2] = expand_even::<0x01>(rk[0], rk[1]);
    rk[3] = expand_odd(rk[1], rk[2]);
    rk[4] = expand_even::<0x02>(rk[2], rk[3]);
    rk[5] = expand_odd(rk[3], rk[4]);
    rk[6] = expand_even::<0x04>(rk[4], rk[5]);
    rk[7] = expand_odd(rk[5], rk[6]);
    rk[8] = expand_even::<0x08>(rk[6], rk[7]);
    rk[9] = expand_odd(rk[7], rk[8]);
    rk[10] = expand_even::<0x10>(rk[8], rk[9]);
    rk[11] = expand_odd(rk[9], rk[10]);
    rk[12] = expand_even::<0x20>(rk[10], rk[11]);
    rk[13] = expand_odd(rk[11], rk[12]);
    rk[14] = expand_even::<0x40>(rk[12], rk[13]);
    rk
}

/// GHASH's hash key `H = E(K, 0^128)` (given as `e0`) moved into POLYVAL's field: byte-reverse, then
/// multiply by x. Shared with the VAES backend.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
pub(super) fn polyval_key(e0: __m128i) -> __m128i {
    mul_x(bswap(e0))
}

/// Fills `powers[i]` with `h^(i+1)` and `halves[i]` with its [`karatsuba_half`], for every `i` below
/// the shorter length. Shared with the VAES backend.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
pub(super) fn key_powers(h: __m128i, powers: &mut [__m128i], halves: &mut [__m128i]) {
    let mut power = h;
    for (p, k) in powers.iter_mut().zip(halves) {
        *p = power;
        *k = karatsuba_half(power);
        power = gf_mul(power, h);
    }
}

/// Unreduced GHASH accumulator for Karatsuba products: low, high and middle 128-bit parts.
#[derive(Clone, Copy)]
struct Acc {
    lo: __m128i,
    hi: __m128i,
    mid: __m128i,
}

impl Acc {
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn new() -> Self {
        Self {
            lo: _mm_setzero_si128(),
            hi: _mm_setzero_si128(),
            mid: _mm_setzero_si128(),
        }
    }

    /// Adds the carry-less product `x · h` (three `pclmulqdq`s); `hk` is `karatsuba_half(h)`.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn mul_add(&mut self, x: __m128i, h: __m128i, hk: __m128i) {
        self.lo = _mm_xor_si128(self.lo, _mm_clmulepi64_si128::<0x00>(x, h));
        self.hi = _mm_xor_si128(self.hi, _mm_clmulepi64_si128::<0x11>(x, h));
        self.mid = _mm_xor_si128(
            self.mid,
            _mm_clmulepi64_si128::<0x00>(karatsuba_half(x), hk),
        );
    }

    /// Recombines the Karatsuba parts into a 256-bit product and reduces it: `Σ x·h·x^-128 mod P`.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn reduce(self) -> __m128i {
        let mid = _mm_xor_si128(self.mid, _mm_xor_si128(self.lo, self.hi));
        let lo = _mm_xor_si128(self.lo, _mm_slli_si128::<8>(mid));
        let hi = _mm_xor_si128(self.hi, _mm_srli_si128::<8>(mid));
        // Montgomery reduction by P = x^128 + x^127 + x^126 + x^121 + 1, 64 bits at a time: since
        // P ≡ 1 (mod x^64), adding low·P clears the low half, and (low·P − low)/x^64 = low·0xc2…00.
        let poly = _mm_set_epi64x(0xc200_0000_0000_0000_u64 as i64, 0);
        let folded = _mm_xor_si128(
            _mm_shuffle_epi32::<0x4e>(lo),
            _mm_clmulepi64_si128::<0x10>(lo, poly),
        );
        let folded = _mm_xor_si128(
            _mm_shuffle_epi32::<0x4e>(folded),
            _mm_clmulepi64_si128::<0x10>(folded, poly),
        );
        _mm_xor_si128(folded, hi)
    }
}

/// POLYVAL product `a · b · x^-128 mod P`.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
fn gf_mul(a: __m128i, b: __m128i) -> __m128i {
    gf_mul_k(a, b, karatsuba_half(b))
}

/// [`gf_mul`] with `karatsuba_half(b)` precomputed.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
pub(super) fn gf_mul_k(a: __m128i, b: __m128i, bk: __m128i) -> __m128i {
    let mut acc = Acc::new();
    acc.mul_add(a, b, bk);
    acc.reduce()
}

/// `x`'s low half XOR its high half, in both halves.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
fn karatsuba_half(x: __m128i) -> __m128i {
    _mm_xor_si128(x, _mm_shuffle_epi32::<0x4e>(x))
}

/// `h · x mod P` in POLYVAL's field: GHASH's `H` becomes POLYVAL's key this way (RFC 8452, appendix A).
/// Branch-free: the bit shifted out of the top selects the reduction constant with a mask.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
fn mul_x(h: __m128i) -> __m128i {
    let carries = _mm_srli_epi64::<63>(h);
    let shifted = _mm_or_si128(_mm_slli_epi64::<1>(h), _mm_slli_si128::<8>(carries));
    let top = _mm_shuffle_epi32::<0xff>(_mm_srai_epi32::<31>(h));
    let poly = _mm_set_epi64x(0xc200_0000_0000_0000_u64 as i64, 1);
    _mm_xor_si128(shifted, _mm_and_si128(top, poly))
}

/// One AES round on every block.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
fn aes_round<const N: usize>(blocks: &mut [__m128i; N], rk: __m128i) {
    for b in blocks {
        *b = _mm_aesenc_si128(*b, rk);
    }
}

/// AES-256 key schedule, even step: round key `2i+2` from `2i` and `2i+1`.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
fn expand_even<const RCON: i32>(prev2: __m128i, prev1: __m128i) -> __m128i {
    let t = _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<RCON>(prev1));
    _mm_xor_si128(prefix_xor(prev2), t)
}

/// AES-256 key schedule, odd step: round key `2i+3` from `2i+1` and `2i+2` (SubWord without rotation).
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
fn expand_odd(prev2: __m128i, prev1: __m128i) -> __m128i {
    let t = _mm_shuffle_epi32::<0xaa>(_mm_aeskeygenassist_si128::<0>(prev1));
    _mm_xor_si128(prefix_xor(prev2), t)
}

/// Words `w0, w0^w1, w0^w1^w2, w0^w1^w2^w3`: the running XOR of the key schedule.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
fn prefix_xor(x: __m128i) -> __m128i {
    let x = _mm_xor_si128(x, _mm_slli_si128::<4>(x));
    _mm_xor_si128(x, _mm_slli_si128::<8>(x))
}

/// Reverses the 16 bytes (GHASH block ⇄ POLYVAL element).
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
pub(super) fn bswap(x: __m128i) -> __m128i {
    _mm_shuffle_epi8(
        x,
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
    )
}

/// Byte shuffle (its own inverse) between a counter block and the layout where lane 3 holds the
/// big-endian 32-bit counter as a native integer, so `_mm_add_epi32` increments it modulo 2^32.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
fn counter_swap_mask() -> __m128i {
    _mm_set_epi8(12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
}

/// A 128-byte group as its eight blocks.
fn as_blocks(group: &[u8; GROUP]) -> &[[u8; BLOCK]; LANES] {
    let (blocks, _) = group.as_chunks::<BLOCK>();
    blocks.try_into().expect("a group is eight blocks")
}

/// A 128-byte group as its eight blocks, mutably.
fn as_blocks_mut(group: &mut [u8; GROUP]) -> &mut [[u8; BLOCK]; LANES] {
    let (blocks, _) = group.as_chunks_mut::<BLOCK>();
    blocks.try_into().expect("a group is eight blocks")
}

/// Loads 16 bytes from any address.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
pub(super) fn load(block: &[u8; BLOCK]) -> __m128i {
    // SAFETY: `block` is a valid reference to 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(block.as_ptr().cast()) }
}

/// Stores 16 bytes to any address.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
pub(super) fn store(block: &mut [u8; BLOCK], x: __m128i) {
    // SAFETY: `block` is a valid exclusive reference to 16 writable bytes; `storeu` has no alignment
    // requirement.
    unsafe { _mm_storeu_si128(block.as_mut_ptr().cast(), x) }
}
