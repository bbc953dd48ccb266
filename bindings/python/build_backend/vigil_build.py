"""A PEP 517 build backend in the standard library only, so that
`pip install ./bindings/python` needs no setuptools, wheel or network.

It builds a pure-Python wheel holding vigil.py (the ctypes module; the
shared library comes from the SDK or $VIGIL_LIBRARY at run time). The
version is vigil's, read from health/version.h when building from the
source tree, else from the VERSION file an sdist carries.
"""

import base64
import hashlib
import os
import re
import tarfile
import zipfile

_HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_MODULES = ["vigil.py"]


def _version():
    header = os.path.join(_HERE, "..", "..", "health", "version.h")
    if os.path.exists(header):
        with open(header) as f:
            m = re.search(r'#define VIGIL_VERSION_STRING "([^"]+)"', f.read())
        if m:
            return m.group(1)
    with open(os.path.join(_HERE, "VERSION")) as f:
        return f.read().strip()


def _metadata(version):
    return ("Metadata-Version: 2.1\nName: vigil\nVersion: %s\n"
            "Summary: vigil health checks, probes, pressure and watchdog\n"
            "Requires-Python: >=3.8\n" % version)


def _record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
    return "%s,sha256=%s,%d" % (name, digest.rstrip(b"=").decode(), len(data))


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory,
                                     config_settings=None):
    info = "vigil-%s.dist-info" % _version()
    os.makedirs(os.path.join(metadata_directory, info), exist_ok=True)
    with open(os.path.join(metadata_directory, info, "METADATA"), "w") as f:
        f.write(_metadata(_version()))
    return info


def build_wheel(wheel_directory, config_settings=None,
                metadata_directory=None):
    version = _version()
    name = "vigil-%s-py3-none-any.whl" % version
    info = "vigil-%s.dist-info" % version
    files = []
    for module in _MODULES:
        with open(os.path.join(_HERE, module), "rb") as f:
            files.append((module, f.read()))
    files.append((info + "/METADATA", _metadata(version).encode()))
    files.append((info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: "
                  b"vigil_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"))
    record = [_record_line(n, d) for n, d in files] + [info + "/RECORD,,"]
    files.append((info + "/RECORD", ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w",
                         zipfile.ZIP_DEFLATED) as z:
        for n, d in files:
            z.writestr(zipfile.ZipInfo(n, date_time=(1980, 1, 1, 0, 0, 0)),
                       d)
    return name


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    base = "vigil-%s" % version
    path = os.path.join(sdist_directory, base + ".tar.gz")
    with tarfile.open(path, "w:gz") as t:
        for rel in _MODULES + ["pyproject.toml",
                               "build_backend/vigil_build.py"]:
            t.add(os.path.join(_HERE, rel), arcname=base + "/" + rel)
        version_file = os.path.join(sdist_directory, "VERSION")
        with open(version_file, "w") as f:
            f.write(version + "\n")
        t.add(version_file, arcname=base + "/VERSION")
        os.remove(version_file)
        pkg_info = os.path.join(sdist_directory, "PKG-INFO")
        with open(pkg_info, "w") as f:
            f.write(_metadata(version))
        t.add(pkg_info, arcname=base + "/PKG-INFO")
        os.remove(pkg_info)
    return base + ".tar.gz"
