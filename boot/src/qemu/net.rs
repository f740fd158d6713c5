//! The guest's network for a run: [`NetSpec`] (QEMU user networking with `restrict=on` and
//! forwards bound to 127.0.0.1, or a tap device inside a network namespace from
//! [`crate::netns`]), its QEMU words for either machine, the `--net` option's parser
//! ([`NetOption`]) and the checks made before QEMU starts. [`super::RunConfig::net`] holds it.

use super::{Machine, escape_option};
use crate::netns::{self, Ipv4Cidr};
use std::collections::HashSet;
use std::ffi::OsString;
use std::fmt;

/// QEMU's id of the one network backend (`-netdev ...,id=n0`).
pub const NETDEV_ID: &str = "n0";

/// The guest NIC's MAC address, fixed so that runs are repeatable (QEMU's own default for
/// a first NIC, given explicitly).
pub const GUEST_MAC: &str = "52:54:00:12:34:56";

/// The transport protocol of a forwarded port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// A host port on 127.0.0.1 that QEMU's user networking forwards to a guest port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Forward {
    pub proto: Proto,
    pub host: u16,
    pub guest: u16,
}

impl Forward {
    pub fn tcp(host: u16, guest: u16) -> Self {
        Self {
            proto: Proto::Tcp,
            host,
            guest,
        }
    }

    pub fn udp(host: u16, guest: u16) -> Self {
        Self {
            proto: Proto::Udp,
            host,
            guest,
        }
    }

    /// Parses one port of `--net user:...`: `PORT` (the same on both sides), `HOST:GUEST`,
    /// either with a `udp/` (or `tcp/`, the default) prefix.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (proto, ports) = if let Some(rest) = s.strip_prefix("udp/") {
            (Proto::Udp, rest)
        } else if let Some(rest) = s.strip_prefix("tcp/") {
            (Proto::Tcp, rest)
        } else {
            (Proto::Tcp, s)
        };
        let port = |p: &str| -> Result<u16, String> {
            match p.parse::<u32>() {
                Ok(n @ 1..=65535) => Ok(n as u16),
                Ok(_) => Err(format!("port {p} is outside 1..=65535")),
                Err(_) => Err(format!(
                    "{s:?} is not a port: expected PORT, HOST:GUEST, udp/PORT or udp/HOST:GUEST"
                )),
            }
        };
        let (host, guest) = match ports.split_once(':') {
            Some((host, guest)) => (port(host)?, port(guest)?),
            None => {
                let p = port(ports)?;
                (p, p)
            }
        };
        Ok(Self { proto, host, guest })
    }

    /// The `hostfwd=` option of `-netdev user`.
    fn hostfwd(&self) -> String {
        format!(
            "hostfwd={}:127.0.0.1:{}-:{}",
            self.proto.name(),
            self.host,
            self.guest
        )
    }
}

impl fmt::Display for Forward {
    /// `127.0.0.1:8080 -> guest :80`, with `udp ` in front for UDP.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.proto == Proto::Udp {
            f.write_str("udp ")?;
        }
        write!(f, "127.0.0.1:{} -> guest :{}", self.host, self.guest)
    }
}

/// The guest's network: one virtio-net NIC on a backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetSpec {
    /// QEMU user networking (slirp) with `restrict=on`: the guest reaches nothing outside,
    /// and connections to each forward's host port on 127.0.0.1 reach the guest's port.
    /// QEMU serves DHCP (the guest gets 10.0.2.15/24). With `restrict=on` connections the
    /// guest opens are dropped silently and inbound ping is not forwarded.
    User { forwards: Vec<Forward> },
    /// A tap device `tap` inside network namespace `netns`, both existing already
    /// ([`crate::netns::Netns`] makes them); QEMU runs inside the namespace (`ip netns
    /// exec`). `guest_ip`, unless the kernel options have an `ip=` already, goes on the
    /// kernel command line as `ip=ADDR/PREFIX`.
    Tap {
        netns: String,
        tap: String,
        guest_ip: Option<Ipv4Cidr>,
    },
}

impl NetSpec {
    /// User networking with these TCP forwards (host port, guest port).
    pub fn user_tcp(ports: &[(u16, u16)]) -> Self {
        Self::User {
            forwards: ports.iter().map(|&(h, g)| Forward::tcp(h, g)).collect(),
        }
    }

    /// A tap in `netns` with the guest at [`netns::TAP_GUEST`].
    pub fn tap(netns: &str, tap: &str) -> Self {
        Self::Tap {
            netns: netns.to_string(),
            tap: tap.to_string(),
            guest_ip: Some(netns::TAP_GUEST),
        }
    }

