//! Whole-object throughput and parallel scaling.
//!
//! * `stream-seal/64MiB`, `stream-open/64MiB`: a 64 MiB object in 64 KiB chunks through the public
//!   API — key schedule, header, then [`stream::seal_segment`] / [`stream::open_segment`] (and the
//!   rayon [`par::seal_segment`] / [`par::open_segment`]) — against the best raw backend doing the same
//!   64 MiB as 1024 separate 64 KiB AES-GCM messages. `raw-in-place` seals without copying;
//!   `raw-copy` first copies each chunk out of the plaintext like `seal_segment` does, so
//!   `objseal-serial` / `raw-copy` is the cost of the format itself (nonces, geometry checks, keys).
//! * `par-scaling/256MiB`: [`par::seal_chunks`] over a 256 MiB buffer in the sealed layout on rayon
//!   pools of 1..=available_parallelism threads, next to `ring-seal-chunks` (the same chunks sealed
//!   by `ring` on the same pool) and `xor-bandwidth`, which XORs every byte of the same buffer in
//!   place with `par_chunks_mut` on the same pool: one read and one write of every byte, as sealing
//!   in place does. Their ratio at each thread count says how close sealing comes to the memory
//!   bandwidth.
//!
//! Big buffers: 10 samples, flat sampling. `OBJSEAL_BENCH_QUICK=1` shortens every measurement; see
//! `benches/README.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use objseal_core::gcm::{Aes256Gcm, Backend, TAG_LEN};
use objseal_core::seal::chunk_nonce;
use objseal_core::{Dek, Header, ObjectKey, ObjectParams, par, range, stream};
use rayon::prelude::*;

const OBJECT_LEN: usize = 64 << 20;
const CHUNK_LOG2: u8 = 16;
const CHUNK: usize = 1 << CHUNK_LOG2;
const SCALING_LEN: usize = 256 << 20;

/// `OBJSEAL_BENCH_QUICK=1` (or any value but `0` / empty): short warm-up and measurement.
fn quick() -> bool {
    std::env::var("OBJSEAL_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn params() -> ObjectParams {
    ObjectParams::new([0x5a; 32], [0xc3; 32]).chunk_log2(CHUNK_LOG2)
}

fn dek() -> Dek {
    Dek::from_bytes([0x42; 32])
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + 17) as u8).collect()
}

/// The whole write path of an unsegmented object: keys, header, sealed body.
fn seal_object(
    plaintext: &[u8],
    body: &mut [u8],
    parallel: bool,
) -> [u8; objseal_core::HEADER_LEN] {
    let object = ObjectKey::create(&dek(), &params()).expect("params");
    let header = object.header().to_bytes();
    let key = object.body_key().expect("unsegmented");
    if parallel {
        par::seal_segment(&key, plaintext, body).expect("seal");
    } else {
        stream::seal_segment(&key, plaintext, body).expect("seal");
    }
    header
}

/// The whole read path: parse and verify the header, open the body.
fn open_object(header: &[u8], body: &[u8], out: &mut [u8], parallel: bool) -> usize {
    let header = Header::parse(header).expect("header");
    let object = ObjectKey::open(&dek(), &header).expect("key commitment");
    let key = object.body_key().expect("unsegmented");
    if parallel {
        par::open_segment(&key, body, out).expect("open")
    } else {
        stream::open_segment(&key, body, out).expect("open")
    }
}

