//! GetObject and HeadObject: the SSE-C rules, conditional requests, ranges and part numbers in
//! plaintext terms, and bodies opened chunk by chunk with every tag verified before release.

use std::collections::BTreeMap;
use std::sync::Arc;

use s3s::dto::{
    ChecksumMode, ETag, ETagCondition, GetObjectInput, GetObjectOutput, HeadObjectInput,
    HeadObjectOutput, Range, Timestamp,
};
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result};

use super::SseLayer;
use super::checksum::{checksum_dto, set_checksums};
use super::echo::{SseEcho, echo_sse};
use super::errors::corrupt;
use super::layout::Layout;
use super::open_body::open_body;
use super::record::{ObjectRecord, SseKind, user_metadata};
use super::request::{CustomerHeaders, CustomerKey, customer_headers, refuse_sse_on_read};

/// The read a request asks for, in plaintext bytes.
pub(crate) struct Target {
    pub start: u64,
    pub end: u64,
    /// Answered with 206 and a Content-Range.
    pub partial: bool,
    /// Parts of a multipart object (for `x-amz-mp-parts-count`).
    pub parts_count: Option<i32>,
}

/// The object was replaced between reading its metadata and its bytes.
pub(crate) fn changed() -> S3Error {
    S3Error::with_message(
        S3ErrorCode::SlowDown,
        "The object changed while it was being read; please retry.",
    )
}

fn invalid_range(size: u64) -> S3Error {
    let mut e = S3Error::with_message(
        S3ErrorCode::InvalidRange,
        "The requested range is not satisfiable",
    );
    if let Ok(v) = http::HeaderValue::from_str(&format!("bytes */{size}")) {
        let mut h = http::HeaderMap::new();
        h.insert(http::header::CONTENT_RANGE, v);
        e.set_headers(h);
    }
    e
}

/// Resolves `Range` or `partNumber` against a layout.
pub(crate) fn resolve_target(
    layout: &Layout,
    range: Option<Range>,
    part_number: Option<i32>,
) -> Result<Target, S3Error> {
    let size = layout.size;
    let parts_count = layout
        .multipart
        .then(|| i32::try_from(layout.segments.len()).unwrap_or(i32::MAX));
    if let Some(n) = part_number {
        if range.is_some() {
            return Err(super::errors::invalid_request(
                "Cannot specify both Range header and partNumber query parameter.",
            ));
        }
        let idx = usize::try_from(n).ok().and_then(|n| n.checked_sub(1));
        let seg = match idx {
            Some(i) if layout.multipart => layout.segments.get(i),
            Some(0) => layout.segments.first(),
            _ => None,
        };
        let Some(seg) = seg else {
            let mut e = S3Error::with_message(
                S3ErrorCode::Custom("InvalidPartNumber".into()),
                "The requested partnumber is not satisfiable",
            );
            e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
            return Err(e);
        };
        return Ok(Target {
            start: seg.pt_start,
            end: seg.pt_start + seg.pt_len,
            // An empty part has no byte range to name.
            partial: layout.multipart && seg.pt_len > 0,
            parts_count,
        });
    }
    match range {
        None => Ok(Target {
            start: 0,
            end: size,
            partial: false,
            parts_count,
        }),
        Some(Range::Int { first, last }) => {
            if first >= size || last.is_some_and(|l| l < first) {
                return Err(invalid_range(size));
            }
            let end = last.map_or(size, |l| l.saturating_add(1).min(size));
            Ok(Target {
                start: first,
                end,
                partial: true,
                parts_count,
            })
        }
        Some(Range::Suffix { length }) => {
            if length == 0 || size == 0 {
                return Err(invalid_range(size));
            }
            Ok(Target {
                start: size - length.min(size),
                end: size,
                partial: true,
                parts_count,
            })
        }
    }
}

