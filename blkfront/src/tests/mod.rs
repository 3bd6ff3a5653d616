//! Host tests of blkfront against the simulated blkback.

mod common;
mod datapath;
mod fuzz;
mod handshake;
mod malicious;
mod reconnect;
