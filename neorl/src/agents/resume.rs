//! Continuing training in a checkpoint folder: the rules `neorl train --out
//! DIR` follows, for notebooks and scripts too.
//!
//! ```no_run
//! use neorl::agents::{Agent, Device, NewAgent, resume_or_build, train_loop};
//! use neorl::agents::BatchSource;
//! let data = neorl::data::open("ChemicalReactor-medium-v0", Some(20_000))?;
//! let spec = neorl::make("ChemicalReactor-v0")?.spec().clone();
//! let new = NewAgent::new("td3bc", 0);
//! let dir = std::path::Path::new("runs/td3bc");
//! // The first call builds a new agent, later ones continue from dir's checkpoint.
//! let mut r = resume_or_build(dir, &spec, data.source().as_ref(), &new, &Device::cpu())?;
//! train_loop(r.agent.as_mut(), &data, 1_000)?;
//! r.agent.save(dir)?;
//! # Ok::<(), neorl::Error>(())
//! ```

use super::manager::load_latest;
use super::{Agent, DataSource, Device, Settings, algo_name, build_configured, checkpoint};
use crate::env::EnvSpec;
use crate::error::{Error, Result};
use std::path::Path;

/// The agent to build when the folder holds no checkpoint (the arguments of
/// [`build_configured`]).
#[derive(Debug, Clone, Default)]
pub struct NewAgent {
    /// Algorithm, in any spelling [`algo_name`] accepts (`"TD3+BC"`).
    pub algo: String,
    pub seed: u64,
    /// Hidden-layer widths (`None`: the paper's).
    pub hidden: Option<Vec<usize>>,
    /// Hyper-parameters over the paper's defaults. A checkpoint keeps its
    /// own config, so these must be empty to continue from one.
    pub settings: Settings,
}

impl NewAgent {
    /// `algo` with the paper's widths and defaults.
    pub fn new(algo: &str, seed: u64) -> Self {
        NewAgent {
            algo: algo.to_string(),
            seed,
            ..NewAgent::default()
        }
    }
}

/// What [`resume_or_build`] gives back.
pub struct Resumed {
    pub agent: Box<dyn Agent>,
    /// Whether the agent was read from the folder's checkpoint (its
    /// [`Agent::steps_done`] says where training continues) rather than
    /// built new.
    pub continued: bool,
}

