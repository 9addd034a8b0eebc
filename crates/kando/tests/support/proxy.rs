//! A seeded fault-injecting HTTP/1.1 proxy for object-store tests.
//!
//! Each client connection carries one request (the proxy answers with
//! `Connection: close`). Per request, a seeded draw decides:
//! pass it on; answer `500 InternalError` or `503 SlowDown` itself; drop the
//! connection half-way through the request body; pass it on and drop the
//! connection part-way through the response; or stall (before the response,
//! or part-way through it) longer than the client's timeouts, then close.
//! Counters record what was injected. Plain threads and std::net: the proxy
//! is test code and needs nothing beyond the standard library.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Fault probabilities in parts per thousand, and limits.
#[derive(Debug, Clone)]
pub struct Faults {
    pub seed: u64,
    pub http500: u32,
    pub slow_down: u32,
    pub drop_request: u32,
    pub drop_response: u32,
    pub stall: u32,
    /// How long a stall holds the connection before closing it.
    pub stall_for: Duration,
    /// At most this many stalls (each costs the client a timeout).
    pub max_stalls: u64,
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicU64,
    pub passed: AtomicU64,
    pub http500: AtomicU64,
    pub slow_down: AtomicU64,
    pub drop_request: AtomicU64,
    pub drop_response: AtomicU64,
    pub stall: AtomicU64,
}

impl Stats {
    pub fn injected(&self) -> u64 {
        self.http500.load(Ordering::Relaxed)
            + self.slow_down.load(Ordering::Relaxed)
            + self.drop_request.load(Ordering::Relaxed)
            + self.drop_response.load(Ordering::Relaxed)
            + self.stall.load(Ordering::Relaxed)
    }
    pub fn summary(&self) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        format!(
            "{} requests: {} passed, {} HTTP 500, {} 503 SlowDown, {} dropped mid-request, {} dropped mid-response, {} stalls",
            g(&self.requests),
            g(&self.passed),
            g(&self.http500),
            g(&self.slow_down),
            g(&self.drop_request),
            g(&self.drop_response),
            g(&self.stall)
        )
    }
}

/// A running proxy; stops accepting on drop.
pub struct Proxy {
    pub port: u16,
    pub stats: Arc<Stats>,
    /// Faults are injected only while this is set.
    pub enabled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

enum Action {
    Pass,
    Http500,
    SlowDown,
    DropRequest,
    DropResponse(u64),
    StallBefore,
    StallMid(u64),
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

impl Proxy {
    /// Start a proxy to `127.0.0.1:upstream`.
    pub fn start(upstream: u16, faults: Faults) -> Proxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stats = Arc::new(Stats::default());
        let enabled = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let rng = Arc::new(Mutex::new(Rng(faults
            .seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            | 1)));
        let faults = Arc::new(faults);
        {
            let (stats, enabled, stop) = (stats.clone(), enabled.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (stats, enabled, rng, faults) =
                        (stats.clone(), enabled.clone(), rng.clone(), faults.clone());
                    std::thread::spawn(move || {
                        let _ = handle(conn, upstream, &faults, &rng, &stats, &enabled);
                    });
                }
            });
        }
        Proxy {
            port,
            stats,
            enabled,
            stop,
        }
    }
}

fn decide(f: &Faults, rng: &Mutex<Rng>, stats: &Stats, has_body: bool) -> Action {
    let mut r = rng.lock().unwrap();
    let x = (r.next() % 1000) as u32;
    let y = r.next();
    let mut t = f.http500;
    if x < t {
        return Action::Http500;
    }
    t += f.slow_down;
    if x < t {
        return Action::SlowDown;
    }
    t += f.drop_request;
    if x < t {
        return if has_body {
            Action::DropRequest
        } else {
            Action::DropResponse(y % 4096)
        };
    }
    t += f.drop_response;
    if x < t {
        return Action::DropResponse(y % (256 * 1024));
    }
    t += f.stall;
    if x < t && stats.stall.load(Ordering::SeqCst) < f.max_stalls {
        return if y.is_multiple_of(2) {
            Action::StallBefore
        } else {
            Action::StallMid(y % (64 * 1024))
        };
    }
    Action::Pass
}

