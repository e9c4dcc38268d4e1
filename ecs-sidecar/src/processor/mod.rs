//! Processors of a traces pipeline: `memory_limiter` (admission),
//! `batch` (size/time batching) and `resourcedetection` (resource merge).

pub mod batch;
pub mod memory_limiter;
pub mod resource;
pub mod size;

pub use batch::{BatchSettings, Batcher};
pub use memory_limiter::{MemoryLimiter, MemoryPermit};
pub use resource::ResourceMerge;
