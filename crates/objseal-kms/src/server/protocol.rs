//! The AWS KMS JSON 1.1 protocol: operation names, request fields, result shapes, error bodies.
//!
//! Requests and results use the field names of the botocore service model for KMS (`2014-11-01`):
//! `KeyId`, `EncryptionContext`, `CiphertextBlob` (base64), `Plaintext` (base64), … Times are
//! seconds since the Unix epoch as JSON numbers. Only symmetric `ENCRYPT_DECRYPT` keys with
//! `SYMMETRIC_DEFAULT` exist here: asking for anything else (another key spec or usage, an imported or
//! custom-key-store origin, multi-Region keys, key policies, `Recipient` attestation, `DryRun`) is
//! refused with `UnsupportedOperationException` (a valid AWS value this service lacks) or
//! `ValidationException` (a value AWS does not define either). `GrantTokens` are checked for shape
//! and otherwise ignored.
//!
//! `List*` operations page with `Limit` and `Marker`: `Truncated` is always present, `NextMarker`
//! only when more follow. A marker is opaque to clients; a foreign one is `InvalidMarkerException`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde::ser::Serialize;
use zeroize::Zeroizing;

use crate::audit::AuditEvent;
use crate::{
    CreateKeyRequest, DEFAULT_POLICY_NAME, DataKeySpec, EncryptionContext, KeyMetadata, KeyState,
    Kms, KmsError, ReEncryptRequest,
};

use super::AccessKey;

/// The `Content-Type` of requests and responses.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The prefix of `X-Amz-Target` for KMS.
pub const TARGET_PREFIX: &str = "TrentService.";

macro_rules! operations {
    ($($op:ident),* $(,)?) => {
        /// A KMS operation this server answers, named as in `X-Amz-Target: TrentService.<name>`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[allow(missing_docs)]
        pub enum Operation { $($op),* }

        impl Operation {
            /// Every operation served.
            pub const ALL: &'static [Operation] = &[$(Operation::$op),*];

            /// The AWS name (`GenerateDataKey`, …).
            pub fn name(self) -> &'static str {
                match self { $(Operation::$op => stringify!($op)),* }
            }

            /// The operation of an AWS name, if served.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $(stringify!($op) => Some(Operation::$op),)* _ => None }
            }
        }
    };
}

operations!(
    CreateKey,
    DescribeKey,
    ListKeys,
    CreateAlias,
    DeleteAlias,
    ListAliases,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    Encrypt,
    Decrypt,
    ReEncrypt,
    GenerateRandom,
    EnableKey,
    DisableKey,
    EnableKeyRotation,
    DisableKeyRotation,
    GetKeyRotationStatus,
    RotateKeyOnDemand,
    ListKeyRotations,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    PutKeyPolicy,
    GetKeyPolicy,
    ListKeyPolicies,
);

impl Operation {
    /// Whether a service principal may call it on behalf of another principal: the operations
    /// that use keys (what the S3 server needs), not those that administer them.
    pub fn is_delegable(self) -> bool {
        matches!(
            self,
            Operation::GenerateDataKey
                | Operation::GenerateDataKeyWithoutPlaintext
                | Operation::Encrypt
                | Operation::Decrypt
                | Operation::ReEncrypt
                | Operation::DescribeKey
        )
    }
}

/// An error answer: HTTP status, AWS error name (`__type`) and message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReply {
    /// HTTP status.
    pub status: u16,
    /// AWS error name.
    pub aws_type: String,
    /// Message for humans (never secret).
    pub message: String,
}

impl ErrorReply {
    /// An error of the given status, name and message.
    pub fn new(status: u16, aws_type: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            aws_type: aws_type.to_owned(),
            message: message.into(),
        }
    }

    /// `SerializationException` (400): the body is not the JSON the operation takes.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new(400, "SerializationException", message)
    }

    /// `UnknownOperationException` (400).
    pub fn unknown_operation(message: impl Into<String>) -> Self {
        Self::new(400, "UnknownOperationException", message)
    }

    /// The JSON body: `{"__type": …, "message": …}`.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "__type": self.aws_type,
            "message": self.message,
        }))
        .unwrap_or_else(|_| br#"{"__type":"KMSInternalException"}"#.to_vec())
    }
}

impl From<KmsError> for ErrorReply {
    fn from(e: KmsError) -> Self {
        Self::new(e.http_status(), e.aws_type(), e.message())
    }
}

fn validation(message: impl Into<String>) -> ErrorReply {
    KmsError::Validation(message.into()).into()
}

fn unsupported(message: impl Into<String>) -> ErrorReply {
    KmsError::UnsupportedOperation(message.into()).into()
}

fn constraint(field: &str, value: &str, rule: &str) -> ErrorReply {
    validation(format!(
        "1 validation error detected: Value {value} at '{field}' failed to satisfy constraint: {rule}"
    ))
}

fn required<T>(v: Option<T>, field: &str) -> Result<T, ErrorReply> {
    v.ok_or_else(|| constraint(field, "null", "Member must not be null"))
}

