//! The content checksum: SHA-256 over a canonical byte stream of a
//! dataset's arrays, not over the HDF5 file (HDF5 files embed library
//! versions, timestamps and allocation details that differ between writers).
//!
//! The stream, version 1, is:
//!
//! ```text
//! "neorl-content-sha256/1\n"
//! for each field, in this order:
//!     observations, actions, rewards, next_observations, terminals, timeouts, costs,
//!     then for each constraint c in file order: infos/<c>, infos/violations/<c>
//!   name (UTF-8) 0x00
//!   dtype ("f32" or "u8") 0x00
//!   ndim as u64 little-endian, then each dimension as u64 little-endian
//!   the elements in row-major order, little-endian (f32 as IEEE-754 bits,
//!   booleans as one byte 0 or 1)
//! ```
//!
//! 1-D fields have `ndim = 1`; observations, actions and next observations
//! are 2-D (`n × dim`). The result is written as 64 lowercase hex digits.
//!
//! ## The metadata checksum
//!
//! The content SHA-256 covers the arrays only (the registry pins it, so
//! its stream never changes). What training and evaluation take from the
//! root attributes — the dataset and environment ids, the observation,
//! action and constraint names, the reference scores, the recipe — is
//! covered by a second digest, [`metadata_sha256`], written as the
//! `metadata_sha256` attribute. Its stream, version 1:
//!
//! ```text
//! "neorl-metadata-sha256/1\n"
//! for each field, in this order:
//!     dataset_id, env_id, quality, seed, generator, neorl_version,
//!     behavior_policy, ref_min_score, ref_max_score, sensor_noise,
//!     disturbances, observation_names, action_names, constraint_names
//!   name (UTF-8) 0x00
//!   a string: its length as u64 little-endian, then its UTF-8 bytes;
//!   an optional value: 0x00 when absent, else 0x01 and the value (seed as
//!   u64, scores as f64 bits, flags as one byte 0 or 1, little-endian);
//!   a list of strings: the count as u64 little-endian, then each string
//! ```
//!
//! A file without the attribute (D4RL and Minari files, neorl files
//! written before it existed) has no metadata check.

use super::dataset::{Dataset, Metadata};
use sha2::{Digest, Sha256};

/// Version tag at the start of the hashed stream.
pub const STREAM_TAG: &[u8] = b"neorl-content-sha256/1\n";

fn header(h: &mut Sha256, name: &str, dtype: &str, shape: &[usize]) {
    h.update(name.as_bytes());
    h.update([0u8]);
    h.update(dtype.as_bytes());
    h.update([0u8]);
    h.update((shape.len() as u64).to_le_bytes());
    for &d in shape {
        h.update((d as u64).to_le_bytes());
    }
}

fn f32_field(h: &mut Sha256, name: &str, shape: &[usize], data: &[f32]) {
    header(h, name, "f32", shape);
    let mut buf = [0u8; 4096];
    for chunk in data.chunks(1024) {
        for (b, x) in buf.chunks_exact_mut(4).zip(chunk) {
            b.copy_from_slice(&x.to_le_bytes());
        }
        h.update(&buf[..chunk.len() * 4]);
    }
}

fn bool_field(h: &mut Sha256, name: &str, data: &[bool]) {
    header(h, name, "u8", &[data.len()]);
    let mut buf = [0u8; 4096];
    for chunk in data.chunks(4096) {
        for (b, &x) in buf.iter_mut().zip(chunk) {
            *b = x as u8;
        }
        h.update(&buf[..chunk.len()]);
    }
}

/// Content SHA-256 of a dataset, as 64 lowercase hex digits.
pub fn content_sha256(d: &Dataset) -> String {
    let mut h = Sha256::new();
    h.update(STREAM_TAG);
    let (n, od, ad) = (d.len(), d.obs_dim(), d.act_dim());
    f32_field(&mut h, "observations", &[n, od], d.observations());
    f32_field(&mut h, "actions", &[n, ad], d.actions());
    f32_field(&mut h, "rewards", &[n], d.rewards());
    f32_field(&mut h, "next_observations", &[n, od], d.next_observations());
    bool_field(&mut h, "terminals", d.terminals());
    bool_field(&mut h, "timeouts", d.timeouts());
    f32_field(&mut h, "costs", &[n], d.costs());
    for c in d.constraints() {
        f32_field(&mut h, &format!("infos/{}", c.name), &[n], &c.values);
        bool_field(
            &mut h,
            &format!("infos/violations/{}", c.name),
            &c.violations,
        );
    }
    hex(&h.finalize())
}

/// Version tag at the start of the metadata stream.
pub const METADATA_TAG: &[u8] = b"neorl-metadata-sha256/1\n";

