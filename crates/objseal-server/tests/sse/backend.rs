//! Where the servers of this suite keep their objects: their data directory (the default), or —
//! with `OBJSEAL_TEST_BACKEND=moto` — the scale-out gateway (`ServerConfig::backend`) over moto's
//! S3 server on loopback, so that the same tests check the gateway.
//!
//! Every server gets a moto of its own (bucket names repeat across tests): a lease from a pool of
//! running motos, reset (`POST /moto-api/reset`) when the lease ends and handed to the next
//! server, so the binary starts about as many motos as tests run at once. A lease lives with the
//! data directory ([`crate::common::DataDir`]): a server restarted over the same directory finds
//! its buckets again. The motos end with the test binary (each runs under a `sh` that kills it
//! when its standard input, held by this process, closes).
//!
//! Needs moto from the peers' virtualenv (`scripts/peers`); `OBJSEAL_TEST_BACKEND=moto` without
//! it fails rather than quietly testing the local store.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use objseal_server::server::ServerConfig;
use objseal_server::store::{BackendCredentials, RemoteStoreConfig};

use crate::peers;

/// Whether the servers run as gateways over moto (`OBJSEAL_TEST_BACKEND=moto`) rather than over
/// their data directory (unset, empty or `local`).
pub fn gateway_mode() -> bool {
    match std::env::var("OBJSEAL_TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("local") => false,
        Ok("moto") => true,
        Ok(other) => panic!("OBJSEAL_TEST_BACKEND={other:?}: expected \"moto\" or \"local\""),
    }
}

/// In gateway mode, points `config` at a moto of its own and returns the lease, which must live
/// as long as the server; `None` otherwise.
#[must_use = "the lease keeps the server's backend"]
pub fn attach(config: &mut ServerConfig) -> Option<Backend> {
    gateway_mode().then(|| {
        let backend = Backend::lease();
        config.backend = Some(backend.config());
        backend
    })
}

/// A running `moto_server`.
struct Moto {
    /// `sh`, moto's parent: it kills moto when its standard input (held here) closes.
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Moto {
    fn start() -> Moto {
        let Some(peers) = peers::Peers::find() else {
            panic!(
                "OBJSEAL_TEST_BACKEND=moto needs moto_server from the peers' virtualenv \
                 (scripts/peers, or OBJSEAL_PEERS_VENV)"
            );
        };
        let mut last_error = String::new();
        // The port is free when chosen but another process may take it first: try a few.
        for _ in 0..3 {
            let port = peers::free_port();
            // moto's stderr into a file: an unread pipe would stall it, and with stderr on
            // /dev/null moto 5.2 answers 500 to everything (see peers.rs).
            let log = std::env::temp_dir().join(format!("objseal-sse-moto-{port}.log"));
            let file = std::fs::File::create(&log).expect("creating the moto log file");
            let mut cmd = std::process::Command::new("sh");
            cmd.args([
                "-c",
                r#""$0" -H 127.0.0.1 -p "$1" </dev/null & m=$!; read -r _ || true; kill "$m"; wait "$m""#,
            ])
            .arg(peers.bin("moto_server"))
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(file);
            peers::isolate_aws_env(&mut cmd);
            let mut child = cmd.spawn().expect("spawning moto_server");
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match peers::wait_for_listener(addr, &mut child, Duration::from_secs(60)) {
                Ok(()) => return Moto { child, port, log },
                Err(e) => {
                    drop(child.stdin.take());
                    let _ = child.wait();
                    last_error =
                        format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
                    let _ = std::fs::remove_file(&log);
                }
            }
        }
        panic!("moto_server did not start: {last_error}");
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Forgets every bucket and object (moto's own API).
    fn reset(&self) -> Result<(), String> {
        let mut s =
            TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "POST /moto-api/reset HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n\
             Connection: close\r\n\r\n",
            self.port
        )
        .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
        let status = answer.lines().next().unwrap_or_default();
        if status.split_whitespace().nth(1) == Some("200") {
            Ok(())
        } else {
            Err(format!("moto's reset answered {status:?}"))
        }
    }

    fn stop(mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Motos no server uses at the moment, each reset.
static IDLE: Mutex<Vec<Moto>> = Mutex::new(Vec::new());

/// A moto for one server (and its restarts over the same data directory); back to the pool, reset,
/// when dropped.
pub struct Backend {
    moto: Option<Moto>,
}

impl Backend {
    fn lease() -> Backend {
        let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        Backend {
            moto: Some(idle.unwrap_or_else(Moto::start)),
        }
    }

    fn moto(&self) -> &Moto {
        self.moto.as_ref().expect("a leased moto")
    }

    /// moto's URL.
    pub fn endpoint(&self) -> String {
        self.moto().endpoint()
    }

    /// The gateway's `ServerConfig::backend` for it.
    pub fn config(&self) -> RemoteStoreConfig {
        RemoteStoreConfig {
            credentials: Some(BackendCredentials::new(
                peers::TEST_ACCESS_KEY_ID,
                peers::TEST_SECRET_ACCESS_KEY,
            )),
            connect_timeout: Duration::from_secs(2),
            ..RemoteStoreConfig::new(self.endpoint())
        }
    }

    /// A client straight to moto, past the gateway.
    pub fn client(&self) -> Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .force_path_style(true)
            .region(Region::new(peers::TEST_REGION))
            .credentials_provider(Credentials::new(
                peers::TEST_ACCESS_KEY_ID,
                peers::TEST_SECRET_ACCESS_KEY,
                None,
                None,
                "test",
            ))
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .http_client(http)
            .build();
        Client::from_conf(conf)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let Some(moto) = self.moto.take() else { return };
        if std::thread::panicking() {
            eprintln!(
                "---- moto_server's log (last 60 lines) ----\n{}",
                tail(&std::fs::read_to_string(&moto.log).unwrap_or_default())
            );
        }
        match moto.reset() {
            Ok(()) => IDLE.lock().unwrap_or_else(|e| e.into_inner()).push(moto),
            Err(e) => {
                eprintln!("a moto could not be reset ({e}); stopping it");
                moto.stop();
            }
        }
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
