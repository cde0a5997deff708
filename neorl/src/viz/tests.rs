//! Tests of the notebook displays and figures on real objects: a generated
//! dataset, rollouts through the registry's environments, specs.

use super::display::tests::parse_evcxr;
use super::*;
use crate::control::{PolicyKind, make_policy};
use crate::data::{Columns, Dataset, GenerateConfig, Metadata, Quality, generate};
use crate::env::ConstraintKind;
use crate::eval::{record_episode, rollout, shielded_rollout_with};
use crate::safety::SafetyConfig;

const ENV: &str = "ChemicalReactor-v0";

fn data(n: usize) -> Dataset {
    let mut cfg = GenerateConfig::new(ENV, Quality::Medium, n, 3);
    cfg.threads = 1;
    cfg.dataset_id = "ChemicalReactor-medium-v0".into();
    generate(&cfg).unwrap()
}

fn empty() -> Dataset {
    let meta = Metadata {
        env_id: ENV.into(),
        ..Metadata::default()
    };
    Dataset::new(meta, Columns::default()).unwrap()
}

/// The rich output as evcxr would read it, checked for its MIME types.
fn shown(out: &str) -> std::collections::BTreeMap<String, String> {
    let (map, rest) = parse_evcxr(out);
    assert!(rest.is_empty(), "stray output: {rest:?}");
    assert_eq!(
        map.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
        ["text/html", "text/plain"]
    );
    map
}

#[test]
fn dataset_card_and_episode_table() {
    let d = data(2000);
    let html = d.to_html();
    for needle in [
        "Dataset ChemicalReactor-medium-v0",
        "ChemicalReactor-v0",
        "medium",
        "2000",
        "episode return",
        "normalized score",
        "sha256",
    ] {
        assert!(html.contains(needle), "card lacks {needle}");
    }
    assert_eq!(shown(&d.rich().evcxr_output())["text/plain"], d.to_string());
    let t = d.episodes_table();
    assert_eq!(t.rows.len(), d.num_episodes());
    let sum: usize = t.rows.iter().map(|r| r.length).sum();
    assert_eq!(sum, d.len());
    let table = t.table();
    if t.rows.len() > 15 {
        assert_eq!(table.rows.len(), 15);
    }
    assert!(t.to_html().contains("normalized score"));
    // Same input, same bytes.
    assert_eq!(d.to_html(), data(2000).to_html());
}

#[test]
fn empty_dataset_displays_and_plots_say_so() {
    let d = empty();
    assert!(d.to_html().contains("no transitions"));
    let t = d.episodes_table();
    assert!(t.rows.is_empty());
    assert!(t.to_html().contains("No episodes"));
    let f = d.plot_returns();
    assert_eq!(f.n_traces(), 0);
    assert!(f.json.to_string().contains("no episodes"));
    let err = d.plot_episode(0).unwrap_err().to_string();
    assert!(err.contains("episode 0 does not exist"), "{err}");
    assert!(d.summary().to_html().contains("<table"));
}

#[test]
fn returns_histogram_has_both_panels_and_references() {
    let d = data(2000);
    let f = d.plot_returns();
    assert_eq!(f.traces_named("return").len(), 1);
    assert_eq!(f.traces_named("cost").len(), 1);
    assert_eq!(f.json["data"][0]["type"], "histogram");
    let n = f.json["data"][0]["x"].as_array().unwrap().len();
    assert_eq!(n, d.num_episodes());
    let shapes = f.json["layout"]["shapes"].as_array().unwrap();
    assert_eq!(shapes.len(), 2, "random and expert reference lines");
    assert_eq!(
        shapes[1]["x0"].as_f64(),
        d.metadata().ref_max_score,
        "expert line at the expert return"
    );
    assert_eq!(
        f.to_notebook_html(false),
        d.plot_returns().to_notebook_html(false)
    );
}

#[test]
fn episode_figure_draws_every_limit_and_action() {
    let d = data(2000);
    let f = d.plot_episode(1).unwrap();
    let spec = crate::env::make(ENV).unwrap().spec().clone();
    for c in &spec.constraints {
        let kind = match c.kind {
            ConstraintKind::Hard => "hard",
            ConstraintKind::Soft => "soft",
        };
        let lines = f.traces_named(&format!("{} limit ({kind})", c.name));
        assert_eq!(lines.len(), 1, "limit line of {}", c.name);
        assert_eq!(lines[0]["y"][0].as_f64(), Some(c.limit));
    }
    let len = d.episode_range(1).len();
    let series = f.traces_named("ChemicalReactor-medium-v0 episode 1");
    assert_eq!(series.len(), spec.n_constraints() + spec.act_dim());
    assert_eq!(series[0]["y"].as_array().unwrap().len(), len);
    let err = d.plot_episode(10_000).unwrap_err().to_string();
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn env_spec_card_lists_units_and_limits() {
    let spec = crate::env::make(ENV).unwrap().spec().clone();
    let html = spec.to_html();
    for c in &spec.constraints {
        assert!(html.contains(&escape_html(&c.name)));
        assert!(html.contains(&num(c.limit)));
    }
    for d in spec.observations.iter().chain(&spec.actions) {
        assert!(html.contains(&escape_html(&d.unit)), "unit of {}", d.name);
    }
    assert!(spec.to_string().contains("Constraints"));
}

#[test]
fn rollout_and_shielded_reports() {
    let mut env = crate::env::make(ENV).unwrap();
    let spec = env.spec().clone();
    let mut expert = make_policy(&spec, PolicyKind::Expert).unwrap();
    let r = rollout(&mut env, expert.as_mut(), 2, 0).unwrap();
    let html = r.to_html();
    assert!(html.contains("normalized score") && html.contains("Episodes"));
    assert_eq!(shown(&r.rich().evcxr_output())["text/plain"], r.to_string());
    let s = shielded_rollout_with(
        &mut env,
        expert.as_mut(),
        1,
        0,
        SafetyConfig::default(),
        None,
    )
    .unwrap();
    let html = s.to_html();
    assert!(html.contains("Shielded rollout") && html.contains("interventions"));
    let tr = record_episode(&mut env, expert.as_mut(), 0).unwrap();
    let f = tr.plot().unwrap();
    assert!(f.n_traces() > spec.n_constraints());
    let g = compare_trajectories(&[&tr, &tr]).unwrap();
    assert!(g.n_traces() > f.n_traces());
    assert!(compare_trajectories(&[]).is_err());
}

#[test]
fn train_summary_and_learning_curve_without_steps() {
    let t = crate::agents::TrainSummary {
        steps: 10,
        total_steps: 20,
        seconds: 2.0,
        final_metrics: [("actor_loss".to_string(), 0.5)].into_iter().collect(),
    };
    let html = t.to_html();
    assert!(html.contains("actor_loss") && html.contains("5 updates/s"));
    let f = crate::agents::History::default().figure("iql");
    assert!(f.json.to_string().contains("no training steps yet"));
}
