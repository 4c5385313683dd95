//! The file container: how a header, its wrapped keys and the body sit in one byte stream.
//!
//! ```text
//! header (104 bytes, unsegmented)
//! BE16 n = number of wrapped keys (1..=16)
//! n × ( BE16 len (1..=MAX_WRAPPED_KEY_LEN) ‖ wrapped-key blob )
//! body: the chunks of segment 0
//! ```
//! Object stores keep the header and blobs in metadata instead and store only the body.

use crate::Error;
use crate::format::be16;
use crate::format::header::{FLAG_SEGMENTED, HEADER_LEN, Header};
use crate::format::wrapped_key::{MAX_WRAPPED_KEY_LEN, WrappedKey};

/// Most wrapped keys one file may carry.
pub const MAX_WRAPPED_KEYS: usize = 16;
/// Longest possible container prefix (header and key section).
pub const MAX_PREFIX_LEN: usize = HEADER_LEN + 2 + MAX_WRAPPED_KEYS * (2 + MAX_WRAPPED_KEY_LEN);

/// How many bytes the container prefix needs, judged from the bytes seen so far: `Ok(Some(n))` once
/// `bytes` holds enough to know `n`, `Ok(None)` if more bytes are needed to tell.
///
/// # Errors
/// Header errors, and [`Error::BadWrappedKey`] for a key count or length out of range.
///
/// ```
/// use objseal_core::format::container::prefix_len;
/// assert_eq!(prefix_len(b"OSE").unwrap(), None);
/// ```
pub fn prefix_len(bytes: &[u8]) -> Result<Option<usize>, Error> {
    if bytes.len() < HEADER_LEN {
        return match bytes.get(..3) {
            Some(magic) if magic != crate::format::header::MAGIC => Err(Error::BadMagic),
            _ => Ok(None),
        };
    }
    let header = Header::parse(bytes)?;
    if header.segmented {
        return Err(Error::BadFlags(FLAG_SEGMENTED));
    }
    if bytes.len() < HEADER_LEN + 2 {
        return Ok(None);
    }
    let count = usize::from(be16(bytes, HEADER_LEN));
    if count == 0 || count > MAX_WRAPPED_KEYS {
        return Err(Error::BadWrappedKey("wrapped key count out of range"));
    }
    let mut at = HEADER_LEN + 2;
    for _ in 0..count {
        if bytes.len() < at + 2 {
            return Ok(None);
        }
        let len = usize::from(be16(bytes, at));
        if len == 0 || len > MAX_WRAPPED_KEY_LEN {
            return Err(Error::BadWrappedKey("wrapped key length out of range"));
        }
        at += 2 + len;
    }
    Ok(Some(at))
}

/// A parsed container prefix, borrowing its bytes.
#[derive(Clone, Debug)]
pub struct ContainerPrefix<'a> {
    /// The object header (not yet authenticated).
    pub header: Header,
    keys: &'a [u8],
    count: usize,
    /// Offset of the body.
    pub body_offset: usize,
}

impl<'a> ContainerPrefix<'a> {
    /// Parses the prefix at the start of `bytes` (the body may follow).
    ///
    /// # Errors
    /// [`Error::TooShort`] if `bytes` ends inside the prefix; header and blob errors.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let body_offset = prefix_len(bytes)?.ok_or(Error::TooShort {
            what: "container prefix",
        })?;
        if bytes.len() < body_offset {
            return Err(Error::TooShort {
                what: "container prefix",
            });
        }
        let header = Header::parse(bytes)?;
        let count = usize::from(be16(bytes, HEADER_LEN));
        let prefix = Self {
            header,
            keys: &bytes[HEADER_LEN + 2..body_offset],
            count,
            body_offset,
        };
        for blob in prefix.wrapped_keys() {
            blob?;
        }
        Ok(prefix)
    }

    /// The wrapped keys, in order.
    pub fn wrapped_keys(&self) -> impl Iterator<Item = Result<WrappedKey<'a>, Error>> + 'a {
        let mut rest = self.keys;
        (0..self.count).map(move |_| {
            let len = usize::from(be16(rest, 0));
            let blob = &rest[2..2 + len];
            rest = &rest[2 + len..];
            WrappedKey::parse(blob)
        })
    }
}

/// Writes a container prefix (header and the given serialized blobs) into `out`; returns its length.
///
/// # Errors
/// [`Error::BadFlags`] for a segmented header, [`Error::BadWrappedKey`] for no blobs, too many or an
/// oversized one, [`Error::BufferTooSmall`].
///
/// ```
/// use objseal_core::format::container::{write_prefix, ContainerPrefix};
/// use objseal_core::{Dek, ObjectKey, ObjectParams};
/// let object = ObjectKey::create(&Dek::from_bytes([1; 32]), &ObjectParams::new([2; 32], [3; 32])).unwrap();
/// let blob = [1u8, 2, 0, 0, 0, 0, 1].iter().copied().chain([0; 32]).chain([0, 1, 9]).collect::<Vec<_>>();
/// let mut out = vec![0u8; 512];
/// let n = write_prefix(object.header(), &[&blob], &mut out).unwrap();
/// let parsed = ContainerPrefix::parse(&out[..n]).unwrap();
/// assert_eq!(parsed.body_offset, n);
/// assert_eq!(&parsed.header, object.header());
/// ```
pub fn write_prefix(header: &Header, blobs: &[&[u8]], out: &mut [u8]) -> Result<usize, Error> {
    if header.segmented {
        return Err(Error::BadFlags(FLAG_SEGMENTED));
    }
    if blobs.is_empty() || blobs.len() > MAX_WRAPPED_KEYS {
        return Err(Error::BadWrappedKey("wrapped key count out of range"));
    }
    let len = HEADER_LEN + 2 + blobs.iter().map(|b| 2 + b.len()).sum::<usize>();
    let out = out
        .get_mut(..len)
        .ok_or(Error::BufferTooSmall { needed: len })?;
    out[..HEADER_LEN].copy_from_slice(&header.to_bytes());
    out[HEADER_LEN..HEADER_LEN + 2].copy_from_slice(&(blobs.len() as u16).to_be_bytes());
    let mut at = HEADER_LEN + 2;
    for blob in blobs {
        if blob.is_empty() || blob.len() > MAX_WRAPPED_KEY_LEN {
            return Err(Error::BadWrappedKey("wrapped key length out of range"));
        }
        out[at..at + 2].copy_from_slice(&(blob.len() as u16).to_be_bytes());
        out[at + 2..at + 2 + blob.len()].copy_from_slice(blob);
        at += 2 + blob.len();
    }
    Ok(len)
}
