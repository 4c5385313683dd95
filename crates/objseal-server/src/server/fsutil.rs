//! Small file helpers for the data directory: private directories, and secret files made
//! atomically with mode 0600 and never overwritten.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

use zeroize::Zeroizing;

use super::ServerError;

/// The largest secret file read (a root key or credentials file is well under 1 KiB).
const MAX_SECRET_FILE_LEN: u64 = 64 * 1024;

/// Creates `dir` and its parents; directories made here get mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), ServerError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| ServerError::io(format!("creating the directory {}", dir.display()), e))
}

/// The text of a secret file, `None` when there is none. Warns when others may read it.
pub(crate) fn read_secret_file(path: &Path) -> Result<Option<Zeroizing<String>>, ServerError> {
    let what = || format!("reading {}", path.display());
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ServerError::io(what(), e)),
    };
    #[cfg(unix)]
    if let Ok(meta) = file.metadata() {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "a secret file is readable by others: chmod 600 it"
            );
        }
    }
    let mut text = Zeroizing::new(String::new());
    file.take(MAX_SECRET_FILE_LEN + 1)
        .read_to_string(&mut text)
        .map_err(|e| ServerError::io(what(), e))?;
    if text.len() as u64 > MAX_SECRET_FILE_LEN {
        return Err(ServerError::BadSecretFile {
            path: path.to_path_buf(),
            reason: "too large".into(),
        });
    }
    Ok(Some(text))
}

/// Writes `contents` to `path` (mode 0600) unless it exists: `Ok(false)` then, and nothing is
/// changed. The file appears whole or not at all (written beside it, synced, then linked).
pub(crate) fn write_new_secret_file(path: &Path, contents: &[u8]) -> Result<bool, ServerError> {
    let what = || format!("writing {}", path.display());
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut suffix = [0u8; 8];
    getrandom::fill(&mut suffix)
        .map_err(|e| ServerError::io(what(), io::Error::other(e.to_string())))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", hex::encode(suffix)));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        match fs::hard_link(&tmp, path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e),
        }
        // Make the new name durable.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(true)
    })();
    let _ = fs::remove_file(&tmp);
    result.map_err(|e| ServerError::io(what(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_private_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        assert!(read_secret_file(&path).unwrap().is_none());
        assert!(write_new_secret_file(&path, b"one").unwrap());
        assert!(!write_new_secret_file(&path, b"two").unwrap());
        assert_eq!(read_secret_file(&path).unwrap().unwrap().as_str(), "one");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only the file itself is left: no temporary files.
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
