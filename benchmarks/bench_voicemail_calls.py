"""Simultaneous voicemail recordings through the whole switch, with calls set up beside them.

Run: .venv/bin/python benchmarks/bench_voicemail_calls.py [--recordings 50,100,200]
     [--seconds 8] [--cps 20] [--write]   (--write appends to benchmarks/RESULTS.md)

Unlike bench_media.py (MediaServer alone), this starts the real switch process
(`python -m switch run`), and per step:
  1. N Python phones (tests/integration/sipua.py) call mailbox 209 over SIP (INVITE, 407,
     INVITE with credentials, 200 with the switch's SDP, ACK); the switch answers, plays the
     box's short greeting and the beep, and starts recording;
  2. one sender thread then plays all N phones: a 440 Hz PCMU packet per phone every
     20 ms for --seconds; at the same time SIPp places --cps calls/s (INVITE/407/INVITE/
     180/200/ACK, 1 s hold, BYE) from 10 callers to 10 registered SIPp callees through the
     same switch (benchmarks/sipp/uac.xml, uas.xml);
  3. all N phones hang up; every stored WAV is read: a 20 ms frame of silence inside the
     tone is a packet the switch did not write (the jitter buffer fills a lost packet with
     silence), so written = tone frames, and a stream with any silent frame has a gap.
Switch CPU is utime+stime from /proc over the sending window. No core pinning.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from harness import HOST, SIPP, free_port, make_config, start_switch  # noqa: E402
from sipua import (  # noqa: E402
    FRAME,
    SipPhone,
    read_wav,
    rtp_packet,
    tone,
    ulaw_encode,
    write_greeting,
)

SCEN = ROOT / "benchmarks" / "sipp"
CALLERS = [str(1000 + i) for i in range(10)]
CALLEES = [str(2000 + i) for i in range(10)]


def config(port: int, state: Path) -> dict[str, object]:
    exts: list[dict[str, object]] = [
        {"number": n, "name": f"P{n}", "password": f"pw{n}", "user_group": "staff"}
        for n in [*CALLERS, *CALLEES, "1999"]
    ]
    exts.append({"number": "209", "name": "Box", "password": "pw209", "user_group": "staff",
                 "voicemail": True,
                 "coverage": {"busy": "voicemail", "no_answer": "voicemail"}})
    customers = [{"name": "acme", "domain": "acme.test",
                  "user_groups": [{"name": "staff", "allow_pickup": True}],
                  "extensions": exts}]
    return make_config(port=port, state_dir=state, customers=customers,
                       server_extra={"rtp_ports": "30000-31999"})


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sipp(*args: str) -> list[str]:
    assert SIPP is not None, "sipp is not installed"
    return [SIPP, *args, "-i", HOST, "-nostdin"]


def step(n: int, seconds: float, cps: int) -> dict[str, object]:
    work = Path(tempfile.mkdtemp(prefix="bench-vm-"))
    port = free_port()
    state = work / "state"
    write_greeting(state / "voicemail" / "acme" / "209" / "greeting.wav", 1000, 0.1)
    switch = start_switch(work, config=config(port, state))
    target = f"{HOST}:{port}"
    uas = None
    try:
        (work / "callers.csv").write_text("SEQUENTIAL\n" + "".join(
            f"{c};[authentication username={c} password=pw{c}];{CALLEES[i]}\n"
            for i, c in enumerate(CALLERS)))
        (work / "callees.csv").write_text("SEQUENTIAL\n" + "".join(
            f"{c};[authentication username={c} password=pw{c}]\n" for c in CALLEES))
        uas_port = free_port()
        subprocess.run(sipp(target, "-sf", str(SCEN / "register.xml"), "-inf",
                            str(work / "callees.csv"), "-key", "domain", "acme.test",
                            "-key", "expires", "3600", "-p", str(uas_port), "-m",
                            str(len(CALLEES)), "-timeout", "20s"),
                       cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        uas = subprocess.Popen(sipp("-sf", str(SCEN / "uas.xml"), "-p", str(uas_port)),
                               cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        t_setup = time.monotonic()
        phones = []
        for _ in range(n):
            phone = SipPhone((HOST, port), "1999", "pw1999")
            status, _ = phone.call("209")
            assert status == 200, f"voicemail call {len(phones)} got {status}"
            phones.append(phone)
        setup_s = time.monotonic() - t_setup
        time.sleep(1.0)  # greeting (0.1 s) and beep (0.3 s) of the last call are over

        frames = [ulaw_encode(f) for f in tone(440, 1.0).reshape(-1, FRAME)]
        ticks = int(seconds * 50)
        stat = work / "uac_stat.csv"
        uac = subprocess.Popen(
            sipp(target, "-sf", str(SCEN / "uac.xml"), "-inf", str(work / "callers.csv"),
                 "-key", "domain", "acme.test", "-p", str(free_port()), "-r", str(cps),
                 "-m", str(int(cps * seconds)), "-d", "1000", "-timeout",
                 f"{int(seconds + 30)}s", "-trace_stat", "-stf", str(stat), "-fd", "1"),
            cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert switch.proc is not None
        cpu0, t0 = cpu_seconds(switch.proc.pid), time.monotonic()
        late = 0

        def send() -> None:
            nonlocal late
            start = time.monotonic() + 0.05
            for k in range(ticks):
                delay = start + k * 0.02 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                elif delay < -0.02:
                    late += 1
                for ph in phones:
                    rtp = ph.rtp
                    assert rtp is not None and rtp.remote is not None
                    rtp.sock.sendto(rtp_packet(0, rtp.seq, rtp.ts, rtp.ssrc, frames[k % 50]),
                                    rtp.remote)
                    rtp.seq += 1
                    rtp.ts += FRAME

        sender = threading.Thread(target=send)
        sender.start()
        sender.join()
        cpu = (cpu_seconds(switch.proc.pid) - cpu0) / (time.monotonic() - t0)
        uac.wait(seconds + 40)
        time.sleep(0.2)
        for ph in phones:
            ph.bye()
            ph.close()
        time.sleep(0.5)

        sent = ticks * n
        written = gaps = 0
        shortest = float("inf")
        wavs = [p for p in (state / "voicemail" / "acme" / "209").glob("*.wav")
                if p.name != "greeting.wav"]
        for wav in wavs:
            samples = read_wav(wav).astype(np.float64)
            usable = samples[: len(samples) // FRAME * FRAME].reshape(-1, FRAME)
            loud = np.sqrt((usable**2).mean(axis=1)) > 300
            written += int(loud.sum())
            shortest = min(shortest, len(samples) / 8000)
            if loud.sum() < ticks:
                gaps += 1
        rows = list(csv.DictReader(stat.open(), delimiter=";")) if stat.exists() else []
        ok = int(rows[-1]["SuccessfulCall(C)"]) if rows else 0
        failed = int(rows[-1]["FailedCall(C)"]) if rows else -1
        return {"recordings": n, "stored": len(wavs), "sent": sent, "written": written,
                "gaps": gaps, "shortest": shortest, "seconds": seconds, "cpu": cpu,
                "setup_s": setup_s, "cps": cps, "calls_ok": ok, "calls_failed": failed,
                "sender_late": late}
    finally:
        if uas is not None:
            uas.kill()
            uas.wait()
        switch.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recordings", default="50,100,200")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--cps", type=int, default=20)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    lines = []
    for n in (int(x) for x in args.recordings.split(",")):
        r = step(n, args.seconds, args.cps)
        line = (f"| {r['recordings']} | {r['stored']} | {r['sent']} | {r['written']} | "
                f"{r['gaps']} | {r['shortest']:.2f} of {r['seconds']:.2f} | "
                f"{100 * float(r['cpu']):.0f}% | {r['setup_s']:.1f} s | "
                f"{r['cps']} cps: {r['calls_ok']} ok, {r['calls_failed']} failed | "
                f"{r['sender_late']} |")
        print(line, flush=True)
        lines.append(line)
    if args.write:
        load = Path("/proc/loadavg").read_text().split()[0]
        text = (
            "\n## Voicemail recordings\n\n"
            "`bench_voicemail_calls.py`: the switch process itself (SIP, auth, greeting, "
            "recording to WAV), N Python phones calling mailbox 209 and sending 440 Hz PCMU "
            f"for {args.seconds:.0f} s each, while SIPp sets up calls between registered "
            f"phones beside them (1 s hold). {time.strftime('%Y-%m-%d')}, 2 CPUs shared, "
            f"no pinning, load average {load} at the end. Command: `.venv/bin/python "
            f"benchmarks/bench_voicemail_calls.py --recordings {args.recordings} "
            f"--seconds {args.seconds:g} --cps {args.cps} --write`\n\n"
            "| recordings | stored | packets sent | written | streams with gaps | "
            "shortest WAV (s) | switch CPU | setup of the N calls | calls beside | "
            "sender ticks late |\n|---|---|---|---|---|---|---|---|---|---|\n"
            + "\n".join(lines) + "\n"
        )
        with (ROOT / "benchmarks" / "RESULTS.md").open("a") as out:
            out.write(text)


if __name__ == "__main__":
    main()
