"""The typed IR of a .qrnn file (pydantic v2, frozen).

The IR says what the user wrote, checked for types and ranges but not yet
expanded: `repeat` blocks and target shorthands (`all`, `ring`, ranges) are
kept, so an IR prints back as the file it came from. `qrnnc.lower` turns one
model of it into a `Program`.

Nodes that can be wrong in a way only a later pass sees carry the `span` of
their source text, so those passes report `FILE:LINE:COL` too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from qrnnc.errors import Span

IR_VERSION = 1
MAX_QUBITS = 24

GateName = Literal[
    "rx", "ry", "rz", "h", "x", "y", "z", "s", "t",
    "cnot", "cz", "swap", "crx", "cry", "crz", "rxx", "ryy", "rzz",
]  # fmt: skip
Observable = Literal["x", "y", "z", "zz"]
PositiveInt = Annotated[int, Field(ge=1)]
Probability = Annotated[float, Field(ge=0.0, lt=1.0)]
PositiveFloat = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Located(Node):
    span: Span | None = None


# ---- targets -------------------------------------------------------------------


class QubitIndex(Located):
    kind: Literal["index"] = "index"
    index: int


class QubitRange(Located):
    """`a..b`, both ends included."""

    kind: Literal["range"] = "range"
    start: int
    stop: int


QubitItem = Annotated[QubitIndex | QubitRange, Field(discriminator="kind")]


class AllQubits(Located):
    kind: Literal["all"] = "all"


class QubitList(Located):
    """`q[0, 2..4]`."""

    kind: Literal["qubits"] = "qubits"
    items: tuple[QubitItem, ...]


class Ring(Located):
    """Pairs (i, i+1 mod n); for n = 2 the single pair (0, 1)."""

    kind: Literal["ring"] = "ring"


class Chain(Located):
    """Pairs (i, i+1) for i < n-1."""

    kind: Literal["chain"] = "chain"


class Pair(Located):
    a: int
    b: int


class PairList(Located):
    """`(0,1), (2,3)`."""

    kind: Literal["pairs"] = "pairs"
    pairs: tuple[Pair, ...]


Target = Annotated[AllQubits | QubitList | Ring | Chain | PairList, Field(discriminator="kind")]

# ---- angle sources -----------------------------------------------------------


class ControllerSource(Located):
    """The step's angle comes from the controller (the default)."""

    kind: Literal["controller"] = "controller"


class ParamSource(Located):
    """A trainable angle shared across time; `init` None means random at build."""

    kind: Literal["param"] = "param"
    init: float | None = None


class ConstSource(Located):
    kind: Literal["const"] = "const"
    value: float


class InputSource(Located):
    """Angle encoding: the input features (or embedding) feed the targets in order."""

    kind: Literal["input"] = "input"


Source = Annotated[
    ControllerSource | ParamSource | ConstSource | InputSource,
    Field(discriminator="kind"),
]

# ---- cell ops ------------------------------------------------------------------


class GateOp(Located):
    kind: Literal["gate"] = "gate"
    gate: GateName
    target: Target
    source: Source | None = None  # None for fixed gates (h, cnot, ...)


class RepeatOp(Located):
    kind: Literal["repeat"] = "repeat"
    count: PositiveInt
    body: tuple[CellOp, ...]


CellOp = Annotated[GateOp | RepeatOp, Field(discriminator="kind")]

# ---- model parts ----------------------------------------------------------------


class TokenInput(Located):
    kind: Literal["tokens"] = "tokens"
    vocab: PositiveInt
    embed: PositiveInt
    # The embedding's entries start as N(0, scale^2). Where embeddings are angles
    # (`<- input`) and a cell adds them up over hundreds of steps, 1.0 (torch's
    # default) starts the state scrambled; a small scale starts it near |psi_0>.
    scale: PositiveFloat = 1.0

    @property
    def dim(self) -> int:
        return self.embed


class FeatureInput(Located):
    kind: Literal["features"] = "features"
    dim: PositiveInt


Input = Annotated[TokenInput | FeatureInput, Field(discriminator="kind")]


class LinearController(Located):
    kind: Literal["linear"] = "linear"
    dropout: Probability = 0.0


