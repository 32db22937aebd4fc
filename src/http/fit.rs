//! `/v1/profiles`, `/v1/materials`, `/v1/fit`: requirement profiles and fit reports.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{ApiResult, Auth, MaybeAuth, State, blocking};
use crate::fit::EquivalencyReport;
use crate::fit::FitReport;
use crate::registry::evidence::{EquivalencyRequest, FitQuery, MaterialSummary, ProfileSummary, Ranking};
use crate::registry::views::ErrorBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/profiles", web::get().to(list_profiles))
        .route("/v1/profiles", web::post().to(create_profile))
        .route("/v1/profiles/{id}", web::get().to(get_profile))
        .route("/v1/materials", web::get().to(list_materials))
        .route("/v1/fit", web::get().to(get_fit))
        .route("/v1/fit/ranking", web::get().to(get_ranking))
        .route("/v1/equivalency", web::post().to(run_equivalency));
}

/// List application requirement profiles (every version).
#[utoipa::path(
    get, path = "/v1/profiles", tag = "fit", operation_id = "list_profiles",
    responses(
        (status = 200, description = "Profiles", body = Vec<ProfileSummary>),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn list_profiles(state: State) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.list_profiles()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A version (default: the latest registered).
    pub version: Option<String>,
}

/// Get a profile with its requirements.
#[utoipa::path(
    get, path = "/v1/profiles/{id}", tag = "fit", operation_id = "get_profile",
    params(("id" = String, Path, description = "Profile id"), VersionQuery),
    responses(
        (status = 200, description = "The profile", body = Object),
        (status = 404, description = "No such profile", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn get_profile(state: State, id: web::Path<String>, q: web::Query<VersionQuery>) -> ApiResult<HttpResponse> {
    let p = blocking(move || state.registry.get_profile(&id, q.version.as_deref())).await?;
    Ok(HttpResponse::Ok().json(p))
}

/// Register a profile (certifier or operator). The body is a profile document (see the
/// built-in ones at `/v1/profiles/{id}`); a new version of an existing id is a new document.
#[utoipa::path(
    post, path = "/v1/profiles", tag = "fit", operation_id = "create_profile",
    request_body(content = Object, content_type = "application/json", description = "A profile document"),
    responses(
        (status = 201, description = "Registered", body = ProfileSummary),
        (status = 400, description = "Not a valid profile (the requirement and field are named)", body = ErrorBody),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not a certifier or operator token", body = ErrorBody),
        (status = 409, description = "This id and version exist", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_profile(state: State, auth: Auth, body: web::Bytes) -> ApiResult<HttpResponse> {
    if body.len() > 1 << 20 {
        return Err(crate::registry::RegistryError::UploadTooLarge { max: 1 << 20 }.into());
    }
    let p = auth.0;
    Ok(HttpResponse::Created().json(blocking(move || state.registry.create_profile(&p, &body)).await?))
}

/// Materials the caller may see, with the packages about them.
#[utoipa::path(
    get, path = "/v1/materials", tag = "fit", operation_id = "list_materials",
    responses(
        (status = 200, description = "Materials", body = Vec<MaterialSummary>),
        (status = 401, description = "Invalid or revoked token", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn list_materials(state: State, auth: MaybeAuth) -> ApiResult<HttpResponse> {
    let reader = auth.reader();
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.list_materials(&reader)).await?))
}

/// The fit report of a material against a profile: per requirement the status, basis value,
/// margin and cited datasets; the remaining test plan; what prior testing saves.
#[utoipa::path(
    get, path = "/v1/fit", tag = "fit", operation_id = "get_fit",
    params(FitQuery),
    responses(
        (status = 200, description = "The fit report", body = FitReport),
        (status = 400, description = "Missing material", body = ErrorBody),
        (status = 401, description = "Invalid or revoked token", body = ErrorBody),
        (status = 404, description = "No such profile, or no such material the caller may see", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn get_fit(state: State, auth: MaybeAuth, q: web::Query<FitQuery>) -> ApiResult<HttpResponse> {
    let reader = auth.reader();
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.fit_material(&reader, &q)).await?))
}

/// Every material of the profile's class the caller may see, ranked best first.
#[utoipa::path(
    get, path = "/v1/fit/ranking", tag = "fit", operation_id = "get_ranking",
    params(FitQuery),
    responses(
        (status = 200, description = "The ranking", body = Ranking),
        (status = 401, description = "Invalid or revoked token", body = ErrorBody),
        (status = 404, description = "No such profile", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn get_ranking(state: State, auth: MaybeAuth, q: web::Query<FitQuery>) -> ApiResult<HttpResponse> {
    let reader = auth.reader();
    let (ranking, _) = blocking(move || state.registry.rank(&reader, &q)).await?;
    Ok(HttpResponse::Ok().json(ranking))
}

/// Equivalency of a new source (a published package from a second site or a new lot) against a
/// material's qualified data: mean and minimum-individual tests per property and temperature.
#[utoipa::path(
    post, path = "/v1/equivalency", tag = "fit", operation_id = "run_equivalency",
    request_body = EquivalencyRequest,
    responses(
        (status = 200, description = "Per-property results", body = EquivalencyReport),
        (status = 400, description = "Bad alpha or digest", body = ErrorBody),
        (status = 401, description = "Invalid or revoked token", body = ErrorBody),
        (status = 404, description = "No such package or material the caller may see", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn run_equivalency(
    state: State,
    auth: MaybeAuth,
    body: web::Json<EquivalencyRequest>,
) -> ApiResult<HttpResponse> {
    let reader = auth.reader();
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.equivalency(&reader, &body)).await?))
}
