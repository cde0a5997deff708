//! The allowed range of every hyper-parameter, checked where it is set:
//! each algorithm's `…Config::validate` (called by its `new`, so by
//! `neorl train --set …`/`--hidden …` and by a notebook's
//! `Iql::new(&spec, config, &device)`) runs these checks field by field.
//! An error names the algorithm, the setting, its value, the allowed range
//! and where to change it; nothing out of range reaches a network (a
//! negative learning rate used to surface as a misleading "diverged", a
//! width of 0 as a panic).

use crate::error::{Error, Result};

/// The widest hidden layer accepted (the memory check refuses what does
/// not fit this machine below that).
pub const MAX_WIDTH: usize = 1 << 16;
/// The most hidden layers accepted.
pub const MAX_LAYERS: usize = 32;
/// The largest minibatch (or rollout batch) accepted.
pub const MAX_BATCH: usize = 1 << 20;

/// The checks of one algorithm's config.
#[derive(Debug, Clone, Copy)]
pub struct Ranges<'a> {
    algo: &'a str,
    config: &'a str,
}

impl<'a> Ranges<'a> {
    /// For algorithm `algo` (`"td3bc"`) whose config type is `config`
    /// (`"Td3BcConfig"`).
    pub fn new(algo: &'a str, config: &'a str) -> Self {
        Ranges { algo, config }
    }

    fn refuse(&self, name: &str, value: impl std::fmt::Display, rule: &str) -> Error {
        let how = match name {
            "hidden" => "`--hidden 256,256` on the command line".to_string(),
            _ => format!("`--set {name}=…` on the command line"),
        };
        Error::InvalidArgument(format!(
            "{}: setting {name} = {value} is out of range: it must be {rule}; change it with {how} or the `{name}` field of {}",
            self.algo, self.config
        ))
    }

    /// A learning rate, weight or scale: finite and > 0.
    pub fn positive(&self, name: &str, v: f64) -> Result<()> {
        match v.is_finite() && v > 0.0 {
            true => Ok(()),
            false => Err(self.refuse(name, v, "a finite number > 0")),
        }
    }

    /// A weight or temperature that may be 0: finite and ≥ 0.
    pub fn non_negative(&self, name: &str, v: f64) -> Result<()> {
        match v.is_finite() && v >= 0.0 {
            true => Ok(()),
            false => Err(self.refuse(name, v, "a finite number ≥ 0")),
        }
    }

    /// Any finite number.
    pub fn finite(&self, name: &str, v: f64) -> Result<()> {
        match v.is_finite() {
            true => Ok(()),
            false => Err(self.refuse(name, v, "a finite number")),
        }
    }

    /// A discount or Polyak rate: in (0, 1].
    pub fn rate(&self, name: &str, v: f64) -> Result<()> {
        match v > 0.0 && v <= 1.0 {
            true => Ok(()),
            false => Err(self.refuse(name, v, "in (0, 1]")),
        }
    }

    /// A fraction: in [0, 1].
    pub fn fraction(&self, name: &str, v: f64) -> Result<()> {
        match (0.0..=1.0).contains(&v) {
            true => Ok(()),
            false => Err(self.refuse(name, v, "in [0, 1]")),
        }
    }

    /// A probability strictly inside (0, 1) (an expectile).
    pub fn open_unit(&self, name: &str, v: f64) -> Result<()> {
        match v > 0.0 && v < 1.0 {
            true => Ok(()),
            false => Err(self.refuse(name, v, "strictly between 0 and 1")),
        }
    }

    /// A count in `lo..=hi`.
    pub fn count(&self, name: &str, v: u64, lo: u64, hi: u64) -> Result<()> {
        match (lo..=hi).contains(&v) {
            true => Ok(()),
            false if hi == u64::MAX => Err(self.refuse(name, v, &format!("at least {lo}"))),
            false => Err(self.refuse(name, v, &format!("an integer from {lo} to {hi}"))),
        }
    }

    /// A minibatch size: 1 to [`MAX_BATCH`].
    pub fn batch(&self, name: &str, v: usize) -> Result<()> {
        self.count(name, v as u64, 1, MAX_BATCH as u64)
    }

    /// Hidden-layer widths: at most [`MAX_LAYERS`] layers, each 1 to
    /// [`MAX_WIDTH`] wide (no layers at all is a linear network).
    pub fn widths(&self, name: &str, v: &[usize]) -> Result<()> {
        let ok = v.len() <= MAX_LAYERS && v.iter().all(|&w| (1..=MAX_WIDTH).contains(&w));
        match ok {
            true => Ok(()),
            false => Err(self.refuse(
                name,
                format!("{v:?}"),
                &format!(
                    "at most {MAX_LAYERS} layers, each at least 1 and at most {MAX_WIDTH} wide"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_refuses_its_edges_and_names_the_setting() {
        let r = Ranges::new("iql", "IqlConfig");
        for (ok, res) in [
            (true, r.positive("actor_lr", 3e-4)),
            (false, r.positive("actor_lr", 0.0)),
            (false, r.positive("actor_lr", f64::NAN)),
            (false, r.positive("actor_lr", f64::INFINITY)),
            (true, r.non_negative("beta", 0.0)),
            (false, r.non_negative("beta", -1e-9)),
            (true, r.rate("discount", 1.0)),
            (false, r.rate("discount", 0.0)),
            (false, r.rate("discount", 1.01)),
            (true, r.fraction("real_ratio", 0.0)),
            (false, r.fraction("real_ratio", f64::NAN)),
            (false, r.open_unit("expectile", 1.0)),
            (true, r.batch("batch_size", MAX_BATCH)),
            (false, r.batch("batch_size", 0)),
            (false, r.batch("batch_size", MAX_BATCH + 1)),
            (true, r.widths("hidden", &[])),
            (false, r.widths("hidden", &[16, 0])),
            (false, r.widths("hidden", &[MAX_WIDTH + 1])),
            (false, r.widths("hidden", &[1; MAX_LAYERS + 1])),
        ] {
            assert_eq!(res.is_ok(), ok, "{res:?}");
        }
        let e = r.positive("actor_lr", -1.0).unwrap_err().to_string();
        assert!(
            e.contains("iql: setting actor_lr = -1")
                && e.contains("> 0")
                && e.contains("--set actor_lr=")
                && e.contains("IqlConfig"),
            "{e}"
        );
        let e = r.widths("hidden", &[0]).unwrap_err().to_string();
        assert!(e.contains("hidden = [0]") && e.contains("--hidden"), "{e}");
    }
}
