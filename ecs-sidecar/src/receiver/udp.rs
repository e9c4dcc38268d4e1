//! `awsxray` receiver, UDP side: the X-Ray daemon protocol.
//!
//! One datagram = `{"format":"json","version":1}` + `\n` + either one
//! segment / subsegment JSON document (passed through as it came to
//! `awsxray` exporters, translated to OTLP spans by the distro's `translate`
//! module for the others: see [`super::legacy`]) or `T1S` / `T1U` + base64
//! OTLP protobuf (ADOT Lambda layers; sampled / unsampled spans, both
//! forwarded).
//! Datagrams refused by backpressure, or that cannot be decoded, are
//! dropped and counted (UDP has no way to ask the sender to retry).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use otel_aws_distro::export::span_count;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::legacy::OfferError;
use super::legacy::{LegacyMode, LegacyTranslator, RawSegment};
use crate::pipeline::input::{PipelineInput, ReceiverSink};
use crate::processor::batch::Payload;
use crate::telemetry::Counters;

/// Default UDP listen address.
pub const DEFAULT_ENDPOINT: &str = "0.0.0.0:2000";
/// Receive buffer asked of the kernel (capped by `net.core.rmem_max`): room
/// for bursts of ~6,000 typical datagrams while the receiver is not scheduled.
pub const RECV_BUFFER_BYTES: usize = 4 * 1024 * 1024;
/// How often held `in_progress` documents are checked for their timeout.
pub const EXPIRE_INTERVAL: Duration = Duration::from_secs(1);

/// The one daemon datagram codec (header check, segment vs `T1S`/`T1U`).
pub use otel_aws_distro::xray::daemon::{Datagram, DatagramError, MAX_DATAGRAM, parse_datagram};

/// Why [`Decoder::decode`] dropped a datagram: the codec refused it, or the
/// memory limiter refused to hold an `in_progress` document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Not a daemon datagram or not a translatable document.
    #[error(transparent)]
    Datagram(#[from] DatagramError),
    /// An `in_progress` document the memory limiter refused to hold.
    #[error("{0}")]
    Refused(String),
}

/// Datagrams → what the pipeline takes, in the forms its exporters need.
#[derive(Debug)]
pub struct Decoder {
    mode: LegacyMode,
    translator: LegacyTranslator,
    input: Option<Arc<PipelineInput>>,
}

impl Decoder {
    /// A decoder for a pipeline needing `mode`.
    pub fn new(mode: LegacyMode) -> Self {
        Self {
            mode,
            translator: LegacyTranslator::default(),
            input: None,
        }
    }

    /// Held `in_progress` documents are accounted with `input`'s memory limiter.
    pub fn with_input(mut self, input: Arc<PipelineInput>) -> Self {
        self.input = Some(input);
        self
    }

    /// Memory accounted to held `in_progress` documents.
    pub fn held_bytes(&self) -> u64 {
        self.translator.held_bytes()
    }

    /// One datagram received at `now` → the payload and its units (spans;
    /// a document passed through only counts once), or `None` while an
    /// `in_progress` document is held.
    pub fn decode(
        &mut self,
        data: &[u8],
        now: Instant,
    ) -> Result<Option<(Payload, usize)>, DecodeError> {
        let text = match parse_datagram(data)? {
            Datagram::Otlp { request, .. } => {
                let n = span_count(&request);
                return Ok(Some((Payload::otlp(request), n)));
            }
            Datagram::Segment(text) => text,
        };
        let bad = |e: otel_aws_distro::translate::TranslateError| {
            DecodeError::Datagram(DatagramError::BadSegment(e.to_string()))
        };
        let mut payload = Payload::default();
        let mut units = 0;
        if self.mode.passthrough {
            payload.segments.push(RawSegment::parse(text).map_err(bad)?);
            units = 1;
        }
        if self.mode.translate || !self.mode.passthrough {
            let input = self.input.clone();
            let reserve = move |bytes| match &input {
                Some(i) => i.reserve_long_lived(bytes),
                None => Ok(None),
            };
            let offered = self
                .translator
                .offer(text, now, reserve)
                .map_err(|e| match e {
                    OfferError::Translate(e) => bad(e),
                    OfferError::Refused(bp) => {
                        DecodeError::Refused(format!("in-progress document dropped: {}", bp.reason))
                    }
                })?;
            match offered {
                Some(request) => {
                    units = units.max(span_count(&request));
                    payload.translated = request;
                }
                None if payload.segments.is_empty() => return Ok(None),
                None => {}
            }
        }
        Ok(Some((payload, units)))
    }

