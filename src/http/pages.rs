//! HTML pages for people (`/`, `/materials/{id}`, `/packages/{digest}`, `/fit/{profile}/{material}`,
//! `/labs`, `/labs/{id}`, `/glossary`) and their stylesheet. Thin like the API handlers: parse,
//! call the registry (the same rules, releasability included), render with `crate::web`.
//! Refusals are pages too, and an unknown query parameter is refused with 400 naming it.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse};

use super::params::{known_fields, reject_unknown};
use super::{MaybeAuth, State};
use crate::registry::evidence::FitQuery;
use crate::registry::search::{SearchParams, SearchRequest, SearchResults};
use crate::registry::views::PackageQuery;
use crate::registry::{Reader, Registry, RegistryError};
use crate::web::{self as view, FormError, Names, Provenance, RELAXABLE, Relaxation};

pub fn configure(cfg: &mut actix_web::web::ServiceConfig) {
    cfg.route("/", actix_web::web::get().to(search_page))
        .route("/static/style.css", actix_web::web::get().to(stylesheet))
        .route("/glossary", actix_web::web::get().to(glossary_page))
        .route("/materials/{id}", actix_web::web::get().to(material_page))
        .route("/materials/{id}/datasheet.csv", actix_web::web::get().to(datasheet_csv))
        .route("/packages/{digest}", actix_web::web::get().to(package_page))
        .route("/fit/{profile}/{material}", actix_web::web::get().to(fit_page))
        .route("/profiles", actix_web::web::get().to(profiles_page))
        .route("/profiles/{id}", actix_web::web::get().to(profile_page))
        .route("/labs", actix_web::web::get().to(organisations_page))
        .route("/labs/{id}", actix_web::web::get().to(lab_page));
}

fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status).insert_header((CONTENT_TYPE, "text/html; charset=utf-8")).body(body)
}

/// A refusal as a page: the status and the registry's message (never internal detail: an
/// internal error says only that).
pub fn refusal(e: RegistryError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = if status.is_server_error() {
        log::error!("page: {e}");
        "The registry could not answer; please try again.".to_owned()
    } else {
        e.to_string()
    };
    html(status, view::error_page(status.as_u16(), &message))
}

/// Pages that take no query parameters refuse any.
/// Runs registry work off the async workers and renders the page, or the refusal. The page
/// takes no query parameters.
async fn render<T: Send + 'static>(
    req: &HttpRequest,
    work: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
    view: impl FnOnce(T) -> String,
) -> HttpResponse {
    render_with(req, &[], work, view).await
}

/// [`render`] for a page that takes the query parameters `known`.
async fn render_with<T: Send + 'static>(
    req: &HttpRequest,
    known: &[String],
    work: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
    view: impl FnOnce(T) -> String,
) -> HttpResponse {
    if let Err(e) = reject_unknown(req.query_string(), known) {
        return refusal(e);
    }
    match actix_web::web::block(work).await {
        Ok(Ok(data)) => html(StatusCode::OK, view(data)),
        Ok(Err(e)) => refusal(e),
        Err(e) => refusal(RegistryError::Internal(e.to_string())),
    }
}

/// The value of the query parameter `name`, if the request has one.
fn query_value(req: &HttpRequest, name: &str) -> Option<String> {
    actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().into_iter().find(|(k, _)| k == name).map(|(_, v)| v))
}

fn names(registry: &Registry) -> Result<Names, RegistryError> {
    Ok(Names::new(&registry.list_organisations()?))
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "public, max-age=3600"))
        .body(view::STYLE)
}

async fn glossary_page(req: HttpRequest) -> HttpResponse {
    render(&req, || Ok(()), |()| view::glossary_page()).await
}

