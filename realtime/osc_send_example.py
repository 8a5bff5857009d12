"""What Ableton Live's Connection Kit "OSC Send" device does, as a script: it sends one parameter to
latentbridge as a normalised float every time the mapped knob moves (here: a slow sweep of the morph amount
and a circle on the XY pad), and prints the values latentbridge replies with. Run `latentbridge live
--osc-reply 127.0.0.1:9002` first, then:

    python -m realtime.osc_send_example --port 9000 --reply-port 9002 --seconds 10
"""

from __future__ import annotations

import argparse
import math
import socket
import threading
import time

from pythonosc.osc_packet import OscPacket
from pythonosc.udp_client import SimpleUDPClient


def listen(port: int, stop: threading.Event) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(0.2)
    while not stop.is_set():
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
            continue
        for timed in OscPacket(data).messages:
            if timed.message.address.endswith("/display"):
                print(f"  <- {timed.message.address[:-8]} = {timed.message.params[0]}")
    sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000, help="latentbridge's OSC port (default 9000)")
    parser.add_argument("--reply-port", type=int, default=0, help="where latentbridge replies (0: do not listen)")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=30.0, help="messages per second, like a moving knob")
    args = parser.parse_args()
    client = SimpleUDPClient(args.host, args.port)
    stop = threading.Event()
    if args.reply_port:
        threading.Thread(target=listen, args=(args.reply_port, stop), daemon=True).start()
    start = time.monotonic()
    while (t := time.monotonic() - start) < args.seconds:
        amount = 0.5 - 0.5 * math.cos(2 * math.pi * t / args.seconds)  # 0 -> 1 -> 0 over the run
        client.send_message("/latentbridge/morph/amount", amount)  # OSC Send: the knob's 0..1 value
        client.send_message("/latentbridge/morph/xy", [0.5 + 0.4 * math.cos(t), 0.5 + 0.4 * math.sin(t)])
        time.sleep(1.0 / args.rate)
    stop.set()


if __name__ == "__main__":
    main()
