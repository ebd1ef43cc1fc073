"""The gRPC runtime every cocore service uses: server builder, interceptors, lifecycle.

    running = await start_server(ServerConfig.from_env(os.environ, "COCORE_X_"), register)
    await run_until_signal(running)

`protogen` (behind `make proto`) is a separate tool and is not imported here.
"""

from cocore.rpc.config import ConfigError, ServerConfig
from cocore.rpc.errors import error_from_rpc, status_for
from cocore.rpc.lifecycle import run_until_signal
from cocore.rpc.server import BindError, Register, RunningServer, service_name, start_server
from cocore.rpc.tls import is_loopback, open_channel

__all__ = [
    "BindError",
    "ConfigError",
    "Register",
    "RunningServer",
    "ServerConfig",
    "error_from_rpc",
    "is_loopback",
    "open_channel",
    "run_until_signal",
    "service_name",
    "start_server",
    "status_for",
]