/// The agent to train into checkpoint folder `dir` on data `data` (the
/// [`DataSource`] of the data, e.g. [`super::BatchSource::source`]) for
/// environment `spec`:
///
/// - `dir` holds no checkpoint: a new agent as `new` says;
/// - it holds one: training continues from it (from the newest kept
///   checkpoint of [`super::manager`] when `dir/agent.ckpt` is corrupt,
///   with a warning naming the file), provided that `new.settings`
///   is empty (the checkpoint keeps its own config; `new`'s seed and widths
///   are not used either), that it is an agent of the same algorithm for
///   the same environment, and that it was trained on the same data (same
///   content SHA-256: its normalisation was fitted on that data). The data
///   check is skipped when the checkpoint or `data` does not say which data
///   it is.
///
/// Anything else is an error that says to pick another folder.
pub fn resume_or_build(
    dir: &Path,
    spec: &EnvSpec,
    data: Option<&DataSource>,
    new: &NewAgent,
    device: &Device,
) -> Result<Resumed> {
    let algo = algo_name(&new.algo)?;
    if !dir.join(checkpoint::FILE_NAME).exists() {
        let agent = build_configured(
            &algo,
            spec,
            new.seed,
            new.hidden.clone(),
            &new.settings,
            device,
        )?;
        return Ok(Resumed {
            agent,
            continued: false,
        });
    }
    let refuse = |why: String| Err(Error::InvalidArgument(why));
    if !new.settings.is_empty() {
        return refuse(format!(
            "{} holds a checkpoint, which keeps its own config; --set applies to new agents (pass another --out)",
            dir.display()
        ));
    }
    // The latest checkpoint, or the newest kept one where it is corrupt.
    let agent = load_latest(dir, device)?;
    let st = agent.state();
    if agent.algo() != algo || st.env_id != spec.id {
        return refuse(format!(
            "{} holds a {} agent for {}; pass another --out to train {algo} on {}",
            dir.display(),
            agent.algo(),
            st.env_id,
            spec.id
        ));
    }
    if let (Some(was), Some(data)) = (&st.dataset, data)
        && was.sha256 != data.sha256
    {
        return refuse(format!(
            "{} was trained on {} (SHA-256 {}), not on {} ({}); its normalisation comes from that data, so pass another --out to train on this one",
            dir.display(),
            was.id,
            was.sha256,
            data.id,
            data.sha256
        ));
    }
    Ok(Resumed {
        agent,
        continued: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{BatchSource, train_loop_with};
    use crate::data::{Dataset, GenerateConfig, Quality, generate};

    const ENV: &str = "ChemicalReactor-v0";

    fn spec(id: &str) -> EnvSpec {
        crate::env::make(id).unwrap().spec().clone()
    }

    fn data(seed: u64) -> Dataset {
        generate(&GenerateConfig::new(ENV, Quality::Medium, 300, seed)).unwrap()
    }

    fn small(algo: &str) -> NewAgent {
        NewAgent {
            hidden: Some(vec![8]),
            ..NewAgent::new(algo, 3)
        }
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("neorl-resume-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// A `bc` checkpoint in `dir`, trained 3 steps on `d`.
    fn trained(dir: &Path, d: &Dataset) {
        let r = resume_or_build(
            dir,
            &spec(ENV),
            d.source().as_ref(),
            &small("BC"),
            &Device::cpu(),
        )
        .unwrap();
        assert!(!r.continued, "an empty folder gives a new agent");
        let mut agent = r.agent;
        assert_eq!((agent.algo(), agent.steps_done()), ("bc", 0));
        train_loop_with(agent.as_mut(), d, 3, false).unwrap();
        agent.save(dir).unwrap();
    }

    #[test]
    fn continues_on_the_same_data_and_refuses_other_data() {
        let dir = tmp("data");
        let (a, b) = (data(1), data(2));
        trained(&dir, &a);
        let resume = |source: Option<&DataSource>| {
            resume_or_build(&dir, &spec(ENV), source, &small("bc"), &Device::cpu())
        };
        let r = resume(a.source().as_ref()).unwrap();
        assert!(r.continued);
        assert_eq!(r.agent.steps_done(), 3, "continues where it stopped");
        let e = resume(b.source().as_ref()).err().unwrap().to_string();
        assert!(
            e.contains("was trained on") && e.contains(&a.source().unwrap().sha256),
            "{e}"
        );
        // Data that does not say what it is cannot be told apart.
        assert!(resume(None).unwrap().continued);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn refuses_another_algorithm_environment_or_settings() {
        let dir = tmp("agent");
        let a = data(1);
        trained(&dir, &a);
        let source = a.source();
        let resume = |env: &str, new: &NewAgent| {
            resume_or_build(&dir, &spec(env), source.as_ref(), new, &Device::cpu())
                .err()
                .map(|e| e.to_string())
        };
        let e = resume(ENV, &small("td3bc")).unwrap();
        assert!(e.contains("holds a bc agent for ChemicalReactor-v0"), "{e}");
        let e = resume("PowerGrid-v0", &small("bc")).unwrap();
        assert!(e.contains("to train bc on PowerGrid-v0"), "{e}");
        let mut set = small("bc");
        set.settings.insert("batch_size".into(), 32.into());
        let e = resume(ENV, &set).unwrap();
        assert!(e.contains("keeps its own config"), "{e}");
        // The same recipe, other seed and widths: continues.
        assert_eq!(resume(ENV, &NewAgent::new("bc", 9)), None);
        std::fs::remove_dir_all(&dir).ok();
    }
}
