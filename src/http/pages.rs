//! HTML pages for people (`/`, `/materials/{id}`, `/packages/{digest}`, `/fit/{profile}/{material}`,
//! `/labs/{id}`) and their stylesheet. Thin like the API handlers: parse, call the registry
//! (the same rules, releasability included), render with `crate::web`. Refusals are pages too.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};

use super::{MaybeAuth, State};
use crate::registry::RegistryError;
use crate::registry::evidence::FitQuery;
use crate::registry::search::{SearchParams, SearchRequest};
use crate::registry::views::PackageQuery;
use crate::web as view;

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.route("/", actix_web::web::get().to(search_page))
        .route("/static/style.css", actix_web::web::get().to(stylesheet))
        .route("/materials/{id}", actix_web::web::get().to(material_page))
        .route("/packages/{digest}", actix_web::web::get().to(package_page))
        .route("/fit/{profile}/{material}", actix_web::web::get().to(fit_page))
        .route("/labs/{id}", actix_web::web::get().to(lab_page));
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status).insert_header((CONTENT_TYPE, "text/html; charset=utf-8")).body(body)
}

fn refusal(e: RegistryError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    html(status, view::error_page(status.as_u16(), &e.to_string()))
}

/// Runs registry work off the async workers and renders the page, or the refusal.
async fn render<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
    view: impl FnOnce(T) -> String,
) -> HttpResponse {
    match actix_web::web::block(work).await {
        Ok(Ok(data)) => html(StatusCode::OK, view(data)),
        Ok(Err(e)) => refusal(e),
        Err(e) => refusal(RegistryError::Internal(e.to_string())),
    }
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(view::STYLE)
}

async fn search_page(state: State, auth: MaybeAuth, q: actix_web::web::Query<SearchParams>) -> HttpResponse {
    let params = q.into_inner();
    let reader = auth.reader();
    let request = SearchRequest::parse(&params);
    let shown = params.clone();
    let work = actix_web::web::block(move || {
        let profiles = state.registry.list_profiles()?;
        Ok::<_, RegistryError>((profiles, request.and_then(|r| state.registry.search(&reader, &r))))
    });
    match work.await {
        Ok(Ok((profiles, Ok(results)))) => html(StatusCode::OK, view::search_page(&shown, &profiles, Ok(&results))),
        // A malformed parameter: the form again, with the refusal naming it.
        Ok(Ok((profiles, Err(e)))) if e.status() == 400 => {
            html(StatusCode::BAD_REQUEST, view::search_page(&shown, &profiles, Err(&e.to_string())))
        }
        Ok(Ok((_, Err(e)))) | Ok(Err(e)) => refusal(e),
        Err(e) => refusal(RegistryError::Internal(e.to_string())),
    }
}

async fn material_page(state: State, auth: MaybeAuth, id: actix_web::web::Path<String>) -> HttpResponse {
    let reader = auth.reader();
    render(
        move || Ok((state.registry.material_overview(&reader, &id)?, state.registry.list_profiles()?)),
        |(m, profiles)| view::material_page(&m, &profiles),
    )
    .await
}

async fn package_page(state: State, auth: MaybeAuth, digest: actix_web::web::Path<String>) -> HttpResponse {
    let reader = auth.reader();
    render(move || state.registry.detail(&reader, &digest), |d| view::package_page(&d)).await
}

async fn fit_page(state: State, auth: MaybeAuth, path: actix_web::web::Path<(String, String)>) -> HttpResponse {
    let reader = auth.reader();
    let (profile, material) = path.into_inner();
    render(
        move || {
            let p = state.registry.get_profile(&profile, None)?;
            let report = state.registry.fit_material(
                &reader,
                &FitQuery { profile: profile.clone(), version: Some(p.version.clone()), material: Some(material) },
            )?;
            let chart = state.registry.ashby_chart(&reader, &p)?;
            Ok((report, p, chart))
        },
        |(report, p, chart)| view::fit_page(&report, &p, chart.as_ref()),
    )
    .await
}

async fn lab_page(state: State, auth: MaybeAuth, id: actix_web::web::Path<String>) -> HttpResponse {
    let reader = auth.reader();
    render(
        move || {
            let org = state.registry.get_organisation(&id)?;
            let query = PackageQuery { organisation: Some(id.to_string()), limit: Some(500), ..Default::default() };
            Ok((org, state.registry.list_packages(&reader, &query)?))
        },
        |(org, list)| view::lab_page(&org, &list),
    )
    .await
}
