"""A loopback HTTP proxy for tests: forwards absolute-URI requests and tunnels CONNECT, appending
each request line to the log file argv[1]. Prints its port."""
import socket
import sys
import threading

LOG = sys.argv[1]
lock = threading.Lock()


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client):
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(65536)
            if not chunk:
                return
            head += chunk
        header, _, rest = head.partition(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        with lock, open(LOG, "a") as log:
            log.write(lines[0] + "\n")
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)), timeout=60)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            if rest:
                upstream.sendall(rest)
        else:
            assert target.startswith("http://")
            hostport, _, path = target[len("http://"):].partition("/")
            host, _, port = hostport.partition(":")
            upstream = socket.create_connection((host, int(port or 80)), timeout=60)
            kept = [h for h in lines[1:] if not h.lower().startswith(("proxy-connection:", "connection:"))]
            request = "\r\n".join([f"{method} /{path} {version}"] + kept + ["Connection: close", "", ""])
            upstream.sendall(request.encode("latin-1") + rest)
        t = threading.Thread(target=pipe, args=(upstream, client), daemon=True)
        t.start()
        pipe(client, upstream)
        t.join()
    except Exception as e:  # a test proxy: report and drop the connection
        print("proxy:", e, file=sys.stderr)
    finally:
        client.close()


server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(64)
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
