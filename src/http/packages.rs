//! `/v1/packages`: publish, list, get, download, countersign, withdraw.

use std::io::Write as _;

use actix_files::{HttpRange, NamedFile};
use actix_web::body::SizedStream;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;
use sha2::{Digest, Sha256};

use super::{ApiError, ApiResult, Auth, MaybeAuth, State, blocking};
use crate::registry::views::{ErrorBody, PackageDetail, PackageList, PackageQuery, WithdrawRequest};
use crate::registry::{RegistryError, Upload};
use crate::store::blobs::BlobLocation;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/packages", web::post().to(publish_package))
        .route("/v1/packages", web::get().to(list_packages))
        .route("/v1/packages/{digest}", web::get().to(get_package))
        .route("/v1/packages/{digest}/download", web::get().to(download_package))
        .route("/v1/packages/{digest}/signatures", web::post().to(countersign_package))
        .route("/v1/packages/{digest}/withdraw", web::post().to(withdraw_package));
}

/// Publish a package.
///
/// The body is the package file itself (`application/zip`), streamed to disk under the size
/// limit, verified (structure, every hash, manifest, data, signatures), and stored atomically.
/// The publishing lab must have signed it with an active registered key. Publishing the same
/// package again returns the existing record (200).
#[utoipa::path(
    post, path = "/v1/packages", tag = "packages", operation_id = "publish_package",
    request_body(content = Vec<u8>, content_type = "application/zip", description = "The package file"),
    responses(
        (status = 201, description = "Published", body = PackageDetail),
        (status = 200, description = "Already published (same package)", body = PackageDetail),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not a lab token, or the name belongs to another organisation", body = ErrorBody),
        (status = 409, description = "Same name and version with other content", body = ErrorBody),
        (status = 413, description = "Larger than the upload limit", body = ErrorBody),
        (status = 422, description = "The package failed verification or its signers were refused", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
        (status = 507, description = "The registry's storage is full (storage_full); nothing was stored", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn publish_package(
    state: State,
    auth: Auth,
    req: HttpRequest,
    mut payload: web::Payload,
) -> ApiResult<HttpResponse> {
    crate::registry::policy::authorize(&auth.0, crate::registry::policy::Action::Publish)?;
    let max = state.registry.policy.max_upload_bytes;
    let declared =
        req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max) {
        return Err(RegistryError::UploadTooLarge { max }.into());
    }
    let file = state.registry.store.blobs.temp_file().map_err(|e| RegistryError::io("temporary file", e))?;
    let mut writer = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| RegistryError::bad_request(format!("reading the upload: {e}")))?;
        size += chunk.len() as u64;
        if size > max {
            return Err(RegistryError::UploadTooLarge { max }.into());
        }
        hasher.update(&chunk);
        writer.write_all(&chunk).map_err(|e| RegistryError::io("temporary file", e))?;
    }
    if size == 0 {
        return Err(RegistryError::bad_request("the request body is empty; send the package file").into());
    }
    let file = writer.into_inner().map_err(|e| RegistryError::io("temporary file", e.into_error()))?;
    let upload = Upload { file, sha256_hex: hex::encode(hasher.finalize()), size };
    let principal = auth.0;
    let st = state.clone();
    let (detail, created) = blocking(move || st.registry.publish(&principal, upload)).await?;
    let mut res = if created { HttpResponse::Created() } else { HttpResponse::Ok() };
    Ok(res.insert_header((header::LOCATION, format!("/v1/packages/{}", detail.summary.digest))).json(detail))
}

