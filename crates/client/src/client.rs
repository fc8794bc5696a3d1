//! Typed calls to the server's HTTP API, one method per route.

use std::fmt;
use std::time::Duration;

use porchlight_proto as proto;
use reqwest::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::device::DeviceId;
use crate::error::{ClientError, code_for_status};
use crate::secret::Secret;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Generous: a sign-in waits for Argon2 on a server that may be busy.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Larger answers are refused rather than buffered; the biggest list is far below this.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// Clip uploads and downloads may be large and slow; they get an hour, not a minute.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(3600);

/// Which clips [`Client::clips`] asks for.
#[derive(Debug, Clone, Default)]
pub struct ClipFilter {
    pub camera: Option<String>,
    pub camera_name: Option<String>,
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// A client of one server, speaking for one device and at most one session.
///
/// Request types that carry a password or code (`LoginRequest`, …) are borrowed and sent as
/// they are; the caller owns them and decides how long they live.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// Normalised: no trailing slash.
    base_url: String,
    device_id: DeviceId,
    token: Option<Secret>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("device_id", &self.device_id)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Whether a route needs the session token.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Auth {
    None,
    Bearer,
}

impl Client {
    /// A client of the server at `base_url` (`http://` or `https://`, optionally with a path
    /// prefix), sending `device_id` with every request.
    pub fn new(base_url: &str, device_id: DeviceId) -> Result<Self, ClientError> {
        let base_url = normalise_server_url(base_url)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("porchlight/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // Passwords and tokens go to the URL given, never to wherever a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(ClientError::transport)?;
        Ok(Self {
            http,
            base_url,
            device_id,
            token: None,
        })
    }

    /// The same client, signed in with `token`.
    pub fn with_token(mut self, token: Secret) -> Self {
        self.token = Some(token);
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn device_id(&self) -> &DeviceId {
        &self.device_id
    }

    pub fn is_signed_in(&self) -> bool {
        self.token.is_some()
    }

    // ---- sign-up and sign-in ----

    /// `POST /api/signup`: starts an account; nothing is usable until [`Self::signup_confirm`].
    pub async fn signup(
        &self,
        request: &proto::SignupRequest,
    ) -> Result<proto::SignupResponse, ClientError> {
        let builder = self.request(Method::POST, "/api/signup", Auth::None)?;
        self.json("POST /api/signup", builder.json(request)).await
    }

    /// `POST /api/signup/confirm`: finishes TOTP enrolment and signs in.
    pub async fn signup_confirm(
        &self,
        request: &proto::SignupConfirmRequest,
    ) -> Result<proto::SessionCreated, ClientError> {
        let builder = self.request(Method::POST, "/api/signup/confirm", Auth::None)?;
        self.json("POST /api/signup/confirm", builder.json(request))
            .await
    }

    /// `POST /api/login`.
    pub async fn login(
        &self,
        request: &proto::LoginRequest,
    ) -> Result<proto::SessionCreated, ClientError> {
        let builder = self.request(Method::POST, "/api/login", Auth::None)?;
        self.json("POST /api/login", builder.json(request)).await
    }

    /// `POST /api/logout`: ends this session (and, with `everywhere`, every other one).
    pub async fn logout(
        &self,
        request: &proto::LogoutRequest,
    ) -> Result<proto::Revoked, ClientError> {
        let builder = self.request(Method::POST, "/api/logout", Auth::Bearer)?;
        self.json("POST /api/logout", builder.json(request)).await
    }

    // ---- the account and its sessions ----

    /// `GET /api/me`.
    pub async fn me(&self) -> Result<proto::Me, ClientError> {
        let builder = self.request(Method::GET, "/api/me", Auth::Bearer)?;
        self.json("GET /api/me", builder).await
    }

    /// `GET /api/session/csrf`: the CSRF token a cookie-authenticated write of this session
    /// would carry (the browser app's concern; a bearer client never needs it).
    pub async fn csrf_token(&self) -> Result<proto::CsrfToken, ClientError> {
        let builder = self.request(Method::GET, "/api/session/csrf", Auth::Bearer)?;
        self.json("GET /api/session/csrf", builder).await
    }

    /// `GET /api/sessions`.
    pub async fn sessions(&self) -> Result<proto::SessionList, ClientError> {
        let builder = self.request(Method::GET, "/api/sessions", Auth::Bearer)?;
        self.json("GET /api/sessions", builder).await
    }

    /// `DELETE /api/sessions/{id}`: ends one of this account's sessions.
    pub async fn revoke_session(&self, session_id: &str) -> Result<(), ClientError> {
        let path = format!("/api/sessions/{}", encode_path_segment(session_id));
        let builder = self.request(Method::DELETE, &path, Auth::Bearer)?;
        self.empty("DELETE /api/sessions/{id}", builder).await
    }

    /// `POST /api/password`: ends every other session.
    pub async fn change_password(
        &self,
        request: &proto::PasswordChangeRequest,
    ) -> Result<proto::Revoked, ClientError> {
        let builder = self.request(Method::POST, "/api/password", Auth::Bearer)?;
        self.json("POST /api/password", builder.json(request)).await
    }

    /// `POST /api/totp/reset`: starts replacing the second factor.
    pub async fn totp_reset(
        &self,
        request: &proto::TotpResetRequest,
    ) -> Result<proto::TotpEnrolment, ClientError> {
        let builder = self.request(Method::POST, "/api/totp/reset", Auth::Bearer)?;
        self.json("POST /api/totp/reset", builder.json(request))
            .await
    }

    /// `POST /api/totp/reset/confirm`: activates the new factor and ends every other session.
    pub async fn totp_reset_confirm(
        &self,
        request: &proto::TotpResetConfirmRequest,
    ) -> Result<proto::TotpResetDone, ClientError> {
        let builder = self.request(Method::POST, "/api/totp/reset/confirm", Auth::Bearer)?;
        self.json("POST /api/totp/reset/confirm", builder.json(request))
            .await
    }

    // ---- a forgotten password, a changed address ----

    /// `POST /api/password/forgot`: a reset link to the address, if it has an account.
    pub async fn password_forgot(
        &self,
        request: &proto::PasswordForgotRequest,
    ) -> Result<proto::MailAccepted, ClientError> {
        let builder = self.request(Method::POST, "/api/password/forgot", Auth::None)?;
        self.json("POST /api/password/forgot", builder.json(request))
            .await
    }

    /// `POST /api/password/reset`: the emailed token and the second factor set a new
    /// password; every session of the account ends.
    pub async fn password_reset(
        &self,
        request: &proto::PasswordResetRequest,
    ) -> Result<proto::PasswordResetDone, ClientError> {
        let builder = self.request(Method::POST, "/api/password/reset", Auth::None)?;
        self.json("POST /api/password/reset", builder.json(request))
            .await
    }

    /// `POST /api/email`: a confirmation link to the new address.
    pub async fn change_email(
        &self,
        request: &proto::EmailChangeRequest,
    ) -> Result<proto::MailAccepted, ClientError> {
        let builder = self.request(Method::POST, "/api/email", Auth::Bearer)?;
        self.json("POST /api/email", builder.json(request)).await
    }

    /// `POST /api/email/confirm`: the new address's token makes it the account's.
    pub async fn confirm_email(
        &self,
        request: &proto::EmailTokenRequest,
    ) -> Result<proto::EmailChanged, ClientError> {
        let builder = self.request(Method::POST, "/api/email/confirm", Auth::None)?;
        self.json("POST /api/email/confirm", builder.json(request))
            .await
    }

    /// `POST /api/email/undo`: the old address's token takes the change back and ends every
    /// session.
    pub async fn undo_email_change(
        &self,
        request: &proto::EmailTokenRequest,
    ) -> Result<proto::EmailChanged, ClientError> {
        let builder = self.request(Method::POST, "/api/email/undo", Auth::None)?;
        self.json("POST /api/email/undo", builder.json(request))
            .await
    }

    // ---- activity and notifications ----

    /// `GET /api/activity`, newest first; `limit` is the server's default when `None`.
    pub async fn activity(&self, limit: Option<u32>) -> Result<proto::ActivityList, ClientError> {
        let path = match limit {
            Some(limit) => format!("/api/activity?limit={limit}"),
            None => "/api/activity".to_owned(),
        };
        let builder = self.request(Method::GET, &path, Auth::Bearer)?;
        self.json("GET /api/activity", builder).await
    }

    /// `GET /api/notifications`.
    pub async fn notifications(&self) -> Result<proto::NotificationList, ClientError> {
        let builder = self.request(Method::GET, "/api/notifications", Auth::Bearer)?;
        self.json("GET /api/notifications", builder).await
    }

    /// `POST /api/notifications/read`: marks every notification read.
    pub async fn mark_notifications_read(&self) -> Result<(), ClientError> {
        let builder = self.request(Method::POST, "/api/notifications/read", Auth::Bearer)?;
        self.empty("POST /api/notifications/read", builder).await
    }

    // ---- the device chain and devices ----

    /// `GET /api/chain`: the account's chain as the server has it (verify it before use).
    pub async fn chain(&self) -> Result<proto::ChainLinks, ClientError> {
        let builder = self.request(Method::GET, "/api/chain", Auth::Bearer)?;
        self.json("GET /api/chain", builder).await
    }

    /// `POST /api/chain`: appends signed links.
    pub async fn append_chain(
        &self,
        request: &proto::ChainLinks,
    ) -> Result<proto::ChainHead, ClientError> {
        let builder = self.request(Method::POST, "/api/chain", Auth::Bearer)?;
        self.json("POST /api/chain", builder.json(request)).await
    }

    /// `POST /api/devices`: announces this device's public keys.
    pub async fn register_device(
        &self,
        request: &proto::DeviceRegistration,
    ) -> Result<proto::DeviceInfo, ClientError> {
        let builder = self.request(Method::POST, "/api/devices", Auth::Bearer)?;
        self.json("POST /api/devices", builder.json(request)).await
    }

    /// `GET /api/devices`.
    pub async fn devices(&self) -> Result<proto::DeviceList, ClientError> {
        let builder = self.request(Method::GET, "/api/devices", Auth::Bearer)?;
        self.json("GET /api/devices", builder).await
    }

    // ---- pairing and hubs ----

    /// `POST /api/pairings`: opens a pairing for a new hub.
    pub async fn create_pairing(
        &self,
        request: &proto::PairingRequest,
    ) -> Result<proto::PairingCreated, ClientError> {
        let builder = self.request(Method::POST, "/api/pairings", Auth::Bearer)?;
        self.json("POST /api/pairings", builder.json(request)).await
    }

    /// `GET /api/pairings/{id}`.
    pub async fn pairing(&self, id: &str) -> Result<proto::PairingStatus, ClientError> {
        let path = format!("/api/pairings/{}", encode_path_segment(id));
        let builder = self.request(Method::GET, &path, Auth::Bearer)?;
        self.json("GET /api/pairings/{id}", builder).await
    }

    /// `GET /api/hubs`.
    pub async fn hubs(&self) -> Result<proto::HubList, ClientError> {
        let builder = self.request(Method::GET, "/api/hubs", Auth::Bearer)?;
        self.json("GET /api/hubs", builder).await
    }

    /// `POST /api/hub/pair` (hub side): redeems a pairing code.
    pub async fn hub_pair(
        &self,
        request: &proto::HubPairRequest,
    ) -> Result<proto::HubPaired, ClientError> {
        let builder = self.request(Method::POST, "/api/hub/pair", Auth::None)?;
        self.json("POST /api/hub/pair", builder.json(request)).await
    }

    /// `POST /api/hub/challenge` (hub side).
    pub async fn hub_challenge(
        &self,
        request: &proto::HubChallengeRequest,
    ) -> Result<proto::HubChallenge, ClientError> {
        let builder = self.request(Method::POST, "/api/hub/challenge", Auth::None)?;
        self.json("POST /api/hub/challenge", builder.json(request))
            .await
    }

    /// `POST /api/hub/token` (hub side): a short-lived token for a signed challenge. Use it
    /// with [`Self::with_token`].
    pub async fn hub_token(
        &self,
        request: &proto::HubTokenRequest,
    ) -> Result<proto::HubToken, ClientError> {
        let builder = self.request(Method::POST, "/api/hub/token", Auth::None)?;
        self.json("POST /api/hub/token", builder.json(request))
            .await
    }

    /// `GET /api/hub/chain` (hub side, with a hub token).
    pub async fn hub_chain(&self) -> Result<proto::ChainLinks, ClientError> {
        let builder = self.request(Method::GET, "/api/hub/chain", Auth::Bearer)?;
        self.json("GET /api/hub/chain", builder).await
    }

    /// `GET /api/hub/settings` (hub side): the signed settings the owner's device made for
    /// this hub, unchecked (the hub checks them against its verified chain).
    pub async fn hub_own_settings(&self) -> Result<proto::HubSettingsState, ClientError> {
        let builder = self.request(Method::GET, "/api/hub/settings", Auth::Bearer)?;
        self.json("GET /api/hub/settings", builder).await
    }

    /// `POST /api/hub/settings/report` (hub side): what the hub did with its settings.
    pub async fn hub_report_settings(
        &self,
        report: &proto::HubSettingsReportBody,
    ) -> Result<(), ClientError> {
        let builder = self.request(Method::POST, "/api/hub/settings/report", Auth::Bearer)?;
        self.empty("POST /api/hub/settings/report", builder.json(report))
            .await
    }

    /// `GET /api/hubs/{id}/settings`: a hub's signed settings and the hub's last report.
    pub async fn hub_settings(&self, hub_id: &str) -> Result<proto::HubSettingsState, ClientError> {
        let path = format!("/api/hubs/{}/settings", encode_path_segment(hub_id));
        let builder = self.request(Method::GET, &path, Auth::Bearer)?;
        self.json("GET /api/hubs/{id}/settings", builder).await
    }

    /// `PUT /api/hubs/{id}/settings`: settings this device signed for the hub.
    pub async fn put_hub_settings(
        &self,
        hub_id: &str,
        request: &proto::HubSettingsPut,
    ) -> Result<proto::HubSettingsState, ClientError> {
        let path = format!("/api/hubs/{}/settings", encode_path_segment(hub_id));
        let builder = self.request(Method::PUT, &path, Auth::Bearer)?;
        self.json("PUT /api/hubs/{id}/settings", builder.json(request))
            .await
    }

    /// `GET /api/hub/members` (hub side): the owner's household members' chains.
    pub async fn hub_members(&self) -> Result<proto::HouseholdChains, ClientError> {
        let builder = self.request(Method::GET, "/api/hub/members", Auth::Bearer)?;
        self.json("GET /api/hub/members", builder).await
    }

    /// `GET /api/household/members`: this account's household members' chains.
    pub async fn household_members(&self) -> Result<proto::HouseholdChains, ClientError> {
        let builder = self.request(Method::GET, "/api/household/members", Auth::Bearer)?;
        self.json("GET /api/household/members", builder).await
    }

    /// `GET /api/household/owners`: the chains of the households this account belongs to.
    pub async fn household_owners(&self) -> Result<proto::HouseholdChains, ClientError> {
        let builder = self.request(Method::GET, "/api/household/owners", Auth::Bearer)?;
        self.json("GET /api/household/owners", builder).await
    }

    /// `PUT /api/hub/clips/{key}` (hub side): streams an age file (header ‖ payload) with its
    /// signed statement (base64). Returns whether the server made a new clip (`201`) or
    /// found this upload key done already (`200`), and the clip.
    pub async fn upload_clip(
        &self,
        upload_key: &str,
        statement: &str,
        age_file: tokio::fs::File,
    ) -> Result<(bool, proto::ClipSummary), ClientError> {
        let length = age_file
            .metadata()
            .await
            .map_err(|e| ClientError::Local(format!("reading the clip file: {e}")))?
            .len();
        let path = format!("/api/hub/clips/{}", encode_path_segment(upload_key));
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            age_file,
            256 * 1024,
        ));
        let builder = self
            .request(Method::PUT, &path, Auth::Bearer)?
            .timeout(TRANSFER_TIMEOUT)
            .header(proto::CLIP_STATEMENT_HEADER, statement)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body);
        let response = send(builder).await?;
        let created = response.status() == StatusCode::CREATED;
        let status = response.status().as_u16();
        let route = "PUT /api/hub/clips/{key}";
        let body = read_capped(response, MAX_BODY_BYTES)
            .await?
            .ok_or(ClientError::Decode { route, status })?;
        let summary =
            serde_json::from_slice(&body).map_err(|_| ClientError::Decode { route, status })?;
        Ok((created, summary))
    }

