//! Where a file's data key comes from and goes back to: a local key file (wrapped-key algorithm 1),
//! or a KMS master key (algorithm 2: the embedded keystore or a remote AWS-KMS-compatible service).

use anyhow::{Context, Result, bail};
use objseal_core::format::container::ContainerPrefix;
use objseal_core::format::wrapped_key::{MAX_WRAPPED_KEY_LEN, WrapAlgorithm};
use objseal_core::wrap::{KeyUnwrap, KeyWrap, LocalKek};
use objseal_core::{Dek, Error};
use objseal_kms::{Kms, envelope};

use crate::kms::{KmsConnection, open_kms};

/// The message when no wrapped key opens with a local key.
pub const NO_KEY_OPENS: &str = "no wrapped key opens with this key (wrong key or wrong --context)";

/// A KMS and the runtime its calls run on.
pub struct KmsHandle {
    runtime: tokio::runtime::Runtime,
    kms: Box<dyn Kms>,
}

impl KmsHandle {
    /// Connects to the KMS `conn` names (an existing keystore, or the remote service).
    pub fn open(conn: &KmsConnection) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let kms = runtime.block_on(open_kms(conn, false))?;
        Ok(Self { runtime, kms })
    }
}

/// Wraps the data key of a new object.
pub enum Wrapper {
    /// Under a local key-encryption key.
    Local(LocalKek),
    /// By a KMS, under the master key `key_id`.
    Kms {
        /// The KMS.
        kms: KmsHandle,
        /// Key id, key ARN or alias.
        key_id: String,
    },
}

impl Wrapper {
    /// A fresh data key for an object whose context hash is `ctx`, and its wrapped-key blob.
    pub fn new_data_key(&self, ctx: &[u8; 32]) -> Result<(Dek, Vec<u8>)> {
        match self {
            Wrapper::Local(kek) => {
                let dek = Dek::generate().context("generating a data key")?;
                let mut wrap_salt = [0u8; 32];
                getrandom::fill(&mut wrap_salt).map_err(|_| Error::Rng)?;
                let mut blob = vec![0u8; MAX_WRAPPED_KEY_LEN];
                let n = kek.wrap_key(&dek, ctx, &wrap_salt, &mut blob)?;
                blob.truncate(n);
                Ok((dek, blob))
            }
            Wrapper::Kms { kms, key_id } => Ok(kms
                .runtime
                .block_on(envelope::new_data_key(kms.kms.as_ref(), key_id, ctx))
                .context("getting a data key from the KMS")?),
        }
    }
}

/// Unwraps the data key of an existing object: with a local key if one is given, else with the KMS
/// (connected only when the object has a KMS-wrapped key).
pub struct Unwrapper<'a> {
    /// The local key, when `-k` was given.
    pub kek: Option<LocalKek>,
    /// Which KMS to ask otherwise.
    pub kms: Option<&'a KmsConnection>,
}

impl Unwrapper<'_> {
    /// The first wrapped key of `prefix` that opens for `ctx`.
    pub fn unwrap_any(&self, prefix: &ContainerPrefix<'_>, ctx: &[u8; 32]) -> Result<Dek> {
        let mut kms: Option<KmsHandle> = None;
        let mut kms_refusal = None;
        let (mut local_wrapped, mut kms_wrapped) = (false, false);
        for blob in prefix.wrapped_keys() {
            let blob = blob?;
            if blob.algorithm == WrapAlgorithm::Kms {
                kms_wrapped = true;
            } else {
                local_wrapped = true;
            }
            match (&self.kek, blob.algorithm) {
                (Some(kek), _) => match kek.unwrap_key(&blob, ctx) {
                    Ok(dek) => return Ok(dek),
                    Err(Error::UnknownWrapAlgorithm(_) | Error::UnwrapFailed) => {}
                    Err(e) => return Err(e.into()),
                },
                (None, WrapAlgorithm::Kms) => {
                    let Some(conn) = self.kms else { continue };
                    if kms.is_none() {
                        kms = Some(KmsHandle::open(conn)?);
                    }
                    let Some(handle) = &kms else { continue };
                    match handle.runtime.block_on(envelope::unwrap_data_key(
                        handle.kms.as_ref(),
                        &blob,
                        ctx,
                    )) {
                        Ok(dek) => return Ok(dek),
                        Err(e) => kms_refusal = Some(e),
                    }
                }
                (None, _) => {}
            }
        }
        if let Some(refusal) = kms_refusal {
            // The KMS says why (another context: InvalidCiphertextException; a disabled key: …).
            return Err(refusal).context("the KMS did not unwrap the data key");
        }
        match (&self.kek, local_wrapped, kms_wrapped) {
            (None, true, _) => {
                bail!("the data key is wrapped by a local key: give it with -k KEYFILE")
            }
            (None, false, _) => bail!("the data key is wrapped by a KMS, but no KMS was given"),
            (Some(_), false, true) => bail!(
                "the data key is wrapped by a KMS master key, not a key file: decrypt without -k \
                 (--store / --root-key-file or --kms-endpoint name the KMS)"
            ),
            _ => {}
        }
        bail!(NO_KEY_OPENS)
    }
}
