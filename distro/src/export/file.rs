//! OTLP/JSON lines file exporter (the collector's file exporter format), any signal.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use super::encode::to_json_line;
use super::signals::OtlpBatch;
use super::{BatchExporter, ExportConfigError, ExportError, ExportFuture, ExportOutcome};

/// Appends each batch as one line of OTLP/JSON (hex ids, camelCase) and
/// flushes after every batch. Writes are small and synchronous.
#[derive(Debug)]
pub struct FileExporter {
    path: PathBuf,
    out: Mutex<BufWriter<File>>,
    shut_down: AtomicBool,
}

impl FileExporter {
    /// Opens (creating if needed) `path` for appending.
    pub fn new(path: impl AsRef<Path>) -> Result<Self, ExportConfigError> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| ExportConfigError::File {
                path: path.display().to_string(),
                source,
            })?;
        Ok(Self {
            path,
            out: Mutex::new(BufWriter::new(file)),
            shut_down: AtomicBool::new(false),
        })
    }

    /// The file written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write<B: OtlpBatch>(&self, batch: &B) -> Result<ExportOutcome, ExportError> {
        if self.shut_down.load(Ordering::Relaxed) {
            return Err(ExportError::Shutdown);
        }
        let spans = batch.items() as u64;
        if spans == 0 {
            return Ok(ExportOutcome::default());
        }
        let mut line = to_json_line(batch)?;
        line.push('\n');
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.write_all(line.as_bytes())?;
        out.flush()?;
        Ok(ExportOutcome {
            requests: 1,
            spans_exported: spans,
            ..ExportOutcome::default()
        })
    }
}

impl BatchExporter for FileExporter {
    fn export(&self, batch: ExportTraceServiceRequest) -> ExportFuture<'_> {
        let result = self.write(&batch);
        Box::pin(async move { result })
    }

    fn export_metrics(&self, batch: ExportMetricsServiceRequest) -> ExportFuture<'_> {
        let result = self.write(&batch);
        Box::pin(async move { result })
    }

    fn export_logs(&self, batch: ExportLogsServiceRequest) -> ExportFuture<'_> {
        let result = self.write(&batch);
        Box::pin(async move { result })
    }

    fn force_flush(&self) -> Result<(), ExportError> {
        Ok(self.out.lock().unwrap_or_else(|p| p.into_inner()).flush()?)
    }

    fn shutdown(&self) -> Result<(), ExportError> {
        self.force_flush()?;
        self.shut_down.store(true, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::encode::tests::request;
    use super::*;

    #[tokio::test]
    async fn appends_one_json_line_per_batch() {
        let dir = std::env::temp_dir().join(format!("otel-aws-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("spans.jsonl");
        let _ = std::fs::remove_file(&path);
        std::fs::write(&path, "existing\n").unwrap();
        let a = request(&[("a", 2)], 1);
        let b = request(&[("b", 1), ("c", 1)], 1);
        let exporter = FileExporter::new(&path).unwrap();
        assert_eq!(exporter.export(a.clone()).await.unwrap().spans_exported, 2);
        exporter
            .export(ExportTraceServiceRequest::default())
            .await
            .unwrap();
        exporter.export(b.clone()).await.unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], "existing");
        let back: ExportTraceServiceRequest = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(back, a);
        let back: ExportTraceServiceRequest = serde_json::from_str(lines[2]).unwrap();
        assert_eq!(back, b);
        assert!(lines[1].contains("\"traceId\":\"5b8efff798038103d269b633813fc60c\""));
        exporter.shutdown().unwrap();
        assert!(matches!(
            exporter.export(a).await,
            Err(ExportError::Shutdown)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unwritable_path_is_a_config_error() {
        let err = FileExporter::new("/nonexistent-dir/x/spans.jsonl").unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-dir/x/spans.jsonl"),
            "{err}"
        );
    }
}
