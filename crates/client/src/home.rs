//! The client's home folder: its device id, its session and a sign-up waiting for its first code.
//!
//! Everything here is private to the user: the folder is 0700 and every file 0600, written to a
//! temporary file and renamed into place so a crash never leaves half a token behind. Files are
//! JSON with a `version` field; a file from a newer client is refused rather than misread.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::device::DeviceId;
use crate::files::PrivateDir;
use crate::secret::Secret;

/// The environment variable that names the home folder.
pub const HOME_ENV: &str = "PORCHLIGHT_HOME";

const FORMAT_VERSION: u32 = 1;

const DEVICE_ID_FILE: &str = "device-id";
const SESSION_FILE: &str = "session.json";
const ENROLMENT_FILE: &str = "enrolment.json";

/// The signed-in session this home holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The server that issued the token; the token is never sent anywhere else.
    pub server_url: String,
    pub token: Secret,
    pub session_id: String,
    pub account_id: String,
    pub expires_at_ms: i64,
}

/// A sign-up that waits for the first code from the new authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEnrolment {
    pub server_url: String,
    pub enrolment_token: Secret,
    pub expires_at_ms: i64,
    /// The server emailed a code to the address that confirming needs as well.
    pub email_code_sent: bool,
}

/// A failure reading or writing the home folder. Never includes file contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HomeError {
    #[error("no home folder: set {HOME_ENV} or HOME, or pass --home")]
    NoHomeFolder,
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is damaged or was written by a newer client", path.display())]
    Damaged { path: PathBuf },
    #[error("{} can be read by other users; make it private (chmod 600) or remove it", path.display())]
    NotPrivate { path: PathBuf },
}

/// The client's home folder.
#[derive(Debug, Clone)]
pub struct Home {
    files: PrivateDir,
}

impl Home {
    /// `$PORCHLIGHT_HOME`, else `$HOME/.porchlight`.
    pub fn default_dir() -> Result<PathBuf, HomeError> {
        default_dir_from(std::env::var_os(HOME_ENV), std::env::var_os("HOME"))
            .ok_or(HomeError::NoHomeFolder)
    }

