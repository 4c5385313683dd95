//! Key files: `objseal keygen` output and loading.
//!
//! ```text
//! # objseal key-encryption key, created 2026-05-01T12:00:00Z
//! objseal-kek-1:<64 lowercase hex digits>
//! ```
//! Loading ignores blank lines, `#` comment lines and surrounding whitespace, and requires exactly one
//! key line. Errors never quote the file's contents. The key id stored in wrapped keys is a
//! fingerprint, `local:` + the first 16 hex digits of SHA-256("objseal key id\0" ‖ key).

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::SystemTime;

use anyhow::{Context, Result, anyhow, bail};
use objseal_core::wrap::LocalKek;
use objseal_core::{KEY_LEN, Kek};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The tag in front of the key's hex digits.
pub const KEY_LINE_PREFIX: &str = "objseal-kek-1:";
/// Key version stored in wrapped keys made by this tool.
pub const KEY_VERSION: u32 = 1;
/// Larger files are not key files.
const MAX_KEY_FILE_LEN: u64 = 64 * 1024;

/// The key id of `kek`: a fingerprint that reveals nothing about the key.
pub fn key_id(kek: &Kek) -> String {
    let digest = Sha256::new()
        .chain_update(b"objseal key id\0")
        .chain_update(kek.expose_secret())
        .finalize();
    format!("local:{}", hex::encode(&digest[..8]))
}

/// The text of a key file for `kek`.
pub fn render(kek: &Kek, created: SystemTime) -> Zeroizing<String> {
    let mut hex_key = Zeroizing::new([0u8; 2 * KEY_LEN]);
    // Cannot fail: the output is exactly twice the input's length.
    let _ = hex::encode_to_slice(kek.expose_secret(), &mut hex_key[..]);
    let mut text = Zeroizing::new(String::with_capacity(256));
    text.push_str("# objseal key-encryption key, created ");
    text.push_str(&crate::time::rfc3339_utc(created));
    text.push('\n');
    text.push_str(KEY_LINE_PREFIX);
    text.extend(hex_key.iter().map(|&b| char::from(b)));
    text.push('\n');
    text
}

/// Parses the text of a key file. Error messages never contain the text.
pub fn parse(text: &str) -> Result<Kek> {
    let mut key: Option<Kek> = None;
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(digits) = line.strip_prefix(KEY_LINE_PREFIX) else {
            bail!(
                "line {} is neither a comment nor an `{KEY_LINE_PREFIX}` key line",
                number + 1
            );
        };
        if key.is_some() {
            bail!("more than one key line (line {})", number + 1);
        }
        let digits = digits.trim();
        if digits.len() != 2 * KEY_LEN || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "the key on line {} is not {} hex digits",
                number + 1,
                2 * KEY_LEN
            );
        }
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        hex::decode_to_slice(digits, &mut bytes[..])
            .map_err(|_| anyhow!("the key on line {} is not valid hex", number + 1))?;
        key = Some(Kek::from_bytes(*bytes));
    }
    key.ok_or_else(|| anyhow!("no `{KEY_LINE_PREFIX}` key line found"))
}

/// Reads and parses the key file at `path`.
pub fn read(path: &Path) -> Result<Kek> {
    let context = || format!("key file {}", path.display());
    let file = File::open(path).with_context(|| format!("opening key file {}", path.display()))?;
    let meta = file.metadata().with_context(context)?;
    if !meta.is_file() {
        bail!("key file {} is not a regular file", path.display());
    }
    if meta.len() > MAX_KEY_FILE_LEN {
        bail!(
            "key file {} is not an objseal key file (too large)",
            path.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            eprintln!(
                "objseal: warning: key file {} is accessible by other users (mode {mode:04o}); \
                 `chmod 600` it",
                path.display()
            );
        }
    }
    let mut raw = Zeroizing::new(Vec::with_capacity(meta.len() as usize));
    file.take(MAX_KEY_FILE_LEN)
        .read_to_end(&mut raw)
        .with_context(context)?;
    let text = std::str::from_utf8(&raw).map_err(|_| {
        anyhow!(
            "key file {} is not an objseal key file (not text)",
            path.display()
        )
    })?;
    parse(text).with_context(|| {
        format!(
            "key file {} is not a valid objseal key file",
            path.display()
        )
    })
}

