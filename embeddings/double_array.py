"""SentencePiece's precompiled normalisation map: a darts-clone double-array trie over UTF-8 keys."""

from __future__ import annotations

import struct
from typing import Any


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """SentencePiece's precompiled_charsmap for a per-code-point map: u32 trie size, a darts-clone double
    array keyed by the UTF-8 of each code point, then the NUL-terminated UTF-8 replacements it points to."""
    replacements = bytearray()
    offsets: dict[str, int] = {}
    keys: dict[bytes, int] = {}
    for cp, replacement in sorted(norm_map.items()):
        if replacement not in offsets:
            offsets[replacement] = len(replacements)
            replacements += replacement.encode("utf-8") + b"\0"
        keys[chr(cp).encode("utf-8")] = offsets[replacement]
    units = DoubleArrayBuilder(keys).build()
    return struct.pack("<I", 4 * len(units)) + struct.pack(f"<{len(units)}I", *units) + bytes(replacements)


class DoubleArrayBuilder:
    """Minimal darts-clone double-array trie, as read by SentencePiece and tokenizers' Precompiled.

    Each unit is a u32: bits 0-7 the label of the edge into the node, bit 8 "has a value", bits 10-30 the
    offset whose XOR with the node's position gives the base of its children (child for byte c at base ^ c).
    A value sits at base ^ 0 with bit 31 set, which no byte label can match. Every base is used by one node
    only, so an edge lookup can never land on another node's child carrying the same label.
    """

    _MAX_UNITS = 1 << 21  # offsets above this would need darts-clone's shifted encoding

    def __init__(self, keys: dict[bytes, int]) -> None:
        self.root: dict[int | None, Any] = {}
        for key, value in keys.items():
            if not key or 0 in key:
                raise ValueError("trie keys must be non-empty and NUL-free")
            node = self.root
            for byte in key:
                node = node.setdefault(byte, {})
            node[None] = value  # None marks the value slot (label 0)
        self.units: list[int] = [0]
        self.used = bytearray(b"\x01")  # 1 = unit taken; unit 0 is the root
        self.used_bases: set[int] = set()

    def build(self) -> list[int]:
        pending = [(0, self.root)]
        while pending:
            pos, node = pending.pop()
            labels = sorted(0 if label is None else label for label in node)
            base = self._find_base(labels)
            if pos ^ base >= self._MAX_UNITS:
                raise ValueError("normalisation map too large for the unshifted double-array encoding")
            self.units[pos] |= (pos ^ base) << 10
            for label, child in node.items():
                if label is None:
                    self.units[base] = child | (1 << 31)
                    continue
                child_pos = base ^ label
                self.units[child_pos] = label | ((1 << 8) if None in child else 0)
                pending.append((child_pos, child))  # even a leaf needs a base, for its value unit
        # Readers index base ^ byte for any byte without a bounds check: cover every base's 256-unit block.
        padded = (max(self.used_bases) | 0xFF) + 1
        self.units.extend([0] * (padded - len(self.units)))
        return self.units

    def _find_base(self, labels: list[int]) -> int:
        """First fit: the lowest free unit for the smallest label such that all other labels fit too."""
        candidate = self._next_free(1)
        while True:
            base = candidate ^ labels[0]
            if base not in self.used_bases and not any(self._is_used(base ^ c) for c in labels[1:]):
                break
            candidate = self._next_free(candidate + 1)
        self.used_bases.add(base)
        for c in labels:
            self._claim(base ^ c)
        return base

    def _next_free(self, start: int) -> int:
        found = self.used.find(0, start)  # C-speed scan over the dense, already-filled prefix
        return found if found >= 0 else max(start, len(self.used))

    def _is_used(self, pos: int) -> bool:
        return pos < len(self.used) and self.used[pos] == 1

    def _claim(self, pos: int) -> None:
        if pos >= self._MAX_UNITS:
            raise ValueError("normalisation map too large for the unshifted double-array encoding")
        if pos >= len(self.used):
            grow = pos + 1 - len(self.used)
            self.used.extend(bytes(grow))
            self.units.extend([0] * grow)
        self.used[pos] = 1

