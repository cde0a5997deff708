# The two commands of the README. Each first runs scripts/bootstrap.sh,
# which installs whatever is missing on a fresh machine.
.PHONY: quickstart test bench bootstrap

# The main job: rollouts on every environment, summary table and figures.
quickstart: bootstrap
	cargo run -p neorl -- quickstart --out neorl-out/quickstart

# The whole test suite.
test: bootstrap
	cargo test --workspace

# Benchmarks (optimised build).
bench: bootstrap
	cargo run --release -p neorl -- bench envs
	cargo run --release -p neorl -- bench datasets

bootstrap:
	bash scripts/bootstrap.sh
