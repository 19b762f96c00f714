"""An OpenAI-compatible development and test LLM: `signals llm-stub`.

``create_stub_app`` builds the ASGI app, ``StubState`` scripts faults and counts requests,
``register_generator`` lets a feature give its response model content-aware stub answers.
"""

from service.llmstub.faults import Fault, StubState
from service.llmstub.generate import STUB_MODEL, GenerationContext, register_generator
from service.llmstub.server import create_stub_app, run_stub

__all__ = [
    "STUB_MODEL",
    "Fault",
    "GenerationContext",
    "StubState",
    "create_stub_app",
    "register_generator",
    "run_stub",
]
