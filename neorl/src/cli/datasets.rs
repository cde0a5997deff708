//! `neorl datasets …`: parse, call the library, print.

use super::{Outcome, print_json, sizes};
use anyhow::Result;
use clap::Subcommand;
use neorl::data::{self, Registry, Store};
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DatasetsCmd {
    /// List the registry: 7 environments × random, medium, expert, mixed at -v0, and protocol v1's -v1 datasets (which add low).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Generate a dataset (into the cache unless --out is given) and check it against the registry.
    Generate {
        /// Dataset id, e.g. SupplyChain-medium-v0 (see `neorl datasets list`).
        #[arg(required_unless_present = "all")]
        id: Option<String>,
        /// Every registry dataset of the registered environments, into the cache.
        #[arg(long, conflicts_with_all = ["id", "out"])]
        all: bool,
        /// Number of transitions (default: the registry's size, whose checksum is pinned).
        #[arg(long)]
        size: Option<usize>,
        /// Output HDF5 file (default: the cache, see NEORL_DATA_DIR).
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Counts, return statistics, attributes and the content SHA-256 of a dataset file.
    Info {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Check a dataset file (shapes, finiteness, bounds, continuity, flags, checksum); exits non-zero on any failure.
    Validate {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    #[cfg(feature = "parquet")]
    /// Write a dataset file as Parquet: one row per transition (or per episode with --episodes).
    Export {
        file: PathBuf,
        /// Output .parquet file.
        out: PathBuf,
        #[arg(long)]
        episodes: bool,
        #[arg(long)]
        json: bool,
    },
    /// Find the behaviour family's ε (the expert with that fraction of random actions) for a target normalized score on ENV; or, with --registry, recalibrate every protocol-v1 entry of a registry file in place (nothing is generated).
    Calibrate {
        /// Environment id, e.g. SupplyChain-v0.
        #[arg(required_unless_present = "registry", conflicts_with = "registry")]
        env: Option<String>,
        /// Target normalized score (random = 0, expert = 100).
        #[arg(
            long,
            required_unless_present = "registry",
            conflicts_with = "registry"
        )]
        target: Option<f64>,
        /// Episodes each candidate is scored on.
        #[arg(long, default_value_t = 100)]
        episodes: usize,
        /// First episode seed.
        #[arg(long, default_value_t = 2_000_000)]
        seed: u64,
        /// Stop within this many normalized points of the target.
        #[arg(long, default_value_t = 2.0)]
        tolerance: f64,
        /// Registry file whose protocol-v1 entries to recalibrate (protocol defaults: 100 episodes from seed 2000000, ±2).
        #[arg(long)]
        registry: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Regenerate every dataset of the registered environments and rewrite the registry's checksums (for developers, after a deliberate model change); protocol-v1 entries calibrated on another environment are calibrated first.
    Pin {
        /// Registry file to rewrite.
        #[arg(long)]
        registry: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(what: DatasetsCmd) -> Result<Outcome> {
    match what {
        DatasetsCmd::List { json } => list(json)?,
        DatasetsCmd::Generate {
            id,
            all,
            size,
            out,
            json,
        } => {
            let store = Store::open()?;
            if all {
                let mut rows = vec![];
                for e in store.registry.datasets.clone() {
                    if neorl::env::model(&e.env, Default::default()).is_err() {
                        continue;
                    }
                    if let Some(n) = size {
                        sizes::dataset("--size", &e.env, n)?;
                    }
                    let g = store.generate(&e.id, size, None)?;
                    if !json {
                        println!(
                            "{} → {} ({} transitions, sha256 {})",
                            g.id,
                            g.path.display(),
                            g.transitions,
                            g.sha256
                        );
                    }
                    rows.push(g);
                }
                if json {
                    print_json(&json!({ "datasets": rows }))?;
                }
            } else {
                let id = id.unwrap_or_default();
                if let Some(n) = size {
                    sizes::dataset("--size", &store.registry.get(&id)?.env, n)?;
                }
                let g = store.generate(&id, size, out.as_deref())?;
                if json {
                    print_json(&json!({
                        "id": g.id, "path": g.path.to_string_lossy(), "transitions": g.transitions,
                        "episodes": g.episodes, "sha256": g.sha256, "pinned": g.pinned,
                    }))?;
                } else {
                    println!(
                        "{}: {} transitions in {} episodes written to {}\nsha256 {}",
                        g.id,
                        g.transitions,
                        g.episodes,
                        g.path.display(),
                        g.sha256
                    );
                }
            }
        }
        DatasetsCmd::Info { file, json } => {
            let i = data::info(&file)?;
            if json {
                print_json(&serde_json::to_value(&i)?)?;
            } else {
                println!("{} ({} layout)", i.path, i.layout);
                println!(
                    "  {} / {} / {}: {} transitions, {} episodes, obs_dim {}, act_dim {}",
                    i.id, i.env, i.quality, i.transitions, i.episodes, i.obs_dim, i.act_dim
                );
                println!(
                    "  return {:.3} ± {:.3} (min {:.3}, max {:.3}){}",
                    i.returns.mean,
                    i.returns.std,
                    i.returns.min,
                    i.returns.max,
                    i.normalized_score
                        .map(|s| format!(", normalized score {s:.1}"))
                        .unwrap_or_default()
                );
                println!(
                    "  episode length {:.1}, cost per episode {:.2}, {} terminals, {} timeouts",
                    i.episode_lengths.mean, i.episode_costs.mean, i.terminals, i.timeouts
                );
                println!("  constraints: {}", i.constraints.join(", "));
                for (k, v) in &i.attributes {
                    println!("  @{k} = {v}");
                }
                println!(
                    "  content sha256 {}{}",
                    i.sha256,
                    match i.sha256_matches {
                        Some(true) => " (matches the file's attribute)",
                        Some(false) => " (DOES NOT match the file's attribute)",
                        None => "",
                    }
                );
            }
        }
        DatasetsCmd::Validate { file, json } => {
            let r = data::validate_file(&file);
            if json {
                print_json(&serde_json::to_value(&r)?)?;
            } else {
                for c in &r.checks {
                    println!(
                        "{} {:<30} {}",
                        if c.ok { "pass" } else { "FAIL" },
                        c.name,
                        c.detail
                    );
                }
                println!("{}: {}", r.file, if r.ok { "valid" } else { "INVALID" });
            }
            return Ok(Outcome::of_check(r.ok));
        }
        #[cfg(feature = "parquet")]
        DatasetsCmd::Export {
            file,
            out,
            episodes,
            json,
        } => {
            let d = data::read(&file)?;
            let mut df = if episodes {
                d.episodes()?
            } else {
                d.to_polars()?
            };
            data::write_parquet(&mut df, &out)?;
            if json {
                print_json(
                    &json!({"path": out.to_string_lossy(), "rows": df.height(), "columns": df.width()}),
                )?;
            } else {
                println!(
                    "{} rows × {} columns written to {}",
                    df.height(),
                    df.width(),
                    out.display()
                );
            }
        }
        DatasetsCmd::Calibrate {
            env,
            target,
            episodes,
            seed,
            tolerance,
            registry,
            json,
        } => {
            if let Some(path) = registry {
                let mut reg = Registry::from_path(&path)?;
                let rows = data::calibrate_registry(&mut reg, true)?;
                std::fs::write(&path, reg.to_toml())?;
                if json {
                    print_json(&json!({"registry": path.to_string_lossy(), "calibrated": rows}))?;
                } else {
                    for r in &rows {
                        println!(
                            "{:<32} ε = {:?} score {:.2}{}{}",
                            r.id,
                            r.epsilons,
                            r.calibrated_score,
                            r.target_score
                                .map(|t| format!(" (target {t})"))
                                .unwrap_or_default(),
                            if r.within_tolerance {
                                ""
                            } else {
                                " NOT within tolerance"
                            }
                        );
                    }
                    println!(
                        "wrote {} ({} entries calibrated; the checksums of changed recipes are stale: run `neorl datasets pin`)",
                        path.display(),
                        rows.len()
                    );
                }
            } else {
                let cfg = data::CalibrationConfig {
                    episodes,
                    seed,
                    tolerance,
                    ..Default::default()
                };
                let env = env.unwrap_or_default();
                let c = data::calibrate(&env, target.unwrap_or_default(), &cfg)?;
                if json {
                    print_json(&serde_json::to_value(&c)?)?;
                } else {
                    print!("{c}");
                }
            }
        }
        DatasetsCmd::Pin { registry, json } => {
            let path = registry.unwrap_or_else(data::registry::source_path);
            let rows = data::pin(&path)?;
            if json {
                print_json(&json!({"registry": path.to_string_lossy(), "datasets": rows}))?;
            } else {
                for r in &rows {
                    let what = match (r.generated, r.changed) {
                        (false, _) => "kept (environment not registered in this build)",
                        (true, true) => "updated",
                        (true, false) => "unchanged",
                    };
                    println!("{:<32} {} {}", r.id, what, r.sha256);
                }
                println!("wrote {}", path.display());
            }
        }
    }
    Ok(Outcome::Done)
}

fn list(json: bool) -> Result<()> {
    let reg = Registry::load()?;
    if json {
        let rows: Vec<_> = reg
            .datasets
            .iter()
            .map(|d| {
                json!({"id": d.id, "env": d.env, "quality": d.quality, "transitions": d.transitions,
                       "seed": d.seed, "sha256": d.sha256, "pinned": d.is_pinned(),
                       "generator": d.generator, "epsilons": d.epsilons,
                       "target_score": d.target_score, "calibrated_score": d.calibrated_score,
                       "calibrated_on": d.calibrated_on})
            })
            .collect();
        return print_json(&json!({ "datasets": rows }));
    }
    println!(
        "{:<32} {:<20} {:<7} {:>11} {:>4}  sha256",
        "id", "env", "quality", "transitions", "seed"
    );
    let registered = |env: &str| neorl::env::model(env, Default::default()).is_ok();
    let (mut unpinned, mut missing) = (0, 0);
    for d in &reg.datasets {
        let env_note = if registered(&d.env) {
            ""
        } else {
            missing += 1;
            "  (environment not in this build)"
        };
        unpinned += !d.is_pinned() as usize;
        println!(
            "{:<32} {:<20} {:<7} {:>11} {:>4}  {}{env_note}",
            d.id,
            d.env,
            d.quality,
            d.transitions,
            d.seed,
            if d.is_pinned() {
                &d.sha256[..16]
            } else {
                "(not pinned yet)"
            }
        );
    }
    if unpinned > 0 {
        println!(
            "{unpinned} datasets are not pinned yet: they load, but their content is not checked against a registry checksum until `neorl datasets pin` records one"
        );
    }
    if missing > 0 {
        println!(
            "{missing} datasets need an environment this build does not have: they load once it does"
        );
    }
    println!("cache: {}", data::data_dir().display());
    Ok(())
}
