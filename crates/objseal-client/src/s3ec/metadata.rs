//! The S3EC metadata names and their parsing into an [`Envelope`].
//!
//! S3EC stores its fields as S3 user metadata: the header `x-amz-meta-x-amz-c` is the name `x-amz-c`
//! in what `GetObject` returns (boto3's `Metadata`, aws-sdk-s3's `GetObjectOutput::metadata()`).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::{S3ecError, quoted};
use super::{Content, Envelope, Version};

/// V1/V2: the KMS-wrapped data key of V1 (`x-amz-key`).
pub const KEY_V1: &str = "x-amz-key";
/// V2: the wrapped data key, base64.
pub const KEY_V2: &str = "x-amz-key-v2";
/// V2: the key wrapping algorithm (`kms+context`).
pub const WRAP_ALG: &str = "x-amz-wrap-alg";
/// V1/V2: the material description, here the KMS encryption context as JSON.
pub const MATDESC: &str = "x-amz-matdesc";
/// V1/V2: the content IV, base64 (12 bytes for GCM).
pub const IV: &str = "x-amz-iv";
/// V2: the content cipher (`AES/GCM/NoPadding`).
pub const CEK_ALG: &str = "x-amz-cek-alg";
/// V2: the GCM tag length in bits (`128`).
pub const TAG_LEN: &str = "x-amz-tag-len";
/// The marker of an instruction file.
pub const INSTRUCTION_FILE: &str = "x-amz-crypto-instr-file";
/// V3: the content algorithm suite id in decimal (`115`).
pub const V3_CONTENT_ALG: &str = "x-amz-c";
/// V3: the wrapped data key, base64.
pub const V3_KEY: &str = "x-amz-3";
/// V3: the material description (AES and RSA keyrings; unused with KMS).
pub const V3_MATDESC: &str = "x-amz-m";
/// V3: the KMS encryption context as JSON, `aws:x-amz-cek-alg` included.
pub const V3_CONTEXT: &str = "x-amz-t";
/// V3: the key wrapping algorithm, two digits (`12`: KMS with context).
pub const V3_WRAP_ALG: &str = "x-amz-w";
/// V3: the key commitment, base64 (28 bytes).
pub const V3_COMMITMENT: &str = "x-amz-d";
/// V3: the message id, base64 (28 bytes), the HKDF salt.
pub const V3_MESSAGE_ID: &str = "x-amz-i";

/// The encryption-context key S3EC adds for KMS: the content algorithm.
pub const RESERVED_CEK_ALG: &str = "aws:x-amz-cek-alg";
/// The encryption-context key of V1 KMS objects, also ignored when comparing contexts.
pub const RESERVED_CMK_ID: &str = "kms_cmk_id";
/// The V3 content algorithm: AES-256-GCM with HKDF-SHA-512 and key commitment.
pub const V3_SUITE: &str = "115";
/// The V2 content cipher.
pub const V2_CIPHER: &str = "AES/GCM/NoPadding";

const V12_NAMES: [&str; 7] = [KEY_V1, KEY_V2, WRAP_ALG, MATDESC, IV, CEK_ALG, TAG_LEN];
const V3_NAMES: [&str; 7] = [
    V3_CONTENT_ALG,
    V3_KEY,
    V3_MATDESC,
    V3_CONTEXT,
    V3_WRAP_ALG,
    V3_COMMITMENT,
    V3_MESSAGE_ID,
];

/// The S3EC fields of one object's metadata, by lower-case name.
struct Fields<'a>(BTreeMap<&'static str, &'a str>);

impl<'a> Fields<'a> {
    fn collect<I>(metadata: I) -> Result<Self, S3ecError>
    where
        I: IntoIterator<Item = (&'a String, &'a String)>,
    {
        let known = V12_NAMES.iter().chain(&V3_NAMES).chain([&INSTRUCTION_FILE]);
        let known: Vec<&'static str> = known.copied().collect();
        let mut found = BTreeMap::new();
        for (name, value) in metadata {
            // S3 lower-cases metadata names; accept any case, but only once.
            let Some(&canon) = known.iter().find(|k| k.eq_ignore_ascii_case(name)) else {
                continue;
            };
            if found.insert(canon, value.as_str()).is_some() {
                return Err(S3ecError::Malformed {
                    field: canon,
                    reason: "present twice",
                });
            }
        }
        Ok(Self(found))
    }