    /// The `-netdev` and `-device` words on `machine`: a virtio-mmio device on microvm
    /// (version 2, by the runner's `-global`), a modern-only PCI device without an option
    /// ROM on q35 (the iPXE ROM would slow SeaBIOS down and is of no use).
    pub fn qemu_args(&self, machine: Machine) -> [OsString; 4] {
        let backend = match self {
            Self::User { forwards } => {
                let mut s = format!("user,id={NETDEV_ID},restrict=on");
                for forward in forwards {
                    s.push(',');
                    s.push_str(&forward.hostfwd());
                }
                s
            }
            Self::Tap { tap, .. } => format!(
                "tap,id={NETDEV_ID},ifname={},script=no,downscript=no",
                escape_option(tap)
            ),
        };
        let device = match machine {
            Machine::Microvm => format!("virtio-net-device,netdev={NETDEV_ID},mac={GUEST_MAC}"),
            Machine::Q35 => format!(
                "virtio-net-pci,netdev={NETDEV_ID},mac={GUEST_MAC},disable-legacy=on,romfile="
            ),
        };
        [
            "-netdev".into(),
            backend.into(),
            "-device".into(),
            device.into(),
        ]
    }

    /// The kernel option this network adds to `options` (the user's), if any: `ip=` for a
    /// tap, unless `options` has one.
    pub fn kernel_option(&self, options: &str) -> Option<String> {
        match self {
            Self::Tap {
                guest_ip: Some(ip), ..
            } if !options.split_whitespace().any(|w| w.starts_with("ip=")) => {
                Some(format!("ip={ip}"))
            }
            _ => None,
        }
    }

    /// Checks what would make QEMU fail to start: a host port given twice or in use on
    /// 127.0.0.1 (QEMU's message would be a bare "Could not set up host forwarding rule"),
    /// a namespace that does not exist.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Self::User { forwards } => {
                let mut seen = HashSet::new();
                for f in forwards {
                    if f.host == 0 || f.guest == 0 {
                        return Err(format!("--net: port 0 in {f}: ports are 1..=65535"));
                    }
                    if !seen.insert((f.proto, f.host)) {
                        return Err(format!(
                            "--net: host port {} ({}) is forwarded twice",
                            f.host,
                            f.proto.name()
                        ));
                    }
                    let free = match f.proto {
                        Proto::Tcp => std::net::TcpListener::bind(("127.0.0.1", f.host)).err(),
                        Proto::Udp => std::net::UdpSocket::bind(("127.0.0.1", f.host)).err(),
                    };
                    if let Some(e) = free {
                        let udp = if f.proto == Proto::Udp { "udp/" } else { "" };
                        return Err(format!(
                            "--net: cannot forward {} port 127.0.0.1:{}: {e}; another server \
                             has it? pick another host port: --net user:{udp}HOST:{}",
                            f.proto.name(),
                            f.host,
                            f.guest
                        ));
                    }
                }
                Ok(())
            }
            Self::Tap { netns, tap, .. } => {
                netns::check_name(tap, netns::MAX_IFNAME_LEN).map_err(|e| e.to_string())?;
                if !netns::exists(netns) {
                    return Err(format!(
                        "network namespace {netns} does not exist (boot::netns::Netns makes one)"
                    ));
                }
                Ok(())
            }
        }
    }

    /// Lines for the user about how to reach the guest, e.g. `qemu-run: forwarding
    /// 127.0.0.1:8080 -> guest :8080`. `guest_ip` is the address the guest is given (for
    /// a tap, from `ip=`), `host_ip` the host side's.
    pub fn notes(&self, host_ip: Option<Ipv4Cidr>, guest_ip: Option<Ipv4Cidr>) -> Vec<String> {
        match self {
            Self::User { forwards } if forwards.is_empty() => vec![
                "qemu-run: user networking (restrict=on), no ports forwarded (--net user:PORT)"
                    .to_string(),
            ],
            Self::User { forwards } => forwards
                .iter()
                .map(|f| format!("qemu-run: forwarding {f}"))
                .collect(),
            Self::Tap { netns, tap, .. } => {
                let guest = guest_ip.map_or("the guest".to_string(), |ip| ip.addr.to_string());
                let host = host_ip.map_or(String::new(), |ip| format!(", host side {ip}"));
                vec![format!(
                    "qemu-run: guest {guest} on tap {tap} in network namespace {netns}{host}; \
                     reach it from there: ip netns exec {netns} curl http://{guest}:PORT/"
                )]
            }
        }
    }
}

