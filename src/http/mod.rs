//! The HTTP boundary: actix-web handlers (parse, call the registry, map), the one error
//! envelope, authentication, request ids, metrics and the OpenAPI document.
//!
//! Handlers hold no rules; every blocking call into the registry runs inside `web::block`.

mod admin;
mod fit;
mod metrics;
mod mirror;
mod ops;
mod packages;
mod pages;
mod params;
mod search;
mod tlog;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use actix_web::dev::{Payload, Service as _};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{App, FromRequest, HttpRequest, HttpResponse, HttpServer, ResponseError, web};
use rand_core::{OsRng, RngCore};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::registry::views::{ErrorBody, ErrorDetail, ErrorInfo};
use crate::registry::{Principal, Reader, Registry, RegistryError};
pub use metrics::Metrics;

/// Shared by every worker.
pub struct AppState {
    pub registry: Registry,
    pub metrics: Metrics,
    pub auth_failures: AuthFailures,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`--trusted-proxy`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// A mirror serves reads only: every other request is refused with 403 `read_only_mirror`.
    pub read_only_of: Option<String>,
}

pub type State = web::Data<AppState>;

tokio::task_local! {
    /// The id of the request being answered, for error bodies and the log.
    static REQUEST_ID: String;
}

/// A refusal on its way to the client: status + `{"error": {code, message, details}}`.
#[derive(Debug)]
pub struct ApiError(pub RegistryError);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        ApiError(e)
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ApiError(RegistryError::Internal(e.to_string()))
    }
}

/// The error code of a response, for logs and metrics.
#[derive(Debug, Clone)]
pub struct ErrorCode(pub String);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        // tlog-witness: a 409 for another old size carries the recorded size as its body.
        if let RegistryError::WitnessRefused(crate::log::witness::WitnessError::SizeMismatch { recorded, .. }) = self.0
        {
            let mut res = HttpResponse::build(self.status_code())
                .content_type(crate::log::witness::SIZE_CONTENT_TYPE)
                .body(format!("{recorded}\n"));
            res.extensions_mut().insert(ErrorCode(self.0.code().to_owned()));
            return res;
        }
        let code = self.0.code().to_owned();
        let request_id = REQUEST_ID.try_with(Clone::clone).ok();
        let (message, details) = if self.0.is_internal() {
            // The cause goes to the log under the request id; the client gets the code and
            // the id, never database or storage text.
            log::error!("req={} {code}: {}", request_id.as_deref().unwrap_or("-"), self.0);
            let what = match &self.0 {
                RegistryError::Blob(crate::store::blobs::BlobError::Unavailable { .. }) => {
                    "the registry's object store did not answer; try again later"
                }
                _ => "the registry could not complete the request",
            };
            let message = match &request_id {
                Some(id) => format!("{what}; its log holds the cause under request id {id}"),
                None => format!("{what}; its log holds the cause"),
            };
            (message.clone(), vec![ErrorDetail { code: code.clone(), message }])
        } else {
            (
                self.0.to_string(),
                self.0.details().into_iter().map(|(code, message)| ErrorDetail { code, message }).collect(),
            )
        };
        let body = ErrorBody { error: ErrorInfo { code, message, details, request_id } };
        let mut res = HttpResponse::build(self.status_code()).json(body);
        if matches!(self.0, RegistryError::Unauthenticated | RegistryError::InvalidToken | RegistryError::TokenRevoked)
        {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let RegistryError::TooManyAuthFailures { retry_after_secs } = self.0
            && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
        {
            res.headers_mut().insert(header::RETRY_AFTER, v);
        }
        res.extensions_mut().insert(ErrorCode(self.0.code().to_owned()));
        res
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The largest JSON request body.
pub const MAX_JSON_BODY: usize = 1 << 20;

/// Reads a small non-JSON request body (a signature, a cosigned checkpoint) of at most `max`
/// bytes; more is refused with 413 `upload_too_large` before it is all received.
pub async fn small_body(mut payload: web::Payload, max: usize) -> ApiResult<web::Bytes> {
    use futures_util::StreamExt as _;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError(RegistryError::bad_request(format!("request body: {e}"))))?;
        if buf.len() + chunk.len() > max {
            return Err(ApiError(RegistryError::UploadTooLarge { max: max as u64 }));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Runs blocking registry work off the async workers.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, RegistryError> + Send + 'static,
) -> ApiResult<T> {
    Ok(web::block(f).await??)
}

fn bearer(req: &HttpRequest) -> Result<Option<String>, RegistryError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| RegistryError::InvalidToken)?;
    match value.strip_prefix("Bearer ") {
        Some(t) => Ok(Some(t.trim().to_owned())),
        None => Err(RegistryError::InvalidToken),
    }
}

