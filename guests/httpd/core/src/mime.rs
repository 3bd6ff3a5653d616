//! Content types by file name extension (the media types registered with
//! IANA for the common web formats); unknown extensions are served as
//! `application/octet-stream`.

/// The `Content-Type` for a path, chosen by its extension (case-insensitive).
pub fn content_type(path: &str) -> &'static str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some((_, ext)) = name.rsplit_once('.') else {
        return "application/octet-stream";
    };
    const TABLE: [(&str, &str); 13] = [
        ("html", "text/html; charset=utf-8"),
        ("htm", "text/html; charset=utf-8"),
        ("txt", "text/plain; charset=utf-8"),
        ("css", "text/css; charset=utf-8"),
        ("js", "text/javascript; charset=utf-8"),
        ("json", "application/json"),
        ("png", "image/png"),
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
        ("svg", "image/svg+xml"),
        ("ico", "image/vnd.microsoft.icon"),
        ("wasm", "application/wasm"),
    ];
    if ext.eq_ignore_ascii_case("pdf") {
        return "application/pdf";
    }
    TABLE
        .iter()
        .find(|(e, _)| e.eq_ignore_ascii_case(ext))
        .map_or("application/octet-stream", |(_, t)| t)
}

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn by_extension() {
        assert_eq!(content_type("/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("/a/B.HTML"), "text/html; charset=utf-8");
        assert_eq!(content_type("/x.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type("/s.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("/s.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("/d.json"), "application/json");
        assert_eq!(content_type("/i.png"), "image/png");
        assert_eq!(content_type("/i.jpg"), "image/jpeg");
        assert_eq!(content_type("/i.gif"), "image/gif");
        assert_eq!(content_type("/i.svg"), "image/svg+xml");
        assert_eq!(content_type("/favicon.ico"), "image/vnd.microsoft.icon");
        assert_eq!(content_type("/m.wasm"), "application/wasm");
        assert_eq!(content_type("/doc.pdf"), "application/pdf");
        assert_eq!(content_type("/blob.bin"), "application/octet-stream");
        assert_eq!(content_type("/noext"), "application/octet-stream");
        assert_eq!(content_type("/dir.html/noext"), "application/octet-stream");
        assert_eq!(content_type("/.html"), "text/html; charset=utf-8");
    }
}
