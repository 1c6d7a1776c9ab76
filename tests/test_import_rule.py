"""The one rule of imports: flight code (gnc/) imports numpy, numba, cvxpy, the standard library and
itself only: never sim/, hil/, scipy, h5py or matplotlib."""

import ast
import sys
from pathlib import Path

GNC = Path(__file__).resolve().parents[1] / "gnc"
ALLOWED = {"numpy", "numba", "cvxpy", "gnc"} | set(sys.stdlib_module_names)


def test_gnc_never_imports_sim_hil_or_ground_libraries():
    bad = []
    for f in GNC.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            bad += [f"{f.name}: {n}" for n in names if n.split(".")[0] not in ALLOWED]
    assert not bad, bad
