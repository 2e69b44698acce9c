"""Build step that ships the repository's ``recipes/`` inside the wheel as ``lingalign/recipes/``.

Everything else about the package is in pyproject.toml; setuptools reads both.

Why a build_py hook: the recipes stay at the repository root, where the README's commands
(``lingalign run recipes/quickstart.yaml``) and the study recipes' relative paths
(``../../../shared/data``) point from, and where the data steps' fingerprints, which include their
input paths, were computed; so they cannot move under ``src/lingalign/``. ``package-data`` only
reaches files inside a package folder, and a ``package-dir`` entry mapping ``lingalign.recipes`` to
``recipes/`` would need every package listed by hand (it cannot be combined with
``packages.find``) and would make the recipe folders importable packages. ``build_py`` is the step
that fills the wheel's ``lingalign/`` folder, so it copies them there, and ``bdist_wheel`` packs
whatever that folder holds. MANIFEST.in puts ``recipes/`` into the sdist, so a wheel built from the
sdist has them too. An editable install skips the copy: ``lingalign.catalog`` then reads the
repository's ``recipes/`` directly, so an edit there shows at once.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

RECIPES = Path(__file__).resolve().parent / "recipes"
SUFFIXES = {".yaml", ".yml", ".json"}


class BuildWithRecipes(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or not RECIPES.is_dir():
            return
        target = Path(self.build_lib) / "lingalign" / "recipes"
        for source in sorted(RECIPES.rglob("*")):
            if source.is_file() and source.suffix in SUFFIXES:
                destination = target / source.relative_to(RECIPES)
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, destination)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        """The copied recipes too, so that ``install --record`` lists them."""
        outputs = super().get_outputs(include_bytecode)
        if not getattr(self, "editable_mode", False) and RECIPES.is_dir():
            target = Path(self.build_lib) / "lingalign" / "recipes"
            outputs += [str(target / p.relative_to(RECIPES)) for p in sorted(RECIPES.rglob("*"))
                        if p.is_file() and p.suffix in SUFFIXES]
        return outputs


setup(cmdclass={"build_py": BuildWithRecipes})
