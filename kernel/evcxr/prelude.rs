use neorl::prelude::*;
