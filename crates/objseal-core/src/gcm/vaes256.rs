//! VAES + VPCLMULQDQ backend (AVX2): AES-256-GCM with sixteen blocks in flight in eight 256-bit
//! registers, CTR and GHASH in one pass.
//!
//! # Layout of the kernel
//!
//! * **Vectors**: every `ymm` register holds two consecutive blocks, the earlier one in the low 128-bit
//!   lane. `vaesenc`, `vpclmulqdq` and `vpshufb` work on the two lanes independently.
//! * **AES**: the AES-256 key schedule is expanded with `aeskeygenassist` into 15 round keys, each
//!   stored twice (both lanes) so a round is one `vaesenc` per register. The main loop encrypts sixteen
//!   counter blocks (eight registers) per step: with `vaesenc`'s latency of 4 cycles and two issued
//!   per cycle on Zen 3, eight independent registers are what it takes to keep both AES pipes busy
//!   (BoringSSL's AVX2 kernel, which `ring` uses, keeps four and is latency-bound).
//! * **Counters**: a group of sixteen blocks always starts at a counter `16k + 2` (the message starts
//!   at 2), so its blocks are `a + 2 … a + 17` with `a = 16k`; below `a + 16` adding to a multiple of
//!   16 only sets the low bits of the last byte, so every counter register is one `vpxor` of a
//!   per-group base (the counter block of `a`, or of `a + 16`, with the first round key already XORed
//!   in) and a constant. The bases are made once per group from a register that holds the counter as a
//!   native 32-bit integer in each lane's last word (a byte shuffle away from GCM's big-endian), so
//!   the counter wraps modulo 2^32 exactly as the standard says. The tail uses that register directly:
//!   one `vpaddd` and one `vpshufb` per register.
//! * **GHASH** is computed as POLYVAL (RFC 8452, appendix A), as in the AES-NI backend: blocks are
//!   byte-reversed on load, the key is `H·x`, and a product is a carry-less product followed by a
//!   Montgomery reduction by `x^128 + x^127 + x^126 + x^121 + 1` with two multiplications by
//!   `0xc2…00`. The key powers `H^16..H^1` are precomputed in one flat table, highest first, so the
//!   32-byte load at index `i` is the pair `[H^(16−i), H^(15−i)]` that multiplies blocks `i, i+1` of a
//!   sixteen-block group; a 17th, zero entry pads the table for an odd block count. A second table holds
//!   each power's two 64-bit halves XORed together for Karatsuba multiplication, which needs three
//!   `vpclmulqdq`s per register instead of four (a 256-bit `vpclmulqdq` issues only every other cycle
//!   on Zen 3, so multiplications are the second-largest cost after AES itself). Sixteen
//!   blocks are folded in with 24 multiplications and a single reduction (2 more), done on both lanes
//!   at once before they are added together: `S' = (S ⊕ X1)·H^16 ⊕ X2·H^15 ⊕ … ⊕ X16·H^1`.
//! * **Stitching**: each step of the main loop runs the 14 AES rounds of sixteen counter blocks and,
//!   between those rounds, the GHASH of sixteen ciphertext blocks: the previous group's when
//!   encrypting (its ciphertext is already written), the current group's when decrypting (read before
//!   it is overwritten). On Zen 3 a 256-bit `vpclmulqdq` takes about as much of the two AES pipes as
//!   two `vaesenc`s, so the hash is never free there; stitching still lets one run in the other's
//!   latency gaps.
//! * **Scheduling fences**: left alone, LLVM reorders the round-major AES code into one register at a
//!   time through all 14 rounds (a single 56-cycle dependency chain in program order) and hoists the
//!   whole GHASH above it: the CTR part alone then runs at about 100 cycles per group instead of 60,
//!   and the stitched loop no faster than CTR and GHASH one after the other. An empty `asm!` statement
//!   that takes the eight AES registers (and, in the main loop, the GHASH accumulators) in registers
//!   and hands them back pins each round in place; it emits no instruction.
//! * **Tail**: fewer than 256 remaining bytes are encrypted with 1, 2, 4 or 8 registers in flight and
//!   hashed with `H^n..H^1` and one reduction; only a last partial register goes through a 32-byte
//!   stack buffer (zero-padded, wiped afterwards).
//!
//! # Safety
//!
//! The kernels are `#[target_feature]` functions. They are only reachable through a [`Vaes256Key`],
//! and [`Vaes256Key::new`] returns `None` unless the CPU reports every feature they are compiled for
//! (checked by hand with CPUID and XGETBV: see [`is_supported`]), so a `Vaes256Key`'s existence proves
//! that calling them is sound. Every memory access goes through the `load*` and `store*` helpers, which
//! take references to arrays of exactly the size they access and so can never go out of bounds;
//! unaligned addresses are fine because they use `loadu`/`storeu`. The other `unsafe` blocks are the
//! `xgetbv` after CPUID has reported OSXSAVE, the empty `asm!` fences (no instruction, no memory), and
//! one volatile store that wipes a stack buffer.

