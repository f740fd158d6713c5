//! `server`'s commands against replies written down from Redis 7.0.15 (`redis-server` run
//! natively), byte for byte where the reply is Redis's own; and the cursor guarantee of
//! the `SCAN` family under changes, the client registry, `INFO`'s contents and `COMMAND`'s
//! agreement with Redis's own description of each command.

use crate::reads::tests::Session;
use crate::{Client, Server};
use alloc::vec::Vec;
use std::collections::{BTreeMap, BTreeSet};
use std::string::String;

#[test]
fn object_encodings_refcounts_and_help() {
    // OBJECT: each encoding at Redis 7.0's thresholds (and CONFIG's), shared integers,
    // FREQ and IDLETIME refused or answered by the maxmemory policy.
    Session::new().expect(&[
        ("set i 12345", "+OK\r\n"),
        ("set neg -5", "+OK\r\n"),
        ("set big 12345678901234567890", "+OK\r\n"),
        ("set z0 -0", "+OK\r\n"),
        ("set lead 007", "+OK\r\n"),
        ("set e 01234567890123456789012345678901234567890123", "+OK\r\n"),
        ("set r 012345678901234567890123456789012345678901234", "+OK\r\n"),
        ("set f 1.5", "+OK\r\n"),
        ("object encoding i", "$3\r\nint\r\n"),
        ("object encoding neg", "$3\r\nint\r\n"),
        ("object encoding big", "$6\r\nembstr\r\n"),
        ("object encoding z0", "$6\r\nembstr\r\n"),
        ("object encoding lead", "$6\r\nembstr\r\n"),
        ("object encoding e", "$6\r\nembstr\r\n"),
        ("object encoding r", "$3\r\nraw\r\n"),
        ("object encoding f", "$6\r\nembstr\r\n"),
        ("object refcount i", ":1\r\n"),
        ("object refcount neg", ":1\r\n"),
        ("object refcount f", ":1\r\n"),
        ("set small 9999", "+OK\r\n"),
        ("object refcount small", ":2147483647\r\n"),
        ("set ten 10000", "+OK\r\n"),
        ("object refcount ten", ":1\r\n"),
        ("rpush l a", ":1\r\n"),
        ("object encoding l", "$9\r\nquicklist\r\n"),
        ("hset h f v", ":1\r\n"),
        ("object encoding h", "$8\r\nlistpack\r\n"),
        ("hset h long 01234567890123456789012345678901234567890123456789012345678901234", ":1\r\n"),
        ("object encoding h", "$9\r\nhashtable\r\n"),
        ("hset h2 f 0123456789012345678901234567890123456789012345678901234567890123", ":1\r\n"),
        ("object encoding h2", "$8\r\nlistpack\r\n"),
        ("sadd s 1 2 3", ":3\r\n"),
        ("object encoding s", "$6\r\nintset\r\n"),
        ("sadd s2 a", ":1\r\n"),
        ("object encoding s2", "$9\r\nhashtable\r\n"),
        ("sadd s3 -1 007", ":2\r\n"),
        ("object encoding s3", "$9\r\nhashtable\r\n"),
        ("zadd z 1 a", ":1\r\n"),
        ("object encoding z", "$8\r\nlistpack\r\n"),
        ("zadd z2 1 01234567890123456789012345678901234567890123456789012345678901234", ":1\r\n"),
        ("object encoding z2", "$8\r\nskiplist\r\n"),
        ("object refcount l", ":1\r\n"),
        ("object encoding nokey", "$-1\r\n"),
        ("object refcount nokey", "$-1\r\n"),
        ("object freq nokey", "$-1\r\n"),
        ("object idletime nokey", "$-1\r\n"),
        ("object freq i", "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"),
        ("object idletime i", ":0\r\n"),
        ("object", "-ERR wrong number of arguments for 'object' command\r\n"),
        ("object encoding", "-ERR wrong number of arguments for 'object|encoding' command\r\n"),
        ("object encoding a b", "-ERR wrong number of arguments for 'object|encoding' command\r\n"),
        ("object nosuch", "-ERR unknown subcommand 'nosuch'. Try OBJECT HELP.\r\n"),
        ("object help", "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n+    Return the idle time of the <key>, that is the approximated number of\r\n+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n"),
        ("object help x", "-ERR wrong number of arguments for 'object|help' command\r\n"),
        ("OBJECT Help", "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n+    Return the idle time of the <key>, that is the approximated number of\r\n+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n"),
        ("config set maxmemory-policy allkeys-lfu", "+OK\r\n"),
        ("object freq nokey", "$-1\r\n"),
        ("object idletime i", "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"),
        ("config set maxmemory-policy noeviction", "+OK\r\n"),
        ("config set set-max-intset-entries 2", "+OK\r\n"),
        ("sadd s4 1 2 3", ":3\r\n"),
        ("object encoding s4", "$9\r\nhashtable\r\n"),
        ("sadd s5 1 2", ":2\r\n"),
        ("object encoding s5", "$6\r\nintset\r\n"),
        ("config set set-max-intset-entries 512", "+OK\r\n"),
        ("config set zset-max-listpack-entries 0", "+OK\r\n"),
        ("zadd z3 1 a", ":1\r\n"),
        ("object encoding z3", "$8\r\nskiplist\r\n"),
        ("config set zset-max-listpack-entries 128", "+OK\r\n"),
        ("config set hash-max-listpack-value 2", "+OK\r\n"),
        ("hset h3 f abc", ":1\r\n"),
        ("object encoding h3", "$9\r\nhashtable\r\n"),
        ("config set hash-max-ziplist-value 64", "+OK\r\n"),
        ("config set maxmemory 1gb", "+OK\r\n"),
        ("config set maxmemory-policy allkeys-lru", "+OK\r\n"),
        ("set shared 5", "+OK\r\n"),
        ("object refcount shared", ":1\r\n"),
        ("config set maxmemory 0", "+OK\r\n"),
        ("config set maxmemory-policy noeviction", "+OK\r\n"),
    ]);
}

