"""`response_format`: what the model is told, and how its finished content is checked.

Honest scope: the engine does NOT constrain decoding. It instructs the model (a system
instruction carrying the schema) and validates the finished content; the verdict is reported
on the Finish (`format_ok`, `format_error`) so the caller can refuse or retry.
"""

from __future__ import annotations

import json

import jsonschema

from services.provider.engine.errors import InvalidGenerationRequest
from services.provider.engine.types import ResponseFormat


def check_schema(fmt: ResponseFormat | None) -> None:
    """Refuses an unusable schema up front (bad input changes nothing)."""
    if fmt is None or fmt.type != "json_schema":
        return
    try:
        jsonschema.Draft202012Validator.check_schema(dict(fmt.schema or {}))
    except jsonschema.SchemaError as exc:
        raise InvalidGenerationRequest(
            f"response_format.json_schema.schema is not a valid JSON Schema ({exc.validator})"
        ) from None


def format_instruction(fmt: ResponseFormat | None) -> str | None:
    if fmt is None or fmt.type == "text":
        return None
    if fmt.type == "json_object":
        return "Respond with a single JSON object and nothing else."
    schema = json.dumps(fmt.schema or {}, separators=(",", ":"), sort_keys=True)
    return f"Respond with a single JSON value that matches this JSON Schema, nothing else: {schema}"


def check_output(text: str, fmt: ResponseFormat | None) -> tuple[bool | None, str | None]:
    """(format_ok, format_error); the error names the failed rule, never the output text."""
    if fmt is None or fmt.type == "text":
        return None, None
    try:
        value = json.loads(text)
    except ValueError:
        return False, "not_json"
    if fmt.type == "json_object":
        return (True, None) if isinstance(value, dict) else (False, "not_object")
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(dict(fmt.schema or {})).iter_errors(value)
    )
    return (True, None) if error is None else (False, f"schema:{error.validator}")