use core::arch::x86_64::*;
use core::sync::atomic::{AtomicU8, Ordering};

use zeroize::Zeroize;

use super::aesni::{aes256_round_keys, bswap, gf_mul_k, key_powers, load, polyval_key, store};
use super::{BLOCK, TAG_LEN, lengths_block};

/// 256-bit registers (two blocks each) in flight in the main loop.
const VECS: usize = 8;
/// Blocks per main-loop step, and GHASH key powers kept.
const LANES: usize = 2 * VECS;
/// Bytes per register.
const VEC: usize = 2 * BLOCK;
/// Bytes per main-loop step.
const GROUP: usize = LANES * BLOCK;
/// AES-256 round keys.
const ROUND_KEYS: usize = 15;
/// Entries of the key-power tables: `H^16..H^1` and a zero entry.
const POWERS: usize = LANES + 1;

/// Cached result of [`cpu_has`] for this kernel.
static SUPPORT: CachedSupport = CachedSupport::new();

/// Whether this CPU and OS can run the kernel: VAES, VPCLMULQDQ, AVX2, AES-NI, PCLMULQDQ, and the
/// OS saving the `ymm` state. Detected once, then cached.
pub(crate) fn is_supported() -> bool {
    // CPUID.(7,0):EBX: AVX2. CPUID.(7,0):ECX: VAES, VPCLMULQDQ.
    const LEAF7_EBX: u32 = 1 << 5;
    const LEAF7_ECX: u32 = 1 << 9 | 1 << 10;
    // XCR0: SSE (xmm) and AVX (upper ymm halves) state enabled by the OS.
    const XCR0_SSE_AVX: u64 = 1 << 1 | 1 << 2;
    SUPPORT.get(|| cpu_has(LEAF7_EBX, LEAF7_ECX, XCR0_SSE_AVX))
}

/// A detection result computed once per process: not yet known, absent or present.
pub(super) struct CachedSupport(AtomicU8);

impl CachedSupport {
    const UNKNOWN: u8 = 0;
    const ABSENT: u8 = 1;
    const PRESENT: u8 = 2;

    pub(super) const fn new() -> Self {
        Self(AtomicU8::new(Self::UNKNOWN))
    }

    /// The cached answer, or `detect()`'s (then cached).
    pub(super) fn get(&self, detect: impl FnOnce() -> bool) -> bool {
        match self.0.load(Ordering::Relaxed) {
            Self::PRESENT => true,
            Self::ABSENT => false,
            _ => {
                let found = detect();
                let state = if found { Self::PRESENT } else { Self::ABSENT };
                self.0.store(state, Ordering::Relaxed);
                found
            }
        }
    }
}

/// Whether CPUID reports the SSE3 … AES, OSXSAVE and AVX features every wide kernel needs plus the
/// `leaf7_ebx` and `leaf7_ecx` bits of leaf 7, and XCR0 shows the OS saving every `xcr0` state.
///
/// Read directly: `is_x86_feature_detected!` needs `std`, and `cpufeatures` 0.3 ties VAES and
/// VPCLMULQDQ to the AVX-512 state, which would rule out AMD Zen 3 and Intel client cores.
pub(super) fn cpu_has(leaf7_ebx: u32, leaf7_ecx: u32, xcr0: u64) -> bool {
    // CPUID.1:ECX: SSE3, PCLMULQDQ, SSSE3, SSE4.1, SSE4.2, AES, OSXSAVE, AVX.
    const LEAF1_ECX: u32 = 1 | 1 << 1 | 1 << 9 | 1 << 19 | 1 << 20 | 1 << 25 | 1 << 27 | 1 << 28;
    if __cpuid(0).eax < 7 {
        return false;
    }
    if __cpuid(1).ecx & LEAF1_ECX != LEAF1_ECX {
        return false;
    }
    let leaf7 = __cpuid_count(7, 0);
    if leaf7.ebx & leaf7_ebx != leaf7_ebx || leaf7.ecx & leaf7_ecx != leaf7_ecx {
        return false;
    }
    // SAFETY: CPUID reported OSXSAVE just above, so XGETBV is enabled and XCR0 (index 0) exists.
    let state = unsafe { _xgetbv(0) };
    state & xcr0 == xcr0
}

/// An expanded AES-256-GCM key for the VAES kernel.
///
/// Holding one proves the CPU supports the kernel's target features (see [`Vaes256Key::new`]). All of
/// it is secret and wiped on drop; there is deliberately no `Debug`.
pub(crate) struct Vaes256Key {
    /// AES-256 encryption round keys, each in both lanes.
    rk: [__m256i; ROUND_KEYS],
    /// `h[i]` = `H^(16−i)` in the POLYVAL representation for `i < 16`; `h[16]` = 0.
    h: [__m128i; POWERS],
    /// `hk[i]` = low half XOR high half of `h[i]`, in both halves: Karatsuba's middle operand.
    hk: [__m128i; POWERS],
}

