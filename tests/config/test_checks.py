"""Cross-reference checks: each problem is `FILE:LINE: message` at the offending node's line,
and every problem of a file is reported at once."""

from __future__ import annotations

import pathlib

import pytest

from config import ConfigError, load_config

BASE = """\
server:
  listen: [udp:127.0.0.1:5060]
features:
  pickup: "**"
  pickup_numbering: "55X"
  voicemail: "*97"
customer_groups:
  - name: north
    customers: [acme, globex]
customers:
  - name: acme
    domain: acme.test
    access_code: "81"
    user_groups:
      - {name: staff, allow_pickup: true}
    extension_lists:
      - {name: floor, extensions: ["201", "202"]}
    extensions:
      - {number: "201", name: A, password: a-pw, user_group: staff, voicemail: true}
      - {number: "202", name: B, password: b-pw, user_group: staff}
    pickup_groups:
      - {name: sales, number: "550", extension_list: floor}
    hunt_groups:
      - {name: support, number: "600", members: ["201", "202"], default: "201"}
    calling_groups:
      - {name: reception, number: "700", members: ["201", "202"]}
    trunks:
      - name: acme-pstn
        uri: sip:127.0.0.1:5090
        outbound_prefix: "9"
        inbound: {"+15550100": "700"}
  - name: globex
    domain: globex.test
    access_code: "82"
    user_groups: [{name: staff}]
    extensions:
      - {number: "201", name: G, password: g-pw, user_group: staff}
"""


def check(tmp_path: pathlib.Path, text: str) -> list[str]:
    path = tmp_path / "pbx.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    prefix = f"{path}:"
    assert all(p.startswith(prefix) for p in info.value.problems), info.value.problems
    return [p[len(prefix) :] for p in info.value.problems]


def line_of(text: str, needle: str, nth: int = 0) -> int:
    """1-based line of the nth line containing `needle`."""
    hits = [i + 1 for i, line in enumerate(text.splitlines()) if needle in line]
    return hits[nth]


