//! Where things live under the store's root, and the small file-system helpers every write uses.
//!
//! ```text
//! <root>/tmp/                                   temporary files and directories (emptied at open)
//! <root>/buckets/<bucket>/bucket.json           the bucket's creation date and configuration
//! <root>/buckets/<bucket>/objects/<hh>/<hash>   one file per object: body, metadata, footer
//! <root>/buckets/<bucket>/uploads/<id>/upload.json   a multipart upload's key and metadata
//! <root>/buckets/<bucket>/uploads/<id>/part-NNNNN    its parts, in the object file format
//! ```
//!
//! `<hash>` is the SHA-256 of the object key in hex and `<hh>` its first two digits, so any key —
//! with `/`, `..`, NUL-free unicode, up to 1024 bytes — maps to a fixed-length, safe file name.
//! Bucket names follow Amazon S3's rules (checked at creation) and upload ids are alphanumeric,
//! so no request can name a path outside the root.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use sha2::Digest as _;

/// Temporary files and directories, on the same file system as everything else.
pub(super) const TMP_DIR: &str = "tmp";
/// The buckets.
pub(super) const BUCKETS_DIR: &str = "buckets";
/// A bucket's description.
pub(super) const BUCKET_FILE: &str = "bucket.json";
/// A bucket's objects.
pub(super) const OBJECTS_DIR: &str = "objects";
/// A bucket's multipart uploads.
pub(super) const UPLOADS_DIR: &str = "uploads";
/// A multipart upload's description.
pub(super) const UPLOAD_FILE: &str = "upload.json";

/// The longest object key Amazon S3 accepts, in bytes.
pub(super) const MAX_KEY_LEN: usize = 1024;

/// The SHA-256 of an object key, in lowercase hex: the object's file name.
pub(super) fn key_hash(key: &str) -> String {
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}

/// The shard directory and the file of an object, under a bucket directory.
pub(super) fn object_paths(bucket_dir: &Path, key: &str) -> (PathBuf, PathBuf) {
    let hash = key_hash(key);
    let shard = bucket_dir.join(OBJECTS_DIR).join(&hash[..2]);
    let file = shard.join(hash);
    (shard, file)
}

/// The file name of a multipart upload's part.
pub(super) fn part_file_name(part_number: i32) -> String {
    format!("part-{part_number:05}")
}

/// The part number a part file name stands for.
pub(super) fn parse_part_file_name(name: &str) -> Option<i32> {
    let digits = name.strip_prefix("part-")?;
    if digits.len() != 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Whether a string can be an upload id of ours (and so a safe directory name).
pub(super) fn valid_upload_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// `n` random bytes in lowercase hex.
pub(super) fn random_hex(n: usize) -> io::Result<String> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| io::Error::other(e.to_string()))?;
    Ok(hex::encode(buf))
}

/// A fresh path in the temporary directory.
pub(super) fn temp_path(root: &Path) -> io::Result<PathBuf> {
    Ok(root.join(TMP_DIR).join(format!("{}.tmp", random_hex(16)?)))
}

/// Makes a directory's entries (renames, creations, removals) durable.
pub(super) fn fsync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Creates a directory whose parent exists; `Ok(true)` when it was created now (the parent then
/// needs an fsync), `Ok(false)` when it was already there.
pub(super) fn create_dir_once(dir: &Path) -> io::Result<bool> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Writes a small file atomically and durably: temporary file, `sync_all`, rename over `dest`,
/// fsync of `dest`'s directory.
pub(super) fn write_file_atomic(root: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write as _;
    let tmp = temp_path(root)?;
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, dest)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fsync_dir(dest.parent().unwrap_or(Path::new(".")))
}

/// Removes a file or a directory tree, whichever it is.
pub(super) fn remove_any(path: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(path)?;
    if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

/// Moves a directory into the temporary directory (an atomic removal), then deletes it.
pub(super) fn remove_dir_atomic(root: &Path, dir: &Path) -> io::Result<()> {
    let grave = root.join(TMP_DIR).join(format!("{}.del", random_hex(16)?));
    fs::rename(dir, &grave)?;
    if let Some(parent) = dir.parent() {
        fsync_dir(parent)?;
    }
    // The directory is gone from its place; what is left in tmp/ is cleaned at the next open.
    let _ = fs::remove_dir_all(&grave);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_round_trip() {
        for n in [1, 42, 10_000] {
            assert_eq!(parse_part_file_name(&part_file_name(n)), Some(n));
        }
        assert_eq!(parse_part_file_name("part-1"), None);
        assert_eq!(parse_part_file_name("upload.json"), None);
        assert_eq!(parse_part_file_name("part-0001x"), None);
    }

    #[test]
    fn object_paths_stay_inside() {
        let dir = Path::new("/r/buckets/b");
        for key in ["../../etc/passwd", "/abs", "a/b/c", "..", "é/∂"] {
            let (shard, file) = object_paths(dir, key);
            assert!(shard.starts_with("/r/buckets/b/objects"));
            assert_eq!(file.parent(), Some(shard.as_path()));
            let name = file.file_name().unwrap().to_str().unwrap();
            assert_eq!(name.len(), 64);
            assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn upload_ids() {
        assert!(valid_upload_id("abc123"));
        assert!(!valid_upload_id(""));
        assert!(!valid_upload_id("../x"));
        assert!(!valid_upload_id("a.b"));
        assert!(valid_upload_id(&random_hex(16).unwrap()));
    }
}
