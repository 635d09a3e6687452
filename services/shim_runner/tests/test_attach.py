import socket

from dockyard_shim.attach import AttachHub, decode_packet


def test_decode_packet():
    assert decode_packet(b"\x02hi") == (1, b"hi")
    assert decode_packet(b"\x03oops") == (2, b"oops")
    assert decode_packet(b"\x03oops", terminal=True) == (1, b"oops")
    assert decode_packet(b"") is None


def test_hub_fans_out_and_closes_stdin():
    ours, monitor = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    hub = AttachHub(ours)
    both = hub.subscribe()
    only_err = hub.subscribe(stdout=False, stderr=True, stdin=True)
    monitor.send(b"\x02out")
    monitor.send(b"\x03err")
    only_err.write(b"x" * 10000)        # split into packets conmon can read
    sizes = [len(monitor.recv(65536)) for _ in range(3)]
    assert sizes == [4096, 4096, 1808]
    only_err.close_stdin()
    assert monitor.recv(10) == b""       # conmon sees EOF: closes the container's stdin
    monitor.close()
    assert list(both) == [(1, b"out"), (2, b"err")]
    assert list(only_err) == [(2, b"err")]
    assert hub.wait_closed(1)
    late = hub.subscribe()
    assert list(late) == []
