"""Customers, customer groups and trunks over real sockets (docs/PRODUCT.md,
"Customers and customer groups").

Three customers unlike the reference's: north-co (north.example, access code 66, trunk
prefix 7) and south-co (south.example, access code 67, trunk prefix 0) share the customer
group "pair"; island (island.example, access code 68) is in none. Extension 5101 exists at
all three: a different phone each time. The carriers' gateways are SIPp processes on the
trunks' addresses: a UAS that answers (outbound) or a caller sending from that address
(inbound).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness import (
    Phone,
    SippHandle,
    SippResult,
    dial,
    extension,
    free_port,
    make_config,
    run_sipp,
    start_phones,
    start_switch,
)
from observe import invites

pytestmark = [pytest.mark.integration, pytest.mark.sipp]

NORTH, SOUTH, ISLAND = "north.example", "south.example", "island.example"


def pw(domain: str, number: str) -> str:
    return f"{domain.split('.')[0]}-{number}"


class Site:
    def __init__(self, tmp_path: Path) -> None:
        self.north_trunk = free_port()
        self.south_trunk = free_port()
        port = free_port()
        config = make_config(
            port=port,
            state_dir=tmp_path / "switch" / "state",
            customer_groups=[{"name": "pair", "customers": ["north-co", "south-co"]}],
            customers=[
                {
                    "name": "north-co", "domain": NORTH, "access_code": "66",
                    "user_groups": [{"name": "all"}],
                    "extensions": [extension(n, pw(NORTH, n), user_group="all")
                                   for n in ("5101", "5102", "5103")],
                    "hunt_groups": [{"name": "line", "number": "5500", "members": ["5102"],
                                     "ring_seconds": 5}],
                    "calling_groups": [{"name": "ring-all", "number": "5600",
                                        "members": ["5103"], "ring_seconds": 5}],
                    "trunks": [{
                        "name": "north-gw", "uri": f"sip:127.0.0.1:{self.north_trunk}",
                        "outbound_prefix": "7",
                        "inbound": {"+4930123": "5600", "+4930124": "5101",
                                    "+4930125": "5500"},
                    }],
                },
                {
                    "name": "south-co", "domain": SOUTH, "access_code": "67",
                    "user_groups": [{"name": "all"}],
                    "extensions": [extension(n, pw(SOUTH, n), user_group="all")
                                   for n in ("5101", "5201")],
                    "trunks": [{
                        "name": "south-gw", "uri": f"sip:127.0.0.1:{self.south_trunk}",
                        "outbound_prefix": "0", "inbound": {"+3361": "5201"},
                    }],
                },
                {
                    "name": "island", "domain": ISLAND, "access_code": "68",
                    "user_groups": [{"name": "all"}],
                    "extensions": [extension("5101", pw(ISLAND, "5101"), user_group="all")],
                },
            ],
        )
        self.switch = start_switch(tmp_path / "switch", config=config, port=port)
        self.tmp_path = tmp_path

    def phone(self, workdir: Path, domain: str, number: str, **kw: Any) -> Phone:
        (phone,) = start_phones(self.switch, workdir, [(number, pw(domain, number))],
                                domain=domain, pause_ms=50, **kw)
        return phone

    def call(self, workdir: Path, domain: str, number: str, dialled: str,
             **kw: Any) -> SippResult:
        result = dial(self.switch, workdir, number, pw(domain, number), dialled, domain=domain,
                      pause_ms=100, **kw)
        assert isinstance(result, SippResult)
        return result

    def expect(self, workdir: Path, domain: str, number: str, dialled: str,
               status: int) -> None:
        result = self.call(workdir, domain, number, dialled, scenario="uac_expect.xml",
                           expect_status=status)
        result.assert_ok(f"{number}@{domain} dialling {dialled} must get {status}")
        assert result.final_statuses()[-1] == status

    def gateway(self, workdir: Path, port: int) -> SippHandle:
        """A carrier gateway at a trunk's address that answers one call."""
        handle = run_sipp("uas_answer.xml", self.switch.target, workdir=workdir,
                          local_port=port, pause_ms=50, timeout=15, background=True)
        assert isinstance(handle, SippHandle)
        return handle

    def from_trunk(self, workdir: Path, port: int, called: str, status: int | None = None,
                   ) -> SippResult:
        """The carrier behind the trunk at `port` calls `called`."""
        if status is None:
            result = dial(self.switch, workdir, "+15550000", "", called, domain="carrier.example",
                          scenario="trunk_answered.xml", local_port=port, pause_ms=100)
        else:
            result = dial(self.switch, workdir, "+15550000", "", called, domain="carrier.example",
                          scenario="trunk_expect.xml", local_port=port, expect_status=status)
        assert isinstance(result, SippResult)
        return result


