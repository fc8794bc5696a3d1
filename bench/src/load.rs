//! Closed-loop HTTP/1.1 load: each client owns one keep-alive connection and sends its next
//! request as soon as it has read the whole answer to the last one, like `wrk` does.
//!
//! Requests before the window opens warm up connections, caches and the server's pools and
//! are not counted; requests that end inside the window are counted and timed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;

/// When counting starts and stops.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub opens: Instant,
    pub closes: Instant,
}

impl Window {
    /// A window of `measure` after `warm_up`, both from now.
    pub fn after(warm_up: Duration, measure: Duration) -> Self {
        let opens = Instant::now() + warm_up;
        Self {
            opens,
            closes: opens + measure,
        }
    }

    fn length(&self) -> Duration {
        self.closes - self.opens
    }

    /// Whole seconds in the window, rounded up.
    fn seconds(&self) -> usize {
        let length = self.length();
        usize::try_from(length.as_secs() + u64::from(length.subsec_nanos() > 0))
            .unwrap_or(usize::MAX)
    }
}

/// What one client sends, over and over: the same method, path and headers, with its bodies
/// taken in turn (one empty body for a `GET`).
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    pub method: Method,
    pub path: &'static str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub bodies: Vec<Bytes>,
}

impl Target {
    pub fn get(
        addr: SocketAddr,
        path: &'static str,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Self {
        Self {
            addr,
            method: Method::GET,
            path,
            headers,
            bodies: vec![Bytes::new()],
        }
    }

    pub fn post_json(
        addr: SocketAddr,
        path: &'static str,
        headers: Vec<(HeaderName, HeaderValue)>,
        bodies: Vec<Bytes>,
    ) -> Self {
        let mut headers = headers;
        headers.push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        Self {
            addr,
            method: Method::POST,
            path,
            headers,
            bodies,
        }
    }

    fn request(&self, turn: usize) -> anyhow::Result<Request<Full<Bytes>>> {
        let body = self
            .bodies
            .get(turn % self.bodies.len().max(1))
            .cloned()
            .unwrap_or_default();
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(self.path)
            .header(HOST, self.addr.to_string());
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        Ok(request.body(Full::new(body))?)
    }
}

/// One client's counts and latencies inside the window.
#[derive(Debug, Default)]
pub struct Tally {
    latencies_us: Vec<u32>,
    statuses: BTreeMap<u16, u64>,
    /// Answers by status, per whole second of the window.
    timeline: BTreeMap<u16, Vec<u64>>,
    transport_errors: u64,
}

impl Tally {
    fn count(&mut self, status: u16, latency: Duration, at: Instant, window: Window) {
        self.latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
        *self.statuses.entry(status).or_default() += 1;
        let second = usize::try_from((at - window.opens).as_secs()).unwrap_or(usize::MAX);
        let seconds = self.timeline.entry(status).or_default();
        if seconds.len() <= second {
            seconds.resize(second.saturating_add(1).min(window.seconds()), 0);
        }
        if let Some(n) = seconds.get_mut(second) {
            *n += 1;
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        for (status, seconds) in other.timeline {
            let mine = self.timeline.entry(status).or_default();
            if mine.len() < seconds.len() {
                mine.resize(seconds.len(), 0);
            }
            for (m, n) in mine.iter_mut().zip(seconds) {
                *m += n;
            }
        }
        self.transport_errors += other.transport_errors;
    }
}

/// Many clients' tallies, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Answers read inside the window, whatever their status.
    pub responses: u64,
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Answers by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Answers by HTTP status, per second of the window.
    pub per_second: BTreeMap<u16, Vec<u64>>,
    /// Requests that got no answer (connection refused, reset, closed).
    pub transport_errors: u64,
}

impl Summary {
    pub fn of(tallies: Vec<Tally>, window: Window) -> Self {
        let mut all = Tally::default();
        for t in tallies {
            all.merge(t);
        }
        all.latencies_us.sort_unstable();
        for seconds in all.timeline.values_mut() {
            seconds.resize(window.seconds(), 0);
        }
        let responses = u64::try_from(all.latencies_us.len()).unwrap_or(u64::MAX);
        let secs = window.length().as_secs_f64();
        Self {
            responses,
            per_sec: if secs > 0.0 {
                responses as f64 / secs
            } else {
                0.0
            },
            p50_ms: percentile_ms(&all.latencies_us, 0.50),
            p99_ms: percentile_ms(&all.latencies_us, 0.99),
            max_ms: all
                .latencies_us
                .last()
                .map_or(0.0, |&us| f64::from(us) / 1000.0),
            statuses: all.statuses,
            per_second: all.timeline,
            transport_errors: all.transport_errors,
        }
    }

