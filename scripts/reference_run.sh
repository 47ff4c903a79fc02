#!/usr/bin/env bash
# Collect one GPU's reference data in one go: what the suite sees, the measured ceilings, a quick bench
# run (twice, for the run-to-run spread and the gate's A/A check), a run with the deliberately slow
# vector_add config (the gate's injected regression) and the GPU correctness tests.
#
#   scripts/reference_run.sh OUTDIR [STEP...]     steps: device micro bench gate aa slow tests (the default)
#                                                  and, asked for by name, multi user kernels layer
#
# The gate step gates the quick run against the committed reference of the same GPU model
# (reports/reference/<gpu>/results-quick.json), when there is one: a change of the harness that leaves
# the kernels alone must leave every record SAME.
#
# The measurement-truth steps, run when named or all at once as `truth` (planned to fit ten minutes on an
# H200: micro ~2, fourteen runs of the 31-record plan ~4, sustained and ncu ~1 each; not yet timed):
#   sustained  the bf16 GEMMs burst and again after a load (gpubench run --sustained), side by side
#   aa10       AA_RUNS (default 11) runs of one fixed 31-record plan (reports/calibration/plan-aa.json,
#              every record >= 100 us): the gate's A/A series, 10 consecutive pairs, 310 comparisons
#   inject     the same plan with GPUBENCH_TEST_SLOWDOWN=0.05 and 0.10 (a real spin of that fraction of
#              each kernel's time inside every sample): the gate's detection rate, measured
#   slowcfg    the same plan with GPUBENCH_TEST_SLOW_CONFIG=1 (vector_add's deliberately slow config)
#   calib      the calibration figures from those runs (python -m gpubench.reports.gate_calibration)
#   ncu        every record of the first A/A run under Nsight Compute (gpubench ncu), ncu's CSV kept
# e.g. GPUBENCH_COMMIT=$(git rev-parse HEAD) scripts/reference_run.sh OUTDIR truth
#
# Two steps run only when named (the default set alone fills about eight minutes on an H200):
#   multi  the aa step's workloads again through `gpubench run --gpus all` (one worker per GPU, pinned by
#          UUID), gated against the aa run: on one GPU every record must be SAME. Needs the aa step first.
#   user   users' own kernels on the GPU: gpubench.benchmark() against the runner, the gpu_benchmark
#          fixture (docs/custom-kernels.md's examples as written, pytest-benchmark storage), plug-ins.
#   kernels  the attention, quantised-matmul, window-sum and transformer GPU tests, then every bench shape
#            of attention, attention_bwd and the four qmatmul workloads in bf16, cold (402 items; the file
#            is written after each, so a time limit keeps what finished)
#   layer    `gpubench layer llama-7b` prefill (seq 2048) and decode (context 2048), batch 1 and 16, with the
#            micro step's ceilings when present, and `gpubench profile-module` of the same layer
# e.g. scripts/reference_run.sh OUTDIR device aa multi user
#
# Each step has its own time limit (env MICRO_S, BENCH_S, TESTS_S; MICRO_ARGS=--quick for a short micro run) so one slow step cannot starve the
# rest; every step's output lands in OUTDIR (logs, results, ceilings, junit XML) and a step that fails
# is reported in OUTDIR/steps.txt without stopping the others.
set -u
out=${1:?usage: scripts/reference_run.sh OUTDIR [device micro bench aa slow tests]}
shift
steps=${*:-device micro bench gate aa slow tests}
steps=${steps/truth/device micro sustained aa10 inject slowcfg calib ncu}
py=${PYTHON:-python3}
plan=reports/calibration/plan-aa.json
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
if [ -z "${GPUBENCH_COMMIT:-}" ] && ! git rev-parse HEAD >/dev/null 2>&1; then
    echo "warning: no git checkout and no GPUBENCH_COMMIT: the runs cannot record their commit" | tee -a "$out/steps.txt"
fi

step() {  # step NAME LIMIT_S CMD...: run CMD under a limit, log it, note its exit status
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    echo "== $name (limit ${limit}s): $*"
    timeout -s INT -k 20 "$limit" "$@" >"$out/$name.log" 2>&1
    local rc=$?
    echo "$name rc=$rc $((SECONDS - t0))s" >>"$out/steps.txt"
    tail -n 5 "$out/$name.log"
}

