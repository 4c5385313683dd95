//! Where an object's pieces live on the store (`docs/FORMAT.md` §16): the header and wrapped keys
//! in user metadata, the chunks as the body, and what does not fit — the manifest of a multipart
//! object, wrapped keys past S3's 2 KB metadata limit — in an instruction object beside it.

use std::collections::{BTreeMap, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use objseal_core::format::header::Header;
use objseal_core::format::wrapped_key::MAX_WRAPPED_KEY_LEN;

use crate::ClientError;

/// Metadata entry holding base64(header) (`x-amz-meta-objseal-header`).
pub const META_HEADER: &str = "objseal-header";
/// Metadata entry holding the wrapped keys, each base64, joined by `,`.
pub const META_KEYS: &str = "objseal-keys";
/// Metadata entry naming what the instruction object holds: `manifest`, `keys` or `keys,manifest`.
pub const META_INSTRUCTION: &str = "objseal-instruction";
/// The largest instruction object: 16 blobs of the largest size and the manifest of 10,000 parts.
pub const MAX_INSTRUCTION_LEN: usize = 4
    + 2
    + 16 * (2 + MAX_WRAPPED_KEY_LEN)
    + 4
    + objseal_core::format::manifest::manifest_len(crate::config::MAX_PARTS as usize);
/// The instruction object of object `K` is `K` followed by this suffix.
pub const INSTRUCTION_SUFFIX: &str = ".objseal-instruction";
/// Magic and version of an instruction object.
pub const INSTRUCTION_MAGIC: [u8; 4] = *b"OSI\x01";
/// S3's limit on user metadata: the UTF-8 bytes of every name and value.
pub const METADATA_LIMIT: usize = 2048;
/// The context pair that binds an object to its bucket and key.
pub const LOCATION_CONTEXT_KEY: &str = "aws:s3:arn";

/// The instruction object's key for object `key`.
///
/// ```
/// assert_eq!(objseal_client::layout::instruction_key("a/b.bin"), "a/b.bin.objseal-instruction");
/// ```
pub fn instruction_key(key: &str) -> String {
    format!("{key}{INSTRUCTION_SUFFIX}")
}

/// Whether `key` names an instruction object (listings hide those).
pub fn is_instruction_key(key: &str) -> bool {
    key.ends_with(INSTRUCTION_SUFFIX)
}

/// Which object location a context binds (`docs/FORMAT.md` §16).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Location {
    /// The bucket and key the object is written to or read from (the default).
    #[default]
    Here,
    /// Another bucket and key: reading an object that was copied from there byte for byte.
    WrittenAs {
        /// The bucket it was written to.
        bucket: String,
        /// The key it was written under.
        key: String,
    },
    /// No location pair at all: the object may be moved freely (its context is the caller's alone).
    Unbound,
}

/// The context hash of an object: the caller's pairs plus, unless unbound, `aws:s3:arn` =
/// `arn:aws:s3:::<bucket>/<key>`.
///
/// # Errors
/// [`ClientError::InvalidArgument`] for a caller key starting with `aws:` (reserved); the core's
/// `BadContext` for more than 255 caller pairs.
pub fn context_hash(
    bucket: &str,
    key: &str,
    caller: &BTreeMap<String, String>,
    location: &Location,
) -> Result<[u8; 32], ClientError> {
    if let Some(k) = caller.keys().find(|k| k.starts_with("aws:")) {
        return Err(ClientError::InvalidArgument(format!(
            "encryption context key `{k}`: keys starting with `aws:` are reserved"
        )));
    }
    let arn = match location {
        Location::Here => Some(format!("arn:aws:s3:::{bucket}/{key}")),
        Location::WrittenAs { bucket, key } => Some(format!("arn:aws:s3:::{bucket}/{key}")),
        Location::Unbound => None,
    };
    let mut pairs: Vec<(&str, &str)> = caller
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(arn) = &arn {
        pairs.push((LOCATION_CONTEXT_KEY, arn));
    }
    Ok(objseal_core::context_hash(&pairs)?)
}

/// What the instruction object of an object holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InstructionHolds {
    /// The wrapped keys (they did not fit the metadata).
    pub keys: bool,
    /// The manifest (multipart objects).
    pub manifest: bool,
}

