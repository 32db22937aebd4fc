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

/// List application requirement profiles: every version their owners issued, lowest version
/// first, with the issuer, the SHA-256 of the canonical bytes, the signature and its log index.
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
    /// A version (default: the latest, i.e. the highest semantic version issued by the
    /// profile's owner).
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

/// Register a version of a profile, signed by its issuer (`prequal profile sign`). The body is a
/// signed profile envelope `{"type": "prequal-signed-profile", "profile": {…}, "sha256", "key_id",
/// "signature"}`. A certifier token issues for its organisation, an operator token for the
/// registry operator (`registry`, owner of the built-in profiles). A profile id belongs to
/// whoever registered its first version; only the owner adds versions; versions are immutable
/// (the same signed bytes again: 200, nothing changes). Each new version is logged
/// (`profile_version_added`).
#[utoipa::path(
    post, path = "/v1/profiles", tag = "fit", operation_id = "create_profile",
    request_body(content = Object, content_type = "application/json", description = "A signed profile envelope"),
    responses(
        (status = 201, description = "Registered and logged", body = ProfileSummary),
        (status = 200, description = "Exactly this version was registered already", body = ProfileSummary),
        (status = 400, description = "Not a signed profile (`profile_not_signed`), not a valid profile (`profile_invalid`, `profile_requirement_invalid`: the requirement and field are named) or not a semantic version (`profile_version_invalid`)", body = ErrorBody),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not a certifier or operator token (`forbidden`), or the id belongs to another organisation (`profile_owned_by_other_organisation`)", body = ErrorBody),
        (status = 409, description = "This id and version exist with other bytes (`profile_version_exists`)", body = ErrorBody),
        (status = 413, description = "The body is over 1 MiB, or the canonical profile over 30 KiB (`upload_too_large`, `profile_too_large`)", body = ErrorBody),
        (status = 422, description = "The signature does not hold: `profile_digest_mismatch`, `unknown_key`, `signer_not_allowed` (not the issuer's key), `key_revoked`, `signature_invalid`", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_profile(state: State, auth: Auth, payload: web::Payload) -> ApiResult<HttpResponse> {
    // Read here with the JSON limit, so an oversized body gets the JSON 413 refusal.
    let body = super::small_body(payload, super::MAX_JSON_BODY).await?;
    let p = auth.0;
    let registered = blocking(move || state.registry.create_profile(&p, &body)).await?;
    Ok(if registered.created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(registered.summary))
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
        (status = 404, description = "No such profile or version, or no such material the caller may see", body = ErrorBody),
        (status = 422, description = "The profile applies to another material class (`profile_class_mismatch`)", body = ErrorBody),
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
