//! `GET /_objseal/health` in gateway mode reports the backend: 200 while it answers, 503 with
//! the reason once it does not.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::harness::*;

/// The status and body of `GET /_objseal/health`, unsigned, as a load balancer asks.
pub(crate) async fn health(addr: std::net::SocketAddr) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!("GET /_objseal/health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).await.unwrap();
    let reply = String::from_utf8_lossy(&reply).into_owned();
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn health_reports_the_backend() {
    let Some(fleet) = Fleet::start().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gw = fleet.gateway(dir.path()).await;
    let (status, body) = health(gw.local_addr()).await;
    assert_eq!((status, body.trim()), (200, "ok"));
    // Checks come often: answered from the last probe.
    for _ in 0..5 {
        assert_eq!(health(gw.local_addr()).await.0, 200);
    }

    let Fleet { site, kms, .. } = fleet;
    drop(site);
    let stopped = Instant::now();
    loop {
        let (status, body) = health(gw.local_addr()).await;
        if status == 503 {
            assert!(body.contains("backend unavailable"), "{body}");
            break;
        }
        assert_eq!(status, 200, "{body}");
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "still healthy {:?} after the backend stopped",
            stopped.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    gw.shutdown().await.unwrap();
    drop(kms);
}
