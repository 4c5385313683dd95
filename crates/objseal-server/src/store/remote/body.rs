//! Bodies between the layer and the backend: the upload (the layer's body, checked against its
//! declared length, then the trailer) and the download (the backend's body, exactly as long as
//! announced).

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use aws_sdk_s3::primitives::SdkBody;
use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use hyper::body::{Body, Frame, SizeHint};
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3ErrorCode, StdError};

use super::trailer::{self, TrailerSeal};
use crate::internal::{LATE_ETAG, LateMetadata};
use crate::store::object_file::body_error;

/// Where the trailer comes from.
pub(super) enum TrailerSource {
    /// No trailer: the request carried no `LateMetadata`.
    None,
    /// The layer's entries, taken when its body ends, sealed for the object.
    Late(LateMetadata, TrailerSeal),
    /// Entries known before the upload started (a buffered body), sealed for the object.
    Ready(BTreeMap<String, String>, TrailerSeal),
}

/// What an upload left behind: why it failed, or the late entries it wrote.
#[derive(Clone, Default)]
pub(super) struct UploadOutcome(Arc<Mutex<Outcome>>);

#[derive(Default)]
struct Outcome {
    failure: Option<S3Error>,
    entries: Option<BTreeMap<String, String>>,
}

impl UploadOutcome {
    fn lock(&self) -> std::sync::MutexGuard<'_, Outcome> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Why the body refused to finish, if it did (the error the write returns).
    pub fn take_failure(&self) -> Option<S3Error> {
        self.lock().failure.take()
    }

    /// The late entries the trailer holds.
    pub fn entries(&self) -> Option<BTreeMap<String, String>> {
        self.lock().entries.clone()
    }
}

enum State {
    Body,
    Trailer,
    Done,
}

/// The backend object's bytes: the layer's body, which must be exactly `declared` bytes long,
/// then (when there is one) the trailer. A body that fails, is short or long, or leaves no late
/// entries ends the upload with an error, so the backend, short of its Content-Length, stores
/// nothing.
pub(super) struct UploadBody {
    inner: StreamingBlob,
    declared: u64,
    seen: u64,
    trailer: TrailerSource,
    state: State,
    outcome: UploadOutcome,
}

impl UploadBody {
    pub fn new(inner: StreamingBlob, declared: u64, trailer: TrailerSource) -> Self {
        Self {
            inner,
            declared,
            seen: 0,
            trailer,
            state: State::Body,
            outcome: UploadOutcome::default(),
        }
    }

    /// The length the backend is told: the body and the trailer.
    pub fn total_len(&self) -> u64 {
        match self.trailer {
            TrailerSource::None => self.declared,
            _ => self.declared + trailer::TRAILER_LEN as u64,
        }
    }

    /// The length of the layer's body.
    pub fn stored_len(&self) -> u64 {
        self.declared
    }

    pub fn outcome(&self) -> UploadOutcome {
        self.outcome.clone()
    }

    /// Records why the upload stops and ends it with an error.
    fn fail(&mut self, e: S3Error) -> Poll<Option<Result<Frame<Bytes>, StdError>>> {
        self.state = State::Done;
        let message = e.message().unwrap_or("upload refused").to_owned();
        self.outcome.lock().failure = Some(e);
        Poll::Ready(Some(Err(Box::new(std::io::Error::other(message)))))
    }