#[test]
fn config_get_set_and_errors() {
    // CONFIG GET and SET: names, aliases, units, ranges, enums, all-or-nothing, errors.
    Session::new().expect(&[
        ("config get maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"),
        ("config get MAXMEMORY", "*2\r\n$9\r\nMAXMEMORY\r\n$1\r\n0\r\n"),
        ("config get maxmemory maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"),
        ("config get maxmemory MAXMEMORY", "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"),
        ("config get nosuch", "*0\r\n"),
        ("config get databases", "*2\r\n$9\r\ndatabases\r\n$2\r\n16\r\n"),
        ("config get hash-max-ziplist-entries", "*2\r\n$24\r\nhash-max-ziplist-entries\r\n$3\r\n512\r\n"),
        ("config get MAXMEMORY-P*", "*2\r\n$16\r\nmaxmemory-policy\r\n$10\r\nnoeviction\r\n"),
        ("config set maxmemory 1mb", "+OK\r\n"),
        ("config get maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n"),
        ("config set maxmemory 2KB", "+OK\r\n"),
        ("config get maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$4\r\n2048\r\n"),
        ("config set maxmemory 3g", "+OK\r\n"),
        ("config get maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$10\r\n3000000000\r\n"),
        ("config set maxmemory \"\"", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"),
        ("config get maxmemory", "*2\r\n$9\r\nmaxmemory\r\n$10\r\n3000000000\r\n"),
        ("config set maxmemory -1", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"),
        ("config set maxmemory 1x", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"),
        ("config set maxmemory-policy ALLKEYS-LRU", "+OK\r\n"),
        ("config get maxmemory-policy", "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"),
        ("config set maxmemory-policy foo", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n"),
        ("config set timeout 010", "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer\r\n"),
        ("config set timeout -1", "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive\r\n"),
        ("config set timeout 2147483648", "-ERR CONFIG SET failed (possibly related to argument 'timeout') - argument must be between 0 and 2147483647 inclusive\r\n"),
        ("config set timeout 300", "+OK\r\n"),
        ("config get timeout", "*2\r\n$7\r\ntimeout\r\n$3\r\n300\r\n"),
        ("config set hz 100 maxmemory 10", "+OK\r\n"),
        ("config get hz", "*2\r\n$2\r\nhz\r\n$3\r\n100\r\n"),
        ("config set hz 5 maxmemory x", "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"),
        ("config get hz", "*2\r\n$2\r\nhz\r\n$3\r\n100\r\n"),
        ("config set maxmemory 1 MAXMEMORY 2", "-ERR CONFIG SET failed (possibly related to argument 'MAXMEMORY') - duplicate parameter\r\n"),
        ("config set hash-max-ziplist-entries 3 hash-max-listpack-entries 4", "+OK\r\n"),
        ("config set nosuch 1", "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"),
        ("config set timeout 1 nosuch 1", "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"),
        ("config set databases 16", "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n"),
        ("config set databases 16 nosuch 2", "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n"),
        ("config set protected-mode maybe", "-ERR CONFIG SET failed (possibly related to argument 'protected-mode') - argument must be 'yes' or 'no'\r\n"),
        ("config set protected-mode NO", "+OK\r\n"),
        ("config get protected-mode", "*2\r\n$14\r\nprotected-mode\r\n$2\r\nno\r\n"),
        ("config set protected-mode yes", "+OK\r\n"),
        ("config set hash-max-listpack-entries -1", "-ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - argument must be between 0 and 9223372036854775807 inclusive\r\n"),
        ("config set set-max-intset-entries x", "-ERR CONFIG SET failed (possibly related to argument 'set-max-intset-entries') - argument couldn't be parsed into an integer\r\n"),
        ("config set maxclients 0", "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive\r\n"),
        ("config set slowlog-log-slower-than -2", "-ERR CONFIG SET failed (possibly related to argument 'slowlog-log-slower-than') - argument must be between -1 and 9223372036854775807 inclusive\r\n"),
        ("config set list-max-listpack-size -5", "+OK\r\n"),
        ("config get list-max-ziplist-size", "*2\r\n$21\r\nlist-max-ziplist-size\r\n$2\r\n-5\r\n"),
        ("config set appendonly no", "+OK\r\n"),
        ("config set maxmemory", "-ERR wrong number of arguments for 'config|set' command\r\n"),
        ("config set maxmemory 1 2", "-ERR syntax error\r\n"),
        ("config get", "-ERR wrong number of arguments for 'config|get' command\r\n"),
        ("config resetstat", "+OK\r\n"),
        ("config resetstat x", "-ERR wrong number of arguments for 'config|resetstat' command\r\n"),
        ("config rewrite", "-ERR The server is running without a config file\r\n"),
        ("config nosuch", "-ERR unknown subcommand 'nosuch'. Try CONFIG HELP.\r\n"),
        ("config help", "*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+GET <pattern>\r\n+    Return parameters matching the glob-like <pattern> and their values.\r\n+SET <directive> <value>\r\n+    Set the configuration <directive> to <value>.\r\n+RESETSTAT\r\n+    Reset statistics reported by the INFO command.\r\n+REWRITE\r\n+    Rewrite the configuration file.\r\n+HELP\r\n+    Prints this help.\r\n"),
        ("config set loglevel warning", "+OK\r\n"),
        ("config get loglevel", "*2\r\n$8\r\nloglevel\r\n$7\r\nwarning\r\n"),
        ("config set loglevel bogus", "-ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning\r\n"),
        ("config set maxmemory 0", "+OK\r\n"),
        ("config set hz 10", "+OK\r\n"),
        ("config set timeout 0", "+OK\r\n"),
        ("config set list-max-listpack-size -2", "+OK\r\n"),
        ("config set loglevel notice", "+OK\r\n"),
        ("config set maxmemory-policy noeviction", "+OK\r\n"),
    ]);
}

#[test]
fn scan_family_errors_and_small_collections() {
    // SCAN's errors; small collections come back whole with cursor 0, in Redis's order.
    Session::new().expect(&[
        ("scan x", "-ERR invalid cursor\r\n"),
        ("scan 0 count 0", "-ERR syntax error\r\n"),
        ("scan 0 count -1", "-ERR syntax error\r\n"),
        ("scan 0 count x", "-ERR value is not an integer or out of range\r\n"),
        ("scan 0 match", "-ERR syntax error\r\n"),
        ("scan 0 bogus 1", "-ERR syntax error\r\n"),
        ("scan 0 type", "-ERR syntax error\r\n"),
        ("scan -1x", "-ERR invalid cursor\r\n"),
        ("scan \" 1\"", "-ERR invalid cursor\r\n"),
        ("scan 18446744073709551616", "-ERR invalid cursor\r\n"),
        ("scan 0 match * count 10 type string", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("sadd s 1 2 3", ":3\r\n"),
        ("sscan s 0", "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
        ("sscan s 0 match 2", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\n2\r\n"),
        ("sscan s 0 count 1", "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
        ("sscan s x", "-ERR invalid cursor\r\n"),
        ("sscan s 0 count 0", "-ERR syntax error\r\n"),
        ("sscan s 0 type string", "-ERR syntax error\r\n"),
        ("sscan nokey 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("sscan nokey 0 count 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("sscan nokey x", "-ERR invalid cursor\r\n"),
        ("set str v", "+OK\r\n"),
        ("sscan str 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("sscan str 0 count 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("sscan str x", "-ERR invalid cursor\r\n"),
        ("hset h f1 v1 f2 v2 a b", ":3\r\n"),
        ("hscan h 0", "*2\r\n$1\r\n0\r\n*6\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("hscan h 0 match f*", "*2\r\n$1\r\n0\r\n*4\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$2\r\nv2\r\n"),
        ("hscan h 0 novalues", "-ERR syntax error\r\n"),
        ("hscan str 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("hscan nokey 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("zadd z 2 b 1 a 3 c", ":3\r\n"),
        ("zscan z 0", "*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"),
        ("zscan z 0 match b", "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"),
        ("zscan z 0 count 1", "*2\r\n$1\r\n0\r\n*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"),
        ("zscan str 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zscan nokey 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("zadd zf 0.1 x -0 y inf z", ":3\r\n"),
        ("zscan zf 0", "*2\r\n$1\r\n0\r\n*6\r\n$1\r\ny\r\n$1\r\n0\r\n$1\r\nx\r\n$19\r\n0.10000000000000001\r\n$1\r\nz\r\n$3\r\ninf\r\n"),
        ("sscan", "-ERR wrong number of arguments for 'sscan' command\r\n"),
        ("sscan s", "-ERR wrong number of arguments for 'sscan' command\r\n"),
        ("hscan h", "-ERR wrong number of arguments for 'hscan' command\r\n"),
    ]);
}

/// The bulk strings of an array reply, nested arrays flattened.
fn items(reply: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = reply.split("\r\n");
    while let Some(line) = lines.next() {
        if line.starts_with('$') && line != "$-1" {
            out.push(String::from(lines.next().unwrap()));
        }
    }
    out
}

/// A bulk string reply's text.
fn bulk(reply: &str) -> String {
    let (_, rest) = reply.split_once("\r\n").unwrap();
    let text = rest.strip_suffix("\r\n");
    String::from(text.unwrap_or_else(|| panic!("not a bulk string: {reply:?}")))
}

#[test]
fn hello_speaks_resp2_only() {
    let mut s = Session::new();
    s.client.id = 7;
    let hello = "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n\
                 $5\r\nproto\r\n:2\r\n$2\r\nid\r\n:7\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
                 $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
    s.expect(&[
        ("hello", hello),
        ("hello 2", hello),
        ("HELLO 2 AUTH default anything SETNAME conn1", hello),
        ("client getname", "$5\r\nconn1\r\n"),
        ("hello 3", "-NOPROTO unsupported protocol version\r\n"),
        ("hello 1", "-NOPROTO unsupported protocol version\r\n"),
        (
            "hello x",
            "-ERR Protocol version is not an integer or out of range\r\n",
        ),
        (
            "hello 2 auth foo pw",
            "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
        ),
        (
            "hello 2 auth default",
            "-ERR Syntax error in HELLO option 'auth'\r\n",
        ),
        (
            "hello 2 bogus",
            "-ERR Syntax error in HELLO option 'bogus'\r\n",
        ),
        (
            "hello 2 setname",
            "-ERR Syntax error in HELLO option 'setname'\r\n",
        ),
        (
            "hello 2 setname a\u{7f}b",
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
        ),
        // The name is set before a later option fails, as in Redis.
        (
            "hello 2 setname n2 bogus",
            "-ERR Syntax error in HELLO option 'bogus'\r\n",
        ),
        ("client getname", "$2\r\nn2\r\n"),
    ]);
}

#[test]
fn client_names_ids_and_errors() {
    let mut s = Session::new();
    s.client.id = 3;
    s.expect(&[
        ("client id", ":3\r\n"),
        ("client getname", "$-1\r\n"),
        ("client setname myname", "+OK\r\n"),
        ("CLIENT GETNAME", "$6\r\nmyname\r\n"),
        ("client setname ", "+OK\r\n"),
        ("client getname", "$-1\r\n"),
        (
            "client setname a\tb",
            "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
        ),
        (
            "client",
            "-ERR wrong number of arguments for 'client' command\r\n",
        ),
        (
            "client id x",
            "-ERR wrong number of arguments for 'client|id' command\r\n",
        ),
        (
            "client getname x",
            "-ERR wrong number of arguments for 'client|getname' command\r\n",
        ),
        (
            "client setname",
            "-ERR wrong number of arguments for 'client|setname' command\r\n",
        ),
        (
            "client nosuch",
            "-ERR unknown subcommand 'nosuch'. Try CLIENT HELP.\r\n",
        ),
        (
            "Client setinfo lib-name x",
            "-ERR unknown subcommand 'setinfo'. Try CLIENT HELP.\r\n",
        ),
        ("client list type", "-ERR syntax error\r\n"),
        ("client list bogus", "-ERR syntax error\r\n"),
        ("client list type foo", "-ERR Unknown client type 'foo'\r\n"),
        ("client list type pubsub", "$0\r\n\r\n"),
        ("client list id 1 x", "-ERR Invalid client ID\r\n"),
        ("client list id 999", "$0\r\n\r\n"),
    ]);
    let help = s.run(&["client", "help"]);
    assert!(
        help.starts_with("*15\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]."),
        "{help}"
    );
    assert!(
        help.ends_with("+HELP\r\n+    Prints this help.\r\n"),
        "{help}"
    );
}

#[test]
fn client_list_shows_the_registry() {
    let mut server = Server::new();
    let t0 = 1_700_000_000_000;
    server.start(6380, t0);
    server.connect(1, "10.0.2.2:40000", t0);
    server.connect(2, "10.0.2.2:40001", t0 + 1000);
    let mut one = Client {
        id: 1,
        ..Client::default()
    };
    let mut two = Client {
        id: 2,
        ..Client::default()
    };
    let run = |server: &mut Server, c: &mut Client, now: u64, words: &[&str]| {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let mut out = Vec::new();
        server.execute(c, &args, now, &mut out);
        String::from_utf8(out).unwrap()
    };
    run(&mut server, &mut two, t0 + 2000, &["select", "3"]);
    run(
        &mut server,
        &mut two,
        t0 + 2000,
        &["client", "setname", "worker"],
    );
    run(&mut server, &mut two, t0 + 2000, &["multi"]);
    run(&mut server, &mut two, t0 + 2000, &["get", "k"]);
    let reply = run(&mut server, &mut one, t0 + 5000, &["client", "list"]);
    let list = bulk(&reply);
    let rest = "qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 \
                tot-mem=0 events=r";
    assert_eq!(
        list,
        format!(
            "id=1 addr=10.0.2.2:40000 laddr=0.0.0.0:6380 fd=-1 name= age=5 idle=0 flags=N \
             db=0 sub=0 psub=0 ssub=0 multi=-1 {rest} cmd=client|list user=default redir=-1 \
             resp=2\n\
             id=2 addr=10.0.2.2:40001 laddr=0.0.0.0:6380 fd=-1 name=worker age=4 idle=3 \
             flags=x db=3 sub=0 psub=0 ssub=0 multi=1 {rest} cmd=get user=default redir=-1 \
             resp=2\n"
        )
    );
    let only_two = bulk(&run(
        &mut server,
        &mut one,
        t0 + 5000,
        &["client", "list", "id", "2", "9"],
    ));
    assert!(only_two.starts_with("id=2 ") && only_two.matches('\n').count() == 1);
    run(&mut server, &mut two, t0 + 6000, &["discard"]);
    let info = bulk(&run(&mut server, &mut two, t0 + 6000, &["client", "info"]));
    assert!(info.starts_with("id=2 addr=10.0.2.2:40001 "), "{info}");
    assert!(info.contains(" cmd=client|info "), "{info}");
    server.disconnect(2);
    let list = bulk(&run(&mut server, &mut one, t0 + 7000, &["client", "list"]));
    assert_eq!(list.lines().count(), 1);
    let stats = bulk(&run(&mut server, &mut one, t0 + 7000, &["info", "stats"]));
    assert!(
        stats.contains("total_connections_received:2\r\n"),
        "{stats}"
    );
    assert!(stats.contains("total_commands_processed:9\r\n"), "{stats}");
}

#[test]
fn command_describes_each_command_as_redis_does() {
    let mut s = Session::new();
    let wrong = super::introspect::arity_mismatches();
    assert!(
        wrong.is_empty(),
        "arities that differ from Redis's: {wrong:?}"
    );
    let count: usize = s.run(&["command", "count"])[1..].trim().parse().unwrap();
    assert_eq!(count, crate::commands().count());
    let all = s.run(&["command"]);
    assert!(
        all.starts_with(&format!("*{count}\r\n*10\r\n")),
        "{}",
        &all[..40]
    );
    // As Redis 7.0.15 answers, without the key specs (the ninth field).
    s.expect(&[
        (
            "command info get nosuch CLIENT|ID",
            "*3\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
             *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n$-1\r\n\
             *10\r\n$9\r\nclient|id\r\n:2\r\n*3\r\n+noscript\r\n+loading\r\n+stale\r\n\
             :0\r\n:0\r\n:0\r\n*2\r\n+@slow\r\n+@connection\r\n*0\r\n*0\r\n*0\r\n",
        ),
        (
            "command docs get nosuch client|id",
            "*4\r\n$3\r\nget\r\n*8\r\n$7\r\nsummary\r\n$22\r\nGet the value of a key\r\n\
             $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$6\r\nstring\r\n\
             $10\r\ncomplexity\r\n$4\r\nO(1)\r\n\
             $9\r\nclient|id\r\n*8\r\n$7\r\nsummary\r\n\
             $48\r\nReturns the client ID for the current connection\r\n$5\r\nsince\r\n\
             $5\r\n5.0.0\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n$10\r\ncomplexity\r\n\
             $4\r\nO(1)\r\n",
        ),
        ("command list filterby", "-ERR syntax error\r\n"),
        ("command list foo", "-ERR syntax error\r\n"),
        ("command list filterby foo x", "-ERR syntax error\r\n"),
        ("command list filterby module x", "*0\r\n"),
        (
            "command count x",
            "-ERR wrong number of arguments for 'command|count' command\r\n",
        ),
        (
            "command nosuch",
            "-ERR unknown subcommand 'nosuch'. Try COMMAND HELP.\r\n",
        ),
    ]);
    let info = items(&s.run(&["command", "info", "client"]));
    for sub in [
        "client|id",
        "client|getname",
        "client|setname",
        "client|list",
        "client|info",
    ] {
        assert!(info.iter().any(|i| i == sub), "{sub} in {info:?}");
    }
    let names = items(&s.run(&["command", "list", "filterby", "pattern", "client*"]));
    assert!(names.contains(&String::from("client|list")), "{names:?}");
    assert!(names.iter().all(|n| n.starts_with("client")), "{names:?}");
    let sorted = items(&s.run(&["command", "list", "filterby", "aclcat", "sortedset"]));
    assert!(sorted.contains(&String::from("zrange")) && !sorted.contains(&String::from("get")));
    // Every command has the docs redis-cli needs (a summary, a version and a group).
    let docs = s.run(&["command", "docs"]);
    let fields = items(&docs);
    assert_eq!(
        fields.iter().filter(|f| *f == "summary").count(),
        count + 6 + 5 + 5 + 5,
        "every command and subcommand"
    );
}

#[test]
fn info_sections() {
    let mut s = Session::new();
    s.server.start(6379, s.now - 90_061_000);
    s.run(&["set", "a", "1"]);
    s.run(&["set", "b", "2", "ex", "100"]);
    s.run(&["select", "2"]);
    s.run(&["rpush", "l", "x"]);
    let all = bulk(&s.run(&["info"]));
    let headings: Vec<&str> = all.lines().filter(|l| l.starts_with('#')).collect();
    assert_eq!(
        headings,
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    assert!(all.contains("\r\n\r\n# Clients\r\n"));
    assert!(all.contains("redis_version:7.0.15\r\n"));
    assert!(all.contains("server_name:kv\r\n"));
    assert!(
        all.contains("uptime_in_seconds:90061\r\nuptime_in_days:1\r\n"),
        "{all}"
    );
    assert!(all.contains("connected_clients:1\r\n"));
    assert!(all.contains("aof_enabled:0\r\n"));
    assert!(all.ends_with(
        "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\ndb2:keys=1,expires=0,avg_ttl=0\r\n"
    ));
    assert_eq!(
        bulk(&s.run(&["info", "CLUSTER"])),
        "# Cluster\r\ncluster_enabled:0\r\n"
    );
    assert_eq!(
        bulk(&s.run(&["info", "cluster", "keyspace"])),
        "# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n\
         db0:keys=2,expires=1,avg_ttl=0\r\ndb2:keys=1,expires=0,avg_ttl=0\r\n"
    );
    assert_eq!(s.run(&["info", "nosuch"]), "$0\r\n\r\n");
    let everything = bulk(&s.run(&["info", "everything"]));
    assert!(everything.contains("# Commandstats\r\n") && everything.contains("# Latencystats\r\n"));
    s.server.persistence.durability = crate::server::Durability::Durable;
    s.server.write_error = Some(String::from("MISCONF"));
    let persistence = bulk(&s.run(&["info", "persistence"]));
    assert!(persistence.contains("aof_enabled:1\r\n"));
    assert!(persistence.contains("aof_last_write_status:err\r\n"));
    s.expect(&[
        (
            "config get appendonly appendfsync",
            "*4\r\n$10\r\nappendonly\r\n$3\r\nyes\r\n$11\r\nappendfsync\r\n$6\r\nalways\r\n",
        ),
        ("config get port", "*2\r\n$4\r\nport\r\n$4\r\n6379\r\n"),
        (
            "config set appendonly no",
            "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - can't set \
             immutable config\r\n",
        ),
        ("config set appendonly yes", "+OK\r\n"),
    ]);
}

/// `CONFIG GET`'s pairs as a map (their order is Redis's hash table's).
fn pairs(reply: &str) -> BTreeMap<String, String> {
    let all = items(reply);
    all.chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

#[test]
fn config_get_globs() {
    let mut s = Session::new();
    let hash = pairs(&s.run(&["config", "get", "hash-max-*"]));
    assert_eq!(
        hash.keys().collect::<Vec<_>>(),
        [
            "hash-max-listpack-entries",
            "hash-max-listpack-value",
            "hash-max-ziplist-entries",
            "hash-max-ziplist-value"
        ]
    );
    let lazy = pairs(&s.run(&["config", "get", "LAZYFREE*", "lazyfree-lazy-expire"]));
    assert_eq!(lazy.len(), 5);
    assert!(lazy.values().all(|v| v == "no"));
    let both = pairs(&s.run(&["config", "get", "save", "*max-*-entries"]));
    assert_eq!(both.len(), 6, "{both:?}");
    assert_eq!(both["set-max-intset-entries"], "512");
    assert_eq!(both["save"], "");
}

#[test]
fn time_is_the_commands_clock() {
    let mut s = Session::new();
    s.now = 1_700_000_123_456;
    s.expect(&[
        ("time", "*2\r\n$10\r\n1700000123\r\n$6\r\n456000\r\n"),
        (
            "time x",
            "-ERR wrong number of arguments for 'time' command\r\n",
        ),
    ]);
}

#[test]
fn randomkey_picks_every_live_key() {
    let mut s = Session::new();
    s.expect(&[
        ("randomkey", "$-1\r\n"),
        (
            "randomkey x",
            "-ERR wrong number of arguments for 'randomkey' command\r\n",
        ),
    ]);
    for k in ["a", "b", "c"] {
        s.run(&["set", k, "v"]);
    }
    s.run(&["set", "gone", "v", "px", "10"]);
    s.now += 100;
    let seen: BTreeSet<String> = (0..100).map(|_| bulk(&s.run(&["randomkey"]))).collect();
    assert_eq!(seen, ["a", "b", "c"].map(String::from).into());
}

/// A full `SCAN`-style walk: every reply's elements, with `between` run between calls.
fn full_scan(
    s: &mut Session,
    command: &[&str],
    mut between: impl FnMut(&mut Session, usize),
) -> (Vec<String>, usize) {
    let mut cursor = String::from("0");
    let mut seen = Vec::new();
    let mut calls = 0;
    loop {
        let mut words: Vec<&str> = command.to_vec();
        words.insert(if command[0] == "scan" { 1 } else { 2 }, &cursor);
        let reply = s.run(&words);
        let all = items(&reply);
        cursor = all[0].clone();
        seen.extend(all[1..].iter().cloned());
        calls += 1;
        assert!(calls < 10_000, "the scan does not end");
        if cursor == "0" {
            return (seen, calls);
        }
        between(s, calls);
    }
}

#[test]
fn scan_returns_every_key_present_throughout() {
    let mut s = Session::new();
    // Keys that share long prefixes, as redis-benchmark's do.
    for i in 0..500 {
        s.run(&["set", &format!("key:{i:012}"), "v"]);
    }
    let (plain, calls) = full_scan(&mut s, &["scan", "count", "10"], |_, _| {});
    assert_eq!(plain.len(), 500);
    assert!(calls >= 50, "COUNT is honoured ({calls} calls)");
    // Between calls, delete keys the scan has passed and some it has not, and add more:
    // every key present from start to end comes back.
    let mut deleted = BTreeSet::new();
    let (seen, _) = full_scan(&mut s, &["scan", "count", "7"], |s, call| {
        for j in 0..3 {
            let victim = format!("key:{:012}", (call * 37 + j * 101) % 500);
            s.run(&["del", &victim]);
            deleted.insert(victim);
            s.run(&["set", &format!("new:{call}:{j}"), "v"]);
        }
    });
    let seen: BTreeSet<String> = seen.into_iter().collect();
    for i in 0..500 {
        let k = format!("key:{i:012}");
        assert!(
            deleted.contains(&k) || seen.contains(&k),
            "{k} was never returned"
        );
    }
    // Many scans at once wear out the remembered cursors: they still finish, whole.
    let mut cursors = Vec::new();
    for _ in 0..300 {
        cursors.push(items(&s.run(&["scan", "0", "count", "5"]))[0].clone());
    }
    let mut cursor = cursors[0].clone();
    let mut rest = BTreeSet::new();
    while cursor != "0" {
        let all = items(&s.run(&["scan", &cursor, "count", "5"]));
        cursor = all[0].clone();
        rest.extend(all[1..].iter().cloned());
    }
    let live = items(&s.run(&["keys", "*"]));
    let first = items(&s.run(&["scan", "0", "count", "5"]));
    for k in live {
        assert!(
            rest.contains(&k) || first[1..].contains(&k),
            "{k} missed after a stale cursor"
        );
    }
}

#[test]
fn scan_options_filter_each_batch() {
    let mut s = Session::new();
    for i in 0..30 {
        s.run(&["set", &format!("s{i}"), "v"]);
        s.run(&["rpush", &format!("l{i}"), "v"]);
    }
    s.run(&["set", "", "empty"]);
    let (lists, _) = full_scan(&mut s, &["scan", "type", "LIST"], |_, _| {});
    assert_eq!(lists.len(), 30);
    assert!(lists.iter().all(|k| k.starts_with('l')));
    let (matched, _) = full_scan(&mut s, &["scan", "match", "s1*", "count", "3"], |_, _| {});
    assert_eq!(matched.len(), 11);
    let (all, _) = full_scan(&mut s, &["scan", "match", "*"], |_, _| {});
    assert_eq!(all.len(), 61, "MATCH * takes the empty key too");
    let (none, _) = full_scan(&mut s, &["scan", "type", "nosuchtype"], |_, _| {});
    assert!(none.is_empty());
    // Any cursor is a place to resume from, even one never given out.
    let reply = s.run(&["scan", "18446744073709551615"]);
    assert!(reply.starts_with("*2\r\n"), "{reply}");
    assert!(s.run(&["scan", "-0"]).starts_with("*2\r\n"));
}

#[test]
fn big_collections_scan_in_batches() {
    let mut s = Session::new();
    let mut sadd = vec!["sadd", "s"];
    let members: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    sadd.extend(members.iter().map(String::as_str));
    s.run(&sadd);
    let (seen, calls) = full_scan(&mut s, &["sscan", "s", "count", "20"], |s, call| {
        s.run(&["sadd", "s", &format!("extra{call}")]);
    });
    let seen: BTreeSet<String> = seen.into_iter().collect();
    assert!(calls > 10);
    assert!(members.iter().all(|m| seen.contains(m)));
    for i in 0..600 {
        s.run(&["hset", "h", &format!("f{i}"), &format!("v{i}")]);
        s.run(&["zadd", "z", &format!("{i}"), &format!("m{i}")]);
    }
    let (fields, calls) = full_scan(&mut s, &["hscan", "h", "count", "50"], |_, _| {});
    assert!(calls > 5);
    let got: BTreeMap<String, String> = fields
        .chunks(2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect();
    assert_eq!(got.len(), 600);
    assert!(got.iter().all(|(f, v)| f[1..] == v[1..]));
    let (scored, _) = full_scan(&mut s, &["zscan", "z", "match", "m1?"], |_, _| {});
    assert_eq!(
        scored,
        (10..20)
            .flat_map(|i| [format!("m{i}"), format!("{i}")])
            .collect::<Vec<_>>()
    );
}

#[test]
fn scans_and_counts_skip_expired_keys() {
    let mut s = Session::new();
    for k in ["a", "b", "c"] {
        s.run(&["set", k, "v"]);
    }
    s.run(&["set", "soon", "v", "px", "50"]);
    s.run(&["set", "later", "v", "px", "500000"]);
    s.now += 100;
    let (keys, _) = full_scan(&mut s, &["scan", "count", "2"], |_, _| {});
    let keys: BTreeSet<String> = keys.into_iter().collect();
    assert_eq!(keys, ["a", "b", "c", "later"].map(String::from).into());
    let info = bulk(&s.run(&["info", "keyspace"]));
    assert_eq!(info, "# Keyspace\r\ndb0:keys=4,expires=1,avg_ttl=0\r\n");
}

#[test]
fn scans_over_long_keys_resume_by_their_hint() {
    let mut s = Session::new();
    let long = "x".repeat(300);
    for i in 0..50 {
        s.run(&["set", &format!("{long}{i:02}"), "v"]);
        s.run(&["set", &format!("k{i:02}"), "v"]);
    }
    let (keys, _) = full_scan(&mut s, &["scan", "count", "3"], |_, _| {});
    let keys: BTreeSet<String> = keys.into_iter().collect();
    assert_eq!(keys.len(), 100);
}
