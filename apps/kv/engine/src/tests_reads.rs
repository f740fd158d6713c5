//! `reads`' commands against replies written down from Redis 7.0.15 (`redis-server` run
//! natively, each script after a `FLUSHALL`): the reply bytes must match exactly.

use crate::{Client, Server};
use alloc::vec::Vec;
use std::string::String;

/// A server, a client and a fake clock.
pub(crate) struct Session {
    pub server: Server,
    pub client: Client,
    pub now: u64,
}

impl Session {
    pub fn new() -> Self {
        Self {
            server: Server::new(),
            client: Client::default(),
            now: 1_700_000_000_000,
        }
    }

    /// Runs a command given as words and returns its raw reply.
    pub fn run(&mut self, words: &[&str]) -> String {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let mut out = Vec::new();
        self.server
            .execute(&mut self.client, &args, self.now, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Runs each `(command, reply)` (words split at spaces) and checks the reply.
    pub fn expect(&mut self, script: &[(&str, &str)]) {
        for (line, want) in script {
            let words: Vec<&str> = line.split(' ').collect();
            assert_eq!(self.run(&words), *want, "{line}");
        }
    }
}

#[test]
fn lpos_ranks_counts_and_maxlen() {
    // LPOS: RANK from either end, COUNT 0 for all, MAXLEN, and Redis's error order.
    Session::new().expect(&[
        ("rpush l a b c 1 2 3 c c", ":8\r\n"),
        ("lpos l c", ":2\r\n"),
        ("lpos l c rank 2", ":6\r\n"),
        ("lpos l c rank -1", ":7\r\n"),
        ("lpos l c count 0", "*3\r\n:2\r\n:6\r\n:7\r\n"),
        ("lpos l c count 2 rank -2", "*2\r\n:6\r\n:2\r\n"),
        ("lpos l c maxlen 3", ":2\r\n"),
        ("lpos l c maxlen 2", "$-1\r\n"),
        ("lpos l c count 0 maxlen 7", "*2\r\n:2\r\n:6\r\n"),
        ("lpos l c rank -1 maxlen 2 count 0", "*2\r\n:7\r\n:6\r\n"),
        ("lpos l c RANK 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"),
        ("lpos l c count -1", "-ERR COUNT can't be negative\r\n"),
        ("lpos l c count x", "-ERR COUNT can't be negative\r\n"),
        ("lpos l c rank x", "-ERR value is not an integer or out of range\r\n"),
        ("lpos l c maxlen x", "-ERR MAXLEN can't be negative\r\n"),
        ("lpos l c bogus", "-ERR syntax error\r\n"),
        ("lpos l c rank", "-ERR syntax error\r\n"),
        ("lpos l", "-ERR wrong number of arguments for 'lpos' command\r\n"),
        ("lpos nokey c", "$-1\r\n"),
        ("lpos nokey c count 1", "*0\r\n"),
        ("lpos nokey c rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"),
        ("set s x", "+OK\r\n"),
        ("lpos s c", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("lpos s c rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n"),
        ("lpos s c count 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("lpos l c rank -9223372036854775808", ":7\r\n"),
        ("lpos l c rank -9223372036854775808 count 2", "*3\r\n:7\r\n:6\r\n:2\r\n"),
        ("lpos l c maxlen -1", "-ERR MAXLEN can't be negative\r\n"),
        ("lpos l zz count 0", "*0\r\n"),
        ("lpos l zz", "$-1\r\n"),
        ("lpos l c rank 9 count 1", "*0\r\n"),
        ("lpos l c rank 3 count 5", "*1\r\n:7\r\n"),
        ("lpos l c rank 9223372036854775807", "$-1\r\n"),
    ]);
}

#[test]
fn set_reads_and_random_picks() {
    // Set algebra (members sorted: Redis's order is its hash table's), SINTERCARD's
    // arguments, and the random commands where the answer is certain.
    Session::new().expect(&[
        ("sadd s1 a b c d 1 2", ":6\r\n"),
        ("sadd s2 c d e 2 3", ":5\r\n"),
        ("sadd s3 d 2 x", ":3\r\n"),
        ("set str v", "+OK\r\n"),
        ("smismember s1 a z c", "*3\r\n:1\r\n:0\r\n:1\r\n"),
        ("smismember nokey a b", "*2\r\n:0\r\n:0\r\n"),
        ("smismember str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("smismember s1", "-ERR wrong number of arguments for 'smismember' command\r\n"),
        ("sinter s1 s2", "*3\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\nd\r\n"),
        ("sinter s1 s2 s3", "*2\r\n$1\r\n2\r\n$1\r\nd\r\n"),
        ("sinter s1 nokey", "*0\r\n"),
        ("sinter nokey s1", "*0\r\n"),
        ("sinter s1 str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("sinter nokey str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("sinter s1", "*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"),
        ("sunion s1 s2", "*8\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"),
        ("sunion s1 nokey s3", "*7\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nx\r\n"),
        ("sunion nokey", "*0\r\n"),
        ("sunion s1 str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("sdiff s1 s2", "*3\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("sdiff s1 s2 s3", "*3\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("sdiff nokey s1", "*0\r\n"),
        ("sdiff s1 nokey", "*6\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"),
        ("sdiff s1 str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("sdiff str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("sdiff s1 s1", "*0\r\n"),
        ("sintercard 2 s1 s2", ":3\r\n"),
        ("sintercard 3 s1 s2 s3", ":2\r\n"),
        ("sintercard 2 s1 s2 limit 1", ":1\r\n"),
        ("sintercard 2 s1 s2 LIMIT 0", ":3\r\n"),
        ("sintercard 2 s1 s2 limit 10", ":3\r\n"),
        ("sintercard 2 s1 s2 limit -1", "-ERR LIMIT can't be negative\r\n"),
        ("sintercard 2 s1 s2 limit x", "-ERR LIMIT can't be negative\r\n"),
        ("sintercard 2 s1 s2 limit", "-ERR syntax error\r\n"),
        ("sintercard 2 s1 s2 bogus 1", "-ERR syntax error\r\n"),
        ("sintercard 0 s1", "-ERR numkeys should be greater than 0\r\n"),
        ("sintercard -1 s1", "-ERR numkeys should be greater than 0\r\n"),
        ("sintercard x s1", "-ERR numkeys should be greater than 0\r\n"),
        ("sintercard 3 s1 s2", "-ERR Number of keys can't be greater than number of args\r\n"),
        ("sintercard 1 nokey", ":0\r\n"),
        ("sintercard 2 s1 str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("sintercard 2 nokey str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("sintercard 1 s1 s2", "-ERR syntax error\r\n"),
        ("sintercard 9223372036854775807 s1", "-ERR Number of keys can't be greater than number of args\r\n"),
        ("srandmember nokey", "$-1\r\n"),
        ("srandmember nokey 5", "*0\r\n"),
        ("srandmember nokey -5", "*0\r\n"),
        ("srandmember nokey 0", "*0\r\n"),
        ("srandmember str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("srandmember str 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("srandmember s1 0", "*0\r\n"),
        ("srandmember s1 -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"),
        ("srandmember s1 x", "-ERR value is not an integer or out of range\r\n"),
        ("srandmember s1 1 2", "-ERR syntax error\r\n"),
        ("srandmember str x", "-ERR value is not an integer or out of range\r\n"),
        ("srandmember nokey x", "-ERR value is not an integer or out of range\r\n"),
        ("sadd one only", ":1\r\n"),
        ("srandmember one", "$4\r\nonly\r\n"),
        ("srandmember one 1", "*1\r\n$4\r\nonly\r\n"),
        ("srandmember one -3", "*3\r\n$4\r\nonly\r\n$4\r\nonly\r\n$4\r\nonly\r\n"),
        ("srandmember one 5", "*1\r\n$4\r\nonly\r\n"),
        ("hrandfield nokey", "$-1\r\n"),
        ("hrandfield nokey 3", "*0\r\n"),
        ("hrandfield nokey -3 withvalues", "*0\r\n"),
        ("hrandfield str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("hrandfield str 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("hrandfield nokey x", "-ERR value is not an integer or out of range\r\n"),
        ("hrandfield nokey 1 bogus", "-ERR syntax error\r\n"),
        ("hrandfield nokey 1 withvalues extra", "-ERR syntax error\r\n"),
        ("hrandfield nokey -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"),
        ("hrandfield nokey 4611686018427387904 withvalues", "-ERR value is out of range\r\n"),
        ("hrandfield nokey -4611686018427387904 withvalues", "-ERR value is out of range\r\n"),
        ("hrandfield nokey -4611686018427387903 withvalues", "*0\r\n"),
        ("hset h f v", ":1\r\n"),
        ("hrandfield h", "$1\r\nf\r\n"),
        ("hrandfield h 1", "*1\r\n$1\r\nf\r\n"),
        ("hrandfield h -2", "*2\r\n$1\r\nf\r\n$1\r\nf\r\n"),
        ("hrandfield h -2 WITHVALUES", "*4\r\n$1\r\nf\r\n$1\r\nv\r\n$1\r\nf\r\n$1\r\nv\r\n"),
        ("hrandfield h 5 withvalues", "*2\r\n$1\r\nf\r\n$1\r\nv\r\n"),
        ("hrandfield h 0", "*0\r\n"),
        ("hrandfield h 0 withvalues", "*0\r\n"),
    ]);
}

#[test]
fn sorted_set_ranges() {
    // ZRANGE in all its forms, the older range commands, ZCOUNT, ZLEXCOUNT, ZRANK, ZMSCORE;
    // lex ranges over differing scores walk as Redis's listpack does.
    Session::new().expect(&[
        ("zadd z 1 a 2 b 3 c 4 d 5 e", ":5\r\n"),
        ("zadd z 5 f -inf m inf n", ":3\r\n"),
        ("zrange z 0 -1", "*8\r\n$1\r\nm\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\nn\r\n"),
        ("zrange z 0 -1 withscores", "*16\r\n$1\r\nm\r\n$4\r\n-inf\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n$1\r\nf\r\n$1\r\n5\r\n$1\r\nn\r\n$3\r\ninf\r\n"),
        ("zrange z 2 3 WITHSCORES", "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"),
        ("zrange z -2 -1", "*2\r\n$1\r\nf\r\n$1\r\nn\r\n"),
        ("zrange z 5 2", "*0\r\n"),
        ("zrange z 100 200", "*0\r\n"),
        ("zrange z -100 1", "*2\r\n$1\r\nm\r\n$1\r\na\r\n"),
        ("zrange z 0 -100", "*0\r\n"),
        ("zrange z 0 -1 rev", "*8\r\n$1\r\nn\r\n$1\r\nf\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nm\r\n"),
        ("zrange z 0 1 rev withscores", "*4\r\n$1\r\nn\r\n$3\r\ninf\r\n$1\r\nf\r\n$1\r\n5\r\n"),
        ("zrange z x 1", "-ERR value is not an integer or out of range\r\n"),
        ("zrange z 0 y", "-ERR value is not an integer or out of range\r\n"),
        ("zrange z 0 1 limit 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"),
        ("zrange z 0 1 limit 0 -1", "*2\r\n$1\r\nm\r\n$1\r\na\r\n"),
        ("zrange z 0 1 bogus", "-ERR syntax error\r\n"),
        ("zrange z 0 1 rev rev", "-ERR syntax error\r\n"),
        ("zrange z 0 1 bylex bylex", "-ERR syntax error\r\n"),
        ("zrange z 0 1 byscore bylex", "-ERR syntax error\r\n"),
        ("zrange z 0 1 limit 0", "-ERR syntax error\r\n"),
        ("zrange z 0 1 limit x 1", "-ERR value is not an integer or out of range\r\n"),
        ("zrange z (1 3 byscore", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("zrange z 1 3 byscore withscores", "*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"),
        ("zrange z (1 (3 byscore", "*1\r\n$1\r\nb\r\n"),
        ("zrange z -inf +inf byscore", "*8\r\n$1\r\nm\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\nn\r\n"),
        ("zrange z -inf +inf byscore limit 2 3", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"),
        ("zrange z -inf +inf byscore limit 2 -1", "*6\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\nn\r\n"),
        ("zrange z -inf +inf byscore limit -1 2", "*0\r\n"),
        ("zrange z -inf +inf byscore limit 0 0", "*0\r\n"),
        ("zrange z -inf +inf byscore limit 100 1", "*0\r\n"),
        ("zrange z +inf -inf byscore rev", "*8\r\n$1\r\nn\r\n$1\r\nf\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nm\r\n"),
        ("zrange z 4 2 byscore rev withscores", "*6\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n"),
        ("zrange z 4 2 byscore rev limit 1 5", "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"),
        ("zrange z 2 4 byscore rev", "*0\r\n"),
        ("zrange z 3 3 byscore", "*1\r\n$1\r\nc\r\n"),
        ("zrange z (3 3 byscore", "*0\r\n"),
        ("zrange z 3 (3 byscore", "*0\r\n"),
        ("zrange z x 3 byscore", "-ERR min or max is not a float\r\n"),
        ("zrange z 1 ( byscore", "*0\r\n"),
        ("zrange z ( 1 byscore", "*1\r\n$1\r\na\r\n"),
        ("zrange z nan 1 byscore", "-ERR min or max is not a float\r\n"),
        ("zrange z 0x1 0x3 byscore", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("zrange z 1e0 3.0e0 byscore", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("zrange z inf inf byscore withscores", "*2\r\n$1\r\nn\r\n$3\r\ninf\r\n"),
        ("zrange z -inf -inf byscore withscores", "*2\r\n$1\r\nm\r\n$4\r\n-inf\r\n"),
        ("zrange z (-inf (inf byscore", "*6\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n"),
        ("zrange z INFINITY -Infinity byscore rev", "*8\r\n$1\r\nn\r\n$1\r\nf\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nm\r\n"),
        ("zrange z 1e 2 byscore", "-ERR min or max is not a float\r\n"),
        ("zrange z .5 2. byscore", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("zrange z 1 2 byscore withscores limit 0 1", "*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
        ("zrange z - + bylex", "*8\r\n$1\r\nm\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\nn\r\n"),
        ("zrange z - + bylex withscores", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"),
        ("zrange z [a [c bylex", "*0\r\n"),
        ("zrange z (a (c bylex", "*0\r\n"),
        ("zrange z [c [a bylex", "*0\r\n"),
        ("zrange z + - bylex rev", "*8\r\n$1\r\nn\r\n$1\r\nf\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nm\r\n"),
        ("zrange z [c [a bylex rev limit 0 2", "*0\r\n"),
        ("zrange z a c bylex", "-ERR min or max not valid string range item\r\n"),
        ("zrange z [a c bylex", "-ERR min or max not valid string range item\r\n"),
        ("zrange z - - bylex", "*0\r\n"),
        ("zrange z + + bylex", "*0\r\n"),
        ("zrange z - +x bylex", "-ERR min or max not valid string range item\r\n"),
        ("zrange z [ + bylex", "*8\r\n$1\r\nm\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\nn\r\n"),
        ("zrange nokey 0 -1", "*0\r\n"),
        ("zrange nokey x 1", "-ERR value is not an integer or out of range\r\n"),
        ("zrange nokey (1 x byscore", "-ERR min or max is not a float\r\n"),
        ("set str v", "+OK\r\n"),
        ("zrange str 0 -1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zrange str x 1", "-ERR value is not an integer or out of range\r\n"),
        ("zrange z 0", "-ERR wrong number of arguments for 'zrange' command\r\n"),
        ("zrangebyscore z 1 3", "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("zrangebyscore z 1 3 withscores limit 1 1", "*2\r\n$1\r\nb\r\n$1\r\n2\r\n"),
        ("zrangebyscore z 1 3 rev", "-ERR syntax error\r\n"),
        ("zrangebyscore z 1 3 bylex", "-ERR syntax error\r\n"),
        ("zrangebyscore z x 3", "-ERR min or max is not a float\r\n"),
        ("zrangebyscore str 1 3", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zrevrangebyscore z 3 1", "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("zrevrangebyscore z 3 1 WITHSCORES", "*6\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n1\r\n"),
        ("zrevrangebyscore z 1 3", "*0\r\n"),
        ("zrevrangebyscore z +inf -inf limit 0 2", "*2\r\n$1\r\nn\r\n$1\r\nf\r\n"),
        ("zrangebylex z - +", "*8\r\n$1\r\nm\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\nn\r\n"),
        ("zrangebylex z - + limit 1 2", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
        ("zrangebylex z - + withscores", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"),
        ("zrangebylex z 0 1", "-ERR min or max not valid string range item\r\n"),
        ("zrevrangebylex z + -", "*8\r\n$1\r\nn\r\n$1\r\nf\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nm\r\n"),
        ("zrevrangebylex z [d (a", "*0\r\n"),
        ("zrevrangebylex z [d (a limit 1 1", "*0\r\n"),
        ("zrevrange z 0 1", "*2\r\n$1\r\nn\r\n$1\r\nf\r\n"),
        ("zrevrange z 0 -1 withscores", "*16\r\n$1\r\nn\r\n$3\r\ninf\r\n$1\r\nf\r\n$1\r\n5\r\n$1\r\ne\r\n$1\r\n5\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nm\r\n$4\r\n-inf\r\n"),
        ("zrevrange z 0 1 rev", "-ERR syntax error\r\n"),
        ("zrevrange z 0 1 byscore", "-ERR syntax error\r\n"),
        ("zrevrange z 0 1 limit 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"),
        ("zrevrange z x 1", "-ERR value is not an integer or out of range\r\n"),
        ("zcount z 1 3", ":3\r\n"),
        ("zcount z (1 3", ":2\r\n"),
        ("zcount z -inf +inf", ":8\r\n"),
        ("zcount z 3 1", ":0\r\n"),
        ("zcount z x 1", "-ERR min or max is not a float\r\n"),
        ("zcount nokey 1 2", ":0\r\n"),
        ("zcount nokey x 2", "-ERR min or max is not a float\r\n"),
        ("zcount str 1 2", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zlexcount z - +", ":8\r\n"),
        ("zlexcount z [b (d", ":0\r\n"),
        ("zlexcount z (d [b", ":0\r\n"),
        ("zlexcount z b d", "-ERR min or max not valid string range item\r\n"),
        ("zlexcount nokey - +", ":0\r\n"),
        ("zlexcount nokey x +", "-ERR min or max not valid string range item\r\n"),
        ("zlexcount str - +", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zrank z a", ":1\r\n"),
        ("zrank z c", ":3\r\n"),
        ("zrank z m", ":0\r\n"),
        ("zrank z n", ":7\r\n"),
        ("zrank z nosuch", "$-1\r\n"),
        ("zrank nokey a", "$-1\r\n"),
        ("zrank str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zrevrank z a", ":6\r\n"),
        ("zrevrank z m", ":7\r\n"),
        ("zrevrank z nosuch", "$-1\r\n"),
        ("zmscore z a nosuch n m", "*4\r\n$1\r\n1\r\n$-1\r\n$3\r\ninf\r\n$4\r\n-inf\r\n"),
        ("zmscore nokey a b", "*2\r\n$-1\r\n$-1\r\n"),
        ("zmscore str a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zadd lex 0 a 0 b 0 c 0 d 0 e 0 f 0 g", ":7\r\n"),
        ("zrangebylex lex [b [f", "*5\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n"),
        ("zrangebylex lex (b (f limit 1 2", "*2\r\n$1\r\nd\r\n$1\r\ne\r\n"),
        ("zrevrangebylex lex (f [b", "*4\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nb\r\n"),
        ("zlexcount lex [b (f", ":4\r\n"),
        ("zadd mixed 1 b 2 a 3 d 4 c", ":4\r\n"),
        ("zrangebylex mixed [b [c", "*2\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("zrangebylex mixed - [b", "*2\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("zrangebylex mixed [c +", "*2\r\n$1\r\nd\r\n$1\r\nc\r\n"),
        ("zrevrangebylex mixed + [b", "*2\r\n$1\r\nc\r\n$1\r\nd\r\n"),
        ("zlexcount mixed [a [c", ":2\r\n"),
        ("zlexcount mixed [b +", ":4\r\n"),
        ("zrangebylex mixed [a [a", "*0\r\n"),
        ("zadd scores 1.5 a 0.1 b 1e20 c -0 d", ":4\r\n"),
        ("zrange scores 0 -1 withscores", "*8\r\n$1\r\nd\r\n$1\r\n0\r\n$1\r\nb\r\n$19\r\n0.10000000000000001\r\n$1\r\na\r\n$3\r\n1.5\r\n$1\r\nc\r\n$5\r\n1e+20\r\n"),
        ("zrange scores (0 +inf byscore withscores", "*6\r\n$1\r\nb\r\n$19\r\n0.10000000000000001\r\n$1\r\na\r\n$3\r\n1.5\r\n$1\r\nc\r\n$5\r\n1e+20\r\n"),
    ]);
}

#[test]
fn lcs_strings_lengths_and_matches() {
    // LCS: the string, LEN, IDX with MINMATCHLEN and WITHMATCHLEN, missing and wrong keys.
    Session::new().expect(&[
        ("mset a ohmytext b mynewtext", "+OK\r\n"),
        ("lcs a b", "$6\r\nmytext\r\n"),
        ("lcs a b len", ":6\r\n"),
        ("lcs a b idx", "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"),
        ("lcs a b idx minmatchlen 4", "*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n"),
        ("lcs a b idx minmatchlen 4 withmatchlen", "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"),
        ("lcs a b idx withmatchlen", "*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n"),
        ("lcs a b IDX MINMATCHLEN -5 WITHMATCHLEN", "*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n"),
        ("lcs a b len idx", "-ERR If you want both the length and indexes, please just use IDX.\r\n"),
        ("lcs a b withmatchlen", "$6\r\nmytext\r\n"),
        ("lcs a b minmatchlen", "-ERR syntax error\r\n"),
        ("lcs a b minmatchlen x", "-ERR value is not an integer or out of range\r\n"),
        ("lcs a b bogus", "-ERR syntax error\r\n"),
        ("lcs a nokey", "$0\r\n\r\n"),
        ("lcs nokey nokey2 idx", "*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"),
        ("lcs a nokey len", ":0\r\n"),
        ("rpush l x", ":1\r\n"),
        ("lcs a l", "-ERR The specified keys must contain string values\r\n"),
        ("lcs l a", "-ERR The specified keys must contain string values\r\n"),
        ("lcs l a bogus", "-ERR The specified keys must contain string values\r\n"),
        ("lcs a", "-ERR wrong number of arguments for 'lcs' command\r\n"),
        ("set c aaaa", "+OK\r\n"),
        ("set d aa", "+OK\r\n"),
        ("lcs c d idx withmatchlen", "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:2\r\n"),
        ("set e abcabcabc", "+OK\r\n"),
        ("set f cbacbacba", "+OK\r\n"),
        ("lcs e f", "$5\r\ncbabc\r\n"),
        ("lcs e f idx withmatchlen", "*4\r\n$7\r\nmatches\r\n*5\r\n*3\r\n*2\r\n:8\r\n:8\r\n*2\r\n:6\r\n:6\r\n:1\r\n*3\r\n*2\r\n:7\r\n:7\r\n*2\r\n:4\r\n:4\r\n:1\r\n*3\r\n*2\r\n:6\r\n:6\r\n*2\r\n:2\r\n:2\r\n:1\r\n*3\r\n*2\r\n:4\r\n:4\r\n*2\r\n:1\r\n:1\r\n:1\r\n*3\r\n*2\r\n:2\r\n:2\r\n*2\r\n:0\r\n:0\r\n:1\r\n$3\r\nlen\r\n:5\r\n"),
        ("lcs f e idx", "*4\r\n$7\r\nmatches\r\n*5\r\n*2\r\n*2\r\n:8\r\n:8\r\n*2\r\n:6\r\n:6\r\n*2\r\n*2\r\n:7\r\n:7\r\n*2\r\n:4\r\n:4\r\n*2\r\n*2\r\n:6\r\n:6\r\n*2\r\n:2\r\n:2\r\n*2\r\n*2\r\n:4\r\n:4\r\n*2\r\n:1\r\n:1\r\n*2\r\n*2\r\n:2\r\n:2\r\n*2\r\n:0\r\n:0\r\n$3\r\nlen\r\n:5\r\n"),
        ("set g x", "+OK\r\n"),
        ("lcs g g idx", "*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:0\r\n:0\r\n*2\r\n:0\r\n:0\r\n$3\r\nlen\r\n:1\r\n"),
    ]);
}

/// The bulk strings of an array reply.
fn items(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n").skip(1);
    let mut out = Vec::new();
    while let (Some(_), Some(data)) = (lines.next(), lines.next()) {
        out.push(String::from(data));
    }
    out
}

#[test]
fn random_picks_are_members_and_distinct_unless_negative() {
    let mut s = Session::new();
    s.run(&["sadd", "s", "a", "b", "c", "d", "e"]);
    s.run(&["hset", "h", "f1", "v1", "f2", "v2", "f3", "v3"]);
    let members = ["a", "b", "c", "d", "e"];
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..50 {
        let one = s.run(&["srandmember", "s"]);
        let m = one.split("\r\n").nth(1).unwrap().to_owned();
        assert!(members.contains(&m.as_str()), "{one}");
        seen.insert(m);
        let three = items(&s.run(&["srandmember", "s", "3"]));
        assert_eq!(three.len(), 3);
        assert_eq!(
            three
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len(),
            3
        );
        let many = items(&s.run(&["srandmember", "s", "-20"]));
        assert_eq!(many.len(), 20);
        assert!(many.iter().all(|m| members.contains(&m.as_str())));
        let pairs = items(&s.run(&["hrandfield", "h", "-4", "withvalues"]));
        assert_eq!(pairs.len(), 8);
        for p in pairs.chunks(2) {
            assert_eq!(p[0].replace('f', "v"), p[1]);
        }
        let fields = items(&s.run(&["hrandfield", "h", "2"]));
        assert_eq!(fields.len(), 2);
        assert_ne!(fields[0], fields[1]);
    }
    assert_eq!(seen.len(), 5, "every member comes up in 50 picks");
    let all = items(&s.run(&["srandmember", "s", "5"]));
    assert_eq!(all, members);
}

#[test]
fn score_bounds_read_as_strtod_does() {
    use crate::strings::floats::strtod;
    for (text, value, used) in [
        ("1.5", 1.5, 3),
        ("  -2", -2.0, 4),
        ("+.5e1x", 5.0, 5),
        ("1e", 1.0, 1),
        ("1e+", 1.0, 1),
        ("0x10", 16.0, 4),
        ("0x1.8p1", 3.0, 7),
        ("0x", 0.0, 1),
        ("-InFiNiTy", f64::NEG_INFINITY, 9),
        ("infinit", f64::INFINITY, 3),
        ("", 0.0, 0),
        (" ", 0.0, 0),
        ("-", 0.0, 0),
        (".", 0.0, 0),
        ("5.", 5.0, 2),
        ("1e400", f64::INFINITY, 5),
    ] {
        let (v, n) = strtod(text.as_bytes());
        assert_eq!((v, n), (value, used), "{text:?}");
    }
    assert!(strtod(b"nan(abc)").0.is_nan());
    assert_eq!(strtod(b"nan(abc)").1, 8);
}

#[test]
fn lcs_table_is_bounded_by_proto_max_bulk_len() {
    let mut s = Session::new();
    let (a, b) = ("x".repeat(600), "y".repeat(600));
    s.run(&["set", "a", &a]);
    s.run(&["set", "b", &b]);
    s.expect(&[
        ("lcs a b len", ":0\r\n"),
        ("config set proto-max-bulk-len 1048576", "+OK\r\n"),
        (
            "lcs a b len",
            "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n",
        ),
    ]);
}