/// Every request field of the operations served, all optional: each operation takes what it uses and
/// ignores the rest, as AWS ignores members it does not know.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Input {
    key_id: Option<String>,
    encryption_context: Option<EncryptionContext>,
    key_spec: Option<String>,
    number_of_bytes: Option<i64>,
    ciphertext_blob: Option<String>,
    plaintext: Option<SecretField>,
    grant_tokens: Option<Vec<String>>,
    destination_key_id: Option<String>,
    source_key_id: Option<String>,
    source_encryption_context: Option<EncryptionContext>,
    destination_encryption_context: Option<EncryptionContext>,
    pending_window_in_days: Option<i64>,
    rotation_period_in_days: Option<i64>,
    alias_name: Option<String>,
    target_key_id: Option<String>,
    description: Option<String>,
    tags: Option<Vec<TagIn>>,
    limit: Option<i64>,
    marker: Option<String>,
    key_usage: Option<String>,
    customer_master_key_spec: Option<String>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    xks_key_id: Option<String>,
    policy: Option<String>,
    policy_name: Option<String>,
    multi_region: Option<bool>,
    bypass_policy_lockout_safety_check: Option<bool>,
    encryption_algorithm: Option<String>,
    source_encryption_algorithm: Option<String>,
    destination_encryption_algorithm: Option<String>,
    recipient: Option<IgnoredAny>,
    dry_run: Option<bool>,
    #[allow(dead_code)]
    dry_run_modifiers: Option<IgnoredAny>,
    #[allow(dead_code)]
    include_key_material: Option<String>,
    #[allow(dead_code)]
    resource_owners: Option<IgnoredAny>,
}

/// A request member that holds a secret (the base64 `Plaintext` of `Encrypt`): wiped when dropped,
/// on every path, refusals included.
struct SecretField(Zeroizing<String>);

impl<'de> Deserialize<'de> for SecretField {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| SecretField(Zeroizing::new(s)))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagIn {
    tag_key: Option<String>,
    tag_value: Option<String>,
}

fn parse_input(body: &[u8]) -> Result<Input, ErrorReply> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    match first {
        None => return Ok(Input::default()),
        Some(b'{') => {}
        Some(_) => {
            return Err(ErrorReply::serialization(
                "the request body must be a JSON object",
            ));
        }
    }
    serde_json::from_slice(body).map_err(|e| {
        // Never echo the error's own text: for a string where another type belongs it quotes the
        // string, which could be anything the caller sent.
        let what = match e.classify() {
            serde_json::error::Category::Io | serde_json::error::Category::Eof => {
                "unexpected end of the JSON body"
            }
            serde_json::error::Category::Syntax => "malformed JSON",
            serde_json::error::Category::Data => "a member has the wrong type or is repeated",
        };
        ErrorReply::serialization(format!("{what} (line {} column {})", e.line(), e.column()))
    })
}

fn check_len(field: &str, v: &str, min: usize, max: usize) -> Result<(), ErrorReply> {
    let n = v.chars().count();
    if n < min || n > max {
        return Err(constraint(
            field,
            &format!("of length {n}"),
            &format!("Member must have length between {min} and {max}, inclusive"),
        ));
    }
    Ok(())
}

fn check_key_id(field: &str, v: Option<String>) -> Result<String, ErrorReply> {
    let v = required(v, field)?;
    check_len(field, &v, 1, 2048)?;
    Ok(v)
}

fn check_optional_key_id(field: &str, v: Option<String>) -> Result<Option<String>, ErrorReply> {
    match v {
        None => Ok(None),
        some => check_key_id(field, some).map(Some),
    }
}

fn check_range(field: &str, v: i64, min: i64, max: i64) -> Result<(), ErrorReply> {
    if v < min || v > max {
        return Err(constraint(
            field,
            &format!("'{v}'"),
            &format!("Member must have value between {min} and {max}, inclusive"),
        ));
    }
    Ok(())
}

fn check_enum(field: &str, v: &str, values: &[&str]) -> Result<(), ErrorReply> {
    if !values.contains(&v) {
        return Err(constraint(
            field,
            &format!("'{}'", v.chars().take(64).collect::<String>()),
            &format!(
                "Member must satisfy enum value set: [{}]",
                values.join(", ")
            ),
        ));
    }
    Ok(())
}

fn check_grant_tokens(v: &Option<Vec<String>>) -> Result<(), ErrorReply> {
    if let Some(tokens) = v {
        if tokens.len() > 10 {
            return Err(constraint(
                "grantTokens",
                &format!("of length {}", tokens.len()),
                "Member must have length less than or equal to 10",
            ));
        }
        for t in tokens {
            check_len("grantTokens.member", t, 1, 8192)?;
        }
    }
    Ok(())
}

const ENCRYPTION_ALGORITHMS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "SM2PKE",
];

fn check_algorithm(field: &str, v: &Option<String>) -> Result<(), ErrorReply> {
    if let Some(a) = v {
        check_enum(field, a, ENCRYPTION_ALGORITHMS)?;
        if a != "SYMMETRIC_DEFAULT" {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{a} is not supported by symmetric encryption keys; use SYMMETRIC_DEFAULT"
            ))
            .into());
        }
    }
    Ok(())
}

fn refuse_extras(input: &Input) -> Result<(), ErrorReply> {
    if input.recipient.is_some() {
        return Err(unsupported(
            "Recipient (Nitro Enclaves attestation) is not supported",
        ));
    }
    if input.dry_run == Some(true) {
        return Err(unsupported("DryRun is not supported"));
    }
    Ok(())
}

/// Decodes a base64 member into a buffer that is wiped when dropped (it may be a plaintext).
fn decode_blob(field: &str, v: Option<&str>, max: usize) -> Result<Zeroizing<Vec<u8>>, ErrorReply> {
    let v = required(v, field)?;
    let bytes = Zeroizing::new(
        B64.decode(v.as_bytes())
            .map_err(|_| ErrorReply::serialization(format!("{field} is not valid base64")))?,
    );
    if bytes.is_empty() || bytes.len() > max {
        return Err(constraint(
            field,
            &format!("of length {}", bytes.len()),
            &format!("Member must have length between 1 and {max}, inclusive"),
        ));
    }
    Ok(bytes)
}