/// For a search with no hits: how many materials each filter, dropped alone, would let through.
fn relaxations(registry: &Registry, reader: &Reader, params: &SearchParams) -> Vec<Relaxation> {
    let set: Vec<&str> = view::search_pairs(params).into_iter().map(|(k, _)| k).collect();
    let mut out = Vec::new();
    for (dropped, label) in RELAXABLE {
        // Only filters the search used; a property range is one filter with its bounds.
        if !dropped.iter().any(|d| set.contains(d)) || (dropped.contains(&"property") && set.len() <= 1) {
            continue;
        }
        if out.iter().any(|r: &Relaxation| r.dropped.iter().all(|d| dropped.contains(d)) && r.total > 0) {
            continue;
        }
        let loosened = view::without(params, dropped);
        let Ok(request) = SearchRequest::parse(&loosened) else { continue };
        if let Ok(r) = registry.search(reader, &request) {
            out.push(Relaxation { dropped: dropped.to_vec(), label, total: r.total });
        }
    }
    out
}

async fn search_page(req: HttpRequest, state: State, auth: MaybeAuth) -> HttpResponse {
    let reader = auth.reader();
    // Unknown or malformed parameters: the form again (empty where the query did not parse),
    // with the refusal at the field it names.
    let parsed = reject_unknown(req.query_string(), &known_fields::<SearchParams>()).and_then(|()| {
        actix_web::web::Query::<SearchParams>::from_query(req.query_string())
            .map(actix_web::web::Query::into_inner)
            .map_err(|e| RegistryError::bad_request(format!("query: {e}")))
    });
    let work = actix_web::web::block(move || {
        let profiles = state.registry.list_profiles()?;
        let names = names(&state.registry)?;
        let outcome: Result<(SearchParams, SearchResults, Vec<Relaxation>), (SearchParams, RegistryError)> =
            match parsed {
                Err(e) => Err((SearchParams::default(), e)),
                Ok(params) => match SearchRequest::parse(&params).and_then(|r| state.registry.search(&reader, &r)) {
                    Ok(results) => {
                        let relax = if results.total == 0 {
                            relaxations(&state.registry, &reader, &params)
                        } else {
                            Vec::new()
                        };
                        Ok((params, results, relax))
                    }
                    Err(e) => Err((params, e)),
                },
            };
        Ok::<_, RegistryError>((profiles, names, outcome))
    });
    match work.await {
        Ok(Ok((profiles, names, Ok((params, results, relax))))) => {
            html(StatusCode::OK, view::search_page(&params, &profiles, &names, Ok((&results, &relax))))
        }
        Ok(Ok((profiles, names, Err((params, e))))) if e.status() == 400 => {
            let error = FormError::from_message(&e.to_string());
            html(StatusCode::BAD_REQUEST, view::search_page(&params, &profiles, &names, Err(&error)))
        }
        Ok(Ok((_, _, Err((_, e))))) | Ok(Err(e)) => refusal(e),
        Err(e) => refusal(RegistryError::Internal(e.to_string())),
    }
}

async fn material_page(
    req: HttpRequest,
    state: State,
    auth: MaybeAuth,
    id: actix_web::web::Path<String>,
) -> HttpResponse {
    let reader = auth.reader();
    render(
        &req,
        move || {
            let m = state.registry.material_overview(&reader, &id)?;
            Ok((m, state.registry.list_profiles()?, names(&state.registry)?))
        },
        |(m, profiles, names)| view::material_page(&m, &profiles, &names),
    )
    .await
}

/// The material page's datasheet as CSV (what a reader may see, like the page).
async fn datasheet_csv(
    req: HttpRequest,
    state: State,
    auth: MaybeAuth,
    id: actix_web::web::Path<String>,
) -> HttpResponse {
    if let Err(e) = reject_unknown(req.query_string(), &[]) {
        return refusal(e);
    }
    let reader = auth.reader();
    let id = id.into_inner();
    let file =
        format!("{}-datasheet.csv", id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>());
    match actix_web::web::block(move || state.registry.material_overview(&reader, &id)).await {
        Ok(Ok(m)) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "text/csv; charset=utf-8; header=present"))
            .insert_header(("Content-Disposition", format!("attachment; filename=\"{file}\"")))
            .body(view::datasheet_csv(&m)),
        Ok(Err(e)) => refusal(e),
        Err(e) => refusal(RegistryError::Internal(e.to_string())),
    }
}

