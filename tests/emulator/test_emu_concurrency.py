"""Many clients at once: no server errors, and paging stays consistent."""

from __future__ import annotations

import random
import threading
import uuid

import requests

from l2tui.emulator import Emulator


def worker(emu: Emulator, seed: int, statuses: list[int]) -> None:
    rng = random.Random(seed)
    with requests.Session() as http:
        http.trust_env = False
        for _ in range(25):
            action = rng.choice(["page", "post", "patch", "delete", "delta"])
            if action == "page":
                url = emu.url("accounts?$select=name&$filter=statecode%20eq%200")
                while url:
                    resp = http.get(url, headers={"Prefer": "odata.maxpagesize=13"})
                    statuses.append(resp.status_code)
                    url = resp.json().get("@odata.nextLink")
            elif action == "post":
                statuses.append(http.post(emu.url("accounts"), json={"name": "t"}).status_code)
            elif action == "patch":
                guid = str(uuid.uuid4()) if rng.random() < 0.3 else rng.choice(
                    emu.store.rows("accounts"))["accountid"]
                statuses.append(http.patch(emu.url(f"accounts({guid})"),
                                           json={"telephone1": str(rng.random())}).status_code)
            elif action == "delete":
                rows = emu.store.rows("accounts")
                resp = http.delete(emu.url(f"accounts({rng.choice(rows)['accountid']})"))
                statuses.append(200 if resp.status_code == 404 else resp.status_code)
            else:
                body = http.get(emu.url("accounts?$select=name"),
                                headers={"Prefer": "odata.track-changes"}).json()
                statuses.append(http.get(body["@odata.deltaLink"]).status_code)


def test_concurrent_clients_get_no_server_errors(emu: Emulator):
    statuses: list[int] = []
    threads = [threading.Thread(target=worker, args=(emu, n, statuses)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses and all(s < 500 for s in statuses), sorted(set(statuses))
    assert set(statuses) <= {200, 204}
