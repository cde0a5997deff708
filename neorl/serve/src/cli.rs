//! `neorl serve …` (and the standalone `neorl-serve` binary): run the
//! server, or manage its tokens.

use crate::auth::{Role, hash_token, new_token};
use crate::config::{ServeConfig, TokenEntry};
use crate::server::{ServeOptions, run};
use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// Serve a trained policy behind the plant's safety layer.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    #[command(subcommand)]
    pub command: Option<ServeCommand>,
    /// The checkpoint folder of a trained agent (`neorl train --out DIR`).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// HTTP address, e.g. 127.0.0.1:8080 (overrides server.http).
    #[arg(long)]
    pub http: Option<String>,
    /// Modbus TCP address, e.g. 127.0.0.1:5020 (overrides server.modbus).
    #[arg(long)]
    pub modbus: Option<String>,
    /// The server's config (tokens, limits, TLS): serve.toml.
    #[arg(long, default_value = "serve.toml")]
    pub config: PathBuf,
    /// Where the audit log and the latched e-stop live (overrides server.state_dir).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token, store its hash in the config, print it once.
    Add {
        /// Who holds it (shown in the audit log).
        name: String,
        /// client (act), operator (override, hand back, e-stop), viewer (status, metrics).
        #[arg(long)]
        role: String,
        #[arg(long, default_value = "serve.toml")]
        config: PathBuf,
    },
    /// List the tokens' names and roles (never the tokens).
    List {
        #[arg(long, default_value = "serve.toml")]
        config: PathBuf,
    },
    /// Remove a token by name.
    Remove {
        name: String,
        #[arg(long, default_value = "serve.toml")]
        config: PathBuf,
    },
}

pub fn main(args: ServeArgs) -> Result<()> {
    match args.command {
        Some(ServeCommand::Token(t)) => token(t),
        None => {
            let Some(checkpoint) = args.checkpoint else {
                bail!(
                    "pass --checkpoint DIR: the folder of a trained agent (`neorl train --out DIR`)"
                );
            };
            let config = ServeConfig::load(&args.config)?;
            run(ServeOptions {
                checkpoint,
                config,
                http: args.http,
                modbus: args.modbus,
                state_dir: args.state_dir,
            })
        }
    }
}

fn token(t: TokenCommand) -> Result<()> {
    match t {
        TokenCommand::Add { name, role, config } => {
            let Some(role) = Role::parse(&role) else {
                bail!("unknown role '{role}': use client, operator or viewer");
            };
            if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
                bail!("a token's name must be 1 to 64 printable characters");
            }
            let mut c = ServeConfig::load(&config)?;
            if c.tokens.iter().any(|t| t.name == name) {
                bail!(
                    "a token named '{name}' exists; remove it first (`neorl serve token remove {name}`)"
                );
            }
            let token = new_token()?;
            c.tokens.push(TokenEntry {
                name: name.clone(),
                role,
                sha256: hash_token(&token),
            });
            c.save(&config)?;
            eprintln!(
                "token '{name}' ({}) added to {}; it is shown once, store it now:",
                role.as_str(),
                config.display()
            );
            println!("{token}");
            Ok(())
        }
        TokenCommand::List { config } => {
            let c = ServeConfig::load(&config)?;
            for t in &c.tokens {
                println!("{}\t{}", t.name, t.role.as_str());
            }
            Ok(())
        }
        TokenCommand::Remove { name, config } => {
            let mut c = ServeConfig::load(&config)?;
            let before = c.tokens.len();
            c.tokens.retain(|t| t.name != name);
            if c.tokens.len() == before {
                bail!("no token named '{name}' in {}", config.display());
            }
            c.save(&config)?;
            eprintln!("token '{name}' removed from {}", config.display());
            Ok(())
        }
    }
}

/// Run a simulated plant against a server's Modbus interface.
#[derive(Debug, Args)]
pub struct PlantSimArgs {
    /// The process to simulate (the server must serve a policy of it).
    #[arg(long)]
    pub env: String,
    /// The server's Modbus TCP address.
    #[arg(long)]
    pub modbus: std::net::SocketAddr,
    #[arg(long, default_value_t = 1)]
    pub episodes: usize,
    /// Seed of the first episode (then seed + 1, …).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The server's HTTP address: with --operator-token, each episode is started by the operator (POST /v1/episode), as after a shutdown a plant's operator restarts it.
    #[arg(long, requires = "operator_token")]
    pub http: Option<std::net::SocketAddr>,
    /// An operator's token (`neorl serve token add NAME --role operator`).
    #[arg(long, requires = "http")]
    pub operator_token: Option<String>,
    #[arg(long)]
    pub json: bool,
}

pub fn plant_sim(a: PlantSimArgs) -> Result<()> {
    if !(1..=100_000).contains(&a.episodes) {
        bail!("--episodes must be between 1 and 100000");
    }
    let operator = match (a.http, a.operator_token) {
        (Some(http), Some(token)) => Some(crate::plant_sim::Operator { http, token }),
        _ => None,
    };
    let r = crate::plant_sim::run(&a.env, a.modbus, a.episodes, a.seed, operator.as_ref())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{}: {} episodes over Modbus, normalized score {:.1} (returns {:?}), {} steps, {} hard breaches, {} shutdowns, {} interventions, {:.0} µs per control interval",
            r.env,
            r.episodes,
            r.mean_normalized_score,
            r.returns
                .iter()
                .map(|x| (x * 100.0).round() / 100.0)
                .collect::<Vec<_>>(),
            r.steps,
            r.hard_breaches,
            r.shutdowns,
            r.interventions,
            r.mean_round_trip_us
        );
    }
    Ok(())
}
