# The one place glyphcpp's version is written. pyproject.toml (scikit-build-core's regex provider),
# CMakeLists.txt (project(VERSION), so the C++ package's glyphConfigVersion.cmake), glyph.__version__
# and `glyph --version` all read it from here. Keep it MAJOR.MINOR.PATCH (CMake needs the numbers).
__version__ = "0.2.0"
