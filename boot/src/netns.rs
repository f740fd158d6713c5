//! Network namespaces for guests on tap devices: [`Netns`] creates a namespace (`ip netns
//! add`), adds tap devices with a host-side address inside it, runs commands there (`ip
//! netns exec`) and removes it when dropped, so that a guest, and the clients that load it,
//! share a network no other process sees. `scripts/qemu-run.sh --net tap:NAME`, the tests
//! and the benchmarks use it; [`crate::qemu::NetSpec::Tap`] runs QEMU inside one.
//!
//! Everything here needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN): [`have_privileges`] says
//! whether this process has them, and [`NetnsError::NeedsRoot`] is the error otherwise.

use std::fmt;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where `ip netns add` keeps the namespaces it names.
const NETNS_DIR: &str = "/run/netns";

/// Longest interface name Linux takes (IFNAMSIZ less the terminating NUL).
pub const MAX_IFNAME_LEN: usize = 15;

/// The host side of a tap network that lives only inside its namespace (the namespace
/// isolates it, so every namespace can use the same subnet).
pub const TAP_HOST: Ipv4Cidr = Ipv4Cidr::new(Ipv4Addr::new(192, 168, 100, 1), 24);
/// The guest's address on that network, given to it as `ip=192.168.100.2/24`.
pub const TAP_GUEST: Ipv4Cidr = Ipv4Cidr::new(Ipv4Addr::new(192, 168, 100, 2), 24);

/// An IPv4 address with its prefix length, written `192.168.100.1/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    pub addr: Ipv4Addr,
    /// 0..=32.
    pub prefix: u8,
}

impl Ipv4Cidr {
    pub const fn new(addr: Ipv4Addr, prefix: u8) -> Self {
        Self { addr, prefix }
    }

    /// Parses `A.B.C.D/P`, or `A.B.C.D` as a /32.
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, prefix.parse().ok().filter(|&p| p <= 32)?),
            None => (s, 32),
        };
        Some(Self::new(addr.parse().ok()?, prefix))
    }

    /// The network's own address (host bits zero).
    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    fn mask(self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    /// An address on the same network for the host side of a tap: the first host address
    /// (`.1` on a /24), or the second if the guest has the first. `None` when the network
    /// has no room for both (a /31 or /32).
    pub fn peer(self) -> Option<Self> {
        if self.prefix > 30 {
            return None;
        }
        let first = u32::from(self.network()) + 1;
        let host = if u32::from(self.addr) == first {
            first + 1
        } else {
            first
        };
        Some(Self::new(Ipv4Addr::from(host), self.prefix))
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Why a namespace operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetnsError {
    /// This process is not root (network namespaces and tap devices need CAP_NET_ADMIN and
    /// CAP_SYS_ADMIN).
    NeedsRoot,
    /// A namespace of that name exists already.
    Exists(String),
    /// A namespace or interface name that `ip` would refuse or misread.
    BadName { name: String, why: &'static str },
    /// `ip` is not installed.
    NoIp,
    /// An `ip` command failed: the command and what it printed.
    Failed { command: String, message: String },
}

impl fmt::Display for NetnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NeedsRoot => f.write_str(
                "tap networking needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN, to create a network \
                 namespace and a tap device); run as root, or use --net user:PORT",
            ),
            Self::Exists(name) => write!(
                f,
                "network namespace {name} exists already (in use by another run?); \
                 remove it with `ip netns del {name}` if it is left over"
            ),
            Self::BadName { name, why } => write!(f, "{name:?}: {why}"),
            Self::NoIp => f.write_str(
                "`ip` not found: run `apt-get install -y iproute2` \
                 (scripts/qemu-run.sh does this when run as root)",
            ),
            Self::Failed { command, message } => write!(f, "`{command}` failed: {message}"),
        }
    }
}

impl std::error::Error for NetnsError {}

pub type Result<T = ()> = std::result::Result<T, NetnsError>;

/// True if this process runs as root (effective uid 0), which namespaces and taps need.
pub fn have_privileges() -> bool {
    // The effective uid is the second field of /proc/self/status's "Uid:" line.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            Some(line.split_whitespace().nth(2)? == "0")
        })
        .unwrap_or(false)
}

