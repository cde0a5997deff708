//! Networks and their optimiser, written directly on burn tensors.
//!
//! Every network is an [`Mlp`] whose weights carry a leading *member*
//! dimension: one member for an actor or a value function, two for the twin
//! critics of TD3/SAC, seven for COMBO's dynamics ensemble. Members are
//! evaluated together by one batched matrix multiply per layer (a
//! hand-batched ensemble), so twin critics cost one call, not two. Where
//! the members' steps are better run side by side on two threads (TD3+BC's
//! and IQL's twin critics), [`Mlp::member_leaves`] splits a network into
//! members of its own for the step, and [`Mlp::gather_member_grads`] puts
//! their gradients back together.
//!
//! Parameters are plain tensors (not burn `Module`s) so that checkpoints are
//! exact byte copies of every parameter and optimiser moment, and so that
//! initialisation draws from neorl's own seeded ChaCha RNG on the host:
//! bit-identical across runs and independent of the backend's RNG.

use super::device::B;
use super::optim::{OptimConfig, clip_global_norm};
use crate::data::Batch;
/// The host copy of one network (the plant crate's: deployment runs it).
pub use crate::inference::HostMlp;
use burn::DispatchDevice;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Tensor, TensorData, activation::relu};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// A rank-3 float tensor `[members, rows, cols]`.
pub type T3 = Tensor<B, 3>;
/// Gradients of a backward pass.
pub type Grads = <B as AutodiffBackend>::Gradients;

/// Upload host data as a `[d0, d1, d2]` tensor.
pub fn tensor3(data: Vec<f32>, shape: [usize; 3], device: &DispatchDevice) -> T3 {
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// Download a tensor to the host (row-major).
pub fn to_vec<const D: usize>(t: &Tensor<B, D>) -> Vec<f32> {
    t.to_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .unwrap_or_default()
}

/// A scalar tensor's value.
pub fn scalar<const D: usize>(t: &Tensor<B, D>) -> f32 {
    to_vec(t).first().copied().unwrap_or(f32::NAN)
}

/// Layer widths `input, hidden…, output` of an [`Mlp`].
pub fn layer_sizes(input: usize, hidden: &[usize], output: usize) -> Vec<usize> {
    std::iter::once(input)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(output))
        .collect()
}

/// A multi-layer perceptron with ReLU hidden layers and a linear output,
/// replicated over `members` independent sets of weights.
#[derive(Clone, Debug)]
pub struct Mlp {
    pub members: usize,
    /// Layer widths, input first, output last.
    pub sizes: Vec<usize>,
    /// `[w0, b0, w1, b1, …]`; `w: [members, in, out]`, `b: [members, 1, out]`.
    pub params: Vec<T3>,
}

impl Mlp {
    /// PyTorch's default `nn.Linear` initialisation: weights and biases
    /// uniform in ±1/√fan_in, drawn from `rng` on the host.
    pub fn new(
        members: usize,
        sizes: &[usize],
        rng: &mut ChaCha8Rng,
        device: &DispatchDevice,
    ) -> Self {
        let mut params = Vec::with_capacity(2 * (sizes.len() - 1));
        for l in 0..sizes.len() - 1 {
            let (fan_in, out) = (sizes[l], sizes[l + 1]);
            let bound = 1.0 / (fan_in as f32).sqrt();
            let mut draw = |n: usize| -> Vec<f32> {
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            };
            let w = draw(members * fan_in * out);
            let b = draw(members * out);
            params.push(tensor3(w, [members, fan_in, out], device));
            params.push(tensor3(b, [members, 1, out], device));
        }
        Mlp {
            members,
            sizes: sizes.to_vec(),
            params,
        }
    }