class MlpController(Located):
    kind: Literal["mlp"] = "mlp"
    hidden: PositiveInt = 64
    layers: PositiveInt = 1
    act: Literal["relu", "gelu", "tanh"] = "relu"
    dropout: Probability = 0.0


class GluController(Located):
    kind: Literal["glu"] = "glu"
    hidden: PositiveInt = 64
    dropout: Probability = 0.0


Controller = Annotated[
    LinearController | MlpController | GluController, Field(discriminator="kind")
]


class Readout(Located):
    """`readout x, y, z on all`: per observable, every target, in order written."""

    observables: tuple[Observable, ...]
    target: Target


class LinearHead(Located):
    kind: Literal["linear"] = "linear"
    out: PositiveInt | None = None  # None: the task's classes or vocabulary
    mode: Literal["per_step", "last"]


class MlpHead(Located):
    kind: Literal["mlp"] = "mlp"
    hidden: PositiveInt = 64
    out: PositiveInt | None = None
    mode: Literal["per_step", "last"]


Head = Annotated[LinearHead | MlpHead, Field(discriminator="kind")]


class Model(Located):
    name: str
    name_span: Span | None = None
    qubits: Annotated[int, Field(ge=1, le=MAX_QUBITS)]
    init: Literal["zero", "plus"] = "zero"
    input: Input
    controller: Controller = LinearController()
    cell: tuple[CellOp, ...]
    cell_span: Span | None = None
    readouts: tuple[Readout, ...]
    head: Head | None = None
    precision: Literal["complex64", "complex128"] = "complex128"
    shots: PositiveInt | None = None  # None: exact expectations


# ---- task, training, seq2seq ------------------------------------------------------


class CopyingTask(Located):
    """Copying memory: recall `length` symbols after `delay` blanks."""

    name: Literal["copying"] = "copying"
    delay: Annotated[int, Field(ge=0)] = 100
    length: PositiveInt = 10
    symbols: PositiveInt = 8


class AddingTask(Located):
    name: Literal["adding"] = "adding"
    length: PositiveInt = 100


class SmnistTask(Located):
    """Sequential MNIST, pixel by pixel, from idx files in `data`."""

    name: Literal["smnist"] = "smnist"
    data: str | None = None


class PsmnistTask(Located):
    """Permuted sequential MNIST: one fixed permutation drawn from `perm_seed`."""

    name: Literal["psmnist"] = "psmnist"
    data: str | None = None
    perm_seed: int = 0


class ImdbTask(Located):
    name: Literal["imdb"] = "imdb"
    data: str | None = None
    vocab: PositiveInt = 10000
    max_len: PositiveInt = 200


class PtbTask(Located):
    name: Literal["ptb"] = "ptb"
    data: str | None = None
    vocab: PositiveInt = 10000
    seq_len: PositiveInt = 35


class TranslationTask(Located):
    """De->En (or any pair) from parallel text files; BLEU."""

    name: Literal["translation"] = "translation"
    data: str | None = None
    src: str = "de"
    tgt: str = "en"
    vocab: PositiveInt = 8000
    max_len: PositiveInt = 50
    beam: PositiveInt = 1


Task = Annotated[
    CopyingTask | AddingTask | SmnistTask | PsmnistTask | ImdbTask | PtbTask | TranslationTask,
    Field(discriminator="name"),
]


class Train(Located):
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    lr: Annotated[float, Field(gt=0.0)] = 1e-3
    epochs: PositiveInt = 10
    batch: PositiveInt = 32
    seed: int = 0
    clip: Annotated[float, Field(gt=0.0)] | None = None
    weight_decay: Annotated[float, Field(ge=0.0)] = 0.0
    schedule: Literal["constant", "cosine", "step"] = "constant"


class Seq2Seq(Located):
    """An encoder and a decoder model; the decoder attends over encoder readouts."""

    encoder: str
    decoder: str
    attention: Literal["dot", "general", "additive"] = "dot"


class IR(Node):
    """The root: everything one .qrnn file says."""

    version: Literal[1] = IR_VERSION
    file: str | None = None
    models: tuple[Model, ...]
    task: Task | None = None
    train: Train | None = None
    seq2seq: Seq2Seq | None = None

    def model(self, name: str) -> Model:
        for m in self.models:
            if m.name == name:
                return m
        raise KeyError(name)