def edit(old: str, new: str, text: str = BASE) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_base_is_valid(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "pbx.yaml"
    path.write_text(BASE)
    load_config(path)


def test_same_number_in_two_customers_is_fine(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "pbx.yaml"
    path.write_text(BASE)
    config = load_config(path)
    assert config.customers[0].extensions[0].number == config.customers[1].extensions[0].number


def test_duplicate_extension_number(tmp_path: pathlib.Path) -> None:
    text = edit('number: "202", name: B', 'number: "201", name: B')
    found = check(tmp_path, text)
    assert (
        '20: duplicate number "201": extension "201" is also extension "201" (line 19) '
        "in the dial plan of customer acme"
    ) in found
    # the lists still naming 202 are reported in the same run
    assert "17: extension list floor names unknown extension '202'" in found


def test_group_number_duplicates_extension(tmp_path: pathlib.Path) -> None:
    text = edit('number: "600"', 'number: "202"')
    (found,) = check(tmp_path, text)
    assert found == (
        f'{line_of(text, "support")}: duplicate number "202": hunt group support "202" is also '
        'extension "202" (line 20) in the dial plan of customer acme'
    )


def test_number_prefix_of_number(tmp_path: pathlib.Path) -> None:
    text = edit('number: "600"', 'number: "20"')
    assert check(tmp_path, text) == [
        f'24: hunt group support "20" is a prefix of extension "{n}" (line {line}) '
        "in the dial plan of customer acme"
        for n, line in (("201", 19), ("202", 20))
    ]


def test_number_collides_with_feature_code_per_customer(tmp_path: pathlib.Path) -> None:
    text = edit('voicemail: "*97"', 'voicemail: "2"')
    # reported at each customer's numbers, not at the (global) feature code
    assert check(tmp_path, text) == [
        f'{line}: extension "{number}" starts with feature code voicemail "2" (line 6) '
        f"in the dial plan of customer {customer}"
        for line, number, customer in (
            (19, "201", "acme"),
            (20, "202", "acme"),
            (37, "201", "globex"),
        )
    ]


def test_defaulted_feature_code_collision(tmp_path: pathlib.Path) -> None:
    text = edit('access_code: "82"', 'access_code: "*7"')
    assert check(tmp_path, text) == [
        f'34: access code "*7" of customer globex is a prefix of feature code {key} "{code}" '
        "(default)"
        for key, code in (("hunt_block", "*78"), ("hunt_unblock", "*79"))
    ]


def test_number_collides_with_access_code(tmp_path: pathlib.Path) -> None:
    text = edit('number: "700"', 'number: "8"')
    assert check(tmp_path, text) == [
        f'26: calling group reception "8" is a prefix of access code "{code}" of customer '
        f"{name} (line {line}) in the dial plan of customer acme"
        for code, name, line in (("81", "acme", 13), ("82", "globex", 34))
    ] + ["31: target '700' is not an extension or group of customer acme"]


def test_number_collides_with_own_trunk_prefix_only(tmp_path: pathlib.Path) -> None:
    text = edit('outbound_prefix: "9"', 'outbound_prefix: "6"')
    assert check(tmp_path, text) == [
        '30: outbound_prefix "6" of trunk acme-pstn is a prefix of hunt group support "600" '
        "(line 24) in the dial plan of customer acme"
    ]
    # globex has no number starting with 6 and may not use acme's trunk: no problem there
    other = edit('number: "201", name: G', 'number: "901", name: G')
    path = tmp_path / "ok.yaml"
    path.write_text(other)
    load_config(path)


def test_trunk_prefix_collides_with_access_code(tmp_path: pathlib.Path) -> None:
    text = edit('outbound_prefix: "9"', 'outbound_prefix: "8"')
    found = check(tmp_path, text)
    assert [p.split(":")[0] for p in found] == ["30", "30"]
    assert found[0].endswith("in the dial plan of customer acme")
    assert 'outbound_prefix "8" of trunk acme-pstn is a prefix of access code "81"' in found[0]


def test_access_code_used_twice(tmp_path: pathlib.Path) -> None:
    text = edit('access_code: "82"', 'access_code: "81"')
    assert check(tmp_path, text) == ['34: access code "81" used twice (line 13)']


def test_access_code_prefix_of_feature_code(tmp_path: pathlib.Path) -> None:
    text = edit('access_code: "82"', 'access_code: "*9"')
    (found,) = check(tmp_path, text)
    assert found == (
        '34: access code "*9" of customer globex is a prefix of feature code voicemail "*97" '
        "(line 6)"
    )


def test_feature_codes_collide(tmp_path: pathlib.Path) -> None:
    text = edit('voicemail: "*97"', 'voicemail: "*6"')
    assert check(tmp_path, text) == [
        '6: feature code voicemail "*6" is a prefix of feature code hunt_login "*61" (default)',
        '6: feature code voicemail "*6" is a prefix of feature code hunt_logout "*62" (default)',
    ]


def test_unknown_members(tmp_path: pathlib.Path) -> None:
    text = edit('extensions: ["201", "202"]', 'extensions: ["201", "299"]')
    text = edit('members: ["201", "202"], default', 'members: ["201", "298"], default', text)
    text = edit('number: "700", members: ["201", "202"]', 'number: "700", members: ["297"]', text)
    assert check(tmp_path, text) == [
        "17: extension list floor names unknown extension '299'",
        "24: hunt group support names unknown extension '298'",
        "26: calling group reception names unknown extension '297'",
    ]


def test_member_listed_twice(tmp_path: pathlib.Path) -> None:
    text = edit('members: ["201", "202"], default', 'members: ["201", "201"], default')
    assert check(tmp_path, text) == ["24: hunt group support: member '201' used twice (line 24)"]


def test_unknown_user_group_and_extension_list(tmp_path: pathlib.Path) -> None:
    text = edit("password: b-pw, user_group: staff", "password: b-pw, user_group: boss")
    text = edit("extension_list: floor", "extension_list: flor", text)
    assert check(tmp_path, text) == [
        "20: extension 202 names unknown user group 'boss'",
        "22: pickup group sales names unknown extension list 'flor'",
    ]


def test_pickup_number_outside_numbering(tmp_path: pathlib.Path) -> None:
    text = edit('number: "550", extension_list', 'number: "560", extension_list')
    assert check(tmp_path, text) == [
        "22: pickup group number '560' is outside pickup_numbering '55X' (line 5)"
    ]
    text = edit('number: "550", extension_list', 'number: "5500", extension_list')
    assert check(tmp_path, text)[0].startswith("22: pickup group number '5500' is outside")


def test_pickup_numbers_are_not_dialable(tmp_path: pathlib.Path) -> None:
    # "55" is a prefix of pickup group "550", but pickup numbers live after ** only
    text = edit('number: "600"', 'number: "55"')
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    load_config(path)


def test_pickup_number_equal_to_extension(tmp_path: pathlib.Path) -> None:
    text = edit('pickup_numbering: "55X"', 'pickup_numbering: "20X"')
    text = edit('number: "550", extension_list', 'number: "202", extension_list', text)
    (found,) = check(tmp_path, text)
    assert found.startswith("22: pickup group number '202' is also an extension")


def test_customer_group_unknown_customer(tmp_path: pathlib.Path) -> None:
    text = edit("customers: [acme, globex]", "customers: [acme, globx]")
    assert check(tmp_path, text) == ["9: customer group north names unknown customer 'globx'"]


def test_duplicate_domain_and_customer(tmp_path: pathlib.Path) -> None:
    text = edit("domain: globex.test", "domain: ACME.test")
    text = edit("  - name: globex\n", "  - name: acme\n", text)
    assert check(tmp_path, text) == [
        "9: customer group north names unknown customer 'globex'",
        "32: customer name 'acme' used twice (line 11)",
        "33: domain 'ACME.test' used twice (line 12)",
    ]


def test_dynamic_hunt_group_needs_password(tmp_path: pathlib.Path) -> None:
    text = edit('number: "600", members', 'number: "600", type: dynamic, members')
    assert check(tmp_path, text) == ["24: dynamic hunt group support needs a password"]


def test_default_and_coverage_targets(tmp_path: pathlib.Path) -> None:
    text = edit(
        '      - {name: support, number: "600", members: ["201", "202"], default: "201"}\n',
        "      - name: support\n"
        '        number: "600"\n'
        '        members: ["201", "202"]\n'
        '        default: "209"\n'
        "        coverage:\n"
        "          busy: voicemail:208\n"
        '          no_answer: "207"\n',
    )
    assert check(tmp_path, text) == [
        "27: hunt group support default names unknown extension '209'",
        "29: 'voicemail:208' names unknown extension '208'",
        "30: target '207' is not an extension or group of customer acme",
    ]


def test_coverage_may_reach_own_group_or_trunk(tmp_path: pathlib.Path) -> None:
    text = edit(
        "password: b-pw, user_group: staff}",
        'password: b-pw, user_group: staff, coverage: {busy: "600", no_answer: "95551234"}}',
    )
    path = tmp_path / "ok.yaml"
    path.write_text(text)
    load_config(path)


def test_trunk_inbound_target_unknown(tmp_path: pathlib.Path) -> None:
    text = edit('inbound: {"+15550100": "700"}', 'inbound: {"+15550100": "701"}')
    assert check(tmp_path, text) == [
        "31: target '701' is not an extension or group of customer acme"
    ]


def test_trunk_address_used_twice(tmp_path: pathlib.Path) -> None:
    text = BASE + '    trunks:\n      - {name: g, uri: "sip:127.0.0.1:5090"}\n'
    assert check(tmp_path, text) == ["39: trunk address '127.0.0.1:5090' used twice (line 29)"]


@pytest.mark.parametrize(
    "uri",
    ["sips:127.0.0.1:5091", "sips:gw@127.0.0.1", "sip:127.0.0.1:5091;transport=TLS"],
)
def test_tls_trunk_refused_not_downgraded(tmp_path: pathlib.Path, uri: str) -> None:
    # RFC 3261 §19.1: a SIPS URI means "TLS is to be used"; without TLS the switch must
    # refuse the trunk, never reach it over plain TCP.
    text = edit("uri: sip:127.0.0.1:5090", f'uri: "{uri}"')
    assert check(tmp_path, text) == [
        f"29: trunk acme-pstn: {uri} needs TLS: sips:/TLS is not supported yet"
        " (use sip: over udp or tcp)"
    ]


def test_unknown_trunk_transport_refused(tmp_path: pathlib.Path) -> None:
    text = edit("uri: sip:127.0.0.1:5090", "uri: sip:127.0.0.1:5090;transport=sctp")
    assert check(tmp_path, text) == [
        "29: trunk acme-pstn: transport=sctp is not supported (udp or tcp)"
    ]


def test_udp_and_tcp_trunks_accepted(tmp_path: pathlib.Path) -> None:
    for uri in ("sip:127.0.0.1:5090;transport=tcp", "sip:127.0.0.1:5090;transport=UDP"):
        path = tmp_path / "pbx.yaml"
        path.write_text(edit("uri: sip:127.0.0.1:5090", f"uri: {uri}"))
        load_config(path)


def test_every_problem_reported_together_in_line_order(tmp_path: pathlib.Path) -> None:
    text = edit("customers: [acme, globex]", "customers: [acme, globx]")
    text = edit('access_code: "82"', 'access_code: "81"', text)
    text = edit("password: b-pw, user_group: staff", "password: b-pw, user_group: boss", text)
    text = edit('number: "550", extension_list', 'number: "560", extension_list', text)
    text = edit('number: "600", members: ["201", "202"]', 'number: "600", members: ["203"]', text)
    found = check(tmp_path, text)
    assert [int(p.split(":")[0]) for p in found] == [9, 20, 22, 24, 34]


def test_rtpengine_relay_needs_its_address(tmp_path: pathlib.Path) -> None:
    listen = "  listen: [udp:127.0.0.1:5060]"
    text = edit(listen, listen + "\n  media:\n    relay: rtpengine")
    assert check(tmp_path, text) == [
        "4: relay: rtpengine needs server.media.rtpengine (udp:HOST:PORT)"
    ]
    text = edit(listen, listen + "\n  media: {relay: rtpengine, rtpengine: 'tcp:127.0.0.1:22'}")
    [problem] = check(tmp_path, text)
    assert problem.startswith("3: ") and "udp:HOST:PORT" in problem, problem
    text = edit(listen, listen + "\n  media: {relay: sometimes}")
    [problem] = check(tmp_path, text)
    assert problem.startswith("3: ") and "embedded" in problem, problem


def test_media_relay_defaults_to_embedded(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "pbx.yaml"
    path.write_text(BASE)
    media = load_config(path).server.media
    assert (media.relay, media.rtpengine, media.timeout_seconds) == ("embedded", None, 60)


def test_relay_off_unquoted_is_the_word_off(tmp_path: pathlib.Path) -> None:
    # YAML 1.2 booleans: only true/false. YAML 1.1 would read `off` as false.
    listen = "  listen: [udp:127.0.0.1:5060]"
    path = tmp_path / "pbx.yaml"
    path.write_text(edit(listen, listen + "\n  media:\n    relay: off"))
    assert load_config(path).server.media.relay == "off"
