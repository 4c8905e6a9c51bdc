"""A newcomer's first hour: the README's commands, a real wheel, a clone without the shared corpus.

These tests install into fresh virtual environments from the package index
(as a newcomer would), so each takes tens of seconds.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def readme_commands() -> list[str]:
    """The shell blocks of the README's "Two commands" section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, re.S)]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a shell a newcomer opens: no PYTHONPATH, no active virtual environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "MAILBOT_CONFIG", "MAILBOT_NOW")}
    venv = os.environ.get("VIRTUAL_ENV") or (sys.prefix if sys.prefix != sys.base_prefix else None)
    if venv:  # drop the running venv's bin/ from PATH: the commands must make their own
        env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                      if not p.startswith(str(Path(venv))))
    env.update(extra)
    return env


def copy_checkout(dest: Path) -> Path:
    """The repository's files (tracked or new, not ignored; as in the working tree) copied to `dest`: a fresh clone."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                                cwd=ROOT, capture_output=True, check=True).stdout
        names = [n for n in listed.decode().split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = []
    if not names:
        pytest.skip("not a git checkout: cannot tell the repository's files from local ones")
    for name in names:
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


def run(cmd: list[str] | str, cwd: Path, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       shell=isinstance(cmd, str), executable="/bin/bash" if isinstance(cmd, str) else None, **kw)
    assert r.returncode == 0, f"{cmd} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def test_the_readme_has_two_commands_and_ci_ends_with_its_test_command():
    demo, tests = readme_commands()
    assert "mailbot demo" in demo
    assert tests == "bash .ci/run"
    ci_lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text().splitlines()
                if ln.strip() and not ln.lstrip().startswith("#")]
    test_command = re.search(r"runs the test command itself, `(.+?)`",
                             README.read_text(encoding="utf-8").replace("\n", " ")).group(1)
    assert test_command in ci_lines, "the README's test command is what .ci/run runs, as written"
    assert ci_lines.index(test_command) > ci_lines.index("bash tools/venv.sh test")
    assert "bash tools/venv.sh test" in ci_lines  # CI makes .venv as the README's first command does


def test_the_readme_demo_command_runs_as_written_in_a_fresh_clone(tmp_path):
    """README's first command, verbatim, in a copy of the repository: makes .venv, installs, runs the demo."""
    demo, _ = readme_commands()
    repo = copy_checkout(tmp_path / "mailbot")
    env = clean_env(TMPDIR=str(tmp_path))
    system = Path("/usr/bin/python3")
    managed = list(system.parent.parent.glob("lib/python3*/EXTERNALLY-MANAGED")) if system.exists() else []
    if managed:  # Debian's own Python, which refuses a bare `pip install` (PEP 668): the newcomer's python3
        (tmp_path / "bin").mkdir()
        (tmp_path / "bin" / "python3").symlink_to(system)
        env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env['PATH']}"
    r = run(demo, cwd=repo, env=env)
    assert (repo / ".venv" / "bin" / "mailbot").exists()
    if managed:
        base = run([str(repo / ".venv" / "bin" / "python"), "-c", "import sys; print(sys.base_prefix)"], cwd=repo)
        assert base.stdout.strip() == "/usr"
    assert "Xong trong" in r.stdout
    out = Path(re.search(r"Dữ liệu xuất và báo cáo tổng hợp: (\S+)", r.stdout).group(1))
    assert (out / "report.json").stat().st_size > 0 and (out / "digest.html").stat().st_size > 0


def test_a_wheel_carries_its_data_and_every_command_runs_from_it_outside_the_source_tree(tmp_path):
    """`pip install .` (a real wheel, not editable) into a fresh venv; the demo and the commands run from /tmp."""
    repo = copy_checkout(tmp_path / "src")
    dist = tmp_path / "dist"
    run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(repo)], cwd=tmp_path,
        env=clean_env())
    [wheel] = dist.glob("mailbot-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("mailbot/templates/receipt.txt", "mailbot/templates/digest.html", "parsers/forms/mau2/blank.docx",
                 "mailbot/samples/demo.toml", "mailbot/samples/units.csv", "mailbot/samples/mau1-phu-bai.docx",
                 "parsers/forms/mau1/form.toml", "parsers/forms/mau2/form.toml", "parsers/forms/guong_dien_hinh/form.toml",
                 "parsers/forms/guong_dien_hinh/blank.docx", "parsers/__init__.py"):
        assert name in names, f"{name} is not in the wheel"
    # Every file of the three folders a command reads from, data included, is in the wheel.
    shipped = {str(p.relative_to(repo)) for top in ("mailbot", "parsers", "templates")
               for p in (repo / top).rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    missing = {n for n in shipped if (f"mailbot/{n}" if n.startswith("templates/") else n) not in names}
    assert missing == set(), "add them to [tool.setuptools.package-data] in pyproject.toml"

    shutil.rmtree(repo)  # nothing may be read from the source tree
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=clean_env())
    run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], cwd=tmp_path, env=clean_env())
    work = tmp_path / "elsewhere"
    work.mkdir()
    mailbot = str(venv / "bin" / "mailbot")
    env = clean_env()
    r = run([mailbot, "demo", "--out", str(work / "demo")], cwd=work, env=env)
    assert "Xong trong" in r.stdout
    assert len(list((work / "demo" / "outbox").glob("*.eml"))) > 10  # receipts, reminders, the digest
    cfg = ["--config", str(work / "demo" / "mailbot.toml")]
    now = ["--now", "2017-10-14T08:00:00+07:00"]
    (work / "mau2.docx").write_bytes(zipfile.ZipFile(wheel).read("mailbot/samples/mau2-phu-bai.docx"))
    for args in (["status", *now], ["review"], ["digest", "--dry-run", *now], ["remind", "--dry-run", *now],
                 ["export", "--format", "csv", "-o", str(work / "x.csv")], ["report", "-o", str(work / "r.docx"), *now],
                 ["report", "-o", str(work / "r.xlsx"), *now], ["schedule", "-o", str(work / "s.ics")],
                 ["deliver"], ["reprocess"], ["parse", str(work / "mau2.docx")]):
        run([mailbot, *cfg, *args], cwd=work, env=env)
    for f in ("x.csv", "r.docx", "r.xlsx", "s.ics"):
        assert (work / f).stat().st_size > 0
    # `parsers` is installed under its own name, with its form definitions.
    r = run([str(venv / "bin" / "python"), "-c",
             "import parsers.formdef as f, mailbot.compose as n; print(f.FORMS_DIR); print(n.DEFAULT_TEMPLATES)"],
            cwd=work, env=env)
    assert all(str(venv) in line for line in r.stdout.splitlines())


def test_a_clone_without_the_shared_corpus_skips_its_tests_and_says_why(tmp_path):
    """The corpus lives beside the checkout (../shared/corpus), not in it: a plain clone must still pass."""
    repo = copy_checkout(tmp_path / "clone" / "mailbot")
    assert not (repo.parent / "shared").exists()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "corpus", "-rs",
                        "tests/test_message.py", "tests/test_unpack.py"],
                       cwd=repo, capture_output=True, text=True, timeout=300, env=clean_env(PYTHONPATH=str(repo)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"\b7 skipped\b", r.stdout), r.stdout
    assert "needs the real-world mail corpus" in r.stdout
    assert "failed" not in r.stdout
