"""gRPC servicers: thin adapters from messages to the pool, the streams and the dispatcher."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from cocore.errors import CocoreError
from cocore.proto.matchmaker.v1 import matchmaker_pb2 as pb
from cocore.proto.matchmaker.v1 import matchmaker_pb2_grpc as pb_grpc

from .api import provider_info
from .dispatch.front import Dispatcher
from .dispatch.mux import DispatchMux
from .dispatch.pick import pick
from .errors import StreamClosed
from .service_auth import FORWARDED_HEADER, ServiceCredential
from .streams.connection import ProviderStream
from .streams.hub import Hub


class ProviderLinkServicer(pb_grpc.ProviderLinkServicer):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def Connect(self, requests: AsyncIterator[pb.ProviderFrame], context: Any) -> None:
        if self._hub.draining:
            raise StreamClosed("the matchmaker is shutting down", code="matchmaker_draining")
        stream = ProviderStream(self._hub, requests, context)
        try:
            await stream.run()
        except CocoreError as e:
            if stream.entry is None:
                self._hub.events.registration_refused(e.code)
            raise


class MatchmakerServicer(pb_grpc.MatchmakerServicer):
    def __init__(self, hub: Hub, dispatcher: Dispatcher, credential: ServiceCredential) -> None:
        self._hub = hub
        self._dispatcher = dispatcher
        self._credential = credential

    async def Pick(self, request: pb.PickRequest, context: Any) -> pb.PickResponse:
        self._credential.check(context)
        return pick(self._hub, request)

    async def Dispatch(
        self, request: pb.DispatchRequest, context: Any
    ) -> AsyncIterator[pb.DispatchEvent]:
        metadata = self._credential.check(context)
        async with aclosing(self._timed(request, FORWARDED_HEADER in metadata)) as events:
            async for event in events:
                yield event

    async def DispatchStream(
        self, requests: AsyncIterator[pb.DispatchStreamRequest], context: Any
    ) -> None:
        self._credential.check(context)
        mux = DispatchMux(lambda request: self._timed(request, False), context.write)
        await mux.serve(requests)

    async def _timed(
        self, request: pb.DispatchRequest, forwarded: bool
    ) -> AsyncGenerator[pb.DispatchEvent, None]:
        start, streaming = time.perf_counter(), False
        async with aclosing(self._dispatcher.dispatch(request, forwarded=forwarded)) as events:
            async for event in events:
                if not streaming and event.WhichOneof("event") == "chunks":
                    streaming = True
                    self._hub.events.dispatch_streaming(time.perf_counter() - start)
                yield event

    async def ReleaseLease(
        self, request: pb.ReleaseLeaseRequest, context: Any
    ) -> pb.ReleaseLeaseResponse:
        self._credential.check(context)
        pool = self._hub.pool
        claims = pool.signer.verify(request.lease, self._hub.wall_clock())
        return pb.ReleaseLeaseResponse(released=pool.release_lease(claims))

    async def ListProviders(
        self, request: pb.ListProvidersRequest, context: Any
    ) -> pb.ListProvidersResponse:
        self._credential.check(context)
        now = self._hub.wall_clock()
        rows = [
            provider_info(e, self._hub.pool, now)
            for e in self._hub.pool.entries()
            if not request.model or request.model in e.models
        ]
        return pb.ListProvidersResponse(providers=rows)
