//! Simulated netback.
