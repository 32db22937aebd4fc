//! Liveness, readiness and metrics.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiResult, State, blocking};
use crate::registry::RegistryError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(get_healthz))
        .route("/readyz", web::get().to(get_readyz))
        .route("/metrics", web::get().to(get_metrics));
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `ready` or `unavailable`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The process is up.
#[utoipa::path(
    get, path = "/healthz", tag = "operations", operation_id = "get_healthz",
    responses((status = 200, description = "Alive", body = Health))
)]
pub async fn get_healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok".into(), detail: None })
}

/// The registry can serve: the database answers, the staging directory is writable and the blob
/// store answers (the blob directory exists, or the object store accepts the registry's
/// credentials).
#[utoipa::path(
    get, path = "/readyz", tag = "operations", operation_id = "get_readyz",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready, with the reason", body = Health),
    )
)]
pub async fn get_readyz(state: State) -> ApiResult<HttpResponse> {
    let checked = blocking(move || {
        let db = state.registry.store.ping().map_err(|e| format!("database: {e}"));
        let blobs = state.registry.store.blobs.check_ready().map_err(|e| format!("blob store: {e}"));
        Ok::<_, RegistryError>(db.and(blobs))
    })
    .await?;
    Ok(match checked {
        Ok(()) => HttpResponse::Ok().json(Health { status: "ready".into(), detail: None }),
        Err(detail) => {
            HttpResponse::ServiceUnavailable().json(Health { status: "unavailable".into(), detail: Some(detail) })
        }
    })
}

/// Prometheus metrics: requests and latency per route, uploads accepted and rejected by code.
#[utoipa::path(
    get, path = "/metrics", tag = "operations", operation_id = "get_metrics",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String))
)]
pub async fn get_metrics(state: State) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(state.metrics.render())
}
