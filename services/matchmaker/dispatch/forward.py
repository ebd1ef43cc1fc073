"""Forward an attempt to the replica that holds the provider's stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import grpc

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.proto.matchmaker.v1 import matchmaker_pb2_grpc as pb_grpc
from cocore.rpc import error_from_rpc

from ..service_auth import FORWARDED_HEADER
from .local import error_event


class Peers:
    """One channel per peer replica, authenticated with the shared service credential."""

    def __init__(self, service_token: str, replica_id: str, max_message_bytes: int) -> None:
        self._metadata = (
            ("authorization", f"Bearer {service_token}"),
            (FORWARDED_HEADER, replica_id),
        )
        self._options = [
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", max_message_bytes),
        ]
        self._stubs: dict[str, tuple[grpc.aio.Channel, pb_grpc.MatchmakerStub]] = {}

    async def dispatch(
        self, address: str, spec: pb.JobSpec, attempt: pb.Attempt
    ) -> AsyncGenerator[pb.DispatchEvent, None]:
        call = self._stub(address).Dispatch(
            pb.DispatchRequest(spec=spec, attempts=[attempt]), metadata=self._metadata
        )
        try:
            async for event in call:
                yield event
        except grpc.aio.AioRpcError as e:
            error = error_from_rpc(e)
            yield error_event("forward_failed", f"the owning replica failed: {error.code}")
        finally:
            call.cancel()  # the caller went away: the owner cancels the job at the provider

    def _stub(self, address: str) -> pb_grpc.MatchmakerStub:
        found = self._stubs.get(address)
        if found is None:
            channel = grpc.aio.insecure_channel(address, options=self._options)
            found = self._stubs[address] = (channel, pb_grpc.MatchmakerStub(channel))
        return found[1]

    async def aclose(self) -> None:
        for channel, _ in self._stubs.values():
            await channel.close()
        self._stubs.clear()
