"""Whose supplied content a reader sees.

Text or HTML a caller sends (not a page the service fetched) is stored as its supplier's own:
the key's partner, or the key itself for a key without a partner (``signals.supplier_id``;
NULL for a fetched page). What is made of it is visible to that supplier's keys and to admin
keys only. Everyone else, keyless public readers included, is answered about it exactly as
about something that does not exist.

A reader's view goes to SQL as two parameters (``params``) that the fragment
``signal_supplier_visible`` (sql/queries/listing.sql) reads: under custom plans it folds to
``s.supplier_id IS NULL`` for the public, ``(s.supplier_id IS NULL OR s.supplier_id = $x)``
for a partner, and to nothing for an admin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from service.keys.repository import StoredKey


@dataclass(frozen=True, slots=True)
class SupplierView:
    """Which suppliers' content a reader sees besides fetched (public) content."""

    every: bool = False
    """An admin key (or the service itself): every supplier's."""
    supplier: UUID | None = None
    """The reader's own supplier identity (its partner, or the key); None: public content only."""

    def sees(self, supplier_id: UUID | None) -> bool:
        """Whether content of ``supplier_id`` (None: fetched) is visible to this reader."""
        return supplier_id is None or self.every or supplier_id == self.supplier

    def params(self) -> dict[str, Any]:
        """The SQL parameters of the view (``signal_supplier_visible``)."""
        return {"all_suppliers": self.every, "reader_supplier": self.supplier}


PUBLIC_ONLY = SupplierView()
"""A keyless public reader: fetched content only."""
EVERY_SUPPLIER = SupplierView(every=True)
"""Admin keys and the service's own work (dispatch, the CLI): everything."""


def supplier_identity(key: StoredKey) -> UUID:
    """The supplier a key's submissions are stored under, and whose content it reads."""
    return key.partner_id or key.id


def supplier_view(key: StoredKey | None) -> SupplierView:
    """What ``key`` sees (None: a keyless public read)."""
    if key is None:
        return PUBLIC_ONLY
    if "admin" in key.scopes:
        return EVERY_SUPPLIER
    return SupplierView(supplier=supplier_identity(key))