    // ---- cameras and clips ----

    /// `GET /api/cameras`.
    pub async fn cameras(&self) -> Result<proto::CameraList, ClientError> {
        let builder = self.request(Method::GET, "/api/cameras", Auth::Bearer)?;
        self.json("GET /api/cameras", builder).await
    }

    /// `POST /api/cameras/{id}/trigger`: the camera's hub records now (a manual event).
    pub async fn trigger_camera(&self, id: &str) -> Result<(), ClientError> {
        let path = format!("/api/cameras/{}/trigger", encode_path_segment(id));
        let builder = self.request(Method::POST, &path, Auth::Bearer)?;
        let response = send(builder).await?;
        if response.status() == StatusCode::NO_CONTENT {
            Ok(())
        } else {
            Err(ClientError::Decode {
                route: "POST /api/cameras/{id}/trigger",
                status: response.status().as_u16(),
            })
        }
    }

    /// `PATCH /api/cameras/{id}`.
    pub async fn update_camera(
        &self,
        id: &str,
        request: &proto::CameraUpdate,
    ) -> Result<proto::CameraInfo, ClientError> {
        let path = format!("/api/cameras/{}", encode_path_segment(id));
        let builder = self.request(Method::PATCH, &path, Auth::Bearer)?;
        self.json("PATCH /api/cameras/{id}", builder.json(request))
            .await
    }