    /// Draw layer `l`'s weights again by `init`, each member its own, and
    /// set its biases to `bias` (one value per output; a plain network,
    /// before [`Mlp::require_grad`]). For initialisations other than
    /// PyTorch's `nn.Linear` default, such as CORL's for CQL.
    pub fn init_layer(&mut self, l: usize, init: LayerInit, bias: &[f32], rng: &mut ChaCha8Rng) {
        let (fan_in, out) = (self.sizes[l], self.sizes[l + 1]);
        let device = self.params[2 * l].device();
        let mut w = Vec::with_capacity(self.members * fan_in * out);
        for _ in 0..self.members {
            w.extend(init.draw(fan_in, out, rng));
        }
        let b: Vec<f32> = (0..self.members)
            .flat_map(|_| bias.iter().copied())
            .collect();
        self.params[2 * l] = tensor3(w, [self.members, fan_in, out], &device);
        self.params[2 * l + 1] = tensor3(b, [self.members, 1, out], &device);
    }

    /// `x: [members or 1, n, in]` → `[members, n, out]`.
    pub fn forward(&self, x: T3) -> T3 {
        let [m, n, d] = x.dims();
        let mut h = if m == self.members {
            x
        } else {
            x.expand([self.members, n, d])
        };
        let layers = self.params.len() / 2;
        // The bias `[members, 1, out]` broadcast over the rows. With one
        // member burn-flex adds a shared row with SIMD (burn's `simd`
        // feature, see the root Cargo.toml); with several, the
        // broadcast is per member, which burn-flex 0.21 walks element by
        // element with a strided iterator — measured at half of a CQL update
        // (its critics see 30 actions per state). So with several members the
        // bias is first spread over the rows by a batched outer product,
        // `ones[members, n, 1] · b[members, 1, out]` (exact: each entry is
        // 1·b), and added densely; its gradient is then a matrix product too
        // (onesᵀ · grad, the sum over rows).
        let ones = (self.members > 1).then(|| Tensor::ones([self.members, n, 1], &h.device()));
        for l in 0..layers {
            let bias = self.params[2 * l + 1].clone();
            let bias = match &ones {
                Some(ones) => ones.clone().matmul(bias),
                None => bias,
            };
            h = h.matmul(self.params[2 * l].clone()) + bias;
            if l + 1 < layers {
                h = relu(h);
            }
        }
        h
    }

    /// Mark every parameter as a trainable leaf (on an autodiff device).
    pub fn require_grad(mut self) -> Self {
        self.params = self.params.into_iter().map(|p| p.require_grad()).collect();
        self
    }

    /// A copy without autodiff tracking (for targets and inference).
    pub fn inner(&self) -> Self {
        Mlp {
            members: self.members,
            sizes: self.sizes.clone(),
            params: self.params.iter().map(|p| p.clone().inner()).collect(),
        }
    }

    /// A copy whose parameters are constants in the autodiff graph: gradients
    /// flow through its inputs but not into its weights.
    pub fn frozen(&self) -> Self {
        Mlp {
            members: self.members,
            sizes: self.sizes.clone(),
            params: self.params.iter().map(|p| p.clone().detach()).collect(),
        }
    }

    /// Member `e` alone (a view sharing the autodiff graph).
    pub fn member(&self, e: usize) -> Self {
        Mlp {
            members: 1,
            sizes: self.sizes.clone(),
            params: self
                .params
                .iter()
                .map(|p| p.clone().narrow(0, e, 1))
                .collect(),
        }
    }

    /// Each member as a network of its own whose parameters are new
    /// trainable leaves holding that member's values. A member's forward
    /// and backward pass then builds an autodiff graph of its own, apart
    /// from the other members' (burn keeps graphs that share no tracked
    /// tensor apart), so members can be trained on different threads
    /// ([`super::Device::join`]). [`Mlp::gather_member_grads`] puts their
    /// gradients back in this network's layout.
    pub fn member_leaves(&self) -> Vec<Mlp> {
        (0..self.members)
            .map(|e| Mlp {
                members: 1,
                sizes: self.sizes.clone(),
                params: self
                    .params
                    .iter()
                    .map(|p| Tensor::from_inner(p.clone().inner().narrow(0, e, 1)).require_grad())
                    .collect(),
            })
            .collect()
    }

    /// The gradients of [`Mlp::member_leaves`]' parameters (`grads[e]` from
    /// member `e`'s backward pass), joined member by member into one per
    /// parameter of this network (plain tensors; `None` where a member's
    /// parameter got no gradient).
    pub fn gather_member_grads(members: &[Mlp], grads: &[Grads]) -> Vec<Option<T3>> {
        let n_params = members.first().map_or(0, |m| m.params.len());
        (0..n_params)
            .map(|i| {
                let per_member: Option<Vec<T3>> = members
                    .iter()
                    .zip(grads)
                    .map(|(m, g)| m.params[i].grad(g))
                    .collect();
                per_member.map(|gs| Tensor::cat(gs, 0))
            })
            .collect()
    }

