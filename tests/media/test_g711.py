"""G.711 tables against the reference algorithm and known code points."""

from __future__ import annotations

import time

import numpy as np
import pytest

from switch.media import g711


@pytest.mark.parametrize("codec", [g711.PCMU, g711.PCMA])
def test_every_code_round_trips(codec: g711.Codec) -> None:
    # Decoding a code and encoding the result gives the same code: the tables are inverse
    # on the 256 quantisation levels (mu-law has two zeros, 0x7F and 0xFF, both -> 0).
    codes = bytes(range(256))
    again = codec.encode(codec.decode(codes))
    diff = [c for c, a in zip(codes, again, strict=True) if c != a]
    assert diff in ([], [0x7F])


def test_known_values() -> None:
    assert g711.ulaw_to_linear(0xFF) == 0
    assert g711.ulaw_to_linear(0x00) == -32124
    assert g711.ulaw_to_linear(0x80) == 32124
    assert g711.alaw_to_linear(0xD5) == 8
    assert g711.alaw_to_linear(0x55) == -8
    assert g711.PCMU.encode(b"\x00\x00") == b"\xff"
    assert g711.PCMA.encode(b"\x00\x00") == b"\xd5"


@pytest.mark.parametrize("codec", [g711.PCMU, g711.PCMA])
def test_encode_decode_is_close(codec: g711.Codec) -> None:
    x = (np.sin(np.arange(8000) * 2 * np.pi * 440 / 8000) * 20000).astype("<i2")
    y = np.frombuffer(codec.decode(codec.encode(x.tobytes())), dtype="<i2")
    snr = 10 * np.log10(np.sum(x.astype(float) ** 2) / np.sum((x - y.astype(float)) ** 2))
    assert snr > 30  # G.711 gives about 38 dB on a loud sine


def test_tables_match_scalar_reference() -> None:
    for i in range(-32768, 32768, 7):
        pcm = int(i).to_bytes(2, "little", signed=True)
        assert g711.PCMU.encode(pcm)[0] == g711.linear_to_ulaw(i)
        assert g711.PCMA.encode(pcm)[0] == g711.linear_to_alaw(i)


def test_fast_enough_for_200_streams() -> None:
    # 200 streams x 50 packets/s = 10 000 decodes per second; give it a wide margin.
    frame = bytes(range(160))
    start = time.perf_counter()
    for _ in range(10_000):
        g711.PCMU.decode(frame)
    assert time.perf_counter() - start < 0.5