    /// `GET /api/clips`: one page.
    pub async fn clips(&self, query: &ClipFilter) -> Result<proto::ClipList, ClientError> {
        let mut params: Vec<(&str, String)> = Vec::new();
        if let Some(v) = &query.camera {
            params.push(("camera", v.clone()));
        }
        if let Some(v) = &query.camera_name {
            params.push(("camera_name", v.clone()));
        }
        if let Some(v) = query.from_ms {
            params.push(("from_ms", v.to_string()));
        }
        if let Some(v) = query.to_ms {
            params.push(("to_ms", v.to_string()));
        }
        if let Some(v) = query.limit {
            params.push(("limit", v.to_string()));
        }
        if let Some(v) = &query.cursor {
            params.push(("cursor", v.clone()));
        }
        let builder = self
            .request(Method::GET, "/api/clips", Auth::Bearer)?
            .query(&params);
        self.json("GET /api/clips", builder).await
    }

    /// Every clip matching `query`, following the pages.
    pub async fn all_clips(
        &self,
        query: &ClipFilter,
    ) -> Result<Vec<proto::ClipSummary>, ClientError> {
        let mut query = query.clone();
        let mut all = Vec::new();
        loop {
            let page = self.clips(&query).await?;
            all.extend(page.clips);
            match page.next_cursor {
                Some(cursor) => query.cursor = Some(cursor),
                None => return Ok(all),
            }
        }
    }

    /// `GET /api/clips/{id}`: header, statement, signature.
    pub async fn clip(&self, id: &str) -> Result<proto::ClipDetail, ClientError> {
        let path = format!("/api/clips/{}", encode_path_segment(id));
        let builder = self.request(Method::GET, &path, Auth::Bearer)?;
        self.json("GET /api/clips/{id}", builder).await
    }

