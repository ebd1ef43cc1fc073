"""bench/serving (c): concurrent provider streams on one matchmaker replica, memory per stream.

The matchmaker runs in its own process (so its RSS is its own), with the production timers
(heartbeats every 10 s, pings every 15 s) and auth stubbed to "accept" (the PDS is not what is
measured; every stream still answers a real P-256 challenge). This process opens one TCP
connection and one Connect stream per simulated machine, registers them all, keeps them
alive (pongs, heartbeats), and reads the server's RSS and CPU. Goal: 10,000 streams < 2 GB.

    python -m bench.serving c            (or: python -m bench.serving_streams --streams 2000)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc

from cocore.crypto import EncryptionKeyPair, SealScheme, SigningKey
from cocore.proto.common.v1 import common_pb2
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.proto.matchmaker.v1 import matchmaker_pb2_grpc as pb_grpc
from cocore.rpc import ServerConfig, run_until_signal
from cocore.signing import challenge_response_signing_bytes
from cocore.storage import sqlite_url
from services.matchmaker.config import MatchmakerConfig
from services.matchmaker.server import start
from services.matchmaker.streams.attestation import AttestationFacts, Claimed

STREAMS = 10_000
TOKEN = "bench-matchmaker-token-0123456789abcdef"
ATTESTATION_CID = "bafyreie5737gdxlw5i64vzichcalba3z2v5n6icifvx5xytvske7mr3hpm"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def machine_did(index: int) -> str:
    digits = []
    for _ in range(24):
        index, rest = divmod(index, 32)
        digits.append(_B32[rest])
    return "did:plc:" + "".join(reversed(digits))


# ---------------------------------------------------------------- the server process


class _AcceptTokens:
    async def verify(self, token: str, did: str) -> None:
        return None


class _AcceptAttestations:
    async def check(self, claimed: Claimed) -> AttestationFacts:
        return AttestationFacts(time.time() + 86_400)


async def _serve(db: Path) -> None:
    config = MatchmakerConfig(
        server=ServerConfig(metrics_port=None), service_token=TOKEN, database_url=sqlite_url(db),
        replica_id="bench", directory_sync_s=5, directory_lease_s=30,
    )  # fmt: skip
    service = await start(config, tokens=_AcceptTokens(), attestations=_AcceptAttestations())
    print(service.running.port, flush=True)
    try:
        await run_until_signal(service.running, grace_s=0)
    finally:
        await service.stop(grace_s=0)


def _raise_fd_limit() -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---------------------------------------------------------------- the simulated machines


class Machines:
    def __init__(self, address: str) -> None:
        self.address = address
        self.key = SigningKey.generate()
        self.enc = EncryptionKeyPair.generate(SealScheme.X25519).public_key_b64
        self.registered = 0
        self.failed: dict[str, int] = {}
        self.channels: list[grpc.aio.Channel] = []
        self.beats: set[asyncio.Future[None]] = set()
        self.retries = 0

    async def one(self, index: int, ready: asyncio.Event) -> None:
        """One machine: connect, register, stay; reconnect after a refused start, like the link."""
        for _ in range(20):
            if await self._stream(index, ready):
                return
            self.retries += 1
            await asyncio.sleep(0.5 + secrets.randbelow(1500) / 1000)

    async def _stream(self, index: int, ready: asyncio.Event) -> bool:
        """False when the stream failed before registering (worth retrying)."""
        if index % STREAMS_PER_CONNECTION[0] == 0 or not self.channels:
            self.channels.append(grpc.aio.insecure_channel(self.address))
        call = pb_grpc.ProviderLinkStub(self.channels[-1]).Connect()
        lock = asyncio.Lock()  # one write at a time per call (as the link's writer task does)
        registered = False
        try:
            await call.write(pb.ProviderFrame(register=self._register(index)))
            while (frame := await call.read()) is not grpc.aio.EOF:
                kind = frame.WhichOneof("frame")
                if kind == "challenge":
                    async with lock:
                        await call.write(self._answer(frame.challenge))
                elif kind == "registered":
                    registered = True
                    self.registered += 1
                    beat_s = frame.registered.heartbeat_interval_ms / 1000
                    self.beats.add(asyncio.ensure_future(self._beat(call, lock, beat_s)))
                    if self.registered == STREAMS_WANTED[0]:
                        ready.set()
                elif kind == "ping":
                    async with lock:
                        await call.write(pb.ProviderFrame(pong=pb.Pong(nonce=frame.ping.nonce)))
        except grpc.aio.AioRpcError as e:
            if registered:
                self.failed[e.code().name] = self.failed.get(e.code().name, 0) + 1
        return registered

    async def _beat(
        self, call: grpc.aio.StreamStreamCall, lock: asyncio.Lock, every_s: float
    ) -> None:
        await asyncio.sleep(every_s * secrets.randbelow(1000) / 1000)  # spread them out
        while not call.done():
            async with lock:
                try:
                    await call.write(pb.ProviderFrame(heartbeat=pb.Heartbeat(free_slots=2)))
                except (grpc.aio.AioRpcError, asyncio.InvalidStateError):
                    return  # the stream ended; `one` counts it
            await asyncio.sleep(every_s)

    def _register(self, index: int) -> pb.Register:
        did = machine_did(index)
        attestation = common_pb2.StrongRef(
            uri=f"at://{did}/dev.cocore.compute.attestation/3kbench", cid=ATTESTATION_CID
        )
        return pb.Register(
            did=did, machine_id="m1", auth_jwt="stub",
            attestation_pub_key=self.key.public_key.to_cocore_b64(), attestation=attestation,
            encryption_pub_key=self.enc, enc_scheme="x25519",
            models=[pb.ModelInfo(id=f"model-{index % 40}", context_length=8192)], slots=2,
            binary_version="1.0.0", stream_resume_version=1,
        )  # fmt: skip

    def _answer(self, c: pb.Challenge) -> pb.ProviderFrame:
        signature = self.key.sign_der(challenge_response_signing_bytes(c.nonce, c.timestamp))
        answer = pb.ChallengeResponse(nonce=c.nonce, timestamp=c.timestamp, signature=signature)
        return pb.ProviderFrame(challenge_response=answer)


STREAMS_WANTED = [STREAMS]
STREAMS_PER_CONNECTION = [1]  # 1: one TCP connection per machine, as in production


async def _settle(machines: Machines, ready: asyncio.Event, streams: int) -> None:
    """Until every machine registered or failed, or nothing changed for a minute."""
    last, quiet_since = -1, time.monotonic()
    while not ready.is_set() and time.monotonic() - quiet_since < 60:
        done = machines.registered
        if done >= streams:
            return
        if done != last:
            last, quiet_since = done, time.monotonic()
            print(f"# {done:,} registered, {machines.retries:,} retried starts",
                  file=sys.stderr, flush=True)  # fmt: skip
        await asyncio.sleep(2)


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _pick_latency(address: str, n: int = 300) -> tuple[float, float]:
    async with grpc.aio.insecure_channel(address) as channel:
        stub, samples = pb_grpc.MatchmakerStub(channel), []
        auth = (("authorization", f"Bearer {TOKEN}"),)
        for i in range(n):
            start = time.perf_counter()
            await stub.Pick(pb.PickRequest(model=f"model-{i % 40}"), metadata=auth)
            samples.append(time.perf_counter() - start)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99)]


async def run(streams: int = STREAMS, steady_s: float = 30.0) -> list[str]:
    STREAMS_WANTED[0] = streams
    _raise_fd_limit()
    with tempfile.TemporaryDirectory() as tmp:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.serving_streams", "--serve", str(Path(tmp) / "mm.sqlite"),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            return await _measure(server, streams, steady_s)
        finally:
            server.terminate()
            await server.wait()


async def _measure(server: asyncio.subprocess.Process, streams: int, steady_s: float) -> list[str]:
    assert server.stdout is not None
    port = int((await server.stdout.readline()).decode())
    await asyncio.sleep(1.0)
    base_mb = _rss_mb(server.pid)
    machines, ready = Machines(f"127.0.0.1:{port}"), asyncio.Event()
    started = time.perf_counter()
    tasks = []
    for index in range(streams):
        tasks.append(asyncio.ensure_future(machines.one(index, ready)))
        if index % 100 == 99:
            await asyncio.sleep(0.2)  # a ramp of 500 machines a second, a fleet coming online
    await _settle(machines, ready, streams)
    ramp_s = time.perf_counter() - started
    await asyncio.sleep(5)
    full_mb = _rss_mb(server.pid)
    cpu0, wall0 = _cpu_s(server.pid), time.perf_counter()
    await asyncio.sleep(steady_s)
    cpu_pct = 100 * (_cpu_s(server.pid) - cpu0) / (time.perf_counter() - wall0)
    alive = machines.registered - sum(machines.failed.values())
    p50, p99 = await _pick_latency(machines.address)
    end_mb = _rss_mb(server.pid)
    for task in [*tasks, *machines.beats]:
        task.cancel()
    await asyncio.gather(*tasks, *machines.beats, return_exceptions=True)
    for channel in machines.channels:
        await channel.close()
    per_stream_kb = (full_mb - base_mb) * 1024 / streams
    return [
        f"(c) provider streams on one replica ({streams:,} machines, one TCP connection each)",
        f"| {'measure':<52} | {'value':>14} |",
        f"|{'-' * 54}|{'-' * 16}|",
        f"| {'streams registered (challenge answered)':<52} | {machines.registered:>14,} |",
        f"| {f'still alive after {steady_s:.0f} s of heartbeats and pings':<52} | {alive:>14,} |",
        f"| {'time to register all (ramp of 500 a second)':<52} | {ramp_s:>12.1f} s |",
        f"| {'server RSS before / with all streams':<52} | {base_mb:>5.0f} / {full_mb:>4.0f} MB |",
        f"| {'server RSS after the steady period':<52} | {end_mb:>11.0f} MB |",
        f"| {'memory per stream':<52} | {per_stream_kb:>11.1f} KB |",
        f"| {'server CPU while idle-streaming (heartbeats, pings)':<52} | {cpu_pct:>12.1f} % |",
        f"| {'Pick RPC p50 / p99 with all streams up':<52} | "
        f"{p50 * 1e3:>5.2f} / {p99 * 1e3:>4.2f} ms |",
        f"| {'registered streams that failed later (by status)':<52} | "
        f"{machines.failed or 0!s:>14} |",
        f"| {'stream starts refused by grpc during the ramp, retried':<52} | "
        f"{machines.retries:>14,} |",
    ]


async def part_c_provider_streams() -> None:
    print("\n".join(await run()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=Path, help="(internal) run the matchmaker on this db")
    parser.add_argument("--streams", type=int, default=STREAMS)
    parser.add_argument("--steady", type=float, default=30.0)
    args = parser.parse_args()
    if args.serve is not None:
        if os.environ.get("BENCH_SERVER_LOG"):
            logging.basicConfig(level=logging.INFO)
        _raise_fd_limit()
        asyncio.run(_serve(args.serve))
        return
    print("\n".join(asyncio.run(run(args.streams, args.steady))))


if __name__ == "__main__":
    main()