impl Drop for Vaes256Key {
    fn drop(&mut self) {
        self.rk.zeroize();
        self.h.zeroize();
        self.hk.zeroize();
    }
}

impl Vaes256Key {
    /// Expands `key`, or returns `None` when this CPU cannot run the kernel.
    pub(crate) fn new(key: &[u8; 32]) -> Option<Self> {
        if !is_supported() {
            return None;
        }
        // SAFETY: `is_supported()` just confirmed every feature `expand` is compiled for.
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

    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn expand(key: &[u8; 32]) -> Self {
        let mut rk = aes256_round_keys(key);
        let mut key = Self {
            rk: [_mm256_setzero_si256(); ROUND_KEYS],
            h: [_mm_setzero_si128(); POWERS],
            hk: [_mm_setzero_si128(); POWERS],
        };
        for (wide, narrow) in key.rk.iter_mut().zip(&rk) {
            *wide = _mm256_broadcastsi128_si256(*narrow);
        }
        rk.zeroize();

        // `H^1..H^16` in ascending order, then reversed so that `h[i]` = `H^(16−i)`; `h[16]` stays 0.
        let h = polyval_key(key.encrypt_block(_mm_setzero_si128()));
        key_powers(h, &mut key.h[..LANES], &mut key.hk[..LANES]);
        key.h[..LANES].reverse();
        key.hk[..LANES].reverse();
        key
    }

    /// AES-256 of one block.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn encrypt_block(&self, block: __m128i) -> __m128i {
        let mut x = _mm_xor_si128(block, _mm256_castsi256_si128(self.rk[0]));
        for rk in &self.rk[1..ROUND_KEYS - 1] {
            x = _mm_aesenc_si128(x, _mm256_castsi256_si128(*rk));
        }
        _mm_aesenclast_si128(x, _mm256_castsi256_si128(self.rk[ROUND_KEYS - 1]))
    }

    /// The 32-byte pair of key powers `[H^(16−i), H^(15−i)]` (`H^0` meaning the zero entry).
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn powers(&self, i: usize) -> (__m256i, __m256i) {
        (load_pair(&self.h, i), load_pair(&self.hk, i))
    }

