//! apps/kv driven by Redis's own clients (`redis-cli`, `redis-benchmark`) and by raw
//! sockets for the protocol's failure paths, over user networking on 127.0.0.1.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;
use tests::{Run, Running, free_port, skip_without_root};

const BOOT: Duration = Duration::from_secs(30);

fn kv() -> (Running, u16) {
    let port = free_port();
    let running = Run::new("kv")
        .net_user(&[(port, 6379)])
        .timeout(Duration::from_secs(180))
        .spawn();
    running.wait_for_console("kv: serving", BOOT);
    (running, port)
}

/// `redis-cli -p PORT ARGS...`: its stdout, trimmed.
fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args(["30", "redis-cli", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("running redis-cli (scripts/test.sh installs redis-tools)");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Sends `request` on a fresh connection and reads until the server closes it or
/// `expect` bytes arrived.
fn raw(port: u16, request: &[u8], expect: usize) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while got.len() < expect {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

#[test]
fn redis_cli_sets_gets_and_gets_redis_errors() {
    let (server, port) = kv();
    assert_eq!(cli(port, &["ping"]), "PONG");
    assert_eq!(cli(port, &["set", "greeting", "hello"]), "OK");
    assert_eq!(cli(port, &["get", "greeting"]), "hello");
    assert_eq!(cli(port, &["incrby", "n", "41"]), "41");
    assert_eq!(cli(port, &["incr", "n"]), "42");
    assert_eq!(cli(port, &["set", "k", "v", "ex", "100"]), "OK");
    assert_eq!(cli(port, &["ttl", "k"]), "100");
    assert_eq!(
        cli(port, &["incr", "greeting"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        cli(port, &["nosuch", "a"]),
        // (Redis's text ends with a space, which the trim took.)
        "ERR unknown command 'nosuch', with args beginning with: 'a'"
    );
    assert_eq!(
        cli(port, &["get"]),
        "ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(cli(port, &["-n", "3", "dbsize"]), "0");
    assert_eq!(cli(port, &["dbsize"]), "3");
    server.stop();
}

#[test]
fn pipelined_and_inline_commands_are_answered_in_order() {
    let (server, port) = kv();
    let request = b"SET a 1\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nPING \"x y\"\r\n*1\r\n$4\r\nQUIT\r\n";
    let want = b"+OK\r\n$1\r\n1\r\n$3\r\nx y\r\n+OK\r\n";
    assert_eq!(
        raw(port, request, usize::MAX),
        want,
        "QUIT closes after its reply"
    );
    server.stop();
}

#[test]
fn a_malformed_request_closes_that_connection_only() {
    let (server, port) = kv();
    let mut other = TcpStream::connect(("127.0.0.1", port)).unwrap();
    other
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    for (request, error) in [
        (
            &b"*1\r\n+x\r\n"[..],
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"*x\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$-5\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"SET \"a b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
    ] {
        // The server replies and closes: reading to the end returns just the error.
        assert_eq!(
            String::from_utf8_lossy(&raw(port, request, usize::MAX)),
            error,
            "{request:?}"
        );
    }
    // An announced 512 MB value costs nothing until it arrives; the other client is served.
    let mut big = TcpStream::connect(("127.0.0.1", port)).unwrap();
    big.write_all(b"*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$536870912\r\nabc")
        .unwrap();
    other.write_all(b"PING\r\n").unwrap();
    let mut reply = [0u8; 7];
    other.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"+PONG\r\n");
    drop(big);
    server.stop();
}

#[test]
fn redis_benchmark_runs_its_string_tests_without_errors() {
    let (server, port) = kv();
    let out = Command::new("timeout")
        .args(["120", "redis-benchmark", "-p", &port.to_string()])
        .args([
            "-t",
            "ping,set,get,incr,mset",
            "-n",
            "2000",
            "-c",
            "20",
            "-q",
        ])
        .output()
        .expect("running redis-benchmark (scripts/test.sh installs redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    assert!(out.status.success(), "{out:?}");
    for test in [
        "PING_INLINE:",
        "PING_MBULK:",
        "SET:",
        "GET:",
        "INCR:",
        "MSET (10 keys):",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(test) && l.contains("requests per second")),
            "no result for {test}:\n{text}"
        );
    }
    assert_eq!(
        cli(port, &["get", "key:__rand_int__"]).len(),
        3,
        "SET's value"
    );
    server.stop();
}

/// The default suite (50 clients, every test) over a tap device: QEMU's user networking
/// accepts forwarded connections with a listen backlog of 1, so bursts of 50 connects
/// through it are reset now and then; inside the test's network namespace they are not.
#[test]
fn redis_benchmark_default_suite_completes_over_tap() {
    if skip_without_root() {
        return;
    }
    let running = Run::new("kv")
        .net_tap()
        .timeout(Duration::from_secs(400))
        .spawn();
    running.wait_for_console("kv: serving", BOOT);
    let ip = running.guest_ip().to_string();
    let out = running.exec_in_netns(Command::new("timeout").args([
        "300",
        "redis-benchmark",
        "-h",
        &ip,
        "-q",
        "-n",
        "5000",
    ]));
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    let console = running.stop().console;
    assert!(out.status.success(), "{out:?}\nguest:\n{console}");
    let results = text
        .lines()
        .filter(|l| l.contains("requests per second"))
        .count();
    // PING_INLINE ... MSET: every test of redis-benchmark 7.0's default suite.
    for test in [
        "PING_INLINE:",
        "SET:",
        "LPOP:",
        "SPOP:",
        "ZPOPMIN:",
        "LRANGE_600",
        "MSET",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(test) && l.contains("requests per second")),
            "no result for {test}:\n{text}"
        );
    }
    assert!(results >= 20, "{results} results:\n{text}");
}

#[test]
fn a_bad_command_line_is_a_clear_error_with_status_2() {
    for (args, needle) in [
        (&["--port", "0"][..], "kv: --port: '0' is not a port"),
        (&["--port", "x"], "kv: --port: 'x' is not a port"),
        (&["--bogus"], "kv: unexpected argument '--bogus'"),
    ] {
        let out = Run::new("kv").args(args).go();
        tests::assert_status(&out, 2);
        tests::assert_console(&out, needle);
    }
}

#[test]
fn blocking_pops_wake_on_a_push_and_time_out() {
    let (server, port) = kv();
    // Times out with a nil after about its timeout.
    let started = std::time::Instant::now();
    assert_eq!(cli(port, &["blpop", "queue", "0.5"]), "");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(500), "{waited:?}");
    // A client blocked for ever is served by another's push, and the key is gone after.
    let waiter = std::thread::spawn(move || cli(port, &["blpop", "queue", "other", "0"]));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(cli(port, &["rpush", "other", "job-1"]), "1");
    assert_eq!(waiter.join().unwrap(), "other\njob-1");
    assert_eq!(cli(port, &["exists", "other"]), "0");
    let waiter = std::thread::spawn(move || cli(port, &["bzpopmin", "z", "0"]));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(cli(port, &["zadd", "z", "2", "b", "1", "a"]), "2");
    assert_eq!(waiter.join().unwrap(), "z\na\n1");
    // Other clients are served while one is blocked.
    assert_eq!(cli(port, &["ping"]), "PONG");
    server.stop();
}

#[test]
fn watch_aborts_a_transaction_when_another_client_changed_the_key() {
    let (server, port) = kv();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut say = |request: &[u8], expect: &[u8]| {
        s.write_all(request).unwrap();
        let mut got = vec![0u8; expect.len()];
        s.read_exact(&mut got).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expect)
        );
    };
    say(b"WATCH balance\r\n", b"+OK\r\n");
    assert_eq!(cli(port, &["set", "balance", "100"]), "OK");
    say(
        b"MULTI\r\nINCRBY balance 5\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*-1\r\n",
    );
    say(
        b"WATCH balance\r\nMULTI\r\nINCRBY balance 5\r\nEXEC\r\n",
        b"+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n:105\r\n",
    );
    server.stop();
}

