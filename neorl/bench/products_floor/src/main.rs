//! The matrix products of one TD3+BC update, and nothing else: the floor of
//! a CPU implementation that multiplies with gemm (the kernels burn-flex
//! uses) on a given schedule, to judge how much another schedule or a
//! hand-written update could gain over neorl's (issue 13).
//!
//! Shapes are `neorl bench train --algo td3bc`'s: minibatches of 256,
//! two hidden layers of 256, ChemicalReactor's 7 observations and 1 action,
//! twin critics. Per update: the target actor and both target critics
//! forward; both critics forward and backward (weights' gradients); every
//! second update the actor forward, critic 1 forward and backward to its
//! input, and the actor backward (0.397 GFLOP per update on average).
//!
//! The data flow as in an update: each product reads the activations and
//! gradients that the previous ones wrote, in row-major buffers allocated
//! once, so caches hold what a real update would find in them. No bias,
//! activation, loss or optimiser: whatever an implementation adds to these
//! products makes it slower than this.
//!
//! Two schedules (second argument, after the thread count):
//! - `inner` (the default), burn-flex 0.21's: each product of m·n·k ≥ 192³
//!   split over the threads by output tiles, one product after another; the
//!   others on one thread;
//! - `members`: whole products per thread: each twin critic on a thread of
//!   its own, the actor's rows in two halves (its weight gradient the sum of
//!   the halves'). Measured 1.6–1.7× `inner` on two threads (RESULTS.md).

use std::time::Instant;

type Matrix = Vec<f32>;

fn matrix(rows: usize, cols: usize) -> Matrix {
    (0..rows * cols)
        .map(|i| ((i % 17) as f32 - 8.0) * 1e-3)
        .collect()
}