impl InstructionHolds {
    fn to_value(self) -> Option<&'static str> {
        match (self.keys, self.manifest) {
            (false, false) => None,
            (true, false) => Some("keys"),
            (false, true) => Some("manifest"),
            (true, true) => Some("keys,manifest"),
        }
    }

    fn parse(value: Option<&str>) -> Result<Self, ClientError> {
        Ok(match value {
            None => Self::default(),
            Some("keys") => Self {
                keys: true,
                manifest: false,
            },
            Some("manifest") => Self {
                keys: false,
                manifest: true,
            },
            Some("keys,manifest") => Self {
                keys: true,
                manifest: true,
            },
            Some(_) => {
                return Err(bad_metadata(
                    "objseal-instruction is not keys, manifest or keys,manifest",
                ));
            }
        })
    }
}

fn bad_metadata(what: &'static str) -> ClientError {
    ClientError::Format(objseal_core::Error::BadWrappedKey(what))
}

/// The OSE1 metadata entries of an object, as written or read.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// The header.
    pub header: Header,
    /// The wrapped keys (empty when they live in the instruction object and it was not read yet).
    pub blobs: Vec<Vec<u8>>,
    /// What the instruction object holds.
    pub instruction: InstructionHolds,
}

impl Envelope {
    /// The metadata entries for a new object: keys in the metadata when the whole user metadata
    /// (the caller's `extra` included) stays within [`METADATA_LIMIT`], else in the instruction object.
    pub(crate) fn to_metadata(
        header: &Header,
        blobs: &[Vec<u8>],
        multipart: bool,
        extra: &HashMap<String, String>,
    ) -> (HashMap<String, String>, InstructionHolds) {
        let mut meta = extra.clone();
        meta.insert(META_HEADER.into(), B64.encode(header.to_bytes()));
        let keys = blobs
            .iter()
            .map(|b| B64.encode(b))
            .collect::<Vec<_>>()
            .join(",");
        let mut holds = InstructionHolds {
            keys: false,
            manifest: multipart,
        };
        let size_with_keys = metadata_size(&meta)
            + META_KEYS.len()
            + keys.len()
            + META_INSTRUCTION.len()
            + "keys,manifest".len();
        if size_with_keys <= METADATA_LIMIT {
            meta.insert(META_KEYS.into(), keys);
        } else {
            holds.keys = true;
        }
        if let Some(v) = holds.to_value() {
            meta.insert(META_INSTRUCTION.into(), v.into());
        }
        (meta, holds)
    }

    /// Reads the entries of a stored object; `None` when it has no objseal header.
    ///
    /// # Errors
    /// `Format` errors for a header or key list that does not decode (§9 step 2).
    pub fn from_metadata(meta: &HashMap<String, String>) -> Result<Option<Self>, ClientError> {
        let Some(header) = meta.get(META_HEADER) else {
            return Ok(None);
        };
        let bytes = B64
            .decode(header.trim())
            .map_err(|_| ClientError::Format(objseal_core::Error::BadLength))?;
        let header = Header::parse_exact(&bytes)?;
        let instruction = InstructionHolds::parse(meta.get(META_INSTRUCTION).map(String::as_str))?;
        let blobs = match meta.get(META_KEYS) {
            Some(_) if instruction.keys => {
                return Err(bad_metadata(
                    "wrapped keys both in metadata and instruction",
                ));
            }
            Some(list) => decode_key_list(list)?,
            None if instruction.keys => Vec::new(),
            None => return Err(bad_metadata("no wrapped keys")),
        };
        if header.segmented != instruction.manifest {
            return Err(ClientError::Format(objseal_core::Error::BadManifest(
                "the manifest's place does not match the header's segmented flag",
            )));
        }
        Ok(Some(Self {
            header,
            blobs,
            instruction,
        }))
    }
}