    /// Fields of legacy documents coerced or skipped so far (the document
    /// itself was kept).
    pub fn repaired_fields(&self) -> u64 {
        self.translator.repaired_fields()
    }

    /// Held documents past their timeout at `now` (or all of them when
    /// `all`), as spans, and how many failed to translate.
    pub fn release(&mut self, now: Instant, all: bool) -> (Option<(Payload, usize)>, usize) {
        let (request, failed) = if all {
            self.translator.drain()
        } else {
            self.translator.expire(now)
        };
        let n = span_count(&request);
        let payload = (n > 0).then(|| {
            (
                Payload {
                    translated: request,
                    ..Payload::default()
                },
                n,
            )
        });
        (payload, failed)
    }
}

/// A bound UDP receiver.
#[derive(Debug)]
pub struct UdpReceiver {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl UdpReceiver {
    /// Binds `addr` and feeds `sink` until `stop` becomes true; legacy
    /// documents in the forms `mode` asks for.
    pub async fn start(
        addr: SocketAddr,
        sink: ReceiverSink,
        mode: LegacyMode,
        stop: watch::Receiver<bool>,
    ) -> std::io::Result<Self> {
        let socket = bind(addr)?;
        let addr = socket.local_addr()?;
        let decoder = Decoder::new(mode).with_input(Arc::clone(sink.input()));
        let task = tokio::spawn(run(socket, sink, decoder, stop));
        Ok(Self { addr, task })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Waits until the receive loop ended (after stop).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Binds with a larger receive buffer than the default (~200 KiB, a few
/// milliseconds of traffic at 50K datagrams/s): UDP senders cannot retry.
fn bind(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(RECV_BUFFER_BYTES) {
        tracing::debug!(error = %e, "awsxray receiver: cannot enlarge the receive buffer");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

fn offer(sink: &ReceiverSink, counters: &Counters, payload: Payload, units: usize) {
    if let Err(bp) = sink.offer(payload, units) {
        // The sender cannot retry a datagram: count the loss.
        Counters::add(&counters.dropped, units as u64);
        tracing::debug!(reason = %bp.reason, "awsxray receiver: datagram dropped under backpressure");
    }
}

async fn run(
    socket: UdpSocket,
    sink: ReceiverSink,
    mut decoder: Decoder,
    mut stop: watch::Receiver<bool>,
) {
    let counters: Arc<Counters> = Arc::clone(sink.counters());
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let mut kernel = KernelDrops::new(&socket);
    let mut tick = tokio::time::interval(EXPIRE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (n, peer) = tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "awsxray receiver: recv failed");
                    continue;
                }
            },
            _ = tick.tick() => {
                release(&mut decoder, &sink, &counters, false);
                let lost = kernel.new_drops();
                if lost > 0 {
                    // The sender cannot know: count them with the receiver's losses.
                    Counters::add(&counters.dropped, lost);
                    tracing::warn!(datagrams = lost, "awsxray receiver: the kernel dropped datagrams (receive buffer full)");
                }
                continue;
            }
            _ = stop.wait_for(|s| *s) => break,
        };
        if n > MAX_DATAGRAM {
            Counters::add(&counters.dropped, 1);
            tracing::debug!(%peer, "awsxray receiver: datagram over the 64 KiB daemon limit dropped");
            continue;
        }
        match decoder.decode(&buf[..n], Instant::now()) {
            Ok(Some((payload, units))) => offer(&sink, &counters, payload, units),
            Ok(None) => {}
            Err(e) => {
                Counters::add(&counters.dropped, 1);
                tracing::debug!(%peer, error = %e, "awsxray receiver: datagram dropped");
            }
        }
    }
    // Shutdown: what is still in progress leaves as in-progress spans.
    release(&mut decoder, &sink, &counters, true);
}

/// Kernel drops (receive buffer full) of the socket with `inode`, from the
/// text of `/proc/net/udp` / `/proc/net/udp6`: the `drops` column.
pub fn kernel_drops(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() >= 13 && f[9].parse::<u64>().ok() == Some(inode))
            .then(|| f[12].parse().ok())
            .flatten()
    })
}

