"""The OpenAPI 3.1 document for the gateway's HTTP API (served at /openapi.json).

Hand-written and kept next to the parsers it describes; the schemathesis suite fuzzes the
live gateway from it, so a drift between the two shows up as a failing test.
"""

from __future__ import annotations

from typing import Any

from cocore.lexicon import ids

MAX_SEED = 2**63 - 1
_TEXT = 1024 * 1024  # characters of one message or prompt
_STR = {"type": "string"}
_INT = {"type": "integer"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    names = {400: "invalid_request_error (names the field in `param`)",
             401: "invalid_api_key", 402: "insufficient_balance / budget_exceeded",
             403: "terms_not_accepted", 404: "model_not_found", 405: "method_not_allowed",
             413: "request_too_large", 415: "unsupported_media_type", 429: "rate_limited",
             502: "provider_error", 503: "no_providers_available / service_unavailable",
             504: "provider_timeout"}  # fmt: skip
    return {str(s): {"description": names[s], **_json(_ref("Error"))} for s in statuses}


_INFERENCE_ERRORS = _errors(400, 401, 402, 403, 404, 413, 415, 429, 502, 503, 504)

_ROUTING = {
    "country": {"type": ["string", "null"], "pattern": "^[A-Za-z]{2}$",
                "description": "cocore: only providers that declared this country"},
    "min_provider_version": {"type": ["string", "null"], "pattern": r"^v?\d+(\.\d+){0,3}$"},
    "min_trust": {"type": ["string", "null"], "enum": ["self-attested", "hardware-attested", None]},
    "pro_bono": {"type": ["boolean", "null"], "description": "cocore: free, pro-bono providers"},
    "friends_only": {"type": ["boolean", "null"],
                     "description": "cocore: only DIDs named in your account.friend records"},
    "provider": {"type": ["string", "null"], "pattern": "^did:[a-z]+:[a-zA-Z0-9._:%-]+$",
                 "maxLength": 2048, "description": "cocore: pin this provider DID"},
}  # fmt: skip

_SAMPLING = {
    "max_tokens": {"type": ["integer", "null"], "minimum": 1, "maximum": 32768},
    "temperature": {"type": ["number", "null"], "minimum": 0, "maximum": 2},
    "top_p": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 1},
    "seed": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_SEED},
    "stop": {"oneOf": [{"type": "string", "minLength": 1, "maxLength": 256},
                       {"type": "array", "maxItems": 16,
                        "items": {"type": "string", "minLength": 1, "maxLength": 256}},
                       {"type": "null"}]},
    "stream": {"type": ["boolean", "null"]},
    "stream_options": {"type": ["object", "null"],
                       "properties": {"include_usage": {"type": ["boolean", "null"]}}},
    "user": {"type": ["string", "null"], "maxLength": 256},
    "n": {"type": ["integer", "null"], "enum": [1, None]},
}  # fmt: skip

_SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["message", "type", "code"],
        "properties": {"message": _STR, "type": _STR, "code": _STR,
                       "param": {"type": ["string", "null"]}, "details": {"type": "object"}}}}},
    "XrpcError": {"type": "object", "required": ["error", "message"],
                  "properties": {"error": _STR, "message": _STR, "code": _STR}},
    "ContentPart": {"oneOf": [
        {"type": "object", "required": ["type", "text"], "properties": {
            "type": {"const": "text"}, "text": {"type": "string", "maxLength": _TEXT}}},
        {"type": "object", "required": ["type", "image_url"], "properties": {
            "type": {"const": "image_url"}, "image_url": {"type": "object", "required": ["url"],
            "properties": {"url": {"type": "string", "pattern": "^data:image/",
                                   "description": "data:image/…;base64 (never fetched)"}}}}},
    ]},
    "Message": {"type": "object", "required": ["role"], "properties": {
        "role": {"enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {"oneOf": [{"type": "string", "maxLength": _TEXT}, {"type": "null"},
                              {"type": "array", "minItems": 1, "maxItems": 256,
                               "items": _ref("ContentPart")}]},
        "tool_call_id": {"type": ["string", "null"]},
        "tool_calls": {"type": ["array", "null"], "maxItems": 128,
                       "items": {"type": "object"}}}},
    "Tool": {"type": "object", "required": ["type", "function"], "properties": {
        "type": {"const": "function"},
        "function": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
            "description": {"type": ["string", "null"], "maxLength": 4096},
            "parameters": {"type": ["object", "null"]}}}}},
    "ResponseFormat": {"oneOf": [
        {"type": "object", "required": ["type"], "properties": {
            "type": {"enum": ["text", "json_object"]}}},
        {"type": "object", "required": ["type", "json_schema"], "properties": {
            "type": {"const": "json_schema"},
            "json_schema": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"},
                "strict": {"type": ["boolean", "null"]}, "schema": {"type": "object"}}}}}]},
    "ChatRequest": {"type": "object", "required": ["model", "messages"], "properties": {
        "model": {"type": "string", "minLength": 1, "maxLength": 256},
        "messages": {"type": "array", "minItems": 1, "maxItems": 256, "items": _ref("Message")},
        "max_completion_tokens": {"type": ["integer", "null"], "minimum": 1, "maximum": 32768},
        "tools": {"type": ["array", "null"], "maxItems": 128, "items": _ref("Tool")},
        "tool_choice": {"oneOf": [
            {"enum": ["auto", "none", "required"]}, {"type": "null"},
            {"type": "object", "required": ["type", "function"], "properties": {
                "type": {"const": "function"},
                "function": {"type": "object", "required": ["name"],
                             "properties": {"name": _STR}}}}]},
        "response_format": {"oneOf": [_ref("ResponseFormat"), {"type": "null"}]},
        "logprobs": {"type": ["boolean", "null"], "enum": [False, None]},
        **_SAMPLING, **_ROUTING}},
    "CompletionRequest": {"type": "object", "required": ["model", "prompt"], "properties": {
        "model": {"type": "string", "minLength": 1, "maxLength": 256},
        "prompt": {"oneOf": [{"type": "string", "minLength": 1, "maxLength": _TEXT},
                             {"type": "array", "minItems": 1, "maxItems": 1,
                              "items": {"type": "string", "minLength": 1,
                                        "maxLength": _TEXT}}]},
        **_SAMPLING, **_ROUTING}},
    "Usage": {"type": "object", "required": ["prompt_tokens", "completion_tokens", "total_tokens"],
              "properties": {"prompt_tokens": _INT, "completion_tokens": _INT,
                             "total_tokens": _INT}},
    "XCocore": {"type": "object", "required": ["job_uri"], "properties": {
        "job_uri": _STR, "authorization_uri": _STR, "receipt_uri": {"type": ["string", "null"]},
        "settlement_uri": {"type": ["string", "null"]},
        "provider_did": {"type": ["string", "null"]},
        "price": {"type": ["object", "null"]}, "price_ceiling": {"type": "object"}}},
    "ChatCompletion": {"type": "object", "required": ["id", "object", "choices", "usage"],
                       "properties": {"id": _STR, "object": {"const": "chat.completion"},
                                      "created": _INT, "model": _STR,
                                      "choices": {"type": "array"}, "usage": _ref("Usage"),
                                      "x_cocore": _ref("XCocore")}},
    "Completion": {"type": "object", "required": ["id", "object", "choices", "usage"],
                   "properties": {"id": _STR, "object": {"const": "text_completion"},
                                  "choices": {"type": "array"}, "usage": _ref("Usage"),
                                  "x_cocore": _ref("XCocore")}},
    "Model": {"type": "object", "required": ["id", "object", "owned_by"],
              "properties": {"id": _STR, "object": {"const": "model"}, "created": _INT,
                             "owned_by": _STR, "context_length": _INT,
                             "x_cocore": {"type": "object"}}},
    "ApiKeyView": {"type": "object", "required": ["id", "did", "name", "prefix", "createdAt"],
                   "properties": {"id": _STR, "did": _STR, "name": _STR, "prefix": _STR,
                                  "createdAt": _STR, "expiresAt": _STR, "revokedAt": _STR,
                                  "lastUsedAt": _STR, "requestsPerMinute": _INT,
                                  "tokensPerMinute": _INT, "budget": _INT, "spent": _INT}},
}  # fmt: skip


def _op(summary: str, request: str | None, ok: dict[str, Any], errors: dict[str, Any],
        *, public: bool = False, stream: bool = False) -> dict[str, Any]:  # fmt: skip
    content: dict[str, Any] = {"application/json": {"schema": ok}}
    if stream:
        # Each SSE event: `data:` a JSON chunk (or an error object, or `[DONE]`).
        content["text/event-stream"] = {"schema": {
            "type": "object", "required": ["data"], "properties": {"data": _STR}}}  # fmt: skip
    op: dict[str, Any] = {"summary": summary,
                          "responses": {"200": {"description": "OK", "content": content},
                                        **errors}}  # fmt: skip
    if request is not None:
        op["requestBody"] = {"required": True, **_json(_ref(request))}
    if public:
        op["security"] = []
    return op


