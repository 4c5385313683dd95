//! End-to-end tests of the `objseal` binary.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_objseal");
const NO_KEY_OPENS: &str = "no wrapped key opens with this key (wrong key or wrong --context)";
/// Header (104) + key count (2) + blob length (2) + blob (41 + 22-byte key id + 48).
const PREFIX_LEN: usize = 104 + 2 + 2 + 41 + 22 + 48;

fn objseal(args: &[&dyn AsRefOsStr]) -> Command {
    let mut cmd = Command::new(BIN);
    for a in args {
        cmd.arg(a.as_os());
    }
    cmd
}

/// Lets `args` mix `&str` and `&Path`.
trait AsRefOsStr {
    fn as_os(&self) -> &std::ffi::OsStr;
}
impl AsRefOsStr for &str {
    fn as_os(&self) -> &std::ffi::OsStr {
        self.as_ref()
    }
}
impl AsRefOsStr for PathBuf {
    fn as_os(&self) -> &std::ffi::OsStr {
        self.as_os_str()
    }
}
impl AsRefOsStr for String {
    fn as_os(&self) -> &std::ffi::OsStr {
        self.as_ref()
    }
}

/// Runs `cmd` with `stdin` fed from a thread (so large inputs cannot deadlock against stdout).
fn run(mut cmd: Command, stdin: &[u8]) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn objseal");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        // The child may exit early (e.g. bad header): a broken pipe is fine.
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for objseal");
    feeder.join().unwrap();
    out
}

fn ok(cmd: Command) -> Output {
    ok_with(cmd, b"")
}