    /// `N` registers of consecutive counter blocks from `ctr` (the tail's), already XORed with the
    /// first round key; advances `ctr` by `2N` blocks.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn counters<const N: usize>(&self, ctr: &mut __m256i) -> [__m256i; N] {
        let mask = counter_swap_mask();
        let mut blocks = [_mm256_setzero_si256(); N];
        for (j, b) in blocks.iter_mut().enumerate() {
            let c = _mm256_add_epi32(*ctr, counter_step(2 * j as i32));
            *b = _mm256_xor_si256(_mm256_shuffle_epi8(c, mask), self.rk[0]);
        }
        *ctr = _mm256_add_epi32(*ctr, counter_step(2 * N as i32));
        blocks
    }

    /// The sixteen counter blocks of the next group, already XORed with the first round key.
    ///
    /// Groups start at counters `16k + 2` (the message starts at 2 and groups are sixteen blocks), so
    /// with `a = 16k` the blocks are `a + 2 … a + 15` and `a + 16, a + 17`: `a` and `a + 16` are
    /// multiples of 16, and adding `n < 16` to them only sets the low bits of their last byte, which an
    /// XOR does as well. So each register is one XOR of a per-group base (`E`'s first round key
    /// already folded in) with a constant, and the only carries, into `a + 16`, are done once per group
    /// by a 32-bit addition.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn group_counters(&self, ctr: &mut GroupCounter) -> [__m256i; VECS] {
        ctr.native = _mm256_add_epi32(ctr.native, counter_step(16));
        let next = _mm256_xor_si256(
            _mm256_shuffle_epi8(ctr.native, counter_swap_mask()),
            self.rk[0],
        );
        let mut blocks = [_mm256_setzero_si256(); VECS];
        for (j, b) in blocks.iter_mut().enumerate() {
            *b = if j + 1 < VECS {
                _mm256_xor_si256(ctr.base, last_byte_pair(2 + 2 * j as i32))
            } else {
                _mm256_xor_si256(next, last_byte_pair(0))
            };
        }
        ctr.base = next;
        blocks
    }

    /// AES rounds `first..=last` (each `1..=13`) on every register.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn rounds<const N: usize>(&self, blocks: &mut [__m256i; N], first: usize, last: usize) {
        for rk in &self.rk[first..=last] {
            aes_round(blocks, *rk);
        }
    }

    /// The last AES round fused with the XOR of the keystream into `N` whole registers of `data`
    /// (`aesenclast(x, k) ⊕ d = aesenclast(x, k ⊕ d)`).
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn finish_xor<const N: usize>(&self, blocks: [__m256i; N], data: &mut [[u8; VEC]; N]) {
        let last = self.rk[ROUND_KEYS - 1];
        for (chunk, ks) in data.iter_mut().zip(blocks) {
            let k = _mm256_xor_si256(load2(chunk), last);
            store2(chunk, _mm256_aesenclast_epi128(ks, k));
        }
    }

    /// `N` registers of keystream.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn keystream<const N: usize>(&self, ctr: &mut __m256i) -> [__m256i; N] {
        let mut blocks = self.counters::<N>(ctr);
        self.rounds(&mut blocks, 1, ROUND_KEYS - 2);
        let last = self.rk[ROUND_KEYS - 1];
        for b in &mut blocks {
            *b = _mm256_aesenclast_epi128(*b, last);
        }
        blocks
    }

    /// Folds one 256-byte group into `s`: sixteen blocks, one reduction.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn ghash_group(&self, s: __m128i, group: &[[u8; VEC]; VECS]) -> __m128i {
        let mut acc = Acc::new();
        for (j, chunk) in group.iter().enumerate() {
            let mut x = bswap2(load2(chunk));
            if j == 0 {
                x = _mm256_xor_si256(x, _mm256_zextsi128_si256(s));
            }
            let (h, hk) = self.powers(2 * j);
            acc.mul_add(x, h, hk);
        }
        acc.reduce()
    }

    /// Folds `data` (fewer than 256 bytes, the last block zero-padded) into `s` with `H^n..H^1` and
    /// one reduction.
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn ghash_short(&self, s: __m128i, data: &[u8]) -> __m128i {
        if data.is_empty() {
            return s;
        }
        let first = LANES - data.len().div_ceil(BLOCK);
        let (chunks, rest) = data.as_chunks::<VEC>();
        let mut acc = Acc::new();
        let mut x = _mm256_zextsi128_si256(s);
        for (j, chunk) in chunks.iter().enumerate() {
            x = _mm256_xor_si256(x, bswap2(load2(chunk)));
            let (h, hk) = self.powers(first + 2 * j);
            acc.mul_add(x, h, hk);
            x = _mm256_setzero_si256();
        }
        if !rest.is_empty() {
            let mut pad = [0u8; VEC];
            pad[..rest.len()].copy_from_slice(rest);
            x = _mm256_xor_si256(x, bswap2(load2(&pad)));
            wipe(&mut pad);
            let (h, hk) = self.powers(first + 2 * chunks.len());
            acc.mul_add(x, h, hk);
        }
        acc.reduce()
    }

    /// GHASH of `data`, zero-padded to whole blocks, starting from state `s`.
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn ghash_padded(&self, mut s: __m128i, data: &[u8]) -> __m128i {
        let (groups, rest) = data.as_chunks::<GROUP>();
        for group in groups {
            s = self.ghash_group(s, as_vecs(group));
        }
        self.ghash_short(s, rest)
    }

    /// Plain CTR over one group, no hashing (the first group when encrypting).
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn ctr_group(&self, ctr: &mut GroupCounter, data: &mut [[u8; VEC]; VECS]) {
        let mut blocks = self.group_counters(ctr);
        self.rounds(&mut blocks, 1, ROUND_KEYS - 2);
        self.finish_xor(blocks, data);
    }

    /// CTR over the last `data.len()` < 256 bytes, with as few registers in flight as will do.
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn ctr_tail(&self, ctr: &mut __m256i, data: &mut [u8]) {
        match data.len().div_ceil(VEC) {
            0 => {}
            1 => xor_keystream(&self.keystream::<1>(ctr), data),
            2 => xor_keystream(&self.keystream::<2>(ctr), data),
            3 | 4 => xor_keystream(&self.keystream::<4>(ctr), data),
            _ => xor_keystream(&self.keystream::<VECS>(ctr), data),
        }
    }

    /// The counter register for blocks 2 and 3 (counter-native layout), and `E(K, J0)` for
    /// `J0` = nonce ‖ 1.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn initial_counter(&self, nonce: &[u8; 12]) -> (__m256i, __m128i) {
        let mut j0 = [0u8; BLOCK];
        j0[..12].copy_from_slice(nonce);
        j0[12..].copy_from_slice(&1u32.to_be_bytes());
        let j0 = load(&j0);
        let native = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(j0), counter_swap_mask());
        (
            _mm256_add_epi32(native, lane_offsets(1, 2)),
            self.encrypt_block(j0),
        )
    }

    /// Folds in the lengths block and masks the GHASH output with `E(K, J0)`.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn finish(&self, s: __m128i, mask: __m128i, aad_len: usize, ct_len: usize) -> [u8; TAG_LEN] {
        let lengths = bswap(load(&lengths_block(aad_len, ct_len)));
        let s = gf_mul_k(
            _mm_xor_si128(s, lengths),
            self.h[LANES - 1],
            self.hk[LANES - 1],
        );
        let mut tag = [0u8; TAG_LEN];
        store(&mut tag, _mm_xor_si128(bswap(s), mask));
        tag
    }

    /// The main loop over whole groups, CTR and GHASH stitched: each step encrypts sixteen counter
    /// blocks and XORs them into its group while folding sixteen ciphertext blocks into `s`.
    ///
    /// Encrypting (`ENC`), a step hashes the previous group, whose ciphertext is already written: the
    /// first group is only encrypted and the last one hashed after the loop. Decrypting, a step hashes
    /// its own group, reading it before it is overwritten.
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn crypt_groups<const ENC: bool>(
        &self,
        ctr: &mut __m256i,
        mut s: __m128i,
        groups: &mut [[u8; GROUP]],
    ) -> __m128i {
        let mut counter = GroupCounter::new(*ctr, self.rk[0]);
        let mut groups = groups.iter_mut();
        let mut prev: Option<&[[u8; VEC]; VECS]> = None;
        if ENC && let Some(first) = groups.next() {
            let first = as_vecs_mut(first);
            self.ctr_group(&mut counter, first);
            prev = Some(first);
        }
        for group in groups {
            prefetch_ahead(group);
            let data = as_vecs_mut(group);
            let mut blocks = self.group_counters(&mut counter);
            let src = prev.unwrap_or(data);
            let mut acc = Acc::new();
            // Rounds 1..=8, each next to one register's carry-less multiplications.
            for (j, chunk) in src.iter().enumerate() {
                let mut x = bswap2(load2(chunk));
                if j == 0 {
                    x = _mm256_xor_si256(x, _mm256_zextsi128_si256(s));
                }
                let (h, hk) = self.powers(2 * j);
                acc.mul_add(x, h, hk);
                aes_round_unfenced(&mut blocks, self.rk[j + 1]);
                fence_acc(&mut blocks, &mut acc);
            }
            aes_round(&mut blocks, self.rk[VECS + 1]);
            s = acc.reduce();
            self.rounds(&mut blocks, VECS + 2, ROUND_KEYS - 2);
            self.finish_xor(blocks, data);
            if ENC {
                prev = Some(data);
            }
        }
        *ctr = counter.tail();
        match prev {
            Some(last) if ENC => self.ghash_group(s, last),
            _ => s,
        }
    }

    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let (mut ctr, mask) = self.initial_counter(nonce);
        let mut s = self.ghash_padded(_mm_setzero_si128(), aad);
        let len = buf.len();
        let (groups, tail) = buf.as_chunks_mut::<GROUP>();
        s = self.crypt_groups::<true>(&mut ctr, s, groups);
        self.ctr_tail(&mut ctr, tail);
        s = self.ghash_short(s, tail);
        self.finish(s, mask, aad.len(), len)
    }

    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let (mut ctr, mask) = self.initial_counter(nonce);
        let mut s = self.ghash_padded(_mm_setzero_si128(), aad);
        let len = buf.len();
        let (groups, tail) = buf.as_chunks_mut::<GROUP>();
        s = self.crypt_groups::<false>(&mut ctr, s, groups);
        s = self.ghash_short(s, tail);
        self.ctr_tail(&mut ctr, tail);
        self.finish(s, mask, aad.len(), len)
    }
}