#[test]
fn over_maxmemory_writes_get_oom_and_reads_and_deletes_go_on() {
    let (server, port) = kv();
    assert_eq!(cli(port, &["set", "k", "v"]), "OK");
    // Less than kv itself needs: every write that may grow is refused.
    assert_eq!(cli(port, &["config", "set", "maxmemory", "1"]), "OK");
    assert_eq!(
        cli(port, &["set", "x", "1"]),
        "OOM command not allowed when used memory > 'maxmemory'."
    );
    assert_eq!(cli(port, &["get", "k"]), "v");
    assert_eq!(cli(port, &["del", "k"]), "1");
    assert_eq!(cli(port, &["config", "set", "maxmemory", "0"]), "OK");
    assert_eq!(cli(port, &["set", "x", "1"]), "OK");
    server.stop();
}

/// 1,000 clients at once: `redis-benchmark -c 1000` (over a tap: user networking resets
/// bursts of connections), every request answered, none with an error.
#[test]
fn a_thousand_concurrent_clients_are_all_served() {
    if skip_without_root() {
        return;
    }
    let running = Run::new("kv")
        .net_tap()
        .mem(256)
        .timeout(Duration::from_secs(400))
        .spawn();
    running.wait_for_console("kv: serving", BOOT);
    let ip = running.guest_ip().to_string();
    let out = running.exec_in_netns(Command::new("timeout").args([
        "300",
        "redis-benchmark",
        "-h",
        &ip,
        "-c",
        "1000",
        "-n",
        "20000",
        "-t",
        "set,get",
        "-q",
    ]));
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "\n");
    let info = running.exec_in_netns(Command::new("timeout").args([
        "30",
        "redis-cli",
        "-h",
        &ip,
        "info",
        "stats",
    ]));
    let console = running.stop().console;
    assert!(out.status.success(), "{out:?}\nguest:\n{console}");
    for test in ["SET:", "GET:"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(test) && l.contains("requests per second")),
            "{test} did not complete:\n{text}\nguest:\n{console}"
        );
    }
    assert!(!text.contains("ERR"), "{text}");
    let info = String::from_utf8_lossy(&info.stdout).to_string();
    let received: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no total_connections_received in INFO:\n{info}"));
    assert!(received >= 2000, "{received} connections received");
}

/// A client streaming a bulk string larger than the memory there is gets its connection
/// closed (one line on the console); everyone else goes on being served.
#[test]
fn a_request_larger_than_memory_closes_that_connection_only() {
    let (server, port) = kv();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$400000000\r\n")
        .unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0usize;
    // Until the server closes (writes fail) or 200 MiB went (more than the guest has).
    while sent < 200 << 20 {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(
        sent < 200 << 20,
        "the server took {sent} bytes of one request"
    );
    server.wait_for_console("query buffer over", Duration::from_secs(30));
    assert_eq!(cli(port, &["set", "small", "ok"]), "OK");
    assert_eq!(cli(port, &["get", "small"]), "ok");
    server.stop();
}
