#!/bin/bash -eu
# ClusterFuzzLite runs $SRC/build.sh: the OSS-Fuzz build of this repository.
exec "$SRC/cdtls/oss-fuzz/build.sh"
