"""On-disk embedding cache: each distinct image is encoded once per encoder.

Entries are keyed by the encoder's name and the image file's path, size and modification time,
and stored as fp16 safetensors files, so originals shared by many generations and repeated runs
cost one encode each.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import torch

from hfpc.data.images import load_image
from hfpc.models.encoders import ImageEncoder


def default_cache_dir() -> Path:
    """Where embeddings are cached unless told otherwise: ``$HFPC_CACHE_DIR/embeddings``,
    else ``$XDG_CACHE_HOME/hfpc/embeddings``, else ``~/.cache/hfpc/embeddings``."""
    root = os.environ.get("HFPC_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "embeddings"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "hfpc" / "embeddings"


class EmbeddingCache:
    """Token embeddings of images for one encoder, in memory and (optionally) on disk."""

    def __init__(self, encoder: ImageEncoder, directory: str | Path | None = None) -> None:
        self.encoder = encoder
        self.dir = Path(directory) / _slug(encoder.name) if directory else None
        self.memory: dict[str, torch.Tensor] = {}

    def _key(self, path: str) -> str:
        st = os.stat(path)
        ident = f"{self.encoder.name}|{os.path.abspath(path)}|{st.st_size}|{st.st_mtime_ns}"
        return hashlib.sha1(ident.encode()).hexdigest()

    def _file(self, key: str) -> Path | None:
        return self.dir / key[:2] / f"{key}.safetensors" if self.dir else None

    def get(self, path: str) -> torch.Tensor:
        """Tokens (T×D, fp16) of the image at ``path``, encoding it if needed."""
        if path not in self.memory:
            self.fill([path])
        return self.memory[path]

    def fill(self, paths: list[str], batch_size: int = 32, progress: Callable[[int], None] | None = None) -> None:
        """Make sure every path is cached; encodes the missing ones in batches."""
        from safetensors.torch import load_file, save_file

        todo = []
        for p in dict.fromkeys(paths):
            if p in self.memory:
                continue
            f = self._file(self._key(p))
            if f is not None and f.is_file():
                self.memory[p] = load_file(str(f))["tokens"]
                if progress:
                    progress(1)
            else:
                todo.append(p)
        for i in range(0, len(todo), batch_size):
            chunk = todo[i:i + batch_size]
            out = self.encoder.encode([load_image(p).rgb for p in chunk], batch_size)
            for p, t in zip(chunk, out.tokens):
                t = t.detach().to(torch.float16).contiguous()
                self.memory[p] = t
                f = self._file(self._key(p))
                if f is not None:
                    f.parent.mkdir(parents=True, exist_ok=True)
                    tmp = f.with_suffix(".tmp")
                    save_file({"tokens": t}, str(tmp))
                    tmp.replace(f)
            if progress:
                progress(len(chunk))


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-80:]