fn data_key_spec(input: &Input) -> Result<DataKeySpec, ErrorReply> {
    match (&input.key_spec, input.number_of_bytes) {
        (Some(_), Some(_)) => Err(validation(
            "Please specify either number of bytes or key spec, not both.",
        )),
        (None, None) => Err(validation(
            "Please specify either number of bytes or key spec.",
        )),
        (Some(spec), None) => {
            check_enum("keySpec", spec, &["AES_256", "AES_128"])?;
            Ok(if spec == "AES_256" {
                DataKeySpec::Aes256
            } else {
                DataKeySpec::Aes128
            })
        }
        (None, Some(n)) => {
            check_range("numberOfBytes", n, 1, 1024)?;
            Ok(DataKeySpec::Bytes(usize::try_from(n).unwrap_or(0)))
        }
    }
}

fn limit(input: &Input, default: usize, max: i64) -> Result<usize, ErrorReply> {
    match input.limit {
        None => Ok(default),
        Some(n) => {
            check_range("limit", n, 1, max)?;
            Ok(usize::try_from(n).unwrap_or(default))
        }
    }
}

/// One page of `items` after `marker`: the page, and the next marker when more follow.
fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    limit: usize,
) -> Result<(Vec<T>, Option<String>), ErrorReply> {
    let start = match marker {
        None => 0,
        Some(m) => {
            check_len("marker", m, 1, 1024)?;
            m.parse::<usize>()
                .ok()
                .filter(|s| *s <= items.len())
                .ok_or_else(|| {
                    KmsError::Other {
                        aws_type: "InvalidMarkerException".into(),
                        message: "The marker is not one this service returned".into(),
                    }
                    .into()
                })
                .map_err(|e: ErrorReply| e)?
        }
    };
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len()).then(|| end.to_string());
    let page = items.into_iter().skip(start).take(end - start).collect();
    Ok((page, next))
}

/// Serialises a result into a buffer that is wiped when dropped. The buffer is sized up front so
/// that serialising rarely reallocates; when it does, the old allocation is wiped too.
fn json(value: &impl Serialize, size_hint: usize) -> Result<Zeroizing<Vec<u8>>, ErrorReply> {
    crate::types::to_json_zeroizing(value, size_hint.saturating_add(1024))
        .map_err(|_| ErrorReply::from(KmsError::Internal("could not serialise the result".into())))
}

fn b64(bytes: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(B64.encode(bytes))
}

#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct KeyMetadataOut<'a> {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: &'a str,
    key_id: &'a str,
    arn: &'a str,
    creation_date: u64,
    enabled: bool,
    description: &'a str,
    key_usage: &'static str,
    key_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    deletion_date: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_deletion_window_in_days: Option<u32>,
    origin: &'static str,
    key_manager: &'static str,
    customer_master_key_spec: &'static str,
    key_spec: &'static str,
    encryption_algorithms: [&'static str; 1],
    multi_region: bool,
}

impl<'a> From<&'a KeyMetadata> for KeyMetadataOut<'a> {
    fn from(m: &'a KeyMetadata) -> Self {
        Self {
            aws_account_id: &m.account_id,
            key_id: &m.key_id,
            arn: &m.arn,
            creation_date: m.creation_date,
            enabled: m.state == KeyState::Enabled,
            description: &m.description,
            key_usage: "ENCRYPT_DECRYPT",
            key_state: m.state.as_str(),
            deletion_date: m.deletion_date,
            pending_deletion_window_in_days: m.pending_deletion_window_days,
            origin: "AWS_KMS",
            key_manager: "CUSTOMER",
            customer_master_key_spec: "SYMMETRIC_DEFAULT",
            key_spec: "SYMMETRIC_DEFAULT",
            encryption_algorithms: ["SYMMETRIC_DEFAULT"],
            multi_region: false,
        }
    }
}

fn key_metadata_result(m: &KeyMetadata) -> Result<Zeroizing<Vec<u8>>, ErrorReply> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Out<'a> {
        key_metadata: KeyMetadataOut<'a>,
    }
    json(
        &Out {
            key_metadata: m.into(),
        },
        m.description.len() * 6,
    )
}

fn empty_result() -> Result<Zeroizing<Vec<u8>>, ErrorReply> {
    Ok(Zeroizing::new(b"{}".to_vec()))
}

/// One call: the KMS, who asks, and the audit event to fill in.
pub(crate) struct Call<'a> {
    pub(crate) kms: &'a dyn Kms,
    pub(crate) principal: &'a AccessKey,
    pub(crate) audit: &'a mut AuditEvent,
    pub(crate) operation: Operation,
    /// Whether the Kms ran the operation itself and had the last word (so a Kms that audits itself
    /// has recorded it). Lookups made only to check permissions do not count.
    pub(crate) reached_kms: bool,
}

