//! Principals: the named users a server knows, each with an access key, and the identity a request
//! is attributed to once its SigV4 signature verified.
//!
//! `objseal serve` and `objseal kms serve` read the same TOML file (`--principals FILE`, or the
//! file's text in `OBJSEAL_PRINCIPALS`):
//!
//! ```toml
//! [[principal]]
//! name = "alice"                          # 1–64 of A–Z a–z 0–9 + = , . @ _ -
//! access_key_id = "AKIAALICE0000000001"   # printable ASCII, unique
//! secret_access_key = "…"                 # printable ASCII; keep the file mode 0600
//! groups = ["data-users"]                 # optional
//!
//! [[principal]]
//! name = "objseal-s3"
//! access_key_id = "AKIAS3SERVICE000001"
//! secret_access_key = "…"
//! service = "s3"                          # optional: may call the KMS on behalf of others
//! ```
//!
//! A principal's ARN is `arn:aws:iam::<account>:user/<name>`, its groups'
//! `arn:aws:iam::<account>:group/<group>`: key policies and bucket policies name them so.
//! Unknown fields are refused (a typo must not silently drop a setting), and errors never quote a
//! secret.

use core::fmt;

use serde::Deserialize;
use zeroize::Zeroizing;

/// The longest principal or group name (as IAM's user names).
pub const MAX_NAME_LEN: usize = 64;
/// The most principals one file may define.
pub const MAX_PRINCIPALS: usize = 1000;
/// The name of the principal made on embedded defaults.
pub const DEFAULT_ADMIN: &str = "admin";

/// One named user with its access key.
///
/// `Debug` never shows the secret.
///
/// ```
/// use objseal_kms::principal::Principal;
/// let p = Principal::new("alice", "AKIDALICE", "s3cr3t").in_groups(["data-users"]);
/// assert_eq!(p.arn("000000000000"), "arn:aws:iam::000000000000:user/alice");
/// assert!(!format!("{p:?}").contains("s3cr3t"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user name, unique among principals.
    pub name: String,
    /// The access key id it signs with (`AWS_ACCESS_KEY_ID`).
    pub access_key_id: String,
    /// The secret access key; wiped when dropped, never printed.
    pub secret: Zeroizing<String>,
    /// The groups it belongs to.
    pub groups: Vec<String>,
    /// `Some("s3")`: a service principal, which may make KMS requests on behalf of the principals it
    /// serves (see [`crate::Delegation`]); `None` for people.
    pub service: Option<String>,
}

impl Principal {
    /// A principal without groups that is not a service.
    pub fn new(
        name: impl Into<String>,
        access_key_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            access_key_id: access_key_id.into(),
            secret: Zeroizing::new(secret.into()),
            groups: Vec::new(),
            service: None,
        }
    }

    /// The same principal, member of `groups`.
    #[must_use]
    pub fn in_groups<I, S>(mut self, groups: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.groups.extend(groups.into_iter().map(Into::into));
        self
    }

    /// The same principal, as a service that may act on behalf of others (`service`: `s3`).
    #[must_use]
    pub fn as_service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// `arn:aws:iam::<account>:user/<name>`.
    pub fn arn(&self, account_id: &str) -> String {
        user_arn(account_id, &self.name)
    }

    /// The identity requests signed with this principal's key act as.
    pub fn identity(&self, account_id: &str) -> Identity {
        Identity {
            name: self.name.clone(),
            arn: self.arn(account_id),
            groups: self
                .groups
                .iter()
                .map(|g| format!("arn:aws:iam::{account_id}:group/{g}"))
                .collect(),
        }
    }

    /// [`Principal::identity`], once the name and groups are checked to be well-formed (for
    /// names that come from elsewhere, such as a service's delegation header).
    ///
    /// # Errors
    /// A malformed name or group.
    pub fn identity_checked(&self, account_id: &str) -> Result<Identity, PrincipalsError> {
        check_name("principal name", &self.name)?;
        for g in &self.groups {
            check_name("group name", g)?;
        }
        Ok(self.identity(account_id))
    }

    fn check(&self) -> Result<(), PrincipalsError> {
        check_name("principal name", &self.name)?;
        for g in &self.groups {
            check_name("group name", g)?;
        }
        let printable = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        if !printable(&self.access_key_id) || self.access_key_id.len() > 128 {
            return Err(PrincipalsError(format!(
                "principal {}: the access key id must be 1 to 128 printable ASCII characters",
                self.name
            )));
        }
        if !printable(&self.secret) || self.secret.len() > 256 {
            return Err(PrincipalsError(format!(
                "principal {}: the secret access key must be 1 to 256 printable ASCII characters",
                self.name
            )));
        }
        if let Some(s) = &self.service
            && (s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            return Err(PrincipalsError(format!(
                "principal {}: service must be a lowercase service name such as \"s3\"",
                self.name
            )));
        }
        Ok(())
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("name", &self.name)
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"<redacted>")
            .field("groups", &self.groups)
            .field("service", &self.service)
            .finish()
    }
}