/// List packages the caller may see.
#[utoipa::path(
    get, path = "/v1/packages", tag = "packages", operation_id = "list_packages",
    params(PackageQuery),
    responses(
        (status = 200, description = "A page of packages, newest first", body = PackageList),
        (status = 400, description = "Bad filter", body = ErrorBody),
        (status = 401, description = "Invalid or revoked token", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn list_packages(state: State, auth: MaybeAuth, query: web::Query<PackageQuery>) -> ApiResult<HttpResponse> {
    let reader = auth.reader();
    let list = blocking(move || state.registry.list_packages(&reader, &query)).await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Get one package: manifest, datasets, verification record, signatures, status.
#[utoipa::path(
    get, path = "/v1/packages/{digest}", tag = "packages", operation_id = "get_package",
    params(("digest" = String, Path, description = "Package digest, `sha256:<hex>`")),
    responses(
        (status = 200, description = "The package", body = PackageDetail),
        (status = 400, description = "Not a digest", body = ErrorBody),
        (status = 401, description = "Invalid or revoked token", body = ErrorBody),
        (status = 404, description = "No such package, or not releasable to the caller", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn get_package(state: State, auth: MaybeAuth, digest: web::Path<String>) -> ApiResult<HttpResponse> {
    let reader = auth.reader();
    let detail = blocking(move || state.registry.detail(&reader, &digest)).await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// Download the exact bytes that were verified. ETag is the package digest; Range requests are
/// supported.
#[utoipa::path(
    get, path = "/v1/packages/{digest}/download", tag = "packages", operation_id = "download_package",
    params(("digest" = String, Path, description = "Package digest, `sha256:<hex>`")),
    responses(
        (status = 200, description = "The package file", content_type = "application/zip", body = Vec<u8>),
        (status = 206, description = "Part of the package file (Range)", content_type = "application/zip", body = Vec<u8>),
        (status = 304, description = "Not modified (If-None-Match)"),
        (status = 400, description = "Not a digest", body = ErrorBody),
        (status = 401, description = "Invalid or revoked token", body = ErrorBody),
        (status = 404, description = "No such package, or not releasable to the caller", body = ErrorBody),
        (status = 416, description = "Range not satisfiable"),
        (status = 500, description = "The stored file is missing (`blob_missing`)", body = ErrorBody),
        (status = 503, description = "Storage unavailable; `blob_store_unavailable` when the object store does not answer", body = ErrorBody),
    ),
    security((), ("bearer" = []))
)]
pub async fn download_package(
    state: State,
    auth: MaybeAuth,
    digest: web::Path<String>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let reader = auth.reader();
    let (location, filename, digest, size) = blocking(move || state.registry.blob(&reader, &digest)).await?;
    let etag = format!("\"{digest}\"");
    let etag_value =
        HeaderValue::from_str(&etag).map_err(|e| ApiError(RegistryError::Internal(format!("etag: {e}"))))?;
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag_value)).finish());
    }
    let disposition = ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(filename)],
    };
    let zip = "application/zip".parse().unwrap_or(mime::APPLICATION_OCTET_STREAM);
    let mut res = match location {
        BlobLocation::File(path) => NamedFile::open_async(&path)
            .await
            .map_err(|e| ApiError(RegistryError::Unavailable(format!("opening the stored package: {e}"))))?
            .use_etag(false)
            .use_last_modified(false)
            .set_content_type(zip)
            .set_content_disposition(disposition)
            .into_response(&req),
        BlobLocation::Object { store, sha256 } => {
            // One range (a resumed download) is served as 206; several are answered with the
            // whole file, which HTTP allows.
            let range = match req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()) {
                None => None,
                Some(value) => match HttpRange::parse(value, size) {
                    Ok(ranges) if ranges.len() == 1 => ranges.first().map(|r| r.start..r.start + r.length),
                    Ok(_) => None,
                    Err(_) => {
                        return Ok(HttpResponse::RangeNotSatisfiable()
                            .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                            .finish());
                    }
                },
            };
            let stream = store.stream(&sha256, range.clone()).await.map_err(|e| ApiError(e.into()))?;
            let mut builder = match &range {
                Some(r) => {
                    let mut b = HttpResponse::PartialContent();
                    b.insert_header((header::CONTENT_RANGE, format!("bytes {}-{}/{size}", r.start, r.end - 1)));
                    b
                }
                None => HttpResponse::Ok(),
            };
            let length = range.map_or(size, |r| r.end - r.start);
            builder
                .content_type(zip)
                .insert_header(disposition)
                .insert_header((header::ACCEPT_RANGES, "bytes"))
                .body(SizedStream::new(length, stream))
        }
    };
    res.headers_mut().insert(header::ETAG, etag_value);
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    Ok(res)
}

/// Countersign a package (certifier token). The body is a signature document as written by
/// `prequal sign` (`signatures/<key_id>.json`), made with an active key of the caller's
/// organisation.
#[utoipa::path(
    post, path = "/v1/packages/{digest}/signatures", tag = "packages", operation_id = "countersign_package",
    params(("digest" = String, Path, description = "Package digest, `sha256:<hex>`")),
    request_body(content = Object, content_type = "application/json", description = "A prequal signature document"),
    responses(
        (status = 201, description = "Countersignature recorded", body = PackageDetail),
        (status = 200, description = "This key had already countersigned", body = PackageDetail),
        (status = 400, description = "Not a digest", body = ErrorBody),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not a certifier token", body = ErrorBody),
        (status = 404, description = "No such package, or not releasable to the caller", body = ErrorBody),
        (status = 422, description = "The signature is invalid or its key is not an active key of the caller", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn countersign_package(
    state: State,
    auth: Auth,
    digest: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body = super::small_body(payload, 64 * 1024).await?;
    let principal = auth.0;
    let (detail, created) = blocking(move || state.registry.countersign(&principal, &digest, &body)).await?;
    Ok(if created { HttpResponse::Created().json(detail) } else { HttpResponse::Ok().json(detail) })
}

/// Withdraw a package with a reason (its lab, or an operator). Nothing is deleted: the package
/// stays downloadable, marked withdrawn, and no longer counts as evidence.
#[utoipa::path(
    post, path = "/v1/packages/{digest}/withdraw", tag = "packages", operation_id = "withdraw_package",
    params(("digest" = String, Path, description = "Package digest, `sha256:<hex>`")),
    request_body = WithdrawRequest,
    responses(
        (status = 200, description = "Withdrawn (or already withdrawn)", body = PackageDetail),
        (status = 400, description = "Missing reason or bad digest", body = ErrorBody),
        (status = 401, description = "No, invalid or revoked token", body = ErrorBody),
        (status = 403, description = "Not the publishing lab or an operator", body = ErrorBody),
        (status = 404, description = "No such package, or not releasable to the caller", body = ErrorBody),
        (status = 503, description = "Storage unavailable", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub async fn withdraw_package(
    state: State,
    auth: Auth,
    digest: web::Path<String>,
    body: web::Json<WithdrawRequest>,
) -> ApiResult<HttpResponse> {
    let principal = auth.0;
    let detail = blocking(move || state.registry.withdraw(&principal, &digest, &body.reason)).await?;
    Ok(HttpResponse::Ok().json(detail))
}
