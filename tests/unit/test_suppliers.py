"""Whose supplied content a reader sees (service/keys/suppliers.py)."""

from uuid import UUID

from service.keys.repository import StoredKey
from service.keys.suppliers import EVERY_SUPPLIER, PUBLIC_ONLY, supplier_identity, supplier_view

PARTNER, OTHER, KEY = UUID(int=1), UUID(int=2), UUID(int=9)


def key(scopes: list[str], partner_id: UUID | None, key_id: UUID = KEY) -> StoredKey:
    return StoredKey(
        id=key_id, name="k", prefix="sk_live_x", key_hash=b"", scopes=scopes, revoked=False,
        last_used_at=None, partner_id=partner_id,
    )  # fmt: skip


def test_a_partner_s_keys_see_the_partner_s_content_and_fetched_content_only():
    view = supplier_view(key(["signals:read"], PARTNER))
    assert view.sees(None) and view.sees(PARTNER) and not view.sees(OTHER)
    assert view.params() == {"all_suppliers": False, "reader_supplier": PARTNER}


def test_a_key_without_a_partner_is_a_supplier_of_its_own():
    loose = key(["signals:write"], None, key_id=OTHER)
    assert supplier_identity(loose) == OTHER
    assert supplier_view(loose).sees(OTHER) and not supplier_view(loose).sees(PARTNER)


def test_admin_keys_see_everything_and_keyless_readers_fetched_content_only():
    assert supplier_view(key(["admin"], PARTNER)) == EVERY_SUPPLIER
    assert EVERY_SUPPLIER.sees(OTHER) and EVERY_SUPPLIER.params()["all_suppliers"] is True
    assert supplier_view(None) == PUBLIC_ONLY
    assert PUBLIC_ONLY.sees(None) and not PUBLIC_ONLY.sees(PARTNER)
    assert PUBLIC_ONLY.params() == {"all_suppliers": False, "reader_supplier": None}
