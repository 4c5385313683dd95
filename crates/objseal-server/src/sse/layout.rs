//! Where an object's plaintext lies in its stored ciphertext: its segments (one for a simple
//! object, one per part for a multipart one, from the verified manifest), and which chunks of
//! which segments serve a plaintext range.

use std::sync::Arc;

use objseal_core::format::manifest::ManifestView;
use objseal_core::range::{ByteRange, ciphertext_len, plan_range};
use objseal_core::{ObjectKey, SegmentKey};
use s3s::S3Error;

use super::errors::corrupt;
use super::open_body::Piece;
use super::record::ObjectRecord;

/// One segment of a stored object.
pub(crate) struct Segment {
    /// `None` for unencrypted objects.
    pub key: Option<Arc<SegmentKey>>,
    pub pt_start: u64,
    pub pt_len: u64,
    pub ct_start: u64,
    pub ct_len: u64,
}

/// An object's segments, in order.
pub(crate) struct Layout {
    pub segments: Vec<Segment>,
    /// Plaintext size.
    pub size: u64,
    /// Whether the object was uploaded in parts (then `segments` are its parts).
    pub multipart: bool,
}

impl Layout {
    /// The layout of an encrypted object whose keys have been opened; `stored_len` is what the
    /// store holds, and must be exactly what the record and manifest imply.
    pub fn encrypted(
        object: &ObjectKey,
        record: &ObjectRecord,
        stored_len: u64,
    ) -> Result<Self, S3Error> {
        let size = record.size.ok_or_else(|| corrupt("missing size"))?;
        let log2 = object.header().chunk_log2;
        let layout = if object.header().segmented {
            let bytes = record
                .manifest
                .as_deref()
                .ok_or_else(|| corrupt("missing manifest"))?;
            let view = ManifestView::verify(object, bytes)
                .map_err(|_| corrupt("the manifest does not verify"))?;
            if view.plaintext_len() != size {
                return Err(corrupt("manifest and size disagree"));
            }
            let segments = view
                .locations()
                .map(|loc| {
                    let ct_len = ciphertext_len(loc.entry.plaintext_len, log2)
                        .map_err(|_| corrupt("segment length"))?;
                    Ok(Segment {
                        key: Some(Arc::new(
                            object.segment_key(loc.entry.number, &loc.entry.salt),
                        )),
                        pt_start: loc.plaintext_start,
                        pt_len: loc.entry.plaintext_len,
                        ct_start: loc.ciphertext_start,
                        ct_len,
                    })
                })
                .collect::<Result<Vec<_>, S3Error>>()?;
            Layout {
                segments,
                size,
                multipart: true,
            }
        } else {
            let key = object.body_key().map_err(|_| corrupt("body key"))?;
            let ct_len = ciphertext_len(size, log2).map_err(|_| corrupt("object length"))?;
            Layout {
                segments: vec![Segment {
                    key: Some(Arc::new(key)),
                    pt_start: 0,
                    pt_len: size,
                    ct_start: 0,
                    ct_len,
                }],
                size,
                multipart: false,
            }
        };
        let total: u64 = layout.segments.iter().map(|s| s.ct_len).sum();
        if total != stored_len {
            return Err(corrupt(
                "the stored length does not match the object's size",
            ));
        }
        Ok(layout)
    }

    /// An encrypted object described from its record alone — nothing unwrapped, nothing verified,
    /// no KMS call — for HEAD, which reports sizes and part counts but returns no data. The
    /// manifest's segment lengths are read unauthenticated; GET verifies them before any byte.
    pub fn described(record: &ObjectRecord, stored_len: u64) -> Result<Self, S3Error> {
        let header = record
            .sealing
            .header
            .as_ref()
            .ok_or_else(|| corrupt("missing header"))?;
        let size = record.size.ok_or_else(|| corrupt("missing size"))?;
        let Some(manifest) = record.manifest.as_deref().filter(|_| header.segmented) else {
            let mut layout = Layout::plain(size);
            layout.segments[0].ct_len = stored_len;
            return Ok(layout);
        };
        // Magic (4) ‖ BE32 count ‖ count × (BE32 number ‖ 16-byte salt ‖ BE64 length) ‖ tag (32).
        let entries = manifest
            .get(8..manifest.len().saturating_sub(32))
            .filter(|e| e.len() % 28 == 0)
            .ok_or_else(|| corrupt("malformed manifest"))?;
        let mut segments = Vec::with_capacity(entries.len() / 28);
        let (mut pt, mut ct) = (0u64, 0u64);
        for e in entries.chunks_exact(28) {
            let mut len = [0u8; 8];
            len.copy_from_slice(&e[20..28]);
            let pt_len = u64::from_be_bytes(len);
            let ct_len =
                ciphertext_len(pt_len, header.chunk_log2).map_err(|_| corrupt("segment length"))?;
            segments.push(Segment {
                key: None,
                pt_start: pt,
                pt_len,
                ct_start: ct,
                ct_len,
            });
            pt = pt
                .checked_add(pt_len)
                .ok_or_else(|| corrupt("segment length"))?;
            ct = ct
                .checked_add(ct_len)
                .ok_or_else(|| corrupt("segment length"))?;
        }
        if pt != size {
            return Err(corrupt("manifest and size disagree"));
        }
        Ok(Layout {
            segments,
            size,
            multipart: true,
        })
    }

    /// An unencrypted object of `size` bytes.
    pub fn plain(size: u64) -> Self {
        Layout {
            segments: vec![Segment {
                key: None,
                pt_start: 0,
                pt_len: size,
                ct_start: 0,
                ct_len: size,
            }],
            size,
            multipart: false,
        }
    }

    /// The chunks serving plaintext `start..end` (non-empty), and the stored byte range
    /// holding them.
    pub fn pieces(
        &self,
        start: u64,
        end: u64,
    ) -> Result<(Vec<Piece>, std::ops::Range<u64>), S3Error> {
        let mut pieces = Vec::new();
        let mut ct: Option<std::ops::Range<u64>> = None;
        for (index, seg) in self.segments.iter().enumerate() {
            let (lo, hi) = (start.max(seg.pt_start), end.min(seg.pt_start + seg.pt_len));
            if lo >= hi {
                continue;
            }
            let key = seg.key.clone().ok_or_else(|| corrupt("plain segment"))?;
            let span = plan_range(
                seg.pt_len,
                key.chunk_log2(),
                ByteRange::Inclusive {
                    first: lo - seg.pt_start,
                    last: hi - seg.pt_start - 1,
                },
            )
            .map_err(|_| corrupt("range plan"))?;
            let abs = seg.ct_start + span.ciphertext.start..seg.ct_start + span.ciphertext.end;
            ct = Some(match ct {
                None => abs,
                Some(r) => r.start..abs.end,
            });
            pieces.push(Piece {
                segment: index,
                key,
                span,
            });
        }
        let ct = ct.ok_or_else(|| corrupt("empty range"))?;
        Ok((pieces, ct))
    }
}