/// The metadata SHA-256 of `m` with the dataset's `constraint_names` (see
/// the module docs), as 64 lowercase hex digits. Neither digest attribute
/// nor the layout (which is read, not written) is part of it.
pub fn metadata_sha256(m: &Metadata, constraint_names: &[String]) -> String {
    fn text(h: &mut Sha256, s: &str) {
        h.update((s.len() as u64).to_le_bytes());
        h.update(s.as_bytes());
    }
    fn opt(h: &mut Sha256, v: Option<[u8; 8]>) {
        match v {
            None => h.update([0u8]),
            Some(bytes) => {
                h.update([1u8]);
                h.update(bytes);
            }
        }
    }
    fn list(h: &mut Sha256, v: &[String]) {
        h.update((v.len() as u64).to_le_bytes());
        for s in v {
            text(h, s);
        }
    }
    let mut h = Sha256::new();
    h.update(METADATA_TAG);
    let mut field = |name: &str, write: &dyn Fn(&mut Sha256)| {
        h.update(name.as_bytes());
        h.update([0u8]);
        write(&mut h);
    };
    let flag = |b: Option<bool>| b.map(|b| u64::from(b).to_le_bytes());
    field("dataset_id", &|h| text(h, &m.dataset_id));
    field("env_id", &|h| text(h, &m.env_id));
    field("quality", &|h| text(h, &m.quality));
    field("seed", &|h| opt(h, m.seed.map(u64::to_le_bytes)));
    field("generator", &|h| text(h, &m.generator));
    field("neorl_version", &|h| text(h, &m.neorl_version));
    field("behavior_policy", &|h| text(h, &m.behavior_policy));
    field("ref_min_score", &|h| {
        opt(h, m.ref_min_score.map(|x| x.to_bits().to_le_bytes()))
    });
    field("ref_max_score", &|h| {
        opt(h, m.ref_max_score.map(|x| x.to_bits().to_le_bytes()))
    });
    field("sensor_noise", &|h| opt(h, flag(m.sensor_noise)));
    field("disturbances", &|h| opt(h, flag(m.disturbances)));
    field("observation_names", &|h| list(h, &m.observation_names));
    field("action_names", &|h| list(h, &m.action_names));
    field("constraint_names", &|h| list(h, constraint_names));
    hex(&h.finalize())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::{Columns, Metadata};

    #[test]
    fn known_vector_and_sensitivity() {
        // SHA-256 of the empty string, to pin the hex encoding.
        assert_eq!(
            hex(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let mut cols = Columns::with_capacity(1, 1, &["c".into()], 2);
        for i in 0..2 {
            cols.observations.push(i as f32);
            cols.next_observations.push(i as f32 + 1.0);
            cols.actions.push(0.5);
            cols.rewards.push(-1.0);
            cols.terminals.push(false);
            cols.timeouts.push(i == 1);
            cols.costs.push(0.0);
            cols.constraints[0].values.push(3.0);
            cols.constraints[0].violations.push(false);
        }
        let d = Dataset::new(Metadata::default(), cols.clone()).unwrap();
        let a = content_sha256(&d);
        assert_eq!(a.len(), 64);
        // Metadata is not content.
        let m = Metadata {
            env_id: "x".into(),
            ..Metadata::default()
        };
        assert_eq!(a, content_sha256(&Dataset::new(m, cols.clone()).unwrap()));
        // One flipped bit in any field changes it.
        let mut c2 = cols.clone();
        c2.constraints[0].violations[1] = true;
        assert_ne!(
            a,
            content_sha256(&Dataset::new(Metadata::default(), c2).unwrap())
        );
        let mut c3 = cols;
        c3.rewards[0] = f32::from_bits((-1.0f32).to_bits() ^ 1);
        assert_ne!(
            a,
            content_sha256(&Dataset::new(Metadata::default(), c3).unwrap())
        );
    }

    #[test]
    fn metadata_digest_covers_every_field_it_lists() {
        let m = Metadata {
            dataset_id: "SupplyChain-medium-v0".into(),
            env_id: "SupplyChain-v0".into(),
            seed: Some(2),
            ref_min_score: Some(-1.5),
            sensor_noise: Some(true),
            observation_names: vec!["a".into(), "b".into()],
            ..Metadata::default()
        };
        let names = vec!["c".to_string()];
        let a = metadata_sha256(&m, &names);
        assert_eq!(a.len(), 64);
        let mut changed = vec![];
        let mut edit = |f: &dyn Fn(&mut Metadata)| {
            let mut m2 = m.clone();
            f(&mut m2);
            changed.push(metadata_sha256(&m2, &names));
        };
        edit(&|m| m.dataset_id = "SupplyChain-medium-v1".into());
        edit(&|m| m.env_id.push(' '));
        edit(&|m| m.seed = None);
        edit(&|m| m.seed = Some(3));
        edit(&|m| m.ref_min_score = Some(-1.25));
        edit(&|m| m.sensor_noise = Some(false));
        edit(&|m| m.observation_names[1] = "c".into());
        // Names split differently, same bytes.
        edit(&|m| m.observation_names = vec!["ab".into()]);
        edit(&|m| m.action_names = vec!["a".into()]);
        for c in &changed {
            assert_ne!(*c, a);
        }
        assert_ne!(metadata_sha256(&m, &[]), a);
        // The digests themselves and the layout are not part of it.
        let mut m3 = m.clone();
        m3.sha256 = Some("x".into());
        m3.metadata_sha256 = Some("y".into());
        m3.layout = "d4rl".into();
        assert_eq!(metadata_sha256(&m3, &names), a);
    }
}
