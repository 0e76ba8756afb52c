//! BGP passwords from mounted Kubernetes Secrets: a Secret's key `<key>` of Secret `<name>`
//! is the file `<dir>/<name>/<key>` (how a Secret volume lays them out, one directory per
//! Secret mounted under the node's secrets directory). The content is the password, byte for
//! byte. Passwords are never logged; errors name the Secret and the key only.

use std::path::{Path, PathBuf};

use model::bgp::Password;
use model::resources::SecretKeySelector;

/// Where Secrets are mounted; `None`: nowhere, so no reference resolves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecretsDir(Option<PathBuf>);

/// Why a password reference did not resolve.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret {name:?} key {key:?}: no secrets directory is configured")]
    NoDirectory { name: String, key: String },
    #[error(
        "secret {name:?} key {key:?}: not a valid Secret name and key (no '/', not '.' or '..')"
    )]
    BadReference { name: String, key: String },
    #[error("secret {name:?} key {key:?}: reading {path}: {error}")]
    Read {
        name: String,
        key: String,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("secret {name:?} key {key:?}: the value is not UTF-8 text")]
    NotText { name: String, key: String },
}

impl SecretsDir {
    /// Secrets mounted under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        SecretsDir(Some(dir.into()))
    }

    /// No secrets directory.
    pub fn none() -> Self {
        SecretsDir(None)
    }

    /// The directory, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.0.as_deref()
    }

    /// Reads the password `selector` refers to.
    pub async fn read(&self, selector: &SecretKeySelector) -> Result<Password, SecretError> {
        let (name, key) = (selector.name.clone(), selector.key.clone());
        let Some(dir) = &self.0 else {
            return Err(SecretError::NoDirectory { name, key });
        };
        let part_ok = |s: &str| !s.is_empty() && s != "." && s != ".." && !s.contains('/');
        if !part_ok(&name) || !part_ok(&key) {
            return Err(SecretError::BadReference { name, key });
        }
        let path = dir.join(&name).join(&key);
        match tokio::fs::read(&path).await {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Ok(Password(text)),
                Err(_) => Err(SecretError::NotText { name, key }),
            },
            Err(error) => Err(SecretError::Read {
                name,
                key,
                path,
                error,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn selector(name: &str, key: &str) -> SecretKeySelector {
        SecretKeySelector {
            name: name.into(),
            key: key.into(),
            optional: None,
        }
    }

    #[tokio::test]
    async fn a_password_is_the_file_of_the_key_in_the_secrets_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bgp-secrets")).unwrap();
        std::fs::write(dir.path().join("bgp-secrets/rr-password"), "s3cret").unwrap();
        let secrets = SecretsDir::new(dir.path());
        let p = secrets
            .read(&selector("bgp-secrets", "rr-password"))
            .await
            .unwrap();
        assert_eq!(p.expose(), "s3cret");
    }

    #[tokio::test]
    async fn unresolvable_references_are_errors_naming_the_secret_not_the_value() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("s")).unwrap();
        std::fs::write(dir.path().join("s/bin"), [0xff, 0xfe]).unwrap();
        let secrets = SecretsDir::new(dir.path());
        for (name, key, want) in [
            ("s", "missing", "reading"),
            ("..", "x", "not a valid"),
            ("s", "a/b", "not a valid"),
            ("s", "bin", "not UTF-8"),
        ] {
            let e = secrets.read(&selector(name, key)).await.unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
        let e = SecretsDir::none()
            .read(&selector("s", "k"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no secrets directory"), "{e}");
    }
}
