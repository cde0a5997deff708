//! `neorl-serve`: the shielded policy server alone (the same as `neorl
//! serve`, without the learning stack in the binary).

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "neorl-serve",
    version,
    about = "Serve a trained neorl policy behind the plant's safety layer (HTTP/JSON, Modbus TCP, Prometheus metrics)"
)]
struct Cli {
    #[command(flatten)]
    args: neorl_serve::cli::ServeArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match neorl_serve::cli::main(cli.args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