/// Watches the kernel's drop counter of one socket (Linux).
struct KernelDrops {
    inode: Option<u64>,
    last: u64,
}

impl KernelDrops {
    fn new(socket: &UdpSocket) -> Self {
        use std::os::fd::AsRawFd as _;
        use std::os::unix::fs::MetadataExt as _;
        let inode = std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd()))
            .ok()
            .map(|m| m.ino());
        let mut me = Self { inode, last: 0 };
        me.last = me.read().unwrap_or(0);
        me
    }

    fn read(&self) -> Option<u64> {
        let inode = self.inode?;
        ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .find_map(|p| kernel_drops(&std::fs::read_to_string(p).ok()?, inode))
    }

    /// Datagrams the kernel dropped since the last call.
    fn new_drops(&mut self) -> u64 {
        let Some(now) = self.read() else { return 0 };
        let delta = now.saturating_sub(self.last);
        self.last = now;
        delta
    }
}

fn release(decoder: &mut Decoder, sink: &ReceiverSink, counters: &Counters, all: bool) {
    let (payload, failed) = decoder.release(Instant::now(), all);
    Counters::add(&counters.dropped, failed as u64);
    if let Some((payload, units)) = payload {
        offer(sink, counters, payload, units);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use otel_aws_distro::receiver::ExportTraceServiceRequest;
    use prost::Message as _;

    const HEADER: &str = "{\"format\":\"json\",\"version\":1}\n";

    fn otlp_b64(n: usize) -> String {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (0..n)
                        .map(|i| Span {
                            trace_id: vec![1; 16],
                            span_id: vec![i as u8 + 1; 8],
                            name: format!("s{i}"),
                            ..Span::default()
                        })
                        .collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        base64::engine::general_purpose::STANDARD.encode(req.encode_to_vec())
    }

    #[test]
    fn table() {
        let segment = r#"{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449}"#;
        let cases: Vec<(String, Result<usize, &str>)> = vec![
            (format!("{HEADER}{segment}"), Ok(1)),
            (
                format!("{{\"format\":\"JSON\",\"version\":1}}\n{segment}"),
                Ok(1),
            ),
            (format!("{HEADER}T1S{}", otlp_b64(3)), Ok(3)),
            (format!("{HEADER}T1U{}\n", otlp_b64(2)), Ok(2)),
            (segment.to_owned(), Err("no header")),
            (
                format!("{{\"format\":\"json\",\"version\":2}}\n{segment}"),
                Err("bad header"),
            ),
            (format!("{HEADER}T1S!!!notbase64"), Err("base64")),
            (
                format!(
                    "{HEADER}T1S{}",
                    base64::engine::general_purpose::STANDARD.encode(b"\xff\xff\xff")
                ),
                Err("protobuf"),
            ),
            (format!("{HEADER}{{\"name\":\"x\"}}"), Err("segment")),
        ];
        for (datagram, want) in cases {
            let mut d = Decoder::new(LegacyMode {
                translate: true,
                passthrough: false,
            });
            let got = d.decode(datagram.as_bytes(), Instant::now());
            match (got, want) {
                (Ok(Some((_, units))), Ok(n)) => assert_eq!(units, n, "{datagram}"),
                (Err(e), Err(word)) => assert!(e.to_string().contains(word), "{datagram}: {e}"),
                (got, want) => panic!("{datagram}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn loosely_typed_segment_is_kept_and_counted() {
        // spec "Legacy SDK quirks": numbers as strings are coerced, counted.
        let segment = r#"{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449,"http":{"response":{"status":200,"content_length":"861"}},"subsegments":[{"name":"db","id":"1a2b3c4d5e6f7081","start_time":1478293361.3,"end_time":"1478293361.4"}]}"#;
        let mut d = Decoder::new(LegacyMode::default());
        let (_, units) = d
            .decode(format!("{HEADER}{segment}").as_bytes(), Instant::now())
            .unwrap()
            .unwrap();
        assert_eq!(units, 2);
        assert_eq!(d.repaired_fields(), 2);
    }

    #[test]
    fn segment_ids_survive() {
        let segment = r#"{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449}"#;
        let mut d = Decoder::new(LegacyMode::default());
        let (payload, _) = d
            .decode(format!("{HEADER}{segment}").as_bytes(), Instant::now())
            .unwrap()
            .unwrap();
        let span = &payload.translated.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(hex(&span.trace_id), "581cf771a006649127e371903a2de979");
        assert_eq!(hex(&span.span_id), "70de5b6f19ff9a0a");
    }

    const IN_PROGRESS: &str = r#"{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"in_progress":true}"#;
    const DONE: &str = r#"{"name":"checkout","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449}"#;

    #[test]
    fn passthrough_keeps_the_document_byte_for_byte() {
        // Odd spacing and field order must survive: X-Ray gets what the SDK sent.
        let doc = r#"{ "trace_id":"1-581cf771-a006649127e371903a2de979" ,"id":"70de5b6f19ff9a0a","name":"a","start_time":1.50,"in_progress":true}"#;
        let mut d = Decoder::new(LegacyMode {
            translate: false,
            passthrough: true,
        });
        let (payload, units) = d
            .decode(format!("{HEADER}{doc}").as_bytes(), Instant::now())
            .unwrap()
            .unwrap();
        assert_eq!(units, 1);
        assert_eq!(payload.segments.len(), 1);
        assert_eq!(payload.segments[0].json, doc);
        assert_eq!(payload.segments[0].id, "70de5b6f19ff9a0a");
        assert!(payload.translated.resource_spans.is_empty());
        assert!(payload.request.resource_spans.is_empty());
        let err = d.decode(format!("{HEADER}{{\"name\":").as_bytes(), Instant::now());
        assert!(
            matches!(
                err,
                Err(DecodeError::Datagram(DatagramError::BadSegment(_)))
            ),
            "{err:?}"
        );
    }

    #[test]
    fn in_progress_is_held_until_completed_or_timed_out() {
        let both = LegacyMode {
            translate: true,
            passthrough: true,
        };
        let t0 = Instant::now();
        let mut d = Decoder::new(both);
        // Passed through at once, held for the OTLP side.
        let (p, _) = d
            .decode(format!("{HEADER}{IN_PROGRESS}").as_bytes(), t0)
            .unwrap()
            .unwrap();
        assert_eq!(p.segments.len(), 1);
        assert!(p.translated.resource_spans.is_empty());
        let (p, units) = d
            .decode(format!("{HEADER}{DONE}").as_bytes(), t0)
            .unwrap()
            .unwrap();
        assert_eq!(span_count(&p.translated), 1);
        assert_eq!((p.segments.len(), units), (1, 1));
        assert!(d.release(t0, true).0.is_none(), "nothing left held");

        let mut d = Decoder::new(LegacyMode {
            translate: true,
            passthrough: false,
        });
        assert!(
            d.decode(format!("{HEADER}{IN_PROGRESS}").as_bytes(), t0)
                .unwrap()
                .is_none()
        );
        assert!(d.release(t0 + Duration::from_secs(1), false).0.is_none());
        let (p, units) = d
            .release(t0 + super::super::legacy::IN_PROGRESS_TIMEOUT, false)
            .0
            .unwrap();
        assert_eq!(units, 1);
        let span = &p.translated.resource_spans[0].scope_spans[0].spans[0];
        assert!(
            span.attributes
                .iter()
                .any(|a| a.key == otel_aws_distro::translate::IN_PROGRESS_ATTRIBUTE),
            "{span:?}"
        );
    }

    #[test]
    fn kernel_drops_are_read_for_our_socket_only() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  12: 0100007F:07D0 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17
  13: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 777 2 0000000000000000 3
";
        assert_eq!(kernel_drops(table, 4242), Some(17));
        assert_eq!(kernel_drops(table, 777), Some(3));
        assert_eq!(kernel_drops(table, 1), None);
        assert_eq!(kernel_drops("", 4242), None);
    }

    #[tokio::test]
    async fn our_socket_is_found_in_the_kernel_table() {
        let socket = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let k = KernelDrops::new(&socket);
        assert!(k.inode.is_some());
        assert_eq!(k.read(), Some(0), "the socket's row in /proc/net/udp");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
