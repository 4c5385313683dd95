//! `objseal inspect`: the public parts of an encrypted file.

use std::io::{BufReader, Write};
use std::path::Path;

use anyhow::{Context, Result};
use objseal_core::format::container::ContainerPrefix;
use objseal_core::format::header::{Suite, VERSION};
use objseal_core::format::wrapped_key::WrapAlgorithm;
use objseal_core::range;

use crate::crypt::read_prefix;
use crate::stdio;

/// Prints the header and wrapped keys of the encrypted file at `path` (standard input for `None`) to
/// `out`; for a regular file also its body and plaintext lengths. Nothing secret is printed, and
/// nothing is verified.
pub fn inspect(path: Option<&Path>, out: &mut dyn Write) -> Result<()> {
    let source = stdio::display(path, "<stdin>");
    let input = stdio::open_input(path)?;
    let mut reader = BufReader::with_capacity(16 * 1024, input.reader);
    let bytes = read_prefix(&mut reader).with_context(|| format!("cannot inspect {source}"))?;
    let prefix =
        ContainerPrefix::parse(&bytes).with_context(|| format!("cannot inspect {source}"))?;
    let h = &prefix.header;
    let empty = if h.ctx_hash == objseal_core::empty_context_hash() {
        "  (empty context)"
    } else {
        ""
    };
    let mut text = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        text,
        "{source}: objseal encrypted file (not verified: inspect uses no key)"
    );
    let _ = writeln!(text, "header:");
    let _ = writeln!(text, "  version:        {VERSION}");
    let _ = writeln!(
        text,
        "  suite:          0x{:04x} {}",
        h.suite.id(),
        suite_name(h.suite)
    );
    let _ = writeln!(
        text,
        "  chunk size:     {} bytes (chunk_log2 {})",
        h.chunk_size(),
        h.chunk_log2
    );
    let _ = writeln!(
        text,
        "  segmented:      {}",
        if h.segmented { "yes" } else { "no" }
    );
    let _ = writeln!(text, "  salt:           {}", hex::encode(h.object_salt));
    let _ = writeln!(text, "  ctx_hash:       {}{empty}", hex::encode(h.ctx_hash));
    let _ = writeln!(text, "  header tag:     {}", hex::encode(h.tag));
    let blobs: Vec<_> = prefix.wrapped_keys().collect();
    let _ = writeln!(text, "wrapped keys:     {}", blobs.len());
    for (i, blob) in blobs.into_iter().enumerate() {
        let blob = blob?;
        let _ = writeln!(
            text,
            "  [{i}] algorithm: {} ({}), key id: {}, key version: {}, ciphertext: {} bytes",
            algorithm_name(blob.algorithm),
            blob.algorithm.id(),
            blob.key_id.escape_debug(),
            blob.key_version,
            blob.ciphertext.len()
        );
    }
    let _ = writeln!(text, "prefix length:    {} bytes", prefix.body_offset);
    match input.file_len {
        Some(file_len) => {
            let body = file_len.saturating_sub(prefix.body_offset as u64);
            let _ = writeln!(text, "body length:      {body} bytes");
            match range::plaintext_len(body, h.chunk_log2) {
                Ok(plain) => {
                    let _ = writeln!(
                        text,
                        "plaintext length: {plain} bytes in {} chunk(s) (computed from the length)",
                        range::chunk_count(plain, h.chunk_log2)
                    );
                }
                Err(e) => {
                    let _ = writeln!(
                        text,
                        "plaintext length: none fits this body length ({e}): truncated or extended"
                    );
                }
            }
        }
        None => {
            let _ = writeln!(text, "body length:      unknown (not a regular file)");
        }
    }
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .context("writing to standard output")
}

fn suite_name(suite: Suite) -> &'static str {
    match suite {
        Suite::Aes256GcmHkdfSha256 => {
            "AES-256-GCM chunks, HKDF-SHA-256 key schedule, HMAC-SHA-256 header commitment"
        }
        _ => "unknown",
    }
}

fn algorithm_name(algorithm: WrapAlgorithm) -> &'static str {
    match algorithm {
        WrapAlgorithm::LocalKek => "local-kek",
        WrapAlgorithm::Kms => "kms",
        WrapAlgorithm::CustomerKey => "customer-key",
        _ => "unknown",
    }
}