fn ok_with(cmd: Command, stdin: &[u8]) -> Output {
    let out = run(cmd, stdin);
    assert!(
        out.status.success(),
        "objseal failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd`, requires exit status 1 and `needle` in stderr; returns stderr.
fn fails(cmd: Command, stdin: &[u8], needle: &str) -> (String, Vec<u8>) {
    let out = run(cmd, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    (stderr, out.stdout)
}

/// Deterministic bytes (xorshift64 from `seed`).
fn sample(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    ok(objseal(&[&"keygen", &"-o", &path]));
    path
}

/// The key bytes' hex, read back from a key file.
fn key_hex(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap();
    let line = text.lines().find(|l| !l.starts_with('#')).unwrap();
    line.strip_prefix("objseal-kek-1:").unwrap().to_owned()
}

/// Sorted names in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn ciphertext_len(plaintext: usize, chunk_log2: u32) -> usize {
    let chunks = plaintext.div_ceil(1 << chunk_log2).max(1);
    plaintext + 16 * chunks
}

/// Encrypts `plain` into `dir/name` with the given key, chunk size and context.
fn encrypt_file(dir: &Path, key: &Path, plain: &[u8], chunk_log2: u32, ctx: &[&str]) -> PathBuf {
    let input = dir.join("plain.in");
    fs::write(&input, plain).unwrap();
    let output = dir.join("sealed.ose");
    let log2 = chunk_log2.to_string();
    let mut cmd = objseal(&[
        &"encrypt",
        &"-k",
        &key.to_path_buf(),
        &"-i",
        &input,
        &"-o",
        &output,
        &"--chunk-log2",
        &log2,
    ]);
    for c in ctx {
        cmd.args(["--context", c]);
    }
    ok(cmd);
    fs::remove_file(&input).unwrap();
    output
}

// ---------------------------------------------------------------------------------------------------
// keygen

#[test]
fn keygen_writes_a_0600_key_file_in_the_documented_format() {
    let dir = tempdir();
    let path = keygen(dir.path(), "my.key");
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    let stamp = lines[0]
        .strip_prefix("# objseal key-encryption key, created ")
        .unwrap();
    // YYYY-MM-DDTHH:MM:SSZ
    assert_eq!(stamp.len(), 20, "{stamp}");
    for (i, c) in stamp.char_indices() {
        match i {
            4 | 7 => assert_eq!(c, '-'),
            10 => assert_eq!(c, 'T'),
            13 | 16 => assert_eq!(c, ':'),
            19 => assert_eq!(c, 'Z'),
            _ => assert!(c.is_ascii_digit(), "{stamp}"),
        }
    }
    let hex = lines[1].strip_prefix("objseal-kek-1:").unwrap();
    assert_eq!(hex.len(), 64);
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert!(text.ends_with('\n'));
    // Only the temporary-free result is left.
    assert_eq!(listing(dir.path()), ["my.key"]);
}

#[test]
fn keygen_never_overwrites_without_force() {
    let dir = tempdir();
    let path = keygen(dir.path(), "my.key");
    let before = fs::read(&path).unwrap();
    fails(objseal(&[&"keygen", &"-o", &path]), b"", "already exists");
    assert_eq!(fs::read(&path).unwrap(), before);
    // Not even a file that is not a key.
    let other = dir.path().join("notes.txt");
    fs::write(&other, "precious").unwrap();
    fails(objseal(&[&"keygen", &"-o", &other]), b"", "--force");
    assert_eq!(fs::read(&other).unwrap(), b"precious");
    // --force replaces it, with a new key and mode 0600.
    ok(objseal(&[&"keygen", &"-o", &path, &"--force"]));
    let after = fs::read(&path).unwrap();
    assert_ne!(after, before);
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(listing(dir.path()), ["my.key", "notes.txt"]);
}

#[test]
fn keygen_prints_to_stdout_without_o() {
    let a = ok(objseal(&[&"keygen"]));
    let b = ok(objseal(&[&"keygen"]));
    let a = String::from_utf8(a.stdout).unwrap();
    let b = String::from_utf8(b.stdout).unwrap();
    assert!(a.starts_with("# objseal key-encryption key, created "));
    assert!(a.lines().nth(1).unwrap().starts_with("objseal-kek-1:"));
    assert_ne!(a, b, "two keys must differ");
    // What it prints is a usable key file.
    let dir = tempdir();
    let key = dir.path().join("k");
    fs::write(&key, &a).unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let sealed = ok_with(objseal(&[&"encrypt", &"-k", &key]), b"hi").stdout;
    let opened = ok_with(objseal(&[&"decrypt", &"-k", &key]), &sealed).stdout;
    assert_eq!(opened, b"hi");
}

#[test]
fn malformed_key_files_are_rejected_without_quoting_them() {
    let dir = tempdir();
    let secret = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let cases = [
        String::new(),
        "# just a comment\n".to_owned(),
        format!("{secret}\n"),
        format!("objseal-kek-2:{secret}\n"),
        format!("objseal-kek-1:{}\n", &secret[..62]),
        format!("objseal-kek-1:{secret}ff\n"),
        format!("objseal-kek-1:{}zz\n", &secret[..62]),
        format!("objseal-kek-1:{secret}\nobjseal-kek-1:{secret}\n"),
        format!("objseal-kek-1:{secret}\ntrailing garbage\n"),
    ];
    for (i, text) in cases.iter().enumerate() {
        let key = dir.path().join(format!("bad{i}.key"));
        fs::write(&key, text).unwrap();
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        let (stderr, stdout) = fails(
            objseal(&[&"encrypt", &"-k", &key]),
            b"data",
            "not a valid objseal key file",
        );
        assert!(stdout.is_empty());
        assert!(!stderr.contains(&secret[..16]), "key bytes in: {stderr}");
    }
    // Whitespace and comments around a valid key are fine.
    let key = dir.path().join("ok.key");
    fs::write(
        &key,
        format!("\n# mine\n  objseal-kek-1:{secret}  \n\n# end\n"),
    )
    .unwrap();
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    ok_with(objseal(&[&"encrypt", &"-k", &key]), b"data");
    // Missing key file.
    fails(
        objseal(&[&"encrypt", &"-k", &dir.path().join("absent.key")]),
        b"",
        "absent.key",
    );
}

// ---------------------------------------------------------------------------------------------------
// round trips

const SIZES: [usize; 5] = [0, 1, 65536, 65537, 3 << 20];

#[test]
fn round_trips_through_files() {
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    for (i, &size) in SIZES.iter().enumerate() {
        let plain = sample(size, i as u64 + 1);
        for log2 in [12u32, 16, 24] {
            let sealed = encrypt_file(dir.path(), &key, &plain, log2, &["bucket=b", "key=o"]);
            let bytes = fs::read(&sealed).unwrap();
            assert_eq!(
                bytes.len(),
                PREFIX_LEN + ciphertext_len(size, log2),
                "{size} {log2}"
            );
            assert_eq!(&bytes[..4], b"OSE\x01");
            assert_eq!(u32::from(bytes[6]), log2);
            let out = dir.path().join("plain.out");
            ok(objseal(&[
                &"decrypt",
                &"-k",
                &key,
                &"-i",
                &sealed,
                &"-o",
                &out,
                &"--context",
                &"key=o",
                &"--context",
                &"bucket=b",
            ]));
            assert!(
                fs::read(&out).unwrap() == plain,
                "size {size}, chunk_log2 {log2}"
            );
            assert_eq!(listing(dir.path()), ["k", "plain.out", "sealed.ose"]);
            fs::remove_file(&out).unwrap();
        }
    }
}

/// A FIFO (or a device such as `/dev/null`) given as `-o` is written in place: a temporary file
/// renamed over it would replace the special file itself.
#[test]
fn special_file_outputs_are_written_in_place_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let plain = sample(300_000, 7);
    let input = dir.path().join("plain");
    fs::write(&input, &plain).unwrap();
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).expect("read the FIFO"))
    };
    ok(objseal(&[
        &"encrypt", &"-k", &key, &"-i", &input, &"-o", &fifo,
    ]));
    let sealed = reader.join().unwrap();
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(sealed.len(), PREFIX_LEN + ciphertext_len(plain.len(), 16));
    let out = ok_with(objseal(&[&"decrypt", &"-k", &key]), &sealed);
    assert!(out.stdout == plain);
    // No temporary file was left beside the FIFO.
    assert_eq!(listing(dir.path()), ["fifo", "k", "plain"]);
}

