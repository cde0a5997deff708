//! Bearer tokens with roles.
//!
//! A token is 32 random bytes from the operating system, written as
//! `neorl_` and 64 hex digits, shown once by `neorl serve token add`; the
//! config keeps only its SHA-256. A fast hash is enough here (unlike for
//! passwords): the token has 256 bits of entropy, so no dictionary or
//! brute force reaches it, and the comparison is over hashes in constant
//! time, so response times say nothing about a near miss.
//!
//! Roles: `client` may act (and read status), `operator` may take over,
//! hand back, press and reset the emergency stop (and read status),
//! `viewer` may read status and metrics only. A missing or unknown token is
//! 401, a known token without the role 403; the body says which, never why
//! a token is unknown.

use crate::config::TokenEntry;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Client,
    Operator,
    Viewer,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "client" => Some(Role::Client),
            "operator" => Some(Role::Operator),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }
}

/// What a request asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// `POST /v1/act`.
    Act,
    /// `POST /v1/episode` (a client; an operator, who may also release a
    /// tripped stop by it).
    Begin,
    /// Override, hand-back, e-stop press and reset.
    Operate,
    /// `GET /v1/status`, `GET /metrics`.
    Read,
}

impl Role {
    pub fn may(self, p: Permission) -> bool {
        match p {
            Permission::Act => self == Role::Client,
            Permission::Begin => self != Role::Viewer,
            Permission::Operate => self == Role::Operator,
            Permission::Read => true,
        }
    }
}

/// The caller a token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// SHA-256 of `token`, lowercase hex.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new token: `neorl_` + 64 hex digits of operating-system randomness.
pub fn new_token() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| anyhow::anyhow!("the operating system gave no random bytes ({e})"))?;
    Ok(format!("neorl_{}", hex(&bytes)))
}

/// A random id for a request without one (16 bytes, hex).
pub fn new_id() -> String {
    let mut bytes = [0u8; 16];
    // Without OS randomness an id is still unique enough from the clock.
    if getrandom::fill(&mut bytes).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = t.to_le_bytes();
    }
    hex(&bytes)
}

/// Equality of two equal-length strings in time independent of where they
/// differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The caller of `authorization` (an HTTP `Authorization` header value),
/// if it is `Bearer <known token>`.
pub fn authenticate(tokens: &[TokenEntry], authorization: Option<&str>) -> Option<Caller> {
    let token = authorization?.strip_prefix("Bearer ")?.trim();
    let h = hash_token(token);
    let mut found = None;
    for t in tokens {
        if same(&t.sha256, &h) && found.is_none() {
            found = Some(Caller {
                name: t.name.clone(),
                role: t.role,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_authenticate_by_hash_and_roles_gate_permissions() {
        let t = new_token().unwrap();
        assert!(t.starts_with("neorl_") && t.len() == 70);
        assert_ne!(t, new_token().unwrap());
        let entries = vec![TokenEntry {
            name: "plc".into(),
            role: Role::Client,
            sha256: hash_token(&t),
        }];
        let c = authenticate(&entries, Some(&format!("Bearer {t}"))).unwrap();
        assert_eq!(c.name, "plc");
        assert!(authenticate(&entries, Some(&format!("Bearer {t}x"))).is_none());
        assert!(authenticate(&entries, Some(&t)).is_none());
        assert!(authenticate(&entries, None).is_none());
        assert!(Role::Client.may(Permission::Act) && !Role::Client.may(Permission::Operate));
        assert!(Role::Operator.may(Permission::Operate) && !Role::Operator.may(Permission::Act));
        assert!(Role::Viewer.may(Permission::Read) && !Role::Viewer.may(Permission::Act));
    }
}