impl<'a> Call<'a> {
    /// The Kms, for the operation itself.
    fn kms(&mut self) -> &'a dyn Kms {
        self.reached_kms = true;
        self.kms
    }

    fn restricted(&self) -> bool {
        self.principal.allowed_keys.is_some()
    }

    fn allows(&self, m: &KeyMetadata) -> bool {
        self.principal.allows(&m.key_id, &m.arn)
    }

    fn denied(&self, resource: &str) -> ErrorReply {
        KmsError::AccessDenied(format!(
            "Access key {} is not authorized to perform: kms:{} on resource: {resource}",
            self.principal.id,
            self.operation.name()
        ))
        .into()
    }

    /// The key a request may use: for a principal limited to some keys, the request's key is
    /// resolved (aliases included) and checked, and its ARN is what the operation then runs on (so
    /// an alias moved in between cannot redirect it); others use the key as named.
    async fn authorize(&mut self, key_id: &str) -> Result<String, ErrorReply> {
        if !self.restricted() {
            return Ok(key_id.to_owned());
        }
        let m = self.kms.describe_key(key_id).await?;
        if !self.allows(&m) {
            self.audit.key_id = Some(m.arn.clone());
            return Err(self.denied(&m.arn));
        }
        Ok(m.arn)
    }

    /// Before decrypting a blob whose key the request does not name: when the blob names its key
    /// (an objseal blob), a principal limited to some keys must be allowed that key, as AWS checks
    /// `kms:Decrypt` on the blob's key before anything else. Checking only afterwards would let the
    /// principal learn, from `InvalidCiphertextException` versus `AccessDeniedException`, whether a
    /// blob and encryption context of a key it may not use are valid. A blob of a key that does not
    /// exist is left for the operation to refuse; one that names no key is checked afterwards
    /// ([`Call::authorize_result`]).
    async fn authorize_blob(&mut self, blob: &[u8]) -> Result<(), ErrorReply> {
        if !self.restricted() {
            return Ok(());
        }
        let Some(id) = crate::blob::key_id_of(blob) else {
            return Ok(());
        };
        match self.kms.describe_key(&id).await {
            Ok(m) if !self.allows(&m) => {
                self.audit.key_id = Some(m.arn.clone());
                Err(self.denied(&m.arn))
            }
            _ => Ok(()),
        }
    }

    /// After an operation whose key is only known from its result (`Decrypt` without `KeyId`, the
    /// source of `ReEncrypt`): is that key allowed?
    async fn authorize_result(&mut self, key_arn: &str) -> Result<(), ErrorReply> {
        if !self.restricted() {
            return Ok(());
        }
        // The server, not the Kms, has the last word now.
        self.reached_kms = false;
        let m = self.kms.describe_key(key_arn).await?;
        if self.allows(&m) {
            self.reached_kms = true;
            Ok(())
        } else {
            Err(self.denied(&m.arn))
        }
    }

    /// The key ARN for a result that AWS answers with an ARN where the KMS gave a key id.
    async fn arn_of(&self, key_id: String) -> String {
        if key_id.starts_with("arn:") {
            return key_id;
        }
        match self.kms.describe_key(&key_id).await {
            Ok(m) => m.arn,
            Err(_) => key_id,
        }
    }
}

