//! Extractors that turn a request into checked values, answering in the API's one error shape
//! when they cannot: JSON bodies, the client's address and device, and the signed-in session.

use std::net::{IpAddr, SocketAddr};

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use porchlight_proto::{CSRF_HEADER, DEVICE_HEADER, ErrorCode, WEB_HEADER};
use porchlight_store::{Account, Device, Hub, STATE_ACTIVE, Session, Staff};
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

use crate::auth::browser::{self, CookieToken};
use crate::auth::guard::source_key;
use crate::auth::secrets::{device_hash, looks_like_token, token_hash, valid_device_id};
use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body, refused with a precise error (and no echo of its values) when it is not one.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(req, state)
            .await
            .map(|j| Self(j.0))
            .map_err(json_rejection)
    }
}

/// A JSON body already read, parsed with the same errors as [`ApiJson`]: for handlers that
/// check who is asking before they look at what was sent.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    axum::Json::<T>::from_bytes(body)
        .map(|j| j.0)
        .map_err(json_rejection)
}

/// A JSON body's content type, for handlers that read the body as bytes (to check who is
/// asking before they look at what was sent) and parse it with [`parse_json`]: refused
/// (`415`) like [`ApiJson`] unless the body is sent as `application/json` (or `+json`).
#[derive(Debug, Clone, Copy)]
pub struct JsonContent;

impl<S: Send + Sync> FromRequestParts<S> for JsonContent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        if is_json(&parts.headers) {
            Ok(Self)
        } else {
            Err(not_json())
        }
    }
}

/// A JSON body read as bytes, for handlers that check who is asking before they look at what
/// was sent and then parse it with [`parse_json`]: the content type checked as [`JsonContent`]
/// does, the body limit answered in the API's error shape (`413`), as [`ApiJson`] does.
#[derive(Debug)]
pub struct JsonBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(not_json());
        }
        axum::body::Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        ErrorCode::PayloadTooLarge,
                        "the body is larger than this server accepts",
                    )
                } else {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        ErrorCode::MalformedRequest,
                        "the body could not be read",
                    )
                }
            })
    }
}

/// The rule axum's JSON extractor applies: `application/json` or `application/…+json`.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(essence) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
    else {
        return false;
    };
    let essence = essence.trim().to_ascii_lowercase();
    essence
        .strip_prefix("application/")
        .is_some_and(|sub| sub == "json" || sub.ends_with("+json"))
}

fn not_json() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorCode::UnsupportedMediaType,
        "send the body as application/json",
    )
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => not_json(),
        JsonRejection::JsonSyntaxError(_) => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedRequest,
            "the body is not valid JSON",
        ),
        JsonRejection::JsonDataError(e) => data_error(&e.body_text()),
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            "the body is larger than this server accepts",
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::MalformedRequest,
            "the body could not be read",
        ),
    }
}

/// serde's messages can quote the offending value (a password, say); keep only field names.
fn data_error(text: &str) -> ApiError {
    let field = text
        .split('`')
        .nth(1)
        .filter(|f| f.len() <= 64 && f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if text.contains("unknown field") {
        let message = match field {
            Some(f) => format!("unknown field `{f}`"),
            None => "the body has a field this route does not take".into(),
        };
        return ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::UnknownField, message);
    }
    let message = match (text.contains("missing field"), field) {
        (true, Some(f)) => format!("missing field `{f}`"),
        _ => "the body does not have the shape this route expects".into(),
    };
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::MalformedRequest,
        message,
    )
}

/// Query parameters, with the API's error shape.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e: QueryRejection| {
                let _ = e;
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::MalformedRequest,
                    "the query string is not valid for this route",
                )
            })
    }
}

/// Path parameters, with the API's error shape.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e: PathRejection| {
                let _ = e;
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::MalformedRequest,
                    "the path is not valid for this route",
                )
            })
    }
}

/// The client's address, as the key throttles count it under (see [`source_key`]).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let forwarded = state
            .config
            .trust_forwarded_for
            .then(|| parts.headers.get("x-forwarded-for"))
            .flatten()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let ip = forwarded
            .or(peer)
            .unwrap_or(IpAddr::V4([0, 0, 0, 0].into()));
        Ok(Self(source_key(ip)))
    }
}

/// The client device id the request comes from (the `porchlight-device` header).
#[derive(Debug, Clone)]
pub struct DeviceId(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DeviceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .headers
            .get(DEVICE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|id| valid_device_id(id))
            .map(|id| Self(id.to_owned()))
            .ok_or_else(|| {
                ApiError::invalid_input(format!(
                    "send a {DEVICE_HEADER} header: 16 to 64 letters, digits, - or _"
                ))
            })
    }
}

