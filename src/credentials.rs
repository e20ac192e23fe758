//! Device account credentials: named profiles, referenced by the inventory's `credentials`
//! column, from a file only its owner can read or from environment variables.
//!
//! A password never reaches the database, the reports, the logs, progress output or an error
//! message: [`Secret`] has no `Display`, its `Debug` prints `***`, and only the protocol code
//! that hashes it calls [`Secret::expose`].
//!
//! The file is TOML:
//!
//! ```toml
//! [profiles.office]
//! username = "owner@example.com"
//! password = "correct horse battery staple"
//! ```
//!
//! A profile can also come from `FLEETRESET_CRED_<NAME>_USERNAME` and
//! `FLEETRESET_CRED_<NAME>_PASSWORD` (NAME upper-cased, other characters as `_`), which take
//! precedence over the file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A password. Deliberately not `Display`; `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The password itself, for hashing into a protocol's credential hash. Nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A TP-Link account login, as the devices bound to it expect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

impl Credentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    /// Blank credentials: what a device that was never bound to an account (or was just
    /// factory reset) accepts.
    pub fn blank() -> Credentials {
        Credentials::new("", "")
    }
}

/// Where credentials come from when nothing else is said.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config/fleetreset/credentials.toml"))
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("cannot read the credentials file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the credentials file {path} can be read by others (mode {mode:o}); it holds passwords, so fleetreset refuses it. Fix: chmod 600 {path}"
    )]
    TooOpen { path: PathBuf, mode: u32 },
    // The TOML error is not chained: its message can quote the line, and the line may be a
    // password.
    #[error(
        "the credentials file {path} is not valid: {problem} (expected [profiles.NAME] with username and password)"
    )]
    Parse { path: PathBuf, problem: String },
    #[error(
        "no credentials profile {name:?}: add [profiles.{name}] to {file}, or set FLEETRESET_CRED_{env}_USERNAME and FLEETRESET_CRED_{env}_PASSWORD"
    )]
    Missing {
        name: String,
        file: String,
        env: String,
    },
}

/// The profiles available to a run.
#[derive(Debug, Default, Clone)]
pub struct Store {
    profiles: BTreeMap<String, Credentials>,
    file: Option<PathBuf>,
}

#[derive(serde::Deserialize)]
struct FileFormat {
    #[serde(default)]
    profiles: BTreeMap<String, Profile>,
}

#[derive(serde::Deserialize)]
struct Profile {
    username: String,
    password: String,
}

impl Store {
    /// Loads `path` if it exists (an absent default file is not an error; an absent named file
    /// is). The file must not be readable or writable by group or others.
    pub fn load(path: Option<&Path>, required: bool) -> Result<Store, CredentialsError> {
        let Some(path) = path else {
            return Ok(Store::default());
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
                return Ok(Store {
                    profiles: BTreeMap::new(),
                    file: Some(path.to_path_buf()),
                });
            }
            Err(source) => {
                return Err(CredentialsError::Read {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(CredentialsError::TooOpen {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(path).map_err(|source| CredentialsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let parsed: FileFormat = toml::from_str(&text).map_err(|e| CredentialsError::Parse {
            path: path.to_path_buf(),
            problem: describe_toml_error(&e),
        })?;
        let profiles = parsed
            .profiles
            .into_iter()
            .map(|(name, p)| (name, Credentials::new(p.username, p.password)))
            .collect();
        Ok(Store {
            profiles,
            file: Some(path.to_path_buf()),
        })
    }

    /// The profile `name`, from the environment first, then the file.
    pub fn get(&self, name: &str) -> Result<Credentials, CredentialsError> {
        let env = env_name(name);
        let user = std::env::var(format!("FLEETRESET_CRED_{env}_USERNAME")).ok();
        let pass = std::env::var(format!("FLEETRESET_CRED_{env}_PASSWORD")).ok();
        if let (Some(u), Some(p)) = (user, pass) {
            return Ok(Credentials::new(u, p));
        }
        self.profiles
            .get(name)
            .cloned()
            .ok_or_else(|| CredentialsError::Missing {
                name: name.to_string(),
                file: self
                    .file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "a credentials file".into()),
                env,
            })
    }
}

/// Where in the file the problem is, without quoting the file.
fn describe_toml_error(e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => format!("a syntax or shape error at byte {}", span.start),
        None => "a syntax or shape error".into(),
    }
}

fn env_name(profile: &str) -> String {
    profile
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file(text: &str, mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    #[test]
    fn secrets_never_print() {
        let c = Credentials::new("owner@example.com", "hunter2-SECRET");
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("owner@example.com"));
    }

    #[test]
    fn profiles_load_from_an_owner_only_file() {
        let (_d, path) = file(
            "[profiles.office]\nusername = \"a@b.c\"\npassword = \"pw1\"\n",
            0o600,
        );
        let store = Store::load(Some(&path), true).unwrap();
        let c = store.get("office").unwrap();
        assert_eq!(c.username, "a@b.c");
        assert_eq!(c.password.expose(), "pw1");
    }

    #[test]
    fn a_file_others_can_read_is_refused_with_the_fix() {
        let (_d, path) = file("[profiles.x]\nusername = \"u\"\npassword = \"p\"\n", 0o644);
        let err = Store::load(Some(&path), true).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
        assert!(err.contains("644"), "{err}");
    }

    #[test]
    fn a_broken_file_is_reported_without_quoting_its_contents() {
        let (_d, path) = file(
            "[profiles.x]\nusername = \"u\"\npassword = \"TOPSECRET\n",
            0o600,
        );
        let err = Store::load(Some(&path), true).unwrap_err().to_string();
        assert!(!err.contains("TOPSECRET"), "{err}");
        assert!(err.contains("not valid"), "{err}");
    }

    #[test]
    fn a_missing_profile_says_how_to_add_it() {
        let store = Store::default();
        let err = store.get("west-wing").unwrap_err().to_string();
        assert!(err.contains("FLEETRESET_CRED_WEST_WING_USERNAME"), "{err}");
    }

    #[test]
    fn an_absent_default_file_is_empty_but_an_absent_named_file_is_an_error() {
        let missing = Path::new("/nonexistent/fleetreset/credentials.toml");
        assert!(Store::load(Some(missing), false).is_ok());
        assert!(Store::load(Some(missing), true).is_err());
    }
}
