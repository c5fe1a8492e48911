//! Certificates from PEM files (`--tls-cert`, `--tls-key`), reloaded when they change, so a
//! certificate renewed by another tool (certbot, a reverse proxy's ACME) is picked up
//! without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use super::certs::{self, Certificates};
use crate::error::{Error, Result};

/// How often the files' modification times are compared.
const WATCH_EVERY: Duration = Duration::from_secs(5);

pub fn load(into: &Certificates, cert: &Path, key: &Path) -> Result<()> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| Error::internal(format!("cannot read {}: {e}", p.display())))
    };
    let loaded = certs::from_pem(&read(cert)?, &read(key)?)
        .map_err(|e| Error::internal(format!("{} / {}: {e}", cert.display(), key.display())))?;
    into.install(None, Arc::new(loaded));
    Ok(())
}

/// Reloads the pair when either file's modification time changes; a pair that fails to
/// load keeps the previous one in service and says why. Ends with the server.
pub fn watch(into: Weak<Certificates>, cert: PathBuf, key: PathBuf) {
    let spawned = std::thread::Builder::new()
        .name("tls-files".into())
        .spawn(move || {
            let stamp = || (modified(&cert), modified(&key));
            let mut seen = stamp();
            loop {
                std::thread::sleep(WATCH_EVERY);
                let Some(store) = into.upgrade() else { break };
                let now = stamp();
                if now == seen {
                    continue;
                }
                seen = now;
                match load(&store, &cert, &key) {
                    Ok(()) => log::info!("TLS certificate reloaded from {}", cert.display()),
                    Err(e) => log::warn!("TLS certificate not reloaded, the old one stays: {e}"),
                }
            }
        });
    if let Err(e) = spawned {
        log::warn!("cannot watch the TLS certificate files: {e}");
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