/// `c[m×n] = op(a) · op(b)`: `a` is m×k row-major (its transpose, k×m, when
/// `ta`), `b` k×n (its transpose when `tb`).
#[allow(clippy::too_many_arguments)]
fn product(
    c: &mut [f32],
    a: &[f32],
    b: &[f32],
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    threads: usize,
) {
    let parallelism = if threads > 1 && m * n * k >= 192 * 192 * 192 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let (a_cs, a_rs) = if ta { (m as isize, 1) } else { (1, k as isize) };
    let (b_cs, b_rs) = if tb { (k as isize, 1) } else { (1, n as isize) };
    // SAFETY: every buffer holds exactly the elements its strides reach
    // (m×k, k×n, m×n), and `c` is borrowed mutably, apart from `a` and `b`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            false,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// A multi-layer perceptron's weights, activations and gradients.
struct Net {
    sizes: Vec<usize>,
    weights: Vec<Matrix>,
    activations: Vec<Matrix>,
    grad_activations: Vec<Matrix>,
    grad_weights: Vec<Matrix>,
    /// The second half's share of a weight gradient (`backward_halves`).
    scratch: Vec<Matrix>,
}

impl Net {
    fn new(sizes: &[usize], rows: usize) -> Net {
        let layers = sizes.len() - 1;
        Net {
            sizes: sizes.to_vec(),
            weights: (0..layers)
                .map(|l| matrix(sizes[l], sizes[l + 1]))
                .collect(),
            activations: sizes.iter().map(|&s| matrix(rows, s)).collect(),
            grad_activations: sizes.iter().map(|&s| matrix(rows, s)).collect(),
            grad_weights: (0..layers)
                .map(|l| matrix(sizes[l], sizes[l + 1]))
                .collect(),
            scratch: (0..layers)
                .map(|l| matrix(sizes[l], sizes[l + 1]))
                .collect(),
        }
    }

    fn forward(&mut self, rows: usize, threads: usize) {
        for l in 0..self.weights.len() {
            let (inputs, outputs) = self.activations.split_at_mut(l + 1);
            let (i, o) = (self.sizes[l], self.sizes[l + 1]);
            product(
                &mut outputs[0],
                &inputs[l],
                &self.weights[l],
                rows,
                i,
                o,
                false,
                false,
                threads,
            );
        }
    }

    /// From the output's gradient back: the weights' gradients (`weights`)
    /// and the input's (`input`).
    fn backward(&mut self, rows: usize, threads: usize, weights: bool, input: bool) {
        for l in (0..self.weights.len()).rev() {
            let (i, o) = (self.sizes[l], self.sizes[l + 1]);
            if weights {
                product(
                    &mut self.grad_weights[l],
                    &self.activations[l],
                    &self.grad_activations[l + 1],
                    i,
                    rows,
                    o,
                    true,
                    false,
                    threads,
                );
            }
            if l > 0 || input {
                let (below, above) = self.grad_activations.split_at_mut(l + 1);
                product(
                    &mut below[l],
                    &above[0],
                    &self.weights[l],
                    rows,
                    o,
                    i,
                    false,
                    true,
                    threads,
                );
            }
        }
    }

    /// `forward` with the rows in two halves side by side, each product of a
    /// half on one thread (no product split inside).
    fn forward_halves(&mut self, rows: usize) {
        let half = rows / 2;
        for l in 0..self.weights.len() {
            let (inputs, outputs) = self.activations.split_at_mut(l + 1);
            let (i, o) = (self.sizes[l], self.sizes[l + 1]);
            let (x0, x1) = inputs[l].split_at(half * i);
            let (y0, y1) = outputs[0].split_at_mut(half * o);
            let w = &self.weights[l];
            rayon::join(
                || product(y0, x0, w, half, i, o, false, false, 1),
                || product(y1, x1, w, rows - half, i, o, false, false, 1),
            );
        }
    }

    /// `backward` with the rows in two halves side by side: the input's
    /// gradient half by half, a weight gradient as the sum of the halves'.
    fn backward_halves(&mut self, rows: usize, weights: bool, input: bool) {
        let half = rows / 2;
        for l in (0..self.weights.len()).rev() {
            let (i, o) = (self.sizes[l], self.sizes[l + 1]);
            if weights {
                let (a0, a1) = self.activations[l].split_at(half * i);
                let (g0, g1) = self.grad_activations[l + 1].split_at(half * o);
                let (gw, rest) = (&mut self.grad_weights[l], &mut self.scratch[l]);
                rayon::join(
                    || product(gw, a0, g0, i, half, o, true, false, 1),
                    || product(rest, a1, g1, i, rows - half, o, true, false, 1),
                );
                for (w, r) in gw.iter_mut().zip(rest.iter()) {
                    *w += *r;
                }
            }
            if l > 0 || input {
                let (below, above) = self.grad_activations.split_at_mut(l + 1);
                let (d0, d1) = below[l].split_at_mut(half * i);
                let (g0, g1) = above[0].split_at(half * o);
                let w = &self.weights[l];
                rayon::join(
                    || product(d0, g0, w, half, o, i, false, true, 1),
                    || product(d1, g1, w, rows - half, o, i, false, true, 1),
                );
            }
        }
    }
}

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|&t| t >= 1)
        .unwrap_or(2);
    // "inner" (burn-flex 0.21's schedule: each large product split over the
    // threads) or "members" (each twin critic on a thread of its own, the
    // actor's rows in two halves; every product on one thread).
    let members = std::env::args().nth(2).is_some_and(|s| s == "members");
    let seconds = 6.0;
    let (rows, hidden, obs, act) = (256, 256, 7, 1);
    let mut actor = Net::new(&[obs, hidden, hidden, act], rows);
    let mut actor_target = Net::new(&[obs, hidden, hidden, act], rows);
    let critic = || Net::new(&[obs + act, hidden, hidden, 1], rows);
    let (mut critics, mut critic_targets) = ([critic(), critic()], [critic(), critic()]);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a thread pool");
    pool.install(|| {
        let mut update = |step: u64| {
            if members {
                actor_target.forward_halves(rows);
                let [t0, t1] = &mut critic_targets;
                rayon::join(|| t0.forward(rows, 1), || t1.forward(rows, 1));
                let [c0, c1] = &mut critics;
                rayon::join(
                    || {
                        c0.forward(rows, 1);
                        c0.backward(rows, 1, true, false)
                    },
                    || {
                        c1.forward(rows, 1);
                        c1.backward(rows, 1, true, false)
                    },
                );
                if step % 2 == 1 {
                    actor.forward_halves(rows);
                    critics[0].forward_halves(rows);
                    critics[0].backward_halves(rows, false, true);
                    actor.backward_halves(rows, true, false);
                }
                return;
            }
            actor_target.forward(rows, threads);
            for c in critic_targets.iter_mut() {
                c.forward(rows, threads);
            }
            for c in critics.iter_mut() {
                c.forward(rows, threads);
                c.backward(rows, threads, true, false);
            }
            if step % 2 == 1 {
                actor.forward(rows, threads);
                critics[0].forward(rows, threads);
                critics[0].backward(rows, threads, false, true);
                actor.backward(rows, threads, true, false);
            }
        };
        for step in 0..100 {
            update(step);
        }
        let started = Instant::now();
        let mut steps = 0;
        while started.elapsed().as_secs_f64() < seconds {
            update(steps);
            steps += 1;
        }
        let rate = steps as f64 / started.elapsed().as_secs_f64();
        let schedule = if members { "members" } else { "inner" };
        println!(
            "{{\"threads\": {threads}, \"schedule\": \"{schedule}\", \"updates_per_s\": {rate:.1}}}"
        );
    });
}