fn authenticate(req: &HttpRequest) -> Pin<Box<dyn Future<Output = Result<Option<Principal>, ApiError>>>> {
    let token = bearer(req);
    let state = req.app_data::<State>().cloned();
    let peer = state.as_ref().and_then(|s| client_ip(req, &s.trusted_proxies));
    Box::pin(async move {
        // No token: anonymous, never throttled.
        let token = match token {
            Ok(None) => return Ok(None),
            Ok(Some(t)) => Ok(t),
            Err(e) => Err(e),
        };
        let Some(state) = state else { return Err(ApiError(RegistryError::Internal("no state".into()))) };
        if let Some(ip) = peer {
            state.auth_failures.check(ip)?;
        }
        let result = match token {
            Ok(t) => {
                let s = state.clone();
                blocking(move || s.registry.authenticate(&t)).await
            }
            Err(e) => Err(ApiError(e)),
        };
        if let (Some(ip), Err(ApiError(RegistryError::InvalidToken | RegistryError::TokenRevoked))) = (peer, &result) {
            state.auth_failures.failed(ip);
        }
        result.map(Some)
    })
}

/// The client's address: the peer's, or, when the peer is a trusted reverse proxy, the nearest
/// address in `X-Forwarded-For` that is not itself a trusted proxy (what the proxy saw). A
/// client cannot spoof it: entries it adds itself are further left and never reached while
/// a non-proxy address precedes them.
pub fn client_ip(req: &HttpRequest, trusted: &[std::net::IpAddr]) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut nearest = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => nearest = ip,
            Ok(ip) => return Some(ip),
            Err(_) => break,
        }
    }
    Some(nearest)
}

/// Failed token attempts per client address: after [`AuthFailures::LIMIT`] in one window of
/// [`AuthFailures::WINDOW`], every request from that address that presents a token is refused
/// with 429 `too_many_auth_failures` until the window ends. Tokens carry 256 random bits, so
/// this guards the logs and the database against floods more than it guards the tokens.
/// Per process: each replica counts on its own.
#[derive(Default)]
pub struct AuthFailures {
    windows: std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, (Instant, u32)>>,
}

impl AuthFailures {
    pub const LIMIT: u32 = 20;
    pub const WINDOW: std::time::Duration = std::time::Duration::from_secs(60);

    fn check(&self, ip: std::net::IpAddr) -> Result<(), RegistryError> {
        let Ok(windows) = self.windows.lock() else { return Ok(()) };
        match windows.get(&ip) {
            Some((start, n)) if *n >= Self::LIMIT && start.elapsed() < Self::WINDOW => {
                Err(RegistryError::TooManyAuthFailures {
                    retry_after_secs: Self::WINDOW.saturating_sub(start.elapsed()).as_secs().max(1),
                })
            }
            _ => Ok(()),
        }
    }

    fn failed(&self, ip: std::net::IpAddr) {
        let Ok(mut windows) = self.windows.lock() else { return };
        if windows.len() > 10_000 {
            windows.retain(|_, (start, _)| start.elapsed() < Self::WINDOW);
        }
        let entry = windows.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= Self::WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

/// The caller if a token was sent (a bad or revoked token is refused, never read as anonymous).
pub struct MaybeAuth(pub Option<Principal>);

impl MaybeAuth {
    pub fn reader(&self) -> Reader {
        Reader::of(self.0.as_ref())
    }
}

impl FromRequest for MaybeAuth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = authenticate(req);
        Box::pin(async move { Ok(MaybeAuth(fut.await?)) })
    }
}

