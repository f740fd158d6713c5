//! virtio-net, the smoltcp stack and libos::net (issue 8), driven from the host with real
//! sockets: over QEMU user networking (127.0.0.1 forwards) and over tap in a network
//! namespace of the test's own.

use boot::qemu::Machine;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;
use tests::{Run, Running, assert_console, free_port, skip_without_root};

const BOOT: Duration = Duration::from_secs(30);

/// Starts `netcheck ARGS` with TCP port `guest` forwarded from a free host port; waits
/// for the server line. Returns the guest and the host port.
fn netcheck_tcp(machine: Machine, guest: u16, args: &[&str]) -> (Running, u16) {
    let port = free_port();
    let running = Run::new("netcheck")
        .machine(machine)
        .net_user(&[(port, guest)])
        .args(args)
        .timeout(Duration::from_secs(120))
        .spawn();
    running.wait_for_console("netcheck: ", BOOT);
    running.wait_for_console("net: address", BOOT);
    (running, port)
}

/// Sends `data` and reads the echo back, writing and reading at once.
fn echo_round_trip(port: u16, data: &[u8]) -> Vec<u8> {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let owned = data.to_vec();
    let sender = std::thread::spawn(move || {
        writer.write_all(&owned).unwrap();
        writer.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut got = Vec::new();
    (&stream).read_to_end(&mut got).unwrap();
    sender.join().unwrap();
    got
}

fn pseudo_random(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn tcp_echo_of_10_mib_comes_back_intact_on_both_machines() {
    for machine in [Machine::Microvm, Machine::Q35] {
        let (running, port) = netcheck_tcp(machine, 7, &["tcp-echo", "7"]);
        let data = pseudo_random(10 << 20, 0x5eed);
        let got = echo_round_trip(port, &data);
        assert_eq!(got.len(), data.len(), "{machine:?}");
        assert!(got == data, "{machine:?}: the echo differs");
        // A second connection on the same listener works too.
        assert_eq!(echo_round_trip(port, b"again"), b"again");
        let out = running.stop();
        assert!(
            out.console.contains("net: address 10.0.2.15"),
            "no DHCP lease logged:\n{}",
            out.console
        );
    }
}

/// Over tap: with `restrict=on`, user networking drops the guest's UDP answers (a packet
/// dump shows the guest sending them).
#[test]
fn udp_echo_answers_each_datagram() {
    if skip_without_root() {
        return;
    }
    let running = Run::new("netcheck")
        .net_tap()
        .args(&["udp-echo", "7"])
        .timeout(Duration::from_secs(60))
        .spawn();
    running.wait_for_console("netcheck: udp-echo", BOOT);
    let ip = running.guest_ip().to_string();
    let client = format!(
        "import socket\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.settimeout(2)\n\
         answered = 0\n\
         for i in range(20):\n    \
             m = b'datagram %d' % i\n    \
             s.sendto(m, ('{ip}', 7))\n    \
             try:\n        \
                 d, _ = s.recvfrom(100)\n        \
                 answered += d == m\n    \
             except OSError:\n        \
                 pass\n\
         print('answered', answered)\n"
    );
    let out = running.exec_in_netns(Command::new("python3").args(["-c", &client]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let answered: u32 = stdout
        .trim()
        .strip_prefix("answered ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "client said {stdout:?} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    drop(running);
    // UDP may lose a datagram; nearly all must come back.
    assert!(answered >= 18, "only {answered} of 20 datagrams came back");
}

/// 100 connections open at once, each served by its own guest thread. Each is opened with
/// one round trip before the next: QEMU's user networking listens on the host with a
/// backlog of 1, so connects in a burst wait for the host's SYN retransmissions (a packet
/// dump shows the guest answering every SYN within milliseconds); bursts go over tap.
#[test]
fn many_concurrent_connections_are_all_served() {
    let (running, port) = netcheck_tcp(Machine::Microvm, 7, &["tcp-echo", "7"]);
    let streams: Vec<TcpStream> = (0..100)
        .map(|i| {
            let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(60)))
                .unwrap();
            let hello = format!("hello {i:03}");
            stream.write_all(hello.as_bytes()).unwrap();
            let mut got = [0u8; 9];
            stream.read_exact(&mut got).unwrap();
            assert_eq!(&got, hello.as_bytes());
            stream
        })
        .collect();
    let clients: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(i, stream)| {
            std::thread::spawn(move || {
                let message = format!("client {i} says hello");
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .unwrap();
                (&stream)
                    .write_all(message.as_bytes())
                    .map_err(|e| e.to_string())?;
                stream
                    .shutdown(std::net::Shutdown::Write)
                    .map_err(|e| e.to_string())?;
                let mut got = Vec::new();
                (&stream)
                    .read_to_end(&mut got)
                    .map_err(|e| format!("client {i}: {e}"))?;
                if got != message.as_bytes() {
                    return Err(format!("client {i}: got {got:?}"));
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    let errors: Vec<String> = clients
        .into_iter()
        .filter_map(|c| c.join().unwrap().err())
        .collect();
    let out = running.stop();
    assert!(
        errors.is_empty(),
        "{} clients failed: {:?}\nconsole:\n{}",
        errors.len(),
        &errors[..errors.len().min(3)],
        out.console
    );
}

#[test]
fn a_malformed_ip_option_is_a_command_line_error() {
    let out = Run::new("netcheck")
        .options("ip=10.0.2.15")
        .args(&["address"])
        .go();
    tests::assert_status(&out, 2);
    assert_console(
        &out,
        "error: kernel command line: ip=10.0.2.15: invalid value '10.0.2.15' (expected an IPv4 address with a prefix length, like 10.0.2.15/24)",
    );
    let out = Run::new("netcheck")
        .options("mac=01:00:5e:00:00:01")
        .args(&["address"])
        .go();
    tests::assert_status(&out, 2);
}

#[test]
fn no_network_device_is_a_clear_error() {
    let out = Run::new("netcheck").args(&["tcp-echo", "7"]).go();
    tests::assert_status(&out, 1);
    assert_console(&out, "no network device");
}

#[test]
fn an_idle_server_halts_instead_of_reporting_a_deadlock() {
    let running = Run::new("netcheck")
        .options("ip=10.0.2.15/24")
        .net_user(&[(free_port(), 7)])
        .args(&["tcp-echo", "7"])
        .spawn();
    running.wait_for_console("netcheck: tcp-echo", BOOT);
    std::thread::sleep(Duration::from_secs(2));
    assert!(running.is_running(), "{}", running.console());
    let out = running.stop();
    assert!(!out.console.contains("deadlock"), "{}", out.console);
}

#[test]
fn over_tap_static_ip_ping_and_connection_refused() {
    if skip_without_root() {
        return;
    }
    let running = Run::new("netcheck")
        .net_tap()
        .args(&["connect", "192.168.100.1:9"])
        .timeout(Duration::from_secs(60))
        .spawn();
    let console = running.wait_for_console("connect: ConnectionRefused", BOOT);
    std::thread::sleep(Duration::from_millis(200));
    let console = console + &running.console();
    assert!(
        console.contains("connect: ConnectionRefused: connection refused"),
        "{console}"
    );
    drop(running);

    let running = Run::new("netcheck")
        .net_tap()
        .args(&["tcp-echo", "7"])
        .timeout(Duration::from_secs(60))
        .spawn();
    running.wait_for_console("netcheck: tcp-echo", BOOT);
    let ip = running.guest_ip().to_string();
    let ping = running.exec_in_netns(Command::new("ping").args(["-c", "3", "-W", "2", &ip]));
    assert!(
        ping.status.success(),
        "ping {ip} failed:\n{}",
        String::from_utf8_lossy(&ping.stdout)
    );
    let out = running.stop();
    assert!(
        out.console
            .contains("net: address 192.168.100.2/24 (static)")
            || out.console.contains("192.168.100.2"),
        "{}",
        out.console
    );
}

/// Connection churn: sockets of closed connections (TIME-WAIT included) are forgotten, so
/// thousands of short connections in a row all work.
#[test]
fn two_thousand_short_connections_in_a_row_all_work() {
    let (running, port) = netcheck_tcp(Machine::Microvm, 7, &["tcp-echo", "7"]);
    for i in 0..2000 {
        let message = format!("short {i}");
        let got = echo_round_trip(port, message.as_bytes());
        assert_eq!(got, message.as_bytes(), "connection {i}");
    }
    let out = running.stop();
    assert!(!out.console.contains("panic"), "{}", out.console);
}

#[test]
fn counters_are_printed_at_exit_with_log_info() {
    let out = Run::new("netcheck")
        .options("log=info")
        .net_user(&[])
        .args(&["address"])
        .go();
    tests::assert_status(&out, 0);
    assert_console(&out, "address: 10.0.2.15/24");
    assert_console(&out, "link up");
    assert_console(&out, "TCP retransmissions");
    assert_console(&out, "tcp sockets: 0 listening");
}