    /// The trailer's bytes, when the upload has one.
    fn trailer_bytes(&mut self) -> Result<Option<Bytes>, S3Error> {
        let (entries, seal) = match std::mem::replace(&mut self.trailer, TrailerSource::None) {
            TrailerSource::None => return Ok(None),
            TrailerSource::Ready(entries, seal) => (entries, seal),
            TrailerSource::Late(late, seal) => (
                late.take()
                    .ok_or_else(|| {
                        internal_error("the layer's body ended without its late metadata")
                    })?
                    .into_iter()
                    .collect(),
                seal,
            ),
        };
        // As LocalStore: with LateMetadata the layer names the ETag, and nothing hashes the body.
        if !entries.contains_key(LATE_ETAG) {
            return Err(internal_error(
                "the request carried LateMetadata but the layer named no objseal-etag",
            ));
        }
        let bytes = seal.encode(&entries).map_err(|e| {
            tracing::error!(error = %e, "the late metadata does not fit the trailer");
            internal_error("the late metadata does not fit the object trailer")
        })?;
        self.outcome.lock().entries = Some(entries);
        Ok(Some(Bytes::from(bytes)))
    }
}

fn internal_error(message: &'static str) -> S3Error {
    S3Error::with_message(S3ErrorCode::InternalError, message)
}

impl Body for UploadBody {
    type Data = Bytes;
    type Error = StdError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StdError>>> {
        let this = self.get_mut();
        loop {
            match this.state {
                State::Body => match this.inner.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(b))) => {
                        if b.is_empty() {
                            continue;
                        }
                        this.seen += b.len() as u64;
                        if this.seen > this.declared {
                            return this.fail(S3Error::with_message(
                                S3ErrorCode::IncompleteBody,
                                "The body is longer than its declared length.",
                            ));
                        }
                        return Poll::Ready(Some(Ok(Frame::data(b))));
                    }
                    Poll::Ready(Some(Err(e))) => return this.fail(body_error(e)),
                    Poll::Ready(None) if this.seen != this.declared => {
                        return this.fail(S3Error::with_message(
                            S3ErrorCode::IncompleteBody,
                            "The body is shorter than its declared length.",
                        ));
                    }
                    Poll::Ready(None) => this.state = State::Trailer,
                    Poll::Pending => return Poll::Pending,
                },
                State::Trailer => {
                    this.state = State::Done;
                    return match this.trailer_bytes() {
                        Ok(Some(b)) => Poll::Ready(Some(Ok(Frame::data(b)))),
                        Ok(None) => Poll::Ready(None),
                        Err(e) => this.fail(e),
                    };
                }
                State::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.total_len())
    }
}

/// `len` bytes of a backend answer's body as a layer body: more is cut off, less is an error
/// (a connection lost mid-body must not look like a short object).
pub(super) struct DownloadBody {
    inner: SdkBody,
    remaining: u64,
}

impl DownloadBody {
    pub fn new(inner: SdkBody, len: u64) -> Self {
        Self {
            inner,
            remaining: len,
        }
    }

    pub fn into_blob(self) -> StreamingBlob {
        StreamingBlob::new(self)
    }
}

impl Stream for DownloadBody {
    type Item = Result<Bytes, StdError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.remaining == 0 {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(mut data) = frame.into_data() else {
                        continue; // trailers: nothing to pass on
                    };
                    if data.is_empty() {
                        continue;
                    }
                    let room = usize::try_from(this.remaining).unwrap_or(usize::MAX);
                    if data.len() > room {
                        data.truncate(room);
                    }
                    this.remaining -= data.len() as u64;
                    return Poll::Ready(Some(Ok(data)));
                }
                Poll::Ready(Some(Err(e))) => {
                    this.remaining = 0;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(None) => {
                    this.remaining = 0;
                    return Poll::Ready(Some(Err(Box::new(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "the backing store's body ended early",
                    )))));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, None)
    }
}

impl ByteStream for DownloadBody {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(usize::try_from(self.remaining).unwrap_or(usize::MAX))
    }
}

