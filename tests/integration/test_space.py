"""`scripts/build_space.py`: a ready Space folder per hardware, whose app starts and answers `/chat`.

What only a real Space shows (the build, preloading, ZeroGPU's scheduler) is not here; `pip install
--dry-run -r requirements.txt` needs the package index, so it is run by hand (see the README).
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import gradio
import pytest
import yaml
from gradio_client import Client
from packaging.requirements import Requirement

from devtools.launch import ROOT, AppProcess
from playground.catalog import load_catalog

spec = importlib.util.spec_from_file_location("build_space", ROOT / "scripts" / "build_space.py")
build_space = sys.modules["build_space"] = importlib.util.module_from_spec(spec)  # a script, not a package
spec.loader.exec_module(build_space)

REQUIRED = {"sdk", "sdk_version", "app_file", "python_version", "license", "short_description", "models",
            "suggested_hardware"}


def front_matter(readme: Path) -> dict:
    _, head, _ = readme.read_text(encoding="utf-8").split("---\n", 2)
    return yaml.safe_load(head)


@pytest.mark.parametrize("hardware", ["cpu", "gpu", "zero-gpu"])
def test_each_hardware_gets_front_matter_requirements_and_its_catalogue(hardware: str, tmp_path: Path) -> None:
    out = build_space.build(tmp_path / "space", hardware)
    meta = front_matter(out / "README.md")
    assert set(meta) >= REQUIRED
    assert (meta["sdk"], meta["sdk_version"], meta["app_file"], meta["python_version"]) == (
        "gradio", gradio.__version__, "app.py", "3.11")
    assert len(meta["short_description"]) <= 60  # the Hub's limit
    catalog = load_catalog(out / "playground" / "catalog.toml")  # the curated list, in place of the built-in one
    assert [spec.source for spec in catalog] == meta["models"]
    assert meta.get("preload_from_hub", meta["models"]) == meta["models"]
    if hardware == "cpu":
        assert max(spec.params_billion for spec in catalog) <= 2.2  # CPU basic: 2 vCPU, 16 GB
    else:
        assert any(spec.is_vision for spec in catalog) and any("math" in spec.key for spec in catalog)
        assert max(spec.params_billion for spec in catalog) <= 9
    lines = (out / "requirements.txt").read_text().splitlines()
    wanted = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {Requirement(line).name for line in lines if not line.startswith("--")}
    assert names == {Requirement(line).name for line in wanted} - {"gradio"}  # the Space's sdk_version is Gradio
    torch = next(Requirement(line) for line in lines if line.startswith("torch") and "vision" not in line)
    assert (str(torch.specifier).startswith("==")) == (hardware == "zero-gpu")
    assert (lines[0] == build_space.CPU_INDEX) == (hardware == "cpu")
    assert not (out / "tests").exists() and (out / "assets" / "style.css").is_file()


def test_the_space_folders_app_starts_and_answers_chat(tiny_catalog_path: Path, tmp_path: Path) -> None:
    out = build_space.build(tmp_path / "space", "cpu")
    # As a Space runs it: `python app.py` in the folder, settings as variables, SPACE_ID set (public defaults).
    with AppProcess(tiny_catalog_path, tmp_path / "app.log", entry=out / "app.py", cwd=out, flags=False,
                    env={"PYTHONPATH": "", "SPACE_ID": "someone/qwen-playground"}) as app:
        reply = Client(app.url, verbose=False).predict(message="Hello", model="tiny-qwen3", max_new_tokens=4,
                                                       api_name="/chat")
    assert reply[-1]["metadata"]["id"] == "metrics" and "4 tokens" in reply[-1]["content"]
