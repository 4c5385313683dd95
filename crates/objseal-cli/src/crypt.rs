//! `objseal encrypt` and `objseal decrypt`: the file container around a streamed body.
//!
//! ```text
//! file = header (104 bytes) ‖ BE16 1 ‖ BE16 len ‖ wrapped DEK ‖ body (STREAM chunks)
//! ```

use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use objseal_core::format::container::{self, ContainerPrefix, MAX_PREFIX_LEN};
use objseal_core::io::{DecryptReader, EncryptWriter};
use objseal_core::seal::SegmentKey;
use objseal_core::{Error, HEADER_LEN, ObjectKey, ObjectParams};
use zeroize::Zeroizing;

use crate::keys::{KmsHandle, Unwrapper, Wrapper};
use crate::kms::KmsConnection;
use crate::stdio::{self, Output};
use crate::{keyfile, pipe};

/// Size of the copy buffer between input and output.
const COPY_BUF: usize = 256 * 1024;

/// Where a new object's data key comes from.
pub enum KeySource<'a> {
    /// A local key file (`objseal keygen`).
    File(&'a Path),
    /// A KMS master key.
    Kms {
        /// Key id, key ARN or alias.
        key_id: &'a str,
        /// Which KMS.
        conn: &'a KmsConnection,
    },
}

/// What `encrypt` does.
pub struct EncryptJob<'a> {
    /// Where the data key comes from.
    pub key: KeySource<'a>,
    /// Plaintext file, or standard input.
    pub input: Option<&'a Path>,
    /// Encrypted file, or standard output.
    pub output: Option<&'a Path>,
    /// log2 of the chunk size.
    pub chunk_log2: u8,
    /// Encryption context pairs.
    pub context: &'a [(String, String)],
}

/// What `decrypt` does.
pub struct DecryptJob<'a> {
    /// Key file; without one, the KMS unwraps the data key.
    pub key: Option<&'a Path>,
    /// The KMS for KMS-wrapped data keys.
    pub kms: Option<&'a KmsConnection>,
    /// Encrypted file, or standard input.
    pub input: Option<&'a Path>,
    /// Plaintext file, or standard output.
    pub output: Option<&'a Path>,
    /// Encryption context pairs.
    pub context: &'a [(String, String)],
}

/// Bytes moved by a command.
#[derive(Clone, Copy, Debug)]
pub struct Totals {
    /// Plaintext bytes.
    pub plaintext: u64,
    /// Encrypted bytes (container prefix and body).
    pub encrypted: u64,
}

/// The context hash of `pairs` (in any order; a repeated key is an error).
pub fn context_hash(pairs: &[(String, String)]) -> Result<[u8; 32]> {
    let refs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Ok(objseal_core::context_hash(&refs)?)
}

/// `objseal encrypt`.
pub fn encrypt(job: &EncryptJob<'_>) -> Result<Totals> {
    let ctx = context_hash(job.context)?;
    if job.output.is_none() && std::io::IsTerminal::is_terminal(&io::stdout()) {
        bail!(
            "refusing to write ciphertext to a terminal; use -o FILE or redirect standard output"
        );
    }
    let mut input = stdio::open_input(job.input)?;
    let wrapper = match job.key {
        KeySource::File(path) => Wrapper::Local(keyfile::load(path)?),
        KeySource::Kms { key_id, conn } => Wrapper::Kms {
            kms: KmsHandle::open(conn)?,
            key_id: key_id.to_owned(),
        },
    };
    let mut output = Output::create(job.output)?;
    // A regular file goes through the three-stage pipeline of `pipe`; a stream is read in line, so
    // that a stalled producer can never leave a reader thread behind.
    let sealed = if input.file_len.is_some() {
        write_prefix(&wrapper, &ctx, job.chunk_log2, &mut output)
            .and_then(|key| pipe::seal_file(&key, &mut input.reader, &mut output))
    } else {
        encrypt_stream(
            &wrapper,
            &ctx,
            job.chunk_log2,
            &mut input.reader,
            &mut output,
        )
    };
    match sealed {
        Ok(plaintext) => {
            let encrypted = output.written();
            output.commit()?;
            Ok(Totals {
                plaintext,
                encrypted,
            })
        }
        Err(e) if output.is_stdout() => Err(e.context(format!(
            "encryption failed; the {} bytes already written to standard output are incomplete \
             and must be discarded",
            output.written()
        ))),
        Err(e) => Err(e.context("encryption failed; no output file was written")),
    }
}

