"""Who is calling an MCP tool: the runtime and the API key (or a keyless public reader), read
through the same functions the JSON routes use, so an agent's view cannot drift from the key's
view over HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from service.errors import Forbidden
from service.keys.repository import StoredKey
from service.keys.service import require_scope
from service.keys.suppliers import SupplierView, supplier_view
from service.runtime import Runtime


@dataclass(frozen=True, slots=True)
class Caller:
    rt: Runtime
    key: StoredKey | None
    """The authenticated key; None: a keyless reader, allowed only with SIGNALS_PUBLIC_READ."""

    @property
    def allowed_topics(self) -> tuple[int, ...] | None:
        """The key's topic restriction (None: every topic), as ``service.http.allowed_topics``."""
        if self.key is None or self.key.allowed_topic_ids is None:
            return None
        return tuple(self.key.allowed_topic_ids)

    @property
    def suppliers(self) -> SupplierView:
        """Whose supplied content the caller sees, as ``service.http.suppliers_seen``."""
        return supplier_view(self.key)

    def may(self, scope: str) -> bool:
        """Whether the caller holds ``scope`` (a keyless public reader: signals:read only)."""
        if self.key is None:
            return scope == "signals:read"
        return scope in self.key.scopes or "admin" in self.key.scopes

    def require(self, scope: str) -> None:
        """403 ``missing_scope`` unless the caller holds ``scope``."""
        if self.key is None:
            if scope != "signals:read":
                raise Forbidden(f"a keyless public reader lacks the '{scope}' scope", reason="missing_scope")
            return
        require_scope(self.key, scope)