    /// Polyak averaging `self ← (1 − τ)·self + τ·online` (self is a target,
    /// without autodiff).
    pub fn polyak_from(&mut self, online: &Mlp, tau: f64) {
        for (t, o) in self.params.iter_mut().zip(&online.params) {
            *t = t.clone() * (1.0 - tau) + o.clone().inner() * tau;
        }
    }

    /// Host copy of member `e` for fast CPU inference.
    pub fn host(&self, e: usize) -> HostMlp {
        let layers = self.params.len() / 2;
        let mut weights = Vec::with_capacity(layers);
        let mut biases = Vec::with_capacity(layers);
        for l in 0..layers {
            let (i, o) = (self.sizes[l], self.sizes[l + 1]);
            let w = to_vec(&self.params[2 * l]);
            let b = to_vec(&self.params[2 * l + 1]);
            weights.push(w[e * i * o..(e + 1) * i * o].to_vec());
            biases.push(b[e * o..(e + 1) * o].to_vec());
        }
        HostMlp {
            sizes: self.sizes.clone(),
            weights,
            biases,
        }
    }

    /// Number of scalar parameters.
    pub fn n_params(&self) -> usize {
        self.params.iter().map(|p| p.shape().num_elements()).sum()
    }
}

/// How a layer's weights are drawn (PyTorch's `torch.nn.init` names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LayerInit {
    /// `xavier_uniform_(w, gain)`: uniform in ±gain·√(6 / (fan_in + fan_out)).
    XavierUniform(f64),
    /// `orthogonal_(w, gain)`: a uniformly random (semi-)orthogonal matrix
    /// times `gain`.
    Orthogonal(f64),
}

impl LayerInit {
    /// One `[in, out]` weight matrix, row-major.
    fn draw(self, fan_in: usize, out: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
        match self {
            LayerInit::XavierUniform(gain) => {
                let bound = (gain * (6.0 / (fan_in + out) as f64).sqrt()) as f32;
                (0..fan_in * out)
                    .map(|_| rng.random_range(-bound..=bound))
                    .collect()
            }
            LayerInit::Orthogonal(gain) => {
                let q = orthonormal_columns(fan_in.max(out), fan_in.min(out), rng);
                let (long, short) = (fan_in.max(out), fan_in.min(out));
                let mut w = vec![0f32; fan_in * out];
                for i in 0..fan_in {
                    for j in 0..out {
                        // q is long × short; w is q itself when in ≥ out
                        // (orthonormal columns: PyTorch's rows of the
                        // `[out, in]` weight), its transpose otherwise.
                        let (r, c) = if fan_in >= out { (i, j) } else { (j, i) };
                        debug_assert!(r < long && c < short);
                        w[i * out + j] = (gain * q[r * short + c]) as f32;
                    }
                }
                w
            }
        }
    }
}

/// A `rows × cols` matrix (`rows ≥ cols`, row-major) with orthonormal
/// columns, uniformly distributed: the Q of a Gaussian matrix's QR
/// decomposition with R's diagonal made positive (what PyTorch's
/// `orthogonal_` computes), here by modified Gram–Schmidt in f64.
fn orthonormal_columns(rows: usize, cols: usize, rng: &mut ChaCha8Rng) -> Vec<f64> {
    let g: Vec<f64> = gaussian(rng, rows * cols)
        .into_iter()
        .map(f64::from)
        .collect();
    let mut q = g;
    for j in 0..cols {
        for k in 0..j {
            let dot: f64 = (0..rows).map(|r| q[r * cols + j] * q[r * cols + k]).sum();
            for r in 0..rows {
                q[r * cols + j] -= dot * q[r * cols + k];
            }
        }
        let norm = (0..rows)
            .map(|r| q[r * cols + j].powi(2))
            .sum::<f64>()
            .sqrt();
        for r in 0..rows {
            q[r * cols + j] /= norm.max(f64::MIN_POSITIVE);
        }
    }
    q
}