fn secs(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

fn etag_matches(cond: &ETagCondition, etag: &str) -> bool {
    match cond {
        ETagCondition::Any => true,
        ETagCondition::ETag(e) => e.value().trim_matches('"') == etag,
    }
}

/// The conditional-request rules of RFC 9110 as Amazon S3 applies them.
pub(crate) fn check_conditions(
    etag: &str,
    last_modified: Option<&Timestamp>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> Result<(), S3Error> {
    let lm = last_modified.map(secs);
    if let Some(c) = if_match {
        if !etag_matches(c, etag) {
            return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
        }
    } else if let (Some(t), Some(lm)) = (if_unmodified_since, lm)
        && lm > secs(t)
    {
        return Err(S3Error::new(S3ErrorCode::PreconditionFailed));
    }
    if let Some(c) = if_none_match {
        if etag_matches(c, etag) {
            return Err(S3Error::new(S3ErrorCode::NotModified));
        }
    } else if let (Some(t), Some(lm)) = (if_modified_since, lm)
        && lm <= secs(t)
    {
        return Err(S3Error::new(S3ErrorCode::NotModified));
    }
    Ok(())
}

/// An object found and, when encrypted, opened: what reads need.
pub(crate) struct Opened {
    /// The plaintext's checksums (opened, for encrypted objects; empty when not asked for).
    pub checksums: BTreeMap<String, String>,
    pub record: ObjectRecord,
    pub head: HeadObjectOutput,
    pub layout: Layout,
    pub etag: String,
    pub echo: SseEcho,
}

/// The conditional headers of a read.
pub(crate) struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

/// A GetObject or HeadObject answer (the two share every header) for an opened object and its
/// read target, with `extra` fields (GET's body).
macro_rules! read_output {
    ($ty:ident { $($field:ident: $value:expr),* $(,)? }, $o:expr, $target:expr, $checksums:expr) => {{
        let (o, target) = (&$o, &$target);
        let h = &o.head;
        let mut out = $ty {
            $($field: $value,)*
            content_length: i64::try_from(target.end - target.start).ok(),
            content_range: target.partial.then(|| {
                format!("bytes {}-{}/{}", target.start, target.end.saturating_sub(1), o.layout.size)
            }),
            accept_ranges: Some("bytes".into()),
            e_tag: Some(ETag::Strong(o.etag.clone())),
            last_modified: h.last_modified.clone(),
            content_type: h.content_type.clone(),
            cache_control: h.cache_control.clone(),
            content_disposition: h.content_disposition.clone(),
            content_encoding: h.content_encoding.clone(),
            content_language: h.content_language.clone(),
            expires: h.expires.clone(),
            metadata: user_metadata(h.metadata.clone()),
            parts_count: target.parts_count,
            version_id: h.version_id.clone(),
            ..Default::default()
        };
        echo_sse!(out, o.echo);
        if $checksums {
            set_checksums!(out, checksum_dto(&o.checksums));
        }
        out
    }};
}

/// 206 for ranges and parts, 200 otherwise.
fn read_response<T>(out: T, target: &Target) -> S3Response<T> {
    let mut resp = S3Response::new(out);
    if target.partial {
        resp.status = Some(http::StatusCode::PARTIAL_CONTENT);
    }
    resp
}

impl<S: S3> SseLayer<S> {
    /// Looks an object up in the store and opens its keys (checking the customer key).
    pub(crate) async fn open_object<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        customer: Option<&CustomerKey>,
    ) -> Result<Opened, S3Error> {
        self.open_object_as(req, bucket, key, customer, true).await
    }

    /// [`Self::open_object`]; without `with_keys`, an SSE-S3 or SSE-KMS object is described from
    /// its record alone (no KMS call, nothing decrypted: what HEAD needs). SSE-C objects always
    /// have their key checked.
    async fn open_object_as<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        customer: Option<&CustomerKey>,
        with_keys: bool,
    ) -> Result<Opened, S3Error> {
        let head_req = super::inner_request(
            req,
            http::Method::HEAD,
            HeadObjectInput {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                ..Default::default()
            },
        );
        let head = self.inner.head_object(head_req).await?.output;
        let record = ObjectRecord::from_metadata(head.metadata.as_ref())?;
        if self.config.sealed_only && record.sealing.kind == SseKind::None {
            return Err(super::errors::not_sealed());
        }
        let stored_len = head
            .content_length
            .and_then(|l| u64::try_from(l).ok())
            .unwrap_or(0);
        let (layout, checksums) =
            if with_keys || matches!(record.sealing.kind, SseKind::Customer | SseKind::None) {
                match self
                    .open_object_key(req, &record.sealing, bucket, key, customer)
                    .await?
                {
                    Some(object) => {
                        let checksums = match &record.sealed_checksums {
                            Some(sealed) => super::checksum::open_checksums(&object, sealed)?,
                            None => BTreeMap::new(),
                        };
                        (Layout::encrypted(&object, &record, stored_len)?, checksums)
                    }
                    None => (Layout::plain(stored_len), record.checksums.clone()),
                }
            } else {
                super::keys::check_customer_key(record.sealing.kind, customer)?;
                (Layout::described(&record, stored_len)?, BTreeMap::new())
            };
        let etag = record
            .etag
            .clone()
            .or_else(|| {
                head.e_tag
                    .as_ref()
                    .map(|e| e.value().trim_matches('"').to_owned())
            })
            .unwrap_or_default();
        let echo = SseEcho::of(&record.sealing, customer.map(|c| c.md5_b64.as_str()));
        Ok(Opened {
            record,
            head,
            layout,
            etag,
            echo,
            checksums,
        })
    }

    /// The common part of GetObject and HeadObject: the SSE-C key checked, the object opened
    /// (`with_keys`: its data key unwrapped and header verified, which GET needs and HEAD needs
    /// only for SSE-C), the conditions evaluated, and the range or part resolved.
    #[allow(clippy::too_many_arguments)]
    async fn prepare_read<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        customer: CustomerHeaders<'_>,
        conditions: Conditions<'_>,
        range: Option<Range>,
        part_number: Option<i32>,
        checksum_mode: Option<&ChecksumMode>,
        with_keys: bool,
    ) -> Result<(Opened, Target, bool), S3Error> {
        refuse_sse_on_read(&req.headers)?;
        let customer = customer.parse(super::is_tls(req), self.config.allow_ssec_over_http)?;
        let want = checksum_mode.is_some_and(|m| m.as_str() == ChecksumMode::ENABLED);
        // Checksums of encrypted objects are sealed: asking for them takes the keys.
        let o = self
            .open_object_as(req, bucket, key, customer.as_ref(), with_keys || want)
            .await?;
        check_conditions(
            &o.etag,
            o.head.last_modified.as_ref(),
            conditions.if_match,
            conditions.if_none_match,
            conditions.if_modified_since,
            conditions.if_unmodified_since,
        )?;
        let target = resolve_target(&o.layout, range, part_number)?;
        let want_checksums = want && !target.partial;
        Ok((o, target, want_checksums))
    }

    pub(crate) async fn get(
        &self,
        mut req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        // A concurrent overwrite between the metadata and the bytes: read the new version.
        let mut attempts = 0;
        let (o, target, want_checksums, body) = loop {
            let i = &req.input;
            let (o, target, want_checksums) = self
                .prepare_read(
                    &req,
                    &bucket,
                    &key,
                    customer_headers!(i),
                    Conditions {
                        if_match: i.if_match.as_ref(),
                        if_none_match: i.if_none_match.as_ref(),
                        if_modified_since: i.if_modified_since.as_ref(),
                        if_unmodified_since: i.if_unmodified_since.as_ref(),
                    },
                    i.range,
                    i.part_number,
                    i.checksum_mode.as_ref(),
                    true,
                )
                .await?;
            match self
                .plaintext_body(&req, &bucket, &key, &o, target.start, target.end)
                .await
            {
                Ok(body) => break (o, target, want_checksums, body),
                Err(e) if *e.code() == S3ErrorCode::SlowDown && attempts < 2 => attempts += 1,
                Err(e) => return Err(e),
            }
        };
        super::request::wipe(&mut req.input.sse_customer_key);
        let out = read_output!(
            GetObjectOutput { body: Some(body) },
            o,
            target,
            want_checksums
        );
        Ok(read_response(out, &target))
    }

    pub(crate) async fn head(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = &req.input;
        let (o, target, want_checksums) = self
            .prepare_read(
                &req,
                &i.bucket,
                &i.key,
                customer_headers!(i),
                Conditions {
                    if_match: i.if_match.as_ref(),
                    if_none_match: i.if_none_match.as_ref(),
                    if_modified_since: i.if_modified_since.as_ref(),
                    if_unmodified_since: i.if_unmodified_since.as_ref(),
                },
                i.range,
                i.part_number,
                i.checksum_mode.as_ref(),
                false,
            )
            .await?;
        let out = read_output!(HeadObjectOutput {}, o, target, want_checksums);
        Ok(read_response(out, &target))
    }

    /// The plaintext `start..end` of an opened object, as a body that releases only verified
    /// chunks.
    pub(crate) async fn plaintext_body<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        o: &Opened,
        start: u64,
        end: u64,
    ) -> Result<s3s::dto::StreamingBlob, S3Error> {
        let len = end - start;
        let encrypted = o.record.sealing.kind != SseKind::None;
        // Every read of the store is pinned to the version whose metadata was read.
        let pin = o.head.e_tag.as_ref();
        if len == 0 {
            if encrypted {
                // An empty object (or part) is one empty final chunk: verify it all the same.
                let seg = o
                    .layout
                    .segments
                    .iter()
                    .find(|s| s.pt_start >= start && s.pt_len == 0);
                if let Some(seg) = seg.or(o.layout.segments.last()) {
                    self.verify_final_chunk(req, bucket, key, seg, pin).await?;
                }
            }
            return Ok(s3s::dto::StreamingBlob::wrap(futures::stream::empty::<
                Result<bytes::Bytes, std::io::Error>,
            >()));
        }
        if !encrypted {
            return self.inner_read(req, bucket, key, start..end, pin).await;
        }
        let (pieces, ct) = o.layout.pieces(start, end)?;
        let batch = self.config.open_batch_chunks as u64;
        for p in &pieces {
            // A span longer than one batch that ends in its segment's final chunk: that chunk
            // first, so a truncated or extended segment is refused before anything is sent.
            if p.span.includes_final && p.span.last_chunk - p.span.first_chunk >= batch {
                self.verify_final_chunk(req, bucket, key, &o.layout.segments[p.segment], pin)
                    .await?;
            }
        }
        let stored = self.inner_read(req, bucket, key, ct, pin).await?;
        Ok(open_body(
            stored,
            pieces,
            len,
            self.config.open_batch_chunks,
            self.config.open_inline_max.unwrap_or(0),
            self.metrics.clone(),
        ))
    }

    /// Stored bytes `range` (non-empty) of an object, checked to be exactly that long.
    /// `pin`, the store's ETag of the version whose metadata was read, makes the store refuse
    /// another version (a concurrent overwrite): that is `SlowDown` (503), which clients retry.
    pub(crate) async fn inner_read<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        range: std::ops::Range<u64>,
        pin: Option<&ETag>,
    ) -> Result<s3s::dto::StreamingBlob, S3Error> {
        let get = super::inner_request(
            req,
            http::Method::GET,
            GetObjectInput {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                range: Some(Range::Int {
                    first: range.start,
                    last: Some(range.end - 1),
                }),
                if_match: pin.cloned().map(ETagCondition::ETag),
                ..Default::default()
            },
        );
        let out = match self.inner.get_object(get).await {
            Ok(r) => r.output,
            Err(e) if *e.code() == S3ErrorCode::PreconditionFailed => return Err(changed()),
            Err(e) => return Err(e),
        };
        if out.content_length.and_then(|l| u64::try_from(l).ok()) != Some(range.end - range.start) {
            return Err(corrupt(
                "the store returned a different length than asked for",
            ));
        }
        out.body.ok_or_else(|| corrupt("no body"))
    }

    /// Reads and opens the final chunk of `seg`.
    async fn verify_final_chunk<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        seg: &super::layout::Segment,
        pin: Option<&ETag>,
    ) -> Result<(), S3Error> {
        use futures::StreamExt as _;
        let seg_key = seg.key.clone().ok_or_else(|| corrupt("plain segment"))?;
        let sealed = seg_key.sealed_chunk_size() as u64;
        let last = objseal_core::range::chunk_count(seg.pt_len, seg_key.chunk_log2()) - 1;
        let range = seg.ct_start + last * sealed..seg.ct_start + seg.ct_len;
        let mut body = self.inner_read(req, bucket, key, range, pin).await?;
        let mut buf = Vec::new();
        while let Some(b) = body.next().await {
            buf.extend_from_slice(&b.map_err(|_| corrupt("store read"))?);
        }
        let key = Arc::clone(&seg_key);
        super::cpu::spawn(move || key.open_chunk_in_place(last, true, &mut buf).map(|_| ()))
            .await
            .map_err(|_| corrupt("verification task"))?
            .map_err(|_| corrupt("the final chunk does not verify"))
    }
}
