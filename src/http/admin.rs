//! Organisations, signing keys and API tokens. Reading organisations and keys is public (anyone
//! verifying a package needs them); changing them needs an operator token.

use actix_web::{HttpResponse, web};

use super::{ApiResult, Auth, State, blocking};
use crate::registry::policy::{self, Action};
use crate::registry::views::{
    CreatedToken, ErrorBody, KeyRevocation, NewKey, NewOrganisation, NewToken, Organisation, OrganisationDetail,
    SigningKey, TokenInfo, Whoami,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/organisations", web::get().to(list_organisations))
        .route("/v1/organisations", web::post().to(create_organisation))
        .route("/v1/organisations/{id}", web::get().to(get_organisation))
        .route("/v1/organisations/{id}/keys", web::post().to(create_key))
        .route("/v1/keys/{key_id}", web::get().to(get_key))
        .route("/v1/keys/{key_id}/revoke", web::post().to(revoke_key))
        .route("/v1/tokens", web::post().to(create_token))
        .route("/v1/tokens", web::get().to(list_tokens))
        .route("/v1/tokens/{id}/revoke", web::post().to(revoke_token))
        .route("/v1/whoami", web::get().to(get_whoami));
}

/// List organisations.
#[utoipa::path(
    get, path = "/v1/organisations", tag = "organisations", operation_id = "list_organisations",
    responses(
        (status = 200, description = "Every organisation", body = Vec<Organisation>),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn list_organisations(state: State) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.list_organisations()).await?))
}

/// Get an organisation with its signing keys (public keys, revocations).
#[utoipa::path(
    get, path = "/v1/organisations/{id}", tag = "organisations", operation_id = "get_organisation",
    params(("id" = String, Path, description = "Organisation id")),
    responses(
        (status = 200, description = "The organisation", body = OrganisationDetail),
        (status = 404, description = "No such organisation", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn get_organisation(state: State, id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.get_organisation(&id)).await?))
}

/// Register an organisation (operator).
#[utoipa::path(
    post, path = "/v1/organisations", tag = "organisations", operation_id = "create_organisation",
    request_body = NewOrganisation,
    responses(
        (status = 201, description = "Registered", body = Organisation),
        (status = 400, description = "Invalid id, kind or country", body = ErrorBody),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not an operator token", body = ErrorBody),
        (status = 409, description = "The id is taken", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_organisation(
    state: State,
    auth: Auth,
    body: web::Json<NewOrganisation>,
) -> ApiResult<HttpResponse> {
    policy::authorize(&auth.0, Action::Administer)?;
    Ok(HttpResponse::Created().json(blocking(move || state.registry.create_organisation(&body)).await?))
}

/// Register a signing key for an organisation (operator).
#[utoipa::path(
    post, path = "/v1/organisations/{id}/keys", tag = "organisations", operation_id = "create_key",
    params(("id" = String, Path, description = "Organisation id")),
    request_body = NewKey,
    responses(
        (status = 201, description = "Registered", body = SigningKey),
        (status = 400, description = "Not an Ed25519 public key", body = ErrorBody),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not an operator token", body = ErrorBody),
        (status = 404, description = "No such organisation", body = ErrorBody),
        (status = 409, description = "Key already registered", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_key(
    state: State,
    auth: Auth,
    id: web::Path<String>,
    body: web::Json<NewKey>,
) -> ApiResult<HttpResponse> {
    policy::authorize(&auth.0, Action::Administer)?;
    Ok(HttpResponse::Created().json(blocking(move || state.registry.add_key(&id, &body)).await?))
}

/// Get a signing key and its standing.
#[utoipa::path(
    get, path = "/v1/keys/{key_id}", tag = "organisations", operation_id = "get_key",
    params(("key_id" = String, Path, description = "Key id")),
    responses(
        (status = 200, description = "The key", body = SigningKey),
        (status = 404, description = "No such key", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn get_key(state: State, key_id: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.get_key(&key_id)).await?))
}

/// Revoke a signing key from an effective time (operator). Uploads signed with it are refused
/// from then on; if `compromised`, packages registered since then are marked suspect.
#[utoipa::path(
    post, path = "/v1/keys/{key_id}/revoke", tag = "organisations", operation_id = "revoke_key",
    params(("key_id" = String, Path, description = "Key id")),
    request_body = KeyRevocation,
    responses(
        (status = 200, description = "Revoked", body = SigningKey),
        (status = 400, description = "Bad time or missing reason", body = ErrorBody),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not an operator token", body = ErrorBody),
        (status = 404, description = "No such key", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_key(
    state: State,
    auth: Auth,
    key_id: web::Path<String>,
    body: web::Json<KeyRevocation>,
) -> ApiResult<HttpResponse> {
    policy::authorize(&auth.0, Action::Administer)?;
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.revoke_key(&key_id, &body)).await?))
}

/// Issue an API token (operator). The token is in this response only.
#[utoipa::path(
    post, path = "/v1/tokens", tag = "tokens", operation_id = "create_token",
    request_body = NewToken,
    responses(
        (status = 201, description = "Issued", body = CreatedToken),
        (status = 400, description = "The role does not suit the organisation", body = ErrorBody),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not an operator token", body = ErrorBody),
        (status = 404, description = "No such organisation", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn create_token(state: State, auth: Auth, body: web::Json<NewToken>) -> ApiResult<HttpResponse> {
    policy::authorize(&auth.0, Action::Administer)?;
    Ok(HttpResponse::Created().json(blocking(move || state.registry.create_token(&body)).await?))
}

/// List API tokens (operator; never the tokens themselves).
#[utoipa::path(
    get, path = "/v1/tokens", tag = "tokens", operation_id = "list_tokens",
    responses(
        (status = 200, description = "Every token's record", body = Vec<TokenInfo>),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not an operator token", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn list_tokens(state: State, auth: Auth) -> ApiResult<HttpResponse> {
    policy::authorize(&auth.0, Action::Administer)?;
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.list_tokens()).await?))
}

/// Revoke an API token (operator).
#[utoipa::path(
    post, path = "/v1/tokens/{id}/revoke", tag = "tokens", operation_id = "revoke_token",
    params(("id" = String, Path, description = "Token id")),
    responses(
        (status = 200, description = "Revoked", body = TokenInfo),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not an operator token", body = ErrorBody),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_token(state: State, auth: Auth, id: web::Path<String>) -> ApiResult<HttpResponse> {
    policy::authorize(&auth.0, Action::Administer)?;
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.revoke_token(&id)).await?))
}

/// Who the registry takes the caller to be.
#[utoipa::path(
    get, path = "/v1/whoami", tag = "tokens", operation_id = "get_whoami",
    responses(
        (status = 200, description = "The caller", body = Whoami),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn get_whoami(auth: Auth) -> ApiResult<HttpResponse> {
    let p = auth.0;
    Ok(HttpResponse::Ok().json(Whoami {
        token_id: p.token_id,
        organisation: p.organisation,
        country: p.country,
        role: p.role,
    }))
}
