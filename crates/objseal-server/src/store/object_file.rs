//! The object file format, and streaming bodies into and out of it.
//!
//! An object (or a multipart upload's part) is one file:
//!
//! ```text
//! [ body bytes ][ metadata JSON ][ JSON length: u64 LE ][ magic "OSLSTOR1" ]
//! ```
//!
//! The body comes first because its size is not known for sure before it has been read; the
//! metadata is appended once it is. The file is written under `tmp/`, synced and renamed into
//! place, so one rename publishes body and metadata together. Readers take the metadata from the
//! footer and the body at its offset from the same open file, so a concurrent overwrite (a rename
//! over the path) never mixes two versions.

use std::collections::BTreeMap;
use std::fs::File;
use std::future::Future;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::{Stream, StreamExt};
use md5::{Digest as _, Md5};
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3Result, StdError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

use super::internal_error;

/// The last eight bytes of every object and part file.
const MAGIC: [u8; 8] = *b"OSLSTOR1";
/// JSON length and magic.
const FOOTER_LEN: u64 = 16;
/// A metadata block larger than this is taken for corruption.
const MAX_META_LEN: u64 = 64 << 20;
/// Body bytes buffered before a write to the file.
const WRITE_BUFFER: usize = 1 << 20;
/// Body bytes per chunk of a GET response.
pub(super) const READ_CHUNK: u64 = 256 << 10;