/// The bearer token of the request, refused (`401`) before any store access unless it has
/// the shape of one this server issues.
fn bearer_token(parts: &Parts) -> Result<zeroize::Zeroizing<String>, ApiError> {
    parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|t| looks_like_token(t))
        .map(|t| zeroize::Zeroizing::new(t.to_owned()))
        .ok_or_else(ApiError::unauthenticated)
}

/// How a request presented its session token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer`: the CLI, other API clients.
    Bearer,
    /// The `porchlight_session` cookie: the browser app.
    Cookie,
}

/// A signed-in request: a live session, used from the device it was created on.
///
/// The token comes from `Authorization: Bearer`, or, only when there is no `Authorization`
/// header, from the session cookie. A cookie is sent by the browser whoever's page asks, so
/// a cookie request must also show it came from the app: a write carries the session's CSRF
/// token in `x-csrf-token` and no browser statement of another origin (`Sec-Fetch-Site`,
/// `Origin`); a WebSocket handshake has an `Origin` of this host. Otherwise `403 csrf`,
/// before the handler reads a byte of the body.
#[derive(Debug, Clone)]
pub struct Authed {
    pub account: Account,
    pub session: Session,
    pub credential: Credential,
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, credential) = session_token(parts)?;
        let device = session_device(parts)?;
        if credential == Credential::Cookie {
            check_cookie_origin(parts)?;
        }
        let Some((session, account)) = state.store.session_by_token(&token_hash(&token)).await?
        else {
            return Err(ApiError::unauthenticated());
        };
        // A copied token is useless from another device.
        if !bool::from(session.device_hash.ct_eq(&device_hash(&device))) {
            return Err(ApiError::unauthenticated());
        }
        if credential == Credential::Cookie && browser::writes(&parts.method) {
            check_csrf_token(parts, state, &session)?;
        }
        let now = state.now_ms();
        let idle_ms = state.config.session.idle_timeout_secs.saturating_mul(1000);
        if now >= session.expires_at_ms || now >= session.last_seen_at_ms.saturating_add(idle_ms) {
            state
                .store
                .delete_session(&account.id, &session.id, None)
                .await?;
            return Err(ApiError::unauthenticated());
        }
        // Last-seen moves at most once a minute: idle expiry needs no finer grain, and a write
        // per request would make every read a write.
        if now - session.last_seen_at_ms >= 60_000 {
            state.store.touch_session(&session.id, now).await?;
        }
        Ok(Self {
            account,
            session,
            credential,
        })
    }
}

/// The session token: the bearer token when there is an `Authorization` header (and then
/// only it), else the session cookie; shaped like a token or refused before the store.
fn session_token(parts: &Parts) -> Result<(zeroize::Zeroizing<String>, Credential), ApiError> {
    if parts
        .headers
        .contains_key(axum::http::header::AUTHORIZATION)
    {
        return bearer_token(parts).map(|token| (token, Credential::Bearer));
    }
    match browser::cookie_token(&parts.headers) {
        CookieToken::Token(token) => Ok((token, Credential::Cookie)),
        CookieToken::Absent | CookieToken::Unusable => Err(ApiError::unauthenticated()),
    }
}

/// The device the request comes from: the `porchlight-device` header, or, on a WebSocket
/// handshake without that header, the device a browser names among its subprotocols.
fn session_device(parts: &Parts) -> Result<String, ApiError> {
    let id = if parts.headers.contains_key(DEVICE_HEADER) {
        parts
            .headers
            .get(DEVICE_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|id| valid_device_id(id))
            .map(str::to_owned)
    } else if browser::is_websocket_upgrade(&parts.method, &parts.headers) {
        browser::websocket_device(&parts.headers)
    } else {
        None
    };
    id.ok_or_else(ApiError::unauthenticated)
}

/// The browser's own word on where a cookie request came from, checked before the store is
/// asked anything: a write or a WebSocket handshake from another origin is refused.
fn check_cookie_origin(parts: &Parts) -> Result<(), ApiError> {
    let upgrade = browser::is_websocket_upgrade(&parts.method, &parts.headers);
    if (upgrade || browser::writes(&parts.method))
        && !browser::from_same_origin(&parts.headers, upgrade)
    {
        return Err(csrf_refused());
    }
    Ok(())
}

/// A cookie write must carry the session's CSRF token, which only the app's page holds.
fn check_csrf_token(parts: &Parts, state: &AppState, session: &Session) -> Result<(), ApiError> {
    let expected = state.secret.csrf_token(&session.token_hash);
    let sent = parts.headers.get(CSRF_HEADER).map(|v| v.as_bytes());
    match sent {
        Some(sent) if bool::from(sent.ct_eq(expected.as_bytes())) => Ok(()),
        _ => Err(csrf_refused()),
    }
}

fn csrf_refused() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorCode::Csrf,
        "this request did not come from the Porchlight app",
    )
}

