"""The trainer recipes of docs/render-dataset.md, run against files render-dataset wrote.

Usage: python3 megatron_recipe.py MEGATRON_PREFIX BIN_PREFIX EXPECTED_JSON

1. Megatron: a dataset class reading PREFIX (tokens) and PREFIX.loss_mask (mask) with
   Megatron-LM's IndexedDataset. When megatron.core is not installed, a minimal re-implementation
   of IndexedDataset's reading logic (megatron/core/datasets/indexed_dataset.py: the MMIDIDX
   header, dtype code, sequence lengths, pointers, document indices) stands in for it.
2. bin: the two NumPy lines of the docs that read the uint32 tokens and uint8 mask.

Each is checked against EXPECTED_JSON ([{"input_ids": [...], "loss_mask": [...]}, ...]).
Prints one line per check; exits 1 on a mismatch.
"""

import json
import struct
import sys

import numpy as np

try:  # The real one, when Megatron-LM is installed.
    from megatron.core.datasets.indexed_dataset import IndexedDataset  # type: ignore

    SOURCE = "megatron.core"
except ImportError:
    SOURCE = "minimal re-implementation"

    _DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64,
               6: np.float64, 7: np.float32, 8: np.uint16}

    class IndexedDataset:  # the reading half of Megatron-LM's IndexedDataset (mmap)
        def __init__(self, path_prefix):
            with open(path_prefix + ".idx", "rb") as f:
                assert f.read(9) == b"MMIDIDX\x00\x00", "not a Megatron index"
                (version,) = struct.unpack("<Q", f.read(8))
                assert version == 1
                (code,) = struct.unpack("<B", f.read(1))
                self.dtype = _DTYPES[code]
                (n,) = struct.unpack("<Q", f.read(8))
                (d,) = struct.unpack("<Q", f.read(8))
                offset = f.tell()
            idx = np.memmap(path_prefix + ".idx", mode="r", order="C")
            self.sequence_lengths = np.frombuffer(idx, np.int32, n, offset)
            self.sequence_pointers = np.frombuffer(idx, np.int64, n, offset + 4 * n)
            self.document_indices = np.frombuffer(idx, np.int64, d, offset + 12 * n)
            self.bin = np.memmap(path_prefix + ".bin", mode="r", order="C")

        def __len__(self):
            return len(self.sequence_lengths)

        def __getitem__(self, i):
            return np.frombuffer(self.bin, self.dtype, int(self.sequence_lengths[i]),
                                 int(self.sequence_pointers[i]))


# ---- the recipe (docs/render-dataset.md, "Megatron-LM") --------------------------------------
class HarmonySFTDataset:
    """Tokens and loss mask from render-dataset's Megatron output, shifted for next-token loss."""

    def __init__(self, prefix):
        self.tokens = IndexedDataset(prefix)
        self.mask = IndexedDataset(prefix + ".loss_mask")
        assert len(self.tokens) == len(self.mask)

    def __len__(self):
        return len(self.tokens)

    def __getitem__(self, i):
        ids = np.asarray(self.tokens[i], dtype=np.int64)
        mask = np.asarray(self.mask[i], dtype=np.float32)
        # Position t predicts token t+1: the mask of the predicted token decides the loss.
        return {"tokens": ids[:-1], "labels": ids[1:], "loss_mask": mask[1:]}


def main():
    megatron_prefix, bin_prefix, expected_path = sys.argv[1:4]
    with open(expected_path) as f:
        expected = json.load(f)
    ok = True

    ds = HarmonySFTDataset(megatron_prefix)
    good = len(ds) == len(expected) and all(
        ds[i]["tokens"].tolist() == e["input_ids"][:-1]
        and ds[i]["labels"].tolist() == e["input_ids"][1:]
        and ds[i]["loss_mask"].tolist() == e["loss_mask"][1:]
        for i, e in enumerate(expected)
    )
    print(f"megatron ({SOURCE}): {len(ds)} records {'ok' if good else 'MISMATCH'}")
    ok = ok and good

    # ---- the two NumPy lines of docs/render-dataset.md, "bin" ----
    tokens = np.fromfile(bin_prefix + ".bin", dtype="<u4", offset=1024)
    mask = np.fromfile(bin_prefix + ".loss_mask.bin", dtype=np.uint8, offset=1024)
    offsets = np.fromfile(bin_prefix + ".idx", dtype="<u8", offset=16)
    flat_ids = [t for e in expected for t in e["input_ids"]]
    flat_mask = [m for e in expected for m in e["loss_mask"]]
    good = tokens.tolist() == flat_ids and mask.tolist() == flat_mask
    good = good and offsets.tolist() == np.cumsum([0] + [len(e["input_ids"]) for e in expected]).tolist()
    print(f"bin: {len(tokens)} tokens {'ok' if good else 'MISMATCH'}")
    ok = ok and good
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
