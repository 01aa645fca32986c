"""One phone for the network-namespace NAT test, run inside a namespace by
`ip netns exec NS python tests/integration/netns_phone.py ROLE ...`.

ROLE `callee` registers (from its private address, through the test's NAT router), prints
`registered`, answers the first INVITE with SDP naming its private address, plays a
1000 Hz tone to where the switch's SDP says and listens, then answers the BYE.
ROLE `caller` dials the callee with a 440 Hz tone the same way and hangs up. Each prints
one JSON line: what it was told and what it heard.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nated import (  # noqa: E402
    RtpPhone,
    answer_with_sdp,
    dominant_frequency,
    media_address,
    nated_sdp,
    next_of,
    talk_alone,
)
from rawsip import RawPhone  # noqa: E402

from sipstack.message import Request, Response, make_response  # noqa: E402
from sipstack.serialize import serialize  # noqa: E402


def callee(switch: tuple[str, int], me: str, user: str, password: str, domain: str) -> dict:
    phone = RawPhone(*switch, user, domain, local_host=me)
    rtp = RtpPhone(1000.0, host=me)
    registered = phone.register(password)
    assert registered is not None and registered.status == 200, registered
    print("registered", flush=True)
    invite = next_of(phone, "INVITE", within=15.0)
    assert isinstance(invite, Request)
    answer_with_sdp(phone, invite, nated_sdp(me, rtp.sock.getsockname()[1]), "callee")
    next_of(phone, "ACK")
    told = media_address(invite.body)
    talk_alone(rtp, told, seconds=1.5)
    bye = next_of(phone, "BYE", within=10.0)
    phone.sock.sendto(serialize(make_response(bye, 200)), phone.target)
    return {"told": told, "heard": dominant_frequency(rtp.heard), "packets": len(rtp.heard)}


def caller(switch: tuple[str, int], me: str, user: str, password: str, domain: str,
           dialled: str) -> dict:  # fmt: skip
    phone = RawPhone(*switch, user, domain, local_host=me)
    rtp = RtpPhone(440.0, host=me)
    offer = nated_sdp(me, rtp.sock.getsockname()[1])
    sdp = ["Content-Type: application/sdp"]
    to = f"<sip:{dialled}@{domain}>"
    first = phone.authenticated("INVITE", f"sip:{dialled}@{domain}", password, sdp, to=to,
                                body=offer)  # fmt: skip
    answer = first if isinstance(first, Response) and first.status == 200 else next_of(phone, 200)
    assert isinstance(answer, Response) and answer.status == 200, answer
    phone.cseq = answer.cseq.seq - 1
    uri = str(answer.contacts[0].uri)
    phone.sock.sendto(phone.request("ACK", uri, to=answer.get("to")), phone.target)
    told = media_address(answer.body)
    talk_alone(rtp, told, seconds=1.5)
    phone.sock.sendto(phone.request("BYE", uri, to=answer.get("to")), phone.target)
    return {"told": told, "heard": dominant_frequency(rtp.heard), "packets": len(rtp.heard)}


def main() -> None:
    role, host, port, me, user, password, domain, *rest = sys.argv[1:]
    switch = (host, int(port))
    if role == "callee":
        result = callee(switch, me, user, password, domain)
    else:
        result = caller(switch, me, user, password, domain, rest[0])
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