/// The main loop's counter state: `a`, the multiple of 16 just below the next group's first counter,
/// in both lanes in the counter-native layout, and the counter block of `a` XORed with the first round
/// key (see [`Vaes256Key::group_counters`]).
#[derive(Clone, Copy)]
struct GroupCounter {
    native: __m256i,
    base: __m256i,
}

impl GroupCounter {
    /// From a tail-style counter register at blocks `16k + 2, 16k + 3`.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn new(ctr: __m256i, rk0: __m256i) -> Self {
        let native = _mm256_sub_epi32(ctr, lane_offsets(2, 3));
        let base = _mm256_xor_si256(_mm256_shuffle_epi8(native, counter_swap_mask()), rk0);
        Self { native, base }
    }

    /// Back to a tail-style counter register: the blocks after the last group.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn tail(self) -> __m256i {
        _mm256_add_epi32(self.native, lane_offsets(2, 3))
    }
}

/// Unreduced GHASH accumulator for Karatsuba products, per lane: low, high and middle 128-bit parts.
#[derive(Clone, Copy)]
struct Acc {
    lo: __m256i,
    hi: __m256i,
    mid: __m256i,
}

impl Acc {
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn new() -> Self {
        Self {
            lo: _mm256_setzero_si256(),
            hi: _mm256_setzero_si256(),
            mid: _mm256_setzero_si256(),
        }
    }

    /// Adds the carry-less products `x · h` of both lanes (three `vpclmulqdq`s); `hk` holds
    /// `karatsuba_half` of each lane of `h`.
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn mul_add(&mut self, x: __m256i, h: __m256i, hk: __m256i) {
        let xk = _mm256_xor_si256(x, _mm256_shuffle_epi32::<0x4e>(x));
        self.lo = _mm256_xor_si256(self.lo, _mm256_clmulepi64_epi128::<0x00>(x, h));
        self.hi = _mm256_xor_si256(self.hi, _mm256_clmulepi64_epi128::<0x11>(x, h));
        self.mid = _mm256_xor_si256(self.mid, _mm256_clmulepi64_epi128::<0x00>(xk, hk));
    }

