//! A minimal HTTP/1.1 client on std::net::TcpStream.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::apache::Apache;

pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// "HTTP/1.1"
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every header called `name`, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Parses one response from `input`; `head` for a response to HEAD.
    pub fn read_from(input: &mut impl BufRead, head: bool) -> io::Result<Response> {
        loop {
            let resp = read_one(input, head)?;
            // Interim responses (100 Continue, 103) precede the real one.
            if (100..200).contains(&resp.status) && resp.status != 101 {
                continue;
            }
            return Ok(resp);
        }
    }

    /// Parses a complete response held in memory.
    pub fn parse(bytes: &[u8], head: bool) -> io::Result<Response> {
        Response::read_from(&mut &bytes[..], head)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {} {}", self.version, self.status, self.reason)?;
        for (n, v) in &self.headers {
            writeln!(f, "{n}: {v}")?;
        }
        let text = self.text();
        let shown: String = text.chars().take(4000).collect();
        write!(f, "\n{shown}")?;
        if shown.len() < text.len() {
            write!(f, "... ({} bytes)", self.body.len())?;
        }
        Ok(())
    }
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn read_line(input: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    input.read_until(b'\n', &mut line)?;
    if line.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before a complete response"));
    }
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn read_headers(input: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(input)?;
        if line.is_empty() {
            return Ok(headers);
        }
        let (name, value) = line.split_once(':').ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
}

fn read_one(input: &mut impl BufRead, head: bool) -> io::Result<Response> {
    let status_line = read_line(input)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let status = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|_| version.starts_with("HTTP/"))
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let reason = parts.next().unwrap_or_default().to_string();
    let mut resp = Response { version, status, reason, headers: read_headers(input)?, body: Vec::new() };
    if head || (100..200).contains(&status) || status == 204 || status == 304 {
        return Ok(resp);
    }
    let chunked = resp.header("Transfer-Encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        resp.body = read_chunked(input)?;
    } else if let Some(len) = resp.header("Content-Length") {
        let len: usize = len.parse().map_err(|_| invalid(format!("bad Content-Length {len:?}")))?;
        resp.body = vec![0; len];
        input.read_exact(&mut resp.body)?;
    } else {
        input.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}

fn read_chunked(input: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(input)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| invalid(format!("bad chunk size line {line:?}")))?;
        if size == 0 {
            read_headers(input)?; // trailers
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        input.read_exact(&mut body[start..])?;
        if !read_line(input)?.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}

fn has_header(headers: &[(&str, &str)], name: &str) -> bool {
    headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// One persistent connection: several requests may follow each other.
pub struct Conn {
    reader: BufReader<TcpStream>,
    host: String,
}

impl Conn {
    pub fn open(port: u16) -> io::Result<Conn> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
        stream.set_read_timeout(Some(READ_TIMEOUT))?;
        stream.set_write_timeout(Some(READ_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Conn { reader: BufReader::new(stream), host: format!("127.0.0.1:{port}") })
    }

    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    /// Sends a request. Adds `Host` and, when there is a body or the method
    /// usually has one, `Content-Length`, unless `headers` has them (or
    /// `Transfer-Encoding`).
    pub fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
        let mut req = format!("{method} {path} HTTP/1.1\r\n");
        if !has_header(headers, "Host") {
            req.push_str(&format!("Host: {}\r\n", self.host));
        }
        let wants_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
        if wants_length && !has_header(headers, "Content-Length") && !has_header(headers, "Transfer-Encoding") {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let stream = self.stream();
        stream.write_all(req.as_bytes())?;
        stream.write_all(body)?;
        stream.flush()
    }

    pub fn read_response(&mut self, head: bool) -> io::Result<Response> {
        Response::read_from(&mut self.reader, head)
    }

    pub fn try_request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<Response> {
        self.send(method, path, headers, body)?;
        self.read_response(method == "HEAD")
    }

    /// Sends a request on this connection; panics on I/O errors.
    pub fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path} on {}: {e}", self.host))
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.request("GET", path, &[], &[])
    }

    /// Reads raw bytes until `needle` has been seen (returns all bytes read),
    /// or until EOF or `timeout`.
    pub fn read_until(&mut self, needle: &[u8], timeout: Duration) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !contains(&got, needle) && Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = self.stream().set_read_timeout(Some(left.max(Duration::from_millis(1))));
            match self.reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        let _ = self.stream().set_read_timeout(Some(READ_TIMEOUT));
        got
    }

    /// Reads raw bytes until the server closes (or the read timeout).
    pub fn read_to_end(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        let _ = self.reader.read_to_end(&mut got);
        got
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

/// Requests on a fresh connection, each closed after its response.
impl Apache {
    pub fn connect(&self) -> Conn {
        Conn::open(self.port()).unwrap_or_else(|e| panic!("connect to {}: {e}", self.base_url()))
    }

    /// One request with `Connection: close` (unless `headers` sets it).
    pub fn try_request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<Response> {
        let mut conn = Conn::open(self.port())?;
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        if !has_header(headers, "Connection") {
            all.push(("Connection", "close"));
        }
        conn.try_request(method, path, &all, body)
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\nerror_log:\n{}", self.error_log()))
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], &[])
    }

    pub fn head(&self, path: &str) -> Response {
        self.request("HEAD", path, &[], &[])
    }

    pub fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Response {
        self.request("POST", path, &[("Content-Type", content_type)], body)
    }

    /// Sends arbitrary bytes and returns everything the server sent back
    /// until it closed the connection (or 30 s of silence).
    pub fn raw(&self, bytes: &[u8]) -> Vec<u8> {
        self.raw_timeout(bytes, READ_TIMEOUT)
    }

    /// `raw` with a shorter wait for the server to close.
    pub fn raw_timeout(&self, bytes: &[u8], timeout: Duration) -> Vec<u8> {
        let mut conn = self.connect();
        conn.stream().write_all(bytes).expect("write raw request");
        let _ = conn.stream().set_read_timeout(Some(timeout));
        conn.read_to_end()
    }
}

/// `body` in chunked transfer coding, `size` bytes a chunk, for requests
/// sent with `Transfer-Encoding: chunked`.
pub fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(size.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