    fn get(&self, name: &'static str) -> Option<&'a str> {
        self.0.get(name).copied()
    }

    fn need(&self, name: &'static str) -> Result<&'a str, S3ecError> {
        self.get(name).ok_or(S3ecError::MissingField(name))
    }

    fn any(&self, names: &[&'static str]) -> bool {
        names.iter().any(|n| self.0.contains_key(n))
    }
}

/// Parses S3 user metadata (names without `x-amz-meta-`) into an envelope; see
/// [`Envelope::from_metadata`].
pub(crate) fn parse<'a, I>(metadata: I) -> Result<Option<Envelope>, S3ecError>
where
    I: IntoIterator<Item = (&'a String, &'a String)>,
{
    let fields = Fields::collect(metadata)?;
    if fields.0.is_empty() {
        return Ok(None);
    }
    if fields.get(INSTRUCTION_FILE).is_some() {
        return Err(S3ecError::InstructionFile);
    }
    let v12 = fields.any(&V12_NAMES);
    let v3 = fields.any(&V3_NAMES);
    let exclusive = [KEY_V1, KEY_V2, V3_KEY]
        .iter()
        .filter(|n| fields.any(&[n]))
        .count();
    if (v12 && v3) || exclusive > 1 {
        return Err(S3ecError::MixedVersions);
    }
    if v3 {
        // V3 keeps x-amz-c, x-amz-d and x-amz-i in the object and may put the rest in an
        // instruction file: the wrapped key is then missing here.
        if fields.get(V3_KEY).is_none()
            && fields.any(&[V3_CONTENT_ALG, V3_COMMITMENT, V3_MESSAGE_ID])
        {
            return Err(S3ecError::InstructionFile);
        }
        parse_v3(&fields).map(Some)
    } else if fields.get(KEY_V1).is_some() {
        // V1: AES-CBC (or V1 AES-GCM under the legacy `kms` wrapping); not read here.
        let alg = fields.get(CEK_ALG).unwrap_or("AES/CBC/PKCS5Padding");
        Err(S3ecError::UnsupportedContentAlgorithm(format!(
            "{} (V1 format)",
            quoted(alg)
        )))
    } else {
        parse_v2(&fields).map(Some)
    }
}

fn parse_v3(fields: &Fields<'_>) -> Result<Envelope, S3ecError> {
    let alg = fields.need(V3_CONTENT_ALG)?;
    if alg != V3_SUITE {
        return Err(S3ecError::UnsupportedContentAlgorithm(quoted(alg)));
    }
    let wrap = fields.need(V3_WRAP_ALG)?;
    if wrap != "12" {
        return Err(S3ecError::UnsupportedWrapAlgorithm(quoted(wrap)));
    }
    let blob = blob(fields, V3_KEY)?;
    let message_id = fixed::<28>(fields, V3_MESSAGE_ID)?;
    let commitment = fixed::<28>(fields, V3_COMMITMENT)?;
    let kms_context = context(fields, V3_CONTEXT, V3_SUITE)?;
    Ok(Envelope {
        version: Version::V3,
        kms_blob: blob,
        kms_context,
        content: Content::V3 {
            message_id,
            commitment,
        },
    })
}

fn parse_v2(fields: &Fields<'_>) -> Result<Envelope, S3ecError> {
    let blob = blob(fields, KEY_V2)?;
    let cipher = fields.need(CEK_ALG)?;
    if cipher != V2_CIPHER {
        return Err(S3ecError::UnsupportedContentAlgorithm(quoted(cipher)));
    }
    let wrap = fields.need(WRAP_ALG)?;
    if wrap != "kms+context" {
        return Err(S3ecError::UnsupportedWrapAlgorithm(quoted(wrap)));
    }
    if let Some(bits) = fields.get(TAG_LEN).filter(|b| *b != "128") {
        return Err(S3ecError::UnsupportedTagLength(quoted(bits)));
    }
    let iv = fixed::<12>(fields, IV)?;
    let kms_context = context(fields, MATDESC, V2_CIPHER)?;
    Ok(Envelope {
        version: Version::V2,
        kms_blob: blob,
        kms_context,
        content: Content::V2 { iv },
    })
}

fn base64(fields: &Fields<'_>, name: &'static str) -> Result<Vec<u8>, S3ecError> {
    STANDARD
        .decode(fields.need(name)?)
        .map_err(|_| S3ecError::Malformed {
            field: name,
            reason: "not base64",
        })
}

fn blob(fields: &Fields<'_>, name: &'static str) -> Result<Vec<u8>, S3ecError> {
    let bytes = base64(fields, name)?;
    if bytes.is_empty() {
        return Err(S3ecError::Malformed {
            field: name,
            reason: "empty",
        });
    }
    Ok(bytes)
}

fn fixed<const N: usize>(fields: &Fields<'_>, name: &'static str) -> Result<[u8; N], S3ecError> {
    base64(fields, name)?
        .try_into()
        .map_err(|_| S3ecError::Malformed {
            field: name,
            reason: "wrong length",
        })
}

/// The stored KMS encryption context: a JSON object of strings whose `aws:x-amz-cek-alg` names the
/// object's content algorithm. S3EC (`kms+context`) always writes it; requiring it means the data key
/// is asked of the KMS only under a context bound to this format, so a KMS ciphertext made for
/// another context or format is refused by the KMS.
fn context(
    fields: &Fields<'_>,
    name: &'static str,
    alg: &str,
) -> Result<BTreeMap<String, String>, S3ecError> {
    let Some(json) = fields.get(name) else {
        return Err(S3ecError::MissingField(name));
    };
    let map: BTreeMap<String, String> =
        serde_json::from_str(json).map_err(|_| S3ecError::Malformed {
            field: name,
            reason: "not a JSON object of strings",
        })?;
    match map.get(RESERVED_CEK_ALG) {
        Some(v) if v == alg => Ok(map),
        Some(_) => Err(S3ecError::Malformed {
            field: name,
            reason: "aws:x-amz-cek-alg does not name the object's content algorithm",
        }),
        None => Err(S3ecError::Malformed {
            field: name,
            reason: "no aws:x-amz-cek-alg entry",
        }),
    }
}