/// A caller that must have sent a valid token.
pub struct Auth(pub Principal);

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let fut = authenticate(req);
        Box::pin(async move { fut.await?.map(Auth).ok_or(ApiError(RegistryError::Unauthenticated)) })
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "prequal registry API",
        description = "Signed qualification data packages for alternative materials: publish, read, countersign, withdraw; organisations, keys and tokens.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    paths(
        packages::publish_package,
        packages::list_packages,
        packages::get_package,
        packages::download_package,
        packages::countersign_package,
        packages::withdraw_package,
        admin::list_organisations,
        admin::get_organisation,
        admin::create_organisation,
        admin::create_key,
        admin::get_key,
        admin::revoke_key,
        admin::create_token,
        admin::list_tokens,
        admin::revoke_token,
        admin::get_whoami,
        fit::list_profiles,
        fit::get_profile,
        fit::create_profile,
        fit::list_materials,
        fit::get_fit,
        fit::get_ranking,
        fit::run_equivalency,
        search::search_materials,
        tlog::get_log_checkpoint,
        tlog::get_cosigned_checkpoint,
        tlog::create_log_cosignature,
        tlog::add_checkpoint,
        tlog::get_log_key,
        tlog::get_log_tile,
        tlog::get_log_entry_bundle,
        tlog::get_inclusion_proof,
        tlog::get_consistency_proof,
        tlog::list_log_entries,
        tlog::get_sealed_entry,
        mirror::get_mirror_status,
        ops::get_healthz,
        ops::get_readyz,
        ops::get_metrics,
    ),
    modifiers(&BearerAuth, &SharedResponses),
    tags(
        (name = "packages", description = "Publish and read qualification data packages"),
        (name = "organisations", description = "Organisations and their signing keys"),
        (name = "tokens", description = "API tokens (operator role)"),
        (name = "fit", description = "Application requirement profiles, materials, fit reports and rankings"),
        (name = "search", description = "Search materials by property at condition, application fit, critical-mineral content and supply concentration"),
        (name = "log", description = "The transparency log: signed checkpoints, witness cosignatures, C2SP tlog-tiles, inclusion and consistency proofs"),
        (name = "mirror", description = "A verifying mirror's state: its upstream, verified checkpoint and refused packages"),
        (name = "operations", description = "Health, readiness and metrics")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("pq_<id>_<secret>").build(),
            ),
        );
    }
}

/// Responses the shared extractors give on every operation of a kind, documented once here so no
/// handler can forget them (an API conformance run, tests/suite/api_conformance.rs, found both missing):
/// - 400 `bad_request` everywhere: actix refuses parameters that do not parse (a missing query
///   field, an index past `i64`) before the handler runs, and a query parameter the operation
///   does not document is refused, naming it (`params::reject_undocumented`);
/// - 429 `too_many_auth_failures` (with `Retry-After`) wherever a token is accepted: the
///   per-address throttle of failed token attempts ([`AuthFailures`]) runs in the extractor;
/// - 413 `upload_too_large` wherever a request body is read: every body has a limit
///   ([`MAX_JSON_BODY`] for JSON, 64 KiB for signatures and cosigned notes, `--max-upload-bytes`
///   for packages).
struct SharedResponses;

impl utoipa::Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder, header::Header};
        let error = |description: &str| {
            ResponseBuilder::new().description(description).content(
                "application/json",
                ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
            )
        };
        let retry_after = ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .build();
        let mut retry_header = Header::new(retry_after);
        retry_header.description = Some("Seconds until the throttle window ends".into());
        let throttled = error("Too many failed token attempts from this address (`too_many_auth_failures`)")
            .header("Retry-After", retry_header)
            .build();
        let bad_parameters =
            error("A path or query parameter does not parse, or a query parameter is not one of this operation's (`bad_request`)")
                .build();
        let too_large = error("The request body is larger than this operation's limit (`upload_too_large`)").build();
        for item in openapi.paths.paths.values_mut() {
            for op in
                [&mut item.get, &mut item.post, &mut item.put, &mut item.delete, &mut item.patch].into_iter().flatten()
            {
                let responses = &mut op.responses.responses;
                // Every operation refuses a query parameter it does not document
                // (`params::reject_undocumented`), so every one can answer 400.
                responses.entry("400".into()).or_insert_with(|| RefOr::T(bad_parameters.clone()));
                if op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    responses.entry("429".into()).or_insert_with(|| RefOr::T(throttled.clone()));
                }
                if op.request_body.is_some() {
                    responses.entry("413".into()).or_insert_with(|| RefOr::T(too_large.clone()));
                }
            }
        }
    }
}

