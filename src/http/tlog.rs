//! The transparency log's read API: the signed checkpoint and the C2SP `tlog-tiles` paths
//! (`/log/…`), the log's verifier key, and JSON proofs and entries (`/v1/log/…`). The log
//! itself is in `registry::transparency` and `crate::log`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::{ApiResult, MaybeAuth, State, blocking};
use crate::log::tiles::{self, TILE_WIDTH};
use crate::registry::RegistryError;
use crate::registry::views::{
    ConsistencyProof, CosignaturesAccepted, ErrorBody, InclusionProof, LogEntries, SealedEntry,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/log/checkpoint", web::get().to(get_log_checkpoint))
        .route("/log/checkpoint/cosigned", web::get().to(get_cosigned_checkpoint))
        .route("/log/cosignature", web::post().to(create_log_cosignature))
        .route("/add-checkpoint", web::post().to(add_checkpoint))
        .route("/log/key", web::get().to(get_log_key))
        .route("/log/tile/entries/{index:.*}", web::get().to(get_log_entry_bundle))
        .route("/log/tile/{level}/{index:.*}", web::get().to(get_log_tile))
        .route("/v1/log/proof/inclusion", web::get().to(get_inclusion_proof))
        .route("/v1/log/proof/consistency", web::get().to(get_consistency_proof))
        .route("/v1/log/entries", web::get().to(list_log_entries))
        .route("/v1/log/sealed/{index}", web::get().to(get_sealed_entry));
}

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// Full tiles never change; partial ones are replaced by fuller ones as the log grows.
fn tile(body: Vec<u8>, full: bool) -> HttpResponse {
    let cache = if full { "public, max-age=31536000, immutable" } else { "public, max-age=60" };
    HttpResponse::Ok().content_type("application/octet-stream").insert_header((header::CACHE_CONTROL, cache)).body(body)
}

fn parse_tile_index(index: &str) -> Result<tiles::TileAddress, RegistryError> {
    tiles::parse_index(index)
        .ok_or_else(|| RegistryError::not_found(format!("'{index}' is not a tile index (x001/x234/067[.p/W])")))
}

/// The log's current checkpoint: a C2SP `tlog-checkpoint` (origin, tree size, base64 root
/// hash) as a `signed-note`, signed with the log key (`GET /log/key`), followed by the C2SP
/// `tlog-cosignature` lines that witnesses have submitted for this tree size, if any.
///
/// With `after=N` the request is a long poll: it is answered as soon as the log holds more than
/// N entries, or after `wait` seconds (at most and by default 25) with the checkpoint as it is
/// then. Mirrors wait this
/// way, so they hear of a new entry within a fraction of a second instead of at their next poll.
#[utoipa::path(
    get, path = "/log/checkpoint", tag = "log", operation_id = "get_log_checkpoint",
    params(CheckpointWait),
    responses(
        (status = 200, description = "The signed checkpoint", body = String, content_type = "text/plain"),
        (status = 400, description = "A parameter other than `after` and `wait`, or one that is not a number", body = ErrorBody),
        (status = 503, description = "Storage unavailable or no log key", body = ErrorBody),
    )
)]
pub async fn get_log_checkpoint(state: State, query: web::Query<CheckpointWait>) -> ApiResult<HttpResponse> {
    if let Some(after) = query.after {
        let started = std::time::Instant::now();
        let longest = query.wait.map_or(LONG_POLL, |s| std::time::Duration::from_secs(s).min(LONG_POLL));
        loop {
            let registry = state.clone();
            let size = blocking(move || registry.registry.log_size()).await?;
            if size > after || started.elapsed() >= longest {
                break;
            }
            actix_web::rt::time::sleep(LONG_POLL_STEP).await;
        }
    }
    Ok(text(blocking(move || state.registry.checkpoint()).await?))
}

/// The longest a long poll of the checkpoint waits, and how often it looks at the log's size
/// meanwhile (the log's head is one row; another replica's appends are seen as well).
const LONG_POLL: std::time::Duration = std::time::Duration::from_secs(25);
const LONG_POLL_STEP: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CheckpointWait {
    /// Wait until the log holds more than this many entries (a long poll).
    after: Option<u64>,
    /// With `after`: the longest wait in seconds (at most and by default 25).
    wait: Option<u64>,
}

