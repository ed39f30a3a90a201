//! A loopback smart-HTTP git server for tests: each request is handed to `git http-backend`
//! (CGI), so clients talk to real git. Started and stopped by the test that uses it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct GitHttpServer {
    pub host: String,
    pub port: u16,
    stop: Arc<AtomicBool>,
    pub requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl GitHttpServer {
    /// Serves the repositories below `root` at `http://127.0.0.1:PORT/<name>`.
    /// With `credentials` ("user:pass"), requests without them get 401.
    pub fn start(root: &Path, credentials: Option<&str>) -> GitHttpServer {
        Self::start_with(root, credentials, None)
    }

    /// A server that dies in the middle of sending a pack: it sends `cut` bytes of every
    /// upload-pack response and then drops the connection.
    pub fn start_flaky(root: &Path, cut: usize) -> GitHttpServer {
        Self::start_with(root, None, Some(cut))
    }

    /// A server on a given loopback address, e.g. `127.80.0.1:80` for clients that accept only
    /// URLs without a port (the reference engine). Fails when the address cannot be bound.
    pub fn start_on(root: &Path, address: &str) -> std::io::Result<GitHttpServer> {
        Ok(Self::serve_on(TcpListener::bind(address)?, root, None, None))
    }

    fn start_with(root: &Path, credentials: Option<&str>, cut: Option<usize>) -> GitHttpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        Self::serve_on(listener, root, credentials, cut)
    }

    fn serve_on(listener: TcpListener, root: &Path, credentials: Option<&str>, cut: Option<usize>) -> GitHttpServer {
        let local = listener.local_addr().unwrap();
        let (host, port) = (local.ip().to_string(), local.port());
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let root = root.to_path_buf();
        let expected = credentials.map(|c| format!("Basic {}", base64(c.as_bytes())));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        requests2.fetch_add(1, Ordering::SeqCst);
                        let root = root.clone();
                        let expected = expected.clone();
                        std::thread::spawn(move || {
                            let _ = serve(stream, &root, expected.as_deref(), cut);
                        });
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
                }
            }
        });
        GitHttpServer { host, port, stop, requests, thread: Some(thread) }
    }

    pub fn url(&self, repo: &str) -> String {
        match self.port {
            80 => format!("http://{}/{repo}", self.host),
            port => format!("http://{}:{port}/{repo}", self.host),
        }
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn serve(stream: TcpStream, root: &PathBuf, expected_auth: Option<&str>, cut: Option<usize>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("GET").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let mut out = stream;
    if let Some(expected) = expected_auth {
        if header("authorization").as_deref() != Some(expected) {
            out.write_all(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
            return Ok(());
        }
    }
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(&mut reader)?
    } else {
        let len: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut b = vec![0; len];
        reader.read_exact(&mut b)?;
        b
    };
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut child = Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REQUEST_METHOD", &method)
        .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding").unwrap_or_default())
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let mut cgi = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut cgi)?;
    let _ = writer.join();
    let _ = child.wait();
    let split = cgi
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| cgi.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let (head, body) = match split {
        Some((i, n)) => (String::from_utf8_lossy(&cgi[..i]).to_string(), cgi[i + n..].to_vec()),
        None => (String::new(), cgi),
    };
    let mut status = "200 OK".to_string();
    let mut response = Vec::new();
    for line in head.lines() {
        if let Some(s) = line.strip_prefix("Status:") {
            status = s.trim().to_string();
        } else if !line.trim().is_empty() {
            response.extend_from_slice(line.trim_end().as_bytes());
            response.extend_from_slice(b"\r\n");
        }
    }
    out.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len()).as_bytes())?;
    out.write_all(&response)?;
    out.write_all(b"\r\n")?;
    match cut {
        Some(n) if path.ends_with("git-upload-pack") && body.len() > n => {
            out.write_all(&body[..n])?;
            out.flush()?;
            // Gone mid-transfer: the client sees a short read.
            let _ = out.shutdown(std::net::Shutdown::Both);
            Ok(())
        }
        _ => {
            out.write_all(&body)?;
            out.flush()
        }
    }
}

fn read_chunked(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        if size == 0 {
            let mut end = String::new();
            reader.read_line(&mut end)?;
            return Ok(body);
        }
        let mut chunk = vec![0; size];
        reader.read_exact(&mut chunk)?;
        body.extend_from_slice(&chunk);
        let mut crlf = String::new();
        reader.read_line(&mut crlf)?;
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
