//! What the training loop says when a loss stops being finite: the step,
//! the network whose loss it is, the learning rate that drives it and the
//! likely causes.
//!
//! The loop checks the loss scalars every agent already reads back each
//! step (no extra device work); a NaN or infinite gradient shows up there
//! one step later, as the parameters it was applied to make every loss
//! NaN. Parameters are checked once per checkpoint, when they are written
//! (`Checkpoint::write` refuses non-finite ones), so a
//! diverged agent never overwrites the last good checkpoint.

use crate::error::Error;

/// The network a metric belongs to, by the metric names the built-in
/// agents use (`critic_loss`, `value_loss`, `actor_loss`, `alpha`, …), and
/// the config field of that network's learning rate.
pub fn network_of(metric: &str) -> (&'static str, &'static str) {
    let m = metric.to_ascii_lowercase();
    if m.starts_with("model") {
        ("dynamics model", "model_lr")
    } else if m.starts_with("value") {
        ("value network", "value_lr")
    } else if m.starts_with("alpha") {
        ("temperature (log α)", "alpha_lr")
    } else if m.starts_with("actor")
        || m.starts_with("bc")
        || m.starts_with("lambda")
        || m.starts_with("weight")
        || m.starts_with("advantage")
        || m == "entropy"
    {
        ("actor", "actor_lr")
    } else {
        // critic_loss, td_loss, q_mean, cql_*, conservative_*: the Q networks.
        ("critic (Q networks)", "critic_lr")
    }
}

/// The error for metric `metric = value` (not finite) of agent `algo` at
/// update `step` (1-based), whose hyper-parameters are `config` (JSON, for
/// the learning rate to lower; `Null` when the agent has none).
pub fn diverged(
    algo: &str,
    step: u64,
    metric: &str,
    value: f32,
    config: &serde_json::Value,
) -> Error {
    let (network, lr_field) = network_of(metric);
    // The network's own rate, or the agent's single one (BC's `lr`).
    let lr = [lr_field, "lr"]
        .into_iter()
        .find_map(|f| config.get(f).and_then(|v| v.as_f64()).map(|v| (f, v)));
    let lower = match lr {
        Some((field, v)) => format!(
            "Lower {field} (now {v:e}; e.g. `--set {field}={:.0e}` for a new agent)",
            v / 10.0
        ),
        None => "Lower the learning rate".to_string(),
    };
    Error::Training(format!(
        "{algo} diverged at step {step}: {metric} = {value}, so the loss or the gradient of the {network} is no longer finite. \
         Likely causes: a learning rate too high, or data with outliers or on very different scales \
         (unnormalised observations or rewards). {lower}, or check the data (`neorl datasets validate FILE`). \
         The agent in memory holds the diverged update and is not saved (a checkpoint with NaN or infinite parameters is refused); \
         the last checkpoint written, if any, is kept: continue from it."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_network_step_and_learning_rate() {
        assert_eq!(network_of("critic_loss").0, "critic (Q networks)");
        assert_eq!(network_of("value_loss").1, "value_lr");
        assert_eq!(network_of("actor_loss").1, "actor_lr");
        assert_eq!(network_of("alpha_prime").1, "alpha_lr");
        assert_eq!(network_of("model_loss").0, "dynamics model");
        let config = serde_json::json!({"actor_lr": 3e-4, "critic_lr": 1.0});
        let e = diverged("td3bc", 17, "critic_loss", f32::NAN, &config).to_string();
        for part in [
            "step 17",
            "critic_loss = NaN",
            "critic (Q networks)",
            "critic_lr",
            "--set critic_lr=1e-1",
            "learning rate too high",
            "last checkpoint",
        ] {
            assert!(e.contains(part), "{part}: {e}");
        }
        // BC has one rate, `lr`.
        let e = diverged(
            "bc",
            3,
            "actor_loss",
            f32::INFINITY,
            &serde_json::json!({"lr": 1e-3}),
        );
        assert!(e.to_string().contains("Lower lr (now 1e-3"), "{e}");
    }
}
