//! Owns the HTTP side of the executor plugin (axum on the project's tokio runtime): the bearer
//! token checked first, in constant time (403); only `POST /api/v1/template.execute` served
//! (other paths 404); a body that is not JSON 400; and 503, never 404, on the execute path while
//! the token is not there yet (Argo's agent retries 503, and a 404 would disable the plugin for
//! the rest of the workflow).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::executions::Executions;
use super::EXECUTE_PATH;

/// The largest request body read: a template carries the plan and the upstream results, both
/// bounded by Argo's own object size (about 1 MiB).
pub const BODY_MAX: usize = 8 * 1024 * 1024;

pub struct Server {
    pub executions: Arc<Executions>,
    pub token_file: PathBuf,
    token: OnceLock<String>,
}

impl Server {
    pub fn new(executions: Arc<Executions>, token_file: PathBuf) -> Arc<Server> {
        Arc::new(Server { executions, token_file, token: OnceLock::new() })
    }

    /// The token, once its file can be read (Argo's agent writes it before the sidecar starts;
    /// until then every call is answered 503).
    fn token(&self) -> Option<&str> {
        if let Some(t) = self.token.get() {
            return Some(t);
        }
        let text = std::fs::read_to_string(&self.token_file).ok()?;
        let t = text.trim().to_string();
        if t.is_empty() {
            return None;
        }
        Some(self.token.get_or_init(|| t))
    }
}

pub fn router(server: Arc<Server>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(server)
}

async fn handle(State(server): State<Arc<Server>>, req: Request) -> Response {
    let Some(token) = server.token() else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "warming up: the token file cannot be read yet");
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same_secret(given, token) {
        return plain(StatusCode::FORBIDDEN, "forbidden");
    }
    if req.uri().path() != EXECUTE_PATH {
        return plain(StatusCode::NOT_FOUND, "not found");
    }
    if req.method() != Method::POST {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only POST");
    }
    let bytes = match axum::body::to_bytes(req.into_body(), BODY_MAX).await {
        Ok(b) => b,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("cannot read the body: {e}")),
    };
    let body: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => return plain(StatusCode::BAD_REQUEST, &format!("the body is not JSON: {e}")),
    };
    let reply = server.executions.call(&body).await;
    match serde_json::to_vec(&reply) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        // Transient by Argo's rules: the agent calls again and gets the stored execution.
        Err(e) => plain(StatusCode::SERVICE_UNAVAILABLE, &format!("cannot encode the reply: {e}")),
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{text}\n")));
    *r.status_mut() = status;
    r
}

/// Compares digests of both with a fold that looks at every byte, so the time taken says
/// nothing about how much of a guessed token was right (nor about its length).
fn same_secret(given: &str, token: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(token.as_bytes());
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_content() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("", "abc"));
    }
}
