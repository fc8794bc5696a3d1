//! Private folders of private files, for key material and trust anchors: the folder is 0700,
//! every file 0600, written to a temporary file and renamed into place (the pattern of
//! [`crate::Home`]), and a file that group or others can read is refused rather than trusted.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use crate::home::HomeError;

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;
/// Permission bits that give group or others any access.
const SHARED_BITS: u32 = 0o077;

/// A folder only its owner can enter.
#[derive(Debug, Clone)]
pub(crate) struct PrivateDir {
    dir: PathBuf,
}

impl PrivateDir {
    /// Opens the folder, creating it (0700) if needed and taking group and other access away
    /// from one that already exists.
    pub(crate) fn open(dir: impl Into<PathBuf>) -> Result<Self, HomeError> {
        let dir = dir.into();
        DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(&dir)
            .map_err(|source| io_error("create", &dir, source))?;
        let mode = fs::metadata(&dir)
            .map_err(|source| io_error("read", &dir, source))?
            .permissions()
            .mode();
        if mode & 0o777 != DIR_MODE {
            fs::set_permissions(&dir, fs::Permissions::from_mode(DIR_MODE))
                .map_err(|source| io_error("set permissions on", &dir, source))?;
        }
        Ok(Self { dir })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub(crate) fn damaged(&self, name: &str) -> HomeError {
        HomeError::Damaged {
            path: self.path(name),
        }
    }

    /// The file's bytes, or `None` if it does not exist. Refuses a file others can read.
    pub(crate) fn read(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, HomeError> {
        let path = self.path(name);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io_error("open", &path, source)),
        };
        let metadata = file
            .metadata()
            .map_err(|source| io_error("read", &path, source))?;
        if metadata.permissions().mode() & SHARED_BITS != 0 {
            return Err(HomeError::NotPrivate { path });
        }
        let mut bytes = Zeroizing::new(Vec::new());
        file.read_to_end(&mut bytes)
            .map_err(|source| io_error("read", &path, source))?;
        Ok(Some(bytes))
    }

    /// A JSON file, or `None` if it does not exist. A parse failure reports only the path:
    /// the parser's message could quote a secret.
    pub(crate) fn read_json<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, HomeError> {
        let Some(bytes) = self.read(name)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| self.damaged(name))
    }

    pub(crate) fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<(), HomeError> {
        let mut bytes =
            Zeroizing::new(serde_json::to_vec_pretty(value).map_err(|_| self.damaged(name))?);
        bytes.push(b'\n');
        self.replace(name, &bytes)
    }

    /// Writes `bytes` to `name` atomically, replacing any earlier file.
    pub(crate) fn replace(&self, name: &str, bytes: &[u8]) -> Result<(), HomeError> {
        let path = self.path(name);
        let tmp = self.write_temp(name, bytes)?;
        if let Err(source) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(io_error("replace", &path, source));
        }
        self.sync();
        Ok(())
    }

    /// Writes `bytes` to `name` atomically unless it already exists; says whether it wrote.
    pub(crate) fn write_new(&self, name: &str, bytes: &[u8]) -> Result<bool, HomeError> {
        let path = self.path(name);
        let tmp = self.write_temp(name, bytes)?;
        // A hard link, unlike a rename, fails rather than replace a file another process made.
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                self.sync();
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
            Err(source) => Err(io_error("create", &path, source)),
        }
    }

    /// Removes `name`. Not an error if there was none.
    pub(crate) fn remove(&self, name: &str) -> Result<(), HomeError> {
        let path = self.path(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(io_error("remove", &path, source)),
        }
    }

    /// A new 0600 file beside `name` holding `bytes`, flushed to disk.
    fn write_temp(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, HomeError> {
        let mut suffix = [0u8; 8];
        rand::rng().fill_bytes(&mut suffix);
        let tmp = self.path(&format!(".{name}.{}.tmp", hex::encode(suffix)));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(&tmp)
            .and_then(|mut file| {
                file.write_all(bytes)?;
                file.sync_all()
            });
        match written {
            Ok(()) => Ok(tmp),
            Err(source) => {
                let _ = fs::remove_file(&tmp);
                Err(io_error("write", &tmp, source))
            }
        }
    }

    /// Makes a rename durable. Best effort: the write already succeeded either way.
    fn sync(&self) {
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
    }
}

pub(crate) fn io_error(action: &'static str, path: &Path, source: io::Error) -> HomeError {
    HomeError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_private_and_replaced_atomically() {
        let parent = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(parent.path().join("keys")).unwrap();
        assert_eq!(mode(dir.dir()), 0o700);
        assert!(dir.write_new("k", b"one").unwrap());
        assert!(!dir.write_new("k", b"two").unwrap());
        assert_eq!(dir.read("k").unwrap().unwrap().as_slice(), b"one");
        dir.replace("k", b"three").unwrap();
        assert_eq!(dir.read("k").unwrap().unwrap().as_slice(), b"three");
        assert_eq!(mode(&dir.path("k")), 0o600);
        let names: Vec<_> = fs::read_dir(dir.dir()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary files left");
        dir.remove("k").unwrap();
        dir.remove("k").unwrap();
        assert!(dir.read("k").unwrap().is_none());
    }

    #[test]
    fn a_readable_file_is_refused() {
        let parent = tempfile::tempdir().unwrap();
        let dir = PrivateDir::open(parent.path()).unwrap();
        dir.replace("k", b"x").unwrap();
        fs::set_permissions(dir.path("k"), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(dir.read("k"), Err(HomeError::NotPrivate { .. })));
    }
}