/// Adam (Kingma & Ba 2015) exactly as PyTorch's `torch.optim.Adam` over a
/// list of parameter tensors, with the network's recipe
/// ([`OptimConfig`]: learning-rate schedule, gradient clipping by global
/// norm, AdamW's decoupled weight decay; see [`super::optim`]). With the
/// default recipe it is plain Adam, bit for bit as before recipes existed.
#[derive(Clone, Debug)]
pub struct Adam {
    /// The base learning rate (the schedule scales it).
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Steps taken (saved in checkpoints: the schedule's position).
    pub t: u64,
    /// First and second moments, one per parameter, without autodiff.
    pub m: Vec<T3>,
    pub v: Vec<T3>,
    /// Schedule, clipping and weight decay.
    pub recipe: OptimConfig,
    /// Steps this optimiser is planned to take (the schedule's end).
    pub horizon: Option<u64>,
}

impl Adam {
    /// Plain Adam at the constant rate `lr` over `params`.
    pub fn new(lr: f64, params: &[T3]) -> Self {
        let zeros = |p: &T3| p.clone().inner().zeros_like();
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: params.iter().map(zeros).collect(),
            v: params.iter().map(zeros).collect(),
            recipe: OptimConfig::default(),
            horizon: None,
        }
    }

    /// The same optimiser following `recipe` over a plan of `horizon` steps.
    pub fn with_recipe(mut self, recipe: &OptimConfig, horizon: Option<u64>) -> Self {
        self.recipe = recipe.clone();
        self.horizon = horizon;
        self
    }

    /// The learning rate of the latest step (of the first, before any).
    pub fn current_lr(&self) -> f64 {
        self.recipe
            .rate(self.lr, self.t.saturating_sub(1), self.horizon)
    }

    /// One step down the gradient of `loss` with respect to `params`.
    pub fn minimise(&mut self, params: &mut [T3], loss: &Tensor<B, 1>) {
        self.step(params, &loss.backward());
    }

    /// One update of `params` (autodiff leaves) from `grads`. Parameters
    /// without a gradient are left alone, as PyTorch does.
    pub fn step(&mut self, params: &mut [T3], grads: &Grads) {
        self.compute(params, grads).install(params);
    }

    /// [`Adam::minimise`] with the step's element-wise work on two of
    /// `device`'s threads ([`Adam::compute_on`]; the same bits).
    pub fn minimise_on(&mut self, device: &super::Device, params: &mut [T3], loss: &Tensor<B, 1>) {
        self.step_on(device, params, &loss.backward());
    }

    /// [`Adam::step`] on two of `device`'s threads ([`Adam::compute_on`]).
    pub fn step_on(&mut self, device: &super::Device, params: &mut [T3], grads: &Grads) {
        self.compute_on(Some(device), params, grads).install(params);
    }

    /// The arithmetic of [`Adam::step`] on plain tensors: the new
    /// parameters, with the moments and step count already advanced.
    /// [`AdamUpdate::install`] then puts them in place as autodiff leaves.
    /// Split so that an agent can compute one optimiser's step on one
    /// thread while another thread builds an autodiff graph
    /// ([`super::Device::join`]); `compute` touches no graph.
    pub fn compute(&mut self, params: &[T3], grads: &Grads) -> AdamUpdate {
        self.compute_on(None, params, grads)
    }

    /// [`Adam::compute`] with the parameters' element-wise work split over
    /// two of `device`'s threads (by element count, each tensor whole on
    /// one thread: the same operations on the same values, so the same
    /// bits as on one thread).
    pub fn compute_on(
        &mut self,
        device: Option<&super::Device>,
        params: &[T3],
        grads: &Grads,
    ) -> AdamUpdate {
        let grads = params.iter().map(|p| p.grad(grads)).collect();
        self.compute_with(device, params, grads)
    }

