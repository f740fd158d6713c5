#!/usr/bin/env python3
"""Writes src/server/command_table.rs from a running Redis 7.0 server's own description of
its commands (COMMAND INFO and COMMAND DOCS), for COMMAND's replies:

    redis-server --port 6390 --save '' &
    tools/command-table.py 6390 > src/server/command_table.rs

Every top-level command is listed, and the subcommands of the containers kvengine
implements (CLIENT, COMMAND, CONFIG, OBJECT)."""

import socket
import sys

CONTAINERS = ("client", "command", "config", "object")


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.file = self.sock.makefile("rb")

    def call(self, *args):
        req = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            req += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(req)
        return self.read()

    def read(self):
        line = self.file.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.file.read(n + 2)[:-2]
            return data.decode()
        if kind == b"*":
            n = int(rest)
            return [self.read() for _ in range(max(n, 0))]
        raise ValueError(line)


def rust(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    conn = Conn(int(sys.argv[1]))
    names = sorted(conn.call("COMMAND", "LIST"))
    names = [n for n in names if "|" not in n or n.split("|")[0] in CONTAINERS]
    infos = {}
    for info in conn.call("COMMAND", "INFO", *[n for n in names if "|" not in n]):
        infos[info[0]] = info
        for sub in info[9]:
            infos[sub[0]] = sub
    docs = {}
    flat = conn.call("COMMAND", "DOCS", *[n for n in names if "|" not in n])
    for name, doc in zip(flat[0::2], flat[1::2]):
        doc = dict(zip(doc[0::2], doc[1::2]))
        docs[name] = doc
        subs = doc.get("subcommands") or []
        for sub, sdoc in zip(subs[0::2], subs[1::2]):
            docs[sub] = dict(zip(sdoc[0::2], sdoc[1::2]))
    print("//! Redis 7.0.15's description of its commands, as its `COMMAND INFO` and `COMMAND DOCS`")
    print("//! report them (flags, key positions, ACL categories, tips, group, version, complexity,")
    print("//! summary): what `COMMAND` tells clients about the commands kvengine implements.")
    print("//! Written by `tools/command-table.py` from a running Redis; do not edit by hand.")
    print()
    print("use super::introspect::Meta;")
    print()
    print("#[rustfmt::skip]")
    print("pub(super) const TABLE: &[Meta] = &[")
    for n in names:
        i, d = infos[n], docs[n]
        fields = [
            rust(n), str(i[1]), rust(" ".join(i[2])), str(i[3]), str(i[4]), str(i[5]),
            rust(" ".join(i[6])), rust(" ".join(i[7])), rust(d.get("group", "")),
            rust(d.get("since", "")), rust(d.get("complexity", "")), rust(d.get("summary", "")),
        ]
        print("    Meta::new(" + ", ".join(fields) + "),")
    print("];")


main()
