"""The provider's inference engine: mlx-lm in process, continuous batching, one async API.

    engine = await load_engine(EngineConfig((ModelSpec("tiny", Path("var/models/tiny")),)))
    engine.faults()                      # {model: EngineFault} for models that did not load
    async with engine.generate(GenerationRequest("tiny", messages=[…], max_tokens=64)) as s:
        async for item in s:             # Delta(channel, text[, tool_call]) …, then one Finish
            …
    await engine.stop()

Importing this package does not import mlx; only `load_engine` does.
"""

from services.provider.engine.base import Engine, GenerationStream
from services.provider.engine.errors import (
    EngineNotRunning,
    InvalidGenerationRequest,
    ModelLoadFailed,
    ModelNotServed,
    PromptTooLong,
    ToolsUnsupported,
)
from services.provider.engine.local import EngineConfig, LocalEngine, ModelSpec, load_engine
from services.provider.engine.types import (
    Channel,
    Delta,
    EngineFault,
    Finish,
    FinishReason,
    GenerationRequest,
    ModelInfo,
    ResponseFormat,
    ToolCall,
    coalesce,
)

__all__ = [
    "Channel",
    "Delta",
    "Engine",
    "EngineConfig",
    "EngineFault",
    "EngineNotRunning",
    "Finish",
    "FinishReason",
    "GenerationRequest",
    "GenerationStream",
    "InvalidGenerationRequest",
    "LocalEngine",
    "ModelInfo",
    "ModelLoadFailed",
    "ModelNotServed",
    "ModelSpec",
    "PromptTooLong",
    "ResponseFormat",
    "ToolCall",
    "ToolsUnsupported",
    "coalesce",
    "load_engine",
]