/// The OpenAPI document as served at `/openapi.json` (and committed as `openapi/openapi.json`).
pub fn openapi_json() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default()
}

fn request_id(req: &actix_web::dev::ServiceRequest) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let mut b = [0u8; 8];
            OsRng.fill_bytes(&mut b);
            hex::encode(b)
        })
}

/// Routes and middleware of one worker.
pub fn configure(cfg: &mut web::ServiceConfig) {
    packages::configure(cfg);
    admin::configure(cfg);
    fit::configure(cfg);
    search::configure(cfg);
    tlog::configure(cfg);
    mirror::configure(cfg);
    pages::configure(cfg);
    ops::configure(cfg);
    cfg.service(utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", ApiDoc::openapi()));
    cfg.service(web::redirect("/docs", "/docs/"));
    cfg.default_service(web::to(|req: HttpRequest| async move {
        // A browser (asking for HTML first) gets a page; API clients keep the JSON envelope.
        if wants_html(&req) {
            return Ok(pages::refusal(RegistryError::not_found(format!(
                "There is no page at {}. Search for materials, or browse the organisations.",
                req.path()
            ))));
        }
        Err::<HttpResponse, _>(ApiError(RegistryError::not_found(
            "no such endpoint; the API is described at /openapi.json and /docs",
        )))
    }));
}

/// Whether the client prefers HTML: a browser navigating sends `Accept: text/html,…` first;
/// API clients send `application/json`, `*/*` or nothing, and keep getting JSON.
fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|first| first.trim().starts_with("text/html"))
}

/// The client's `Accept-Encoding`, kept for handlers whose responses the `Compress` middleware
/// does not touch.
#[derive(Clone)]
pub(crate) struct AcceptedEncoding(pub(crate) HeaderValue);

/// Whether a response may be compressed: pages, stylesheets and JSON compress five- to
/// tenfold; package downloads (zip, already compressed) and log tiles (hashes) do not, and
/// compressing them would only cost the server CPU.
fn compressible(path: &str) -> bool {
    !(path.ends_with("/download") || path.starts_with("/log/tile/"))
}

/// Headers on every response: no content sniffing, no framing, no referrer; HTML pages (not the
/// bundled API docs, which run their own script) also get a content security policy allowing
/// nothing but the registry's own stylesheet, inline SVG and forms posting back to it.
fn security_headers(path: &str, headers: &mut actix_web::http::header::HeaderMap) {
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    let html =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("text/html"));
    if html && !path.starts_with("/docs") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        );
    }
}

