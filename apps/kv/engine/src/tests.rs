//! Commands against replies written down from Redis 7.0 (`redis-cli` sessions and its
//! source): the reply bytes must match exactly.

use super::*;
use std::string::String;

/// A server, a client and a fake clock.
struct Session {
    server: Server,
    client: Client,
    now: u64,
}

impl Session {
    fn new() -> Self {
        Self {
            server: Server::new(),
            client: Client::default(),
            now: 1_700_000_000_000,
        }
    }

    /// Runs a command given as words and returns its raw reply.
    fn run(&mut self, words: &[&str]) -> String {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let mut out = Vec::new();
        self.server
            .execute(&mut self.client, &args, self.now, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// Runs each `(command, reply)` and checks the reply.
    fn expect(&mut self, script: &[(&str, &str)]) {
        for (line, want) in script {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(self.run(&words), *want, "{line}");
        }
    }
}

const NIL: &str = "$-1\r\n";
const OK: &str = "+OK\r\n";

#[test]
fn connection_commands() {
    let mut s = Session::new();
    s.expect(&[
        ("PING", "+PONG\r\n"),
        ("ping hi", "$2\r\nhi\r\n"),
        (
            "ping a b",
            "-ERR wrong number of arguments for 'ping' command\r\n",
        ),
        ("echo x", "$1\r\nx\r\n"),
        (
            "echo",
            "-ERR wrong number of arguments for 'echo' command\r\n",
        ),
        ("select 1", OK),
        ("set k v", OK),
        ("dbsize", ":1\r\n"),
        ("select 0", OK),
        ("dbsize", ":0\r\n"),
        ("select 16", "-ERR DB index is out of range\r\n"),
        (
            "select x",
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            "nosuch a b",
            "-ERR unknown command 'nosuch', with args beginning with: 'a' 'b' \r\n",
        ),
        ("flushall", OK),
        ("select 1", OK),
        ("dbsize", ":0\r\n"),
    ]);
    assert_eq!(s.run(&["QUIT"]), OK);
    let mut out = Vec::new();
    let quit = s
        .server
        .execute(&mut s.client, &[b"quit".to_vec()], 0, &mut out);
    assert_eq!(quit, Action::Close);
}

#[test]
fn set_and_its_options() {
    let mut s = Session::new();
    s.expect(&[
        ("get k", NIL),
        ("set k v", OK),
        ("get k", "$1\r\nv\r\n"),
        ("set k w nx", NIL),
        ("set k w xx", OK),
        ("set n 1 xx", NIL),
        ("set k x get", "$1\r\nw\r\n"),
        ("set new y nx get", NIL),
        ("get new", "$1\r\ny\r\n"),
        ("set k v nx xx", "-ERR syntax error\r\n"),
        ("set k v ex", "-ERR syntax error\r\n"),
        ("set k v ex 10 px 100", "-ERR syntax error\r\n"),
        ("set k v keepttl ex 10", "-ERR syntax error\r\n"),
        (
            "set k v ex 0",
            "-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            "set k v ex -1",
            "-ERR invalid expire time in 'set' command\r\n",
        ),
        (
            "set k v ex x",
            "-ERR value is not an integer or out of range\r\n",
        ),
        ("set k v bogus", "-ERR syntax error\r\n"),
        ("set k v EX 100", OK),
        ("ttl k", ":100\r\n"),
        ("set k v2 keepttl", OK),
        ("ttl k", ":100\r\n"),
        ("set k v3", OK),
        ("ttl k", ":-1\r\n"),
        ("set k v px 1500", OK),
        ("pttl k", ":1500\r\n"),
        ("ttl k", ":2\r\n"),
    ]);
    s.now += 1500;
    s.expect(&[("get k", NIL), ("exists k", ":0\r\n"), ("ttl k", ":-2\r\n")]);
    let at = (s.now / 1000 + 10).to_string();
    s.expect(&[("set k v exat ".to_owned() + &at).as_str()].map(|l| (l, OK)));
    s.expect(&[
        ("ttl k", ":10\r\n"),
        ("expiretime k", &format!(":{at}\r\n")),
    ]);
}

#[test]
fn integer_commands_and_their_errors() {
    let mut s = Session::new();
    s.expect(&[
        ("incr n", ":1\r\n"),
        ("incrby n 10", ":11\r\n"),
        ("decr n", ":10\r\n"),
        ("decrby n 20", ":-10\r\n"),
        ("set n 9223372036854775807", OK),
        ("incr n", "-ERR increment or decrement would overflow\r\n"),
        ("set n 1.5", OK),
        ("incr n", "-ERR value is not an integer or out of range\r\n"),
        ("set n 007", OK),
        ("incr n", "-ERR value is not an integer or out of range\r\n"),
        (
            "incrby n x",
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            "decrby m -9223372036854775808",
            "-ERR decrement would overflow\r\n",
        ),
        ("set t 5 ex 100", OK),
        ("incr t", ":6\r\n"),
        ("ttl t", ":100\r\n"),
    ]);
}

#[test]
fn string_ranges_and_multi_key_commands() {
    let mut s = Session::new();
    s.expect(&[
        ("append s Hello", ":5\r\n"),
        ("append s World", ":10\r\n"),
        ("strlen s", ":10\r\n"),
        ("strlen none", ":0\r\n"),
        ("getrange s 0 4", "$5\r\nHello\r\n"),
        ("getrange s -5 -1", "$5\r\nWorld\r\n"),
        ("getrange s 5 100", "$5\r\nWorld\r\n"),
        ("getrange s -1 -5", "$0\r\n\r\n"),
        ("getrange s 8 2", "$0\r\n\r\n"),
        ("getrange none 0 -1", "$0\r\n\r\n"),
        ("setrange s 5 Redis", ":10\r\n"),
        ("get s", "$10\r\nHelloRedis\r\n"),
        ("setrange z 3 ab", ":5\r\n"),
        ("get z", "$5\r\n\0\0\0ab\r\n"),
        ("setrange y 3 ", ":0\r\n"),
        ("exists y", ":0\r\n"),
        ("setrange s -1 x", "-ERR offset is out of range\r\n"),
        ("mset a 1 b 2", OK),
        (
            "mset a 1 b",
            "-ERR wrong number of arguments for 'mset' command\r\n",
        ),
        ("mget a b nope", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"),
        ("msetnx a 9 c 3", ":0\r\n"),
        ("msetnx c 3 d 4", ":1\r\n"),
        ("getset a 10", "$1\r\n1\r\n"),
        ("getdel a", "$2\r\n10\r\n"),
        ("getdel a", NIL),
        ("setnx a 1", ":1\r\n"),
        ("setnx a 2", ":0\r\n"),
        ("setex e 10 v", OK),
        ("ttl e", ":10\r\n"),
        (
            "setex e 0 v",
            "-ERR invalid expire time in 'setex' command\r\n",
        ),
        (
            "psetex e 0 v",
            "-ERR invalid expire time in 'psetex' command\r\n",
        ),
        ("del a b nope", ":2\r\n"),
        ("exists c c d", ":3\r\n"),
        ("type c", "+string\r\n"),
        ("type nope", "+none\r\n"),
        (
            "keys *",
            "*5\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\ns\r\n$1\r\nz\r\n",
        ),
        ("keys [cd]", "*2\r\n$1\r\nc\r\n$1\r\nd\r\n"),
    ]);
}

#[test]
fn expire_options_and_ttls() {
    let mut s = Session::new();
    s.expect(&[
        ("expire k 10", ":0\r\n"),
        ("set k v", OK),
        ("ttl k", ":-1\r\n"),
        ("expire k 10 xx", ":0\r\n"),
        ("expire k 10 nx", ":1\r\n"),
        ("expire k 20 nx", ":0\r\n"),
        ("expire k 5 gt", ":0\r\n"),
        ("expire k 50 gt", ":1\r\n"),
        ("expire k 60 lt", ":0\r\n"),
        ("expire k 30 lt", ":1\r\n"),
        ("ttl k", ":30\r\n"),
        ("pexpire k 1234", ":1\r\n"),
        ("pttl k", ":1234\r\n"),
        ("ttl k", ":1\r\n"),
        ("persist k", ":1\r\n"),
        ("persist k", ":0\r\n"),
        ("expire k 10 gt", ":0\r\n"),
        ("expire k 10 lt", ":1\r\n"),
        (
            "expire k 10 nx xx",
            "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        ),
        (
            "expire k 10 gt lt",
            "-ERR GT and LT options at the same time are not compatible\r\n",
        ),
        ("expire k 10 foo", "-ERR Unsupported option foo\r\n"),
        (
            "expire k x",
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            "expire k 9223372036854775807",
            "-ERR invalid expire time in 'expire' command\r\n",
        ),
        ("expire k -1", ":1\r\n"),
        ("exists k", ":0\r\n"),
        ("set k v", OK),
        ("expireat k 1", ":1\r\n"),
        ("get k", NIL),
        ("pexpiretime nope", ":-2\r\n"),
    ]);
}

#[test]
fn arity_is_checked_before_anything_else() {
    let mut s = Session::new();
    for (line, name) in [
        ("get", "get"),
        ("get a b", "get"),
        ("SET k", "set"),
        ("del", "del"),
        ("getrange k 1", "getrange"),
    ] {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(
            s.run(&words),
            format!("-ERR wrong number of arguments for '{name}' command\r\n")
        );
    }
}

#[test]
fn lists() {
    let mut s = Session::new();
    s.expect(&[
        ("rpush l a b c", ":3\r\n"),
        ("lpush l z", ":4\r\n"),
        (
            "lrange l 0 -1",
            "*4\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n",
        ),
        ("lrange l -2 100", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("lrange l 5 10", "*0\r\n"),
        (
            "lrange l x 1",
            "-ERR value is not an integer or out of range\r\n",
        ),
        ("lindex l -1", "$1\r\nc\r\n"),
        ("lindex l 9", NIL),
        ("llen l", ":4\r\n"),
        ("lpop l", "$1\r\nz\r\n"),
        ("rpop l 2", "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"),
        ("lpop l 0", "*0\r\n"),
        (
            "lpop l -1",
            "-ERR value is out of range, must be positive\r\n",
        ),
        (
            "lpop l 1 2",
            "-ERR wrong number of arguments for 'lpop' command\r\n",
        ),
        ("lpop l", "$1\r\na\r\n"),
        ("exists l", ":0\r\n"),
        ("lpop l", NIL),
        ("lpop l 3", "*-1\r\n"),
        ("lpushx l a", ":0\r\n"),
        ("set s v", OK),
        (
            "lpush s a",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        ("get l", NIL),
        ("rpush l x", ":1\r\n"),
        (
            "get l",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        ("type l", "+list\r\n"),
    ]);
}

#[test]
fn hashes_and_sets() {
    let mut s = Session::new();
    s.expect(&[
        ("hset h a 1 b 2", ":2\r\n"),
        ("hset h a 3 c 4", ":1\r\n"),
        (
            "hset h a",
            "-ERR wrong number of arguments for 'hset' command\r\n",
        ),
        ("hmset h d 5", OK),
        ("hget h a", "$1\r\n3\r\n"),
        ("hget h zz", NIL),
        ("hlen h", ":4\r\n"),
        ("hexists h b", ":1\r\n"),
        ("hdel h a b nope", ":2\r\n"),
        (
            "hgetall h",
            "*4\r\n$1\r\nc\r\n$1\r\n4\r\n$1\r\nd\r\n$1\r\n5\r\n",
        ),
        ("hdel h c d", ":2\r\n"),
        ("exists h", ":0\r\n"),
        ("type h", "+none\r\n"),
        ("sadd s a b a", ":2\r\n"),
        ("scard s", ":2\r\n"),
        ("sismember s a", ":1\r\n"),
        ("smembers s", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("srem s a x", ":1\r\n"),
        ("spop s", "$1\r\nb\r\n"),
        ("spop s", NIL),
        ("spop s 2", "*0\r\n"),
        ("spop s 1 2", "-ERR syntax error\r\n"),
        ("type s", "+none\r\n"),
    ]);
}

#[test]
fn sorted_sets() {
    let mut s = Session::new();
    s.expect(&[
        ("zadd z 1 a 2 b", ":2\r\n"),
        ("zadd z ch 3 a 2 b 4 c", ":2\r\n"),
        ("zadd z nx 9 a", ":0\r\n"),
        ("zadd z xx 9 new", ":0\r\n"),
        ("zadd z gt 1 a", ":0\r\n"),
        ("zadd z lt ch 1 a", ":1\r\n"),
        ("zscore z a", "$1\r\n1\r\n"),
        ("zadd z incr 0.1 a", "$18\r\n1.1000000000000001\r\n"),
        ("zincrby z 2 b", "$1\r\n4\r\n"),
        ("zadd z nx incr 1 a", NIL),
        ("zcard z", ":3\r\n"),
        (
            "zadd z 1",
            "-ERR wrong number of arguments for 'zadd' command\r\n",
        ),
        ("zadd z nx 1", "-ERR syntax error\r\n"),
        (
            "zadd z nx xx 1 a",
            "-ERR XX and NX options at the same time are not compatible\r\n",
        ),
        (
            "zadd z gt lt 1 a",
            "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n",
        ),
        (
            "zadd z incr 1 a 2 b",
            "-ERR INCR option supports a single increment-element pair\r\n",
        ),
        ("zadd z x a", "-ERR value is not a valid float\r\n"),
        ("zadd z nan a", "-ERR value is not a valid float\r\n"),
        ("zadd z inf i -inf j", ":2\r\n"),
        (
            "zadd z incr -inf i",
            "-ERR resulting score is not a number (NaN)\r\n",
        ),
        ("zpopmin z", "*2\r\n$1\r\nj\r\n$4\r\n-inf\r\n"),
        // Equal scores order by member: c comes before b from the top.
        (
            "zpopmax z 2",
            "*4\r\n$1\r\ni\r\n$3\r\ninf\r\n$1\r\nc\r\n$1\r\n4\r\n",
        ),
        ("zrem z a b x", ":2\r\n"),
        ("exists z", ":0\r\n"),
        ("zpopmin z", "*0\r\n"),
        ("zscore z a", NIL),
    ]);
}

/// Runs `words` for `client` and returns (reply, action).
fn run_as(server: &mut Server, client: &mut Client, now: u64, words: &[&str]) -> (String, Action) {
    let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
    let mut out = Vec::new();
    let action = server.execute(client, &args, now, &mut out);
    (String::from_utf8(out).unwrap(), action)
}

#[test]
fn watch_makes_exec_fail_when_a_watched_key_changed() {
    let mut server = Server::new();
    let mut a = Client {
        id: 1,
        ..Client::default()
    };
    let mut b = Client {
        id: 2,
        ..Client::default()
    };
    let now = 1_700_000_000_000;
    let mut run = |c: &mut Client, w: &[&str]| run_as(&mut server, c, now, w).0;
    assert_eq!(run(&mut a, &["watch", "k", "other"]), OK);
    assert_eq!(run(&mut b, &["set", "k", "1"]), OK);
    assert_eq!(run(&mut a, &["multi"]), OK);
    assert_eq!(
        run(&mut a, &["watch", "x"]),
        "-ERR WATCH inside MULTI is not allowed\r\n"
    );
    assert_eq!(run(&mut a, &["incr", "k"]), "+QUEUED\r\n");
    assert_eq!(run(&mut a, &["exec"]), "*-1\r\n");
    assert_eq!(run(&mut a, &["get", "k"]), "$1\r\n1\r\n");
    // Unchanged: EXEC runs. A change in another database is another key.
    assert_eq!(run(&mut a, &["watch", "k"]), OK);
    assert_eq!(run(&mut b, &["select", "1"]), OK);
    assert_eq!(run(&mut b, &["set", "k", "9"]), OK);
    assert_eq!(run(&mut a, &["multi"]), OK);
    assert_eq!(run(&mut a, &["incr", "k"]), "+QUEUED\r\n");
    assert_eq!(run(&mut a, &["exec"]), "*1\r\n:2\r\n");
    // A flush of the database touches it; UNWATCH forgets it.
    assert_eq!(run(&mut a, &["watch", "k"]), OK);
    assert_eq!(run(&mut b, &["flushall"]), OK);
    assert_eq!(run(&mut a, &["multi"]), OK);
    assert_eq!(run(&mut a, &["exec"]), "*-1\r\n");
    assert_eq!(run(&mut a, &["watch", "k"]), OK);
    assert_eq!(run(&mut b, &["select", "0"]), OK);
    assert_eq!(run(&mut b, &["set", "k", "3"]), OK);
    assert_eq!(run(&mut a, &["unwatch"]), OK);
    assert_eq!(run(&mut a, &["multi"]), OK);
    assert_eq!(run(&mut a, &["exec"]), "*0\r\n");
}

#[test]
fn blocking_pops_take_what_is_there_or_block_until_their_deadline() {
    let mut server = Server::new();
    let mut c = Client {
        id: 1,
        ..Client::default()
    };
    let now = 1_700_000_000_000;
    let mut run = |w: &[&str]| run_as(&mut server, &mut c, now, w);
    assert_eq!(
        run(&["blpop", "a", "b", "1.5"]).1,
        Action::Block {
            deadline_ms: Some(now + 1500)
        }
    );
    assert_eq!(
        run(&["brpop", "a", "0"]).1,
        Action::Block { deadline_ms: None }
    );
    assert_eq!(run(&["blpop", "a", "-1"]).0, "-ERR timeout is negative\r\n");
    assert_eq!(
        run(&["blpop", "a", "x"]).0,
        "-ERR timeout is not a float or out of range\r\n"
    );
    assert_eq!(run(&["rpush", "b", "1", "2"]).0, ":2\r\n");
    assert_eq!(
        run(&["blpop", "a", "b", "0"]).0,
        "*2\r\n$1\r\nb\r\n$1\r\n1\r\n"
    );
    assert_eq!(run(&["brpop", "b", "0"]).0, "*2\r\n$1\r\nb\r\n$1\r\n2\r\n");
    assert_eq!(run(&["set", "s", "v"]).0, OK);
    assert_eq!(
        run(&["blpop", "a", "s", "0"]).0,
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(run(&["zadd", "z", "1", "m", "2", "n"]).0, ":2\r\n");
    assert_eq!(
        run(&["bzpopmax", "y", "z", "0"]).0,
        "*3\r\n$1\r\nz\r\n$1\r\nn\r\n$1\r\n2\r\n"
    );
    // In a transaction they answer at once, as at a timeout.
    assert_eq!(run(&["multi"]).0, OK);
    assert_eq!(run(&["blpop", "a", "0"]).0, "+QUEUED\r\n");
    assert_eq!(run(&["exec"]).0, "*1\r\n*-1\r\n");
}

#[test]
fn over_maxmemory_writes_that_grow_are_refused_and_the_rest_go_on() {
    let mut server = Server::new();
    let mut c = Client {
        id: 1,
        ..Client::default()
    };
    let now = 1_700_000_000_000;
    assert_eq!(run_as(&mut server, &mut c, now, &["set", "k", "v"]).0, OK);
    assert_eq!(
        run_as(
            &mut server,
            &mut c,
            now,
            &["config", "set", "maxmemory", "1000"]
        )
        .0,
        OK
    );
    server.memory_used = 2000;
    let oom = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";
    let mut run = |w: &[&str]| run_as(&mut server, &mut c, now, w).0;
    assert_eq!(run(&["set", "x", "1"]), oom);
    assert_eq!(run(&["rpush", "l", "1"]), oom);
    assert_eq!(run(&["get", "k"]), "$1\r\nv\r\n");
    assert_eq!(run(&["expire", "k", "100"]), ":1\r\n");
    assert_eq!(run(&["del", "k"]), ":1\r\n");
    assert_eq!(run(&["multi"]), OK);
    assert_eq!(run(&["set", "x", "1"]), oom);
    assert_eq!(
        run(&["exec"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
}

#[test]
fn save_is_refused_without_a_disk_and_lastsave_follows_it_with_one() {
    let mut server = Server::new();
    let mut c = Client {
        id: 1,
        ..Client::default()
    };
    let now = 1_700_000_000_000;
    assert_eq!(
        run_as(&mut server, &mut c, now, &["save"]).0,
        "-ERR kv runs without a disk: start it with one (--disk) to save\r\n"
    );
    server.persistence.durability = server::Durability::Durable;
    assert_eq!(
        run_as(&mut server, &mut c, now + 5000, &["bgsave"]).0,
        "+Background saving started\r\n"
    );
    assert!(core::mem::take(&mut server.sync_requested));
    assert_eq!(run_as(&mut server, &mut c, now + 9000, &["save"]).0, OK);
    assert_eq!(
        run_as(&mut server, &mut c, now + 9500, &["lastsave"]).0,
        ":1700000009\r\n"
    );
    assert_eq!(
        run_as(&mut server, &mut c, now, &["bgsave", "x"]).0,
        "-ERR syntax error\r\n"
    );
}

#[test]
fn expiretime_of_the_farthest_expiry_rounds_as_redis_does() {
    let mut s = Session::new();
    s.expect(&[
        ("set k v", OK),
        ("pexpireat k 9223372036854775807", ":1\r\n"),
        ("expiretime k", ":9223372036854776\r\n"),
        ("pexpiretime k", ":9223372036854775807\r\n"),
    ]);
}
