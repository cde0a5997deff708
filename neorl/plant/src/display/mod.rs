//! Tables and HTML for rich display: the building blocks every neorl table,
//! report and notebook value is rendered with. Plain `std` code, so the
//! plant crate can show its own types (environment specs, rollout and
//! shield reports) and the `neorl` crate builds figures on top.

mod html;
pub mod table;

pub use html::{Html, emit, evcxr_block, evcxr_output};
pub use table::{Align, Cell, HEAD_ROWS, TAIL_ROWS, Table, escape_html, mean_std, num, yes_no};
