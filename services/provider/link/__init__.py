"""The provider's link to the matchmaker: one stream, jobs in, sealed chunks out, resumable.

    link = ProviderLink(identity, settings, runner, service_token)
    task = asyncio.create_task(link.run())
    ...
    await link.drain()   # on SIGTERM: no new jobs, running ones finish, then close

The agent implements `JobRunner.run(job, out)`: open `job.sealed_input`, generate, seal each
piece and `await out.emit(channel, sealed)`; return a `JobResult` or raise `JobFailure`.
"""

from cocore.proto.matchmaker.v1 import matchmaker_pb2 as _pb
from cocore.rpc import service_name as _service_name

from .echo import EchoRunner
from .errors import LinkError
from .link import LinkStatus, ProviderLink
from .output import JobOutput
from .settings import LinkIdentity, LinkSettings, Posture, TokenSource
from .types import (
    Channel,
    JobCancelled,
    JobFailure,
    JobRequest,
    JobResult,
    JobRunner,
    LoadReport,
    ModelSpec,
    Money,
    ProBono,
    StrongRef,
)

# The `lxm` the service-auth JWT must carry (the matchmaker checks it).
CONNECT_LXM = f"{_service_name(_pb, 'ProviderLink')}.Connect"

__all__ = [
    "CONNECT_LXM",
    "Channel",
    "EchoRunner",
    "JobCancelled",
    "JobFailure",
    "JobOutput",
    "JobRequest",
    "JobResult",
    "JobRunner",
    "LinkError",
    "LinkIdentity",
    "LinkSettings",
    "LinkStatus",
    "LoadReport",
    "ModelSpec",
    "Money",
    "Posture",
    "ProBono",
    "ProviderLink",
    "StrongRef",
    "TokenSource",
]
