//! The 1 GiB test: encrypt a 1 GiB file and decrypt it again with the `objseal` binary, in constant
//! memory. Each child's peak resident set must stay under 64 MiB and the output must be identical.
//!
//! This file holds a single test so that its process's children are exactly the two `objseal` runs
//! (the peak RSS of waited-for children is read with `getrusage(RUSAGE_CHILDREN)`).
//!
//! Disk use: the plaintext file and the ciphertext file (~2 GiB), under /dev/shm when it has room,
//! else the system temporary directory. The plaintext is generated streamingly and deterministically,
//! and the decrypted output is piped into this process and compared streamingly against the same
//! generator, so it is never stored.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_objseal");
const SIZE: u64 = 1 << 30;
const BLOCK: usize = 1 << 20;
const RSS_LIMIT_KIB: i64 = 64 * 1024;

/// Block `index` (1 MiB) of the plaintext: one pseudo-random 1 MiB pattern, with the block and page
/// number stamped into every 4 KiB page so that no two pages of the stream are equal (cheap enough for
/// an unoptimised test build: a memcpy and 256 small stores per MiB).
struct Plaintext {
    base: Vec<u8>,
}

impl Plaintext {
    fn new() -> Self {
        let mut state = 0x0123_4567_89ab_cdefu64;
        let mut base = vec![0u8; BLOCK];
        for word in base.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        Self { base }
    }

    fn block(&self, index: u64, out: &mut [u8]) {
        out.copy_from_slice(&self.base);
        for (page, at) in (0..BLOCK).step_by(4096).enumerate() {
            let stamp = index << 16 | page as u64;
            out[at..at + 8].copy_from_slice(&stamp.to_le_bytes());
        }
    }
}

/// Free bytes of the file system holding `path`.
fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a valid NUL-terminated string and `stat` points to writable memory of the
    // right type; `statvfs` initialises it fully when it returns 0, and only then is it read.
    let stat = unsafe {
        if libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) != 0 {
            return None;
        }
        stat.assume_init()
    };
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}

/// /dev/shm if it exists with room for both files (and some slack), else the temporary directory.
fn scratch_dir() -> PathBuf {
    let need = 2 * SIZE + (256 << 20);
    let shm = Path::new("/dev/shm");
    if shm.is_dir() && free_bytes(shm).is_some_and(|free| free >= need) {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Peak resident set size, in KiB, of the largest child waited for so far.
fn children_max_rss_kib() -> i64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: `usage` points to writable memory of the right type; `getrusage` fills it completely
    // when it returns 0, and only then is it read.
    let usage = unsafe {
        assert_eq!(
            libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()),
            0
        );
        usage.assume_init()
    };
    usage.ru_maxrss as i64 // KiB on Linux
}

#[test]
fn one_gib_round_trip_in_constant_memory() {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("objseal-1gib-")
        .tempdir_in(scratch_dir())
        .unwrap();
    let key = dir.path().join("k");
    let plain_path = dir.path().join("plain");
    let sealed_path = dir.path().join("sealed.ose");
    let gen_ = Plaintext::new();
    let mut block = vec![0u8; BLOCK];

    let status = Command::new(BIN)
        .args(["keygen", "-o"])
        .arg(&key)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());

    // The plaintext, streamed to disk.
    let t = Instant::now();
    let mut file = BufWriter::with_capacity(BLOCK, File::create(&plain_path).unwrap());
    for i in 0..SIZE / BLOCK as u64 {
        gen_.block(i, &mut block);
        file.write_all(&block).unwrap();
    }
    file.into_inner().unwrap().sync_all().unwrap();
    let generate_s = t.elapsed().as_secs_f64();

    // Encrypt file -> file.
    let t = Instant::now();
    let out = Command::new(BIN)
        .args(["encrypt", "-k"])
        .arg(&key)
        .arg("-i")
        .arg(&plain_path)
        .arg("-o")
        .arg(&sealed_path)
        .args(["--context", "bucket=big"])
        .output()
        .unwrap();
    let encrypt_s = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rss_encrypt = children_max_rss_kib();
    std::fs::remove_file(&plain_path).unwrap();
    let sealed_len = std::fs::metadata(&sealed_path).unwrap().len();
    assert_eq!(sealed_len, 219 + SIZE + 16 * (SIZE >> 16));

    // Decrypt file -> stdout, compared streamingly.
    let t = Instant::now();
    let mut child = Command::new(BIN)
        .args(["decrypt", "-k"])
        .arg(&key)
        .arg("-i")
        .arg(&sealed_path)
        .args(["--context", "bucket=big"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut got = vec![0u8; BLOCK];
    let mut index = 0u64;
    let mut total = 0u64;
    loop {
        // Fill one block (or reach the end).
        let mut filled = 0;
        while filled < BLOCK {
            match stdout.read(&mut got[filled..]).unwrap() {
                0 => break,
                n => filled += n,
            }
        }
        if filled == 0 {
            break;
        }
        gen_.block(index, &mut block);
        assert!(
            got[..filled] == block[..filled],
            "decrypted data differs in block {index}"
        );
        total += filled as u64;
        index += 1;
        if filled < BLOCK {
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    let decrypt_s = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(total, SIZE, "decrypted length");
    let rss_both = children_max_rss_kib();

    eprintln!(
        "1 GiB test in {}: generate {generate_s:.2} s, encrypt {encrypt_s:.2} s, decrypt+compare \
         {decrypt_s:.2} s, total {:.2} s; peak RSS: encrypt {rss_encrypt} KiB, max(encrypt, decrypt) \
         {rss_both} KiB",
        dir.path().display(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        rss_encrypt < RSS_LIMIT_KIB,
        "encrypt peak RSS {rss_encrypt} KiB"
    );
    assert!(rss_both < RSS_LIMIT_KIB, "decrypt peak RSS {rss_both} KiB");
}
