//! Inputs and outputs: standard streams, files, and atomic (temporary file + rename) file outputs.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// `None` for standard input/output (no path, or `-`), else the path.
pub fn path_or_stdio(path: Option<&Path>) -> Option<&Path> {
    path.filter(|p| p.as_os_str() != "-")
}

/// Shows a path, or `<stdin>`/`<stdout>`.
pub fn display(path: Option<&Path>, stdio: &'static str) -> String {
    path.map_or_else(|| stdio.to_owned(), |p| p.display().to_string())
}

/// An open input, with its length when it is a regular file.
pub struct Input {
    /// The byte source (unbuffered).
    pub reader: Box<dyn Read + Send>,
    /// Length in bytes, for a regular file.
    pub file_len: Option<u64>,
}

/// Opens `path`, or standard input for `None`.
pub fn open_input(path: Option<&Path>) -> Result<Input> {
    match path {
        None => Ok(Input {
            reader: stdin_reader()?,
            file_len: None,
        }),
        Some(p) => {
            let file = File::open(p).with_context(|| format!("opening {}", p.display()))?;
            let meta = file
                .metadata()
                .with_context(|| format!("reading the metadata of {}", p.display()))?;
            if meta.is_dir() {
                bail!("{} is a directory", p.display());
            }
            Ok(Input {
                reader: Box::new(file),
                file_len: meta.is_file().then_some(meta.len()),
            })
        }
    }
}

/// Standard input without the standard library's 8 KiB buffer in between (a duplicate of fd 0).
fn stdin_reader() -> Result<Box<dyn Read + Send>> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let fd = io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .context("opening standard input")?;
        Ok(Box::new(File::from(fd)))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::new(io::stdin()))
    }
}

/// Standard output without line buffering (a duplicate of fd 1).
fn stdout_writer() -> Result<Box<dyn Write + Send>> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        let fd = io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .context("opening standard output")?;
        Ok(Box::new(File::from(fd)))
    }
    #[cfg(not(unix))]
    {
        Ok(Box::new(io::stdout()))
    }
}

/// Where output goes: standard output or an existing special file such as `/dev/null` or a FIFO
/// (streamed), or a temporary file beside a regular destination that [`Output::commit`] syncs and
/// renames into place. An `Output` dropped without `commit` removes its temporary file, so a failed
/// run leaves nothing at a regular destination.
pub struct Output {
    sink: Sink,
    written: u64,
}

enum Sink {
    Stream(Box<dyn Write + Send>),
    File {
        tmp: tempfile::NamedTempFile,
        dest: PathBuf,
    },
}

impl Output {
    /// Output to `path` (atomically), or to standard output for `None`.
    pub fn create(path: Option<&Path>) -> Result<Self> {
        let sink = match path {
            None => Sink::Stream(stdout_writer()?),
            Some(dest) => {
                if dest.is_dir() {
                    bail!("{} is a directory", dest.display());
                }
                // A device, FIFO or socket is written in place: renaming a file over `/dev/null`
                // would replace the device node itself.
                if let Ok(meta) = std::fs::metadata(dest)
                    && !meta.is_file()
                {
                    let file = std::fs::OpenOptions::new()
                        .write(true)
                        .open(dest)
                        .with_context(|| format!("opening {}", dest.display()))?;
                    return Ok(Self {
                        sink: Sink::Stream(Box::new(file)),
                        written: 0,
                    });
                }
                let tmp = temp_beside(dest)?;
                Sink::File {
                    tmp,
                    dest: dest.to_owned(),
                }
            }
        };
        Ok(Self { sink, written: 0 })
    }

    /// Whether this streams (standard output or a special file) rather than renaming a finished file
    /// into place: bytes written cannot be taken back.
    pub fn is_stdout(&self) -> bool {
        matches!(self.sink, Sink::Stream(_))
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes standard output, or syncs the temporary file and renames it over the destination.
    pub fn commit(self) -> Result<()> {
        match self.sink {
            Sink::Stream(mut w) => w.flush().context("writing the output"),
            Sink::File { tmp, dest } => persist(tmp, &dest, true),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.sink {
            Sink::Stream(w) => w.write(buf)?,
            Sink::File { tmp, .. } => tmp.as_file_mut().write(buf)?,
        };
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stream(w) => w.flush(),
            Sink::File { tmp, .. } => tmp.as_file_mut().flush(),
        }
    }
}

/// A new temporary file (mode 0600) in the directory of `dest`.
pub fn temp_beside(dest: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = dest
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(".objseal-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))
}

/// Syncs `tmp` and renames it to `dest` (replacing it if `overwrite`, else failing if it exists),
/// then syncs the directory so the rename is durable.
pub fn persist(tmp: tempfile::NamedTempFile, dest: &Path, overwrite: bool) -> Result<()> {
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("writing {}", dest.display()))?;
    let persisted = if overwrite {
        tmp.persist(dest)
    } else {
        tmp.persist_noclobber(dest)
    };
    if let Err(e) = persisted {
        // `e.file` is dropped here, which removes the temporary file.
        if !overwrite && e.error.kind() == io::ErrorKind::AlreadyExists {
            bail!(
                "{} already exists; refusing to overwrite it (use --force to replace it)",
                dest.display()
            );
        }
        return Err(e.error).with_context(|| format!("renaming into {}", dest.display()));
    }
    #[cfg(unix)]
    {
        let dir = dest
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // Best effort: some file systems cannot sync a directory.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
