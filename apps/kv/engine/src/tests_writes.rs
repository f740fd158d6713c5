//! `writes`' commands against replies written down from Redis 7.0.15 (`redis-server` run
//! natively, each script after a `FLUSHALL`): the reply bytes must match exactly.

use crate::reads::tests::Session;

#[test]
fn lmove_replies_as_redis_does() {
    // LMOVE: both ends, the same list (a rotation), nil for a missing source whatever the destination, the destination's type checked first, the sides read before the keys.
    Session::new().expect(&[
        ("rpush l a b c", ":3\r\n"),
        ("lmove l m left right", "$1\r\na\r\n"),
        ("lmove l m right left", "$1\r\nc\r\n"),
        ("lrange l 0 -1", "*1\r\n$1\r\nb\r\n"),
        ("lrange m 0 -1", "*2\r\n$1\r\nc\r\n$1\r\na\r\n"),
        ("lmove l l left right", "$1\r\nb\r\n"),
        ("lrange l 0 -1", "*1\r\n$1\r\nb\r\n"),
        ("lmove l m LEFT LEFT", "$1\r\nb\r\n"),
        ("exists l", ":0\r\n"),
        ("lrange m 0 -1", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"),
        ("lmove l m left left", "$-1\r\n"),
        ("lmove nokey m left left", "$-1\r\n"),
        ("set s x", "+OK\r\n"),
        (
            "lmove s m left left",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "lmove m s left left",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        ("lmove nokey s left left", "$-1\r\n"),
        ("lmove m m up left", "-ERR syntax error\r\n"),
        ("lmove m m left down", "-ERR syntax error\r\n"),
        ("lmove nokey m up left", "-ERR syntax error\r\n"),
        ("lmove s m sideways left", "-ERR syntax error\r\n"),
        ("lmove m m right right", "$1\r\na\r\n"),
        ("lrange m 0 -1", "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"),
        (
            "lmove m",
            "-ERR wrong number of arguments for 'lmove' command\r\n",
        ),
        (
            "lmove m m left",
            "-ERR wrong number of arguments for 'lmove' command\r\n",
        ),
        (
            "lmove m m left right extra",
            "-ERR wrong number of arguments for 'lmove' command\r\n",
        ),
        ("rpush one x", ":1\r\n"),
        ("lmove one one left right", "$1\r\nx\r\n"),
        ("lrange one 0 -1", "*1\r\n$1\r\nx\r\n"),
        ("lmove one other right right", "$1\r\nx\r\n"),
        ("exists one", ":0\r\n"),
        ("lrange other 0 -1", "*1\r\n$1\r\nx\r\n"),
    ]);
}

#[test]
fn rpoplpush_replies_as_redis_does() {
    // RPOPLPUSH: LMOVE's RIGHT LEFT.
    Session::new().expect(&[
        ("rpush l 1 2 3", ":3\r\n"),
        ("rpoplpush l m", "$1\r\n3\r\n"),
        ("rpoplpush l m", "$1\r\n2\r\n"),
        ("lrange m 0 -1", "*2\r\n$1\r\n2\r\n$1\r\n3\r\n"),
        ("rpoplpush l l", "$1\r\n1\r\n"),
        ("lrange l 0 -1", "*1\r\n$1\r\n1\r\n"),
        ("rpoplpush l m", "$1\r\n1\r\n"),
        ("exists l", ":0\r\n"),
        ("lrange m 0 -1", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
        ("rpoplpush l m", "$-1\r\n"),
        ("set s x", "+OK\r\n"),
        (
            "rpoplpush s m",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "rpoplpush m s",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        ("rpoplpush nokey s", "$-1\r\n"),
        ("rpoplpush m m", "$1\r\n3\r\n"),
        ("lrange m 0 -1", "*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n"),
        (
            "rpoplpush m",
            "-ERR wrong number of arguments for 'rpoplpush' command\r\n",
        ),
        (
            "rpoplpush m a b",
            "-ERR wrong number of arguments for 'rpoplpush' command\r\n",
        ),
    ]);
}

#[test]
fn lmpop_replies_as_redis_does() {
    // LMPOP: the first key with a list (the keys before it type-checked), COUNT, and the errors in Redis's order.
    Session::new().expect(&[
        ("rpush l a b c d e", ":5\r\n"),
        ("rpush l2 x y", ":2\r\n"),
        ("lmpop 1 l left", "*2\r\n$1\r\nl\r\n*1\r\n$1\r\na\r\n"),
        (
            "lmpop 1 l right count 2",
            "*2\r\n$1\r\nl\r\n*2\r\n$1\r\ne\r\n$1\r\nd\r\n",
        ),
        ("lrange l 0 -1", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        (
            "lmpop 2 nokey l2 RIGHT COUNT 10",
            "*2\r\n$2\r\nl2\r\n*2\r\n$1\r\ny\r\n$1\r\nx\r\n",
        ),
        ("exists l2", ":0\r\n"),
        ("lmpop 2 nokey l2 left", "*-1\r\n"),
        (
            "lmpop 2 l nokey left count 100",
            "*2\r\n$1\r\nl\r\n*2\r\n$1\r\nb\r\n$1\r\nc\r\n",
        ),
        ("exists l", ":0\r\n"),
        ("set s x", "+OK\r\n"),
        ("rpush l q w", ":2\r\n"),
        ("lmpop 2 l s left", "*2\r\n$1\r\nl\r\n*1\r\n$1\r\nq\r\n"),
        (
            "lmpop 2 s l left",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "lmpop 2 nokey s left",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "lmpop 0 l left",
            "-ERR numkeys should be greater than 0\r\n",
        ),
        (
            "lmpop -1 l left",
            "-ERR numkeys should be greater than 0\r\n",
        ),
        (
            "lmpop x l left",
            "-ERR numkeys should be greater than 0\r\n",
        ),
        ("lmpop 9223372036854775807 l left", "-ERR syntax error\r\n"),
        ("lmpop 2 l left", "-ERR syntax error\r\n"),
        ("lmpop 1 l middle", "-ERR syntax error\r\n"),
        (
            "lmpop 1 l left count 0",
            "-ERR count should be greater than 0\r\n",
        ),
        (
            "lmpop 1 l left count -1",
            "-ERR count should be greater than 0\r\n",
        ),
        (
            "lmpop 1 l left count x",
            "-ERR count should be greater than 0\r\n",
        ),
        ("lmpop 1 l left count", "-ERR syntax error\r\n"),
        ("lmpop 1 l left count 1 count 1", "-ERR syntax error\r\n"),
        ("lmpop 1 l left foo", "-ERR syntax error\r\n"),
        (
            "lmpop 1 l left COUNT 9223372036854775807",
            "*2\r\n$1\r\nl\r\n*1\r\n$1\r\nw\r\n",
        ),
        (
            "lmpop 3 l",
            "-ERR wrong number of arguments for 'lmpop' command\r\n",
        ),
        (
            "lmpop 1 l",
            "-ERR wrong number of arguments for 'lmpop' command\r\n",
        ),
        (
            "lmpop 1",
            "-ERR wrong number of arguments for 'lmpop' command\r\n",
        ),
        (
            "lmpop 1 nokey left count 0",
            "-ERR count should be greater than 0\r\n",
        ),
        ("lmpop 1 nokey up", "-ERR syntax error\r\n"),
        ("lmpop 2 a b c", "-ERR syntax error\r\n"),
    ]);
}

#[test]
fn smove_replies_as_redis_does() {
    // SMOVE: a missing source is 0 before any type is checked; the same set moves nothing.
    Session::new().expect(&[
        ("sadd a 1 2 3", ":3\r\n"),
        ("sadd b 3 4", ":2\r\n"),
        ("smove a b 1", ":1\r\n"),
        ("smove a b 3", ":1\r\n"),
        ("smembers a", "*1\r\n$1\r\n2\r\n"),
        ("smembers b", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n"),
        ("smove a b 9", ":0\r\n"),
        ("smove a a 2", ":1\r\n"),
        ("smove a a 9", ":0\r\n"),
        ("smove a c 2", ":1\r\n"),
        ("exists a", ":0\r\n"),
        ("smembers c", "*1\r\n$1\r\n2\r\n"),
        ("smove nokey b 1", ":0\r\n"),
        ("set s x", "+OK\r\n"),
        (
            "smove s b 1",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "smove b s 4",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "smove b s 9",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        ("smove nokey s 1", ":0\r\n"),
        (
            "smove s s 1",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "smove b",
            "-ERR wrong number of arguments for 'smove' command\r\n",
        ),
        (
            "smove b c 1 2",
            "-ERR wrong number of arguments for 'smove' command\r\n",
        ),
    ]);
}

#[test]
fn sinterstore_replies_as_redis_does() {
    // SINTERSTORE: results replace any type and drop the expiry; an empty one removes the destination.
    Session::new().expect(&[
        ("sadd a 1 2 3 4", ":4\r\n"),
        ("sadd b 2 3 5", ":3\r\n"),
        ("sadd c 3 2 9", ":3\r\n"),
        ("sinterstore d a b c", ":2\r\n"),
        ("smembers d", "*2\r\n$1\r\n2\r\n$1\r\n3\r\n"),
        ("sinterstore d a nokey", ":0\r\n"),
        ("exists d", ":0\r\n"),
        ("sinterstore d a b", ":2\r\n"),
        ("sinterstore a a b", ":2\r\n"),
        ("smembers a", "*2\r\n$1\r\n2\r\n$1\r\n3\r\n"),
        ("set s x", "+OK\r\n"),
        (
            "sinterstore d nokey s",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "sinterstore d a s",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        ("sinterstore s a b", ":2\r\n"),
        ("type s", "+set\r\n"),
        ("sinterstore s nokey", ":0\r\n"),
        ("exists s", ":0\r\n"),
        ("set t y", "+OK\r\n"),
        ("expire d 100", ":1\r\n"),
        ("ttl d", ":100\r\n"),
        ("sinterstore d a", ":2\r\n"),
        ("ttl d", ":-1\r\n"),
        (
            "sinterstore d",
            "-ERR wrong number of arguments for 'sinterstore' command\r\n",
        ),
        ("sinterstore d a b c nokey", ":0\r\n"),
        ("sadd e 7", ":1\r\n"),
        ("sinterstore d a e", ":0\r\n"),
        ("exists d", ":0\r\n"),
    ]);
}

#[test]
fn sunionstore_replies_as_redis_does() {
    // SUNIONSTORE.
    Session::new().expect(&[
        ("sadd a 1 2", ":2\r\n"),
        ("sadd b 2 3", ":2\r\n"),
        ("sunionstore d a b nokey", ":3\r\n"),
        ("smembers d", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
        ("sunionstore d nokey", ":0\r\n"),
        ("exists d", ":0\r\n"),
        ("sunionstore a a b", ":3\r\n"),
        ("smembers a", "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"),
        ("set s x", "+OK\r\n"),
        (
            "sunionstore d a s",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "sunionstore d s",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        ("sunionstore s a", ":3\r\n"),
        ("type s", "+set\r\n"),
        (
            "sunionstore d",
            "-ERR wrong number of arguments for 'sunionstore' command\r\n",
        ),
    ]);
}

#[test]
fn sdiffstore_replies_as_redis_does() {
    // SDIFFSTORE.
    Session::new().expect(&[
        ("sadd a 1 2 3 4", ":4\r\n"),
        ("sadd b 2", ":1\r\n"),
        ("sadd c 4 5", ":2\r\n"),
        ("sdiffstore d a b c", ":2\r\n"),
        ("smembers d", "*2\r\n$1\r\n1\r\n$1\r\n3\r\n"),
        ("sdiffstore d nokey a", ":0\r\n"),
        ("exists d", ":0\r\n"),
        ("sdiffstore d a a", ":0\r\n"),
        ("exists d", ":0\r\n"),
        ("sdiffstore a a b", ":3\r\n"),
        ("smembers a", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n"),
        ("set s x", "+OK\r\n"),
        (
            "sdiffstore d a s",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "sdiffstore d nokey s",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        ("sdiffstore s a", ":3\r\n"),
        ("type s", "+set\r\n"),
        ("sdiffstore d a nokey", ":3\r\n"),
        ("smembers d", "*3\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n4\r\n"),
    ]);
}

#[test]
fn zunionstore_replies_as_redis_does() {
    // ZUNIONSTORE: weights (hex, inf; NaN products are 0), AGGREGATE, sets as scores of 1, options that repeat, types checked before options.
    Session::new().expect(&[
        ("zadd a 1 x 2 y 3 z", ":3\r\n"),
        ("zadd b 10 y 20 w", ":2\r\n"),
        ("sadd s y v", ":2\r\n"),
        ("zunionstore d 2 a b", ":4\r\n"),
        ("zrange d 0 -1 withscores", "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\nz\r\n$1\r\n3\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nw\r\n$2\r\n20\r\n"),
        ("zunionstore d 3 a b s weights 1 2 3", ":5\r\n"),
        ("zrange d 0 -1 withscores", "*10\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\nv\r\n$1\r\n3\r\n$1\r\nz\r\n$1\r\n3\r\n$1\r\ny\r\n$2\r\n25\r\n$1\r\nw\r\n$2\r\n40\r\n"),
        ("zunionstore d 2 a b aggregate min", ":4\r\n"),
        ("zrange d 0 -1 withscores", "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nz\r\n$1\r\n3\r\n$1\r\nw\r\n$2\r\n20\r\n"),
        ("zunionstore d 2 a b AGGREGATE MAX WEIGHTS 2 -1", ":4\r\n"),
        ("zrange d 0 -1 withscores", "*8\r\n$1\r\nw\r\n$3\r\n-20\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\ny\r\n$1\r\n4\r\n$1\r\nz\r\n$1\r\n6\r\n"),
        ("zunionstore d 2 a b weights 1 2 aggregate sum weights 0 0 aggregate max", ":4\r\n"),
        ("zrange d 0 -1 withscores", "*8\r\n$1\r\nw\r\n$1\r\n0\r\n$1\r\nx\r\n$1\r\n0\r\n$1\r\ny\r\n$1\r\n0\r\n$1\r\nz\r\n$1\r\n0\r\n"),
        ("zunionstore d 1 nokey", ":0\r\n"),
        ("exists d", ":0\r\n"),
        ("zunionstore a 2 a a", ":3\r\n"),
        ("zrange a 0 -1 withscores", "*6\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\ny\r\n$1\r\n4\r\n$1\r\nz\r\n$1\r\n6\r\n"),
        ("zunionstore d 0 a", "-ERR at least 1 input key is needed for 'zunionstore' command\r\n"),
        ("zunionstore d -1 a", "-ERR at least 1 input key is needed for 'zunionstore' command\r\n"),
        ("zunionstore d x a", "-ERR value is not an integer or out of range\r\n"),
        ("zunionstore d 3 a b", "-ERR syntax error\r\n"),
        ("zunionstore d 2 a b weights 1", "-ERR syntax error\r\n"),
        ("zunionstore d 2 a b weights 1 x", "-ERR weight value is not a float\r\n"),
        ("zunionstore d 2 a b weights 1 nan", "-ERR weight value is not a float\r\n"),
        ("zunionstore d 2 a b weights 1 inf", ":4\r\n"),
        ("zrange d 0 -1 withscores", "*8\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\nz\r\n$1\r\n6\r\n$1\r\nw\r\n$3\r\ninf\r\n$1\r\ny\r\n$3\r\ninf\r\n"),
        ("zunionstore d 2 a b aggregate", "-ERR syntax error\r\n"),
        ("zunionstore d 2 a b aggregate avg", "-ERR syntax error\r\n"),
        ("zunionstore d 2 a b withscores", "-ERR syntax error\r\n"),
        ("zunionstore d 2 a b foo", "-ERR syntax error\r\n"),
        ("set str v", "+OK\r\n"),
        ("zunionstore d 2 a str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zunionstore d 2 a str foo", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zunionstore str 1 a", ":3\r\n"),
        ("type str", "+zset\r\n"),
        ("zunionstore d 1 a weights 0x10", ":3\r\n"),
        ("zrange d 0 -1 withscores", "*6\r\n$1\r\nx\r\n$2\r\n32\r\n$1\r\ny\r\n$2\r\n64\r\n$1\r\nz\r\n$2\r\n96\r\n"),
        ("zunionstore d 1 a weights 1e400", "-ERR weight value is not a float\r\n"),
        ("zunionstore d", "-ERR wrong number of arguments for 'zunionstore' command\r\n"),
        ("zunionstore d 1", "-ERR wrong number of arguments for 'zunionstore' command\r\n"),
        ("zadd i 1 p", ":1\r\n"),
        ("zadd j inf p -inf q", ":2\r\n"),
        ("zunionstore d 2 i j weights inf 0", ":2\r\n"),
        ("zrange d 0 -1 withscores", "*4\r\n$1\r\nq\r\n$1\r\n0\r\n$1\r\np\r\n$3\r\ninf\r\n"),
        ("zadd k -inf p", ":1\r\n"),
        ("zunionstore d 2 j k", ":2\r\n"),
        ("zrange d 0 -1 withscores", "*4\r\n$1\r\nq\r\n$4\r\n-inf\r\n$1\r\np\r\n$1\r\n0\r\n"),
        ("zunionstore d 2 j k weights 1 -1", ":2\r\n"),
        ("zrange d 0 -1 withscores", "*4\r\n$1\r\nq\r\n$4\r\n-inf\r\n$1\r\np\r\n$3\r\ninf\r\n"),
        ("zunionstore d 1 i weights -0", ":1\r\n"),
        ("zrange d 0 -1 withscores", "*2\r\n$1\r\np\r\n$1\r\n0\r\n"),
        ("zadd f 0.1 m", ":1\r\n"),
        ("zadd g 0.2 m 5 n", ":2\r\n"),
        ("zadd h 0.3 m 6 n 7 o", ":3\r\n"),
        ("zunionstore d 3 h g f", ":3\r\n"),
        ("zscore d m", "$19\r\n0.60000000000000009\r\n"),
        ("zunionstore d 3 f g h", ":3\r\n"),
        ("zscore d m", "$19\r\n0.60000000000000009\r\n"),
        ("expire d 100", ":1\r\n"),
        ("zunionstore d 1 f", ":1\r\n"),
        ("ttl d", ":-1\r\n"),
    ]);
}

#[test]
fn zinterstore_replies_as_redis_does() {
    // ZINTERSTORE: a NaN product (inf x 0) after the first source zeroes a sum and loses a MIN or MAX.
    Session::new().expect(&[
        ("zadd a 1 x 2 y 3 z", ":3\r\n"),
        ("zadd b 10 y 20 z 30 w", ":3\r\n"),
        ("sadd s z y", ":2\r\n"),
        ("zinterstore d 2 a b", ":2\r\n"),
        (
            "zrange d 0 -1 withscores",
            "*4\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n",
        ),
        ("zinterstore d 3 a b s weights 1 2 3", ":2\r\n"),
        (
            "zrange d 0 -1 withscores",
            "*4\r\n$1\r\ny\r\n$2\r\n25\r\n$1\r\nz\r\n$2\r\n46\r\n",
        ),
        ("zinterstore d 2 a b aggregate min", ":2\r\n"),
        (
            "zrange d 0 -1 withscores",
            "*4\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nz\r\n$1\r\n3\r\n",
        ),
        ("zinterstore d 2 a b aggregate max", ":2\r\n"),
        (
            "zrange d 0 -1 withscores",
            "*4\r\n$1\r\ny\r\n$2\r\n10\r\n$1\r\nz\r\n$2\r\n20\r\n",
        ),
        ("zinterstore d 2 a nokey", ":0\r\n"),
        ("exists d", ":0\r\n"),
        ("zinterstore d 1 s", ":2\r\n"),
        (
            "zrange d 0 -1 withscores",
            "*4\r\n$1\r\ny\r\n$1\r\n1\r\n$1\r\nz\r\n$1\r\n1\r\n",
        ),
        ("zinterstore d 2 a a weights 1 2", ":3\r\n"),
        (
            "zrange d 0 -1 withscores",
            "*6\r\n$1\r\nx\r\n$1\r\n3\r\n$1\r\ny\r\n$1\r\n6\r\n$1\r\nz\r\n$1\r\n9\r\n",
        ),
        ("zadd c 0 x 5 q", ":2\r\n"),
        ("zinterstore d 2 a c", ":1\r\n"),
        ("exists d", ":1\r\n"),
        (
            "zinterstore d 0 a",
            "-ERR at least 1 input key is needed for 'zinterstore' command\r\n",
        ),
        ("zinterstore d 3 a b", "-ERR syntax error\r\n"),
        ("zinterstore d 2 a b weights 1 2 3", "-ERR syntax error\r\n"),
        ("zinterstore d 2 a b weights", "-ERR syntax error\r\n"),
        ("zinterstore d 2 a b withscores", "-ERR syntax error\r\n"),
        ("set str v", "+OK\r\n"),
        (
            "zinterstore d 2 nokey str",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "zinterstore d 2 nokey a weights x y",
            "-ERR weight value is not a float\r\n",
        ),
        ("zadd i inf p", ":1\r\n"),
        ("zadd j 1 p", ":1\r\n"),
        ("zinterstore d 2 i j weights 0 1", ":1\r\n"),
        ("zrange d 0 -1 withscores", "*2\r\n$1\r\np\r\n$1\r\n1\r\n"),
        ("zinterstore d 2 j i weights 1 0", ":1\r\n"),
        ("zrange d 0 -1 withscores", "*2\r\n$1\r\np\r\n$1\r\n0\r\n"),
        ("zinterstore d 2 j i weights 1 0 aggregate min", ":1\r\n"),
        ("zrange d 0 -1 withscores", "*2\r\n$1\r\np\r\n$1\r\n1\r\n"),
        ("zinterstore d 2 j i weights 1 0 aggregate max", ":1\r\n"),
        ("zrange d 0 -1 withscores", "*2\r\n$1\r\np\r\n$1\r\n1\r\n"),
        ("zadd f 0.1 m", ":1\r\n"),
        ("zadd g 0.2 m 5 n", ":2\r\n"),
        ("zadd h 0.3 m 6 n 7 o", ":3\r\n"),
        ("zinterstore d 3 h g f", ":1\r\n"),
        ("zscore d m", "$19\r\n0.60000000000000009\r\n"),
        ("zinterstore d 3 f g h", ":1\r\n"),
        ("zscore d m", "$19\r\n0.60000000000000009\r\n"),
        ("zinterstore d 3 g h f", ":1\r\n"),
        ("zscore d m", "$19\r\n0.60000000000000009\r\n"),
    ]);
}

#[test]
fn zstore_sums_start_from_the_smallest_source() {
    // Sums are added from the smallest source up (a stable sort), which shows in the last bits.
    Session::new().expect(&[
        ("zadd big 1e16 m 1 a 1 b", ":3\r\n"),
        ("zadd one1 1 m", ":1\r\n"),
        ("zadd one2 1 m 1 a", ":2\r\n"),
        ("zunionstore d 3 big one2 one1", ":3\r\n"),
        ("zscore d m", "$17\r\n10000000000000002\r\n"),
        ("zinterstore d 3 big one2 one1", ":1\r\n"),
        ("zscore d m", "$17\r\n10000000000000002\r\n"),
        (
            "zunionstore d 3 big one2 one1 weights -1 1 1 aggregate sum",
            ":3\r\n",
        ),
        ("zscore d m", "$17\r\n-9999999999999998\r\n"),
    ]);
}

#[test]
fn zremrangebyrank_replies_as_redis_does() {
    // ZREMRANGEBYRANK.
    Session::new().expect(&[
        ("zadd z 1 a 2 b 3 c 4 d 5 e", ":5\r\n"),
        ("zremrangebyrank z 0 0", ":1\r\n"),
        (
            "zrange z 0 -1",
            "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n",
        ),
        ("zremrangebyrank z -2 -1", ":2\r\n"),
        ("zrange z 0 -1", "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"),
        ("zremrangebyrank z 5 10", ":0\r\n"),
        ("zremrangebyrank z 1 0", ":0\r\n"),
        ("zremrangebyrank z -100 100", ":2\r\n"),
        ("exists z", ":0\r\n"),
        ("zremrangebyrank z 0 -1", ":0\r\n"),
        (
            "zremrangebyrank z x 1",
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            "zremrangebyrank z 1 x",
            "-ERR value is not an integer or out of range\r\n",
        ),
        ("zadd z 1 a 2 b", ":2\r\n"),
        ("zremrangebyrank z 1 9223372036854775807", ":1\r\n"),
        ("zrange z 0 -1", "*1\r\n$1\r\na\r\n"),
        ("zremrangebyrank z -9223372036854775808 0", ":1\r\n"),
        ("exists z", ":0\r\n"),
        ("set s x", "+OK\r\n"),
        (
            "zremrangebyrank s 0 1",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "zremrangebyrank s x 1",
            "-ERR value is not an integer or out of range\r\n",
        ),
        ("sadd t a", ":1\r\n"),
        (
            "zremrangebyrank t 0 1",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "zremrangebyrank z 0",
            "-ERR wrong number of arguments for 'zremrangebyrank' command\r\n",
        ),
    ]);
}

#[test]
fn zremrangebyscore_replies_as_redis_does() {
    // ZREMRANGEBYSCORE: strtod's bounds, open and infinite.
    Session::new().expect(&[
        ("zadd z 1 a 2 b 3 c 4 d 5 e -inf f inf g", ":7\r\n"),
        ("zremrangebyscore z (1 3", ":2\r\n"),
        ("zrange z 0 -1 withscores", "*10\r\n$1\r\nf\r\n$4\r\n-inf\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n$1\r\ng\r\n$3\r\ninf\r\n"),
        ("zremrangebyscore z -inf (-inf", ":0\r\n"),
        ("zremrangebyscore z (5 +inf", ":1\r\n"),
        ("zrange z 0 -1 withscores", "*8\r\n$1\r\nf\r\n$4\r\n-inf\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n"),
        ("zremrangebyscore z 5 1", ":0\r\n"),
        ("zremrangebyscore z (4 (5", ":0\r\n"),
        ("zremrangebyscore z 4 4", ":1\r\n"),
        ("zrange z 0 -1 withscores", "*6\r\n$1\r\nf\r\n$4\r\n-inf\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\ne\r\n$1\r\n5\r\n"),
        ("zremrangebyscore z -inf inf", ":3\r\n"),
        ("exists z", ":0\r\n"),
        ("zremrangebyscore z 0 1", ":0\r\n"),
        ("zremrangebyscore z x 1", "-ERR min or max is not a float\r\n"),
        ("zremrangebyscore z 1 nan", "-ERR min or max is not a float\r\n"),
        ("zremrangebyscore z ( 1", ":0\r\n"),
        ("zadd z 1 a 2 b 16 c", ":3\r\n"),
        ("zremrangebyscore z 0x10 0x10", ":1\r\n"),
        ("zrange z 0 -1 withscores", "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n"),
        ("set s x", "+OK\r\n"),
        ("zremrangebyscore s 0 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zremrangebyscore s x 1", "-ERR min or max is not a float\r\n"),
        ("zremrangebyscore nokey 0 1", ":0\r\n"),
    ]);
}

#[test]
fn zremrangebylex_replies_as_redis_does() {
    // ZREMRANGEBYLEX, with differing scores walked as a listpack is.
    Session::new().expect(&[
        ("zadd z 0 a 0 b 0 c 0 d 0 e", ":5\r\n"),
        ("zremrangebylex z [b (d", ":2\r\n"),
        ("zrange z 0 -1", "*3\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n"),
        ("zremrangebylex z - [a", ":1\r\n"),
        ("zremrangebylex z (d +", ":1\r\n"),
        ("zrange z 0 -1", "*1\r\n$1\r\nd\r\n"),
        ("zremrangebylex z + -", ":0\r\n"),
        ("zremrangebylex z [d [d", ":1\r\n"),
        ("zremrangebylex z - +", ":0\r\n"),
        ("exists z", ":0\r\n"),
        (
            "zremrangebylex z a b",
            "-ERR min or max not valid string range item\r\n",
        ),
        (
            "zremrangebylex z [a b",
            "-ERR min or max not valid string range item\r\n",
        ),
        (
            "zremrangebylex z - x",
            "-ERR min or max not valid string range item\r\n",
        ),
        ("zadd m 1 b 2 a 3 c", ":3\r\n"),
        ("zremrangebylex m [a [b", ":2\r\n"),
        ("zrange m 0 -1", "*1\r\n$1\r\nc\r\n"),
        ("zremrangebylex m - [a", ":0\r\n"),
        ("zrange m 0 -1", "*1\r\n$1\r\nc\r\n"),
        ("set s x", "+OK\r\n"),
        (
            "zremrangebylex s - +",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "zremrangebylex s a b",
            "-ERR min or max not valid string range item\r\n",
        ),
        ("zremrangebylex nokey - +", ":0\r\n"),
    ]);
}

#[test]
fn incrbyfloat_replies_as_redis_does() {
    // INCRBYFLOAT: long double sums printed as %.17Lf without trailing zeros, the expiry kept, and the errors in Redis's order.
    Session::new().expect(&[
        ("incrbyfloat f 0.1", "$3\r\n0.1\r\n"),
        ("incrbyfloat f 0.1", "$3\r\n0.2\r\n"),
        ("incrbyfloat f 0.1", "$3\r\n0.3\r\n"),
        ("incrbyfloat f -0.3", "$1\r\n0\r\n"),
        ("get f", "$1\r\n0\r\n"),
        ("set n 10", "+OK\r\n"),
        ("incrbyfloat n 5.0e3", "$4\r\n5010\r\n"),
        ("incrbyfloat n 1.5", "$6\r\n5011.5\r\n"),
        ("incrbyfloat n -5011.5", "$1\r\n0\r\n"),
        ("set t 3", "+OK\r\n"),
        ("expire t 100", ":1\r\n"),
        ("incrbyfloat t 2", "$1\r\n5\r\n"),
        ("ttl t", ":100\r\n"),
        ("incrbyfloat n x", "-ERR value is not a valid float\r\n"),
        ("incrbyfloat n nan", "-ERR value is not a valid float\r\n"),
        ("incrbyfloat n inf", "-ERR increment would produce NaN or Infinity\r\n"),
        ("incrbyfloat n -inf", "-ERR increment would produce NaN or Infinity\r\n"),
        ("incrbyfloat n 1e5000", "-ERR value is not a valid float\r\n"),
        ("incrbyfloat n 1e-5000", "-ERR value is not a valid float\r\n"),
        ("incrbyfloat n 0x10", "$2\r\n16\r\n"),
        ("incrbyfloat n 1e308", "$308\r\n99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048\r\n"),
        ("incrbyfloat n 1.5e4932", "-ERR value is not a valid float\r\n"),
        ("incrbyfloat nokey inf", "-ERR increment would produce NaN or Infinity\r\n"),
        ("exists nokey", ":0\r\n"),
        ("set s hello", "+OK\r\n"),
        ("incrbyfloat s 1", "-ERR value is not a valid float\r\n"),
        ("set s inf", "+OK\r\n"),
        ("incrbyfloat s 1", "-ERR increment would produce NaN or Infinity\r\n"),
        ("set s 1e", "+OK\r\n"),
        ("incrbyfloat s 1", "-ERR value is not a valid float\r\n"),
        ("set s 1.", "+OK\r\n"),
        ("incrbyfloat s 1", "$1\r\n2\r\n"),
        ("set s .5", "+OK\r\n"),
        ("incrbyfloat s 1", "$3\r\n1.5\r\n"),
        ("set s +3", "+OK\r\n"),
        ("incrbyfloat s 1", "$1\r\n4\r\n"),
        ("set s 0x1p-2", "+OK\r\n"),
        ("incrbyfloat s 1", "$4\r\n1.25\r\n"),
        ("set s 9223372036854775807", "+OK\r\n"),
        ("incrbyfloat s 1", "$19\r\n9223372036854775808\r\n"),
        ("rpush l a", ":1\r\n"),
        ("incrbyfloat l 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("incrbyfloat l x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("incrbyfloat f", "-ERR wrong number of arguments for 'incrbyfloat' command\r\n"),
        ("incrbyfloat f 1 2", "-ERR wrong number of arguments for 'incrbyfloat' command\r\n"),
        ("set e \"\"", "+OK\r\n"),
        ("incrbyfloat e 1", "-ERR value is not a valid float\r\n"),
        ("incrbyfloat z 1.10", "$3\r\n1.1\r\n"),
        ("incrbyfloat z 1e20", "$21\r\n100000000000000000000\r\n"),
        ("incrbyfloat z 1e-20", "$21\r\n100000000000000000000\r\n"),
        ("incrbyfloat y 0.000001", "$8\r\n0.000001\r\n"),
        ("incrbyfloat y -5e-18", "$8\r\n0.000001\r\n"),
        ("incrbyfloat y 123456789.123456789", "$25\r\n123456789.123457788999076\r\n"),
    ]);
}

#[test]
fn hincrbyfloat_replies_as_redis_does() {
    // HINCRBYFLOAT: the increment is checked (finite) before the key.
    Session::new().expect(&[
        ("hincrbyfloat h f 0.1", "$3\r\n0.1\r\n"),
        ("hincrbyfloat h f 0.2", "$3\r\n0.3\r\n"),
        ("hincrbyfloat h f 10.5", "$4\r\n10.8\r\n"),
        ("hget h f", "$4\r\n10.8\r\n"),
        ("hset h g 10 s abc e \"\" i inf", ":4\r\n"),
        ("hincrbyfloat h g 1.5", "$4\r\n11.5\r\n"),
        ("hincrbyfloat h s 1", "-ERR hash value is not a float\r\n"),
        ("hincrbyfloat h e 1", "-ERR hash value is not a float\r\n"),
        ("hincrbyfloat h i 1", "-ERR increment would produce NaN or Infinity\r\n"),
        ("hincrbyfloat h f x", "-ERR value is not a valid float\r\n"),
        ("hincrbyfloat h f inf", "-ERR value is NaN or Infinity\r\n"),
        ("hincrbyfloat h f -inf", "-ERR value is NaN or Infinity\r\n"),
        ("hincrbyfloat h f nan", "-ERR value is not a valid float\r\n"),
        ("hincrbyfloat nokey f inf", "-ERR value is NaN or Infinity\r\n"),
        ("exists nokey", ":0\r\n"),
        ("hincrbyfloat h f 1e5000", "-ERR value is not a valid float\r\n"),
        ("hincrbyfloat h g 1.18973149535723176502e+4932", "$4933\r\n1189731495357231765021263853030970205169063322294624200440323733891737005522970722616410290336528882853545697807495577314427443153670288434198125573853743678673593200706973263201915918282961524365529510646791086614311790632169778838896134786560600399148753433211454911160088679845154866512852340149773037600009125479393966223151383622417838542743917838138717805889487540575168226347659235576974805113725649020884855222494791399377585026011773549180099796226026859508558883608159846900235645132346594476384939859276456284579661772930407806609229102715046085388087959327781622986827547830768080040150694942303411728957777100335714010559775242124057347007386251660110828379119623008469277200965153500208474470792443848545912886723000619085126472111951361467527633519562927597957250278002980795904193139603021470997035276467445530922022679656280991498232083329641241038509239184734786121921697210543484287048353408113042573002216421348917347174234800714880751002064390517234247656004721768096486107994943415703476320643558624207443504424380566136017608837478165389027809576975977286860071487028287955567141404632615832623602762896316173978484254486860609948270867968048078702511858930838546584223040908805996294594586201903766048446790926002225410530775901065760671347200125846406957030257138960983757998926954553052368560758683179223113639519468850880771872104705203957587480013143131444254943919940175753169339392366881856189129931729104252921236835159922322050998001677102784035360140829296398115122877768135706045789343535451696539561254048846447169786893211671087229088082778350518228857646062218739702851655083720992349483334435228984751232753726636066213902281264706234075352071724058665079518217303463782631353393706774901950197841690441824738063162828586857741432581165364040218402724913393320949219498422442730427019873044536620350262386957804682003601447291997123095530057206141866974852846856186514832715974481203121946751686379343096189615107330065552421485195201762858595091051839472502863871632494167613804996319791441870254302706758495192008837915169401581740046711477877201459644461175204059453504764721807975761111720846273639279600339670470037613374509553184150073796412605047923251661354841291884211340823015473304754067072818763503617332908005951896325207071673904547777129682265206225651439919376804400292380903112437912614776255964694221981375146967079446870358004392507659451618379811859392049544036114915310782251072691486979809240946772142727012404377187409216756613634938900451232351668146089322400697993176017805338191849981933008410985993938760292601390911414526003720284872132411955424282101831204216104467404621635336900583664606591156298764745525068145003932941404131495400677602951005962253022823003631473824681059648442441324864573137437595096416168048024129351876204668135636877532814675538798871771836512893947195335061885003267607354388673368002074387849657014576090349857571243045102038730494854256702479339322809110526041538528994849203991091946129912491633289917998094380337879522093131466946149705939664152375949285890960489916121944989986384837022486672249148924678410206183364627416969576307632480235587975245253737035433882960862753427740016333434055083537048507374544819754722228975281083020898682633020285259923084168054539687911418297629988964576482765287504562854924265165217750799516259669229114977788962356670956627138482018191348321687995863652637620978285070099337294396784639879024914514222742527006363942327998483976739987154418554201562244154926653014515504685489258620276085761837129763358761215382565129633538141663949516556000264159186554850057052611431952919918807954522394649627635630178580896692226406235382898535867595990647008385687123810329591926494846250768992258419305480763620215089022149220528069842018350840586938493815498909445461977893029113576516775406232278298314033473276603952231603422824717528181818844304880921321933550869873395861276073670866652375555675803171490108477320096424318780070008797346032906278943553743564448851907191616455141155761939399690767415156402826543664026760095087523945507341556135867933066031744720924446513532366647649735400851967040771103640538150073486891798364049570606189535005089840913826869535090066783324472578712196604415284924840041850932811908963634175739897166596000759487800619164094854338758520657116541072260996288150123144377944008749301944744330784388995701842710004808305012177123560622895076269042856800047718893158089358515593863176652948089031267747029662545110861548958395087796755464137944895960527975209874813839762578592105756284401759349324162148339565350189196811389091843795734703269406342890087805846940352453479398080674273236297887100867175802531561302356064878709259865288416350972529537091114317204887747405539054009425375424119317944175137064689643861517718849867010341532542385911089624710885385808688837777258648564145934262121086647588489260031762345960769508849149662444156604419552086811989770240\r\n"),
        ("hincrbyfloat h g 1.18973149535723176502e+4932", "-ERR increment would produce NaN or Infinity\r\n"),
        ("set s x", "+OK\r\n"),
        ("hincrbyfloat s f 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("hincrbyfloat s f x", "-ERR value is not a valid float\r\n"),
        ("hincrbyfloat s f inf", "-ERR value is NaN or Infinity\r\n"),
        ("hincrbyfloat h f", "-ERR wrong number of arguments for 'hincrbyfloat' command\r\n"),
        ("hincrbyfloat h f 1 2", "-ERR wrong number of arguments for 'hincrbyfloat' command\r\n"),
        ("hset h big 1.5e30", ":1\r\n"),
        ("hincrbyfloat h big 0", "$31\r\n1500000000000000000002684354560\r\n"),
        ("hincrbyfloat new f -0", "$1\r\n0\r\n"),
        ("hgetall new", "*2\r\n$1\r\nf\r\n$1\r\n0\r\n"),
    ]);
}

#[test]
fn getex_replies_as_redis_does() {
    // GETEX: each option, repeats, conflicts, the time read after the key, and absolute times in the past removing the key.
    Session::new().expect(&[
        ("set k v", "+OK\r\n"),
        ("getex k", "$1\r\nv\r\n"),
        ("getex k ex 100", "$1\r\nv\r\n"),
        ("ttl k", ":100\r\n"),
        ("getex k px 200000", "$1\r\nv\r\n"),
        ("ttl k", ":200\r\n"),
        ("getex k persist", "$1\r\nv\r\n"),
        ("ttl k", ":-1\r\n"),
        ("getex k exat 4102444800", "$1\r\nv\r\n"),
        ("expiretime k", ":4102444800\r\n"),
        ("getex k pxat 4102444800123", "$1\r\nv\r\n"),
        ("pexpiretime k", ":4102444800123\r\n"),
        ("getex k EX 10 ex 20", "$1\r\nv\r\n"),
        ("ttl k", ":20\r\n"),
        ("getex k ex 10 px 20", "-ERR syntax error\r\n"),
        ("getex k px 10 ex 20", "-ERR syntax error\r\n"),
        ("getex k persist ex 10", "-ERR syntax error\r\n"),
        ("getex k ex 10 persist", "-ERR syntax error\r\n"),
        ("getex k persist persist", "$1\r\nv\r\n"),
        ("ttl k", ":-1\r\n"),
        ("getex k ex", "-ERR syntax error\r\n"),
        (
            "getex k ex 0",
            "-ERR invalid expire time in 'getex' command\r\n",
        ),
        (
            "getex k ex -1",
            "-ERR invalid expire time in 'getex' command\r\n",
        ),
        (
            "getex k ex x",
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            "getex k px 0",
            "-ERR invalid expire time in 'getex' command\r\n",
        ),
        (
            "getex k exat 0",
            "-ERR invalid expire time in 'getex' command\r\n",
        ),
        (
            "getex k ex 9223372036854775807",
            "-ERR invalid expire time in 'getex' command\r\n",
        ),
        (
            "getex k px 9223372036854775807",
            "-ERR invalid expire time in 'getex' command\r\n",
        ),
        ("getex k pxat 9223372036854775807", "$1\r\nv\r\n"),
        (
            "getex k exat 9223372036854775807",
            "-ERR invalid expire time in 'getex' command\r\n",
        ),
        ("getex k keepttl", "-ERR syntax error\r\n"),
        ("getex k nx", "-ERR syntax error\r\n"),
        ("getex k get", "-ERR syntax error\r\n"),
        ("getex k foo", "-ERR syntax error\r\n"),
        ("getex nokey ex x", "$-1\r\n"),
        ("getex nokey ex 0", "$-1\r\n"),
        ("getex nokey foo", "-ERR syntax error\r\n"),
        ("rpush l a", ":1\r\n"),
        (
            "getex l",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        (
            "getex l ex x",
            "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        ),
        ("getex l foo", "-ERR syntax error\r\n"),
        ("getex k exat 1", "$1\r\nv\r\n"),
        ("exists k", ":0\r\n"),
        ("set k v", "+OK\r\n"),
        ("getex k pxat 1000", "$1\r\nv\r\n"),
        ("exists k", ":0\r\n"),
        ("set k v", "+OK\r\n"),
        ("getex k exat 1000000000", "$1\r\nv\r\n"),
        ("exists k", ":0\r\n"),
        (
            "getex",
            "-ERR wrong number of arguments for 'getex' command\r\n",
        ),
    ]);
}
