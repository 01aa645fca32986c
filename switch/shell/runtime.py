"""The asyncio shell: sockets, the clock and signals around the sans-IO Endpoint and Switch.

It is a pump and nothing else (aioquic's `transmit` / `_handle_timer`): feed bytes
to the endpoint, hand events to the switch, flush what the endpoint wants sent,
and re-arm one timer for the earliest deadline of the two. No SIP decision is
made here.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import structlog

from config import ConfigError, SwitchConfig, load_config
from sipstack.aio import TransportSet
from sipstack.endpoint import Endpoint
from sipstack.ids import IdSource
from sipstack.transport import Address, Datagram, Transport, bracket

from ..auth import AuthThrottle, DigestAuthenticator
from ..core import Switch
from ..directory import Directory
from ..features.voicemail import MailboxIndex
from ..media import MediaServer, VoicemailStore, prompts
from ..media.port_pool import PortPool
from ..ports import MediaRelay
from ..registration.registrar import RegistrarPolicy
from ..storage.cache import CachedLocationStore
from ..storage.sqlite import SqliteStore
from .admin import serve_admin
from .logconfig import flush_logs
from .mailbox_files import ThreadedMailboxFiles
from .media_adapter import RuntimeMedia
from .relay_sockets import EmbeddedRelay
from .relayd import RelayProcess, start_relay_process
from .rtpengine import NgClient, RtpengineRelay, parse_ng_address

log = structlog.get_logger("switch.runtime")

# Send failures feed transport errors back to the transactions; what the switch sends in
# answer may fail too, but never forever.
MAX_FAILURE_ROUNDS = 8
# Seconds an address stays refused after too many digest failures.
AUTH_BLOCK_SECONDS = 60.0


class Runtime:
    def __init__(self, config_path: str, config: SwitchConfig) -> None:
        self.config_path = config_path
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.transports = TransportSet(
            self._on_message, self._on_transport_failure, in_use=self._registered_over_tcp
        )
        self._timer: asyncio.TimerHandle | None = None
        self._timer_deadline: float | None = None
        self.stopped = asyncio.Event()
        self.endpoint: Endpoint
        self.switch: Switch
        self.store: SqliteStore
        self.media_server: MediaServer
        self.relay: MediaRelay | None = None
        self.embedded_relay: EmbeddedRelay | None = None
        self.ng_client: NgClient | None = None
        self.relay_process: RelayProcess | None = None
        self.mailbox_files: ThreadedMailboxFiles
        self.admin: asyncio.Server | None = None

    async def start(self) -> None:
        server = self.config.server
        local: dict[Transport, Address] = {}
        for listen in server.listen:
            transport = Transport.UDP if listen.transport == "udp" else Transport.TCP
            # IPv6 is written [::1] in the file (as in SIP URIs); sockets want it bare
            local[transport] = await self.transports.listen(
                transport, listen.host.strip("[]"), listen.port
            )
            log.info(
                "listening",
                transport=transport.value,
                host=local[transport][0],
                port=local[transport][1],
            )
        low, high = (int(p) for p in server.rtp_ports.split("-"))
        media_host = next(iter(local.values()))[0]
        advertise = server.advertise or _reachable_address(media_host)
        relay_ports = (low, high)
        if server.media.relay == "process":
            # the relay process takes the upper half of the range, voicemail the lower
            middle = (low + high) // 2 & ~1
            relay_ports, high = (middle, relay_ports[1]), middle - 1
        pool = PortPool(low, high)  # one RTP range for voicemail's sessions and the relay
        self.media_server = MediaServer(media_host, low, high, advertise=advertise, pool=pool)
        await self._start_relay(media_host, pool, advertise, relay_ports)
        state_dir = Path(server.state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        self.store = SqliteStore(state_dir / "softswitch.db")
        # Everything read from disk is read now, before the first datagram: the shipped
        # prompts and the mailbox counts. Later file work runs off the loop.
        prompts.preload()
        voicemail = VoicemailStore(state_dir)
        index = MailboxIndex((box, voicemail.messages(box)) for box in voicemail.mailboxes())
        self.mailbox_files = ThreadedMailboxFiles(voicemail, self.run_pumped)
        now = time.time()
        ids = IdSource()
        sent_by = {
            t: (server.advertise or _reachable_address(host), port)
            for t, (host, port) in local.items()
        }
        self.endpoint = Endpoint(
            local=local, ids=ids, user_agent=server.user_agent, sent_by=sent_by
        )
        contacts = {
            t: f"<sip:switch@{bracket(server.advertise or _reachable_address(host))}:"
            f"{port};transport={t.value.lower()}>"
            for t, (host, port) in local.items()
        }
        auth = server.auth
        self.switch = Switch(
            endpoint=self.endpoint,
            directory=Directory.build(self.config),
            location=CachedLocationStore(self.store, now),
            state_store=self.store,
            ids=ids,
            authenticator=DigestAuthenticator(
                _secret(state_dir), auth.algorithms, float(auth.nonce_ttl)
            ),
            throttle=AuthThrottle(
                auth.max_failures, float(auth.failure_window), AUTH_BLOCK_SECONDS
            ),
            policy=RegistrarPolicy(
                min_expires=server.registration.min_expires,
                max_expires=server.registration.max_expires,
                default_expires=server.registration.default_expires,
            ),
            contacts=contacts,
            now=now,
            mailbox_files=self.mailbox_files,
            mailbox_index=index,
            media=RuntimeMedia(self.media_server, self.run_pumped),
            relay=self.relay,
            session_expires=server.session_expires,
            max_blf_subscriptions=server.blf.max_subscriptions,
            invite_401_user_agents=auth.invite_401_user_agents,
            keepalive_seconds=float(server.nat.keepalive_seconds),
        )
        if server.admin is not None:
            try:
                self.admin = await serve_admin(server.admin.host, server.admin.port, self.switch)
                log.info("admin.listening", host=server.admin.host, port=server.admin.port)
            except OSError as exc:
                # Status pages are a convenience: a taken admin port must not keep the
                # switch from serving calls.
                log.error(
                    "admin.unavailable",
                    host=server.admin.host,
                    port=server.admin.port,
                    error=str(exc),
                )
        self.loop.add_signal_handler(signal.SIGHUP, self.reload)
        self.loop.add_signal_handler(signal.SIGTERM, self.stopped.set)
        self.loop.add_signal_handler(signal.SIGINT, self.stopped.set)
        self._pump(now)  # what the switch sends at start (lamps kept from before a restart)
        log.info(
            "started", config=self.config_path, bindings=len(self.switch.location.all_bindings(now))
        )
        self._flush_periodically()
        # The configuration, directory and loaded bindings live as long as the process:
        # move them out of the collector's sight, and collect young objects less often.
        # Every call allocates thousands of small objects, almost none in cycles, so
        # frequent generation-0 passes and full passes over a large heap only add pauses
        # during which datagrams pile up in the socket.
        gc.collect()
        gc.freeze()
        gc.set_threshold(50_000, 50, 100)

    async def _start_relay(
        self, host: str, pool: PortPool, advertise: str, relay_ports: tuple[int, int]
    ) -> None:
        """The media relay of `server.media.relay`: the switch's own sockets, or the
        client of an rtpengine daemon (a daemon that is down fails calls with 503, it
        does not stop the switch)."""
        media = self.config.server.media
        if media.relay == "embedded":
            self.embedded_relay = EmbeddedRelay(
                host, pool, advertise, timeout=media.timeout_seconds, pumped=self.run_pumped
            )
            self.relay = self.embedded_relay
        elif media.relay == "process":
            self.relay_process = await start_relay_process(host, advertise, relay_ports)
            await self._drive_ng(("127.0.0.1", self.relay_process.ng_port), "relay process")
        elif media.relay == "rtpengine" and media.rtpengine is not None:
            await self._drive_ng(parse_ng_address(media.rtpengine), media.rtpengine)
        log.info("media.relay", relay=media.relay)

    async def _drive_ng(self, address: tuple[str, int], name: str) -> None:
        """The relay is rtpengine or the relay process, driven over ng at `address`."""
        self.ng_client = NgClient(address)
        await self.ng_client.start()
        for _ in range(4):  # a relay process needs a moment to start
            if await self.ng_client.ping():
                break
        else:
            log.error("rtpengine.unreachable", rtpengine=name)
        timeout = self.config.server.media.timeout_seconds
        self.relay = RtpengineRelay(self.ng_client, self.run_pumped, timeout=timeout)

    def _flush_periodically(self) -> None:
        """Events logged outside the pump (the RTP shell's) reach the log within 0.5 s."""
        flush_logs()
        self.loop.call_later(0.5, self._flush_periodically)

    # -- the pump ------------------------------------------------------------------------
    def _on_message(self, data: bytes, source: Address, transport: Transport) -> None:
        now = time.time()
        try:
            self.endpoint.receive(data, source, transport, now)
        except Exception:  # noqa: BLE001 - no input may stop the switch
            log.exception("endpoint.error", source=f"{source[0]}:{source[1]}")
        self._pump(now)

    def _on_transport_failure(self, destination: Address, transport: Transport) -> None:
        now = time.time()
        self.endpoint.transport_failed(destination, transport, now)
        self._pump(now)

    def _registered_over_tcp(self) -> set[Address]:
        """Peers with a live binding over TCP: their connections are never closed as
        idle (a request to a phone goes down the connection it registered on)."""
        bindings = self.switch.location.all_bindings(time.time())
        return {(str(b.source[0]), int(b.source[1])) for b in bindings if b.transport == "TCP"}

    def _pump(self, now: float) -> None:
        endpoint = self.endpoint
        switch = self.switch
        for _ in range(MAX_FAILURE_ROUNDS):
            while (event := endpoint.next_event()) is not None:
                try:
                    switch.on_event(event, now)
                except Exception:  # noqa: BLE001 - a bug in one call must not stop the others
                    log.exception("switch.error", sip_event=type(event).__name__)
            try:
                switch.flush_notifications(now)
            except Exception:  # noqa: BLE001 - a lamp must not stop the calls
                log.exception("switch.flush_error")
            failed = self._send_all(endpoint.outgoing())
            if not failed:
                break
            # RFC 3261 §17.1.4: a transport error fails the transactions towards that
            # destination; their TU events (a fork's 503, a relay's 408) go round again.
            for destination, transport in failed:
                endpoint.transport_failed(destination, transport, now)
        self._rearm()
        flush_logs()

    def _send_all(self, datagrams: list[Datagram]) -> list[tuple[Address, Transport]]:
        """Send every datagram; a send that fails fails its destination, never the batch."""
        send = self.transports.send
        failed: dict[tuple[Address, Transport], None] = {}
        for datagram in datagrams:
            try:
                send(datagram)
            except (OSError, ValueError, TypeError) as exc:
                # e.g. uvloop's sendto refuses a host name: it takes addresses only
                destination = datagram.destination
                log.warning(
                    "transport.send_failed",
                    transport=datagram.transport.value,
                    destination=f"{destination[0]}:{destination[1]}",
                    error=str(exc),
                )
                failed[(destination, datagram.transport)] = None
        return list(failed)

    def _rearm(self) -> None:
        deadlines = [
            d for d in (self.endpoint.get_timer(), self.switch.get_timer()) if d is not None
        ]
        deadline = min(deadlines) if deadlines else None
        armed = self._timer_deadline
        if deadline is None or (armed is not None and armed <= deadline):
            # An armed wake-up no later than needed stays: waking early finds nothing due
            # and re-arms, which is cheaper than cancelling a TimerHandle per datagram.
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_deadline = deadline
        if deadline is not None:
            delay = max(0.0, deadline - time.time())
            self._timer = self.loop.call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_deadline = None
        now = time.time()
        try:
            self.endpoint.handle_timer(now)
            self.switch.handle_timer(now)
        except Exception:  # noqa: BLE001
            log.exception("timer.error")
        self._pump(now)

    # -- operations ------------------------------------------------------------------------
    def reload(self) -> None:
        """SIGHUP: load the file again; a bad file is refused and the old one stays."""
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            for problem in exc.problems:
                log.error("reload.refused", problem=problem)
            flush_logs()
            return
        except OSError as exc:
            log.error("reload.refused", problem=f"{self.config_path}: {exc}")
            flush_logs()
            return
        if config.server.listen != self.config.server.listen:
            log.warning("reload.listen_unchanged", detail="listen addresses change only on restart")
        self.config = config
        self.switch.reload(Directory.build(config), config.server.auth.invite_401_user_agents)
        log.info("reloaded", config=self.config_path)
        self._pump(time.time())  # what the reload changed (login lamps) goes out now

    def run_pumped(self, callback: Callable[[float], None]) -> None:
        """Run a callback from the media or file shell as if it were a SIP event: inside
        the pump, with the time of this pump."""
        now = time.time()
        try:
            callback(now)
        except Exception:  # noqa: BLE001 - a bug in one call must not stop the others
            log.exception("shell.callback_error")
        self._pump(now)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        # Finalise recordings in progress: the part recorded so far is kept.
        self.media_server.close()
        if self.embedded_relay is not None:
            self.embedded_relay.close_all()
        if self.ng_client is not None:
            self.ng_client.close()
        if self.relay_process is not None:
            await self.relay_process.stop()
        self.mailbox_files.close()
        if self.admin is not None:
            self.admin.close()
        self.transports.close()
        self.store.close()
        log.info("stopped")
        flush_logs()


def _reachable_address(host: str) -> str:
    """The address phones can reach us at when we listen on a wildcard (0.0.0.0, ::): the
    local address of the default route, found by connecting a UDP socket (no packet is
    sent). A specific listen address is used as it is."""
    if host not in ("0.0.0.0", "::", ""):
        return host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = "2001:db8::1" if family == socket.AF_INET6 else "192.0.2.1"
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((probe, 9))
            return str(sock.getsockname()[0])
    except OSError:
        return "127.0.0.1" if family == socket.AF_INET else "::1"


def _secret(state_dir: Path) -> bytes:
    """The nonce key, kept in state_dir so nonces issued before a restart stay valid."""
    path = state_dir / "nonce.key"
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except FileNotFoundError:
        pass
    data = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return data


async def serve(config_path: str, config: SwitchConfig) -> None:
    runtime = Runtime(config_path, config)
    await runtime.start()
    try:
        await runtime.stopped.wait()
    finally:
        await runtime.close()
