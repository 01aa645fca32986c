"""Loading: the reference and example files decode; shape problems are FILE:LINE: message."""

from __future__ import annotations

import pathlib
import textwrap

import msgspec
import pytest
import yaml

from config import ConfigError, SwitchConfig, load_config, parse_config
from config.load import _from_msgspec
from config.schema import HostPort, Listen

ROOT = pathlib.Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "tests" / "data" / "reference.yaml"

MINIMAL = """\
server:
  listen: [udp:127.0.0.1:5060]
customers:
  - name: acme
    domain: acme.test
    user_groups: [{name: staff}]
    extensions:
      - {number: "201", name: A, password: a-pw, user_group: staff}
"""


def write(tmp_path: pathlib.Path, text: str) -> str:
    path = tmp_path / "switch.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def problems(tmp_path: pathlib.Path, text: str) -> list[str]:
    name = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(name)
    prefix = name + ":"
    assert all(p.startswith(prefix) for p in info.value.problems), info.value.problems
    return [p[len(prefix) :] for p in info.value.problems]


def test_reference_loads_unchanged() -> None:
    config = load_config(REFERENCE)
    assert isinstance(config, SwitchConfig)
    assert [c.name for c in config.customers] == ["acme", "globex", "initech"]
    assert config.server.listen == (
        Listen(transport="udp", host="127.0.0.1", port=5060),
        Listen(transport="tcp", host="127.0.0.1", port=5060),
    )
    assert config.server.admin == HostPort(host="127.0.0.1", port=8080)
    assert config.features.pickup_numbering == "55X"
    acme = config.customers[0]
    assert acme.hunt_groups[1].password == "4321"
    assert acme.trunks[0].inbound == {"+15550100": "700", "+15550101": "600"}
    assert acme.extensions[5].coverage is not None
    assert acme.extensions[5].coverage.busy == "voicemail"


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_examples_load(path: pathlib.Path) -> None:
    load_config(path)


def test_pbx_example_has_what_make_run_needs() -> None:
    config = load_config(ROOT / "examples" / "pbx.yaml")
    assert {(x.transport, x.host, x.port) for x in config.server.listen} == {
        ("udp", "127.0.0.1", 5060),
        ("tcp", "127.0.0.1", 5060),
    }
    assert config.server.state_dir == "./var"
    assert len(config.customers) == 2 and config.customer_groups
    hunts = [g for c in config.customers for g in c.hunt_groups]
    assert {(g.strategy, g.type) for g in hunts} >= {
        ("sequential", "static"),
        ("round_robin", "static"),
        ("sequential", "dynamic"),
        ("round_robin", "dynamic"),
    }
    assert all(c.calling_groups and c.pickup_groups and c.trunks for c in config.customers)


def test_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.server.state_dir == "./var"
    assert config.server.admin is None
    assert config.server.registration.min_expires == 60
    assert config.server.registration.max_expires == 3600
    assert config.server.auth.algorithms == ("MD5",)
    assert config.features.hunt_login == "*61"
    assert config.customers[0].extensions[0].voicemail is False


def test_config_is_frozen() -> None:
    config = parse_config(MINIMAL)
    with pytest.raises(AttributeError):
        config.server = config.server  # type: ignore[misc]
    with pytest.raises(AttributeError):
        config.server.listen[0].port = 1


def test_error_str_joins_problems() -> None:
    err = ConfigError(["a:1: x", "a:2: y"])
    assert str(err) == "a:1: x\na:2: y"
    assert err.problems == ["a:1: x", "a:2: y"]


def test_missing_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert info.value.problems[0].startswith(f"{tmp_path / 'nope.yaml'}:1: cannot read")


def test_empty_file(tmp_path: pathlib.Path) -> None:
    assert problems(tmp_path, "# nothing\n") == ["1: the file is empty"]


def test_yaml_syntax_error_line(tmp_path: pathlib.Path) -> None:
    text = "server:\n  listen: [udp:127.0.0.1:5060\ncustomers: []\n"
    (found,) = problems(tmp_path, text)
    assert found.startswith("3: YAML syntax error")


def test_unknown_key_at_its_line(tmp_path: pathlib.Path) -> None:
    text = MINIMAL.replace("    domain: acme.test\n", "    domain: acme.test\n    domian: x\n")
    assert problems(tmp_path, text) == ["6: unknown key 'domian' (did you mean 'domain'?)"]


