"""Errors the engine raises synchronously from `generate()` (everything later is a Finish)."""

from __future__ import annotations

from cocore.errors import FailedPrecondition, InvalidInput, NotFound, Unavailable


class InvalidGenerationRequest(InvalidInput):
    default_code = "invalid_generation_request"


class ToolsUnsupported(InvalidInput):
    default_code = "tools_unsupported"


class ModelNotServed(NotFound):
    default_code = "model_not_served"


class EngineNotRunning(Unavailable):
    default_code = "engine_not_running"


class ModelBuildError(FailedPrecondition):
    """A model directory could not be built or converted (tiny model, GGUF conversion)."""

    default_code = "model_build_failed"


class ModelLoadFailed(FailedPrecondition):
    """A configured model did not load; `code` is the provider record's `engineFault.code`."""

    default_code = "model-load-failed"


class PromptTooLong(InvalidInput):
    default_code = "context_length_exceeded"
