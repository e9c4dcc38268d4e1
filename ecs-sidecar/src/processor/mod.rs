//! Processors of a traces pipeline: `memory_limiter` (admission),
//! `batch` (size/time batching), `resourcedetection` (resource merge) and
//! `awsapplicationsignals` (Application Signals attributes and metrics).

pub mod appsignals;
pub mod batch;
pub mod memory_limiter;
pub mod resource;
pub mod size;

pub use appsignals::AppSignalsProcessor;
pub use batch::{BatchSettings, Batcher};
pub use memory_limiter::{MemoryLimiter, MemoryPermit};
pub use resource::ResourceMerge;
