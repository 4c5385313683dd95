//! Crash consistency of the real `objseal serve` binary: `kill -9` in the middle of concurrent
//! PUTs and multipart completions never leaves a torn, undecryptable or lost object.
//!
//! The server is seeded with objects under SSE-S3, SSE-KMS and SSE-C. Then, round after round,
//! every key gets new, known contents at once (PUTs of a few MiB, and completions of multipart
//! uploads whose parts were uploaded beforehand, so the completion itself is what is in flight),
//! the server is killed with SIGKILL at a different moment each round, restarted on the same data
//! directory, and every key must read back complete and decryptable as exactly one of the
//! versions ever written to it: the last acknowledged one or one whose write was in flight (or,
//! when nothing was acknowledged, the version from before the round; absent when none was ever
//! completed). HEAD and ListObjectsV2 must show that version's plaintext size, and an upload whose
//! completion was cut off must still complete afterwards, as a client's retry would.
//!
//! The client is the AWS SDK for Rust with retries off: a request cut off by the kill fails
//! (its outcome unknown) instead of being replayed against the restarted server.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, StalledStreamProtectionConfig};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use aws_smithy_http_client::tls;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest as _, Md5};
use sha2::Sha256;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

mod common;
use common::served::Served;

const ACCESS_KEY: &str = "AKIDCRASHTEST";
const SECRET_KEY: &str = "crash-test-secret-key";
const BUCKET: &str = "crash";
const MIB: usize = 1 << 20;

/// When each round kills the server.
#[derive(Clone, Copy, Debug)]
enum Kill {
    /// Once this many writes of the round were acknowledged.
    AfterAcks(usize),
    /// This long after the round's writes started.
    AfterMs(u64),
}

/// One round per entry: the kill lands before any write is done, among the first answers, in
/// the middle, and near the end.
const ROUNDS: [Kill; 8] = [
    Kill::AfterAcks(2),
    Kill::AfterMs(40),
    Kill::AfterAcks(8),
    Kill::AfterMs(5),
    Kill::AfterAcks(12),
    Kill::AfterMs(120),
    Kill::AfterAcks(1),
    Kill::AfterMs(250),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    S3,
    Kms,
    /// SSE-C with the key of 32 such bytes.
    Customer(u8),
}

/// A key, how it is encrypted and written, and every version ever sent to it.
struct Slot {
    key: &'static str,
    mode: Mode,
    /// Written by PutObject each round (and seeded).
    put: bool,
    /// Written by CompleteMultipartUpload each round.
    multipart: bool,
    versions: Vec<Version>,
    /// The version the server holds now (as last read back), `None` for no object.
    current: Option<usize>,
}

#[derive(Clone, Debug)]
struct Version {
    len: usize,
    sha256: [u8; 32],
    what: String,
}

fn slots() -> Vec<Slot> {
    let slot = |key, mode, put, multipart| Slot {
        key,
        mode,
        put,
        multipart,
        versions: Vec::new(),
        current: None,
    };
    vec![
        slot("put/s3-a", Mode::S3, true, false),
        slot("put/s3-b", Mode::S3, true, false),
        slot("put/kms-a", Mode::Kms, true, false),
        slot("put/kms-b", Mode::Kms, true, false),
        slot("put/c-a", Mode::Customer(0xa1), true, false),
        slot("put/c-b", Mode::Customer(0xb2), true, false),
        slot("mpu/s3", Mode::S3, false, true),
        slot("mpu/kms", Mode::Kms, false, true),
        slot("mpu/c", Mode::Customer(0xc3), false, true),
        // A PUT and a completion racing on the same key.
        slot("mix/kms", Mode::Kms, true, true),
        slot("mix/c", Mode::Customer(0xd4), true, true),
    ]
}

/// Deterministic pseudo-random bytes.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = <Sha256 as sha2::Digest>::new();
    for p in parts {
        sha2::Digest::update(&mut h, p);
    }
    sha2::Digest::finalize(h).into()
}