    /// `GET /api/clips/{id}/payload`, optionally one byte range (inclusive): the streaming
    /// response, for the caller to read chunk by chunk.
    pub async fn clip_payload(
        &self,
        id: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Response, ClientError> {
        let path = format!("/api/clips/{}/payload", encode_path_segment(id));
        self.get_ranged(&path, range).await
    }

    /// A streamed `GET` of `path` with at most one byte range (inclusive).
    async fn get_ranged(
        &self,
        path: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Response, ClientError> {
        let mut builder = self
            .request(Method::GET, path, Auth::Bearer)?
            .timeout(TRANSFER_TIMEOUT);
        if let Some((start, end)) = range {
            builder = builder.header(reqwest::header::RANGE, format!("bytes={start}-{end}"));
        }
        send(builder).await
    }

    /// Streams a clip's payload into `out`; returns the bytes written.
    pub async fn download_payload<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        id: &str,
        out: &mut W,
    ) -> Result<u64, ClientError> {
        stream_into(self.clip_payload(id, None).await?, out).await
    }

    /// `PUT /api/clips/{id}/header`: a re-wrapped header, if the current one still hashes to
    /// `previous_sha256` (hex).
    pub async fn replace_header(
        &self,
        id: &str,
        previous_sha256: &str,
        header: Vec<u8>,
    ) -> Result<proto::ClipDetail, ClientError> {
        let path = format!("/api/clips/{}/header", encode_path_segment(id));
        let builder = self
            .request(Method::PUT, &path, Auth::Bearer)?
            .header(reqwest::header::IF_MATCH, format!("\"{previous_sha256}\""))
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(header);
        self.json("PUT /api/clips/{id}/header", builder).await
    }

    /// `DELETE /api/clips/{id}`.
    pub async fn delete_clip(&self, id: &str) -> Result<proto::Deleted, ClientError> {
        let path = format!("/api/clips/{}", encode_path_segment(id));
        let builder = self.request(Method::DELETE, &path, Auth::Bearer)?;
        self.json("DELETE /api/clips/{id}", builder).await
    }

    // ---- consent and research ----

    /// `POST /api/consents`: records a signed consent receipt (its canonical bytes).
    pub async fn record_consent(&self, receipt: &[u8]) -> Result<proto::ConsentInfo, ClientError> {
        use base64::Engine;
        let body = proto::ConsentSubmit {
            receipt: base64::engine::general_purpose::STANDARD.encode(receipt),
        };
        let builder = self.request(Method::POST, "/api/consents", Auth::Bearer)?;
        self.json("POST /api/consents", builder.json(&body)).await
    }

    /// `GET /api/consents`: the account's receipts and live consents.
    pub async fn consents(&self) -> Result<proto::ConsentList, ClientError> {
        let builder = self.request(Method::GET, "/api/consents", Auth::Bearer)?;
        self.json("GET /api/consents", builder).await
    }

    /// `GET /api/research/recipient`: the research program's age recipient.
    pub async fn research_recipient(&self) -> Result<proto::ResearchRecipient, ClientError> {
        let builder = self.request(Method::GET, "/api/research/recipient", Auth::Bearer)?;
        self.json("GET /api/research/recipient", builder).await
    }

    /// `POST /api/research/items`: streams an age file sealed to the research recipient,
    /// with the clip's UTC day and its withdrawal tag (hex; the key itself never leaves the
    /// device until it withdraws the item).
    pub async fn upload_research_item(
        &self,
        day: &str,
        withdrawal_tag: &str,
        age_file: tokio::fs::File,
    ) -> Result<proto::ResearchItemInfo, ClientError> {
        let length = age_file
            .metadata()
            .await
            .map_err(|e| ClientError::Local(format!("reading the research item: {e}")))?
            .len();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            age_file,
            256 * 1024,
        ));
        let builder = self
            .request(Method::POST, "/api/research/items", Auth::Bearer)?
            .timeout(TRANSFER_TIMEOUT)
            .query(&[("day", day), ("withdrawal_tag", withdrawal_tag)])
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body);
        self.json("POST /api/research/items", builder).await
    }

    /// `POST /api/research/withdrawals`: withdraws the item this key (hex) withdraws. The key
    /// goes in the body, never in a URL.
    pub async fn withdraw_research_item(&self, withdrawal_key: &str) -> Result<(), ClientError> {
        let builder = self
            .request(Method::POST, "/api/research/withdrawals", Auth::Bearer)?
            .json(&proto::ResearchWithdrawal {
                withdrawal_key: withdrawal_key.to_owned(),
            });
        self.empty("POST /api/research/withdrawals", builder).await
    }

    /// `POST /api/research/items/match`: which of these withdrawal tags (at most
    /// [`proto::MAX_MATCH_TAGS`]) are in the dataset.
    pub async fn research_tags_present(
        &self,
        withdrawal_tags: &[String],
    ) -> Result<proto::ResearchTagMatch, ClientError> {
        let builder = self
            .request(Method::POST, "/api/research/items/match", Auth::Bearer)?
            .json(&proto::ResearchTagQuery {
                withdrawal_tags: withdrawal_tags.to_vec(),
            });
        self.json("POST /api/research/items/match", builder).await
    }

    /// `GET /api/staff/research/items` (annotators).
    pub async fn staff_research_items(&self) -> Result<proto::ResearchItemList, ClientError> {
        let builder = self.request(Method::GET, "/api/staff/research/items", Auth::Bearer)?;
        self.json("GET /api/staff/research/items", builder).await
    }

    /// `GET /api/staff/research/items/{id}` (annotators): the sealed item, whole.
    pub async fn staff_research_item(&self, id: &str) -> Result<Vec<u8>, ClientError> {
        let path = format!("/api/staff/research/items/{}", encode_path_segment(id));
        let builder = self
            .request(Method::GET, &path, Auth::Bearer)?
            .timeout(TRANSFER_TIMEOUT);
        let response = send(builder).await?;
        let bytes = response.bytes().await.map_err(ClientError::transport)?;
        Ok(bytes.to_vec())
    }

    /// `POST /api/staff/research/items/{id}/labels` (annotators).
    pub async fn staff_label_research_item(
        &self,
        id: &str,
        label: &str,
    ) -> Result<proto::ResearchItemInfo, ClientError> {
        let path = format!(
            "/api/staff/research/items/{}/labels",
            encode_path_segment(id)
        );
        let body = proto::ResearchLabel {
            label: label.to_owned(),
        };
        let builder = self.request(Method::POST, &path, Auth::Bearer)?;
        self.json(
            "POST /api/staff/research/items/{id}/labels",
            builder.json(&body),
        )
        .await
    }

    // ---- the neighbourhood feed ----

    /// `POST /api/feed/posts`: publishes the plaintext MP4 in `video` (stripped of container
    /// metadata) as a post of the owned clip `clip_id`.
    pub async fn create_feed_post(
        &self,
        clip_id: &str,
        neighbourhood: &str,
        area: &str,
        video: tokio::fs::File,
    ) -> Result<proto::FeedPost, ClientError> {
        let length = video
            .metadata()
            .await
            .map_err(|e| ClientError::Local(format!("reading the video to post: {e}")))?
            .len();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            video,
            256 * 1024,
        ));
        let builder = self
            .request(Method::POST, "/api/feed/posts", Auth::Bearer)?
            .timeout(TRANSFER_TIMEOUT)
            .query(&[
                ("clip_id", clip_id),
                ("neighbourhood", neighbourhood),
                ("area", area),
            ])
            .header(reqwest::header::CONTENT_TYPE, "video/mp4")
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body);
        self.json("POST /api/feed/posts", builder).await
    }

    /// `GET /api/feed`: a page of a neighbourhood's posts (one grid cell if `area` is given),
    /// newest hour first; `before` is the previous page's `next_cursor`.
    pub async fn feed(
        &self,
        neighbourhood: &str,
        area: Option<&str>,
        before: Option<&str>,
        limit: Option<u32>,
    ) -> Result<proto::FeedPage, ClientError> {
        let mut query = vec![("neighbourhood", neighbourhood.to_owned())];
        if let Some(area) = area {
            query.push(("area", area.to_owned()));
        }
        if let Some(before) = before {
            query.push(("before", before.to_owned()));
        }
        if let Some(limit) = limit {
            query.push(("limit", limit.to_string()));
        }
        let builder = self
            .request(Method::GET, "/api/feed", Auth::Bearer)?
            .query(&query);
        self.json("GET /api/feed", builder).await
    }

    /// `GET /api/feed/mine`: this account's posts, each with the clip it came from.
    pub async fn my_feed_posts(&self) -> Result<proto::MyFeedPosts, ClientError> {
        let builder = self.request(Method::GET, "/api/feed/mine", Auth::Bearer)?;
        self.json("GET /api/feed/mine", builder).await
    }

    /// `GET /api/feed/posts/{id}/video`, optionally one byte range (inclusive): the streaming
    /// response.
    pub async fn feed_video(
        &self,
        id: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Response, ClientError> {
        let path = format!("/api/feed/posts/{}/video", encode_path_segment(id));
        self.get_ranged(&path, range).await
    }

    /// `DELETE /api/feed/posts/{id}`: removes one of this account's posts and its video.
    pub async fn delete_feed_post(&self, id: &str) -> Result<(), ClientError> {
        let path = format!("/api/feed/posts/{}", encode_path_segment(id));
        let builder = self.request(Method::DELETE, &path, Auth::Bearer)?;
        self.empty("DELETE /api/feed/posts/{id}", builder).await
    }

    // ---- operations ----

    /// `GET /healthz`: the process is up.
    pub async fn healthz(&self) -> Result<proto::Health, ClientError> {
        let builder = self.request(Method::GET, "/healthz", Auth::None)?;
        self.json("GET /healthz", builder).await
    }

    /// `GET /readyz`: the server can reach its stores.
    pub async fn readyz(&self) -> Result<proto::Health, ClientError> {
        let builder = self.request(Method::GET, "/readyz", Auth::None)?;
        self.json("GET /readyz", builder).await
    }

    /// `GET /api/openapi.json`.
    pub async fn openapi(&self) -> Result<serde_json::Value, ClientError> {
        let builder = self.request(Method::GET, "/api/openapi.json", Auth::None)?;
        self.json("GET /api/openapi.json", builder).await
    }

    // ---- transparency log ----

    /// `GET /api/log/key`: the log's origin and checkpoint verifier key (pin it, then
    /// compare).
    pub async fn log_key(&self) -> Result<proto::LogKey, ClientError> {
        let builder = self.request(Method::GET, "/api/log/key", Auth::None)?;
        self.json("GET /api/log/key", builder).await
    }

    /// `GET /api/log/checkpoint`: the latest signed checkpoint, as the note's bytes (verify
    /// them with `porchlight_tlog::open_checkpoint`). A note longer than a verifier accepts is
    /// refused unread.
    pub async fn log_checkpoint(&self) -> Result<Vec<u8>, ClientError> {
        let route = "GET /api/log/checkpoint";
        let builder = self.request(Method::GET, "/api/log/checkpoint", Auth::None)?;
        let response = send(builder).await?;
        let status = response.status().as_u16();
        let body = read_capped(response, porchlight_tlog::note::MAX_NOTE_BYTES)
            .await?
            .ok_or(ClientError::Decode { route, status })?;
        Ok(body.to_vec())
    }

    /// `POST /api/log/checkpoint`: asks the server to append this account's queued entries
    /// and sign a checkpoint covering them now; answers that checkpoint's note bytes.
    pub async fn log_sign_checkpoint(&self) -> Result<Vec<u8>, ClientError> {
        let route = "POST /api/log/checkpoint";
        let builder = self.request(Method::POST, "/api/log/checkpoint", Auth::Bearer)?;
        let response = send(builder).await?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(api_error(response).await);
        }
        let body = read_capped(response, porchlight_tlog::note::MAX_NOTE_BYTES)
            .await?
            .ok_or(ClientError::Decode { route, status })?;
        Ok(body.to_vec())
    }

    /// `GET /api/log/proof/inclusion`: the path of leaf `index` in the tree of `size` leaves.
    pub async fn log_inclusion_proof(
        &self,
        index: u64,
        size: u64,
    ) -> Result<proto::InclusionProof, ClientError> {
        let path = format!("/api/log/proof/inclusion?index={index}&size={size}");
        let builder = self.request(Method::GET, &path, Auth::None)?;
        self.json("GET /api/log/proof/inclusion", builder).await
    }

    /// `GET /api/log/proof/consistency`: the proof that the tree of `old` leaves is a prefix
    /// of the tree of `size` leaves.
    pub async fn log_consistency_proof(
        &self,
        old: u64,
        size: u64,
    ) -> Result<proto::ConsistencyProof, ClientError> {
        let path = format!("/api/log/proof/consistency?old={old}&size={size}");
        let builder = self.request(Method::GET, &path, Auth::None)?;
        self.json("GET /api/log/proof/consistency", builder).await
    }

    /// `GET /api/log/entries`: the signed-in account's own log entries, oldest first, with
    /// their salts.
    pub async fn log_entries(&self) -> Result<proto::LogEntryList, ClientError> {
        let builder = self.request(Method::GET, "/api/log/entries", Auth::Bearer)?;
        self.json("GET /api/log/entries", builder).await
    }

    // ---- staff access ----

    /// `POST /api/staff/login` (staff): password and TOTP, always. Use the token with
    /// [`Self::with_token`] on a client kept apart from any customer session.
    pub async fn staff_login(
        &self,
        request: &proto::StaffLoginRequest,
    ) -> Result<proto::StaffSession, ClientError> {
        let builder = self.request(Method::POST, "/api/staff/login", Auth::None)?;
        self.json("POST /api/staff/login", builder.json(request))
            .await
    }

    /// `GET /api/staff/figures` (staff): aggregate figures, what every role sees.
    pub async fn staff_figures(&self) -> Result<proto::StaffFigures, ClientError> {
        let builder = self.request(Method::GET, "/api/staff/figures", Auth::Bearer)?;
        self.json("GET /api/staff/figures", builder).await
    }

    /// `POST /api/staff/access-requests` (staff): asks the account with this address for
    /// access. The answer is the same whether or not the address has an account.
    pub async fn staff_request_access(
        &self,
        request: &proto::AccessRequestCreate,
    ) -> Result<proto::AccessRequestInfo, ClientError> {
        let builder = self.request(Method::POST, "/api/staff/access-requests", Auth::Bearer)?;
        self.json("POST /api/staff/access-requests", builder.json(request))
            .await
    }

    /// `GET /api/staff/access-requests` (staff): the signed-in staff member's own requests.
    pub async fn staff_requests(&self) -> Result<proto::AccessRequestList, ClientError> {
        let builder = self.request(Method::GET, "/api/staff/access-requests", Auth::Bearer)?;
        self.json("GET /api/staff/access-requests", builder).await
    }

    /// `POST /api/staff/access-requests/{id}/break-glass-approval` (security staff): the
    /// second approval of another security staff member's emergency request.
    pub async fn staff_approve_break_glass(
        &self,
        id: &str,
    ) -> Result<proto::AccessRequestInfo, ClientError> {
        let path = format!(
            "/api/staff/access-requests/{}/break-glass-approval",
            encode_path_segment(id)
        );
        let builder = self.request(Method::POST, &path, Auth::Bearer)?;
        self.json(
            "POST /api/staff/access-requests/{id}/break-glass-approval",
            builder,
        )
        .await
    }

    /// `GET /api/staff/alerts` (security and admin staff).
    pub async fn staff_alerts(&self) -> Result<proto::StaffAlertList, ClientError> {
        let builder = self.request(Method::GET, "/api/staff/alerts", Auth::Bearer)?;
        self.json("GET /api/staff/alerts", builder).await
    }

    /// `GET /api/staff/grants/{id}/devices` (staff): under a live `devices:read` grant.
    pub async fn staff_grant_devices(&self, grant: &str) -> Result<proto::DeviceList, ClientError> {
        let path = format!("/api/staff/grants/{}/devices", encode_path_segment(grant));
        let builder = self.request(Method::GET, &path, Auth::Bearer)?;
        self.json("GET /api/staff/grants/{id}/devices", builder)
            .await
    }

    /// `GET /api/staff/grants/{id}/cameras` (staff): under a live `cameras:read` grant.
    pub async fn staff_grant_cameras(&self, grant: &str) -> Result<proto::CameraList, ClientError> {
        let path = format!("/api/staff/grants/{}/cameras", encode_path_segment(grant));
        let builder = self.request(Method::GET, &path, Auth::Bearer)?;
        self.json("GET /api/staff/grants/{id}/cameras", builder)
            .await
    }

    /// `GET /api/staff/grants/{id}/clips` (staff): clip metadata under a live
    /// `clips:metadata` grant.
    pub async fn staff_grant_clips(&self, grant: &str) -> Result<proto::ClipList, ClientError> {
        let path = format!("/api/staff/grants/{}/clips", encode_path_segment(grant));
        let builder = self.request(Method::GET, &path, Auth::Bearer)?;
        self.json("GET /api/staff/grants/{id}/clips", builder).await
    }

    /// `GET /api/access-requests` (customer): staff requests for access to this account.
    pub async fn access_requests(&self) -> Result<proto::AccessRequestList, ClientError> {
        let builder = self.request(Method::GET, "/api/access-requests", Auth::Bearer)?;
        self.json("GET /api/access-requests", builder).await
    }

    /// `POST /api/access-requests/{id}/approve` (customer), with the second factor.
    pub async fn approve_access_request(
        &self,
        id: &str,
        decision: &proto::AccessDecision,
    ) -> Result<proto::AccessRequestInfo, ClientError> {
        let path = format!("/api/access-requests/{}/approve", encode_path_segment(id));
        let builder = self.request(Method::POST, &path, Auth::Bearer)?;
        self.json(
            "POST /api/access-requests/{id}/approve",
            builder.json(decision),
        )
        .await
    }

    /// `POST /api/access-requests/{id}/deny` (customer), with the second factor.
    pub async fn deny_access_request(
        &self,
        id: &str,
        decision: &proto::AccessDecision,
    ) -> Result<proto::AccessRequestInfo, ClientError> {
        let path = format!("/api/access-requests/{}/deny", encode_path_segment(id));
        let builder = self.request(Method::POST, &path, Auth::Bearer)?;
        self.json(
            "POST /api/access-requests/{id}/deny",
            builder.json(decision),
        )
        .await
    }

    /// `POST /api/access-requests/{id}/revoke` (customer): ends a live grant now.
    pub async fn revoke_access_grant(
        &self,
        id: &str,
    ) -> Result<proto::AccessRequestInfo, ClientError> {
        let path = format!("/api/access-requests/{}/revoke", encode_path_segment(id));
        let builder = self.request(Method::POST, &path, Auth::Bearer)?;
        self.json("POST /api/access-requests/{id}/revoke", builder)
            .await
    }

    // ---- WebSockets (live view) ----

    /// Opens a WebSocket to `path` (`ws://` or `wss://` on this client's server) with the
    /// device id and the token, as every other authenticated route. A refusal before the
    /// upgrade (401, 403, 404, …) is the server's [`ClientError::Api`].
    pub async fn websocket(&self, path: &str) -> Result<LiveSocket, ClientError> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

        let url = websocket_url(&self.base_url, path)?;
        let mut request = url
            .into_client_request()
            .map_err(|_| ClientError::InvalidServerUrl)?;
        let headers = request.headers_mut();
        headers.insert(
            proto::DEVICE_HEADER,
            HeaderValue::from_str(self.device_id.as_str())
                .map_err(|_| ClientError::Socket("the device id is malformed".into()))?,
        );
        headers.insert(AUTHORIZATION, self.bearer()?);
        headers.insert(
            reqwest::header::USER_AGENT,
            HeaderValue::from_static(concat!("porchlight/", env!("CARGO_PKG_VERSION"))),
        );
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_SOCKET_MESSAGE_BYTES))
            .max_frame_size(Some(MAX_SOCKET_MESSAGE_BYTES));
        let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), false);
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Err(_) => Err(ClientError::Socket(
                "the server did not answer in time".into(),
            )),
            Ok(Ok((socket, _))) => Ok(socket),
            Ok(Err(tokio_tungstenite::tungstenite::Error::Http(response))) => {
                Err(socket_refusal(&response))
            }
            Ok(Err(e)) => Err(ClientError::Socket(format!(
                "could not open the live connection: {e}"
            ))),
        }
    }

    // ---- plumbing ----

    fn request(
        &self,
        method: Method,
        path: &str,
        auth: Auth,
    ) -> Result<RequestBuilder, ClientError> {
        let builder = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .header(proto::DEVICE_HEADER, self.device_id.as_str());
        match auth {
            Auth::None => Ok(builder),
            Auth::Bearer => Ok(builder.header(AUTHORIZATION, self.bearer()?)),
        }
    }

    fn bearer(&self) -> Result<HeaderValue, ClientError> {
        let token = self.token.as_ref().ok_or(ClientError::NotSignedIn)?;
        let value = Zeroizing::new(format!("Bearer {}", token.expose()));
        let mut header = HeaderValue::from_str(&value).map_err(|_| ClientError::MalformedToken)?;
        // Keeps it out of reqwest's and hyper's Debug output.
        header.set_sensitive(true);
        Ok(header)
    }

    /// Sends the request and decodes a JSON answer.
    async fn json<T: DeserializeOwned>(
        &self,
        route: &'static str,
        builder: RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = send(builder).await?;
        let status = response.status().as_u16();
        let body = read_capped(response, MAX_BODY_BYTES)
            .await?
            .ok_or(ClientError::Decode { route, status })?;
        // serde's message can quote the body, which may hold a token: report only the route.
        serde_json::from_slice(&body).map_err(|_| ClientError::Decode { route, status })
    }

    /// Sends the request and expects an answer without a body.
    async fn empty(&self, route: &'static str, builder: RequestBuilder) -> Result<(), ClientError> {
        let response = send(builder).await?;
        if response.status() == StatusCode::NO_CONTENT || response.status() == StatusCode::OK {
            Ok(())
        } else {
            Err(ClientError::Decode {
                route,
                status: response.status().as_u16(),
            })
        }
    }
}

