"""The top-level resources/ folder ships inside the wheel as `app.resources` (pyproject.toml cannot map a
package found elsewhere); everything else is in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["segcore*", "app*"]), "app.resources"],
    package_dir={"app.resources": "resources"},
    package_data={"app.resources": ["icons/*.svg", "*.desktop", "*.metainfo.xml"]},
)