/// The SSE-C headers' key and key MD5 (base64) for a [`Mode::Customer`] key.
fn customer_key(byte: u8) -> (String, String) {
    let raw = [byte; 32];
    (B64.encode(raw), B64.encode(Md5::digest(raw)))
}

/// Adds the SSE-C trio to a request builder when the slot is SSE-C.
macro_rules! with_ssec {
    ($builder:expr, $mode:expr) => {{
        let b = $builder;
        match $mode {
            Mode::Customer(byte) => {
                let (key, md5) = customer_key(byte);
                b.sse_customer_algorithm("AES256")
                    .sse_customer_key(key)
                    .sse_customer_key_md5(md5)
            }
            _ => b,
        }
    }};
}

/// Adds the slot's encryption to a PutObject / CreateMultipartUpload builder.
macro_rules! with_sse {
    ($builder:expr, $mode:expr) => {{
        let b = $builder;
        match $mode {
            Mode::S3 => b.server_side_encryption(ServerSideEncryption::Aes256),
            Mode::Kms => b
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id("alias/objseal-default"),
            Mode::Customer(_) => with_ssec!(b, $mode),
        }
    }};
}

/// An SDK client for `endpoint`: no retries, bounded waits.
fn client(endpoint: &str) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .http_client(http)
        .build();
    Client::from_conf(conf)
}

/// How a write ended.
#[derive(Debug)]
enum Outcome {
    Acked,
    /// No answer: the connection died with the server. The write may or may not have landed.
    Cut(String),
    /// An HTTP answer with an error: a bug, not a crash effect (the test fails).
    Refused(String),
}

/// A write of the round: a PUT of `body`, or the completion of a prepared upload.
enum Write {
    Put {
        body: Vec<u8>,
    },
    Complete {
        upload_id: String,
        parts: Vec<(i32, String)>,
    },
}

struct Pending {
    slot: usize,
    version: usize,
    write: Write,
}

fn outcome<E, R>(r: Result<E, SdkError<impl ProvideErrorMetadata + std::fmt::Debug, R>>) -> Outcome
where
    R: std::fmt::Debug,
{
    match r {
        Ok(_) => Outcome::Acked,
        Err(SdkError::ServiceError(e)) => Outcome::Refused(format!(
            "{} {}",
            e.err().code().unwrap_or("?"),
            e.err().message().unwrap_or("")
        )),
        Err(e) => Outcome::Cut(format!("{e:?}").chars().take(300).collect()),
    }
}

