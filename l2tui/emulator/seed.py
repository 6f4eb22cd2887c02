"""Deterministic sample data from a seed number and a row count."""

from __future__ import annotations

import random
import uuid
from typing import Any

from .schema import CURRENCY_ID
from .store import Store
from .values import fmt_datetime

_PREFIX = ["Contoso", "Fabrikam", "Adventure", "Northwind", "Litware", "Tailspin", "Wingtip",
           "Proseware", "Lucerne", "Alpine", "Blue Yonder", "Coho", "Humongous", "Margie's",
           "Trey", "Woodgrove", "Fourth Coffee", "Datum", "Relecloud", "Wide World"]
_SUFFIX = ["Ltd", "Inc", "GmbH", "Works", "Traders", "Group", "Partners", "Systems", "Labs",
           "Holdings", "Supply", "Services"]
_CITIES = ["Seattle", "Redmond", "London", "Paris", "Berlin", "Munich", "Tokyo", "Sydney",
           "Toronto", "Madrid", "Zürich", "São Paulo", "Oslo", "Dublin"]
_FIRST = ["Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy",
          "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
          "Zoë"]
_LAST = ["Smith", "Jones", "Müller", "Garcia", "Kim", "Nguyen", "O'Brien", "Rossi", "Dubois",
         "Tanaka", "Novak", "Silva", "Andersen", "Cohen"]

_START = 1640995200  # 2022-01-01T00:00:00Z
_SPAN = 2 * 365 * 86400


def _guid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _dates(rng: random.Random) -> tuple[str, str]:
    created = _START + rng.randrange(_SPAN)
    modified = created + rng.randrange(90 * 86400)
    return fmt_datetime(created), fmt_datetime(modified)


def contact_rows(n: int, seed: int) -> list[dict[str, Any]]:
    """n contacts, the same for the same seed."""
    rng = random.Random(f"contacts-{seed}")
    rows = []
    for i in range(n):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        created, modified = _dates(rng)
        state = 1 if rng.random() < 0.1 else 0
        rows.append({
            "contactid": _guid(rng),
            "firstname": first,
            "lastname": last,
            "fullname": None,
            "emailaddress1": f"{first.lower()}.{i}@example.com".replace("ë", "e"),
            "telephone1": f"+1-555-{rng.randrange(10000):04d}",
            "birthdate": f"{rng.randrange(1950, 2004)}-{rng.randrange(1, 13):02d}-"
                         f"{rng.randrange(1, 29):02d}" if rng.random() < 0.8 else None,
            "statecode": state,
            "statuscode": 2 if state else 1,
            "_parentcustomerid_value": None,
            "createdon": created,
            "modifiedon": modified,
            "versionnumber": 0,
        })
    return rows


def account_rows(n: int, seed: int, contact_ids: list[str]) -> list[dict[str, Any]]:
    """n accounts, the same for the same seed; some point at a primary contact."""
    rng = random.Random(f"accounts-{seed}")
    rows = []
    for i in range(n):
        created, modified = _dates(rng)
        state = 1 if rng.random() < 0.1 else 0
        revenue = round(rng.uniform(10_000, 50_000_000), 2) if rng.random() < 0.9 else None
        rows.append({
            "accountid": _guid(rng),
            "name": f"{rng.choice(_PREFIX)} {rng.choice(_SUFFIX)} {i + 1}",
            "accountnumber": f"ACC-{seed:02d}-{i + 1:06d}",
            "revenue": revenue,
            "_transactioncurrencyid_value": CURRENCY_ID,
            "numberofemployees": rng.randrange(1, 20_000) if rng.random() < 0.85 else None,
            "statecode": state,
            "statuscode": 2 if state else 1,
            "telephone1": f"+1-425-555-{rng.randrange(10000):04d}",
            "address1_city": rng.choice(_CITIES),
            "creditonhold": rng.random() < 0.05,
            "description": None if rng.random() < 0.7 else "Seeded by the l2tui emulator.",
            "_primarycontactid_value": (
                rng.choice(contact_ids) if contact_ids and rng.random() < 0.6 else None
            ),
            "createdon": created,
            "modifiedon": modified,
            "versionnumber": 0,
        })
    return rows


def seed_store(store: Store, rows: int, seed: int, contacts: int | None = None) -> None:
    """Fill accounts and contacts (contacts defaults to max(rows // 10, 10))."""
    n_contacts = max(rows // 10, 10) if contacts is None else contacts
    crow = contact_rows(n_contacts, seed)
    store.load("contacts", crow)
    arows = account_rows(rows, seed, [c["contactid"] for c in crow])
    store.load("accounts", arows)