/// `arn:aws:iam::<account>:user/<name>`.
pub fn user_arn(account_id: &str, name: &str) -> String {
    format!("arn:aws:iam::{account_id}:user/{name}")
}

/// Who a request is attributed to: what key policies and bucket policies are evaluated for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Identity {
    /// The principal's name.
    pub name: String,
    /// Its ARN (`arn:aws:iam::<account>:user/<name>`).
    pub arn: String,
    /// Its groups' ARNs.
    pub groups: Vec<String>,
}

/// A principals file that could not be used; the message never quotes a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrincipalsError(pub String);

impl fmt::Display for PrincipalsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PrincipalsError {}

fn check_name(what: &str, name: &str) -> Result<(), PrincipalsError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(PrincipalsError(format!(
            "{what} {:?} must be 1 to {MAX_NAME_LEN} of A-Z a-z 0-9 + = , . @ _ -",
            name.chars().take(80).collect::<String>()
        )))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDoc {
    #[serde(default)]
    principal: Vec<FileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    name: String,
    access_key_id: String,
    secret_access_key: String,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    service: Option<String>,
}

/// Checks a list of principals: each well-formed, names and access key ids unique, at least one.
///
/// ```
/// use objseal_kms::principal::{Principal, check_all};
/// let two = [Principal::new("a", "K1", "s"), Principal::new("a", "K2", "s")];
/// assert!(check_all(&two).unwrap_err().to_string().contains("twice"));
/// ```
pub fn check_all(principals: &[Principal]) -> Result<(), PrincipalsError> {
    if principals.is_empty() {
        return Err(PrincipalsError("no principals are defined".into()));
    }
    if principals.len() > MAX_PRINCIPALS {
        return Err(PrincipalsError(format!(
            "at most {MAX_PRINCIPALS} principals may be defined"
        )));
    }
    for (i, p) in principals.iter().enumerate() {
        p.check()?;
        let earlier = &principals[..i];
        if earlier.iter().any(|o| o.name == p.name) {
            return Err(PrincipalsError(format!(
                "principal {} is defined twice",
                p.name
            )));
        }
        if earlier.iter().any(|o| o.access_key_id == p.access_key_id) {
            return Err(PrincipalsError(format!(
                "access key id {} is given twice",
                p.access_key_id
            )));
        }
    }
    Ok(())
}

/// Parses a principals file (the TOML shape in the [module documentation](self)) and checks it.
///
/// ```
/// let text = r#"
/// [[principal]]
/// name = "alice"
/// access_key_id = "AKIDALICE"
/// secret_access_key = "alice-secret"
/// groups = ["data-users"]
/// "#;
/// let principals = objseal_kms::principal::parse_toml(text).unwrap();
/// assert_eq!(principals[0].groups, ["data-users"]);
/// assert!(objseal_kms::principal::parse_toml("[[principal]]\nname = 'x'\n").is_err());
/// ```
///
/// # Errors
/// [`PrincipalsError`] for TOML that does not parse, unknown or missing fields, malformed names
/// or keys, duplicates, or no principal at all. The message names the principal, never a secret.
pub fn parse_toml(text: &str) -> Result<Vec<Principal>, PrincipalsError> {
    let doc: FileDoc = toml::from_str(text).map_err(|e| {
        // toml's messages quote the offending line, which may hold a secret: keep only its
        // description and position.
        let position = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" (line {line})")
            })
            .unwrap_or_default();
        // Type errors quote the value (`invalid type: integer `12345678``), which may be a
        // secret: such messages are cut before their first backquote.
        let message = e.message();
        let message = message.split('`').next().unwrap_or(message).trim_end();
        PrincipalsError(format!(
            "the principals file is not valid: {message}{position}"
        ))
    })?;
    let principals: Vec<Principal> = doc
        .principal
        .into_iter()
        .map(|e| Principal {
            name: e.name,
            access_key_id: e.access_key_id,
            secret: Zeroizing::new(e.secret_access_key),
            groups: e.groups,
            service: e.service,
        })
        .collect();
    check_all(&principals)?;
    Ok(principals)
}

/// The environment variable holding a principals file's text, for deployments that pass
/// configuration through the environment.
pub const PRINCIPALS_ENV: &str = "OBJSEAL_PRINCIPALS";