    /// Reduces both lanes (`Σ x·h·x^-128 mod P` each) and adds them together.
    ///
    /// The Karatsuba middle part is kept as a 128-bit value at bit offset 64 and the Montgomery
    /// reduction folds 64 bits at a time into it: the low part into the middle, then the middle into
    /// the high part (since P ≡ 1 (mod x^64), adding `l·P` clears the low 64 bits `l`, and
    /// `(l·P − l)/x^64 = l·x^64 + l·0xc2…00`).
    #[inline]
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn reduce(self) -> __m128i {
        let poly = _mm256_set_epi64x(POLY, 0, POLY, 0);
        let mid = _mm256_xor_si256(self.mid, _mm256_xor_si256(self.lo, self.hi));
        let mid = _mm256_xor_si256(
            mid,
            _mm256_xor_si256(
                _mm256_shuffle_epi32::<0x4e>(self.lo),
                _mm256_clmulepi64_epi128::<0x10>(self.lo, poly),
            ),
        );
        let hi = _mm256_xor_si256(
            self.hi,
            _mm256_xor_si256(
                _mm256_shuffle_epi32::<0x4e>(mid),
                _mm256_clmulepi64_epi128::<0x10>(mid, poly),
            ),
        );
        _mm_xor_si128(
            _mm256_castsi256_si128(hi),
            _mm256_extracti128_si256::<1>(hi),
        )
    }
}

/// The high 64 bits of the reduction constant: `x^63 + x^62 + x^57`.
const POLY: i64 = 0xc200_0000_0000_0000_u64 as i64;

/// One AES round on every register, then [`fence`].
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn aes_round<const N: usize>(blocks: &mut [__m256i; N], rk: __m256i) {
    aes_round_unfenced(blocks, rk);
    fence(blocks);
}

/// One AES round on every register.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn aes_round_unfenced<const N: usize>(blocks: &mut [__m256i; N], rk: __m256i) {
    for b in blocks.iter_mut() {
        *b = _mm256_aesenc_epi128(*b, rk);
    }
}

/// A scheduling fence: an empty `asm!` statement that takes the registers in `blocks` and hands them
/// back "changed". It emits no instruction, but LLVM can no longer move one register's AES rounds
/// past another's. Without it, LLVM turns the round-major loops into one register at a time through
/// all 14 rounds, which leaves the out-of-order core one long dependency chain at a time.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn fence(blocks: &mut [__m256i]) {
    let mut eights = blocks.chunks_exact_mut(8);
    for chunk in &mut eights {
        if let [a, b, c, d, e, f, g, h] = chunk {
            let [mut p, mut q, mut r, mut s, mut t, mut u, mut v, mut w] =
                [*a, *b, *c, *d, *e, *f, *g, *h];
            // SAFETY: the template is empty: no instruction runs, no memory, stack or flag is touched,
            // and every operand comes back unchanged.
            unsafe {
                core::arch::asm!(
                    "/* {} {} {} {} {} {} {} {} */",
                    inout(ymm_reg) p,
                    inout(ymm_reg) q,
                    inout(ymm_reg) r,
                    inout(ymm_reg) s,
                    inout(ymm_reg) t,
                    inout(ymm_reg) u,
                    inout(ymm_reg) v,
                    inout(ymm_reg) w,
                    options(pure, nomem, nostack, preserves_flags)
                );
            }
            [*a, *b, *c, *d, *e, *f, *g, *h] = [p, q, r, s, t, u, v, w];
        }
    }
    let mut fours = eights.into_remainder().chunks_exact_mut(4);
    for chunk in &mut fours {
        if let [a, b, c, d] = chunk {
            let (mut w, mut x, mut y, mut z) = (*a, *b, *c, *d);
            // SAFETY: as above.
            unsafe {
                core::arch::asm!(
                    "/* {} {} {} {} */",
                    inout(ymm_reg) w,
                    inout(ymm_reg) x,
                    inout(ymm_reg) y,
                    inout(ymm_reg) z,
                    options(pure, nomem, nostack, preserves_flags)
                );
            }
            [*a, *b, *c, *d] = [w, x, y, z];
        }
    }
    if let [a, b, ..] = fours.into_remainder() {
        let (mut x, mut y) = (*a, *b);
        // SAFETY: as above.
        unsafe {
            core::arch::asm!(
                "/* {} {} */",
                inout(ymm_reg) x,
                inout(ymm_reg) y,
                options(pure, nomem, nostack, preserves_flags)
            );
        }
        [*a, *b] = [x, y];
    }
}