/// Reads the key file at `path` as a local key-encryption key named by its fingerprint.
pub fn load(path: &Path) -> Result<LocalKek> {
    let kek = read(path)?;
    let id = key_id(&kek);
    Ok(LocalKek::new(kek, &id, KEY_VERSION)?)
}

/// Writes a key file for `kek` at `path` (mode 0600), atomically; refuses to replace an existing file
/// unless `force`.
pub fn write(path: &Path, kek: &Kek, force: bool) -> Result<()> {
    if !force && path.symlink_metadata().is_ok() {
        bail!(
            "{} already exists; refusing to overwrite it (use --force to replace it)",
            path.display()
        );
    }
    let text = render(kek, SystemTime::now());
    let mut tmp = crate::stdio::temp_beside(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    tmp.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    crate::stdio::persist(tmp, path, force)
}

/// `objseal keygen`.
pub fn keygen(output: Option<&Path>, force: bool) -> Result<()> {
    let kek = Kek::generate().context("generating a key")?;
    match output {
        Some(path) => {
            write(path, &kek, force)?;
            eprintln!(
                "objseal: wrote a new key-encryption key to {} (key id {})",
                path.display(),
                key_id(&kek)
            );
            Ok(())
        }
        None => {
            let text = render(&kek, SystemTime::now());
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
                .context("writing to standard output")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn key() -> Kek {
        let mut b = [0u8; 32];
        hex::decode_to_slice(HEX, &mut b).unwrap();
        Kek::from_bytes(b)
    }

    #[test]
    fn render_then_parse() {
        let text = render(&key(), std::time::UNIX_EPOCH);
        assert_eq!(
            text.as_str(),
            format!(
                "# objseal key-encryption key, created 1970-01-01T00:00:00Z\nobjseal-kek-1:{HEX}\n"
            )
        );
        assert_eq!(parse(&text).unwrap(), key());
    }

    #[test]
    fn lenient_whitespace_and_comments() {
        let text = format!("\n  # a comment\n\t{KEY_LINE_PREFIX}{HEX}  \r\n# trailing\n\n");
        assert_eq!(parse(&text).unwrap(), key());
    }

    #[test]
    fn rejects_everything_else_without_quoting_it() {
        let cases = [
            String::new(),
            "# only a comment\n".to_owned(),
            HEX.to_owned(),
            format!("objseal-kek-2:{HEX}"),
            format!("{KEY_LINE_PREFIX}{}", &HEX[..62]),
            format!("{KEY_LINE_PREFIX}{HEX}00"),
            format!("{KEY_LINE_PREFIX}{}zz", &HEX[..62]),
            format!("{KEY_LINE_PREFIX}{HEX}\n{KEY_LINE_PREFIX}{HEX}"),
            format!("{KEY_LINE_PREFIX}{HEX}\nextra"),
        ];
        for case in cases {
            let err = format!("{:#}", parse(&case).unwrap_err());
            assert!(!err.contains(&HEX[..16]), "{err}");
        }
    }

    #[test]
    fn key_id_is_a_fingerprint() {
        let id = key_id(&key());
        assert!(id.starts_with("local:"));
        assert_eq!(id.len(), "local:".len() + 16);
        let mut h = Sha256::new();
        h.update(b"objseal key id\0");
        h.update(key().expose_secret());
        assert_eq!(&id[6..], &hex::encode(h.finalize())[..16]);
        assert_ne!(id, key_id(&Kek::from_bytes([0; 32])));
    }
}
