#!/usr/bin/env python3
"""call.py - hyperpoold from Python with nothing but python3-msgpack and a Unix socket
(docs/protocol.md): one call, a few pipelined ones, and a call during which the daemon asks
this client for a function (hello.ask with `host_functions = client` in the module's config).

    python3 call.py [SOCKET]        # default: $HYPERPOOL_SOCKET, else /run/hyperpool/hyperpoold.sock

Frames are msgpack arrays back to back: a request [0, msgid, method, params], a response
[1, msgid, error, result]. Responses come in any order, so they are matched by msgid; and while
a call waits, the daemon may send a request of its own ([0, id, name, args]) that the client
answers with a response on the same socket."""
import os
import socket
import sys

import msgpack


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.unpacker = msgpack.Unpacker(raw=False)
        self.next_id = 0
        self.answers = {}    # msgid -> (error, result), arrived before anyone waited for them
        self.functions = {}  # name -> function(*args): what the daemon may ask us

    def send(self, method, *params):
        """Sends a request; returns its msgid (do not wait: pipelining)."""
        self.next_id = (self.next_id + 1) & 0xFFFFFFFF
        self.sock.sendall(msgpack.packb([0, self.next_id, method, list(params)]))
        return self.next_id

    def wait(self, msgid):
        """Reads frames until the response to msgid: (error, result). Answers the daemon's
        requests met meanwhile."""
        while msgid not in self.answers:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("hyperpoold closed the connection")
            self.unpacker.feed(data)
            for msg in self.unpacker:
                if msg[0] == 1:                      # a response to one of ours
                    self.answers[msg[1]] = (msg[2], msg[3])
                elif msg[0] == 0:                    # the daemon asks us
                    self.answer(msg[1], msg[2], msg[3])
                # [2, ...] notifications: none is defined; ignore
        return self.answers.pop(msgid)

    def answer(self, rid, name, args):
        fn = self.functions.get(name)
        if fn is None:
            err, res = {"code": "no_such_method", "message": f"no function {name}"}, None
        else:
            try:
                err, res = None, fn(*args)
            except Exception as e:
                err, res = {"code": "guest_error", "message": str(e)}, None
        self.sock.sendall(msgpack.packb([1, rid, err, res]))

    def call(self, module, function, *args):
        """module.function(args) and its result; an error response raises RuntimeError."""
        err, res = self.wait(self.send("call", module, function, list(args)))
        if err is not None:
            raise RuntimeError(f"{err['code']}: {err['message']}")
        return res


def main():
    path = (sys.argv[1] if len(sys.argv) > 1 else
            os.environ.get("HYPERPOOL_SOCKET") or "/run/hyperpool/hyperpoold.sock")
    c = Client(path)

    # one call
    print("math.add(40, 2) =", c.call("math", "add", 40, 2))

    # pipelined: every request sent before any answer is read; answers matched by msgid
    ids = {c.send("call", "math", "add", [i, i]): i for i in range(5)}
    for msgid, i in ids.items():
        err, res = c.wait(msgid)
        print(f"math.add({i}, {i}) =", res if err is None else err)

    # the daemon calls back: the guest's ask("greeting", ["python"]) becomes a request to us
    c.functions["greeting"] = lambda name: f"hello from Python, {name}!"
    print("hello.ask(greeting, [python]) =", c.call("hello", "ask", "greeting", ["python"]))
    c.sock.close()


if __name__ == "__main__":
    main()