// ---- shares ----

impl Client {
    /// `GET /api/accounts/{root}/chain`: the chain of the account with that root (hex), for
    /// the caller to verify from the root it was given.
    pub async fn account_chain(&self, root: &str) -> Result<proto::ChainLinks, ClientError> {
        let path = format!("/api/accounts/{}/chain", encode_path_segment(root));
        let builder = self.request(Method::GET, &path, Auth::Bearer)?;
        self.json("GET /api/accounts/{root}/chain", builder).await
    }

    /// `POST /api/clips/{id}/shares`: shares an owned clip with a header for the sharee.
    pub async fn share_clip(
        &self,
        clip_id: &str,
        request: &proto::ShareRequest,
    ) -> Result<proto::ShareInfo, ClientError> {
        let path = format!("/api/clips/{}/shares", encode_path_segment(clip_id));
        let builder = self.request(Method::POST, &path, Auth::Bearer)?;
        self.json("POST /api/clips/{id}/shares", builder.json(request))
            .await
    }

    /// `GET /api/clips/{id}/shares`: the shares of an owned clip.
    pub async fn clip_shares(&self, clip_id: &str) -> Result<proto::ShareList, ClientError> {
        let path = format!("/api/clips/{}/shares", encode_path_segment(clip_id));
        let builder = self.request(Method::GET, &path, Auth::Bearer)?;
        self.json("GET /api/clips/{id}/shares", builder).await
    }