/// The newest checkpoint that witnesses have cosigned, with the log's signature and every
/// stored cosignature of that size. The log grows between cosignings, so the current checkpoint
/// often carries none; a client that needs a witnessed checkpoint reads this one and proves
/// consistency or inclusion against its size.
#[utoipa::path(
    get, path = "/log/checkpoint/cosigned", tag = "log", operation_id = "get_cosigned_checkpoint",
    responses(
        (status = 200, description = "The cosigned checkpoint", body = String, content_type = "text/plain"),
        (status = 404, description = "No witness has cosigned a checkpoint yet", body = ErrorBody),
        (status = 503, description = "Storage unavailable or no log key", body = ErrorBody),
    )
)]
pub async fn get_cosigned_checkpoint(state: State) -> ApiResult<HttpResponse> {
    Ok(text(blocking(move || state.registry.cosigned_checkpoint()).await?))
}

/// Submit witness cosignatures: the body is a checkpoint of this log as a signed note (the
/// log's signature line included) with one or more C2SP `tlog-cosignature` v1 lines by witnesses
/// the registry accepts (`prequal serve --witness`). Each is checked and stored, one per witness
/// and tree size, and served from then on with that checkpoint. Lines by other keys are ignored
/// (signed-note); a line claiming an accepted witness must verify.
#[utoipa::path(
    post, path = "/log/cosignature", tag = "log", operation_id = "create_log_cosignature",
    request_body(content = String, content_type = "text/plain", description = "The cosigned checkpoint note"),
    responses(
        (status = 200, description = "Accepted; which cosignatures were new", body = CosignaturesAccepted),
        (status = 400, description = "`malformed_checkpoint`: not a signed note or not a checkpoint", body = ErrorBody),
        (status = 413, description = "`upload_too_large`: a note of more than 64 KiB", body = ErrorBody),
        (status = 422, description = "`checkpoint_not_ours` (not signed by this log, or another root or size), `bad_cosignature` (a line by an accepted witness does not verify) or `no_cosignature` (no line by an accepted witness)", body = ErrorBody),
        (status = 503, description = "Storage unavailable or no log key", body = ErrorBody),
    )
)]
pub async fn create_log_cosignature(state: State, payload: web::Payload) -> ApiResult<web::Json<CosignaturesAccepted>> {
    let body = super::small_body(payload, 64 * 1024).await?;
    Ok(web::Json(blocking(move || state.registry.accept_cosignatures(&body)).await?))
}

/// C2SP `tlog-witness` `add-checkpoint`, answered by a registry run as a witness (`prequal
/// mirror --witness-log`) for the logs it is configured with, prequal's or not: the body is
/// `old <size>`, the consistency proof lines (base64), an empty line and the signed checkpoint.
/// The answer is the witness's cosignature line(s) (C2SP `tlog-cosignature`). Refusals carry
/// the statuses the protocol requires; a 409 for another old size has the size this witness
/// last cosigned as its `text/x.tlog.size` body.
#[utoipa::path(
    post, path = "/add-checkpoint", tag = "log", operation_id = "add_checkpoint",
    request_body(content = String, content_type = "text/plain", description = "old size line, proof lines, empty line, checkpoint note"),
    responses(
        (status = 200, description = "The cosignature line(s)", body = String, content_type = "text/plain"),
        (status = 400, description = "`witness_malformed_request`, or `witness_old_size_too_large` (old size above the checkpoint's)", body = ErrorBody),
        (status = 403, description = "`witness_checkpoint_not_signed`: no signature by a key trusted for the origin", body = ErrorBody),
        (status = 404, description = "`witness_unknown_log`: this registry witnesses no log of that origin", body = ErrorBody),
        (status = 409, description = "The old size is not the size last cosigned (body: that size, `text/x.tlog.size`), or `witness_root_mismatch`: the same size with another root", body = String, content_type = "text/x.tlog.size"),
        (status = 413, description = "`upload_too_large`: a request of more than 64 KiB", body = ErrorBody),
        (status = 422, description = "`witness_bad_consistency_proof`", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn add_checkpoint(state: State, payload: web::Payload) -> ApiResult<HttpResponse> {
    let body = super::small_body(payload, 64 * 1024).await?;
    let lines = blocking(move || state.registry.add_checkpoint(&body)).await?;
    Ok(HttpResponse::Ok().content_type("text/plain; charset=utf-8").body(lines))
}

/// The verifier key of the checkpoints, in signed-note form `<origin>+<key id>+<base64 key>`.
#[utoipa::path(
    get, path = "/log/key", tag = "log", operation_id = "get_log_key",
    responses(
        (status = 200, description = "The verifier key, one line", body = String, content_type = "text/plain"),
        (status = 503, description = "No log key configured", body = ErrorBody),
    )
)]
pub async fn get_log_key(state: State) -> ApiResult<HttpResponse> {
    let key = blocking(move || state.registry.log_verifier_key()).await?;
    Ok(text(format!("{key}\n")))
}

