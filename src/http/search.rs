//! `GET /v1/search`: materials for OEM engineers (the rules are in `registry::search`).

use actix_web::{HttpRequest, HttpResponse, web};

use super::{ApiResult, MaybeAuth, State, blocking};
use crate::registry::search::{SearchParams, SearchRequest, SearchResults};
use crate::registry::views::ErrorBody;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/search", web::get().to(search_materials));
}

/// Search materials among the packages the caller may see that count as evidence: a property
/// range at a temperature (a material matches when the mean of some dataset's rows within the
/// temperature window lies in the range, in any compatible unit), fit to a profile,
/// critical-mineral content, supply concentration (HHI of producing-country shares, USGS MCS
/// 2025, approximate), producer country, lab, countersignature and text; sorted, paged, with
/// facet counts.
#[utoipa::path(
    get, path = "/v1/search", tag = "search", operation_id = "search_materials",
    params(SearchParams),
    responses(
        (status = 200, description = "Matching materials, one page, with facet counts over all hits", body = SearchResults),
        (status = 400, description = "A parameter is malformed (bad number, unknown or incompatible unit, unknown property or profile) or unknown (a misspelled name); the message names it", body = ErrorBody),
        (status = 401, description = "Invalid or revoked token", body = ErrorBody),
        (status = 422, description = "`material_class` is not the class of `profile` (`profile_class_mismatch`); with `profile` alone, only its class is searched", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn search_materials(
    req: HttpRequest,
    state: State,
    auth: MaybeAuth,
    q: web::Query<SearchParams>,
) -> ApiResult<HttpResponse> {
    super::params::reject_unknown(req.query_string(), &super::params::known_fields::<SearchParams>())?;
    let request = SearchRequest::parse(&q)?;
    let reader = auth.reader();
    Ok(HttpResponse::Ok().json(blocking(move || state.registry.search(&reader, &request)).await?))
}