    /// `DELETE /api/clips/{id}/shares/{share_id}`: revokes a share.
    pub async fn revoke_share(&self, clip_id: &str, share_id: &str) -> Result<(), ClientError> {
        let path = format!(
            "/api/clips/{}/shares/{}",
            encode_path_segment(clip_id),
            encode_path_segment(share_id)
        );
        let builder = self.request(Method::DELETE, &path, Auth::Bearer)?;
        self.empty("DELETE /api/clips/{id}/shares/{share_id}", builder)
            .await
    }

    /// `GET /api/shared`: clips other accounts shared with this one.
    pub async fn shared_with_me(&self) -> Result<proto::SharedClipList, ClientError> {
        let builder = self.request(Method::GET, "/api/shared", Auth::Bearer)?;
        self.json("GET /api/shared", builder).await
    }

    /// `GET /api/shared/{share_id}`: the share's header, the clip's statement and the
    /// owner's chain.
    pub async fn shared_clip(
        &self,
        share_id: &str,
    ) -> Result<proto::SharedClipDetail, ClientError> {
        let path = format!("/api/shared/{}", encode_path_segment(share_id));
        let builder = self.request(Method::GET, &path, Auth::Bearer)?;
        self.json("GET /api/shared/{share_id}", builder).await
    }

    /// Streams a shared clip's payload into `out`; returns the bytes written.
    pub async fn download_shared_payload<W: tokio::io::AsyncWrite + Unpin>(
        &self,
        share_id: &str,
        out: &mut W,
    ) -> Result<u64, ClientError> {
        let path = format!("/api/shared/{}/payload", encode_path_segment(share_id));
        let builder = self
            .request(Method::GET, &path, Auth::Bearer)?
            .timeout(TRANSFER_TIMEOUT);
        stream_into(send(builder).await?, out).await
    }
}

