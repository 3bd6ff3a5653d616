//! httpd-core: the HTTP/1.1 static file server of the httpd guest, without
//! sockets or file systems (RFC 9110/9112 subset: GET and HEAD).
//!
//! The caller owns the socket and drives one [`Connection`] per client:
//! it hands over bytes as they arrive ([`Connection::receive`]) and asks
//! what to send next ([`Connection::next_output`]), which reads file bodies
//! in caller-sized chunks through a [`DocRoot`], so large files stream.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod capacity;
pub mod conn;
pub mod date;
pub mod docroot;
pub mod log;
pub mod mime;
pub mod range;
pub mod request;
pub mod response;
pub mod settings;
pub mod target;

pub use conn::{Connection, Exchange, Output};
pub use docroot::{DocRoot, Meta, StaticRoot};
pub use request::{Method, ParseError, Request, RequestParser, Version};