    /// [`Adam::compute_on`] from gradients given one per parameter (plain
    /// tensors, `None` for a parameter without one), such as
    /// [`Mlp::gather_member_grads`]'.
    pub fn compute_with(
        &mut self,
        device: Option<&super::Device>,
        params: &[T3],
        grads: Vec<Option<T3>>,
    ) -> AdamUpdate {
        let lr = self.recipe.rate(self.lr, self.t, self.horizon);
        self.t += 1;
        let t = self.t as i32;
        let (beta1, beta2, eps) = (self.beta1, self.beta2, self.eps);
        let bc1 = 1.0 - beta1.powi(t);
        let bc2 = 1.0 - beta2.powi(t);
        let mut found: Vec<(usize, T3)> = grads
            .into_iter()
            .enumerate()
            .filter_map(|(i, g)| g.map(|g| (i, g)))
            .collect();
        if let Some(max_norm) = self.recipe.clip_norm {
            let (idx, gs): (Vec<usize>, Vec<T3>) = found.into_iter().unzip();
            found = idx
                .into_iter()
                .zip(clip_global_norm(gs, max_norm))
                .collect();
        }
        let decay = self.recipe.weight_decay;
        // PyTorch's order of operations, per parameter tensor.
        let (m_old, v_old) = (&self.m, &self.v);
        let one = |(i, g): (usize, T3)| -> (usize, T3, T3, T3) {
            let mut theta = params[i].clone().inner();
            if decay != 0.0 {
                theta = theta * (1.0 - lr * decay);
            }
            let m = m_old[i].clone() * beta1 + g.clone() * (1.0 - beta1);
            let v = v_old[i].clone() * beta2 + g.clone() * g * (1.0 - beta2);
            let denom = v.clone().sqrt() / bc2.sqrt() + eps;
            (i, theta - m.clone() / denom * (lr / bc1), m, v)
        };
        let stepped: Vec<(usize, T3, T3, T3)> = match device {
            Some(device) if found.len() > 1 => {
                let (a, b) = halves_by_size(found);
                let (mut a, b) = device.join(
                    || a.into_iter().map(one).collect::<Vec<_>>(),
                    || b.into_iter().map(one).collect::<Vec<_>>(),
                );
                a.extend(b);
                a
            }
            _ => found.into_iter().map(one).collect(),
        };
        let mut new = Vec::with_capacity(stepped.len());
        for (i, theta, m, v) in stepped {
            new.push((i, theta));
            self.m[i] = m;
            self.v[i] = v;
        }
        new.sort_by_key(|(i, _)| *i);
        AdamUpdate { new }
    }
}

/// Tensors with their index in a parameter list.
type Indexed = Vec<(usize, T3)>;

/// Tensors split into two groups of about equal element counts (largest
/// first, each to the lighter group).
fn halves_by_size(mut items: Indexed) -> (Indexed, Indexed) {
    items.sort_by_key(|(i, g)| (std::cmp::Reverse(g.shape().num_elements()), *i));
    let (mut a, mut b) = (vec![], vec![]);
    let (mut size_a, mut size_b) = (0, 0);
    for (i, g) in items {
        let n = g.shape().num_elements();
        if size_a <= size_b {
            size_a += n;
            a.push((i, g));
        } else {
            size_b += n;
            b.push((i, g));
        }
    }
    (a, b)
}

/// New parameter values from [`Adam::compute`], not yet in place.
#[must_use = "the parameters change only when the update is installed"]
pub struct AdamUpdate {
    /// (index into the parameter list, new value without autodiff).
    new: Vec<(usize, T3)>,
}

impl AdamUpdate {
    /// Replace the updated parameters by their new values, as trainable
    /// autodiff leaves (on the thread that builds the autodiff graph).
    pub fn install(self, params: &mut [T3]) {
        for (i, value) in self.new {
            params[i] = Tensor::from_inner(value).require_grad();
        }
    }
}

/// A normalised minibatch on the device, every tensor `[1, n, ·]`.
#[derive(Clone, Debug)]
pub struct DeviceBatch {
    pub n: usize,
    pub obs: T3,
    pub actions: T3,
    pub rewards: T3,
    pub next_obs: T3,
    /// 1 where the episode terminated.
    pub terminals: T3,
}

