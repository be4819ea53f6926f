"""ONNX backend of the ops protocol: each primitive a formula calls is recorded
as ONNX nodes, so a spec formula exports without being restated.

A formula traced here sees :class:`OnnxTensor` values.  Their shapes hold
Python ints for static sizes (the classes) and :class:`Dim` objects for the
symbolic ones (the batch, and spatial sizes where the formula allows): a
``Dim`` multiplies with ints and other dims, compares by identity of its
symbols, and turns into graph arithmetic (``Shape`` -> ``Gather`` -> ``Mul``)
wherever a tensor needs it (a reshape, a division by a count).  A formula that
needs a symbolic size as a Python number (``range(n)``, ``float(n)``) raises
:class:`StaticShapeRequired`; the exporter then fixes that size and says so.

Only standard ``ai.onnx`` operators of opset 18 are emitted (``LogSoftmax``,
``GatherElements``, ``Equal`` for one-hot encodings, ``Where``, ``Reduce*`` with axes as inputs,
``TopK``, ``CumSum``, ``Pad``/``Slice``/``Max`` for pooling); never the
``SoftmaxCrossEntropyLoss``/``NegativeLogLikelihoodLoss`` function ops, so the
graph runs on runtimes that lack them.  The backend is forward only: ONNX
graphs evaluate a loss, they are not differentiated here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from spec.ops import Ops, pool_padding

INT64_MAX = np.iinfo(np.int64).max


class StaticShapeRequired(Exception):
    """A formula needed a symbolic size as a Python number."""


class Dim:
    """A symbolic size: ``coefficient * product(symbols)`` (a monomial), enough
    for the shape arithmetic formulas do (products, and the ``-1`` of a reshape)."""

    __slots__ = ("coefficient", "symbols")

    def __init__(self, symbols: Sequence[str], coefficient: int = 1) -> None:
        self.symbols = tuple(sorted(symbols))
        self.coefficient = int(coefficient)

    @staticmethod
    def of(value: Any) -> Dim:
        return value if isinstance(value, Dim) else Dim((), int(value))

    def _key(self) -> tuple:
        return (self.coefficient, self.symbols)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Dim):
            return self._key() == other._key()
        return False  # a symbolic size never equals a given number

    def __hash__(self) -> int:
        return hash(self._key())

    def __mul__(self, other: Any) -> Dim | int:
        if isinstance(other, Dim):
            return _simplify(Dim(self.symbols + other.symbols, self.coefficient * other.coefficient))
        if isinstance(other, (int, np.integer)) and not isinstance(other, bool):
            return _simplify(Dim(self.symbols, self.coefficient * int(other)))
        return NotImplemented

    __rmul__ = __mul__

    def divide(self, other: Dim | int) -> Dim | int:
        """``self / other`` where it is a monomial (a reshape's ``-1``)."""
        other = Dim.of(other)
        remaining = Counter(self.symbols)
        remaining.subtract(other.symbols)
        if any(count < 0 for count in remaining.values()) or self.coefficient % max(other.coefficient, 1):
            raise StaticShapeRequired(f"cannot divide the symbolic size {self} by {other}")
        return _simplify(Dim(list(remaining.elements()), self.coefficient // other.coefficient))

    def _refuse(self, *args: Any) -> Any:
        raise StaticShapeRequired(f"the formula needs the symbolic size {self} as a Python number")

    __int__ = __index__ = __float__ = __bool__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __floordiv__ = __rfloordiv__ = __lt__ = __gt__ = __le__ = __ge__ = _refuse

    def __repr__(self) -> str:
        text = "*".join(self.symbols)
        return text if self.coefficient == 1 else f"{self.coefficient}*{text}"


def _simplify(dim: Dim) -> Dim | int:
    return dim.coefficient if not dim.symbols else dim


_DTYPES = {"float32": 1, "float64": 11, "int64": 7, "bool": 9, "int32": 6, "float16": 10, "bfloat16": 16}


class OnnxTensor:
    """A traced value: its name in the graph, dtype and (partly symbolic) shape."""

    __array_priority__ = 1000  # NumPy scalars defer to our operators

    def __init__(self, graph: Graph, name: str, dtype: str, shape: tuple) -> None:
        self.graph, self.name, self.dtype, self.shape = graph, name, dtype, tuple(shape)

    # arithmetic: the operators formulas may use
    def __add__(self, other: Any) -> OnnxTensor:
        return self.graph.binary("Add", self, other)

    def __radd__(self, other: Any) -> OnnxTensor:
        return self.graph.binary("Add", other, self)

    def __sub__(self, other: Any) -> OnnxTensor:
        return self.graph.binary("Sub", self, other)

    def __rsub__(self, other: Any) -> OnnxTensor:
        return self.graph.binary("Sub", other, self)

    def __mul__(self, other: Any) -> OnnxTensor:
        return self.graph.binary("Mul", self, other)

    def __rmul__(self, other: Any) -> OnnxTensor:
        return self.graph.binary("Mul", other, self)

    def __truediv__(self, other: Any) -> OnnxTensor:
        return self.graph.binary("Div", self, other)

    def __rtruediv__(self, other: Any) -> OnnxTensor:
        return self.graph.binary("Div", other, self)

    def __neg__(self) -> OnnxTensor:
        return self.graph.unary("Neg", self)

    def __pow__(self, exponent: Any) -> OnnxTensor:
        return self.graph.binary("Pow", self, exponent)

    def __bool__(self) -> bool:
        raise TypeError("an ONNX-traced tensor has no truth value: formulas must not branch on tensor values")

    def __repr__(self) -> str:
        return f"OnnxTensor({self.name}, {self.dtype}, {self.shape})"


def broadcast_shape(*shapes: tuple) -> tuple:
    """NumPy broadcasting of partly symbolic shapes."""
    rank = max(len(s) for s in shapes)
    result = []
    for position in range(rank):
        sizes = [s[len(s) - rank + position] for s in shapes if len(s) - rank + position >= 0]
        kept = [d for d in sizes if not (isinstance(d, int) and d == 1)]
        if not kept:
            result.append(1)
            continue
        first = kept[0]
        for other in kept[1:]:
            if other != first:
                raise ValueError(f"shapes {shapes} do not broadcast (size {first} against {other})")
        result.append(first)
    return tuple(result)


class Graph:
    """The nodes, initializers and symbol sources of one traced loss."""

    def __init__(self, float_dtype: str = "float32") -> None:
        self.float_dtype = float_dtype
        self.nodes: list = []
        self.initializers: list = []
        self._constants: dict[tuple, OnnxTensor] = {}
        self._symbols: dict[str, tuple[str, int]] = {}  # symbol -> (input name, axis)
        self._sizes: dict[tuple, str] = {}
        self._count = 0

    def fresh(self, prefix: str = "t") -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def node(self, op: str, inputs: Sequence[str], outputs: int = 1, **attributes: Any) -> list[str]:
        from onnx import helper

        names = [self.fresh(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, list(inputs), names, **attributes))
        return names

    def output(self, value: OnnxTensor, name: str) -> OnnxTensor:
        """``value`` under the graph output name ``name``."""
        from onnx import helper

        self.nodes.append(helper.make_node("Identity", [value.name], [name]))
        return OnnxTensor(self, name, value.dtype, value.shape)

    def add_symbol(self, symbol: str, source: str, axis: int) -> None:
        self._symbols.setdefault(symbol, (source, axis))

    # -- constants ---------------------------------------------------------------
    def constant(self, value: Any, dtype: str) -> OnnxTensor:
        array = np.asarray(value, dtype=np.dtype(dtype))
        key = (dtype, array.shape, array.tobytes())
        if key not in self._constants:
            from onnx import numpy_helper

            name = self.fresh("c")
            self.initializers.append(numpy_helper.from_array(array, name))
            self._constants[key] = OnnxTensor(self, name, dtype, array.shape)
        return self._constants[key]

    def int_vector(self, values: Sequence[int]) -> str:
        return self.constant(np.asarray(values, dtype=np.int64), "int64").name

    def size(self, dim: Any) -> str:
        """A 1-element int64 tensor holding ``dim`` (static or symbolic)."""
        if not isinstance(dim, Dim):
            return self.int_vector([int(dim)])
        key = dim._key()
        if key not in self._sizes:
            parts = []
            for symbol in dim.symbols:
                source, axis = self._symbols[symbol]
                (shape,) = self.node("Shape", [source], start=axis, end=axis + 1)
                parts.append(shape)
            if dim.coefficient != 1 or not parts:
                parts.append(self.int_vector([dim.coefficient]))
            value = parts[0]
            for part in parts[1:]:
                (value,) = self.node("Mul", [value, part])
            self._sizes[key] = value
        return self._sizes[key]

    def shape_vector(self, shape: Sequence[Any]) -> str:
        if all(not isinstance(d, Dim) for d in shape):
            return self.int_vector([int(d) for d in shape])
        (name,) = self.node("Concat", [self.size(d) for d in shape], axis=0)
        return name

    def scalar_of(self, dim: Dim, dtype: str) -> OnnxTensor:
        """A symbolic size as a 0-d tensor of ``dtype`` (a division by a count)."""
        (squeezed,) = self.node("Squeeze", [self.size(dim), self.int_vector([0])])
        (cast,) = self.node("Cast", [squeezed], to=_DTYPES[dtype])
        return OnnxTensor(self, cast, dtype, ())

    # -- elementwise -------------------------------------------------------------
    def lift(self, value: Any, dtype: str) -> OnnxTensor:
        if isinstance(value, OnnxTensor):
            return value
        if isinstance(value, Dim):
            return self.scalar_of(value, dtype)
        return self.constant(value, dtype)

    def binary(self, op: str, a: Any, b: Any) -> OnnxTensor:
        dtype = _result_dtype(self, a, b)
        a, b = self.lift(a, dtype), self.lift(b, dtype)
        a, b = self.cast(a, dtype), self.cast(b, dtype)
        (name,) = self.node(op, [a.name, b.name])
        return OnnxTensor(self, name, dtype, broadcast_shape(a.shape, b.shape))

    def compare(self, op: str, a: Any, b: Any) -> OnnxTensor:
        dtype = _result_dtype(self, a, b)
        a, b = self.cast(self.lift(a, dtype), dtype), self.cast(self.lift(b, dtype), dtype)
        (name,) = self.node(op, [a.name, b.name])
        return OnnxTensor(self, name, "bool", broadcast_shape(a.shape, b.shape))

    def unary(self, op: str, x: OnnxTensor, **attributes: Any) -> OnnxTensor:
        (name,) = self.node(op, [x.name], **attributes)
        return OnnxTensor(self, name, x.dtype, x.shape)

    def cast(self, x: OnnxTensor, dtype: str) -> OnnxTensor:
        if x.dtype == dtype:
            return x
        (name,) = self.node("Cast", [x.name], to=_DTYPES[dtype])
        return OnnxTensor(self, name, dtype, x.shape)


def _result_dtype(graph: Graph, a: Any, b: Any) -> str:
    tensors = [v for v in (a, b) if isinstance(v, OnnxTensor)]
    floats = [t.dtype for t in tensors if t.dtype.startswith("float")]
    if floats:
        return floats[0]
    if tensors and all(t.dtype == "int64" for t in tensors):
        scalars = [v for v in (a, b) if not isinstance(v, OnnxTensor)]
        if any(isinstance(v, float) for v in scalars):
            return graph.float_dtype  # int tensor with a float: NumPy promotes to float
        return "int64"
    if tensors and all(t.dtype == "bool" for t in tensors) and not any(isinstance(v, float) for v in (a, b)):
        return "bool"
    return graph.float_dtype


def _axes(axis: int | Sequence[int] | None, rank: int) -> list[int] | None:
    if axis is None:
        return None
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    return sorted(int(a) % rank for a in axes)


class OnnxOps(Ops):
    """The ops protocol recorded into a :class:`Graph`."""

    name = "onnx"

    def shape(self, x):
        if isinstance(x, OnnxTensor):
            return x.shape
        return tuple(np.shape(x))

    def is_integer(self, x):
        return x.dtype in ("int64", "int32")

    def is_floating(self, x):
        return x.dtype.startswith("float") or x.dtype == "bfloat16"

    def dtype_name(self, x):
        return x.dtype

    def is_tracing(self, x):
        return True

    def constant(self, value, like):
        dtype = like.dtype if like.dtype.startswith("float") else like.graph.float_dtype
        return like.graph.constant(value, dtype)

    def cast(self, x, like):
        if not isinstance(x, OnnxTensor):
            return like.graph.constant(x, like.dtype)
        return x.graph.cast(x, like.dtype)

    def to_float32(self, x):
        return x.graph.cast(x, "float32")

    def reshape(self, x, shape):
        shape = list(shape)
        if any(not isinstance(d, Dim) and d == -1 for d in shape):
            index = next(i for i, d in enumerate(shape) if not isinstance(d, Dim) and d == -1)
            known, total = 1, 1
            for i, d in enumerate(shape):
                if i != index:
                    known = known * d
            for d in x.shape:
                total = total * d
            if isinstance(total, Dim) or isinstance(known, Dim):
                shape[index] = Dim.of(total).divide(known)
            else:
                shape[index] = total // known if known else 0
        if tuple(shape) == x.shape:
            return x
        (name,) = x.graph.node("Reshape", [x.name, x.graph.shape_vector(shape)])
        return OnnxTensor(x.graph, name, x.dtype, tuple(shape))

    def moveaxis(self, x, source, destination):
        rank = len(x.shape)
        order = [a for a in range(rank) if a != source % rank]
        order.insert(destination % rank, source % rank)
        if order == list(range(rank)):
            return x
        (name,) = x.graph.node("Transpose", [x.name], perm=order)
        return OnnxTensor(x.graph, name, x.dtype, tuple(x.shape[a] for a in order))

    def expand_dims(self, x, axis):
        rank = len(x.shape) + 1
        axis = axis % rank
        (name,) = x.graph.node("Unsqueeze", [x.name, x.graph.int_vector([axis])])
        shape = list(x.shape)
        shape.insert(axis, 1)
        return OnnxTensor(x.graph, name, x.dtype, tuple(shape))

    def stack(self, xs, axis=0):
        xs = list(xs)
        graph = xs[0].graph
        dtype = _common_dtype(xs)
        expanded = [self.expand_dims(graph.cast(x, dtype), axis) for x in xs]
        (name,) = graph.node("Concat", [e.name for e in expanded], axis=axis % (len(xs[0].shape) + 1))
        shape = list(broadcast_shape(*[e.shape for e in expanded]))
        shape[axis % len(shape)] = len(xs)
        return OnnxTensor(graph, name, dtype, tuple(shape))

    def exp(self, x):
        return x.graph.unary("Exp", x)

    def log(self, x):
        return x.graph.unary("Log", x)

    def abs(self, x):
        return x.graph.unary("Abs", x)

    def power(self, x, exponent):
        return x.graph.binary("Pow", x, float(exponent))

    def sigmoid(self, x):
        return self.exp(self.log_sigmoid(x))

    def log_sigmoid(self, x):
        # min(x, 0) - log(1 + exp(-|x|)): finite for every x, as NumPy's -logaddexp(0, -x)
        negative_part = self.where(self.less(x, 0.0), x, 0.0)
        return negative_part - self._log1p(self.exp(-self.abs(x)))

    def _log1p(self, t):
        """``log(1 + t)`` to a few ulps for small ``t`` (ONNX has no Log1p):
        ``log(u) * t / (u - 1)`` with ``u = 1 + t`` corrects the rounding of ``u``."""
        u = 1.0 + t
        exact = self.equal(u, 1.0)
        ratio = t / self.where(exact, 1.0, u - 1.0)
        return self.where(exact, t, self.log(u) * ratio)

    def softmax(self, x, axis):
        return x.graph.unary("Softmax", x, axis=axis % len(x.shape))

    def log_softmax(self, x, axis):
        return x.graph.unary("LogSoftmax", x, axis=axis % len(x.shape))

    def where(self, cond, a, b):
        graph = cond.graph
        dtype = _common_dtype([v for v in (a, b) if isinstance(v, OnnxTensor)]) or graph.float_dtype
        a, b = graph.cast(graph.lift(a, dtype), dtype), graph.cast(graph.lift(b, dtype), dtype)
        (name,) = graph.node("Where", [cond.name, a.name, b.name])
        return OnnxTensor(graph, name, dtype, broadcast_shape(cond.shape, a.shape, b.shape))

    def equal(self, a, b):
        return _graph_of(a, b).compare("Equal", a, b)

    def not_equal(self, a, b):
        equal = self.equal(a, b)
        return equal.graph.unary("Not", equal)

    def less(self, a, b):
        return _graph_of(a, b).compare("Less", a, b)

    def less_equal(self, a, b):
        return _graph_of(a, b).compare("LessOrEqual", a, b)

    def greater(self, a, b):
        return _graph_of(a, b).compare("Greater", a, b)

    def logical_and(self, a, b):
        graph = _graph_of(a, b)
        (name,) = graph.node("And", [graph.lift(a, "bool").name, graph.lift(b, "bool").name])
        return OnnxTensor(graph, name, "bool", broadcast_shape(a.shape, b.shape))

    def _reduce(self, op, x, axis, keepdims):
        axes = _axes(axis, len(x.shape))
        inputs = [x.name] if axes is None else [x.name, x.graph.int_vector(axes)]
        if axes == []:
            return x
        (name,) = x.graph.node(op, inputs, keepdims=int(keepdims))
        reduced = range(len(x.shape)) if axes is None else axes
        if keepdims:
            shape = tuple(1 if a in reduced else d for a, d in enumerate(x.shape))
        else:
            shape = tuple(d for a, d in enumerate(x.shape) if a not in reduced)
        return OnnxTensor(x.graph, name, x.dtype, shape)

    def sum(self, x, axis=None, keepdims=False):
        return self._reduce("ReduceSum", x, axis, keepdims)

    def mean(self, x, axis=None, keepdims=False):
        return self._reduce("ReduceMean", x, axis, keepdims)

    def amax(self, x, axis=None, keepdims=False):
        return self._reduce("ReduceMax", x, axis, keepdims)

    def one_hot(self, labels, depth, axis, like):
        # Equal against the class indices rather than OneHot: onnxruntime has no
        # float64 OneHot kernel, and this is the same 0/1 pattern in any dtype
        rank = len(labels.shape) + 1
        axis = axis % rank
        classes = np.arange(depth, dtype=np.int64).reshape([depth if a == axis else 1 for a in range(rank)])
        hits = self.equal(
            self.expand_dims(labels.graph.cast(labels, "int64"), axis), labels.graph.constant(classes, "int64")
        )
        return labels.graph.cast(hits, like.dtype)

    def take_along_axis(self, x, index, axis):
        graph = x.graph
        index = graph.cast(index, "int64")
        (name,) = graph.node("GatherElements", [x.name, index.name], axis=axis % len(x.shape))
        return OnnxTensor(graph, name, x.dtype, index.shape)

    def gather(self, vector, index):
        graph = vector.graph
        index = graph.cast(index, "int64")
        (name,) = graph.node("Gather", [vector.name, index.name], axis=0)
        return OnnxTensor(graph, name, vector.dtype, index.shape)

    def stop_gradient(self, x):
        return x

    def sort(self, x, axis, descending=False):
        graph = x.graph
        axis = axis % len(x.shape)
        values, indices = graph.node(
            "TopK", [x.name, graph.size(x.shape[axis])], outputs=2, axis=axis, largest=int(descending), sorted=1
        )
        return OnnxTensor(graph, values, x.dtype, x.shape), OnnxTensor(graph, indices, "int64", x.shape)

    def reorder(self, x, permutation, axis):
        return self.take_along_axis(x, permutation, axis)

    def cumsum(self, x, axis):
        graph = x.graph
        axis_tensor = graph.constant(np.asarray(axis % len(x.shape), dtype=np.int64), "int64")
        (name,) = graph.node("CumSum", [x.name, axis_tensor.name])
        return OnnxTensor(graph, name, x.dtype, x.shape)

    def max_pool(self, x, window, axes):
        # one axis at a time (the maximum is associative): pad with -inf, take the
        # maximum of the window's shifted slices
        graph = x.graph
        rank = len(x.shape)
        for axis, half in pool_padding(window, axes, rank):
            if half == 0:
                continue
            pads = [0] * (2 * rank)
            pads[axis] = pads[axis + rank] = half
            low = graph.constant(np.asarray(-np.inf, dtype=np.dtype(x.dtype)), x.dtype)
            (padded,) = graph.node("Pad", [x.name, graph.int_vector(pads), low.name], mode="constant")
            shifted = []
            for offset in range(2 * half + 1):
                end = offset - 2 * half
                (piece,) = graph.node(
                    "Slice",
                    [
                        padded,
                        graph.int_vector([offset]),
                        graph.int_vector([end if end else INT64_MAX]),
                        graph.int_vector([axis]),
                    ],
                )
                shifted.append(piece)
            (name,) = graph.node("Max", shifted)
            x = OnnxTensor(graph, name, x.dtype, x.shape)
        return x


def _graph_of(*values: Any) -> Graph:
    return next(v.graph for v in values if isinstance(v, OnnxTensor))


def _common_dtype(tensors: Sequence[OnnxTensor]) -> str | None:
    floats = [t.dtype for t in tensors if t.dtype.startswith("float")]
    if floats:
        return floats[0]
    return tensors[0].dtype if tensors else None


__all__ = ["Dim", "Graph", "OnnxOps", "OnnxTensor", "StaticShapeRequired", "broadcast_shape"]
