//! Legacy X-Ray daemon load: datagrams `{"format":"json","version":1}\n` +
//! a segment document (a web request with a DynamoDB subsegment, ~730
//! bytes, as the aws-xray-sdk writes them), each with its own id.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Pacer;

/// The daemon protocol header line.
pub const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";

/// `count` distinct datagrams (ids differ; trace ids carry the current epoch).
pub fn datagrams(count: usize) -> Vec<Vec<u8>> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    (0..count)
        .map(|i| {
            let doc = format!(
                concat!(
                    r#"{{"name":"orders","id":"{id:016x}","trace_id":"1-{epoch:08x}-{trace:024x}","#,
                    r#""start_time":{start:.6},"end_time":{end:.6},"origin":"AWS::ECS::Container","#,
                    r#""http":{{"request":{{"method":"GET","url":"http://orders:8080/api/orders/42","user_agent":"curl/8.5","client_ip":"10.0.0.7"}},"response":{{"status":200,"content_length":512}}}},"#,
                    r#""aws":{{"xray":{{"sdk":"X-Ray for Java","sdk_version":"2.18.1"}}}},"#,
                    r#""annotations":{{"customer":"c-{i}"}},"#,
                    r#""subsegments":[{{"name":"DynamoDB","id":"{sub:016x}","start_time":{s2:.6},"end_time":{e2:.6},"namespace":"aws","aws":{{"operation":"GetItem","table_name":"orders","region":"us-east-1"}},"http":{{"response":{{"status":200}}}}}}]}}"#
                ),
                id = 0x1000_0000_0000_0000u64 + i as u64,
                epoch = now as u32,
                trace = 0xa006_6491_27e3_7190_3a2d_e979u128 + i as u128,
                start = now - 0.01,
                end = now,
                i = i,
                sub = 0x2000_0000_0000_0000u64 + i as u64,
                s2 = now - 0.008,
                e2 = now - 0.002,
            );
            let mut d = HEADER.as_bytes().to_vec();
            d.extend_from_slice(doc.as_bytes());
            d
        })
        .collect()
}

/// What a run sent.
#[derive(Clone, Copy, Debug, Default)]
pub struct UdpReport {
    /// Datagrams sent.
    pub sent: u64,
    /// Send errors (e.g. ENOBUFS).
    pub errors: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Sends `datagrams` round-robin to `target` for `duration` at `rate`
/// datagrams/s (0: flat out), on the calling thread (blocking).
pub fn run(
    target: SocketAddr,
    datagrams: &[Vec<u8>],
    duration: Duration,
    rate: u64,
) -> std::io::Result<UdpReport> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(target)?;
    let mut report = UdpReport::default();
    let start = Instant::now();
    let mut pacer = Pacer::new(rate);
    // Bursts of this many datagrams between clock checks.
    const BURST: u64 = 16;
    let mut i = 0usize;
    while start.elapsed() < duration && !datagrams.is_empty() {
        let wait = pacer.delay_for(BURST);
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        for _ in 0..BURST {
            match socket.send(&datagrams[i % datagrams.len()]) {
                Ok(_) => report.sent += 1,
                Err(_) => report.errors += 1,
            }
            i += 1;
        }
    }
    report.elapsed = start.elapsed();
    Ok(report)
}
