//! The signing key in the data dir: `DATA_DIR/pki/sa.key` (PKCS#1 PEM, mode 0600) and `sa.pub`
//! (kubeadm's names), made at the first start and reused after.

use anyhow::Context;
use skiff_machinery::serviceaccount::SigningKey;
use std::path::Path;
use std::sync::Arc;

/// The signing key kept under `data_dir`, created (with its public half) when missing.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Arc<SigningKey>> {
    let dir = data_dir.join("pki");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let private = dir.join("sa.key");
    let pem = match std::fs::read_to_string(&private) {
        Ok(pem) => pem,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let pem = SigningKey::generate_pem()?;
            crate::pki::write_file(&private, pem.as_bytes(), 0o600)?;
            pem
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", private.display())),
    };
    let key = SigningKey::from_pem(&pem).with_context(|| format!("loading {}", private.display()))?;
    let public = dir.join("sa.pub");
    if std::fs::read_to_string(&public).ok().as_deref() != Some(key.public_pem()) {
        crate::pki::write_file(&public, key.public_pem().as_bytes(), 0o644)?;
    }
    Ok(Arc::new(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_key_is_made_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(first.key_id(), again.key_id());
        let mode = std::fs::metadata(dir.path().join("pki/sa.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let public = std::fs::read_to_string(dir.path().join("pki/sa.pub")).unwrap();
        assert_eq!(public, first.public_pem());
    }
}
