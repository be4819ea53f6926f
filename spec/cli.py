"""``lossbridge`` command line: ``parity`` (the matrix), ``list`` (the catalog),
``catalog`` (the catalog page ``docs/losses.md``), ``compat`` (the peers'
APIs, ``docs/compat.md``), ``crosscheck`` (your TF loss against your torch loss) and
``bench`` (the benchmarks, ``python -m benchmarks``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence

from spec import config as neutral
from spec.registry import get, specs

_COLUMNS = [
    ("value torch float64", "val np~pt 64"),
    ("value tensorflow float64", "val np~tf 64"),
    ("value torch float32", "val np~pt 32"),
    ("value tensorflow float32", "val np~tf 32"),
    ("value onnx float64", "val np~ox 64"),
    ("value onnx float32", "val np~ox 32"),
    ("grad torch-tf float64", "grad pt~tf 64"),
    ("grad torch-tf float32", "grad pt~tf 32"),
    ("fd torch float64", "grad pt~fd 64"),
    ("fd tensorflow float64", "grad tf~fd 64"),
]


def _load_frameworks_quietly(names: Sequence[str] | None = None) -> dict:
    """Import the framework adapters with TensorFlow's start-up banner (printed
    from C++ before its log level applies) kept off the terminal."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from spec import parity

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            return parity.load_frameworks(parity.FRAMEWORKS if names is None else names)
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _Progress:
    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0

    def __call__(self, index: int, total: int, label: str) -> None:
        now = time.monotonic()
        if self.tty:
            self.stream.write(f"\r\x1b[K[{index + 1:4d}/{total}] {label}"[:160])
            self.stream.flush()
        elif index == 0 or now - self.last > 5.0:
            self.stream.write(f"[{index + 1:4d}/{total}] {label}\n")
            self.last = now

    def clear(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")


def _parity(args: argparse.Namespace) -> int:
    from spec import parity

    jobs = []
    if args.config:
        for path in args.config:
            with open(path) as handle:
                spec, params, _ = neutral.from_config(json.load(handle))
            jobs.append((spec, {os.path.basename(path): {k: v for k, v in params.items() if k != "class_axis"}}))
    else:
        chosen = [get(name) for name in args.loss] if args.loss else list(specs())
        jobs = [(spec, None) for spec in chosen]
    try:
        frameworks = _load_frameworks_quietly()
    except ImportError as error:  # the onnx extra is optional for users
        frameworks = _load_frameworks_quietly(("torch", "tensorflow"))
        print(f"note: no ONNX column ({error}); pip install 'lossbridge[onnx]' adds it")
    progress = _Progress()
    header = (
        f"{'loss':26s} {'preset':24s} {'cases':>5s} " + " ".join(f"{short:>13s}" for _, short in _COLUMNS) + "  result"
    )
    print(header)
    print("-" * len(header))
    failed = 0
    started = time.monotonic()
    for spec, presets in jobs:
        rows = parity.check(
            spec, presets, frameworks=frameworks, progress=progress, finite_differences=not args.no_finite_differences
        )
        progress.clear()
        for row in rows:
            cells = " ".join(f"{row.errors[key]:13.1e}" if key in row.errors else f"{'-':>13s}" for key, _ in _COLUMNS)
            print(f"{row.loss:26s} {row.preset:24s} {row.cases:5d} {cells}  {'PASS' if row.passed else 'FAIL'}")
            if not row.passed:
                failed += 1
                for failure in row.failures[: args.show_failures]:
                    print(f"    {failure}")
            sys.stdout.flush()
    limits = ", ".join(f"{kind} {dtype} <= {limit:g}" for (kind, dtype), limit in parity.TOLERANCE.items())
    print(f"\ntolerances: {limits}; gradcheck float64 on smooth samples; no NaN/inf anywhere")
    elapsed = time.monotonic() - started
    print(f"{'FAILED' if failed else 'OK'}: {failed} failing row(s) over {len(jobs)} loss(es) in {elapsed:.1f}s")
    return 1 if failed else 0


def _list(args: argparse.Namespace) -> int:
    by_family: dict[str, list] = {}
    for spec in specs():
        by_family.setdefault(spec.family, []).append(spec)
    width = max((len(spec.name) for spec in specs()), default=0)
    class_width = max((len(spec.class_name) for spec in specs()), default=0)
    for family, members in by_family.items():
        print(f"{family}:")
        for spec in members:
            print(f"  {spec.name:{width}s} {spec.class_name:{class_width}s} {spec.summary}")
            if not args.brief:
                for param in spec.params.params:
                    print(f"      {param.name:20s} = {param.default!r:10}  {param.doc}")
    return 0


def _catalog(args: argparse.Namespace) -> int:
    from spec.catalog import markdown

    page = markdown()
    if args.write:
        with open(args.write, "w", encoding="utf-8") as handle:
            handle.write(page)
        print(f"wrote {args.write}")
    else:
        sys.stdout.write(page)
    return 0


def _compat(args: argparse.Namespace) -> int:
    from spec import compat

    if args.write:
        with open(args.write, "w", encoding="utf-8") as handle:
            handle.write(compat.markdown())
        print(f"wrote {args.write}")
        return 0
    for peer in compat.PEERS:
        members = compat.definitions(peer)
        print(f"{compat.PEER_MODULES[peer]} ({compat.PEER_VERSIONS[peer]}): {len(members)}")
        for definition in members:
            print(f"  {definition.name:40s} -> {', '.join(definition.losses)}")
    return 0


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        message = f"--shape must be integers separated by commas, e.g. 4,3,8,8; got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if len(shape) < 1 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"--shape must be positive sizes, e.g. 4,3,8,8; got {text!r}")
    return shape


def _crosscheck(args: argparse.Namespace) -> int:
    from spec import crosscheck

    if args.target == "labels" and args.prediction == "values":
        raise ValueError("--target labels needs a prediction with a class axis (--prediction logits or probabilities)")
    ndim = len(args.shape)
    if not -ndim <= args.class_axis < ndim:
        raise ValueError(f"--class-axis {args.class_axis} is outside the {ndim}-D --shape {args.shape}")
    _load_frameworks_quietly(("torch", "tensorflow"))
    tf_fn = crosscheck.load_callable(args.tf, what="--tf")
    torch_fn = crosscheck.load_callable(args.torch, what="--torch")
    cases = crosscheck.problems(args.shape, args.prediction, args.target, args.class_axis, seed=args.seed)
    tolerance = {"float64": args.rtol64, "float32": args.rtol32}
    results = crosscheck.compare(
        tf_fn, torch_fn, cases, class_axis=args.class_axis, tf_channels_last=args.tf_channels_last, tolerance=tolerance
    )
    print(f"TF {args.tf}(y_true, y_pred)  vs  torch {args.torch}(input, target)")
    print(f"shape {args.shape}, class axis {args.class_axis}, prediction {args.prediction}, target {args.target}")
    print(crosscheck.table(results))
    print(crosscheck.verdict(results))
    return 0 if all(r.passed for r in results) else 1


def _export_onnx(args: argparse.Namespace) -> int:
    from spec import onnx as onnx_export

    source = args.loss
    if source.endswith(".json") or os.path.isfile(source):
        with open(source, encoding="utf-8") as handle:
            text = handle.read()
        try:
            config = neutral.load(json.loads(text))
        except json.JSONDecodeError as error:
            raise ValueError(f"{source} is not JSON ({error}); expected a neutral loss config") from None
    else:
        config = {"name": source, "params": {}}
    shape: object = args.shape
    if neutral.is_multitask(config):  # one example shape for every output
        shape = {name: args.shape for name in config["outputs"]}
    model = onnx_export.export(
        config,
        shape=shape,
        target=args.target,
        dtype=args.dtype,
        sample_weight=args.sample_weight,
        opset=args.opset,
        default_class_axis=args.class_axis,
    )
    import onnx

    onnx.save(model, args.output)
    inputs = ", ".join(
        f"{i.name}{[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]}" for i in model.graph.input
    )
    outputs = ", ".join(o.name for o in model.graph.output)
    static = dict((p.key, p.value) for p in model.metadata_props)["static_sizes"]
    print(f"wrote {args.output}: opset {args.opset}, {len(model.graph.node)} nodes; inputs {inputs}; outputs {outputs}")
    print(f"static sizes: {static}")
    return 0


def _bench(argv: Sequence[str]) -> int:
    """``lossbridge bench ARGS``: ``python -m benchmarks ARGS`` (``benchmarks/cli.py``), which lives in
    the source checkout beside ``spec/``, not in the installed packages."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if not os.path.isfile(os.path.join(root, "benchmarks", "cli.py")):
        print("lossbridge: error: bench needs a source checkout (benchmarks/ beside spec/)", file=sys.stderr)
        return 2
    sys.path.insert(0, root)
    from benchmarks.cli import main as bench_main

    return bench_main(list(argv), command="lossbridge bench")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # its own options (benchmarks/cli.py), passed through unparsed
        return _bench(argv[1:])
    parser = argparse.ArgumentParser(
        prog="lossbridge", description="One loss definition, PyTorch and Keras implementations proven equal."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    parity_cmd = sub.add_parser("parity", help="run the value/gradient parity matrix (NumPy vs PyTorch vs TensorFlow)")
    parity_cmd.add_argument("--loss", action="append", default=[], metavar="NAME", help="only this loss (repeatable)")
    parity_cmd.add_argument("--config", action="append", default=[], metavar="FILE.json", help="check a neutral config")
    parity_cmd.add_argument(
        "--no-finite-differences", action="store_true", help="skip finite differences and gradcheck"
    )
    parity_cmd.add_argument("--show-failures", type=int, default=5, metavar="N", help="failures printed per row")
    parity_cmd.set_defaults(run=_parity)
    list_cmd = sub.add_parser("list", help="print the registered losses and their parameters")
    list_cmd.add_argument("--brief", action="store_true", help="one line per loss")
    list_cmd.set_defaults(run=_list)
    catalog_cmd = sub.add_parser("catalog", help="print (or --write) the Markdown catalog page of every loss")
    catalog_cmd.add_argument("--write", metavar="PATH", help="write the page to PATH (docs/losses.md)")
    catalog_cmd.set_defaults(run=_catalog)
    compat_cmd = sub.add_parser(
        "compat", help="list the compat classes of the peers' APIs (or --write the page docs/compat.md)"
    )
    compat_cmd.add_argument("--write", metavar="PATH", help="write the page to PATH (docs/compat.md)")
    compat_cmd.set_defaults(run=_compat)
    cross = sub.add_parser(
        "crosscheck",
        help="compare your own TF/Keras loss with your own torch loss on generated inputs (values and gradients)",
    )
    cross.add_argument("--tf", required=True, metavar="MODULE:FN", help="TF/Keras loss, called fn(y_true, y_pred)")
    cross.add_argument("--torch", required=True, metavar="MODULE:FN", help="torch loss, called fn(input, target)")
    cross.add_argument("--shape", required=True, type=_shape, help="prediction shape, e.g. 4,3,8,8")
    cross.add_argument(
        "--prediction",
        choices=["logits", "probabilities", "sigmoid", "values"],
        default="logits",
        help="what y_pred holds (probabilities: softmax over the class axis; sigmoid: independent)",
    )
    cross.add_argument(
        "--target",
        choices=["labels", "one-hot", "binary", "probabilities", "values"],
        default="labels",
        help="what y_true holds (labels: integers without the class axis)",
    )
    cross.add_argument("--class-axis", type=int, default=1, help="class axis of --shape (default 1)")
    cross.add_argument(
        "--tf-channels-last",
        action="store_true",
        help="give the TF function the class axis last (gradients are moved back to compare)",
    )
    cross.add_argument("--rtol64", type=float, default=1e-6, help="tolerance in float64 (default 1e-6)")
    cross.add_argument("--rtol32", type=float, default=1e-4, help="tolerance in float32 (default 1e-4)")
    cross.add_argument("--seed", type=int, default=0)
    cross.set_defaults(run=_crosscheck)
    export = sub.add_parser("export-onnx", help="export a loss (name or neutral config JSON) as an ONNX graph")
    export.add_argument("loss", metavar="NAME_OR_CONFIG.json", help="a registered loss name or a config file")
    export.add_argument("--shape", required=True, type=_shape, help="example y_pred shape, e.g. 2,4,64,64")
    export.add_argument(
        "--target",
        choices=["labels", "dense"],
        default="labels",
        help="y_true as integer labels (default, where the loss takes them) or dense",
    )
    export.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    export.add_argument("--sample-weight", action="store_true", help="add a per-sample sample_weight input")
    export.add_argument("--opset", type=int, default=18)
    export.add_argument("--class-axis", type=int, default=1, help="layout when the config leaves class_axis unset")
    export.add_argument("-o", "--output", required=True, metavar="loss.onnx")
    export.set_defaults(run=_export_onnx)
    sub.add_parser("bench", help="time every loss against native and peer losses (= python -m benchmarks; --help)")
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, TypeError, OSError) as error:
        print(f"lossbridge: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
