//! Slow and stalled clients are timed out, and the slots they held come back: headers that never
//! finish (hyper's header timeout closes the connection) and a body that stops arriving (400
//! `RequestTimeout`, nothing stored, the connection closed), each against a real server with
//! one-second limits; a normal request is served afterwards.

use std::time::{Duration, Instant};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, SdkBody};
use aws_smithy_http_client::tls;
use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use objseal_server::{RunningServer, Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn server(dir: &std::path::Path) -> RunningServer {
    let mut config = ServerConfig::new(dir).with_listen("127.0.0.1:0".parse().unwrap());
    config.header_timeout = Duration::from_secs(1);
    config.body_timeout = Duration::from_secs(1);
    // Two connections: a stalled client that kept its slot would starve the rest quickly.
    config.max_connections = 2;
    Server::start(config).await.unwrap()
}

fn client(server: &RunningServer) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let key = server.access_key();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(server.endpoint())
        .force_path_style(true)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            key.id.clone(),
            key.secret.as_str().to_owned(),
            None,
            None,
            "test",
        ))
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .http_client(http)
        .build();
    Client::from_conf(conf)
}

#[tokio::test]
async fn stalled_headers_and_bodies_are_timed_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path()).await;
    let c = client(&server);
    c.create_bucket().bucket("limits").send().await.unwrap();

    // Headers that never finish: the connection is closed about a second later.
    let mut slow = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    slow.write_all(b"PUT /limits/k HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "a stalled request head kept its connection");
    assert!(started.elapsed() < Duration::from_secs(5));

    // A body that stops after 64 KiB of a declared MiB: 400 RequestTimeout (or, if the client
    // is still sending when the answer comes, a cut connection) in about a second.
    let first = futures::stream::iter([Ok::<_, std::io::Error>(Frame::data(Bytes::from(
        vec![7u8; 64 << 10],
    )))]);
    let stalling = StreamBody::new(futures::StreamExt::chain(first, futures::stream::pending()));
    let started = Instant::now();
    let put = tokio::time::timeout(
        Duration::from_secs(20),
        c.put_object()
            .bucket("limits")
            .key("stalled")
            .content_length(1 << 20)
            .body(ByteStream::new(SdkBody::from_body_1_x(stalling)))
            .send(),
    )
    .await
    .expect("a stalled body kept its request");
    match put {
        Ok(_) => panic!("a stalled upload was stored"),
        Err(SdkError::ServiceError(e)) => {
            assert_eq!(e.err().code(), Some("RequestTimeout"), "{:?}", e.err());
            assert_eq!(e.raw().status().as_u16(), 400);
        }
        Err(other) => eprintln!("the stalled upload ended as {other}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let head = c.head_object().bucket("limits").key("stalled").send().await;
    assert!(head.is_err(), "the stalled upload left an object");

    // Both slots are free again: two requests at once are served.
    let (a, b) = tokio::join!(
        c.put_object()
            .bucket("limits")
            .key("a")
            .body(ByteStream::from_static(b"fine"))
            .send(),
        c.list_objects_v2().bucket("limits").send()
    );
    a.unwrap();
    b.unwrap();
    server.shutdown().await.unwrap();
}
