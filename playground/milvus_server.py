"""One Milvus Lite server for a data path, on a unix socket; started by playground.embedded.

Run as a script (`python milvus_server.py DATA_PATH SOCKET`), not as a module of the package, so
that it imports neither Django nor Celery. Milvus Lite locks its data path: one process holds it
and serves every web process, worker and test session over gRPC.
"""

import os
import signal
import sys
import threading
from concurrent import futures

import grpc
from milvus_lite.adapter.grpc.servicer import MilvusServicer
from milvus_lite.db import MilvusLite
from pymilvus.grpc_gen import milvus_pb2_grpc

# as Milvus Lite's own server: a batch of 1,000 vectors of 4,096 floats passes
MESSAGE_BYTES = 256 * 1024 * 1024


def main(data_path: str, socket_path: str) -> None:
    os.umask(0o077)  # the socket, like the data, is its owner's alone
    stopping = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stopping.set())
    db = MilvusLite(data_path)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=[
        ("grpc.max_receive_message_length", MESSAGE_BYTES),
        ("grpc.max_send_message_length", MESSAGE_BYTES),
        # pymilvus pings every 10 s, idle or not; gRPC's defaults answer that with "too_many_pings"
        # and close the connection, which every client then logs and makes again
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000),
        ("grpc.http2.max_ping_strikes", 0),
    ])
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(db), server)
    server.add_insecure_port(f"unix:{socket_path}")
    server.start()
    print(f"Milvus Lite serving {data_path} on {socket_path}", flush=True)
    stopping.wait()
    server.stop(grace=5).wait()
    db.close()  # writes out what is still in memory
    print("Milvus Lite stopped", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
