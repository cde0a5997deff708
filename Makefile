# The two commands of the README. Each first runs scripts/bootstrap.sh,
# which installs whatever is missing on a fresh machine.
.PHONY: quickstart test bench bootstrap kernel

# The main job: rollouts on every environment, summary table and figures.
quickstart: bootstrap
	cargo run -p neorl -- quickstart --out neorl-out/quickstart

# The whole test suite: the architecture's rules (the plant crate's
# dependencies, no upward import, no cycle), the crates' tests, then every
# tutorial and notebook executed top to bottom through Jupyter with the
# installed neorl kernel (kernel/install.sh installs it and pre-warms its
# compile cache if needed); kernel/test_pool.py starts real kernels from the
# provisioner's pool, so it runs after the install.
test: bootstrap
	bash scripts/check_architecture.sh
	cargo test --workspace
	python3 kernel/test_ra_metadata.py
	python3 kernel/test_cell_build.py
	bash kernel/install.sh
	python3 kernel/test_pool.py
	python3 tests/notebooks/run.py

# The "Rust (neorl)" Jupyter kernel (evcxr_jupyter, Jupyter, warm compile cache).
kernel: bootstrap
	bash kernel/install.sh

# Benchmarks (optimised build).
bench: bootstrap
	cargo run --release -p neorl -- bench envs
	cargo run --release -p neorl -- bench datasets

bootstrap:
	bash scripts/bootstrap.sh
