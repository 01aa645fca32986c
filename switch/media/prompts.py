"""Default voice prompts and generated tones, as 8 kHz 16-bit mono PCM.

The spoken prompts are WAVs under `prompts/`, made once with espeak-ng and sox by
`prompts/generate.sh` and committed, so that a fresh install speaks without either tool.
Tones are computed here instead: a sine needs no file.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

import numpy as np

from switch.media.wav import SAMPLE_RATE, read_wav

__all__ = [
    "PROMPTS",
    "beep",
    "message_count",
    "number",
    "preload",
    "prompt",
    "prompt_path",
    "silence",
    "tone",
]

PROMPTS: Final = frozenset(
    {
        "greeting",  # "The person you are calling is not available. Please leave a message…"
        "you_have",
        "new_message",
        "new_messages",
        "old_message",
        "old_messages",
        "and",
        "no_messages",
        "menu",  # "To delete this message, press 7. To keep it, press 9. For the next…"
        "deleted",
        "saved",
        "no_more",  # "No more messages. Goodbye."
        "goodbye",
        "done",
    }
    | {f"n{i}" for i in range(21)}
)


def prompt_path(name: str) -> Path:
    if name not in PROMPTS:
        raise KeyError(f"no prompt named {name!r}")
    return Path(str(resources.files("switch.media") / "prompts" / f"{name}.wav"))


@cache
def prompt(name: str) -> bytes:
    """A shipped prompt's PCM (read once, then cached: prompts are small and immutable)."""
    return read_wav(prompt_path(name))


def preload() -> None:
    """Read every shipped prompt now (at start), so no prompt is read from disk mid-call."""
    for name in PROMPTS:
        prompt(name)
    beep()


def silence(seconds: float) -> bytes:
    return bytes(2 * int(seconds * SAMPLE_RATE))


def tone(freq: float, seconds: float, amplitude: float = 0.3) -> bytes:
    """A sine at `freq` Hz with 5 ms fades, so it starts and stops without a click."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    wave = np.sin(2 * np.pi * freq * t) * amplitude * 32767
    ramp = min(40, n // 2)
    if ramp:
        fade = np.linspace(0.0, 1.0, ramp)
        wave[:ramp] *= fade
        wave[n - ramp :] *= fade[::-1]
    pcm: bytes = np.rint(wave).astype("<i2").tobytes()
    return pcm


@cache
def beep() -> bytes:
    """The record-after-the-tone beep: 1 kHz for 300 ms (the usual voicemail beep)."""
    return tone(1000.0, 0.3)


def number(n: int) -> bytes:
    """`n` spoken: 0-20 as words, larger numbers digit by digit (cheap and clear)."""
    if n < 0:
        raise ValueError("negative count")
    if n <= 20:
        return prompt(f"n{n}")
    return b"".join(prompt(f"n{int(d)}") for d in str(n))


def message_count(new: int, old: int) -> bytes:
    """ "You have N new messages [and M saved messages]" or "You have no messages"."""
    if new == 0 and old == 0:
        return prompt("no_messages")
    gap = silence(0.1)
    parts = [prompt("you_have"), gap, number(new), gap]
    parts.append(prompt("new_message" if new == 1 else "new_messages"))
    if old:
        parts += [gap, prompt("and"), gap, number(old), gap]
        parts.append(prompt("old_message" if old == 1 else "old_messages"))
    return b"".join(parts)
