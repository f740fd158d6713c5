//! apps/httpd driven by real clients: curl over user networking, many concurrent clients
//! (a Python asyncio client) over tap in a namespace of the test's own.

use boot::qemu::Machine;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use tests::{Run, Running, free_port, skip_without_root};

const BOOT: Duration = Duration::from_secs(30);
const BIG: usize = (1 << 20) + 12_345;

/// The site: an index page, a nested page and a file over 1 MiB.
fn site() -> &'static Path {
    static SITE: OnceLock<PathBuf> = OnceLock::new();
    SITE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("unikernel-http-site-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("docs")).unwrap();
        std::fs::write(dir.join("index.html"), "<h1>hello from the site</h1>\n").unwrap();
        std::fs::write(dir.join("docs/page.txt"), "a nested page\n").unwrap();
        let mut seed = 0x1234_5678u64;
        let big: Vec<u8> = (0..BIG)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        std::fs::write(dir.join("big.bin"), big).unwrap();
        dir
    })
}

fn httpd(run: Run) -> Running {
    let running = run.timeout(Duration::from_secs(180)).spawn();
    running.wait_for_console("httpd: serving", BOOT);
    running
}

fn curl(args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "60"])
        .args(args)
        .output()
        .expect("running curl")
}

fn sha256(bytes: &[u8]) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn curl_gets_pages_and_a_1_mib_file_on_both_machines() {
    for machine in [Machine::Microvm, Machine::Q35] {
        let port = free_port();
        let running = httpd(
            Run::new("httpd")
                .machine(machine)
                .disk_from(site())
                .net_user(&[(port, 8080)])
                .args(&["--port", "8080"]),
        );
        let base = format!("http://127.0.0.1:{port}");
        let page = curl(&["-i", &format!("{base}/")]);
        let text = String::from_utf8_lossy(&page.stdout);
        assert!(text.starts_with("HTTP/1.1 200"), "{machine:?}: {text}");
        assert!(text.contains("Content-Type: text/html"), "{text}");
        assert!(text.contains("<h1>hello from the site</h1>"), "{text}");
        let nested = curl(&[&format!("{base}/docs/page.txt")]);
        assert_eq!(nested.stdout, b"a nested page\n");
        let big = curl(&[&format!("{base}/big.bin")]);
        assert_eq!(big.stdout.len(), BIG, "{machine:?}");
        let host = std::fs::read(site().join("big.bin")).unwrap();
        assert_eq!(sha256(&big.stdout), sha256(&host), "{machine:?}");
        let missing = curl(&[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}/nope"),
        ]);
        assert_eq!(missing.stdout, b"404");
        running.stop();
    }
}

#[test]
fn the_built_in_page_without_a_disk() {
    let port = free_port();
    let running = httpd(
        Run::new("httpd")
            .net_user(&[(port, 8080)])
            .args(&["--port", "8080"]),
    );
    let page = curl(&["-w", "\n%{http_code}", &format!("http://127.0.0.1:{port}/")]);
    let text = String::from_utf8_lossy(&page.stdout);
    assert!(text.ends_with("\n200"), "{text}");
    running.stop();
}

/// Sends `request` on a fresh connection and returns what came back until the server
/// closed (or 10 s passed).
fn raw(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn bad_clients_get_their_status_and_the_server_keeps_serving() {
    let port = free_port();
    let running = httpd(
        Run::new("httpd")
            .disk_from(site())
            .net_user(&[(port, 8080)])
            .args(&["--port", "8080", "--timeout-ms", "2000"]),
    );
    let cases: [(&[u8], &str); 5] = [
        (
            b"\x16\x03\x01garbage that is not http\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (b"GET /\r\n\r\n", "HTTP/1.1 400"),
        (
            b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 405"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n", "HTTP/1.1 408"),
    ];
    for (request, status) in cases {
        let answer = raw(port, request);
        assert!(
            answer.starts_with(status),
            "{:?} got {answer:?}",
            String::from_utf8_lossy(request)
        );
    }
    // An endless header: 413 once it passes the limit.
    let mut endless = b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: ".to_vec();
    endless.extend(std::iter::repeat_n(b'a', 64 * 1024));
    assert!(raw(port, &endless).starts_with("HTTP/1.1 413"));
    // A client that resets mid-request.
    {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        (&stream).write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
        drop(stream);
    }
    // Pipelining: two requests in one write, two answers in order.
    let answer = raw(
        port,
        b"GET /docs/page.txt HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let first = answer.find("a nested page").unwrap_or(usize::MAX);
    let second = answer.find("hello from the site").unwrap_or(0);
    assert!(first < second, "{answer}");
    // And the next client is served.
    let page = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert!(String::from_utf8_lossy(&page.stdout).contains("hello from the site"));
    let out = running.stop();
    assert!(!out.console.contains("panic"), "{}", out.console);
}

#[test]
fn five_thousand_connection_close_requests_all_succeed() {
    let port = free_port();
    let running = httpd(
        Run::new("httpd")
            .net_user(&[(port, 8080)])
            .args(&["--port", "8080"]),
    );
    for i in 0..5000 {
        let answer = raw(
            port,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "request {i}: {answer:?}"
        );
    }
    running.stop();
}

/// A Python asyncio client run inside the tap namespace: `clients` connections open at
/// once, each sending `requests` keep-alive requests; prints `ok N bad M`.
const LOAD: &str = r#"
import asyncio, sys
host, clients, requests = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
async def one(i, opened, go):
    r, w = await asyncio.wait_for(asyncio.open_connection(host, 8080), 60)
    opened.append(i)
    await go.wait()
    good = 0
    for k in range(requests):
        last = k == requests - 1
        w.write(b"GET / HTTP/1.1\r\nHost: x\r\n" + (b"Connection: close\r\n" if last else b"") + b"\r\n")
        head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 60)
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
        body = await asyncio.wait_for(r.readexactly(length), 60)
        good += head.startswith(b"HTTP/1.1 200") and len(body) == length
    w.close()
    return good == requests
async def main():
    opened, go = [], asyncio.Event()
    tasks = [asyncio.create_task(one(i, opened, go)) for i in range(clients)]
    while len(opened) < clients and not any(t.done() for t in tasks):
        await asyncio.sleep(0.05)
    print("opened", len(opened), flush=True)
    go.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    ok = sum(1 for x in results if x is True)
    print("ok", ok, "bad", clients - ok, [repr(x) for x in results if x is not True][:3])
asyncio.run(main())
"#;

fn load_over_tap(clients: u32, requests: u32, mem: u32) {
    if skip_without_root() {
        return;
    }
    let running = httpd(
        Run::new("httpd")
            .net_tap()
            .mem(mem)
            .args(&["--port", "8080"]),
    );
    let ip = running.guest_ip().to_string();
    let out = running.exec_in_netns(Command::new("python3").args([
        "-c",
        LOAD,
        &ip,
        &clients.to_string(),
        &requests.to_string(),
    ]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let console = running.stop().console;
    assert!(
        stdout.contains(&format!("opened {clients}\nok {clients} bad 0")),
        "client said:\n{stdout}\n{}\nconsole tail:\n{}",
        String::from_utf8_lossy(&out.stderr),
        console
            .lines()
            .rev()
            .take(10)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn two_hundred_keep_alive_clients_all_get_correct_answers() {
    load_over_tap(200, 10, 64);
}

#[test]
fn a_thousand_connections_open_at_once_are_all_served() {
    load_over_tap(1000, 1, 64);
}