#[test]
fn round_trips_through_stdin_and_stdout() {
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    for (i, &size) in SIZES.iter().enumerate() {
        let plain = sample(size, 100 + i as u64);
        for log2 in ["12", "16"] {
            // No -i/-o at all, then explicit `-`.
            let sealed = ok_with(
                objseal(&[&"encrypt", &"-k", &key, &"--chunk-log2", &log2]),
                &plain,
            )
            .stdout;
            assert_eq!(
                sealed.len(),
                PREFIX_LEN + ciphertext_len(size, log2.parse().unwrap())
            );
            let opened = ok_with(
                objseal(&[&"decrypt", &"-k", &key, &"-i", &"-", &"-o", &"-"]),
                &sealed,
            )
            .stdout;
            assert!(opened == plain, "size {size}, chunk_log2 {log2}");
        }
    }
    assert_eq!(listing(dir.path()), ["k"]);
}

#[test]
fn every_thread_count_reads_every_other() {
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let plain = sample((1 << 20) + 12345, 7);
    let one = ok_with(
        objseal(&[
            &"encrypt",
            &"-k",
            &key,
            &"--chunk-log2",
            &"12",
            &"--threads",
            &"1",
        ]),
        &plain,
    )
    .stdout;
    let three = ok_with(
        objseal(&[&"encrypt", &"-k", &key, &"--chunk-log2", &"12", &"-j", &"3"]),
        &plain,
    )
    .stdout;
    for (sealed, threads) in [(&one, "3"), (&three, "1"), (&one, "1")] {
        let opened = ok_with(
            objseal(&[&"decrypt", &"-k", &key, &"--threads", &threads]),
            sealed,
        )
        .stdout;
        assert!(opened == plain);
    }
    let out = run(objseal(&[&"encrypt", &"-k", &key, &"--threads", &"0"]), b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn encrypting_twice_gives_unrelated_ciphertexts() {
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let plain = sample(5000, 3);
    let a = ok_with(objseal(&[&"encrypt", &"-k", &key]), &plain).stdout;
    let b = ok_with(objseal(&[&"encrypt", &"-k", &key]), &plain).stdout;
    assert_eq!(a.len(), b.len());
    assert_ne!(a[8..40], b[8..40], "object salts must be fresh");
    assert_ne!(a[PREFIX_LEN..], b[PREFIX_LEN..]);
}

// ---------------------------------------------------------------------------------------------------
// refusals

#[test]
fn the_context_must_match() {
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let plain = sample(10_000, 9);
    let sealed = encrypt_file(
        dir.path(),
        &key,
        &plain,
        12,
        &["bucket=photos", "key=cat.jpg"],
    );
    let out = dir.path().join("out");
    for ctx in [
        vec![],
        vec!["bucket=photos"],
        vec!["bucket=photos", "key=Cat.jpg"],
        vec!["bucket=photos", "key=cat.jpg", "extra=1"],
        vec!["bucket=photos=", "key=cat.jpg"],
    ] {
        let mut cmd = objseal(&[&"decrypt", &"-k", &key, &"-i", &sealed, &"-o", &out]);
        for c in &ctx {
            cmd.args(["--context", c]);
        }
        fails(cmd, b"", NO_KEY_OPENS);
        assert!(!out.exists());
    }
    // Order does not matter.
    let mut cmd = objseal(&[&"decrypt", &"-k", &key, &"-i", &sealed, &"-o", &out]);
    cmd.args(["--context", "key=cat.jpg", "--context", "bucket=photos"]);
    ok(cmd);
    assert!(fs::read(&out).unwrap() == plain);
    // A repeated key is an error, not a silent choice.
    let mut cmd = objseal(&[&"encrypt", &"-k", &key]);
    cmd.args(["--context", "a=1", "--context", "a=2"]);
    fails(cmd, b"x", "duplicate key");
    // A pair without `=` is a usage error.
    let out = run(
        objseal(&[&"encrypt", &"-k", &key, &"--context", &"novalue"]),
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_wrong_key_is_refused_clearly_and_leaves_no_output() {
    let dir = tempdir();
    let key = keygen(dir.path(), "right.key");
    let wrong = keygen(dir.path(), "wrong.key");
    let plain = sample(100_000, 11);
    let sealed = encrypt_file(dir.path(), &key, &plain, 16, &[]);
    let out = dir.path().join("out");
    let (stderr, _) = fails(
        objseal(&[&"decrypt", &"-k", &wrong, &"-i", &sealed, &"-o", &out]),
        b"",
        NO_KEY_OPENS,
    );
    assert!(!stderr.contains(&key_hex(&wrong)[..16]));
    assert!(!stderr.contains(&key_hex(&key)[..16]));
    assert!(!out.exists());
    assert_eq!(
        listing(dir.path()),
        ["right.key", "sealed.ose", "wrong.key"]
    );
    // To stdout: nothing at all is written.
    let (_, stdout) = fails(
        objseal(&[&"decrypt", &"-k", &wrong, &"-i", &sealed]),
        b"",
        NO_KEY_OPENS,
    );
    assert!(stdout.is_empty());
}

/// One tampered variant of a sealed file.
struct Case {
    what: String,
    bytes: Vec<u8>,
}

fn tampered_variants(sealed: &[u8], chunk: usize) -> Vec<Case> {
    let body = PREFIX_LEN;
    let sealed_chunk = chunk + 16;
    let mut cases = Vec::new();
    let mut push = |what: String, bytes: Vec<u8>| cases.push(Case { what, bytes });
    // Truncation at every chunk boundary (including an empty body), inside a chunk, inside the final
    // tag, inside the prefix, and to nothing.
    let mut at = body;
    while at < sealed.len() {
        push(format!("cut at chunk boundary {at}"), sealed[..at].to_vec());
        at += sealed_chunk;
    }
    for cut in [
        body + 2 * sealed_chunk + 100,
        body + 1,
        sealed.len() - 1,
        sealed.len() - 5,
        sealed.len() - 17,
        150,
        104,
        50,
        0,
    ] {
        push(format!("cut at {cut}"), sealed[..cut].to_vec());
    }
    // One flipped bit in the header, the key section and the body.
    let mut flips = vec![0, 3, 5, 6, 7, 8, 20, 39, 40, 60, 71, 72, 90, 103];
    flips.extend([104, 105, 106, 107]); // key count, blob length
    flips.extend((108..PREFIX_LEN).step_by(7)); // the blob: version, algorithm, id, version, salt, ct
    flips.push(PREFIX_LEN - 1);
    flips.extend([
        body,
        body + chunk - 1,
        body + chunk,
        body + sealed_chunk + 5,
        sealed.len() - 20,
        sealed.len() - 1,
    ]);
    for at in flips {
        let mut bytes = sealed.to_vec();
        bytes[at] ^= 0x01;
        push(format!("bit flipped at {at}"), bytes);
    }
    // Appended bytes.
    for extra in [1usize, 16, 17, sealed_chunk] {
        let mut bytes = sealed.to_vec();
        bytes.extend(std::iter::repeat_n(0u8, extra));
        push(format!("{extra} bytes appended"), bytes);
    }
    let mut bytes = sealed.to_vec();
    bytes.extend_from_slice(&sealed[sealed.len() - 116..]);
    push("final chunk repeated".into(), bytes);
    // Two chunks swapped; a chunk dropped from the middle.
    let mut bytes = sealed.to_vec();
    let (a, b) = (body, body + sealed_chunk);
    let first = sealed[a..b].to_vec();
    bytes.copy_within(b..b + sealed_chunk, a);
    bytes[b..b + sealed_chunk].copy_from_slice(&first);
    push("chunks 0 and 1 swapped".into(), bytes);
    let mut bytes = sealed[..body + sealed_chunk].to_vec();
    bytes.extend_from_slice(&sealed[body + 2 * sealed_chunk..]);
    push("chunk 1 dropped".into(), bytes);
    cases
}

#[test]
fn tampered_truncated_or_extended_input_fails_and_leaves_no_output() {
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let chunk = 4096;
    let plain = sample(5 * chunk + 100, 21);
    let sealed_path = encrypt_file(dir.path(), &key, &plain, 12, &["bucket=b"]);
    let sealed = fs::read(&sealed_path).unwrap();
    assert_eq!(sealed.len(), PREFIX_LEN + 5 * (chunk + 16) + 116);
    let input = dir.path().join("bad.ose");
    let out = dir.path().join("out");
    let cases = tampered_variants(&sealed, chunk);
    assert!(cases.len() > 50);
    for case in &cases {
        fs::write(&input, &case.bytes).unwrap();
        // To a file: exit 1 and no output file (nor a temporary one).
        let result = run(
            objseal(&[
                &"decrypt",
                &"-k",
                &key,
                &"-i",
                &input,
                &"-o",
                &out,
                &"--context",
                &"bucket=b",
                &"--threads",
                &"1",
            ]),
            b"",
        );
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{}: {stderr}", case.what);
        assert!(
            stderr.starts_with("objseal: error: "),
            "{}: {stderr}",
            case.what
        );
        assert!(!out.exists(), "{}", case.what);
        assert_eq!(
            listing(dir.path()),
            ["bad.ose", "k", "sealed.ose"],
            "{}",
            case.what
        );
        // To stdout, from stdin: exit 1; whatever came out verified, so it is a strict prefix of the
        // plaintext, and the error says the output is incomplete when there was any.
        let result = run(
            objseal(&[
                &"decrypt",
                &"-k",
                &key,
                &"--context",
                &"bucket=b",
                &"-j",
                &"1",
            ]),
            &case.bytes,
        );
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(1), "{}: {stderr}", case.what);
        assert!(
            result.stdout.len() < plain.len() && plain.starts_with(&result.stdout),
            "{}: {} bytes out",
            case.what,
            result.stdout.len()
        );
        if !result.stdout.is_empty() {
            assert!(stderr.contains("incomplete"), "{}: {stderr}", case.what);
        }
    }
    // The untouched file still opens.
    ok(objseal(&[
        &"decrypt",
        &"-k",
        &key,
        &"-i",
        &sealed_path,
        &"-o",
        &out,
        &"-c",
        &"bucket=b",
    ]));
    assert!(fs::read(&out).unwrap() == plain);
}

#[test]
fn not_objseal_input_is_refused() {
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let (_, stdout) = fails(
        objseal(&[&"decrypt", &"-k", &key]),
        b"plain text, not encrypted",
        "bad magic",
    );
    assert!(stdout.is_empty());
    fails(objseal(&[&"decrypt", &"-k", &key]), b"", "too short");
    fails(objseal(&[&"inspect"]), b"hello", "bad magic");
}

// ---------------------------------------------------------------------------------------------------
// inspect, demo, help

#[test]
fn inspect_shows_the_public_fields_and_nothing_secret() {
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let plain = sample(200_000, 31);
    let sealed_path = encrypt_file(dir.path(), &key, &plain, 14, &["bucket=b"]);
    let sealed = fs::read(&sealed_path).unwrap();
    let from_file = ok(objseal(&[&"inspect", &sealed_path])).stdout;
    let from_stdin = ok_with(objseal(&[&"inspect", &"-"]), &sealed).stdout;
    let key_hex = key_hex(&key);
    let mut h = Sha256::new();
    h.update(b"objseal key id\0");
    h.update(hex::decode(&key_hex).unwrap());
    let key_id = format!("local:{}", &hex::encode(h.finalize())[..16]);
    for (text, is_file) in [(from_file, true), (from_stdin, false)] {
        let text = String::from_utf8(text).unwrap();
        for needle in [
            "version:        1".to_owned(),
            "suite:          0x0001".to_owned(),
            "chunk size:     16384 bytes (chunk_log2 14)".to_owned(),
            "segmented:      no".to_owned(),
            format!("salt:           {}", hex::encode(&sealed[8..40])),
            format!("ctx_hash:       {}", hex::encode(&sealed[40..72])),
            "wrapped keys:     1".to_owned(),
            format!(
                "algorithm: local-kek (1), key id: {key_id}, key version: 1, ciphertext: 48 bytes"
            ),
        ] {
            assert!(text.contains(&needle), "{needle:?} not in:\n{text}");
        }
        if is_file {
            let body = sealed.len() - PREFIX_LEN;
            assert!(
                text.contains(&format!("body length:      {body} bytes")),
                "{text}"
            );
            assert!(
                text.contains(&format!("plaintext length: {} bytes", plain.len())),
                "{text}"
            );
        }
        // Neither the key nor any window of it.
        for window in key_hex.as_bytes().windows(16) {
            let w = std::str::from_utf8(window).unwrap();
            assert!(!text.to_lowercase().contains(w), "key material in:\n{text}");
        }
    }
    // A truncated file whose body ends inside a tag: the length fits no plaintext, and inspect says so.
    let cut = dir.path().join("cut.ose");
    fs::write(&cut, &sealed[..PREFIX_LEN + 12 * (16384 + 16) + 8]).unwrap();
    let text = String::from_utf8(ok(objseal(&[&"inspect", &cut])).stdout).unwrap();
    assert!(text.contains("truncated or extended"), "{text}");
}

#[test]
fn demo_runs_on_a_small_sample() {
    let out = ok(objseal(&[&"demo", &"--size", &"300K", &"--threads", &"2"]));
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "AES-GCM backend:",
        "1. keygen",
        "3. encrypt",
        "4. inspect",
        "5. decrypt",
        "identical",
        "refused",
        "SSE-S3   PutObject -> x-amz-server-side-encryption: AES256",
        "SSE-KMS  PutObject -> aws:kms, key arn:aws:kms:",
        "SSE-C with a wrong key: HTTP 403",
        "SSE-C without a key: HTTP 400",
        "no plaintext and no customer key anywhere",
        "demo OK",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    assert_eq!(text.matches("refused:").count(), 4, "{text}");
}

#[test]
fn version_help_and_usage_errors() {
    let out = ok(objseal(&[&"--version"]));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("objseal {}", env!("CARGO_PKG_VERSION"))
    );
    let help = String::from_utf8(ok(objseal(&[&"--help"])).stdout).unwrap();
    for cmd in ["keygen", "encrypt", "decrypt", "inspect", "demo"] {
        assert!(help.contains(cmd), "{help}");
    }
    let help = String::from_utf8(ok(objseal(&[&"encrypt", &"--help"])).stdout).unwrap();
    for opt in [
        "--key",
        "--input",
        "--output",
        "--chunk-log2",
        "--context",
        "--threads",
    ] {
        assert!(help.contains(opt), "{help}");
    }
    for args in [
        vec!["encrypt"],
        vec!["encrypt", "-k", "k", "--chunk-log2", "11"],
        vec!["encrypt", "-k", "k", "--chunk-log2", "25"],
        vec!["frobnicate"],
        vec![],
        vec!["demo", "--size", "lots"],
    ] {
        let mut cmd = Command::new(BIN);
        cmd.args(&args);
        let out = run(cmd, b"");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn the_output_file_appears_only_complete() {
    // Reading the input and writing the output at the same path works: the result is renamed over it
    // only at the end.
    let dir = tempdir();
    let key = keygen(dir.path(), "k");
    let plain = sample(300_000, 41);
    let path = dir.path().join("data");
    fs::write(&path, &plain).unwrap();
    ok(objseal(&[
        &"encrypt", &"-k", &key, &"-i", &path, &"-o", &path,
    ]));
    assert_eq!(
        fs::metadata(&path).unwrap().len() as usize,
        PREFIX_LEN + ciphertext_len(plain.len(), 16)
    );
    ok(objseal(&[
        &"decrypt", &"-k", &key, &"-i", &path, &"-o", &path,
    ]));
    let mut back = Vec::new();
    fs::File::open(&path)
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
    assert!(back == plain);
    assert_eq!(listing(dir.path()), ["data", "k"]);
}
