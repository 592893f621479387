#!/usr/bin/env bash
# The single prepared device call (see benchmarks/gpu/README.md). Runs from the repository root on the GPU machine
# with the carried .gpu/ folder:
#   .gpu/bundle.tar.xz          the llada CLI: `kernels ptx|check|bench`, `check --device cuda`, `bench train|sample --device cuda`
#   .gpu/peers/llada_torch.py   the same model's training step in PyTorch eager (copy of benchmarks/peers/)
#   .gpu/torch_ref.py           same-run PyTorch reference (copy of shared/gpu/torch_ref.py)
# Writes everything under $OUT: ptx/*.ptx, ptxas.log, kernels-check.log, kernels-bench.jsonl, torch_ref.jsonl,
# check.log, bench.log, summary.txt (our TFLOP/s vs PyTorch's on the same shapes), stages.log (exit code and seconds
# of each stage).
# Environment: BUDGET (seconds for all stages, default 540), STAGES (default "ptx check bench torch cli"),
# DEVICE (cuda; "cpu" is a local dry run: kernels on ILGPU's CPU accelerator, CLI benchmarks on the CPU backend), GPU_DIR (default .gpu).
set -u
OUT=${OUT:-$(mktemp -d)}
GPU_DIR=${GPU_DIR:-.gpu}
BUDGET=${BUDGET:-540}
STAGES=${STAGES:-"ptx check bench torch cli"}
DEVICE=${DEVICE:-cuda}
# Dry run (DEVICE=cpu): the kernel stages and `check` run on ILGPU's CPU accelerator at tiny sizes, the CLI benchmarks on
# the CPU backend in their quick form.
KDEV=$DEVICE; SIZE=""; QUICK=""
if [ "$DEVICE" = cpu ]; then KDEV=ilgpu-cpu; SIZE="--size tiny"; QUICK="--quick"; fi
START=$(date +%s)
mkdir -p "$OUT"
echo "out: $OUT" >&2