/// [`fence`] over the main loop's eight AES registers and the GHASH accumulator together, which also
/// keeps one register's multiplications next to one AES round.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn fence_acc(blocks: &mut [__m256i; VECS], acc: &mut Acc) {
    let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = *blocks;
    let Acc {
        mut lo,
        mut mid,
        mut hi,
    } = *acc;
    // SAFETY: the template is empty: no instruction runs, no memory, stack or flag is touched, and
    // every operand comes back unchanged.
    unsafe {
        core::arch::asm!(
            "/* {} {} {} {} {} {} {} {} {} {} {} */",
            inout(ymm_reg) a,
            inout(ymm_reg) b,
            inout(ymm_reg) c,
            inout(ymm_reg) d,
            inout(ymm_reg) e,
            inout(ymm_reg) f,
            inout(ymm_reg) g,
            inout(ymm_reg) h,
            inout(ymm_reg) lo,
            inout(ymm_reg) mid,
            inout(ymm_reg) hi,
            options(pure, nomem, nostack, preserves_flags)
        );
    }
    *blocks = [a, b, c, d, e, f, g, h];
    *acc = Acc { lo, hi, mid };
}

/// XORs `ks` into `data` (at most `32·ks.len()` bytes); a partial last register goes through a wiped
/// stack buffer.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn xor_keystream(ks: &[__m256i], data: &mut [u8]) {
    let (chunks, rest) = data.as_chunks_mut::<VEC>();
    for (chunk, &k) in chunks.iter_mut().zip(ks) {
        store2(chunk, _mm256_xor_si256(load2(chunk), k));
    }
    if let Some(&k) = ks.get(chunks.len())
        && !rest.is_empty()
    {
        let mut pad = [0u8; VEC];
        pad[..rest.len()].copy_from_slice(rest);
        let x = _mm256_xor_si256(load2(&pad), k);
        store2(&mut pad, x);
        rest.copy_from_slice(&pad[..rest.len()]);
        wipe(&mut pad);
    }
}

/// How far ahead of the group being encrypted the main loop asks for data. The hardware
/// prefetchers stop at every 4 KiB page, so a message streamed from memory stalls at each page until
/// they pick up again; a software prefetch one page ahead keeps the loads in flight while the AES
/// units work. On a 16-core Xeon (AVX-512), sealing 64 KiB chunks of a 256 MiB buffer ran at 5.1 GiB/s
/// on one thread without it, 7.2 with 1 KiB ahead and 10.2 with 4 KiB ahead (the in-cache speed).
const PREFETCH_DISTANCE: usize = 4096;

/// Hints the CPU to start loading the cache lines `PREFETCH_DISTANCE` bytes past `group`.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn prefetch_ahead(group: &[u8; GROUP]) {
    let ahead = group.as_ptr().wrapping_add(PREFETCH_DISTANCE);
    for line in (0..GROUP).step_by(64) {
        // A prefetch is only a hint: it never faults, whatever the address (past the end of the
        // buffer included), so the intrinsic is safe.
        _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(line).cast());
    }
}

/// Wipes a stack buffer that held message or keystream bytes, with one volatile 32-byte store
/// (`Zeroize` on a byte array stores byte by byte, which shows in short messages).
#[inline]
fn wipe(pad: &mut [u8; VEC]) {
    // SAFETY: `pad` is a valid, aligned and exclusive reference to a `[u8; 32]`, so a volatile write of
    // a `[u8; 32]` value through it is sound.
    unsafe { core::ptr::write_volatile(pad, [0u8; VEC]) };
    core::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// [`bswap`] on both lanes.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn bswap2(x: __m256i) -> __m256i {
    _mm256_shuffle_epi8(
        x,
        _mm256_set_epi8(
            0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
            11, 12, 13, 14, 15,
        ),
    )
}

/// Byte shuffle (its own inverse), per lane, between a counter block and the layout where the lane's
/// last 32-bit word holds the big-endian counter as a native integer, so `_mm256_add_epi32`
/// increments it modulo 2^32.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn counter_swap_mask() -> __m256i {
    _mm256_set_epi8(
        12, 13, 14, 15, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 12, 13, 14, 15, 11, 10, 9, 8, 7, 6,
        5, 4, 3, 2, 1, 0,
    )
}

/// Adds `lo` to the low lane's counter word and `hi` to the high lane's.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn lane_offsets(lo: i32, hi: i32) -> __m256i {
    _mm256_set_epi32(hi, 0, 0, 0, lo, 0, 0, 0)
}

/// Adds `n` to the counter word of both lanes.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn counter_step(n: i32) -> __m256i {
    _mm256_set_epi32(n, 0, 0, 0, n, 0, 0, 0)
}

/// `n` and `n + 1` in the last byte of the low and high lane: XORed into a counter block whose
/// counter is a multiple of 16, it adds `n` (`n + 1`) for `n` < 15.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn last_byte_pair(n: i32) -> __m256i {
    _mm256_set_epi32((n + 1) << 24, 0, 0, 0, n << 24, 0, 0, 0)
}

/// A 256-byte group as its eight registers' worth of bytes.
fn as_vecs(group: &[u8; GROUP]) -> &[[u8; VEC]; VECS] {
    let (vecs, _) = group.as_chunks::<VEC>();
    vecs.try_into().expect("a group is eight registers")
}

/// A 256-byte group as its eight registers' worth of bytes, mutably.
fn as_vecs_mut(group: &mut [u8; GROUP]) -> &mut [[u8; VEC]; VECS] {
    let (vecs, _) = group.as_chunks_mut::<VEC>();
    vecs.try_into().expect("a group is eight registers")
}