/// Reads a whole body of at most `limit` bytes (a trailer, a sidecar).
pub(super) async fn collect_limited(mut body: SdkBody, limit: usize) -> Result<Vec<u8>, StdError> {
    let mut out = Vec::new();
    while let Some(frame) = futures::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
    {
        if let Ok(data) = frame?.into_data() {
            if out.len() + data.len() > limit {
                return Err(Box::new(std::io::Error::other(
                    "the backing store's body is longer than expected",
                )));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    fn seal() -> TrailerSeal {
        TrailerSeal {
            key: Arc::new(super::super::state::StateKey::new(&[4; 32])),
            header: "h".into(),
        }
    }

    fn blob(parts: &[&'static [u8]]) -> StreamingBlob {
        let items: Vec<Result<Bytes, std::io::Error>> =
            parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        StreamingBlob::wrap(futures::stream::iter(items))
    }

    async fn drain(body: UploadBody) -> Result<Vec<u8>, StdError> {
        Ok(body.collect().await?.to_bytes().to_vec())
    }

    #[tokio::test]
    async fn body_then_trailer() {
        let late = LateMetadata::new();
        let mut m = std::collections::HashMap::new();
        m.insert(LATE_ETAG.to_owned(), "e".to_owned());
        late.set(m);
        let body = UploadBody::new(
            blob(&[b"ab", b"", b"c"]),
            3,
            TrailerSource::Late(late, seal()),
        );
        assert_eq!(body.size_hint().exact(), Some(3 + 4096));
        let outcome = body.outcome();
        let bytes = drain(body).await.unwrap();
        assert_eq!(&bytes[..3], b"abc");
        assert_eq!(seal().decode(&bytes[3..]).unwrap()[LATE_ETAG], "e");
        assert_eq!(outcome.entries().unwrap()[LATE_ETAG], "e");
        assert!(outcome.take_failure().is_none());
    }

    #[tokio::test]
    async fn wrong_lengths_and_missing_entries_fail() {
        for (parts, declared) in [(&[&b"ab"[..]][..], 3), (&[&b"abcd"[..]][..], 3)] {
            let body = UploadBody::new(blob(parts), declared, TrailerSource::None);
            let outcome = body.outcome();
            assert!(drain(body).await.is_err());
            assert_eq!(
                outcome.take_failure().unwrap().code(),
                &S3ErrorCode::IncompleteBody
            );
        }
        let body = UploadBody::new(
            blob(&[b"abc"]),
            3,
            TrailerSource::Late(LateMetadata::new(), seal()),
        );
        let outcome = body.outcome();
        assert!(drain(body).await.is_err());
        assert_eq!(
            outcome.take_failure().unwrap().code(),
            &S3ErrorCode::InternalError
        );
        // Late entries without the ETag are refused as LocalStore refuses them.
        let late = LateMetadata::new();
        late.set(Default::default());
        let body = UploadBody::new(blob(&[b"abc"]), 3, TrailerSource::Late(late, seal()));
        assert!(drain(body).await.is_err());
    }

    #[tokio::test]
    async fn a_failing_body_keeps_its_s3_error() {
        let items: Vec<Result<Bytes, S3Error>> = vec![
            Ok(Bytes::from_static(b"a")),
            Err(S3Error::new(S3ErrorCode::BadDigest)),
        ];
        let body = UploadBody::new(
            StreamingBlob::wrap(futures::stream::iter(items)),
            5,
            TrailerSource::None,
        );
        let outcome = body.outcome();
        assert!(drain(body).await.is_err());
        assert_eq!(
            outcome.take_failure().unwrap().code(),
            &S3ErrorCode::BadDigest
        );
    }

    #[tokio::test]
    async fn downloads_are_exactly_as_long_as_announced() {
        let body = DownloadBody::new(SdkBody::from("abcdef"), 4);
        let got: Vec<_> = body.collect().await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().as_ref(), b"abcd");
        let body = DownloadBody::new(SdkBody::from("ab"), 4);
        let got: Vec<_> = body.collect().await;
        assert!(got.last().unwrap().is_err());
        assert!(
            collect_limited(SdkBody::from("abc"), 2).await.is_err()
                && collect_limited(SdkBody::from("abc"), 3).await.unwrap() == b"abc"
        );
    }
}
