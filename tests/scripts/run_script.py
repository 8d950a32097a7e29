"""Run a training script as ``__main__`` (plain training, nothing changed), then measure the held-out metric.

Used by validate.py in a subprocess whose cwd is a materialized case folder:

    python run_script.py SCRIPT --measure MEASURE.py --result OUT.json [--max-backward N] -- ARGS...

The only intervention: ``torch.autograd.backward`` is wrapped to count the backward passes (and keep each
loss value) and, with ``--max-backward``, to stop the script just before backward pass N+1 (for tutorials whose
iteration count is a constant in the file, e.g. 100 000). The script's globals are then handed to
``measure(ns, cwd, losses)`` from the case's measure.py, which returns the metric.
"""

from __future__ import annotations

import argparse
import builtins
import importlib.util
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path


class StopTraining(BaseException):
    """Raised just before the backward pass that would exceed --max-backward."""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("script")
    parser.add_argument("--measure", required=True)
    parser.add_argument("--result", required=True)
    parser.add_argument("--max-backward", type=int, default=0)
    parser.add_argument("args", nargs=argparse.REMAINDER)
    opt = parser.parse_args()
    args = opt.args[1:] if opt.args[:1] == ["--"] else opt.args

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    losses: list[float] = []
    original_backward = torch.autograd.backward

    def counted_backward(tensors, *a, **k):  # type: ignore[no-untyped-def]
        if opt.max_backward and len(losses) >= opt.max_backward:
            raise StopTraining
        t = tensors[0] if isinstance(tensors, (list, tuple)) else tensors
        try:
            losses.append(float(t.detach().reshape(-1)[0]) if t.numel() == 1 else float("nan"))
        except (RuntimeError, AttributeError):
            losses.append(float("nan"))
        return original_backward(tensors, *a, **k)

    torch.autograd.backward = counted_backward

    script = Path(opt.script).resolve()
    sys.argv = [str(script), *args]
    sys.path.insert(0, str(script.parent))
    ns: dict = {"__name__": "__main__", "__file__": str(script), "__builtins__": builtins}
    outcome, error = "finished", None
    start = time.time()
    try:
        code = compile(script.read_text(encoding="utf-8"), str(script), "exec")
        exec(code, ns)
    except StopTraining:
        outcome = "stopped"
    except SystemExit as exc:
        outcome = "exit" if exc.code not in (None, 0) else "finished"
    except Exception as exc:  # noqa: BLE001 - the user's script crashing is the result being recorded
        outcome = "crashed"
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        traceback.print_exc()
    seconds = time.time() - start
    torch.autograd.backward = original_backward

    metric = None
    measure_error = None
    if losses:  # measured after any run that trained, a crash after training included
        spec = importlib.util.spec_from_file_location("case_measure", opt.measure)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        try:
            metric = float(module.measure(ns, Path.cwd(), losses))
        except Exception as exc:  # noqa: BLE001 - a measure that fails is recorded, not fatal
            measure_error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            traceback.print_exc()
    finite = [v for v in losses if math.isfinite(v)]
    result = {
        "outcome": outcome,
        "error": error,
        "metric": metric if metric is None or math.isfinite(metric) else str(metric),
        "measure_error": measure_error,
        "backward_passes": len(losses),
        "nonfinite_losses": len(losses) - len(finite),
        "first_losses": losses[:3],
        "last_losses": losses[-3:],
        "seconds": round(seconds, 1),
    }
    Path(opt.result).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
