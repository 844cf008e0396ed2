//! Reports that scan history — attribution, funnel, velocity — computed in
//! memory over compact columns and journeys. Reading the data is the store's
//! job; everything here is a pure function of what it is given.

pub mod attribution;
pub mod dataset;
pub mod expected;
pub mod funnel;
pub mod markov;
pub mod models;
pub mod paths;
pub mod roi;
pub mod shapley;

#[cfg(test)]
mod sample_tests;
