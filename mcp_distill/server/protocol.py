"""The protocol surface MCPServer leaves to the application: completion, logging/setLevel, resource
subscriptions, and the spec's error codes.

- ``completion/complete``: every resource-template argument and prompt argument completes from the store
  (prefix match, sorted, at most 100 values); an unknown reference completes to nothing, as the spec allows.
- ``logging/setLevel``: remembered per connection for handshake-era clients (server/context.log filters by it).
- ``resources/subscribe`` / ``unsubscribe``: per connection; tools that change the store notify through
  server/context.resources_changed. 2026-07-28 clients use ``subscriptions/listen``, which the SDK serves.
- Error codes: an unknown resource is -32002 for handshake-era clients (the code of their revisions) and
  -32602 from 2026-07-28 on (SEP-2164 retired -32002); an unknown tool or prompt, or a prompt argument
  missing, is -32602 with one sentence; a tool argument out of bounds is a tool error (isError) with one
  sentence naming the argument and its bounds: the 2025-11-25 spec classes input validation of a known
  tool as a tool execution error, so the model can correct itself.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.shared.exceptions import MCPError
from mcp_types import (
    INVALID_PARAMS,
    CallToolResult,
    Completion,
    CompletionArgument,
    EmptyResult,
    PromptReference,
    ResourceTemplateReference,
    SetLevelRequestParams,
    SubscribeRequestParams,
    TextContent,
    UnsubscribeRequestParams,
)
from pydantic import ValidationError

from mcp_distill.lookup import complete
from mcp_distill.server.context import StateHolder, is_modern
from mcp_distill.server.validation import argument_sentence

#: The pre-2026 code for "resource not found".
RESOURCE_NOT_FOUND = -32002

# (uri template or prompt name, argument) -> lookup kind; other arguments fall back to _BY_ARGUMENT.
_COMPLETIONS = {
    ("distill://scratchpads/{run_id}", "run_id"): "scratchpad_run",
    ("apply_playbook", "task"): "playbook_title",
}
_BY_ARGUMENT = {"run_id": "run", "playbook_id": "playbook", "task_type": "task_type", "model": "model",
                "snapshot_id": "drift", "receipt_id": "receipt", "name": "schema"}


def register(mcp: MCPServer, holder: StateHolder) -> None:
    """Add the handlers MCPServer does not register itself, and wrap the ones whose errors need spec codes."""
    low = mcp._lowlevel_server  # the SDK exposes request-handler registration only on the low-level server

    @mcp.completion()
    async def completion(ref: PromptReference | ResourceTemplateReference, argument: CompletionArgument,
                         context: Any) -> Completion:
        key = ref.uri if isinstance(ref, ResourceTemplateReference) else ref.name
        kind = _COMPLETIONS.get((key, argument.name)) or _BY_ARGUMENT.get(argument.name)
        if kind is None or not _known_reference(mcp, ref):
            return Completion(values=[], total=0, has_more=False)
        store = holder.get().store
        found = await anyio.to_thread.run_sync(lambda: complete(store, kind, argument.value or ""))
        return Completion(values=found.values, total=found.total, has_more=found.has_more)

    async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        sessions = ctx.lifespan_context.sessions
        sessions.levels[sessions.key(ctx.session)] = params.level
        return EmptyResult()

    async def subscribe(ctx: Any, params: SubscribeRequestParams) -> EmptyResult:
        uri = str(params.uri)
        if not _resolvable(mcp, uri):
            raise _not_found(ctx.protocol_version, uri)
        sessions = ctx.lifespan_context.sessions
        sessions.subscriptions.setdefault(sessions.key(ctx.session), set()).add(uri)
        return EmptyResult()

    async def unsubscribe(ctx: Any, params: UnsubscribeRequestParams) -> EmptyResult:
        sessions = ctx.lifespan_context.sessions
        sessions.subscriptions.get(sessions.key(ctx.session), set()).discard(str(params.uri))
        return EmptyResult()

    low.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)
    low.add_request_handler("resources/subscribe", SubscribeRequestParams, subscribe)
    low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, unsubscribe)
    _wrap_read_resource(low)
    _wrap_get_prompt(mcp, low)
    _wrap_call_tool(mcp, low)


def _known_reference(mcp: MCPServer, ref: PromptReference | ResourceTemplateReference) -> bool:
    if isinstance(ref, PromptReference):
        return mcp._prompt_manager.get_prompt(ref.name) is not None
    return ref.uri in mcp._resource_manager._templates


def _resolvable(mcp: MCPServer, uri: str) -> bool:
    """A URI one of the static resources or templates answers (not whether the id exists yet)."""
    manager = mcp._resource_manager
    if uri in manager._resources:
        return True
    return any(template.matches(uri) is not None for template in manager._templates.values())


def _not_found(protocol_version: str | None, uri: str) -> MCPError:
    code = INVALID_PARAMS if is_modern(protocol_version) else RESOURCE_NOT_FOUND
    return MCPError(code=code, message=f"no resource {uri}; resources/list and resources/templates/list name "
                                       "what exists", data={"uri": uri})


def _wrap(low: Any, method: str, make: Any) -> None:
    """Replace ``method``'s handler by ``make(original handler)``, keeping its params type."""
    entry = low.get_request_handler(method)
    low.add_request_handler(method, entry.params_type, make(entry.handler))