fn error_response(status: &str, code: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error>"
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn handle(
    client: TcpStream,
    upstream: u16,
    f: &Faults,
    rng: &Mutex<Rng>,
    stats: &Stats,
    enabled: &AtomicBool,
) -> std::io::Result<()> {
    let mut reader = BufReader::with_capacity(64 * 1024, client.try_clone()?);
    let mut client_w = client;
    // Request head.
    let mut head = Vec::new();
    loop {
        let n = reader.read_until(b'\n', &mut head)?;
        if n == 0 {
            return Ok(());
        }
        if head.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    stats.requests.fetch_add(1, Ordering::Relaxed);
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_string();
    let mut len = 0u64;
    let mut chunked = false;
    let mut out_head = format!("{request_line}\r\n");
    for l in lines.filter(|l| !l.is_empty()) {
        let lower = l.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
        if lower.starts_with("connection:") || lower.starts_with("keep-alive:") {
            continue;
        }
        out_head.push_str(l);
        out_head.push_str("\r\n");
    }
    out_head.push_str("Connection: close\r\n\r\n");
    let action = if enabled.load(Ordering::SeqCst) && !chunked {
        decide(f, rng, stats, len > 0)
    } else {
        Action::Pass
    };
    let drain = |reader: &mut BufReader<TcpStream>, n: u64| -> std::io::Result<()> {
        std::io::copy(&mut reader.by_ref().take(n), &mut std::io::sink())?;
        Ok(())
    };
    match action {
        Action::Http500 => {
            stats.http500.fetch_add(1, Ordering::Relaxed);
            drain(&mut reader, len)?;
            client_w.write_all(&error_response(
                "500 Internal Server Error",
                "InternalError",
            ))?;
            return client_w.shutdown(Shutdown::Both);
        }
        Action::SlowDown => {
            stats.slow_down.fetch_add(1, Ordering::Relaxed);
            drain(&mut reader, len)?;
            client_w.write_all(&error_response("503 Slow Down", "SlowDown"))?;
            return client_w.shutdown(Shutdown::Both);
        }
        Action::DropRequest => {
            stats.drop_request.fetch_add(1, Ordering::Relaxed);
            drain(&mut reader, len / 2)?;
            return client_w.shutdown(Shutdown::Both);
        }
        Action::StallBefore => {
            stats.stall.fetch_add(1, Ordering::SeqCst);
            drain(&mut reader, len)?;
            std::thread::sleep(f.stall_for);
            return client_w.shutdown(Shutdown::Both);
        }
        _ => {}
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.write_all(out_head.as_bytes())?;
    if chunked {
        // Relay the rest of the connection both ways (no faults).
        let mut up_r = up.try_clone()?;
        let mut c2 = client_w.try_clone()?;
        let t = std::thread::spawn(move || {
            let _ = std::io::copy(&mut up_r, &mut c2);
            let _ = c2.shutdown(Shutdown::Both);
        });
        let _ = std::io::copy(&mut reader, &mut up);
        let _ = t.join();
        stats.passed.fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    std::io::copy(&mut reader.by_ref().take(len), &mut up)?;
    up.flush()?;
    let limit = match action {
        Action::DropResponse(n) | Action::StallMid(n) => Some(n),
        _ => None,
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0u64;
    loop {
        let n = up.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let n = match limit {
            Some(l) if sent + n as u64 >= l => {
                client_w.write_all(&buf[..(l - sent) as usize])?;
                client_w.flush()?;
                if let Action::StallMid(_) = action {
                    stats.stall.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(f.stall_for);
                } else {
                    stats.drop_response.fetch_add(1, Ordering::Relaxed);
                }
                return client_w.shutdown(Shutdown::Both);
            }
            _ => n,
        };
        client_w.write_all(&buf[..n])?;
        sent += n as u64;
    }
    // (A response shorter than a planned cut went through whole.)
    stats.passed.fetch_add(1, Ordering::Relaxed);
    client_w.flush()?;
    client_w.shutdown(Shutdown::Both)
}
