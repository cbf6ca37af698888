//! A JWKS served over HTTP on 127.0.0.1 by a thread of the test: its
//! document can be changed, delayed or withheld while the function runs.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// The server; clones share it.
#[derive(Clone)]
pub(crate) struct Server {
    pub url: String,
    hits: Arc<AtomicUsize>,
    pub body: Arc<Mutex<String>>,
    pub delay: Arc<Mutex<Duration>>,
    pub up: Arc<Mutex<bool>>,
    /// When set, every second hit is served this body instead (keys that flip on every call).
    pub alternate: Arc<Mutex<Option<String>>>,
}

impl Server {
    pub(crate) fn start(jwks: &Value) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = Server {
            url: format!("http://127.0.0.1:{}/.well-known/jwks.json", listener.local_addr().unwrap().port()),
            hits: Arc::default(),
            body: Arc::new(Mutex::new(jwks.to_string())),
            delay: Arc::default(),
            up: Arc::new(Mutex::new(true)),
            alternate: Arc::default(),
        };
        let s = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let s = s.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    let mut seen = Vec::new();
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let hit = s.hits.fetch_add(1, Ordering::SeqCst);
                    if !*s.up.lock().unwrap() {
                        return; // close without an answer
                    }
                    std::thread::sleep(*s.delay.lock().unwrap());
                    let alternate = s.alternate.lock().unwrap().clone().filter(|_| hit % 2 == 1);
                    let body = alternate.unwrap_or_else(|| s.body.lock().unwrap().clone());
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = stream.write_all(head.as_bytes());
                    let _ = stream.write_all(body.as_bytes());
                });
            }
        });
        server
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}
