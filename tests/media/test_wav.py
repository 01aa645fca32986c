"""The WAV writer keeps a playable file through a crash; the reader validates."""

from __future__ import annotations

import signal
import struct
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from switch.media.wav import WavFormatError, WavWriter, read_wav, wav_duration

FRAME = np.arange(160, dtype="<i2").tobytes()


def test_round_trip_and_stdlib_agrees(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    w = WavWriter(path)
    for _ in range(60):
        w.write(FRAME)
    w.write_silence(80)
    w.close()
    w.close()  # idempotent
    assert read_wav(path) == FRAME * 60 + bytes(160)
    with wave.open(str(path)) as f:
        assert (f.getframerate(), f.getnchannels(), f.getsampwidth()) == (8000, 1, 2)
        assert f.getnframes() == 60 * 160 + 80


def test_truncate(tmp_path: Path) -> None:
    path = tmp_path / "t.wav"
    w = WavWriter(path)
    for _ in range(10):
        w.write(FRAME)
    w.truncate(400)
    w.write(FRAME)
    w.close()
    assert len(read_wav(path)) == 2 * (400 + 160)


def test_partial_file_after_sigkill_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "crash.wav"
    script = f"""
import os, signal
from pathlib import Path
from switch.media.wav import WavWriter
w = WavWriter(Path({str(path)!r}), patch_every=25)
for _ in range(110):   # 2.2 s; sizes patched at 0.5 s steps
    w.write(bytes(range(256)) + bytes(64))
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parents[2])
    assert proc.returncode == -signal.SIGKILL
    # The stdlib reader trusts the last patched size: everything up to the last patch.
    with wave.open(str(path)) as f:
        assert f.getnframes() == 100 * 160
    # Ours trusts the bytes on disk that the OS already had (the patch flushed them).
    assert 100 * 160 <= len(read_wav(path)) // 2 <= 110 * 160
    assert wav_duration(path) >= 2.0


def test_unpatched_header_reads_what_is_there(tmp_path: Path) -> None:
    path = tmp_path / "raw.wav"
    w = WavWriter(path, patch_every=10_000)
    w.write(FRAME)
    assert w._file is not None
    w._file.flush()  # a crash after the OS got the bytes but before any size patch
    assert read_wav(path) == FRAME
    w._file.close()


def _wav(path: Path, rate: int, channels: int, bits: int, data: bytes, tag: int = 1) -> Path:
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"LIST" + struct.pack("<I", 3) + b"abc\x00"  # odd chunk, padded
    body += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_reader_mixes_and_resamples(tmp_path: Path) -> None:
    stereo = np.array([[1000, 3000]] * 1600, dtype="<i2").tobytes()
    pcm = read_wav(_wav(tmp_path / "s.wav", 16000, 2, 16, stereo))
    samples = np.frombuffer(pcm, dtype="<i2")
    assert len(samples) == 800 and set(samples.tolist()) == {2000}


@pytest.mark.parametrize(("bits", "tag"), [(8, 1), (16, 3), (24, 1)])
def test_reader_refuses_other_formats(tmp_path: Path, bits: int, tag: int) -> None:
    with pytest.raises(WavFormatError):
        read_wav(_wav(tmp_path / "x.wav", 8000, 1, bits, b"\x00" * 12, tag))


def test_reader_refuses_non_wav(tmp_path: Path) -> None:
    (tmp_path / "n.wav").write_bytes(b"ID3 not a wav at all")
    with pytest.raises(WavFormatError):
        read_wav(tmp_path / "n.wav")
