//! `objseal demo`: the whole job on embedded defaults, in a temporary directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use objseal_core::Kek;
use objseal_core::gcm::Backend;

use crate::crypt::{self, DecryptJob, EncryptJob};
use crate::keyfile;
use crate::keys::Wrapper;

/// Runs the demo on a sample of `size` bytes.
pub fn run(size: u64) -> Result<()> {
    let started = Instant::now();
    let dir = tempfile::Builder::new()
        .prefix("objseal-demo-")
        .tempdir()
        .context("creating a temporary directory")?;
    let key = dir.path().join("demo.key");
    let sample = dir.path().join("sample.bin");
    let sealed = dir.path().join("sample.bin.ose");
    let opened = dir.path().join("sample.out");
    let context = [
        ("bucket".to_owned(), "demo".to_owned()),
        ("key".to_owned(), "sample.bin".to_owned()),
    ];
    let chunk_log2 = objseal_core::DEFAULT_CHUNK_LOG2;

    println!("objseal demo: the whole job on embedded defaults");
    println!("  AES-GCM backend: {:?}", Backend::detect());
    println!("  worker threads:  {}", rayon::current_num_threads());
    println!(
        "  directory:       {} (removed afterwards)",
        dir.path().display()
    );

    // 1. A key.
    let kek = Kek::generate().context("generating a key")?;
    keyfile::write(&key, &kek, false)?;
    println!(
        "\n1. keygen   -> demo.key (mode 0600), key id {}",
        keyfile::key_id(&kek)
    );
    drop(kek);

    // 2. A deterministic sample.
    let t = Instant::now();
    write_sample(&sample, size)?;
    println!(
        "2. sample   -> sample.bin, {} of deterministic data ({:.2} s)",
        human(size),
        t.elapsed().as_secs_f64()
    );

    // 3. Encrypt.
    let t = Instant::now();
    let totals = crypt::encrypt(&EncryptJob {
        key: crypt::KeySource::File(&key),
        input: Some(&sample),
        output: Some(&sealed),
        chunk_log2,
        context: &context,
    })?;
    let took = t.elapsed();
    println!(
        "3. encrypt  -> sample.bin.ose, {} (+{} bytes of header, wrapped key and tags) in {}",
        human(totals.plaintext),
        totals.encrypted - totals.plaintext,
        rate(totals.plaintext, took)
    );
    println!(
        "             context bucket=demo key=sample.bin, chunk size {} KiB",
        (1u32 << chunk_log2) >> 10
    );

    // 4. Inspect.
    println!("4. inspect  sample.bin.ose");
    let mut shown = Vec::new();
    crate::inspect::inspect(Some(&sealed), &mut shown)?;
    for line in String::from_utf8_lossy(&shown).lines().skip(1) {
        println!("             {line}");
    }

    // 5. Decrypt.
    let t = Instant::now();
    let totals = crypt::decrypt(&DecryptJob {
        key: Some(&key),
        kms: None,
        input: Some(&sealed),
        output: Some(&opened),
        context: &context,
    })?;
    println!(
        "5. decrypt  -> sample.out, {} verified in {}",
        human(totals.plaintext),
        rate(totals.plaintext, t.elapsed())
    );

    // 6. Compare.
    ensure!(
        same_contents(&sample, &opened)?,
        "the decrypted file differs from the sample"
    );
    println!("6. verify   sample.out is identical to sample.bin");
    fs::remove_file(&opened).context("removing sample.out")?;

    // 7. Tamper.
    println!("7. tamper   every change must be refused, leaving no output file:");
    let len = fs::metadata(&sealed)?.len();
    let body_at = len - objseal_core::range::ciphertext_len(size, chunk_log2)?;
    let middle = body_at + (len - body_at) / 2;
    flip_byte(&sealed, middle)?;
    expect_refusal(
        &key,
        &sealed,
        &opened,
        &context,
        &format!("one bit flipped at byte {middle}"),
    )?;
    flip_byte(&sealed, middle)?;
    flip_byte(&sealed, 20)?;
    expect_refusal(
        &key,
        &sealed,
        &opened,
        &context,
        "one bit flipped in the header salt",
    )?;
    flip_byte(&sealed, 20)?;
    let wrong_context = [("bucket".to_owned(), "other".to_owned())];
    expect_refusal(
        &key,
        &sealed,
        &opened,
        &wrong_context,
        "decrypted with another --context",
    )?;
    OpenOptions::new()
        .write(true)
        .open(&sealed)?
        .set_len(len - 1)
        .context("truncating the sample")?;
    expect_refusal(&key, &sealed, &opened, &context, "last byte cut off")?;

    // 8. The cipher alone: no disk in the way.
    let wrapper = Wrapper::Local(keyfile::load(&key)?);
    let ctx = crypt::context_hash(&context)?;
    let t = Instant::now();
    let n = crypt::encrypt_stream(
        &wrapper,
        &ctx,
        chunk_log2,
        &mut io::repeat(0x5a).take(size),
        &mut io::sink(),
    )?;
    println!(
        "8. memory   encrypt {} from memory to nowhere (no disk): {}",
        human(n),
        rate(n, t.elapsed())
    );

    // 9.. The server: the same engine behind S3, in each SSE mode.
    crate::demo_s3::run(dir.path(), 9)?;

    println!("\ndemo OK in {:.2} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Decrypts `sealed` and requires the refusal, and no output file.
fn expect_refusal(
    key: &Path,
    sealed: &Path,
    out: &Path,
    context: &[(String, String)],
    what: &str,
) -> Result<()> {
    let result = crypt::decrypt(&DecryptJob {
        key: Some(key),
        kms: None,
        input: Some(sealed),
        output: Some(out),
        context,
    });
    match result {
        Ok(_) => bail!("tampered input was accepted ({what})"),
        Err(e) => {
            ensure!(!out.exists(), "an output file was left behind ({what})");
            println!("             {what}: refused: {e:#}");
            Ok(())
        }
    }
}

fn flip_byte(path: &Path, at: u64) -> Result<()> {
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(at))?;
    f.read_exact(&mut b)?;
    b[0] ^= 0x01;
    f.seek(SeekFrom::Start(at))?;
    f.write_all(&b)?;
    Ok(())
}

/// `size` bytes from a fixed-seed xorshift generator.
fn write_sample(path: &Path, size: u64) -> Result<()> {
    let mut file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = usize::try_from(left.min(buf.len() as u64)).unwrap_or(buf.len());
        for word in buf[..n].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes()[..word.len()]);
        }
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    Ok(())
}

fn same_contents(a: &Path, b: &Path) -> Result<bool> {
    let (mut a, mut b) = (File::open(a)?, File::open(b)?);
    if a.metadata()?.len() != b.metadata()?.len() {
        return Ok(false);
    }
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_up_to(&mut a, &mut x)?;
        let m = read_up_to(&mut b, &mut y)?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
    } else if bytes >= 1 << 10 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} bytes")
    }
}

fn rate(bytes: u64, took: Duration) -> String {
    let secs = took.as_secs_f64().max(1e-9);
    format!(
        "{:.3} s ({:.0} MiB/s)",
        took.as_secs_f64(),
        bytes as f64 / f64::from(1u32 << 20) / secs
    )
}
