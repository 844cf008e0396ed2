//! Slow and numerous clients: request heads that never finish, a body
//! trickled in, an idle keep-alive connection, and more connections than
//! the server serves at once — each cut off or held back in time, while
//! other clients are still answered. Over real TCP on loopback.

use smarketing_app::{App, Clock};
use smarketing_server::AppState;
use smarketing_server::clients::ClientLimits;
use smarketing_server::runtime::{self, Background};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(limits: ClientLimits) -> (runtime::Running, smarketing_store::testing::TestDb) {
    let db = smarketing_store::testing::sqlite().await;
    let app = App::new(db.store.clone(), Clock::System);
    app.prepare().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let state = AppState::new(app, 64 * 1024).with_limits(limits);
    (runtime::start(listener, state, Background::none()), db)
}

/// Sends a whole `GET /healthz` and reads the answer's status line.
async fn healthz(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out.lines().next().unwrap_or_default().to_string()
}

/// Reads until the server closes the connection; returns what it sent.
async fn until_closed(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test]
async fn slow_clients_are_cut_off_in_time_and_others_still_answered() {
    let limits = ClientLimits {
        header_read: SECOND,
        body_read: SECOND,
        max_connections: 64,
    };
    let (running, _db) = start(limits).await;
    let addr = running.addr();

    // Fifty connections send half a request head, then nothing.
    let began = Instant::now();
    let mut stuck = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
            .await
            .unwrap();
        stuck.push(s);
    }
    // Meanwhile others are answered.
    assert_eq!(healthz(addr).await, "HTTP/1.1 200 OK");
    for s in &mut stuck {
        tokio::time::timeout(3 * SECOND, until_closed(s))
            .await
            .expect("a head that never ends is cut off");
    }
    let took = began.elapsed();
    assert!(took >= SECOND * 9 / 10 && took < 3 * SECOND, "{took:?}");

    // A body trickled in, a byte every 200 ms: 408 once the body's time
    // is up, and the connection closed.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /v1/track HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        .await
        .unwrap();
    let (mut read, mut write) = s.into_split();
    let trickle = tokio::spawn(async move {
        for _ in 0..50 {
            if write.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let began = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(3 * SECOND, read.read_to_end(&mut answer))
        .await
        .expect("a trickled body is cut off")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(began.elapsed() < 2 * SECOND, "{:?}", began.elapsed());
    trickle.abort();

    // An idle keep-alive connection is closed after the head's time too.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let began = Instant::now();
    let first = tokio::time::timeout(3 * SECOND, until_closed(&mut s))
        .await
        .expect("an idle connection is closed");
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(began.elapsed() >= SECOND * 9 / 10, "{:?}", began.elapsed());
    running.stop().await.unwrap();
}

#[tokio::test]
async fn connections_over_the_limit_wait_until_one_ends() {
    let limits = ClientLimits {
        header_read: SECOND,
        body_read: SECOND,
        max_connections: 2,
    };
    let (running, _db) = start(limits).await;
    let addr = running.addr();
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        held.push(s);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The third waits in the backlog until a held one is cut off.
    let began = Instant::now();
    assert_eq!(healthz(addr).await, "HTTP/1.1 200 OK");
    let waited = began.elapsed();
    assert!(
        waited >= SECOND * 7 / 10 && waited < 3 * SECOND,
        "{waited:?}"
    );
    running.stop().await.unwrap();
}
