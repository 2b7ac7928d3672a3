//! A closed-loop HTTP load generator: `concurrency` clients, each with its own keep-alive
//! connection, send POSTs back to back for a warm-up and then a measured window. Only requests
//! that complete inside the window count; their latencies are kept for percentiles.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::body::Bytes;

use super::cpu::{CpuUsage, CpuWatch};
use super::XorShift;

/// What to send and for how long.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub url: String,
    /// Sent as `Authorization: Bearer …` when given.
    pub bearer: Option<String>,
    /// Request bodies; each request picks one at random.
    pub bodies: Arc<Vec<Bytes>>,
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

/// What the measured window saw.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Successful (HTTP 200) requests completed in the window.
    pub requests: u64,
    /// Requests that failed or did not answer 200, in the whole run (warm-up included).
    pub errors: u64,
    /// The first failure, to say what went wrong.
    pub first_error: Option<String>,
    pub window: Duration,
    /// Latencies of the counted requests in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// Response bytes of the counted requests.
    pub response_bytes: u64,
    pub cpu: CpuUsage,
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }

    /// Latency at quantile `q`, in milliseconds.
    pub fn latency_ms(&self, q: f64) -> f64 {
        f64::from(super::quantile(&self.latencies_us, q)) / 1000.0
    }

    pub fn mean_response_bytes(&self) -> u64 {
        self.response_bytes.checked_div(self.requests).unwrap_or(0)
    }
}

#[derive(Default)]
struct ClientTally {
    requests: u64,
    errors: u64,
    first_error: Option<String>,
    latencies_us: Vec<u32>,
    response_bytes: u64,
}

/// Runs the load and samples `watch` at the start and end of the measured window.
pub async fn run(spec: &LoadSpec, watch: &CpuWatch) -> anyhow::Result<LoadResult> {
    anyhow::ensure!(
        !spec.bodies.is_empty() && spec.concurrency > 0,
        "nothing to send"
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(spec.concurrency)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()
        .context("building the HTTP client")?;
    let start = Instant::now();
    let window_start = start + spec.warmup;
    let end = window_start + spec.duration;
    let mut tasks = Vec::with_capacity(spec.concurrency);
    for n in 0..spec.concurrency {
        let client = client.clone();
        let spec = spec.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = XorShift::new(0x9e37_79b9_7f4a_7c15 ^ (n as u64 + 1));
            let mut tally = ClientTally::default();
            while Instant::now() < end {
                let body = spec.bodies[rng.below(spec.bodies.len())].clone();
                let sent = Instant::now();
                let outcome = send(&client, &spec, body).await;
                let done = Instant::now();
                match outcome {
                    Ok(bytes) if done >= window_start && done <= end => {
                        tally.requests += 1;
                        tally.response_bytes += bytes as u64;
                        let us = done.duration_since(sent).as_micros();
                        tally
                            .latencies_us
                            .push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tally.errors += 1;
                        tally.first_error.get_or_insert(e);
                        // A refused connection would otherwise spin; errors are not the load.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            tally
        }));
    }
    tokio::time::sleep_until(window_start.into()).await;
    let before = watch.snapshot();
    tokio::time::sleep_until(end.into()).await;
    let after = watch.snapshot();
    let mut total = ClientTally::default();
    for task in tasks {
        let t = task.await.context("a load client panicked")?;
        total.requests += t.requests;
        total.errors += t.errors;
        total.response_bytes += t.response_bytes;
        total.latencies_us.extend(t.latencies_us);
        if total.first_error.is_none() {
            total.first_error = t.first_error;
        }
    }
    total.latencies_us.sort_unstable();
    Ok(LoadResult {
        requests: total.requests,
        errors: total.errors,
        first_error: total.first_error,
        window: spec.duration,
        latencies_us: total.latencies_us,
        response_bytes: total.response_bytes,
        cpu: watch.usage(&before, &after),
    })
}

/// One request; the response body is read to the end. Returns its length.
async fn send(client: &reqwest::Client, spec: &LoadSpec, body: Bytes) -> Result<usize, String> {
    let mut req = client
        .post(&spec.url)
        .header("content-type", "application/json")
        .body(body);
    if let Some(token) = &spec.bearer {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
    if status != reqwest::StatusCode::OK {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        ));
    }
    Ok(bytes.len())
}