/// Runs one operation on a JSON body; returns the JSON result.
pub(crate) async fn dispatch(
    call: &mut Call<'_>,
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, ErrorReply> {
    let mut input = parse_input(body)?;
    let op = call.operation;
    if let Some(k) = &input.key_id {
        call.audit.key_id = Some(k.chars().take(2048).collect());
    }
    match op {
        Operation::CreateKey => create_key(call, input).await,
        Operation::DescribeKey => {
            let key_id = check_key_id("keyId", input.key_id)?;
            check_grant_tokens(&input.grant_tokens)?;
            let m = call.kms().describe_key(&key_id).await?;
            call.audit.key_id = Some(m.arn.clone());
            if call.restricted() && !call.allows(&m) {
                call.reached_kms = false;
                return Err(call.denied(&m.arn));
            }
            key_metadata_result(&m)
        }
        Operation::ListKeys => {
            let limit = limit(&input, 100, 1000)?;
            let mut keys = call.kms().list_keys().await?;
            if call.restricted() {
                keys.retain(|k| call.principal.allows(&k.key_id, &k.arn));
            }
            let (keys, next) = page(keys, input.marker.as_deref(), limit)?;
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Entry<'a> {
                key_id: &'a str,
                key_arn: &'a str,
            }
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                keys: Vec<Entry<'a>>,
                truncated: bool,
                #[serde(skip_serializing_if = "Option::is_none")]
                next_marker: Option<String>,
            }
            let out = Out {
                keys: keys
                    .iter()
                    .map(|k| Entry {
                        key_id: &k.key_id,
                        key_arn: &k.arn,
                    })
                    .collect(),
                truncated: next.is_some(),
                next_marker: next,
            };
            json(&out, keys.len() * 160)
        }
        Operation::CreateAlias => {
            let alias = required(input.alias_name, "aliasName")?;
            check_alias_name(&alias)?;
            let target = check_key_id("targetKeyId", input.target_key_id)?;
            call.audit.key_id = Some(target.clone());
            let target = call.authorize(&target).await?;
            call.kms().create_alias(&alias, &target).await?;
            empty_result()
        }
        Operation::DeleteAlias => {
            let alias = required(input.alias_name, "aliasName")?;
            check_alias_name(&alias)?;
            call.audit.key_id = Some(alias.clone());
            call.authorize(&alias).await?;
            call.kms().delete_alias(&alias).await?;
            empty_result()
        }
        Operation::ListAliases => {
            let limit = limit(&input, 50, 100)?;
            let key_id = check_optional_key_id("keyId", input.key_id)?;
            let key_id = match key_id {
                Some(k) => Some(call.authorize(&k).await?),
                None => None,
            };
            let mut aliases = call.kms().list_aliases(key_id.as_deref()).await?;
            if call.restricted() {
                let mut allowed = Vec::with_capacity(aliases.len());
                for a in aliases {
                    if let Ok(m) = call.kms().describe_key(&a.target_key_id).await
                        && call.allows(&m)
                    {
                        allowed.push(a);
                    }
                }
                aliases = allowed;
            }
            let (aliases, next) = page(aliases, input.marker.as_deref(), limit)?;
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Entry<'a> {
                alias_name: &'a str,
                alias_arn: &'a str,
                target_key_id: &'a str,
            }
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                aliases: Vec<Entry<'a>>,
                truncated: bool,
                #[serde(skip_serializing_if = "Option::is_none")]
                next_marker: Option<String>,
            }
            let out = Out {
                aliases: aliases
                    .iter()
                    .map(|a| Entry {
                        alias_name: &a.alias_name,
                        alias_arn: &a.alias_arn,
                        target_key_id: &a.target_key_id,
                    })
                    .collect(),
                truncated: next.is_some(),
                next_marker: next,
            };
            json(&out, aliases.len() * 600)
        }
        Operation::GenerateDataKey | Operation::GenerateDataKeyWithoutPlaintext => {
            let key_id = check_key_id("keyId", input.key_id.take())?;
            check_grant_tokens(&input.grant_tokens)?;
            refuse_extras(&input)?;
            let spec = data_key_spec(&input)?;
            let context = input.encryption_context.take().unwrap_or_default();
            call.audit.context = Some(context.clone());
            let key_id = call.authorize(&key_id).await?;
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                ciphertext_blob: &'a str,
                #[serde(skip_serializing_if = "Option::is_none")]
                plaintext: Option<&'a str>,
                key_id: &'a str,
            }
            if op == Operation::GenerateDataKey {
                let dk = call
                    .kms()
                    .generate_data_key(&key_id, &context, spec)
                    .await?;
                call.audit.key_id = Some(dk.wrapped.key_arn.clone());
                call.audit.key_version = Some(dk.wrapped.key_version);
                let blob = b64(&dk.wrapped.ciphertext_blob);
                let plaintext = b64(dk.plaintext.as_bytes());
                json(
                    &Out {
                        ciphertext_blob: &blob,
                        plaintext: Some(&plaintext),
                        key_id: &dk.wrapped.key_arn,
                    },
                    blob.len() + plaintext.len() + dk.wrapped.key_arn.len(),
                )
            } else {
                let c = call
                    .kms()
                    .generate_data_key_without_plaintext(&key_id, &context, spec)
                    .await?;
                call.audit.key_id = Some(c.key_arn.clone());
                call.audit.key_version = Some(c.key_version);
                let blob = b64(&c.ciphertext_blob);
                json(
                    &Out {
                        ciphertext_blob: &blob,
                        plaintext: None,
                        key_id: &c.key_arn,
                    },
                    blob.len() + c.key_arn.len(),
                )
            }
        }
        Operation::Encrypt => {
            let key_id = check_key_id("keyId", input.key_id.take())?;
            let plaintext = input.plaintext.take();
            check_grant_tokens(&input.grant_tokens)?;
            refuse_extras(&input)?;
            check_algorithm("encryptionAlgorithm", &input.encryption_algorithm)?;
            let plaintext =
                decode_blob("plaintext", plaintext.as_ref().map(|p| p.0.as_str()), 4096)?;
            let context = input.encryption_context.take().unwrap_or_default();
            call.audit.context = Some(context.clone());
            let key_id = call.authorize(&key_id).await?;
            let c = call.kms().encrypt(&key_id, &plaintext, &context).await?;
            call.audit.key_id = Some(c.key_arn.clone());
            call.audit.key_version = Some(c.key_version);
            let blob = b64(&c.ciphertext_blob);
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                ciphertext_blob: &'a str,
                key_id: &'a str,
                encryption_algorithm: &'static str,
            }
            json(
                &Out {
                    ciphertext_blob: &blob,
                    key_id: &c.key_arn,
                    encryption_algorithm: "SYMMETRIC_DEFAULT",
                },
                blob.len() + c.key_arn.len(),
            )
        }
        Operation::Decrypt => {
            let blob = decode_blob("ciphertextBlob", input.ciphertext_blob.as_deref(), 6144)?;
            let key_id = check_optional_key_id("keyId", input.key_id.take())?;
            check_grant_tokens(&input.grant_tokens)?;
            refuse_extras(&input)?;
            check_algorithm("encryptionAlgorithm", &input.encryption_algorithm)?;
            let context = input.encryption_context.take().unwrap_or_default();
            call.audit.context = Some(context.clone());
            let key_id = match key_id {
                Some(k) => Some(call.authorize(&k).await?),
                None => {
                    call.authorize_blob(&blob).await?;
                    None
                }
            };
            let p = call
                .kms()
                .decrypt(&blob, &context, key_id.as_deref())
                .await?;
            call.audit.key_id = Some(p.key_arn.clone());
            call.audit.key_version = Some(p.key_version);
            if key_id.is_none() {
                call.authorize_result(&p.key_arn).await?;
            }
            let plaintext = b64(p.plaintext.as_bytes());
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                key_id: &'a str,
                plaintext: &'a str,
                encryption_algorithm: &'static str,
            }
            json(
                &Out {
                    key_id: &p.key_arn,
                    plaintext: &plaintext,
                    encryption_algorithm: "SYMMETRIC_DEFAULT",
                },
                plaintext.len() + p.key_arn.len(),
            )
        }
        Operation::ReEncrypt => {
            let blob = decode_blob("ciphertextBlob", input.ciphertext_blob.as_deref(), 6144)?;
            let destination = check_key_id("destinationKeyId", input.destination_key_id.take())?;
            let source = check_optional_key_id("sourceKeyId", input.source_key_id.take())?;
            check_grant_tokens(&input.grant_tokens)?;
            refuse_extras(&input)?;
            check_algorithm(
                "sourceEncryptionAlgorithm",
                &input.source_encryption_algorithm,
            )?;
            check_algorithm(
                "destinationEncryptionAlgorithm",
                &input.destination_encryption_algorithm,
            )?;
            let source_context = input.source_encryption_context.take().unwrap_or_default();
            let destination_context = input
                .destination_encryption_context
                .take()
                .unwrap_or_default();
            call.audit.key_id = Some(destination.clone());
            call.audit.context = Some(destination_context.clone());
            let destination = call.authorize(&destination).await?;
            let source = match source {
                Some(k) => Some(call.authorize(&k).await?),
                None => {
                    call.authorize_blob(&blob).await?;
                    None
                }
            };
            let r = call
                .kms()
                .re_encrypt(ReEncryptRequest {
                    ciphertext_blob: &blob,
                    source_context: &source_context,
                    source_key_id: source.as_deref(),
                    destination_key_id: &destination,
                    destination_context: &destination_context,
                })
                .await?;
            call.audit.key_id = Some(r.ciphertext.key_arn.clone());
            call.audit.key_version = Some(r.ciphertext.key_version);
            if source.is_none() {
                call.authorize_result(&r.source_key_arn).await?;
            }
            let new_blob = b64(&r.ciphertext.ciphertext_blob);
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                ciphertext_blob: &'a str,
                source_key_id: &'a str,
                key_id: &'a str,
                source_encryption_algorithm: &'static str,
                destination_encryption_algorithm: &'static str,
            }
            json(
                &Out {
                    ciphertext_blob: &new_blob,
                    source_key_id: &r.source_key_arn,
                    key_id: &r.ciphertext.key_arn,
                    source_encryption_algorithm: "SYMMETRIC_DEFAULT",
                    destination_encryption_algorithm: "SYMMETRIC_DEFAULT",
                },
                new_blob.len() + r.source_key_arn.len() + r.ciphertext.key_arn.len(),
            )
        }
        Operation::GenerateRandom => {
            refuse_extras(&input)?;
            if input.custom_key_store_id.is_some() {
                return Err(unsupported("custom key stores are not supported"));
            }
            let n = required(input.number_of_bytes, "numberOfBytes")?;
            check_range("numberOfBytes", n, 1, 1024)?;
            let bytes = call
                .kms()
                .generate_random(usize::try_from(n).unwrap_or(0))
                .await?;
            let plaintext = b64(bytes.as_bytes());
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                plaintext: &'a str,
            }
            json(
                &Out {
                    plaintext: &plaintext,
                },
                plaintext.len(),
            )
        }
        Operation::EnableKey
        | Operation::DisableKey
        | Operation::DisableKeyRotation
        | Operation::EnableKeyRotation => {
            let key_id = check_key_id("keyId", input.key_id)?;
            let period = match input.rotation_period_in_days {
                Some(p) if op == Operation::EnableKeyRotation => {
                    check_range("rotationPeriodInDays", p, 90, 2560)?;
                    u32::try_from(p).ok()
                }
                _ => None,
            };
            let key_id = call.authorize(&key_id).await?;
            match op {
                Operation::EnableKey => call.kms().enable_key(&key_id).await?,
                Operation::DisableKey => call.kms().disable_key(&key_id).await?,
                Operation::EnableKeyRotation => {
                    call.kms().enable_key_rotation(&key_id, period).await?
                }
                _ => call.kms().disable_key_rotation(&key_id).await?,
            }
            empty_result()
        }
        Operation::GetKeyRotationStatus => {
            let key_id = check_key_id("keyId", input.key_id)?;
            let key_id = call.authorize(&key_id).await?;
            let s = call.kms().get_key_rotation_status(&key_id).await?;
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                key_rotation_enabled: bool,
                key_id: &'a str,
                #[serde(skip_serializing_if = "Option::is_none")]
                rotation_period_in_days: Option<u32>,
                #[serde(skip_serializing_if = "Option::is_none")]
                next_rotation_date: Option<u64>,
                #[serde(skip_serializing_if = "Option::is_none")]
                on_demand_rotation_start_date: Option<u64>,
            }
            json(
                &Out {
                    key_rotation_enabled: s.enabled,
                    key_id: &s.key_id,
                    rotation_period_in_days: s.rotation_period_days,
                    next_rotation_date: s.next_rotation_date,
                    on_demand_rotation_start_date: s.on_demand_rotation_start_date,
                },
                s.key_id.len(),
            )
        }
        Operation::GetKeyPolicy | Operation::PutKeyPolicy | Operation::ListKeyPolicies => {
            key_policy(call, input).await
        }
        Operation::RotateKeyOnDemand | Operation::CancelKeyDeletion => {
            let key_id = check_key_id("keyId", input.key_id)?;
            let key_id = call.authorize(&key_id).await?;
            let id = if op == Operation::RotateKeyOnDemand {
                let id = call.kms().rotate_key_on_demand(&key_id).await?;
                if let Ok(m) = call.kms().describe_key(&id).await {
                    call.audit.key_id = Some(m.arn);
                    call.audit.key_version = Some(m.current_version);
                }
                id
            } else {
                // AWS answers CancelKeyDeletion with the key ARN.
                let id = call.kms().cancel_key_deletion(&key_id).await?;
                let arn = call.arn_of(id).await;
                call.audit.key_id = Some(arn.clone());
                arn
            };
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                key_id: &'a str,
            }
            json(&Out { key_id: &id }, id.len())
        }
        Operation::ListKeyRotations => {
            let key_id = check_key_id("keyId", input.key_id.take())?;
            let limit = limit(&input, 100, 1000)?;
            let key_id = call.authorize(&key_id).await?;
            let rotations = call.kms().list_key_rotations(&key_id).await?;
            let (rotations, next) = page(rotations, input.marker.as_deref(), limit)?;
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Entry<'a> {
                key_id: &'a str,
                rotation_date: u64,
                rotation_type: &'static str,
            }
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                rotations: Vec<Entry<'a>>,
                truncated: bool,
                #[serde(skip_serializing_if = "Option::is_none")]
                next_marker: Option<String>,
            }
            let out = Out {
                rotations: rotations
                    .iter()
                    .map(|r| Entry {
                        key_id: &r.key_id,
                        rotation_date: r.rotation_date,
                        rotation_type: r.rotation_type.as_str(),
                    })
                    .collect(),
                truncated: next.is_some(),
                next_marker: next,
            };
            json(&out, rotations.len() * 120)
        }
        Operation::ScheduleKeyDeletion => {
            let key_id = check_key_id("keyId", input.key_id)?;
            let window = match input.pending_window_in_days {
                Some(p) => {
                    check_range("pendingWindowInDays", p, 1, 365)?;
                    u32::try_from(p).ok()
                }
                None => None,
            };
            let key_id = call.authorize(&key_id).await?;
            let s = call.kms().schedule_key_deletion(&key_id, window).await?;
            // AWS answers ScheduleKeyDeletion with the key ARN.
            let arn = call.arn_of(s.key_id.clone()).await;
            call.audit.key_id = Some(arn.clone());
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                key_id: &'a str,
                deletion_date: u64,
                key_state: &'static str,
                pending_window_in_days: u32,
            }
            json(
                &Out {
                    key_id: &arn,
                    deletion_date: s.deletion_date,
                    key_state: s.key_state.as_str(),
                    pending_window_in_days: s.pending_window_days,
                },
                arn.len(),
            )
        }
    }
}

