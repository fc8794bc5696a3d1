//! Wire types of staff access: staff sign-in, aggregate figures, access requests and the
//! grants customers approve, alerts.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The scopes a grant can carry. No scope leads to a clip key: there is none on the server.
pub const ACCESS_SCOPES: &[&str] = &["devices:read", "cameras:read", "clips:metadata"];

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffLoginRequest {
    pub email: String,
    pub password: String,
    pub totp_code: String,
}

#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffSession {
    pub token: String,
    pub staff_id: String,
    pub role: String,
    pub expires_at_ms: i64,
}

/// What staff see without a grant: counts, nothing about anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffFigures {
    pub accounts: u64,
    pub clips: u64,
    pub clip_bytes: u64,
    pub log_size: u64,
}

/// A staff member asks for access to the account with this address. Whether the address has
/// an account is not revealed: the answer is the same either way.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRequestCreate {
    pub email: String,
    /// From [`ACCESS_SCOPES`].
    pub scopes: Vec<String>,
    pub justification: String,
    pub ticket: String,
    /// At most 24 hours.
    pub duration_secs: u64,
    /// A legal or safety emergency: a second security staff member approves instead of the
    /// customer, who is told at once.
    #[serde(default)]
    pub break_glass: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessRequestState {
    Pending,
    Approved,
    Denied,
    Revoked,
    /// Approved, and its time is up.
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRequestInfo {
    pub id: String,
    /// Who asked.
    pub staff_email: String,
    pub staff_role: String,
    pub scopes: Vec<String>,
    pub justification: String,
    pub ticket: String,
    pub duration_secs: u64,
    pub break_glass: bool,
    pub state: AccessRequestState,
    pub created_at_ms: i64,
    pub decided_at_ms: Option<i64>,
    pub expires_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRequestList {
    pub requests: Vec<AccessRequestInfo>,
}

/// The customer's second factor, for approving or denying.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessDecision {
    pub totp_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffAlertInfo {
    pub id: String,
    pub staff_id: String,
    /// `bulk_access` (many accounts within an hour) or `unusual_hours` (a read outside the
    /// deployment's usual hours).
    pub kind: String,
    pub reason: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffAlertList {
    pub alerts: Vec<StaffAlertInfo>,
}
