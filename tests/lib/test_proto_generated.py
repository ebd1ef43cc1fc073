"""The committed `cocore.proto` package is exactly what `make proto` generates from proto/."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cocore.rpc import protogen

REPO = Path(__file__).resolve().parents[2]
ECHO_PROTO = Path("cocore/proto/testing/v1/echo.proto")


def test_committed_generated_code_is_current() -> None:
    stale = protogen.check(REPO / "proto", REPO / "libs")
    assert stale == [], "generated code is stale; run `make proto`:\n" + "\n".join(stale)


def test_generation_is_deterministic() -> None:
    assert protogen.render(REPO / "proto") == protogen.render(REPO / "proto")


def test_generated_modules_import_by_folder_path() -> None:
    from cocore.proto.common.v1 import common_pb2
    from cocore.proto.testing.v1 import echo_pb2_grpc

    assert common_pb2.DESCRIPTOR.package == "cocore.common.v1"
    assert hasattr(echo_pb2_grpc, "EchoStub")


@pytest.fixture
def trees(tmp_path: Path) -> tuple[Path, Path]:
    """A scratch copy of proto/ and a freshly generated output root beside it."""
    proto, out = tmp_path / "proto", tmp_path / "libs"
    shutil.copytree(REPO / "proto", proto)
    protogen.generate(proto, out)
    return proto, out


def test_check_catches_edited_missing_and_stray_files(trees: tuple[Path, Path]) -> None:
    proto, out = trees
    package = out / protogen.PACKAGE
    assert protogen.check(proto, out) == []
    (package / "testing/v1/echo_pb2.py").write_text("# edited by hand\n")
    (package / "common/v1/common_pb2.pyi").unlink()
    (package / "testing/v1/old_pb2.py").write_text("")
    assert protogen.check(proto, out) == [
        "missing common/v1/common_pb2.pyi",
        "changed testing/v1/echo_pb2.py",
        "stale testing/v1/old_pb2.py",
    ]


def test_check_catches_a_changed_proto(trees: tuple[Path, Path]) -> None:
    proto, out = trees
    with (proto / ECHO_PROTO).open("a", encoding="utf-8") as f:
        f.write("\nmessage Extra {\n  string note = 1;\n}\n")
    assert "changed testing/v1/echo_pb2.py" in protogen.check(proto, out)
    protogen.generate(proto, out)
    assert protogen.check(proto, out) == []


def test_generate_removes_code_whose_proto_is_gone(trees: tuple[Path, Path]) -> None:
    proto, out = trees
    (proto / ECHO_PROTO).unlink()
    changes = protogen.generate(proto, out)
    assert "removed testing/v1/echo_pb2.py" in changes
    assert not (out / protogen.PACKAGE / "testing").exists()
    assert (out / protogen.PACKAGE / "common/v1/common_pb2.py").is_file()
    assert protogen.check(proto, out) == []


def test_init_files_carry_the_banner(trees: tuple[Path, Path]) -> None:
    _, out = trees
    package = out / protogen.PACKAGE
    inits = sorted(package.rglob("__init__.py"))
    # One per folder of proto/cocore/proto (each service adds its own), and nothing else.
    proto_root = REPO / "proto" / protogen.PACKAGE
    folders = {p.parent.relative_to(proto_root).as_posix() for p in proto_root.rglob("*.proto")}
    expected = {".", *folders, *(f.split("/")[0] for f in folders)}
    assert {p.parent.relative_to(package).as_posix() for p in inits} == expected
    assert {"common", "common/v1", "testing", "testing/v1"} <= expected
    assert all("DO NOT EDIT" in p.read_text() for p in inits)
    assert "make proto" in (package / "__init__.py").read_text()


def test_package_must_match_the_folder(tmp_path: Path) -> None:
    bad = tmp_path / "cocore/proto/billing/v1/money.proto"
    bad.parent.mkdir(parents=True)
    bad.write_text('syntax = "proto3";\npackage cocore.payments.v1;\n')
    with pytest.raises(protogen.ProtoGenError, match=r"package cocore\.billing\.v1;"):
        protogen.find_protos(tmp_path)


def test_cli_check_exit_codes(trees: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    proto, out = trees
    assert protogen.main(["--check", str(proto), str(out)]) == 0
    (out / protogen.PACKAGE / "__init__.py").write_text("")
    assert protogen.main(["--check", str(proto), str(out)]) == 1
    assert "changed __init__.py" in capsys.readouterr().out


def test_a_missing_proto_root_is_refused(tmp_path: Path) -> None:
    with pytest.raises(protogen.ProtoGenError, match="not a directory"):
        protogen.generate(tmp_path / "no-such-dir", tmp_path / "libs")