def test_unknown_top_level_key(tmp_path: pathlib.Path) -> None:
    assert problems(tmp_path, MINIMAL + "extras: 1\n") == ["9: unknown key 'extras'"]


def test_unquoted_number_is_told_to_quote(tmp_path: pathlib.Path) -> None:
    text = MINIMAL.replace('number: "201"', "number: 0201")
    (found,) = problems(tmp_path, text)
    assert found.startswith('8: 0201 must be quoted: write "0201"')


def test_unquoted_did_key(tmp_path: pathlib.Path) -> None:
    text = MINIMAL + textwrap.indent(
        'trunks:\n  - name: t\n    uri: sip:192.0.2.1\n    inbound:\n      +15550100: "201"\n',
        "    ",
    )
    (found,) = problems(tmp_path, text)
    assert found.startswith('13: +15550100 must be quoted: write "+15550100"')


def test_wrong_choice_and_bad_listen(tmp_path: pathlib.Path) -> None:
    text = MINIMAL.replace("udp:127.0.0.1:5060", "sctp:127.0.0.1:5060") + textwrap.indent(
        'hunt_groups:\n  - {name: h, number: "600", strategy: random, members: ["201"]}\n',
        "    ",
    )
    assert problems(tmp_path, text) == [
        "2: expected udp:HOST:PORT or tcp:HOST:PORT, got 'sctp:127.0.0.1:5060'",
        "10: invalid value 'random': expected one of sequential, round_robin",
    ]


def test_missing_required_key_at_mapping(tmp_path: pathlib.Path) -> None:
    text = MINIMAL.replace(" password: a-pw,", "")
    assert problems(tmp_path, text) == ["8: missing required key 'password'"]


def test_pattern_violation_is_explained(tmp_path: pathlib.Path) -> None:
    text = MINIMAL.replace('number: "201"', 'number: "20a"')
    (found,) = problems(tmp_path, text)
    assert found.startswith("8: invalid value '20a': expected a number of digits only")


def test_wrong_container(tmp_path: pathlib.Path) -> None:
    text = MINIMAL.replace("user_groups: [{name: staff}]", "user_groups: staff")
    assert problems(tmp_path, text) == ["6: expected a list, got 'staff'"]


def test_duplicate_key(tmp_path: pathlib.Path) -> None:
    text = MINIMAL.replace("    domain: acme.test\n", "    domain: acme.test\n    domain: b.test\n")
    assert problems(tmp_path, text) == ["6: duplicate key 'domain' (first at line 5)"]


def test_every_shape_problem_reported_together(tmp_path: pathlib.Path) -> None:
    text = """\
    server:
      listen: [udp:127.0.0.1:5060]
      colour: red
    customers:
      - name: acme
        domain: acme.test
        user_groups: [{name: staff, allow_pickup: maybe}]
        extensions:
          - {number: 201, name: A, password: a-pw, user_group: staff}
          - {number: "202", name: B, user_group: staff}
    """
    found = problems(tmp_path, text)
    assert [p.split(":")[0] for p in found] == ["3", "7", "9", "10"]


def test_merge_keys_are_supported() -> None:
    text = MINIMAL.replace(
        '      - {number: "201", name: A, password: a-pw, user_group: staff}',
        '      - &base {number: "201", name: A, password: a-pw, user_group: staff}\n'
        '      - {<<: *base, number: "202"}',
    )
    config = parse_config(text)
    assert [e.number for e in config.customers[0].extensions] == ["201", "202"]


class _Customer(msgspec.Struct):
    name: str


class _Root(msgspec.Struct):
    customers: list[_Customer]


def test_msgspec_path_maps_to_line() -> None:
    root = yaml.compose(MINIMAL, Loader=yaml.SafeLoader)
    assert root is not None
    try:
        msgspec.convert({"customers": [{"name": 1}]}, type=_Root)
    except msgspec.ValidationError as err:
        message = str(err)
    assert message.endswith("`$.customers[0].name`")
    assert _from_msgspec(root, message) == (4, "Expected `str`, got `int`")
    unknown = "Object contains unknown field `domain` - at `$.customers[0]`"
    assert _from_msgspec(root, unknown)[0] == 5
    assert _from_msgspec(root, "Expected `int` - at `$.customers[0].x[...]`")[0] == 4
