//! A mirror's own state (`/v1/mirror`): its upstream, how far it verified, whether it halted
//! on a split view, and the packages it refused. The mirror itself is `registry::mirror`.

use actix_web::web;

use super::{ApiResult, State, blocking};
use crate::registry::RegistryError;
use crate::registry::mirror::MirrorStatus;
use crate::registry::views::ErrorBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/mirror", web::get().to(get_mirror_status));
}

/// The mirror's state: upstream and pinned key, verified size, halt and evidence file, and
/// every package it refused (digest, stable code, message) while keeping its log entry.
#[utoipa::path(
    get, path = "/v1/mirror", tag = "mirror", operation_id = "get_mirror_status",
    responses(
        (status = 200, description = "The mirror's state", body = MirrorStatus),
        (status = 404, description = "This registry is not a mirror", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn get_mirror_status(state: State) -> ApiResult<web::Json<MirrorStatus>> {
    let status = blocking(move || state.registry.mirror_status()).await?;
    Ok(web::Json(status.ok_or_else(|| RegistryError::not_found("this registry is not a mirror"))?))
}