    /// Opens the folder, creating it (0700) if needed and taking group and other access away
    /// from one that already exists.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, HomeError> {
        Ok(Self {
            files: PrivateDir::open(dir)?,
        })
    }

    pub fn dir(&self) -> &Path {
        self.files.dir()
    }

    /// This home's device id, made and saved on first use.
    ///
    /// Two clients starting at once agree on one id: the file is created without replacing
    /// one that appeared meanwhile.
    pub fn device_id(&self) -> Result<DeviceId, HomeError> {
        if let Some(id) = self.read_device_id()? {
            return Ok(id);
        }
        let id = DeviceId::generate();
        let created = self
            .files
            .write_new(DEVICE_ID_FILE, format!("{}\n", id.as_str()).as_bytes())?;
        if created {
            return Ok(id);
        }
        self.read_device_id()?
            .ok_or_else(|| self.files.damaged(DEVICE_ID_FILE))
    }

    pub fn load_session(&self) -> Result<Option<StoredSession>, HomeError> {
        let Some(mut file) = self.files.read_json::<SessionFile>(SESSION_FILE)? else {
            return Ok(None);
        };
        if file.version != FORMAT_VERSION {
            return Err(self.files.damaged(SESSION_FILE));
        }
        Ok(Some(StoredSession {
            server_url: file.server_url,
            token: Secret::new(std::mem::take(&mut *file.token)),
            session_id: file.session_id,
            account_id: file.account_id,
            expires_at_ms: file.expires_at_ms,
        }))
    }

    pub fn save_session(&self, session: &StoredSession) -> Result<(), HomeError> {
        let file = SessionFile {
            version: FORMAT_VERSION,
            server_url: session.server_url.clone(),
            token: Zeroizing::new(session.token.expose().to_owned()),
            session_id: session.session_id.clone(),
            account_id: session.account_id.clone(),
            expires_at_ms: session.expires_at_ms,
        };
        self.files.write_json(SESSION_FILE, &file)
    }

    /// Forgets the session. Not an error if there was none.
    pub fn clear_session(&self) -> Result<(), HomeError> {
        self.files.remove(SESSION_FILE)
    }

    pub fn load_enrolment(&self) -> Result<Option<PendingEnrolment>, HomeError> {
        let Some(mut file) = self.files.read_json::<EnrolmentFile>(ENROLMENT_FILE)? else {
            return Ok(None);
        };
        if file.version != FORMAT_VERSION {
            return Err(self.files.damaged(ENROLMENT_FILE));
        }
        Ok(Some(PendingEnrolment {
            server_url: file.server_url,
            enrolment_token: Secret::new(std::mem::take(&mut *file.enrolment_token)),
            expires_at_ms: file.expires_at_ms,
            email_code_sent: file.email_code_sent,
        }))
    }

    pub fn save_enrolment(&self, enrolment: &PendingEnrolment) -> Result<(), HomeError> {
        let file = EnrolmentFile {
            version: FORMAT_VERSION,
            server_url: enrolment.server_url.clone(),
            enrolment_token: Zeroizing::new(enrolment.enrolment_token.expose().to_owned()),
            expires_at_ms: enrolment.expires_at_ms,
            email_code_sent: enrolment.email_code_sent,
        };
        self.files.write_json(ENROLMENT_FILE, &file)
    }

    /// Forgets the pending sign-up. Not an error if there was none.
    pub fn clear_enrolment(&self) -> Result<(), HomeError> {
        self.files.remove(ENROLMENT_FILE)
    }

    fn read_device_id(&self) -> Result<Option<DeviceId>, HomeError> {
        let Some(text) = self.files.read(DEVICE_ID_FILE)? else {
            return Ok(None);
        };
        let text = std::str::from_utf8(&text).map_err(|_| self.files.damaged(DEVICE_ID_FILE))?;
        DeviceId::parse(text.trim_end())
            .map(Some)
            .map_err(|_| self.files.damaged(DEVICE_ID_FILE))
    }
}

