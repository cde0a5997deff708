//! The pieces of loss that several algorithms share, written once: the
//! one-step TD target, the twin critics' squared error, Gaussian and
//! tanh-Gaussian log-densities, and the tempered log-sum-exp of CQL's
//! conservative term. Each algorithm's own objective (TD3+BC's actor loss,
//! IQL's expectile, COMBO's ensemble likelihood) stays in its file.

use super::device::{B, Device};
use super::nets::{DeviceBatch, Mlp, T3};
use burn::tensor::Tensor;

/// Bounds of a Gaussian policy's log standard deviation (SAC's, IQL's).
pub const LOG_STD_MIN: f64 = -20.0;
pub const LOG_STD_MAX: f64 = 2.0;

/// `½ ln 2π`.
fn ln_sqrt_2pi() -> f64 {
    0.5 * (2.0 * std::f64::consts::PI).ln()
}

/// The one-step TD target `r + γ (1 − d) v'` for the batch `b` and the
/// values `next_value` of its next states (`[1, n, 1]`, without autodiff),
/// as a constant of the autodiff graph.
pub fn td_target(b: &DeviceBatch, next_value: T3, discount: f64) -> T3 {
    Tensor::from_inner(td_backup(b, next_value, discount))
}

/// [`td_target`] without autodiff (a plain tensor: computed off the
/// autodiff graph's thread, then made a constant of the graph by
/// `Tensor::from_inner`).
pub fn td_backup(b: &DeviceBatch, next_value: T3, discount: f64) -> T3 {
    let not_done = b.terminals.clone().inner().neg() + 1.0;
    b.rewards.clone().inner() + not_done * next_value * discount
}

/// Sum over critic members of the mean squared error to the target `y`
/// (`q: [members, n, 1]`, `y: [1, n, 1]`): the twin critics' loss.
pub fn twin_mse(q: T3, y: T3) -> Tensor<B, 1> {
    let members = q.dims()[0] as f64;
    let err = q - y;
    (err.clone() * err).mean() * members
}

/// The critics' regression on the target `y` (`[1, n, 1]`, a constant),
/// each member on a thread of its own: member `e`'s loss is
/// `scale · mean (Q_e(x) − y)²`, differentiated in an autodiff graph of
/// its own ([`Mlp::member_leaves`]), so the members' forward and backward
/// passes run side by side ([`Device::join`]) and each is the same
/// operations in the same order whatever the threads. `scale` 1 gives
/// [`twin_mse`]'s sum of the members' errors, ½ their mean. Returns the
/// loss summed over members, the members' values `[members, n, 1]` and
/// the gradients in `critic`'s layout (for [`super::nets::Adam::compute_with`]).
pub fn regress_members(
    dev: &Device,
    critic: &Mlp,
    x: T3,
    y: T3,
    scale: f64,
) -> (Tensor<B, 1>, T3, Vec<Option<T3>>) {
    let members = critic.member_leaves();
    let regress = |m: &Mlp| {
        let q = m.forward(x.clone());
        let err = q.clone() - y.clone();
        let loss = (err.clone() * err).mean() * scale;
        let grads = loss.backward();
        (loss, q, grads)
    };
    let (mut losses, mut qs, mut grads) = (vec![], vec![], vec![]);
    for (loss, q, g) in each_member(dev, &members, &regress) {
        losses.push(loss);
        qs.push(q);
        grads.push(g);
    }
    let gradients = Mlp::gather_member_grads(&members, &grads);
    let loss = losses
        .into_iter()
        .reduce(|a, b| a + b)
        .expect("a critic has at least one member");
    (loss, Tensor::cat(qs, 0), gradients)
}

/// `f` of every member, the members split in halves over the device's
/// threads (recursively), results in the members' order.
fn each_member<R: Send>(dev: &Device, members: &[Mlp], f: &(impl Fn(&Mlp) -> R + Sync)) -> Vec<R> {
    match members {
        [] => vec![],
        [m] => vec![f(m)],
        _ => {
            let (a, b) = members.split_at(members.len() / 2);
            let (mut ra, rb) = dev.join(|| each_member(dev, a, f), || each_member(dev, b, f));
            ra.extend(rb);
            ra
        }
    }
}

/// Element-wise log-density of a standard-normal `z` scaled by
/// `exp(log_std)`: `−z²/2 − log_std − ½ ln 2π`.
fn normal_log_density(z: T3, log_std: T3) -> T3 {
    (z.clone() * z) * (-0.5) - log_std - ln_sqrt_2pi()
}

/// Log-density of `a` under N(mean, exp(log_std)²), summed over action
/// dimensions: `[1, n, act] → [1, n, 1]`.
pub fn gaussian_log_prob(mean: T3, log_std: T3, a: T3) -> T3 {
    let z = (a - mean) / log_std.clone().exp();
    normal_log_density(z, log_std).sum_dim(2)
}

/// The actor's output `[1, n, 2·act]` as (mean, clamped log-std).
fn mean_and_log_std(out: T3, act_dim: usize) -> (T3, T3) {
    let mean = out.clone().narrow(2, 0, act_dim);
    let log_std = out
        .narrow(2, act_dim, act_dim)
        .clamp(LOG_STD_MIN, LOG_STD_MAX);
    (mean, log_std)
}

/// `ln(1 − a² + 1e-6)`: the change of variables through `a = tanh(u)`.
fn tanh_log_det(a: T3) -> T3 {
    ((a.clone() * a).neg() + (1.0 + 1e-6)).log()
}

/// A tanh-Gaussian sample from the actor's output `[1, n, 2·act]` with
/// standard-normal noise `eps` `[1, n, act]`: (action, log-probability `[1, n, 1]`).
pub fn tanh_gaussian(out: T3, eps: T3) -> (T3, T3) {
    let (mean, log_std) = mean_and_log_std(out, eps.dims()[2]);
    let a = (mean + log_std.clone().exp() * eps.clone()).tanh();
    let logp = (normal_log_density(eps, log_std) - tanh_log_det(a.clone())).sum_dim(2);
    (a, logp)
}

/// Log-density of dataset actions `a` (in (−1, 1)) under the tanh-Gaussian
/// of the actor's output `[1, n, 2·act]`.
pub fn tanh_gaussian_log_prob(out: T3, a: T3) -> T3 {
    let (mean, log_std) = mean_and_log_std(out, a.dims()[2]);
    let a = a.clamp(-0.999_999, 0.999_999);
    let u = ((a.clone() + 1.0).log() - (a.clone().neg() + 1.0).log()) * 0.5; // atanh
    let z = (u - mean) / log_std.clone().exp();
    (normal_log_density(z, log_std) - tanh_log_det(a)).sum_dim(2)
}

/// `T · log Σ exp(x / T)` along `dim` (kept), stable.
pub fn logsumexp(x: T3, dim: usize, temperature: f64) -> T3 {
    let x = x / temperature;
    let m = x.clone().detach().max_dim(dim);
    ((x - m.clone()).exp().sum_dim(dim).log() + m) * temperature
}
