"""Build hook: compile the gettext catalogs (.po -> .mo) into the built package.

Everything else about the package is in pyproject.toml. The .mo files are never committed
(.gitignore): a wheel, ``pip install .`` and the Dockerfile get them from this hook, and a
checkout or an editable install reads the .po directly (worker.messages compiles it in
memory when no up-to-date .mo is next to it), so Dutch works in every case. docs/translations.md
says why.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

LOCALE = Path("worker") / "messages" / "locale"


class build_py_with_catalogs(build_py):
    def run(self) -> None:
        super().run()
        compile_catalogs(Path(self.build_lib) / LOCALE, keep_sources=False)


def compile_catalogs(folder: Path, keep_sources: bool = True) -> None:
    """Every ``<lang>/LC_MESSAGES/*.po`` under ``folder`` compiled to the ``.mo`` next to it.

    A built package carries only the ``.mo``: installers do not keep file times, so a ``.po``
    beside it could look newer and be compiled again at every start.
    """
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in sorted(folder.glob("*/LC_MESSAGES/*.po")):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        with po.with_suffix(".mo").open("wb") as compiled:
            write_mo(compiled, catalog, use_fuzzy=False)
        if not keep_sources:
            po.unlink()


# setuptools runs this file as __main__; tests import it for compile_catalogs.
if __name__ == "__main__":
    setup(cmdclass={"build_py": build_py_with_catalogs})