    /// Answers with `status`, per second of the window.
    pub fn status_per_sec(&self, status: u16, window_secs: f64) -> f64 {
        let n = self.statuses.get(&status).copied().unwrap_or(0);
        if window_secs > 0.0 {
            n as f64 / window_secs
        } else {
            0.0
        }
    }
}

/// The nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us
        .get(index)
        .map_or(0.0, |&us| f64::from(us) / 1000.0)
}

/// Runs `targets` (one client each) until the window closes and summarises what was counted.
pub async fn run(targets: Vec<Target>, window: Window) -> anyhow::Result<Summary> {
    let mut summaries = run_windows(targets, vec![window]).await?;
    summaries.pop().context("no summary for the window")
}

/// Runs `targets` (one client each, on the same connections throughout) until the last window
/// closes, and summarises each window on its own. Windows should not overlap.
pub async fn run_windows(
    targets: Vec<Target>,
    windows: Vec<Window>,
) -> anyhow::Result<Vec<Summary>> {
    let clients: Vec<_> = targets
        .into_iter()
        .enumerate()
        .map(|(i, t)| tokio::spawn(client(t, i, windows.clone())))
        .collect();
    let mut by_window: Vec<Vec<Tally>> = windows
        .iter()
        .map(|_| Vec::with_capacity(clients.len()))
        .collect();
    for c in clients {
        let tallies = c.await.context("a load client stopped")?;
        for (mine, tally) in by_window.iter_mut().zip(tallies) {
            mine.push(tally);
        }
    }
    Ok(by_window
        .into_iter()
        .zip(windows)
        .map(|(tallies, window)| Summary::of(tallies, window))
        .collect())
}

/// The window `at` falls in, if any.
fn window_of(windows: &[Window], at: Instant) -> Option<usize> {
    windows.iter().position(|w| at >= w.opens && at < w.closes)
}

/// One client: a connection, reopened if the server closes it, and requests back to back.
async fn client(target: Target, first_turn: usize, windows: Vec<Window>) -> Vec<Tally> {
    let mut tallies: Vec<Tally> = windows
        .iter()
        .map(|_| Tally {
            latencies_us: Vec::with_capacity(64 * 1024),
            ..Tally::default()
        })
        .collect();
    let last_close = windows
        .iter()
        .map(|w| w.closes)
        .max()
        .unwrap_or_else(Instant::now);
    let mut turn = first_turn;
    let mut connection: Option<SendRequest<Full<Bytes>>> = None;
    while Instant::now() < last_close {
        if connection.is_none() {
            match connect(target.addr).await {
                Ok(sender) => connection = Some(sender),
                Err(_) => {
                    count_error(&mut tallies, &windows);
                    // A refused connection answers at once; do not spin on it.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            }
        }
        let Some(sender) = connection.as_mut() else {
            continue;
        };
        let started = Instant::now();
        let answered = exchange(sender, &target, turn).await;
        let ended = Instant::now();
        turn = turn.wrapping_add(1);
        match answered {
            Ok(status) => {
                if let Some(w) = window_of(&windows, ended)
                    && let (Some(tally), Some(&window)) = (tallies.get_mut(w), windows.get(w))
                {
                    tally.count(status, ended - started, ended, window);
                }
            }
            Err(_) => {
                connection = None;
                count_error(&mut tallies, &windows);
            }
        }
    }
    tallies
}

fn count_error(tallies: &mut [Tally], windows: &[Window]) {
    if let Some(tally) = window_of(windows, Instant::now()).and_then(|w| tallies.get_mut(w)) {
        tally.transport_errors += 1;
    }
}

async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Sends one request and reads the whole answer; returns its status.
async fn exchange(
    sender: &mut SendRequest<Full<Bytes>>,
    target: &Target,
    turn: usize,
) -> anyhow::Result<u16> {
    sender.ready().await?;
    let response = sender.send_request(target.request(turn)?).await?;
    let status = response.status().as_u16();
    response.into_body().collect().await?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let us: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert!((percentile_ms(&us, 0.50) - 50.0).abs() < 1e-9);
        assert!((percentile_ms(&us, 0.99) - 99.0).abs() < 1e-9);
        assert!((percentile_ms(&[7000], 0.99) - 7.0).abs() < 1e-9);
        assert!(percentile_ms(&[], 0.5).abs() < 1e-9);
    }
}