async fn send(client: Client, slots: Arc<Vec<(&'static str, Mode)>>, p: &Pending) -> Outcome {
    let (key, mode) = slots[p.slot];
    match &p.write {
        Write::Put { body } => outcome(
            with_sse!(
                client
                    .put_object()
                    .bucket(BUCKET)
                    .key(key)
                    .body(ByteStream::from(body.clone())),
                mode
            )
            .send()
            .await,
        ),
        Write::Complete { upload_id, parts } => {
            let done = complete(&client, key, mode, upload_id, parts).await;
            outcome(done)
        }
    }
}

async fn complete(
    client: &Client,
    key: &str,
    mode: Mode,
    upload_id: &str,
    parts: &[(i32, String)],
) -> Result<
    aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput,
    SdkError<aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError>,
> {
    let parts = CompletedMultipartUpload::builder()
        .set_parts(Some(
            parts
                .iter()
                .map(|(n, etag)| CompletedPart::builder().part_number(*n).e_tag(etag).build())
                .collect(),
        ))
        .build();
    with_ssec!(
        client
            .complete_multipart_upload()
            .bucket(BUCKET)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(parts),
        mode
    )
    .send()
    .await
}

/// Whether `upload_id` (as CreateMultipartUpload returned it) is among `listed`, by itself or
/// by its store part (see [`World::listed_uploads`]).
fn is_listed(listed: &BTreeSet<String>, upload_id: &str) -> bool {
    listed.contains(upload_id)
        || upload_id
            .rsplit_once('.')
            .is_some_and(|(store_id, _)| listed.contains(store_id))
}

/// The test's state: the slots, the server and a client for it.
struct World {
    rt: Runtime,
    dir: tempfile::TempDir,
    slots: Vec<Slot>,
    server: Served,
    client: Client,
}

impl World {
    fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    fn names(&self) -> Arc<Vec<(&'static str, Mode)>> {
        Arc::new(self.slots.iter().map(|s| (s.key, s.mode)).collect())
    }

    /// A new version of `slot` for a PUT in `round` (`u64::MAX`: the seed).
    fn put_version(&mut self, slot: usize, round: u64) -> (usize, Vec<u8>) {
        let len = 2 * MIB + slot * 4099 + (round as usize % 7) * 777;
        let body = data(len, (slot as u64) << 32 | round << 1);
        let s = &mut self.slots[slot];
        s.versions.push(Version {
            len,
            sha256: sha256(&[&body]),
            what: format!("PUT in round {round}"),
        });
        (s.versions.len() - 1, body)
    }

    /// Creates an upload for `slot` and uploads its parts (5 MiB and a smaller last one).
    fn prepare_upload(&mut self, slot: usize, round: u64) -> Pending {
        let (key, mode) = (self.slots[slot].key, self.slots[slot].mode);
        let parts = [
            data(5 * MIB, (slot as u64) << 32 | round << 1 | 1),
            data(
                300_000 + slot * 1013 + round as usize,
                (slot as u64) << 40 | round,
            ),
        ];
        let client = &self.client;
        let (upload_id, etags) = self.rt.block_on(async {
            let created = with_sse!(
                client.create_multipart_upload().bucket(BUCKET).key(key),
                mode
            )
            .send()
            .await
            .expect("CreateMultipartUpload");
            let id = created.upload_id().unwrap().to_owned();
            let mut etags = Vec::new();
            for (i, part) in parts.iter().enumerate() {
                let n = i as i32 + 1;
                let up = with_ssec!(
                    client
                        .upload_part()
                        .bucket(BUCKET)
                        .key(key)
                        .upload_id(&id)
                        .part_number(n)
                        .body(ByteStream::from(part.clone())),
                    mode
                )
                .send()
                .await
                .expect("UploadPart");
                etags.push((n, up.e_tag().unwrap().to_owned()));
            }
            (id, etags)
        });
        let s = &mut self.slots[slot];
        s.versions.push(Version {
            len: parts[0].len() + parts[1].len(),
            sha256: sha256(&[&parts[0], &parts[1]]),
            what: format!("multipart completion in round {round} (upload {upload_id})"),
        });
        Pending {
            slot,
            version: s.versions.len() - 1,
            write: Write::Complete {
                upload_id,
                parts: etags,
            },
        }
    }

    /// Restarts the server on the same data directory.
    fn restart(&mut self) {
        self.server = Served::start(&self.data_dir(), ACCESS_KEY, SECRET_KEY);
        self.client = client(&self.server.endpoint);
    }

    /// Reads `slot` back: which of its versions the server holds (`None`: no such key). Panics
    /// on anything else: an error, a body that is none of the versions, a HEAD that disagrees.
    fn read_back(&self, slot: usize) -> Option<usize> {
        let s = &self.slots[slot];
        let (key, mode) = (s.key, s.mode);
        let client = &self.client;
        let got = self.rt.block_on(async {
            match with_ssec!(client.get_object().bucket(BUCKET).key(key), mode)
                .send()
                .await
            {
                Ok(out) => {
                    let length = out.content_length();
                    let body = out
                        .body
                        .collect()
                        .await
                        .unwrap_or_else(|e| panic!("{key}: the body does not read completely: {e}"))
                        .into_bytes();
                    let head = with_ssec!(client.head_object().bucket(BUCKET).key(key), mode)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{key}: HEAD fails after GET worked: {e:?}"));
                    Some((body, length, head.content_length()))
                }
                Err(SdkError::ServiceError(e)) if e.err().is_no_such_key() => None,
                Err(e) => panic!("{key}: GET after the restart failed: {e:?}"),
            }
        });
        let (body, get_len, head_len) = got?;
        let digest = sha256(&[&body]);
        let Some(version) = s
            .versions
            .iter()
            .position(|v| v.len == body.len() && v.sha256 == digest)
        else {
            panic!(
                "{key}: the {} bytes read back are none of the {} versions ever written (sizes {:?})",
                body.len(),
                s.versions.len(),
                s.versions.iter().map(|v| v.len).collect::<Vec<_>>()
            );
        };
        let len = Some(body.len() as i64);
        assert_eq!(get_len, len, "{key}: GET Content-Length");
        assert_eq!(head_len, len, "{key}: HEAD Content-Length");
        Some(version)
    }

    /// ListObjectsV2: every key the slots say is there, with its plaintext size, and no other.
    fn check_listing(&self, when: &str) {
        let client = &self.client;
        let listed: BTreeMap<String, i64> = self.rt.block_on(async {
            let out = client
                .list_objects_v2()
                .bucket(BUCKET)
                .send()
                .await
                .expect("ListObjectsV2");
            assert!(!out.is_truncated().unwrap_or(false));
            out.contents()
                .iter()
                .map(|o| (o.key().unwrap().to_owned(), o.size().unwrap()))
                .collect()
        });
        let expected: BTreeMap<String, i64> = self
            .slots
            .iter()
            .filter_map(|s| {
                s.current
                    .map(|v| (s.key.to_owned(), s.versions[v].len as i64))
            })
            .collect();
        assert_eq!(listed, expected, "{when}: ListObjectsV2 keys and sizes");
    }

    /// The upload ids ListMultipartUploads shows.
    ///
    /// Compare them with [`is_listed`]: the server lists its store's id, the part of the id
    /// CreateMultipartUpload returned before its last `.` (a deviation from Amazon S3, where the
    /// listed id is the one returned; tests/peers/s3_boto3.py checks that).
    fn listed_uploads(&self) -> BTreeSet<String> {
        let client = &self.client;
        self.rt.block_on(async {
            let out = client
                .list_multipart_uploads()
                .bucket(BUCKET)
                .send()
                .await
                .expect("ListMultipartUploads");
            out.uploads()
                .iter()
                .map(|u| u.upload_id().unwrap().to_owned())
                .collect()
        })
    }
}

#[test]
fn kill_9_during_concurrent_puts_and_completions_loses_or_tears_nothing() {
    let started = Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = Served::start(&dir.path().join("data"), ACCESS_KEY, SECRET_KEY);
    let client = client(&server.endpoint);
    let mut w = World {
        rt,
        dir,
        slots: slots(),
        server,
        client,
    };

    // Seed: every PUT key once, acknowledged.
    w.rt.block_on(w.client.create_bucket().bucket(BUCKET).send())
        .expect("CreateBucket");
    for slot in 0..w.slots.len() {
        if !w.slots[slot].put {
            continue;
        }
        let (version, body) = w.put_version(slot, u64::MAX);
        let names = w.names();
        let p = Pending {
            slot,
            version,
            write: Write::Put { body },
        };
        let c = w.client.clone();
        match w.rt.block_on(send(c, names, &p)) {
            Outcome::Acked => w.slots[slot].current = Some(version),
            Outcome::Cut(e) | Outcome::Refused(e) => panic!("seeding {}: {e}", w.slots[slot].key),
        }
    }
    w.check_listing("after seeding");

    let mut interrupted_total = 0;
    for (round, kill) in ROUNDS.iter().enumerate() {
        let round_no = round as u64;
        // Uploads first, their parts in place: only the completions race the kill.
        let mut pending = Vec::new();
        for slot in 0..w.slots.len() {
            if w.slots[slot].multipart {
                pending.push(w.prepare_upload(slot, round_no));
            }
        }
        for slot in 0..w.slots.len() {
            if w.slots[slot].put {
                let (version, body) = w.put_version(slot, round_no);
                pending.push(Pending {
                    slot,
                    version,
                    write: Write::Put { body },
                });
            }
        }
        // Interleave PUTs and completions.
        pending.sort_by_key(|p| (p.slot * 7919 + p.version) % 13);
        let pending: Vec<Arc<Pending>> = pending.into_iter().map(Arc::new).collect();
        let before: Vec<Option<usize>> = w.slots.iter().map(|s| s.current).collect();

        // All writes at once; the server killed when `kill` says.
        let names = w.names();
        let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Outcome)>();
        let writes_started = Instant::now();
        for (i, p) in pending.iter().enumerate() {
            let (c, names, p, tx) = (w.client.clone(), names.clone(), p.clone(), tx.clone());
            w.rt.spawn(async move {
                let o = send(c, names, &p).await;
                let _ = tx.send((i, o));
            });
        }
        drop(tx);
        let mut outcomes: Vec<Option<Outcome>> = (0..pending.len()).map(|_| None).collect();
        let mut acks = 0;
        let kill_at = match *kill {
            Kill::AfterMs(ms) => writes_started + Duration::from_millis(ms),
            Kill::AfterAcks(_) => writes_started + Duration::from_secs(30),
        };
        w.rt.block_on(async {
            loop {
                if let Kill::AfterAcks(n) = *kill
                    && acks >= n
                {
                    break;
                }
                tokio::select! {
                    got = rx.recv() => match got {
                        Some((i, o)) => {
                            if matches!(o, Outcome::Acked) {
                                acks += 1;
                            }
                            outcomes[i] = Some(o);
                        }
                        None => break,
                    },
                    () = tokio::time::sleep_until(kill_at.into()) => break,
                }
            }
        });
        let killed_after = writes_started.elapsed();
        w.server.kill9();
        // The rest end with the connection (or at once, refused).
        w.rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(60);
            while outcomes.iter().any(Option::is_none) {
                match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                    Ok(Some((i, o))) => outcomes[i] = Some(o),
                    Ok(None) => break,
                    Err(_) => panic!("writes still running 60 s after the kill"),
                }
            }
        });
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .map(|o| o.expect("every write reports its outcome"))
            .collect();
        for (p, o) in pending.iter().zip(&outcomes) {
            if let Outcome::Refused(e) = o {
                panic!(
                    "round {round}: {} ({}) was refused: {e}",
                    w.slots[p.slot].key, w.slots[p.slot].versions[p.version].what
                );
            }
        }
        let interrupted = outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Cut(_)))
            .count();
        interrupted_total += interrupted;
        eprintln!(
            "round {round} ({kill:?}): killed after {killed_after:.0?}, {} of {} writes \
             acknowledged, {interrupted} cut off",
            outcomes.len() - interrupted,
            outcomes.len()
        );

        w.restart();

        // Every key: the version from before the round or one written in it; one written in it
        // when any write of the round was acknowledged.
        for (slot, &before) in before.iter().enumerate() {
            let written: Vec<usize> = pending
                .iter()
                .filter(|p| p.slot == slot)
                .map(|p| p.version)
                .collect();
            let acked = pending
                .iter()
                .zip(&outcomes)
                .any(|(p, o)| p.slot == slot && matches!(o, Outcome::Acked));
            let now = w.read_back(slot);
            let s = &w.slots[slot];
            let describe =
                |v: Option<usize>| v.map_or("no object".to_owned(), |v| s.versions[v].what.clone());
            let allowed = now.is_some_and(|v| written.contains(&v)) || (!acked && now == before);
            assert!(
                allowed,
                "round {round}: {} holds {} after the restart; before the round it held {}, the \
                 round wrote {:?} ({})",
                s.key,
                describe(now),
                describe(before),
                written
                    .iter()
                    .map(|&v| describe(Some(v)))
                    .collect::<Vec<_>>(),
                if acked {
                    "one of them acknowledged"
                } else {
                    "none acknowledged"
                },
            );
            w.slots[slot].current = now;
        }
        w.check_listing(&format!("round {round}, after the restart"));
        let landed = pending
            .iter()
            .zip(&outcomes)
            .filter(|(p, o)| {
                matches!(o, Outcome::Cut(_)) && w.slots[p.slot].current == Some(p.version)
            })
            .count();
        eprintln!("  after the restart: {landed} of the {interrupted} cut-off writes had landed");

        // Uploads: an acknowledged completion is no longer listed; one that was cut off and
        // did not land completes now, as a client's retry would.
        let listed = w.listed_uploads();
        let mut retried = false;
        for (p, o) in pending.iter().zip(&outcomes) {
            let Write::Complete { upload_id, parts } = &p.write else {
                continue;
            };
            let key = w.slots[p.slot].key;
            match o {
                Outcome::Acked => assert!(
                    !is_listed(&listed, upload_id),
                    "round {round}: {key}: upload {upload_id} still listed after its completion \
                     was acknowledged"
                ),
                Outcome::Cut(_) if w.slots[p.slot].current == Some(p.version) => {
                    // It landed. The store may have been killed between publishing the object
                    // and removing the upload (documented as harmless): then it is still listed.
                    if is_listed(&listed, upload_id) {
                        eprintln!(
                            "round {round}: {key}: upload {upload_id} landed but is still listed"
                        );
                    }
                }
                Outcome::Cut(_) if !is_listed(&listed, upload_id) => {
                    // Gone: it must have landed, and another write of the round (the racing
                    // PUT) replaced it since.
                    let current = w.slots[p.slot].current;
                    let replaced = pending.iter().any(|q| {
                        q.slot == p.slot && q.version != p.version && current == Some(q.version)
                    });
                    assert!(
                        replaced,
                        "round {round}: {key}: upload {upload_id} neither completed nor listed \
                         after its completion was cut off"
                    );
                }
                Outcome::Cut(_) => {
                    let mode = w.slots[p.slot].mode;
                    w.rt.block_on(complete(&w.client, key, mode, upload_id, parts))
                        .unwrap_or_else(|e| {
                            panic!("round {round}: {key}: retrying the cut-off completion: {e:?}")
                        });
                    let now = w.read_back(p.slot);
                    assert_eq!(
                        now,
                        Some(p.version),
                        "round {round}: {key}: after the retried completion"
                    );
                    w.slots[p.slot].current = now;
                    retried = true;
                }
                Outcome::Refused(_) => unreachable!("refusals failed the test above"),
            }
        }
        if retried {
            w.check_listing(&format!("round {round}, after the retried completions"));
        }
        // Leftovers (completed but still listed) go, so the next round starts clean.
        let client = w.client.clone();
        w.rt.block_on(async {
            let out = client
                .list_multipart_uploads()
                .bucket(BUCKET)
                .send()
                .await
                .expect("ListMultipartUploads");
            for u in out.uploads() {
                let _ = client
                    .abort_multipart_upload()
                    .bucket(BUCKET)
                    .key(u.key().unwrap())
                    .upload_id(u.upload_id().unwrap())
                    .send()
                    .await;
            }
        });
    }
    assert!(
        interrupted_total > 0,
        "no write was ever in flight at a kill: the test exercised nothing"
    );

    // A last clean stop and start keeps everything.
    let status = w.server.terminate();
    assert!(status.success(), "SIGTERM: {status:?}");
    w.restart();
    for slot in 0..w.slots.len() {
        assert_eq!(
            w.read_back(slot),
            w.slots[slot].current,
            "{} after a clean restart",
            w.slots[slot].key
        );
    }
    w.check_listing("after a clean restart");
    assert!(w.server.terminate().success());
    eprintln!("crash test done in {:.1?}", started.elapsed());
}
