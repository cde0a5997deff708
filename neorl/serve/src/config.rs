//! `serve.toml`: where the server listens, its limits, its audit log and
//! state, its tokens and TLS.
//!
//! ```toml
//! [server]
//! http = "127.0.0.1:8080"        # or --http
//! modbus = "127.0.0.1:5020"      # optional, or --modbus
//! max_body_bytes = 65536         # larger bodies: 413
//! max_in_flight = 64             # requests decided or waiting; more: 503
//! state_dir = "serve-state"      # audit log and the latched e-stop
//! audit_fsync = true             # fsync every audit record before answering
//! shield = true                  # the shield in the request path
//!
//! [tls]                          # optional: HTTPS through rustls
//! cert = "server.crt"            # PEM chain
//! key = "server.key"             # PEM private key
//!
//! [[tokens]]                     # written by `neorl serve token add`
//! name = "plc-1"
//! role = "client"                # client | operator | viewer
//! sha256 = "…"                   # SHA-256 of the token, hex; the token itself is never stored
//! ```

use crate::auth::Role;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub tls: Option<TlsSection>,
    #[serde(default)]
    pub tokens: Vec<TokenEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub http: Option<String>,
    pub modbus: Option<String>,
    pub max_body_bytes: usize,
    pub max_in_flight: usize,
    pub state_dir: PathBuf,
    pub audit_fsync: bool,
    pub shield: bool,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            http: None,
            modbus: None,
            max_body_bytes: 64 * 1024,
            max_in_flight: 64,
            state_dir: PathBuf::from("serve-state"),
            audit_fsync: true,
            shield: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenEntry {
    pub name: String,
    pub role: Role,
    /// SHA-256 of the token, lowercase hex.
    pub sha256: String,
}

impl ServeConfig {
    /// Read `path`; a missing file is an empty config (no tokens: every
    /// request is refused until `neorl serve token add` writes one).
    pub fn load(path: &Path) -> Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let c: ServeConfig = toml::from_str(&text).with_context(|| {
            format!(
                "{} is not a valid serve config (see `neorl serve --help` for its sections)",
                path.display()
            )
        })?;
        c.check()?;
        Ok(c)
    }

    /// Write `path` atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = toml::to_string_pretty(self).context("encoding the serve config")?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(d) = dir {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    fn check(&self) -> Result<()> {
        if self.server.max_body_bytes < 64 || self.server.max_body_bytes > 64 << 20 {
            bail!("server.max_body_bytes must be between 64 and 67108864");
        }
        if self.server.max_in_flight == 0 || self.server.max_in_flight > 1 << 16 {
            bail!("server.max_in_flight must be between 1 and 65536");
        }
        for t in &self.tokens {
            if t.sha256.len() != 64 || !t.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                bail!(
                    "token '{}': sha256 must be 64 hex digits (write tokens with `neorl serve token add`)",
                    t.name
                );
            }
        }
        Ok(())
    }
}
