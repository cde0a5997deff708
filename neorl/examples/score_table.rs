//! Normalized scores of the agents on generated `medium` datasets:
//! `cargo run --release --example score_table -- ENV[,ENV] ALGO[,ALGO] SEEDS STEPS HIDDEN EVAL_EVERY EPISODES DATASET_SIZE`
//! e.g. `… ChemicalReactor-v0 bc,td3bc,iql,cql 3 5000 256,256 1000 10 100000`.
//! Prints one Markdown row per (env, algo): mean ± std over seeds of the
//! last and of the best evaluation, beside the behaviour (medium) policy.

use neorl::agents::{self, Buffer, Device, train_loop};
use neorl::control::{PolicyKind, make_policy};
use neorl::eval::rollout;

fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    let s = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    (m, s)
}

fn main() -> neorl::Result<()> {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, d: &str| a.get(i).cloned().unwrap_or_else(|| d.to_string());
    let envs = arg(0, "ChemicalReactor-v0");
    let algos = arg(1, "bc,td3bc,iql,cql");
    let seeds: u64 = arg(2, "3").parse().unwrap_or(3);
    let steps: u64 = arg(3, "5000").parse().unwrap_or(5000);
    let hidden: Vec<usize> = arg(4, "256,256")
        .split(',')
        .filter_map(|s| s.parse().ok())
        .collect();
    let every: u64 = arg(5, "1000").parse().unwrap_or(1000);
    let episodes: usize = arg(6, "10").parse().unwrap_or(10);
    let size: usize = arg(7, "100000").parse().unwrap_or(100_000);
    let device = Device::cpu();
    println!("| env | algo | last | best | behaviour (medium) |");
    println!("|---|---|---:|---:|---:|");
    for env_id in envs.split(',') {
        let mut env = neorl::make(env_id)?;
        let spec = env.spec().clone();
        let mut medium = make_policy(&spec, PolicyKind::Medium)?;
        let behaviour = rollout(&mut env, medium.as_mut(), episodes, 10_000)?.normalized_score;
        for algo in algos.split(',') {
            let (mut last, mut best) = (vec![], vec![]);
            for seed in 0..seeds {
                let data = Buffer::generate(env_id, PolicyKind::Medium, size, seed)?;
                let mut agent =
                    agents::build_with(algo, &spec, seed, Some(hidden.clone()), &device)?;
                let mut b = f64::NEG_INFINITY;
                let mut l = 0.0;
                let mut done = 0;
                while done < steps {
                    let k = every.min(steps - done);
                    train_loop(agent.as_mut(), &data, k)?;
                    done += k;
                    let mut p = agent.policy();
                    l = rollout(&mut env, &mut p, episodes, 10_000)?.normalized_score;
                    b = b.max(l);
                    eprintln!("{env_id} {algo} seed {seed} step {done}: score {l:.1}");
                }
                last.push(l);
                best.push(b);
            }
            let (lm, ls) = mean_std(&last);
            let (bm, bs) = mean_std(&best);
            println!(
                "| {env_id} | {algo} | {lm:.1} ± {ls:.1} | {bm:.1} ± {bs:.1} | {behaviour:.1} |"
            );
        }
    }
    Ok(())
}
