//! Per request: what nginx knows ([`facts`], [`bits`]), where the module's state lives ([`state`]) and
//! the values computed once from them ([`values`]).

pub mod bits;
pub mod facts;
pub mod state;
pub mod values;
