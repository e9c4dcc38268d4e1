//! Processors of a traces pipeline: `memory_limiter` (admission),
//! `batch` (size/time batching), `resourcedetection` (resource merge) and
//! `awsapplicationsignals` (Application Signals attributes and metrics in
//! a traces pipeline, the ADOT SDKs' own metrics normalized in a metrics
//! pipeline).

pub mod appsignals;
pub mod appsignals_metrics;
pub mod batch;
pub mod memory_limiter;
pub mod resource;
pub mod size;

pub use appsignals::AppSignalsProcessor;
pub use appsignals_metrics::AppSignalsMetrics;
pub use batch::{BatchSettings, Batcher};
pub use memory_limiter::{MemoryLimiter, MemoryPermit};
pub use resource::ResourceMerge;
