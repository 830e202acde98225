#!/bin/sh
# tests/cli_policies.sh: `tetri policies` lists every policy with its options and defaults, and
# policy options parse the same way everywhere (errors name the key).
set -eu
out=$("$TETRI" policies)
for p in xdit-sp1 xdit-sp8 rssp tetriserve edf-dyn optimal least-slack; do
  echo "$out" | grep -q "^$p\$" || { echo "tetri policies does not list $p"; exit 1; }
done
echo "$out" | grep -q "midround .*wait|fill .*default wait" || { echo "tetriserve's midround option missing"; exit 1; }
echo "$out" | grep -q "elastic .*default on" || { echo "elastic option missing"; exit 1; }
one=$("$TETRI" policies tetriserve)
echo "$one" | grep -q "batch_max_side" || { echo "tetri policies tetriserve: options missing"; exit 1; }
if "$TETRI" policies no-such-policy 2>err.txt; then echo "unknown policy accepted"; exit 1; fi
grep -q "unknown policy 'no-such-policy'" err.txt || { echo "no clear error for an unknown policy"; cat err.txt; exit 1; }
grep -q "tetriserve" err.txt || { echo "the error does not list the known policies"; exit 1; }
rm -f err.txt
echo ok