impl DeviceBatch {
    pub fn upload(b: &Batch, device: &DispatchDevice) -> Self {
        let (n, od, ad) = (b.len, b.obs_dim, b.act_dim);
        DeviceBatch {
            n,
            obs: tensor3(b.observations.clone(), [1, n, od], device),
            actions: tensor3(b.actions.clone(), [1, n, ad], device),
            rewards: tensor3(b.rewards.clone(), [1, n, 1], device),
            next_obs: tensor3(b.next_observations.clone(), [1, n, od], device),
            terminals: tensor3(b.terminals.clone(), [1, n, 1], device),
        }
    }
}

/// `n` standard normal draws (Box–Muller) from `rng`.
pub fn gaussian(rng: &mut ChaCha8Rng, n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n + 1);
    while out.len() < n {
        let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
        let u2: f64 = rng.random::<f64>();
        let r = (-2.0 * libm::log(u1)).sqrt();
        let th = 2.0 * std::f64::consts::PI * u2;
        out.push((r * libm::cos(th)) as f32);
        out.push((r * libm::sin(th)) as f32);
    }
    out.truncate(n);
    out
}

/// Read several scalar tensors with one device synchronisation.
pub fn read_scalars(ts: Vec<Tensor<B, 1>>) -> Vec<f32> {
    if ts.is_empty() {
        return vec![];
    }
    to_vec(&Tensor::cat(ts, 0))
}

