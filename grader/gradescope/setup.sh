#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder's image (made by
# ./grader/grade --gradescope-bundle). It installs the course's Debian/Ubuntu packages, then
# configures the course's build and compiles the grader, so that each submission only builds
# its own exercise. AUTOGRADER_ROOT (default /autograder) and GRADE_SETUP_SKIP_PACKAGES=1 exist
# so that the script can be tried outside Gradescope.
set -euo pipefail
root=${AUTOGRADER_ROOT:-/autograder}
course="$root/source/course"

if [ "${GRADE_SETUP_SKIP_PACKAGES:-0}" != 1 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq build-essential meson ninja-build pkg-config libevent-dev \
    libjansson-dev check
  # Ubuntu 22.04's meson is 0.61; the course needs 1.0 or newer.
  if ! meson --version | grep -q '^[1-9]'; then
    apt-get install -y -qq python3-pip
    python3 -m pip install -q 'meson>=1.0' ||
      python3 -m pip install -q --break-system-packages 'meson>=1.0'
  fi
fi
chmod +x "$course/grader/grade" "$root/source/run_autograder"
cd "$course"
./grader/grade --list >/dev/null   # configures build/ and compiles the grader