fn bench_stream(c: &mut Criterion) {
    let best = Backend::detect();
    let raw = Aes256Gcm::with_backend(&[0x11; 32], best).expect("detected backend");
    let plaintext = pattern(OBJECT_LEN);
    let ct_len = range::ciphertext_len(OBJECT_LEN as u64, CHUNK_LOG2).expect("length") as usize;
    let mut body = vec![0u8; ct_len];
    let header = seal_object(&plaintext, &mut body, false);
    let mut out = vec![0u8; OBJECT_LEN];
    assert_eq!(open_object(&header, &body, &mut out, true), OBJECT_LEN);
    assert_eq!(out, plaintext);

    let mut group = c.benchmark_group("stream-seal/64MiB");
    group
        .throughput(Throughput::Bytes(OBJECT_LEN as u64))
        .sampling_mode(SamplingMode::Flat);
    let mut sealed = vec![0u8; ct_len];
    group.bench_function("objseal-serial", |b| {
        b.iter(|| black_box(seal_object(&plaintext, &mut sealed, false)));
    });
    group.bench_function("objseal-par", |b| {
        b.iter(|| black_box(seal_object(&plaintext, &mut sealed, true)));
    });
    let mut tags = vec![[0u8; TAG_LEN]; OBJECT_LEN / CHUNK];
    let mut scratch = plaintext.clone();
    group.bench_function(format!("raw-in-place-{best}"), |b| {
        b.iter(|| {
            for (i, (chunk, tag)) in scratch.chunks_mut(CHUNK).zip(&mut tags).enumerate() {
                *tag = raw.seal_in_place(&chunk_nonce(i as u32, false), &[], chunk);
            }
            black_box(&tags);
        });
    });
    group.bench_function(format!("raw-copy-{best}"), |b| {
        b.iter(|| {
            for (i, (dst, src)) in sealed
                .chunks_mut(CHUNK + TAG_LEN)
                .zip(plaintext.chunks(CHUNK))
                .enumerate()
            {
                let (ct, tag) = dst.split_at_mut(CHUNK);
                ct.copy_from_slice(src);
                tag.copy_from_slice(&raw.seal_in_place(&chunk_nonce(i as u32, false), &[], ct));
            }
            black_box(&sealed);
        });
    });
    group.finish();

    let mut group = c.benchmark_group("stream-open/64MiB");
    group
        .throughput(Throughput::Bytes(OBJECT_LEN as u64))
        .sampling_mode(SamplingMode::Flat);
    group.bench_function("objseal-serial", |b| {
        b.iter(|| black_box(open_object(&header, &body, &mut out, false)));
    });
    group.bench_function("objseal-par", |b| {
        b.iter(|| black_box(open_object(&header, &body, &mut out, true)));
    });
    // The same layout sealed by the raw key, opened chunk by chunk into `out` (copy, then open in
    // place), which is the work `open_segment` does per chunk.
    let mut raw_body = vec![0u8; OBJECT_LEN + (OBJECT_LEN / CHUNK) * TAG_LEN];
    for (i, (dst, src)) in raw_body
        .chunks_mut(CHUNK + TAG_LEN)
        .zip(plaintext.chunks(CHUNK))
        .enumerate()
    {
        let (ct, tag) = dst.split_at_mut(CHUNK);
        ct.copy_from_slice(src);
        tag.copy_from_slice(&raw.seal_in_place(&chunk_nonce(i as u32, false), &[], ct));
    }
    group.bench_function(format!("raw-copy-{best}"), |b| {
        b.iter(|| {
            for (i, (dst, src)) in out
                .chunks_mut(CHUNK)
                .zip(raw_body.chunks(CHUNK + TAG_LEN))
                .enumerate()
            {
                let (ct, tag) = src.split_at(CHUNK);
                dst.copy_from_slice(ct);
                let tag: &[u8; TAG_LEN] = tag.try_into().expect("tag");
                raw.open_in_place(&chunk_nonce(i as u32, false), &[], dst, tag)
                    .expect("open");
            }
            black_box(&out);
        });
    });
    group.finish();
    drop((plaintext, body, sealed, scratch, out, raw_body));

    // Parallel scaling over a buffer in the sealed layout.
    let key = ObjectKey::create(&dek(), &params())
        .expect("params")
        .body_key()
        .expect("unsegmented");
    let slot = key.sealed_chunk_size();
    let slots = SCALING_LEN / CHUNK;
    let mut buf = pattern(slots * slot);
    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[0x42; 32]).expect("ring key"),
    );
    let max_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut group = c.benchmark_group("par-scaling/256MiB");
    group
        .throughput(Throughput::Bytes(SCALING_LEN as u64))
        .sampling_mode(SamplingMode::Flat);
    for threads in 1..=max_threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        group.bench_with_input(
            BenchmarkId::new("seal_chunks", threads),
            &threads,
            |b, _| {
                // Re-sealing sealed slots: the same work as sealing fresh plaintext.
                b.iter(|| {
                    pool.install(|| par::seal_chunks(&key, 0, &mut buf, true).expect("seal"))
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("ring-seal-chunks", threads),
            &threads,
            |b, _| {
                // The same chunks, nonces and tag slots sealed by `ring` on the same pool.
                b.iter(|| {
                    pool.install(|| {
                        buf.par_chunks_mut(slot).enumerate().for_each(|(i, s)| {
                            let (data, tag) = s.split_at_mut(CHUNK);
                            let nonce = ring::aead::Nonce::assume_unique_for_key(chunk_nonce(
                                i as u32, false,
                            ));
                            let t = ring_key
                                .seal_in_place_separate_tag(nonce, ring::aead::Aad::empty(), data)
                                .expect("ring seal");
                            tag.copy_from_slice(t.as_ref());
                        });
                    });
                    black_box(&mut buf);
                });
            },
        );
        group.bench_with_input(
            BenchmarkId::new("xor-bandwidth", threads),
            &threads,
            |b, _| {
                b.iter(|| {
                    pool.install(|| {
                        buf.par_chunks_mut(slot)
                            .for_each(|s| s.iter_mut().for_each(|x| *x ^= 0x5a));
                    });
                    black_box(&mut buf);
                });
            },
        );
    }
    group.finish();
}

fn config() -> Criterion {
    let c = Criterion::default().sample_size(10);
    if quick() {
        c.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
    } else {
        c.warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(4))
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_stream
}
criterion_main!(benches);