async fn package_page(
    req: HttpRequest,
    state: State,
    auth: MaybeAuth,
    digest: actix_web::web::Path<String>,
) -> HttpResponse {
    let reader = auth.reader();
    render(
        &req,
        move || {
            let d = state.registry.detail(&reader, &digest)?;
            // The log part is shown when the registry has it; a page never fails for it.
            let provenance = Provenance {
                inclusion: state.registry.inclusion_proof(&reader, &d.summary.digest, None).ok(),
                checkpoint: state.registry.checkpoint().ok(),
            };
            Ok((d, provenance, names(&state.registry)?))
        },
        |(d, provenance, names)| view::package_page(&d, &provenance, &names),
    )
    .await
}

/// The fit report page; `?version=` pins the profile version (default: the latest), so a link
/// to a report stays reproducible when a newer version appears.
async fn fit_page(
    req: HttpRequest,
    state: State,
    auth: MaybeAuth,
    path: actix_web::web::Path<(String, String)>,
) -> HttpResponse {
    let reader = auth.reader();
    let (profile, material) = path.into_inner();
    let version = query_value(&req, "version");
    render_with(
        &req,
        &["version".to_owned()],
        move || {
            let p = state.registry.get_profile(&profile, version.as_deref())?;
            let report = state.registry.fit_material(
                &reader,
                &FitQuery { profile: profile.clone(), version: Some(p.version.clone()), material: Some(material) },
            )?;
            let chart = state.registry.ashby_chart(&reader, &p)?;
            Ok((report, p, chart, names(&state.registry)?))
        },
        |(report, p, chart, names)| view::fit_page(&report, &p, chart.as_ref(), &names),
    )
    .await
}

async fn profiles_page(req: HttpRequest, state: State) -> HttpResponse {
    render(
        &req,
        move || Ok((state.registry.list_profiles()?, names(&state.registry)?)),
        |(profiles, names)| view::profiles_page(&profiles, &names),
    )
    .await
}

async fn profile_page(req: HttpRequest, state: State, id: actix_web::web::Path<String>) -> HttpResponse {
    let id = id.into_inner();
    let version = query_value(&req, "version");
    render_with(
        &req,
        &["version".to_owned()],
        move || {
            let issued = state.registry.get_issued_profile(&id, version.as_deref())?;
            let versions: Vec<_> = state.registry.list_profiles()?.into_iter().filter(|p| p.id == id).collect();
            Ok((issued, versions, names(&state.registry)?))
        },
        |(issued, versions, names)| view::profile_page(&issued.profile, &issued.issuer, &versions, &names),
    )
    .await
}

async fn organisations_page(req: HttpRequest, state: State) -> HttpResponse {
    render(&req, move || state.registry.list_organisations(), |orgs| view::organisations_page(&orgs)).await
}

async fn lab_page(req: HttpRequest, state: State, auth: MaybeAuth, id: actix_web::web::Path<String>) -> HttpResponse {
    let reader = auth.reader();
    render(
        &req,
        move || {
            let org = state.registry.get_organisation(&id)?;
            let query = PackageQuery { organisation: Some(id.to_string()), limit: Some(500), ..Default::default() };
            let authored = state.registry.list_packages(&reader, &query)?;
            // Countersignatures: the countersigned packages the reader may see whose signatures
            // name this organisation.
            let mut countersigned = Vec::new();
            if org.organisation.kind == crate::registry::auth::OrgKind::Certifier {
                let all =
                    state.registry.list_packages(&reader, &PackageQuery { limit: Some(500), ..Default::default() })?;
                for p in all.packages.into_iter().filter(|p| p.countersigned) {
                    let d = state.registry.detail(&reader, &p.digest)?;
                    if d.signatures.iter().any(|s| s.kind == "countersignature" && s.organisation == *id) {
                        countersigned.push(p);
                    }
                }
            }
            Ok((org, authored, countersigned))
        },
        |(org, authored, countersigned)| view::lab_page(&org, &authored, &countersigned),
    )
    .await
}