/// Writes the container prefix for a new object, then streams `input` through the body encryptor.
/// Returns the number of plaintext bytes.
pub fn encrypt_stream<R: Read + ?Sized, W: Write>(
    wrapper: &Wrapper,
    ctx: &[u8; 32],
    chunk_log2: u8,
    input: &mut R,
    output: &mut W,
) -> Result<u64> {
    let key = write_prefix(wrapper, ctx, chunk_log2, output)?;
    let mut writer = EncryptWriter::new(output, key);
    let mut buf = Zeroizing::new(vec![0u8; COPY_BUF]);
    let mut total = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading the input"),
        };
        writer.write_all(&buf[..n]).context("writing the output")?;
        total += n as u64;
    }
    writer.finish().context("writing the output")?;
    Ok(total)
}

/// Draws a data key (from `wrapper`) and salt for a new object, writes the container prefix (header
/// and the wrapped data key) and returns the body's key.
fn write_prefix<W: Write + ?Sized>(
    wrapper: &Wrapper,
    ctx: &[u8; 32],
    chunk_log2: u8,
    output: &mut W,
) -> Result<SegmentKey> {
    let (dek, blob) = wrapper.new_data_key(ctx)?;
    let params = ObjectParams::random(*ctx)
        .context("generating a salt")?
        .chunk_log2(chunk_log2);
    let object = ObjectKey::create(&dek, &params)?;
    drop(dek);
    let mut prefix = vec![0u8; HEADER_LEN + 4 + blob.len()];
    let prefix_len = container::write_prefix(object.header(), &[&blob], &mut prefix)?;
    output
        .write_all(&prefix[..prefix_len])
        .context("writing the output")?;
    Ok(object.body_key()?)
}

/// `objseal decrypt`.
pub fn decrypt(job: &DecryptJob<'_>) -> Result<Totals> {
    let unwrapper = Unwrapper {
        kek: job.key.map(keyfile::load).transpose()?,
        kms: job.kms,
    };
    let ctx = context_hash(job.context)?;
    let mut input = stdio::open_input(job.input)?;
    let source = stdio::display(job.input, "<stdin>");
    // Only once the key and header have verified is an output created. A regular file goes through
    // the three-stage pipeline of `pipe`; a stream is read in line (see `encrypt`).
    if input.file_len.is_some() {
        let prefix = open_prefix(&unwrapper, &ctx, &mut input.reader)
            .with_context(|| format!("cannot decrypt {source}"))?;
        let mut output = Output::create(job.output)?;
        let copied = pipe::open_file(&prefix.key, &mut input.reader, &mut output).map_err(|e| {
            match e.downcast_ref::<Error>() {
                Some(data_error) => anyhow!("decryption failed: {data_error}"),
                None => e,
            }
        });
        finish_decrypt(copied, output, prefix.len, prefix.chunk_log2)
    } else {
        let mut opened = open_container(&unwrapper, &ctx, input.reader)
            .with_context(|| format!("cannot decrypt {source}"))?;
        let mut output = Output::create(job.output)?;
        let copied = copy_plaintext(&mut opened.reader, &mut output);
        finish_decrypt(copied, output, opened.prefix_len, opened.chunk_log2)
    }
}

/// Commits the output of a decryption that succeeded, or explains what a failed one left behind.
fn finish_decrypt(
    copied: Result<u64>,
    output: Output,
    prefix_len: usize,
    chunk_log2: u8,
) -> Result<Totals> {
    match copied {
        Ok(plaintext) => {
            output.commit()?;
            let body = objseal_core::range::ciphertext_len(plaintext, chunk_log2)?;
            Ok(Totals {
                plaintext,
                encrypted: prefix_len as u64 + body,
            })
        }
        Err(e) if output.is_stdout() && output.written() == 0 => {
            Err(anyhow!("{e:#}; nothing was written to standard output"))
        }
        Err(e) if output.is_stdout() => Err(anyhow!(
            "{e:#}; the {} bytes already written to standard output are incomplete and must be \
             discarded",
            output.written()
        )),
        Err(e) => Err(anyhow!("{e:#}; no output file was written")),
    }
}

