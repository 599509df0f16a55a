"""Packages of the wheel; everything else is in pyproject.toml.

``configs/`` stays at the top of the repository (the README's commands use it) and
ships inside the package as ``mmdet_evonorm.configs``, where mmengine's pure-Python
configs of other projects import rows from: ``get_installed_path('mmdet_evonorm')
/ 'configs' / '<row>.py'``. One folder, no copy. pyproject.toml's ``packages.find``
cannot map a folder to a subpackage, hence this file.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["mmdet_evonorm*"]), "mmdet_evonorm.configs"],
    package_dir={"mmdet_evonorm.configs": "configs"},
)