fn check_alias_name(alias: &str) -> Result<(), ErrorReply> {
    check_len("aliasName", alias, 1, 256)?;
    if !alias
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'/' | b'_' | b'-'))
    {
        return Err(constraint(
            "aliasName",
            &format!("'{}'", alias.chars().take(256).collect::<String>()),
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$",
        ));
    }
    Ok(())
}

const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
    "ECC_NIST_EDWARDS25519",
    "ML_KEM_512",
    "ML_KEM_768",
    "ML_KEM_1024",
];

async fn create_key(call: &mut Call<'_>, input: Input) -> Result<Zeroizing<Vec<u8>>, ErrorReply> {
    let description = input.description.unwrap_or_default();
    check_len("description", &description, 0, 8192)?;
    if let Some(usage) = &input.key_usage {
        check_enum(
            "keyUsage",
            usage,
            &[
                "SIGN_VERIFY",
                "ENCRYPT_DECRYPT",
                "GENERATE_VERIFY_MAC",
                "KEY_AGREEMENT",
                "ENCAPSULATE_DECAPSULATE",
            ],
        )?;
    }
    if input.key_spec.is_some() && input.customer_master_key_spec.is_some() {
        return Err(validation(
            "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec parameter is deprecated. Use KeySpec only.",
        ));
    }
    let spec = input.key_spec.as_ref().map(|s| ("keySpec", s)).or(input
        .customer_master_key_spec
        .as_ref()
        .map(|s| ("customerMasterKeySpec", s)));
    if let Some((field, spec)) = spec {
        check_enum(field, spec, KEY_SPECS)?;
        if spec != "SYMMETRIC_DEFAULT" {
            return Err(unsupported(format!(
                "{spec} keys are not supported: only SYMMETRIC_DEFAULT keys exist here"
            )));
        }
    }
    if let Some(usage) = &input.key_usage
        && usage != "ENCRYPT_DECRYPT"
    {
        return Err(unsupported(format!(
            "{usage} keys are not supported: only ENCRYPT_DECRYPT keys exist here"
        )));
    }
    if let Some(origin) = &input.origin {
        check_enum(
            "origin",
            origin,
            &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"],
        )?;
        if origin != "AWS_KMS" {
            return Err(unsupported(format!(
                "origin {origin} is not supported: only AWS_KMS"
            )));
        }
    }
    if input.custom_key_store_id.is_some() || input.xks_key_id.is_some() {
        return Err(unsupported("custom key stores are not supported"));
    }
    if input.multi_region == Some(true) {
        return Err(unsupported("multi-Region keys are not supported"));
    }
    if let Some(policy) = &input.policy {
        check_len("policy", policy, 1, MAX_POLICY_MEMBER_LEN)?;
    }
    let mut tags = std::collections::BTreeMap::new();
    let tag_list = input.tags.unwrap_or_default();
    if tag_list.len() > 50 {
        return Err(KmsError::Other {
            aws_type: "TagException".into(),
            message: "A key can have at most 50 tags".into(),
        }
        .into());
    }
    for tag in tag_list {
        let key = required(tag.tag_key, "tags.member.tagKey")?;
        let value = required(tag.tag_value, "tags.member.tagValue")?;
        check_len("tags.member.tagKey", &key, 1, 128)?;
        check_len("tags.member.tagValue", &value, 0, 256)?;
        if tags.insert(key, value).is_some() {
            return Err(KmsError::Other {
                aws_type: "TagException".into(),
                message: "Duplicate tag keys".into(),
            }
            .into());
        }
    }
    if call.restricted() {
        return Err(call.denied("*"));
    }
    let m = call
        .kms()
        .create_key(CreateKeyRequest {
            description,
            tags,
            policy: input.policy,
            bypass_policy_lockout_safety_check: input
                .bypass_policy_lockout_safety_check
                .unwrap_or(false),
        })
        .await?;
    call.audit.key_id = Some(m.arn.clone());
    call.audit.key_version = Some(m.current_version);
    key_metadata_result(&m)
}

