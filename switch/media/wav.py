"""WAV files: a crash-tolerant writer and a validating reader, 8 kHz 16-bit mono PCM.

Why not the stdlib `wave` writer: it writes the chunk sizes only on close(), so a file cut
short by SIGKILL, a crash or a full disk has sizes of zero and most players refuse it. This
writer puts a complete header first and patches the two sizes every `patch_every` frames
(and on close), flushing to the OS each time; whatever happens to the process, the file on
disk is a valid WAV of everything but the last fraction of a second, and `read_wav` (which
trusts the bytes present over a stale size) recovers even that.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np

__all__ = ["SAMPLE_RATE", "WavFormatError", "WavWriter", "read_wav", "wav_duration"]

SAMPLE_RATE: Final = 8000
_HEADER_SIZE: Final = 44
_FMT_PCM: Final = 1
_FMT_EXTENSIBLE: Final = 0xFFFE


def _header(data_bytes: int) -> bytes:
    # RIFF/WAVE with one 16-byte PCM fmt chunk and one data chunk (the canonical 44 bytes).
    return b"".join(
        [
            b"RIFF",
            struct.pack("<I", 36 + data_bytes),
            b"WAVE",
            b"fmt ",
            struct.pack("<IHHIIHH", 16, _FMT_PCM, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16),
            b"data",
            struct.pack("<I", data_bytes),
        ]
    )


class WavWriter:
    """Appends 16-bit mono 8 kHz PCM to a WAV file that is playable at every moment."""

    def __init__(self, path: Path, *, patch_every: int = 25) -> None:
        self.path = path
        self.patch_every = patch_every  # in writes; 25 x 20 ms frames = half a second
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: BinaryIO | None = path.open("wb")
        self._file.write(_header(0))
        self._file.flush()
        self._data_bytes = 0
        self._since_patch = 0

    @property
    def samples(self) -> int:
        return self._data_bytes // 2

    @property
    def duration(self) -> float:
        return self._data_bytes / (2 * SAMPLE_RATE)

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(self, pcm: bytes) -> None:
        if self._file is None:
            raise ValueError("write to a closed WavWriter")
        if len(pcm) % 2:
            pcm = pcm[:-1]  # half a sample cannot be written; never misalign the rest
        self._file.write(pcm)
        self._data_bytes += len(pcm)
        self._since_patch += 1
        if self._since_patch >= self.patch_every:
            self._patch()

    def write_silence(self, samples: int) -> None:
        if samples > 0:
            self.write(bytes(2 * samples))

    def truncate(self, samples: int) -> None:
        """Cut the recording to its first `samples` samples (e.g. to drop trailing silence)."""
        if self._file is None or samples >= self.samples:
            return
        self._data_bytes = max(samples, 0) * 2
        self._file.flush()
        self._file.truncate(_HEADER_SIZE + self._data_bytes)
        self._file.seek(0, 2)
        self._patch()

    def _patch(self) -> None:
        assert self._file is not None
        f = self._file
        f.flush()
        end = f.tell()
        f.seek(4)
        f.write(struct.pack("<I", 36 + self._data_bytes))
        f.seek(40)
        f.write(struct.pack("<I", self._data_bytes))
        f.seek(end)
        f.flush()  # to the OS: survives the process, not a power cut (no fsync per patch)
        self._since_patch = 0

    def close(self) -> None:
        """Write the final sizes. Idempotent."""
        if self._file is None:
            return
        self._patch()
        self._file.close()
        self._file = None


class WavFormatError(ValueError):
    """The file is not a WAV this package can play."""


def read_wav(path: Path) -> bytes:
    """The file's audio as 8 kHz 16-bit mono little-endian PCM.

    Accepts 16-bit PCM (plain or WAVE_FORMAT_EXTENSIBLE) at any rate and channel count:
    channels are mixed down and other rates resampled linearly, so that a greeting
    recorded by hand at 16 or 44.1 kHz still plays. Anything else raises WavFormatError.
    A data size larger than the file (a recording cut short) yields the bytes present.
    """
    data = path.read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavFormatError(f"{path}: not a RIFF/WAVE file")
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if cid == b"fmt ":
            fmt = _parse_fmt(path, data[body : body + size])
        elif cid == b"data":
            if fmt is None:
                raise WavFormatError(f"{path}: data chunk before fmt chunk")
            # A size of 0 or past the end is a header not yet patched: use what is there.
            end = len(data) if size == 0 or body + size > len(data) else body + size
            return _convert(data[body:end], *fmt)
        pos = body + size + (size & 1)  # RIFF chunks are padded to even sizes
    raise WavFormatError(f"{path}: no data chunk")


def _parse_fmt(path: Path, chunk: bytes) -> tuple[int, int, int, int]:
    if len(chunk) < 16:
        raise WavFormatError(f"{path}: fmt chunk too short")
    tag, channels, rate, _, align, bits = struct.unpack_from("<HHIIHH", chunk)
    if tag == _FMT_EXTENSIBLE and len(chunk) >= 26:
        tag = struct.unpack_from("<H", chunk, 24)[0]  # first two bytes of the sub-format GUID
    if tag != _FMT_PCM or bits != 16 or channels < 1 or rate < 1000:
        raise WavFormatError(
            f"{path}: need 16-bit PCM, got format {tag}, {bits} bits, {channels} ch, {rate} Hz"
        )
    return tag, channels, rate, align


def _convert(raw: bytes, _tag: int, channels: int, rate: int, _align: int) -> bytes:
    frames = len(raw) // (2 * channels)
    samples = np.frombuffer(raw, dtype="<i2", count=frames * channels)
    if channels == 1 and rate == SAMPLE_RATE:
        return samples.tobytes()
    mono = samples.reshape(frames, channels).mean(axis=1)
    if rate != SAMPLE_RATE and frames:
        out_len = int(frames * SAMPLE_RATE / rate)
        # Linear interpolation: fine for speech prompts; no anti-alias filter, so a 44.1 kHz
        # music file may alias a little. NOT IMPLEMENTED: band-limited resampling.
        mono = np.interp(np.arange(out_len) * (rate / SAMPLE_RATE), np.arange(frames), mono)
    converted: bytes = np.clip(np.rint(mono), -32768, 32767).astype("<i2").tobytes()
    return converted


def wav_duration(path: Path) -> float:
    """Seconds of audio in a WAV, as read_wav sees it."""
    return len(read_wav(path)) / (2 * SAMPLE_RATE)
