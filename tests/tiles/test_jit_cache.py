"""hats' numba functions are compiled once and then loaded from numba's disk cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from pzforge.tiles.jit_cache import enable_jit_cache

# Aligns two pixel trees (what lsdb does to plan every crossmatch) and reports, per function,
# whether numba compiled it (cache miss) or loaded it (cache hit).
PROBE = """
import importlib, json
from pzforge.tiles.jit_cache import enable_jit_cache
names = enable_jit_cache()
from hats.pixel_math import HealpixPixel
from hats.pixel_tree.pixel_tree import PixelTree
from hats.pixel_tree.pixel_alignment import align_trees
left = PixelTree.from_healpix([HealpixPixel(0, 1), HealpixPixel(1, 8)])
right = PixelTree.from_healpix([HealpixPixel(1, 4), HealpixPixel(0, 2)])
mapping = align_trees(left, right, alignment_type="outer").pixel_mapping
stats = {}
for name in names:
    module, attr = name.rsplit(".", 1)
    s = getattr(importlib.import_module(module), attr).stats
    stats[attr] = [sum(s.cache_hits.values()), sum(s.cache_misses.values())]
print(json.dumps({"stats": stats, "rows": len(mapping)}))
"""


def _probe(cache_dir) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache_dir)}
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_second_process_loads_compiled_code_from_disk(tmp_path):
    first, second = _probe(tmp_path), _probe(tmp_path)
    hits, misses = first["stats"]["perform_align_trees"]
    assert (hits, misses) == (0, 1)  # compiled, and written to the cache
    assert any(tmp_path.iterdir())
    hits, misses = second["stats"]["perform_align_trees"]
    assert (hits, misses) == (1, 0)  # loaded: no compilation in the second process
    assert first["rows"] == second["rows"] > 0


def test_enabling_is_idempotent_and_skips_missing_modules():
    enable_jit_cache()
    assert enable_jit_cache() == []
    assert enable_jit_cache(("no_such_module_pzforge",)) == []
