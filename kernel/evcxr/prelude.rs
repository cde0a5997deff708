// Evaluated by evcxr when a neorl kernel starts (install.sh copies it into the
// kernel's EVCXR_CONFIG_DIR).
use neorl::prelude::*;
// evcxr finds the type of every variable a cell defines with its built-in
// rust-analyzer, which indexes neorl's whole dependency tree the first time
// (about 20 s on 2 cores). Binding one variable here does that while the
// kernel starts — Jupyter starts it when the notebook opens — so the first
// cell a user runs takes seconds, not half a minute.
let neorl_kernel_ready = true;