/// Empty variables count as unset, as shells often leave them.
fn default_dir_from(porchlight_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let set = |value: Option<OsString>| value.filter(|v| !v.is_empty());
    set(porchlight_home)
        .map(PathBuf::from)
        .or_else(|| set(home).map(|home| PathBuf::from(home).join(".porchlight")))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionFile {
    version: u32,
    server_url: String,
    token: Zeroizing<String>,
    session_id: String,
    account_id: String,
    expires_at_ms: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrolmentFile {
    version: u32,
    server_url: String,
    enrolment_token: Zeroizing<String>,
    expires_at_ms: i64,
    /// Absent from a file written before servers sent sign-up codes.
    #[serde(default)]
    email_code_sent: bool,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn temp_home() -> (tempfile::TempDir, Home) {
        let parent = tempfile::tempdir().unwrap();
        let home = Home::open(parent.path().join("home")).unwrap();
        (parent, home)
    }

    fn session() -> StoredSession {
        StoredSession {
            server_url: "http://127.0.0.1:8080".into(),
            token: Secret::from("tok-0123456789abcdef"),
            session_id: "ses_1".into(),
            account_id: "acc_1".into(),
            expires_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn the_folder_is_private() {
        let (_parent, home) = temp_home();
        assert_eq!(mode(home.dir()), 0o700);
    }

    #[test]
    fn an_existing_open_folder_is_made_private() {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("home");
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        Home::open(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn every_file_is_0600() {
        let (_parent, home) = temp_home();
        home.device_id().unwrap();
        home.save_session(&session()).unwrap();
        home.save_enrolment(&PendingEnrolment {
            server_url: "http://x".into(),
            enrolment_token: Secret::from("enr"),
            expires_at_ms: 1,
            email_code_sent: false,
        })
        .unwrap();
        let names: Vec<_> = fs::read_dir(home.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 3, "no temporary files left: {names:?}");
        for name in [DEVICE_ID_FILE, SESSION_FILE, ENROLMENT_FILE] {
            assert_eq!(mode(&home.dir().join(name)), 0o600, "{name}");
        }
    }

    #[test]
    fn the_device_id_is_made_once_and_kept() {
        let (_parent, home) = temp_home();
        let first = home.device_id().unwrap();
        let again = Home::open(home.dir()).unwrap().device_id().unwrap();
        assert_eq!(first, again);
    }

    #[test]
    fn a_damaged_device_id_is_an_error_not_a_new_id() {
        let (_parent, home) = temp_home();
        home.files.replace(DEVICE_ID_FILE, b"not hex\n").unwrap();
        assert!(matches!(home.device_id(), Err(HomeError::Damaged { .. })));
    }

    #[test]
    fn session_round_trips() {
        let (_parent, home) = temp_home();
        assert_eq!(home.load_session().unwrap(), None);
        home.save_session(&session()).unwrap();
        assert_eq!(home.load_session().unwrap(), Some(session()));

        let mut newer = session();
        newer.session_id = "ses_2".into();
        home.save_session(&newer).unwrap();
        assert_eq!(home.load_session().unwrap(), Some(newer));

        home.clear_session().unwrap();
        assert_eq!(home.load_session().unwrap(), None);
        home.clear_session().unwrap();
    }

    #[test]
    fn enrolment_round_trips() {
        let (_parent, home) = temp_home();
        let pending = PendingEnrolment {
            server_url: "https://porch.example".into(),
            enrolment_token: Secret::from("enrol-secret"),
            expires_at_ms: 42,
            email_code_sent: true,
        };
        home.save_enrolment(&pending).unwrap();
        assert_eq!(home.load_enrolment().unwrap(), Some(pending));
        home.clear_enrolment().unwrap();
        assert_eq!(home.load_enrolment().unwrap(), None);
    }

    #[test]
    fn an_enrolment_kept_before_emailed_codes_still_reads() {
        let (_parent, home) = temp_home();
        home.files
            .replace(
                ENROLMENT_FILE,
                br#"{"version":1,"server_url":"http://x","enrolment_token":"enr","expires_at_ms":7}"#,
            )
            .unwrap();
        let pending = home.load_enrolment().unwrap().unwrap();
        assert!(!pending.email_code_sent);
        assert_eq!(pending.expires_at_ms, 7);
    }

    #[test]
    fn a_file_others_can_read_is_refused() {
        let (_parent, home) = temp_home();
        home.save_session(&session()).unwrap();
        let path = home.dir().join(SESSION_FILE);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            home.load_session(),
            Err(HomeError::NotPrivate { .. })
        ));
    }

    #[test]
    fn damage_is_reported_without_the_contents() {
        let (_parent, home) = temp_home();
        home.files
            .replace(SESSION_FILE, br#"{"version":1,"token":"tok-leak"#)
            .unwrap();
        let err = home.load_session().unwrap_err();
        assert!(matches!(err, HomeError::Damaged { .. }));
        assert!(!format!("{err} {err:?}").contains("tok-leak"));
    }

    #[test]
    fn a_newer_format_is_refused() {
        let (_parent, home) = temp_home();
        home.save_session(&session()).unwrap();
        let path = home.dir().join(SESSION_FILE);
        let text = fs::read_to_string(&path).unwrap();
        home.files
            .replace(
                SESSION_FILE,
                text.replace("\"version\": 1", "\"version\": 2").as_bytes(),
            )
            .unwrap();
        assert!(matches!(
            home.load_session(),
            Err(HomeError::Damaged { .. })
        ));
    }

    #[test]
    fn debug_of_stored_secrets_is_redacted() {
        let shown = format!("{:?}", session());
        assert!(!shown.contains("tok-0123456789abcdef"), "{shown}");
        assert!(shown.contains("ses_1"));
    }

    #[test]
    fn default_dir_prefers_porchlight_home() {
        let dir = default_dir_from(Some("/p".into()), Some("/home/u".into()));
        assert_eq!(dir, Some(PathBuf::from("/p")));
        let dir = default_dir_from(Some("".into()), Some("/home/u".into()));
        assert_eq!(dir, Some(PathBuf::from("/home/u/.porchlight")));
        assert_eq!(default_dir_from(None, None), None);
    }
}
