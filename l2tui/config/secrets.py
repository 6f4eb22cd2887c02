"""Passwords and client secrets: from an env var named in the file, the OS keyring, or a prompt.

Never from the connection file. The keyring holds one entry per connection and entity under the
service ``l2tui``; a ``Password=`` typed into a connection string is moved there on save.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable

from l2tui.config.connstr import ConnectionString, parse_connection_string
from l2tui.config.model import Connection, Entity
from l2tui.config.specs import find_spec, looks_like_url
from l2tui.errors import ConfigError

SERVICE = "l2tui"

Prompt = Callable[[str], str | None]
"""Asks a person for a secret (e.g. getpass); returns None when they give none."""


class NoKeyring(Exception):
    """No usable OS keyring on this machine."""


def keyring_account(slug: str, index: int) -> str:
    """The keyring user name of one entity's secret."""
    return f"{slug}/entity{index}"


def _keyring():  # type: ignore[no-untyped-def]
    import keyring
    from keyring.backends import fail

    if isinstance(keyring.get_keyring(), fail.Keyring):
        raise NoKeyring("no OS keyring is available")
    return keyring


def keyring_usable() -> bool:
    """Whether this machine has an OS keyring l2tui can use."""
    try:
        _keyring()
    except Exception:
        return False
    return True


def keyring_get(slug: str, index: int) -> str | None:
    """The stored secret, or None (also when no keyring works)."""
    try:
        return _keyring().get_password(SERVICE, keyring_account(slug, index))  # type: ignore[no-any-return]
    except Exception:
        return None


def keyring_set(slug: str, index: int, secret: str) -> None:
    """Store a secret; raise NoKeyring when that is impossible here."""
    try:
        _keyring().set_password(SERVICE, keyring_account(slug, index), secret)
    except NoKeyring:
        raise
    except Exception as exc:  # keyring backends raise many kinds of errors
        raise NoKeyring(f"the keyring refused the secret ({type(exc).__name__})") from None


def keyring_delete(slug: str, index: int) -> None:
    """Forget a stored secret, if any."""
    with contextlib.suppress(Exception):
        _keyring().delete_password(SERVICE, keyring_account(slug, index))


def split_secret(entity: Entity) -> tuple[str, str | None]:
    """The connection string without its secret keys, and the secret found in it (if any)."""
    text = entity.connection_string
    spec = find_spec(entity.provider) if entity.provider else None
    if not text or spec is None or (spec.accepts_url and looks_like_url(text)):
        return text, None
    try:
        cs = parse_connection_string(text)
    except ValueError:
        return text, None
    secret_keys = spec.secret_keys()
    found = next((cs[k] for k in cs if k.casefold() in {s.casefold() for s in secret_keys}), None)
    if found is None:
        return text, None
    return ConnectionString(cs.without(*secret_keys).pairs).render(), found


def resolve_secret(conn: Connection, index: int, *, prompt: Prompt | None = None,
                   required: bool = True) -> str | None:
    """The entity's secret: env var named by ``password_env``, else keyring, else the prompt."""
    return secret_and_source(conn, index, prompt=prompt, required=required)[0]


def secret_and_source(conn: Connection, index: int, *, prompt: Prompt | None = None,
                      required: bool = True) -> tuple[str | None, str]:
    """``resolve_secret``'s secret, and which it is ("the password in $VAR", "the password in
    the keyring", "the password typed"; "" for none): said when the other side refuses it."""
    entity = conn.entity(index)
    if entity.password_env:
        value = os.environ.get(entity.password_env)
        if value:
            return value, f"the password in ${entity.password_env}"
    value = keyring_get(conn.slug, index)
    if value:
        return value, "the password in the keyring"
    if prompt is not None:
        answer = prompt(f"Password for {conn.title} / entity {index}: ")
        if answer:
            return answer, "the password typed"
    if not required:
        return None, ""
    raise ConfigError(f"no password for entity{index}: {missing_secret_hint(conn, index)}",
                      file=str(conn.path) if conn.path else conn.title)


def missing_secret_hint(conn: Connection, index: int) -> str:
    """How to give an entity its password or secret when none was found."""
    entity = conn.entity(index)
    var = entity.password_env
    if var and os.environ.get(var) == "":  # (set, but to nothing: "set $VAR" would puzzle)
        ways = [f"${var} is set but empty (give it the password)"]
    else:
        ways = [f"set ${var}" if var else 'set password_env = "VAR" in the file']
    if keyring_usable():  # (where none works, set-password would only refuse)
        ways.append(f"store one in the keyring (l2tui set-password {conn.argument} --entity {index})")
    ways.append("run on a terminal to be asked")
    return ", ".join(ways[:-1]) + f", or {ways[-1]}"