/// A hash tile (C2SP `tlog-tiles`, height 8): the 32-byte hashes of tree level `8·level`,
/// indexes `256·N` to `256·N + W − 1`. `index` is N in three-digit groups (`x001/x234/067`),
/// with `.p/W` for a partial tile of width W.
#[utoipa::path(
    get, path = "/log/tile/{level}/{index}", tag = "log", operation_id = "get_log_tile",
    params(
        ("level" = u32, Path, description = "Tile level (tree level / 8)"),
        ("index" = String, Path, description = "Tile index path, e.g. `x001/x234/067` or `067.p/12`"),
    ),
    responses(
        (status = 200, description = "The tile's hashes, concatenated", content_type = "application/octet-stream"),
        (status = 404, description = "No such tile yet, or a malformed index", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn get_log_tile(state: State, path: web::Path<(String, String)>) -> ApiResult<HttpResponse> {
    let (level, index) = path.into_inner();
    let level: u32 = level
        .parse()
        .ok()
        .filter(|_| !level.starts_with('0') || level == "0")
        .ok_or_else(|| RegistryError::not_found(format!("'{level}' is not a tile level")))?;
    let at = parse_tile_index(&index)?;
    let body = blocking(move || state.registry.log_tile(level, at)).await?;
    Ok(tile(body, at.width == TILE_WIDTH))
}

/// An entry bundle (C2SP `tlog-tiles`): entries `256·N` to `256·N + W − 1`, each as a
/// big-endian 16-bit length followed by the entry's bytes.
#[utoipa::path(
    get, path = "/log/tile/entries/{index}", tag = "log", operation_id = "get_log_entry_bundle",
    params(("index" = String, Path, description = "Tile index path, e.g. `000` or `001.p/17`")),
    responses(
        (status = 200, description = "The entry bundle; gzip-compressed (`Content-Encoding: gzip`) when the request's `Accept-Encoding` allows it", content_type = "application/octet-stream"),
        (status = 404, description = "No such bundle yet, or a malformed index", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn get_log_entry_bundle(
    state: State,
    req: actix_web::HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let at = parse_tile_index(&path.into_inner())?;
    let gzip = accepts_gzip(&req);
    let body = blocking(move || state.registry.log_entry_bundle(at)).await?;
    // tlog-tiles: entry bundles SHOULD be compressed when the client accepts it (entries are
    // text and compress well; hash tiles do not).
    let mut res = if gzip {
        let compressed = gzip_bytes(&body).map_err(|e| RegistryError::Internal(format!("gzip: {e}")))?;
        let mut res = tile(compressed, at.width == TILE_WIDTH);
        res.headers_mut().insert(header::CONTENT_ENCODING, header::HeaderValue::from_static("gzip"));
        res
    } else {
        tile(body, at.width == TILE_WIDTH)
    };
    res.headers_mut().insert(header::VARY, header::HeaderValue::from_static("Accept-Encoding"));
    Ok(res)
}

/// Whether `Accept-Encoding` lists gzip (or `*`) without `q=0`.
fn accepts_gzip(req: &actix_web::HttpRequest) -> bool {
    let kept = actix_web::HttpMessage::extensions(req).get::<super::AcceptedEncoding>().map(|a| a.0.clone());
    let headers = req.headers().get_all(header::ACCEPT_ENCODING).cloned();
    headers
        .chain(kept)
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .flat_map(|v| v.split(',').map(str::to_owned).collect::<Vec<_>>())
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused =
                parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn gzip_bytes(body: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 3), flate2::Compression::default());
    enc.write_all(body)?;
    enc.finish()
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The package digest, `sha256:<hex>`.
    pub digest: String,
    /// The tree size to prove against (a checkpoint's size); the current size if absent.
    pub size: Option<u64>,
}

/// The inclusion proof of a package's `package_published` entry, for a package the caller may
/// see.
#[utoipa::path(
    get, path = "/v1/log/proof/inclusion", tag = "log", operation_id = "get_inclusion_proof",
    params(InclusionQuery),
    responses(
        (status = 200, description = "The proof", body = InclusionProof),
        (status = 400, description = "Malformed digest, or size larger than the log or not covering the entry; the message names the parameter", body = ErrorBody),
        (status = 401, description = "Invalid or revoked token", body = ErrorBody),
        (status = 404, description = "No such package that the caller may see", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn get_inclusion_proof(
    state: State,
    auth: MaybeAuth,
    q: web::Query<InclusionQuery>,
) -> ApiResult<web::Json<InclusionProof>> {
    let reader = auth.reader();
    let q = q.into_inner();
    Ok(web::Json(blocking(move || state.registry.inclusion_proof(&reader, &q.digest, q.size)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older tree size.
    pub from: u64,
    /// The newer tree size (at most the log's size).
    pub to: u64,
}

/// The consistency proof between two tree sizes.
#[utoipa::path(
    get, path = "/v1/log/proof/consistency", tag = "log", operation_id = "get_consistency_proof",
    params(ConsistencyQuery),
    responses(
        (status = 200, description = "The proof", body = ConsistencyProof),
        (status = 400, description = "from larger than to, or to larger than the log; the message names the parameter", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn get_consistency_proof(
    state: State,
    q: web::Query<ConsistencyQuery>,
) -> ApiResult<web::Json<ConsistencyProof>> {
    let (from, to) = (q.from, q.to);
    Ok(web::Json(blocking(move || state.registry.consistency_proof(from, to)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EntriesQuery {
    /// The first index.
    pub start: u64,
    /// One past the last index (at most 1000 after start).
    pub end: u64,
}

/// Log entries as text, for people and scripts (mirrors read entry bundles).
#[utoipa::path(
    get, path = "/v1/log/entries", tag = "log", operation_id = "list_log_entries",
    params(EntriesQuery),
    responses(
        (status = 200, description = "The entries", body = LogEntries),
        (status = 400, description = "end beyond the log, or a range that is reversed or too long", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    )
)]
pub async fn list_log_entries(state: State, q: web::Query<EntriesQuery>) -> ApiResult<web::Json<LogEntries>> {
    let (start, end) = (q.start, q.end);
    Ok(web::Json(blocking(move || state.registry.log_entries(start, end)).await?))
}

/// Opens a sealed log entry (a change to a non-public package) for a caller who may see the
/// package: the full entry and the salt, so SHA-256(salt ‖ full entry) can be checked against
/// the public entry's `sealed` line.
#[utoipa::path(
    get, path = "/v1/log/sealed/{index}", tag = "log", operation_id = "get_sealed_entry",
    params(("index" = u64, Path, description = "The entry's index in the log")),
    responses(
        (status = 200, description = "The opened entry", body = SealedEntry),
        (status = 401, description = "Invalid or revoked token", body = ErrorBody),
        (status = 404, description = "No sealed entry at that index whose package the caller may see", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn get_sealed_entry(
    state: State,
    auth: MaybeAuth,
    index: web::Path<u64>,
) -> ApiResult<web::Json<SealedEntry>> {
    let reader = auth.reader();
    let index = index.into_inner();
    Ok(web::Json(blocking(move || state.registry.open_sealed(&reader, index)).await?))
}