def _xrpc(
    nsid: object, summary: str, body: dict[str, Any] | None, ok: dict[str, Any]
) -> dict[str, Any]:
    errors = {str(s): {"description": "XRPC error", **_json(_ref("XrpcError"))}
              for s in (400, 401, 413, 415)}  # fmt: skip
    op: dict[str, Any] = {"summary": summary, "operationId": str(nsid),
                          "responses": {"200": {"description": "OK", **_json(ok)},
                                        **errors}}  # fmt: skip
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    return op


def _flag(name: str) -> dict[str, Any]:
    return {"type": "object", "required": [name], "properties": {name: {"type": "boolean"}}}


_KEY_ID = {"type": "object", "required": ["id"],
           "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 200}}}  # fmt: skip


def document() -> dict[str, Any]:
    create = {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 100},
        "expiresAt": {"type": ["string", "null"], "format": "date-time"},
        "requestsPerMinute": {"type": ["integer", "null"], "minimum": 0, "maximum": 10**9},
        "tokensPerMinute": {"type": ["integer", "null"], "minimum": 0, "maximum": 10**12},
        "budget": {"type": ["integer", "null"], "minimum": 0, "maximum": 10**12}}}  # fmt: skip
    paths = {
        "/v1/chat/completions": {"post": _op(
            "Chat completion (SSE when stream is true)", "ChatRequest", _ref("ChatCompletion"),
            _INFERENCE_ERRORS, stream=True)},
        "/v1/completions": {"post": _op(
            "Text completion (SSE when stream is true)", "CompletionRequest", _ref("Completion"),
            _INFERENCE_ERRORS, stream=True)},
        "/v1/models": {"get": _op(
            "Models live on the network", None,
            {"type": "object", "required": ["object", "data"],
             "properties": {"object": {"const": "list"},
                            "data": {"type": "array", "items": _ref("Model")}}},
            _errors(503), public=True)},
        "/v1/models/{model}": {"get": {**_op("One live model", None, _ref("Model"),
                                             _errors(404, 503), public=True),
                                       "parameters": [{"name": "model", "in": "path",
                                                       "required": True, "schema": _STR}]}},
        "/v1/account": {"get": _op("Account status: balance, terms", None, {"type": "object"},
                                   _errors(401, 503))},
        "/v1/account/login": {"post": {**_op(
            "Store an app-password login and mint a key", None, {"type": "object"},
            _errors(400, 401, 413, 415, 503), public=True),
            "requestBody": {"required": True, **_json({
                "type": "object", "required": ["identifier", "password"], "properties": {
                    "identifier": {"type": "string", "minLength": 3, "maxLength": 2048},
                    "password": {"type": "string", "minLength": 1, "maxLength": 1024},
                    "keyName": {"type": ["string", "null"], "minLength": 1, "maxLength": 100}}})}}},
        "/v1/account/accept-terms": {"post": {**_op(
            "Accept the exchange's terms (countersigned, written to your repo)", None,
            {"type": "object"}, _errors(400, 401, 403, 413, 415, 503)),
            "requestBody": {"required": True, **_json({"type": "object", "properties": {
                "userAgent": {"type": ["string", "null"], "maxLength": 512}}})}}},
        "/v1/account/wipe": {"post": _op(
            "Delete this account's keys, stored login and queued records", None,
            {"type": "object"}, _errors(401, 503))},
        f"/xrpc/{ids.ACCOUNT_CREATE_API_KEY}": {"post": _xrpc(
            ids.ACCOUNT_CREATE_API_KEY, "Mint an API key (the secret is shown once)", create,
            {"type": "object", "required": ["key", "secret"],
             "properties": {"key": _ref("ApiKeyView"), "secret": _STR}})},
        f"/xrpc/{ids.ACCOUNT_LIST_API_KEYS}": {"get": _xrpc(
            ids.ACCOUNT_LIST_API_KEYS, "List your keys, newest first", None,
            {"type": "object", "required": ["keys"],
             "properties": {"keys": {"type": "array", "items": _ref("ApiKeyView")}}})},
        f"/xrpc/{ids.ACCOUNT_REVOKE_API_KEY}": {"post": _xrpc(
            ids.ACCOUNT_REVOKE_API_KEY, "Revoke a key (kept for audit)", _KEY_ID,
            _flag("revoked"))},
        f"/xrpc/{ids.ACCOUNT_DELETE_API_KEY}": {"post": _xrpc(
            ids.ACCOUNT_DELETE_API_KEY, "Delete a key", _KEY_ID,
            _flag("deleted"))},
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {"title": "cocore gateway", "version": "1",
                 "description": "OpenAI-compatible inference on the cocore network; every "
                                "answer names its job, receipt and settlement (x_cocore)."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": _SCHEMAS},
        "paths": paths,
    }  # fmt: skip
