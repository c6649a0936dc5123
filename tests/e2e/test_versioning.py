"""The installed library carries its version as docs/versioning.md says.

The build is installed once into a temporary prefix (cmake --install). The
version expected everywhere is the header's (REFERRAL_VERSION_MAJOR, _MINOR,
_PATCH), and the policy decides the rest:
  - while the major version is 0, the SONAME is libreferral.so.MAJOR.MINOR and
    the CMake package satisfies only a request for the same major.minor;
  - from 1.0 on, the SONAME is libreferral.so.MAJOR and the package
    satisfies any request for the same major, up to its own version;
  - pkg-config's Version is the full version.

Environment: REFERRAL_CLI (the `referral` command, in the top of the build
directory), REFERRAL_SOURCE_DIR (the repository). Needs cmake, readelf and
pkg-config. Standard library only.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("REFERRAL_SOURCE_DIR") or os.path.dirname(os.path.dirname(HERE))
BUILD_DIR = os.path.dirname(os.environ.get("REFERRAL_CLI") or os.path.join(SOURCE_DIR, "build", "referral"))
HEADER = os.path.join(SOURCE_DIR, "include", "referral", "referral.h")

# A project that asks for the package in the prefix under test, and only
# there (a library installed in /usr/local must not answer for it).
PROBE = """\
cmake_minimum_required(VERSION 3.18)
project(referral_version_probe LANGUAGES C)
find_package(referral ${REQUESTED} REQUIRED NO_CMAKE_ENVIRONMENT_PATH NO_SYSTEM_ENVIRONMENT_PATH
             NO_CMAKE_PACKAGE_REGISTRY NO_CMAKE_SYSTEM_PATH NO_CMAKE_SYSTEM_PACKAGE_REGISTRY)
foreach(t referral::referral referral::referral_static)
  if(NOT TARGET ${t})
    message(FATAL_ERROR "the package defines no ${t}")
  endif()
endforeach()
message(STATUS "found referral ${referral_VERSION} in ${referral_DIR}")
"""


def header_version():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    return tuple(int(re.search(r"^#define REFERRAL_VERSION_%s (\d+)$" % part, text, re.M).group(1))
                 for part in ("MAJOR", "MINOR", "PATCH"))


def run(cmd, env=None, cwd=None):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env, cwd=cwd, timeout=120)


class InstalledVersion(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.major, cls.minor, cls.patch = header_version()
        cls.version = "%d.%d.%d" % (cls.major, cls.minor, cls.patch)
        cls.dir = tempfile.mkdtemp(prefix="referral-versioning-")
        cls.prefix = os.path.join(cls.dir, "prefix")
        proc = run(["cmake", "--install", BUILD_DIR, "--prefix", cls.prefix])
        if proc.returncode != 0:
            shutil.rmtree(cls.dir, True)
            raise AssertionError("cmake --install %s failed:\n%s" % (BUILD_DIR, proc.stdout))
        cls.libdir = next((root for root, _, files in os.walk(cls.prefix)
                           if "libreferral.so" in files), None)
        if cls.libdir is None:
            shutil.rmtree(cls.dir, True)
            raise AssertionError("cmake --install %s installed no libreferral.so" % BUILD_DIR)
        cls.probe = os.path.join(cls.dir, "probe")
        os.mkdir(cls.probe)
        with open(os.path.join(cls.probe, "CMakeLists.txt"), "w", encoding="utf-8") as f:
            f.write(PROBE)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, True)

    def configure(self, requested):
        build = os.path.join(self.dir, "probe-build-" + requested)
        return run(["cmake", "-S", self.probe, "-B", build, "-DREQUESTED=" + requested,
                    "-DCMAKE_PREFIX_PATH=" + self.prefix])

    def test_soname_follows_the_policy(self):
        if self.major == 0:
            want = "libreferral.so.%d.%d" % (self.major, self.minor)
        else:
            want = "libreferral.so.%d" % self.major
        dynamic = run(["readelf", "-d", os.path.join(self.libdir, "libreferral.so")]).stdout
        soname = re.search(r"\(SONAME\).*\[(.*)\]", dynamic)
        self.assertIsNotNone(soname, dynamic)
        self.assertEqual(soname.group(1), want)
        # what the SONAME names is installed, and is the library itself
        self.assertTrue(os.path.exists(os.path.join(self.libdir, want)))
        self.assertTrue(os.path.exists(os.path.join(self.libdir, "libreferral.so." + self.version)))

    def test_pkg_config_version_is_the_full_version(self):
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(self.libdir, "pkgconfig"))
        proc = run(["pkg-config", "--modversion", "referral"], env=env)
        self.assertEqual(proc.returncode, 0, proc.stdout)
        self.assertEqual(proc.stdout.strip(), self.version)

    def test_cmake_package_accepts_its_own_minor(self):
        accepted = ["%d.%d" % (self.major, self.minor), self.version]
        if self.major > 0:
            accepted.append("%d.0" % self.major)
        for requested in accepted:
            proc = self.configure(requested)
            self.assertEqual(proc.returncode, 0, "find_package(referral %s) refused %s:\n%s"
                             % (requested, self.version, proc.stdout))
            self.assertIn("found referral %s in %s" % (self.version, self.prefix), proc.stdout)

    def test_cmake_package_refuses_what_may_differ_in_its_api(self):
        # a newer minor always; while at 0, an older minor too; from 1.0, another major
        refused = ["%d.%d" % (self.major, self.minor + 1)]
        if self.major == 0 and self.minor > 0:
            refused.append("0.%d" % (self.minor - 1))
        if self.major > 0:
            refused.append("%d.0" % (self.major - 1))
        for requested in refused:
            proc = self.configure(requested)
            self.assertNotEqual(proc.returncode, 0, "find_package(referral %s) accepted %s:\n%s"
                                % (requested, self.version, proc.stdout))
            self.assertIn('compatible with requested version "%s"' % requested, proc.stdout)
            self.assertIn("version: %s" % self.version, proc.stdout)

if __name__ == "__main__":
    unittest.main()
