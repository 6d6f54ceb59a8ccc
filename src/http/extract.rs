//! Extractors whose rejections are our JSON errors (`{"error": reason}` with the right 4xx),
//! not axum's plain-text ones: axum's own extractor does the work (`via`), the rejection is
//! turned into an [`ApiError`] by its `From` impl in `error.rs`.

use axum::extract::{FromRequest, FromRequestParts};

use super::ApiError;

/// JSON body: 413 too large, 415 not JSON, 400 bad syntax, 422 wrong shape.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Query string: 400 with the reason.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Path parameters: 400 with the reason.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);
