//! The sandbox state the three APIs and the life-cycle driver share.
//!
//! It lives in a [`tokio::sync::watch`] channel: API handlers change it with
//! `send_modify` (which wakes every waiter) and the driver waits for a
//! condition with `Receiver::wait_for`. A blocked `next` call parks a
//! `oneshot` sender here; handing out an event is taking that sender.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::{oneshot, watch};

/// Shared handle on the sandbox state.
pub(crate) type Shared = Arc<watch::Sender<Sandbox>>;

/// Where the environment is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Extensions and the runtime start; registration is open.
    Init,
    /// Invocations; registration is closed.
    Invoke,
    /// SHUTDOWN was sent.
    Shutdown,
}

/// One invocation as handed to the runtime's `next`.
#[derive(Clone, Debug)]
pub(crate) struct RuntimeInvocation {
    pub request_id: String,
    pub deadline_ms: u64,
    pub function_arn: String,
    pub trace_header: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub body: Bytes,
}

/// What the runtime posted for the current invocation.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    /// `None` for `/response`, `Some(error type)` for `/error`.
    pub error_type: Option<String>,
    /// The body as posted.
    pub body: Bytes,
    /// When the POST arrived (headers read).
    pub started: Instant,
    /// Same moment, wall clock.
    pub started_wall: SystemTime,
    /// When the body was read completely.
    pub finished: Instant,
}

/// The invocation in flight.
#[derive(Clone, Debug)]
pub(crate) struct CurrentInvoke {
    pub request_id: String,
    pub outcome: Option<Outcome>,
}

/// The runtime's side of the sandbox.
#[derive(Debug, Default)]
pub(crate) struct RuntimeSlot {
    /// Blocked in `next` with nothing handed out: the runtime is done.
    pub waiting: bool,
    /// How many times `next` was called.
    pub next_calls: u64,
    /// When `next` was last called.
    pub last_next_at: Option<Instant>,
    /// The parked `next` call.
    pub waiter: Option<oneshot::Sender<RuntimeInvocation>>,
    /// An invocation waiting for the runtime's next `next`.
    pub pending: Option<RuntimeInvocation>,
    /// The runtime process exited (its status, as text).
    pub exited: Option<String>,
}

/// One registered extension.
#[derive(Debug)]
pub(crate) struct ExtensionSlot {
    pub id: String,
    pub name: String,
    pub events: Vec<String>,
    /// An executable of the layer's `extensions/` (else internal).
    pub external: bool,
    pub waiting: bool,
    pub next_calls: u64,
    pub last_next_at: Option<Instant>,
    pub waiter: Option<oneshot::Sender<serde_json::Value>>,
    pub pending: VecDeque<serde_json::Value>,
    /// Errors posted to `/init/error` or `/exit/error`.
    pub errors: Vec<String>,
}

impl ExtensionSlot {
    /// Registered for `event` (`INVOKE` or `SHUTDOWN`).
    pub fn wants(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }

    /// Hands `event` to the parked `next` call, or queues it.
    pub fn deliver(&mut self, event: serde_json::Value) {
        self.waiting = false;
        match self.waiter.take() {
            Some(tx) => {
                if let Err(event) = tx.send(event) {
                    self.pending.push_back(event);
                }
            }
            None => self.pending.push_back(event),
        }
    }
}

/// Everything the APIs and the driver share.
#[derive(Debug)]
pub(crate) struct Sandbox {
    /// Which environment this is (bumped on every init, so late exits of
    /// an old environment's processes are ignored).
    pub generation: u64,
    pub phase: Phase,
    /// File names of the layer's external extensions.
    pub expected_external: Vec<String>,
    pub runtime: RuntimeSlot,
    pub extensions: Vec<ExtensionSlot>,
    pub current: Option<CurrentInvoke>,
    /// An init error posted by the runtime or an extension (its error type).
    pub init_error: Option<String>,
    /// Exited external extension processes by file name (their status, as text).
    pub extensions_exited: HashMap<String, String>,
    /// Lambda Managed Instances: the concurrent invocations (`None`: on-demand).
    pub managed: Option<ManagedPool>,
}

/// Lambda Managed Instances: workers parked in `next`, invocations not yet
/// taken, and the outcome of each invocation in flight.
#[derive(Debug, Default)]
pub(crate) struct ManagedPool {
    pub waiters: VecDeque<oneshot::Sender<RuntimeInvocation>>,
    pub queue: VecDeque<RuntimeInvocation>,
    pub in_flight: HashMap<String, Option<Outcome>>,
}

impl ManagedPool {
    /// Hands `inv` to a parked worker, or queues it.
    pub fn submit(&mut self, mut inv: RuntimeInvocation) {
        self.in_flight.insert(inv.request_id.clone(), None);
        while let Some(tx) = self.waiters.pop_front() {
            match tx.send(inv) {
                Ok(()) => return,
                Err(back) => inv = back,
            }
        }
        self.queue.push_back(inv);
    }
}

impl Sandbox {
    /// A fresh sandbox in the init phase.
    pub fn new(expected_external: Vec<String>, generation: u64) -> Self {
        Self {
            generation,
            phase: Phase::Init,
            expected_external,
            runtime: RuntimeSlot::default(),
            extensions: Vec::new(),
            current: None,
            init_error: None,
            extensions_exited: HashMap::new(),
            managed: None,
        }
    }

    /// The extension with this identifier.
    pub fn extension_mut(&mut self, id: &str) -> Option<&mut ExtensionSlot> {
        self.extensions.iter_mut().find(|e| e.id == id)
    }

    /// True when the external extension named `name` has exited.
    pub fn exited(&self, name: &str) -> bool {
        self.extensions_exited.contains_key(name)
    }

    /// Every registered extension is blocked in `next` (or its process is gone).
    pub fn extensions_done(&self) -> bool {
        self.extensions
            .iter()
            .all(|e| e.waiting || (e.external && self.exited(&e.name)))
    }

    /// Hands an invocation to the runtime's parked `next`, or keeps it for the next call.
    pub fn deliver_to_runtime(&mut self, inv: RuntimeInvocation) {
        self.runtime.waiting = false;
        match self.runtime.waiter.take() {
            Some(tx) => {
                if let Err(inv) = tx.send(inv) {
                    self.runtime.pending = Some(inv);
                }
            }
            None => self.runtime.pending = Some(inv),
        }
    }
}