/// The caller's metadata with the objseal entries taken out.
pub(crate) fn user_metadata(meta: &HashMap<String, String>) -> HashMap<String, String> {
    meta.iter()
        .filter(|(k, _)| !k.starts_with("objseal-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The bytes S3 counts against its 2 KB limit.
pub(crate) fn metadata_size(meta: &HashMap<String, String>) -> usize {
    meta.iter().map(|(k, v)| k.len() + v.len()).sum()
}

fn decode_key_list(list: &str) -> Result<Vec<Vec<u8>>, ClientError> {
    let blobs = list
        .split(',')
        .map(|b| {
            B64.decode(b.trim())
                .map_err(|_| bad_metadata("wrapped key is not base64"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_blob_count(&blobs)?;
    Ok(blobs)
}

fn check_blob_count(blobs: &[Vec<u8>]) -> Result<(), ClientError> {
    if blobs.is_empty() || blobs.len() > crate::keyring::MAX_RECIPIENTS {
        return Err(bad_metadata("1..=16 wrapped keys expected"));
    }
    if blobs
        .iter()
        .any(|b| b.is_empty() || b.len() > MAX_WRAPPED_KEY_LEN)
    {
        return Err(bad_metadata("wrapped key length out of range"));
    }
    Ok(())
}

/// The body of an instruction object:
///
/// ```text
/// "OSI" 0x01 ‖ BE16(n) ‖ n × (BE16(len) ‖ blob) ‖ BE32(m) ‖ manifest (m bytes)
/// ```
///
/// with n = 0 when the keys are in the metadata and m = 0 when there is no manifest.
///
/// ```
/// use objseal_client::layout::{Instruction, InstructionHolds};
/// let i = Instruction { blobs: vec![vec![1, 2, 3]], manifest: Some(vec![9; 68]) };
/// let bytes = i.encode();
/// let back = Instruction::decode(&bytes, InstructionHolds { keys: true, manifest: true }).unwrap();
/// assert_eq!(back, i);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Instruction {
    /// The wrapped keys, when they are kept here.
    pub blobs: Vec<Vec<u8>>,
    /// The manifest, for a multipart object.
    pub manifest: Option<Vec<u8>>,
}

impl Instruction {
    /// The instruction object's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = INSTRUCTION_MAGIC.to_vec();
        out.extend_from_slice(&(self.blobs.len() as u16).to_be_bytes());
        for blob in &self.blobs {
            out.extend_from_slice(&(blob.len() as u16).to_be_bytes());
            out.extend_from_slice(blob);
        }
        let manifest = self.manifest.as_deref().unwrap_or(&[]);
        out.extend_from_slice(&(manifest.len() as u32).to_be_bytes());
        out.extend_from_slice(manifest);
        out
    }

    /// Parses an instruction object for an object whose metadata says it holds `holds`: blobs are
    /// required when `holds.keys` (and ignored otherwise), a manifest exactly when `holds.manifest`.
    ///
    /// # Errors
    /// `Format(BadWrappedKey)` / `Format(BadManifest)` for any structural fault.
    pub fn decode(bytes: &[u8], holds: InstructionHolds) -> Result<Self, ClientError> {
        let bad = || bad_metadata("malformed instruction object");
        let rest = bytes.strip_prefix(&INSTRUCTION_MAGIC[..]).ok_or_else(bad)?;
        let (n, mut rest) = take_be16(rest).ok_or_else(bad)?;
        let mut blobs = Vec::with_capacity(usize::from(n).min(16));
        for _ in 0..n {
            let (len, tail) = take_be16(rest).ok_or_else(bad)?;
            let len = usize::from(len);
            if tail.len() < len {
                return Err(bad());
            }
            blobs.push(tail[..len].to_vec());
            rest = &tail[len..];
        }
        if rest.len() < 4 {
            return Err(bad());
        }
        let m = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let rest = &rest[4..];
        if rest.len() != m {
            return Err(bad());
        }
        if holds.keys {
            check_blob_count(&blobs)?;
        } else {
            // The metadata holds the keys: blobs here are a rewrap's, written before its
            // metadata-replacing copy (FORMAT.md §16), and are not this version's.
            blobs.clear();
        }
        if holds.manifest != (m > 0) {
            return Err(ClientError::Format(objseal_core::Error::BadManifest(
                "the instruction object's manifest does not match the object's metadata",
            )));
        }
        Ok(Self {
            blobs,
            manifest: (m > 0).then(|| rest.to_vec()),
        })
    }
}

fn take_be16(bytes: &[u8]) -> Option<(u16, &[u8])> {
    (bytes.len() >= 2).then(|| (u16::from_be_bytes([bytes[0], bytes[1]]), &bytes[2..]))
}