def _wrap_read_resource(low: Any) -> None:
    _wrap(low, "resources/read", _read_resource_codes)


def _read_resource_codes(original: Any) -> Any:
    async def read_resource(ctx: Any, params: Any) -> Any:
        try:
            return await original(ctx, params)
        except MCPError as exc:
            # The SDK answers not-found with -32602, the 2026 code; older revisions expect -32002.
            if exc.error.code == INVALID_PARAMS and not is_modern(ctx.protocol_version):
                raise MCPError(code=RESOURCE_NOT_FOUND, message=exc.error.message, data=exc.error.data) from exc
            raise
    return read_resource


def _wrap_get_prompt(mcp: MCPServer, low: Any) -> None:
    _wrap(low, "prompts/get", lambda original: _checked_prompt(mcp, original))


def _checked_prompt(mcp: MCPServer, original: Any) -> Any:
    async def get_prompt(ctx: Any, params: Any) -> Any:
        prompt = mcp._prompt_manager.get_prompt(params.name)
        if prompt is None:
            names = ", ".join(p.name for p in await mcp.list_prompts())
            raise MCPError(code=INVALID_PARAMS, message=f"no prompt {params.name!r}; known: {names}")
        given = params.arguments or {}
        for arg in prompt.arguments or []:
            if arg.required and not str(given.get(arg.name) or "").strip():
                hint = f" ({arg.description})" if arg.description else ""
                raise MCPError(code=INVALID_PARAMS, message=f"prompt {prompt.name!r} needs the argument "
                                                            f"{arg.name!r}{hint}; pass it in arguments")
        try:
            return await original(ctx, params)
        except (ResourceError, ValueError) as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from exc
    return get_prompt


def _wrap_call_tool(mcp: MCPServer, low: Any) -> None:
    _wrap(low, "tools/call", lambda original: _checked_tool(mcp, original))


def _checked_tool(mcp: MCPServer, original: Any) -> Any:
    async def call_tool(ctx: Any, params: Any) -> Any:
        tool = mcp._tool_manager.get_tool(params.name)
        if tool is None:
            names = ", ".join(t.name for t in mcp._tool_manager.list_tools())
            raise MCPError(code=INVALID_PARAMS, message=f"no tool {params.name!r}; known: {names}")
        try:
            tool.fn_metadata.validate_arguments(params.arguments or {})
        except ValidationError as exc:
            text = argument_sentence(params.name, exc, tool.parameters)
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        return await original(ctx, params)
    return call_tool