/// Streams a payload response into `out`; returns the bytes written.
async fn stream_into<W: tokio::io::AsyncWrite + Unpin>(
    mut response: Response,
    out: &mut W,
) -> Result<u64, ClientError> {
    use tokio::io::AsyncWriteExt;
    let mut written = 0u64;
    while let Some(chunk) = response.chunk().await.map_err(ClientError::transport)? {
        out.write_all(&chunk)
            .await
            .map_err(|e| ClientError::Local(format!("writing the download: {e}")))?;
        written += chunk.len() as u64;
    }
    out.flush()
        .await
        .map_err(|e| ClientError::Local(format!("writing the download: {e}")))?;
    Ok(written)
}

/// A WebSocket to the server.
pub type LiveSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// The largest WebSocket message a client takes: one sealed live frame (16 MiB of payload)
/// and its prefix.
const MAX_SOCKET_MESSAGE_BYTES: usize = 16 * 1024 * 1024 + 1024;

/// `http://host/prefix` + `/api/…` → `ws://host/prefix/api/…` (and `https` → `wss`).
fn websocket_url(base_url: &str, path: &str) -> Result<String, ClientError> {
    if let Some(rest) = base_url.strip_prefix("https://") {
        Ok(format!("wss://{rest}{path}"))
    } else if let Some(rest) = base_url.strip_prefix("http://") {
        Ok(format!("ws://{rest}{path}"))
    } else {
        Err(ClientError::InvalidServerUrl)
    }
}

/// The server's error answer to a WebSocket upgrade.
fn socket_refusal(
    response: &tokio_tungstenite::tungstenite::http::Response<Option<Vec<u8>>>,
) -> ClientError {
    let body = response
        .body()
        .as_deref()
        .filter(|b| b.len() <= MAX_ERROR_BODY_BYTES);
    error_answer(response.status().as_u16(), body, None)
}

/// An error answer: the API's `{"error": …}` body, or a code for the status when the body is
/// something else (a proxy's page).
fn error_answer(status: u16, body: Option<&[u8]>, retry_after_secs: Option<u64>) -> ClientError {
    let parsed = body.and_then(|body| serde_json::from_slice::<proto::ErrorBody>(body).ok());
    let (code, message) = match parsed {
        Some(body) => (body.error.code, body.error.message),
        None => (
            code_for_status(status),
            format!("the server answered HTTP {status} without an error this client understands"),
        ),
    };
    ClientError::Api {
        status,
        code,
        message,
        retry_after_secs,
    }
}

/// Sends the request; an answer outside 2xx becomes [`ClientError::Api`].
async fn send(builder: RequestBuilder) -> Result<Response, ClientError> {
    let response = builder.send().await.map_err(ClientError::transport)?;
    if response.status().is_success() {
        return Ok(response);
    }
    Err(api_error(response).await)
}

async fn api_error(response: Response) -> ClientError {
    let status = response.status().as_u16();
    let retry_after_secs = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    let body = match read_capped(response, MAX_ERROR_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => return error,
    };
    error_answer(
        status,
        body.as_deref().map(|b| b.as_slice()),
        retry_after_secs,
    )
}

