"""qa-serve and qa-export without their extra: the one missing-package line, exit status 2,
before any model is loaded (the module made unimportable in-process)."""

from __future__ import annotations

import sys

import pytest

from qa_experiments import export, serve


@pytest.mark.parametrize("command,run,module,extra", [
    (serve, serve.run, "uvicorn", "serve"),  # serve.main ends the process: its run returns
    (export, export.main, "onnxruntime", "export"),
])
def test_a_command_without_its_extra_says_what_to_install(command, run, module, extra, tmp_path,
                                                          monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)
    assert run([str(tmp_path)]) == 2
    assert capsys.readouterr() == ("", f"{command.PROG}: error: {command.PROG} needs the package "
                                   f"'{module}', which is not installed: pip install "
                                   f"'qa-experiments[{extra}]'\n")
