//! Tests of the notebook displays and figures on real objects: a generated
//! dataset, rollouts through the registry's environments, specs.

use super::*;
use crate::control::{PolicyKind, make_policy};
use crate::data::{Columns, Dataset, GenerateConfig, Metadata, Quality, generate};
use crate::env::ConstraintKind;
use crate::eval::{record_episode, rollout, shielded_rollout_with};
use crate::safety::SafetyConfig;
use crate::viz::display::tests::parse_evcxr;
use crate::viz::{escape_html, num};

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

#[test]
fn shield_interventions_over_time() {
    use crate::eval::record_shielded_episode_with;
    use crate::safety::InterventionKind;
    let mut env = crate::env::make(ENV).unwrap();
    let spec = env.spec().clone();
    // The random policy pushes the reactor around: the shield has work.
    let mut random = make_policy(&spec, PolicyKind::Random).unwrap();
    let rec = record_shielded_episode_with(&mut env, random.as_mut(), SafetyConfig::default(), 1)
        .unwrap();
    let n = rec.len();
    assert!(n > 0);
    assert_eq!(rec.trajectory.rewards.len(), n);
    assert_eq!(rec.proposed.len(), n);
    assert!(rec.shielded);
    assert!(
        rec.n_interventions() > 0,
        "the shield corrected a random policy"
    );
    let f = rec.plot_interventions().unwrap();
    for c in &spec.constraints {
        assert_eq!(
            f.traces_named(&format!(
                "{} limit ({})",
                c.name,
                match c.kind {
                    ConstraintKind::Hard => "hard",
                    ConstraintKind::Soft => "soft",
                }
            ))
            .len(),
            1
        );
    }
    assert_eq!(f.traces_named("proposed").len(), spec.act_dim());
    assert_eq!(f.traces_named("applied").len(), spec.act_dim());
    // The event strip has one marker per intervention, by kind.
    let markers: usize = InterventionKind::ALL
        .iter()
        .flat_map(|k| f.traces_named(k.as_str()))
        .map(|t| t["x"].as_array().unwrap().len())
        .sum();
    assert_eq!(markers, rec.n_interventions());
    let strip = format!("yaxis{}", spec.n_constraints() + spec.act_dim() + 1);
    assert_eq!(f.json["layout"][strip]["type"], "category");
    assert!(rec.to_html().contains("Interventions"));
    // Same episode, same bytes.
    let again = record_shielded_episode_with(&mut env, random.as_mut(), SafetyConfig::default(), 1)
        .unwrap();
    assert_eq!(
        again.plot_interventions().unwrap().to_notebook_html(false),
        f.to_notebook_html(false)
    );
}

#[test]
fn results_tables_pivot_bold_the_best_and_plot() {
    let runs = [
        ("Hvac-v0", "bc", 50.0),
        ("Hvac-v0", "bc", 54.0),
        ("Hvac-v0", "iql", 80.0),
        ("Hvac-v0", "iql", 84.0),
        ("Grid<v0>", "bc", 90.0),
        ("Grid<v0>", "iql", 70.0),
    ];
    let t = results_table("normalized score", &runs);
    assert_eq!(t.rows.len(), 4);
    let r = t.get("Hvac-v0", "iql").unwrap();
    assert_eq!((r.mean, r.n), (82.0, 2));
    assert!((r.std - 8f64.sqrt()).abs() < 1e-12);
    let table = t.table();
    assert_eq!(table.columns, ["environment", "bc", "iql"]);
    assert_eq!(table.rows.len(), 3, "two environments and the average");
    assert!(table.rows[0][2].bold && !table.rows[0][1].bold);
    assert!(
        table.rows[1][1].bold,
        "lower std does not matter, the mean does"
    );
    assert_eq!(table.rows[2][1].text, "71");
    assert_eq!(table.rows[2][2].text, "76");
    assert!(table.rows[2][2].bold);
    let html = t.to_html();
    assert!(html.contains("Grid&lt;v0&gt;") && html.contains("<b>82 ± 2.8284</b>"));
    let md = t.to_markdown();
    assert!(md.contains("| environment | bc | iql |") && md.contains("**82 ± 2.8284**"));
    let f = t.plot();
    assert_eq!(f.n_traces(), 2);
    assert_eq!(f.traces_named("iql")[0]["y"][0], 82.0);
    let costs = results_table("cost", &runs).lower_is_better();
    assert!(costs.table().rows[0][1].bold);
    assert_eq!(ResultsTable::new("x").plot().n_traces(), 0);
    assert!(ResultsTable::new("x").to_html().contains("No x results"));
}

#[test]
fn history_card() {
    let mut h = crate::agents::History::default();
    assert!(h.to_html().contains("No training steps yet"));
    for s in 1..=300u64 {
        h.push(s, &[("loss", s as f32)]);
    }
    let html = h.to_html();
    assert!(html.contains("300 steps") && html.contains(">loss<"));
    // last 300, mean of the last 100 = 250.5, min 1, max 300
    assert!(html.contains(">250.5<") && html.contains(">300<"));
}

#[test]
fn observation_panels_on_request() {
    let d = data(2000);
    let spec = crate::env::make(ENV).unwrap().spec().clone();
    let f = d.plot_episode(0).unwrap();
    let g = d.plot_episode_with_observations(0).unwrap();
    let who = "ChemicalReactor-medium-v0 episode 0";
    assert_eq!(
        g.traces_named(who).len(),
        f.traces_named(who).len() + spec.obs_dim()
    );
    let label = &g.json["layout"]["yaxis"]["title"]["text"];
    assert_eq!(
        label.as_str().unwrap(),
        format!(
            "{} [{}]",
            spec.observations[0].name, spec.observations[0].unit
        )
    );
    // The first observation panel shows the observation after step 1.
    let first = g.traces_named(who)[0]["y"][0].as_f64().unwrap();
    assert_eq!(first, d.next_observation(0)[0] as f64);
}
