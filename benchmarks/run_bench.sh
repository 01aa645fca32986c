#!/usr/bin/env bash
# Sustained SIPp load through the switch and, in the same run, the generator's ceiling and
# (optionally) Kamailio and the Sippy B2BUA under the same scenario.  `make bench` calls this.
#
#   benchmarks/run_bench.sh                  # switch + direct (SIPp uac->uas, no switch)
#   BENCH_TARGETS="switch direct kamailio sippy" benchmarks/run_bench.sh   # all four
#   benchmarks/run_bench.sh profile          # switch under cProfile at PROFILE_RATE
#
# Environment (defaults in brackets):
#   BENCH_TARGETS   targets to measure                 [switch direct]
#   BENCH_RELAYS    the switch's server.media.relay, each measured  [embedded]
#                   ("embedded rtpengine off": side by side; rtpengine is started by the run)
#   BENCH_RATES     calls/s steps, comma separated     [100,200,250,300,350,400,450,500,600,800,1000,1200]
#   DIRECT_RATES    steps for `direct`                 [500,1000,1500,2000,2500,3000]
#   KAMAILIO_RATES  steps for `kamailio`               [500,1000,1250,1500,2000,2500]
#   SIPPY_RATES     steps for `sippy`                  [100,200,300,400,500]
#   STEP_SECONDS    seconds per step                   [20]
#   HOLD_MS         call hold in the rate steps        [1000]
#   MEM_RATE MEM_HOLD_MS MEM_SECONDS   memory-per-call step  [100 20000 30] (MEM_SECONDS=0 skips)
#   POOL            caller/callee extension pairs      [5000]
#   SERVER_CORE SIPP_CORE   taskset cores              [0 1]
#   LOG_LEVEL       the switch's log level             [info]
#   BENCH_NICE      priority of server and SIPp (root)  [-15]  (0: plain)
#   PROFILE_RATE PROFILE_SECONDS   for `profile`       [200 30]
#   BENCH_OUT       where results and work files go    [/tmp/softswitch-bench]
#   SIPPY_VENV      where sippy is installed           [$BENCH_OUT/venv-sippy]
#   QUICK=1         a short smoke run (about 1 minute)
# The summary table is printed and written to $BENCH_OUT/summary.md; the JSON of every
# target to $BENCH_OUT/results.jsonl.  RESULTS.md is edited by hand from these.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python
OUT=${BENCH_OUT:-/tmp/softswitch-bench}
mkdir -p "$OUT"

if [[ ! -x $PY ]]; then
    echo "run_bench: no $PY -- run 'make install' first" >&2; exit 2
fi
if ! command -v sipp >/dev/null; then
    echo "run_bench: installing SIPp (Debian sip-tester)"
    apt-get install -y sip-tester >/dev/null
fi

TARGETS=${BENCH_TARGETS:-switch direct}
STEP=${STEP_SECONDS:-20}
COMMON=(--step-seconds "$STEP" --hold-ms "${HOLD_MS:-1000}"
        --mem-rate "${MEM_RATE:-100}" --mem-hold-ms "${MEM_HOLD_MS:-20000}"
        --mem-seconds "${MEM_SECONDS:-30}" --pool "${POOL:-5000}"
        --server-core "${SERVER_CORE:-0}" --sipp-core "${SIPP_CORE:-1}"
        --log-level "${LOG_LEVEL:-info}" --nice "${BENCH_NICE:--15}" --work "$OUT/work")
if [[ ${QUICK:-0} == 1 ]]; then
    COMMON=(--step-seconds 5 --hold-ms 500 --mem-rate 50 --mem-hold-ms 4000 --mem-seconds 5
            --pool 500 --pause 1 --nice "${BENCH_NICE:--15}" --server-core "${SERVER_CORE:-0}" --sipp-core "${SIPP_CORE:-1}"
            --log-level "${LOG_LEVEL:-info}" --work "$OUT/work")
    BENCH_RATES=${BENCH_RATES:-50,100}; DIRECT_RATES=${DIRECT_RATES:-200}
    KAMAILIO_RATES=${KAMAILIO_RATES:-200}; SIPPY_RATES=${SIPPY_RATES:-50}
fi

install_kamailio() {
    command -v kamailio >/dev/null && return 0
    echo "run_bench: installing kamailio (Debian)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y kamailio >/dev/null
}
# Sippy lives outside the project's tree: its package ships test data (SDP with private
# addresses) that has no business in the repository's files.
export SIPPY_VENV=${SIPPY_VENV:-$OUT/venv-sippy}
install_sippy() {
    [[ -x $SIPPY_VENV/bin/b2bua_radius ]] && return 0
    echo "run_bench: installing sippy (PyPI) into $SIPPY_VENV"
    python3 -m venv "$SIPPY_VENV"
    "$SIPPY_VENV/bin/pip" install -q sippy
}

if [[ ${1:-} == profile ]]; then
    PROF=$OUT/switch.prof
    "$PY" benchmarks/sipp_bench.py --target switch --profile "$PROF" \
        --rates "${PROFILE_RATE:-200}" "${COMMON[@]}" --mem-seconds 0 \
        --step-seconds "${PROFILE_SECONDS:-30}" --json "$OUT/profile.jsonl"
    "$PY" benchmarks/profile_switch.py report "$PROF" --top 30 | tee "$OUT/profile.md"
    exit 0
fi

: > "$OUT/results.jsonl"
for t in $TARGETS; do
    case $t in
        switch)   rates=${BENCH_RATES:-100,200,250,300,350,400,450,500,600,800,1000,1200} ;;
        direct)   rates=${DIRECT_RATES:-500,1000,1500,2000,2500,3000} ;;
        kamailio) install_kamailio; rates=${KAMAILIO_RATES:-500,1000,1250,1500,2000,2500} ;;
        sippy)    install_sippy; rates=${SIPPY_RATES:-100,200,300,400,500} ;;
        *) echo "run_bench: unknown target $t" >&2; exit 2 ;;
    esac
    relays=embedded
    [[ $t == switch ]] && relays=${BENCH_RELAYS:-embedded}
    for relay in $relays; do
        "$PY" benchmarks/sipp_bench.py --target "$t" --relay "$relay" --rates "$rates" \
            "${COMMON[@]}" --json "$OUT/results.jsonl" | grep --line-buffered -v '^{'
    done
done
"$PY" benchmarks/sipp_bench.py --summary "$OUT/results.jsonl" | tee "$OUT/summary.md"
