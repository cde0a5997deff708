//! The measurements behind protocol v1 (`datasets/protocol/environments.md`).
//!
//! For every process, under v0 and v1, it rolls out the random, medium and
//! expert controllers (the behaviour policies of the datasets: `medium` is
//! the medium dataset's policy, `mixed` mixes the three) and reports
//! * the per-step rewards of ordinary transitions (median, 1st percentile,
//!   worst) against the breach transitions' rewards, and their ratio;
//! * the critic-target scale: the breach reward against `r_min / (1 − γ)`,
//!   the most a per-step reward can move a discounted value (γ = 0.99);
//! * mean returns, breaches and the medium controller's normalized score
//!   (scale set by random's return);
//! * for the v0 ids, the same returns re-scored under the rejected
//!   alternative, a breach charge bounded to 1/(1 − γ) = 100 worst steps
//!   (the v0 charge replaced by `r_min × min(steps left, 100)`).
//!
//! Run: `cargo run --release -p neorl-plant --example protocol_v1 [episodes] [v1]`
//! (default 20 episodes per policy; `v1` also prints the reference returns
//! measured for the v1 ids over the reference protocol's 100 episodes).

use neorl_plant::control::{PolicyKind, make_policy};
use neorl_plant::env::{all_ids, make};
use neorl_plant::rollout::reference::measure;

const GAMMA: f64 = 0.99;

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let episodes: u64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(20);
    let refs = args.iter().any(|a| a == "v1");
    println!(
        "| id | policy | return | breaches | r p50 | r p1 | r worst (no breach) | breach r (mean / worst) | max abs r / ((r_max − r_min)/(1−γ)) | return, breach charge bounded to 100 steps |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for id in all_ids() {
        let mut env = make(id)?;
        let spec = env.spec().clone();
        let mut returns = vec![];
        for kind in [PolicyKind::Random, PolicyKind::Medium, PolicyKind::Expert] {
            let mut policy = make_policy(&spec, kind)?;
            let mut action = vec![0f32; spec.act_dim()];
            let (mut steps, mut breach) = (vec![], vec![]);
            let (mut total, mut total_bounded) = (0.0, 0.0);
            // Largest |Δf| of any area (PowerGrid's hard constraints come first).
            let mut peak_df = 0.0f64;
            let r_min = spec.reward_range.0;
            for e in 0..episodes {
                let seed = 7_000 + e;
                let mut obs = env.reset(seed);
                policy.reset(seed);
                loop {
                    policy.act(&obs, &mut action)?;
                    let out = env.step_in_place(&action)?;
                    total += out.reward;
                    total_bounded += out.reward;
                    if id.starts_with("PowerGrid") {
                        peak_df = env.constraint_values()[..spec.act_dim()]
                            .iter()
                            .fold(peak_df, |a, &v| a.max(v));
                    }
                    if out.hard_violation {
                        breach.push(out.reward);
                        let left = spec.horizon.saturating_sub(env.t());
                        if id.ends_with("-v0") {
                            total_bounded += r_min * (left.min(100) as f64 - left as f64);
                        }
                    } else {
                        steps.push(out.reward);
                    }
                    if out.terminated || out.truncated {
                        break;
                    }
                    obs.copy_from_slice(env.observation());
                }
            }
            steps.sort_by(f64::total_cmp);
            let mean_ret = total / episodes as f64;
            returns.push((mean_ret, total_bounded / episodes as f64));
            let worst_step = steps.first().copied().unwrap_or(f64::NAN);
            let (bmean, bworst) = if breach.is_empty() {
                (f64::NAN, f64::NAN)
            } else {
                (
                    breach.iter().sum::<f64>() / breach.len() as f64,
                    breach.iter().copied().fold(f64::INFINITY, f64::min),
                )
            };
            // The critic's value scale: the most 1/(1 − γ) steps of the
            // per-step reward range can add up to.
            let (lo, hi) = spec.reward_range;
            let critic = (hi - lo) / (1.0 - GAMMA);
            if id.starts_with("PowerGrid") {
                println!("| {id} | {kind}: largest |Δf| {peak_df:.3} Hz | | | | | | | | |");
            }
            let largest = steps
                .iter()
                .chain(&breach)
                .fold(0.0f64, |a, r| a.max(r.abs()));
            println!(
                "| {id} | {kind} | {mean_ret:.1} | {}/{episodes} | {:.3} | {:.3} | {worst_step:.3} | {bmean:.0} / {bworst:.0} | {:.2} | {:.1} |",
                breach.len(),
                quantile(&steps, 0.5),
                quantile(&steps, 0.01),
                largest / critic,
                total_bounded / episodes as f64,
            );
        }
        let score = |k: fn(&(f64, f64)) -> f64| {
            let (r, m, x) = (k(&returns[0]), k(&returns[1]), k(&returns[2]));
            100.0 * (m - r) / (x - r)
        };
        println!(
            "| {id} | medium's score ({episodes} ep.; own random and expert) | {:.1} | | | | | | | {:.1} |",
            score(|p| p.0),
            score(|p| p.1),
        );
    }
    if refs {
        for id in all_ids().into_iter().filter(|id| id.ends_with("-v1")) {
            let (r, x) = measure(id)?;
            println!("{id}: ref_random_return {r:?}, ref_expert_return {x:?}");
        }
    }
    Ok(())
}