/// A parsed `--net` value, before any namespace exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetOption {
    /// `user` or `user:PORT[,PORT...]`.
    User(Vec<Forward>),
    /// `tap:NAME`: a tap device NAME in a namespace `uk-NAME` the runner creates.
    Tap(String),
}

impl NetOption {
    /// Parses the value of `--net`.
    pub fn parse(value: &str) -> Result<Self, String> {
        const FORMS: &str = "expected user, user:PORT[,PORT...] (PORT, HOST:GUEST, udp/PORT) \
                             or tap:NAME";
        if value == "user" {
            return Ok(Self::User(Vec::new()));
        }
        if let Some(ports) = value.strip_prefix("user:") {
            if ports.is_empty() {
                return Err(
                    "--net user: needs ports after the colon (user:8080,udp/5353), or \
                            no colon for none"
                        .into(),
                );
            }
            let forwards = ports
                .split(',')
                .map(|p| Forward::parse(p).map_err(|e| format!("--net {value}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            // Duplicates now, as a usage error; whether ports are free is checked later.
            let mut seen = HashSet::new();
            for f in &forwards {
                if !seen.insert((f.proto, f.host)) {
                    return Err(format!(
                        "--net {value}: host port {} ({}) is given twice",
                        f.host,
                        f.proto.name()
                    ));
                }
            }
            return Ok(Self::User(forwards));
        }
        if let Some(name) = value.strip_prefix("tap:") {
            if name.is_empty() {
                return Err("--net tap: needs a device name: --net tap:NAME (e.g. tap:uk0)".into());
            }
            netns::check_name(name, netns::MAX_IFNAME_LEN)
                .map_err(|e| format!("--net {value}: {e}"))?;
            return Ok(Self::Tap(name.to_string()));
        }
        Err(format!("--net {value}: {FORMS}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qemu::{RunConfig, shell_words};

    #[test]
    fn user_networking_words_on_microvm() {
        let spec = NetSpec::User {
            forwards: vec![Forward::tcp(8080, 80), Forward::udp(5353, 53)],
        };
        assert_eq!(
            spec.qemu_args(Machine::Microvm),
            [
                "-netdev",
                "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:127.0.0.1:5353-:53",
                "-device",
                "virtio-net-device,netdev=n0,mac=52:54:00:12:34:56",
            ]
        );
        let mut config = RunConfig::new("k.elf");
        config.net = Some(spec);
        let words = shell_words(&config.command());
        assert!(
            words.starts_with("qemu-system-x86_64 -M microvm"),
            "{words}"
        );
        assert!(
            words.contains("-global virtio-mmio.force-legacy=off"),
            "{words}"
        );
        assert!(words.contains(" -netdev user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80,"));
        assert_eq!(config.cmdline(), "");
    }

    #[test]
    fn q35_and_disk_images_get_a_modern_pci_nic_without_a_rom() {
        let spec = NetSpec::user_tcp(&[(8080, 8080)]);
        let device = "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56,disable-legacy=on,romfile=";
        assert_eq!(spec.qemu_args(Machine::Q35)[3], device);
        for format in [
            crate::image::Format::Pvh,
            crate::image::Format::Bios,
            crate::image::Format::Uefi,
        ] {
            let mut config = RunConfig::new("k.elf");
            config.machine = Machine::Q35;
            config.format = format;
            config.net = Some(spec.clone());
            let words = shell_words(&config.command());
            assert!(words.contains(&format!(" -device {device}")), "{words}");
            assert!(
                words.contains(" -netdev user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:8080 "),
                "{words}"
            );
        }
    }

    #[test]
    fn nic_comes_after_the_disks() {
        let mut config = RunConfig::new("k.elf");
        config.disks = vec![crate::qemu::DiskSpec::new("a.img")];
        config.net = Some(NetSpec::user_tcp(&[(1, 2)]));
        let words = shell_words(&config.command());
        assert!(
            words.find("virtio-blk-device").unwrap() < words.find("virtio-net-device").unwrap(),
            "{words}"
        );
    }

    #[test]
    fn tap_runs_qemu_inside_the_namespace_and_gives_the_guest_its_address() {
        let mut config = RunConfig::new("k.elf");
        config.net = Some(NetSpec::tap("uk-t", "tap0"));
        config.app_args = vec!["x".into()];
        let words = shell_words(&config.command());
        assert!(
            words.starts_with("ip netns exec uk-t qemu-system-x86_64 -M microvm"),
            "{words}"
        );
        assert!(
            words.contains(
                " -netdev tap,id=n0,ifname=tap0,script=no,downscript=no -device virtio-net-device,netdev=n0,"
            ),
            "{words}"
        );
        assert_eq!(config.cmdline(), "ip=192.168.100.2/24 -- x");
        config.kernel_options = "log=info".into();
        assert_eq!(config.cmdline(), "log=info ip=192.168.100.2/24 -- x");
        // The user's own ip= wins.
        config.kernel_options = "ip=10.0.0.2/8 log=info".into();
        assert_eq!(config.cmdline(), "ip=10.0.0.2/8 log=info -- x");
        config.net = Some(NetSpec::Tap {
            netns: "uk-t".into(),
            tap: "tap0".into(),
            guest_ip: None,
        });
        config.kernel_options.clear();
        assert_eq!(config.cmdline(), "-- x");
    }

    #[test]
    fn net_option_forms() {
        assert_eq!(NetOption::parse("user"), Ok(NetOption::User(vec![])));
        assert_eq!(
            NetOption::parse("user:8080,9000:80,udp/53,udp/5353:53,tcp/1"),
            Ok(NetOption::User(vec![
                Forward::tcp(8080, 8080),
                Forward::tcp(9000, 80),
                Forward::udp(53, 53),
                Forward::udp(5353, 53),
                Forward::tcp(1, 1),
            ]))
        );
        // The same port over TCP and UDP is two forwards.
        assert!(NetOption::parse("user:53,udp/53").is_ok());
        assert_eq!(
            NetOption::parse("tap:uk0"),
            Ok(NetOption::Tap("uk0".into()))
        );
        for (value, needle) in [
            ("foo", "--net foo: expected user, user:PORT"),
            ("user:", "--net user: needs ports after the colon"),
            (
                "user:70000",
                "--net user:70000: port 70000 is outside 1..=65535",
            ),
            ("user:0", "port 0 is outside"),
            ("user:8080:0", "port 0 is outside"),
            ("user:x", "\"x\" is not a port"),
            ("user:80,", "\"\" is not a port"),
            ("user:1:2:3", "\"1:2:3\" is not a port"),
            ("user:udp/", "\"udp/\" is not a port"),
            ("user:80,80", "host port 80 (tcp) is given twice"),
            ("user:80,81:80", "ok"),
            ("tap:", "--net tap: needs a device name"),
            ("tap:a/b", "--net tap:a/b: \"a/b\": use letters"),
            ("tap:sixteen-chars-xy", "at most 15 characters"),
            ("tap", "expected user"),
        ] {
            match NetOption::parse(value) {
                Ok(_) => assert_eq!(needle, "ok", "{value} parsed"),
                Err(e) => assert!(e.contains(needle), "{value}: {e:?} lacks {needle:?}"),
            }
        }
    }

    #[test]
    fn forwards_print_for_the_user() {
        let spec = NetSpec::User {
            forwards: vec![Forward::tcp(8080, 8080), Forward::udp(5000, 53)],
        };
        assert_eq!(
            spec.notes(None, None),
            [
                "qemu-run: forwarding 127.0.0.1:8080 -> guest :8080",
                "qemu-run: forwarding udp 127.0.0.1:5000 -> guest :53",
            ]
        );
        let tap = NetSpec::tap("uk-x", "x");
        let notes = tap.notes(Some(netns::TAP_HOST), Some(netns::TAP_GUEST));
        assert_eq!(
            notes,
            [
                "qemu-run: guest 192.168.100.2 on tap x in network namespace uk-x, host side \
              192.168.100.1/24; reach it from there: ip netns exec uk-x curl http://192.168.100.2:PORT/"
            ]
        );
    }

    #[test]
    fn ports_in_use_or_twice_are_refused_before_qemu_starts() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = NetSpec::user_tcp(&[(port, 80)]).check().unwrap_err();
        assert!(
            err.starts_with(&format!(
                "--net: cannot forward tcp port 127.0.0.1:{port}: "
            )),
            "{err}"
        );
        assert!(err.ends_with("--net user:HOST:80"), "{err}");
        // The same port over UDP is free.
        NetSpec::User {
            forwards: vec![Forward::udp(port, 80)],
        }
        .check()
        .unwrap();
        drop(taken);
        NetSpec::user_tcp(&[(port, 80)]).check().unwrap();
        let err = NetSpec::user_tcp(&[(port, 80), (port, 81)])
            .check()
            .unwrap_err();
        assert!(err.contains("forwarded twice"), "{err}");
        let err = NetSpec::tap("uk-no-such-namespace", "tap0")
            .check()
            .unwrap_err();
        assert!(err.contains("uk-no-such-namespace does not exist"), "{err}");
    }
}
