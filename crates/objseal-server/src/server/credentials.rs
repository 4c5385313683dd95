//! Access keys: given in the configuration, or made once and kept in `<data>/credentials`.
//!
//! The file is in the AWS shared-credentials format, so clients can use it as it is
//! (`AWS_SHARED_CREDENTIALS_FILE=<data>/credentials`):
//!
//! ```text
//! # objseal server access key: clients sign requests with it (SigV4)
//! [default]
//! aws_access_key_id = 6Q0ZK2TJ1WXBN4D8RY3M
//! aws_secret_access_key = …40 letters and digits…
//! ```

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use objseal_kms::principal::{DEFAULT_ADMIN, Principal};

use super::ServerError;
use super::fsutil::{read_secret_file, write_new_secret_file};

/// The file name of the stored access key inside the data directory.
pub const CREDENTIALS_FILE: &str = "credentials";
/// Length of a generated access key id (uppercase letters and digits, as AWS's).
pub const ACCESS_KEY_ID_LEN: usize = 20;
/// Length of a generated secret access key (letters and digits).
pub const SECRET_KEY_LEN: usize = 40;

/// An access key: the id clients send and the secret they sign with.
///
/// `Debug` never shows the secret.
///
/// ```
/// use objseal_server::server::AccessKey;
/// let k = AccessKey::new("AKIDEXAMPLE", "wJalrXUtnFEMI");
/// assert!(!format!("{k:?}").contains("wJalr"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKey {
    /// The access key id (`AWS_ACCESS_KEY_ID`); not secret, logged.
    pub id: String,
    /// The secret access key (`AWS_SECRET_ACCESS_KEY`); wiped on drop, never logged.
    pub secret: Zeroizing<String>,
}

impl AccessKey {
    /// An access key from its id and secret.
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: Zeroizing::new(secret.into()),
        }
    }

    /// A fresh random access key: [`ACCESS_KEY_ID_LEN`] uppercase letters and digits, and a
    /// secret of [`SECRET_KEY_LEN`] letters and digits, from the operating system's random
    /// source.
    ///
    /// # Errors
    /// [`ServerError::Io`] if the random source fails.
    pub fn generate() -> Result<Self, ServerError> {
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        Ok(Self {
            id: String::from_utf8(random_from(UPPER, ACCESS_KEY_ID_LEN)?.to_vec())
                .unwrap_or_else(|_| unreachable!("ASCII")),
            secret: Zeroizing::new(
                String::from_utf8(random_from(ALNUM, SECRET_KEY_LEN)?.to_vec())
                    .unwrap_or_else(|_| unreachable!("ASCII")),
            ),
        })
    }

    fn check(&self) -> Result<(), String> {
        let printable = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
        if self.id.is_empty() || !printable(&self.id) {
            return Err("an access key id must be non-empty printable ASCII without spaces".into());
        }
        if self.secret.is_empty() || !printable(&self.secret) {
            return Err(format!(
                "the secret of access key {} must be non-empty printable ASCII without spaces",
                self.id
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Where the server's access keys came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// [`ServerConfig::access_keys`](super::ServerConfig::access_keys): nothing was written.
    Configured,
    /// Read from `<data>/credentials`, made by an earlier start.
    Stored,
    /// Made by this start and written to `<data>/credentials`: show it to the operator once.
    Generated,
}

/// The access keys the server accepts.
#[derive(Clone, Debug)]
pub(crate) struct Credentials {
    pub keys: Vec<AccessKey>,
    pub source: CredentialSource,
}

/// The server's principals: the configured ones ([`ServerConfig::principals`]), else one per
/// access key of [`load_or_create`] — `admin` for the stored or generated pair and for a single
/// configured key, the key's id otherwise. Also returns the access keys, for the printout.
///
/// [`ServerConfig::principals`]: super::ServerConfig::principals
pub(crate) fn principals(
    config: &super::ServerConfig,
) -> Result<(Credentials, Vec<Principal>), ServerError> {
    if !config.principals.is_empty() {
        if !config.access_keys.is_empty() {
            return Err(ServerError::Config(
                "give either principals or access keys, not both".into(),
            ));
        }
        objseal_kms::principal::check_all(&config.principals)
            .map_err(|e| ServerError::Config(e.to_string()))?;
        let keys = config
            .principals
            .iter()
            .map(|p| AccessKey::new(p.access_key_id.clone(), p.secret.as_str()))
            .collect();
        let credentials = Credentials {
            keys,
            source: CredentialSource::Configured,
        };
        return Ok((credentials, config.principals.clone()));
    }
    let credentials = load_or_create(&config.data_dir, &config.access_keys)?;
    let single = credentials.keys.len() == 1;
    let principals = credentials
        .keys
        .iter()
        .map(|k| {
            let name = if single || credentials.source != CredentialSource::Configured {
                DEFAULT_ADMIN.to_owned()
            } else {
                k.id.clone()
            };
            // Without a principals file every key is the owner's: each may manage the bucket
            // policies a policy cannot lock it out of.
            Principal::new(name, k.id.clone(), k.secret.as_str())
                .in_groups([super::access::ADMINS_GROUP])
        })
        .collect();
    Ok((credentials, principals))
}

/// The configured keys, else the stored pair, else a new pair written to `<data>/credentials`.
pub(crate) fn load_or_create(
    data_dir: &Path,
    configured: &[AccessKey],
) -> Result<Credentials, ServerError> {
    if !configured.is_empty() {
        for (i, k) in configured.iter().enumerate() {
            k.check().map_err(ServerError::Config)?;
            if configured[..i].iter().any(|o| o.id == k.id) {
                return Err(ServerError::Config(format!(
                    "access key id {} is repeated",
                    k.id
                )));
            }
        }
        return Ok(Credentials {
            keys: configured.to_vec(),
            source: CredentialSource::Configured,
        });
    }
    let path = data_dir.join(CREDENTIALS_FILE);
    if let Some(text) = read_secret_file(&path)? {
        return Ok(Credentials {
            keys: vec![parse(&path, &text)?],
            source: CredentialSource::Stored,
        });
    }
    let key = AccessKey::generate()?;
    let text = Zeroizing::new(format!(
        "# objseal server access key: clients sign requests with it (SigV4).\n\
         # Use it as it is: AWS_SHARED_CREDENTIALS_FILE={}\n\
         [default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
        path.display(),
        key.id,
        key.secret.as_str()
    ));
    if write_new_secret_file(&path, text.as_bytes())? {
        return Ok(Credentials {
            keys: vec![key],
            source: CredentialSource::Generated,
        });
    }
    // Another process made the file first: use its key.
    let text = read_secret_file(&path)?.ok_or_else(|| {
        ServerError::io(
            format!("reading {}", path.display()),
            std::io::ErrorKind::NotFound.into(),
        )
    })?;
    Ok(Credentials {
        keys: vec![parse(&path, &text)?],
        source: CredentialSource::Stored,
    })
}

/// Parses the credentials file: `aws_access_key_id` and `aws_secret_access_key` lines (section
/// headers and `#`/`;` comments ignored). Errors never quote the file.
fn parse(path: &Path, text: &str) -> Result<AccessKey, ServerError> {
    let bad = |reason: &str| ServerError::BadSecretFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    let (mut id, mut secret) = (None, None);
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';', '[']) {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            return Err(bad("a line is neither a comment nor `name = value`"));
        };
        let slot = match name.trim() {
            "aws_access_key_id" => &mut id,
            "aws_secret_access_key" => &mut secret,
            _ => continue,
        };
        if slot.replace(value.trim().to_owned()).is_some() {
            return Err(bad("a key is given twice"));
        }
    }
    match (id, secret) {
        (Some(id), Some(secret)) => {
            let key = AccessKey::new(id, secret);
            key.check().map_err(|e| bad(&e))?;
            Ok(key)
        }
        _ => Err(bad(
            "needs aws_access_key_id and aws_secret_access_key lines",
        )),
    }
}

