"""A TCP forwarder from this machine's loopback into a network namespace:
`make demo` (tests/e2e/demo.sh) uses it so that a browser outside the lab
reaches the status page that kickfleet serves inside it.

    forward.py NETNS LISTEN_PORT TARGET_ADDR TARGET_PORT

Listens on 127.0.0.1:LISTEN_PORT in the namespace it is started in, then
enters /run/netns/NETNS (setns): every connection it makes from then on
is made there, to TARGET_ADDR:TARGET_PORT.  One thread per direction per
connection; runs until killed (by its PID)."""
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


def serve(client, target):
    try:
        upstream = socket.create_connection(target, timeout=10)
    except OSError as e:
        print(f"forward: {target[0]}:{target[1]}: {e}", file=sys.stderr)
        client.close()
        return
    upstream.settimeout(None)
    t = threading.Thread(target=pump, args=(upstream, client), daemon=True)
    t.start()
    pump(client, upstream)
    t.join()
    client.close()
    upstream.close()


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: forward.py NETNS LISTEN_PORT TARGET_ADDR TARGET_PORT")
    netns, port, addr, tport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    # the listener stays where it was made; what is made after is the lab's
    fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
        sys.exit(f"forward: setns {netns}: {os.strerror(ctypes.get_errno())}")
    os.close(fd)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client, (addr, tport)), daemon=True).start()


if __name__ == "__main__":
    main()