/// The body, or `None` if it is longer than `max_bytes`. Zeroed when dropped: it may hold a
/// token.
async fn read_capped(
    mut response: Response,
    max_bytes: usize,
) -> Result<Option<Zeroizing<Vec<u8>>>, ClientError> {
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = response.chunk().await.map_err(ClientError::transport)? {
        if body.len() + chunk.len() > max_bytes {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// `http://` or `https://`, a host, no credentials, query or fragment; without a trailing slash.
///
/// Public so callers can tell whether two spellings name the same server (a token is only
/// ever sent to the server that issued it).
pub fn normalise_server_url(url: &str) -> Result<String, ClientError> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| ClientError::InvalidServerUrl)?;
    let acceptable = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some_and(|host| !host.is_empty())
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.query().is_none()
        && parsed.fragment().is_none();
    if !acceptable {
        return Err(ClientError::InvalidServerUrl);
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// Whether requests to `server_url` would cross a network unencrypted: `http://` to anything
/// but this machine.
pub fn is_cleartext_remote(server_url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(server_url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let local = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    url.scheme() == "http" && !local
}

/// Percent-encodes everything but `A-Z a-z 0-9 - _`, so an id typed by a user can never
/// reach another route (`..`, `/`, `?`).
fn encode_path_segment(segment: &str) -> String {
    let mut encoded = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

// ---- web push ----

impl Client {
    /// `GET /api/push/key`: the server's VAPID public key.
    pub async fn push_key(&self) -> Result<proto::PushKey, ClientError> {
        let builder = self.request(Method::GET, "/api/push/key", Auth::None)?;
        self.json("GET /api/push/key", builder).await
    }

    /// `PUT /api/push/subscription`: registers this device's push subscription.
    pub async fn register_push(
        &self,
        request: &proto::PushSubscriptionRequest,
    ) -> Result<(), ClientError> {
        let builder = self.request(Method::PUT, "/api/push/subscription", Auth::Bearer)?;
        self.empty("PUT /api/push/subscription", builder.json(request))
            .await
    }

    /// `GET /api/push/subscription`: this device's subscription, as the server has it.
    pub async fn push_subscription(&self) -> Result<proto::PushSubscriptionStatus, ClientError> {
        let builder = self.request(Method::GET, "/api/push/subscription", Auth::Bearer)?;
        self.json("GET /api/push/subscription", builder).await
    }

    /// `DELETE /api/push/subscription`: removes this device's subscription.
    pub async fn remove_push(&self) -> Result<(), ClientError> {
        let builder = self.request(Method::DELETE, "/api/push/subscription", Auth::Bearer)?;
        self.empty("DELETE /api/push/subscription", builder).await
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn device() -> DeviceId {
        DeviceId::parse("0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn server_urls_are_normalised() {
        for (given, expected) in [
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("https://Porch.Example/", "https://porch.example"),
            (
                "https://porch.example/prefix/",
                "https://porch.example/prefix",
            ),
            (" https://porch.example:443 ", "https://porch.example"),
        ] {
            assert_eq!(normalise_server_url(given).unwrap(), expected, "{given}");
        }
    }

    #[test]
    fn unusable_server_urls_are_refused() {
        for bad in [
            "",
            "127.0.0.1:8080",
            "ftp://porch.example",
            "https://user:pw@porch.example",
            "https://porch.example/?token=x",
            "https://porch.example/#x",
            "file:///etc/passwd",
        ] {
            assert!(
                matches!(
                    normalise_server_url(bad),
                    Err(ClientError::InvalidServerUrl)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn cleartext_is_only_for_this_machine() {
        assert!(!is_cleartext_remote("http://127.0.0.1:8080"));
        assert!(!is_cleartext_remote("http://localhost:8080"));
        assert!(!is_cleartext_remote("http://[::1]:8080"));
        assert!(!is_cleartext_remote("https://porch.example"));
        assert!(is_cleartext_remote("http://porch.example"));
        assert!(is_cleartext_remote("http://192.168.1.5:8080"));
    }

    #[test]
    fn path_segments_cannot_escape_their_route() {
        assert_eq!(encode_path_segment("ses_AZ-09"), "ses_AZ-09");
        assert_eq!(encode_path_segment("../me"), "%2E%2E%2Fme");
        assert_eq!(encode_path_segment("a?b#c"), "a%3Fb%23c");
    }

    #[test]
    fn debug_hides_the_token() {
        let client = Client::new("http://127.0.0.1:1", device())
            .unwrap()
            .with_token(Secret::from("plt_very_secret_token"));
        let shown = format!("{client:?}");
        assert!(!shown.contains("very_secret"), "{shown}");
        assert!(
            !shown.contains("0123456789abcdef0123456789abcdef"),
            "{shown}"
        );
        assert!(client.is_signed_in());
    }

    #[tokio::test]
    async fn authenticated_routes_need_a_token_before_any_request() {
        let client = Client::new("http://127.0.0.1:1", device()).unwrap();
        assert!(matches!(client.me().await, Err(ClientError::NotSignedIn)));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transport_error() {
        // Port 1 on loopback is closed on any sane machine.
        let client = Client::new("http://127.0.0.1:1", device()).unwrap();
        let err = client.healthz().await.unwrap_err();
        assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
        assert!(!err.to_string().contains("127.0.0.1"), "{err}");
    }

    /// Answers one request with `response` and hands back the request as text.
    async fn answer_once(response: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = socket.read(&mut buf).await.unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length: ")
                                .map(str::to_owned)
                        })
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            socket.write_all(response.as_bytes()).await.unwrap();
            socket.shutdown().await.unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (url, task)
    }

    #[tokio::test]
    async fn requests_carry_the_device_and_the_token() {
        let body = r#"{"account_id":"a","email":"e@x","created_at_ms":1,"session_id":"s"}"#;
        let response: &'static str = Box::leak(
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (url, server) = answer_once(response).await;
        let client = Client::new(&url, device())
            .unwrap()
            .with_token(Secret::from("plt_token"));
        let me = client.me().await.unwrap();
        assert_eq!(me.session_id, "s");
        let request = server.await.unwrap().to_ascii_lowercase();
        assert!(request.starts_with("get /api/me "), "{request}");
        assert!(request.contains("porchlight-device: 0123456789abcdef0123456789abcdef"));
        assert!(request.contains("authorization: bearer plt_token"));
    }

    #[tokio::test]
    async fn error_answers_become_api_errors_with_retry_after() {
        let (url, server) = answer_once(
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 30\r\n\
             content-length: 52\r\nconnection: close\r\n\r\n\
             {\"error\":{\"code\":\"throttled\",\"message\":\"slow down\"}}",
        )
        .await;
        let client = Client::new(&url, device()).unwrap();
        let request = proto::LoginRequest {
            email: "a@b.c".into(),
            password: "pw".into(),
            totp_code: Some("123456".into()),
            recovery_code: None,
            device_name: None,
        };
        let err = client.login(&request).await.unwrap_err();
        server.await.unwrap();
        assert!(
            matches!(
                &err,
                ClientError::Api { status: 429, code: proto::ErrorCode::Throttled, message, retry_after_secs: Some(30) }
                    if message == "slow down"
            ),
            "{err:?}"
        );
        assert_eq!(err.to_string(), "slow down (throttled)");
    }

    #[tokio::test]
    async fn a_body_that_is_not_the_error_shape_falls_back_on_the_status() {
        let (url, server) = answer_once(
            "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: 9\r\nconnection: close\r\n\r\n<h1>x</h1",
        )
        .await;
        let client = Client::new(&url, device()).unwrap();
        let err = client.healthz().await.unwrap_err();
        server.await.unwrap();
        assert_eq!(err.code(), Some(proto::ErrorCode::Unavailable));
        assert_eq!(err.status(), Some(502));
    }

    #[tokio::test]
    async fn a_success_body_that_does_not_decode_never_echoes_it() {
        let (url, server) = answer_once(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 23\r\nconnection: close\r\n\r\n{\"token\":\"plt_leak_me\"}",
        )
        .await;
        let client = Client::new(&url, device()).unwrap();
        let request = proto::LoginRequest {
            email: "a@b.c".into(),
            password: "pw".into(),
            totp_code: Some("123456".into()),
            recovery_code: None,
            device_name: None,
        };
        let err = client.login(&request).await.unwrap_err();
        server.await.unwrap();
        assert!(
            matches!(err, ClientError::Decode { status: 201, .. }),
            "{err:?}"
        );
        assert!(!format!("{err} {err:?}").contains("leak_me"));
    }

    #[test]
    fn unknown_error_bodies_fall_back_on_the_status() {
        assert_eq!(code_for_status(429), proto::ErrorCode::Throttled);
        assert_eq!(code_for_status(401), proto::ErrorCode::Unauthenticated);
        assert_eq!(code_for_status(500), proto::ErrorCode::Internal);
    }
}
