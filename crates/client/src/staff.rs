//! A staff member's session (DESIGN §7), kept in the client's home folder as
//! `staff-session.json` and never mixed with the customer session (`session.json`): the two
//! are different principals, and neither token opens the other's routes.
//!
//! The file follows [`crate::Home`]'s rules: 0600 in a 0700 folder, written atomically, JSON
//! with a `version` field, refused when others can read it or a newer client wrote it.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::files::PrivateDir;
use crate::home::{Home, HomeError};
use crate::secret::Secret;

const FORMAT_VERSION: u32 = 1;

/// The staff session's file in the home folder.
pub const STAFF_SESSION_FILE: &str = "staff-session.json";

/// A signed-in staff session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredStaffSession {
    /// The server that issued the token; the token is never sent anywhere else.
    pub server_url: String,
    pub token: Secret,
    pub staff_id: String,
    /// The address the staff member signed in with.
    pub email: String,
    pub role: String,
    pub expires_at_ms: i64,
}

/// The staff side of a home folder: only the staff session.
#[derive(Debug, Clone)]
pub struct StaffHome {
    files: PrivateDir,
}

impl StaffHome {
    /// The staff side of `home` (the same private folder).
    pub fn open(home: &Home) -> Result<Self, HomeError> {
        Ok(Self {
            files: PrivateDir::open(home.dir())?,
        })
    }

    pub fn load_session(&self) -> Result<Option<StoredStaffSession>, HomeError> {
        let Some(mut file) = self
            .files
            .read_json::<StaffSessionFile>(STAFF_SESSION_FILE)?
        else {
            return Ok(None);
        };
        if file.version != FORMAT_VERSION {
            return Err(self.files.damaged(STAFF_SESSION_FILE));
        }
        Ok(Some(StoredStaffSession {
            server_url: file.server_url,
            token: Secret::new(std::mem::take(&mut *file.token)),
            staff_id: file.staff_id,
            email: file.email,
            role: file.role,
            expires_at_ms: file.expires_at_ms,
        }))
    }

    pub fn save_session(&self, session: &StoredStaffSession) -> Result<(), HomeError> {
        let file = StaffSessionFile {
            version: FORMAT_VERSION,
            server_url: session.server_url.clone(),
            token: Zeroizing::new(session.token.expose().to_owned()),
            staff_id: session.staff_id.clone(),
            email: session.email.clone(),
            role: session.role.clone(),
            expires_at_ms: session.expires_at_ms,
        };
        self.files.write_json(STAFF_SESSION_FILE, &file)
    }

    /// Forgets the staff session. Not an error if there was none.
    pub fn clear_session(&self) -> Result<(), HomeError> {
        self.files.remove(STAFF_SESSION_FILE)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StaffSessionFile {
    version: u32,
    server_url: String,
    token: Zeroizing<String>,
    staff_id: String,
    email: String,
    role: String,
    expires_at_ms: i64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::home::StoredSession;

    fn staff_session() -> StoredStaffSession {
        StoredStaffSession {
            server_url: "http://127.0.0.1:8080".into(),
            token: Secret::from("staff-token-0123456789"),
            staff_id: "stf_1".into(),
            email: "sam@porchlight.example".into(),
            role: "support".into(),
            expires_at_ms: 1_700_000_000_000,
        }
    }

    fn customer_session() -> StoredSession {
        StoredSession {
            server_url: "http://127.0.0.1:8080".into(),
            token: Secret::from("customer-token-abcdef"),
            session_id: "ses_1".into(),
            account_id: "acc_1".into(),
            expires_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn the_staff_session_round_trips_privately() {
        let parent = tempfile::tempdir().unwrap();
        let home = Home::open(parent.path().join("home")).unwrap();
        let staff = StaffHome::open(&home).unwrap();
        assert_eq!(staff.load_session().unwrap(), None);
        staff.save_session(&staff_session()).unwrap();
        assert_eq!(staff.load_session().unwrap(), Some(staff_session()));
        let path = home.dir().join(STAFF_SESSION_FILE);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        staff.clear_session().unwrap();
        assert_eq!(staff.load_session().unwrap(), None);
        staff.clear_session().unwrap();
    }

    #[test]
    fn staff_and_customer_sessions_never_mix() {
        let parent = tempfile::tempdir().unwrap();
        let home = Home::open(parent.path().join("home")).unwrap();
        let staff = StaffHome::open(&home).unwrap();
        home.save_session(&customer_session()).unwrap();
        staff.save_session(&staff_session()).unwrap();
        assert_eq!(home.load_session().unwrap(), Some(customer_session()));
        assert_eq!(staff.load_session().unwrap(), Some(staff_session()));
        // Signing one out leaves the other alone.
        home.clear_session().unwrap();
        assert_eq!(staff.load_session().unwrap(), Some(staff_session()));
        home.save_session(&customer_session()).unwrap();
        staff.clear_session().unwrap();
        assert_eq!(home.load_session().unwrap(), Some(customer_session()));
    }

    #[test]
    fn a_readable_or_damaged_file_is_refused_without_its_contents() {
        let parent = tempfile::tempdir().unwrap();
        let home = Home::open(parent.path().join("home")).unwrap();
        let staff = StaffHome::open(&home).unwrap();
        staff.save_session(&staff_session()).unwrap();
        let path = home.dir().join(STAFF_SESSION_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            staff.load_session(),
            Err(HomeError::NotPrivate { .. })
        ));
        staff
            .files
            .replace(STAFF_SESSION_FILE, br#"{"version":1,"token":"tok-leak"#)
            .unwrap();
        let err = staff.load_session().unwrap_err();
        assert!(matches!(err, HomeError::Damaged { .. }));
        assert!(!format!("{err} {err:?}").contains("tok-leak"));
        let shown = format!("{:?}", staff_session());
        assert!(!shown.contains("staff-token"), "{shown}");
    }
}
