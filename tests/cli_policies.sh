#!/bin/sh
# tests/cli_policies.sh: `tetri policies` lists every policy with its options and defaults, and
# policy options parse the same way everywhere (errors name the key).
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$("$TETRI" policies)
for p in xdit-sp1 xdit-sp8 rssp tetriserve edf-dyn optimal least-slack; do
  echo "$out" | grep -q "^$p\$" || { echo "tetri policies does not list $p"; exit 1; }
done
echo "$out" | grep -q "midround .*wait|fill .*default wait" || { echo "tetriserve's midround option missing"; exit 1; }
echo "$out" | grep -q "elastic .*default on" || { echo "elastic option missing"; exit 1; }
one=$("$TETRI" policies tetriserve)
echo "$one" | grep -q "batch_max_side" || { echo "tetri policies tetriserve: options missing"; exit 1; }
if "$TETRI" policies no-such-policy 2>"$tmp/err.txt"; then echo "unknown policy accepted"; exit 1; fi
grep -q "unknown policy 'no-such-policy'" "$tmp/err.txt" || { echo "no clear error for an unknown policy"; cat "$tmp/err.txt"; exit 1; }
grep -q "tetriserve" "$tmp/err.txt" || { echo "the error does not list the known policies"; exit 1; }
# A name with control bytes is shown escaped, never raw on the terminal.
"$TETRI" policies "$(printf 'x\033[31m')" 2>"$tmp/err.txt" && { echo "a control-byte name accepted"; exit 1; }
grep -qF "unknown policy 'x\x1b[31m'" "$tmp/err.txt" || { echo "control bytes not escaped:"; cat -v "$tmp/err.txt"; exit 1; }
# The same option syntax and errors for every policy, through tetri sim.
for bad in 'tetriserve:g=0' 'tetriserve:tau_ms=0.0001' 'tetriserve:midround=sometimes' 'edf-dyn:bogus=1' 'optimal:max_requests=99'; do
  if "$TETRI" sim --policy "$bad" -n 5 --db "$tmp/r.db" -q 2>"$tmp/err.txt"; then echo "tetri sim accepted $bad"; exit 1; fi
  key=${bad#*:}; key=${key%%=*}
  grep -q "$key" "$tmp/err.txt" || { echo "the error for $bad does not name '$key':"; cat "$tmp/err.txt"; exit 1; }
done
"$TETRI" sim --policy 'tetriserve:g=2,elastic=off,midround=fill' --policy least-slack:max_degree=4 -n 20 \
  --db "$tmp/r.db" --check-plans -q || { echo "tetri sim with policy options failed"; exit 1; }
echo ok
