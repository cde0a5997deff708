//! Architecture v2 moved code between modules and into the `neorl-plant`
//! crate; every public path users knew must still name the same item. This
//! file uses the former paths (and the notebook prelude's method syntax),
//! so it stops compiling if one of them goes away.

use neorl::prelude::*;

#[test]
fn former_paths_name_the_moved_items() -> neorl::Result<()> {
    // Plant modules re-exported under their old names.
    let mut env: neorl::env::Env = neorl::make("ChemicalReactor-v0")?;
    let spec: neorl::env::EnvSpec = env.spec().clone();
    let mut expert = neorl::control::make_policy(&spec, neorl::control::PolicyKind::Expert)?;
    let _: neorl::safety::VerifyReport = neorl::safety::verify("no-such-audit-log.jsonl");
    let _: neorl::error::Error = neorl::Error::InvalidArgument("x".into());

    // Rollouts: `neorl::eval::{rollout, shielded, shielded_record, reference}`.
    let tr: neorl::eval::rollout::Trajectory =
        neorl::eval::record_episode(&mut env, expert.as_mut(), 0)?;
    let _ = neorl::eval::reference::REFERENCE_SEED;
    let _ = neorl::eval::shielded::shielded_rollout_with;
    let _ = neorl::eval::shielded_record::record_shielded_episode;

    // Figures that moved from `viz` to `report`, by their old paths.
    let fig: neorl::viz::Figure = neorl::viz::compare_trajectories(&[&tr])?;
    assert!(fig.n_traces() > 0);
    let same = neorl::report::compare_trajectories(&[&tr])?;
    assert_eq!(fig, same);
    let _ = neorl::viz::trajectory_figure;
    let _ = neorl::viz::results_table;
    let _ = neorl::viz::runs_figure;
    let _ = neorl::viz::learning_curve_figure;
    let _: Option<neorl::viz::ResultsTable> = None;

    // Method syntax of the notebooks (extension traits in the prelude).
    assert_eq!(tr.plot()?, fig);

    // Score tables: `neorl::eval::scores` is `neorl::experiments::scores`.
    let cfg = neorl::eval::scores::ScoreConfig::default();
    let _: neorl::experiments::scores::ScoreConfig = cfg;
    let _ = neorl::eval::scores::score_table;
    Ok(())
}
