"""Dialogs (RFC 3261 §12): identity, route set, CSeq bookkeeping, in-dialog requests.

A `Dialog` is a small mutable record owned by one dialog usage (a call leg). It
knows how to build the next request inside the dialog (§12.2.1.1) and how to
check the CSeq of a request received inside it (§12.2.2).
"""

from __future__ import annotations

from .errors import RemoteProtocolError
from .header_values import NameAddr, split_outside_quotes
from .message import Request, Response
from .uri import Uri

# Requests whose Contact (and their 2xx's) replace the dialog's remote target. RFC 3261
# §12.2: "For dialogs that have been established with an INVITE, the only target refresh
# request defined is re-INVITE"; RFC 3311 §5.1 adds: "UPDATE is a target refresh
# request. As specified in RFC 3261, this means that it can update the remote target of
# a dialog."
TARGET_REFRESH = frozenset({"INVITE", "UPDATE"})


class Dialog:
    __slots__ = (
        "call_id",
        "local_tag",
        "remote_tag",
        "local_uri",
        "remote_uri",
        "remote_target",
        "route_set",
        "local_seq",
        "remote_seq",
        "local_contact",
    )

    def __init__(
        self,
        *,
        call_id: str,
        local_tag: str,
        remote_tag: str,
        local_uri: NameAddr,
        remote_uri: NameAddr,
        remote_target: Uri,
        route_set: list[str],
        local_seq: int,
        remote_seq: int | None,
        local_contact: str,
    ) -> None:
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_uri = local_uri
        self.remote_uri = remote_uri
        self.remote_target = remote_target
        self.route_set = route_set
        self.local_seq = local_seq
        self.remote_seq = remote_seq
        self.local_contact = local_contact

    @property
    def key(self) -> tuple[str, str]:
        """What an incoming in-dialog request is matched on: Call-ID and our tag (its To tag)."""
        return (self.call_id, self.local_tag)

    @classmethod
    def as_uas(cls, request: Request, local_tag: str, local_contact: str) -> Dialog:
        """§12.1.1: the UAS side, built from the dialog-forming request."""
        contacts = request.contacts
        target = contacts[0].uri if contacts else request.from_.uri
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=request.from_.tag or "",
            local_uri=request.to,
            remote_uri=request.from_,
            remote_target=target,
            # "The route set MUST be set to the list of URIs in the Record-Route header
            # field from the request, taken in order"
            route_set=[v for line in request.get_all("record-route") for v in _split(line)],
            local_seq=0,
            remote_seq=request.cseq.seq,
            local_contact=local_contact,
        )

    @classmethod
    def as_uac(cls, request: Request, response: Response) -> Dialog:
        """§12.1.2: the UAC side, built from our request and the 1xx/2xx that made the dialog."""
        contacts = response.contacts
        target = contacts[0].uri if contacts else request.uri
        # "the route set MUST be set to the list of URIs in the Record-Route header field
        # from the response, taken in reverse order"
        routes = [v for line in response.get_all("record-route") for v in _split(line)]
        return cls(
            call_id=request.call_id,
            local_tag=request.from_.tag or "",
            remote_tag=response.to.tag or "",
            local_uri=request.from_,
            remote_uri=response.to,
            remote_target=target,
            route_set=list(reversed(routes)),
            local_seq=request.cseq.seq,
            remote_seq=None,
            local_contact=request.get("contact") or "",
        )

    def update_target(self, message: Request | Response) -> None:
        """§12.2: a target refresh (`TARGET_REFRESH`, or its 2xx) replaces the remote target."""
        contacts = message.contacts
        if contacts:
            self.remote_target = contacts[0].uri

    def create_request(
        self,
        method: str,
        body: bytes = b"",
        content_type: str | None = None,
        cseq: int | None = None,
    ) -> Request:
        """§12.2.1.1: a request within the dialog (Via is added by the transaction layer)."""
        if cseq is None:
            self.local_seq += 1
            cseq = self.local_seq
        headers = [
            (
                "to",
                str(self.remote_uri.with_tag(self.remote_tag))
                if self.remote_tag
                else str(self.remote_uri),
            ),
            ("from", str(self.local_uri.with_tag(self.local_tag))),
            ("call-id", self.call_id),
            ("cseq", f"{cseq} {method}"),
            ("max-forwards", "70"),
        ]
        headers.extend(("route", r) for r in self.route_set)
        if method in ("INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"):
            headers.append(("contact", self.local_contact))
        if content_type is not None and body:
            headers.append(("content-type", content_type))
        # Loose routing is assumed (every modern peer sets ;lr): the Request-URI is the target.
        return Request(method, self.remote_target, headers, body)

    def check_remote_cseq(self, request: Request) -> None:
        """§12.2.2: a lower CSeq than the last one seen is out of order -> 500."""
        seq = request.cseq.seq
        if request.method in ("ACK", "CANCEL"):
            return
        if self.remote_seq is not None and seq < self.remote_seq:
            raise RemoteProtocolError("CSeq lower than the dialog's", status_hint=500)
        self.remote_seq = seq


def _split(line: str) -> list[str]:
    return [p.strip() for p in split_outside_quotes(line, ",") if p.strip()]