/// Whether cookies set in the answer carry `Secure`: always, except when the request's
/// `Host` is a loopback name or address (`localhost`, 127.0.0.0/8, `[::1]`, any port). A
/// browser will not send a `Secure` cookie over plain http, and a server on the developer's
/// own machine is reached over plain http; a loopback connection never crosses a network a
/// `Secure` cookie would protect it from. The `Host` is the client's word, but so is the
/// cookie's fate: a client that lies about it only weakens its own cookie.
#[derive(Debug, Clone, Copy)]
pub struct CookieSecurity {
    pub secure: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for CookieSecurity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let loopback = browser::request_host(&parts.headers).is_some_and(browser::is_loopback_host);
        Ok(Self { secure: !loopback })
    }
}

/// A sign-in from the browser app (`porchlight-web: 1`): the session goes into a cookie and
/// the answer does not hold the token. `None` for every other client. A browser sign-in
/// from another origin is refused (`403 csrf`), so no page can sign a visitor in to an
/// account of its choosing.
#[derive(Debug, Clone, Copy)]
pub struct WebSignIn(pub Option<CookieSecurity>);

impl<S: Send + Sync> FromRequestParts<S> for WebSignIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get(WEB_HEADER) else {
            return Ok(Self(None));
        };
        if value.as_bytes() != b"1" {
            return Err(ApiError::invalid_input(format!(
                "{WEB_HEADER} is 1 from the browser app, and absent otherwise"
            )));
        }
        if !browser::from_same_origin(&parts.headers, false) {
            return Err(csrf_refused());
        }
        let security = CookieSecurity::from_request_parts(parts, state).await?;
        Ok(Self(Some(security)))
    }
}

/// A signed-in request from a device the account's verified chain names: what every route
/// that hands out or changes clips requires. A device that signed in but is still waiting
/// for approval (or was removed) is refused with `403 device_not_approved`.
#[derive(Debug, Clone)]
pub struct DeviceAuthed {
    pub account: Account,
    pub session: Session,
    pub device: Device,
}

impl FromRequestParts<AppState> for DeviceAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authed {
            account, session, ..
        } = Authed::from_request_parts(parts, state).await?;
        match state
            .store
            .device_by_hash(&account.id, &session.device_hash)
            .await?
        {
            Some(device) if device.state == STATE_ACTIVE => Ok(Self {
                account,
                session,
                device,
            }),
            _ => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::DeviceNotApproved,
                "this device is not in the account's device chain; approve it from another \
                 device or restore it with the recovery code",
            )),
        }
    }
}

/// A request from a paired hub, by the short-lived token it got for a signed challenge. Hub
/// tokens open only the `/api/hub/…` routes; sessions never do. Bearer only: a hub is not a
/// browser, and no cookie is ever read here.
#[derive(Debug, Clone)]
pub struct HubAuthed {
    pub hub: Hub,
}

impl FromRequestParts<AppState> for HubAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let hub = state
            .store
            .hub_by_token(&token_hash(&token), state.now_ms())
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        Ok(Self { hub })
    }
}

/// A request from a signed-in staff member (a staff session token; customer sessions and
/// hub tokens never open staff routes). Bearer only: a staff token in a cookie opens
/// nothing.
#[derive(Debug, Clone)]
pub struct StaffAuthed {
    pub staff: Staff,
}

impl FromRequestParts<AppState> for StaffAuthed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let staff = state
            .store
            .staff_by_session(&token_hash(&token), state.now_ms())
            .await?
            .ok_or_else(ApiError::unauthenticated)?;
        Ok(Self { staff })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_errors_never_echo_values() {
        let e = data_error(
            "invalid type: string \"hunter2-secret\", expected a boolean at line 1 column 30",
        );
        assert!(!e.message.contains("hunter2"));
        assert_eq!(e.code, ErrorCode::MalformedRequest);
        let e = data_error("unknown field `admin`, expected one of `email`, `password`");
        assert_eq!(e.message, "unknown field `admin`");
        assert_eq!(e.code, ErrorCode::UnknownField);
        let e = data_error("missing field `password` at line 1 column 2");
        assert_eq!(e.message, "missing field `password`");
    }

    #[test]
    fn json_content_types() {
        let with = |t: &str| {
            let mut h = axum::http::HeaderMap::new();
            match t.parse() {
                Ok(value) => {
                    h.insert(axum::http::header::CONTENT_TYPE, value);
                    is_json(&h)
                }
                Err(_) => false,
            }
        };
        assert!(with("application/json") && with("application/json; charset=utf-8"));
        assert!(with("Application/JSON") && with("application/problem+json"));
        assert!(!with("text/plain") && !with("application/jsonx") && !with("text/json"));
        assert!(!is_json(&axum::http::HeaderMap::new()));
    }
}