remaining() { echo $(( BUDGET - ($(date +%s) - START) )); }
want() { case " $STAGES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# stage NAME LIMIT_SECONDS COMMAND...: runs with min(LIMIT, time left), logs exit code and duration.
stage() {
  local name=$1 limit=$2; shift 2
  local left; left=$(remaining)
  if [ "$left" -lt 10 ]; then echo "$name skipped (budget spent)" | tee -a "$OUT/stages.log" >&2; return 0; fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0; t0=$(date +%s)
  timeout "$limit" "$@"
  local rc=$?
  echo "$name rc=$rc ${limit}s-limit took $(( $(date +%s) - t0 ))s" | tee -a "$OUT/stages.log" >&2
  return 0
}

extract() {   # extract ARCHIVE DIR (tar may lack xz on the device machine)
  mkdir -p "$2"
  tar -C "$2" -xJf "$1" 2>/dev/null ||
    python3 -c "import tarfile,sys;tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$1" "$2"
}

{ nvidia-smi 2>&1 || true; command -v ptxas nvcc python3 2>&1 || true; } > "$OUT/machine.txt"

KR=""
if [ -f "$GPU_DIR/kernels/bundle.tar.xz" ]; then
  extract "$GPU_DIR/kernels/bundle.tar.xz" /tmp/llada-kernels && KR=/tmp/llada-kernels/run.sh
fi
CLI=""
if [ -f "$GPU_DIR/bundle.tar.xz" ]; then
  extract "$GPU_DIR/bundle.tar.xz" /tmp/llada-cli && CLI=/tmp/llada-cli/run.sh
fi
# Without the runner bundle, use the CLI's wiring of the same entry points (`llada kernels check|bench|ptx`).
if [ -z "$KR" ] && [ -n "$CLI" ]; then KR="$CLI kernels"; fi
echo "runner: ${KR:-none}  cli: ${CLI:-none}" >&2

if want ptx && [ -n "$KR" ]; then
  stage ptx 90 $KR ptx "$OUT/ptx" > "$OUT/ptx.log" 2>&1
  if command -v ptxas > /dev/null; then
    for f in "$OUT"/ptx/*.ptx; do
      [ -f "$f" ] || continue
      echo "== $(basename "$f")" >> "$OUT/ptxas.log"
      timeout 60 ptxas -arch=sm_90 -v -o /dev/null "$f" >> "$OUT/ptxas.log" 2>&1 || echo "ptxas FAILED rc=$?" >> "$OUT/ptxas.log"
    done
  else
    echo "ptxas not found" > "$OUT/ptxas.log"
  fi
fi

if want check && [ -n "$KR" ]; then
  stage kernels-check 150 $KR check --device "$KDEV" > "$OUT/kernels-check.log" 2>&1
fi

if want bench && [ -n "$KR" ]; then
  stage kernels-bench 200 $KR bench --device "$KDEV" --json > "$OUT/kernels-bench.jsonl" 2> "$OUT/kernels-bench.err"
fi

if want torch && [ -f "$GPU_DIR/torch_ref.py" ] && [ "$DEVICE" = cuda ]; then
  stage torch 150 python3 "$GPU_DIR/torch_ref.py" > "$OUT/torch_ref.jsonl" 2> "$OUT/torch_ref.err"
fi

if want cli && [ -n "$CLI" ]; then
  stage cli-check 150 "$CLI" check --device "$KDEV" $SIZE > "$OUT/check.log" 2>&1
  stage cli-bench 120 "$CLI" bench train --device "$DEVICE" $QUICK > "$OUT/bench.log" 2>&1
  stage cli-sample 90 "$CLI" bench sample --device "$DEVICE" $QUICK > "$OUT/sample.log" 2>&1
  if [ -f "$GPU_DIR/peers/llada_torch.py" ] && [ "$DEVICE" = cuda ]; then
    stage torch-train 90 python3 "$GPU_DIR/peers/llada_torch.py" > "$OUT/torch_train.jsonl" 2> "$OUT/torch_train.err"
  fi
fi

# Ratios: our TFLOP/s over PyTorch's for the same op, dtype and shape (1.0 = parity).
python3 - "$OUT" > "$OUT/summary.txt" 2>&1 <<'PY' || true
import json, os, sys
out = sys.argv[1]
def rows(name):
    path = os.path.join(out, name)
    if not os.path.exists(path): return []
    res = []
    for line in open(path):
        line = line.strip()
        if line.startswith("{"):
            try: res.append(json.loads(line))
            except ValueError: pass
    return res
ours = [r for r in rows("kernels-bench.jsonl") if r.get("ref") == "llada"]
torch = {(r["op"], r["dtype"], tuple(r["shape"])): r for r in rows("torch_ref.jsonl") if r.get("ref") == "torch"}
print(f"{'op':22} {'kernel':10} {'dtype':5} {'shape':18} {'ms':>9} {'TFLOP/s':>8} {'torch':>8} {'ratio':>6}")
for r in ours:
    t = torch.get((r["op"], r["dtype"], tuple(r["shape"])))
    tt = f"{t['tflops']:8.2f}" if t else f"{'-':>8}"
    ratio = f"{r['tflops'] / t['tflops']:6.2f}" if t else f"{'-':>6}"
    shape = "x".join(map(str, r["shape"]))
    print(f"{r['op']:22} {r['kernel']:10} {r['dtype']:5} {shape:18} {r['ms']:9.3f} {r['tflops']:8.2f} {tt} {ratio}")
PY
cat "$OUT/stages.log" "$OUT/summary.txt" 2>/dev/null
grep -E "FAIL|threw|all ok" "$OUT/kernels-check.log" 2>/dev/null | head -20
grep -E "ptxas FAILED|error|Used [0-9]+ registers|spill" "$OUT/ptxas.log" 2>/dev/null | head -40
exit 0