/// Checks a name for a namespace or (with `max_len` [`MAX_IFNAME_LEN`]) an interface:
/// letters, digits, `-`, `_` and `.`, not starting with `-` or `.`.
pub fn check_name(name: &str, max_len: usize) -> Result {
    let bad = |why| {
        Err(NetnsError::BadName {
            name: name.to_string(),
            why,
        })
    };
    if name.is_empty() {
        return bad("a name cannot be empty");
    }
    if name.len() > max_len {
        return bad(if max_len == MAX_IFNAME_LEN {
            "an interface name has at most 15 characters"
        } else {
            "too long"
        });
    }
    if name.starts_with(['-', '.']) {
        return bad("a name cannot start with '-' or '.'");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return bad("use letters, digits, '-', '_' and '.' only");
    }
    Ok(())
}

/// True if a namespace of this name exists.
pub fn exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

/// A network namespace this process created, with the tap devices added to it; removed
/// (`ip netns del`) when dropped. Processes still inside keep the namespace alive until
/// they end; its tap devices go with it.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates namespace `name` with its loopback up. Fails if it exists already.
    pub fn create(name: &str) -> Result<Self> {
        check_name(name, 64)?;
        if !have_privileges() {
            return Err(NetnsError::NeedsRoot);
        }
        if exists(name) {
            return Err(NetnsError::Exists(name.to_string()));
        }
        ip(&["netns", "add", name])?;
        let netns = Self {
            name: name.to_string(),
        };
        netns.ip(&["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    /// Creates a namespace with a name no other one has: `PREFIX-PID-N`.
    pub fn create_unique(prefix: &str) -> Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}-{}-{n}", std::process::id());
            match Self::create(&name) {
                Err(NetnsError::Exists(_)) => continue,
                other => return other,
            }
        }
    }

    /// Removes namespace `name` if it exists and no process is inside it (left over by a
    /// run that was killed before it could clean up). Returns whether it removed one.
    pub fn remove_stale(name: &str) -> Result<bool> {
        if !exists(name) {
            return Ok(false);
        }
        let pids = ip(&["netns", "pids", name])?;
        if !String::from_utf8_lossy(&pids.stdout).trim().is_empty() {
            return Ok(false);
        }
        ip(&["netns", "del", name])?;
        Ok(true)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds tap device `tap` inside the namespace with the host-side address `host`, and
    /// sets it up. A guest attaches with QEMU's `-netdev tap,ifname=TAP,script=no,...`,
    /// run inside the namespace ([`Netns::wrap`]).
    pub fn add_tap(&self, tap: &str, host: Ipv4Cidr) -> Result {
        check_name(tap, MAX_IFNAME_LEN)?;
        self.ip(&["tuntap", "add", "dev", tap, "mode", "tap"])?;
        self.ip(&["addr", "add", &host.to_string(), "dev", tap])?;
        self.ip(&["link", "set", tap, "up"])?;
        Ok(())
    }

    /// Runs `ip ARGS` inside the namespace; fails with `ip`'s message.
    pub fn ip(&self, args: &[&str]) -> Result<Output> {
        let mut all = vec!["-n", &self.name];
        all.extend(args);
        ip(&all)
    }

    /// A command that runs `program` inside the namespace (`ip netns exec NAME program`).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// `cmd` made to run inside the namespace: its program and arguments after `ip netns
    /// exec NAME`, with its environment changes and working folder. (Standard streams are
    /// not carried over: set them on the result.)
    pub fn wrap(&self, cmd: &Command) -> Command {
        wrap_in(&self.name, cmd)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// `cmd` made to run inside namespace `name` (see [`Netns::wrap`]).
pub fn wrap_in(name: &str, cmd: &Command) -> Command {
    let mut out = Command::new("ip");
    out.args(["netns", "exec", name])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => out.env(key, value),
            None => out.env_remove(key),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        out.current_dir(dir);
    }
    out
}

/// Runs `ip ARGS`; fails with its message when it fails.
fn ip(args: &[&str]) -> Result<Output> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => NetnsError::NoIp,
            _ => NetnsError::Failed {
                command: format!("ip {}", args.join(" ")),
                message: e.to_string(),
            },
        })?;
    if !out.status.success() {
        let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if message.contains("Operation not permitted") || message.contains("Permission denied") {
            return Err(NetnsError::NeedsRoot);
        }
        return Err(NetnsError::Failed {
            command: format!("ip {}", args.join(" ")),
            message,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parses_prints_and_finds_a_peer() {
        let guest = Ipv4Cidr::parse("10.1.2.3/16").unwrap();
        assert_eq!(guest.to_string(), "10.1.2.3/16");
        assert_eq!(guest.network(), Ipv4Addr::new(10, 1, 0, 0));
        assert_eq!(guest.peer().unwrap().to_string(), "10.1.0.1/16");
        assert_eq!(TAP_GUEST.peer(), Some(TAP_HOST));
        assert_eq!(TAP_HOST.peer(), Some(TAP_GUEST));
        assert_eq!(Ipv4Cidr::parse("1.2.3.4").unwrap().prefix, 32);
        assert_eq!(Ipv4Cidr::parse("1.2.3.4/32").unwrap().peer(), None);
        assert_eq!(
            Ipv4Cidr::parse("1.2.3.4/0").unwrap().network(),
            Ipv4Addr::UNSPECIFIED
        );
        for bad in ["", "1.2.3", "1.2.3.4/33", "1.2.3.4/", "x/24", "1.2.3.4/-1"] {
            assert_eq!(Ipv4Cidr::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_that_ip_would_refuse_are_refused() {
        check_name("tap0", MAX_IFNAME_LEN).unwrap();
        check_name("uk-a_b.c", 64).unwrap();
        for (name, why) in [
            ("", "empty"),
            ("a-very-long-name", "at most 15"),
            ("-x", "cannot start"),
            ("a/b", "letters, digits"),
            ("a b", "letters, digits"),
            ("a:b", "letters, digits"),
        ] {
            let err = check_name(name, MAX_IFNAME_LEN).unwrap_err().to_string();
            assert!(err.contains(why), "{name:?}: {err}");
        }
    }

    #[test]
    fn wrap_keeps_program_arguments_environment_and_folder() {
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "http://192.168.100.2/"])
            .env("A", "1")
            .env_remove("B")
            .current_dir("/tmp");
        let wrapped = wrap_in("uk-x", &cmd);
        assert_eq!(
            crate::qemu::shell_words(&wrapped),
            "ip netns exec uk-x curl -s http://192.168.100.2/"
        );
        let envs: Vec<_> = wrapped.get_envs().collect();
        assert!(envs.contains(&("A".as_ref(), Some("1".as_ref()))));
        assert!(envs.contains(&("B".as_ref(), None)));
        assert_eq!(wrapped.get_current_dir(), Some(Path::new("/tmp")));
    }

    #[test]
    fn a_namespace_with_a_tap_lives_as_long_as_its_value() {
        if !have_privileges() {
            eprintln!("skipped: creating a network namespace needs root");
            return;
        }
        let netns = Netns::create_unique("uk-test").unwrap();
        let name = netns.name().to_string();
        assert!(exists(&name));
        assert_eq!(
            Netns::create(&name).unwrap_err(),
            NetnsError::Exists(name.clone())
        );
        netns.add_tap("tap0", TAP_HOST).unwrap();
        let out = netns
            .wrap(Command::new("ip").args(["-o", "-4", "addr", "show", "dev", "tap0"]))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("inet 192.168.100.1/24"), "{out:?}");
        let err = netns.add_tap("tap0", TAP_HOST).unwrap_err().to_string();
        assert!(err.contains(&format!("`ip -n {name} ")), "{err}");
        drop(netns);
        assert!(!exists(&name), "{name} is still there after drop");
        assert_eq!(Netns::remove_stale(&name), Ok(false));

        // One left over by a killed run, with nothing inside: removed.
        let stale = format!("uk-stale-{}", std::process::id());
        ip(&["netns", "add", &stale]).unwrap();
        assert_eq!(Netns::remove_stale(&stale), Ok(true));
        assert!(!exists(&stale));
    }
}
