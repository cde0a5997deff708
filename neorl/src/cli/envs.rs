//! `neorl envs`: the environments with their spaces, constraints and
//! reference returns.

use super::print_json;
use anyhow::Result;
use clap::Args;
use neorl::eval::reference;
use serde_json::json;

#[derive(Args)]
pub struct EnvsArgs {
    #[arg(long)]
    json: bool,
    /// Re-measure the reference returns (random and expert, 100 episodes each) and compare with the stored ones.
    #[arg(long)]
    calibrate: bool,
}

pub fn run(a: EnvsArgs) -> Result<()> {
    let cat = neorl::env::registry::catalog();
    if a.calibrate {
        let mut rows = vec![];
        for e in &cat {
            let (r, x) = reference::measure(&e.id)?;
            rows.push(
                json!({"id": e.id, "stored_random": e.ref_random_return, "measured_random": r,
                             "stored_expert": e.ref_expert_return, "measured_expert": x,
                             "up_to_date": r == e.ref_random_return && x == e.ref_expert_return}),
            );
        }
        if a.json {
            return print_json(&json!({ "envs": rows }));
        }
        for r in rows {
            println!("{r}");
        }
        return Ok(());
    }
    if a.json {
        return print_json(&json!({ "envs": cat }));
    }
    for e in &cat {
        println!(
            "{:<20} obs {:>2}  act {:>2}  horizon {:>4} × {} s   reference returns: random {:.2}, expert {:.2}",
            e.id, e.obs_dim, e.act_dim, e.horizon, e.dt, e.ref_random_return, e.ref_expert_return
        );
        for c in &e.constraints {
            let op = match c.sense {
                neorl::env::Sense::Upper => "<=",
                neorl::env::Sense::Lower => ">=",
            };
            println!(
                "    {:<4} {} {op} {} {}",
                format!("{:?}", c.kind).to_lowercase(),
                c.name,
                c.limit,
                c.unit
            );
        }
    }
    Ok(())
}
