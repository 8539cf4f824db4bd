"""What `pip install .` gives: one package, qwen_playground, with its assets and the qwen-playground command.

The wheel is built here (no dependencies, nothing downloaded) and unpacked into a folder of its own; the
command's code, run from another folder with only that folder added to the path, serves the page with its CSS.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from devtools.launch import ROOT, AppProcess
from tests.fakes import TINY_MODELS


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                    str(out), str(ROOT)], check=True, capture_output=True)
    return next(out.glob("qwen_playground-*.whl"))


def test_the_wheel_holds_one_package_with_its_assets_and_the_command(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"qwen_playground", wheel.name.split("-py3")[0] + ".dist-info"}
    for needed in ("qwen_playground/app.py", "qwen_playground/assets/style.css", "qwen_playground/tabs/chat.py",
                   "qwen_playground/playground/catalog.toml", "qwen_playground/assets/examples/objects.png",
                   "qwen_playground/playground/locales/en/chat.toml"):
        assert needed in names
    info = wheel.name.split("-py3")[0] + ".dist-info"
    entry_points = zipfile.ZipFile(wheel).read(f"{info}/entry_points.txt").decode()
    assert "qwen-playground = qwen_playground.playground.cli:main" in entry_points
    assert "Requires-Python: >=3.11" in zipfile.ZipFile(wheel).read(f"{info}/METADATA").decode()


def test_the_installed_command_serves_the_page_with_its_css(wheel: Path, tiny_catalog_path: Path, tmp_path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    command = site / "qwen_playground" / "playground" / "cli.py"  # what the console script calls
    with AppProcess(tiny_catalog_path, tmp_path / "app.log", entry=command, cwd=tmp_path,
                    env={"PYTHONPATH": str(site)}) as app:
        page = httpx.get(app.url, timeout=30).text
        assert ".message-content { contain: paint; }" in page  # assets/style.css, from the installed package
    where = subprocess.run(
        [sys.executable, "-c", "import sys; from qwen_playground.playground import cli; sys.path.insert(0, "
         "str(cli.HOME)); import app, playground, tabs; print(app.CSS_FILE, playground.__file__, tabs.__file__)"],
        cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": ""}, capture_output=True, text=True, check=True)
    assert all(Path(path).is_relative_to(site / "qwen_playground") for path in where.stdout.split())


def test_the_app_listens_where_gradios_variables_say_with_the_catalogue_a_variable_names(
        tiny_catalog_path: Path, tmp_path: Path) -> None:
    with AppProcess(tiny_catalog_path, tmp_path / "app.log", flags=False,
                    env={"GRADIO_SERVER_NAME": "0.0.0.0"}) as app:  # as a Space or `docker run -p` has it
        models = httpx.get(f"{app.url}v1/models", timeout=30).json()["data"]
        assert {m["id"] for m in models} == set(TINY_MODELS)
    assert f"Running on local URL:  http://0.0.0.0:{app.port}" in (tmp_path / "app.log").read_text()


def test_gradio_hot_reload_serves_an_edited_tab_and_it_still_answers(tiny_catalog_path: Path, tmp_path: Path) -> None:
    folder = tmp_path / "app"  # a copy of the app's code, to edit as a developer would
    folder.mkdir()
    for name in ("app.py", "playground", "tabs", "assets"):
        source = ROOT / name
        (shutil.copytree(source, folder / name, ignore=shutil.ignore_patterns("__pycache__")) if source.is_dir()
         else shutil.copy2(source, folder / name))
    gradio_cli = Path(sys.executable).parent / "gradio"
    with AppProcess(tiny_catalog_path, tmp_path / "app.log", entry=folder / "app.py", cwd=folder, flags=False,
                    command=[str(gradio_cli), "app.py"], env={"PYTHONPATH": ""}) as app:
        chat_tab = folder / "tabs" / "chat.py"
        original = chat_tab.read_text()
        deadline = time.monotonic() + 90
        for edit in itertools.count():  # edited again until the watcher (which starts after the server) sees it
            # (the tab's title is a message key now: an element id is what a developer's edit shows plainly)
            chat_tab.write_text(original.replace('elem_id="new-chat"', f'elem_id="new-chat-edited-{edit}"'))
            time.sleep(2)
            if '"new-chat-edited-' in httpx.get(f"{app.url}config", timeout=10).text:
                break
            assert time.monotonic() < deadline, (tmp_path / "app.log").read_text()[-2000:]
        reply = Client(app.url, verbose=False).predict(message="Hello", model="tiny-qwen3", max_new_tokens=4,
                                                       api_name="/chat")
    assert reply[-1]["metadata"]["id"] == "metrics" and "4 tokens" in reply[-1]["content"]
