"""The IR and the Program round-trip exactly through JSON, and the published
schemas in docs/ have not drifted from the models."""

import json
from pathlib import Path

import pytest

import qrnnc
from qrnnc.ir import IR
from qrnnc.program import Program

ROOT = Path(__file__).resolve().parents[2]
ZOO = sorted((ROOT / "zoo").glob("*/model.qrnn"))


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.parent.name)
def test_ir_round_trips_exactly(path: Path) -> None:
    m = qrnnc.load(path)
    again = IR.model_validate_json(m.ir.model_dump_json())
    assert again == m.ir
    assert again.model_dump_json() == m.ir.model_dump_json()


@pytest.mark.parametrize("path", ZOO, ids=lambda p: p.parent.name)
def test_program_round_trips_and_recompiles_from_ir_json(path: Path) -> None:
    m = qrnnc.load(path)
    for program in m.programs.values():
        assert Program.model_validate_json(program.model_dump_json()) == program
    # An IR read back from JSON compiles to the same Programs as the text did.
    again = qrnnc.compile_ir(IR.model_validate_json(m.ir.model_dump_json()))
    assert again.programs == m.programs


def test_ir_is_frozen() -> None:
    m = qrnnc.load(ROOT / "zoo" / "copying" / "model.qrnn")
    with pytest.raises(Exception, match="frozen"):
        m.ir.models[0].qubits = 7  # type: ignore[misc]


def test_ir_json_names_its_version_and_kinds() -> None:
    data = json.loads(qrnnc.load(ROOT / "zoo" / "copying" / "model.qrnn").ir.model_dump_json())
    assert data["version"] == 1
    model = data["models"][0]
    assert model["controller"]["kind"] == "mlp"
    assert model["cell"][0]["kind"] == "gate"
    assert model["cell"][1]["kind"] == "repeat"
    assert model["cell"][1]["body"][2]["target"]["kind"] == "ring"


def test_ir_json_with_unknown_kind_is_rejected() -> None:
    data = json.loads(qrnnc.load(ROOT / "zoo" / "copying" / "model.qrnn").ir.model_dump_json())
    data["models"][0]["cell"][0]["kind"] = "teleport"
    with pytest.raises(ValueError, match="teleport"):
        IR.model_validate(data)


def test_ir_from_json_is_validated_with_locations() -> None:
    data = json.loads(qrnnc.load(ROOT / "zoo" / "copying" / "model.qrnn").ir.model_dump_json())
    data["models"][0]["qubits"] = 2
    data["models"][0]["cell"][0]["target"] = {"kind": "qubits", "items": [
        {"kind": "index", "index": 5, "span": {"line": 7, "column": 12, "end_line": 7,
                                               "end_column": 13}}]}  # fmt: skip
    with pytest.raises(qrnnc.QrnnError) as info:
        qrnnc.compile_ir(IR.model_validate(data))
    assert (info.value.line, info.value.column) == (7, 12)
    assert "qubit 5 is out of range" in str(info.value)


@pytest.mark.parametrize(
    ("cls", "name"), [(IR, "qrnn-ir.schema.json"), (Program, "qrnn-program.schema.json")]
)
def test_published_schema_has_not_drifted(cls: type, name: str) -> None:
    published = json.loads((ROOT / "docs" / name).read_text())
    assert cls.model_json_schema() == published, (
        f"docs/{name} is out of date: regenerate it with "
        f"`qrnnc schema --of {'ir' if cls is IR else 'program'} > docs/{name}`"
    )


def test_schema_uses_discriminated_unions() -> None:
    schema = IR.model_json_schema()
    cell_items = schema["$defs"]["Model"]["properties"]["cell"]["items"]
    assert cell_items["discriminator"]["propertyName"] == "kind"
