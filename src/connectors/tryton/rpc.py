"""An async JSON-RPC session client for one Tryton database.

:class:`TrytonRpc` speaks Tryton's own JSON-RPC dialect over an injected
:class:`httpx.AsyncClient` whose ``base_url`` is the server root. It logs in
with a password, sends ``Authorization: Session ...`` on every call, encodes
and decodes Tryton's tagged JSON values (see :mod:`connectors.tryton.codec`)
and turns Tryton's error envelopes into the typed exceptions below.

It deliberately has no retry, timeout or rate policy of its own except one:
when the server says the session is no longer valid, the client logs in again
once and repeats the call. Deadlines and retries belong to the caller, which
can use each exception's ``transient`` flag to decide.

No exception message, ``repr`` or log line produced here contains the
password or the session token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import logging
from typing import Any, Final
from urllib.parse import quote

import httpx
import orjson

from connectors.tryton.codec import JsonValue, decode, encode

__all__ = [
    "TrytonConcurrencyError",
    "TrytonConnectionError",
    "TrytonError",
    "TrytonLoginError",
    "TrytonProtocolError",
    "TrytonRpc",
    "TrytonServerError",
    "TrytonSessionExpired",
    "TrytonUserError",
    "TrytonUserWarning",
]

logger = logging.getLogger(__name__)

_LOGIN: Final = "common.db.login"
_LOGOUT: Final = "common.db.logout"
# Statuses at which trying again later can succeed: rate limited, database
# busy or locked (Tryton answers 503), and request timed out server-side.
_TRANSIENT_STATUSES: Final = frozenset({429, 502, 503, 504})


class TrytonError(Exception):
    """Base of every error this client raises.

    ``transient`` tells a caller's retry policy whether the same call may
    succeed later without any change (True) or will fail again (False).
    ``method`` is the RPC method that failed, when known.
    """

    transient: bool = False

    def __init__(self, message: str, *, method: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.method = method


class TrytonUserError(TrytonError):
    """Tryton refused the call by a business rule or validation (UserError).

    Permanent: the same call with the same data fails again. ``message`` is
    Tryton's short text, ``description`` its longer explanation and
    ``domain`` the failing domain and fields when Tryton gives them.
    """

    def __init__(
        self,
        message: str,
        *,
        description: str = "",
        domain: Any = None,
        method: str | None = None,
    ) -> None:
        super().__init__(message, method=method)
        self.description = description
        self.domain = domain

    def __str__(self) -> str:
        if self.description:
            return f"{self.message} - {self.description}"
        return self.message


class TrytonUserWarning(TrytonUserError):
    """Tryton asks for confirmation of a warning before going on.

    A Tryton UserWarning is a refusal until the warning named ``name`` is
    acknowledged (by creating a ``res.user.warning`` record), so it is
    permanent for an unattended call.
    """

    def __init__(
        self,
        message: str,
        *,
        name: str,
        description: str = "",
        method: str | None = None,
    ) -> None:
        super().__init__(message, description=description, method=method)
        self.name = name


class TrytonLoginError(TrytonError):
    """The login was refused: wrong login or password, or more is required."""


class TrytonSessionExpired(TrytonError):
    """The server rejected the session, and logging in again did not help."""


class TrytonConcurrencyError(TrytonError):
    """The record was changed by someone else since it was read.

    Transient: reading again and repeating the change can succeed.
    """

    transient = True


class TrytonServerError(TrytonError):
    """The server failed: an unexpected exception or an HTTP error status.

    ``status_code`` is the HTTP status (200 for an unexpected exception
    reported in the JSON-RPC envelope). Transient for 429, 502, 503 and 504.
    """

    def __init__(
        self, message: str, *, status_code: int, method: str | None = None
    ) -> None:
        super().__init__(message, method=method)
        self.status_code = status_code
        self.transient = status_code in _TRANSIENT_STATUSES


class TrytonConnectionError(TrytonError):
    """The server could not be reached or the connection broke (transient)."""

    transient = True


class TrytonProtocolError(TrytonError):
    """The answer was not JSON-RPC as Tryton speaks it."""


class TrytonRpc:
    """A logged-in JSON-RPC session on one Tryton database.

    Args:
        http: the client to send requests with. Its ``base_url`` must be the
            Tryton server root (``http://127.0.0.1:8000``). The caller owns
            it: this class never closes it, and its timeouts apply.
        database: the Tryton database name.
        login: the Tryton user's login.
        password: the user's password. Kept only in memory, to log in again
            after the session expires; it never appears in messages.
        language: the language code sent at login (``en`` by default).

    The instance is safe to share between tasks of one event loop: logins are
    serialised so an expired session is renewed once, not once per task.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        database: str,
        login: str,
        password: str,
        *,
        language: str = "en",
    ) -> None:
        if ":" in login:
            # The session header joins login, uid and token with colons.
            raise ValueError("a Tryton login used over JSON-RPC cannot contain ':'")
        self._http = http
        self._database = database
        self._login = login
        self._password = password
        self._language = language
        self._path = f"/{quote(database, safe='')}/rpc/"
        self._ids = itertools.count(1)
        self._user_id: int | None = None
        self._authorization: str | None = None
        self._login_lock = asyncio.Lock()
        self._context: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return (
            f"TrytonRpc(database={self._database!r}, login={self._login!r}, "
            f"user_id={self._user_id!r})"
        )

    @property
    def database(self) -> str:
        """The database name this session talks to."""
        return self._database

    @property
    def user_id(self) -> int | None:
        """The logged-in user's id, or None before the first login."""
        return self._user_id

    @property
    def logged_in(self) -> bool:
        """Whether the client holds a session (which may have expired)."""
        return self._authorization is not None

    async def login(self) -> int:
        """Log in with the password and keep the new session.

        Returns the user id. Replaces any session held before.

        Raises:
            TrytonLoginError: the server refused the credentials.
            TrytonError: any other failure (see the subclasses).
        """
        async with self._login_lock:
            return await self._login_locked()

    async def logout(self) -> None:
        """End the session on the server and forget it locally.

        Does nothing if not logged in. A session the server already dropped
        is not an error. The session is forgotten locally even if the server
        cannot be reached; the next call then logs in again.
        """
        async with self._login_lock:
            authorization = self._authorization
            if authorization is None:
                return
            self._authorization = None
            with contextlib.suppress(TrytonSessionExpired):
                await self._send(_LOGOUT, [], authorization)

    async def call(self, method: str, params: list[Any]) -> Any:
        """Call ``method`` with ``params`` and return its decoded result.

        Logs in first if needed. Params are encoded with
        :func:`~connectors.tryton.codec.encode` and the result decoded with
        :func:`~connectors.tryton.codec.decode`. If the server rejects the
        session, logs in again once and repeats the call, so a call may reach
        the server twice. That is safe: Tryton checks the session before it
        runs anything, so the refused attempt had no effect.

        Raises:
            TrytonUserError: a business rule or validation refused the call.
            TrytonSessionExpired: the session was refused even after a new
                login.
            TrytonError: any other failure (see the subclasses).
        """
        if method in (_LOGIN, _LOGOUT):
            raise ValueError(f"use login() or logout() instead of call({method!r})")
        authorization = self._authorization
        if authorization is None:
            authorization = await self._ensure_login(None)
        try:
            return await self._send(method, params, authorization)
        except TrytonSessionExpired:
            logger.info(
                "Tryton session refused; logging in again",
                extra={"tryton_database": self._database, "tryton_method": method},
            )
            authorization = await self._ensure_login(authorization)
            return await self._send(method, params, authorization)

    async def context(self, *, refresh: bool = False) -> dict[str, Any]:
        """Return the user's context (``res.user.get_preferences``).

        Cached after the first call; ``refresh=True`` fetches it again, which
        is needed after anything that changes the user's preferences, such as
        setting their company. Returns a copy the caller may change.
        """
        if self._context is None or refresh:
            result = await self.call("model.res.user.get_preferences", [True, {}])
            if not isinstance(result, dict):
                raise TrytonProtocolError(
                    "get_preferences did not return an object",
                    method="model.res.user.get_preferences",
                )
            self._context = result
        return dict(self._context)

    async def model(self, model_name: str, method: str, *args: Any) -> Any:
        """Call ``model.<model_name>.<method>(*args, context)``.

        Every model method Tryton exposes takes the user context as its last
        argument; this appends the cached :meth:`context` (fetched by the
        first such call). To call with a changed context (stock locations,
        a price list, a quantity), pass it to :meth:`call` directly.
        """
        context = await self.context()
        return await self.call(f"model.{model_name}.{method}", [*args, context])

    async def wizard(self, wizard_name: str, method: str, *args: Any) -> Any:
        """Call ``wizard.<wizard_name>.<method>(*args, context)``.

        Wizards are driven by ``create`` (returns ``[session_id, start_state,
        end_state]``), ``execute(session_id, data, state)`` and
        ``delete(session_id)``, each taking the context last.
        """
        context = await self.context()
        return await self.call(f"wizard.{wizard_name}.{method}", [*args, context])

    async def _ensure_login(self, failed: str | None) -> str:
        """Return a usable authorization header, logging in if needed.

        ``failed`` is the header a call was just refused with (None if there
        was none). If another task already replaced it, its login is reused
        instead of logging in again.
        """
        async with self._login_lock:
            current = self._authorization
            if current is not None and current != failed:
                return current
            await self._login_locked()
            assert self._authorization is not None
            return self._authorization

    async def _login_locked(self) -> int:
        result = await self._send(
            _LOGIN,
            [self._login, {"password": self._password}, self._language],
            None,
        )
        if (
            not isinstance(result, list)
            or len(result) < 2
            or isinstance(result[0], bool)
            or not isinstance(result[0], int)
            or not isinstance(result[1], str)
        ):
            raise TrytonProtocolError("unexpected login result shape", method=_LOGIN)
        user_id, token = result[0], result[1]
        credentials = f"{self._login}:{user_id}:{token}".encode()
        self._authorization = "Session " + base64.b64encode(credentials).decode("ascii")
        self._user_id = user_id
        logger.debug(
            "Logged in to Tryton",
            extra={"tryton_database": self._database, "tryton_user_id": user_id},
        )
        return user_id

    async def _send(
        self, method: str, params: list[Any], authorization: str | None
    ) -> Any:
        request_id = next(self._ids)
        body = orjson.dumps(
            {"id": request_id, "method": method, "params": encode(params)}
        )
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        try:
            response = await self._http.post(self._path, content=body, headers=headers)
        except httpx.TransportError as exc:
            # The exception text names the URL only, never headers or body.
            raise TrytonConnectionError(
                f"cannot reach Tryton: {type(exc).__name__}: {exc}", method=method
            ) from exc
        return self._parse(method, request_id, response)

    def _parse(self, method: str, request_id: int, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 401:
            if method == _LOGIN:
                raise TrytonLoginError("Tryton refused the login", method=method)
            raise TrytonSessionExpired(
                "Tryton refused the session (HTTP 401)", method=method
            )
        if status != 200:
            raise TrytonServerError(
                f"Tryton answered HTTP {status}", status_code=status, method=method
            )
        try:
            payload: JsonValue = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise TrytonProtocolError(
                "Tryton answered with a body that is not JSON", method=method
            ) from exc
        if not isinstance(payload, dict):
            raise TrytonProtocolError("Tryton answer is not an object", method=method)
        if payload.get("id") != request_id:
            raise TrytonProtocolError(
                "Tryton answer id does not match the request", method=method
            )
        error = payload.get("error")
        if error is not None:
            raise _error_from_envelope(method, error)
        if "result" not in payload:
            raise TrytonProtocolError(
                "Tryton answer has neither result nor error", method=method
            )
        try:
            return decode(payload["result"])
        except ValueError as exc:
            raise TrytonProtocolError(str(exc), method=method) from exc


def _error_from_envelope(method: str, error: JsonValue) -> TrytonError:
    """Map Tryton's ``error`` member to the matching exception.

    Tryton sends ``[kind, args]`` for its own exceptions (``UserError``,
    ``UserWarning``, ``LoginException``, ``ConcurrencyException``) and
    ``[text, traceback]`` for any other server exception.
    """
    if not isinstance(error, list) or not error:
        return TrytonProtocolError("malformed Tryton error envelope", method=method)
    kind = error[0]
    args = error[1] if len(error) > 1 else None
    if kind == "UserError" and isinstance(args, list) and args:
        return TrytonUserError(
            _text(args[0]),
            description=_text(args[1]) if len(args) > 1 else "",
            domain=decode(args[2]) if len(args) > 2 else None,
            method=method,
        )
    if kind == "UserWarning" and isinstance(args, list) and len(args) >= 2:
        return TrytonUserWarning(
            _text(args[1]),
            name=_text(args[0]),
            description=_text(args[2]) if len(args) > 2 else "",
            method=method,
        )
    if kind == "LoginException":
        return TrytonLoginError("Tryton asks for more login parameters", method=method)
    if kind == "ConcurrencyException":
        return TrytonConcurrencyError(_text(args), method=method)
    # Any other server exception: error[0] is str(exception); a traceback
    # follows only in development mode and is left out of the message.
    return TrytonServerError(
        f"Tryton server error: {_text(kind)}", status_code=200, method=method
    )


def _text(value: JsonValue) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)
