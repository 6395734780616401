#!/bin/bash -eu
# projects/cdtls/build.sh in the oss-fuzz repository: the build itself lives
# in this repository (oss-fuzz/build.sh), so it is tested by our own
# oss-fuzz/check.sh and changes with the harnesses.
exec "$SRC/cdtls/oss-fuzz/build.sh"
