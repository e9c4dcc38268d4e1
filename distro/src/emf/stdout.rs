//! EMF events as lines on stdout (or any writer): how a Lambda function
//! emits metrics — the Lambda log pipeline sends stdout to CloudWatch Logs,
//! which extracts the metrics from the EMF documents.

use std::io::Write;
use std::sync::Mutex;

use super::EmfEvent;

/// Writes each event's document as one line, one `write_all` per line so
/// lines from several threads never interleave.
pub struct StdoutWriter {
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for StdoutWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdoutWriter").finish_non_exhaustive()
    }
}

impl Default for StdoutWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl StdoutWriter {
    /// Writes to the process's stdout.
    pub fn new() -> Self {
        Self::to_writer(Box::new(std::io::stdout()))
    }

    /// Writes to `out` instead (tests, files).
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        Self {
            out: Mutex::new(out),
        }
    }

    /// Writes `events`, one line each; the count written.
    pub fn write(&self, events: &[EmfEvent]) -> std::io::Result<usize> {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let mut line = Vec::new();
        for e in events {
            line.clear();
            line.extend_from_slice(e.message.as_bytes());
            line.push(b'\n');
            out.write_all(&line)?;
        }
        out.flush()?;
        Ok(events.len())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer whose bytes the test reads back (the exporter's tests too).
    #[derive(Clone, Default)]
    pub(in crate::emf) struct Shared(pub(in crate::emf) Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_line_per_event() {
        let buf = Shared::default();
        let w = StdoutWriter::to_writer(Box::new(buf.clone()));
        let dest = Arc::new(super::super::LogDestination {
            log_group: "g".into(),
            log_stream: None,
        });
        let events: Vec<EmfEvent> = ["{\"a\":1}", "{\"b\":2}"]
            .iter()
            .map(|m| EmfEvent {
                timestamp_ms: 1,
                message: (*m).into(),
                destination: dest.clone(),
            })
            .collect();
        assert_eq!(w.write(&events).unwrap(), 2);
        assert_eq!(
            String::from_utf8(buf.0.lock().unwrap().clone()).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n"
        );
    }
}