/// An object's metadata, stored after its body.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(super) struct ObjectMeta {
    /// The object key (the file name is its hash).
    pub key: String,
    /// Body length in bytes.
    pub size: u64,
    /// The ETag without quotes: hex MD5, or `<hex>-N` for a multipart object.
    pub etag: String,
    /// Milliseconds since the Unix epoch.
    pub last_modified: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Expires`, in milliseconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website_redirect_location: Option<String>,
    /// User metadata, the layer's internal entries included, verbatim.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// Part sizes of a multipart object (empty for a single-part one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<u64>,
}

/// A multipart upload's part's metadata, stored after its bytes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(super) struct PartMeta {
    pub part_number: i32,
    pub size: u64,
    /// Hex MD5 of the part's bytes, without quotes.
    pub etag: String,
    /// Milliseconds since the Unix epoch.
    pub last_modified: i64,
    /// Late entries the layer left on `UploadPart`, kept without being looked at.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// The metadata block and footer to append after a body.
pub(super) fn encode_trailer<M: Serialize>(meta: &M) -> io::Result<Vec<u8>> {
    let mut out = serde_json::to_vec(meta).map_err(io::Error::other)?;
    let len = out.len() as u64;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&MAGIC);
    Ok(out)
}

fn corrupt(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("corrupt store file: {what}"),
    )
}

/// Reads the metadata of an object or part file; returns it with the body length.
/// The file's position is left unspecified.
pub(super) fn read_trailer<M: DeserializeOwned>(file: &mut File) -> io::Result<(M, u64)> {
    let len = file.metadata()?.len();
    if len < FOOTER_LEN {
        return Err(corrupt("too short"));
    }
    let mut footer = [0u8; FOOTER_LEN as usize];
    file.seek(SeekFrom::Start(len - FOOTER_LEN))?;
    file.read_exact(&mut footer)?;
    if footer[8..] != MAGIC {
        return Err(corrupt("bad magic"));
    }
    let mut meta_len = [0u8; 8];
    meta_len.copy_from_slice(&footer[..8]);
    let meta_len = u64::from_le_bytes(meta_len);
    if meta_len > MAX_META_LEN || meta_len > len - FOOTER_LEN {
        return Err(corrupt("bad metadata length"));
    }
    let body_len = len - FOOTER_LEN - meta_len;
    let mut json = vec![0u8; meta_len as usize];
    file.seek(SeekFrom::Start(body_len))?;
    file.read_exact(&mut json)?;
    let meta = serde_json::from_slice(&json).map_err(|e| corrupt(&e.to_string()))?;
    Ok((meta, body_len))
}

/// Opens an object file and reads its metadata; `None` when there is no such object.
pub(super) fn open_object(path: &Path, key: &str) -> io::Result<Option<(File, ObjectMeta)>> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let (meta, body_len): (ObjectMeta, u64) = read_trailer(&mut file)?;
    if meta.size != body_len {
        return Err(corrupt("size mismatch"));
    }
    if meta.key != key {
        // Not this key's file (a SHA-256 collision would be needed): no such object.
        return Ok(None);
    }
    Ok(Some((file, meta)))
}

/// A temporary file, removed when dropped unless it was published.
pub(super) struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl TempFile {
    /// Takes charge of a path.
    pub(super) fn new(path: PathBuf) -> Self {
        Self { path, armed: true }
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file to `dest`; from then on it is no longer removed on drop.
    pub(super) fn publish(mut self, dest: &Path) -> io::Result<()> {
        std::fs::rename(&self.path, dest)?;
        self.armed = false;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The error a failed body stream stands for: the `S3Error` the layer put there (BadDigest and
/// the like), or `IncompleteBody`.
pub(super) fn body_error(err: StdError) -> S3Error {
    let err = match err.downcast::<S3Error>() {
        Ok(e) => return *e,
        Err(err) => err,
    };
    let err = match err.downcast::<io::Error>() {
        Ok(io_err) => {
            if io_err.get_ref().is_some_and(|inner| inner.is::<S3Error>()) {
                if let Some(inner) = io_err.into_inner()
                    && let Ok(e) = inner.downcast::<S3Error>()
                {
                    return *e;
                }
                return S3Error::with_message(
                    s3s::S3ErrorCode::IncompleteBody,
                    "request body failed",
                );
            }
            io_err as StdError
        }
        Err(err) => err,
    };
    S3Error::with_source(s3s::S3ErrorCode::IncompleteBody, err)
}

/// Streams a body into a new temporary file, hashing it unless told not to, then appends
/// metadata and syncs.
pub(super) struct BodyWriter {
    temp: TempFile,
    file: tokio::io::BufWriter<tokio::fs::File>,
    size: u64,
    md5: Option<Md5>,
}

impl BodyWriter {
    /// Creates the temporary file. Without `hash`, no MD5 is computed (the layer names the
    /// ETag through [`LATE_ETAG`](crate::internal::LATE_ETAG)).
    pub(super) async fn create(path: PathBuf, hash: bool) -> io::Result<Self> {
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await?;
        Ok(Self {
            temp: TempFile::new(path),
            file: tokio::io::BufWriter::with_capacity(WRITE_BUFFER, file),
            size: 0,
            md5: hash.then(Md5::new),
        })
    }

    /// Writes the whole body. An error of the stream is returned as its `S3Error`; the temporary
    /// file is removed when `self` is dropped.
    pub(super) async fn write_stream(&mut self, body: Option<StreamingBlob>) -> S3Result<()> {
        let Some(mut body) = body else { return Ok(()) };
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(body_error)?;
            self.write(&chunk).await.map_err(internal_error)?;
        }
        Ok(())
    }

    /// Writes body bytes.
    pub(super) async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(md5) = &mut self.md5 {
            md5.update(bytes);
        }
        self.file.write_all(bytes).await?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Body bytes written so far.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    /// The hex MD5 of the body written so far, when hashing.
    pub(super) fn md5_hex(&self) -> Option<String> {
        self.md5.as_ref().map(|m| hex::encode(m.clone().finalize()))
    }

    /// Appends the metadata block and footer, flushes and syncs the file.
    pub(super) async fn finish<M: Serialize>(mut self, meta: &M) -> io::Result<TempFile> {
        let trailer = encode_trailer(meta)?;
        self.file.write_all(&trailer).await?;
        self.file.flush().await?;
        let file = self.file.into_inner();
        file.sync_all().await?;
        drop(file);
        Ok(self.temp)
    }
}

/// Copies `len` bytes from `src` (at its current position) to `dst`, hashing nothing.
pub(super) fn copy_exact(src: &mut File, dst: &mut File, len: u64) -> io::Result<()> {
    let copied = io::copy(&mut Read::take(src, len), dst)?;
    if copied != len {
        return Err(corrupt("short body"));
    }
    Ok(())
}

/// A GET body: `remaining` bytes of an open file from its current position, read in
/// [`READ_CHUNK`] pieces on the blocking pool.
pub(super) struct FileStream {
    state: ReadState,
    remaining: u64,
}

enum ReadState {
    Idle(File),
    Reading(JoinHandle<(File, io::Result<Bytes>)>),
    Done,
}

impl FileStream {
    /// Streams `len` bytes of `file` from its current position.
    pub(super) fn new(file: File, len: u64) -> Self {
        Self {
            state: ReadState::Idle(file),
            remaining: len,
        }
    }
}

impl Stream for FileStream {
    type Item = Result<Bytes, StdError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match std::mem::replace(&mut this.state, ReadState::Done) {
                ReadState::Done => return Poll::Ready(None),
                ReadState::Idle(mut file) => {
                    if this.remaining == 0 {
                        return Poll::Ready(None);
                    }
                    let n = this.remaining.min(READ_CHUNK) as usize;
                    this.state = ReadState::Reading(tokio::task::spawn_blocking(move || {
                        let mut buf = vec![0u8; n];
                        let result = file.read_exact(&mut buf).map(|()| Bytes::from(buf));
                        (file, result)
                    }));
                }
                ReadState::Reading(mut handle) => match Pin::new(&mut handle).poll(cx) {
                    Poll::Pending => {
                        this.state = ReadState::Reading(handle);
                        return Poll::Pending;
                    }
                    Poll::Ready(Ok((file, Ok(bytes)))) => {
                        this.remaining -= bytes.len() as u64;
                        this.state = ReadState::Idle(file);
                        return Poll::Ready(Some(Ok(bytes)));
                    }
                    Poll::Ready(Ok((_, Err(e)))) => return Poll::Ready(Some(Err(Box::new(e)))),
                    Poll::Ready(Err(e)) => {
                        return Poll::Ready(Some(Err(Box::new(io::Error::other(e)))));
                    }
                },
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let chunks = self.remaining.div_ceil(READ_CHUNK);
        let chunks = usize::try_from(chunks).unwrap_or(usize::MAX);
        (chunks, Some(chunks))
    }
}

impl ByteStream for FileStream {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(usize::try_from(self.remaining).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let meta = ObjectMeta {
            key: "k".into(),
            size: 5,
            etag: "e".into(),
            ..Default::default()
        };
        let mut bytes = b"hello".to_vec();
        bytes.extend(encode_trailer(&meta).unwrap());
        std::fs::write(&path, &bytes).unwrap();
        let (_, got) = open_object(&path, "k").unwrap().unwrap();
        assert_eq!(
            (got.key.as_str(), got.size, got.etag.as_str()),
            ("k", 5, "e")
        );
        assert!(open_object(&path, "other").unwrap().is_none());
        assert!(
            open_object(&dir.path().join("missing"), "k")
                .unwrap()
                .is_none()
        );
        std::fs::write(&path, b"garbage that is long enough to have a footer").unwrap();
        assert!(open_object(&path, "k").is_err());
        std::fs::write(&path, b"short").unwrap();
        assert!(open_object(&path, "k").is_err());
    }

    #[test]
    fn body_error_keeps_s3_errors() {
        let e: StdError = Box::new(s3s::s3_error!(BadDigest, "nope"));
        assert_eq!(body_error(e).code(), &s3s::S3ErrorCode::BadDigest);
        let e: StdError = Box::new(io::Error::other(s3s::s3_error!(InvalidDigest)));
        assert_eq!(body_error(e).code(), &s3s::S3ErrorCode::InvalidDigest);
        let e: StdError = Box::new(io::Error::other("reset"));
        assert_eq!(body_error(e).code(), &s3s::S3ErrorCode::IncompleteBody);
    }
}