/// Loads 32 bytes from any address.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn load2(chunk: &[u8; VEC]) -> __m256i {
    // SAFETY: `chunk` is a valid reference to 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(chunk.as_ptr().cast()) }
}

/// Stores 32 bytes to any address.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn store2(chunk: &mut [u8; VEC], x: __m256i) {
    // SAFETY: `chunk` is a valid exclusive reference to 32 writable bytes; `storeu` has no alignment
    // requirement.
    unsafe { _mm256_storeu_si256(chunk.as_mut_ptr().cast(), x) }
}

/// Loads entries `i` and `i + 1` of a key-power table as one register.
#[inline]
#[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
fn load_pair(table: &[__m128i; POWERS], i: usize) -> __m256i {
    let (pair, _) = table[i..]
        .split_first_chunk::<2>()
        .expect("key-power index within the table");
    // SAFETY: `pair` is a valid reference to two contiguous `__m128i`, 32 readable bytes; `loadu` has
    // no alignment requirement.
    unsafe { _mm256_loadu_si256(pair.as_ptr().cast()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `nonce ‖ counter`, the counter big-endian.
    fn counter_block(nonce: &[u8; 12], counter: u32) -> [u8; BLOCK] {
        let mut block = [0u8; BLOCK];
        block[..12].copy_from_slice(nonce);
        block[12..].copy_from_slice(&counter.to_be_bytes());
        block
    }

    /// CTR over `buf` from counter `start` with the main loop (when `start` ≡ 2 mod 16) and the tail,
    /// as `seal` (`ENC`) and `open` run them; the GHASH state is dropped.
    #[target_feature(enable = "avx2,vaes,vpclmulqdq,aes,pclmulqdq")]
    fn ctr_from<const ENC: bool>(key: &Vaes256Key, nonce: &[u8; 12], start: u32, buf: &mut [u8]) {
        let first = load(&counter_block(nonce, start));
        let native = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(first), counter_swap_mask());
        let mut ctr = _mm256_add_epi32(native, lane_offsets(0, 1));
        let (groups, tail) = buf.as_chunks_mut::<GROUP>();
        if !groups.is_empty() {
            assert_eq!(start % 16, 2, "groups start at counters 16k + 2");
            key.crypt_groups::<ENC>(&mut ctr, _mm_setzero_si128(), groups);
        }
        key.ctr_tail(&mut ctr, tail);
    }

    /// The keystream must follow the 32-bit big-endian counter of SP 800-38D, carries across bytes
    /// and the wrap from 2^32 − 1 to 0 included, in the main loop's XOR-built counters and the tail's.
    #[test]
    fn counters_carry_and_wrap_modulo_2_32() {
        let Some(key) = Vaes256Key::new(&[0x5c; 32]) else {
            return;
        };
        let nonce = [0xa7; 12];
        let starts = [
            2,
            0xf2,
            0xfff2,
            0x00ff_fff2,
            0xffff_ff02,
            0xffff_ffc2,
            0xffff_ffe2,
            0xffff_fff2,
        ];
        for start in starts {
            for enc in [true, false] {
                // Three groups and a tail of 5 blocks and 7 bytes, from zeros: the output is keystream.
                let mut buf = [0u8; 3 * GROUP + 5 * BLOCK + 7];
                // SAFETY: `key` exists, so the CPU supports every feature `ctr_from` is compiled for.
                unsafe {
                    if enc {
                        ctr_from::<true>(&key, &nonce, start, &mut buf);
                    } else {
                        ctr_from::<false>(&key, &nonce, start, &mut buf);
                    }
                }
                for (i, chunk) in buf.chunks(BLOCK).enumerate() {
                    let counter = start.wrapping_add(i as u32);
                    let mut expected = [0u8; BLOCK];
                    // SAFETY: as above, for `encrypt_block`, `load` and `store`.
                    unsafe {
                        let ks = key.encrypt_block(load(&counter_block(&nonce, counter)));
                        store(&mut expected, ks);
                    }
                    assert_eq!(chunk, &expected[..chunk.len()], "counter {counter:#x}");
                }
            }
        }
        // The tail alone, across the wrap, from counters not aligned to groups.
        for start in [0xffff_fff9, 0xffff_fffa, 0xffff_ffff] {
            let mut buf = [0u8; 13 * BLOCK + 9];
            // SAFETY: as above.
            unsafe { ctr_from::<false>(&key, &nonce, start, &mut buf) };
            for (i, chunk) in buf.chunks(BLOCK).enumerate() {
                let counter = start.wrapping_add(i as u32);
                let mut expected = [0u8; BLOCK];
                // SAFETY: as above.
                unsafe {
                    store(
                        &mut expected,
                        key.encrypt_block(load(&counter_block(&nonce, counter))),
                    )
                };
                assert_eq!(chunk, &expected[..chunk.len()], "counter {counter:#x}");
            }
        }
    }
}
