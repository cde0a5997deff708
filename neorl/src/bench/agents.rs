//! `neorl bench train` and `neorl bench inference`: agent update rates and
//! deployment-policy latency, with a same-run matrix-multiply throughput
//! measurement to judge them against.

use super::rate;
use crate::agents::nets::{tensor3, to_vec};
use crate::agents::{self, Device, NormalizerFit, Threads, TransitionBatch};
use crate::control::PolicyKind;
use crate::env::make;
use crate::error::Result;
use crate::policy::Policy;
use rand::SeedableRng;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Default environment of the agent benchmarks (falls back to the first registered one).
pub const DEFAULT_ENV: &str = "ChemicalReactor-v0";

/// Resolve `--env`: the given id, else [`DEFAULT_ENV`] when registered, else the first env.
pub fn resolve_env(env: Option<&str>) -> Result<String> {
    if let Some(e) = env {
        return Ok(make(e)?.spec().id.clone());
    }
    let ids = crate::env::ids();
    Ok(if ids.contains(&DEFAULT_ENV) {
        DEFAULT_ENV
    } else {
        ids[0]
    }
    .to_string())
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainBench {
    pub algo: String,
    pub device: String,
    pub env: String,
    pub batch: usize,
    pub hidden: Vec<usize>,
    /// Threads of the multi-threaded measurement (`--threads`, default every core).
    pub threads: usize,
    /// Updates per second on 1 thread.
    pub updates_per_s_1t: f64,
    /// Updates per second on `threads` threads.
    pub updates_per_s: f64,
    /// `updates_per_s / updates_per_s_1t`.
    pub thread_scaling: f64,
    pub transitions_per_s: f64,
    /// Dense 256×256×256 f32 matmul throughput measured in the same run on
    /// the same device, on 1 thread (`gemm`, the better of a measurement
    /// before and after the updates).
    pub matmul_gflops_1t: f64,
    /// The same on `threads` threads.
    pub matmul_gflops: f64,
    /// Matrix-multiply FLOPs of one update (forward and backward), where known.
    pub matmul_flops_per_update: Option<f64>,
    /// `updates_per_s_1t × flops_per_update / matmul_gflops_1t` (1 = the
    /// update runs at matmul speed).
    pub fraction_of_matmul_peak_1t: Option<f64>,
    /// The same on `threads` threads.
    pub fraction_of_matmul_peak: Option<f64>,
    /// COMBO only: its dynamics-ensemble fitting, measured separately.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_fit: Option<ModelFitBench>,
}

/// COMBO's dynamics-model fitting (ensemble updates per second).
#[derive(Debug, Clone, Serialize)]
pub struct ModelFitBench {
    pub members: usize,
    pub hidden: Vec<usize>,
    pub updates_per_s_1t: f64,
    pub updates_per_s: f64,
    pub matmul_flops_per_update: f64,
    pub fraction_of_matmul_peak_1t: f64,
    pub fraction_of_matmul_peak: f64,
}

/// Dense f32 matmul GFLOP/s on `device`: 8 products of `[256,256] × [256,256]`
/// per repetition.
///
/// On the CPU this calls `gemm` (the kernels burn-flex multiplies with) on
/// the device's threads (split by output tiles, as burn-flex splits a large
/// product), into buffers allocated once: the machine's matrix-multiply
/// rate, not the allocator's. (Through burn, each repetition allocates a
/// 2 MB result, which glibc serves with a fresh `mmap` and its page faults
/// or from the heap depending on what the process freed before: the same
/// product measured 45–55 GFLOP/s after BC's updates and 70–89 after
/// CQL's.) On a GPU it goes through burn.
pub fn matmul_gflops(device: &Device, min_time: Duration) -> Result<f64> {
    const N: usize = MATMUL_N;
    const BATCH: usize = 8;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let mut g = |n| crate::agents::nets::gaussian(&mut rng, n);
    let (a, b) = (g(BATCH * N * N), g(BATCH * N * N));
    let products_per_s = if device.is_cpu() {
        let mut c = vec![0f32; BATCH * N * N];
        let parallel = device.threads().get() > 1;
        let per_s = device.run(|| {
            rate(min_time, || {
                for i in 0..BATCH {
                    let r = i * N * N..(i + 1) * N * N;
                    gemm_256(&mut c[r.clone()], &a[r.clone()], &b[r], parallel);
                }
                Ok(BATCH)
            })
        })?;
        std::hint::black_box(&c);
        per_s
    } else {
        let a = tensor3(a, [BATCH, N, N], device.base());
        let b = tensor3(b, [BATCH, N, N], device.base());
        rate(min_time, || {
            let _ = to_vec(&a.clone().matmul(b.clone()).sum());
            Ok(BATCH)
        })?
    };
    Ok(products_per_s * 2.0 * (N as f64).powi(3) / 1e9)
}

/// Side of the reference's square matrices.
const MATMUL_N: usize = 256;

/// `c = a · b` for row-major 256×256 matrices, on one thread or on every
/// thread of the current rayon pool.
fn gemm_256(c: &mut [f32], a: &[f32], b: &[f32], parallel: bool) {
    const N: usize = MATMUL_N;
    assert!(a.len() == N * N && b.len() == N * N && c.len() == N * N);
    // SAFETY: the three buffers hold N×N f32 each (checked above), are
    // row-major (row stride N, column stride 1), and `c` does not alias `a`
    // or `b` (it is borrowed mutably); gemm reads and writes only within
    // m×k, k×n and m×n elements at those strides.
    unsafe {
        gemm::gemm(
            N,
            N,
            N,
            c.as_mut_ptr(),
            1,
            N as isize,
            false,
            a.as_ptr(),
            1,
            N as isize,
            b.as_ptr(),
            1,
            N as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            if parallel {
                gemm::Parallelism::Rayon(0)
            } else {
                gemm::Parallelism::None
            },
        );
    }
}

fn mlp_macs(sizes: &[usize]) -> f64 {
    sizes.windows(2).map(|w| (w[0] * w[1]) as f64).sum()
}

/// Matmul FLOPs of one update (forward and backward) of the algorithms whose
/// update is a fixed set of network passes; `None` for an unknown one.
///
/// Counted in multiply-accumulates per batch row, ×2 FLOPs: a forward pass
/// of a network costs its weights' MACs, a backward pass twice that (input
/// and weight gradients), a backward pass through a frozen network once
/// (input gradients only). A = actor, C = one critic, V = value network.
fn flops_per_update(
    algo: &str,
    od: usize,
    ad: usize,
    hidden: &[usize],
    batch: usize,
) -> Option<f64> {
    let sz = |i, o| {
        let mut s = vec![i];
        s.extend(hidden);
        s.push(o);
        s
    };
    let a = mlp_macs(&sz(od, ad));
    let c = mlp_macs(&sz(od + ad, 1));
    let macs = match algo {
        // forward + backward of the actor
        "bc" => 3.0 * a,
        // target actor + twin target critics (A + 2C); twin critics fwd+bwd
        // (6C); every 2nd step actor fwd+bwd through one frozen critic
        // (3A + 2C) / 2
        "td3bc" => a + 2.0 * c + 6.0 * c + (3.0 * a + 2.0 * c) / 2.0,
        // V(s') (V), twin target critics (2C), value fwd+bwd (3V), twin
        // critics fwd+bwd (6C), Gaussian actor fwd+bwd (3A)
        "iql" => {
            let v = mlp_macs(&sz(od, 1));
            4.0 * v + 8.0 * c + 3.0 * a
        }
        // SAC actor (outputs mean and log-std: A2) fwd+bwd through the frozen
        // twin critics (3A2 + 4C); target: actor on s' and twin target
        // critics (A2 + 2C); twin critics on (s, a) fwd+bwd (6C); the
        // conservative term: the actor on k repeats of s and of s' (2k A2)
        // and the twin critics fwd+bwd on 3k sampled actions per state (18k C)
        // COMBO's agent update is CQL's on a mixed batch (its model
        // roll-outs, every `rollout_freq` updates, are not counted)
        "cql" | "combo" => {
            let a2 = mlp_macs(&sz(od, 2 * ad));
            let k = agents::CqlConfig::default().n_actions as f64;
            (4.0 + 2.0 * k) * a2 + (12.0 + 18.0 * k) * c
        }
        _ => return None,
    };
    Some(2.0 * macs * batch as f64)
}

/// Updates per second of `algo` with minibatches of `batch` (the papers' 256
/// unless a GPU needs more work per update) and 256×256 networks on `env`
/// (CQL and COMBO default to three hidden layers; the benchmark uses two for
/// all), on 1 thread and on `threads` (on the CPU), each next to the matmul
/// rate at that thread count.
pub fn train(
    algo: &str,
    env: Option<&str>,
    device: &Device,
    threads: Threads,
    min_time: Duration,
    batch: usize,
) -> Result<TrainBench> {
    let env_id = resolve_env(env)?;
    let spec = make(&env_id)?.spec().clone();
    let data = crate::data::Dataset::from_controller(&env_id, PolicyKind::Medium, 5_000, 0)?;
    let name = agents::algo_name(algo)?;
    let hidden = vec![256, 256];
    let on_cpu = device.is_cpu();
    let one = device.with_threads(Threads::one());
    let all = device.with_threads(threads);
    let (rate_1t, gflops_1t) = if on_cpu {
        update_rate(&name, &spec, &data, &one, min_time, batch)?
    } else {
        (f64::NAN, f64::NAN)
    };
    let (rate_all, gflops_all) = if threads.get() == 1 && on_cpu {
        (rate_1t, gflops_1t)
    } else {
        update_rate(&name, &spec, &data, &all, min_time, batch)?
    };
    let batch_size = batch;
    let fpu = flops_per_update(&name, spec.obs_dim(), spec.act_dim(), &hidden, batch_size);
    let model_fit = if name == "combo" {
        Some(model_fit(
            &spec,
            &data,
            &one,
            &all,
            min_time,
            (gflops_1t, gflops_all),
        )?)
    } else {
        None
    };
    Ok(TrainBench {
        algo: name,
        device: device.name(),
        env: env_id,
        batch: batch_size,
        hidden,
        threads: if on_cpu { threads.get() } else { 0 },
        updates_per_s_1t: rate_1t,
        updates_per_s: rate_all,
        thread_scaling: rate_all / rate_1t,
        transitions_per_s: rate_all * batch_size as f64,
        matmul_gflops_1t: gflops_1t,
        matmul_gflops: gflops_all,
        matmul_flops_per_update: fpu,
        fraction_of_matmul_peak_1t: fpu.map(|f| rate_1t * f / (gflops_1t * 1e9)),
        fraction_of_matmul_peak: fpu.map(|f| rate_all * f / (gflops_all * 1e9)),
        model_fit,
    })
}

/// A fresh agent of `algo` for the benchmark (seed 0, 256×256 networks,
/// minibatches of `batch`, checked by the agent's configuration).
fn bench_agent(
    algo: &str,
    spec: &crate::env::EnvSpec,
    device: &Device,
    model_steps: u64,
    batch: usize,
) -> Result<Box<dyn agents::Agent>> {
    let mut settings = agents::Settings::new();
    settings.insert("batch_size".into(), serde_json::json!(batch));
    match algo {
        // COMBO fits its dynamics model before its first update; that
        // one-off cost is not an update (measured apart by `model_fit`).
        "combo" => {
            settings.insert("model_steps".into(), serde_json::json!(model_steps));
            // Fit to the cap (no early stopping), so the rate counts every update.
            settings.insert("model_patience".into(), serde_json::json!(1_000_000));
        }
        // CQL's actor is trained by behaviour cloning for its first
        // `bc_steps` (10 000) updates; time the updates of the rest of
        // training.
        "cql" => {
            settings.insert("bc_steps".into(), serde_json::json!(0));
        }
        _ => {}
    }
    agents::build_configured(algo, spec, 0, Some(vec![256, 256]), &settings, device)
}

/// Updates per second of a fresh agent on `device`, and the matmul rate on
/// the same device (the better of a measurement before and after the
/// updates: on a shared machine a reference measured in a busy moment would
/// flatter the fraction).
fn update_rate(
    algo: &str,
    spec: &crate::env::EnvSpec,
    data: &crate::data::Dataset,
    device: &Device,
    min_time: Duration,
    batch: usize,
) -> Result<(f64, f64)> {
    let mut agent = bench_agent(algo, spec, device, 20, batch)?;
    // Warm up (allocations, first-call costs, COMBO's model and first
    // roll-out), then time whole updates.
    agents::train_loop_with(agent.as_mut(), data, 5, false)?;
    let gflops_before = matmul_gflops(device, Duration::from_millis(500))?;
    let batch_size = agent.state().batch_size;
    let agent = agent.as_mut();
    let rate = device.run(|| -> Result<f64> {
        let mut batch = TransitionBatch::default();
        let start = Instant::now();
        let mut updates = 0u64;
        while start.elapsed() < min_time || updates < 5 {
            let st = agent.state_mut();
            crate::agents::BatchSource::sample_into(data, &mut st.rng, batch_size, &mut batch);
            if let Some(n) = &st.norm {
                n.batch(&mut batch);
            }
            agent.update(&batch)?;
            agent.state_mut().step += 1;
            updates += 1;
        }
        Ok(updates as f64 / start.elapsed().as_secs_f64())
    })?;
    let gflops = gflops_before.max(matmul_gflops(device, Duration::from_millis(500))?);
    Ok((rate, gflops))
}

/// COMBO's ensemble fitting on 1 and on all threads: a short fit sizes a
/// timed one of about `min_time`.
fn model_fit(
    spec: &crate::env::EnvSpec,
    data: &crate::data::Dataset,
    one: &Device,
    all: &Device,
    min_time: Duration,
    gflops: (f64, f64),
) -> Result<ModelFitBench> {
    let cfg = agents::ComboConfig::default();
    let fit_rate = |device: &Device, steps: u64| -> Result<f64> {
        let mut agent = bench_agent("combo", spec, device, steps, cfg.batch_size)?;
        let start = Instant::now();
        agents::train_loop_with(agent.as_mut(), data, 0, false)?;
        Ok(steps as f64 / start.elapsed().as_secs_f64())
    };
    let mut rates = vec![];
    for device in [one, all] {
        let probe = fit_rate(device, 10)?;
        let steps = (probe * min_time.as_secs_f64()).clamp(10.0, 100_000.0) as u64;
        rates.push(fit_rate(device, steps)?);
    }
    let (od, ad) = (spec.obs_dim(), spec.act_dim());
    let sizes = agents::nets::layer_sizes(od + ad, &cfg.model_hidden, 2 * (od + 1));
    // forward and backward (3 × the MACs) of every member on its own batch
    let flops = 2.0 * 3.0 * mlp_macs(&sizes) * (cfg.model_members * cfg.batch_size) as f64;
    Ok(ModelFitBench {
        members: cfg.model_members,
        hidden: cfg.model_hidden.clone(),
        updates_per_s_1t: rates[0],
        updates_per_s: rates[1],
        matmul_flops_per_update: flops,
        fraction_of_matmul_peak_1t: rates[0] * flops / (gflops.0 * 1e9),
        fraction_of_matmul_peak: rates[1] * flops / (gflops.1 * 1e9),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct InferenceBench {
    pub env: String,
    pub hidden: Vec<usize>,
    pub single_p50_us: f64,
    pub single_p99_us: f64,
    pub batch_obs_per_s: f64,
    pub batch: usize,
}

/// Latency of one `Policy::act` of a 256×256 TD3+BC actor, and batched throughput.
pub fn inference(env: Option<&str>, min_time: Duration) -> Result<InferenceBench> {
    let env_id = resolve_env(env)?;
    let mut e = make(&env_id)?;
    let spec = e.spec().clone();
    let agent = agents::build("td3bc", &spec, 0, &Device::cpu())?;
    let mut policy = agent.policy();
    let mut obs = e.reset(0);
    let mut action = vec![0f32; spec.act_dim()];
    let mut times = Vec::with_capacity(20_000);
    let start = Instant::now();
    while start.elapsed() < min_time || times.len() < 1000 {
        let t = Instant::now();
        policy.act(&obs, &mut action)?;
        times.push(t.elapsed().as_secs_f64() * 1e6);
        obs[0] += 1e-6;
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let q = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
    let batch = 4096;
    let obs_b: Vec<f32> = (0..batch).flat_map(|_| obs.clone()).collect();
    let mut act_b = vec![0f32; batch * spec.act_dim()];
    policy.act_batch(&obs_b, &mut act_b);
    let start = Instant::now();
    let mut n = 0usize;
    while start.elapsed() < min_time {
        policy.act_batch(&obs_b, &mut act_b);
        n += batch;
    }
    Ok(InferenceBench {
        env: env_id,
        hidden: vec![256, 256],
        single_p50_us: q(0.5),
        single_p99_us: q(0.99),
        batch_obs_per_s: n as f64 / start.elapsed().as_secs_f64(),
        batch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matmul reference computes the product it claims to time.
    #[test]
    fn gemm_reference_multiplies_row_major_matrices() {
        const N: usize = MATMUL_N;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let a = crate::agents::nets::gaussian(&mut rng, N * N);
        let b = crate::agents::nets::gaussian(&mut rng, N * N);
        let mut c = vec![f32::NAN; N * N];
        gemm_256(&mut c, &a, &b, false);
        let mut c2 = vec![f32::NAN; N * N];
        crate::agents::Device::cpu_with(crate::agents::Threads::new(2).unwrap())
            .run(|| gemm_256(&mut c2, &a, &b, true));
        assert!(c.iter().zip(&c2).all(|(x, y)| x.to_bits() == y.to_bits()));
        for (i, j) in [(0, 0), (0, 255), (17, 3), (128, 200), (255, 255)] {
            let want: f64 = (0..N)
                .map(|k| a[i * N + k] as f64 * b[k * N + j] as f64)
                .sum();
            let got = c[i * N + j] as f64;
            assert!(
                (got - want).abs() < 1e-3 * (1.0 + want.abs()),
                "c[{i},{j}] = {got}, want {want}"
            );
        }
    }
}
