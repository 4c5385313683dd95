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
//!   overwritten). The two instruction streams use different execution units, so the hash is almost
//!   free next to the cipher.
//! * **Tail**: fewer than 128 remaining bytes go through a zero-padded stack block of eight blocks
//!   (wiped afterwards), GHASHed with `H^n..H^1` and one reduction.
//!
//! # Safety
//!
//! The kernels are `#[target_feature]` functions. They are only reachable through an [`AesNiKey`], and
//! [`AesNiKey::new`] returns `None` unless the CPU reports every feature they are compiled for, so an
//! `AesNiKey`'s existence proves that calling them is sound. Every memory access goes through
//! [`load`] and [`store`], which take `&[u8; 16]` / `&mut [u8; 16]` and so can never go out of bounds;
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

        let mut key = Self {
            rk,
            h: [_mm_setzero_si128(); LANES],
            hk: [_mm_setzero_si128(); LANES],
        };

        // H = E(K, 0^128), moved into POLYVAL's field: byte-reverse, then multiply by x.
        let h = mul_x(bswap(key.encrypt_block(_mm_setzero_si128())));
        let mut power = h;
        for i in 0..LANES {
            key.h[i] = power;
            key.hk[i] = karatsuba_half(power);
            power = gf_mul(power, h);
        }
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

    /// Eight consecutive counter blocks from `ctr` (counter in native order in lane 3), already XORed
    /// with the first round key; advances `ctr` by eight.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn counters(&self, ctr: &mut __m128i) -> [__m128i; LANES] {
        let mask = counter_swap_mask();
        let mut blocks = [_mm_setzero_si128(); LANES];
        for (j, b) in blocks.iter_mut().enumerate() {
            let c = _mm_add_epi32(*ctr, _mm_set_epi32(j as i32, 0, 0, 0));
            *b = _mm_xor_si128(_mm_shuffle_epi8(c, mask), self.rk[0]);
        }
        *ctr = _mm_add_epi32(*ctr, _mm_set_epi32(LANES as i32, 0, 0, 0));
        blocks
    }

    /// Rounds 1..=13 of the eight blocks, without the last round.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn rounds(&self, blocks: &mut [__m128i; LANES], first: usize, last: usize) {
        for rk in &self.rk[first..=last] {
            aes_round(blocks, *rk);
        }
    }

    /// Folds the eight blocks of `group` into the GHASH state `s` with one reduction.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ghash_group(&self, s: __m128i, group: &[u8; GROUP]) -> __m128i {
        let (blocks, _) = group.as_chunks::<BLOCK>();
        let mut acc = Acc::new();
        for (j, block) in blocks.iter().enumerate() {
            let mut x = bswap(load(block));
            if j == 0 {
                x = _mm_xor_si128(x, s);
            }
            acc.mul_add(x, self.h[LANES - 1 - j], self.hk[LANES - 1 - j]);
        }
        acc.reduce()
    }

    /// Folds the first `n` (1..=8) blocks of `group` into `s` with `H^n..H^1` and one reduction.
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ghash_partial_group(&self, s: __m128i, group: &[u8; GROUP], n: usize) -> __m128i {
        let (blocks, _) = group.as_chunks::<BLOCK>();
        let mut acc = Acc::new();
        for (j, block) in blocks.iter().take(n).enumerate() {
            let mut x = bswap(load(block));
            if j == 0 {
                x = _mm_xor_si128(x, s);
            }
            acc.mul_add(x, self.h[n - 1 - j], self.hk[n - 1 - j]);
        }
        acc.reduce()
    }

    /// GHASH of `data`, zero-padded to whole blocks, starting from state `s`.
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ghash_padded(&self, mut s: __m128i, data: &[u8]) -> __m128i {
        let (groups, rest) = data.as_chunks::<GROUP>();
        for group in groups {
            s = self.ghash_group(s, group);
        }
        if !rest.is_empty() {
            let mut last = [0u8; GROUP];
            last[..rest.len()].copy_from_slice(rest);
            s = self.ghash_partial_group(s, &last, rest.len().div_ceil(BLOCK));
            last.zeroize();
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
        data: &mut [u8; GROUP],
        hashed: Option<&[u8; GROUP]>,
    ) -> __m128i {
        let mut blocks = self.counters(ctr);
        let s = {
            let (src, _) = hashed.unwrap_or(&*data).as_chunks::<BLOCK>();
            let mut acc = Acc::new();
            // Rounds 1..=8, each next to one block's carry-less multiplications.
            for (j, block) in src.iter().enumerate().take(LANES) {
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
        let last = self.rk[ROUND_KEYS - 1];
        let (out, _) = data.as_chunks_mut::<BLOCK>();
        for (block, ks) in out.iter_mut().zip(blocks) {
            let ks = _mm_aesenclast_si128(ks, last);
            store(block, _mm_xor_si128(load(block), ks));
        }
        s
    }

    /// Plain CTR over one group, no hashing (the first group when encrypting).
    #[inline]
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn ctr_group(&self, ctr: &mut __m128i, data: &mut [u8; GROUP]) {
        let mut blocks = self.counters(ctr);
        self.rounds(&mut blocks, 1, ROUND_KEYS - 2);
        let last = self.rk[ROUND_KEYS - 1];
        let (out, _) = data.as_chunks_mut::<BLOCK>();
        for (block, ks) in out.iter_mut().zip(blocks) {
            let ks = _mm_aesenclast_si128(ks, last);
            store(block, _mm_xor_si128(load(block), ks));
        }
    }

    /// The last `data.len()` < 128 bytes: CTR through a zero-padded stack group, GHASHing the
    /// ciphertext (before decrypting, or after encrypting) with one reduction.
    #[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
    fn tail(&self, ctr: &mut __m128i, mut s: __m128i, data: &mut [u8], decrypt: bool) -> __m128i {
        let len = data.len();
        if len == 0 {
            return s;
        }
        let n = len.div_ceil(BLOCK);
        let mut group = [0u8; GROUP];
        group[..len].copy_from_slice(data);
        if decrypt {
            s = self.ghash_partial_group(s, &group, n);
        }
        self.ctr_group(ctr, &mut group);
        if !decrypt {
            group[len..].fill(0);
            s = self.ghash_partial_group(s, &group, n);
        }
        data.copy_from_slice(&group[..len]);
        group.zeroize();
        s
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
            self.ctr_group(&mut ctr, first);
            let mut prev: &[u8; GROUP] = first;
            for group in rest {
                s = self.ctr_ghash_group(&mut ctr, s, group, Some(prev));
                prev = group;
            }
            s = self.ghash_group(s, prev);
        }
        s = self.tail(&mut ctr, s, tail, false);
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
            s = self.ctr_ghash_group(&mut ctr, s, group, None);
        }
        s = self.tail(&mut ctr, s, tail, true);
        self.finish(s, mask, aad.len(), len)
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
fn gf_mul_k(a: __m128i, b: __m128i, bk: __m128i) -> __m128i {
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
fn aes_round(blocks: &mut [__m128i; LANES], rk: __m128i) {
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
fn bswap(x: __m128i) -> __m128i {
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

/// Loads 16 bytes from any address.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
fn load(block: &[u8; BLOCK]) -> __m128i {
    // SAFETY: `block` is a valid reference to 16 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm_loadu_si128(block.as_ptr().cast()) }
}

/// Stores 16 bytes to any address.
#[inline]
#[target_feature(enable = "aes,pclmulqdq,sse2,ssse3,sse4.1")]
fn store(block: &mut [u8; BLOCK], x: __m128i) {
    // SAFETY: `block` is a valid exclusive reference to 16 writable bytes; `storeu` has no alignment
    // requirement.
    unsafe { _mm_storeu_si128(block.as_mut_ptr().cast(), x) }
}