/// AWS's length constraint on the `Policy` member (a `ValidationException` beyond it); the key
/// policy limit itself, 32 KiB, is the keystore's (`MalformedPolicyDocumentException`).
const MAX_POLICY_MEMBER_LEN: usize = 131_072;

/// `GetKeyPolicy`, `PutKeyPolicy`, `ListKeyPolicies`: the one policy, named `default`.
async fn key_policy(call: &mut Call<'_>, input: Input) -> Result<Zeroizing<Vec<u8>>, ErrorReply> {
    let op = call.operation;
    let key_id = check_key_id("keyId", input.key_id)?;
    // PolicyName is optional (AWS defaults it to `default`), and `default` is the only one.
    if let Some(name) = &input.policy_name {
        check_len("policyName", name, 1, 128)?;
        if name != DEFAULT_POLICY_NAME {
            return Err(KmsError::NotFound(format!(
                "No such policy: {}; a key has one policy, named {DEFAULT_POLICY_NAME}",
                name.chars().take(128).collect::<String>()
            ))
            .into());
        }
    }
    let key_id = call.authorize(&key_id).await?;
    match op {
        Operation::GetKeyPolicy => {
            let policy = call.kms().get_key_policy(&key_id).await?;
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                policy: &'a str,
                policy_name: &'static str,
            }
            json(
                &Out {
                    policy: &policy,
                    policy_name: DEFAULT_POLICY_NAME,
                },
                policy.len() * 2,
            )
        }
        Operation::PutKeyPolicy => {
            let policy = required(input.policy, "policy")?;
            check_len("policy", &policy, 1, MAX_POLICY_MEMBER_LEN)?;
            let bypass = input.bypass_policy_lockout_safety_check.unwrap_or(false);
            call.kms().put_key_policy(&key_id, &policy, bypass).await?;
            empty_result()
        }
        _ => {
            let names = call.kms().list_key_policies(&key_id).await?;
            #[derive(serde::Serialize)]
            #[serde(rename_all = "PascalCase")]
            struct Out<'a> {
                policy_names: &'a [String],
                truncated: bool,
            }
            json(
                &Out {
                    policy_names: &names,
                    truncated: false,
                },
                64,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_round_trip() {
        assert_eq!(Operation::ALL.len(), 24);
        for op in Operation::ALL {
            assert_eq!(Operation::from_name(op.name()), Some(*op));
        }
        assert_eq!(Operation::from_name("CreateGrant"), None);
    }

    #[test]
    fn parse_input_refuses_non_objects_and_never_echoes() {
        assert!(parse_input(b"").is_ok());
        assert!(parse_input(b"  {}  ").is_ok());
        for bad in [
            &b"[]"[..],
            b"null",
            b"\"x\"",
            b"{",
            b"{\"KeyId\": 5}",
            b"{\"NumberOfBytes\": \"secret-value\"}",
            b"{\"KeyId\":\"a\",\"KeyId\":\"b\"}",
            b"{\"EncryptionContext\": {\"a\": 1}}",
            b"{\"NumberOfBytes\": 1.5}",
        ] {
            let e = match parse_input(bad) {
                Err(e) => e,
                Ok(_) => panic!("accepted {}", String::from_utf8_lossy(bad)),
            };
            assert_eq!(e.aws_type, "SerializationException");
            assert!(!e.message.contains("secret"), "{}", e.message);
        }
    }

    #[test]
    fn pages() {
        let items: Vec<u32> = (0..5).collect();
        let (p, next) = page(items.clone(), None, 2).unwrap();
        assert_eq!((p, next.as_deref()), (vec![0, 1], Some("2")));
        let (p, next) = page(items.clone(), Some("4"), 2).unwrap();
        assert_eq!((p, next), (vec![4], None));
        let (p, next) = page(items.clone(), Some("5"), 2).unwrap();
        assert_eq!((p, next), (vec![], None));
        for bad in ["6", "-1", "x", ""] {
            assert!(page(items.clone(), Some(bad), 2).is_err());
        }
    }

    #[test]
    fn data_key_specs() {
        let with = |spec: Option<&str>, n: Option<i64>| {
            data_key_spec(&Input {
                key_spec: spec.map(str::to_owned),
                number_of_bytes: n,
                ..Input::default()
            })
        };
        assert_eq!(with(Some("AES_256"), None), Ok(DataKeySpec::Aes256));
        assert_eq!(with(Some("AES_128"), None), Ok(DataKeySpec::Aes128));
        assert_eq!(with(None, Some(64)), Ok(DataKeySpec::Bytes(64)));
        for (s, n) in [
            (None, None),
            (Some("AES_256"), Some(32)),
            (Some("AES_512"), None),
            (None, Some(0)),
            (None, Some(1025)),
            (None, Some(-1)),
        ] {
            assert_eq!(with(s, n).unwrap_err().aws_type, "ValidationException");
        }
    }
}
