//! A fake ECS task metadata endpoint on `127.0.0.1:0`.
//!
//! Serves `GET {base}` (this container's metadata), `GET {base}/task`
//! (the task's) and, with [`EcsFixture::WithStats`], `GET {base}/task/stats`
//! (Docker stats per container), where `{base}` is `/v4/<id>` (or `/v3/<id>`
//! for the v3 fallback). Anything else is 404. The fixtures in `tests/fixtures/ecs/`
//! follow the AWS documentation of task metadata endpoint v4 (Fargate and
//! EC2 launch types). Every request is recorded.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, Uri};

use crate::server::{RecordedRequest, RequestLog, RunningServer, ServerError};

/// Fargate container metadata (`GET $ECS_CONTAINER_METADATA_URI_V4`).
pub const FARGATE_CONTAINER: &str = include_str!("../fixtures/ecs/fargate-container.json");
/// Fargate task metadata (`GET $ECS_CONTAINER_METADATA_URI_V4/task`): full cluster ARN.
pub const FARGATE_TASK: &str = include_str!("../fixtures/ecs/fargate-task.json");
/// EC2 launch type container metadata.
pub const EC2_CONTAINER: &str = include_str!("../fixtures/ecs/ec2-container.json");
/// EC2 launch type task metadata: bare cluster name (`default`).
pub const EC2_TASK: &str = include_str!("../fixtures/ecs/ec2-task.json");

/// Task metadata of a Fargate task with three containers (two running, one
/// stopped), for [`TASK_STATS`]; shaped as the AWS documentation's v4 `/task`
/// example.
pub const STATS_TASK: &str = include_str!("../fixtures/ecs/stats-task.json");
/// `GET $ECS_CONTAINER_METADATA_URI_V4/task/stats` for [`STATS_TASK`]: Docker
/// stats of the two running containers (CPU, memory, networks, network
/// rates, blkio) and `{}` for the stopped one, shaped as the AWS
/// documentation's v4 task stats example.
pub const TASK_STATS: &str = include_str!("../fixtures/ecs/task-stats.json");

/// The metadata id in the path, shaped like the agent's `<task id>-<n>`.
const METADATA_ID: &str = "e9028f8d5d8e4f258373e7b93ce9a3c3-2495160603";

/// Which documents the fake serves.
#[derive(Clone, Debug)]
pub enum EcsFixture {
    /// A Fargate task (`fixtures/ecs/fargate-*.json`).
    Fargate,
    /// An EC2 launch type task (`fixtures/ecs/ec2-*.json`).
    Ec2,
    /// [`STATS_TASK`] and [`TASK_STATS`] (container metadata: Fargate's).
    WithStats,
    /// Your own documents, served as given.
    Custom {
        /// Container metadata document.
        container: serde_json::Value,
        /// Task metadata document.
        task: serde_json::Value,
    },
}

impl EcsFixture {
    /// The (container, task, task stats) bodies.
    fn bodies(&self) -> (String, String, Option<String>) {
        match self {
            Self::Fargate => (
                FARGATE_CONTAINER.to_string(),
                FARGATE_TASK.to_string(),
                None,
            ),
            Self::Ec2 => (EC2_CONTAINER.to_string(), EC2_TASK.to_string(), None),
            Self::WithStats => (
                FARGATE_CONTAINER.to_string(),
                STATS_TASK.to_string(),
                Some(TASK_STATS.to_string()),
            ),
            Self::Custom { container, task } => (container.to_string(), task.to_string(), None),
        }
    }
}

#[derive(Debug)]
struct Inner {
    container: String,
    task: String,
    stats: Option<String>,
    log: RequestLog,
}

/// A running fake ECS metadata endpoint. Dropping it stops the server.
#[derive(Debug)]
pub struct FakeEcsMetadata {
    server: RunningServer,
    inner: Arc<Inner>,
}

impl FakeEcsMetadata {
    /// Starts the fake on a fresh loopback port (inside a tokio runtime).
    pub async fn start(fixture: EcsFixture) -> Result<FakeEcsMetadata, ServerError> {
        let (container, task, stats) = fixture.bodies();
        let inner = Arc::new(Inner {
            container,
            task,
            stats,
            log: RequestLog::default(),
        });
        let router = Router::new().fallback(handle).with_state(inner.clone());
        let server = RunningServer::start(router).await?;
        Ok(FakeEcsMetadata { server, inner })
    }

    /// The value for `ECS_CONTAINER_METADATA_URI_V4`: `http://127.0.0.1:<port>/v4/<id>`.
    pub fn uri(&self) -> String {
        format!("{}/v4/{METADATA_ID}", self.server.url())
    }

    /// The value for `ECS_CONTAINER_METADATA_URI` (v3): `http://127.0.0.1:<port>/v3/<id>`.
    pub fn uri_v3(&self) -> String {
        format!("{}/v3/{METADATA_ID}", self.server.url())
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.log.all()
    }
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    inner
        .log
        .push(RecordedRequest::new(method.clone(), &uri, headers, body));
    if method != Method::GET {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let rest = uri
        .path()
        .strip_prefix("/v4/")
        .or_else(|| uri.path().strip_prefix("/v3/"))
        .and_then(|p| p.strip_prefix(METADATA_ID));
    let body = match rest {
        Some("") => inner.container.clone(),
        Some("/task") => inner.task.clone(),
        Some("/task/stats") if inner.stats.is_some() => inner.stats.clone().unwrap_or_default(),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(http::header::CONTENT_TYPE, "application/json")], body).into_response()
}