/// Builds the server on an already bound listener (port 0 in tests) and returns it.
pub fn server(
    state: State,
    listener: std::net::TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new()
            .app_data(state.clone())
            .app_data(web::JsonConfig::default().limit(MAX_JSON_BODY).error_handler(|err, _| match err {
                actix_web::error::JsonPayloadError::Overflow { .. }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { .. } => {
                    ApiError(RegistryError::UploadTooLarge { max: MAX_JSON_BODY as u64 }).into()
                }
                err => ApiError(RegistryError::bad_request(format!("request body: {err}"))).into(),
            }))
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|err, _| ApiError(RegistryError::bad_request(format!("query: {err}"))).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|err, _| ApiError(RegistryError::bad_request(format!("path: {err}"))).into()),
            )
            .configure(configure)
            .wrap_fn(|req, srv| {
                use futures_util::future::Either;
                match params::reject_undocumented(&req) {
                    Err(e) => {
                        let refusal = ApiError(e).error_response();
                        Either::Left(futures_util::future::ready(Ok(req.into_response(refusal))))
                    }
                    Ok(()) => Either::Right(srv.call(req)),
                }
            })
            .wrap_fn(|req, srv| {
                use futures_util::future::Either;
                let upstream = req.app_data::<State>().and_then(|s| s.read_only_of.clone());
                match upstream {
                    Some(upstream) if changes_state(req.method(), req.path()) => {
                        let refusal = ApiError(RegistryError::ReadOnlyMirror { upstream }).error_response();
                        Either::Left(futures_util::future::ready(Ok(req.into_response(refusal))))
                    }
                    _ => Either::Right(srv.call(req)),
                }
            })
            .wrap_fn(move |req, srv| {
                let start = Instant::now();
                let id = request_id(&req);
                let method = req.method().to_string();
                let path = req.path().to_owned();
                let state = state.clone();
                let fut = REQUEST_ID.scope(id.clone(), srv.call(req));
                async move {
                    let mut res = fut.await?;
                    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
                    let status = res.status().as_u16();
                    let code = res.response().extensions().get::<ErrorCode>().map(|c| c.0.clone());
                    let elapsed = start.elapsed();
                    state.metrics.record(&method, &route, status, elapsed, code.as_deref());
                    if let Ok(v) = HeaderValue::from_str(&id) {
                        res.headers_mut().insert(header::HeaderName::from_static("x-request-id"), v);
                    }
                    security_headers(&path, res.headers_mut());
                    match code {
                        Some(code) => {
                            log::info!("req={id} {method} {path} {status} {code} {:.1}ms", elapsed.as_secs_f64() * 1e3)
                        }
                        None => log::info!("req={id} {method} {path} {status} {:.1}ms", elapsed.as_secs_f64() * 1e3),
                    }
                    Ok(res)
                }
            })
            .wrap(actix_web::middleware::Compress::default())
            .wrap_fn(|mut req, srv| {
                // Runs before `Compress`: a response that is not worth compressing is asked for
                // without an encoding.
                // Handlers that compress on their own terms (tlog-tiles entry bundles: gzip or
                // nothing) still read what the client accepts, from the request's extensions.
                if !compressible(req.path())
                    && let Some(accepted) = req.headers_mut().remove(header::ACCEPT_ENCODING).next()
                {
                    actix_web::HttpMessage::extensions_mut(&req).insert(AcceptedEncoding(accepted));
                }
                srv.call(req)
            })
    })
    .workers(workers.max(1))
    // Responses go out at once: with Nagle's algorithm, a response written in two parts (the
    // headers, then a file) waits for the client's delayed ACK on a kept-alive connection,
    // about 40 ms per request (measured: 43 ms per package download on loopback, 1 ms without).
    .tcp_nodelay(true)
    // In-flight requests (an upload being verified) get this long to finish on SIGTERM/SIGINT.
    .shutdown_timeout(120)
    .listen(listener)?
    .run();
    Ok(server)
}

pub fn new_state(registry: Registry) -> State {
    with_trusted_proxies(registry, Vec::new())
}

pub fn with_trusted_proxies(registry: Registry, trusted_proxies: Vec<std::net::IpAddr>) -> State {
    web::Data::new(AppState {
        registry,
        metrics: Metrics::default(),
        auth_failures: AuthFailures::default(),
        trusted_proxies,
        read_only_of: None,
    })
}

/// The state of a mirror of `upstream`: reads only.
pub fn new_mirror_state(registry: Registry, upstream: &str, trusted_proxies: Vec<std::net::IpAddr>) -> State {
    web::Data::new(AppState {
        registry,
        metrics: Metrics::default(),
        auth_failures: AuthFailures::default(),
        trusted_proxies,
        read_only_of: Some(upstream.to_owned()),
    })
}

/// Whether a request may change the registry: every method but GET, HEAD and OPTIONS, except
/// the equivalency test, which posts its input and computes without storing.
fn changes_state(method: &actix_web::http::Method, path: &str) -> bool {
    use actix_web::http::Method;
    !(matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || (*method == Method::POST && path == "/v1/equivalency")
        // A mirror run as a witness cosigns other logs' checkpoints; its registry state is untouched.
        || (*method == Method::POST && path == "/add-checkpoint"))
}
