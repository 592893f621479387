#!/usr/bin/env bash
# Writes the committed Unicode normalisation fixture (tests/LLaDA.Tests/Fixtures/unicode/) from Debian's unicode-data:
#   NormalizationTest-subset.txt  every line of Parts 0, 2 and 3 and every 8th line of Part 1 of NormalizationTest.txt,
#                                 comments removed (the header with its copyright lines is kept);
#   DerivedAge-after-9.0.txt      the DerivedAge.txt ranges first assigned after Unicode 9.0 (our normaliser's version),
#                                 which the tests use to skip lines that Unicode 9.0 could not normalise the same way;
#   LICENSE-Unicode.txt           the Unicode data licence and notice shipped with the package.
# The tests also run the FULL file when /usr/share/unicode/NormalizationTest.txt(.bz2) exists (CI installs the package).
set -euo pipefail
cd "$(dirname "$0")/.."
src=/usr/share/unicode
if [ ! -e "$src/NormalizationTest.txt" ] && [ ! -e "$src/NormalizationTest.txt.bz2" ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends unicode-data bzip2
fi
out=tests/LLaDA.Tests/Fixtures/unicode
mkdir -p "$out"
if [ -e "$src/NormalizationTest.txt" ]; then cat "$src/NormalizationTest.txt"; else bzip2 -dc "$src/NormalizationTest.txt.bz2"; fi | awk '
  NR <= 5 { print; next }
  NR == 6 { print "# Modified: a subset (all of Parts 0, 2, 3; every 8th line of Part 1; comments removed) written by tools/make_normalization_fixture.sh" }
  /^@Part/ { part = $1; print part; next }
  /^#/ || /^[ \t]*$/ { next }
  { sub(/ *#.*/, "") }
  part == "@Part1" && (n1++ % 8) != 0 { next }
  { print }' > "$out/NormalizationTest-subset.txt"
awk '
  NR <= 5 { print; next }
  NR == 6 { print "# Modified: only the ranges first assigned after Unicode 9.0, written by tools/make_normalization_fixture.sh" }
  /^[0-9A-F]/ { split($0, f, ";"); split(f[2], v, " "); split(v[1], ver, ".");
                if (ver[1] + 0 > 9) { sub(/ *#.*/, ""); print } }' "$src/DerivedAge.txt" > "$out/DerivedAge-after-9.0.txt"
cp /usr/share/doc/unicode-data/copyright "$out/LICENSE-Unicode.txt"
wc -l "$out"/*.txt