/// A container prefix whose wrapped key opened and whose header verified.
pub struct Prefix {
    /// The body's key.
    pub key: SegmentKey,
    /// Length of the container prefix.
    pub len: usize,
    /// The header's chunk size (log2).
    pub chunk_log2: u8,
}

/// Reads exactly the container prefix from `input` (no byte of the body), unwraps the data key and
/// verifies the header (key commitment and context).
pub fn open_prefix<R: Read + ?Sized>(
    unwrapper: &Unwrapper<'_>,
    ctx: &[u8; 32],
    input: &mut R,
) -> Result<Prefix> {
    let bytes = read_prefix(input)?;
    let prefix = ContainerPrefix::parse(&bytes)?;
    let dek = unwrapper.unwrap_any(&prefix, ctx)?;
    let object = ObjectKey::open_with_context(&dek, &prefix.header, ctx)?;
    drop(dek);
    Ok(Prefix {
        key: object.body_key()?,
        len: bytes.len(),
        chunk_log2: prefix.header.chunk_log2,
    })
}

/// An encrypted input whose key and header have verified.
pub struct Opened<R: Read> {
    /// Serves the body's verified plaintext.
    pub reader: DecryptReader<BufReader<R>>,
    /// Length of the container prefix.
    pub prefix_len: usize,
    /// The header's chunk size (log2).
    pub chunk_log2: u8,
}

/// Reads and parses the container prefix, unwraps the data key and verifies the header (key commitment
/// and context).
pub fn open_container<R: Read>(
    unwrapper: &Unwrapper<'_>,
    ctx: &[u8; 32],
    input: R,
) -> Result<Opened<R>> {
    let mut input = BufReader::with_capacity(64 * 1024, input);
    let prefix = open_prefix(unwrapper, ctx, &mut input)?;
    Ok(Opened {
        reader: DecryptReader::new(input, prefix.key),
        prefix_len: prefix.len,
        chunk_log2: prefix.chunk_log2,
    })
}

/// Reads exactly the container prefix (header and wrapped keys) from `input`, no byte of the body.
pub fn read_prefix<R: Read + ?Sized>(input: &mut R) -> Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(HEADER_LEN + 256);
    let mut want = HEADER_LEN + 2;
    loop {
        if want > MAX_PREFIX_LEN {
            return Err(Error::LimitExceeded.into());
        }
        let have = buf.len();
        buf.resize(want, 0);
        let got = read_full(input, &mut buf[have..]).context("reading the input")?;
        if have + got < want {
            // End of input inside the prefix: report a malformed start if there is one.
            buf.truncate(have + got);
            container::prefix_len(&buf)?;
            return Err(Error::TooShort {
                what: "container prefix",
            }
            .into());
        }
        match container::prefix_len(&buf)? {
            Some(n) if n == buf.len() => return Ok(buf),
            Some(n) if n > buf.len() => want = n,
            Some(_) => bail!("internal error: read past the container prefix"),
            // Two more bytes never reach past the prefix: the next length field, or blob bytes.
            None => want = buf.len() + 2,
        }
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(crate) fn read_full<R: Read + ?Sized>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Streams verified plaintext from `reader` to `output`. Returns the plaintext byte count.
fn copy_plaintext<R: Read>(reader: &mut DecryptReader<R>, output: &mut Output) -> Result<u64> {
    let mut buf = Zeroizing::new(vec![0u8; COPY_BUF]);
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(match e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
                    Some(data_error) => anyhow!("decryption failed: {data_error}"),
                    None => anyhow!(e).context("reading the input"),
                });
            }
        };
        output.write_all(&buf[..n]).context("writing the output")?;
        total += n as u64;
    }
    Ok(total)
}