/// `len` characters drawn uniformly from `alphabet` (rejection sampling).
fn random_from(alphabet: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>, ServerError> {
    let n = u8::try_from(alphabet.len()).unwrap_or_else(|_| unreachable!("short alphabet"));
    let limit = 256 - 256 % u16::from(n);
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        getrandom::fill(&mut buf[..]).map_err(|e| {
            ServerError::io(
                "drawing a random access key",
                std::io::Error::other(e.to_string()),
            )
        })?;
        for &b in buf.iter() {
            if u16::from(b) < limit && out.len() < len {
                out.push(alphabet[usize::from(b % n)]);
            }
        }
    }
    Ok(out)
}

/// The server's access keys for SigV4, answering an unknown key id with Amazon S3's
/// `InvalidAccessKeyId` (403) rather than s3s's default `NotSignedUp`.
pub(crate) struct KnownKeys(pub s3s::auth::SimpleAuth);

#[async_trait::async_trait]
impl s3s::auth::S3Auth for KnownKeys {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        self.0.lookup(access_key).cloned().ok_or_else(|| {
            s3s::s3_error!(
                InvalidAccessKeyId,
                "The AWS Access Key Id you provided does not exist in our records."
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_aws_shape() {
        let k = AccessKey::generate().unwrap();
        assert_eq!(k.id.len(), ACCESS_KEY_ID_LEN);
        assert!(
            k.id.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        );
        assert_eq!(k.secret.len(), SECRET_KEY_LEN);
        assert!(k.secret.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(k, AccessKey::generate().unwrap());
    }

    #[test]
    fn the_file_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(first.source, CredentialSource::Generated);
        let again = load_or_create(dir.path(), &[]).unwrap();
        assert_eq!(again.source, CredentialSource::Stored);
        assert_eq!(again.keys, first.keys);
        let given = [AccessKey::new("AKID", "s3cret")];
        let configured = load_or_create(dir.path(), &given).unwrap();
        assert_eq!(configured.source, CredentialSource::Configured);
        assert_eq!(configured.keys, given);
    }

    #[test]
    fn malformed_files_are_refused_without_quoting_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CREDENTIALS_FILE);
        for text in [
            "aws_access_key_id = A\n",
            "hunter2\n",
            "aws_access_key_id = A\naws_secret_access_key = hunter2\naws_secret_access_key = x\n",
        ] {
            let e = parse(&path, text).unwrap_err().to_string();
            assert!(!e.contains("hunter2"), "{e}");
        }
        let k = parse(
            &path,
            "[default]\n; c\naws_access_key_id=A\naws_secret_access_key = b c\n",
        );
        assert!(k.is_err(), "a space inside the secret");
    }
}
