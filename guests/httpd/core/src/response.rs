//! Response heads (RFC 9112 section 4, RFC 9110 section 15): the status
//! line and header fields, serialised as bytes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{Display, Write};

/// The `Server` field sent with every response.
pub const SERVER: &str = "rumpx-httpd";

/// The reason phrase for the status codes this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// A response head being written.
#[derive(Debug)]
pub struct Head {
    text: String,
}

impl Head {
    /// `HTTP/1.1 STATUS REASON` followed by the `Server` field.
    pub fn new(status: u16) -> Self {
        let mut head = Head {
            text: String::with_capacity(256),
        };
        // Writing into a String cannot fail.
        let _ = write!(head.text, "HTTP/1.1 {status} {}\r\n", reason(status));
        head.field("Server", SERVER);
        head
    }

    /// Adds a field.
    pub fn field(&mut self, name: &str, value: impl Display) -> &mut Self {
        let _ = write!(self.text, "{name}: {value}\r\n");
        self
    }

    /// Ends the head with the blank line.
    pub fn finish(mut self) -> Vec<u8> {
        self.text.push_str("\r\n");
        self.text.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_bytes() {
        let mut h = Head::new(404);
        h.field("Content-Length", 14);
        assert_eq!(
            h.finish(),
            b"HTTP/1.1 404 Not Found\r\nServer: rumpx-httpd\r\nContent-Length: 14\r\n\r\n"
        );
        assert_eq!(reason(299), "Unknown");
    }
}