@pytest.fixture
def site(tmp_path: Path, sipp_required: None):  # type: ignore[no-untyped-def]
    s = Site(tmp_path)
    yield s
    s.switch.stop()
    (tmp_path / "switch.log").write_text(s.switch.log_text() + "\n", encoding="utf-8")


def test_access_code_reaches_extensions_and_groups_of_the_group(site: Site,
                                                                sipp_dir: Path) -> None:
    north_5101 = site.phone(sipp_dir, NORTH, "5101")
    north_5102 = site.phone(sipp_dir, NORTH, "5102")
    north_5103 = site.phone(sipp_dir, NORTH, "5103")
    south_5101 = site.phone(sipp_dir, SOUTH, "5101")
    site.call(sipp_dir, SOUTH, "5201", "665101").assert_ok("south -> north's 5101")
    site.call(sipp_dir, SOUTH, "5201", "665500").assert_ok("south -> north's hunt group")
    site.call(sipp_dir, SOUTH, "5201", "665600").assert_ok("south -> north's calling group")
    site.call(sipp_dir, NORTH, "5102", "675101").assert_ok("north -> south's 5101")
    for phone, domain in ((north_5101, NORTH), (north_5102, NORTH), (north_5103, NORTH),
                          (south_5101, SOUTH)):
        got = invites(phone.wait(20).assert_ok(f"{phone.number}@{domain}").messages)
        assert len(got) == 1, f"{phone.number}@{domain} rang {len(got)} times"
        assert f"@{domain}" in (got[0].header("To") or ""), got[0].text


def test_access_code_refusals(site: Site, sipp_dir: Path) -> None:
    site.expect(sipp_dir, SOUTH, "5201", "685101", 403)  # island is in no group of south
    site.expect(sipp_dir, ISLAND, "5101", "665101", 403)  # nor north in any of island's
    site.expect(sipp_dir, SOUTH, "5201", "667030555", 403)  # access code + north's prefix
    site.expect(sipp_dir, SOUTH, "5201", "660030555", 403)  # access code + own prefix
    site.expect(sipp_dir, SOUTH, "5201", "669999", 404)  # nothing there


def test_trunk_prefix_goes_out_on_own_trunk_stripped(site: Site, sipp_dir: Path) -> None:
    north_gw = site.gateway(sipp_dir, site.north_trunk)
    site.call(sipp_dir, NORTH, "5101", "70301234567").assert_ok("out on north's trunk")
    got = invites(north_gw.wait().assert_ok("north's gateway answers").messages)
    assert len(got) == 1
    assert got[0].first_line == f"INVITE sip:0301234567@127.0.0.1:{site.north_trunk} SIP/2.0"
    south_gw = site.gateway(sipp_dir, site.south_trunk)
    # north's prefix means nothing to south: no route, and north's gateway gets nothing
    site.expect(sipp_dir, SOUTH, "5201", "70301234567", 404)
    site.call(sipp_dir, SOUTH, "5201", "0811").assert_ok("out on south's own trunk")
    got = invites(south_gw.wait().assert_ok("south's gateway answers").messages)
    assert [m.first_line for m in got] == [
        f"INVITE sip:811@127.0.0.1:{site.south_trunk} SIP/2.0"
    ]


def test_inbound_trunk_calls_follow_the_inbound_map(site: Site, sipp_dir: Path) -> None:
    north_5101 = site.phone(sipp_dir, NORTH, "5101")
    north_5103 = site.phone(sipp_dir, NORTH, "5103")
    south_5201 = site.phone(sipp_dir, SOUTH, "5201")
    site.from_trunk(sipp_dir, site.north_trunk, "+4930123").assert_ok("DID -> calling group")
    site.from_trunk(sipp_dir, site.north_trunk, "+4930124").assert_ok("DID -> extension")
    site.from_trunk(sipp_dir, site.south_trunk, "+3361").assert_ok("south's DID")
    site.from_trunk(sipp_dir, site.north_trunk, "+4930999", 403).assert_ok("unknown DID")
    site.from_trunk(sipp_dir, site.north_trunk, "5101", 403).assert_ok("not a DID")
    site.from_trunk(sipp_dir, site.south_trunk, "+4930123", 403).assert_ok("north's DID")
    site.from_trunk(sipp_dir, site.north_trunk, "70301", 403).assert_ok("no hairpin")
    for phone in (north_5101, north_5103, south_5201):
        assert len(invites(phone.wait(20).assert_ok(phone.number).messages)) == 1