for s in $steps; do
    case $s in
    device)
        step device 60 "$py" -m gpubench.cli device --json
        cp "$out/device.log" "$out/device.json"
        nvidia-smi -q >"$out/nvidia-smi.txt" 2>&1
        ;;
    micro) step micro "${MICRO_S:-200}" "$py" -m gpubench.cli micro ${MICRO_ARGS:-} --out "$out/ceilings.json" ;;
    bench)
        ceil=()
        [ -f "$out/ceilings.json" ] && ceil=(--ceilings "$out/ceilings.json")
        # `nox -s bench` where nox is installed (it runs `gpubench run` in this interpreter), else the same directly.
        run=("$py" -m gpubench.cli run)
        "$py" -c "import nox" 2>/dev/null && run=("$py" -m nox -s bench --)
        step bench "${BENCH_S:-300}" "${run[@]}" --profile quick "${ceil[@]}" --out "$out/bench-quick.json"
        ;;
    gate)
        gpu=$("$py" -c "import torch, re; print(re.sub(r'[^A-Za-z0-9]+', '-', torch.cuda.get_device_name(0)).strip('-'))")
        ref="reports/reference/$gpu/results-quick.json"
        if [ -f "$ref" ] && [ -f "$out/bench-quick.json" ]; then
            step gate 120 "$py" -m gpubench.cli gate "$ref" "$out/bench-quick.json" --markdown --output "$out/gate-vs-reference.md"
        else
            echo "gate: no reference for $gpu or no quick run: skipped" | tee -a "$out/steps.txt"
        fi
        ;;
    aa)
        step aa "${BENCH_S:-300}" "$py" -m gpubench.cli run --profile quick --workload vector_add window_sum \
            softmax --out "$out/bench-aa.json"
        ;;
    slow)
        step slow "${BENCH_S:-300}" env GPUBENCH_TEST_SLOW_CONFIG=1 "$py" -m gpubench.cli run --profile quick \
            --workload vector_add --out "$out/bench-slow.json"
        ;;
    tests)
        # Correctness tests in parallel workers where pytest-xdist is there (compiling dominates); the
        # micro-benchmark tests alone afterwards, since they check measured rates.
        par=()
        "$py" -c "import xdist" 2>/dev/null && par=(-n 6)
        step tests "${TESTS_S:-240}" env TRITON_INTERPRET=0 "$py" -m pytest tests/gpu -m gpu -o addopts= -q -rfEs \
            -p no:cacheprovider --timeout=120 "${par[@]}" --deselect tests/gpu/test_micro_gpu.py \
            --junitxml="$out/gpu-tests.xml"
        step tests_micro "${TESTS_MICRO_S:-150}" env TRITON_INTERPRET=0 "$py" -m pytest tests/gpu/test_micro_gpu.py \
            -m gpu -o addopts= -q -rfEs -p no:cacheprovider --timeout=60 --junitxml="$out/gpu-tests-micro.xml"
        ;;
    sustained)
        step sustained "${SUSTAINED_STEP_S:-150}" "$py" -m gpubench.cli run --profile quick --workload gemm --dtype bf16 \
            --variant torch triton_persistent_tma --sustained "${SUSTAINED_S:-2}" --out "$out/bench-sustained.json"
        ;;
    aa10)
        for i in $(seq -w 1 "${AA_RUNS:-11}"); do
            step "aa-$i" "${AA_RUN_S:-60}" "$py" -m gpubench.cli run --items "$plan" --out "$out/aa-$i.json"
        done
        ;;
    inject)
        for f in 0.05 0.10; do
            step "inject-$f" "${AA_RUN_S:-60}" env GPUBENCH_TEST_SLOWDOWN=$f "$py" -m gpubench.cli run --items "$plan" \
                --out "$out/inject-$f.json"
        done
        ;;
    slowcfg)
        step slowcfg "${AA_RUN_S:-60}" env GPUBENCH_TEST_SLOW_CONFIG=1 "$py" -m gpubench.cli run --items "$plan" \
            --out "$out/slowcfg.json"
        ;;
    calib)
        aa=$(ls "$out"/aa-*.json 2>/dev/null | sort)
        if [ -n "$aa" ]; then
            step calib 120 "$py" -m gpubench.reports.gate_calibration --aa $aa --slowed $(ls "$out"/inject-*.json 2>/dev/null) \
                --json "$out/calibration.json" --markdown "$out/calibration.md"
            first=$(echo "$aa" | head -n 1)
            [ -f "$out/slowcfg.json" ] && step gate_slowcfg 60 "$py" -m gpubench.cli gate "$first" "$out/slowcfg.json" \
                --markdown --output "$out/gate-slowcfg.md"
        else
            echo "calib: no A/A runs (step aa10): skipped" | tee -a "$out/steps.txt"
        fi
        ;;
    ncu)
        first=$(ls "$out"/aa-*.json 2>/dev/null | sort | head -n 1)
        if [ -n "$first" ]; then
            { command -v ncu || echo "ncu not on PATH"; ncu --version; } >"$out/ncu-version.txt" 2>&1
            step ncu "${NCU_S:-240}" "$py" -m gpubench.cli ncu "$first" --calls 3 --out "$out/ncu.json"
        else
            echo "ncu: no A/A run to profile (step aa10): skipped" | tee -a "$out/steps.txt"
        fi
        ;;
    multi)
        step multi "${BENCH_S:-300}" "$py" -m gpubench.cli run --gpus all --profile quick --workload vector_add \
            window_sum softmax --out "$out/bench-gpus.json"
        if [ -f "$out/bench-aa.json" ] && [ -f "$out/bench-gpus.json" ]; then
            step gate_multi 120 "$py" -m gpubench.cli gate "$out/bench-aa.json" "$out/bench-gpus.json" --markdown \
                --output "$out/gate-multi-vs-aa.md"
        else
            echo "gate_multi: needs the aa and multi runs: skipped" | tee -a "$out/steps.txt"
        fi
        ;;
    user)
        step user "${TESTS_S:-240}" env TRITON_INTERPRET=0 "$py" -m pytest tests/test_api.py tests/test_fixture.py \
            tests/test_plugins.py -m gpu -o addopts= -q -rfEs -p no:cacheprovider --junitxml="$out/user-tests.xml"
        ;;
    kernels)
        step kernels_tests "${TESTS_S:-240}" env TRITON_INTERPRET=0 "$py" -m pytest tests/gpu/test_attention_gpu.py \
            tests/gpu/test_qmatmul_gpu.py tests/gpu/test_window_sum_gpu.py tests/gpu/test_transformer_gpu.py -m gpu \
            -o addopts= -q -rfEs -p no:cacheprovider --junitxml="$out/kernels-tests.xml"
        step kernels_bench "${KERNELS_S:-420}" "$py" -m gpubench.cli run --profile full --workload attention \
            attention_bwd qmatmul_fp8 qmatmul_fp8_rowwise qmatmul_int8 qmatmul_int4 --dtype bf16 --mode cold \
            --out "$out/bench-kernels.json"
        ;;
    layer)
        ceil=()
        [ -f "$out/ceilings.json" ] && ceil=(--ceilings "$out/ceilings.json")
        for b in 1 16; do
            step "layer-prefill-b$b" 120 "$py" -m gpubench.cli layer llama-7b --phase prefill --seq 2048 --batch "$b" \
                "${ceil[@]}" --out "$out/layer-prefill-b$b.json"
            step "layer-decode-b$b" 120 "$py" -m gpubench.cli layer llama-7b --phase decode --context 2048 \
                --batch "$b" "${ceil[@]}" --out "$out/layer-decode-b$b.json"
        done
        step profile_module 120 "$py" -m gpubench.cli profile-module --config llama-7b --seq 2048 --device cuda \
            --csv "$out/profile-module.csv" --plot "$out/profile-module.png"
        ;;
    *) echo "unknown step $s" >&2 ;;
    esac
done
# Worker logs of the bench runs, for post-mortems of failed items.
tar czf "$out/worker-logs.tgz" -C /tmp $(cd /tmp && ls -d gpubench-* 2>/dev/null) 2>/dev/null
cat "$out/steps.txt"