/// Named scalar metrics (tensors without autodiff) read with one device
/// synchronisation, as [`super::Agent::update`] returns them.
pub fn read_metrics(named: Vec<(&'static str, Tensor<B, 1>)>) -> Vec<(&'static str, f32)> {
    let (names, ts): (Vec<_>, Vec<_>) = named.into_iter().unzip();
    names.into_iter().zip(read_scalars(ts)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::Device;
    use rand::SeedableRng;

    /// Adam's first step moves every parameter by `lr · sign(grad)` (bias
    /// correction makes m̂/√v̂ = g/|g|); here loss = sum(w·x) so grad = x.
    #[test]
    fn adam_first_step_is_lr_times_sign() {
        let dev = Device::cpu();
        let w = tensor3(vec![1.0, 2.0, 3.0], [1, 1, 3], dev.autodiff()).require_grad();
        let x = tensor3(vec![0.5, -2.0, 0.0], [1, 1, 3], dev.autodiff());
        let mut params = vec![w];
        let mut adam = Adam::new(0.1, &params);
        let grads = (params[0].clone() * x).sum().backward();
        adam.step(&mut params, &grads);
        let got = to_vec(&params[0]);
        assert!(
            (got[0] - 0.9).abs() < 1e-6 && (got[1] - 2.1).abs() < 1e-6,
            "{got:?}"
        );
        assert_eq!(got[2], 3.0);
    }

    /// Members trained apart (`member_leaves`, one autodiff graph each)
    /// get the gradients the batched network gets for the same loss, and
    /// `regress_members` gives the same bits on one and two threads.
    #[test]
    fn member_leaves_give_the_batched_gradients() {
        let one = Device::cpu_with(crate::agents::Threads::one());
        let two = Device::cpu_with(crate::agents::Threads::new(2).unwrap());
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let net = Mlp::new(2, &[6, 32, 32, 1], &mut rng, one.autodiff()).require_grad();
        let x = tensor3(gaussian(&mut rng, 40 * 6), [1, 40, 6], one.autodiff());
        let y = tensor3(gaussian(&mut rng, 40), [1, 40, 1], one.autodiff());
        // Batched: the sum over members of each member's mean squared error.
        let err = net.forward(x.clone()) - y.clone();
        let batched = (err.clone() * err).mean() * 2.0;
        let grads = batched.backward();
        let (loss, q, apart) =
            super::super::losses::regress_members(&one, &net, x.clone(), y.clone(), 1.0);
        assert!((scalar(&loss) - scalar(&batched)).abs() <= 1e-5 * scalar(&batched).abs());
        assert_eq!(q.dims(), [2, 40, 1]);
        for (p, g) in net.params.iter().zip(&apart) {
            let (want, got) = (
                to_vec(&p.grad(&grads).unwrap()),
                to_vec(g.as_ref().unwrap()),
            );
            assert_eq!(want.len(), got.len());
            let scale = want.iter().fold(0f32, |m, w| m.max(w.abs()));
            assert!(scale > 0.0);
            for (w, g) in want.iter().zip(&got) {
                assert!((w - g).abs() <= 1e-5 * scale, "{w} vs {g}");
            }
        }
        let (loss2, q2, apart2) = super::super::losses::regress_members(&two, &net, x, y, 1.0);
        let bits = |t: &T3| to_vec(t).into_iter().map(f32::to_bits).collect::<Vec<_>>();
        assert_eq!(scalar(&loss).to_bits(), scalar(&loss2).to_bits());
        assert_eq!(bits(&q), bits(&q2));
        for (a, b) in apart.iter().zip(&apart2) {
            assert_eq!(bits(a.as_ref().unwrap()), bits(b.as_ref().unwrap()));
        }
    }

    /// Adam's step with its tensors split over two threads
    /// ([`Adam::step_on`]) gives the one-thread step's bits: parameters and
    /// both moments, for a twin network whose tensors differ in size.
    #[test]
    fn adam_on_two_threads_is_bit_identical() {
        let two = Device::cpu_with(crate::agents::Threads::new(2).unwrap());
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let net = Mlp::new(2, &[5, 32, 16, 3], &mut rng, two.autodiff()).require_grad();
        let x = tensor3(gaussian(&mut rng, 2 * 9 * 5), [2, 9, 5], two.autodiff());
        let grads = net.forward(x).tanh().sum().backward();
        let bits = |ts: &[T3]| -> Vec<Vec<u32>> {
            ts.iter()
                .map(|t| to_vec(t).into_iter().map(f32::to_bits).collect())
                .collect()
        };
        let (mut one, mut split) = (Adam::new(1e-2, &net.params), Adam::new(1e-2, &net.params));
        one.m = one.m.iter().map(|m| m.clone() + 0.25).collect();
        split.m = one.m.clone();
        let (mut p1, mut p2) = (net.params.clone(), net.params.clone());
        one.step(&mut p1, &grads);
        split.step_on(&two, &mut p2, &grads);
        assert_ne!(
            bits(&p1),
            bits(&net.params),
            "the step moved the parameters"
        );
        assert_eq!(bits(&p1), bits(&p2));
        assert_eq!(bits(&one.m), bits(&split.m));
        assert_eq!(bits(&one.v), bits(&split.v));
        let sizes: Vec<(usize, T3)> = p1.iter().cloned().enumerate().collect();
        let (a, b) = halves_by_size(sizes);
        assert!(!a.is_empty() && !b.is_empty());
        let count = |h: &[(usize, T3)]| {
            h.iter()
                .map(|(_, t)| t.shape().num_elements())
                .sum::<usize>()
        };
        assert!(
            count(&a).abs_diff(count(&b)) <= 2 * 32 * 16,
            "{} vs {}",
            count(&a),
            count(&b)
        );
    }

    /// Orthogonal layers have orthonormal columns (in ≥ out) or rows
    /// (in < out) times the gain; Xavier's stay inside their bound.
    #[test]
    fn orthogonal_and_xavier_layers_are_what_torch_draws() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for (fan_in, out) in [(6, 3), (3, 6), (4, 4), (5, 1)] {
            let w = LayerInit::Orthogonal(2.0).draw(fan_in, out, &mut rng);
            let at = |i: usize, j: usize| w[i * out + j] as f64;
            let (vectors, len) = if fan_in >= out {
                (out, fan_in)
            } else {
                (fan_in, out)
            };
            for a in 0..vectors {
                for b in 0..vectors {
                    let dot: f64 = (0..len)
                        .map(|k| match fan_in >= out {
                            true => at(k, a) * at(k, b),
                            false => at(a, k) * at(b, k),
                        })
                        .sum();
                    let want = if a == b { 4.0 } else { 0.0 };
                    assert!((dot - want).abs() < 1e-5, "{fan_in}×{out}: {dot}");
                }
            }
        }
        let w = LayerInit::XavierUniform(1e-2).draw(256, 4, &mut rng);
        let bound = 1e-2 * (6.0f64 / 260.0).sqrt();
        assert!(w.iter().all(|x| (*x as f64).abs() <= bound + 1e-9));
        assert!(w.iter().any(|x| (*x as f64).abs() > bound / 2.0));
    }

    /// Weight decay shrinks parameters whose gradient is zero by
    /// (1 − lr·λ) (AdamW), and plain Adam leaves them alone.
    #[test]
    fn weight_decay_shrinks_parameters_without_gradient() {
        let dev = Device::cpu();
        let w = tensor3(vec![1.0, -2.0], [1, 1, 2], dev.autodiff()).require_grad();
        let zero = tensor3(vec![0.0, 0.0], [1, 1, 2], dev.autodiff());
        for (decay, want) in [(0.0, [1.0, -2.0]), (0.5, [0.95, -1.9])] {
            let mut params = vec![w.clone()];
            let recipe = OptimConfig {
                weight_decay: decay,
                ..OptimConfig::default()
            };
            let mut adam = Adam::new(0.1, &params).with_recipe(&recipe, None);
            let grads = (params[0].clone() * zero.clone()).sum().backward();
            adam.step(&mut params, &grads);
            let got = to_vec(&params[0]);
            assert!(
                (got[0] - want[0]).abs() < 1e-6 && (got[1] - want[1]).abs() < 1e-6,
                "λ = {decay}: {got:?}"
            );
        }
    }

    /// A scheduled Adam steps with the rate of its step count, and
    /// clipping is applied before the moments (a clipped first step still
    /// moves by lr·sign(g); the second moment shows the clipped size).
    #[test]
    fn adam_follows_its_schedule_and_clips_before_the_moments() {
        let dev = Device::cpu();
        let w = tensor3(vec![0.0, 0.0], [1, 1, 2], dev.autodiff()).require_grad();
        let x = tensor3(vec![30.0, 40.0], [1, 1, 2], dev.autodiff());
        let recipe = OptimConfig {
            clip_norm: Some(5.0),
            ..OptimConfig::cosine()
        };
        let mut params = vec![w];
        let mut adam = Adam::new(0.1, &params).with_recipe(&recipe, Some(2));
        assert_eq!(adam.current_lr(), 0.1);
        let grads = (params[0].clone() * x.clone()).sum().backward();
        adam.step(&mut params, &grads);
        assert_eq!(adam.current_lr(), 0.1, "the first step used the base rate");
        let v = to_vec(&adam.v[0]);
        // clipped gradient (3, 4): v = 0.001·g²
        assert!(
            (v[0] - 0.009).abs() < 1e-6 && (v[1] - 0.016).abs() < 1e-6,
            "{v:?}"
        );
        let grads = (params[0].clone() * x).sum().backward();
        adam.step(&mut params, &grads);
        assert!(
            (adam.current_lr() - 0.05).abs() < 1e-12,
            "cos(π/2) halves it"
        );
    }

    /// The host copy computes what the tensor network computes.
    #[test]
    fn host_mlp_matches_tensor_forward() {
        let dev = Device::cpu();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let net = Mlp::new(2, &[3, 8, 2], &mut rng, dev.base());
        let x = vec![0.3, -1.0, 2.0];
        let y = to_vec(&net.forward(tensor3(x.clone(), [1, 1, 3], dev.base())));
        for e in 0..2 {
            let h = net.host(e);
            let (mut a, mut b) = (vec![], vec![]);
            let out = h.forward(&x, &mut a, &mut b).to_vec();
            for j in 0..2 {
                assert!((out[j] - y[e * 2 + j]).abs() < 1e-5, "{out:?} {y:?}");
            }
        }
    }

    #[test]
    fn polyak_moves_target_by_tau() {
        let dev = Device::cpu();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let online = Mlp::new(1, &[2, 2], &mut rng, dev.autodiff()).require_grad();
        let mut target = online.inner();
        let before = to_vec(&target.params[0]);
        let mut shifted = online.clone();
        shifted.params[0] = shifted.params[0].clone() + 1.0;
        target.polyak_from(&shifted, 0.25);
        let after = to_vec(&target.params[0]);
        for (a, b) in after.iter().zip(&before) {
            assert!((a - b - 0.25).abs() < 1e-6);
        }
    }
}