/// Reads and parses a principals file ([`parse_toml`]), at most 1 MiB.
///
/// # Errors
/// [`PrincipalsError`] naming the file when it cannot be read or is not valid.
pub fn read_file(path: &std::path::Path) -> Result<Vec<Principal>, PrincipalsError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)
        .map_err(|e| PrincipalsError(format!("reading {}: {e}", path.display())))?;
    let mut text = Zeroizing::new(String::new());
    file.take(1 << 20)
        .read_to_string(&mut text)
        .map_err(|e| PrincipalsError(format!("reading {}: {e}", path.display())))?;
    parse_toml(&text).map_err(|e| PrincipalsError(format!("{}: {e}", path.display())))
}

/// The principals of `file` if given, else of the [`PRINCIPALS_ENV`] variable's text if set;
/// `None` when neither is.
///
/// # Errors
/// As [`read_file`] and [`parse_toml`].
pub fn from_file_or_env(
    file: Option<&std::path::Path>,
) -> Result<Option<Vec<Principal>>, PrincipalsError> {
    if let Some(path) = file {
        return read_file(path).map(Some);
    }
    match std::env::var(PRINCIPALS_ENV) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            parse_toml(&text)
                .map(Some)
                .map_err(|e| PrincipalsError(format!("{PRINCIPALS_ENV}: {e}")))
        }
        Err(_) => Ok(None),
    }
}

/// Writes principals in the file's TOML shape (secrets included: write it mode 0600).
///
/// ```
/// use objseal_kms::principal::{Principal, parse_toml, to_toml};
/// let p = vec![Principal::new("admin", "AKIDADMIN", "s3cr3t").in_groups(["admins"])];
/// assert_eq!(parse_toml(&to_toml(&p)).unwrap(), p);
/// ```
pub fn to_toml(principals: &[Principal]) -> Zeroizing<String> {
    use fmt::Write as _;
    let mut out = Zeroizing::new(String::from(
        "# objseal principals: who may sign requests (keep this file mode 0600)\n",
    ));
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    for p in principals {
        let _ = write!(
            out,
            "\n[[principal]]\nname = {}\naccess_key_id = {}\nsecret_access_key = {}\n",
            quote(&p.name),
            quote(&p.access_key_id),
            quote(&p.secret)
        );
        if !p.groups.is_empty() {
            let groups: Vec<String> = p.groups.iter().map(|g| quote(g)).collect();
            let _ = writeln!(out, "groups = [{}]", groups.join(", "));
        }
        if let Some(s) = &p.service {
            let _ = writeln!(out, "service = {}", quote(s));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_quote_secrets() {
        for text in [
            "[[principal]]\nname = \"a\"\naccess_key_id = \"K\"\nsecret_access_key = \"hunter2 x\"\n",
            "[[principal]]\nname = \"a\"\naccess_key_id = \"K\"\nsecret_access_key = hunter2\n",
            "[[principal]]\nname = \"a\"\naccess_key_id = \"K\"\nsecret_access_key = \"hunter2\"\nsecret = 1\n",
            "[[principal]]\nname = \"a\"\naccess_key_id = \"K\"\nsecret_access_key = 12345678\n",
        ] {
            let e = parse_toml(text).unwrap_err().to_string();
            assert!(!e.contains("hunter2") && !e.contains("12345678"), "{e}");
        }
    }

    #[test]
    fn names_keys_and_services_are_checked() {
        let ok = Principal::new("bob", "K", "s");
        assert!(check_all(std::slice::from_ref(&ok)).is_ok());
        // Service names as in their endpoints: `s3`, `secrets-manager`.
        let s3 = Principal::new("objseal-s3", "K", "s").as_service("s3");
        assert!(check_all(std::slice::from_ref(&s3)).is_ok());
        for bad in [
            Principal::new("", "K", "s"),
            Principal::new("bo b", "K", "s"),
            Principal::new("b".repeat(65), "K", "s"),
            Principal::new("bob", "K K", "s"),
            Principal::new("bob", "K", ""),
            Principal::new("bob", "K", "s").in_groups(["a/b"]),
            Principal::new("bob", "K", "s").as_service("S3"),
        ] {
            assert!(check_all(std::slice::from_ref(&bad)).is_err(), "{bad:?}");
        }
        assert!(check_all(&[]).is_err());
        let same_key = [ok.clone(), Principal::new("carol", "K", "t")];
        assert!(check_all(&same_key).is_err());
    }

    #[test]
    fn identities_carry_group_arns() {
        let p = Principal::new("bob", "K", "s").in_groups(["ops"]);
        let id = p.identity("111122223333");
        assert_eq!(id.arn, "arn:aws:iam::111122223333:user/bob");
        assert_eq!(id.groups, ["arn:aws:iam::111122223333:group/ops"]);
    }
}
