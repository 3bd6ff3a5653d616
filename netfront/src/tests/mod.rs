//! Host tests of netfront against the simulated netback.

mod common;
mod datapath;
mod fuzz;
mod handshake;
mod malicious;
mod reconnect;
